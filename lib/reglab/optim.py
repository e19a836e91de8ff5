"""Adam over a flat parameter buffer, as the book's AdamModel computes it.

Notes
-----
For gradient ``g`` at step ``t`` (β1 = 0.9, β2 = 0.999, ε = 1e-8; Kingma & Ba):

    m ← β1 m + (1 − β1) g,    v ← β2 v + (1 − β2) g²
    Δ = (m / (1 − β1ᵗ)) / (sqrt(v / (1 − β2ᵗ)) + ε),     p ← p − lr · Δ

The book keeps one step counter per tensor; every tensor is updated at every step, so a single
counter is the same thing. The update walks the flat buffer once, in chunks that stay in cache,
and computes the L1/L2 :class:`~reglab.regularizers.Penalty` terms inside the same pass, each
chunk while it is in cache: added to ``g`` before the moments (exact profile), or, in the book
(erratum E3: ``p ← p − lr·(Δ + t)``, ``t = λ2 w + λ1 sign w``), subtracted from the weights
before the step: ``p ← (p − lr·t) − lr·Δ`` (the same formula; this order lets the step partner
hand over ``p − lr·t`` so that the book's decay costs Adam's pass no extra operation; it
rounds differently from ``p − (lr·Δ + lr·t)``, ``NUMERICS_VERSION`` 5).

Where the two halves run: on two threads (:func:`reglab.parallel.run_parts`, even chunks on the
calling thread, odd ones on the helper), or, for a model without half-batch lanes (the MLPs), in
two processes: the calling one and its :class:`reglab.step_partner.StepPartner`, which has
also computed the penalty terms during the forward and backward pass (:func:`penalty_terms`,
the same per-chunk numbers), so that the pass only adds them (or, in the book, takes the
decayed weights instead of ``p``). Inline, the terms cost four to six
array operations per chunk (L1: sign bits, zero check, cost, add) against ten for Adam itself;
measured on two threads (``benchmarks/bench_penalty.py``, session 3) L2 added 11–15 % and L1
18–31 % to an MLP step. A helper *thread* for the terms gave L1 +18–27 % (its numpy calls wait
for the GIL while the main thread runs Python); the partner process has no GIL to share.

Denormals: when ReLUs die (the book-profile MLP), gradients are exactly 0 and ``m`` decays by 0.9
per step into float32 denormals, which make every later operation on them many times slower.
Moments below the smallest normal float are set to 0 every ``flush_every`` steps; this changes
values only below 1.2e-38 (float32), far under the ε of the update. The parameters get the
same flush after their update: with L2 before the moments (exact profile) a dead unit's
weights see only ``u = λ2 w``, which Adam normalises into a geometric decay of ``w``, and the
decay stalls in the denormals once the step is below half a denormal's spacing (flowers_model_2:
41 % of the first layer's weights were stuck there from step 2000 on, costing its steps 2–5 %).
``x·w`` for such a ``w`` is below float32's resolution next to any activation, so the other
numbers change in their last bits only (flowers_model_2, exact, 3450 steps: costs equal to 14
digits, test logits within 1.5e-8; the other five MLP runs bitwise unchanged).

Report section: 개요 (the training set-up: Adam, lr 0.001).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from .parallel import run_parts

__all__ = ["Adam"]

CHUNK = 1 << 17   # elements per chunk (512 KiB per array); measured faster than 2^15, 2^16


@dataclass(frozen=True)
class _Plan:
    """The scalars of one Adam step (see :meth:`Adam.plan`)."""

    c: np.floating
    eps: np.floating
    B1: np.floating
    B2: np.floating
    flush: bool
    n_decay: int          # decayed parameters (0: no penalty this step)
    scale: float          # what the penalty terms are multiplied by
    before: bool          # terms added to g before the moments (exact) or to the step (E3)


def chunk_bounds(size: int) -> list[tuple[int, int]]:
    """The ``CHUNK``-element pieces ``[a, e)`` of the optimizer's pass over ``size`` parameters."""
    return [(a, min(a + CHUNK, size)) for a in range(0, size, CHUNK)]


def split_chunks(n: int) -> tuple[range, range]:
    """The chunk indices of the calling process and of its step partner: even and odd."""
    return range(0, n, 2), range(1, n, 2)


def _flush_tiny(arr: np.ndarray, tiny, scratch: np.ndarray, mask: np.ndarray) -> None:
    """Set the elements of ``arr`` below ``tiny`` in magnitude (the denormals, and −0) to +0.

    Only elements that change are written: a masked write costs up to 10 ns per element, and
    exact zeros are many where units died (after 3000 steps, exact profile: 553 K of
    flowers_model_1's 830 K first moments, 359 K of flowers_model_2's weights and first
    moments; the book's dead MLPs: every first moment). Rewriting them made a flush step's
    pass over ``p``, ``m`` and ``v`` take 1.1–4.0 ms; now 0.5–1.1 ms (session 8). The cheap
    test ``|x| < tiny`` comes first; only when it finds candidates are the elements already
    +0 (all bits 0) dropped from them. ``scratch`` (float) and ``mask`` (bool) have
    ``arr``'s size.
    """
    np.less(np.abs(arr, out=scratch), tiny, out=mask)
    if not mask.any():
        return
    changes = scratch.view(np.bool_)[:arr.size]          # scratch's bytes, free again
    np.not_equal(arr.view(f"i{arr.itemsize}"), 0, out=changes)   # not +0 (all bits 0)
    np.logical_and(mask, changes, out=mask)
    if mask.any():
        arr[mask] = 0


def penalty_terms(w: np.ndarray, size: int, scale: float, penalty, out: np.ndarray,
                  tmp: np.ndarray, mask: np.ndarray) -> list[float]:
    """What Adam's pass takes from the penalty for all decayed weights ``w`` (``n_decay``,).

    Writes, chunk by chunk, the terms ``t = scale · (λ2 w + λ1 sign w)`` into ``out`` when they
    join the gradient (exact profile), or the decayed weights ``w − t`` when they join the step
    after the moments (the book, E3: the pass then ends with ``p ← (p − t) − lr·Δ`` taken from
    ``out``, with no extra operation). Returns the cost of each chunk of
    :func:`chunk_bounds(size) <chunk_bounds>` (0 for chunks past ``w``): the same numbers, in
    the same order, as :meth:`Adam.step` computes inline, so neither the sum nor the update
    depends on where they were computed. ``tmp`` and ``mask`` are scratch of at least ``CHUNK``
    elements.

    The even chunks (those the calling process of :class:`~reglab.step_partner.StepPartner`
    updates) are done first, the odd ones (the partner's own) last: by the time Adam runs, the
    even chunks' terms and the weights read for them have left the partner's cache (2 MiB per
    core on the reference VM, 3.3 MB of terms), and the odd ones are still in it. Same numbers
    as chunk order; measured in session 7 (``bench_penalty.py --rounds 150``, three alternating
    runs each): exact L2 +9.2/+11.3/+9.3 % → +8.8/+8.9/+7.2 %, L1 +10.6/+9.0/+10.2 % →
    +7.9/+7.0/+6.6 %.
    """
    bounds = chunk_bounds(size)
    costs = [0.0] * len(bounds)
    caller, partner = split_chunks(len(bounds))
    for i in [*caller, *partner]:
        a, e = bounds[i]
        nd = max(0, min(e, w.size) - a)
        if nd:
            costs[i] = _chunk_terms(w[a:a + nd], scale, penalty, out[a:a + nd], tmp, mask)
    return costs


def _chunk_terms(w, scale, penalty, out, tmp, mask) -> float:
    """One chunk of :func:`penalty_terms`: ``out`` = ``t``, or ``w − t`` after the moments (E3);
    returns the chunk's cost."""
    cost = penalty.terms(w, scale, out, tmp, mask)
    if not penalty.before_moments:
        np.subtract(w, out, out=out)
    return cost


class Adam:
    """Adam state for ``size`` parameters.

    Parameters
    ----------
    size : int
    dtype : numpy dtype
    beta1, beta2, eps : float
    flush_every : int
        How often moments below ``finfo(dtype).tiny`` are flushed to zero.
    threads : int or None
        Threads for the pass (None: :func:`reglab.parallel.available_threads`). The result
        does not depend on it.

    Notes
    -----
    The moments are stored scaled, ``m̃ = m / (1 − β1)`` and ``ṽ = v / (1 − β2)``, which saves
    two multiplications per element and step:

        m̃ ← β1 m̃ + g,   ṽ ← β2 ṽ + g²,
        lr·Δ = c · m̃ / (sqrt(ṽ) + ε'),   c = lr (1 − β1) sqrt(1 − β2ᵗ) / ((1 − β1ᵗ) sqrt(1 − β2)),
                                         ε' = ε sqrt(1 − β2ᵗ) / sqrt(1 − β2).

    :meth:`state_dict` returns the usual ``m`` and ``v``.
    """

    def __init__(self, size, dtype, beta1=0.9, beta2=0.999, eps=1e-8, flush_every=16,
                 threads=None):
        self.dtype = np.dtype(dtype)
        self.size = size
        self.m = np.zeros(size, self.dtype)           # scaled moments m̃, ṽ (see Notes)
        self.v = np.zeros(size, self.dtype)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.flush_every = flush_every
        self.threads = threads
        self._tiny = np.finfo(self.dtype).tiny
        self._chunks = chunk_bounds(size)
        self._scratch = {}

    def _buffers(self):
        """Scratch (three float chunks and a bool chunk) for the calling thread."""
        key = threading.get_ident()
        bufs = self._scratch.get(key)
        if bufs is None:
            n = min(self.size, CHUNK)
            bufs = self._scratch[key] = (np.empty(n, self.dtype), np.empty(n, self.dtype),
                                         np.empty(n, self.dtype), np.empty(n, bool))
        return bufs

    def use_moments(self, m: np.ndarray, v: np.ndarray) -> None:
        """Keep the moments in ``m`` and ``v`` (e.g. shared memory), copying their values there."""
        m[...] = self.m
        v[...] = self.v
        self.m, self.v = m, v

    def plan(self, t: int, lr: float, penalty=None, n_decay: int = 0) -> _Plan:
        """The scalars of step ``t`` (a pure function of its arguments)."""
        use_pen = penalty is not None and penalty.active and n_decay > 0
        if use_pen and n_decay > self.size:
            raise ValueError(f"n_decay={n_decay} is larger than the {self.size} parameters")
        b1, b2 = self.beta1, self.beta2
        T = self.dtype.type
        bc2 = math.sqrt(1 - b2 ** t)
        return _Plan(c=T(lr * (1 - b1) * bc2 / ((1 - b1 ** t) * math.sqrt(1 - b2))),
                     eps=T(self.eps * bc2 / math.sqrt(1 - b2)), B1=T(b1), B2=T(b2),
                     flush=t % self.flush_every == 0,
                     n_decay=n_decay if use_pen else 0,
                     scale=penalty.term_scale(lr) if use_pen else 1.0,
                     before=use_pen and penalty.before_moments)

    def update_chunk(self, plan: _Plan, i: int, p: np.ndarray, g: np.ndarray, penalty=None,
                     terms=None) -> float:
        """Update chunk ``i`` of ``p`` (see :meth:`step`); returns the chunk's penalty cost."""
        a, e = self._chunks[i]
        pc, gc, mc, vc = p[a:e], g[a:e], self.m[a:e], self.v[a:e]
        tc, tk, tmp, mask = self._buffers()
        tc, mask = tc[:e - a], mask[:e - a]
        nd = max(0, min(e, plan.n_decay) - a)
        cost = 0.0
        if nd and terms is not None:          # computed beforehand (StepPartner): t, or w − t
            tk = terms[0][a:a + nd]
            cost = terms[1][i]
        elif nd:                              # the same, while this chunk of w is hot
            tk = tk[:nd]
            cost = _chunk_terms(pc[:nd], plan.scale, penalty, tk, tmp, mask)
        mc *= plan.B1                         # m̃ ← β1 m̃ + g
        if nd and plan.before:                # g + λ2 w + λ1 sign w (exact profile)
            np.add(gc[:nd], tk, out=tc[:nd])
            tc[nd:] = gc[nd:]
            mc += tc
            np.multiply(tc, tc, out=tc)
        else:
            mc += gc
            np.multiply(gc, gc, out=tc)
        vc *= plan.B2                         # ṽ ← β2 ṽ + g²
        vc += tc
        if plan.flush:
            for arr in (mc, vc):
                _flush_tiny(arr, self._tiny, tc, mask)
        np.sqrt(vc, out=tc)                   # lr·Δ = c m̃ / (sqrt(ṽ) + ε')
        tc += plan.eps
        np.divide(mc, tc, out=tc)
        tc *= plan.c
        if nd and not plan.before:            # p ← (p − lr (λ2 w + λ1 sign w)) − lr·Δ (the book, E3);
            np.subtract(tk, tc[:nd], out=pc[:nd])   # tk is p − lr·t
            pc[nd:] -= tc[nd:]
        else:
            pc -= tc
        if plan.flush:                        # parameters stuck in the denormals (see Notes)
            _flush_tiny(pc, self._tiny, tc, mask)
        return cost

    def step(self, p: np.ndarray, g: np.ndarray, lr: float, penalty=None, n_decay: int = 0,
             terms=None, partner=None) -> float:
        """Update ``p`` in place from gradient ``g``; returns the penalty's cost (0 without one).

        Parameters
        ----------
        p, g : ndarray (size,)
            Parameters and their data gradient (``g`` is not changed).
        lr : float
        penalty : reglab.regularizers.Penalty or None
        n_decay : int
            The penalty acts on ``p[:n_decay]`` (weights and kernels).
        terms : tuple (ndarray (n_decay,), list of float) or None
            The penalty's terms ``t = scale · (λ2 w + λ1 sign w)`` (exact profile) or the
            decayed weights ``p − t`` (the book, E3) and the per-chunk costs
            (:func:`penalty_terms`), already computed from ``p``; None: computed here, chunk by
            chunk.
        partner : reglab.step_partner.StepPartner or None
            A second process holding ``p``, ``g`` and the moments in shared memory: it updates
            every second chunk (the odd ones) while this process updates the even ones.
            None: the chunks are spread over :attr:`threads` threads.

        Returns
        -------
        float
            The penalty cost of the weights before this update.
        """
        t = self.t + 1
        plan = self.plan(t, lr, penalty, n_decay)      # checks n_decay before changing anything
        if partner is not None and plan.n_decay and terms is None:
            raise ValueError("with a partner process the penalty terms must be computed "
                             "beforehand (StepPartner.start_terms, then .terms_result())")
        self.t = t
        if partner is not None:               # every chunk's cost is already in ``terms``
            partner.start_adam(t, lr)
            for i in split_chunks(len(self._chunks))[0]:
                self.update_chunk(plan, i, p, g, penalty, terms)
            partner.wait()
            return float(sum(terms[1])) if plan.n_decay else 0.0
        costs = [0.0] * len(self._chunks)

        def part(i):
            costs[i] = self.update_chunk(plan, i, p, g, penalty, terms)

        run_parts(part, range(len(self._chunks)), self.threads)
        return float(sum(costs))

    def state_dict(self) -> dict:
        """The moments in the usual scale: ``m = (1 − β1) m̃``, ``v = (1 − β2) ṽ``."""
        T = self.dtype.type
        return {"m": self.m * T(1 - self.beta1), "v": self.v * T(1 - self.beta2),
                "t": np.array(self.t)}

    def load_state_dict(self, state: dict) -> None:
        T = self.dtype.type
        np.divide(state["m"], T(1 - self.beta1), out=self.m, casting="unsafe")
        np.divide(state["v"], T(1 - self.beta2), out=self.v, casting="unsafe")
        self.t = int(state["t"])
