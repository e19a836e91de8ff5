"""Activation functions and their derivatives written in terms of the output, as the book does.

Notes
-----
The book computes every derivative from the activation's output ``y`` (§3.2 of the book notes):

* relu:    y = max(z, 0),          dy/dz = sign(y)   (0 at z <= 0)
* sigmoid: y = 1 / (1 + e^{-z}),   dy/dz = y (1 - y)
* tanh:    y = tanh(z),            dy/dz = (1 + y)(1 - y)
* none:    y = z,                  dy/dz = 1

Report section: 3.2 정규화 (the layers these activations live in).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ACTIVATIONS", "activate", "activation_backward"]

ACTIVATIONS = ("none", "relu", "sigmoid", "tanh")


def activate(name: str, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Apply activation ``name`` to ``z`` (any shape); ``out`` may be ``z`` itself or a buffer.

    ``z`` is never modified unless it is passed as ``out``.
    """
    if name == "relu":
        return np.maximum(z, 0, out=out)
    if name == "none":
        if out is None:
            return z.copy()
        if out is not z:
            out[...] = z
        return out
    if name == "sigmoid":
        # numerically stable: exp of a non-positive number only
        e = np.exp(-np.abs(z))
        pos = np.reciprocal(1 + e)
        res = np.where(z >= 0, pos, e * pos)
        if out is None:
            return res.astype(z.dtype, copy=False)
        out[...] = res
        return out
    if name == "tanh":
        return np.tanh(z, out=out)
    raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}")


def activation_backward(name: str, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Gradient with respect to the pre-activation, from the output ``y`` and upstream ``dy``.

    Returns a new array; ``y`` and ``dy`` are not modified.
    """
    if name == "relu":
        return dy * (y > 0)
    if name == "none":
        return dy.copy()
    if name == "sigmoid":
        return dy * (y * (1 - y))
    if name == "tanh":
        return dy * ((1 + y) * (1 - y))
    raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}")
