"""Noise injection (the book's 'noise' layer).

Notes
-----
While training, Gaussian noise is added, ``y = x + ε`` with ``ε ~ N(mean, std²)`` elementwise, in
the units of the layer's input (at the first layer that means pixel units: 0–255 in the book
profile, 0–1 in the exact profile). With probability ``1 − ratio`` no noise is added. The book
draws that decision once per minibatch (erratum E7, ``Profile.noise_decision='batch'``); the exact
profile draws it per sample. Because ∂y/∂x = 1 the backward pass is the identity. In evaluation
the layer is the identity.

Report section: 3.2 정규화 — 잡음 주입.
"""

from __future__ import annotations

import numpy as np

from .base import Layer

__all__ = ["gaussian_noise", "Noise"]


def gaussian_noise(shape, mean: float, std: float, rng: np.random.Generator, dtype) -> np.ndarray:
    """``N(mean, std²)`` samples of ``shape`` drawn in ``dtype`` (float32 or float64)."""
    eps = rng.standard_normal(shape, dtype=dtype)
    if std != 1.0:
        eps *= eps.dtype.type(std)
    if mean != 0.0:
        eps += eps.dtype.type(mean)
    return eps


class Noise(Layer):
    """``['noise', {'type': 'normal', 'mean': 0, 'std': 0.01, 'ratio': 1.0}]``."""

    kind = "noise"

    def __init__(self, cfg, in_shape, layout, profile, rng, dtype):
        super().__init__(cfg, in_shape, layout, profile, rng, dtype)
        self.mean, self.std, self.ratio = cfg["mean"], cfg["std"], cfg["ratio"]
        self.sample_axis = 1 if layout == "cnhw" else 0

    def forward(self, x, train):
        if not train:
            return x
        if self.profile.noise_decision == "batch":
            if not self.rng.random() < self.ratio:
                return x
            return x + gaussian_noise(x.shape, self.mean, self.std, self.rng, x.dtype)
        eps = gaussian_noise(x.shape, self.mean, self.std, self.rng, x.dtype)
        if self.ratio < 1.0:
            keep = self.rng.random(x.shape[self.sample_axis]) < self.ratio
            shape = [1] * x.ndim
            shape[self.sample_axis] = -1
            eps *= keep.reshape(shape)
        return x + eps

    def backward(self, dout):
        return dout
