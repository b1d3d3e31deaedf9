"""The web app: photo, video and live webcam analysis in the browser, and a JSON API under ``/api/v1``.

>>> from mimetic.web import create_app, Settings
>>> app = create_app(Settings(data_dir="/tmp/mimetic"))   # an ASGI app; `mimetic serve` runs it on uvicorn

Modules: ``app`` (the factory), ``settings``, ``api`` (JSON routes), ``live`` (the WebSocket), ``pages`` and
``i18n`` (templates in four languages), ``uploads`` (streamed uploads with limits), ``images`` (photo results),
``jobs`` (video jobs), ``videocheck``, ``timeline``, ``workers`` (one Analyzer per thread), ``errors``, ``serve``,
``hosts`` (the Host allow-list and trusted proxies), ``datalock`` (one data directory, one server).
Its dependencies (FastAPI, uvicorn, SQLAlchemy, Alembic, Jinja2, ...) are among mimetic's own; nothing else in
mimetic imports this package except the ``serve`` command, lazily.
"""

from __future__ import annotations

__all__ = ["Settings", "create_app", "serve"]


def __getattr__(name: str):
    if name == "create_app":
        from mimetic.web.app import create_app

        return create_app
    if name == "Settings":
        from mimetic.web.settings import Settings

        return Settings
    if name == "serve":
        from mimetic.web.serve import serve

        return serve
    raise AttributeError(f"module 'mimetic.web' has no attribute {name!r}")
