"""The Dask worker side of :class:`reglab.pipeline.executors.DaskExecutor`.

:func:`run_on_worker` runs one task on a worker (the training notebook comes with the task as
bytes) and returns the outcome and the run's files; :func:`_check_worker` answers the client's
questions about a worker before it sends runs; :func:`_stop_runs` kills the kernels of runs of
an interrupted client. Only the package is needed on a worker (no checkout).
"""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

from ..paths import from_root
from .notebooks import SYNTHETIC
from .tasks import Task, record_failure, run_task

__all__ = ["run_on_worker"]

_KERNEL_CHECKED = False


def _localize_data(config: dict) -> str | None:
    """Point ``config["data_dir"]`` at the photos on this worker; an error message if none."""
    path = config.get("data_dir")
    if not path or path == SYNTHETIC or from_root(path).is_dir():
        return None       # "synthetic": the kernel makes the same set in this worker's cache
    env = os.environ.get("FLOWERS_DIR", "")
    if env and Path(env).is_dir():
        config["data_dir"] = str(Path(env).absolute())
        return None
    return (f"PhotosNotFound: no photo folder {path} on worker host {socket.gethostname()} and "
            "no $FLOWERS_DIR there (put the photos at the same path on every worker, or start "
            "the worker with FLOWERS_DIR set)")


def _undo_nanny_malloc_env() -> None:
    """Keep Dask's malloc setting away from the kernels this worker starts.

    The nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (``distributed.nanny.
    pre-spawn-environ``) so that they give memory back to the system. Inherited by a kernel,
    it makes glibc map and unmap every large numpy array: training took twice as long as in
    the local pool. The worker itself already read it; only its children are affected.
    """
    try:
        import dask
        pre = dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {}
    except Exception:                                        # noqa: BLE001 — not under Dask
        return
    for k, v in pre.items():
        if k.startswith("MALLOC_") and os.environ.get(k) == str(v):
            del os.environ[k]


def _worker_address() -> tuple[str, Path | None]:
    try:
        from distributed import get_worker
        w = get_worker()
        return w.address, Path(w.local_directory)
    except (ImportError, ValueError):
        return "", None


def run_on_worker(task: Task, notebook: bytes, timeout: float | None = None,
                  shared_out: bool = False, tag: str | None = None) -> dict:
    """Run one task where this is called (a Dask worker) and return what the client needs.

    The training notebook comes as bytes (workers need no checkout). Without ``shared_out`` the
    run writes into a scratch folder and its files come back in ``files`` (name -> bytes);
    with it, the run writes into ``task.results_dir`` itself (``in_place``), which must exist
    here already (the client makes it): a worker without the shared folder must not make a
    local one. A failing run is a ``failed`` outcome, never an exception, so Dask does not
    retry it. ``tag`` names the run's kernel for :func:`_stop_runs` (an interrupted client).
    """
    global _KERNEL_CHECKED
    import tempfile

    from .notebooks import ensure_kernel

    address, scratch = _worker_address()
    if not _KERNEL_CHECKED:
        ensure_kernel()
        _KERNEL_CHECKED = True
    _undo_nanny_malloc_env()
    with tempfile.TemporaryDirectory(prefix="reglab-run-", dir=scratch) as tmp:
        tmp = Path(tmp)
        source = tmp / "train_model.ipynb"
        source.write_bytes(notebook)
        config = dict(task.config)
        problem = _localize_data(config)
        if shared_out and not task.results_dir.is_dir():
            problem = (f"SharedOutMissing: the results folder {task.results_dir} is not on "
                       f"worker host {socket.gethostname()} (--shared-out needs a folder that "
                       "every machine sees at the same path)")
        in_place = shared_out and not problem        # a failure record of a setup problem
        results = task.results_dir if in_place else tmp / "results"   # comes back as a file
        here = dataclasses.replace(task, config=config, results_dir=results, source=source)
        if problem:
            outcome = record_failure(here, problem, None)
        else:
            outcome = run_task(here, timeout, tag=tag)
        files = {}
        if not in_place:
            for p in sorted(results.iterdir()):
                if p.is_file() and p.name.startswith(task.name + "."):
                    files[p.name] = p.read_bytes()
    return {"status": outcome.status, "test_acc": outcome.test_acc,
            "train_seconds": outcome.train_seconds, "wall_seconds": outcome.wall_seconds,
            "error": outcome.error, "files": files, "in_place": in_place, "worker": address,
            "host": socket.gethostname()}


def _stop_runs(tags) -> int:
    """Kill the kernels of the runs tagged ``tags`` on this worker (the client was
    interrupted); their tasks then end without recording anything."""
    from .notebooks import stop_kernels
    return stop_kernels(set(tags))


def _check_worker(data_dir: str | None) -> dict:
    """What the client wants to know about a worker before sending it runs."""
    from .. import __version__
    env = os.environ.get("FLOWERS_DIR", "")
    if data_dir == SYNTHETIC:
        photos = "synthetic"
    elif not data_dir or Path(data_dir).is_dir():
        photos = "same path"
    else:
        photos = "FLOWERS_DIR" if env and Path(env).is_dir() else None
    return {"reglab": __version__, "host": socket.gethostname(), "photos": photos}
