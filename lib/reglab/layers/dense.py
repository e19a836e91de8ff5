"""Fully connected layer (the book's 'full' layer, and the output layer).

Notes
-----
For a batch ``x`` of shape ``(N, D)`` and weights ``w`` of shape ``(D, F)``:

    y = act(x w + b),   dz = dy ⊙ act'(y),   dw = xᵀ dz,   db = Σ_n dz,   dx = dz wᵀ

An image-shaped input is flattened in the book's row-major ``(H, W, C)`` order, so ``w`` has the
same meaning as in the book (for the CNNs the output layer's 1536 rows are ``8·8·24`` in that
order). Internally such inputs arrive channels-first, ``(C, N, H, W)``, and are transposed.

A layer with at least ``SPLIT_WEIGHTS`` weights (the MLPs' first layer: 27648 × 30) splits its
products over two halves of its ``D`` input rows, ``x w = x[:, :h] w[:h] + x[:, h:] w[h:]``, so
two cores can share them (:func:`reglab.parallel.run_parts`); ``dw`` and ``dx`` split the same
way without any sum. The split depends on the shape only, so the numbers do not depend on the
number of threads.

Report section: 2.1.1 (the MLP models flowers_model_1..3).
"""

from __future__ import annotations

import math

import numpy as np

from ..activations import activate, activation_backward
from ..parallel import run_parts
from .base import Layer, ParamSpec

__all__ = ["dense_forward", "dense_backward", "Dense", "SPLIT_WEIGHTS"]

SPLIT_WEIGHTS = 1 << 18


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pre-activation ``x @ w + b``; ``x`` (N, D), ``w`` (D, F), ``b`` (F,) → (N, F)."""
    z = x @ w
    z += b
    return z


def dense_backward(dz: np.ndarray, x: np.ndarray, w: np.ndarray, need_dx: bool = True):
    """Return ``(dx or None, dw, db)`` for ``z = x @ w + b`` given ``dz`` (N, F)."""
    dw = x.T @ dz
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

    def _halves(self):
        if self.fan_in * self.width < SPLIT_WEIGHTS:
            return None
        h = self.fan_in // 2
        return [(0, h), (h, self.fan_in)]

    def forward(self, x, train):
        if self.layout == "cnhw":           # (C, N, H, W) -> (N, H·W·C), the book's order
            self._xshape = x.shape
            x = x.transpose(1, 2, 3, 0).reshape(x.shape[1], -1)
        elif x.ndim != 2:
            x = x.reshape(x.shape[0], -1)
        halves = self._halves()
        if halves is None:
            z = dense_forward(x, self.params["w"], self.params["b"])
        else:
            w = self.params["w"]
            parts = [None, None]

            def part(i):
                a, e = halves[i]
                parts[i] = x[:, a:e] @ w[a:e]
            run_parts(part, (0, 1))
            z = parts[0]
            z += parts[1]
            z += self.params["b"]
        y = activate(self.actfunc, z, out=z)
        if train:
            self._x, self._y = x, y
        return y

    def backward(self, dout):
        dz = activation_backward(self.actfunc, self._y, dout)
        halves = self._halves()
        if halves is None:
            dx, dw, db = dense_backward(dz, self._x, self.params["w"], self.need_input_grad)
            self.grads["w"][...] = dw
        else:
            x, w, dw = self._x, self.params["w"], self.grads["w"]
            dx = np.empty(x.shape, dz.dtype) if self.need_input_grad else None

            def part(i):
                a, e = halves[i]
                np.matmul(x[:, a:e].T, dz, out=dw[a:e])
                if dx is not None:
                    np.matmul(dz, w[a:e].T, out=dx[:, a:e])
            run_parts(part, (0, 1))
            db = dz.sum(axis=0)
        self.grads["b"][...] = db
        if dx is not None and self.layout == "cnhw":
            C, N, H, W = self._xshape
            dx = np.ascontiguousarray(dx.reshape(N, H, W, C).transpose(3, 0, 1, 2))
        return dx
