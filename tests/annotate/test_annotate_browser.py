"""The labelling pages in Chromium (issue 20): upload a zip, two annotators label with the keyboard, κ appears, a
reviewer resolves the conflict, and the export downloads. Skips without Debian's Chromium or playwright."""

from __future__ import annotations

import io
import statistics
import sys
import time
import zipfile
from pathlib import Path

import pytest
from testdata import IMAGES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
from webtools import CHROMIUM, LiveServer, free_port, make_settings  # noqa: E402

PASSWORD = "correct horse battery staple"
FACES = ["biden_portrait.jpg", "obama_portrait.jpg", "single_face.jpg", "astronaut_nasa.jpg"]


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(make_settings(tmp_path_factory.mktemp("annotate"), port=free_port())) as s:
        yield s


def _login(browser, server, email):
    svc = server.server.config.app.state.services
    user = svc.accounts.find_user(email) or svc.accounts.create_user(email, PASSWORD, role="clinician")
    token, _ = svc.accounts.start_login(user.id)
    ctx = browser.new_context(viewport={"width": 1024, "height": 768}, locale="en-US", bypass_csp=True)
    ctx.add_cookies([{"name": "mimetic_session", "value": token, "url": server.url}])
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


def _label(page, keys) -> list[float]:
    """Press each key on the labelling page; the seconds until the next face is shown (decoded)."""
    took = []
    for k in keys:
        before = page.inner_text("#ann-name")
        t0 = time.perf_counter()
        page.keyboard.press(k)
        page.wait_for_function("""(b) => { const i = document.getElementById('ann-crop');
            const done = !document.getElementById('ann-done').hidden;
            return done || (document.getElementById('ann-name').textContent !== b && i.complete
                            && i.naturalWidth > 0); }""", arg=before)
        took.append(time.perf_counter() - t0)
    return took


def test_two_annotators_review_and_export(chromium, server, tmp_path):
    ana = _login(chromium, server, "ana@example.org")
    _login(chromium, server, "bo@example.org")
    ana.goto(server.url + "/annotate")
    ana.fill("#ann-create input[name=name]", "Clinic")
    ana.click("#ann-create button[type=submit]")
    ana.wait_for_function("document.getElementById('ann-title') && document.getElementById('ann-title').textContent")
    pid = ana.url.rstrip("/").rsplit("/", 1)[-1]
    assert "kept on this server" in ana.inner_text("#ann-upload-card")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n in FACES:
            z.write(IMAGES / n, n)
    (tmp_path / "faces.zip").write_bytes(buf.getvalue())
    ana.set_input_files("#ann-file", str(tmp_path / "faces.zip"))
    ana.uncheck("#ann-upload input[name=prelabel]")
    ana.click("#ann-upload button[type=submit]")
    ana.wait_for_function("document.getElementById('ann-upload-status').textContent.includes('4 added')")
    ana.fill("#ann-member input[name=email]", "bo@example.org")
    ana.click("#ann-member button[type=submit]")
    ana.wait_for_function("document.getElementById('ann-members').textContent.includes('bo@example.org')")

    times = []
    for who, keys in (("ana@example.org", ["2", "1", "n", "2"]), ("bo@example.org", ["2", "4", "n", "2"])):
        page = ana if who.startswith("ana") else _login(chromium, server, who)
        page.goto(f"{server.url}/annotate/{pid}/label")
        page.wait_for_function("document.getElementById('ann-crop').complete")
        assert page.is_hidden("#ann-suggestion")  # blind by default
        times += _label(page, keys)
        assert page.is_visible("#ann-done") and page.inner_text("#ann-progress") == "4 of 4 labelled"
        page.keyboard.press("Backspace")  # back to the last face, its answer shown
        assert page.locator(".ann-choice.chosen").inner_text().lower().endswith("happiness")
        # the next face shows at once and the vote is saved meanwhile: the page says when every vote has landed
        page.wait_for_function("document.body.dataset.saving === ''")
        assert not page.errors, page.errors
    print(f"labelling: median {1000 * statistics.median(times):.0f} ms, max {1000 * max(times):.0f} ms to the next "
          f"face over {len(times)} keys")
    assert statistics.median(times) < 0.3

    ana.goto(f"{server.url}/annotate/{pid}/review")
    ana.wait_for_function("document.getElementById('ann-stats').textContent.includes('Cohen')")
    stats = ana.inner_text("#ann-stats")
    assert "0.636" in stats, stats  # po 3/4, pe 5/16
    rows = ana.locator("#ann-items tr.conflict")
    assert rows.count() == 1
    rows.locator("select").select_option("sadness")
    ana.wait_for_function("document.querySelectorAll('#ann-items tr.conflict').length === 0")
    r = ana.request.get(f"{server.url}/api/v1/projects/{pid}/export?format=csv")
    assert r.status == 200
    with zipfile.ZipFile(io.BytesIO(r.body())) as z:
        text = z.read("labels.csv").decode()
    assert text.count("happiness") == 2 and text.count("sadness") == 1 and "not_a_face" not in text
    assert not ana.errors, ana.errors
