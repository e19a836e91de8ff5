"""Fully connected layer (the book's 'full' layer, and the output layer).

Notes
-----
For a batch ``x`` of shape ``(N, D)``, weights ``w`` of shape ``(D, F)`` and a bias ``b`` (F,):

    forward:   z = x w + b,                y = act(z)
    backward:  dz = dy ⊙ act'(z),   dx = dz wᵀ,   dw = xᵀ dz,   db = Σ_n dz[n]

An image-shaped input is flattened in the book's row-major ``(H, W, C)`` order, so ``w`` has the
same meaning as in the book (for the CNNs the output layer's 1536 rows are ``8·8·24`` in that
order). Internally such inputs arrive channels-first, ``(C, N, H, W)``, and are transposed.

:func:`dense_forward` and :func:`dense_backward` are the equations as plain numpy. The layer
class computes the same products with :mod:`.fast_dense`, which takes a long input (the MLPs'
first layer, 27648 inputs) in row blocks.

Report section: 2.1.1 (the MLP models flowers_model_1..3).
"""

from __future__ import annotations

import math

import numpy as np

from ..activations import activate, activation_backward
from .base import Layer, ParamSpec
from .fast_dense import dense_backward_fast, dense_forward_fast

__all__ = ["dense_forward", "dense_backward", "Dense"]


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    """Pre-activation of a fully connected layer, ``z = x @ w + b``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    w : ndarray, shape (D, F)
    b : ndarray, shape (F,)

    Returns
    -------
    z : ndarray, shape (N, F)
    cache : tuple ``(x, w)`` for :func:`dense_backward`
    """
    z = x @ w + b
    cache = (x, w)
    return z, cache


def dense_backward(dz: np.ndarray, cache):
    """Gradients of ``z = x @ w + b``.

    Parameters
    ----------
    dz : ndarray, shape (N, F)
        Gradient of the loss with respect to ``z``.
    cache : tuple from :func:`dense_forward`

    Returns
    -------
    dx : ndarray, shape (N, D)
    dw : ndarray, shape (D, F)
    db : ndarray, shape (F,)
    """
    x, w = cache
    dx = dz @ w.T
    dw = x.T @ dz
    db = dz.sum(axis=0)
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
        z = dense_forward_fast(x, self.params["w"], self.params["b"])
        y = activate(self.actfunc, z, out=z)
        if train:
            self._x, self._y = x, y
        return y

    def backward(self, dout):
        dz = activation_backward(self.actfunc, self._y, dout)
        dx, _, db = dense_backward_fast(dz, self._x, self.params["w"], self.need_input_grad,
                                        dw_out=self.grads["w"])
        self.grads["b"][...] = db
        if dx is not None and self.layout == "cnhw":
            C, N, H, W = self._xshape
            dx = np.ascontiguousarray(dx.reshape(N, H, W, C).transpose(3, 0, 1, 2))
        return dx
