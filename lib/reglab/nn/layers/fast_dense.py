"""Fast form of the fully connected layer's products (used by :class:`~.dense.Dense`).

Notes
-----
These functions compute the same ``z = x w + b``, ``dw = xᵀ dz``, ``db = Σ_n dz`` and
``dx = dz wᵀ`` as the plain :func:`~.dense.dense_forward` and :func:`~.dense.dense_backward`.
They differ only for a long input (``D`` > :data:`K_CHUNK`, the MLPs' first layer with 27648
inputs): its two large products are taken over row blocks of ``w``, ``D = k·c`` (+ a shorter
tail),

    x w = Σ_j x[:, jc:(j+1)c] w[jc:(j+1)c],      dw[jc:(j+1)c] = x[:, jc:(j+1)c]ᵀ dz

as one batched ``matmul`` each, because OpenBLAS is slow on a single product this flat
(a batch of 10 rows against 27648). The blocks are fixed by ``D`` and their products are added
in block order, so the result depends on the shapes only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["K_CHUNK", "dense_forward_fast", "dense_backward_fast"]

K_CHUNK = 3072      # longest row block: longer blocks are slower again


def _blocks(d: int) -> tuple[int, int]:
    """``(k, c)``: ``k`` equal row blocks of ``c`` rows for ``D = d`` (the tail ``d − k·c`` apart)."""
    k = -(-d // K_CHUNK)
    c = -(-d // k)
    return d // c, c


def _x_times_w(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x @ w`` for ``x`` (N, D), ``w`` (D, F), in row blocks of ``w`` when D is long."""
    n, d = x.shape
    if d <= K_CHUNK:
        return x @ w
    k, c = _blocks(d)
    e = k * c
    parts = np.matmul(x[:, :e].reshape(n, k, c).transpose(1, 0, 2), w[:e].reshape(k, c, -1))
    z = np.add.reduce(parts, axis=0)
    if e < d:
        z += x[:, e:] @ w[e:]
    return z


def _xt_times_dz(x: np.ndarray, dz: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = x.T @ dz`` for ``x`` (N, D), ``dz`` (N, F), in row blocks of ``out`` when D is long."""
    n, d = x.shape
    if d <= K_CHUNK:
        return np.matmul(x.T, dz, out=out)
    k, c = _blocks(d)
    e = k * c
    np.matmul(x[:, :e].reshape(n, k, c).transpose(1, 2, 0), dz, out=out[:e].reshape(k, c, -1))
    if e < d:
        np.matmul(x[:, e:].T, dz, out=out[e:])
    return out


def dense_forward_fast(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pre-activation ``x @ w + b``; ``x`` (N, D), ``w`` (D, F), ``b`` (F,) → (N, F), a new array."""
    z = _x_times_w(x, w)
    z += b
    return z


def dense_backward_fast(dz: np.ndarray, x: np.ndarray, w: np.ndarray, need_dx: bool = True,
                        dw_out: np.ndarray | None = None):
    """Return ``(dx or None, dw, db)`` for ``z = x @ w + b`` given ``dz`` (N, F).

    ``dw`` is written into ``dw_out`` (D, F) when given; ``need_dx=False`` skips ``dx`` (the
    first layer does not need it).
    """
    dw = _xt_times_dz(x, dz, np.empty(w.shape, dz.dtype) if dw_out is None else dw_out)
    db = dz.sum(axis=0)
    dx = dz @ w.T if need_dx else None
    return dx, dw, db
