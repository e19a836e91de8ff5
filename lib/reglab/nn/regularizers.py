"""L2 and L1 weight penalties (the chapter's 정규화 by the size of the weights).

Notes
-----
On all weights and kernels ``w`` (biases and batch-norm parameters are left out, as in the
book's ``collect_params``):

    L2:  cost = (λ2 / 2) Σ w²,    ∂cost/∂w = λ2 w
    L1:  cost = λ1 Σ |w|,         ∂cost/∂w = λ1 sign(w)      (sign(0) = 0)

The book's code differs in two places, both switches of the profile:

* E1/E2 (``Profile.reg_cost_scaled``): the printed cost adds ``(1/2) Σ w²`` and ``Σ |w|``
  without λ; only the printed number changes.
* E3 (``Profile.decay_placement``): the gradient ``λ2 w + λ1 sign(w)`` is added to Adam's step
  instead of to the gradient before Adam (see :meth:`reglab.nn.model.Model.update`).

Report section: 3.2 정규화 — L2, L1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Penalty"]


@dataclass(frozen=True)
class Penalty:
    """λ2 w²/2 + λ1 |w| on the weights, reported as the profile says.

    Attributes
    ----------
    l2, l1 : float
    cost_scaled : bool
        ``Profile.reg_cost_scaled`` (E1/E2): whether the reported cost carries λ.
    """

    l2: float
    l1: float
    cost_scaled: bool = True

    @classmethod
    def from_profile(cls, profile, l2: float = 0.0, l1: float = 0.0) -> "Penalty":
        """The penalty of a run with this :class:`~reglab.profile.Profile` and λ2, λ1."""
        return cls(float(l2), float(l1), profile.reg_cost_scaled)

    @property
    def active(self) -> bool:
        return self.l2 > 0 or self.l1 > 0

    def cost(self, w: np.ndarray) -> float:
        """``(λ2/2) Σ w² + λ1 Σ |w|`` (without the λ when not ``cost_scaled``).

        ``Σ w²`` is BLAS's dot product (one pass, no temporary array); over the MLPs' 830 K
        float32 weights it keeps about six digits, more than the printed cost shows.
        """
        cost = 0.0
        if self.l2 > 0:
            cost += (self.l2 if self.cost_scaled else 1.0) * 0.5 * float(np.dot(w, w))
        if self.l1 > 0:
            cost += (self.l1 if self.cost_scaled else 1.0) * float(np.sum(np.abs(w)))
        return cost

    def gradient(self, w: np.ndarray) -> np.ndarray:
        """``λ2 w + λ1 sign(w)``, a new array of ``w``'s shape and dtype (``sign(0) = 0``)."""
        T = w.dtype.type
        if self.l1 > 0:
            g = np.sign(w)
            g *= T(self.l1)
            if self.l2 > 0:
                g += T(self.l2) * w
            return g
        if self.l2 > 0:
            return T(self.l2) * w
        return np.zeros_like(w)
