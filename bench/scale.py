"""Speed-up of ``mimetic analyze --workers 2`` over ``--workers 1`` on a folder of copies of one fixture photo
(issue 19; docs/scale.md).

    .venv/bin/python bench/scale.py [--copies 100] [--rounds 1] [--image astronaut_nasa.jpg] [--json F]

Each round runs the real command (a fresh process, model loading and pool start included, end to end) with
``--workers 1`` then ``--workers 2`` (alternating, so that a busy neighbour hits both alike), into a fresh
``--out`` each time (nothing resumed), and prints images/s of both and their ratio. Peak memory: the largest
resident set of any one process of the run (the command, or one worker), sampled every 0.2 s with psutil.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import _common as C


def peak_rss(proc: subprocess.Popen, stop: threading.Event, peak: dict) -> None:
    import psutil

    try:
        root = psutil.Process(proc.pid)
    except psutil.Error:
        return
    while not stop.is_set():
        try:
            for p in [root, *root.children(recursive=True)]:
                try:
                    peak["mb"] = max(peak.get("mb", 0.0), p.memory_info().rss / 2**20)
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        stop.wait(0.2)


def one_run(folder: Path, workers: int, n: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="scale-out-"))
    try:
        cmd = [str(C.VENV_BIN / "mimetic"), "analyze", str(folder), "--out", str(out / "o"), "--workers",
               str(workers), "-q"]
        stop, peak = threading.Event(), {}
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        th = threading.Thread(target=peak_rss, args=(proc, stop, peak), daemon=True)
        th.start()
        _, err = proc.communicate()
        dt = time.perf_counter() - t0
        stop.set()
        th.join()
        if proc.returncode != 0:
            raise SystemExit(f"workers={workers}: exit {proc.returncode}\n{err}")
        return {"workers": workers, "seconds": dt, "images_per_s": n / dt, "peak_rss_mb": peak.get("mb")}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--image", default="astronaut_nasa.jpg")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="scale-in-"))
    try:
        src = C.DATA / "images" / args.image
        for i in range(args.copies):
            shutil.copyfile(src, folder / f"{i:04d}.jpg")
        runs = []
        for r in range(args.rounds):
            for w in (1, 2):
                res = one_run(folder, w, args.copies)
                runs.append({"round": r, **res})
                print(f"round {r} workers {w}: {res['seconds']:.1f} s, {res['images_per_s']:.2f} images/s, "
                      f"peak RSS of one process {res['peak_rss_mb']:.0f} MB", flush=True)
        for r in range(args.rounds):
            one, two = (x for x in runs if x["round"] == r)
            print(f"round {r}: speed-up {two['images_per_s'] / one['images_per_s']:.2f}x")
        if args.json:
            args.json.write_text(json.dumps({"copies": args.copies, "image": args.image, "runs": runs}, indent=1))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
