"""Small pieces of the web package: language choice, file names, container sniffing, timelines, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from webtools import IMAGES, VIDEOS, free_port


@pytest.mark.parametrize("header,expected", [
    ("zh-TW", "zh-Hant"), ("zh-Hant-HK", "zh-Hant"), ("zh_MO", "zh-Hant"), ("zh", "zh-Hans"), ("zh-SG", "zh-Hans"),
    ("ko", "ko"), ("en-GB", "en"), ("fr", None), ("", None), ("*", None),
    ("fr;q=1, zh-TW;q=0.2, ko;q=0.8", "ko"), ("ko;q=0, en;q=0.1", "en"),
])
def test_negotiate(header, expected):
    from mimetic.web.i18n import negotiate

    assert negotiate(header) == expected


def test_translator_fills_placeholders_and_falls_back():
    from mimetic.web.i18n import Translator

    ko = Translator("ko")
    assert ko("photo.faces_many", n=3) == "얼굴 3개 발견"
    assert ko("no.such.key") == "no.such.key"
    assert Translator("zh-Hant")("expr.happiness") == "快樂"


@pytest.mark.parametrize("raw,clean", [
    ("photo.jpg", "photo.jpg"), ("../../etc/passwd", "passwd"), ("C:\\Users\\a\\b.mp4", "b.mp4"),
    ('a"<script>.jpg', "ascript.jpg"), ("  .hidden. ", "hidden"), ("x" * 300, "x" * 120), ("", None), (None, None),
    ("line\nbreak.png", "linebreak.png"),
])
def test_clean_filename(raw, clean):
    from mimetic.web.uploads import clean_filename

    assert clean_filename(raw) == clean


def test_sniff_and_truncation(tmp_path):
    from mimetic.web.videocheck import iso_truncation, sniff_container

    for name in ("single_face.mp4", "smile_pexels.mp4", "face_then_noface.mov", "no_face.mp4"):
        data = (VIDEOS / name).read_bytes()
        assert sniff_container(data[:512]) == "mp4"
        assert iso_truncation(VIDEOS / name) is None, name
        cut = tmp_path / name
        cut.write_bytes(data[: len(data) * 2 // 3])
        assert "truncated" in (iso_truncation(cut) or "truncated"), name
    assert sniff_container((IMAGES / "astronaut_nasa.jpg").read_bytes()[:512]) is None
    assert sniff_container(b"\x1a\x45\xdf\xa3" + b"\0" * 40) == "matroska"
    assert sniff_container(b"RIFF\0\0\0\0AVI LIST") == "avi"


def test_timeline_survives_missing_columns(tmp_path):
    from mimetic.web.timeline import build_timeline

    csv = tmp_path / "frames.csv"
    csv.write_text("source,frame,timestamp,face_id,success,AU12_r\nv,0,0.0,0,1,1.5\nv,1,0.04,,0,\nv,2,0.08,0,1,2.5\n")
    timeline, stats = build_timeline(csv)
    assert timeline["t"] == [0.0, 0.04, 0.08] and timeline["aus"]["AU12"] == [1.5, None, 2.5]
    assert timeline["expression"]["classes"] == [] and stats["frames"] == 3
    empty = tmp_path / "empty.csv"
    empty.write_text("source,frame,timestamp\n")
    timeline, stats = build_timeline(empty)
    assert timeline["t"] == [] and stats["frames"] == 0


def test_timeline_is_thinned(tmp_path):
    from mimetic.web.timeline import build_timeline

    rows = "\n".join(f"v,{i},{i / 30:.4f},0,1,{i % 5}" for i in range(5000))
    csv = tmp_path / "frames.csv"
    csv.write_text("source,frame,timestamp,face_id,success,AU12_r\n" + rows + "\n")
    timeline, stats = build_timeline(csv, max_points=1000)
    assert len(timeline["t"]) <= 1000 and timeline["step"] == 5 and stats["frames"] == 5000


def test_timeline_carries_the_change_log_and_events(tmp_path):
    from mimetic.web.timeline import build_timeline

    csv = tmp_path / "frames.csv"
    csv.write_text("source,frame,timestamp,face_id,success,AU12_r\nv,0,0.0,0,1,1.5\nv,1,0.04,0,1,2.5\n")
    changes = tmp_path / "changes.csv"  # track 0: neutral, happiness, (absent), happiness; track 1: sadness
    changes.write_text("track_id,label,start_frame,end_frame,start,end,duration,mean_score,peak_score,peak_frame\n"
                       "0,neutral,0,24,0.0,1.0,1.0,0.8,0.9,3\n0,happiness,25,49,1.0,2.0,1.0,0.9,0.95,30\n"
                       "0,happiness,75,99,3.0,4.0,1.0,0.9,0.95,80\n1,sadness,12,49,0.5,2.0,1.5,0.7,0.8,20\n")
    events = tmp_path / "events.csv"
    events.write_text("track_id,onset_frame,apex_frame,offset_frame,onset,apex,offset,duration,kind,score,motion,"
                      "regions,aus\n0,30,33,36,1.2,1.32,1.44,0.28,micro,2.5,0.05,nose+mouth,AU12+AU25\n"
                      "1,10,20,40,0.4,0.8,1.6,1.24,macro,1.5,0.03,,\n")
    timeline, stats = build_timeline(csv, changes=changes, events=events)
    got = [(c["track"], c["label"], c["start"], c["previous"]) for c in timeline["changes"]]
    assert got == [(0, "neutral", 0.0, None), (1, "sadness", 0.5, None), (0, "happiness", 1.0, "neutral"),
                   (0, "happiness", 3.0, None)]  # in time order; nothing "before" after the face was absent
    assert stats["segments"] == 4 and stats["changes"] == 1 and stats["events"] == {"micro": 1, "macro": 1}
    first, second = timeline["events"]  # in onset order
    assert second == {"kind": "micro", "track": 0, "onset": 1.2, "apex": 1.32, "offset": 1.44, "duration": 0.28,
                      "onset_frame": 30, "apex_frame": 33, "offset_frame": 36, "regions": ["nose", "mouth"],
                      "aus": ["AU12", "AU25"], "score": 2.5}
    assert first["kind"] == "macro" and first["regions"] == [] and first["aus"] == []
    json.dumps(timeline, allow_nan=False)  # plain JSON: no NaN
    timeline, stats = build_timeline(csv, changes=tmp_path / "missing.csv")  # an older job: no lists, no counts
    assert timeline["changes"] is None and timeline["events"] is None and "changes" not in stats


def test_pool_closes_its_analyzers():
    import asyncio

    from mimetic.web.workers import AnalyzerPool

    closed = []

    class Fake:
        def close(self):
            closed.append(self)

    pool = AnalyzerPool(2, max_pending=4, make_analyzer=Fake)

    async def go():
        return await asyncio.gather(*(pool.run(lambda a, x: (a, x), i, timeout=5) for i in range(4)))

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as ex:  # a thread of its own: a browser test may own this thread's event loop
        results = ex.submit(asyncio.run, go()).result()
    assert [x for _, x in results] == [0, 1, 2, 3] and pool.pending == 0
    pool.close()
    assert 1 <= len(closed) <= 2 and len({id(a) for a, _ in results}) == len(closed)


def test_mimetic_serve_starts_and_answers(tmp_path):
    import httpx

    port = free_port()
    exe = Path(sys.executable).with_name("mimetic")
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "mimetic.cli"]),
           "serve", "--port", str(port), "--data-dir", str(tmp_path / "data"), "--log-level", "warning"]
    env = {**os.environ, "MIMETIC_DATABASE_URL": ""}
    env.pop("MIMETIC_DATABASE_URL")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(proc.stdout.read().decode() if proc.stdout else "no output")
                time.sleep(0.2)
        assert r.json()["status"] == "ok"
        assert (tmp_path / "data" / "mimetic.db").is_file()
        assert httpx.get(f"http://127.0.0.1:{port}/photo").status_code == 200
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode in (0, -15), out  # uvicorn re-raises the SIGTERM it handled
    assert f"http://127.0.0.1:{port}/" in out
