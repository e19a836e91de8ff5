"""Adam over a flat parameter buffer, as the book's AdamModel computes it.

Notes
-----
For gradient ``g`` at step ``t`` (β1 = 0.9, β2 = 0.999, ε = 1e-8; Kingma & Ba):

    m ← β1 m + (1 − β1) g,    v ← β2 v + (1 − β2) g²
    Δ = (m / (1 − β1ᵗ)) / (sqrt(v / (1 − β2ᵗ)) + ε),     p ← p − lr · Δ

The book keeps one step counter per tensor; every tensor is updated at every step, so a single
counter is the same thing. One fused pass over the whole buffer replaces the per-tensor loop.

Denormals: when ReLUs die (the book-profile MLP), gradients are exactly 0 and ``m`` decays by 0.9
per step into float32 denormals, which make every later operation on them many times slower.
Moments below the smallest normal float are set to 0 every ``flush_every`` steps; this changes
values only below 1.2e-38 (float32), far under the ε of the update.

Report section: 개요 (the training set-up: Adam, lr 0.001).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Adam"]


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
        self._tmp = np.empty(size, self.dtype)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.flush_every = flush_every
        self._tiny = np.finfo(self.dtype).tiny

    def direction(self, g: np.ndarray) -> np.ndarray:
        """Advance the state with gradient ``g`` and return Δ (an internal buffer; copy to keep)."""
        b1, b2, tmp = self.beta1, self.beta2, self._tmp
        t = self.t = self.t + 1
        self.m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        self.m += tmp
        self.v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        self.v += tmp
        if t % self.flush_every == 0:
            self.flush_denormals()
        np.multiply(self.v, 1.0 / (1 - b2 ** t), out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += self.eps
        np.divide(self.m, tmp, out=tmp)
        tmp *= 1.0 / (1 - b1 ** t)
        return tmp

    def flush_denormals(self) -> None:
        """Set moments smaller in magnitude than the smallest normal float to 0."""
        for a in (self.m, self.v):
            a[np.abs(a) < self._tiny] = 0

    def state_dict(self) -> dict:
        return {"m": self.m.copy(), "v": self.v.copy(), "t": np.array(self.t)}

    def load_state_dict(self, state: dict) -> None:
        self.m[...] = state["m"]
        self.v[...] = state["v"]
        self.t = int(state["t"])
