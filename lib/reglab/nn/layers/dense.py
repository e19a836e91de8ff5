"""Fully connected layer (the book's 'full' layer, and the output layer).

Notes
-----
For a batch ``x`` of shape ``(N, D)`` and weights ``w`` of shape ``(D, F)``:

    y = act(x w + b),   dz = dy ⊙ act'(y),   dw = xᵀ dz,   db = Σ_n dz,   dx = dz wᵀ

An image-shaped input is flattened in the book's row-major ``(H, W, C)`` order, so ``w`` has the
same meaning as in the book (for the CNNs the output layer's 1536 rows are ``8·8·24`` in that
order). Internally such inputs arrive channels-first, ``(C, N, H, W)``, and are transposed.

A long input (``D`` > :data:`K_CHUNK`, the MLPs' first layer: 27648 inputs) has its two large
products taken over row blocks of ``w``, ``D = k·c`` (+ a shorter tail):

    x w = Σ_j x[:, jc:(j+1)c] w[jc:(j+1)c],      dw[jc:(j+1)c] = x[:, jc:(j+1)c]ᵀ dz

as one batched ``matmul`` each. OpenBLAS is slow on these very flat products (10 × 27648 @
27648 × 30: 546 µs as one GEMM, 230 µs in blocks of 3072; ``dw``: 360 against 200 µs; one core,
the reference VM). The blocks are fixed by ``D`` and their sums are added in block order, so the
result depends on the shapes only. Both products stay on one core: two threads, each on half of
the blocks, gained nothing.

Report section: 2.1.1 (the MLP models flowers_model_1..3).
"""

from __future__ import annotations

import math

import numpy as np

from ..activations import activate, activation_backward
from .base import Layer, ParamSpec

__all__ = ["dense_forward", "dense_backward", "Dense", "K_CHUNK"]

K_CHUNK = 3072      # longest row block; measured: 256..3072 equally fast, 3456 and more 2x slower


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


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pre-activation ``x @ w + b``; ``x`` (N, D), ``w`` (D, F), ``b`` (F,) → (N, F)."""
    z = _x_times_w(x, w)
    z += b
    return z


def dense_backward(dz: np.ndarray, x: np.ndarray, w: np.ndarray, need_dx: bool = True,
                   dw_out: np.ndarray | None = None):
    """Return ``(dx or None, dw, db)`` for ``z = x @ w + b`` given ``dz`` (N, F).

    ``dw`` is written into ``dw_out`` (D, F) when given.
    """
    dw = _xt_times_dz(x, dz, np.empty(w.shape, dz.dtype) if dw_out is None else dw_out)
    db = dz.sum(axis=0)
    dx = dz @ w.T if need_dx else None
    return dx, dw, db


class Dense(Layer):
    """The book's 'full' layer: an int width (``30``) or ``['full', {'width': 30}]``.

    The output layer is a Dense layer with ``actfunc='none'`` (logits).
    """

    kind = "full"

    def __init__(self, cfg, in_shape, layout, profile, rng, dtype, width=None, actfunc=None):
        super().__init__(cfg, in_shape, layout, profile, rng, dtype)
        self.width = cfg["width"] if cfg is not None else width
        self.actfunc = cfg["actfunc"] if cfg is not None else actfunc
        self.fan_in = math.prod(self.in_shape)
        self.out_shape = (self.width,)
        self.out_layout = "flat"

    def param_specs(self):
        return [ParamSpec("w", (self.fan_in, self.width), "normal", "weight"),
                ParamSpec("b", (self.width,), "zeros", "bias")]

    def forward(self, x, train):
        if self.layout == "cnhw":           # (C, N, H, W) -> (N, H·W·C), the book's order
            self._xshape = x.shape
            x = x.transpose(1, 2, 3, 0).reshape(x.shape[1], -1)
        elif x.ndim != 2:
            x = x.reshape(x.shape[0], -1)
        z = dense_forward(x, self.params["w"], self.params["b"])
        y = activate(self.actfunc, z, out=z)
        if train:
            self._x, self._y = x, y
        return y

    def backward(self, dout):
        dz = activation_backward(self.actfunc, self._y, dout)
        dx, _, db = dense_backward(dz, self._x, self.params["w"], self.need_input_grad,
                                   dw_out=self.grads["w"])
        self.grads["b"][...] = db
        if dx is not None and self.layout == "cnhw":
            C, N, H, W = self._xshape
            dx = np.ascontiguousarray(dx.reshape(N, H, W, C).transpose(3, 0, 1, 2))
        return dx
