"""Helpers shared by the benchmark scripts (not a test module; nothing here asserts).

The budgets are those of DESIGN.md, section "Performance budget" (2-core machine, no GPU).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"  # gitignored
DATA = ROOT / "tests" / "data"
VENV_BIN = ROOT / ".venv" / "bin"

# Budgets (DESIGN.md "Performance budget").
IMAGE_MS = 20.0  # one 640x480 image, one face, warm: median <= 20 ms
VIDEO_FPS = 60.0  # 640x360 one-face video: >= 60 frames per second processed
MEMORY_MB = 600.0  # peak RSS <= 600 MB, flat in video length
CLI_S = 2.0  # CLI start to first result <= 2 s
LIVE_P95_MS = 50.0  # live frame server time p95 <= 50 ms (measured by image/video scripts as a reference)

#: RSS growth between 10 % and 100 % of a video above which memory is not called "flat" (MB).
FLAT_SLACK_MB = 25.0

# Keep MediaPipe's C++ logging down (the package sets the same defaults, but only once it is imported).
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "OVER"


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile, q in 0..100."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize_ms(samples_s: list[float]) -> dict:
    ms = [s * 1000.0 for s in samples_s]
    return {
        "runs": len(ms),
        "median_ms": statistics.median(ms),
        "p90_ms": percentile(ms, 90),
        "p95_ms": percentile(ms, 95),
        "mean_ms": statistics.fmean(ms),
        "min_ms": min(ms),
        "max_ms": max(ms),
    }


def silence_native_stderr(enabled: bool = True) -> None:
    """Send file descriptor 2 (MediaPipe/TFLite C++ logging) to /dev/null, keeping Python's sys.stderr working."""
    if not enabled:
        return
    try:
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = os.fdopen(saved, "w", buffering=1)
    except OSError:
        pass


def proc_status_mb(field: str = "VmRSS") -> float:
    """A memory field of /proc/self/status (VmRSS, VmHWM, ...) in MB (10^6 bytes); NaN where unavailable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return float("nan")


def machine_notes() -> dict:
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "loadavg": [round(x, 2) for x in load],
            "python": platform.python_version()}


def print_machine() -> None:
    m = machine_notes()
    print(f"machine: {m['cpus']} CPUs ({m['cpu']}), Python {m['python']}, load average "
          f"{m['loadavg'][0]:.2f} / {m['loadavg'][1]:.2f} / {m['loadavg'][2]:.2f} (1/5/15 min)")
    if m["cpus"] and m["loadavg"][0] > 0.5 * m["cpus"]:
        print("  note: the machine is busy (load > half the CPUs); timings will be pessimistic")


def write_json(path: str | os.PathLike | None, data: dict) -> None:
    if not path:
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=2, default=float))


def load_single_face_640x480():
    """tests/data/images/single_face.jpg scaled to fit 640x480 and centred on a mid-grey canvas: (480, 640, 3) uint8."""
    import numpy as np
    from PIL import Image

    src = Image.open(DATA / "images" / "single_face.jpg")
    src = src.convert("RGB")
    scale = min(640 / src.width, 480 / src.height)
    size = (max(1, round(src.width * scale)), max(1, round(src.height * scale)))
    src = src.resize(size, Image.LANCZOS)
    canvas = Image.new("RGB", (640, 480), (128, 128, 128))
    canvas.paste(src, ((640 - size[0]) // 2, (480 - size[1]) // 2))
    return np.ascontiguousarray(np.asarray(canvas, dtype=np.uint8))
