"""What each stage costs, and this tree against another checkout, in one run.

    .venv/bin/python bench/stages.py [--runs 60] [--rounds 3] [--against /path/to/other/checkout/src] [--json F]

1. **Stages** (``AnalyzerOptions.stages``): median ms of the per-face stages alone (``enrich_face``), of
   ``Analyzer.analyze_array`` on the 640x480 one-face image (``min_face=None``) and of ``LiveSession.push`` over the
   frames of ``smile_pexels.mp4`` (VIDEO mode, tracking), for all stages, no expression, no symmetry, and landmarks
   only, the configurations interleaved. Switching a stage off should remove its cost.
2. **Before/after** (``--against SRC``: the ``src`` folder of another checkout, e.g. a ``git worktree`` of the last
   release): video frames per second through ``Analyzer.analyze_video`` and the image's median ms with the
   defaults, alternating this tree and the other in fresh processes ``--rounds`` times, with the per-round ratio
   (the machine is noisy: compare ratios, not absolute figures).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import _common as C

CONFIGS = {
    "all stages": None,
    "no expression": {"landmarks", "aus", "symmetry"},
    "no symmetry": {"landmarks", "aus", "expression"},
    "landmarks only": {"landmarks"},
}
VIDEO = C.DATA / "videos" / "smile_pexels.mp4"


def stage_costs(runs: int, rounds: int = 5) -> dict:
    """Per configuration: the per-face stages alone (``enrich_face`` on one found face), ``analyze_array`` and
    ``LiveSession.push``; configurations interleaved in ``rounds`` so drift hits them alike (medians of all calls)."""
    import dataclasses

    import numpy as np

    from mimetic import Analyzer
    from mimetic.media.video import iter_frames
    from mimetic.stages import enrich_face

    rgb = C.load_single_face_640x480()
    frames = [f.image for f in iter_frames(VIDEO, stride=4)]
    analyzers = {name: Analyzer(min_face=None, **({} if st is None else {"stages": st}))
                 for name, st in CONFIGS.items()}
    raw = Analyzer(min_face=None, stages={"landmarks"}).analyze_array(rgb).faces[0]
    samples: dict[str, dict[str, list[float]]] = {n: {"stages": [], "image": [], "push": []} for n in CONFIGS}
    for a in analyzers.values():  # warm: models load on first use
        for _ in range(3):
            a.analyze_array(rgb)
    for _ in range(rounds):
        for name, a in analyzers.items():
            got = samples[name]
            for _ in range(max(1, runs // rounds)):
                face = dataclasses.replace(raw, expression=None)
                t0 = time.perf_counter()
                enrich_face(face, rgb, stages=a.stages, expression_model=a.expression_model)
                got["stages"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                a.analyze_array(rgb)
                got["image"].append(time.perf_counter() - t0)
            with a.live(source="bench") as s:
                for i, f in enumerate(frames[:40]):
                    t0 = time.perf_counter()
                    s.push(f, timestamp=i / 6.0)
                    if i >= 3:
                        got["push"].append(time.perf_counter() - t0)
    for a in analyzers.values():
        a.close()
    return {n: {f"{k}_ms": 1000 * float(np.median(v)) for k, v in got.items()} for n, got in samples.items()}


CHILD = r"""
import json, statistics, sys, time
sys.path.insert(0, {bench!r})
import _common as C
from mimetic import Analyzer
rgb = C.load_single_face_640x480()
with Analyzer() as a:
    for _ in range(5):
        a.analyze_array(rgb)
    t = []
    for _ in range({runs}):
        t0 = time.perf_counter(); a.analyze_array(rgb); t.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    n = sum(1 for _ in a.analyze_video({video!r}))
    fps = n / (time.perf_counter() - t0)
print(json.dumps({{"image_ms": 1000 * statistics.median(t), "video_fps": fps, "frames": n}}))
"""


def one_round(src: str | None, runs: int) -> dict:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    code = CHILD.format(bench=str(C.BENCH), runs=runs, video=str(VIDEO))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=60, help="timed image calls per configuration (default 60)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds for --against (default 3)")
    ap.add_argument("--against", help="the src folder of another checkout to compare with")
    ap.add_argument("--skip-stages", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    C.silence_native_stderr()
    C.print_machine()
    result: dict = {}
    if not args.skip_stages:
        costs = stage_costs(args.runs)
        result["stages"] = costs
        base = costs["all stages"]
        print("\nstage switches (median ms; one face; 640x480 image with min_face=None; LiveSession.push on "
              "smile_pexels frames)")
        print(f"{'stages':<16} {'per-face stages':>15} {'saved':>6} {'image':>7} {'saved':>6} {'push':>7} {'saved':>6}")
        for name, c in costs.items():
            print(f"{name:<16} {c['stages_ms']:15.2f} {base['stages_ms'] - c['stages_ms']:6.2f} "
                  f"{c['image_ms']:7.2f} {base['image_ms'] - c['image_ms']:6.2f} "
                  f"{c['push_ms']:7.2f} {base['push_ms'] - c['push_ms']:6.2f}")
    if args.against:
        rounds = []
        for k in range(args.rounds):
            here = one_round(None, args.runs)
            there = one_round(args.against, args.runs)
            rounds.append({"this": here, "other": there,
                           "fps_ratio": here["video_fps"] / there["video_fps"],
                           "image_ratio": here["image_ms"] / there["image_ms"]})
            print(f"round {k + 1}: this {here['video_fps']:.1f} fps, {here['image_ms']:.1f} ms; other "
                  f"{there['video_fps']:.1f} fps, {there['image_ms']:.1f} ms; ratio fps {rounds[-1]['fps_ratio']:.3f},"
                  f" image ms {rounds[-1]['image_ratio']:.3f}")
        med = {k: statistics.median(r[k] for r in rounds) for k in ("fps_ratio", "image_ratio")}
        result["against"] = {"src": args.against, "rounds": rounds, "median": med}
        print(f"median ratio this/other: video fps {med['fps_ratio']:.3f} (higher is faster), image ms "
              f"{med['image_ratio']:.3f} (lower is faster)")
    C.write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
