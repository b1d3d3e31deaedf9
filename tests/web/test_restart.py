"""Jobs live in the database: a restart shows finished jobs, fails interrupted ones with a reason, and runs the
queued ones whose upload is still there. Also the store itself (Alembic migrations)."""

from __future__ import annotations

import shutil
import time

from webtools import VIDEOS
from fastapi.testclient import TestClient

from mimetic.web.app import create_app

SINGLE = VIDEOS / "single_face.mp4"


def wait_status(client, job_id, statuses=("done", "failed"), timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.05)
    raise AssertionError(job)


def test_restart_keeps_finished_jobs_and_fails_interrupted_ones(settings_factory):
    settings = settings_factory()
    with TestClient(create_app(settings, warm=False)) as first:
        done = wait_status(first, first.post("/api/v1/jobs", params={"fps": 5, "annotate": "false"},
                                             content=SINGLE.read_bytes()).json()["id"])
        assert done["status"] == "done"
        runner = first.app.state.services.runner
        store = runner.store
        # a job that was running when the process died: row says running, partial files on disk
        crashed = store.create(source_name="crash.mp4", params={"source": "source.mp4"})
        store.start(crashed.id)
        folder = runner.folder(crashed.id)
        folder.mkdir(parents=True)
        shutil.copy(SINGLE, folder / "source.mp4")
        (folder / ".frames.1234.partial.csv").write_text("frame\n0\n")
        (folder / "frames.csv").write_text("frame\n0\n")  # finished before the crash, but the job did not
        # an upload cut off before its job row existed
        orphan = runner.root / "6c0d5c3e-5b43-4c2b-9a43-0f1f3b1f7b11"
        orphan.mkdir()
        (orphan / ".upload.partial").write_bytes(b"\0" * 1000)
        # queued jobs: one whose upload is still there, one whose upload is gone
        waiting = store.create(source_name="wait.mp4", params={"source": "source.mp4", "fps": 5, "annotate": False})
        runner.folder(waiting.id).mkdir(parents=True)
        shutil.copy(SINGLE, runner.folder(waiting.id) / "source.mp4")
        lost = store.create(source_name="lost.mp4", params={"source": "source.mp4"})

    with TestClient(create_app(settings, warm=False)) as second:
        again = second.get(f"/api/v1/jobs/{done['id']}").json()
        assert again["status"] == "done" and again["stats"] == done["stats"] and again["files"] == done["files"]
        assert second.get(again["files"]["frames.csv"]).status_code == 200
        failed = second.get(f"/api/v1/jobs/{crashed.id}").json()
        assert failed["status"] == "failed" and "interrupted" in failed["error"]
        assert not any(second.app.state.services.runner.folder(crashed.id).iterdir()), "partial files and upload removed"
        assert not orphan.exists()
        assert wait_status(second, waiting.id)["status"] == "done"
        gone = second.get(f"/api/v1/jobs/{lost.id}").json()
        assert gone["status"] == "failed" and "interrupted" in gone["error"]


def test_stopping_the_server_mid_job_fails_it_with_a_reason(settings_factory):
    settings = settings_factory()
    with TestClient(create_app(settings, warm=False)) as first:
        job = first.post("/api/v1/jobs", content=(VIDEOS / "smile_pexels.mp4").read_bytes()).json()
        wait_status(first, job["id"], ("running",))
    # the app has shut down while the job ran
    with TestClient(create_app(settings, warm=False)) as second:
        j = second.get(f"/api/v1/jobs/{job['id']}").json()
        assert j["status"] == "failed" and "server stopped" in j["error"]
        assert j["files"] == {}
        assert not any(second.app.state.services.runner.folder(job["id"]).iterdir())


def test_store_migrates_to_head_and_is_idempotent(tmp_path):
    from mimetic.store import JobStore
    from mimetic.store.db import current_revision

    store = JobStore(f"sqlite:///{tmp_path / 'x.db'}")
    store.migrate()
    store.migrate()
    assert current_revision(store.engine) == "0003_annotation"
    job = store.create(source_name="a.mp4", params={"fps": 3}, owner_id=None)
    assert store.get(job.id).status == "queued" and store.get(job.id).owner_id is None
    assert store.get("not-a-uuid") is None
    store.start(job.id)
    assert store.recover("why") == [job.id]
    assert store.get(job.id).error == "why" and store.get(job.id).finished
    assert store.delete(job.id) and store.get(job.id) is None
    store.close()


def test_database_url_from_the_environment(tmp_path, monkeypatch):
    from mimetic.web.settings import Settings

    monkeypatch.setenv("MIMETIC_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("MIMETIC_MAX_IMAGE_BYTES", "1234")
    s = Settings.from_env(data_dir=tmp_path / "data")
    assert s.db_url.endswith("env.db") and s.max_image_bytes == 1234
    monkeypatch.delenv("MIMETIC_DATABASE_URL")
    assert Settings.from_env(data_dir=tmp_path / "data").db_url == f"sqlite:///{(tmp_path / 'data').resolve()}/mimetic.db"
