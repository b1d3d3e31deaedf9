"""Speed-up of ``mimetic analyze --workers 2`` over ``--workers 1`` on a folder of copies of one fixture photo
(issue 19; docs/scale.md).

    .venv/bin/python bench/scale.py [--copies 100] [--rounds 1] [--image astronaut_nasa.jpg] [--json F]
    .venv/bin/python bench/scale.py --video 600 [--fps 5] [--stride 1] [--json F]

``--video SECONDS``: one long 640x360 video instead (tests/data/videos/smile_pexels.mp4 played forwards and
backwards until it lasts SECONDS, re-encoded with PyAV into a temporary folder), through ``mimetic video`` with
``--workers 1`` and ``--workers 2`` (time chunks, docs/scale.md): frames/s, speed-up, peak memory, and how the
chunked outputs compare with the one-pass outputs (frames, duplicates, track ids, the largest difference).

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


def long_video(path: Path, seconds: float) -> Path:
    """The fixture clip, forwards then backwards (no jump cut), until it lasts ``seconds``."""
    import av

    with av.open(str(C.DATA / "videos" / "smile_pexels.mp4")) as inp:
        stream = inp.streams.video[0]
        rate = stream.average_rate
        frames = [f.to_ndarray(format="rgb24") for f in inp.decode(stream)]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=rate)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        vs.options = {"crf": "23", "preset": "veryfast"}
        cycle = 2 * len(frames) - 2
        for i in range(int(seconds * rate)):
            k = i % cycle
            frame = av.VideoFrame.from_ndarray(frames[k if k < len(frames) else cycle - k], format="rgb24")
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    return path


def compare_tables(one: Path, two: Path) -> dict:
    """How the chunked run's table differs from the one-pass table."""
    import pandas as pd

    a, b = pd.read_csv(one), pd.read_csv(two)
    same_frames = a["frame"].tolist() == b["frame"].tolist()
    res = {"rows": [len(a), len(b)], "same_frames": same_frames,
           "duplicates": int(b.duplicated(["frame", "face_id"]).sum()),
           "tracks": [int(a["track_id"].nunique()), int(b["track_id"].nunique())]}
    if same_frames and len(a) == len(b):
        res["track_id_agree"] = float((a["track_id"].fillna(-1) == b["track_id"].fillna(-1)).mean())
        num = [c for c in a.columns if a[c].dtype.kind == "f" and c in b.columns]
        diff = (a[num] - b[num]).abs().max().sort_values(ascending=False)
        res["max_abs_diff"] = {k: float(v) for k, v in diff.head(3).items()}
        res["max_abs_diff_without_confidence"] = float(diff.drop("confidence", errors="ignore").max())
    return res


def one_run(folder: Path, workers: int, n: int, video: list[str] | None = None, keep: Path | None = None) -> dict:
    out = keep or Path(tempfile.mkdtemp(prefix="scale-out-"))
    try:
        if video:
            cmd = [str(C.VENV_BIN / "mimetic"), "video", *video, "--out", str(out / "o"), "--workers", str(workers),
                   "-q"]
        else:
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
        if keep is None:
            shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--image", default="astronaut_nasa.jpg")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--video", type=float, help="seconds: one long video through `mimetic video` instead")
    ap.add_argument("--fps", type=float)
    ap.add_argument("--stride", type=int, default=1)
    args = ap.parse_args()
    if args.video:
        return video_main(args)
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


def video_main(args) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="scale-video-"))
    try:
        clip = long_video(tmp / "long.mp4", args.video)
        extra = [str(clip), "--stride", str(args.stride)] + (["--fps", str(args.fps)] if args.fps else [])
        runs = []
        for w in (1, 2):
            res = one_run(tmp, w, 0, video=extra, keep=tmp / f"w{w}")
            frames = len(open(tmp / f"w{w}" / "o" / "long.csv").readlines()) - 1
            res.update(frames=frames, frames_per_s=frames / res["seconds"])
            res.pop("images_per_s")
            runs.append(res)
            print(f"workers {w}: {res['seconds']:.1f} s, {res['frames_per_s']:.1f} frames/s, peak RSS of one process "
                  f"{res['peak_rss_mb']:.0f} MB", flush=True)
        cmp = compare_tables(tmp / "w1" / "o" / "long.csv", tmp / "w2" / "o" / "long.csv")
        print(f"speed-up {runs[1]['frames_per_s'] / runs[0]['frames_per_s']:.2f}x; chunked vs one pass: {cmp}")
        if args.json:
            args.json.write_text(json.dumps({"video_seconds": args.video, "fps": args.fps, "stride": args.stride,
                                             "runs": runs, "compare": cmp}, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
