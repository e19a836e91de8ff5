"""Inverted dropout (the book's 'dropout' layer).

Notes
-----
While training, every element is kept with probability ``p = keep_prob`` and scaled by ``1/p``:

    m ~ Bernoulli(p) (one draw per element and per sample),   y = x ⊙ m / p,   dx = dy ⊙ m / p

so E[y] = x. In evaluation the layer is the identity. The book's code is already correct here
(erratum E6 only notes the author's remark about a shared mask, which the code does not use).

Report section: 3.2 정규화 — 드롭아웃.
"""

from __future__ import annotations

import numpy as np

from .base import Layer

__all__ = ["dropout_forward", "dropout_backward", "Dropout"]


def dropout_forward(x: np.ndarray, keep_prob: float, rng: np.random.Generator):
    """Inverted dropout while training.

    Parameters
    ----------
    x : ndarray, any shape
    keep_prob : float in (0, 1]
    rng : numpy.random.Generator

    Returns
    -------
    y : ndarray, shape of ``x``, ``x * mask``
    mask : ndarray, shape of ``x``, holding 0 or 1/keep_prob (the cache for the backward pass)
    """
    u = rng.random(x.shape, dtype=x.dtype if x.dtype in (np.float32, np.float64) else np.float64)
    mask = (u < keep_prob).astype(x.dtype)
    mask *= mask.dtype.type(1.0 / keep_prob)
    return x * mask, mask


def dropout_backward(dy: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``dx = dy * mask`` with the scaled mask of :func:`dropout_forward`."""
    return dy * mask


class Dropout(Layer):
    """``['dropout', {'keep_prob': 0.6}]``; keep_prob in (0, 1]."""

    kind = "dropout"

    def __init__(self, cfg, in_shape, layout, profile, rng, dtype):
        super().__init__(cfg, in_shape, layout, profile, rng, dtype)
        self.keep_prob = cfg["keep_prob"]

    def forward(self, x, train):
        if not train or self.keep_prob == 1.0:
            self._mask = None
            return x
        y, self._mask = dropout_forward(x, self.keep_prob, self.rng)
        return y

    def backward(self, dout):
        return dout if self._mask is None else dropout_backward(dout, self._mask)
