"""Max and average pooling with window = stride (the book's 'max' and 'avg' layers).

Notes
-----
The book has no separate window size: a window of ``sh × sw`` moves by ``(sh, sw)``, so windows
do not overlap and the input size must be divisible by the stride. On the last two axes,

    max:  y[i, j] = max_{a<sh, b<sw} x[i·sh + a, j·sw + b]
    avg:  y[i, j] = (1 / (sh·sw)) Σ_{a, b} x[i·sh + a, j·sw + b]

Both are computed as an elementwise reduction over the ``sh·sw`` strided slices
``x[..., a::sh, b::sw]`` (much faster than a reshape-and-reduce). The max-pool gradient goes to
the first position holding the maximum, scanning the window row by row as ``np.argmax`` does in
the book; the average-pool gradient is spread evenly, ``dy / (sh·sw)``.

Report section: 2.1.2 (the CNN models flowers_cnn_1..4).
"""

from __future__ import annotations

import numpy as np

from .base import Layer

__all__ = ["max_pool_forward", "max_pool_backward", "avg_pool_forward", "avg_pool_backward",
           "MaxPool", "AvgPool"]


def _slices(sh, sw):
    return [(Ellipsis, slice(a, None, sh), slice(b, None, sw)) for a in range(sh) for b in range(sw)]


def max_pool_forward(x: np.ndarray, sh: int, sw: int) -> np.ndarray:
    """Max over non-overlapping ``sh × sw`` windows of the last two axes.

    Parameters
    ----------
    x : ndarray, shape (..., H, W) with H % sh == 0 and W % sw == 0 (any strides)

    Returns
    -------
    ndarray, shape (..., H // sh, W // sw)
    """
    sl = _slices(sh, sw)
    if len(sl) == 1:
        return x.copy()
    y = np.maximum(x[sl[0]], x[sl[1]])
    for s in sl[2:]:
        np.maximum(y, x[s], out=y)
    return y


def max_pool_backward(dy: np.ndarray, x: np.ndarray, y: np.ndarray, sh: int, sw: int,
                      positive_only: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    """Route each ``dy`` to the first argmax of its window (row-major scan).

    Every input position belongs to exactly one window, so each strided slice of ``dx`` is
    written once (no zero fill); ``free`` marks windows whose maximum is not yet taken. (Ties
    are common: a window of ReLU zeros holds its maximum four times.)

    Parameters
    ----------
    dy : ndarray, shape of ``y``
    x, y : the forward input and output
    positive_only : bool
        Also apply the derivative of a ReLU: only windows whose maximum is > 0 pass their
        gradient (the routed position holds the maximum, so ReLU' there is 1 exactly when
        y > 0). ``x`` may then be the pre-activation and ``y = relu(max(x))``: windows with
        y = 0 get no gradient either way. Saves a full-size pass over the convolution's output.
    out : ndarray of ``x``'s shape, optional (any strides)
        Written with the result instead of a new array. Every element is written, so it need
        not be cleared (each strided slice of ``dx`` is strided anyway, so a strided ``out``
        costs nothing extra).
    """
    dx = np.empty(x.shape, dtype=dy.dtype) if out is None else out
    if positive_only:
        dy = dy * (y > 0)
    sl = _slices(sh, sw)
    hit = np.empty(y.shape, dtype=bool)
    free = np.ones(y.shape, dtype=bool)
    for n, s in enumerate(sl):
        np.equal(x[s], y, out=hit)
        if n:
            np.logical_and(hit, free, out=hit)
        np.multiply(dy, hit, out=dx[s])
        if n < len(sl) - 1:
            np.greater(free, hit, out=free)      # free and not hit
    return dx


def avg_pool_forward(x: np.ndarray, sh: int, sw: int) -> np.ndarray:
    """Mean over non-overlapping ``sh × sw`` windows of the last two axes."""
    sl = _slices(sh, sw)
    y = x[sl[0]].copy()
    for s in sl[1:]:
        y += x[s]
    y *= y.dtype.type(1.0 / (sh * sw))
    return y


def avg_pool_backward(dy: np.ndarray, x_shape: tuple, sh: int, sw: int) -> np.ndarray:
    """Spread ``dy / (sh·sw)`` over each window."""
    dx = np.empty(x_shape, dtype=dy.dtype)
    g = dy * dy.dtype.type(1.0 / (sh * sw))
    for s in _slices(sh, sw):
        dx[s] = g
    return dx


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
        Set by the model when the previous layer is a ReLU convolution. That layer then
        returns its pre-activation ``z`` and this layer computes ``relu(max(z))`` (max and ReLU
        commute, so this is ``max(relu(z))`` on a quarter of the elements); the backward pass
        applies the ReLU derivative too (see :func:`max_pool_backward`).
    grad_into : callable or None
        Set with ``fused_relu``: returns the array the backward pass writes into (the
        convolution's ``dz`` frame, :meth:`reglab.layers.Conv2D.grad_frame`).
    """

    kind = "max"
    fused_relu = False
    grad_into = None        # set by link_layers: returns the previous conv's gradient frame

    def forward(self, x, train):
        # Written to a new contiguous array: writing straight into the next convolution's
        # padded frame (a strided view) measured slower than the frame copy it saves.
        y = max_pool_forward(x, self.sh, self.sw)
        if self.fused_relu:
            np.maximum(y, 0, out=y)
        if train:
            self._x, self._y = x, y
        return y

    def backward(self, dout):
        out = self.grad_into() if self.grad_into is not None else None
        return max_pool_backward(dout, self._x, self._y, self.sh, self.sw,
                                 positive_only=self.fused_relu, out=out)


class AvgPool(_Pool):
    """The book's 'avg' layer: ``['avg', {'stride': 3}]``."""

    kind = "avg"

    def forward(self, x, train):
        if train:
            self._xshape = x.shape
        return avg_pool_forward(x, self.sh, self.sw)

    def backward(self, dout):
        return avg_pool_backward(dout, self._xshape, self.sh, self.sw)
