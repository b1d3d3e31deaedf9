"""Fixtures for the web app's tests: a TestClient, a real uvicorn server on a free localhost port, and Debian's
Chromium driven by Playwright (browser tests skip when it is missing). Helpers live in webtools.py."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from webtools import CHROMIUM, VIDEOS, LiveServer, free_port, launch_chromium, make_settings, write_y4m



# starlette's TestClient warns once, when first imported, that it prefers httpx2; httpx is what the project pins.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    import fastapi.testclient  # noqa: F401


@pytest.fixture
def settings_factory(tmp_path):
    def factory(**overrides):
        return make_settings(tmp_path / "data", **overrides)

    return factory


@pytest.fixture
def client_factory(settings_factory):
    """Build TestClients (their apps started with lifespan); all are closed at teardown."""
    from fastapi.testclient import TestClient

    from mimetic.web.app import create_app

    opened = []

    def factory(settings=None, **overrides):
        s = settings or settings_factory(**overrides)
        c = TestClient(create_app(s, warm=False))
        c.__enter__()
        opened.append(c)
        return c

    yield factory
    for c in reversed(opened):
        c.__exit__(None, None, None)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """One app for the read-mostly API tests of a module."""
    from fastapi.testclient import TestClient

    from mimetic.web.app import create_app

    s = make_settings(tmp_path_factory.mktemp("web"))
    with TestClient(create_app(s, warm=False)) as c:
        yield c


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    s = make_settings(tmp_path_factory.mktemp("server"), port=free_port(), image_workers=2)
    with LiveServer(s) as server:
        yield server


@pytest.fixture(scope="session")
def fake_camera(tmp_path_factory) -> Path:
    """smile_pexels.mp4, 12-14 s (a broad smile), as a 640x360 y4m file for --use-file-for-fake-video-capture."""
    return write_y4m(VIDEOS / "smile_pexels.mp4", tmp_path_factory.mktemp("camera") / "smile.y4m",
                     start=12.0, seconds=2.0)


@pytest.fixture(scope="session")
def playwright():
    """One Playwright driver for the whole run: its sync API refuses to start a second one while the first runs,
    so every browser fixture launches its Chromium through this one (see :func:`launch_chromium`)."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium; "
                    ".ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright package (the test extra)")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright, fake_camera):
    b = launch_chromium(playwright, fake_camera)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-US", bypass_csp=True)
    context.grant_permissions(["camera"], origin=live_server.url)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.errors = errors
    yield pg
    context.close()
