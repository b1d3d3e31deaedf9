"""The FastAPI application: :func:`create_app` wires settings, the store, workers, routes and static files."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from mimetic.web import errors
from mimetic.web.responses import JSONResponse
from mimetic.web.settings import Settings

log = logging.getLogger("mimetic.web")

STATIC = Path(__file__).resolve().parent / "static"
#: pages may load only what this server serves; the camera only for this origin
PAGE_CSP = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self' ws: wss:; "
            "script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
            "form-action 'self'")
DESCRIPTION = """\
Measure what a face does: landmarks, head pose, FACS action units (left and right), the muscles behind them,
symmetry and the basic expression — for photos, videos (background jobs) and live webcam frames (WebSocket
`/api/v1/live`, see `docs/web.md`). Errors are JSON: `{"error": {"status", "code", "message"}}`.
"""


def _swagger_assets() -> Path | None:
    """Swagger UI's files from the fastapi-offline package (so /docs works offline), if installed."""
    try:
        import fastapi_offline
    except ImportError:  # pragma: no cover - a pinned dependency
        return None
    path = Path(fastapi_offline.__file__).resolve().parent / "static"
    return path if (path / "swagger-ui-bundle.js").is_file() else None


async def _janitor(app: FastAPI) -> None:
    svc = app.state.services
    while True:
        try:
            await run_in_threadpool(svc.expire)
        except Exception:  # pragma: no cover - never let cleanup kill the server
            log.exception("cleaning up expired results failed")
        await asyncio.sleep(max(5.0, svc.settings.janitor_interval))


def create_app(settings: Settings | None = None, *, warm: bool = True) -> FastAPI:
    """The web app. ``settings`` defaults to :meth:`Settings.from_env`; ``warm`` loads the photo workers' models
    at start-up (in the background) so the first request is not slow."""
    from mimetic import __version__
    from mimetic.web import account_pages, annotate_pages, api, auth, hosts, live, pages, practice_pages, practice_ws
    from mimetic.web.services import Services

    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await run_in_threadpool(Services.start, settings, warm=warm)
        janitor = asyncio.create_task(_janitor(app))
        try:
            yield
        finally:
            janitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await janitor
            await run_in_threadpool(app.state.services.close)

    app = FastAPI(title="Mimetic", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  default_response_class=JSONResponse, docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json")
    app.state.settings = settings
    errors.install(app)
    auth.install(app)
    hosts.install(app, settings)
    app.include_router(api.router)
    app.include_router(live.router)
    app.include_router(pages.router)
    app.include_router(account_pages.router)
    app.include_router(practice_ws.router)
    app.include_router(practice_pages.api)
    app.include_router(practice_pages.pages)
    app.include_router(annotate_pages.api)
    app.include_router(annotate_pages.pages)
    assets = _swagger_assets()
    if assets is not None:  # mounted before /static, which would shadow it
        app.mount("/static/docs", StaticFiles(directory=assets), name="docs-assets")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if assets is None:  # pragma: no cover
            return HTMLResponse("<p>API documentation: <a href='/api/v1/openapi.json'>openapi.json</a></p>")
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="Mimetic API",
                                   swagger_js_url="/static/docs/swagger-ui-bundle.js",
                                   swagger_css_url="/static/docs/swagger-ui.css",
                                   swagger_favicon_url="/static/img/favicon.svg")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        h = response.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("X-Frame-Options", "DENY")
        if h.get("content-type", "").startswith("text/html") and request.url.path != "/docs":
            h.setdefault("Content-Security-Policy", PAGE_CSP)
            h.setdefault("Permissions-Policy", "camera=(self), microphone=()")
        if request.url.path.startswith("/api/"):
            h.setdefault("Cache-Control", "no-store")
        return response

    return app
