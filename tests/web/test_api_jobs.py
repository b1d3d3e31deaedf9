"""Video jobs: create, follow (polling and server-sent events), results and files, limits and every error."""

from __future__ import annotations

import io
import json
import queue
import time

import av
import pytest
from webtools import IMAGES, VIDEOS

SINGLE = (VIDEOS / "single_face.mp4").read_bytes()


def error_of(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text[:300])
    return response.json()["error"]["message"]


def wait_done(client, job_id: str, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def events(client, job_id: str) -> list[dict]:
    out = []
    with client.stream("GET", f"/api/v1/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "job":
                out.append(json.loads(line[5:]))
    return out


def test_job_runs_to_the_end_with_progress_and_results(client):
    r = client.post("/api/v1/jobs", files={"file": ("clip.mp4", SINGLE, "video/mp4")})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued" and job["source_name"] == "clip.mp4" and job["urls"]["page"].endswith(job["id"])
    seen = events(client, job["id"])
    statuses = [e["status"] for e in seen]
    assert statuses[-1] == "done" and "running" in statuses
    progress = [e["progress"] for e in seen]
    assert progress == sorted(progress) and progress[-1] == 1.0
    done = client.get(f"/api/v1/jobs/{job['id']}").json()
    assert done["frames"] == 72 and done["frames_total"] == 72 and done["error"] is None
    assert set(done["files"]) == {"frames.csv", "frames.jsonl", "annotated.mp4", "timeline.json", "timeline.csv",
                                  "windows.csv", "changes.csv", "events.csv", "report.html"}
    stats = done["stats"]
    assert stats["frames"] == 72 and stats["frames_with_face"] == 72 and stats["dominant_expression"] == "happiness"
    assert stats["aus"]["AU12"]["max"] > 2
    # files
    csv = client.get(done["files"]["frames.csv"])
    assert csv.headers["content-type"].startswith("text/csv") and len(csv.text.strip().splitlines()) == 73
    jsonl = client.get(done["files"]["frames.jsonl"]).text.strip().splitlines()
    assert len(jsonl) == 72 and json.loads(jsonl[0])["frame"] == 0
    mp4 = client.get(done["files"]["annotated.mp4"])
    assert mp4.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(mp4.content)) as c:
        assert c.streams.video[0].codec_context.name in ("h264", "mpeg4") and c.streams.video[0].frames == 72
    ranged = client.get(done["files"]["annotated.mp4"], headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100  # browsers seek with ranges
    timeline = client.get(done["urls"]["timeline"]).json()
    assert len(timeline["t"]) == 72 and len(timeline["expression"]["classes"]) == 8
    assert max(timeline["expression"]["scores"]["happiness"]) > 0.9 and "AU12" in timeline["aus"]
    # the change log and the spotted micro-expressions, as JSON for the page and as CSV files
    changes, spotted = timeline["changes"], timeline["events"]
    assert isinstance(changes, list) and isinstance(spotted, list) and changes
    assert {"label", "start", "end", "duration", "track", "start_frame", "previous"} <= set(changes[0])
    assert changes[-1]["label"] == "happiness" and changes[0]["previous"] is None
    assert [c["start"] for c in changes] == sorted(c["start"] for c in changes)
    assert abs(sum(c["duration"] for c in changes) - 2.4) < 0.05  # the segments tile the 72 frames at 30 fps
    for e in spotted:
        assert e["kind"] in ("micro", "macro") and e["onset"] <= e["apex"] <= e["offset"]
        assert e["onset_frame"] <= e["apex_frame"] <= e["offset_frame"] and isinstance(e["regions"], list)
        assert isinstance(e["aus"], list)
    assert stats["segments"] == len(changes) and stats["changes"] >= 0
    assert stats["events"]["micro"] + stats["events"]["macro"] == len(spotted)
    changes_csv = client.get(done["files"]["changes.csv"])
    assert changes_csv.headers["content-type"].startswith("text/csv")
    assert len(changes_csv.text.strip().splitlines()) == len(changes) + 1
    events_csv = client.get(done["files"]["events.csv"]).text.strip().splitlines()
    assert events_csv[0].startswith("track_id,onset_frame") and len(events_csv) == len(spotted) + 1
    tl_csv = client.get(done["files"]["timeline.csv"]).text.strip().splitlines()
    assert tl_csv[0].startswith("track_id,frame,timestamp") and len(tl_csv) == 73
    report = client.get(done["files"]["report.html"])
    assert report.headers["content-type"].startswith("text/html")
    assert "sandbox" in report.headers["content-security-policy"]  # self-contained: loads nothing, runs nothing
    html = report.text
    assert html.startswith("<!DOCTYPE html>") and "clip.mp4" in html and "Change log" in html
    assert "source.mp4" not in html and str(client.app.state.services.runner.root) not in html  # no server paths
    download = client.get(done["files"]["report.html"], params={"download": "true"})
    assert "attachment" in download.headers["content-disposition"]
    # the upload itself is gone; only results remain (no report_plots/ folder, no duplicate frames.events.csv)
    folder = client.app.state.services.runner.folder(job["id"])
    assert sorted(p.name for p in folder.iterdir()) == sorted(done["files"])


def _report_numbers(html: str) -> dict:
    """The change log, per-track time shares and change count as the HTML report shows them."""
    import re

    changes = [(int(t), int(f), lab, float(d)) for t, f, lab, d in re.findall(
        r'<tr><td>(\d+)</td><td class="num">[^<]*</td><td class="num">(\d+)</td>\s*'
        r'<td><span class="chip"[^>]*></span>(\w+)</td>\s*<td class="num">([\d.]+)</td>', html)]
    header = html[html.index("time share per expression"):]
    classes = re.findall(r'</span>(\w+)</th>', header[:header.index("</tr>")])
    row = re.search(r'<tr><td>0</td>((?:<td class="num">[\d.]+ %</td>)+)</tr>', header).group(1)
    share = dict(zip(classes, (float(v) for v in re.findall(r'([\d.]+) %', row))))
    count = int(re.search(r"<th>expression changes</th><td>(\d+)</td>", html).group(1))
    return {"changes": changes, "share": share, "count": count}


def test_page_statistics_and_change_log_equal_the_reports(client):
    # smile_pexels.mp4: the page once counted raw frame labels (sadness 37.5 %) while the report's segments said
    # neutral 47.9 %, sadness 0 %; both now come from one in-memory analysis
    r = client.post("/api/v1/jobs", params={"annotate": "false", "jsonl": "false"},
                    files={"file": ("smile.mp4", (VIDEOS / "smile_pexels.mp4").read_bytes(), "video/mp4")})
    done = wait_done(client, r.json()["id"], timeout=180)
    assert done["status"] == "done", done["error"]
    stats = done["stats"]
    timeline = client.get(done["urls"]["timeline"]).json()
    report = _report_numbers(client.get(done["files"]["report.html"]).text)
    page_changes = [(c["track"], c["start_frame"], c["label"], round(c["duration"], 2)) for c in timeline["changes"]]
    assert page_changes == [(t, f, lab, round(d, 2)) for t, f, lab, d in report["changes"]]
    assert [lab for *_, lab, _ in page_changes] == ["sadness", "neutral", "happiness"]
    assert stats["changes"] == report["count"] == len(page_changes) - 1
    page_share = {k: round(100 * v, 1) for k, v in stats["expression_share"].items()}
    assert page_share == {k: v for k, v in report["share"].items() if v > 0}
    assert stats["dominant_expression"] == max(report["share"], key=report["share"].get) == "happiness"
    # the chart's labels are the smoothed labels the segments are made of: each segment's majority is its label
    labels = timeline["expression"]["label"]
    for c in timeline["changes"]:
        inside = [lab for f, lab in zip(timeline["frame"], labels) if c["start_frame"] <= f <= c["end_frame"]]
        assert max(set(inside), key=inside.count) == c["label"]


def test_sampled_job_without_extras_and_kept_upload(client):
    r = client.post("/api/v1/jobs", params={"fps": 5, "annotate": "false", "jsonl": "false", "keep": "true"},
                    content=SINGLE, headers={"content-type": "video/mp4"})
    assert r.status_code == 202, r.text
    done = wait_done(client, r.json()["id"])
    assert done["status"] == "done" and done["keep_media"]
    assert set(done["files"]) == {"frames.csv", "timeline.json", "source.mp4", "timeline.csv", "windows.csv",
                                  "changes.csv", "events.csv", "report.html"}
    assert 10 <= done["frames"] <= 14 and done["params"]["fps"] == 5
    assert client.get(done["files"]["source.mp4"]).content == SINGLE
    assert "source" not in done["params"]  # server-side names stay internal


def test_video_without_faces(client):
    r = client.post("/api/v1/jobs", params={"annotate": "false", "jsonl": "false", "stride": 4},
                    files={"file": ("empty.mp4", (VIDEOS / "no_face.mp4").read_bytes(), "video/mp4")})
    done = wait_done(client, r.json()["id"])
    assert done["status"] == "done", done["error"]
    assert done["stats"]["frames_with_face"] == 0 and "dominant_expression" not in done["stats"]
    timeline = client.get(done["urls"]["timeline"]).json()
    assert not any(timeline["face"])
    assert timeline["changes"] == [] and timeline["events"] == []
    assert done["stats"]["changes"] == 0 and done["stats"]["events"] == {"micro": 0, "macro": 0, "micro_share": 0.0,
                                                                   "micro_classes": {}}
    assert "No face was found" in client.get(done["files"]["report.html"]).text


def test_delete_job(client):
    r = client.post("/api/v1/jobs", params={"fps": 2, "annotate": "false"}, content=SINGLE)
    job = wait_done(client, r.json()["id"])
    folder = client.app.state.services.runner.folder(job["id"])
    assert client.delete(f"/api/v1/jobs/{job['id']}").status_code == 204
    assert not folder.exists()
    error_of(client.get(f"/api/v1/jobs/{job['id']}"), 404)


@pytest.mark.parametrize("suffix", ["", "/events", "/timeline", "/files/frames.csv"])
@pytest.mark.parametrize("job_id", ["00000000-0000-4000-8000-000000000000", "nope", "..%2F..%2Fetc"])
def test_unknown_job_is_404(client, job_id, suffix):
    error_of(client.get(f"/api/v1/jobs/{job_id}{suffix}"), 404)


def test_unknown_job_delete_is_404(client):
    error_of(client.delete("/api/v1/jobs/00000000-0000-4000-8000-000000000000"), 404)


def test_unknown_file_of_a_job_is_404(client):
    job = wait_done(client, client.post("/api/v1/jobs", params={"fps": 2, "annotate": "false"},
                                        content=SINGLE).json()["id"])
    for name in ("source.mp4", "..%2Fmimetic.db", "frames.parquet"):
        error_of(client.get(f"/api/v1/jobs/{job['id']}/files/{name}"), 404)


def test_wrong_type_is_415(client):
    msg = error_of(client.post("/api/v1/jobs", files={"file": ("clip.mp4", b"this is not a video\n" * 100,
                                                                "video/mp4")}), 415)
    assert "clip.mp4" in msg
    msg = error_of(client.post("/api/v1/jobs", files={"file": ("photo.mp4", (IMAGES / "astronaut_nasa.jpg").read_bytes(),
                                                                "video/mp4")}), 415)
    assert "still image" in msg


@pytest.mark.parametrize("name", ["single_face.mp4", "smile_pexels.mp4"])
def test_truncated_video_is_422(client, name):
    data = (VIDEOS / name).read_bytes()
    msg = error_of(client.post("/api/v1/jobs", files={"file": ("cut.mp4", data[: len(data) // 2], "video/mp4")}), 422)
    assert "truncated" in msg


def test_empty_video_is_422(client):
    error_of(client.post("/api/v1/jobs", content=b"", headers={"content-type": "video/mp4"}), 422)


@pytest.mark.parametrize("query", ["fps=0", "fps=abc", "stride=0", "start=-1", "start=2&end=1", "keep=perhaps"])
def test_bad_parameters_are_422(client, query):
    error_of(client.post(f"/api/v1/jobs?{query}", content=SINGLE), 422)


def test_refused_uploads_leave_nothing_behind(client):
    root = client.app.state.services.runner.root
    before = set(root.iterdir())
    client.post("/api/v1/jobs", content=b"junk" * 1000, headers={"content-type": "video/mp4"})
    client.post("/api/v1/jobs?fps=0", content=SINGLE)
    assert set(root.iterdir()) == before


def test_oversize_video_is_413(client_factory):
    c = client_factory(max_video_bytes=100_000)
    error_of(c.post("/api/v1/jobs", content=SINGLE, headers={"content-type": "video/mp4"}), 413)

    def chunks():
        for i in range(0, len(SINGLE), 16384):
            yield SINGLE[i:i + 16384]

    error_of(c.post("/api/v1/jobs", content=chunks(), headers={"content-type": "video/mp4"}), 413)
    assert not any(c.app.state.services.runner.root.iterdir())


def test_too_long_video_is_413(client_factory):
    c = client_factory(max_video_seconds=1.0)
    assert "longer than" in error_of(c.post("/api/v1/jobs", content=SINGLE), 413)


def test_full_queue_is_503(client_factory):
    c = client_factory(max_queued_jobs=1)
    runner = c.app.state.services.runner
    full: queue.Queue = queue.Queue(maxsize=1)
    full.put_nowait("00000000-0000-4000-8000-000000000000")
    real, runner._queue = runner._queue, full  # the workers keep waiting on the real (empty) queue
    try:
        r = c.post("/api/v1/jobs", content=SINGLE)
        assert "queue is full" in error_of(r, 503) and r.headers["retry-after"]
    finally:
        runner._queue = real


def test_job_time_limit_fails_the_job(client_factory):
    c = client_factory(job_timeout=0.05)
    job = wait_done(c, c.post("/api/v1/jobs", params={"annotate": "false"}, content=SINGLE).json()["id"])
    assert job["status"] == "failed" and "time limit" in job["error"]
    folder = c.app.state.services.runner.folder(job["id"])
    assert not [p for p in folder.iterdir()], "temporary and partial files are removed"


def test_deleting_a_running_job_stops_it(client_factory):
    c = client_factory()
    smile = (VIDEOS / "smile_pexels.mp4").read_bytes()
    job = c.post("/api/v1/jobs", content=smile).json()
    deadline = time.monotonic() + 30
    while c.get(f"/api/v1/jobs/{job['id']}").json()["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert c.delete(f"/api/v1/jobs/{job['id']}").status_code == 204
    error_of(c.get(f"/api/v1/jobs/{job['id']}"), 404)
    assert not c.app.state.services.runner.folder(job["id"]).exists()


def test_timeline_of_an_unfinished_job_is_409(client_factory):
    c = client_factory()
    runner = c.app.state.services.runner
    job = runner.store.create(source_name="x.mp4", params={"source": "source.mp4"})
    assert "yet" in error_of(c.get(f"/api/v1/jobs/{job.id}/timeline"), 409)
