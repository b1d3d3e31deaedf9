"""Cold-start times of the ``mimetic`` command, each run in a fresh process, and what its imports cost.

Budget (DESIGN.md): CLI start to first result <= 2 s (lazy imports).

    .venv/bin/python bench/cli_start.py [--runs 5] [--json F]

Timed (wall clock, process start to process end, median of ``--runs`` fresh subprocesses of the venv's
``mimetic`` executable, run from the repository root):

* ``mimetic --help``
* ``mimetic analyze tests/data/images/astronaut_nasa.jpg`` (prints a summary; the first result is the end)
* the same with ``--out`` a temporary folder (JSON and CSV written), for reference

Then one ``python -X importtime`` run of ``mimetic --help`` and of the analyze command: the 10 heaviest
imports by cumulative time (a package's own time plus everything it imports) and by self time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import _common as C

IMAGE = "tests/data/images/astronaut_nasa.jpg"


def mimetic_exe() -> str:
    exe = C.VENV_BIN / "mimetic"
    if exe.exists():
        return str(exe)
    found = shutil.which("mimetic")
    if not found:
        raise SystemExit("no mimetic executable: install the package (make install)")
    return found


def env() -> dict:
    e = dict(os.environ)
    e.pop("PYTHONPROFILEIMPORTTIME", None)
    return e


def time_command(cmd: list[str], runs: int) -> dict:
    times = []
    rc = 0
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.run(cmd, cwd=C.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env())
        times.append(time.perf_counter() - t)
        rc = rc or p.returncode
        if p.returncode:
            sys.stderr.write(p.stderr.decode(errors="replace")[-2000:])
    return {"runs": runs, "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "all_s": times, "returncode": rc}


def importtime(cmd_args: list[str]) -> list[tuple[str, int, int, int]]:
    """(name, depth, self us, cumulative us) for each import of one ``python -X importtime mimetic ...`` run."""
    cmd = [sys.executable if not (C.VENV_BIN / "python").exists() else str(C.VENV_BIN / "python"),
           "-X", "importtime", mimetic_exe(), *cmd_args]
    p = subprocess.run(cmd, cwd=C.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env())
    rows = []
    for line in p.stderr.decode(errors="replace").splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3:
            continue
        try:
            self_us, cum_us = int(parts[0]), int(parts[1])
        except ValueError:
            continue  # the header line
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        rows.append((name.strip(), depth, self_us, cum_us))
    return rows


def print_imports(label: str, rows: list[tuple[str, int, int, int]], top: int = 10) -> dict:
    total = sum(r[2] for r in rows)
    print(f"\n{label}: {len(rows)} modules imported, {total / 1e3:.0f} ms of import time in all")
    by_cum = sorted(rows, key=lambda r: -r[3])[:top]
    by_self = sorted(rows, key=lambda r: -r[2])[:top]
    print(f"  top {top} by cumulative time (self + what it imports):")
    for name, depth, s, c in by_cum:
        print(f"    {c / 1e3:8.1f} ms  (self {s / 1e3:6.1f})  {name}  [depth {depth}]")
    packages: dict[str, int] = {}
    for name, _d, s, _c in rows:
        packages[name.split(".")[0]] = packages.get(name.split(".")[0], 0) + s
    by_pkg = sorted(packages.items(), key=lambda kv: -kv[1])[:top]
    print(f"  top {top} top-level packages by total self time (what making an import lazy would save):")
    for name, s in by_pkg:
        print(f"    {s / 1e3:8.1f} ms  {name}")
    return {"total_ms": total / 1e3,
            "top_packages": [{"package": n, "self_ms": s / 1e3} for n, s in by_pkg],
            "top_cumulative": [{"module": n, "depth": d, "self_ms": s / 1e3, "cumulative_ms": c / 1e3}
                               for n, d, s, c in by_cum],
            "top_self": [{"module": n, "self_ms": s / 1e3} for n, d, s, c in by_self]}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="fresh processes per command (default 5)")
    ap.add_argument("--top", type=int, default=10, help="imports listed (default 10)")
    ap.add_argument("--no-importtime", action="store_true", help="skip the -X importtime report")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)

    exe = mimetic_exe()
    print(f"executable: {exe}; {args.runs} fresh processes per command, run from {C.ROOT}")
    C.print_machine()
    results: dict = {"machine": C.machine_notes(), "commands": {}}
    with tempfile.TemporaryDirectory(prefix="mimetic-bench-") as tmp:
        commands = [
            ("mimetic --help", [exe, "--help"]),
            (f"mimetic analyze {IMAGE}", [exe, "analyze", IMAGE]),
            (f"mimetic analyze {IMAGE} --out TMP", [exe, "analyze", IMAGE, "--out", tmp, "--quiet"]),
        ]
        print(f"\ncold start, process start to end (budget <= {C.CLI_S:g} s)")
        for label, cmd in commands:
            r = time_command(cmd, args.runs)
            r["verdict"] = C.verdict(r["median_s"] <= C.CLI_S and r["returncode"] == 0)
            results["commands"][label] = r
            rc = "" if r["returncode"] == 0 else f"  (exit status {r['returncode']}!)"
            print(f"  {label:<58} median {r['median_s']:6.3f} s  min {r['min_s']:6.3f}  max {r['max_s']:6.3f}  "
                  f"[{r['verdict']}]{rc}")

    if not args.no_importtime:
        results["importtime_help"] = print_imports("python -X importtime mimetic --help", importtime(["--help"]),
                                                   args.top)
        results["importtime_analyze"] = print_imports(f"python -X importtime mimetic analyze {IMAGE}",
                                                      importtime(["analyze", IMAGE, "--quiet"]), args.top)

    first = results["commands"][f"mimetic analyze {IMAGE}"]
    helps = results["commands"]["mimetic --help"]
    results["verdict"] = C.verdict(first["median_s"] <= C.CLI_S and helps["median_s"] <= C.CLI_S)
    print(f"\nbudget: CLI start to first result: analyze {first['median_s']:.2f} s, --help {helps['median_s']:.2f} s "
          f"vs <= {C.CLI_S:g} s [{results['verdict']}]")
    C.write_json(args.json, results)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
