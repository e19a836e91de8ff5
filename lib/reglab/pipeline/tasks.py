"""One training run as a task: what to run, how it went, and running it in this process.

A :class:`Task` is one run of the chapter under one profile: its config, its key (for resume),
its results folder and the training notebook to execute. :func:`run_task` executes the
notebook with papermill into ``<results_dir>/<name>.ipynb`` (written under a temporary name and
renamed into place when the kernel ends); the notebook writes ``<name>.npz`` and then
``<name>.json`` beside it (:func:`reglab.pipeline.record.execute_run`), and :func:`run_task`,
once the notebook is in place, rewrites the record with what only the runner knows (the
executed notebook, the wall time). Only such a record counts as finished for resume
(:func:`reglab.pipeline.record.is_finished`): a run killed at any point leaves either the
previous finished run or a record that the next run redoes. A run that fails gets a ``status: failed`` record instead (:func:`record_failure`). The
local pool and the Dask workers (:mod:`reglab.pipeline.executors`) both call :func:`run_task`;
the runner and the study (:mod:`reglab.pipeline.runner`, :mod:`reglab.pipeline.study`) plan the
tasks and hand them to an executor.

Paths in what a run writes are relative, so that the results folder can be committed and
moved: the record names its notebook and parameters by file name (relative to the record's
folder); the executed notebook runs with the results folder as its working folder and gets
``results_dir = "."``, and its papermill metadata names the source notebook relative to the
project root and itself by file name.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..fileio import write_json_atomic
from ..paths import project_root
from ..profile import PROFILES as _PROFILES
from .experiments import RunSpec
from .record import (SCHEMA_VERSION, is_finished, read_result, result_path, run_stem,
                     stored_config)

__all__ = ["PROFILES", "Task", "Outcome", "run_task", "failed_record", "record_failure",
           "core_count", "format_seconds", "now", "portable_path"]

#: The profile names, in the order the runner runs them.
PROFILES = tuple(_PROFILES)


def core_count() -> int:
    """The cores this process may use (its CPU affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                                   # not on Linux
        return os.cpu_count() or 1


def format_seconds(x) -> str:
    """``"42 s"`` or ``"3 min 05 s"`` (``"? s"`` for None)."""
    if x is None:
        return "? s"
    if x < 100:
        return f"{x:.0f} s"
    m, s = divmod(int(round(x)), 60)
    return f"{m} min {s:02d} s"


def now() -> str:
    """The current UTC time, ISO format, to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def portable_path(path) -> str:
    """``path`` relative to the project root when it lies under it (``notebooks/x.ipynb``),
    else its file name: a name for a file that means the same on every machine."""
    path = Path(path).absolute()
    root = project_root()
    if root is not None:
        try:
            return path.resolve().relative_to(root).as_posix()
        except ValueError:
            pass
    return path.name


# --------------------------------------------------------------------------------------------
# Tasks and outcomes
# --------------------------------------------------------------------------------------------
@dataclass
class Task:
    """One run to execute (or skip): a RunSpec under one profile, its config, key and paths.

    ``source`` is the training notebook to execute here; ``origin`` is how the executed
    notebook names it (default: :func:`portable_path` of ``source``), kept when a worker runs
    a copy of the notebook from a scratch folder.
    """

    profile: str
    spec: RunSpec
    config: dict
    key: str
    results_dir: Path
    source: Path                   # the training notebook (notebooks/train_model.ipynb)
    action: str = "run"            # "run" or "skip"
    reason: str = ""
    origin: str = ""

    def __post_init__(self):
        if not self.origin:
            self.origin = portable_path(self.source)

    @property
    def name(self) -> str:
        """File stem of the run (the model name, or the config's ``run_id``)."""
        return run_stem(self.config)

    @property
    def label(self) -> str:
        return f"{self.profile}/{self.name}"

    @property
    def json_path(self) -> Path:
        return result_path(self.results_dir, self.name)

    @property
    def notebook(self) -> Path:
        """The executed notebook."""
        return self.results_dir / f"{self.name}.ipynb"

    def mark(self, force: bool = False) -> "Task":
        """Decide ``run`` or ``skip`` from the result already on disk (resume)."""
        previous = read_result(self.json_path)
        if force:
            self.reason = "forced"
        elif previous is None:
            self.reason = "new"
        elif is_finished(self.json_path, self.key):
            self.action, self.reason = "skip", "finished, same config"
        elif previous.get("status") != "ok":
            self.reason = "failed before"
        elif previous.get("config_key") == self.key:
            self.reason = "unfinished (its notebook is missing or did not complete)"
        else:
            self.reason = "config changed"
        return self

    def parameters(self) -> dict:
        """The notebook's parameters for this run (it runs in its results folder: ``.``)."""
        c = self.config
        return {"name": c["name"], "hconfigs": c["hconfigs"], "l2_decay": c["l2_decay"],
                "l1_decay": c["l1_decay"], "profile": c["profile"], "epochs": c["epochs"],
                "batch_size": c["batch_size"], "learning_rate": c["learning_rate"],
                "report": c["report"], "seed": c["seed"], "data_dir": c["data_dir"],
                "resolution": c["resolution"], "results_dir": ".",
                "max_samples": c["max_samples"], "show_cnt": 0,
                "profile_changes": c.get("profile_changes", {}), "run_id": c.get("run_id", "")}

    def cost(self) -> float:
        """Expected relative cost (the seed report's seconds × epochs), longest runs first."""
        return float(self.spec.seed_report.get("train_secs", 0)) * self.config["epochs"]


@dataclass
class Outcome:
    """What happened to a task: ``ok``, ``failed``, ``skipped`` or ``interrupted`` (the command
    was stopped before the run finished; nothing of it was recorded)."""

    task: Task
    status: str
    test_acc: float | None = None
    train_seconds: float | None = None
    wall_seconds: float | None = None
    error: str | None = None

    def line(self) -> str:
        """The one terminal line for this run."""
        t = self.task
        if self.status == "ok":
            acc = "n/a" if self.test_acc is None else f"{self.test_acc:.3f}"
            return (f"✓ {t.label}  test {acc}  train "
                    f"{format_seconds(self.train_seconds)}  "
                    f"(notebook {format_seconds(self.wall_seconds)})")
        if self.status == "skipped":
            return f"- {t.label}  skipped (finished, same config)"
        if self.status == "interrupted":
            return f"! {t.label}  interrupted: not finished (the next run redoes it)"
        first = (self.error or "").splitlines()[0] if self.error else "unknown error"
        if len(first) > 160:
            first = first[:157] + "..."
        return f"✗ {t.label}  failed: {first}  (see {t.notebook})"


# --------------------------------------------------------------------------------------------
# Running one task here
# --------------------------------------------------------------------------------------------
def failed_record(task: Task, error: str, wall: float | None) -> dict:
    """The ``status: failed`` record of ``task`` (``notebook``: the executed copy, if any)."""
    return {"schema": SCHEMA_VERSION, "status": "failed", "name": task.name,
            "profile": task.profile, "config": stored_config(task.config), "config_key": task.key,
            "error": error, "notebook": task.notebook.name if task.notebook.exists() else None,
            "wall_seconds": wall, "finished_at": now()}


def record_failure(task: Task, error: str, wall: float | None) -> Outcome:
    """Write the failed record of ``task`` and return its ``failed`` outcome."""
    write_json_atomic(task.json_path, failed_record(task, error, wall))
    return Outcome(task, "failed", wall_seconds=wall, error=error)


def run_task(task: Task, timeout: float | None = None, tag: str | None = None) -> Outcome:
    """Execute one task's notebook (in this process) and record the outcome.

    ``tag`` marks the kernel for :func:`reglab.pipeline.notebooks.stop_kernels`; a run stopped
    that way raises :class:`reglab.pipeline.notebooks.RunStopped` and records nothing.
    """
    from .notebooks import RunStopped, execute_notebook, kernel_env, notebook_error

    task.results_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        execute_notebook(task.source, task.notebook, task.parameters(), cwd=task.results_dir,
                         timeout=timeout, env=kernel_env(),
                         paths_as=(task.origin, task.notebook.name), tag=tag)
    except RunStopped:
        raise
    except Exception as exc:                                  # noqa: BLE001 — recorded
        return record_failure(task, notebook_error(exc), time.perf_counter() - t0)
    wall = time.perf_counter() - t0
    rec = read_result(task.json_path)
    if rec is None or rec.get("status") != "ok":
        return record_failure(task, "RunnerError: the notebook finished without writing an ok "
                              f"result to {task.json_path.name}", wall)
    if rec.get("config_key") != task.key:
        return record_failure(task, f"RunnerError: the notebook's config_key "
                              f"{rec.get('config_key')} differs from the runner's {task.key} "
                              "(config built differently)", wall)
    rec["notebook"] = task.notebook.name
    rec["wall_seconds"] = wall
    write_json_atomic(task.json_path, rec)
    return Outcome(task, "ok", test_acc=rec.get("test_acc"),
                   train_seconds=rec.get("train_seconds"), wall_seconds=wall)
