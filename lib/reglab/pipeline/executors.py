"""Where the runner's notebooks run: a local process pool (default) or a Dask cluster.

:func:`reglab.pipeline.runner.execute_tasks` hands the tasks to run to an executor, which yields
``(index, Outcome)`` pairs as the runs finish. Both executors leave the same files in the same
places, so resume, the indexes, the reports and the failure handling do not depend on which one
ran the notebooks.

* :class:`LocalPoolExecutor` — a pool of ``jobs`` spawned processes on this machine, each
  running :func:`reglab.pipeline.tasks.run_task` (papermill) for one run at a time. The
  default.
* :class:`DaskExecutor` — each run is one task on a Dask cluster (``--scheduler
  tcp://HOST:PORT`` or ``$REGLAB_SCHEDULER``). The worker executes the training notebook, which
  is sent along with the task, in a scratch folder of its own (:mod:`reglab.pipeline.worker`)
  and returns the run's files (the JSON record, the ``.npz`` parameters and the executed
  notebook) to the client, which writes them into its results folder atomically
  (:mod:`reglab.fileio`), record last. With
  ``shared_out=True`` the workers write straight into the results folder instead, which must
  then be the same path on every machine (a shared file system).

Workers need the package (``pip install -e ".[cluster]"``) and the photos: at the same path as
on the client, or in ``$FLOWERS_DIR`` of the worker (the synthetic smoke-test photos are made on
a worker that lacks them). The run's ``config_key`` still has to match
(it hashes the decoded photos), so a worker with another photo set fails the run instead of
mixing results.

Failures on a cluster:

* A run that fails in its own code (a cell raises, a timeout) comes back as a normal ``failed``
  outcome with its executed notebook; Dask does not retry it.
* A worker that dies mid-run (killed, out of memory, machine gone): the scheduler gives the run
  to another worker; the terminal says so. The scheduler's ``allowed-failures`` setting
  (``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES``, Dask's default 3) bounds it: after that
  many lost workers the run is recorded as failed (``WorkerDied``) and the others go on.
* An error of the worker itself before or around the run (e.g. the package missing there) is
  retried ``retries`` times (default 1) by Dask, then recorded as failed.

Interrupted (KeyboardInterrupt, or the generator of :meth:`run` closed), an executor starts no
more runs and kills the kernels of the running ones: the pool's processes get SIGTERM (each
kills its kernel and removes its partial notebook), a cluster's workers are asked to kill the
kernels of this client's runs. Nothing of a stopped run is recorded.

``distributed`` is imported only when a scheduler is used.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sys
import time
import uuid
from pathlib import Path

from ..fileio import atomic_path, write_json_atomic
from .tasks import Outcome, Task, core_count, record_failure, run_task
from .worker import _check_worker, _localize_data, _stop_runs, run_on_worker  # noqa: F401

__all__ = ["SCHEDULER_ENV", "DaskExecutor", "LocalPoolExecutor", "add_executor_arguments",
           "executor_from_args", "make_executor", "run_on_worker"]

#: Environment variable with the default scheduler address of ``run`` and ``study``.
SCHEDULER_ENV = "REGLAB_SCHEDULER"

_INSTALL_HINT = ('install Dask distributed: pip install -e ".[cluster]" '
                 '(or pip install "distributed>=2024.8")')


def _worker_init() -> None:
    """Set up a pool process: one-thread BLAS; Ctrl-C is the parent's to handle (the terminal
    sends it to the whole process group); SIGTERM (from the parent, when interrupted) kills
    the running kernel, removes the partial notebook and ends the process at once."""
    import signal

    from .notebooks import kernel_env
    os.environ.update(kernel_env())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_stop)


def _worker_stop(signum, frame) -> None:                     # noqa: ARG001 — signal handler
    from .notebooks import remove_partial_outputs, stop_kernels
    stop_kernels()
    remove_partial_outputs()
    os._exit(128 + signum)


# --------------------------------------------------------------------------------------------
# Local process pool
# --------------------------------------------------------------------------------------------
class LocalPoolExecutor:
    """Runs on this machine, ``jobs`` notebooks at a time (spawned processes)."""

    kind = "local"

    def __init__(self, jobs: int | None = None):
        self.jobs = max(1, int(jobs or core_count()))

    def describe(self, n_run: int) -> str:
        return f"with {min(self.jobs, max(n_run, 1))} job(s)"

    def run(self, items, timeout=None, note=None):
        """Yield ``(index, Outcome)`` for each ``(index, task)`` of ``items`` as it finishes."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        items = list(items)
        if not items:
            return
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(self.jobs, len(items)), mp_context=ctx,
                                 initializer=_worker_init) as pool:
            futures = {pool.submit(run_task, task, timeout): (i, task)
                       for i, task in items}
            try:
                for fut in as_completed(futures):
                    i, task = futures[fut]
                    try:
                        outcome = fut.result()
                    except Exception as exc:                  # noqa: BLE001 — worker died
                        outcome = record_failure(task, f"{type(exc).__name__}: {exc}", None)
                    yield i, outcome
            except BaseException:                            # interrupted: stop everything
                # the pool's own thread cancels what has not started (cancelling here races
                # with it marking the futures of the stopped processes as failed)
                procs = list((getattr(pool, "_processes", None) or {}).values())
                pool.shutdown(wait=False, cancel_futures=True)
                _stop_processes(procs)
                raise

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _stop_processes(procs, wait: float = 5.0) -> None:
    """Stop a pool's processes: SIGTERM (each kills its kernel, :func:`_worker_stop`), then
    SIGKILL for any still there after ``wait`` seconds."""
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.terminate()
    deadline = time.monotonic() + wait
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()


# --------------------------------------------------------------------------------------------
# Dask cluster: the client side
# --------------------------------------------------------------------------------------------
def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise RuntimeError(f"--scheduler needs Dask distributed, which is not installed here "
                           f"({exc}); {_INSTALL_HINT}") from None
    return distributed


class DaskExecutor:
    """Runs each task as one Dask task on the cluster at ``address`` (``tcp://HOST:PORT``).

    ``client`` may be an existing ``distributed.Client`` (then ``address`` is only for
    messages and the client is not closed here). ``retries`` bounds Dask's retries of a task
    that raised on the worker (not of runs that failed by themselves, which return normally;
    not of lost workers, which the scheduler's ``allowed-failures`` bounds).
    """

    kind = "dask"

    def __init__(self, address: str | None = None, *, client=None, shared_out: bool = False,
                 retries: int = 1, connect_timeout: float = 20, wait_workers: float = 60):
        distributed = _import_distributed()
        self.shared_out = bool(shared_out)
        self.retries = int(retries)
        self._events: queue.Queue = queue.Queue()
        self._own = client is None
        if client is None:
            if not address:
                raise ValueError("a scheduler address is needed (tcp://HOST:PORT)")
            try:
                client = distributed.Client(address, timeout=connect_timeout,
                                            set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise RuntimeError(f"cannot reach the Dask scheduler at {address}: {exc} (is "
                                   f"`dask scheduler` running there?)") from None
        self.client = client
        self.address = address or client.scheduler.address
        try:
            self.client.wait_for_workers(1, timeout=wait_workers)
        except (TimeoutError, OSError):
            self.close()
            raise RuntimeError(f"no Dask worker joined {self.address} within {wait_workers:.0f} s "
                               f"(start some with `dask worker {self.address} --nthreads 1`)"
                               ) from None
        self.allowed_failures = self._allowed_failures()
        self.client.subscribe_topic("all", self._events.put)

    # -- information -------------------------------------------------------------------------
    def _allowed_failures(self) -> int | None:
        try:
            # a lambda is pickled by value: the scheduler needs no reglab
            return int(self.client.run_on_scheduler(
                lambda dask_scheduler: dask_scheduler.allowed_failures))
        except Exception:                                     # noqa: BLE001 — only for messages
            return None

    def workers(self) -> dict:
        try:
            info = self.client.scheduler_info(n_workers=-1)
        except TypeError:                                    # distributed before 2025
            info = self.client.scheduler_info()
        return info.get("workers", {})

    def describe(self, n_run: int) -> str:
        ws = self.workers()
        hosts = {w.get("host") for w in ws.values()}
        threads = sum(int(w.get("nthreads", 1)) for w in ws.values())
        return (f"on the Dask cluster {self.address} ({len(ws)} worker(s) on {len(hosts)} "
                f"host(s), {threads} thread(s))")

    def check_workers(self, data_dir, note) -> None:
        """Warn about workers without the package or without the photos."""
        try:
            answers = self.client.run(_check_worker, data_dir, on_error="return")
        except Exception as exc:                              # noqa: BLE001 — a warning only
            note(f"⚠ could not check the workers: {type(exc).__name__}: {exc}")
            return
        from .. import __version__
        for addr, info in sorted(answers.items()):
            if isinstance(info, BaseException):
                hint = (f"; {_INSTALL_HINT.replace('Dask distributed', 'reglab')}"
                        if isinstance(info, ImportError) else "")
                note(f"⚠ worker {addr}: {type(info).__name__}: {info}{hint}")
            elif info.get("photos") is None:
                note(f"⚠ worker {addr} ({info.get('host')}): no photos at {data_dir} and no "
                     "$FLOWERS_DIR; its runs will fail")
            elif info.get("reglab") != __version__:
                note(f"⚠ worker {addr}: reglab {info.get('reglab')} (here {__version__})")

    # -- running -----------------------------------------------------------------------------
    def run(self, items, timeout=None, note=None):
        """Submit every ``(index, task)``; yield ``(index, Outcome)`` as runs come back."""
        note = note or (lambda msg: print(msg, file=sys.stderr))
        items = list(items)
        if not items:
            return
        self.check_workers(items[0][1].config.get("data_dir"), note)
        notebooks: dict[Path, bytes] = {}
        futures = {}
        token = uuid.uuid4().hex[:8]
        for rank, (i, task) in enumerate(items):
            if self.shared_out:
                task.results_dir.mkdir(parents=True, exist_ok=True)
            src = Path(task.source)
            if src not in notebooks:
                notebooks[src] = src.read_bytes()
            key = f"reglab-run-{task.label}-{token}"
            fut = self.client.submit(run_on_worker, task, notebooks[src], timeout,
                                     self.shared_out, key, key=key, retries=self.retries,
                                     priority=len(items) - rank, pure=False)
            futures[fut.key] = (i, task, fut)
        pending = [f for _, _, f in futures.values()]
        deaths: dict[str, int] = {}
        try:
            while pending:
                done = [f for f in pending if f.done()]
                pending = [f for f in pending if not f.done()] if done else pending
                self._report_events(futures, deaths, note)
                for fut in done:
                    i, task, _ = futures[fut.key]
                    yield i, self._collect(fut, task, deaths.get(fut.key, 0))
                    fut.release()
                if not done:
                    time.sleep(0.2)
            self._report_events(futures, deaths, note)
        except BaseException:                            # interrupted: stop our runs
            self.client.cancel(list(pending))
            with contextlib.suppress(Exception):
                self.client.run(_stop_runs, [f.key for f in pending], wait=True)
            raise

    def _report_events(self, futures, deaths, note) -> None:
        """Terminal lines for workers lost while running our tasks."""
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return
            msg = event[1] if isinstance(event, tuple) and len(event) == 2 else event
            if not isinstance(msg, dict) or msg.get("action") != "remove-worker":
                continue
            ours = [k for k in msg.get("processing-tasks", ()) if k in futures]
            for key in ours:
                task = futures[key][1]
                if msg.get("expected"):
                    note(f"↻ {task.label}: worker {msg.get('worker')} left; the run goes back "
                         "to the queue")
                    continue
                deaths[key] = deaths.get(key, 0) + 1
                n, allowed = deaths[key], self.allowed_failures
                if allowed is None:
                    what = "Dask retries it on another worker (bounded by the scheduler)"
                elif n <= allowed:
                    what = f"retrying on another worker ({n} of {allowed} allowed losses)"
                else:
                    what = f"giving up after {n} lost workers"
                note(f"⚠ {task.label}: worker {msg.get('worker')} died during the run; {what}")

    def _collect(self, fut, task: Task, deaths: int) -> Outcome:
        """The outcome of a finished future; writes the run's files (record last)."""
        if fut.status == "finished":
            try:
                result = fut.result()
            except Exception as exc:                          # noqa: BLE001 — recorded
                return record_failure(task, f"{type(exc).__name__}: {exc}", None)
            if not result.get("in_place"):
                return self._store(task, result)
            return Outcome(task, result["status"], test_acc=result["test_acc"],
                           train_seconds=result["train_seconds"],
                           wall_seconds=result["wall_seconds"], error=result["error"])
        if fut.status == "cancelled":
            return record_failure(task, "Cancelled: the cluster dropped the run (scheduler lost "
                                  "or restarted?)", None)
        exc = fut.exception()
        name = type(exc).__name__
        if name == "KilledWorker":
            n = max(deaths, (self.allowed_failures or 0) + 1)
            return record_failure(task, f"WorkerDied: {n} workers died while running it "
                                  f"(Dask allows {self.allowed_failures}): {exc}", None)
        hint = ""
        if isinstance(exc, ImportError) and "reglab" in str(exc):
            hint = (" (the worker lacks the package: "
                    f"{_INSTALL_HINT.replace('Dask distributed', 'reglab')})")
        return record_failure(task, f"{name}: {exc}{hint}", None)

    def _store(self, task: Task, result: dict) -> Outcome:
        files = dict(result.get("files") or {})
        record = files.pop(f"{task.name}.json", None)
        for name, data in files.items():
            with atomic_path(task.results_dir / name) as tmp:
                tmp.write_bytes(data)
        if record is None:
            return record_failure(task, result.get("error") or "RunnerError: the worker sent "
                                  "no result record", result.get("wall_seconds"))
        rec = json.loads(record)
        rec["worker"] = {"address": result.get("worker"), "host": result.get("host")}
        write_json_atomic(task.json_path, rec)
        return Outcome(task, result["status"], test_acc=result["test_acc"],
                       train_seconds=result["train_seconds"],
                       wall_seconds=result["wall_seconds"], error=result["error"])

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):              # closing anyway
                self.client.unsubscribe_topic("all")
            if self._own:
                self.client.close()
            self.client = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_executor(scheduler: str | None = None, jobs: int | None = None,
                  shared_out: bool = False):
    """A :class:`DaskExecutor` for ``scheduler`` (``tcp://HOST:PORT``), else a local pool."""
    if scheduler:
        return DaskExecutor(scheduler, shared_out=shared_out)
    return LocalPoolExecutor(jobs)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------
def add_executor_arguments(parser) -> None:
    """``--scheduler`` and ``--shared-out`` for ``run`` and ``study``."""
    default = os.environ.get(SCHEDULER_ENV) or None
    parser.add_argument("--scheduler", default=default, metavar="tcp://HOST:PORT",
                        help="run each notebook as a task on this Dask cluster instead of the "
                        f"local pool (default: ${SCHEDULER_ENV}, now "
                        f"{default or 'unset: local pool'}); workers need the package and the "
                        "photos (same path or $FLOWERS_DIR)")
    parser.add_argument("--shared-out", action="store_true",
                        help="with --scheduler: the workers write into the results folder "
                        "themselves (it must be the same path on every machine); default: "
                        "they send the files back here")


def executor_from_args(args, n_run: int):
    """The executor for a parsed ``run``/``study`` command line (the local pool when nothing
    is to run). Raises RuntimeError (cluster unreachable, distributed missing)."""
    if getattr(args, "scheduler", None) and n_run:
        if getattr(args, "jobs", None):
            print("  note: --jobs is ignored with --scheduler (the workers' threads decide)")
        return DaskExecutor(args.scheduler, shared_out=getattr(args, "shared_out", False))
    return LocalPoolExecutor(getattr(args, "jobs", None))
