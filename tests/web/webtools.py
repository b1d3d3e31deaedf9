"""Helpers for the web app's tests (imported by conftest.py and the test modules): test data paths, settings in a
temporary data directory, a uvicorn server in a thread, a y4m writer for Chromium's fake camera."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
IMAGES = DATA / "images"
VIDEOS = DATA / "videos"


def make_settings(data_dir: Path, **overrides):
    from mimetic.web.settings import Settings

    # the TestClient's requests name the host "testserver"; the loopback names are the default allow-list's
    values = dict(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'mimetic.db'}", image_workers=1,
                  job_workers=1, janitor_interval=3600, allowed_hosts="localhost,127.0.0.1,::1,testserver")
    values.update(overrides)
    return Settings(**values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving the app in a background thread."""

    def __init__(self, settings):
        import uvicorn

        from mimetic.web.app import create_app
        from mimetic.web.serve import uvicorn_options

        self.settings = settings
        options = {**uvicorn_options(settings, log_level="warning"), "host": "127.0.0.1"}
        options.pop("timeout_graceful_shutdown")
        config = uvicorn.Config(create_app(settings), lifespan="on", **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{settings.port}"

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def write_y4m_frames(dst: Path, frames, fps: int = 24) -> Path:
    """Write PyAV video frames (any pixel format) as a YUV4MPEG2 file: what Chromium's fake camera plays, looped."""
    with open(dst, "wb") as out:
        header = False
        for frame in frames:
            yuv = frame.reformat(format="yuv420p")
            if not header:
                out.write(f"YUV4MPEG2 W{yuv.width} H{yuv.height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
                header = True
            out.write(b"FRAME\n")
            for plane, (w, h) in zip(yuv.planes, ((yuv.width, yuv.height), (yuv.width // 2, yuv.height // 2),
                                                  (yuv.width // 2, yuv.height // 2))):
                data = bytes(plane)
                stride = plane.line_size
                out.write(b"".join(data[r * stride:r * stride + w] for r in range(h)))
    return dst


def write_y4m(src: Path, dst: Path, *, start: float, seconds: float, fps: int = 24) -> Path:
    """A short clip of ``src`` as a YUV4MPEG2 file, frames from ``start``."""
    import av

    def clip():
        with av.open(str(src)) as container:
            stream = container.streams.video[0]
            written = 0
            for frame in container.decode(stream):
                t = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
                if t < start:
                    continue
                if written >= int(seconds * fps):
                    break
                written += 1
                yield frame

    return write_y4m_frames(dst, clip(), fps)


#: Debian's Chromium (the browser tests skip when it is missing)
CHROMIUM = Path(os.environ.get("MIMETIC_TEST_CHROMIUM", "/usr/bin/chromium"))


def launch_chromium(playwright, camera: Path):
    """Debian's Chromium, headless, with ``camera`` (a y4m file, looped) as its fake webcam."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}",
    ])
