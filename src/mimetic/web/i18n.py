"""UI text from message catalogues (``mimetic/web/locales/<lang>.json`` plus one ``<lang>.json`` per feature in
``mimetic/web/locales/<feature>/``), and the choice of language.

The language is, in order: ``?lang=`` (which also sets a cookie), the ``mimetic_lang`` cookie, the browser's
``Accept-Language``, English. Catalogues are flat ``{"key": "text"}`` maps; a key missing from a language falls
back to English, and one missing from English shows the key itself. Placeholders use ``{name}``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from starlette.requests import HTTPConnection

LOCALES = Path(__file__).resolve().parent / "locales"
#: language code -> its own name, in menu order
LANGUAGES = {"en": "English", "zh-Hant": "繁體中文", "zh-Hans": "简体中文", "ko": "한국어"}
DEFAULT = "en"
COOKIE = "mimetic_lang"
#: BCP 47 tags for <html lang>
HTML_LANG = {"en": "en", "zh-Hant": "zh-Hant", "zh-Hans": "zh-Hans", "ko": "ko"}

_TRADITIONAL_REGIONS = {"tw", "hk", "mo", "hant"}


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    """The merged catalogue for ``lang`` (English underneath)."""
    base: dict[str, str] = {}
    for code in dict.fromkeys((DEFAULT, lang)):
        for path in [LOCALES / f"{code}.json", *sorted(LOCALES.glob(f"*/{code}.json"))]:
            if path.is_file():
                base.update(json.loads(path.read_text(encoding="utf-8")))
    return base


def normalise(tag: str | None) -> str | None:
    """Map a language tag (``zh-TW``, ``zh_Hant_HK``, ``ko-KR``, ``en-GB``, ``zh``...) to a supported code."""
    if not tag:
        return None
    parts = [p.lower() for p in tag.strip().replace("_", "-").split("-") if p]
    if not parts:
        return None
    if parts[0] == "zh":
        return "zh-Hant" if _TRADITIONAL_REGIONS & set(parts[1:]) else "zh-Hans"
    if parts[0] in ("ko", "en"):
        return parts[0]
    for code in LANGUAGES:
        if code.lower() == tag.strip().lower():
            return code
    return None


def negotiate(accept_language: str | None) -> str | None:
    """The best supported language of an ``Accept-Language`` header (by q-value, then order), or None."""
    if not accept_language:
        return None
    ranked = []
    for n, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, n, tag))
    for _, _, tag in sorted(ranked):
        code = normalise(tag)
        if code:
            return code
    return None


def choose(conn: HTTPConnection) -> tuple[str, bool]:
    """(language, whether to set the cookie) for a request."""
    asked = normalise(conn.query_params.get("lang"))
    if asked:
        return asked, True
    cookie = conn.cookies.get(COOKIE)
    if cookie in LANGUAGES:
        return cookie, False
    return negotiate(conn.headers.get("accept-language")) or DEFAULT, False


class Translator:
    def __init__(self, lang: str):
        self.lang = lang
        self.messages = catalogue(lang)

    def __call__(self, key: str, **values) -> str:
        text = self.messages.get(key, key)
        if values:
            try:
                return text.format(**values)
            except (KeyError, IndexError, ValueError):
                return text
        return text
