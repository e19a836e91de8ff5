"""Fast form of max and average pooling (used by :class:`~.pool.MaxPool` and :class:`~.pool.AvgPool`).

Notes
-----
These functions compute the same outputs and gradients as the plain functions of
:mod:`.pool` (window = stride, the max-pool gradient to the first maximum of each window).

The ``sh·sw`` window positions are the strided slices ``x[..., a::sh, b::sw]``. numpy copies a
strided slice fast, but runs arithmetic on strided operands element by element without SIMD.
So the max pool first copies each slice once into a contiguous *tap* (:func:`window_taps`) and
does all its arithmetic on the taps: the maximum and, backwards, the comparisons and masks; the
gradient of each window position is then copied into its strided slice of ``dx`` once.

Fused ReLU: after a ReLU convolution the pool can take the pre-activation ``z`` and return
``relu(max(z)) = max(relu(z))`` (max and ReLU commute), on a quarter of the elements. Backwards,
``positive_only=True`` passes the gradient only through windows whose maximum is > 0, which is
the ReLU derivative at the routed position (see :func:`~reglab.nn.layers.link_layers`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["window_taps", "max_pool_forward_fast", "max_pool_backward_fast",
           "avg_pool_forward_fast", "avg_pool_backward_fast"]


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


def max_pool_forward_fast(x: np.ndarray | None, sh: int, sw: int, taps: np.ndarray | None = None,
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


def max_pool_backward_fast(dy: np.ndarray, x: np.ndarray | None, y: np.ndarray, sh: int, sw: int,
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
        y = 0 get no gradient either way.
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


def avg_pool_forward_fast(x: np.ndarray, sh: int, sw: int) -> np.ndarray:
    """Mean over non-overlapping ``sh × sw`` windows of the last two axes (sum of the slices)."""
    sl = _slices(sh, sw)
    y = x[sl[0]].copy()
    for s in sl[1:]:
        y += x[s]
    y *= y.dtype.type(1.0 / (sh * sw))
    return y


def avg_pool_backward_fast(dy: np.ndarray, x_shape: tuple, sh: int, sw: int) -> np.ndarray:
    """Spread ``dy / (sh·sw)`` over each window, one strided slice of ``dx`` at a time."""
    dx = np.empty(x_shape, dtype=dy.dtype)
    g = dy * dy.dtype.type(1.0 / (sh * sw))
    for s in _slices(sh, sw):
        dx[s] = g
    return dx
