"""Where the project's files are: the checkout's root and its notebooks.

The package lives in ``lib/reglab`` of a checkout; the root is the folder above it that holds
``pyproject.toml``. Every module that needs a file of the checkout (a notebook, the default
results folder, ``data/flowers``) asks here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

__all__ = ["project_root", "notebook_path"]


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
