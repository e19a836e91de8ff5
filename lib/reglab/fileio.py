"""Atomic file writes: nothing already computed is lost, and no half-written file is ever read.

Every result, cache, parameter file and rendered report goes through :func:`atomic_path`: the
data is written to a temporary file in the target's folder (``.<name>.<random>.tmp<ext>``),
given the usual permissions (``mkstemp`` creates files readable by the owner only) and renamed
onto the target with ``os.replace``, which is atomic on POSIX. If the writing fails, the
temporary file is removed and the old target, if any, is untouched. A process killed while
writing leaves its temporary file behind; :func:`remove_stale_temporaries` removes such files
from a folder that no other process writes into at the time.

JSON is written strictly (:func:`write_json_atomic`): NaN and infinities become ``null``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "temporary_path", "replace_with", "write_text_atomic", "write_json_atomic", "json_safe",
           "is_temporary", "remove_stale_temporaries"]

#: Names of the temporary files :func:`atomic_path` makes (``.<name>.<random>.tmp<ext>``).
_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp(\.[^.]+)?$")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temporary_path(final) -> Path:
    """A new empty temporary file next to ``final`` (same extension, so tools that look at it
    are not confused), to be renamed onto it with :func:`replace_with`."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp" + final.suffix,
                               dir=final.parent)
    os.close(fd)
    return Path(tmp)


def replace_with(tmp, final) -> None:
    """Give ``tmp`` the usual permissions and rename it onto ``final`` (atomic)."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, final)


@contextlib.contextmanager
def atomic_path(final):
    """Yield a temporary path next to ``final`` (:func:`temporary_path`); rename it onto
    ``final`` if the block succeeds."""
    tmp = temporary_path(final)
    try:
        yield tmp
        replace_with(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def is_temporary(path) -> bool:
    """True if ``path`` is named like a temporary file of :func:`atomic_path`."""
    return bool(_TEMPORARY.match(Path(path).name))


def remove_stale_temporaries(folder) -> list[Path]:
    """Remove the temporary files of :func:`atomic_path` left in ``folder`` (not its
    sub-folders) by a killed process; returns the removed paths. Call it only while no other
    process writes into ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in sorted(folder.iterdir()):
        if is_temporary(p) and p.is_file():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed.append(p)
    return removed


def write_text_atomic(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def json_safe(data):
    """``data`` with every float that JSON cannot hold (NaN, ±inf) replaced by None, tuples as
    lists and numpy scalars as Python numbers."""
    if isinstance(data, dict):
        return {k: json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    if hasattr(data, "item") and hasattr(data, "dtype") and getattr(data, "shape", None) == ():
        data = data.item()                                   # a numpy scalar
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


def write_json_atomic(path, data) -> None:
    """Write ``data`` as strict UTF-8 JSON (indented, non-ASCII kept; NaN and infinities as
    ``null``) atomically."""
    text = json.dumps(json_safe(data), ensure_ascii=False, indent=1, allow_nan=False)
    write_text_atomic(path, text + "\n")
