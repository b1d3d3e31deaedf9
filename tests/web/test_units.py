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


def _analysis(labels_by_frame, *, fps=10.0, events=None):
    """A VideoAnalysis of synthetic frames: ``labels_by_frame`` is a list of {track: label} per frame."""
    from types import SimpleNamespace as NS

    from mimetic.video.analysis import VideoCollector

    col = VideoCollector("clip.mp4", keep_crops=False)
    classes = ("neutral", "happiness", "surprise")
    for i, tracks in enumerate(labels_by_frame):
        faces = tuple(NS(track_id=k, box=(0, 0, 10, 10), pose=NS(yaw=1.0, pitch=0.0, roll=0.0), aus={},
                         expression=NS(scores={c: 0.9 if c == lab else 0.05 for c in classes}))
                      for k, lab in tracks.items())
        col.add(NS(frame_index=i, timestamp=i / fps, faces=faces, width=64, height=64))
    a = col.finish()
    a.events = events
    return a


def test_page_data_follows_the_main_track_and_is_thinned():
    from mimetic.web.timeline import page_data

    frames = [{0: "happiness" if i > 2000 else "neutral", **({1: "surprise"} if i < 100 else {})}
              for i in range(5000)]
    timeline, stats = page_data(_analysis(frames), max_points=1000)
    assert timeline["track"] == 0 and timeline["step"] == 5 and len(timeline["t"]) == 1000
    assert stats["frames"] == 5000 and stats["tracks"] == 2 and stats["max_faces"] == 2
    assert set(timeline["expression"]["label"]) == {"neutral", "happiness"}  # track 1's surprise is not charted
    assert stats["expression_share"] == pytest.approx({"neutral": 0.4002, "happiness": 0.5998}, abs=1e-4)


def test_page_data_is_the_analysis_change_log_and_statistics():
    from types import SimpleNamespace as NS

    from mimetic.web.timeline import page_data

    # track 0: neutral, a 0.2 s happiness flicker (merged away), happiness, absent, surprise
    frames = [{0: "neutral"}] * 20 + [{0: "happiness"}] * 2 + [{0: "neutral"}] * 10 + [{0: "happiness"}] * 20 \
        + [{}] * 8 + [{0: "surprise"}] * 20
    event = NS(kind="micro", track_id=0, onset=1.2, apex=1.3, offset=1.4, duration=0.2, onset_frame=12,
               apex_frame=13, offset_frame=14, regions=("mouth",), aus=("AU12",), score=2.5,
               to_dict=lambda: {"kind": "micro", "track_id": 0, "onset": 1.2, "apex": 1.3, "offset": 1.4,
                                "duration": 0.2, "onset_frame": 12, "apex_frame": 13, "offset_frame": 14,
                                "regions": ["mouth"], "aus": ["AU12"], "score": 2.5})
    a = _analysis(frames, events=[event])
    timeline, stats = page_data(a)
    got = [(c["label"], c["start_frame"], c["end_frame"], c["previous"]) for c in timeline["changes"]]
    assert got == [("neutral", 0, 31, None), ("happiness", 32, 51, "neutral"), ("surprise", 60, 79, None)]
    assert [(c["label"], c["start_frame"]) for c in timeline["changes"]] == [(c.label, c.frame) for c in a.change_log()]
    report = a.stats()
    assert stats["changes"] == report["changes"] == 2 and stats["segments"] == 3
    assert stats["expression_share"] == {k: v for k, v in report["per_track"][0]["time_share"].items() if v}
    assert stats["events"] == {"micro": 1, "macro": 0, "micro_share": 1.0, "micro_classes": {}}
    assert timeline["events"][0]["regions"] == ["mouth"] and timeline["events"][0]["label"] is None
    assert timeline["face"].count(False) == 8 and len(timeline["t"]) == 80
    json.dumps(timeline, allow_nan=False)  # plain JSON: no NaN


def test_page_data_without_a_face():
    from mimetic.web.timeline import page_data

    timeline, stats = page_data(_analysis([{}] * 30, events=[]))
    assert len(timeline["t"]) == 30 and not any(timeline["face"]) and timeline["changes"] == []
    assert stats["frames"] == 30 and stats["frames_with_face"] == 0 and "dominant_expression" not in stats
    assert stats["events"] == {"micro": 0, "macro": 0, "micro_share": 0.0, "micro_classes": {}}


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
