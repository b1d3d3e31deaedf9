"""What the AU + muscle + symmetry stage costs per face, and its parts (issue 24's budget: ≤ 1 ms goal, ≤ 1.5 ms).

    .venv/bin/python bench/au_stage.py [--runs 300]

One face (the 640x480 single-face image). ``enrich_face`` with the stages ``aus`` and ``symmetry`` (and the
landmarks), with the pixels (the fitted AUs read the texture crop: HOG cells and the region networks) and without
them (landmark-only twins); then the parts: the aligned crop, the HOG cells, the region networks (one onnxruntime
call for both sides and four regions). Two conditions, in three alternating rounds: **warm** (each part called back
to back) and **in the pipeline** (a full ``analyze_array`` before each call, as in a video, so caches are cold).
Medians.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import _common as C


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--json", help="Write the figures here too.")
    args = ap.parse_args()
    import numpy as np

    from mimetic import Analyzer
    from mimetic.facs import texture
    from mimetic.stages import enrich_face

    C.print_machine()
    rgb = C.load_single_face_640x480()
    an = Analyzer(min_face=None)
    raw = Analyzer(min_face=None, stages={"landmarks"}).analyze_array(rgb).faces[0]
    stages = {"landmarks", "aus", "symmetry"}
    crop = texture.face_crop(rgb, raw)
    both = np.concatenate([crop[None, :, ::-1], crop[None]])
    parts = {
        "stage, with pixels": lambda: enrich_face(dataclasses.replace(raw), rgb, stages=stages),
        "stage, without pixels": lambda: enrich_face(dataclasses.replace(raw), None, stages=stages),
        "  crop": lambda: texture.face_crop(rgb, raw),
        "  HOG cells + region networks": lambda: texture.texture_vector(crop),
        "  region networks alone": lambda: texture.learned_features(both),
    }
    for f in parts.values():  # warm: models load on first use
        f()
    an.analyze_array(rgb)
    out: dict[str, dict[str, float]] = {}
    samples = {k: {"warm": [], "pipeline": []} for k in parts}
    for _ in range(3):  # rounds, so drift hits both conditions alike
        for name, f in parts.items():
            for _ in range(args.runs // 3):  # back to back
                t0 = time.perf_counter()
                f()
                samples[name]["warm"].append(time.perf_counter() - t0)
        for _ in range(args.runs // 3):
            for name, f in parts.items():
                an.analyze_array(rgb)
                t0 = time.perf_counter()
                f()
                samples[name]["pipeline"].append(time.perf_counter() - t0)
    print(f"{'median ms':32s} {'warm':>7s} {'pipeline':>9s}")
    for name, s in samples.items():
        out[name.strip()] = {k: 1000 * float(np.median(v)) for k, v in s.items()}
        print(f"{name:32s} {out[name.strip()]['warm']:7.3f} {out[name.strip()]['pipeline']:9.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
