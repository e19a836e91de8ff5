"""Atomic file writes: nothing already computed is lost, and no half-written file is ever read.

Every result, cache, parameter file and rendered report goes through :func:`atomic_path`: the
data is written to a temporary file in the target's folder, given the usual permissions
(``mkstemp`` creates files readable by the owner only) and renamed onto the target with
``os.replace``, which is atomic on POSIX. If the writing fails, the temporary file is removed
and the old target, if any, is untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "write_text_atomic", "write_json_atomic"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(final):
    """Yield a temporary path next to ``final`` (same extension, so tools that look at it are
    not confused); rename it onto ``final`` if the block succeeds."""
    final = Path(final)
    suffix = ".tmp" + final.suffix
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix, dir=final.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text_atomic(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path, data) -> None:
    """Write ``data`` as UTF-8 JSON (indented, non-ASCII kept) atomically."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")
