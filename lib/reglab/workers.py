"""The plumbing shared by reglab's worker processes: the lane worker (:mod:`reglab.lane_worker`,
half a CNN batch) and the step partner (:mod:`reglab.step_partner`, an MLP's penalty terms and
half of Adam).

A worker is ``python -m reglab.<module> <socket fd> <memory fd>``, started by :func:`spawn`
(it never imports the caller's script). Parent and child share one ``memfd`` block cut into
named arrays (:class:`SharedBlock`); messages go over a socket pair
(``multiprocessing.connection.Connection``). :func:`worker_main` is the child's entry point.

Report section: 개요 (how long the runs take).
"""

from __future__ import annotations

import mmap
import os
import socket
import subprocess
import sys
import time
import traceback
import weakref
from multiprocessing.connection import Connection

import numpy as np

__all__ = ["SharedBlock", "recv_spinning", "spawn", "worker_main", "workers_supported"]


def workers_supported() -> bool:
    """Worker processes need ``os.memfd_create`` (Linux) for memory shared with a subprocess."""
    return hasattr(os, "memfd_create")


class SharedBlock:
    """One anonymous shared memory block (``memfd``) cut into named numpy arrays.

    The worker is started with ``python -m reglab.<module>`` (:func:`spawn`: no import of the
    caller's main script, unlike ``multiprocessing``'s spawn) and maps the same file descriptor.
    """

    def __init__(self, layout, fd=None):
        self.layout = layout                            # [(name, count, dtype str)]
        sizes = [n * np.dtype(dt).itemsize for _, n, dt in layout]
        self.offsets = np.cumsum([0] + [(z + 63) // 64 * 64 for z in sizes]).tolist()
        total = max(64, self.offsets[-1])
        if fd is None:
            fd = os.memfd_create("reglab-worker", 0)
            os.ftruncate(fd, total)
        self.fd = fd
        self._map = mmap.mmap(fd, total)
        self.arrays = {name: np.frombuffer(self._map, dtype=dt, count=n, offset=off)
                       for (name, n, dt), off in zip(layout, self.offsets)}

    def close_fd(self) -> None:
        """Close the file descriptor once the worker has mapped it (the mapping stays)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


SPIN_SECONDS = 0.005     # how long a receiver polls before it sleeps in ``recv``


def recv_spinning(conn: Connection, spin: float = SPIN_SECONDS):
    """``conn.recv()``, but poll (yielding the core) for up to ``spin`` seconds first.

    A process asleep in ``recv`` must be woken by the sender, and on the reference VM the
    wake-up of an idle core costs tens of microseconds, several times per training step. A
    receiver that polls is still running when the message arrives.
    """
    if not conn.poll(0):
        end = time.monotonic() + spin
        while not conn.poll(0) and time.monotonic() < end:
            os.sched_yield()
    return conn.recv()


def spawn(owner, module: str, block: SharedBlock):
    """Start ``python -m <module> <socket fd> <block fd>`` on one BLAS/reglab thread.

    Returns ``(connection, process, finalizer)``; the finalizer (also run when ``owner`` is
    garbage-collected or at exit) tells the child to end and waits for it.
    """
    mine, theirs = socket.socketpair()
    env = dict(os.environ, REGLAB_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", module, str(theirs.fileno()), str(block.fd)],
                            pass_fds=(theirs.fileno(), block.fd), env=env)
    theirs.close()
    conn = Connection(mine.detach())
    return conn, proc, weakref.finalize(owner, _stop, conn, proc)


def _stop(conn, proc):
    try:
        conn.send(None)
        conn.close()
    except (OSError, ValueError):
        pass
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        proc.kill()


def worker_main(serve, argv=None) -> int:
    """A worker process's entry: ``argv`` = socket fd, shared-block fd; the parent sends the
    spec first. ``serve(conn, block, spec)`` runs until the parent closes; any failure is sent
    to the parent as ``("error", traceback)``."""
    argv = sys.argv[1:] if argv is None else argv
    conn = Connection(int(argv[0]))
    try:
        spec = conn.recv()
        block = SharedBlock(spec["layout"], fd=int(argv[1]))
        serve(conn, block, spec)
    except Exception:
        try:
            conn.send(("error", traceback.format_exc()))
        except OSError:
            pass
        return 1
    return 0
