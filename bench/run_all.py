"""Run every benchmark and print a Markdown table of the performance budget (also bench/out/results.md).

    .venv/bin/python bench/run_all.py                 # memory on a 2-minute video
    .venv/bin/python bench/run_all.py --full          # memory on the full 10-minute video (~3-4 min more)
    .venv/bin/python bench/run_all.py --repeat 2      # timing benchmarks twice each, the better figure kept

Each benchmark runs in its own fresh process (so one's memory or loaded models cannot affect another's), its
full report passes through, and its JSON lands in bench/out/. Nothing here fails: OVER rows are reported, not
raised. With ``--repeat N`` the timing benchmarks (image, video, CLI) run N times and the best figure of each row
is kept (other work on a shared machine only ever makes timings worse); memory runs once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time

import _common as C

DEFAULTS = "defaults (max_faces=20, min_face=48)"
LIVE = "LiveSession.push (tracking; live reference)"


def run(script: str, args: list[str], tag: str) -> dict | None:
    out = C.OUT / f"{tag}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(C.BENCH / script), *args, "--json", str(out)]
    print(f"\n$ python bench/{script} {' '.join(cmd[2:])}", flush=True)
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=C.ROOT)
    print(f"({script} took {time.perf_counter() - t:.0f} s, exit status {p.returncode})", flush=True)
    if p.returncode or not out.exists():
        return None
    return json.loads(out.read_text())


def repeated(script: str, args: list[str], tag: str, n: int) -> list[dict]:
    runs = []
    for i in range(n):
        r = run(script, args, f"{tag}_{i + 1}" if n > 1 else tag)
        if r is not None:
            runs.append(r)
    return runs


def best_image(runs: list[dict]) -> dict | None:
    if not runs:
        return None
    best = {"configs": {}, "stages": {}}
    for label in runs[0]["configs"]:
        best["configs"][label] = min((r["configs"][label] for r in runs if label in r["configs"]),
                                     key=lambda c: c["median_ms"])
    for label in runs[0].get("stages", {}):
        best["stages"][label] = min((r["stages"][label] for r in runs if label in r.get("stages", {})),
                                    key=lambda c: c["median_ms"])
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each timing benchmark; the best kept (default 1)")
    ap.add_argument("--full", action="store_true", help="memory on the full 10-minute video (default: 2 minutes)")
    ap.add_argument("--minutes", type=float, default=None, help="memory: video length in minutes (overrides --full)")
    ap.add_argument("--stride", type=int, default=1, help="memory: analyse every Nth frame (default 1)")
    ap.add_argument("--runs", type=int, default=100, help="image: timed runs per configuration (default 100)")
    ap.add_argument("--profile", action="store_true", help="image: also cProfile analyze_array")
    ap.add_argument("--skip", default="", help="comma-separated: image,video,memory,cli")
    args = ap.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    minutes = args.minutes if args.minutes is not None else (10.0 if args.full else 2.0)
    C.OUT.mkdir(parents=True, exist_ok=True)
    machine = C.machine_notes()
    started = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    t0 = time.perf_counter()

    image = video = memory = cli = None
    video_runs: list[dict] = []
    cli_runs: list[dict] = []
    if "image" not in skip:
        img_args = ["--runs", str(args.runs)] + (["--profile"] if args.profile else [])
        image = best_image(repeated("image_latency.py", img_args, "image", args.repeat))
    if "video" not in skip:
        video_runs = repeated("video_fps.py", [], "video", args.repeat)
        video = max(video_runs, key=lambda r: r["analyze"]["fps"]) if video_runs else None
    if "memory" not in skip:
        memory = run("memory.py", ["--minutes", f"{minutes:g}", "--stride", str(args.stride)], "memory")
    if "cli" not in skip:
        cli_runs = repeated("cli_start.py", [], "cli", args.repeat)
        if cli_runs:
            cli = {label: min((r["commands"][label] for r in cli_runs), key=lambda c: c["median_s"])
                   for label in cli_runs[0]["commands"]}

    rows: list[tuple[str, str, str, str]] = []
    if image:
        for label, name in ((DEFAULTS, "one 640×480 image, one face, warm (defaults)"),
                            ("min_face=0 (no tile search)", "… same, `min_face=0` (no small-face tile search)"),
                            ("max_faces=1", "… same, `max_faces=1`")):
            c = image["configs"].get(label)
            if c:
                rows.append((name, f"≤ {C.IMAGE_MS:g} ms median",
                             f"{c['median_ms']:.1f} ms median (p90 {c['p90_ms']:.1f})",
                             C.verdict(c["median_ms"] <= C.IMAGE_MS)))
        live = image["stages"].get(LIVE)
        if live:
            rows.append(("live frame, `LiveSession.push` only (no WebSocket, no JPEG decoding)",
                         f"≤ {C.LIVE_P95_MS:g} ms p95 server time",
                         f"{live['p95_ms']:.1f} ms p95 (median {live['median_ms']:.1f})",
                         C.verdict(live["p95_ms"] <= C.LIVE_P95_MS) + " (partial)"))
    else:
        rows.append(("one 640×480 image, one face, warm", f"≤ {C.IMAGE_MS:g} ms median", "not measured", "—"))
    if video:
        a = video["analyze"]
        rows.append(("video 640×360, one face (`analyze_video`, decoding included)", f"≥ {C.VIDEO_FPS:g} fps",
                     f"{a['fps']:.1f} fps (decode alone {video['decode_rgb']['fps']:.0f} fps)",
                     C.verdict(a["fps"] >= C.VIDEO_FPS)))
    else:
        rows.append(("video 640×360, one face", f"≥ {C.VIDEO_FPS:g} fps", "not measured", "—"))
    if memory:
        at = memory["rss_at"]
        rows.append((f"memory, {memory['video']['minutes']:.0f}-minute 640×360 video"
                     + (f" (stride {memory['stride']})" if memory["stride"] != 1 else ""),
                     f"≤ {C.MEMORY_MB:g} MB peak RSS, flat",
                     f"peak {memory['peak_mb']:.0f} MB; {at['10%']['mb']:.0f} / {at['50%']['mb']:.0f} / "
                     f"{at['100%']['mb']:.0f} MB at 10 / 50 / 100 %", memory["verdict"]))
    else:
        rows.append(("memory", f"≤ {C.MEMORY_MB:g} MB peak RSS, flat", "not measured", "—"))
    if cli:
        for label, c in cli.items():
            if "--out" in label:
                continue
            shown = label.replace("tests/data/images/", "")
            rows.append((f"CLI cold start: `{shown}` (median of {c['runs']})", f"≤ {C.CLI_S:g} s",
                         f"{c['median_s']:.2f} s", C.verdict(c["median_s"] <= C.CLI_S and c["returncode"] == 0)))
    else:
        rows.append(("CLI start to first result", f"≤ {C.CLI_S:g} s", "not measured", "—"))

    lines = [
        f"Measured {started} on {machine['cpus']} CPUs ({machine['cpu']}), no GPU, Python {machine['python']}; "
        f"load average at start {machine['loadavg'][0]:.2f}"
        + (f"; timing benchmarks run {args.repeat}×, best kept" if args.repeat > 1 else "") + ".",
        "",
        "| what | budget | measured | verdict |",
        "|---|---|---|---|",
    ]
    lines += [f"| {w} | {b} | {m} | {v} |" for w, b, m, v in rows]
    if image and LIVE in image["stages"]:
        lines += ["", "(partial): the live budget counts the whole server time of a WebSocket frame; "
                      "only the analysis step is measured here."]
    table = "\n".join(lines) + "\n"
    (C.OUT / "results.md").write_text(table)
    print(f"\n\n{table}\n(written to {C.OUT / 'results.md'}; all benchmarks took {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
