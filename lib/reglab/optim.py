"""Adam over a flat parameter buffer, as the book's AdamModel computes it.

Notes
-----
For gradient ``g`` at step ``t`` (β1 = 0.9, β2 = 0.999, ε = 1e-8; Kingma & Ba):

    m ← β1 m + (1 − β1) g,    v ← β2 v + (1 − β2) g²
    Δ = (m / (1 − β1ᵗ)) / (sqrt(v / (1 − β2ᵗ)) + ε),     p ← p − lr · Δ

The book keeps one step counter per tensor; every tensor is updated at every step, so a single
counter is the same thing. The update walks the flat buffer once, in chunks that stay in cache,
and applies the L1/L2 :class:`~reglab.regularizers.Penalty` inside the same pass: added to ``g``
before the moments (exact profile) or to ``Δ`` after them (the book, erratum E3).

Denormals: when ReLUs die (the book-profile MLP), gradients are exactly 0 and ``m`` decays by 0.9
per step into float32 denormals, which make every later operation on them many times slower.
Moments below the smallest normal float are set to 0 every ``flush_every`` steps; this changes
values only below 1.2e-38 (float32), far under the ε of the update.

Report section: 개요 (the training set-up: Adam, lr 0.001).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Adam"]

CHUNK = 1 << 16   # elements per chunk: m, v, g, p and scratch (5 × 128 KiB) stay in L2


class Adam:
    """Adam state for ``size`` parameters.

    Parameters
    ----------
    size : int
    dtype : numpy dtype
    beta1, beta2, eps : float
    flush_every : int
        How often moments below ``finfo(dtype).tiny`` are flushed to zero.
    """

    def __init__(self, size, dtype, beta1=0.9, beta2=0.999, eps=1e-8, flush_every=16):
        self.dtype = np.dtype(dtype)
        self.m = np.zeros(size, self.dtype)
        self.v = np.zeros(size, self.dtype)
        self._tmp = np.empty(min(size, CHUNK), self.dtype)
        self._tmp2 = np.empty(min(size, CHUNK), self.dtype)
        self._mask = np.empty(min(size, CHUNK), bool)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.flush_every = flush_every
        self._tiny = np.finfo(self.dtype).tiny

    def step(self, p: np.ndarray, g: np.ndarray, lr: float, penalty=None, n_decay: int = 0) -> float:
        """Update ``p`` in place from gradient ``g``; returns the penalty's cost (0 without one).

        Parameters
        ----------
        p, g : ndarray (size,)
            Parameters and their data gradient. With a 'gradient' penalty, ``g[:n_decay]`` is
            increased by the penalty's gradient in place.
        lr : float
        penalty : reglab.regularizers.Penalty or None
        n_decay : int
            The penalty acts on ``p[:n_decay]`` (weights and kernels).

        Returns
        -------
        float
            The penalty cost of the weights before this update.
        """
        b1, b2 = self.beta1, self.beta2
        t = self.t = self.t + 1
        T = self.dtype.type
        # lr·Δ = lr/(1−β1ᵗ) · m / (sqrt(v)/sqrt(1−β2ᵗ) + ε) = c1 · m / (sqrt(v) + ε')
        bc2 = math.sqrt(1 - b2 ** t)
        c1 = T(lr * bc2 / (1 - b1 ** t))
        eps = T(self.eps * bc2)
        one_b1, one_b2 = T(1 - b1), T(1 - b2)
        flush = t % self.flush_every == 0
        use_pen = penalty is not None and penalty.active and n_decay > 0
        cost = 0.0
        size = p.size
        for a in range(0, size, CHUNK):
            e = min(a + CHUNK, size)
            pc, gc, mc, vc = p[a:e], g[a:e], self.m[a:e], self.v[a:e]
            tc = self._tmp[:e - a]
            nd = max(0, min(e, n_decay) - a) if use_pen else 0
            if nd and penalty.placement == "gradient":
                cost += penalty.apply(pc[:nd], gc[:nd], 1.0, self._tmp2, self._mask)
            np.subtract(gc, mc, out=tc)          # m += (1 − β1)(g − m)
            tc *= one_b1
            mc += tc
            np.multiply(gc, gc, out=tc)          # v += (1 − β2)(g² − v)
            tc -= vc
            tc *= one_b2
            vc += tc
            if flush:
                for arr in (mc, vc):
                    arr[np.abs(arr) < self._tiny] = 0
            np.sqrt(vc, out=tc)
            tc += eps
            np.divide(mc, tc, out=tc)
            tc *= c1
            if nd and penalty.placement == "after_optimizer":
                cost += penalty.apply(pc[:nd], tc[:nd], lr, self._tmp2, self._mask)
            pc -= tc
        return cost

    def state_dict(self) -> dict:
        return {"m": self.m.copy(), "v": self.v.copy(), "t": np.array(self.t)}

    def load_state_dict(self, state: dict) -> None:
        self.m[...] = state["m"]
        self.v[...] = state["v"]
        self.t = int(state["t"])
