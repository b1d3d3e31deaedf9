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
    assert patient.locator("#sb-voluntary").inner_text() == "needs all five expressions"  # one smile: untested items
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


# --- issue 17: Korean on a phone, Traditional Chinese on a desktop ------------------------------------------------

CRYING = (2.0, 5.9)  # smile_pexels.mp4: crying with the eyes shut (docs/practice.md, "The smile video")
#: the stillest part of the calm (6.0-6.7 s still settles after the crying; the smile starts at 9.4 s): played back
#: and forth it makes no repetition of its own (a PracticeSession fed this y4m at 4-8 fps: refused once or twice,
#: accepted, then one repetition on the smile scoring 71-76)
STILL = (6.8, 8.6)
#: any Latin word of 3+ letters on the KO/ZH page during a session is English text (units like "s" and "%" are not)
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
PHONE = {"width": 390, "height": 844}


def write_refused_y4m(dst: Path, fps: int = 12) -> Path:
    """crying (back and forth, ~6 s: the first calibration is refused) → calm (~11 s, long enough for a calibration
    even when a loaded machine analyses only a few frames a second) → the broad smile → calm, as a 12 fps y4m for
    the fake webcam (every other frame of the 24 fps video)."""
    import av

    with av.open(str(VIDEOS / "smile_pexels.mp4")) as container:
        stream = container.streams.video[0]
        frames = [(float(f.pts * stream.time_base), f.reformat(format="yuv420p"))
                  for i, f in enumerate(container.decode(stream))
                  if i % 2 == 0 and f.pts is not None and float(f.pts * stream.time_base) < SMILE[1]]

    def part(span, seconds):
        clip = [f for t, f in frames if span[0] <= t < span[1]]
        bounce = clip + clip[::-1]
        return [bounce[i % len(bounce)] for i in range(int(seconds * fps))]

    smile = [f for t, f in frames if SMILE[0] <= t < SMILE[1]]
    return write_y4m_frames(dst, part(CRYING, 6.0) + part(STILL, 11.0) + smile + part(STILL, 4.0), fps)


@pytest.fixture(scope="module")
def refused_browser(playwright, tmp_path_factory):
    camera = write_refused_y4m(tmp_path_factory.mktemp("camera17") / "refused.y4m")
    b = launch_chromium(playwright, camera)
    try:
        yield b
    finally:
        b.close()


def _page(browser, server, viewport, lang):
    context = browser.new_context(viewport=viewport, locale={"ko": "ko-KR", "zh-Hant": "zh-TW"}[lang])
    context.grant_permissions(["camera"], origin=server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors
    return page


def _english(page, selectors) -> list[str]:
    found = []
    for sel in selectors:
        for node in page.locator(sel).all():
            if node.is_visible():
                found += [f"{sel}: {w}" for w in ENGLISH_WORD.findall(node.inner_text())]
    return found


def _not_wider_than(page, width: int) -> list[str]:
    wide = []
    for node in page.locator("main .card, main .calendar, main .table-scroll, main .session, main section").all():
        box = node.bounding_box() if node.is_visible() else None
        if box and box["x"] + box["width"] > width + 1:
            wide.append(f"{node.get_attribute('id') or node.get_attribute('class')}: {box}")
    return wide


SESSION_TEXT = ["#exercise-name", "#exercise-rep", "#instruction", "#coach", "#warnings", "#status", "#state",
                "#score-label", "#cal-warnings", "#phase-label", "#setup", "#routine-list"]


def test_korean_phone_refused_calibration_stop_and_chinese_clinician(refused_browser, practice_server, artifacts):
    """On a 390 px phone in Korean: a calibration on the crying face is refused with its reasons on screen, the next
    one is accepted, one repetition of the smile is done, "Stop" saves it as a partial session; no English word shows
    during the session; camera, instruction, score and side bars fit on one screen; no page is wider than the
    screen. The history (phone) and a clinician's view (desktop, Traditional Chinese) show the session with its
    calibration quality, the estimate ("not tested" items, no composite) and the patient's affected side."""
    server = practice_server
    today = dt.date.today().isoformat()
    patient = _page(refused_browser, server, PHONE, "ko")
    register(patient, server, "ko-patient@example.org", "patient", "Kim")
    patient.goto(f"{server.url}/account?lang=ko")
    patient.goto(f"{server.url}/practice?routine=smile&reps=2&lang=ko")
    patient.wait_for_selector("#start:not([disabled])", timeout=TIMEOUT)
    assert not _not_wider_than(patient, PHONE["width"]), _not_wider_than(patient, PHONE["width"])
    patient.click("#start")
    patient.wait_for_selector("body[data-phase=calibrate]", timeout=TIMEOUT)
    assert patient.locator("#skip").is_disabled()  # nothing to skip while calibrating
    patient.wait_for_selector("#cal-warnings[data-state=refused]", timeout=TIMEOUT)
    keys = {n.get_attribute("data-key") for n in patient.locator("#cal-warning-list li").all()}
    assert keys & {"calibration.eyes_closed", "calibration.not_neutral", "calibration.moved"}, keys
    english = _english(patient, SESSION_TEXT)
    patient.screenshot(path=str(artifacts / "web_practice_ko_refused.png"))
    patient.wait_for_selector("body[data-phase=exercise]", timeout=TIMEOUT)
    assert not patient.locator("#skip").is_disabled()
    # one screen: the camera, the instruction, the score and the side bars (no scrolling while holding a smile)
    boxes = {s: patient.locator(s).bounding_box() for s in ("#stage", "#instruction", "#score", ".side-bars")}
    top = min(b["y"] for b in boxes.values())
    bottom = max(b["y"] + b["height"] for b in boxes.values())
    assert bottom - top <= PHONE["height"] and bottom <= PHONE["height"] + 1, boxes
    patient.wait_for_selector("#score[data-kind=rep]", timeout=TIMEOUT)  # the first repetition's score
    english += _english(patient, SESSION_TEXT)
    patient.screenshot(path=str(artifacts / "web_practice_ko_phone.png"))
    assert not english, english
    patient.click("#stop")
    patient.wait_for_selector("#summary:not([hidden])", timeout=TIMEOUT)
    assert patient.locator("#summary").get_attribute("data-partial") == "1"
    smiled = int(patient.locator("#summary-table tbody tr[data-exercise=open_mouth_smile]").get_attribute("data-score"))
    assert smiled > SCORE_THRESHOLD, smiled  # the repetition was the smile, not a calm frame
    assert patient.locator("#summary-partial").is_visible()
    assert not _english(patient, ["#status", "#summary-partial", "#summary-calibration", "#sb-items"])
    assert patient.locator("#sb-composite").inner_text() == "다섯 가지 표정 모두 필요"
    assert patient.locator("#sb-items li[data-item=brow]").inner_text().endswith("검사하지 않음")
    assert patient.locator("#score").get_attribute("data-score") == ""  # no live number above the summary
    patient.screenshot(path=str(artifacts / "web_practice_ko_summary.png"), full_page=True)

    patient.goto(f"{server.url}/history")
    patient.wait_for_selector("#history-app[data-ready='1']", timeout=TIMEOUT)
    assert not _not_wider_than(patient, PHONE["width"]), _not_wider_than(patient, PHONE["width"])
    patient.locator(f".calendar .day[data-date='{today}']").click()
    patient.wait_for_selector("#day-sessions .session .sb-line", timeout=TIMEOUT)
    assert patient.locator("#day-sessions .session .tag.partial").count() == 1
    assert patient.locator("#day-sessions .cal-line").count() == 1
    patient.screenshot(path=str(artifacts / "web_practice_ko_history.png"), full_page=True)

    # --- a clinician, desktop, Traditional Chinese ------------------------------------------------------------
    doctor = _page(refused_browser, server, {"width": 1360, "height": 900}, "zh-Hant")
    register(doctor, server, "zh-doctor@example.org", "clinician", "Dr Lin")
    doctor.goto(f"{server.url}/clinician?lang=zh-Hant")
    doctor.locator("form[action='/clinician/invitations'] button[type=submit]").click()
    doctor.wait_for_selector("td.code[data-code]", timeout=TIMEOUT)
    code = doctor.locator("td.code[data-code]").first.get_attribute("data-code")
    patient.goto(f"{server.url}/account")
    patient.fill("form[action='/account/link'] input[name=code]", code)
    patient.locator("form[action='/account/link'] button[type=submit]").click()
    patient.wait_for_load_state("load")
    doctor.goto(f"{server.url}/clinician")
    doctor.locator("a[href^='/clinician/patients/']").first.click()
    doctor.wait_for_selector("#history-app[data-ready='1']", timeout=TIMEOUT)
    assert doctor.locator("#patient-side").inner_text().startswith("患側")
    doctor.locator(f".calendar .day[data-date='{today}']").click()
    doctor.wait_for_selector("#day-sessions .session .sb-line", timeout=TIMEOUT)
    sb = doctor.locator("#day-sessions .session .sb-items").first.inner_text()
    assert "未測試" in sb, sb
    assert "需要全部五個表情" in doctor.locator("#day-sessions .session .sb-line").first.inner_text()
    assert doctor.locator("#day-sessions .cal-line").first.inner_text().startswith("校準")
    doctor.screenshot(path=str(artifacts / "web_practice_zh_clinician.png"), full_page=True)
    for pg in (patient, doctor):
        assert not [e for e in pg.errors if "404" not in e], pg.errors
        pg.context.close()
