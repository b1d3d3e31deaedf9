"""Practice in Chromium with a fake webcam (issue 7): a patient registers, calibrates and does the smile exercise
(routine "smile", 1 repetition) in front of smile_pexels.mp4, scores above a threshold and finds today's score in
the history calendar; a clinician who invited the patient sees the same day; another clinician gets 404.

The fake camera plays a y4m made from smile_pexels.mp4: the relaxed part (played back and forth, a few seconds,
for the calibration), then the broad smile (longer than the 3 s hold), then relaxed again; Chromium loops it.
Skipped when /usr/bin/chromium is missing. Screenshots go to tests/artifacts/web_practice_*.png.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from webtools import VIDEOS, LiveServer, free_port, launch_chromium, make_settings, write_y4m_frames

TIMEOUT = 60_000  # ms
PASSWORD = "a long enough password 42"

#: docs/practice.md "The smile video": calm and neutral 6.0-9.3 s (a hand near the mouth), broad smile 10.4-18.3 s
#: with a short dip at 11.4-12.0 s. The calm part is played forwards then backwards (6.6 s: the page needs a second
#: or two to connect, then 3 s of calibration), then the smile after the dip (longer than the 3 s hold), then calm.
CALM = (6.0, 9.3)
SMILE = (12.0, 16.5)
CALM_SECONDS = 6.6
RELAX_SECONDS = 2.0
#: the smile's score must exceed this. The domain's own test scores this clip ~69 at 8 fps (threshold 50); fed
#: like this at 5-10 frames per second it scores 57-63; the browser's frame rate varies with the machine's load.
SCORE_THRESHOLD = 40


def write_practice_y4m(dst: Path, fps: int = 24) -> Path:
    """calm (back and forth) → smile → calm, as a YUV4MPEG2 file for --use-file-for-fake-video-capture."""
    import av

    with av.open(str(VIDEOS / "smile_pexels.mp4")) as container:
        stream = container.streams.video[0]
        frames = [(float(f.pts * stream.time_base), f.reformat(format="yuv420p")) for f in container.decode(stream)
                  if f.pts is not None and CALM[0] <= float(f.pts * stream.time_base) < SMILE[1]]
    calm = [f for t, f in frames if CALM[0] <= t < CALM[1]]
    smile = [f for t, f in frames if SMILE[0] <= t < SMILE[1]]
    bounce = calm + calm[::-1]

    def calm_for(seconds: float) -> list:
        n = int(seconds * fps)
        return [bounce[i % len(bounce)] for i in range(n)]

    sequence = calm_for(CALM_SECONDS) + smile + calm_for(RELAX_SECONDS)
    return write_y4m_frames(dst, sequence, fps)


@pytest.fixture(scope="module")
def practice_server(tmp_path_factory):
    s = make_settings(tmp_path_factory.mktemp("practice"), port=free_port(), image_workers=1)
    with LiveServer(s) as server:
        yield server


@pytest.fixture(scope="module")
def practice_browser(playwright, tmp_path_factory):
    camera = write_practice_y4m(tmp_path_factory.mktemp("camera") / "practice.y4m")
    b = launch_chromium(playwright, camera)
    try:
        yield b
    finally:
        b.close()


def new_page(browser, server):
    """A fresh browser context (its own cookies) with the camera allowed; page errors are collected."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-US")
    context.grant_permissions(["camera"], origin=server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors
    return page


def register(page, server, email: str, role: str, name: str) -> None:
    """Register through the /register form (ACCOUNTS' page); ends logged in."""
    page.goto(f"{server.url}/register")
    page.fill("input[name=email]", email)
    page.fill("input[name=display_name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.check(f"input[name=role][value={role}]")
    page.locator("#register-form button[type=submit]").click()
    page.wait_for_load_state("load")
    assert "/register" not in page.url, page.content()[:2000]


def test_practice_history_and_clinician(practice_browser, practice_server, artifacts):
    server = practice_server
    today = dt.date.today().isoformat()

    # --- the patient: register, practise the smile, see today's score in the calendar ------------------------
    patient = new_page(practice_browser, server)
    register(patient, server, "patient@example.org", "patient", "Pat")
    patient.goto(f"{server.url}/practice?routine=smile&reps=1")
    patient.wait_for_selector("#start:not([disabled])", timeout=TIMEOUT)
    assert patient.locator("#routine").input_value() == "smile"
    patient.click("#start")
    # calibration: the progress bar fills, the mesh is drawn over the video
    # (selectors rather than wait_for_function: the pages' CSP forbids eval, and the test keeps the CSP on)
    patient.wait_for_selector("body[data-phase=calibrate]", timeout=TIMEOUT)
    patient.wait_for_selector("#overlay[data-landmarks='478']", state="attached", timeout=TIMEOUT)
    patient.wait_for_selector("body[data-phase=exercise]", timeout=TIMEOUT)
    assert patient.locator("#exercise-name").get_attribute("data-exercise") == "open_mouth_smile"
    patient.wait_for_selector("#exercise-picture[data-loaded='1']", timeout=TIMEOUT)
    # a live score while smiling, then the summary once the repetition is done and saved
    patient.wait_for_selector("#score:not([data-score='']):not([data-score='0'])", timeout=TIMEOUT)
    patient.wait_for_selector("#summary:not([hidden])", timeout=TIMEOUT)
    score = int(patient.locator("#summary-score").get_attribute("data-score"))
    assert score > SCORE_THRESHOLD, score
    assert patient.locator("#summary-table tbody tr[data-exercise=open_mouth_smile]").count() == 1
    assert "not a clinical grading" in patient.locator("#sunnybrook .note").inner_text()
    assert re.search(r"\d+ / 100", patient.locator("#sb-voluntary").inner_text())
    assert "saved" in patient.locator("#status").inner_text()
    patient.screenshot(path=str(artifacts / "web_practice_summary.png"), full_page=True)

    patient.goto(f"{server.url}/history")
    patient.wait_for_selector("#history-app[data-ready='1']", timeout=TIMEOUT)
    cell = patient.locator(f".calendar .day[data-date='{today}']")
    assert cell.get_attribute("data-score") == str(score)
    assert "today" in cell.get_attribute("class") and "has" in cell.get_attribute("class")
    style = cell.get_attribute("style") or ""
    assert "background: rgb(" in style and "255, 255, 255" not in style, style  # coloured by the score
    cell.click()
    patient.wait_for_selector("#day-sessions .session", timeout=TIMEOUT)
    assert patient.locator("#day-sessions .session tr[data-exercise=open_mouth_smile]").count() == 1
    assert patient.locator("#stats [data-stat=current_streak] .stat-value").inner_text() == "1"
    assert int(patient.locator("#trend-chart").get_attribute("data-points")) >= 1
    patient.screenshot(path=str(artifacts / "web_practice_history.png"), full_page=True)

    # --- a clinician invites the patient; the patient links with the code ------------------------------------
    doctor = new_page(practice_browser, server)
    register(doctor, server, "doctor@example.org", "clinician", "Dr Who")
    doctor.goto(f"{server.url}/clinician")
    doctor.locator("form[action='/clinician/invitations'] button[type=submit]").click()
    doctor.wait_for_selector("td.code[data-code]", timeout=TIMEOUT)
    code = doctor.locator("td.code[data-code]").first.get_attribute("data-code")
    assert code and len(code) >= 6
    patient.goto(f"{server.url}/account")
    patient.fill("form[action='/account/link'] input[name=code]", code)
    patient.locator("form[action='/account/link'] button[type=submit]").click()
    patient.wait_for_load_state("load")
    doctor.goto(f"{server.url}/clinician")
    link = doctor.locator("a[href^='/clinician/patients/']").first
    href = link.get_attribute("href")
    patient_id = href.rsplit("/", 1)[-1]
    link.click()
    doctor.wait_for_selector("#history-app[data-ready='1']", timeout=TIMEOUT)
    assert doctor.locator(f".calendar .day[data-date='{today}']").get_attribute("data-score") == str(score)
    assert "Pat" in doctor.locator("#patient-name").inner_text()
    doctor.locator(f".calendar .day[data-date='{today}']").click()
    doctor.wait_for_selector("#day-sessions .session", timeout=TIMEOUT)
    doctor.screenshot(path=str(artifacts / "web_practice_clinician.png"), full_page=True)

    # --- another clinician, not linked: 404 -------------------------------------------------------------------
    stranger = new_page(practice_browser, server)
    register(stranger, server, "stranger@example.org", "clinician", "Dr No")
    response = stranger.goto(f"{server.url}/clinician/patients/{patient_id}")
    assert response.status == 404
    api = stranger.request.get(f"{server.url}/api/v1/patients/{patient_id}/days")
    assert api.status == 404

    for pg in (patient, doctor, stranger):
        assert not [e for e in pg.errors if "404" not in e], pg.errors
        pg.context.close()
