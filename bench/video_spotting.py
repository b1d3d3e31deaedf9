"""Analysis frames per second on a 640x360 one-face video with and without the timeline and micro-expression
spotting (``mimetic video --timeline/--spot``).

Budget (issue 5): spotting adds at most 20 % to the analysis time.

    .venv/bin/python bench/video_spotting.py [--video tests/data/videos/smile_pexels.mp4] [--repeat 2] [--json F]

Three passes per repeat, interleaved so that a busy machine slows them alike: the analysis alone (decode +
``LiveSession.push``: landmarks, AUs, expression), plus the timeline (``VideoCollector(spot=False)``), plus
timeline and spotting (``VideoCollector(spot=True)``). Reported: end-to-end frames per second (best of the
repeats), the time the collector itself takes per frame (measured around its calls, so it does not depend on
how busy the machine is), the final ``finish()`` (smoothing, segments; spotting's last window) and the overhead as
a share of the analysis time.
"""

from __future__ import annotations

import argparse
import json
import time

import _common as C

DEFAULT_VIDEO = C.DATA / "videos" / "smile_pexels.mp4"
BUDGET = 0.20


def one_pass(path, mode: str) -> dict:
    import cv2

    from mimetic import Analyzer
    from mimetic.media.video import iter_frames
    from mimetic.video.analysis import VideoCollector

    cv2.setNumThreads(1)
    col = None if mode == "analysis" else VideoCollector(str(path), spot=(mode == "spot"), keep_crops=False)
    n = 0
    extra = 0.0
    with Analyzer() as analyzer, analyzer.live(source=str(path)) as session:
        t0 = time.perf_counter()
        for frame in iter_frames(path):
            result = session.push(frame.image, timestamp=frame.timestamp, frame_index=frame.index)
            if col is not None:
                t = time.perf_counter()
                col.add(result, frame.image)
                extra += time.perf_counter() - t
            n += 1
        finish = 0.0
        events = None
        if col is not None:
            t = time.perf_counter()
            analysis = col.finish()
            finish = time.perf_counter() - t
            events = None if analysis.events is None else len(analysis.events)
        total = time.perf_counter() - t0
    return {"mode": mode, "frames": n, "seconds": total, "fps": n / total, "collector_ms_per_frame": 1000 * extra / n,
            "finish_s": finish, "events": events}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", default=str(DEFAULT_VIDEO), help="video file (default: the 640x360 smile fixture)")
    ap.add_argument("--repeat", type=int, default=2, help="interleaved repeats; the best of each mode is reported")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--verbose", action="store_true", help="keep MediaPipe's native logging on stderr")
    args = ap.parse_args(argv)
    C.silence_native_stderr(not args.verbose)
    from mimetic.media.video import probe_video

    info = probe_video(args.video)
    print(f"video: {args.video}: {info.width}x{info.height}, {info.fps:.3f} fps, {info.frame_count} frames")
    C.print_machine()
    runs: dict[str, list[dict]] = {"analysis": [], "timeline": [], "spot": []}
    for _ in range(max(1, args.repeat)):
        for mode in runs:
            runs[mode].append(one_pass(args.video, mode))
    best = {m: max(r, key=lambda x: x["fps"]) for m, r in runs.items()}
    base_ms = 1000.0 / best["analysis"]["fps"]
    rows = []
    for mode, label in (("analysis", "analysis (landmarks, AUs, expression)"), ("timeline", "+ timeline"),
                        ("spot", "+ timeline + spotting")):
        b = best[mode]
        rows.append(f"{label:42s} {b['fps']:7.1f} fps   collector {b['collector_ms_per_frame']:5.2f} ms/frame, "
                    f"finish {b['finish_s'] * 1000:6.0f} ms" + (f", {b['events']} events" if b["events"] is not None
                                                                else ""))
    spot_ms = best["spot"]["collector_ms_per_frame"] - best["timeline"]["collector_ms_per_frame"]
    overhead = (best["spot"]["collector_ms_per_frame"] * best["spot"]["frames"] + 1000 * best["spot"]["finish_s"]) / \
        (base_ms * best["spot"]["frames"])
    e2e = best["analysis"]["fps"] / best["spot"]["fps"] - 1.0
    print()
    print("\n".join(rows))
    print(f"\nspotting alone: {spot_ms:.2f} ms per frame; timeline + spotting add {overhead:.1%} to the analysis time "
          f"({base_ms:.1f} ms per frame) measured around the calls; end to end {e2e:+.1%} (best passes)")
    ok = overhead <= BUDGET
    print(f"budget: spotting adds <= {BUDGET:.0%}: {overhead:.1%} [{C.verdict(ok)}]")
    results = {"machine": C.machine_notes(), "video": str(args.video), "best": best, "runs": runs,
               "spot_ms_per_frame": spot_ms, "overhead": overhead, "end_to_end_slowdown": e2e,
               "verdict": C.verdict(ok)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
