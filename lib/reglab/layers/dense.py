"""Fully connected layer (the book's 'full' layer, and the output layer).

Notes
-----
For a batch ``x`` of shape ``(N, D)`` and weights ``w`` of shape ``(D, F)``:

    y = act(x w + b),   dz = dy ⊙ act'(y),   dw = xᵀ dz,   db = Σ_n dz,   dx = dz wᵀ

An image-shaped input is flattened in the book's row-major ``(H, W, C)`` order, so ``w`` has the
same meaning as in the book (for the CNNs the output layer's 1536 rows are ``8·8·24`` in that
order). Internally such inputs arrive channels-first, ``(C, N, H, W)``, and are transposed.

Report section: 2.1.1 (the MLP models flowers_model_1..3).
"""

from __future__ import annotations

import math

import numpy as np

from ..activations import activate, activation_backward
from .base import Layer, ParamSpec

__all__ = ["dense_forward", "dense_backward", "Dense"]


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
        dx, dw, db = dense_backward(dz, self._x, self.params["w"], self.need_input_grad)
        self.grads["w"][...] = dw
        self.grads["b"][...] = db
        if dx is not None and self.layout == "cnhw":
            C, N, H, W = self._xshape
            dx = np.ascontiguousarray(dx.reshape(N, H, W, C).transpose(3, 0, 1, 2))
        return dx
