"""``python -m reglab study``: the chapter's questions answered with repeated runs.

Three studies, each a set of executed training notebooks run through the same runner as
``python -m reglab run`` (parallel, resumable, failures recorded) into ``reports/study/``:

* **seeds** — the seven runs with 5 seeds (``SEEDS``) in both profiles, 10 epochs:
  ``seeds/<profile>/<name>__seed<k>.json``. The spread of test accuracy and of the final
  train/validation gap tells which differences one run can resolve.
* **long** — the seven runs at 40 epochs in the exact profile with 3 seeds:
  ``long/exact/<name>__seed<k>.json``. Where validation loss turns up, and whether the
  regularized models overtake the plain ones with more epochs (the seed report's hypothesis).
* **ablation** — from the book profile, one switch flipped at a time (``ABLATIONS``), for the
  models the switch affects, seed 1234: ``ablation/book/<name>__<switch>.json``. Compared with
  the book-profile runs of the seeds study (same seed 1234), it shows which quirk causes what.

Order: the ablation first (short), then the seeds, then the long runs, so an interrupted study
still has its cheapest answers; a rerun skips what is finished. As for ``run``, the command holds
the lock of its results folder, and Ctrl-C stops the runs, counts what finished and exits
with 130.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..fileio import write_json_atomic
from ..paths import project_root
from . import experiments
from .executors import add_executor_arguments, executor_from_args
from .lock import LockHeld, results_lock
from .record import (config_key, is_finished, make_config, read_result, result_path,
                     stored_config)
from .runner import (RESOLUTION, clean_results, count_outcomes, data_argument, default_notebook,
                     default_out, execute_tasks, ignoring_sigint, nonneg_int, positive_float,
                     positive_int, report_every)
from .tasks import PROFILES, Task, core_count, format_seconds

__all__ = ["SEEDS", "LONG_SEEDS", "LONG_EPOCHS", "ABLATIONS", "Ablation", "STUDIES",
           "default_study_out", "plan_study", "reuse_finished", "add_study_parser",
           "study_command"]

SEEDS = (1234, 1, 2, 3, 4)          # 1234 is the seed of the chapter's runs
LONG_SEEDS = (1234, 1, 2)
LONG_EPOCHS = 40
STUDIES = ("ablation", "seeds", "long")


@dataclass(frozen=True)
class Ablation:
    """One switch: the profile fields it flips away from the book and the runs it can affect."""

    key: str
    errata: str
    label: str                       # Korean, for the report
    changes: dict
    runs: tuple

    def specs(self):
        return [experiments.get_run(n) for n in self.runs]


_ALL = tuple(r.name for r in experiments.CHAPTER8_RUNS)
ABLATIONS = (
    Ablation("input_scale", "E8", "입력 0–1 정규화 (/255)", {"input_scale": 1 / 255}, _ALL),
    Ablation("decay", "E1/E2/E3", "λ를 곱한 비용과 Adam 앞의 감쇠 기울기",
             {"reg_cost_scaled": True, "decay_placement": "gradient"},
             ("flowers_model_2", "flowers_model_3")),
    Ablation("bn_backward", "E4", "완전한 배치 정규화 역전파와 Adam으로 갱신하는 scale/shift",
             {"bn_backward": "full", "bn_affine_update": "optimizer"}, ("flowers_cnn_4",)),
    Ablation("bn_running", "E5", "수렴하는 이동 통계 (momentum 0.9, 불편 분산, ε=1e-5)",
             {"bn_exp_ratio": 0.1, "bn_running_var": "unbiased", "bn_epsilon": 1e-5},
             ("flowers_cnn_4",)),
    Ablation("noise_decision", "E7", "잡음 여부를 샘플마다 결정", {"noise_decision": "sample"},
             ("flowers_cnn_3",)),
    Ablation("validation", "E9", "검증 데이터 전체로 검증", {"validation_samples": 0},
             ("flowers_model_1", "flowers_cnn_1", "flowers_cnn_4")),
)


def default_study_out() -> Path:
    """``reports/study`` under the project root (else under the current folder)."""
    return (project_root() or Path.cwd()) / "reports" / "study"


def _variants(studies):
    """(study, spec, profile, seed, epochs, changes, run_id) for every run of the studies."""
    out = []
    for study in STUDIES:
        if study not in studies:
            continue
        if study == "ablation":
            for ab in ABLATIONS:
                for spec in ab.specs():
                    out.append((study, spec, "book", 1234, 10, ab.changes,
                                f"{spec.name}__{ab.key}"))
        elif study == "seeds":
            for seed in SEEDS:
                for profile in PROFILES:
                    for spec in experiments.CHAPTER8_RUNS:
                        out.append((study, spec, profile, seed, 10, None,
                                    f"{spec.name}__seed{seed}"))
        elif study == "long":
            for seed in LONG_SEEDS:
                for spec in experiments.CHAPTER8_RUNS:
                    out.append((study, spec, "exact", seed, LONG_EPOCHS, None,
                                f"{spec.name}__seed{seed}"))
    return out


def plan_study(studies=STUDIES, out=None, data_dir=None, max_samples=0, epochs_scale=1.0,
               force=False, notebook=None, dataset=None) -> list[Task]:
    """Tasks for the chosen studies, each marked ``run`` or ``skip`` (resume).

    ``epochs_scale`` shrinks every run's epochs (at least 1) for quick tests of the machinery;
    ``data_dir``, ``dataset``: as for :func:`reglab.pipeline.runner.plan_runs`.
    """
    unknown = set(studies) - set(STUDIES)
    if unknown:
        raise ValueError(f"unknown study {sorted(unknown)}; known: {', '.join(STUDIES)}")
    out = Path(out if out is not None else default_study_out()).absolute()
    source = Path(notebook if notebook is not None else default_notebook()).absolute()
    data_arg, dataset = data_argument(data_dir, max_samples, dataset)
    tasks = []
    for study, spec, profile, seed, epochs, changes, run_id in _variants(studies):
        epochs = max(1, round(epochs * epochs_scale))
        config = make_config(**spec.model_kwargs(), profile=profile, epochs=epochs, seed=seed,
                             resolution=RESOLUTION, max_samples=max_samples, data_dir=data_arg,
                             report=report_every(epochs), profile_changes=changes,
                             run_id=run_id)
        key = config_key(config, dataset.fingerprint)
        tasks.append(Task(profile, spec, config, key, out / study / profile, source).mark(force))
    return tasks


def _relative(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` (POSIX separators)."""
    return Path(os.path.relpath(Path(path).absolute(), Path(folder).absolute())).as_posix()


def reuse_finished(tasks, runs_out=None) -> int:
    """Copy finished chapter runs (``reports/runs/<profile>/<name>.json``) with the same key
    into the study instead of running them again (seed 1234 at 10 epochs is both a chapter run
    and a study run). The copy's ``reused_from`` is the chapter record's path, and its
    ``notebook`` and ``params_file`` the chapter run's files, relative to the copy's folder.
    Returns how many tasks were satisfied that way."""
    runs_out = Path(runs_out if runs_out is not None else default_out())
    n = 0
    for t in tasks:
        if t.action != "run":
            continue
        src = result_path(runs_out / t.profile, t.spec.name)
        if is_finished(src, t.key):
            rec = read_result(src)
            here = t.json_path.parent
            rec["config"] = stored_config(t.config)
            rec["reused_from"] = _relative(src, here)
            for field in ("notebook", "params_file"):
                if rec.get(field):
                    rec[field] = _relative(src.parent / rec[field], here)
            write_json_atomic(t.json_path, rec)
            t.action, t.reason = "skip", f"same run as {src}"
            n += 1
    return n


def add_study_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "study", help="repeated runs: seeds, 40 epochs, one-switch ablation of the book quirks",
        description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--only", default=",".join(STUDIES), metavar="STUDY[,STUDY]",
                   help=f"which studies (default: all: {', '.join(STUDIES)})")
    p.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                   help=f"notebooks in parallel (default: number of cores, {core_count()})")
    p.add_argument("--force", action="store_true", help="rerun finished runs too")
    p.add_argument("--data-dir", default=None, metavar="PATH",
                   help="photo folder (default: $FLOWERS_DIR, then data/flowers, then the user "
                   "data folder's flowers)")
    p.add_argument("--max-samples", type=nonneg_int, default=0, metavar="N",
                   help="class-stratified subset of N photos (quick tests)")
    p.add_argument("--epochs-scale", type=positive_float, default=1.0, metavar="F",
                   help="multiply every run's epochs by F (quick tests; default 1)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="results folder (default: reports/study of the checkout, or of the "
                   "current folder when reglab is installed from a wheel)")
    p.add_argument("--no-progress", action="store_true", help="no overall progress bar")
    add_executor_arguments(p)
    p.set_defaults(func=study_command)
    return p


def study_command(args) -> int:
    """Plan and execute the studies; prints the wall time; 1 if any run failed, 2 if the
    results folder is in use (or a bad study name, an unusable cluster), 130 if interrupted."""
    out = Path(args.out if args.out is not None else default_study_out()).absolute()
    try:
        with results_lock(out, command="reglab study"):
            return _study_locked(args, out)
    except LockHeld as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _study_locked(args, out: Path) -> int:
    from .notebooks import ensure_kernel

    t0 = time.perf_counter()
    studies = [s.strip() for s in args.only.split(",") if s.strip()]
    outcomes = []
    code = 0
    try:
        try:
            tasks = plan_study(studies, out=out, data_dir=args.data_dir,
                               max_samples=args.max_samples, epochs_scale=args.epochs_scale,
                               force=args.force)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        clean_results(sorted({t.results_dir for t in tasks}))
        ensure_kernel()
        reused = 0 if args.force else reuse_finished(tasks)
        n_run = sum(t.action == "run" for t in tasks)
        if reused:
            print(f"  {reused} runs reused from the chapter's runs (same config and data)")
        try:
            executor = executor_from_args(args, n_run)
        except (RuntimeError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"reglab study: {', '.join(studies)}: {len(tasks)} runs, {n_run} to execute "
              f"({len(tasks) - n_run} finished before) {executor.describe(n_run)}")
        sys.stdout.flush()
        # keep the planned order (ablation, seeds, long) rather than longest-first
        with executor:
            for study in STUDIES:
                part = [t for t in tasks if t.results_dir.parent.name == study]
                if part:
                    outcomes += execute_tasks(part, progress=not args.no_progress,
                                              executor=executor)
                if any(o.status == "interrupted" for o in outcomes):
                    break
    except KeyboardInterrupt:
        code = 130
    with ignoring_sigint():
        counts = count_outcomes(outcomes)
        if counts["interrupted"]:
            code = 130
        if code:
            print(f"interrupted: {counts['interrupted']} run(s) not finished; run the same "
                  "command again to finish them" if counts["interrupted"] else "interrupted",
                  file=sys.stderr)
        print(f"study done: {counts['ok']} ok, {counts['skipped']} skipped, {counts['failed']} "
              "failed" + (f", {counts['interrupted']} interrupted" if counts["interrupted"]
                          else "")
              + f" in {format_seconds(time.perf_counter() - t0)} (wall)")
    return code or (1 if counts["failed"] else 0)
