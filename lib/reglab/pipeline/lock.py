"""One command at a time per results folder: the lock file ``<folder>/.reglab.lock``.

``python -m reglab run`` and ``python -m reglab study`` hold the lock of their results folder
while they plan, execute (in the local pool or on a Dask cluster: the lock is the asking
command's) and write the indexes. A second command on the same folder stops at once with
:class:`LockHeld`, naming the process (pid, host, command, start time) that holds it.

The lock is an ``flock`` on the file, which the operating system drops when the holder dies,
however it dies; the file also names the holder. A lock file that names a process but is not
locked was left by a process that died: it is taken over, with a warning. Released, the file is
removed (a process that opened it meanwhile sees that it is gone and opens the new one).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import socket
import sys
from pathlib import Path

__all__ = ["LOCK_NAME", "LockHeld", "results_lock"]

LOCK_NAME = ".reglab.lock"


class LockHeld(RuntimeError):
    """Another process holds the lock of the results folder."""


def _describe(info: dict) -> str:
    if not info:
        return "an unknown process"
    return (f"pid {info.get('pid')} on host {info.get('host')} ({info.get('command', '?')}, "
            f"since {info.get('started', '?')})")


def _read(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    try:
        info = json.loads(data.decode("utf-8")) if data.strip() else {}
    except ValueError:
        return {"pid": "?", "host": "?"}
    return info if isinstance(info, dict) else {}


@contextlib.contextmanager
def results_lock(folder, command: str = "reglab", warn=None):
    """Hold the lock of ``folder`` (created if needed) for the block.

    Raises :class:`LockHeld` if another live process holds it. ``warn`` (default: print to
    stderr) gets the message about a lock taken over from a dead process.
    """
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read(fd)
            os.close(fd)
            raise LockHeld(f"the results folder {folder} is in use by {_describe(holder)}; "
                           f"wait for it to end (or stop it), then run again") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)                       # released and removed meanwhile: open the new one
    try:
        previous = _read(fd)
        if previous:
            warn(f"⚠ taking over the lock of {folder}: it names {_describe(previous)}, which no "
                 "longer runs")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(info) + "\n").encode("utf-8"))
        os.fsync(fd)
        yield info
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)
