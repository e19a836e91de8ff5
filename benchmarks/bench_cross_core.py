"""What it costs to write memory that the other core has just read (two processes, shared memory).

Usage::

    python benchmarks/bench_cross_core.py [--rounds 300]

A child process reads every line of array X (a dot product), then signals; this process then
updates X in place, chunk by chunk (``X -= step``, as Adam's last operation updates the weights),
and does the same to array Y, which only this process has read. Prints the median µs per
128 K-float chunk of both. The difference is the cost of invalidating the other core's copies
of the lines before writing them.

Why it matters here: the MLP step shares its arrays with :class:`reglab.step_partner.StepPartner`.
When the partner reads weights this process will update (the L1/L2 terms read all weights),
or this process reads weights the partner will update (the forward pass reads all of the first
layer), the later write pays this cost. On the reference VM it was 19–37 against 14–17 µs per
chunk in most runs and 270 against 30–33 µs in others (session 6): which of the two one gets
depends on where the hypervisor has put the VM's two vCPUs at the time, not on the code.
"""

from __future__ import annotations

import argparse
import time
from multiprocessing import Process, shared_memory

import numpy as np

N = 1 << 17          # one Adam chunk (reglab.optim.CHUNK)
N_CHUNKS = 6         # about the first layer of the MLPs (830 k weights)
SIZE = N * N_CHUNKS
HEAD = 16            # int32 control words before the arrays


def _reader(name: str) -> None:
    shm = shared_memory.SharedMemory(name=name)
    buf = np.ndarray((HEAD + 2 * SIZE,), np.float32, shm.buf)
    ctl, x = buf[:HEAD].view(np.int32), buf[HEAD:HEAD + SIZE]
    seen = 0
    while True:
        cmd = int(ctl[0])
        if cmd == seen:
            continue
        if cmd < 0:
            break
        ctl[2] = int(np.dot(x, x) >= 0)      # read every line of x on this core
        seen = cmd
        ctl[1] = cmd
    del buf, ctl, x
    shm.close()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=300)
    a = ap.parse_args(argv)
    shm = shared_memory.SharedMemory(create=True, size=4 * (HEAD + 2 * SIZE))
    try:
        buf = np.ndarray((HEAD + 2 * SIZE,), np.float32, shm.buf)
        buf[:] = 0
        ctl = buf[:HEAD].view(np.int32)
        x, y = buf[HEAD:HEAD + SIZE], buf[HEAD + SIZE:]
        step = np.full(N, 1e-3, np.float32)
        child = Process(target=_reader, args=(shm.name,))
        child.start()
        shared, private = [], []
        for it in range(1, a.rounds + 1):
            ctl[0] = it
            while ctl[1] != it:
                pass
            np.dot(y, y)                         # this process reads y as well
            t = time.perf_counter()
            for i in range(N_CHUNKS):
                x[i * N:(i + 1) * N] -= step
            shared.append(time.perf_counter() - t)
            t = time.perf_counter()
            for i in range(N_CHUNKS):
                y[i * N:(i + 1) * N] -= step
            private.append(time.perf_counter() - t)
        ctl[0] = -1
        child.join()
        print(f"x -= step per {N}-float chunk: {np.median(shared) / N_CHUNKS * 1e6:.1f} µs on "
              f"lines the other process read, {np.median(private) / N_CHUNKS * 1e6:.1f} µs on "
              "lines only this process read")
        del buf, ctl, x, y
    finally:
        shm.close()
        shm.unlink()


if __name__ == "__main__":
    main()
