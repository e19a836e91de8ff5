"""L2 and L1 weight penalties on the flat weight vector.

Notes
-----
With all weights and kernels ``w`` (biases and batch-norm parameters excluded, as in the book):

    exact profile:  cost = (λ2/2) Σ w² + λ1 Σ |w|,  gradient λ2 w + λ1 sign(w) added to the data
                    gradient before the optimizer, so the update follows the reported loss.
    book profile:   cost = (1/2) Σ w² + Σ |w| (λ missing, errata E1/E2) and λ2 w + λ1 sign(w)
                    added to Adam's step Δ, after Adam's normalisation (E3, decoupled decay).

Report section: 3.2 정규화 — L2, L1.
"""

from __future__ import annotations

import numpy as np

__all__ = ["penalty_cost", "penalty_gradient"]


def penalty_cost(w: np.ndarray, l2: float, l1: float, scaled: bool) -> float:
    """The regularization term of the cost; ``scaled=False`` omits λ like the book (E1/E2)."""
    cost = 0.0
    if l2 > 0:
        cost += (l2 if scaled else 1.0) * 0.5 * float(np.dot(w, w))
    if l1 > 0:
        cost += (l1 if scaled else 1.0) * float(np.abs(w).sum(dtype=np.float64))
    return cost


def penalty_gradient(w: np.ndarray, l2: float, l1: float, out: np.ndarray) -> np.ndarray:
    """Add ``λ2 w + λ1 sign(w)`` to ``out`` in place and return it."""
    if l2 > 0:
        out += out.dtype.type(l2) * w
    if l1 > 0:
        out += out.dtype.type(l1) * np.sign(w)
    return out
