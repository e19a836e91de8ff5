"""Max and average pooling with window = stride (the book's 'max' and 'avg' layers).

Notes
-----
The book has no separate window size: a window of ``sh × sw`` moves by ``(sh, sw)``, so windows
do not overlap and the input size must be divisible by the stride. On the last two axes,

    max:  y[i, j] = max_{a<sh, b<sw} x[i·sh + a, j·sw + b]
    avg:  y[i, j] = (1 / (sh·sw)) Σ_{a, b} x[i·sh + a, j·sw + b]

The max-pool gradient goes to the first position holding the maximum, scanning the window row
by row as ``np.argmax`` does in the book; the average-pool gradient is spread evenly,
``dy / (sh·sw)``.

Fast form: the ``sh·sw`` window positions are the strided slices ``x[..., a::sh, b::sw]``.
The max pool first copies each of them into a contiguous *tap* (:func:`window_taps`), then
does all its arithmetic on the taps: the maximum and, backward, the comparisons and masks. numpy
runs a strided copy fast, but its arithmetic on strided operands element by element without
SIMD: on a flowers_cnn_1 lane (batch 5, the 6×96×96 output of conv1) a strided
``np.maximum`` of two slices took 79 µs, a strided copy of one 27 µs and a ``np.maximum`` of
two taps 5 µs. The backward pass likewise computes each position's gradient on taps and copies
it into its strided slice of ``dx`` once.

Report section: 2.1.2 (the CNN models flowers_cnn_1..4).
"""

from __future__ import annotations

import numpy as np

from .base import Layer

__all__ = ["window_taps", "max_pool_forward", "max_pool_backward", "avg_pool_forward",
           "avg_pool_backward", "MaxPool", "AvgPool"]


def _slices(sh, sw):
    return [(Ellipsis, slice(a, None, sh), slice(b, None, sw)) for a in range(sh) for b in range(sw)]


def window_taps(x: np.ndarray, sh: int, sw: int, out: np.ndarray | None = None) -> np.ndarray:
    """The window positions of every output, as contiguous copies.

    Parameters
    ----------
    x : ndarray, shape (..., H, W) with H % sh == 0 and W % sw == 0 (any strides)
    out : ndarray (sh·sw, ..., H // sh, W // sw), optional

    Returns
    -------
    taps : ndarray, shape (sh·sw, ..., H // sh, W // sw), contiguous
        ``taps[a·sw + b] = x[..., a::sh, b::sw]``: window positions in row-major order.
    """
    shape = (sh * sw,) + x.shape[:-2] + (x.shape[-2] // sh, x.shape[-1] // sw)
    taps = np.empty(shape, x.dtype) if out is None else out
    for n, s in enumerate(_slices(sh, sw)):
        taps[n] = x[s]
    return taps


def max_pool_forward(x: np.ndarray, sh: int, sw: int, taps: np.ndarray | None = None,
                     out: np.ndarray | None = None) -> np.ndarray:
    """Max over non-overlapping ``sh × sw`` windows of the last two axes.

    Parameters
    ----------
    x : ndarray, shape (..., H, W) with H % sh == 0 and W % sw == 0 (any strides)
    taps : ndarray, optional
        :func:`window_taps` of ``x`` if already computed (``x`` is then not read).
    out : ndarray of the result's shape, optional

    Returns
    -------
    ndarray, shape (..., H // sh, W // sw)
    """
    if taps is None:
        taps = window_taps(x, sh, sw)
    y = np.empty(taps.shape[1:], taps.dtype) if out is None else out
    if len(taps) == 1:
        y[...] = taps[0]
        return y
    np.maximum(taps[0], taps[1], out=y)
    for tap in taps[2:]:
        np.maximum(y, tap, out=y)
    return y


def max_pool_backward(dy: np.ndarray, x: np.ndarray | None, y: np.ndarray, sh: int, sw: int,
                      positive_only: bool = False, out: np.ndarray | None = None,
                      taps: np.ndarray | None = None) -> np.ndarray:
    """Route each ``dy`` to the first argmax of its window (row-major scan).

    Every input position belongs to exactly one window, so each strided slice of ``dx`` is
    written once (no zero fill); ``free`` marks windows whose maximum is not yet taken. (Ties
    are common: a window of ReLU zeros holds its maximum four times.)

    Parameters
    ----------
    dy : ndarray, shape of ``y``
    x, y : the forward input and output (``x`` may be None when ``taps`` is given)
    positive_only : bool
        Also apply the derivative of a ReLU: only windows whose maximum is > 0 pass their
        gradient (the routed position holds the maximum, so ReLU' there is 1 exactly when
        y > 0). ``x`` may then be the pre-activation and ``y = relu(max(x))``: windows with
        y = 0 get no gradient either way. Saves a full-size pass over the convolution's output.
    out : ndarray of ``x``'s shape, optional (any strides)
        Written with the result instead of a new array. Every element is written, so it need
        not be cleared.
    taps : ndarray, optional
        :func:`window_taps` of ``x`` (from the forward pass).
    """
    if taps is None:
        taps = window_taps(x, sh, sw)
    shape = taps.shape[1:-2] + (taps.shape[-2] * sh, taps.shape[-1] * sw)
    dx = np.empty(shape, dtype=dy.dtype) if out is None else out
    hit = np.empty(y.shape, dtype=bool)
    # ReLU': a window whose maximum is not > 0 is never free, so none of its positions is hit
    free = np.greater(y, 0) if positive_only else np.ones(y.shape, dtype=bool)
    part = np.empty(y.shape, dtype=dy.dtype)
    for n, s in enumerate(_slices(sh, sw)):
        np.equal(taps[n], y, out=hit)
        if n or positive_only:
            np.logical_and(hit, free, out=hit)
        np.multiply(dy, hit, out=part)
        dx[s] = part
        if n < len(taps) - 1:
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
        convolution's ``dz`` frame, :meth:`reglab.nn.layers.Conv2D.grad_frame`).
    """

    kind = "max"
    fused_relu = False
    grad_into = None        # set by link_layers: returns the previous conv's gradient frame
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
        # y is a new contiguous array: writing straight into the next convolution's padded
        # frame (a strided view) measured slower than the frame copy it saves.
        y = max_pool_forward(None, self.sh, self.sw, taps=taps)
        if self.fused_relu:
            np.maximum(y, 0, out=y)
        if train:
            self._taps, self._y = taps, y
        return y

    def backward(self, dout):
        out = self.grad_into() if self.grad_into is not None else None
        return max_pool_backward(dout, None, self._y, self.sh, self.sw,
                                 positive_only=self.fused_relu, out=out, taps=self._taps)


class AvgPool(_Pool):
    """The book's 'avg' layer: ``['avg', {'stride': 3}]``."""

    kind = "avg"

    def forward(self, x, train):
        if train:
            self._xshape = x.shape
        return avg_pool_forward(x, self.sh, self.sw)

    def backward(self, dout):
        return avg_pool_backward(dout, self._xshape, self.sh, self.sw)
