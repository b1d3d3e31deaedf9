"""``mimetic serve``: the web app on uvicorn (one process; analysis runs on worker threads)."""

from __future__ import annotations

import logging

from mimetic.web.settings import Settings


def serve(settings: Settings, *, log_level: str = "info") -> None:
    import uvicorn

    from mimetic.web.app import create_app

    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO), format="%(levelname)s: %(message)s")
    app = create_app(settings)
    print(f"Mimetic web app: http://{_display_host(settings.host)}:{settings.port}/  "
          f"(API docs at /docs; data in {settings.data_dir})", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, ws="websockets-sansio",
                ws_max_size=max(2 * settings.max_live_frame_bytes, 1 << 20), timeout_graceful_shutdown=10)


def _display_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "localhost"
    return f"[{host}]" if ":" in host else host
