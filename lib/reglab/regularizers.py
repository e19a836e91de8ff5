"""L2 and L1 weight penalties on the flat weight vector.

Notes
-----
With all weights and kernels ``w`` (biases and batch-norm parameters excluded, as in the book):

    exact profile:  cost = (λ2/2) Σ w² + λ1 Σ |w|,  gradient λ2 w + λ1 sign(w) added to the data
                    gradient before the optimizer, so the update follows the reported loss.
    book profile:   cost = (1/2) Σ w² + Σ |w| (λ missing, errata E1/E2) and λ2 w + λ1 sign(w)
                    added to Adam's step Δ, after Adam's normalisation (E3, decoupled decay).

:class:`Penalty` holds λ2, λ1 and the two profile switches; the optimizer applies it chunk by
chunk inside its own pass over the parameters, so L1/L2 cost no extra trip through memory.

Report section: 3.2 정규화 — L2, L1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Penalty"]


@dataclass(frozen=True)
class Penalty:
    """λ2 w²/2 + λ1 |w| on the weights, placed and reported according to the profile.

    Attributes
    ----------
    l2, l1 : float
    placement : {'gradient', 'after_optimizer'}
        ``Profile.decay_placement`` (E3).
    cost_scaled : bool
        ``Profile.reg_cost_scaled`` (E1/E2): whether the reported cost carries λ.
    """

    l2: float
    l1: float
    placement: str
    cost_scaled: bool

    @property
    def active(self) -> bool:
        return self.l2 > 0 or self.l1 > 0

    def cost(self, w: np.ndarray) -> float:
        """The cost term for (a part of) the weight vector."""
        cost = 0.0
        if self.l2 > 0:
            cost += (self.l2 if self.cost_scaled else 1.0) * 0.5 * float(np.dot(w, w))
        if self.l1 > 0:
            cost += (self.l1 if self.cost_scaled else 1.0) * float(np.abs(w).sum(dtype=np.float64))
        return cost

    def apply(self, w: np.ndarray, out: np.ndarray, scale: float, tmp: np.ndarray) -> float:
        """``out += scale · (λ2 w + λ1 sign(w))`` in place and return :meth:`cost` of ``w``.

        One pass per term: Σ|w| is computed as ``sign(w) · w``, reusing the sign the gradient
        needs. ``tmp`` is scratch space of at least ``w.size`` elements.
        """
        tmp = tmp[:w.size]
        t = out.dtype.type
        cost = 0.0
        if self.l2 > 0:
            cost += (self.l2 if self.cost_scaled else 1.0) * 0.5 * float(np.dot(w, w))
            np.multiply(w, t(scale * self.l2), out=tmp)
            out += tmp
        if self.l1 > 0:
            np.sign(w, out=tmp)
            cost += (self.l1 if self.cost_scaled else 1.0) * float(np.dot(tmp, w))
            tmp *= t(scale * self.l1)
            out += tmp
        return cost

    def add_gradient(self, w: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out += λ2 w + λ1 sign(w)`` in place (the unfused form, for gradient checks)."""
        self.apply(w, out, 1.0, np.empty_like(w))
        return out
