"""Scale-out (issue 19): worker processes, a Dask cluster, the Parquet table dataset, the manifest, resuming, dying
workers. The CLI runs are real (real faces from tests/data); the dying-worker tests use a stand-in task so that a
worker can be killed at a known moment."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from testdata import IMAGES, VIDEOS
from mimetic.batch.executor import run_tasks
from mimetic.batch.store import RunStore, read_manifest
from mimetic.batch.tasks import TaskOptions, TaskResult
from mimetic.cli import app

runner = CliRunner()
N = 20


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """~20 photos: the fixture faces, copied round-robin (some with two faces, one with several)."""
    folder = tmp_path_factory.mktemp("corpus")
    sources = sorted(IMAGES.glob("*.jpg"))
    for i in range(N):
        src = sources[i % len(sources)]
        shutil.copyfile(src, folder / f"{i:02d}_{src.name}")
    return folder


@pytest.fixture(scope="module")
def one_worker(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one") / "out"
    r = run("analyze", corpus, "--out", out, "--format", "json,csv", "--workers", "1", "-q")
    assert r.exit_code == 0, r.output
    return out


def _rows(out: Path) -> pd.DataFrame:
    df = pd.read_parquet(out / "table")  # the partitioned dataset, read as one table
    return df.sort_values(["source", "face_id"]).reset_index(drop=True)


def _same_outputs(a: Path, b: Path) -> None:
    ra, rb = _rows(a), _rows(b)
    assert len(ra) == len(rb) > N  # one row per face: several photos have more than one
    assert list(ra.columns) == list(rb.columns)
    pd.testing.assert_frame_equal(ra, rb, check_exact=False, atol=1e-6)
    for p in a.glob("*.json"):
        assert json.loads(p.read_text())["faces"] == json.loads((b / p.name).read_text())["faces"], p.name
    ma, mb = read_manifest(a / "manifest.csv"), read_manifest(b / "manifest.csv")
    assert set(ma) == set(mb) and len(ma) == N
    assert {(k, r.name, r.status, r.faces, r.sha256) for k, r in ma.items()} == \
        {(k, r.name, r.status, r.faces, r.sha256) for k, r in mb.items()}


def test_two_worker_processes_give_the_same_rows_as_one(corpus, one_worker, tmp_path):
    out = tmp_path / "out"
    r = run("analyze", corpus, "--out", out, "--format", "json,csv", "--workers", "2", "-q")
    assert r.exit_code == 0, r.output
    assert f"{N} inputs: {N} ok, 0 failed" in r.output
    _same_outputs(one_worker, out)
    workers = {rec.worker for rec in read_manifest(out / "manifest.csv").values()}
    assert len(workers) == 2 and os.getpid() not in {int(w.split(":")[1]) for w in workers}
    # the consolidated table is in input order, as with one worker
    assert pd.read_csv(out / "images.csv")["source"].tolist() == pd.read_csv(one_worker / "images.csv")["source"].tolist()


def test_a_dask_cluster_gives_the_same_rows_as_one_worker(corpus, one_worker, tmp_path):
    from distributed import LocalCluster

    out = tmp_path / "out"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        r = run("analyze", corpus, "--out", out, "--format", "json,csv", "--scheduler", cluster.scheduler_address,
                "-q")
    assert r.exit_code == 0, r.output
    _same_outputs(one_worker, out)
    assert len({rec.worker for rec in read_manifest(out / "manifest.csv").values()}) == 2


def test_bad_inputs_give_the_same_error_lines_with_workers(tmp_path):
    from badinputs import make_bad_inputs

    bad = make_bad_inputs(tmp_path / "bad")
    args = [p for p, _ in bad.values()] + [IMAGES / "astronaut_nasa.jpg"]
    seen = {}
    for w in ("1", "2"):
        r = run("analyze", *args, "--out", tmp_path / f"out{w}", "--workers", w, "-q")
        assert r.exit_code == 1, r.output
        seen[w] = sorted(ln for ln in r.output.splitlines() if ln.startswith("error:"))
        assert f"{len(args)} inputs: 1 ok, {len(bad)} failed" in r.output
        # every input that became a task is in the manifest, each failure with the error line printed for it
        manifest = pd.read_csv(tmp_path / f"out{w}" / "manifest.csv", keep_default_na=False)
        assert (manifest["status"] == "ok").sum() == 1 and len(manifest) >= 2
        for msg in manifest.query("status == 'failed'")["error"]:
            assert f"error: {msg}" in seen[w], msg
    assert seen["1"] == seen["2"] and len(seen["1"]) == len(bad)


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path, monkeypatch):
    import dask
    import socket

    with socket.socket() as sock:  # a free port on the loopback: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MIMETIC_SCHEDULER", f"tcp://127.0.0.1:{port}")
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        r = run("analyze", IMAGES / "astronaut_nasa.jpg", IMAGES / "two_people.jpg", "--out", tmp_path / "out", "-q")
    assert r.exit_code == 1, r.output
    assert f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in r.output
    assert "Traceback" not in r.output


def test_resume_redoes_only_what_is_missing_and_never_duplicates_rows(corpus, one_worker, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(one_worker, out)
    before = read_manifest(out / "manifest.csv")
    gone = sorted(out.glob("*.json"))[::2]  # half the outputs
    for p in gone:
        p.unlink()
    r = run("analyze", corpus, "--out", out, "--format", "json,csv", "--workers", "1", "-q")
    assert r.exit_code == 0, r.output
    assert f"{N} inputs: {len(gone)} ok, 0 failed, {N - len(gone)} done before" in r.output
    after = read_manifest(out / "manifest.csv")
    redone = {k for k in after if after[k].finished != before[k].finished or after[k].part != before[k].part}
    assert {after[k].name for k in redone} == {p.stem for p in gone}
    assert all(rec.status == "ok" for rec in after.values()) and len(after) == N
    assert len(pd.read_csv(out / "manifest.csv")) == N  # one line per input
    pd.testing.assert_frame_equal(_rows(out), _rows(one_worker), check_exact=False, atol=1e-6)
    assert len(pd.read_csv(out / "images.csv")) == len(_rows(one_worker))
    # nothing to do: everything is skipped
    r = run("analyze", corpus, "--out", out, "--format", "json,csv", "-q")
    assert r.exit_code == 0 and f"{N} inputs: 0 ok, 0 failed, {N} done before" in r.output, r.output


def test_a_changed_input_is_redone_and_its_old_rows_replaced(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copyfile(IMAGES / "two_people.jpg", src / "a.jpg")
    shutil.copyfile(IMAGES / "astronaut_nasa.jpg", src / "b.jpg")
    out = tmp_path / "out"
    assert run("analyze", src, "--out", out, "--workers", "1", "-q").exit_code == 0
    assert len(_rows(out)) == 3
    shutil.copyfile(IMAGES / "biden_portrait.jpg", src / "a.jpg")  # two faces become one
    r = run("analyze", src, "--out", out, "--workers", "1", "-q")
    assert r.exit_code == 0 and "2 inputs: 1 ok, 0 failed, 1 done before" in r.output, r.output
    assert _rows(out)["source"].str.endswith(("a.jpg", "b.jpg")).sum() == 2 and len(_rows(out)) == 2


def test_failures_are_kept_and_retried_on_request(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copyfile(IMAGES / "astronaut_nasa.jpg", src / "good.jpg")
    (src / "bad.jpg").write_bytes(b"not a picture at all")
    out = tmp_path / "out"
    r = run("analyze", src, "--out", out, "--workers", "1", "-q")
    assert r.exit_code == 1 and sum(ln.startswith("error:") for ln in r.output.splitlines()) == 1, r.output
    m = read_manifest(out / "manifest.csv")
    assert m[str(src / "bad.jpg")].status == "failed" and "not an image" in m[str(src / "bad.jpg")].error
    assert m[str(src / "good.jpg")].status == "ok" and m[str(src / "good.jpg")].seconds > 0
    r = run("analyze", src, "--out", out, "--workers", "1", "-q")  # a failure stays failed: exit 1, said once
    assert r.exit_code == 1 and "--retry-failed" in r.output and "2 inputs: 0 ok, 1 failed, 1 done before" in r.output
    shutil.copyfile(IMAGES / "biden_portrait.jpg", src / "bad.jpg")  # fixed (new content): redone anyway
    r = run("analyze", src, "--out", out, "--workers", "1", "-q", "--retry-failed")
    assert r.exit_code == 0 and "2 inputs: 1 ok, 0 failed, 1 done before" in r.output, r.output
    assert len(_rows(out)) == 2 and read_manifest(out / "manifest.csv")[str(src / "bad.jpg")].status == "ok"


def test_a_part_written_by_a_killed_run_is_dropped_on_resume(tmp_path):
    """Killed between writing a part and recording its inputs: the part is removed, its inputs are redone."""
    src = tmp_path / "in"
    src.mkdir()
    shutil.copyfile(IMAGES / "two_people.jpg", src / "a.jpg")
    out = tmp_path / "out"
    assert run("analyze", src, "--out", out, "--workers", "1", "-q").exit_code == 0
    shutil.copyfile(out / "table" / "part-00000.parquet", out / "table" / "part-00007.parquet")  # not recorded
    store = RunStore(out)
    assert [p.name for p in store._parts()] == ["part-00000.parquet"]
    assert len(store.table()) == 2


def test_killing_a_worker_mid_run_loses_and_duplicates_nothing(corpus, one_worker, tmp_path):
    """The real command in its own process, 2 workers; one worker process is killed (SIGKILL) once the first
    outputs appear: the run still ends with every input done once, the same rows as one worker."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    out = tmp_path / "out"
    exe = Path(sys.executable).with_name("mimetic")
    proc = subprocess.Popen([exe, "analyze", corpus, "--out", out, "--format", "json,csv", "--workers", "2", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        workers = [c for c in psutil.Process(proc.pid).children() if "resource_tracker" not in " ".join(c.cmdline())]
        if len(list(out.glob("*.json"))) >= 2 and workers:
            killed, first = workers[0].pid, {str(w.pid) for w in workers}
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    _, err = proc.communicate(timeout=300)
    assert killed is not None, "the run ended before a worker could be killed"
    assert proc.returncode == 0, err
    assert f"{N} inputs: {N} ok, 0 failed" in err
    # every input once, all ok; its rows once each, as many as its JSON has faces (compared within this run:
    # the models may change between runs in a working tree)
    manifest = pd.read_csv(out / "manifest.csv")
    assert len(manifest) == N and manifest["input"].is_unique and (manifest["status"] == "ok").all()
    rows = _rows(out)
    assert not rows.duplicated(["source", "face_id"]).any()
    assert len(rows) == manifest["faces"].sum() == len(_rows(one_worker))
    for rec in manifest.itertuples():
        assert (rows["source"] == rec.input).sum() == rec.faces == \
            len(json.loads((out / f"{rec.name}.json").read_text())["faces"]), rec.input
    assert len(pd.read_csv(out / "images.csv")) == len(rows)
    assert {w.split(":")[1] for w in manifest["worker"]} - first  # a new pool did the rest


# -- dying workers: a stand-in task that kills its own process ----------------------------------------------------

def dying_task(path, name, options, *, sha256="", **_):
    """Kills its worker process: always for ``poison``, the first time only for ``once`` (a marker file)."""
    marker = Path(options.out) / f"{name}.died"
    if name == "poison" or (name == "once" and not marker.exists()):
        marker.touch()
        os._exit(9)
    return TaskResult(input=path, name=name, sha256=sha256, worker=str(os.getpid()))


def test_a_killed_worker_has_its_task_rerun_and_a_poison_input_fails(tmp_path):
    jobs = [(f"in/{n}", n, "") for n in ("a", "b", "once", "c", "d", "poison", "e", "f")]
    results = list(run_tasks(jobs, TaskOptions(out=tmp_path), workers=2, task=dying_task))
    by_name = {r.name: r for r in results}
    assert len(results) == len(jobs) == len(by_name)  # nothing lost, nothing twice
    assert all(by_name[n].ok for n in ("a", "b", "once", "c", "d", "e", "f"))
    assert not by_name["poison"].ok and "died" in by_name["poison"].error and "not retried" in by_name["poison"].error


# -- long videos in time chunks, `mimetic video` on several files ---------------------------------------------------

def _two_face_clip(path: Path, frames: int = 50, fps: int = 10, alone: int = 20) -> Path:
    """A clip from two_people.jpg: the right-hand person is hidden for the first ``alone`` frames (so a track is born
    mid-video), and the picture drifts a little (so the boxes move)."""
    import av
    import numpy as np
    from PIL import Image

    img = Image.open(IMAGES / "two_people.jpg").convert("RGB")
    img = np.asarray(img.resize((640, 640 * img.height // img.width // 2 * 2)))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = img.shape[1] - 16, img.shape[0], "yuv420p"
        for i in range(frames):
            frame = np.ascontiguousarray(img[:, (i // 3) % 16:(i // 3) % 16 + img.shape[1] - 16])
            if i < alone:
                frame = frame.copy()
                frame[:, frame.shape[1] // 2:] = 128
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_a_long_video_in_time_chunks_gives_the_rows_of_one_pass(tmp_path):
    """`mimetic video` on two files, one split in 4 time chunks over 2 workers (a tiny --chunk-seconds): the same
    frames, once each, the same track ids and the same timeline segments as one worker in one pass."""
    from mimetic.batch.chunks import SPILL_DIR

    clip = _two_face_clip(tmp_path / "two.mp4")
    short = VIDEOS / "single_face.mp4"
    outs = {}
    for w in ("1", "2"):
        out = tmp_path / f"out{w}"
        r = run("video", clip, short, "--out", out, "--format", "csv,json,parquet", "--workers", w,
                "--chunk-seconds", "1.5", "--chunk-overlap", "0.6", "--stride", "2", "--timeline", out, "-q")
        assert r.exit_code == 0, r.output
        assert "2 inputs: 2 ok, 0 failed" in r.output
        assert not (out / SPILL_DIR).exists() and not (out / "manifest.csv").exists()
        outs[w] = out
    for name in ("two", "single_face"):
        a, b = (pd.read_csv(outs[w] / f"{name}.csv") for w in ("1", "2"))
        assert a["frame"].tolist() == b["frame"].tolist()  # every sampled frame, once, in order
        assert not b.duplicated(["frame", "face_id"]).any()
        assert a["track_id"].tolist() == b["track_id"].tolist()
        pd.testing.assert_frame_equal(a.drop(columns="confidence"), b.drop(columns="confidence"),
                                      check_exact=False, atol=1e-5)
        pd.testing.assert_frame_equal(pd.read_parquet(outs["2"] / f"{name}.parquet"), b, check_dtype=False)
        lines = (outs["2"] / f"{name}.jsonl").read_text().splitlines()
        assert [json.loads(ln)["frame"] for ln in lines] == b["frame"].drop_duplicates().tolist()
        ca, cb = (pd.read_csv(outs[w] / f"{name}.timeline.changes.csv") for w in ("1", "2"))
        pd.testing.assert_frame_equal(ca, cb, check_exact=False, atol=1e-5)
    two = pd.read_csv(outs["2"] / "two.csv")
    assert sorted(two["track_id"].unique()) == [0, 1]  # the person who appears mid-video: id 1 in every chunk
    assert two.query("frame < 20")["track_id"].eq(0).all()
    assert (two.query("frame >= 20").groupby("frame")["track_id"].apply(sorted).map(tuple) == (0, 1)).all()


def test_the_chunk_plan_lies_on_the_sampling_grid(tmp_path):
    from mimetic.batch.chunks import plan_chunks

    clip = VIDEOS / "smile_pexels.mp4"  # 19.7 s at 23.976 frames/s
    assert plan_chunks(clip, seconds=120, overlap=2, workers=2) == []  # short: one task
    assert plan_chunks(clip, seconds=4, overlap=1, workers=1) == []  # one worker: one task
    chunks = plan_chunks(clip, seconds=4, overlap=1, workers=2)
    assert len(chunks) == 6 and chunks[0].start == 0 and chunks[-1].end is None
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.keep_to < a.end and b.keep_from == a.keep_to  # an overlap, split at its midpoint
        assert a.end - b.start == pytest.approx(1.0, abs=0.05)
    rate = 24000 / 1001
    for c in chunks[1:]:  # half a frame before a frame: no frame on a border
        assert (c.start * rate) % 1 == pytest.approx(0.5, abs=1e-6)
    by_fps = plan_chunks(clip, seconds=4, overlap=1, workers=2, fps=5)
    assert all(round(c.start * 5, 6) % 1 == 0 for c in by_fps)  # on the --fps grid


def test_track_ids_are_matched_by_box_overlap():
    from mimetic.batch.chunks import match_tracks

    before = {10: [(3, (0, 0, 10, 10)), (5, (50, 0, 10, 10))], 11: [(3, (1, 0, 10, 10)), (5, (51, 0, 10, 10))]}
    after = {10: [(0, (50, 1, 10, 10)), (1, (0, 1, 10, 10))], 11: [(0, (51, 1, 10, 10)), (1, (1, 0, 10, 10)),
                                                                   (2, (200, 200, 10, 10))]}
    assert match_tracks(before, after) == {0: 5, 1: 3}  # id 2 overlaps nothing: it gets a new id


# -- poison inputs and the memory bound ---------------------------------------------------------------------------

def test_a_poison_input_kills_two_workers_and_is_reported_failed(corpus, one_worker, tmp_path, monkeypatch):
    """The real command, 2 workers, 20 photos and one input that kills the worker process that takes it
    (os._exit(137), a test hook): the 20 are done once each, the poison input is failed in the manifest."""
    src = tmp_path / "in"
    shutil.copytree(corpus, src)
    shutil.copyfile(IMAGES / "single_face.jpg", src / "zz_poison.jpg")
    monkeypatch.setenv("MIMETIC_TEST_KILL_ON", "zz_poison.jpg")
    out = tmp_path / "out"
    r = run("analyze", src, "--out", out, "--format", "json,csv", "--workers", "2", "-q")
    assert r.exit_code == 1, r.output
    assert f"{N + 1} inputs: {N} ok, 1 failed" in r.output
    manifest = read_manifest(out / "manifest.csv")
    assert len(manifest) == N + 1
    poison = manifest[str(src / "zz_poison.jpg")]
    assert poison.status == "failed" and "died" in poison.error and "2 times" in poison.error
    assert sum(rec.status == "ok" for rec in manifest.values()) == N
    rows = _rows(out)
    assert not rows.duplicated(["source", "face_id"]).any() and len(rows) == len(_rows(one_worker))


def hungry_task(path, name, options, *, sha256="", **_):
    """Holds on to 100 MB more at every task (a leak); ``greedy`` takes 800 MB at once and waits."""
    import time

    import numpy as np

    if name == "greedy":
        block = np.ones(800 * 2**20 // 8)
        time.sleep(30)
        assert block[-1] == 1
    _LEAK.append(np.ones(100 * 2**20 // 8))
    return TaskResult(input=path, name=name, sha256=sha256, worker=str(os.getpid()))


_LEAK: list = []


def test_a_worker_over_the_memory_bound_is_replaced(tmp_path):
    jobs = [(f"in/{k}", f"n{k}", "") for k in range(12)]
    results = list(run_tasks(jobs, TaskOptions(out=tmp_path), workers=2, task=hungry_task, max_memory_mb=400))
    assert sorted(r.name for r in results) == sorted(j[1] for j in jobs) and all(r.ok for r in results)
    assert len({r.worker for r in results}) > 2  # leaky workers were replaced
    assert 0 < max(r.memory_mb for r in results) < 400 + 2 * 100 + 10  # above the bound by its last task, at most


def test_a_worker_far_over_the_memory_bound_is_stopped(tmp_path):
    jobs = [("in/a", "a", ""), ("in/greedy", "greedy", ""), ("in/b", "b", "")]
    results = {r.name: r for r in run_tasks(jobs, TaskOptions(out=tmp_path), workers=2, task=hungry_task,
                                             max_memory_mb=250)}
    assert results["a"].ok and results["b"].ok
    assert not results["greedy"].ok and "--max-memory-per-worker" in results["greedy"].error
