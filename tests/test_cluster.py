"""The runner on a Dask cluster: same files as the local pool, lost workers, failing runs.

One ``distributed.LocalCluster`` on 127.0.0.1 (two worker processes with one thread each, under
nannies that restart a killed worker) serves the module. The scheduler allows one lost worker
per task (``allowed-failures`` 1), so a run that keeps killing its worker is given up after two
tries. Runs are the tiny ones of the runner's tests: synthetic photos, one epoch.

The fault tests use a copy of the training notebook with one extra cell after the parameters,
driven by files in a control folder (``<name>.hold``: block until killed, once;
``<name>.kill``: kill the worker, every time; ``<name>.fail``: raise), which also counts
attempts in ``<name>.attempts``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dask
import nbformat
import numpy as np
import pytest
from distributed import Client, LocalCluster

from reglab.pipeline import experiments
from reglab.pipeline.executors import DaskExecutor, LocalPoolExecutor
from reglab.pipeline.experiments import CHAPTER8_RUNS, RunSpec
from reglab.pipeline.runner import default_notebook, execute_tasks, plan_runs, select_specs

TWO = "flowers_model_1,flowers_cnn_1"
#: Record fields that differ between two executions of the same run (times, paths, host).
VOLATILE = {"wall_seconds", "train_seconds", "train_secs_book", "test_seconds", "finished_at",
            "notebook", "log", "worker"}

CONTROL_CELL = '''# test control (tests/test_cluster.py)
import os as _os, signal as _signal, time as _time
from pathlib import Path as _Path
_ctl = _Path({ctl!r})
_stem = run_id or name
(_ctl / f"{{_stem}}.kernel").write_text(str(_os.getpid()))
with open(_ctl / f"{{_stem}}.attempts", "a") as _f:
    _f.write(f"{{_os.getppid()}}\\n")
(_ctl / f"{{_stem}}.malloc").write_text(str(_os.environ.get("MALLOC_TRIM_THRESHOLD_")))
if (_ctl / f"{{_stem}}.hold").exists():
    (_ctl / f"{{_stem}}.hold").unlink()
    (_ctl / f"{{_stem}}.started").write_text(str(_os.getppid()))
    _time.sleep(120)
if (_ctl / f"{{_stem}}.kill").exists():
    _os.kill(_os.getppid(), _signal.SIGKILL)
    _time.sleep(30)
if (_ctl / f"{{_stem}}.fail").exists():
    raise RuntimeError("deliberate failure of " + _stem)
'''


@pytest.fixture(scope="module")
def cluster():
    """A two-worker LocalCluster on loopback and a client; one lost worker allowed per task."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=None, worker_dashboard_address=None) as lc, \
            Client(lc, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
        yield lc, client


@pytest.fixture
def executor(cluster):
    """A DaskExecutor on the module's cluster, with both workers up."""
    _, client = cluster
    client.wait_for_workers(2, timeout=60)
    ex = DaskExecutor(client=client)
    yield ex
    ex.close()


@pytest.fixture
def control(tmp_path_factory):
    """(control folder, the training notebook with the control cell), new for each test."""
    root = tmp_path_factory.mktemp("control")
    ctl = root / "ctl"
    ctl.mkdir()
    nb = nbformat.read(default_notebook(), as_version=4)
    idx = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(idx + 1, nbformat.v4.new_code_cell(CONTROL_CELL.format(ctl=str(ctl))))
    path = root / "train_model_control.ipynb"
    nbformat.write(nb, path)
    return ctl, path


def _tasks(data, out, names=TWO, notebook=None, epochs=1):
    return plan_runs(select_specs(names), ["book"], epochs=epochs, data_dir=str(data), out=out,
                     notebook=notebook)


def _record(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _attempts(ctl: Path, name: str) -> int:
    path = ctl / f"{name}.attempts"
    return len(path.read_text().split()) if path.exists() else 0


def _comparable(rec: dict) -> dict:
    rec = {k: v for k, v in rec.items() if k not in VOLATILE}
    rec["history"] = [{k: v for k, v in h.items() if k != "seconds"} for h in rec["history"]]
    return rec


# ----------------------------------------------------------------------------- same results
def test_cluster_gives_the_same_files_as_the_local_pool(executor, synthetic_flowers, tmp_path):
    local, remote = tmp_path / "local", tmp_path / "cluster"
    t0 = time.perf_counter()
    lo = execute_tasks(_tasks(synthetic_flowers, local), executor=LocalPoolExecutor(2),
                       progress=False, stream=io.StringIO())
    t1 = time.perf_counter()
    stream = io.StringIO()
    cl = execute_tasks(_tasks(synthetic_flowers, remote), executor=executor, progress=False,
                       stream=stream)
    t2 = time.perf_counter()
    print(f"two tiny runs: local pool {t1 - t0:.1f} s, cluster {t2 - t1:.1f} s")
    assert [o.status for o in lo] == [o.status for o in cl] == ["ok", "ok"], stream.getvalue()

    files = sorted(p.name for p in (local / "book").iterdir())
    assert files == sorted(p.name for p in (remote / "book").iterdir())
    assert files == sorted(f"{n}.{ext}" for n in TWO.split(",") for ext in ("ipynb", "json", "npz"))
    for name in TWO.split(","):
        a = _record(local / "book" / f"{name}.json")
        b = _record(remote / "book" / f"{name}.json")
        assert _comparable(a) == _comparable(b)
        assert a["notebook"] == b["notebook"] == f"{name}.ipynb"      # beside the record
        assert b["wall_seconds"] > 0 and b["worker"]["address"].startswith("tcp://127.0.0.1:")
        with np.load(local / "book" / f"{name}.npz") as pa, \
                np.load(remote / "book" / f"{name}.npz") as pb:
            assert sorted(pa.files) == sorted(pb.files)
            for k in pa.files:
                np.testing.assert_array_equal(pa[k], pb[k])
        nb = _record(remote / "book" / f"{name}.ipynb")
        assert not nb["metadata"]["papermill"]["exception"]
        # the worker ran a copy of the notebook in its scratch folder: the executed notebook
        # still names the project's notebook and itself as the local pool's does
        local_pm = _record(local / "book" / f"{name}.ipynb")["metadata"]["papermill"]
        for key in ("input_path", "output_path", "parameters"):
            assert nb["metadata"]["papermill"][key] == local_pm[key], key
        assert local_pm["input_path"] == "notebooks/train_model.ipynb"
    # resume: a second plan finds them finished, whichever executor wrote them
    assert all(t.action == "skip" for t in _tasks(synthetic_flowers, remote))


# ----------------------------------------------------------------------------- faults
def test_worker_killed_during_a_run_is_retried_elsewhere(executor, cluster, control,
                                                         synthetic_flowers, tmp_path):
    """SIGKILL of the worker process while its run is in a cell: the run goes to another
    worker and finishes; the other run is kept; the terminal says what happened."""
    ctl, notebook = control
    (ctl / "flowers_model_1.hold").touch()
    tasks = _tasks(synthetic_flowers, tmp_path, notebook=notebook)
    stream = io.StringIO()
    killed = {}

    def killer():
        started = ctl / "flowers_model_1.started"
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        killed["pid"] = int(started.read_text())
        os.kill(killed["pid"], signal.SIGKILL)

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    t0 = time.perf_counter()
    outcomes = execute_tasks(tasks, executor=executor, progress=False, stream=stream)
    secs = time.perf_counter() - t0
    th.join(5)
    text = stream.getvalue()
    print(text, f"{secs:.1f} s")
    assert killed.get("pid"), "the held run never started"
    assert [o.status for o in outcomes] == ["ok", "ok"], text
    assert _attempts(ctl, "flowers_model_1") == 2 and _attempts(ctl, "flowers_cnn_1") == 1
    # the kernels do not inherit the nanny's MALLOC_TRIM_THRESHOLD_ (twice slower training)
    assert (ctl / "flowers_cnn_1.malloc").read_text() == "None"
    assert "⚠ book/flowers_model_1: worker tcp://127.0.0.1:" in text
    assert "died during the run; retrying on another worker (1 of 1 allowed losses)" in text
    for name in TWO.split(","):
        assert _record(tmp_path / "book" / f"{name}.json")["status"] == "ok"
    assert secs < 90


def test_run_that_keeps_killing_its_worker_is_given_up(executor, control, synthetic_flowers,
                                                       tmp_path):
    """A run that kills its worker every time is tried twice (one loss allowed), then recorded
    as failed; the other run finishes; nothing hangs."""
    ctl, notebook = control
    (ctl / "flowers_cnn_1.kill").touch()
    try:
        stream = io.StringIO()
        t0 = time.perf_counter()
        outcomes = execute_tasks(_tasks(synthetic_flowers, tmp_path, notebook=notebook),
                                 executor=executor, progress=False, stream=stream)
        secs = time.perf_counter() - t0
    finally:
        (ctl / "flowers_cnn_1.kill").unlink()
    text = stream.getvalue()
    print(text, f"{secs:.1f} s")
    assert [o.status for o in outcomes] == ["ok", "failed"], text
    assert _attempts(ctl, "flowers_cnn_1") == 2
    assert outcomes[1].error.startswith("WorkerDied: 2 workers died while running it")
    assert text.count("✗ book/flowers_cnn_1  failed: WorkerDied") == 1
    assert "giving up after 2 lost workers" in text
    rec = _record(tmp_path / "book" / "flowers_cnn_1.json")
    assert rec["status"] == "failed" and rec["error"].startswith("WorkerDied")
    assert _record(tmp_path / "book" / "flowers_model_1.json")["status"] == "ok"
    # the failed run is planned again next time, the finished one is not
    again = {t.name: t.action for t in _tasks(synthetic_flowers, tmp_path, notebook=notebook)}
    assert again == {"flowers_model_1": "skip", "flowers_cnn_1": "run"}
    assert secs < 90


def test_run_failing_by_itself_is_reported_once(executor, control, synthetic_flowers,
                                                tmp_path):
    """A cell that raises: one attempt, a failed record with the executed notebook here."""
    ctl, notebook = control
    (ctl / "flowers_model_1.fail").touch()
    try:
        stream = io.StringIO()
        outcomes = execute_tasks(_tasks(synthetic_flowers, tmp_path, notebook=notebook),
                                 executor=executor, progress=False, stream=stream)
    finally:
        (ctl / "flowers_model_1.fail").unlink()
    text = stream.getvalue()
    assert [o.status for o in outcomes] == ["failed", "ok"], text
    assert _attempts(ctl, "flowers_model_1") == 1
    assert text.count("✗ book/flowers_model_1  failed: RuntimeError: deliberate failure") == 1
    assert "⚠" not in text
    rec = _record(tmp_path / "book" / "flowers_model_1.json")
    assert rec["status"] == "failed" and rec["error"].startswith("RuntimeError: deliberate")
    assert rec["notebook"] == "flowers_model_1.ipynb"
    nb = _record(tmp_path / "book" / rec["notebook"])
    assert nb["metadata"]["papermill"]["exception"] is True


def _gone(pid: int, timeout: float) -> bool:
    """True once process ``pid`` has ended (or is a zombie) within ``timeout`` seconds."""
    import psutil
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_interrupted_client_stops_its_runs_on_the_workers(executor, control, synthetic_flowers,
                                                          tmp_path):
    """Ctrl-C in the client while a run executes on a worker: the run's kernel is killed at
    once, nothing of the run is recorded, the outcome is ``interrupted``."""
    import _thread

    ctl, nb = control
    (ctl / "flowers_model_1.hold").write_text("")          # the run would sleep 120 s
    tasks = _tasks(synthetic_flowers, tmp_path, names="flowers_model_1", notebook=nb)

    def interrupt():
        t0 = time.monotonic()
        while not (ctl / "flowers_model_1.started").exists() and time.monotonic() - t0 < 120:
            time.sleep(0.1)
        time.sleep(0.5)
        _thread.interrupt_main()

    # as at a terminal, also when the tests run in the background with SIGINT ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=interrupt, daemon=True).start()
    stream = io.StringIO()
    try:
        outcomes = execute_tasks(tasks, executor=executor, progress=False, stream=stream)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert [o.status for o in outcomes] == ["interrupted"], stream.getvalue()
    assert "! book/flowers_model_1  interrupted" in stream.getvalue()
    kernel = int((ctl / "flowers_model_1.kernel").read_text())
    assert _gone(kernel, 10), f"kernel {kernel} still runs"
    assert not (tmp_path / "book" / "flowers_model_1.json").exists()
    assert not list((tmp_path / "book").glob("*.ipynb")) if (tmp_path / "book").exists() else True


# ----------------------------------------------------------------------------- command line
def test_run_command_through_the_scheduler(cluster, synthetic_flowers, tmp_path, monkeypatch):
    """``python -m reglab run`` with $REGLAB_SCHEDULER: runs, index, exit code; then a bad
    config fails in its notebook and is reported once, exit 1."""
    lc, client = cluster
    client.wait_for_workers(2, timeout=60)
    env = dict(os.environ, REGLAB_SCHEDULER=lc.scheduler_address)
    args = [sys.executable, "-m", "reglab", "run", "--only", TWO, "--profile", "exact",
            "--epochs", "1", "--data-dir", str(synthetic_flowers), "--out", str(tmp_path),
            "--no-progress"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=180, env=env,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"2 to execute on the Dask cluster {lc.scheduler_address} (2 worker(s)" in proc.stdout
    assert "done: 2 ok, 0 skipped, 0 failed" in proc.stdout
    index = _record(tmp_path / "exact" / "index.json")
    status = {r["name"]: r["status"] for r in index["runs"]}
    assert status["flowers_model_1"] == status["flowers_cnn_1"] == "ok"

    # in this process (to add a failing spec), with --scheduler given explicitly
    from reglab.__main__ import main
    bad = RunSpec("flowers_bad", [30, 10], l2_decay=-1.0)
    monkeypatch.setattr(experiments, "CHAPTER8_RUNS", [*CHAPTER8_RUNS, bad])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["run", "--only", "flowers_model_1,flowers_bad", "--profile", "exact",
                     "--epochs", "1", "--data-dir", str(synthetic_flowers), "--out",
                     str(tmp_path), "--no-progress", "--scheduler", lc.scheduler_address])
    out = buf.getvalue()
    assert code == 1, out
    assert "- exact/flowers_model_1  skipped" in out
    assert out.count("✗ exact/flowers_bad  failed: ValueError: ") == 1
    assert _record(tmp_path / "exact" / "flowers_bad.json")["status"] == "failed"


def test_unreachable_scheduler_and_missing_distributed(monkeypatch):
    with pytest.raises(RuntimeError, match=r"cannot reach the Dask scheduler at tcp://127\.0"):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout=1)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(RuntimeError, match=r'pip install -e "\.\[cluster\]"'):
        DaskExecutor("tcp://127.0.0.1:9")


def test_cli_options():
    """``--scheduler`` (default from $REGLAB_SCHEDULER) and ``--shared-out`` on both commands."""
    for cmd in ("run", "study"):
        proc = subprocess.run([sys.executable, "-m", "reglab", cmd, "--help"],
                              capture_output=True, text=True, timeout=60, check=False,
                              env=dict(os.environ, REGLAB_SCHEDULER="tcp://127.0.0.1:8786"))
        assert proc.returncode == 0
        assert "--scheduler" in proc.stdout and "--shared-out" in proc.stdout
        assert "tcp://127.0.0.1:8786" in proc.stdout


def test_shared_out_workers_write_the_folder_themselves(cluster, synthetic_flowers, tmp_path):
    """With shared_out the workers write into the results folder (here: same machine)."""
    _, client = cluster
    client.wait_for_workers(2, timeout=60)
    with DaskExecutor(client=client, shared_out=True) as ex:
        outcomes = execute_tasks(_tasks(synthetic_flowers, tmp_path), executor=ex,
                                 progress=False, stream=io.StringIO())
    assert [o.status for o in outcomes] == ["ok", "ok"]
    for name in TWO.split(","):
        rec = _record(tmp_path / "book" / f"{name}.json")
        assert rec["status"] == "ok" and "worker" not in rec
        assert rec["notebook"] == f"{name}.ipynb"
        assert (tmp_path / "book" / f"{name}.npz").is_file()


# ----------------------------------------------------------------------------- worker side
def test_worker_without_the_photos_or_the_shared_folder(synthetic_flowers, tmp_path,
                                                        monkeypatch):
    """run_on_worker called directly (as on a worker): missing photos fall back to the worker's
    $FLOWERS_DIR, else fail the run with a message; --shared-out never makes a local folder."""
    from reglab.pipeline.executors import _localize_data, run_on_worker

    task = _tasks(synthetic_flowers, tmp_path / "out", names="flowers_model_1")[0]
    task.config["data_dir"] = str(tmp_path / "not-here")
    monkeypatch.delenv("FLOWERS_DIR", raising=False)
    res = run_on_worker(task, default_notebook().read_bytes())
    assert res["status"] == "failed" and res["error"].startswith("PhotosNotFound: no photo folder")
    assert "FLOWERS_DIR" in res["error"] and not res["in_place"]
    assert _record_bytes(res["files"]["flowers_model_1.json"])["status"] == "failed"

    monkeypatch.setenv("FLOWERS_DIR", str(synthetic_flowers))
    config = dict(task.config)
    assert _localize_data(config) is None and config["data_dir"] == str(synthetic_flowers)
    # "synthetic" is resolved by the worker's kernel itself
    config = dict(task.config, data_dir="synthetic")
    assert _localize_data(config) is None and config["data_dir"] == "synthetic"

    res = run_on_worker(task, default_notebook().read_bytes(), shared_out=True)
    assert res["status"] == "failed" and res["error"].startswith("SharedOutMissing: ")
    assert not (tmp_path / "out").exists() and "flowers_model_1.json" in res["files"]


def _record_bytes(data: bytes) -> dict:
    return json.loads(data.decode("utf-8"))
