"""The HTML report (opened in headless Chromium) and the `mimetic video` command with the timeline options."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from videosynth import ARTIFACTS, VIDEOS, cached_analysis

from mimetic.video.report import render_report, write_report

CHROMIUM = Path(os.environ.get("MIMETIC_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_report_opens_in_chromium_and_shows_its_plots(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    analysis = cached_analysis("smile_pexels.mp4", True)
    written = write_report(analysis, tmp_path / "smile.html")
    html_path = written[0]
    pngs = [p for p in written[1:]]
    assert {p.name for p in pngs} >= {"share.png", "track0_expression.png", "track0_aus.png", "track0_pose.png",
                                      "track0_spotting.png"}
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    text = html_path.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text  # self-contained
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            messages = []
            page.on("console", lambda m: messages.append((m.type, m.text)))
            page.on("pageerror", lambda e: messages.append(("pageerror", str(e))))
            page.goto(html_path.as_uri())
            page.wait_for_load_state("load")
            images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
            headings = page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
            page.screenshot(path=str(ARTIFACTS / "video_report.png"), full_page=True)
        finally:
            browser.close()
    assert [m for m in messages if m[0] in ("error", "pageerror", "warning")] == []
    plots = [i for i in images if "track 0" in i[0] and ("expression" in i[0] or "AU" in i[0] or "pose" in i[0])]
    assert len(plots) >= 3
    assert all(complete and width > 0 for _, complete, width in images), images
    assert any(alt.startswith("time share") for alt, _, _ in images)
    assert {"Summary", "Statistics", "Change log"} <= set(headings)


def test_report_of_a_video_without_faces_renders():
    html = render_report(cached_analysis("no_face.mp4", True))
    assert "No face was found" in html and "No facial movement was spotted" in html


def test_video_command_writes_timeline_report_events_and_annotated_video(tmp_path):
    from typer.testing import CliRunner

    from mimetic.cli import app

    out = tmp_path / "o"
    args = ["video", str(VIDEOS / "face_then_noface.mov"), "--fps", "10", "--out", str(out), "--timeline",
            str(tmp_path / "tl.csv"), "--report", str(tmp_path / "r.html"), "--spot", "--window", "2",
            "--annotate", str(tmp_path / "a.mp4")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "expression change" in res.output and "report:" in res.output
    df = pd.read_csv(tmp_path / "tl.csv")
    n = len(df)
    assert 40 <= n <= 80 and df["success"].iloc[0] == 1 and df["success"].iloc[-1] == 0  # ~6.5 s at 10 fps
    assert df.loc[df["success"] == 0, "expr_happiness"].isna().all()
    w = pd.read_csv(tmp_path / "tl.windows.csv")
    duration = df["timestamp"].iloc[-1] - df["timestamp"].iloc[0] + df["timestamp"].diff().median()
    assert len(w) == math.ceil(duration / 2.0 - 1e-9) and w["end"].iloc[0] == pytest.approx(w["start"].iloc[0] + 2.0)
    assert w["frames"].sum() == df["success"].sum()
    ch = pd.read_csv(tmp_path / "tl.changes.csv")
    assert len(ch) >= 1 and {"label", "start", "duration"} <= set(ch.columns)
    ev = pd.read_csv(tmp_path / "tl.events.csv")
    assert list(ev.columns)[:4] == ["track_id", "onset_frame", "apex_frame", "offset_frame"]
    assert (out / "face_then_noface.csv").exists() and (out / "face_then_noface.events.csv").exists()
    assert (tmp_path / "r.html").stat().st_size > 10_000 and (tmp_path / "r_plots" / "track0_expression.png").exists()
    from mimetic.media.video import iter_frames

    assert sum(1 for _ in iter_frames(tmp_path / "a.mp4")) == n


def test_video_command_rejects_bad_timeline_suffix(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mimetic.cli", "video", str(VIDEOS / "no_face.mp4"), "--timeline",
                           str(tmp_path / "x.txt")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "csv or .parquet" in proc.stderr
