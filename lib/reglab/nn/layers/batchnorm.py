"""Batch normalisation (the book's 'batch_normal' layer), per channel of the last book axis.

Notes
-----
For one channel with the ``m`` values of a batch (``m = N`` for vectors, ``N·H·W`` for images):

    μ = (1/m) Σ x,   σ² = (1/m) Σ (x − μ)²,   s = sqrt(σ² + ε),   x̂ = (x − μ)/s,   y = γ x̂ + β

Gradients: ``dγ = Σ dy·x̂``, ``dβ = Σ dy`` and, in full,

    dx = (γ / s) · (dy − mean(dy) − x̂ · mean(dy · x̂))

The book returns ``dx = γ·dy / s`` instead, treating μ and σ as constants (erratum E4,
``Profile.bn_backward='simplified'``), and updates γ and β with plain SGD
(``Profile.bn_affine_update='sgd'``; handled by the model's optimizer groups).

Running statistics, used in evaluation, follow ``μ_run ← μ_run + r (μ − μ_run)`` and likewise
for the variance, from μ_run = 0, σ²_run = 1 (E5: ``Profile.bn_exp_ratio``, book r = 0.001;
``Profile.bn_running_var`` chooses the biased or unbiased batch variance; ``Profile.bn_epsilon``).
An explicit ``epsilon`` or ``exp_ratio`` in the layer's options overrides the profile.

Report section: 3.2 정규화 — 배치 정규화.
"""

from __future__ import annotations

import numpy as np

from .base import Layer, ParamSpec

__all__ = ["batchnorm_forward", "batchnorm_backward", "BatchNorm"]


def batchnorm_forward(rows: np.ndarray, gamma, beta, eps: float, stats=None):
    """Normalise each row of ``rows`` (C, m).

    Parameters
    ----------
    rows : ndarray, shape (C, m)
        One row per channel.
    gamma, beta : ndarray (C,) or None
        Scale and shift (None: no rescaling).
    eps : float
    stats : tuple (mean, var) of ndarray (C,), optional
        Use these instead of the batch statistics (evaluation mode).

    Returns
    -------
    y : ndarray (C, m), new
    xhat : ndarray (C, m)
    std : ndarray (C,)
    mean, var : ndarray (C,)  the statistics used
    """
    if stats is None:
        mean = rows.mean(axis=1)
        xc = rows - mean[:, None]
        var = np.mean(xc * xc, axis=1)
    else:
        mean, var = stats
        xc = rows - mean[:, None].astype(rows.dtype)
    std = np.sqrt(var + eps).astype(rows.dtype)
    xhat = xc
    xhat /= std[:, None]
    return _affine(xhat, gamma, beta), xhat, std, mean, var


def _affine(xhat, gamma, beta):
    """``γ x̂ + β`` per row (a copy of ``x̂`` without rescaling)."""
    if gamma is None:
        return xhat.copy()
    y = xhat * gamma[:, None]
    y += beta[:, None]
    return y


def batchnorm_backward(dy: np.ndarray, xhat: np.ndarray, std: np.ndarray, gamma, full: bool):
    """Return ``(dx, dgamma, dbeta)`` for rows of shape (C, m).

    ``full=False`` gives the book's simplified ``dx = γ·dy/s`` (E4).
    ``dgamma``/``dbeta`` are None when ``gamma`` is None.
    """
    if gamma is None:
        dgamma = dbeta = None
        g = dy
    else:
        dgamma = np.sum(dy * xhat, axis=1)
        dbeta = dy.sum(axis=1)
        g = dy * gamma[:, None]
    if full:
        dx = g - g.mean(axis=1, keepdims=True)
        dx -= xhat * np.mean(g * xhat, axis=1, keepdims=True)
        dx /= std[:, None]
    else:
        dx = g / std[:, None]
    return dx, dgamma, dbeta


class BatchNorm(Layer):
    """``['batch_normal']`` or ``['batch_normal', {'rescale': True, 'epsilon': ..., 'exp_ratio': ...}]``."""

    kind = "batch_normal"

    def __init__(self, cfg, in_shape, layout, profile, rng, dtype):
        super().__init__(cfg, in_shape, layout, profile, rng, dtype)
        self.channels = self.in_shape[-1]
        self.rescale = cfg["rescale"]
        self.eps = cfg["epsilon"] if cfg["epsilon"] is not None else profile.bn_epsilon
        self.exp_ratio = cfg["exp_ratio"] if cfg["exp_ratio"] is not None else profile.bn_exp_ratio
        self.unbiased = profile.bn_running_var == "unbiased"
        self.full_backward = profile.bn_backward == "full"
        self.buffers = {"mavg": np.zeros(self.channels, dtype=self.dtype),
                        "mvar": np.ones(self.channels, dtype=self.dtype)}

    def param_specs(self):
        if not self.rescale:
            return []
        return [ParamSpec("scale", (self.channels,), "ones", "bn_affine"),
                ParamSpec("shift", (self.channels,), "zeros", "bn_affine")]

    def _rows(self, x):
        # cnhw: (C, N, H, W) -> (C, N·H·W) is a free reshape; flat: (N, F) -> (F, N) view
        return x.reshape(x.shape[0], -1) if self.layout == "cnhw" else x.T

    def _unrows(self, rows, shape):
        return rows.reshape(shape) if self.layout == "cnhw" else rows.T

    def forward(self, x, train):
        rows = self._rows(x)
        gamma = self.params.get("scale")
        beta = self.params.get("shift")
        if train:
            y, self._xhat, self._std, mean, var = batchnorm_forward(rows, gamma, beta, self.eps)
            self._update_running(mean, var, rows.shape[1])
        else:
            y = batchnorm_forward(rows, gamma, beta, self.eps,
                                  stats=(self.buffers["mavg"], self.buffers["mvar"]))[0]
        return self._unrows(y, x.shape)

    def _update_running(self, mean, var, m):
        """``μ_run += r (μ − μ_run)``, likewise σ²_run (unbiased ``m/(m−1)`` if the profile says)."""
        run_var = var * (m / (m - 1)) if (self.unbiased and m > 1) else var
        r = self.exp_ratio
        self.buffers["mavg"] += r * (mean - self.buffers["mavg"])
        self.buffers["mvar"] += r * (run_var - self.buffers["mvar"])

    def backward(self, dout):
        dx, dgamma, dbeta = batchnorm_backward(self._rows(dout), self._xhat, self._std,
                                               self.params.get("scale"), self.full_backward)
        if dgamma is not None:
            self.grads["scale"][...] = dgamma
            self.grads["shift"][...] = dbeta
        return self._unrows(dx, dout.shape)
