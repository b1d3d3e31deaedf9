"""What the practice scoring adds per frame on top of the analysis (``PracticeSession.push``), on real frames.

    .venv/bin/python bench/practice_scoring.py [--video tests/data/videos/smile_pexels.mp4] [--json F]

The video's calm part (6-9 s) calibrates, the broad smile that follows is the exercise (routine ``smile``, one
repetition; docs/practice.md). Frames are analysed first (``LiveSession.push``, max one face), then the timing
covers ``PracticeSession.push`` alone, so it does not depend on the analysis. Budget: the live frame budget
(≤ 50 ms p95) is for analysis + scoring; scoring should stay well under 1 ms.
"""

from __future__ import annotations

import argparse
import time

import _common as C

DEFAULT_VIDEO = C.DATA / "videos" / "smile_pexels.mp4"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", default=str(DEFAULT_VIDEO))
    ap.add_argument("--start", type=float, default=6.0, help="seconds into the video where the calm part begins")
    ap.add_argument("--fps", type=float, default=10.0, help="frames per second fed to the session")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    C.silence_native_stderr()
    from mimetic import Analyzer
    from mimetic.media.video import iter_frames
    from mimetic.practice import PracticeSession

    faces = []
    with Analyzer(max_faces=1) as analyzer, analyzer.live() as live:
        next_t = a.start
        for frame in iter_frames(a.video):
            if frame.timestamp + 1e-6 < next_t:
                continue
            next_t += 1 / a.fps
            found = live.push(frame.image, timestamp=frame.timestamp).faces
            faces.append((frame.timestamp - a.start, found[0] if found else None))
    session = PracticeSession("smile", reps=1)
    samples = []
    for t, face in faces:
        t0 = time.perf_counter()
        session.push(face, t)
        samples.append(time.perf_counter() - t0)
        if session.done:
            break
    result = session.result().to_dict()
    ms = C.summarize_ms(samples)
    out = {"video": str(a.video), "frames": len(samples), "push_ms": ms, "score": result["score"],
           "done": session.done, "machine": C.machine_notes()}
    C.print_machine()
    print(f"PracticeSession.push over {len(samples)} frames: {ms['median_ms']:.3f} ms median, {ms['p95_ms']:.3f} ms p95; "
          f"smile score {result['score']:.1f} ({'finished' if session.done else 'not finished'})")
    C.write_json(a.json, out)
    return out


if __name__ == "__main__":
    main()
