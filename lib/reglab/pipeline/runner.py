"""``python -m reglab run``: the chapter's seven runs, each one an executed training notebook.

Every run is ``notebooks/train_model.ipynb`` executed by papermill with that run's parameters,
in its own process (a pool of ``--jobs`` workers), into ``<out>/<profile>/<name>.ipynb``. The
notebook's :func:`reglab.pipeline.record.execute_run` writes ``<name>.json`` and ``<name>.npz``
beside it. With ``--scheduler tcp://HOST:PORT`` (or ``$REGLAB_SCHEDULER``) each run is a task on
a Dask cluster instead, and its files come back here (:mod:`reglab.pipeline.executors`);
nothing below changes.

* **Resume.** Before launching, each run's config and key are computed exactly as the notebook
  will (:func:`reglab.pipeline.record.make_config`, the fingerprint of
  :func:`reglab.pipeline.record.load_dataset`); a run whose ``<name>.json`` has ``status: ok``
  and the same ``config_key`` is skipped (``force`` reruns it). Failed runs are always retried.
* **Failures.** A notebook that raises keeps its executed copy (with the error) and gets a
  ``status: failed`` record; the other runs go on, and the command exits with 1.
* **Records.** The runner adds ``notebook`` (file name of the executed notebook, beside the
  record) and ``wall_seconds`` (the notebook's wall time) to each ok record
  (:func:`reglab.pipeline.tasks.run_task`), and writes ``<out>/<profile>/index.json``
  summarising all runs of that profile.
* **Interruptions.** The command holds the lock of its results folder
  (:mod:`reglab.pipeline.lock`; a second command there stops at once) and first removes the
  temporary files a killed run left. Ctrl-C stops the runs and their kernels, counts what
  finished, prints one line per unfinished run, rewrites the indexes and exits with 130.
* **Photos.** ``--data-dir synthetic`` reaches the notebooks as ``"synthetic"`` (each kernel
  finds the cached synthetic set itself); any other photo folder (given, ``$FLOWERS_DIR`` or
  ``data/flowers``) is passed as the absolute folder the runner found, so that every notebook
  trains on the photos the runner's key was computed from.

The API (:func:`plan_runs`, :func:`execute_tasks`, :func:`write_index`) is what the command uses,
and what tests and the study reuse.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from pathlib import Path

from ..fileio import remove_stale_temporaries
from ..paths import notebook_path, project_root, relative_to_root
from . import experiments
from .executors import add_executor_arguments, executor_from_args, make_executor
from .lock import LockHeld, results_lock
from .experiments import RunSpec
from .record import (SCHEMA_VERSION, config_key, is_finished, load_dataset, make_config,
                     read_result, result_path, write_json_atomic)
from .tasks import PROFILES, Outcome, Task, core_count, format_seconds, now

__all__ = ["PROFILES", "DEFAULT_EPOCHS", "RESOLUTION", "default_notebook", "default_out",
           "select_specs", "report_every", "data_argument", "plan_runs", "execute_tasks",
           "write_index", "add_run_parser", "run_command", "count_outcomes", "clean_results",
           "positive_int", "nonneg_int", "any_int", "positive_float", "ignoring_sigint"]

DEFAULT_EPOCHS = 10
RESOLUTION = [96, 96]


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------
def default_notebook() -> Path:
    """``train_model.ipynb``: the checkout's ``notebooks/``, else the installed package's copy
    (:func:`reglab.paths.notebook_path`); FileNotFoundError if it is missing."""
    path = notebook_path("train_model.ipynb")
    if not path.is_file():
        raise FileNotFoundError(f"training notebook not found: {path} (the installed package "
                                "lacks its notebooks: reinstall reglab)")
    return path


def default_out() -> Path:
    """``reports/runs`` under the project root in a checkout, else under the current folder."""
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


def report_every(epochs: int) -> int:
    """The epoch-line interval of a run: every 2nd epoch, as the book printed (1 for 1 epoch)."""
    return 2 if epochs >= 2 else 1


def data_argument(data_dir=None, max_samples: int = 0, dataset=None):
    """``(data_dir for the notebooks, dataset)`` for the command's ``--data-dir``.

    ``data_dir``: None or "" for FlowersDataset's lookup ($FLOWERS_DIR, then data/flowers),
    ``"synthetic"`` for the smoke-test photos, or a path. The dataset is loaded here (from the
    uint8 cache when there is one) unless given, for its fingerprint and its folder.
    ``"synthetic"`` is passed on as given; anything else becomes the folder found, relative to
    the project root where it lies in or beside the checkout
    (:func:`reglab.paths.relative_to_root`), so the executed notebooks name no machine's folder.
    """
    from .notebooks import SYNTHETIC

    if dataset is None:
        dataset = load_dataset(make_config("probe", [], resolution=RESOLUTION,
                                           max_samples=max_samples, data_dir=data_dir))
    if data_dir is not None and str(data_dir) == SYNTHETIC:
        return SYNTHETIC, dataset
    return relative_to_root(Path(dataset.path).absolute()), dataset


def plan_runs(specs, profiles=PROFILES, *, epochs: int = DEFAULT_EPOCHS, max_samples: int = 0,
              data_dir=None, out=None, seed: int = 1234, force: bool = False, notebook=None,
              dataset=None) -> list[Task]:
    """Build the tasks: one per (profile, spec), each marked ``run`` or ``skip``.

    ``data_dir`` and ``dataset``: see :func:`data_argument`; ``notebook``: the training
    notebook (default :func:`default_notebook`); ``out``: the results folder (default
    :func:`default_out`), one sub-folder per profile.
    """
    out = Path(out if out is not None else default_out()).absolute()
    source = Path(notebook if notebook is not None else default_notebook()).absolute()
    data_arg, dataset = data_argument(data_dir, max_samples, dataset)
    tasks = []
    for profile in profiles:
        for spec in specs:
            config = make_config(**spec.model_kwargs(), profile=profile, epochs=epochs,
                                 seed=seed, resolution=RESOLUTION, max_samples=max_samples,
                                 data_dir=data_arg, report=report_every(epochs))
            key = config_key(config, dataset.fingerprint)
            tasks.append(Task(profile, spec, config, key, out / profile, source).mark(force))
    return tasks


# --------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------
def execute_tasks(tasks, jobs: int | None = None, progress: bool = True, stream=None,
                  timeout: float | None = None, executor=None,
                  scheduler: str | None = None) -> list[Outcome]:
    """Run the ``run`` tasks; skip the others.

    Where they run: ``executor`` (a :mod:`reglab.pipeline.executors` executor, left open),
    else a Dask cluster if ``scheduler`` (``tcp://HOST:PORT``) is given, else a local pool of
    ``jobs`` processes. Prints one line per finished task (and the cluster's notes) to ``stream``
    (default stdout) and, if ``progress``, an overall tqdm bar on stderr. Returns the outcomes
    in the order of ``tasks``.

    Ctrl-C (KeyboardInterrupt) stops the executor: no run is started any more, the running
    kernels are killed, and every task without an outcome gets an ``interrupted`` one (and its
    line); the outcomes are returned as usual.
    """
    from tqdm import tqdm

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

    own = runs = None
    started = time.time()
    try:
        for i, t in enumerate(tasks):
            if t.action == "skip":
                done(i, Outcome(t, "skipped"))
        todo = sorted((i for i, t in enumerate(tasks) if t.action != "skip"),
                      key=lambda i: -tasks[i].cost())
        if todo:
            if executor is None:
                executor = own = make_executor(scheduler, jobs=jobs)
            runs = executor.run([(i, tasks[i]) for i in todo], timeout, note)
            for i, outcome in runs:
                done(i, outcome)
    except KeyboardInterrupt:
        with ignoring_sigint():
            if runs is not None:
                runs.close()                   # the executor stops its runs and kernels
            for i, t in enumerate(tasks):
                if i not in results:
                    done(i, _finished_meanwhile(t, started) or Outcome(t, "interrupted"))
    finally:
        with ignoring_sigint():
            if own is not None:
                own.close()
            bar.close()
    return [results[i] for i in sorted(results)]


def _finished_meanwhile(task: Task, since: float) -> Outcome | None:
    """The ``ok`` outcome of a run that finished on disk (after ``since``) without its outcome
    reaching the executor before an interruption; None otherwise."""
    try:
        fresh = task.json_path.stat().st_mtime >= since
    except OSError:
        return None
    if not fresh or not is_finished(task.json_path, task.key):
        return None
    rec = read_result(task.json_path) or {}
    return Outcome(task, "ok", test_acc=rec.get("test_acc"),
                   train_seconds=rec.get("train_seconds"), wall_seconds=rec.get("wall_seconds"))


@contextlib.contextmanager
def ignoring_sigint():
    """Ignore Ctrl-C for the block (a second one while stopping), where signals can be set."""
    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:                                       # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def write_index(out, profile: str, specs=None, outcomes=()) -> Path:
    """Write ``<out>/<profile>/index.json``: every run's status from its ``<name>.json``.

    ``specs`` defaults to the chapter's seven runs; runs in ``outcomes`` are added if missing.
    Each entry: name, status (ok / failed / missing, or unfinished: an ok record whose executed
    notebook is missing or incomplete, left by a killed run), test_acc, train_seconds, wall_seconds,
    epochs, config_key, and ``outcome`` of this invocation (ran ok / failed / skipped / null).
    """
    folder = Path(out) / profile
    names = [s.name for s in (experiments.CHAPTER8_RUNS if specs is None else specs)]
    this = {o.task.name: o.status for o in outcomes if o.task.profile == profile}
    names += [n for n in this if n not in names]
    runs = []
    for name in names:
        rec = read_result(result_path(folder, name)) or {}
        status = rec.get("status", "missing")
        if status == "ok" and not is_finished(result_path(folder, name)):
            status = "unfinished"
        runs.append({"name": name, "status": status,
                     "test_acc": rec.get("test_acc"), "train_seconds": rec.get("train_seconds"),
                     "wall_seconds": rec.get("wall_seconds"),
                     "epochs": (rec.get("config") or {}).get("epochs"),
                     "config_key": rec.get("config_key"), "error": rec.get("error"),
                     "outcome": this.get(name)})
    path = folder / "index.json"
    write_json_atomic(path, {"schema": SCHEMA_VERSION, "profile": profile, "updated_at": now(),
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


def _whole_number(value: str, least: int, wanted: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants {wanted}, got {value!r}") from None
    if n < least:
        raise argparse.ArgumentTypeError(f"wants {wanted}, got {n}")
    return n


def positive_int(value: str) -> int:
    """argparse type: a whole number >= 1 (the error names what the option wants)."""
    return _whole_number(value, 1, "a whole number of at least 1")


def nonneg_int(value: str) -> int:
    """argparse type: a whole number >= 0."""
    return _whole_number(value, 0, "a whole number of at least 0")


def any_int(value: str) -> int:
    """argparse type: a whole number."""
    return _whole_number(value, -2**63, "a whole number")


def positive_float(value: str) -> float:
    """argparse type: a number > 0."""
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants a number, got {value!r}") from None
    if not x > 0 or x == float("inf"):
        raise argparse.ArgumentTypeError(f"wants a number greater than 0, got {value}")
    return x


def clean_results(folders, stream=None) -> int:
    """Remove the temporary files that killed runs left in ``folders`` (call it while holding
    the results lock); prints one line if there were any; returns how many."""
    n = sum(len(remove_stale_temporaries(f)) for f in folders)
    if n:
        print(f"  removed {n} temporary file(s) left by an interrupted run",
              file=stream if stream is not None else sys.stdout)
    return n


def add_run_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``run`` on an argparse ``subparsers`` object (sets ``func``)."""
    p = subparsers.add_parser(
        "run", help="train the chapter's seven runs (one executed notebook each)",
        description="Execute notebooks/train_model.ipynb once per run of chapter 8 with "
        "papermill, into <out>/<profile>/<name>.ipynb with <name>.json and <name>.npz. "
        "Finished runs with the same config are skipped; failed ones are retried.")
    p.add_argument("--profile", choices=[*PROFILES, "both"], default="both",
                   help="book: the book's code, exact: textbook math (default: %(default)s)")
    p.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                   help="notebooks run in parallel (default: number of cores, "
                   f"{core_count()} here)")
    p.add_argument("--only", type=_only_type, default=None, metavar="NAME[,NAME]",
                   help="only these runs (default: all seven: "
                   + ", ".join(s.name for s in experiments.CHAPTER8_RUNS) + ")")
    p.add_argument("--force", action="store_true", help="rerun finished runs too")
    p.add_argument("--epochs", type=positive_int, default=DEFAULT_EPOCHS, metavar="N",
                   help="epochs per run (default: %(default)s, as in the book)")
    p.add_argument("--max-samples", type=nonneg_int, default=0, metavar="N",
                   help="use a class-stratified subset of N photos (default: 0 = all)")
    p.add_argument("--data-dir", default=None, metavar="PATH",
                   help="photo folder (default: $FLOWERS_DIR, data/flowers, the user data folder's "
                   "flowers); 'synthetic' "
                   "for a small synthetic smoke-test set")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="results folder (default: reports/runs of the checkout, or of the "
                   "current folder when reglab is installed from a wheel)")
    p.add_argument("--seed", type=any_int, default=1234, help="model seed (default: %(default)s)")
    p.add_argument("--timeout", type=positive_float, default=None, metavar="SECS",
                   help="per-cell timeout of the notebooks (default: none)")
    p.add_argument("--no-progress", action="store_true", help="no overall progress bar")
    add_executor_arguments(p)
    p.set_defaults(func=run_command)
    return p


def run_command(args) -> int:
    """``python -m reglab run``: plan, execute, write the indexes; 1 if any run failed, 2 if
    the results folder is in use or the cluster cannot be used, 130 if interrupted."""
    out = Path(args.out if args.out is not None else default_out()).absolute()
    try:
        with results_lock(out, command="reglab run"):
            return _run_locked(args, out)
    except LockHeld as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run_locked(args, out: Path) -> int:
    from .notebooks import ensure_kernel

    t0 = time.perf_counter()
    profiles = list(PROFILES) if args.profile == "both" else [args.profile]
    specs = select_specs(args.only)
    outcomes: list[Outcome] = []
    code = 0
    try:
        clean_results([out / p for p in profiles])
        ensure_kernel()
        tasks = plan_runs(specs, profiles, epochs=args.epochs, max_samples=args.max_samples,
                          data_dir=args.data_dir, out=out, seed=args.seed, force=args.force)
        n_run = sum(t.action == "run" for t in tasks)
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
        with executor:
            outcomes = execute_tasks(tasks, progress=not args.no_progress,
                                     timeout=args.timeout, executor=executor)
    except KeyboardInterrupt:
        code = 130
    with ignoring_sigint():
        for profile in profiles:
            write_index(out, profile, specs=None, outcomes=outcomes)
        counts = count_outcomes(outcomes)
        if counts["interrupted"]:
            code = 130
        if code:
            print(f"interrupted: {counts['interrupted']} run(s) not finished; run the same "
                  "command again to finish them" if counts["interrupted"] else "interrupted",
                  file=sys.stderr)
        print(f"done: {counts['ok']} ok, {counts['skipped']} skipped, {counts['failed']} failed"
              + (f", {counts['interrupted']} interrupted" if counts["interrupted"] else "")
              + f" in {format_seconds(time.perf_counter() - t0)} (wall)")
    if code:
        return code
    return 1 if counts["failed"] else 0


def count_outcomes(outcomes) -> dict[str, int]:
    """``{status: number}`` for ok, skipped, failed and interrupted."""
    return {s: sum(o.status == s for o in outcomes)
            for s in ("ok", "skipped", "failed", "interrupted")}
