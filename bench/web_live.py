"""The web app under load, on localhost: live WebSocket frames, photo requests, ten live clients at once.

Budgets (issue 6 and DESIGN.md): live server time per 640x480 frame <= 50 ms at p95; a photo request end to end
<= 150 ms for a 1-megapixel image; ten concurrent live clients on this machine without errors (fps each reported).

    .venv/bin/python bench/web_live.py [--frames 200] [--photos 30] [--clients 10] [--seconds 15] [--json FILE]

The server is ``mimetic serve`` in its own process (default settings, a temporary data directory); the clients
run in this process. Frames are real: smile_pexels.mp4 (a smiling face) letterboxed to 640x480 and JPEG-encoded
(quality 80) once, before timing. "server time" is the server's own ``server_ms`` (frame received -> reply
ready: decode, analysis, JSON); "round trip" adds the WebSocket and the client. Live clients keep one frame in
flight: the concurrent test runs them twice, sending the next frame as soon as the reply arrives (the live page's
"predict every 0 ms") and then one frame every 400 ms (the page's default).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common as C

PHOTO_MS = 150.0
CLIENTS_FPS = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, data: Path) -> subprocess.Popen:
    import httpx

    exe = C.VENV_BIN / "mimetic"
    cmd = [str(exe), "serve", "--port", str(port), "--data-dir", str(data), "--log-level", "warning"]
    env = {k: v for k, v in os.environ.items() if k != "MIMETIC_DATABASE_URL"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).raise_for_status()
            return proc
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)


def live_frames(n: int = 60) -> list[bytes]:
    """Frames 12 s.. of smile_pexels.mp4 (a broad smile), letterboxed to 640x480, as JPEG bytes."""
    import av
    from PIL import Image

    out = []
    with av.open(str(C.DATA / "videos" / "smile_pexels.mp4")) as c:
        for frame in c.decode(video=0):
            if frame.time is not None and frame.time < 12.0:
                continue
            img = frame.to_image()  # 640x360
            canvas = Image.new("RGB", (640, 480), (20, 20, 20))
            canvas.paste(img, (0, 60))
            buf = io.BytesIO()
            canvas.save(buf, format="JPEG", quality=80)
            out.append(buf.getvalue())
            if len(out) >= n:
                break
    return out


def photo_1mp() -> bytes:
    from PIL import Image

    img = Image.open(C.DATA / "images" / "astronaut_nasa.jpg").convert("RGB").resize((1155, 866), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def live_session(url: str, frames: list[bytes], *, count: int | None = None, seconds: float | None = None,
                 warmup: int = 10, interval: float = 0.0) -> dict:
    """One WebSocket client; returns server times, round trips, fps and errors (after ``warmup`` frames).

    ``interval``: seconds from one frame's send to the next (as the page's "predict every N ms"); 0: at once."""
    from websockets.sync.client import connect

    server_ms, rtt_ms, errors = [], [], 0
    with connect(url, max_size=None, open_timeout=30) as ws:
        json.loads(ws.recv())  # ready
        i = 0
        started = None
        while True:
            t0 = time.perf_counter()
            ws.send(frames[i % len(frames)])
            reply = json.loads(ws.recv())
            t1 = time.perf_counter()
            if interval > 0 and t1 - t0 < interval:
                time.sleep(interval - (t1 - t0))
            i += 1
            if i == warmup:
                started = time.perf_counter()
            if i <= warmup:
                continue
            if reply.get("type") != "result" or not reply.get("faces"):
                errors += 1
            else:
                server_ms.append(reply["server_ms"])
                rtt_ms.append(1e3 * (t1 - t0))
            if count is not None and i - warmup >= count:
                break
            if seconds is not None and time.perf_counter() - started >= seconds:
                break
        elapsed = time.perf_counter() - started
    n = len(server_ms) + errors
    return {"frames": n, "errors": errors, "fps": n / elapsed if elapsed > 0 else 0.0,
            "server_ms": server_ms, "rtt_ms": rtt_ms}


def concurrent(ws_url: str, frames: list[bytes], clients: int, seconds: float, interval: float) -> dict:
    """``clients`` live sessions at once for ``seconds``; prints and returns fps each, errors, server times."""
    results: list[dict | None] = [None] * clients
    failures: list[str] = []

    def run(k: int) -> None:
        try:
            results[k] = live_session(ws_url, frames[k % len(frames):] + frames[:k % len(frames)],
                                      seconds=seconds, warmup=5, interval=interval)
        except Exception as e:  # a client that fails is reported, not fatal
            failures.append(f"client {k}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [x for x in results if x is not None]
    all_server = [v for x in done for v in x["server_ms"]]
    per_client = [round(x["fps"], 1) for x in done]
    errors = sum(x["errors"] for x in done) + len(failures)
    sc = stats(all_server) if all_server else {"median_ms": float("nan"), "p95_ms": float("nan")}
    pace = f"a frame every {interval * 1000:g} ms" if interval else "next frame as soon as its reply arrives"
    print(f"\n{clients} live clients at once for {seconds:g} s ({pace}):")
    print(f"  fps each: {', '.join(f'{v:.1f}' for v in per_client)}")
    print(f"  total {sum(x['fps'] for x in done):.1f} frames/s; errors: {errors}; server time median "
          f"{sc['median_ms']:.1f} ms, p95 {sc['p95_ms']:.1f} ms")
    for f in failures:
        print(f"  {f}")
    return {"clients": clients, "seconds": seconds, "interval_s": interval, "fps_each": per_client,
            "fps_total": round(sum(x["fps"] for x in done), 1), "errors": errors, "failures": failures,
            "server": sc}


def stats(ms: list[float]) -> dict:
    return {"median_ms": statistics.median(ms), "p95_ms": C.percentile(ms, 95), "max_ms": max(ms), "n": len(ms)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=200, help="timed frames for the single live client")
    ap.add_argument("--photos", type=int, default=30, help="timed photo requests")
    ap.add_argument("--clients", type=int, default=10, help="concurrent live clients")
    ap.add_argument("--seconds", type=float, default=15.0, help="how long the concurrent clients run")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)

    import httpx

    C.print_machine()
    frames = live_frames()
    photo = photo_1mp()
    port = free_port()
    report: dict = {"machine": C.machine_notes()}
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_server(port, Path(tmp) / "data")
        try:
            base = f"http://127.0.0.1:{port}"
            ws_url = f"ws://127.0.0.1:{port}/api/v1/live"

            one = live_session(ws_url, frames, count=args.frames)
            s, r = stats(one["server_ms"]), stats(one["rtt_ms"])
            report["live_one_client"] = {"server": s, "round_trip": r, "fps": one["fps"], "errors": one["errors"]}
            print(f"\nlive, one client, 640x480 JPEG frames ({s['n']} timed):")
            print(f"  server time   median {s['median_ms']:6.1f} ms   p95 {s['p95_ms']:6.1f} ms   "
                  f"(budget p95 <= {C.LIVE_P95_MS:g} ms: {C.verdict(s['p95_ms'] <= C.LIVE_P95_MS)})")
            print(f"  round trip    median {r['median_ms']:6.1f} ms   p95 {r['p95_ms']:6.1f} ms   "
                  f"-> {one['fps']:.1f} frames/s, {one['errors']} errors")

            with httpx.Client(base_url=base, timeout=60) as client:
                times = []
                for k in range(5 + args.photos):
                    t0 = time.perf_counter()
                    resp = client.post("/api/v1/images", content=photo, headers={"content-type": "image/jpeg"})
                    dt = 1e3 * (time.perf_counter() - t0)
                    resp.raise_for_status()
                    body = resp.json()
                    client.delete(f"/api/v1/images/{body['id']}")
                    if k >= 5:
                        times.append(dt)
                p = stats(times)
            report["photo_1mp"] = {**p, "faces": body["faces"], "server_timings_ms": body["timings_ms"]}
            print(f"\nphoto, 1155x866 JPEG ({len(photo) // 1024} kB), POST /api/v1/images end to end ({p['n']} timed):")
            print(f"  median {p['median_ms']:6.1f} ms   p95 {p['p95_ms']:6.1f} ms   (budget <= {PHOTO_MS:g} ms: "
                  f"{C.verdict(p['median_ms'] <= PHOTO_MS)}); server: {body['timings_ms']}")

            report["live_concurrent"] = {}
            for interval in (0.0, 0.4):
                report["live_concurrent"][f"every_{int(interval * 1000)}ms"] = concurrent(
                    ws_url, frames, args.clients, args.seconds, interval)
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    C.write_json(args.json, report)
    return report


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
