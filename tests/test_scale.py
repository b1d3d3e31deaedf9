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

from testdata import IMAGES
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
