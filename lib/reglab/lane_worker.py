"""The second half-batch lane of a training step in its own process.

Two lanes as threads of one process share Python's GIL, and on the reference VM every
hand-over of the GIL costs a thread wake-up of 20–40 µs: a lane of flowers_cnn_1 takes 4.6 ms
alone but 6.4–7.2 ms next to the other lane (``benchmarks/lane_scaling.py``). A lane in its own
process has its own interpreter, so the two halves of a batch really run side by side.

How it works: the model's parameters are moved into shared memory (a ``memfd`` block) once; the
worker builds the same network, points its layers at those parameters and at a shared gradient
buffer, and keeps its own layer caches and its lane's dropout/noise stream (the same stream the
lane would use in the parent process, so results do not depend on where a lane runs). Per step
the parent copies the lane's images and labels into a shared mailbox and sends one message; both
processes run :meth:`reglab.shards.Lanes.lane_program`; at each batch normalisation the worker
sends its partial sums and waits for the totals; at the end it sends ``(loss · n_s, correct)``.
The parent adds the gradients in lane order, as with threads. Each side polls the socket for a
few milliseconds before it sleeps in ``recv`` (:func:`reglab.workers.recv_spinning`): waking a
sleeping process on an idle core costs tens of microseconds on the reference VM, once per
message. Measured old/new in alternating processes (session 4): flowers_cnn_4, whose three
batch normalisations exchange sums both ways, 8.49 → 7.46, 9.02 → 8.83, 8.66 → 7.63 ms/step;
flowers_cnn_1 (two messages per step) no clear change (5.84 → 6.05, 5.14 → 5.22, 5.72 → 5.34).

Shared memory, start-up and the child's entry point are in :mod:`reglab.workers`.

The worker is ``python -m reglab.lane_worker`` (it never imports the caller's script). It starts
at a model's first training step and stops when :meth:`reglab.Model.train` returns, handing its
lane's random-stream state back, so the next ``train`` call continues the same stream in a new
worker. It also ends when the parent closes the connection (model garbage-collected,
interpreter exit) or dies.
Where ``os.memfd_create`` is missing (not Linux) the lanes run one after the other in-process.

Report section: 개요 (how long the runs take).
"""

from __future__ import annotations

import sys
import traceback
from multiprocessing.connection import Connection

import numpy as np

from .workers import SharedBlock, recv_spinning, spawn, worker_main, workers_supported

__all__ = ["LaneWorker", "LaneWorkerError", "workers_supported"]


class LaneWorkerError(RuntimeError):
    """The lane's worker process failed or died."""


class _Shapes:
    """The two attributes of a dataset that building a model needs."""

    def __init__(self, input_shape, output_shape):
        self.input_shape, self.output_shape = list(input_shape), list(output_shape)


def _serve(conn: Connection, block: SharedBlock, spec: dict) -> None:
    """Worker main loop (in the child process)."""
    from threadpoolctl import threadpool_limits

    from .model import Model, blas_threads

    threadpool_limits(blas_threads(), "blas")     # as the parent's training loop
    dtype = np.dtype(spec["dtype"])
    m = Model(spec["name"], _Shapes(spec["input_shape"], spec["output_shape"]),
              spec["hconfigs"], profile=spec["profile"], seed=spec["seed"], dtype=dtype)
    m.store.rebind_data(block.arrays["params"], m.layers)
    lanes = m.lanes
    s = spec["lane"]
    lanes.bind_lane_grads(s, block.arrays["grad"])
    rng = lanes.stacks[s][0].rng                     # shared by every layer of the lane
    rng.bit_generator.state = spec["rng_state"]
    shape = tuple(spec["input_shape"])
    per = int(np.prod(shape))
    xs_all, ys_all = block.arrays["xs"], block.arrays["ys"]
    conn.send(("ready", None))
    while True:
        try:
            msg = recv_spinning(conn)
        except EOFError:
            return
        if msg is None:
            return
        if msg == "close":                           # hand the random stream back, then end
            conn.send(("state", rng.bit_generator.state))
            return
        k, n = msg
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                prog = lanes.lane_program(s, xs_all[:k * per].reshape((k,) + shape),
                                          ys_all[:k].copy(), n)
                reply = None
                while True:
                    try:
                        partial = prog.send(reply)
                    except StopIteration as stop:
                        conn.send(("done", stop.value))
                        break
                    conn.send(("sum", partial))
                    reply = recv_spinning(conn)
        except Exception:
            conn.send(("error", traceback.format_exc()))


class LaneWorker:
    """A child process running lane ``lane`` of ``model``'s training steps.

    Moves ``model.store.data`` into the shared block on creation (every later update by the
    parent's optimizer is then seen by the worker).
    """

    def __init__(self, model, lane: int, max_batch: int, rng_state: dict):
        self.lane = lane
        store = model.store
        per = int(np.prod(model.dataset.input_shape))
        dt = store.dtype.str
        self.block = SharedBlock([("params", store.size, dt), ("grad", store.size, dt),
                                  ("xs", max_batch * per, "|u1"), ("ys", max_batch, "<i8")])
        params = self.block.arrays["params"]
        params[:] = store.data
        store.rebind_data(params, model.layers)
        self.grad = self.block.arrays["grad"]
        self._xs, self._ys = self.block.arrays["xs"], self.block.arrays["ys"]
        self.max_batch = max_batch
        self._conn, self._proc, self._finalizer = spawn(self, "reglab.lane_worker", self.block)
        spec = {"name": model.name, "hconfigs": model.hconfigs, "profile": model.profile,
                "seed": model.seed, "dtype": dt, "lane": lane, "layout": self.block.layout,
                "rng_state": rng_state,
                "input_shape": list(model.dataset.input_shape),
                "output_shape": list(model.dataset.output_shape)}
        self._send(spec)
        kind, detail = self.receive()
        if kind != "ready":
            raise LaneWorkerError(f"the lane worker could not start: {detail}")
        self.block.close_fd()                        # the mapping stays; the child has its copy

    def _died(self, exc):
        return LaneWorkerError(
            f"the worker process of lane {self.lane} died (exit code {self._proc.poll()}); "
            "rebuild the model, or set REGLAB_THREADS=1 before its first step to train in one "
            "process")

    def _recv(self):
        try:
            return recv_spinning(self._conn)
        except (EOFError, OSError) as exc:
            raise self._died(exc) from exc

    def _send(self, obj):
        try:
            self._conn.send(obj)
        except OSError as exc:
            raise self._died(exc) from exc

    def start(self, xs_u8, labels, n: int) -> None:
        """Send this lane's images and labels; the worker starts its lane of the step."""
        k = len(labels)
        if k > self.max_batch:
            raise ValueError(f"lane batch {k} is larger than the worker's mailbox ({self.max_batch})")
        self._xs[:xs_u8.size] = xs_u8.reshape(-1)
        self._ys[:k] = labels
        self._send((k, n))

    def receive(self):
        """The worker's next message: ``("sum", partial)`` or ``("done", (loss·n_s, correct))``."""
        kind, payload = self._recv()
        if kind == "error":
            raise LaneWorkerError(f"lane {self.lane} failed in its worker process:\n{payload}")
        return kind, payload

    def reply(self, totals) -> None:
        self._send(totals)

    def close(self) -> dict:
        """End the worker; returns its lane's random-stream state (``bit_generator.state``)."""
        self._send("close")
        kind, state = self.receive()
        if kind != "state":
            raise LaneWorkerError(f"lane {self.lane}: expected the random-stream state, got {kind!r}")
        self._finalizer()
        return state


def main(argv=None) -> int:
    return worker_main(_serve, argv)


if __name__ == "__main__":
    sys.exit(main())
