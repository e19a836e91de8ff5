"""Where the project's files are: the checkout (if any), the notebooks, the user's data folder.

reglab runs in two ways:

* **from a checkout** (``pip install -e .``): the package lives in ``lib/reglab`` and the root is
  the folder above ``lib`` that holds ``pyproject.toml``. The notebooks are the checkout's
  ``notebooks/``, results go to ``reports/`` and the photos may be in ``data/flowers``.
* **installed from a wheel** (``pip install reglab``, e.g. in Colab): there is no checkout. The
  wheel carries the notebooks as package data (``reglab/notebooks``, built from the same
  ``notebooks/`` folder); results go under the current folder; the photos are in
  ``$FLOWERS_DIR``, ``./data/flowers`` or the user's data folder (:func:`user_photo_dir`).

Every module that needs one of these places asks here.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

__all__ = ["project_root", "checkout_root", "notebook_path", "package_notebooks",
           "user_data_dir", "user_photo_dir", "relative_to_root", "from_root"]

APP_NAME = "reglab"


def checkout_root(package_dir) -> Path | None:
    """The checkout holding the package folder ``package_dir``, or None.

    A checkout has the package at ``<root>/lib/reglab`` and a ``pyproject.toml`` at ``<root>``;
    a package installed into ``site-packages`` has neither, even when some folder above the
    environment holds a ``pyproject.toml``.
    """
    package_dir = Path(package_dir)
    lib = package_dir.parent
    if package_dir.name != APP_NAME or lib.name != "lib":
        return None
    root = lib.parent
    return root if (root / "pyproject.toml").is_file() else None


@lru_cache(maxsize=1)
def project_root() -> Path | None:
    """The checkout this package runs from (see :func:`checkout_root`), or None (a wheel)."""
    return checkout_root(Path(__file__).resolve().parent)


def package_notebooks() -> Path:
    """The notebooks shipped inside the installed package (``reglab/notebooks``)."""
    from importlib.resources import files
    return Path(str(files(APP_NAME).joinpath("notebooks")))


def notebook_path(*parts: str) -> Path:
    """A notebook (or folder) of the project, e.g. ``notebook_path('train_model.ipynb')``.

    From a checkout: ``<root>/notebooks/<parts>`` (what developers edit); otherwise the copy the
    wheel carries (:func:`package_notebooks`). The path may not exist (a broken install); the
    callers say so.
    """
    root = project_root()
    base = root / "notebooks" if root is not None else package_notebooks()
    return base.joinpath(*parts)


def user_data_dir() -> Path:
    """The user's data folder for reglab: ``$REGLAB_DATA_DIR`` if set, else
    ``platformdirs.user_data_dir("reglab")`` (``$XDG_DATA_HOME/reglab`` or
    ``~/.local/share/reglab`` on Linux)."""
    if os.environ.get("REGLAB_DATA_DIR"):
        return Path(os.environ["REGLAB_DATA_DIR"]).expanduser()
    try:
        from platformdirs import user_data_dir as _user_data_dir
    except ImportError:                      # pragma: no cover - platformdirs is a dependency
        if sys.platform == "win32":
            base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        else:
            base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        return base / APP_NAME
    return Path(_user_data_dir(APP_NAME, appauthor=False))


def user_photo_dir() -> Path:
    """``<user data folder>/flowers``: where ``reglab data fetch`` puts the photos outside a
    checkout, and the last place the photo lookup tries."""
    return user_data_dir() / "flowers"


def relative_to_root(path) -> str:
    """``path`` as a record stores it: relative to the project root when it lies inside the
    checkout or beside it (``data/flowers``, ``../shared/data/flowers``), so a committed record
    names no folder of the machine it ran on; else as given. A relative ``path`` is taken as
    relative to the root (as :func:`from_root` reads it), whatever the current folder is.
    Without a checkout (a wheel) every path is stored as given."""
    root = project_root()
    if root is None or not str(path):
        return str(path)
    try:                                     # a relative path is already read from the root
        rel = Path(os.path.relpath(root / Path(path), root))
    except ValueError:                       # another drive (Windows)
        return str(path)
    return rel.as_posix() if rel.parts[:2].count("..") < 2 else str(path)


def from_root(path) -> Path:
    """The folder a stored path names: a relative one is taken from the project root (from the
    current folder without a checkout)."""
    p = Path(path)
    root = project_root()
    return p if p.is_absolute() or root is None else root / p
