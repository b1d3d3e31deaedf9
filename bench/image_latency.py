"""Warm latency of ``Analyzer.analyze_array`` on one 640x480 image with one face.

Budget (DESIGN.md): <= 20 ms median, full analysis, warm.

    .venv/bin/python bench/image_latency.py [--runs 100] [--profile] [--json bench/out/image.json]

The image is tests/data/images/single_face.jpg scaled to fit 640x480 and centred on grey. Configurations:
the defaults (max_faces=20, min_face=48: whole-image landmarker + detector + small-face tile search),
``min_face=0`` (no tile search), ``max_faces=1``, and both. Then a per-stage breakdown (landmarker only,
detector only, ...) and, as a reference for the live budget, ``LiveSession.push`` on the same frame.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time

import _common as C


def time_calls(fn, runs: int, warmup: int) -> dict:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return C.summarize_ms(samples)


def count_calls(obj, name: str):
    """Wrap ``obj.name`` (an instance method) to count its calls; returns (counter dict, undo)."""
    orig = getattr(obj, name)
    counter = {"n": 0}

    def wrapped(*a, **k):
        counter["n"] += 1
        return orig(*a, **k)

    setattr(obj, name, wrapped)

    def undo() -> None:
        vars(obj).pop(name, None)

    return counter, undo


def fmt(r: dict) -> str:
    return (f"median {r['median_ms']:7.2f} ms   p90 {r['p90_ms']:7.2f}   p95 {r['p95_ms']:7.2f}   "
            f"min {r['min_ms']:6.2f}   mean {r['mean_ms']:6.2f}   (n={r['runs']})")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100, help="timed runs per configuration (default 100)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed runs first (default 10)")
    ap.add_argument("--no-stages", action="store_true", help="skip the per-stage breakdown")
    ap.add_argument("--profile", action="store_true", help="cProfile analyze_array (defaults); print top 10 cumulative")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--verbose", action="store_true", help="keep MediaPipe's native logging on stderr")
    args = ap.parse_args(argv)
    C.silence_native_stderr(not args.verbose)

    from mimetic import Analyzer

    rgb = C.load_single_face_640x480()
    print(f"image: single_face.jpg fitted to {rgb.shape[1]}x{rgb.shape[0]}; {args.runs} timed runs after "
          f"{args.warmup} warm-up runs each")
    C.print_machine()
    results: dict = {"machine": C.machine_notes(), "configs": {}, "stages": {}}

    configs = [
        ("defaults (max_faces=20, min_face=48)", {}),
        ("min_face=0 (no tile search)", {"min_face": 0}),
        ("max_faces=1", {"max_faces": 1}),
        ("max_faces=1, min_face=0", {"max_faces": 1, "min_face": 0}),
    ]
    print(f"\nanalyze_array, warm (budget: median <= {C.IMAGE_MS:g} ms)")
    for label, kw in configs:
        with Analyzer(**kw) as a:
            t = time.perf_counter()
            first = a.analyze_array(rgb)
            cold = time.perf_counter() - t
            r = time_calls(lambda: a.analyze_array(rgb), args.runs, args.warmup)
        r["faces"] = len(first.faces)
        r["first_call_ms"] = cold * 1000
        r["verdict"] = C.verdict(r["median_ms"] <= C.IMAGE_MS)
        results["configs"][label] = r
        print(f"  {label:<38} {fmt(r)}  faces={r['faces']}  [{r['verdict']}]")
    print("  (first call, models loading: "
          + ", ".join(f"{v['first_call_ms']:.0f} ms" for v in results["configs"].values()) + ")")

    if not args.no_stages:
        from mimetic.analyzer import build_face
        from mimetic.face import landmarker as lm_mod
        from mimetic.face.search import find_faces

        stage_runs = max(30, args.runs // 2)
        with Analyzer() as a:
            landmarker, detector = a._image_models()
            a.analyze_array(rgb)
            h, w = rgb.shape[:2]
            raws = landmarker.detect(rgb)
            stages = {}
            stages["mp.Image from the array (copy)"] = time_calls(lambda: lm_mod._mp_image(rgb), stage_runs, 3)
            task = getattr(landmarker, "_task", None)
            if task is not None:
                image = lm_mod._mp_image(rgb)
                stages["MediaPipe FaceLandmarker.detect (raw task)"] = time_calls(lambda: task.detect(image), stage_runs,
                                                                                   args.warmup)
            stages["Landmarker.detect (wrapper, landmarker only)"] = time_calls(lambda: landmarker.detect(rgb),
                                                                                stage_runs, args.warmup)
            stages["Detector.detect, whole image"] = time_calls(lambda: detector.detect(rgb), stage_runs, args.warmup)
            stages["find_faces(min_face=None)"] = time_calls(
                lambda: find_faces(rgb, landmarker, detector, max_faces=20, min_face=None), stage_runs, args.warmup)
            stages["find_faces(min_face=48)"] = time_calls(
                lambda: find_faces(rgb, landmarker, detector, max_faces=20, min_face=48), stage_runs, args.warmup)
            if raws:
                stages["build_face + enrich (per face)"] = time_calls(
                    lambda: a._enrich(build_face(raws[0], w, h), rgb), stage_runs, 3)
            stages["analyze_array (full, defaults)"] = time_calls(lambda: a.analyze_array(rgb), stage_runs, args.warmup)

            # How many model calls one default analyze_array makes.
            dcount, dundo = count_calls(detector, "detect")
            lcount, lundo = count_calls(landmarker, "detect")
            a.analyze_array(rgb)
            dundo()
            lundo()
            calls = {"detector_calls": dcount["n"], "landmarker_calls": lcount["n"]}

        # Live mode (VIDEO running mode: tracking between frames), the same frame pushed again and again.
        with Analyzer() as a, a.live() as session:
            ts = [0.0]

            def push():
                ts[0] += 1 / 30
                session.push(rgb, timestamp=ts[0])

            stages["LiveSession.push (tracking; live reference)"] = time_calls(push, stage_runs, args.warmup)

        results["stages"] = stages
        results["calls_per_image"] = calls
        print(f"\nper-stage breakdown ({stage_runs} runs each, same image)")
        for label, r in stages.items():
            print(f"  {label:<46} {fmt(r)}")
        print(f"  one default analyze_array call makes {calls['detector_calls']} Detector.detect and "
              f"{calls['landmarker_calls']} Landmarker.detect calls (whole image + small-face tiles)")
        live = stages["LiveSession.push (tracking; live reference)"]
        print(f"  live reference: push() p95 {live['p95_ms']:.2f} ms vs the live budget of <= {C.LIVE_P95_MS:g} ms p95 "
              f"server time (WebSocket and JPEG decoding not included)")

    if args.profile:
        with Analyzer() as a:
            for _ in range(5):
                a.analyze_array(rgb)
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(50):
                a.analyze_array(rgb)
            prof.disable()
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("cumulative")
        stats.print_stats(10)
        text = buf.getvalue()
        print("\ncProfile of 50 analyze_array calls (defaults), top by cumulative time:")
        lines = text.splitlines()
        start = next((i for i, l in enumerate(lines) if l.lstrip().startswith("ncalls")), 0)
        print("\n".join(lines[start:]).rstrip())
        C.OUT.mkdir(exist_ok=True)
        full = io.StringIO()
        pstats.Stats(prof, stream=full).sort_stats("cumulative").print_stats(40)
        (C.OUT / "image_profile.txt").write_text(full.getvalue())
        print(f"  (top 40 with full paths: {C.OUT / 'image_profile.txt'})")
        results["profile_top"] = lines[start:start + 11]

    d = results["configs"]["defaults (max_faces=20, min_face=48)"]
    print(f"\nbudget: one 640x480 image, one face, warm: median {d['median_ms']:.1f} ms vs <= {C.IMAGE_MS:g} ms "
          f"[{d['verdict']}]")
    C.write_json(args.json, results)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
