"""Notebook helpers shared by the training notebook, the runner and the tests.

* :func:`resolve_data_dir` — the notebooks' ``data_dir`` parameter: ``"synthetic"`` (a small
  synthetic photo folder, made once in the cache folder), ``""`` (FlowersDataset's own lookup) or
  a path.
* :func:`ensure_kernel` — make sure the ``python3`` kernel runs this interpreter.
* :func:`execute_notebook` — papermill with the project's settings: kernel ``python3``, an explicit
  working folder, no progress bar, no cell log, a quiet kernel manager, and (on request) the
  notebook's own paths written into its metadata in a form that does not name this machine.
* :func:`strip_outputs`, :func:`parameters_cell_index` — notebook hygiene.

papermill and nbformat are imported only inside the functions that need them (``import nbformat``
alone takes about 1.5 s).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

__all__ = ["KERNEL_NAME", "SYNTHETIC", "synthetic_flowers_dir", "resolve_data_dir",
           "ensure_kernel", "execute_notebook", "notebook_error", "strip_outputs",
           "parameters_cell_index", "kernel_env"]

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
    is a path, made absolute against the current folder.
    """
    if value is None or str(value).strip() == "":
        return None
    if str(value) == SYNTHETIC:
        return str(synthetic_flowers_dir())
    return str(Path(value).expanduser().absolute())


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


def _quiet_kernel_manager():
    """AsyncKernelManager without the kernel's two stderr messages of every run.

    * It encrypts the kernel's sockets when it can (jupyter_client 8.10+); otherwise ipykernel
      7.4 prints "Kernel is running over TCP without encryption" on every start.
    * It does not send SIGINT while shutting an idle kernel down (jupyter_client does so before
      the shutdown request, and ipykernel may log "KeyboardInterrupt caught in kernel"). A busy
      kernel is still terminated after the manager's ``shutdown_wait_time``.
    """
    from jupyter_client.manager import AsyncKernelManager

    encrypt = "transport_encryption" in AsyncKernelManager.class_trait_names()

    class QuietKernelManager(AsyncKernelManager):
        def __init__(self, *args, **kwargs):
            if encrypt:
                kwargs.setdefault("transport_encryption", "auto")
            super().__init__(*args, **kwargs)

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


def execute_notebook(src, dst, parameters: dict | None = None, cwd=None, *,
                     kernel_name: str = KERNEL_NAME, timeout: float | None = None,
                     env: dict | None = None, log_output: bool = False,
                     paths_as: tuple[str, str] | None = None):
    """Run ``src`` with papermill into ``dst`` (quietly) and return the executed notebook.

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

    Raises
    ------
    papermill.PapermillExecutionError
        A cell raised; ``dst`` is still written (with the error and papermill's banners).
    """
    import papermill as pm

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    cwd = Path(cwd) if cwd is not None else dst.parent
    try:
        with _environ(env):
            nb = pm.execute_notebook(str(src), str(dst), parameters=parameters or {},
                                     kernel_name=kernel_name, cwd=str(cwd), progress_bar=False,
                                     log_output=log_output, execution_timeout=timeout,
                                     kernel_manager_class=_quiet_kernel_manager())
    finally:
        if paths_as is not None:
            _set_papermill_paths(dst, *paths_as)
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
