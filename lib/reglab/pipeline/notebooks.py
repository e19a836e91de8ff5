"""Notebook helpers shared by the training notebook, the runner and the tests.

* :func:`resolve_data_dir` — the notebooks' ``data_dir`` parameter: ``"synthetic"`` (a small
  synthetic photo folder, made once in the cache folder), ``""`` (FlowersDataset's own lookup) or
  a path.
* :func:`ensure_kernel` — make sure the ``python3`` kernel runs this interpreter.
* :func:`execute_notebook` — papermill with the project's settings: kernel ``python3``, an explicit
  working folder, no progress bar, no cell log, a quiet kernel manager, and (on request) the
  notebook's own paths written into its metadata in a form that does not name this machine.
  papermill writes into a temporary file beside the target, which is renamed into place when
  the execution ends (also when a cell failed), so a killed run never leaves a half-executed
  notebook under the run's name.
* :func:`run_papermill` — papermill with the quiet kernel manager, starting the kernel again
  when it dies before its first reply (a TCP port taken by another process meanwhile).
* :func:`stop_kernels` — kill the kernels this process started (an interrupted command), so
  that the running executions end at once, without writing their notebooks.
* :func:`strip_outputs`, :func:`parameters_cell_index` — notebook hygiene.

papermill and nbformat are imported only inside the functions that need them (``import nbformat``
alone takes about 1.5 s).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path

from ..paths import from_root

__all__ = ["KERNEL_NAME", "SYNTHETIC", "synthetic_flowers_dir", "resolve_data_dir",
           "ensure_kernel", "execute_notebook", "notebook_error", "strip_outputs",
           "parameters_cell_index", "kernel_env", "RunStopped", "stop_kernels",
           "remove_partial_outputs", "quiet_kernel_manager", "run_papermill",
           "KERNEL_START_ATTEMPTS"]

KERNEL_NAME = "python3"
#: The ``data_dir`` value that selects the synthetic smoke-test photos.
SYNTHETIC = "synthetic"
#: Size of the synthetic set: 5 classes x 20 photos -> split 80 / 5 / 15.
SYNTHETIC_PER_CLASS = 20
_SYNTHETIC_VERSION = 1


# --------------------------------------------------------------------------------------------
# Data folder
# --------------------------------------------------------------------------------------------
def synthetic_flowers_dir(root=None) -> Path:
    """A small synthetic photo folder (5 classes x 20 photos), made once and reused.

    It lives in ``root`` (default: the image cache folder, ``$REGLAB_CACHE_DIR`` or
    ``~/.cache/reglab``), as ``synthetic-flowers-v1/flowers``. It is written into a temporary
    folder and renamed into place, so concurrent notebooks never see a half-written set.
    """
    from ..data.synthetic import cached_synthetic_flowers
    return cached_synthetic_flowers(f"synthetic-flowers-v{_SYNTHETIC_VERSION}",
                                    SYNTHETIC_PER_CLASS, seed=0, root=root)


def resolve_data_dir(value) -> str | None:
    """Turn a ``data_dir`` parameter into what :class:`FlowersDataset` takes as ``path``.

    ``"synthetic"`` gives the synthetic folder (:func:`synthetic_flowers_dir`); ``""`` or None
    gives None (FlowersDataset looks in ``$FLOWERS_DIR``, then ``data/flowers``); anything else
    is a path; a relative one is taken from the project root, as records store it
    (:func:`reglab.paths.from_root`).
    """
    if value is None or str(value).strip() == "":
        return None
    if str(value) == SYNTHETIC:
        return str(synthetic_flowers_dir())
    return str(from_root(Path(value).expanduser()).absolute())


# --------------------------------------------------------------------------------------------
# Kernel
# --------------------------------------------------------------------------------------------
def _same_interpreter(argv0: str) -> bool:
    if argv0 in ("python", "python3"):       # jupyter_client swaps these for sys.executable
        return True
    try:
        return Path(argv0).exists() and os.path.samefile(argv0, sys.executable)
    except OSError:
        return False


def ensure_kernel(kernel_name: str = KERNEL_NAME) -> str:
    """Check that the kernel ``kernel_name`` runs this Python; install it if needed.

    ipykernel's wheel installs ``<venv>/share/jupyter/kernels/python3`` with ``argv[0] ==
    "python"``, which jupyter_client replaces by ``sys.executable``: that is the normal case.
    If the spec found points at another interpreter (e.g. a user-wide kernel of another Python),
    a spec for this interpreter is written with ``ipykernel install --sys-prefix``; if a spec
    earlier on the Jupyter path still wins, RuntimeError explains what to do.

    Returns the resource folder of the spec used.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    def find():
        try:
            return KernelSpecManager().get_kernel_spec(kernel_name)
        except NoSuchKernel:
            return None

    spec = find()
    if spec is not None and spec.argv and _same_interpreter(spec.argv[0]):
        return spec.resource_dir
    if kernel_name == KERNEL_NAME:
        from ipykernel.kernelspec import install
        install(prefix=sys.prefix, kernel_name=kernel_name)
        spec = find()
        if spec is not None and spec.argv and _same_interpreter(spec.argv[0]):
            return spec.resource_dir
    found = "none" if spec is None else f"{spec.resource_dir} runs {spec.argv[0]}"
    raise RuntimeError(f"the Jupyter kernel {kernel_name!r} does not run {sys.executable} "
                       f"(found: {found}); remove that kernel spec or run "
                       f"`{sys.executable} -m ipykernel install --sys-prefix --name {kernel_name}`")


class RunStopped(Exception):
    """The execution ended because :func:`stop_kernels` killed its kernel."""


#: Kernels started by this process and still running: pid -> tag (see :func:`stop_kernels`).
_KERNELS: dict[int, str | None] = {}
#: Temporary output notebooks being written by this process.
_PARTIAL: set[Path] = set()
_LOCK = threading.Lock()
_STOPPED_AT = [-1.0]


def stop_kernels(tags=None) -> int:
    """Kill the kernels this process started (those started with one of ``tags``, if given) and
    mark executions begun before now as stopped; returns how many kernels were killed.

    Safe in a signal handler. An execution whose kernel is killed this way raises
    :class:`RunStopped` and leaves no notebook (:func:`execute_notebook`).
    """
    _STOPPED_AT[0] = time.monotonic()
    n = 0
    for pid, tag in list(_KERNELS.items()):
        if tags is not None and tag not in tags:
            continue
        for kill in (os.killpg, os.kill):                    # the kernel leads its own group
            try:
                kill(pid, signal.SIGKILL)
                n += 1
                break
            except (ProcessLookupError, PermissionError, OSError):
                continue
    return n


def remove_partial_outputs() -> None:
    """Remove the temporary notebooks this process is writing (safe in a signal handler)."""
    for path in list(_PARTIAL):
        with contextlib.suppress(OSError):
            path.unlink()


def quiet_kernel_manager(tag: str | None = None):
    """AsyncKernelManager without the kernel's two stderr messages of every run.

    * It encrypts the kernel's sockets when it can (jupyter_client 8.10+); otherwise ipykernel
      7.4 prints "Kernel is running over TCP without encryption" on every start.
    * It does not send SIGINT while shutting an idle kernel down (jupyter_client does so before
      the shutdown request, and ipykernel may log "KeyboardInterrupt caught in kernel"). A busy
      kernel is still terminated after the manager's ``shutdown_wait_time``.

    The kernels it starts are known to :func:`stop_kernels` (with ``tag``) while they run.
    """
    from jupyter_client.manager import AsyncKernelManager

    encrypt = "transport_encryption" in AsyncKernelManager.class_trait_names()

    class QuietKernelManager(AsyncKernelManager):
        def __init__(self, *args, **kwargs):
            if encrypt:
                kwargs.setdefault("transport_encryption", "auto")
            super().__init__(*args, **kwargs)

        async def _async_post_start_kernel(self, **kw):
            pid = getattr(self.provisioner, "pid", None)
            if pid:
                self._reglab_pid = pid
                _KERNELS[pid] = tag
            await super()._async_post_start_kernel(**kw)

        async def _async_shutdown_kernel(self, *args, **kwargs):
            try:
                await super()._async_shutdown_kernel(*args, **kwargs)
            finally:
                _KERNELS.pop(getattr(self, "_reglab_pid", None), None)

        shutdown_kernel = _async_shutdown_kernel

        async def _async_interrupt_kernel(self):
            if getattr(self, "shutting_down", False):
                return
            await super()._async_interrupt_kernel()

        interrupt_kernel = _async_interrupt_kernel

    return QuietKernelManager


# --------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------
def kernel_env() -> dict:
    """Environment variables that keep BLAS/OpenMP libraries to one thread: a run is one
    process on one core, and the runner runs several at once."""
    return {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}


@contextlib.contextmanager
def _environ(extra: dict | None):
    if not extra:
        yield
        return
    old = {k: os.environ.get(k) for k in extra}
    os.environ.update({k: str(v) for k, v in extra.items()})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


#: How many kernels :func:`run_papermill` starts, in all, when each dies before it answers.
KERNEL_START_ATTEMPTS = 3


def _kernel_died_at_start(exc: BaseException) -> bool:
    """True for jupyter_client's error of a kernel that died before its first reply.

    jupyter_client picks the kernel's five TCP ports free and hands them to the kernel, which
    binds them a moment later; in between, another process on the machine (a second runner,
    a Dask worker, any outgoing connection) may take one of them, and the kernel exits with
    "Address already in use" before it runs a cell. Nothing has been computed then, so a new
    kernel, with new ports, is started.
    """
    return isinstance(exc, RuntimeError) and "Kernel died before replying" in str(exc)


def run_papermill(src, dst, *, tag: str | None = None, **kwargs):
    """``papermill.execute_notebook(src, dst, **kwargs)`` with a :func:`quiet_kernel_manager`
    (tagged ``tag``) and no progress bar, trying again when the kernel dies before it answers
    (:func:`_kernel_died_at_start`), up to :data:`KERNEL_START_ATTEMPTS` starts in all."""
    import papermill as pm

    kwargs.setdefault("progress_bar", False)
    if kwargs.get("cwd") is not None:
        kwargs["cwd"] = str(kwargs["cwd"])
    started = time.monotonic()
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        try:
            return pm.execute_notebook(str(src), str(dst),
                                       kernel_manager_class=quiet_kernel_manager(tag), **kwargs)
        except RuntimeError as exc:
            if (not _kernel_died_at_start(exc) or attempt == KERNEL_START_ATTEMPTS
                    or _STOPPED_AT[0] >= started):
                raise
            print(f"{Path(src).name}: the kernel exited before it answered (the error above); "
                  f"starting a new one ({attempt + 1}/{KERNEL_START_ATTEMPTS})",
                  file=sys.stderr, flush=True)


def execute_notebook(src, dst, parameters: dict | None = None, cwd=None, *,
                     kernel_name: str = KERNEL_NAME, timeout: float | None = None,
                     env: dict | None = None, log_output: bool = False,
                     paths_as: tuple[str, str] | None = None, tag: str | None = None):
    """Run ``src`` with papermill into ``dst`` (quietly) and return the executed notebook.

    papermill writes into a temporary file beside ``dst`` (:func:`reglab.fileio.atomic_path`
    names), renamed onto ``dst`` when the execution ends, also when it failed; an execution
    stopped by :func:`stop_kernels` or by KeyboardInterrupt removes it and leaves ``dst`` as it
    was. A kernel that dies before it answers (a port taken by another process between
    jupyter_client's choice and the kernel's bind) is started again, up to
    :data:`KERNEL_START_ATTEMPTS` times in all.

    Parameters
    ----------
    src, dst : path
    parameters : dict, optional
        Injected after the ``parameters`` cell.
    cwd : path, optional
        The kernel's working folder (default: ``dst``'s folder; papermill's own default would be
        the caller's folder).
    timeout : float, optional
        Per-cell timeout in seconds (default: none).
    env : dict, optional
        Extra environment variables for the kernel (set in this process while it starts).
    paths_as : (str, str), optional
        What ``metadata.papermill.input_path`` and ``output_path`` of the executed notebook say
        (papermill writes the paths it was given, here absolute ones); set after the run, also
        when it failed.
    tag : str, optional
        The kernel's tag for :func:`stop_kernels`.

    Raises
    ------
    papermill.PapermillExecutionError
        A cell raised; ``dst`` is still written (with the error and papermill's banners).
    RunStopped
        :func:`stop_kernels` killed the kernel.
    """
    from ..fileio import replace_with, temporary_path

    dst = Path(dst)
    cwd = Path(cwd) if cwd is not None else dst.parent
    tmp = temporary_path(dst)
    with _LOCK:
        _PARTIAL.add(tmp)
    started = time.monotonic()
    keep = False
    try:
        with _environ(env):
            nb = run_papermill(src, tmp, parameters=parameters or {}, kernel_name=kernel_name,
                               cwd=cwd, log_output=log_output, execution_timeout=timeout,
                               tag=tag)
        keep = True
    except Exception:
        if _STOPPED_AT[0] >= started:
            raise RunStopped(f"stopped: {dst.name}") from None
        keep = True                         # a failed run keeps its notebook, with the error
        raise
    finally:
        with _LOCK:
            _PARTIAL.discard(tmp)
        if keep and tmp.is_file() and tmp.stat().st_size:
            if paths_as is not None:
                _set_papermill_paths(tmp, *paths_as)
            replace_with(tmp, dst)
        else:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    if paths_as is not None:
        nb.metadata.papermill.update(input_path=paths_as[0], output_path=paths_as[1])
    return nb


def _set_papermill_paths(path: Path, input_path: str, output_path: str) -> None:
    """Rewrite ``metadata.papermill.input_path``/``output_path`` of the notebook at ``path``
    (atomically; nothing if the file is missing or unreadable)."""
    import nbformat

    from ..fileio import atomic_path

    try:
        nb = nbformat.read(str(path), as_version=4)
    except (OSError, ValueError):
        return
    meta = nb.metadata.setdefault("papermill", {})
    meta["input_path"], meta["output_path"] = input_path, output_path
    with atomic_path(path) as tmp:
        nbformat.write(nb, str(tmp))


def notebook_error(exc: BaseException) -> str:
    """``"<exception type>: <message>"`` for a failed execution (the kernel's exception for
    papermill's PapermillExecutionError, otherwise ``exc`` itself)."""
    ename = getattr(exc, "ename", None)
    if ename:
        return f"{ename}: {getattr(exc, 'evalue', '')}".rstrip()
    return f"{type(exc).__name__}: {exc}".rstrip()


# --------------------------------------------------------------------------------------------
# Hygiene
# --------------------------------------------------------------------------------------------
def strip_outputs(nb):
    """Remove outputs, execution counts and papermill/execution metadata in place; returns nb."""
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        for key in ("papermill", "execution"):
            cell.get("metadata", {}).pop(key, None)
    nb.metadata.pop("papermill", None)
    return nb


def parameters_cell_index(nb) -> int | None:
    """Index of the single cell tagged ``parameters``; None if there is none.

    Raises ValueError if several cells carry the tag.
    """
    found = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(found) > 1:
        raise ValueError(f"{len(found)} cells are tagged 'parameters' (cells {found}); papermill "
                         "needs exactly one")
    return found[0] if found else None
