"""Adam, as the book's AdamModel computes it.

Notes
-----
For a parameter ``p`` with gradient ``g`` at step ``t`` (β1 = 0.9, β2 = 0.999, ε = 1e-8;
Kingma & Ba):

    m ← β1 m + (1 − β1) g
    v ← β2 v + (1 − β2) g²
    m̂ = m / (1 − β1ᵗ),   v̂ = v / (1 − β2ᵗ)
    p ← p − lr · m̂ / (sqrt(v̂) + ε)

:func:`adam_update` is exactly these lines. The book keeps one step counter per tensor; every
tensor is updated at every step, so one counter for all of them is the same thing.

:class:`Adam` applies them to a model's flat parameter buffer (:mod:`reglab.nn.params`) in one
pass of cache-sized chunks, so that every elementwise operation of a chunk runs while the
chunk is in the core's cache (instead of a dozen passes over 3.3 MB arrays for the MLPs' 830 K
parameters), in the form Kingma & Ba give for efficiency (section 2 of the paper), with the
bias corrections folded into the step size and ε:

    α_t = lr · sqrt(1 − β2ᵗ) / (1 − β1ᵗ),   ε̂ = ε · sqrt(1 − β2ᵗ)
    p ← p − α_t · m / (sqrt(v) + ε̂)

which is the same step as the four lines above; the two agree to rounding
(``tests/test_optim.py``).

Dead units: a ReLU unit that never fires has a gradient of exactly 0, and its moments then
decay by β1 and β2 per step into float32's denormal range (below 1.2e-38), where every
arithmetic operation on them is many times slower. Every ``flush_every`` steps the moments (and
the parameters, which can decay the same way under L2) below the smallest normal float are set
to 0; values that small are far under ε and under the resolution of any activation they meet.

Where the L1/L2 penalty enters (E3) is the model's choice, not Adam's: see
:meth:`reglab.nn.model.Model.update`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["adam_update", "flush_denormals", "Adam"]

CHUNK = 1 << 17   # elements per chunk of the fused pass (512 KiB per float32 array)


def adam_update(p, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One textbook Adam step on ``p`` in place; ``m`` and ``v`` are updated in place.

    Parameters
    ----------
    p, g, m, v : ndarray, all of one shape and float dtype
        Parameter, its gradient, first and second moment.
    t : int
        The step number, from 1.
    lr, beta1, beta2, eps : float
    """
    T = p.dtype.type
    m[...] = T(beta1) * m + T(1 - beta1) * g
    v[...] = T(beta2) * v + T(1 - beta2) * (g * g)
    m_hat = m / T(1 - beta1 ** t)
    v_hat = v / T(1 - beta2 ** t)
    p -= T(lr) * (m_hat / (np.sqrt(v_hat) + T(eps)))


def flush_denormals(x: np.ndarray) -> None:
    """Set the nonzero elements of ``x`` below the smallest normal float in magnitude to +0.

    In place. Only the elements that change are written: exact zeros (of either sign), many
    where units died, are left alone, since a masked write costs far more than the test.
    """
    tiny = np.finfo(x.dtype).tiny
    mask = (np.abs(x) < tiny) & (x != 0)
    if mask.any():
        x[mask] = 0


class Adam:
    """Adam state (``m``, ``v``, ``t``) for a flat buffer of ``size`` parameters.

    Parameters
    ----------
    size : int
    dtype : numpy dtype
    beta1, beta2, eps : float
    flush_every : int
        How often moments and parameters below ``finfo(dtype).tiny`` are set to 0 (see Notes
        of the module).
    """

    def __init__(self, size, dtype, beta1=0.9, beta2=0.999, eps=1e-8, flush_every=16):
        self.dtype = np.dtype(dtype)
        self.size = size
        self.m = np.zeros(size, self.dtype)
        self.v = np.zeros(size, self.dtype)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.flush_every = flush_every
        n = min(size, CHUNK)
        self._tmp = (np.empty(n, self.dtype), np.empty(n, self.dtype))

    def step(self, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        """Update ``p`` (size,) in place from its gradient ``g`` (size,); ``g`` is not changed.

        :func:`adam_update` chunk by chunk, with the bias corrections in ``α_t`` and ``ε̂``.
        """
        self.t += 1
        T = self.dtype.type
        b1, b2 = T(self.beta1), T(self.beta2)
        c1, c2 = T(1 - self.beta1), T(1 - self.beta2)
        bc2 = (1 - self.beta2 ** self.t) ** 0.5
        alpha = T(lr * bc2 / (1 - self.beta1 ** self.t))          # α_t
        eps = T(self.eps * bc2)                                   # ε̂
        for a in range(0, self.size, CHUNK):
            e = min(a + CHUNK, self.size)
            pc, gc, mc, vc = p[a:e], g[a:e], self.m[a:e], self.v[a:e]
            t1, t2 = self._tmp[0][:e - a], self._tmp[1][:e - a]
            mc *= b1                                  # m ← β1 m + (1 − β1) g
            np.multiply(gc, c1, out=t1)
            mc += t1
            vc *= b2                                  # v ← β2 v + (1 − β2) g²
            np.multiply(gc, gc, out=t1)
            t1 *= c2
            vc += t1
            np.sqrt(vc, out=t2)                       # p ← p − α_t m / (sqrt(v) + ε̂)
            t2 += eps
            np.divide(mc, t2, out=t1)
            t1 *= alpha
            pc -= t1
        if self.t % self.flush_every == 0:
            for x in (self.m, self.v, p):
                flush_denormals(x)

    def state_dict(self) -> dict:
        """Copies of ``m``, ``v`` and ``t``."""
        return {"m": self.m.copy(), "v": self.v.copy(), "t": np.array(self.t)}

    def load_state_dict(self, state: dict) -> None:
        self.m[...] = state["m"]
        self.v[...] = state["v"]
        self.t = int(state["t"])
