"""Where the project's files are: the checkout's root and its notebooks.

The package lives in ``lib/reglab`` of a checkout; the root is the folder above it that holds
``pyproject.toml``. Every module that needs a file of the checkout (a notebook, the default
results folder, ``data/flowers``) asks here.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

__all__ = ["project_root", "notebook_path", "relative_to_root", "from_root"]


@lru_cache(maxsize=1)
def project_root() -> Path | None:
    """The folder holding ``pyproject.toml``, searched upward from this package, or None."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    return None


def notebook_path(*parts: str) -> Path:
    """``notebooks/<parts>`` of the checkout (e.g. ``notebook_path('train_model.ipynb')``)."""
    root = project_root()
    if root is None:
        raise FileNotFoundError(
            f"notebooks/{'/'.join(parts)} not found: reglab is not running from a checkout of "
            "the project (clone it and install it with `pip install -e .`)")
    return root.joinpath("notebooks", *parts)


def relative_to_root(path) -> str:
    """``path`` as a record stores it: relative to the project root when it lies inside the
    checkout or beside it (``data/flowers``, ``../shared/data/flowers``), so a committed record
    names no folder of the machine it ran on; else as given. A relative ``path`` is taken as
    relative to the root (as :func:`from_root` reads it), whatever the current folder is."""
    root = project_root()
    if root is None or not str(path):
        return str(path)
    try:                                     # a relative path is already read from the root
        rel = Path(os.path.relpath(root / Path(path), root))
    except ValueError:                       # another drive (Windows)
        return str(path)
    return rel.as_posix() if rel.parts[:2].count("..") < 2 else str(path)


def from_root(path) -> Path:
    """The folder a stored path names: a relative one is taken from the project root."""
    p = Path(path)
    root = project_root()
    return p if p.is_absolute() or root is None else root / p
