"""The pages in Debian's Chromium (Playwright): photo, video, live webcam (a fake camera playing a smile) and the
language switch. Screenshots go to tests/artifacts/web_*.png. Skipped when /usr/bin/chromium is missing."""

from __future__ import annotations

import json
import re

from webtools import IMAGES, VIDEOS

TIMEOUT = 60_000  # ms


def test_photo_page_shows_one_face_and_happiness(page, live_server, artifacts):
    page.goto(f"{live_server.url}/photo")
    page.set_input_files("#file", str(IMAGES / "astronaut_nasa.jpg"))
    page.wait_for_selector(".face-card", timeout=TIMEOUT)
    assert page.locator(".face-card").count() == 1
    assert page.locator("#summary-title").inner_text() == "1 face found"
    label = page.locator(".face-card .expression-label")
    assert label.get_attribute("data-label") == "happiness"
    assert "happiness" in label.inner_text()
    # the annotated image and the muscle map are loaded (not broken)
    page.wait_for_function("document.querySelector('#overlay').complete && document.querySelector('#overlay').naturalWidth > 0")
    page.wait_for_function("[...document.querySelectorAll('.muscle-map')].every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator(".au-table tbody tr:not([hidden])").count() >= 1
    assert page.locator("table.symmetry tbody tr").count() >= 4
    assert page.get_attribute("#dl-csv", "href").endswith("result.csv?download=true")
    page.screenshot(path=str(artifacts / "web_photo.png"), full_page=True)
    assert not page.errors, page.errors


def test_video_page_processes_a_video_and_shows_the_timeline(page, live_server, artifacts):
    page.goto(f"{live_server.url}/video")
    page.set_input_files("#file", str(VIDEOS / "single_face.mp4"))
    page.wait_for_url(re.compile(r".*[?&]job=[0-9a-f-]{36}"), timeout=TIMEOUT)
    page.wait_for_selector("#results:not([hidden])", timeout=TIMEOUT)
    page.wait_for_selector("#timeline:not([hidden])", timeout=TIMEOUT)
    assert page.locator("#job-state").inner_text() == "done"
    assert "72" in page.locator("#status").inner_text()
    assert page.locator("#expr-legend .key").count() == 8
    assert page.locator("#au-picker input:checked").count() >= 3
    # the charts were drawn (non-blank canvases)
    drawn = page.evaluate("""() => ['#expr-chart', '#au-chart'].map(sel => {
        const c = document.querySelector(sel); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let ink = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++; return ink; })""")
    assert all(n > 1000 for n in drawn), drawn
    page.wait_for_function("document.querySelector('#player').readyState >= 1", timeout=TIMEOUT)
    # clicking the chart seeks the video
    chart = page.locator("#expr-chart")
    box = chart.bounding_box()
    chart.click(position={"x": box["width"] * 0.75, "y": box["height"] / 2})
    page.wait_for_function("document.querySelector('#player').currentTime > 1.0")
    # the change log (neutral, then happiness) and the micro-expression table; a row seeks the video
    page.wait_for_selector("#changes-card:not([hidden])", timeout=TIMEOUT)
    page.wait_for_selector("#events-card:not([hidden])", timeout=TIMEOUT)
    rows = page.locator("#changes tbody tr")
    assert rows.count() >= 2 and rows.last.locator("[data-label]").get_attribute("data-label") == "happiness"
    assert "happiness" in rows.last.inner_text()
    rows.first.click()
    page.wait_for_function("document.querySelector('#player').currentTime < 0.1")
    start = float(rows.last.get_attribute("data-time"))
    assert 0.2 < start < 2.0
    rows.last.click()
    page.wait_for_function(f"Math.abs(document.querySelector('#player').currentTime - {start}) < 0.05")
    events = page.locator("#events tbody tr[data-time]")
    if events.count():  # single_face.mp4 has two brief mouth movements; seek to the second one's onset
        onset = float(events.last.get_attribute("data-time"))
        events.last.click()
        page.wait_for_function(f"Math.abs(document.querySelector('#player').currentTime - {onset}) < 0.05")
        assert events.last.locator(".kind").text_content() in ("micro", "macro")
    # the HTML report and the CSV downloads
    report = page.locator("#open-report")
    assert report.is_visible() and report.get_attribute("href").endswith("/files/report.html")
    html = page.request.get(live_server.url + report.get_attribute("href")).text()
    assert html.startswith("<!DOCTYPE html>") and "single_face.mp4" in html
    for name in ("changes.csv", "events.csv", "timeline.csv", "frames.csv"):
        assert page.locator(f'#downloads a[data-file="{name}"]').count() == 1, name
    # the job survives a reload (its id is in the URL)
    page.reload()
    page.wait_for_selector("#timeline:not([hidden])", timeout=TIMEOUT)
    page.wait_for_selector("#changes-card:not([hidden])", timeout=TIMEOUT)
    assert page.locator("#recent-list li").count() >= 1
    page.wait_for_timeout(400)  # let the progress bar finish its transition
    page.screenshot(path=str(artifacts / "web_video.png"), full_page=True)
    assert not page.errors, page.errors


def test_live_page_draws_landmarks_and_reaches_happiness(page, live_server, artifacts):
    page.goto(f"{live_server.url}/live")
    page.fill("#interval", "0")
    page.click("#start")
    page.wait_for_function("Number(document.querySelector('#overlay').dataset.landmarks || 0) >= 400",
                           timeout=TIMEOUT)
    page.wait_for_function("document.querySelector('#expression').dataset.label === 'happiness'", timeout=TIMEOUT)
    page.wait_for_timeout(3000)  # let the fps readout settle over a few seconds of frames
    fps = float(page.locator("#fps").inner_text())
    latency = page.locator("#latency").inner_text()
    server_ms = page.locator("#server-ms").inner_text()
    assert page.locator("#expression").inner_text() == "happiness"
    page.screenshot(path=str(artifacts / "web_live.png"), full_page=True)
    (artifacts / "web_live.json").write_text(json.dumps({"fps": fps, "latency": latency, "server": server_ms}))
    print(f"live page: {fps:.1f} fps, median latency {latency}, server {server_ms}")
    assert fps > 2
    with page.expect_download() as dl:
        page.click("#snapshot")
    assert dl.value.suggested_filename.endswith(".png")
    page.click("#stop")
    assert not [e for e in page.errors if "favicon" not in e], page.errors


def test_language_switch_shows_traditional_chinese(page, live_server, artifacts):
    page.goto(f"{live_server.url}/photo")
    assert page.locator("h1").inner_text() == "Photo analysis"
    with page.expect_navigation(url=re.compile(r".*lang=zh-Hant")):
        page.select_option("#lang-select", "zh-Hant")
    assert page.locator("h1").inner_text() == "照片分析"
    assert page.locator("[data-nav=video]").inner_text() == "影片"
    assert page.locator("html").get_attribute("lang") == "zh-Hant"
    # the choice is remembered (cookie) on the next page, and the scripts' text follows it
    page.goto(f"{live_server.url}/live")
    assert page.locator("h1").inner_text() == "即時網路攝影機"
    assert page.locator("#expr-bars .name").first.inner_text() == "中性"
    page.goto(f"{live_server.url}/photo")
    page.set_input_files("#file", str(IMAGES / "astronaut_nasa.jpg"))
    page.wait_for_selector(".face-card", timeout=TIMEOUT)
    assert "快樂" in page.locator(".face-card .expression-label").inner_text()
    page.screenshot(path=str(artifacts / "web_photo_zh_hant.png"), full_page=True)
    assert not page.errors, page.errors
