"""Softmax cross entropy for the 'select' (one-of-N) mode of the book's Dataset.

Notes
-----
With logits ``z`` (N, K) and integer labels ``t``:

    p = softmax(z) = exp(z − max z) / Σ exp(z − max z)
    loss = −(1/N) Σ_n log(p[n, t_n] + ε)            (book: ε = 1e-10, Profile.ce_log_epsilon)
    loss = −(1/N) Σ_n (z[n, t_n] − logsumexp(z_n))  (ε = 0, the exact log-softmax)
    ∂loss/∂z = (p − onehot(t)) / N

With ε = 1e-10 the gradient above is exact up to a relative 1e-10/p, far below float32 precision.

Report section: 3.1 과적합 (the loss curves are this quantity).
"""

from __future__ import annotations

import numpy as np

__all__ = ["softmax", "softmax_cross_entropy", "softmax_cross_entropy_backward", "accuracy"]


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``z`` (N, K); a new array."""
    e = z - z.max(axis=1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=1, keepdims=True)
    return e


def softmax_cross_entropy(z: np.ndarray, labels: np.ndarray, log_eps: float = 0.0):
    """Mean cross entropy of logits ``z`` (N, K) against int ``labels`` (N,).

    Returns
    -------
    loss : float
    probs : ndarray (N, K)
        The softmax, reused by the backward pass.
    """
    n = z.shape[0]
    rows = np.arange(n)
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    probs = e / total
    if log_eps > 0:
        loss = -np.mean(np.log(probs[rows, labels].astype(np.float64) + log_eps))
    else:
        loss = -np.mean(shifted[rows, labels].astype(np.float64) - np.log(total[:, 0].astype(np.float64)))
    return float(loss), probs


def softmax_cross_entropy_backward(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(probs − onehot(labels)) / N``; a new array."""
    g = probs.copy()
    g[np.arange(g.shape[0]), labels] -= 1
    g /= g.shape[0]
    return g


def accuracy(z: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose argmax equals the label."""
    return float(np.mean(np.argmax(z, axis=1) == labels))
