"""Run the independent parts of one training step on several cores, with threads.

numpy releases the GIL inside its loops and matrix products, so two threads working on
different halves of a large array run at the same time. Python's own overhead (which holds the
GIL) and the cost of waking a thread (about 40 µs on the reference VM) mean only large parts
are worth sharing:
the Adam pass over the flat parameter buffer and evaluation chunks of a convolutional
network (see :mod:`reglab.shards`; its training lanes use a worker
process instead).

Determinism: the *parts* are fixed by the data (chunk boundaries, half-batches), never by the
number of threads, and each part writes its own output; sums over parts are taken in part
order afterwards. The result is therefore bit-for-bit the same with one thread or several
(``tests/test_parallel.py`` checks this on whole training runs).

The number of threads is ``$REGLAB_THREADS`` if set, else the number of cores this process may
use, at most :data:`MAX_THREADS`. The runner sets ``REGLAB_THREADS`` for each notebook to the
cores divided by the runs it executes at once (:func:`reglab.runner.threads_per_run`).
"""

from __future__ import annotations

import os
import queue
import sys
import threading

__all__ = ["MAX_THREADS", "available_threads", "run_parts"]

MAX_THREADS = 2     # measured: batch-10 parts are too small to feed more than two cores

# While parts run, the interpreter hands the GIL over every 0.2 ms instead of every 5 ms: a
# thread coming back from a numpy call then waits less for the other thread's Python code
# (measured: one lane of flowers_cnn_1 next to another took 7.9 ms/step at 5 ms, 6.8 at 0.2 ms).
SWITCH_INTERVAL = 2e-4


def available_threads() -> int:
    """Threads to use: ``$REGLAB_THREADS`` or the usable cores (at most ``MAX_THREADS``)."""
    value = os.environ.get("REGLAB_THREADS")
    if value is not None:
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"REGLAB_THREADS={value!r} must be a whole number >= 1 "
                             "(unset it to use the machine's cores)")
        return n
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:                       # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_THREADS))


class _Team:
    """``n - 1`` helper threads; the calling thread does its own share too."""

    def __init__(self, n: int):
        self.n = n
        self._inbox = [queue.SimpleQueue() for _ in range(n - 1)]
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        for i, box in enumerate(self._inbox):
            threading.Thread(target=self._work, args=(box,), daemon=True,
                             name=f"reglab-part-{i + 1}").start()

    def _work(self, box):
        while True:
            fn, parts = box.get()
            try:
                for p in parts:
                    fn(p)
                self._done.put(None)
            except BaseException as exc:         # handed to the caller
                self._done.put(exc)

    def run(self, fn, parts) -> None:
        shares = [parts[i::self.n] for i in range(self.n)]
        busy = 0
        for box, share in zip(self._inbox, shares[1:]):
            if share:
                box.put((fn, share))
                busy += 1
        error = None
        try:
            for p in shares[0]:
                fn(p)
        except BaseException as exc:
            error = exc
        for _ in range(busy):
            result = self._done.get()
            if error is None and result is not None:
                error = result
        if error is not None:
            raise error


_lock = threading.Lock()
_teams: dict[int, _Team] = {}


def run_parts(fn, parts, threads: int | None = None) -> None:
    """Call ``fn(p)`` for every ``p`` in ``parts``, spread over ``threads`` threads.

    Part ``i`` runs on thread ``i mod threads`` (the caller is thread 0). ``fn`` must write
    only its own part's outputs. Exceptions are re-raised in the caller after every part has
    finished or failed.
    """
    parts = list(parts)
    n = available_threads() if threads is None else threads
    n = max(1, min(n, len(parts)))
    if n == 1:
        for p in parts:
            fn(p)
        return
    if threading.current_thread().name.startswith("reglab-part-"):
        raise RuntimeError("run_parts called from inside a part; parts must not nest")
    with _lock:
        team = _teams.get(n)
        if team is None:
            team = _teams[n] = _Team(n)
    old = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        team.run(fn, parts)
    finally:
        sys.setswitchinterval(old)
