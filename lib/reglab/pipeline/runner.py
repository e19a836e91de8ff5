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
* **Photos.** ``--data-dir synthetic`` reaches the notebooks as ``"synthetic"`` (each kernel
  finds the cached synthetic set itself); any other photo folder (given, ``$FLOWERS_DIR`` or
  ``data/flowers``) is passed as the absolute folder the runner found, so that every notebook
  trains on the photos the runner's key was computed from.

The API (:func:`plan_runs`, :func:`execute_tasks`, :func:`write_index`) is what the command uses,
and what tests and the study reuse.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..paths import notebook_path, project_root
from . import experiments
from .executors import add_executor_arguments, executor_from_args, make_executor
from .experiments import RunSpec
from .record import (SCHEMA_VERSION, config_key, load_dataset, make_config, read_result,
                     result_path, write_json_atomic)
from .tasks import PROFILES, Outcome, Task, core_count, format_seconds, now

__all__ = ["PROFILES", "DEFAULT_EPOCHS", "RESOLUTION", "default_notebook", "default_out",
           "select_specs", "report_every", "data_argument", "plan_runs", "execute_tasks",
           "write_index", "add_run_parser", "run_command"]

DEFAULT_EPOCHS = 10
RESOLUTION = [96, 96]


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------
def default_notebook() -> Path:
    """``notebooks/train_model.ipynb`` of the project (FileNotFoundError outside a checkout)."""
    path = notebook_path("train_model.ipynb")
    if not path.is_file():
        raise FileNotFoundError(f"training notebook not found: {path} (run from a checkout of "
                                "the project, installed with `pip install -e .`)")
    return path


def default_out() -> Path:
    """``reports/runs`` under the project root (else under the current folder)."""
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
    ``"synthetic"`` is passed on as given; anything else becomes the absolute folder found.
    """
    from .notebooks import SYNTHETIC

    if dataset is None:
        dataset = load_dataset(make_config("probe", [], resolution=RESOLUTION,
                                           max_samples=max_samples, data_dir=data_dir))
    if data_dir is not None and str(data_dir) == SYNTHETIC:
        return SYNTHETIC, dataset
    return str(Path(dataset.path).absolute()), dataset


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
    p.add_argument("--profile", choices=[*PROFILES, "both"], default="both",
                   help="book: the book's code, exact: textbook math (default: %(default)s)")
    p.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                   help="notebooks run in parallel (default: number of cores, "
                   f"{core_count()} here)")
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
          f"in {format_seconds(time.perf_counter() - t0)} (wall)")
    if code:
        return code
    return 1 if counts["failed"] else 0
