"""Half-batch lanes: copies of a model's layer stack that share its parameters.

A convolutional network at batch 10 is too small for numpy to use two cores inside one layer
(each call is a few hundred microseconds, and waking a thread costs about 40 µs), but two
half-batches are independent until their gradients are added. A :class:`Lanes` object holds
``S`` copies ("lanes") of the layer stack: the same parameter arrays, each lane its own gradient
buffer, its own frames and caches, and its own random stream for dropout and noise. A training
step runs lane ``s`` on samples ``bounds[s]`` (forward, loss, backward) and then adds the
lanes' gradients in lane order. Lane 0 runs in the calling process; with two or more threads
allowed (:func:`reglab.parallel.available_threads`) lane 1 runs in a worker process
(:mod:`reglab.lane_worker`; as threads the two lanes slowed each other down through the GIL),
otherwise right after lane 0. Evaluation runs the lanes as threads (large calls, no backward).

Notes
-----
The mean cross entropy over the batch is ``Σ_s (n_s / n) · mean_s``, so lane ``s`` scales its
output gradient by ``n_s / n`` and the summed lane gradients equal the whole-batch gradient
(up to the order of floating-point additions). The split, the random streams and the order of
the sum depend on ``S`` and the batch size only, never on the number of threads, so a run
gives the same numbers on one core or two.

Batch normalisation couples the samples of a batch through its statistics: each lane is a
generator that pauses at a ``batch_normal`` layer with its per-channel partial sums (Σx, then
Σ(x − μ)², and backwards Σdy and Σdy·x̂), and continues with the totals over all lanes
(:meth:`reglab.layers.BatchNorm.forward_in_lanes`). Only the book's per-batch noise decision
with ratio < 1 (E7) keeps a model on one lane.

Report section: 개요 (how long the runs take).
"""

from __future__ import annotations

import warnings

import numpy as np

from .losses import softmax_cross_entropy, softmax_cross_entropy_backward
from .parallel import available_threads, run_parts

__all__ = ["LANES", "Lanes", "split_bounds"]

LANES = 2


def split_bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """Contiguous ``[a, e)`` ranges of ``range(n)`` with sizes differing by at most one."""
    parts = max(1, min(parts, n))
    edges = [round(i * n / parts) for i in range(parts + 1)]
    return [(edges[i], edges[i + 1]) for i in range(parts)]


class Lanes:
    """``count`` layer stacks sharing the parameters of ``model``.

    Parameters
    ----------
    model : reglab.Model
        Its layers (already bound to ``model.store``) are cloned; the originals are untouched.
    count : int
    seed_seq : numpy.random.SeedSequence
        Spawns one generator per lane for dropout and noise.
    train_lanes : bool
        Whether training may use the lanes (False when a layer couples the batch's samples).
    """

    def __init__(self, model, count: int, seed_seq, train_lanes: bool):
        from .model import link_layers

        self.model = model
        self.count = count
        self.train_lanes = train_lanes
        rngs = [np.random.default_rng(s) for s in seed_seq.spawn(count)]
        self.stacks, self.grads = [], [None] * count
        for s in range(count):
            stack = [layer.clone() for layer in model.layers]
            for layer in stack:
                layer.rng = rngs[s]
                layer.lane_index = s
            link_layers(stack)
            self.stacks.append(stack)
            self.bind_lane_grads(s, np.zeros_like(model.store.grad))

    def _threads(self) -> int:
        return min(available_threads(), self.count)

    def bind_lane_grads(self, s: int, buffer: np.ndarray) -> None:
        """Point lane ``s``'s gradients at ``buffer`` (same layout as ``model.store.grad``)."""
        self.grads[s] = buffer
        for li, layer in enumerate(self.stacks[s]):
            layer.grads = {key: buffer[a:b].reshape(spec.shape)
                           for (lj, key), (a, b, spec) in self.model.store.slices.items()
                           if lj == li}

    def lane_program(self, s, xs_u8, labels, n):
        """Forward, loss and backward of lane ``s`` on its samples (``n``: the whole batch).

        A generator: at every batch normalisation it yields this lane's partial sums
        ``(count, arrays...)`` and expects the totals over all lanes back; it returns
        ``(loss · n_s, correct)``. Lane ``s``'s gradients land in its gradient buffer.
        """
        m = self.model
        stack = self.stacks[s]
        x = m._to_input(xs_u8)
        for layer in stack:
            if layer.kind == "batch_normal":
                x = yield from layer.forward_in_lanes(x)
            else:
                x = layer.forward(x, True)
        loss, probs = softmax_cross_entropy(x, labels, m.profile.ce_log_epsilon)
        correct = int(np.count_nonzero(np.argmax(x, axis=1) == labels))
        g = softmax_cross_entropy_backward(probs, labels)
        g *= g.dtype.type(len(labels) / n)
        for layer in reversed(stack[m._first_param:]):
            if layer.kind == "batch_normal":
                g = yield from layer.backward_in_lanes(g)
            else:
                g = layer.backward(g)
        return loss * len(labels), correct

    @staticmethod
    def _totals(partials):
        """Add the lanes' ``(count, arrays...)`` in lane order: ``(total count, [sums])``."""
        total = partials[0][0]
        sums = [np.array(a, copy=True) for a in partials[0][1:]]
        for part in partials[1:]:
            total += part[0]
            for acc, a in zip(sums, part[1:]):
                acc += a
        return total, sums

    def _start_workers(self, batch: int) -> None:
        from .lane_worker import LaneWorker

        if self.count != 2:
            raise NotImplementedError("lane workers are written for two lanes")
        # moves the parameters into shared memory; lane 1 continues its own random stream
        w = LaneWorker(self.model, 1, max(batch, 256),
                       rng_state=self.stacks[1][0].rng.bit_generator.state)
        self.bind_lane_grads(1, w.grad)
        self._workers = [w]

    def release_workers(self) -> None:
        """Stop the worker processes, taking their lanes' random streams back.

        Training later starts new workers from those streams, so a run split into several
        ``train`` calls gives the same numbers as one call.
        """
        for s, w in enumerate(self._workers or (), start=1):
            self.stacks[s][0].rng.bit_generator.state = w.close()
        self._workers = None

    _workers = None
    _workers_failed = False        # class-wide: after one failure, do not try again

    def forward_backward(self, xs_u8, labels):
        """Loss and accuracy of the batch; ``model.store.grad`` receives the batch gradient.

        Lane 0 runs here. The other lanes run in worker processes (:mod:`reglab.lane_worker`)
        when two or more threads are allowed (``$REGLAB_THREADS``), else here one after the
        other; once started, the workers are kept. At a batch normalisation every lane's
        partial sums are added in lane order and the totals sent back to every lane.
        """
        m = self.model
        n = len(labels)
        bounds = split_bounds(n, self.count)
        k = len(bounds)
        if (self._workers is None and self.count > 1 and available_threads() > 1
                and not Lanes._workers_failed):
            # imported here: `python -m reglab.lane_worker` must not find it imported already
            from .lane_worker import LaneWorkerError, workers_supported
            if workers_supported():
                try:
                    self._start_workers(n)
                except (OSError, LaneWorkerError) as exc:
                    # same numbers either way: lanes run one after the other in this process
                    Lanes._workers_failed = True
                    warnings.warn(f"reglab: could not start a lane worker process ({exc}); "
                                  "training on one core", RuntimeWarning, stacklevel=3)
        remote = self._workers is not None
        programs = [self.lane_program(s, xs_u8[a:e], labels[a:e], n)
                    for s, (a, e) in enumerate(bounds) if not (remote and s)]
        if remote:
            for s in range(1, k):
                a, e = bounds[s]
                self._workers[s - 1].start(xs_u8[a:e], labels[a:e], n)
        outs = [None] * k
        reply = None
        while True:
            partials = []
            for s in range(k):
                if remote and s:
                    kind, payload = self._workers[s - 1].receive()
                else:
                    try:
                        kind, payload = "sum", programs[s].send(reply)
                    except StopIteration as stop:
                        kind, payload = "done", stop.value
                if kind == "done":
                    outs[s] = payload
                else:
                    partials.append(payload)
            if not partials:
                break
            if len(partials) != k:           # cannot happen with identical stacks
                raise RuntimeError("lanes went out of step")
            reply = self._totals(partials)
            if remote:
                for w in self._workers[:k - 1]:
                    w.reply(reply)
        grad = m.store.grad
        np.copyto(grad, self.grads[0])
        for s in range(1, k):
            grad += self.grads[s]
        loss = sum(o[0] for o in outs) / n
        acc = sum(o[1] for o in outs) / n
        return loss, acc

    def predict_logits(self, xs_u8, chunk: int):
        """Evaluation-mode logits; lane ``s`` takes chunks ``s, s + S, ...`` of ``chunk`` images."""
        m = self.model
        starts = list(range(0, len(xs_u8), chunk))
        outs = [None] * len(starts)

        def lane(s):
            stack = self.stacks[s]
            for j in range(s, len(starts), self.count):
                x = m._to_input(xs_u8[starts[j]:starts[j] + chunk])
                for layer in stack:
                    x = layer.forward(x, False)
                outs[j] = x

        run_parts(lane, range(min(self.count, len(starts))), self._threads())
        return outs
