"""Max and average pooling with window = stride (the book's 'max' and 'avg' layers).

Notes
-----
The book has no separate window size: a window of ``sh × sw`` moves by ``(sh, sw)``, so windows
do not overlap and the input size must be divisible by the stride. On the last two axes,

    max:  y[i, j] = max_{a<sh, b<sw} x[i·sh + a, j·sw + b]
    avg:  y[i, j] = (1 / (sh·sw)) Σ_{a<sh, b<sw} x[i·sh + a, j·sw + b]

and backwards

    max:  dx[i·sh + a, j·sw + b] = dy[i, j] at the window's argmax (a, b), 0 elsewhere
    avg:  dx[i·sh + a, j·sw + b] = dy[i, j] / (sh·sw)

The max-pool gradient goes to the first position holding the maximum, scanning the window row
by row as ``np.argmax`` does in the book.

:func:`max_pool_forward`, :func:`max_pool_backward`, :func:`avg_pool_forward` and
:func:`avg_pool_backward` are the plain form: the input is reshaped so that each window is one
row of ``sh·sw`` values. The layer classes use :mod:`.fast_pool`, which works on the strided
slices of the window positions and can apply a preceding convolution's ReLU itself.

Report section: 2.1.2 (the CNN models flowers_cnn_1..4).
"""

from __future__ import annotations

import numpy as np

from .base import Layer
from .fast_pool import (avg_pool_backward_fast, avg_pool_forward_fast, max_pool_backward_fast,
                        max_pool_forward_fast, window_taps)

__all__ = ["max_pool_forward", "max_pool_backward", "avg_pool_forward", "avg_pool_backward",
           "MaxPool", "AvgPool"]


def _windows(x: np.ndarray, sh: int, sw: int) -> np.ndarray:
    """``x`` (..., H, W) as (..., H/sh, W/sw, sh·sw): each window a row, in row-major order."""
    *lead, H, W = x.shape
    x = x.reshape(*lead, H // sh, sh, W // sw, sw)
    x = np.swapaxes(x, -3, -2)                        # (..., H/sh, W/sw, sh, sw)
    return x.reshape(*lead, H // sh, W // sw, sh * sw)


def _unwindows(rows: np.ndarray, sh: int, sw: int) -> np.ndarray:
    """The inverse of :func:`_windows`: (..., H/sh, W/sw, sh·sw) → (..., H, W)."""
    *lead, Ho, Wo, _ = rows.shape
    rows = rows.reshape(*lead, Ho, Wo, sh, sw)
    rows = np.swapaxes(rows, -3, -2)                  # (..., H/sh, sh, W/sw, sw)
    return rows.reshape(*lead, Ho * sh, Wo * sw)


def max_pool_forward(x: np.ndarray, sh: int, sw: int):
    """Max over non-overlapping ``sh × sw`` windows of the last two axes.

    Parameters
    ----------
    x : ndarray, shape (..., H, W) with H % sh == 0 and W % sw == 0

    Returns
    -------
    y : ndarray, shape (..., H // sh, W // sw)
    cache : tuple ``(argmax, sh, sw)`` for :func:`max_pool_backward`
    """
    windows = _windows(x, sh, sw)
    argmax = windows.argmax(axis=-1)                  # the first maximum of each window
    y = windows.max(axis=-1)
    return y, (argmax, sh, sw)


def max_pool_backward(dy: np.ndarray, cache) -> np.ndarray:
    """Gradient of the max pool: each ``dy`` goes to its window's (first) argmax.

    Parameters
    ----------
    dy : ndarray, shape (..., H // sh, W // sw)
    cache : tuple from :func:`max_pool_forward`

    Returns
    -------
    dx : ndarray, shape (..., H, W)
    """
    argmax, sh, sw = cache
    one_hot = np.arange(sh * sw) == argmax[..., None]    # (..., H/sh, W/sw, sh·sw)
    return _unwindows(one_hot * dy[..., None], sh, sw)


def avg_pool_forward(x: np.ndarray, sh: int, sw: int):
    """Mean over non-overlapping ``sh × sw`` windows of the last two axes.

    Parameters
    ----------
    x : ndarray, shape (..., H, W) with H % sh == 0 and W % sw == 0

    Returns
    -------
    y : ndarray, shape (..., H // sh, W // sw)
    cache : tuple ``(sh, sw)`` for :func:`avg_pool_backward`
    """
    y = _windows(x, sh, sw).mean(axis=-1)
    return y, (sh, sw)


def avg_pool_backward(dy: np.ndarray, cache) -> np.ndarray:
    """Gradient of the average pool: ``dy / (sh·sw)`` to every position of the window.

    Parameters
    ----------
    dy : ndarray, shape (..., H // sh, W // sw)
    cache : tuple from :func:`avg_pool_forward`

    Returns
    -------
    dx : ndarray, shape (..., H, W)
    """
    sh, sw = cache
    share = dy[..., None] / (sh * sw)
    return _unwindows(np.repeat(share, sh * sw, axis=-1), sh, sw)


class _Pool(Layer):
    def __init__(self, cfg, in_shape, layout, profile, rng, dtype):
        super().__init__(cfg, in_shape, layout, profile, rng, dtype)
        if len(self.in_shape) != 3 or layout != "cnhw":
            self._fail(f"needs an image-shaped input [H, W, C] but gets {list(self.in_shape)}; "
                       "put pooling layers before any 'full' layer")
        H, W, C = self.in_shape
        self.sh, self.sw = cfg["stride"]
        if H % self.sh or W % self.sw:
            self._fail(f"stride {[self.sh, self.sw]} does not divide the input size {H}x{W}; "
                       f"the window equals the stride, so use a stride that divides {H} and {W} "
                       "(or change the resolution)")
        self.out_shape = (H // self.sh, W // self.sw, C)


class MaxPool(_Pool):
    """The book's 'max' layer: ``['max', {'stride': 2}]``.

    Attributes
    ----------
    fused_relu : bool
        Set by :func:`~reglab.nn.layers.link_layers` when the previous layer is a ReLU
        convolution. That layer then returns its pre-activation ``z`` and this layer computes
        ``relu(max(z))``; the backward pass applies the ReLU derivative too
        (``positive_only`` in :func:`~.fast_pool.max_pool_backward_fast`).
    grad_into : callable or None
        Set with ``fused_relu``: returns the array the backward pass writes into (the
        convolution's ``dz`` frame, :meth:`reglab.nn.layers.Conv2D.grad_frame`).
    """

    kind = "max"
    fused_relu = False
    grad_into = None
    MAX_TAP_BUFFERS = 4

    def __init__(self, cfg, in_shape, layout, profile, rng, dtype):
        super().__init__(cfg, in_shape, layout, profile, rng, dtype)
        self._tap_buffers: dict = {}

    def _taps_buffer(self, shape) -> np.ndarray:
        """A reused array for the taps of a training input of ``shape`` (one per shape)."""
        buf = self._tap_buffers.get(shape)
        if buf is None:
            if len(self._tap_buffers) >= self.MAX_TAP_BUFFERS:
                self._tap_buffers.pop(next(iter(self._tap_buffers)))
            buf = self._tap_buffers[shape] = np.empty(
                (self.sh * self.sw,) + shape[:-2] + (shape[-2] // self.sh, shape[-1] // self.sw),
                self.dtype)
        return buf

    def forward(self, x, train):
        # Training reuses one taps array per batch shape (it lives until the backward pass);
        # evaluation, with its large chunks, allocates them per call and keeps nothing.
        taps = window_taps(x, self.sh, self.sw, out=self._taps_buffer(x.shape) if train else None)
        # y is a new contiguous array: numpy writes into the next convolution's frame (a
        # strided view) more slowly than that layer copies it in
        y = max_pool_forward_fast(None, self.sh, self.sw, taps=taps)
        if self.fused_relu:
            np.maximum(y, 0, out=y)
        if train:
            self._taps, self._y = taps, y
        return y

    def backward(self, dout):
        out = self.grad_into() if self.grad_into is not None else None
        return max_pool_backward_fast(dout, None, self._y, self.sh, self.sw,
                                      positive_only=self.fused_relu, out=out, taps=self._taps)


class AvgPool(_Pool):
    """The book's 'avg' layer: ``['avg', {'stride': 3}]``."""

    kind = "avg"

    def forward(self, x, train):
        if train:
            self._xshape = x.shape
        return avg_pool_forward_fast(x, self.sh, self.sw)

    def backward(self, dout):
        return avg_pool_backward_fast(dout, self._xshape, self.sh, self.sw)
