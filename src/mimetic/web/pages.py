"""The pages: Photo, Video and Live, rendered from Jinja2 templates in the visitor's language.

Each page is plain HTML plus one small JavaScript module from ``/static/js``; the UI text the scripts need comes
from the same catalogue, embedded in the page as JSON. Nothing is loaded from another site.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from mimetic.export import dumps
from mimetic.web import i18n

TEMPLATES = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))
router = APIRouter(include_in_schema=False)

PAGES = ("photo", "video", "live")


def _mb(n: int) -> float | int:
    mb = round(n / 1024 / 1024, 1)
    return int(mb) if mb == int(mb) else mb


def _limits(settings) -> dict[str, Any]:
    return {"max_image_mb": _mb(settings.max_image_bytes), "max_video_mb": _mb(settings.max_video_bytes),
            "max_live_frame_bytes": settings.max_live_frame_bytes,
            "image_ttl_min": round(settings.image_ttl / 60), "job_ttl_days": round(settings.job_ttl / 86400, 1)}


#: characters that may not appear as themselves in a script block's JSON (HTML's "restrictions for contents of
#: script elements": no ``<!--``, ``<script`` or ``</script``; ``&`` and the JavaScript line separators for safety)
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_SCRIPT_UNSAFE = re.compile("[<>&\u2028\u2029]")


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside ``<script type="application/json">``: every ``<``, ``>`` and ``&`` is
    written as a ``\\u`` escape (the same string for ``JSON.parse``), so no value (a display name such as
    ``</script><!--<script>``) can end the block or change how the page is parsed."""
    return _SCRIPT_UNSAFE.sub(lambda m: _SCRIPT_ESCAPES[m.group()], dumps(value))


def render(request: Request, page: str, *, template: str | None = None, status_code: int = 200,
           boot: dict[str, Any] | None = None, **extra: Any) -> HTMLResponse:
    """The page ``page`` (``templates/<page>.html``, or ``template``) in the visitor's language. Every page gets
    ``user`` (the logged-in :class:`~mimetic.store.accounts.UserRecord` or None) and ``csrf`` (the token its forms
    carry) in the template context and in the boot JSON; ``extra`` goes to the template, ``boot`` to the JSON."""
    from mimetic import __version__
    from mimetic.facs.catalogue import AU_BY_CODE
    from mimetic.types import EXPRESSIONS
    from mimetic.web import auth

    user = auth.current_user(request)
    csrf = auth.csrf_token(request)
    lang, set_cookie = i18n.choose(request)
    t = i18n.Translator(lang)
    settings = request.app.state.services.settings
    limits = _limits(settings)
    boot = {
        "lang": lang,
        "messages": t.messages,
        "expressions": list(EXPRESSIONS),
        "aus": {code: a.name for code, a in AU_BY_CODE.items()},
        "limits": limits,
        "api": "/api/v1",
        "user": {"id": user.id, "role": user.role, "name": user.name} if user else None,
        "csrf": csrf,
        **(boot or {}),
    }
    context = {
        "t": t, "lang": lang, "html_lang": i18n.HTML_LANG[lang], "languages": i18n.LANGUAGES, "page": page,
        "version": __version__, "limits": limits,
        "boot_json": script_json(boot),
        "user": user, "csrf": csrf, **extra,
    }
    response = templates.TemplateResponse(request, template or f"{page}.html", context, status_code=status_code)
    response.headers["Vary"] = "Accept-Language, Cookie"
    auth.apply_cookies(request, response)
    if user is not None:  # pages with someone's data are never cached
        response.headers["Cache-Control"] = "no-store"
    if set_cookie:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=False)
    return response


@router.get("/")
def home(request: Request) -> RedirectResponse:
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/photo{query}", status_code=307)


@router.get("/photo", response_class=HTMLResponse)
def photo(request: Request) -> HTMLResponse:
    return render(request, "photo")


@router.get("/video", response_class=HTMLResponse)
def video(request: Request) -> HTMLResponse:
    return render(request, "video")


@router.get("/live", response_class=HTMLResponse)
def live(request: Request) -> HTMLResponse:
    return render(request, "live")
