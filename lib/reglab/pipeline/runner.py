"""``python -m reglab run``: the chapter's seven runs, each one an executed training notebook.

Every run is ``notebooks/train_model.ipynb`` executed by papermill with that run's parameters,
in its own process (a pool of ``--jobs`` workers), into ``<out>/<profile>/<name>.ipynb``. The
notebook's :func:`reglab.runs.execute_run` writes ``<name>.json`` and ``<name>.npz`` beside it.
With ``--scheduler tcp://HOST:PORT`` (or ``$REGLAB_SCHEDULER``) each run is a task on a Dask
cluster instead, and its files come back here (:mod:`reglab.executors`); nothing below changes.

* **Resume.** Before launching, each run's config and key are computed exactly as the notebook
  will (:func:`reglab.runs.make_config`, :func:`reglab.runs.load_dataset`'s fingerprint); a run
  whose ``<name>.json`` has ``status: ok`` and the same ``config_key`` is skipped (``force``
  reruns it). Failed runs are always retried.
* **Failures.** A notebook that raises keeps its executed copy (with the error) and gets a
  ``status: failed`` record; the other runs go on, and the command exits with 1.
* **Records.** The runner adds ``notebook`` (path of the executed notebook) and
  ``wall_seconds`` (the notebook's wall time) to each ok record, and writes
  ``<out>/<profile>/index.json`` summarising all runs of that profile.

The API (:func:`plan_runs`, :func:`execute_tasks`, :func:`write_index`) is what the command uses,
and what tests and later commands can reuse.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import experiments
from .experiments import RunSpec
from .record import (SCHEMA_VERSION, config_key, is_finished, load_dataset, make_config,
                   read_result, result_path, run_stem, write_json_atomic)

__all__ = ["Task", "Outcome", "PROFILES", "DEFAULT_EPOCHS", "default_notebook", "default_out",
           "select_specs", "plan_runs", "execute_tasks", "run_task", "write_index",
           "add_run_parser", "run_command"]

PROFILES = ("book", "exact")
DEFAULT_EPOCHS = 10
RESOLUTION = [96, 96]


# --------------------------------------------------------------------------------------------
# Tasks and outcomes
# --------------------------------------------------------------------------------------------
@dataclass
class Task:
    """One run to execute (or skip): a RunSpec under one profile, its config, key and paths."""

    profile: str
    spec: RunSpec
    config: dict
    key: str
    results_dir: Path
    source: Path                   # the training notebook (notebooks/train_model.ipynb)
    action: str = "run"            # "run" or "skip"
    reason: str = ""

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
        else:
            self.reason = "config changed"
        return self

    def parameters(self) -> dict:
        """The notebook's parameters for this run."""
        c = self.config
        return {"name": c["name"], "hconfigs": c["hconfigs"], "l2_decay": c["l2_decay"],
                "l1_decay": c["l1_decay"], "profile": c["profile"], "epochs": c["epochs"],
                "batch_size": c["batch_size"], "learning_rate": c["learning_rate"],
                "report": c["report"], "seed": c["seed"], "data_dir": c["data_dir"],
                "resolution": c["resolution"], "results_dir": str(self.results_dir),
                "max_samples": c["max_samples"], "show_cnt": 0,
                "profile_changes": c.get("profile_changes", {}), "run_id": c.get("run_id", "")}

    def cost(self) -> float:
        """Expected relative cost (the seed report's seconds × epochs), longest runs first."""
        return float(self.spec.seed_report.get("train_secs", 0)) * self.config["epochs"]


@dataclass
class Outcome:
    """What happened to a task: ``ok``, ``failed`` or ``skipped``."""

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
            return (f"✓ {t.label}  test {self.test_acc:.3f}  train {_secs(self.train_seconds)}  "
                    f"(notebook {_secs(self.wall_seconds)})")
        if self.status == "skipped":
            return f"- {t.label}  skipped (finished, same config)"
        first = (self.error or "").splitlines()[0] if self.error else "unknown error"
        if len(first) > 160:
            first = first[:157] + "..."
        return f"✗ {t.label}  failed: {first}  (see {t.notebook})"


def _secs(x) -> str:
    if x is None:
        return "? s"
    if x < 100:
        return f"{x:.0f} s"
    m, s = divmod(int(round(x)), 60)
    return f"{m} min {s:02d} s"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------
def default_notebook() -> Path:
    """``notebooks/train_model.ipynb`` of the project."""
    from ..paths import project_root
    root = project_root()
    path = (root or Path.cwd()) / "notebooks" / "train_model.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"training notebook not found: {path} (run from a checkout of "
                                "the project, installed with `pip install -e .`)")
    return path


def default_out() -> Path:
    """``reports/runs`` under the project root (else under the current folder)."""
    from ..paths import project_root
    return (project_root() or Path.cwd()) / "reports" / "runs"


def select_specs(only=None, specs=None) -> list[RunSpec]:
    """The runs named in ``only`` (names or a comma-separated string), in the chapter's order.

    Raises ValueError naming the unknown runs and listing the known ones.
    """
    specs = list(experiments.CHAPTER8_RUNS if specs is None else specs)
    if not only:
        return specs
    if isinstance(only, str):
        only = only.split(",")
    names = [n.strip() for n in only if n.strip()]
    known = [s.name for s in specs]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"unknown run name(s): {', '.join(unknown) or '(none given)'}; "
                         f"known runs: {', '.join(known)}")
    return [s for s in specs if s.name in names]


def _report_every(epochs: int) -> int:
    return 2 if epochs >= 2 else 1          # the book printed every 2nd epoch


def plan_runs(specs, profiles=PROFILES, *, epochs: int = DEFAULT_EPOCHS, max_samples: int = 0,
              data_dir=None, out=None, seed: int = 1234, force: bool = False, notebook=None,
              dataset=None) -> list[Task]:
    """Build the tasks: one per (profile, spec), each marked ``run`` or ``skip``.

    ``data_dir``: None or "" for FlowersDataset's lookup ($FLOWERS_DIR, then data/flowers),
    ``"synthetic"`` for the smoke-test photos, or a path. The dataset is loaded once here (from
    the uint8 cache when there is one) for its fingerprint and resolved folder; the notebooks
    get that folder as an absolute path.
    """
    from .notebooks import resolve_data_dir

    out = Path(out if out is not None else default_out()).absolute()
    source = Path(notebook if notebook is not None else default_notebook()).absolute()
    if dataset is None:
        probe = make_config("probe", [], resolution=RESOLUTION, max_samples=max_samples,
                            data_dir=resolve_data_dir(data_dir))
        dataset = load_dataset(probe)
    data_path = str(Path(dataset.path).absolute())
    tasks = []
    for profile in profiles:
        for spec in specs:
            config = make_config(**spec.model_kwargs(), profile=profile, epochs=epochs,
                                 seed=seed, resolution=RESOLUTION, max_samples=max_samples,
                                 data_dir=data_path, report=_report_every(epochs))
            key = config_key(config, dataset.fingerprint)
            tasks.append(Task(profile, spec, config, key, out / profile, source).mark(force))
    return tasks


# --------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------
def _failed_record(task: Task, error: str, wall: float | None) -> dict:
    return {"schema": SCHEMA_VERSION, "status": "failed", "name": task.name,
            "profile": task.profile, "config": task.config, "config_key": task.key,
            "error": error, "notebook": str(task.notebook) if task.notebook.exists() else None,
            "wall_seconds": wall, "finished_at": _now()}


def _fail(task: Task, error: str, wall: float | None) -> Outcome:
    write_json_atomic(task.json_path, _failed_record(task, error, wall))
    return Outcome(task, "failed", wall_seconds=wall, error=error)


def run_task(task: Task, timeout: float | None = None) -> Outcome:
    """Execute one task's notebook (in this process) and record the outcome."""
    from .notebooks import execute_notebook, kernel_env, notebook_error

    task.results_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        execute_notebook(task.source, task.notebook, task.parameters(), cwd=task.results_dir,
                         timeout=timeout, env=kernel_env())
    except Exception as exc:                                  # noqa: BLE001 — recorded
        return _fail(task, notebook_error(exc), time.perf_counter() - t0)
    wall = time.perf_counter() - t0
    rec = read_result(task.json_path)
    if rec is None or rec.get("status") != "ok":
        return _fail(task, "RunnerError: the notebook finished without writing an ok result "
                     f"to {task.json_path}", wall)
    if rec.get("config_key") != task.key:
        return _fail(task, f"RunnerError: the notebook's config_key {rec.get('config_key')} "
                     f"differs from the runner's {task.key} (config built differently)", wall)
    rec["notebook"] = str(task.notebook)
    rec["wall_seconds"] = wall
    write_json_atomic(task.json_path, rec)
    return Outcome(task, "ok", test_acc=rec.get("test_acc"),
                   train_seconds=rec.get("train_seconds"), wall_seconds=wall)


def _default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def execute_tasks(tasks, jobs: int | None = None, progress: bool = True, stream=None,
                  timeout: float | None = None, executor=None,
                  scheduler: str | None = None) -> list[Outcome]:
    """Run the ``run`` tasks; skip the others.

    Where they run: ``executor`` (a :mod:`reglab.executors` executor, left open), else a Dask
    cluster if ``scheduler`` (``tcp://HOST:PORT``) is given, else a local pool of ``jobs``
    processes. Prints one line per finished task (and the cluster's notes) to ``stream``
    (default stdout) and, if ``progress``, an overall tqdm bar on stderr. Returns the outcomes
    in the order of ``tasks``.
    """
    from tqdm import tqdm

    from .executors import make_executor

    stream = stream if stream is not None else sys.stdout
    results: dict[int, Outcome] = {}
    bar = tqdm(total=len(tasks), desc="runs", unit="run", file=sys.stderr,
               disable=not progress or not tasks, dynamic_ncols=True)

    def note(msg):
        tqdm.write(msg, file=stream)
        stream.flush()

    def done(i, outcome):
        results[i] = outcome
        note(outcome.line())
        bar.update(1)

    own = None
    try:
        for i, t in enumerate(tasks):
            if t.action == "skip":
                done(i, Outcome(t, "skipped"))
        todo = sorted((i for i, t in enumerate(tasks) if t.action != "skip"),
                      key=lambda i: -tasks[i].cost())
        if todo:
            if executor is None:
                executor = own = make_executor(scheduler, jobs=jobs)
            for i, outcome in executor.run([(i, tasks[i]) for i in todo], timeout, note):
                done(i, outcome)
    finally:
        if own is not None:
            own.close()
        bar.close()
    return [results[i] for i in sorted(results)]


def write_index(out, profile: str, specs=None, outcomes=()) -> Path:
    """Write ``<out>/<profile>/index.json``: every run's status from its ``<name>.json``.

    ``specs`` defaults to the chapter's seven runs; runs in ``outcomes`` are added if missing.
    Each entry: name, status (ok / failed / missing), test_acc, train_seconds, wall_seconds,
    epochs, config_key, and ``outcome`` of this invocation (ran ok / failed / skipped / null).
    """
    folder = Path(out) / profile
    names = [s.name for s in (experiments.CHAPTER8_RUNS if specs is None else specs)]
    this = {o.task.name: o.status for o in outcomes if o.task.profile == profile}
    names += [n for n in this if n not in names]
    runs = []
    for name in names:
        rec = read_result(result_path(folder, name)) or {}
        runs.append({"name": name, "status": rec.get("status", "missing"),
                     "test_acc": rec.get("test_acc"), "train_seconds": rec.get("train_seconds"),
                     "wall_seconds": rec.get("wall_seconds"),
                     "epochs": (rec.get("config") or {}).get("epochs"),
                     "config_key": rec.get("config_key"), "error": rec.get("error"),
                     "outcome": this.get(name)})
    path = folder / "index.json"
    write_json_atomic(path, {"schema": SCHEMA_VERSION, "profile": profile, "updated_at": _now(),
                             "runs": runs})
    return path


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------
def _only_type(value: str) -> list[str]:
    try:
        return [s.name for s in select_specs(value)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def _nonneg_int(value: str) -> int:
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def add_run_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``run`` on an argparse ``subparsers`` object (sets ``func``)."""
    p = subparsers.add_parser(
        "run", help="train the chapter's seven runs (one executed notebook each)",
        description="Execute notebooks/train_model.ipynb once per run of chapter 8 with "
        "papermill, into <out>/<profile>/<name>.ipynb with <name>.json and <name>.npz. "
        "Finished runs with the same config are skipped; failed ones are retried.")
    p.add_argument("--profile", choices=["book", "exact", "both"], default="both",
                   help="book: the book's code, exact: textbook math (default: %(default)s)")
    p.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                   help="notebooks run in parallel (default: number of cores, "
                   f"{_default_jobs()} here)")
    p.add_argument("--only", type=_only_type, default=None, metavar="NAME[,NAME]",
                   help="only these runs (default: all seven: "
                   + ", ".join(s.name for s in experiments.CHAPTER8_RUNS) + ")")
    p.add_argument("--force", action="store_true", help="rerun finished runs too")
    p.add_argument("--epochs", type=_positive_int, default=DEFAULT_EPOCHS, metavar="N",
                   help="epochs per run (default: %(default)s, as in the book)")
    p.add_argument("--max-samples", type=_nonneg_int, default=0, metavar="N",
                   help="use a class-stratified subset of N photos (default: 0 = all)")
    p.add_argument("--data-dir", default=None, metavar="PATH",
                   help="photo folder (default: $FLOWERS_DIR, then data/flowers); 'synthetic' "
                   "for a small synthetic smoke-test set")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="results folder (default: reports/runs under the project root)")
    p.add_argument("--seed", type=int, default=1234, help="model seed (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECS",
                   help="per-cell timeout of the notebooks (default: none)")
    p.add_argument("--no-progress", action="store_true", help="no overall progress bar")
    from .executors import add_executor_arguments
    add_executor_arguments(p)
    p.set_defaults(func=run_command)
    return p


def run_command(args) -> int:
    """``python -m reglab run``: plan, execute, write the indexes; 1 if any run failed."""
    from .notebooks import ensure_kernel

    t0 = time.perf_counter()
    profiles = list(PROFILES) if args.profile == "both" else [args.profile]
    specs = select_specs(args.only)
    out = Path(args.out if args.out is not None else default_out()).absolute()
    ensure_kernel()
    tasks = plan_runs(specs, profiles, epochs=args.epochs, max_samples=args.max_samples,
                      data_dir=args.data_dir, out=out, seed=args.seed, force=args.force)
    n_run = sum(t.action == "run" for t in tasks)
    from .executors import executor_from_args
    try:
        executor = executor_from_args(args, n_run)
    except (RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"reglab run: {len(tasks)} runs ({', '.join(profiles)}; {args.epochs} epochs), "
          f"{n_run} to execute {executor.describe(n_run)}")
    if tasks:
        print(f"  photos: {tasks[0].config['data_dir']}")
    print(f"  output: {out}")
    sys.stdout.flush()
    outcomes: list[Outcome] = []
    code = 0
    try:
        with executor:
            outcomes = execute_tasks(tasks, progress=not args.no_progress,
                                     timeout=args.timeout, executor=executor)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    for profile in profiles:
        write_index(out, profile, specs=None, outcomes=outcomes)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "skipped", "failed")}
    print(f"done: {counts['ok']} ok, {counts['skipped']} skipped, {counts['failed']} failed "
          f"in {_secs(time.perf_counter() - t0)} (wall)")
    if code:
        return code
    return 1 if counts["failed"] else 0
