"""Runs survive what users do to them: kill -9, Ctrl-C, two commands at once, odd numbers,
wrong parameters, broken records, wrong options.

The command tests run ``python -m reglab run``/``study`` in a subprocess on the small synthetic
photos (``--data-dir synthetic --max-samples 50``, one epoch) and signal it while a notebook
is being executed (a temporary notebook beside the results shows that one is).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reglab.fileio import is_temporary
from reglab.pipeline.lock import LOCK_NAME, LockHeld, results_lock
from reglab.pipeline.record import (execute_run, is_finished, make_config, notebook_completed,
                                    read_result)
from reglab.pipeline.runner import default_notebook, plan_runs, select_specs, write_index
from reglab.pipeline.tasks import Outcome

psutil = pytest.importorskip("psutil")

SMALL = ["--data-dir", "synthetic", "--max-samples", "50", "--epochs", "1", "--no-progress"]


def _sigint_default():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(*args, timeout=300):
    proc = subprocess.run([sys.executable, "-m", "reglab", *args], capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ))
    return proc.returncode, proc.stdout, proc.stderr


class _Command:
    """``python -m reglab ...`` started in its own session, its stdout read line by line.

    Ctrl-C reaches it as it does from a terminal even when the tests themselves run in the
    background (where the shell starts them with SIGINT ignored, which a child inherits)."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, "-m", "reglab", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True, env=dict(os.environ),
                                     preexec_fn=_sigint_default)
        self.lines: list[str] = []
        self.err: list[str] = []
        self._threads = [threading.Thread(target=self._read, args=(s, b), daemon=True)
                         for s, b in ((self.proc.stdout, self.lines),
                                      (self.proc.stderr, self.err))]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream, buf):
        for line in stream:
            buf.append(line.rstrip("\n"))

    def wait_for(self, check, timeout=120.0):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if check():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def descendants(self):
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def finish(self, timeout=60):
        code = self.proc.wait(timeout)
        for t in self._threads:
            t.join(10)
        return code, "\n".join(self.lines), "\n".join(self.err)


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if is_temporary(p)] if folder.is_dir() else []


def _executing(folder: Path, name: str, since: float) -> bool:
    """A notebook of ``name`` is being written in ``folder`` (a temporary one, or the notebook
    itself changed after ``since``)."""
    nb = folder / f"{name}.ipynb"
    return (any(p.name.startswith(f".{name}.ipynb.") for p in _temporaries(folder))
            or (nb.exists() and nb.stat().st_mtime > since))


def _dead(procs, timeout) -> bool:
    gone, alive = psutil.wait_procs(procs, timeout=timeout)
    return not alive


# ----------------------------------------------------------------------------- 1. kill -9
def test_killed_forced_rerun_keeps_the_finished_run(tmp_path):
    """SIGKILL of ``run --force`` (command, pool and kernel) while the notebook executes: the
    finished run stays as it was, and the next ``run`` skips it and removes the temporary
    notebook the kill left behind."""
    folder = tmp_path / "book"
    args = ["run", "--only", "flowers_model_1", "--profile", "book", "--out", str(tmp_path),
            *SMALL]
    code, stdout, stderr = _cli(*args)
    assert code == 0, stdout + stderr
    record = (folder / "flowers_model_1.json").read_bytes()
    notebook = (folder / "flowers_model_1.ipynb").read_bytes()

    since = time.time()
    cmd = _Command(*args, "--force")
    assert cmd.wait_for(lambda: _executing(folder, "flowers_model_1", since)), cmd.err
    time.sleep(1.0)                                      # the kernel is running cells
    procs = [psutil.Process(cmd.proc.pid), *cmd.descendants()]
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    assert _dead(procs, 10)
    cmd.finish()

    rec = read_result(folder / "flowers_model_1.json")
    nb_intact = (folder / "flowers_model_1.ipynb").read_bytes() == notebook
    if (folder / "flowers_model_1.json").read_bytes() == record:
        assert nb_intact, "the finished record stands beside another notebook"
        assert notebook_completed(folder / "flowers_model_1.ipynb")
    else:                             # the kernel wrote its record: not finished for resume
        assert rec["status"] == "ok" and "notebook" not in rec
    code, stdout, stderr = _cli(*args)
    assert code == 0, stdout + stderr
    assert not _temporaries(folder), _temporaries(folder)
    assert is_finished(folder / "flowers_model_1.json")
    assert notebook_completed(folder / "flowers_model_1.ipynb")
    if "skipped (finished, same config)" in stdout:
        assert (folder / "flowers_model_1.json").read_bytes() == record


def _finished_run(folder: Path, epochs=1):
    """A finished run of flowers_model_1 (record with notebook) made without the runner."""
    config = make_config("flowers_model_1", [10], profile="book", epochs=epochs,
                         resolution=(24, 24), max_samples=50, data_dir="synthetic")
    with contextlib.redirect_stdout(io.StringIO()):
        _, rec = execute_run(config, folder)
    cells = [{"cell_type": "code", "metadata": {"papermill": {"status": "completed"}},
              "source": "", "outputs": [], "execution_count": 1}]
    nb = {"cells": cells, "metadata": {"papermill": {"exception": False}}, "nbformat": 4,
          "nbformat_minor": 5}
    (folder / "flowers_model_1.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    rec["notebook"] = "flowers_model_1.ipynb"
    (folder / "flowers_model_1.json").write_text(json.dumps(rec), encoding="utf-8")
    return rec, nb


def test_a_record_is_finished_only_with_its_completed_notebook(tmp_path):
    """What a killed run can leave: the kernel's record (no ``notebook`` yet), a notebook with
    cells still running, a missing notebook. None of them counts as finished."""
    path = tmp_path / "flowers_model_1.json"
    rec, nb = _finished_run(tmp_path)
    key = rec["config_key"]
    assert is_finished(path, key)
    # the record the training notebook writes before the runner has the notebook in place
    kernel_rec = {k: v for k, v in rec.items() if k != "notebook"}
    path.write_text(json.dumps(kernel_rec), encoding="utf-8")
    assert not is_finished(path, key)
    path.write_text(json.dumps(rec), encoding="utf-8")
    nb["cells"][0]["metadata"]["papermill"]["status"] = "running"
    (tmp_path / "flowers_model_1.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    assert not is_finished(path, key)
    (tmp_path / "flowers_model_1.ipynb").unlink()
    assert not is_finished(path, key)
    assert is_finished(path, key, notebook=False)


def test_the_runner_redoes_an_unfinished_run_and_removes_temporaries(tmp_path):
    out = tmp_path / "runs"
    folder = out / "book"
    folder.mkdir(parents=True)
    plan = plan_runs(select_specs("flowers_model_1"), ["book"], epochs=1, max_samples=50,
                     data_dir="synthetic", out=out)[0]
    rec = {"schema": 1, "status": "ok", "config_key": plan.key, "test_acc": 0.5}
    (folder / "flowers_model_1.json").write_text(json.dumps(rec), encoding="utf-8")
    again = plan_runs(select_specs("flowers_model_1"), ["book"], epochs=1, max_samples=50,
                      data_dir="synthetic", out=out)[0]
    assert again.action == "run" and again.reason.startswith("unfinished")
    stale = folder / ".flowers_model_1.ipynb.abcd1234.tmp.ipynb"
    stale.write_text("{", encoding="utf-8")
    other = folder / "notes.tmp.txt"
    other.write_text("mine", encoding="utf-8")
    from reglab.pipeline.runner import clean_results
    assert clean_results([folder], stream=io.StringIO()) == 1
    assert not stale.exists() and other.exists()


# ----------------------------------------------------------------------------- 2. Ctrl-C
def _interrupt_after_one(cmd: _Command, folder: Path):
    """Wait for one finished run and another one executing in ``folder``, then Ctrl-C the
    command's process group; returns (seconds to exit, code, stdout, stderr, the processes
    that were running: pool and kernels)."""
    assert cmd.wait_for(lambda: any(line.startswith("✓ ") for line in cmd.lines),
                        timeout=180), "\n".join(cmd.lines + cmd.err)
    cmd.wait_for(lambda: bool(_temporaries(folder)), timeout=60)
    time.sleep(1.0)
    procs = cmd.descendants()
    t0 = time.monotonic()
    os.killpg(cmd.proc.pid, signal.SIGINT)                 # as the terminal does
    code, stdout, stderr = cmd.finish(timeout=60)
    return time.monotonic() - t0, code, stdout, stderr, procs


def _no_noise(stderr: str):
    for word in ("Traceback", "DeadKernelError", "Task exception was never retrieved", "zmq"):
        assert word not in stderr, stderr


def test_ctrl_c_stops_the_run_command_and_counts_what_finished(tmp_path):
    names = ["flowers_model_1", "flowers_model_2", "flowers_model_3"]
    cmd = _Command("run", "--only", ",".join(names), "--profile", "book", "--jobs", "1",
                   "--out", str(tmp_path), *SMALL)
    secs, code, stdout, stderr, procs = _interrupt_after_one(cmd, tmp_path / "book")
    assert code == 130, stdout + stderr
    assert secs < 10, f"{secs:.1f} s to stop"
    assert _dead(procs, 5), [p.pid for p in procs if p.is_running()]   # kernels too
    _no_noise(stderr)
    ok = [line for line in stdout.splitlines() if line.startswith("✓ ")]
    stopped = [line for line in stdout.splitlines() if line.startswith("! ")]
    assert ok and stopped and len(ok) + len(stopped) == 3, stdout
    assert all("interrupted" in line for line in stopped)
    assert f"done: {len(ok)} ok, 0 skipped, 0 failed, {len(stopped)} interrupted" in stdout
    index = json.loads((tmp_path / "book" / "index.json").read_text(encoding="utf-8"))
    outcome = {r["name"]: r["outcome"] for r in index["runs"]}
    assert sorted(n for n in names if outcome[n] == "ok") == sorted(
        line.split()[1].split("/")[1] for line in ok)
    assert not _temporaries(tmp_path / "book")
    for line in stopped:                                     # none of them is finished
        name = line.split()[1].split("/")[1]
        assert not is_finished(tmp_path / "book" / f"{name}.json")
        assert outcome[name] == "interrupted"


def test_ctrl_c_stops_the_study_command(tmp_path):
    cmd = _Command("study", "--only", "ablation", "--data-dir", "synthetic", "--max-samples",
                   "50", "--epochs-scale", "0.1", "--jobs", "1", "--out", str(tmp_path),
                   "--no-progress")
    folder = tmp_path / "ablation" / "book"
    secs, code, stdout, stderr, procs = _interrupt_after_one(cmd, folder)
    assert code == 130, stdout + stderr
    assert secs < 10, f"{secs:.1f} s to stop"
    assert _dead(procs, 5)
    _no_noise(stderr)
    n_ok = sum(line.startswith("✓ ") for line in stdout.splitlines())
    assert n_ok >= 1 and f"study done: {n_ok} ok, 0 skipped, 0 failed" in stdout, stdout
    assert "interrupted" in stdout.splitlines()[-1]
    assert not _temporaries(folder)


# ----------------------------------------------------------------------------- 3. lock
def test_second_command_on_the_same_folder_stops_at_once(tmp_path):
    with results_lock(tmp_path, command="test"):
        for args in (["run", *SMALL], ["run", *SMALL, "--scheduler", "tcp://127.0.0.1:9"],
                     ["study", "--only", "ablation", "--data-dir", "synthetic"]):
            t0 = time.monotonic()
            code, stdout, stderr = _cli(*args, "--out", str(tmp_path), timeout=60)
            assert code == 2, stdout + stderr
            assert time.monotonic() - t0 < 30
            assert f"pid {os.getpid()} on host {socket.gethostname()}" in stderr, stderr
            assert "in use" in stderr and "cannot reach" not in stderr
    assert not (tmp_path / LOCK_NAME).exists()
    with results_lock(tmp_path):
        with pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
            with results_lock(tmp_path):
                pass


def test_lock_of_a_dead_process_is_taken_over(tmp_path):
    code = ("import sys, time; from reglab.pipeline.lock import results_lock\n"
            "with results_lock(sys.argv[1], command='doomed'):\n"
            "    print('held', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    with pytest.raises(LockHeld, match=f"pid {proc.pid} on host"):
        with results_lock(tmp_path):
            pass
    proc.kill()
    proc.wait(10)
    warnings = []
    with results_lock(tmp_path, warn=warnings.append) as info:
        assert info["pid"] == os.getpid()
    assert len(warnings) == 1 and f"pid {proc.pid}" in warnings[0]
    assert "no longer runs" in warnings[0]


# ----------------------------------------------------------------------------- 4. strict JSON
def test_records_are_strict_json_and_readers_take_null(tmp_path, capsys):
    """13 photos leave no validation photo: the losses are NaN, stored as null."""
    from reglab.report.cli import warn_unreadable
    from reglab.report.records import load_report_data

    folder = tmp_path / "book"
    config = make_config("flowers_model_1", [10], profile="book", epochs=1,
                         resolution=(24, 24), max_samples=13, data_dir="synthetic")
    with contextlib.redirect_stdout(io.StringIO()):
        _, rec = execute_run(config, folder)
    text = (folder / "flowers_model_1.json").read_text(encoding="utf-8")

    def no_constants(name):
        raise ValueError(f"not JSON: {name}")

    strict = json.loads(text, parse_constant=no_constants)
    assert strict["history"][0]["val_loss"] is None
    # the runner: resume check, terminal line, index
    plan = plan_runs(select_specs("flowers_model_1"), ["book"], epochs=1, max_samples=13,
                     data_dir="synthetic", out=tmp_path)[0]
    assert plan.action == "run"
    assert "test n/a" in Outcome(plan, "ok", test_acc=None, train_seconds=1.0,
                                 wall_seconds=2.0).line()
    write_index(tmp_path, "book")
    # the report: the run is left out with the field named
    data = load_report_data(tmp_path, ["book"])
    entry = data.entry("book", "flowers_model_1")
    assert entry.status == "failed" and "history[0].val_loss is null" in entry.error
    assert warn_unreadable(tmp_path, profiles=["book"]) == 1
    assert "history[0].val_loss is null" in capsys.readouterr().err


# ----------------------------------------------------------------------------- 5. parameters
@pytest.mark.parametrize("name, value, wants", [
    ("epochs", 2.5, "whole number"), ("l2_decay", "abc", "a number"),
    ("batch_size", "10", "whole number"), ("resolution", [96, 9.5], "whole numbers"),
    ("hconfigs", "30,10", "a list")])
def test_make_config_names_a_wrong_typed_parameter(name, value, wants):
    kwargs = {"name": "m", "hconfigs": [30], name: value}
    with pytest.raises(TypeError, match=f"parameter {name} must be .*{wants}.*got"):
        make_config(**kwargs)


def test_wrong_typed_notebook_parameter_fails_before_training(tmp_path):
    import papermill as pm

    from reglab.pipeline.notebooks import execute_notebook

    with pytest.raises(pm.PapermillExecutionError) as err:
        execute_notebook(default_notebook(), tmp_path / "bad.ipynb",
                         {"epochs": 2.5, "max_samples": 50, "results_dir": "."}, cwd=tmp_path)
    assert err.value.ename == "TypeError"
    assert "parameter epochs must be a whole number (int), got 2.5" in err.value.evalue
    text = (tmp_path / "bad.ipynb").read_text(encoding="utf-8")
    assert "2.5 에폭" not in text
    assert not list(tmp_path.glob("*.json")) and not _temporaries(tmp_path)


# ----------------------------------------------------------------------------- 6. report
def _ok_record(name, profile, acc):
    return {"schema": 1, "status": "ok", "name": name, "profile": profile,
            "config": make_config(name, [10], profile=profile, epochs=1), "config_key": "0" * 16,
            "history": [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.4, "val_loss": 1.1,
                         "val_acc": 0.3}],
            "test_acc": acc, "train_seconds": 1.0,
            "near_zero": {"count": 1, "total": 10, "threshold": 1e-5},
            "weights": {"mu": 0.0, "sigma": 0.1}, "log": ""}


def test_report_names_an_unreadable_record_and_goes_on(tmp_path, monkeypatch, capsys):
    from reglab.report import cli, render
    from reglab.report.records import load_report_data

    runs = tmp_path / "runs"
    (runs / "book").mkdir(parents=True)
    for name, acc in (("flowers_model_1", 0.4), ("flowers_model_2", "abc")):
        (runs / "book" / f"{name}.json").write_text(json.dumps(_ok_record(name, "book", acc)),
                                                    encoding="utf-8")
    data = load_report_data(runs, ["book"])
    good, bad = data.entry("book", "flowers_model_1"), data.entry("book", "flowers_model_2")
    assert good.ok and good.test_acc == 0.4
    assert bad.status == "failed" and bad.test_acc is None
    assert "book/flowers_model_2.json" in bad.error and "test_acc" in bad.error
    assert str(tmp_path) not in bad.error                  # the report names no machine path

    def fake(runs_dir, out_dir, pdf, png, profiles, study_dir=None):
        from reglab.report.records import load_report_data as load
        [e.test_acc for e in load(runs_dir, ["book"]).ok_entries()]   # what the report does
        return render.ReportOutputs(notebook=Path(out_dir) / "r.ipynb",
                                    html=Path(out_dir) / "r.html", seconds={"total": 1.0})

    monkeypatch.setattr(render, "build_report", fake)
    assert cli.main(["--runs-dir", str(runs), "--out", str(tmp_path), "--no-pdf",
                     "--allow-missing"]) == 0
    err = capsys.readouterr().err
    assert str(runs / "book" / "flowers_model_2.json") in err
    assert "test_acc is 'abc', not a number" in err


# ----------------------------------------------------------------------------- 7. options
@pytest.mark.parametrize("args, option, wants", [
    (["run", "--epochs", "abc"], "--epochs", "wants a whole number of at least 1, got 'abc'"),
    (["run", "--jobs", "0"], "--jobs", "wants a whole number of at least 1, got 0"),
    (["run", "--max-samples", "-3"], "--max-samples", "wants a whole number of at least 0"),
    (["run", "--timeout", "soon"], "--timeout", "wants a number, got 'soon'"),
    (["study", "--jobs", "x"], "--jobs", "wants a whole number of at least 1, got 'x'"),
    (["study", "--epochs-scale", "0"], "--epochs-scale", "wants a number greater than 0"),
])
def test_cli_errors_name_the_option_and_what_it_wants(args, option, wants, capsys):
    from reglab.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: {wants}" in err, err
    assert "_int" not in err and "invalid" not in err


# ----------------------------------------------------------------------------- 8. kernel start
def _tiny_notebook(path: Path) -> Path:
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("answer = 6 * 7\nprint(answer)")]
    nbformat.write(nb, str(path))
    return path


@contextlib.contextmanager
def _taken_ports(monkeypatch, how_many: int):
    """Make the first ``how_many`` kernel starts get, as their first of five ports, one that
    another socket listens on; such a kernel dies with "Address already in use" before it
    answers (what happens when another process takes a port between jupyter_client's choice
    and the kernel's bind)."""
    from jupyter_client.connect import LocalPortCache

    holders = []
    for _ in range(how_many):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        holders.append(s)
    taken = [s.getsockname()[1] for s in holders]
    handed, calls = [], [0]
    real = LocalPortCache.find_available_port

    def find_available_port(self, ip):
        calls[0] += 1
        if taken and calls[0] % 5 == 1:          # a kernel start asks for five ports
            handed.append(taken.pop(0))
            return handed[-1]
        return real(self, ip)

    monkeypatch.setattr(LocalPortCache, "find_available_port", find_available_port)
    try:
        yield handed
    finally:
        for s in holders:
            s.close()


def test_a_kernel_that_dies_at_start_is_started_again(tmp_path, monkeypatch, capfd):
    from reglab.pipeline.notebooks import execute_notebook

    src = _tiny_notebook(tmp_path / "tiny.ipynb")
    with _taken_ports(monkeypatch, 1) as handed:
        nb = execute_notebook(src, tmp_path / "out.ipynb", cwd=tmp_path)
    assert len(handed) == 1                       # the first kernel did get the taken port
    err = capfd.readouterr().err
    assert "Address already in use" in err
    assert "tiny.ipynb: the kernel exited before it answered" in err and "(2/3)" in err
    assert nb.cells[0].outputs[0]["text"].strip() == "42"
    assert (tmp_path / "out.ipynb").is_file() and not _temporaries(tmp_path)


def test_kernel_start_is_tried_a_bounded_number_of_times(tmp_path, monkeypatch):
    from reglab.pipeline import notebooks

    monkeypatch.setattr(notebooks, "KERNEL_START_ATTEMPTS", 2)
    src = _tiny_notebook(tmp_path / "tiny.ipynb")
    with _taken_ports(monkeypatch, 2) as handed:
        with pytest.raises(RuntimeError, match="Kernel died before replying"):
            notebooks.execute_notebook(src, tmp_path / "out.ipynb", cwd=tmp_path)
    assert len(handed) == 2
