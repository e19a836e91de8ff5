"""A second process that shares an MLP's training step: the L1/L2 terms, and half of Adam.

Why: an MLP's forward and backward pass run on one core (its products are too flat to split,
see :mod:`reglab.layers.dense`), so the second core idles for about half of every step. Adam's
pass used both cores as two threads of one process, and two threads share Python's GIL: each
of the pass's ~35 numpy calls per thread and step hands the GIL over, and on the reference VM a
hand-over can cost a 20–40 µs wake-up. The penalty terms ``scale · (λ2 w + λ1 sign w)`` (four
to six array operations per chunk for L1) were computed inside that pass.

With a partner process:

* the partner computes the penalty terms and their cost from the weights while this process
  runs the forward and backward pass (they need nothing else), so Adam only adds them to the
  gradient (exact profile), or, in the book (E3), takes the decayed weights ``w − lr·t`` the
  partner wrote instead of ``w`` in its last operation, which costs the pass nothing extra;
* Adam's pass is split between the two processes, chunk by chunk (this process the even
  chunks, the partner the odd ones, as :func:`reglab.parallel.run_parts` splits them between
  two threads), with no GIL between them;
* the two processes signal each other through counters in shared memory and wait by
  polling them (yielding the core between polls), so a step sends no message and wakes no
  sleeping thread. The partner polls for :data:`SPIN_SECONDS` after its last command; then it
  raises its "asleep" flag and sleeps on its socket, and the next command also sends it a
  wake-up message. (If the flag and the command cross, which the processor's store buffers
  allow, the partner still looks again after :data:`SLEEP_SECONDS`.) An idle partner therefore
  costs nothing, and several models' partners do not slow each other down. Every step starts
  with a command (the terms) or a :meth:`StepPartner.wake_up`, which restarts the partner's
  polling and wakes it if it sleeps: waking a sleeping process takes about 0.3 ms here, and
  this way it happens during the forward pass, not when Adam's half is posted (session 7,
  ``flowers_model_1`` trained in turn with the other MLPs, 20 steps at a time: the partner
  was asleep at 127 of 1600 Adam posts, each costing +0.34–0.47 ms; with the wake-up, 8).

Measured on the reference VM (session 4, interleaved runs in one process; the VM's speed
drifts, so each figure is a range over runs):

* Adam's pass alone, 830 k parameters, no penalty: 655–736 µs on two threads, 524–540 µs in
  two processes;
* the MLP step, old (threads) → new (partner), ``model_1`` 1.38–1.80 → 1.37–1.51 ms and
  ``model_3`` (L1) 1.77–2.30 → 1.57–1.75 ms (``flowers_model_*``, three alternating runs);
* what the penalty adds to the step (``benchmarks/bench_penalty.py --rounds 40``, five runs):
  L2 +7.7 to +11.9 %, L1 +8.8 to +11.4 % (threads, session 3: L2 +11 to +15 %, L1 +18 to
  +31 %). Split (``flowers_model_2``/``_3`` with the terms computed but not added, against
  the full step): the partner's work slows the forward/backward pass, or is waited for, by
  3–4 % (L2) and 8–10 % (L1, the longer computation); adding the terms costs the rest.
* session 6, 300 rounds each (``bench_penalty.py --rounds 300``, median share and its 95 %
  interval): exact L2 +11.6 % (+10.3..+12.6) and +11.5 % (+8.1..+12.7), L1 +6.9 % and +6.2 %;
  book L2 +8.5 % and +10.6 %, L1 +9.8 % and +11.2 %. Per 128 K-float chunk of the main
  process's half of Adam (median, one run): 190 µs without a penalty, the exact profile's
  extra ``g + t`` 34–38 µs.
* session 7, after the terms of the even chunks first, the early wake-up and the flush of
  denormal weights (same command; model_1 at 1.79–2.42 ms/step): exact L2 +13.3 % and +11.5 %,
  L1 +9.1 % and +7.5 %; book L2 +8.3 % and +12.8 %, L1 +9.3 % and +12.9 %. Once the benchmark
  rotated the models' order (model_1 had always run first): exact L2 +11.6, +14.9, +14.4 %,
  L1 +9.7, +13.4, +8.6 %; book L2 +12.3, +14.3 %, L1 +13.1, +14.6 %. The L1 and L2 models
  run the same operations in this process's half of Adam (exact profile), yet L2 costs 2–4
  points more in most runs, and more late in training (steps 2400–6000: L2 +8 to +11 %, L1
  +5 to +8 %). Likely cause: the weights of dead units decaying through tiny values make
  ``u²`` and the step denormal *results* (26 K of 830 K squares at step 3000), and a float32
  multiply with 5 % denormal results took 22.6 against 12.5 µs per chunk here; the per-op
  medians of this process's half showed ``u²`` 15.2 against 10.6 µs (L1). Flushing
  denormal weights (``reglab.optim``) removed the stuck ones, not these.
* session 8 (the VM now an AMD EPYC, Zen 4: 1 MiB L2 per core, 32 MiB shared L3): part of
  that gap was the denormal flush rewriting exact zeros, dead units' weights and moments
  (a flush step's pass took 2.1–4.0 ms for model_2, 1.6–1.7 for model_1, 0.5–0.6 for
  model_3); with :func:`reglab.optim._flush_tiny` writing only what changes (0.5–1.0 ms),
  exact L2 +9.6..+12.0 % and L1 +7.5..+13.8 % (``--rounds 250``, five runs). Denormal
  results themselves showed no cost (flush-to-zero set in either process, 200 rounds: within
  noise), nor did zeroing decayed weights below 1e-15 (no denormal squares left, same
  share). Two rearrangements that remove the ``g + t`` pass from Adam, both bitwise equal,
  gained nothing (in-process A/B, 250 rounds):
  accumulating the first layer's ``xᵀ dz`` onto the partner's terms with ``sgemm`` β = 1
  (OpenBLAS through ctypes; the product took 281 instead of 190 µs, the add it saves cost the
  same), and the partner adding the terms to each row block of the gradient right behind
  the product. The terms computed but not used cost +4.8..+8.3 % (the partner's pass during
  the forward and backward pass), using them the rest: the penalty's cost follows the bytes
  it moves (read ``w``, write and read ``t``: 10 MB a step against about 35 MB for the whole
  step), wherever they move. PyTorch, same models (``bench_penalty.py --torch``): penalties
  in the loss +11..+20 %, L2 as ``Adam(weight_decay)`` +0.3 % (no cost term computed).

Sharing costs: a core that writes cache lines the other core has read must first invalidate
the other's copies (``benchmarks/bench_cross_core.py``: 19–37 against 14–17 µs per chunk in
most runs, 270 against 30–33 µs in some phases of the VM). The partner's half of Adam writes
weights the forward pass has read, in every MLP; with a penalty the partner's terms also read
this process's weights, so this process's half pays it as well (measured: its last operation,
``p -= step``, 18–28 µs per chunk without a penalty, 28–41 µs with one, 183–215 µs in a slow
phase). Tried: each process computing the terms of its own chunks (bitwise the same): better
in slow phases, worse in fast ones (L1 +6.5..+16.4 % against +6.2..+11.1 %), so not kept.

Results are bitwise those of one process: the partner runs the same per-chunk code
(:meth:`reglab.optim.Adam.update_chunk`, :func:`reglab.optim.penalty_terms`) on the same
chunks with the same scalars.

Memory order: the partner's array writes come before its counter write in program order.
x86-64 keeps stores in order; elsewhere the GIL release and re-acquisition around every large
numpy call (a mutex unlock) orders them.

It is used where it can help (:func:`wanted`): two or more threads allowed, a model without
half-batch lanes (whose own worker already has the second core), and at least two optimizer
chunks. The partner starts at the first training step and stops when
:meth:`reglab.Model.train` returns, when the model is garbage-collected, or with the
interpreter.

Report section: 개요 (how long the runs take), 3.2 정규화.
"""

from __future__ import annotations

import os
import select
import sys
import time
import traceback

import numpy as np

__all__ = ["StepPartner", "StepPartnerError", "wanted"]

SPIN_SECONDS = 0.002     # the partner polls this long after a command (commands come every
                         # 0.1-1.5 ms while a model trains; 5 ms measured no better for a lone
                         # model and kept idle partners of other models busy longer) ...
SLEEP_SECONDS = 0.05     # ... then sleeps until woken, looking again after this long at most
DEAD_CHECK = 0.5         # the parent checks that the partner is alive after this long a wait,
HUNG_SECONDS = 60.0      # and gives up after this long (a command takes milliseconds)

_TERMS, _ADAM = 1, 2     # commands (args[0])


class StepPartnerError(RuntimeError):
    """The step partner process failed or died."""


def wanted(model) -> bool:
    """Whether ``model``'s training steps should use a partner process (see the module notes)."""
    from .optim import CHUNK
    from .parallel import available_threads
    from .workers import workers_supported

    return (model.lanes is None and model.store.n_optimizer > CHUNK
            and available_threads() > 1 and workers_supported())


class StepPartner:
    """The partner process of ``model``'s training steps.

    Moves the model's parameters, gradient and Adam moments into a shared block on creation.
    Per step: :meth:`start_terms` (only with a penalty) before the forward pass,
    :meth:`terms_result` after the backward pass, then ``model.optimizer.step(...,
    partner=self)`` calls :meth:`start_adam` and :meth:`wait`.
    """

    def __init__(self, model):
        from .optim import chunk_bounds
        from .workers import SharedBlock, spawn

        store, opt = model.store, model.optimizer
        dt = store.dtype.str
        n_chunks = len(chunk_bounds(store.n_optimizer))
        self.block = SharedBlock([
            ("params", store.size, dt), ("grad", store.size, dt),
            ("m", store.n_optimizer, dt), ("v", store.n_optimizer, dt),
            ("terms", max(1, store.n_decay), dt), ("costs", n_chunks, "<f8"),
            ("ctl", 4, "<i8"), ("args", 4, "<f8")])
        arr = self.block.arrays
        arr["params"][:] = store.data
        store.rebind_data(arr["params"], model.layers)
        arr["grad"][:] = store.grad
        store.rebind_grad(arr["grad"], model.layers)
        opt.use_moments(arr["m"], arr["v"])
        self.terms = arr["terms"][:store.n_decay]
        self._costs, self._ctl, self._args = arr["costs"], arr["ctl"], arr["args"]
        self._seq = 0
        pen = model.penalty
        spec = {"layout": self.block.layout, "size": store.n_optimizer,
                "n_decay": store.n_decay, "dtype": dt,
                "adam": [opt.beta1, opt.beta2, opt.eps, opt.flush_every],
                "penalty": [pen.l2, pen.l1, pen.placement, pen.cost_scaled]}
        self._conn, self._proc, self._finalizer = spawn(self, "reglab.step_partner", self.block)
        try:
            self._conn.send(spec)
            kind, detail = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise self._died() from exc
        if kind != "ready":
            raise StepPartnerError(f"the step partner could not start:\n{detail}")
        self.block.close_fd()

    def _died(self):
        return StepPartnerError(
            f"the step partner process died (exit code {self._proc.poll()}); rebuild the "
            "model, or set REGLAB_THREADS=1 before its first step to train in one process")

    def _post(self, kind: int, a: float, b: float) -> None:
        self.wait()                        # the previous command is finished
        self._args[:3] = kind, a, b
        self._seq += 1
        self._ctl[0] = self._seq           # after the arguments: the partner starts now
        self.wake_up()

    def wake_up(self) -> None:
        """Make the partner poll for another :data:`SPIN_SECONDS`, waking it if it sleeps.

        Called at the start of a step without a penalty (a step with one starts with
        :meth:`start_terms`), so that a partner that slept since the last step (the first step
        after an evaluation, models trained in turn, a step slowed by the machine) wakes during
        the forward pass instead of when Adam's half is posted: waking a sleeping process costs
        about 0.3 ms on the reference VM (``select`` to running, measured with the parent busy).
        """
        self._ctl[3] += 1                  # a spinning partner sees this and keeps spinning
        if self._ctl[2]:                   # asleep (or falling asleep): send the message
            try:
                self._conn.send("wake")
            except OSError as exc:
                raise self._died() from exc

    def wait(self) -> None:
        """Wait until the partner has finished its last command."""
        ctl, seq = self._ctl, self._seq
        start = checked = None
        while ctl[1] != seq:
            if ctl[1] == -seq:             # the partner failed and sent why
                try:
                    _, detail = self._conn.recv()
                except (EOFError, OSError) as exc:
                    raise self._died() from exc
                ctl[1] = seq               # the failed command counts as done
                raise StepPartnerError(f"the step partner failed:\n{detail}")
            os.sched_yield()
            now = time.monotonic()
            if start is None:
                start = checked = now
            elif now - checked > DEAD_CHECK:
                if self._proc.poll() is not None:
                    raise self._died()
                if now - start > HUNG_SECONDS:
                    raise StepPartnerError(
                        f"the step partner has not answered for {HUNG_SECONDS:g} s; rebuild the "
                        "model, or set REGLAB_THREADS=1 before its first step to train in one "
                        "process")
                checked = now

    def start_terms(self, scale: float) -> None:
        """Start computing the penalty terms of the current weights (before the forward pass)."""
        self._post(_TERMS, float(scale), 0.0)

    def terms_result(self) -> tuple[np.ndarray, list[float]]:
        """Wait for the terms: ``(terms (n_decay,), per-chunk costs)``; the terms are the decayed
        weights ``w − t`` in the book's placement (see :func:`reglab.optim.penalty_terms`)."""
        self.wait()
        return self.terms, self._costs.tolist()

    def start_adam(self, t: int, lr: float) -> None:
        """The partner starts Adam's step ``t`` on the odd chunks."""
        self._post(_ADAM, float(t), float(lr))

    def close(self) -> None:
        """End the partner process (the arrays stay in the shared block)."""
        try:
            self.wait()
        except StepPartnerError:
            pass
        self._finalizer()


def _serve(conn, block, spec) -> None:
    """Partner main loop (in the child process)."""
    from threadpoolctl import threadpool_limits

    from .optim import CHUNK, Adam, chunk_bounds, penalty_terms, split_chunks
    from .regularizers import Penalty

    threadpool_limits(1, "blas")
    arr = block.arrays
    size, n_decay = spec["size"], spec["n_decay"]
    b1, b2, eps, flush_every = spec["adam"]
    adam = Adam(size, np.dtype(spec["dtype"]), b1, b2, eps, flush_every, threads=1)
    adam.m, adam.v = arr["m"], arr["v"]        # the parent's moments (not use_moments: no copy)
    odd = split_chunks(len(chunk_bounds(size)))[1]
    pen = Penalty(*spec["penalty"])
    p, g = arr["params"][:size], arr["grad"][:size]
    terms = (arr["terms"][:n_decay], arr["costs"])
    costs = arr["costs"]
    tmp, mask = np.empty(CHUNK, p.dtype), np.empty(CHUNK, bool)
    ctl, args = arr["ctl"], arr["args"]
    conn.send(("ready", None))
    seen, idle_since, pinged = 0, time.monotonic(), 0
    while True:
        seq = int(ctl[0])
        if seq == seen:
            if ctl[3] != pinged:            # wake_up(): a command is on its way
                pinged, idle_since = int(ctl[3]), time.monotonic()
            if time.monotonic() - idle_since < SPIN_SECONDS:
                os.sched_yield()
                continue
            ctl[2] = 1                      # asleep: the next command also sends a message
            if int(ctl[0]) == seen and ctl[3] == pinged:
                ready, _, _ = select.select([conn], [], [], SLEEP_SECONDS)
                if ready:                   # "wake", None (close) or EOF (parent gone)
                    try:
                        if conn.recv() is None:
                            return
                    except EOFError:
                        return
                    pinged, idle_since = int(ctl[3]), time.monotonic()  # poll again
            ctl[2] = 0
            continue
        seen = seq
        try:
            kind = int(args[0])
            if kind == _TERMS:
                costs[:] = penalty_terms(p[:n_decay], size, args[1], pen, terms[0], tmp, mask)
            elif kind == _ADAM:
                plan = adam.plan(int(args[1]), args[2], pen, n_decay)
                for i in odd:
                    adam.update_chunk(plan, i, p, g, pen, terms if plan.n_decay else None)
            else:
                raise ValueError(f"unknown command {kind}")
        except Exception:
            conn.send(("error", traceback.format_exc()))
            ctl[1] = -seq
        else:
            ctl[1] = seq
        idle_since = time.monotonic()


def main(argv=None) -> int:
    from .workers import worker_main

    return worker_main(_serve, argv)


if __name__ == "__main__":
    sys.exit(main())
