"""``mimetic serve``: the web app on uvicorn (one process; analysis runs on worker threads)."""

from __future__ import annotations

import logging

from mimetic.web.settings import Settings


def serve(settings: Settings, *, log_level: str = "info") -> None:
    import uvicorn

    from mimetic.web.app import create_app

    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO), format="%(levelname)s: %(message)s")
    check_data_dir(settings)  # a clear error before uvicorn starts; the running app holds the lock itself
    app = create_app(settings)
    print(f"Mimetic web app: http://{_display_host(settings.host)}:{settings.port}/  "
          f"(API docs at /docs; data in {settings.data_dir})", flush=True)
    uvicorn.run(app, **uvicorn_options(settings, log_level=log_level))


def uvicorn_options(settings: Settings, *, log_level: str = "info") -> dict:
    """How uvicorn runs the app (``mimetic serve`` and the tests' server): proxy headers are never uvicorn's to
    trust (:mod:`mimetic.web.hosts` does it, only for ``forwarded_allow_ips``); WebSocket messages up to
    ``max_ws_message_bytes`` are read, so an oversize frame gets the protocol's error 413."""
    return dict(host=settings.host, port=settings.port, log_level=log_level, ws="websockets-sansio",
                ws_max_size=max(settings.max_ws_message_bytes, 2 * settings.max_live_frame_bytes),
                proxy_headers=False, server_header=False, timeout_graceful_shutdown=10)


def check_data_dir(settings: Settings) -> None:
    """Raise :class:`~mimetic.web.datalock.DataDirBusy` when another server uses the data directory."""
    from mimetic.web.datalock import DataDirLock

    with DataDirLock(settings.data_dir, ""):
        pass


def _display_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "localhost"
    return f"[{host}]" if ":" in host else host
