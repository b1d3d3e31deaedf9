"""Peak resident memory while ``Analyzer.analyze_video`` streams a long 640x360 video, and whether it stays flat.

Budget (DESIGN.md): <= 600 MB peak RSS, constant in video length (stream, never load a whole video).

    .venv/bin/python bench/memory.py [--minutes 10] [--stride 1] [--fps F] [--sample-every 25] [--json F]

The long video is the 640x360 fixture tests/data/videos/smile_pexels.mp4 (472 frames, 19.7 s) decoded and
re-encoded over and over (libx264 through mimetic.media.video.VideoWriter) until it lasts ``--minutes``. It is
written once to bench/out/loop_<minutes>min_640x360.mp4 (gitignored) by a child process, so that the encoder's
memory does not count, and reused afterwards (``--regenerate`` rebuilds it).

RSS (VmRSS of /proc/self/status) is sampled every ``--sample-every`` analysed frames and by a background thread
every 0.2 s; the peak is the kernel's high-water mark (VmHWM), which also catches spikes between samples.
A 10-minute video at full rate takes about 3-4 minutes on the 2-core machine; ``--stride``/``--fps`` thin the
analysed frames (every frame is still decoded), ``--minutes`` shortens the video.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import _common as C

FIXTURE = C.DATA / "videos" / "smile_pexels.mp4"
#: frames per second assumed for the time estimate printed before the run (updated once measured)
ASSUMED_FPS = 70.0


def loop_path(minutes: float) -> Path:
    return C.OUT / f"loop_{minutes:g}min_640x360.mp4"


def generate(path: Path, minutes: float) -> None:
    """Write ``minutes`` of the fixture, looped, to ``path`` (streaming: one frame in memory at a time)."""
    from mimetic.media.video import VideoWriter, iter_frames, probe_video

    info = probe_video(FIXTURE)
    rate = info.fps or 24.0
    total = int(round(minutes * 60 * rate))
    t = time.perf_counter()
    n = 0
    with VideoWriter(path, rate, codec="libx264", crf=23) as writer:
        while n < total:
            for frame in iter_frames(FIXTURE):
                if n >= total:
                    break
                writer.write(frame.image)
                n += 1
                if n % 2000 == 0:
                    print(f"  encoded {n}/{total} frames ({time.perf_counter() - t:.0f} s)", flush=True)
    size = path.stat().st_size / 1e6
    print(f"  wrote {path} ({n} frames, {n / rate:.0f} s of video, {size:.1f} MB) in {time.perf_counter() - t:.1f} s",
          flush=True)


def ensure_video(minutes: float, regenerate: bool) -> Path:
    path = loop_path(minutes)
    if path.exists() and not regenerate:
        print(f"video: reusing {path}")
        return path
    C.OUT.mkdir(parents=True, exist_ok=True)
    print(f"video: writing {minutes:g} minutes of the looped fixture to {path} (once; in a child process) ...",
          flush=True)
    subprocess.run([sys.executable, __file__, "--generate-only", "--minutes", str(minutes)], check=True)
    return path


class Sampler(threading.Thread):
    """Reads VmRSS every ``interval`` seconds; keeps the maximum."""

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        self.interval = interval
        self.max_mb = 0.0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.max_mb = max(self.max_mb, C.proc_status_mb("VmRSS"))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def rss_at(samples: list[tuple[int, float, float]], fraction: float, total: int) -> tuple[int, float]:
    """The first sample at or after ``fraction`` of the analysed frames: (frames analysed, RSS MB)."""
    target = fraction * total
    for n, _t, mb in samples:
        if n >= target:
            return n, mb
    return samples[-1][0], samples[-1][2]


def slope_mb_per_1000(samples: list[tuple[int, float, float]], from_frame: int) -> float:
    pts = [(n, mb) for n, _t, mb in samples if n >= from_frame]
    if len(pts) < 2:
        return 0.0
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return 1000 * sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else 0.0


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the looped video (default 10)")
    ap.add_argument("--video", help="use this video instead of the looped fixture")
    ap.add_argument("--stride", type=int, default=1, help="analyse every Nth frame (default 1)")
    ap.add_argument("--fps", type=float, default=None, help="analyse at most this many frames per second")
    ap.add_argument("--sample-every", type=int, default=25, help="read RSS every N analysed frames (default 25)")
    ap.add_argument("--regenerate", action="store_true", help="rewrite the looped video even if it exists")
    ap.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--verbose", action="store_true", help="keep MediaPipe's native logging on stderr")
    args = ap.parse_args(argv)

    if args.generate_only:
        generate(loop_path(args.minutes), args.minutes)
        return {}

    path = Path(args.video) if args.video else ensure_video(args.minutes, args.regenerate)
    C.silence_native_stderr(not args.verbose)
    start_mb = C.proc_status_mb("VmRSS")

    from mimetic import Analyzer
    from mimetic.media.video import probe_video

    info = probe_video(path)
    frames = info.frame_count or int(round((info.duration or 0) * (info.fps or 24)))
    to_analyse = -(-frames // args.stride)
    if args.fps and info.fps:
        to_analyse = min(to_analyse, int(frames / info.fps * args.fps) + 1)
    print(f"video: {path.name}: {info.width}x{info.height}, {info.fps:.3f} fps, {frames} frames, "
          f"{(info.duration or 0) / 60:.1f} min; stride={args.stride} fps={args.fps}: ~{to_analyse} frames to analyse")
    print(f"estimated time: ~{to_analyse / ASSUMED_FPS:.0f} s at ~{ASSUMED_FPS:g} analysed fps "
          f"(use --stride/--fps/--minutes to shorten)")
    C.print_machine()

    analyzer = Analyzer()
    imports_mb = C.proc_status_mb("VmRSS")
    sampler = Sampler()
    sampler.start()
    samples: list[tuple[int, float, float]] = []  # (frames analysed, seconds, RSS MB)
    last = (0, 0.0, C.proc_status_mb("VmRSS"))
    n = with_face = 0
    next_report = 0.1
    t0 = time.perf_counter()
    try:
        for result in analyzer.analyze_video(path, fps=args.fps, stride=args.stride):
            n += 1
            with_face += bool(result.faces)
            # Read every frame (~20 us, against ~12 ms of analysis) so the last frame's RSS is known: the video's
            # session is closed (models freed) as soon as the iterator ends, before the loop's code after it runs.
            last = (n, time.perf_counter() - t0, C.proc_status_mb("VmRSS"))
            if n % args.sample_every == 0 or n == 1:
                samples.append(last)
            if n == 200:
                rate = n / (time.perf_counter() - t0)
                print(f"  measured {rate:.0f} fps over the first 200 frames: ~{to_analyse / rate:.0f} s in all",
                      flush=True)
            if n >= next_report * to_analyse:
                print(f"  {next_report:4.0%}  {n:6d} frames  {time.perf_counter() - t0:6.1f} s  "
                      f"RSS {C.proc_status_mb('VmRSS'):6.1f} MB", flush=True)
                next_report += 0.1
        elapsed = time.perf_counter() - t0
        if n and samples[-1][0] != n:
            samples.append(last)
    finally:
        sampler.stop()
        analyzer.close()
    hwm = C.proc_status_mb("VmHWM")
    peak = max(hwm, sampler.max_mb, max(s[2] for s in samples))

    at = {f"{int(f * 100)}%": rss_at(samples, f, n) for f in (0.1, 0.5, 1.0)}
    growth = at["100%"][1] - at["10%"][1]
    slope = slope_mb_per_1000(samples, at["10%"][0])
    flat = growth <= C.FLAT_SLACK_MB
    ok = peak <= C.MEMORY_MB and flat
    results = {
        "machine": C.machine_notes(),
        "video": {"path": str(path), "frames": frames, "minutes": (info.duration or 0) / 60},
        "stride": args.stride, "fps": args.fps,
        "frames_analysed": n, "frames_with_face": with_face, "seconds": elapsed, "analysed_fps": n / elapsed,
        "rss_start_mb": start_mb, "rss_after_imports_mb": imports_mb,
        "rss_at": {k: {"frames": v[0], "mb": v[1]} for k, v in at.items()},
        "peak_mb": peak, "vmhwm_mb": hwm, "growth_10_to_100_mb": growth, "slope_mb_per_1000_frames": slope,
        "flat": flat, "verdict": C.verdict(ok),
    }
    print(f"\n{n} frames analysed in {elapsed:.1f} s ({n / elapsed:.1f} fps), {with_face} with a face")
    print(f"RSS: interpreter start {start_mb:.1f} MB, after importing mimetic (models not loaded yet) {imports_mb:.1f} MB")
    for k, (fn, mb) in at.items():
        print(f"  at {k:>4} of the video (frame {fn:6d}): {mb:7.1f} MB")
    print(f"  peak (VmHWM): {peak:7.1f} MB")
    print(f"  growth 10% -> 100%: {growth:+.1f} MB; trend {slope:+.2f} MB per 1000 frames "
          f"({'flat' if flat else 'GROWING'}: slack {C.FLAT_SLACK_MB:g} MB)")
    print(f"\nbudget: peak RSS {peak:.0f} MB vs <= {C.MEMORY_MB:g} MB, "
          f"{'flat' if flat else 'not flat'} in video length [{results['verdict']}]")
    C.write_json(args.json, results)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
