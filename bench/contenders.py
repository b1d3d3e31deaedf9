"""Mimetic against MediaPipe's FaceLandmarker alone, side by side in one run (alternating, fresh processes).

    .venv/bin/python bench/contenders.py [--rounds 3] [--photos 300] [--json F]

Contenders, each in a fresh process, alternating ``--rounds`` times so the machine's drift hits them alike:

- **video**: ``Analyzer.analyze_video`` (the full pipeline: landmarks, AUs, symmetry, expression; decoding ahead)
  against MediaPipe's FaceLandmarker alone in VIDEO mode (the same bundle and options: 20 faces, blendshapes and
  transformation matrices) fed by the same read-ahead decoder, on ``smile_pexels.mp4`` (640x360, 472 frames);
- **image**: ``Analyzer.analyze_array`` with the defaults (small-face search on) on the 640x480 one-face image, warm
  median, against MediaPipe IMAGE mode alone;
- **folder**: ``--photos`` JPEG files of that image analysed one by one (decode included) by one analyzer, against
  MediaPipe IMAGE mode in a loop (decode included).

Prints each round and the median ratio Mimetic / MediaPipe (for video: frames per second, higher is better; for
image and folder: time, lower is better). Issue 22's targets: video >= 1.0x (goal 1.5x), image <= 1.6x (goal 1.2x),
folder <= 1.8x (goal 1.3x).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import _common as C

VIDEO = C.DATA / "videos" / "smile_pexels.mp4"

CHILD = r"""
import json, statistics, sys, time
sys.path.insert(0, {bench!r})
import _common as C
C.silence_native_stderr()
what, who, arg = {what!r}, {who!r}, {arg!r}
import numpy as np


def mediapipe(mode):
    from mediapipe.tasks.python import BaseOptions, vision
    from mimetic.face.model import resolve_face_model
    running = vision.RunningMode.IMAGE if mode == "image" else vision.RunningMode.VIDEO
    opts = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(resolve_face_model())),
        running_mode=running, num_faces=20, min_face_detection_confidence=0.6, output_face_blendshapes=True,
        output_facial_transformation_matrixes=True)
    return vision.FaceLandmarker.create_from_options(opts)


def mp_image(rgb):
    import mediapipe as mp
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))


out = {{}}
if what == "video":
    from mimetic.media.video import READ_AHEAD, iter_frames
    t0 = time.perf_counter()
    if who == "mimetic":
        from mimetic import Analyzer
        with Analyzer() as a:
            n = sum(1 for _ in a.analyze_video(arg))
    else:
        lm = mediapipe("video")
        n = 0
        for f in iter_frames(arg, read_ahead=READ_AHEAD):
            lm.detect_for_video(mp_image(f.image), int(round(f.timestamp * 1000)))
            n += 1
        lm.close()
    dt = time.perf_counter() - t0
    out = {{"fps": n / dt, "frames": n, "seconds": dt}}
elif what == "image":
    rgb = C.load_single_face_640x480()
    if who == "mimetic":
        from mimetic import Analyzer
        a = Analyzer()
        call = lambda: a.analyze_array(rgb)
    else:
        lm = mediapipe("image")
        call = lambda: lm.detect(mp_image(rgb))
    for _ in range(10):
        call()
    t = []
    for _ in range(60):
        t0 = time.perf_counter(); call(); t.append(time.perf_counter() - t0)
    out = {{"ms": 1000 * statistics.median(t)}}
else:  # folder
    from pathlib import Path
    files = sorted(Path(arg).glob("*.jpg"))
    t0 = time.perf_counter()
    if who == "mimetic":
        from mimetic import Analyzer
        with Analyzer() as a:
            faces = sum(len(a.analyze_image(p).faces) for p in files)
    else:
        from mimetic.media.images import read_image
        lm = mediapipe("image")
        faces = sum(len(lm.detect(mp_image(read_image(p))).face_landmarks) for p in files)
    out = {{"seconds": time.perf_counter() - t0, "files": len(files), "faces": faces}}
print(json.dumps(out))
"""


def agreement(video=VIDEO) -> dict:
    """Frame-parallel landmarking (``video_landmarkers=2``) against one landmarker on every frame: mean landmark
    distance in inter-ocular units, mean |AU intensity| difference, expression label agreement (main face)."""
    import numpy as np

    from mimetic import Analyzer

    runs = {}
    for n in (1, 2):
        with Analyzer(video_landmarkers=n) as a:
            runs[n] = [r.faces[0] if r.faces else None for r in a.analyze_video(video)]
    err, au, same, both = [], [], 0, 0
    for f1, f2 in zip(runs[1], runs[2]):
        if f1 is None or f2 is None:
            continue
        both += 1
        iod = float(np.linalg.norm(f1.landmarks[468, :2] - f1.landmarks[473, :2]))
        err.append(float(np.linalg.norm(f1.landmarks[:, :2] - f2.landmarks[:, :2], axis=1).mean()) / iod)
        au.append(float(np.mean([abs(f1.aus[k].intensity - f2.aus[k].intensity) for k in f1.aus])))
        same += f1.expression.label == f2.expression.label
    return {"frames": both, "faces_1": sum(f is not None for f in runs[1]),
            "faces_2": sum(f is not None for f in runs[2]), "landmark_iod_mean": float(np.mean(err)),
            "landmark_iod_p95": float(np.percentile(err, 95)), "au_abs_diff_mean": float(np.mean(au)),
            "expression_agreement": same / max(both, 1)}


def run(what: str, who: str, arg: str = "") -> dict:
    code = CHILD.format(bench=str(C.BENCH), what=what, who=who, arg=arg)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env=dict(os.environ))
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--photos", type=int, default=300, help="photos in the folder benchmark (0 skips it)")
    ap.add_argument("--skip", default="", help="comma-separated: video,image,folder")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--agreement", action="store_true",
                    help="also compare two landmarkers on alternate frames with one on every frame")
    args = ap.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    C.print_machine()
    result: dict = {}
    if args.agreement:
        C.silence_native_stderr()
        result["agreement"] = ag = agreement()
        print(f"two landmarkers vs one ({ag['frames']} frames): landmarks {100 * ag['landmark_iod_mean']:.2f} % of the "
              f"inter-ocular distance (p95 {100 * ag['landmark_iod_p95']:.2f} %), AU intensity |diff| "
              f"{ag['au_abs_diff_mean']:.3f}, expression label agreement {100 * ag['expression_agreement']:.1f} %, "
              f"faces {ag['faces_1']} / {ag['faces_2']}")
    folder = None
    if args.photos and "folder" not in skip:
        from PIL import Image

        folder = tempfile.mkdtemp(prefix="mimetic-bench-")
        img = Image.fromarray(C.load_single_face_640x480())
        for i in range(args.photos):
            img.save(os.path.join(folder, f"p{i:04d}.jpg"), quality=90)
    tasks = [("video", str(VIDEO), "fps", True), ("image", "", "ms", False), ("folder", folder or "", "seconds", False)]
    for what, arg, key, higher_better in tasks:
        if what in skip or (what == "folder" and folder is None):
            continue
        ratios, rows = [], []
        for k in range(args.rounds):
            m, p = run(what, "mimetic", arg), run(what, "mediapipe", arg)
            ratio = m[key] / p[key]
            ratios.append(ratio)
            rows.append({"mimetic": m, "mediapipe": p, "ratio": ratio})
            print(f"{what} round {k + 1}: mimetic {m[key]:.2f} {key}, mediapipe alone {p[key]:.2f} {key}, "
                  f"ratio {ratio:.3f}")
        med = statistics.median(ratios)
        result[what] = {"rounds": rows, "median_ratio": med, "min": min(ratios), "max": max(ratios)}
        better = "higher" if higher_better else "lower"
        print(f"{what}: median ratio mimetic / mediapipe alone {med:.3f} ({min(ratios):.3f}-{max(ratios):.3f}; "
              f"{better} is better)")
    if folder is not None:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    C.write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
