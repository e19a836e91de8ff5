"""Stride-1 'SAME' convolution (the book's 'conv' layer) in the channels-first layout.

Notes
-----
For input ``x`` of shape ``(C_in, N, H, W)`` and kernel ``k`` of the book's shape
``(kh, kw, C_in, C_out)`` the layer computes the cross-correlation

    z[o, n, i, j] = b[o] + Σ_{dy, dx, c} k[dy, dx, c, o] · x̃[c, n, i + dy, j + dx]

where x̃ is ``x`` zero-padded by ``(kh-1)//2`` rows on top and ``kh-1-(kh-1)//2`` at the bottom
(likewise left/right), and then ``y = act(z)``.

Fast form: the padded input is viewed as one long row per channel, ``x̃_flat[c, p]`` with
``p = n·Hp·Wp + i·Wp + j``. A shift by ``(dy, dx)`` is then a shift of ``dy·Wp + dx`` along that
row, so the im2col matrix is nine (kh·kw) *contiguous* block copies and the convolution a single
matrix product ``z_flat = K (C_out × kh·kw·C_in) @ cols``. Positions ``i >= H`` or ``j >= W`` in
that frame are padding garbage and are dropped by a strided view. The backward pass uses the same
frame: ``dK = dz_flat @ colsᵀ`` and ``dx̃`` is the sum of the nine shifted blocks of
``Kᵀ @ dz_flat``.

Report section: 2.1.2 (the CNN models flowers_cnn_1..4).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..activations import activate, activation_backward
from .base import Layer, ParamSpec

__all__ = ["conv2d_forward", "conv2d_backward", "Conv2D"]


def _frame(H, W, kh, kw):
    ph, pw = (kh - 1) // 2, (kw - 1) // 2
    Hp, Wp = H + kh - 1, W + kw - 1
    offsets = [dy * Wp + dx for dy in range(kh) for dx in range(kw)]
    return ph, pw, Hp, Wp, offsets


def conv2d_forward(x: np.ndarray, k: np.ndarray, b: np.ndarray):
    """Pre-activation output of a stride-1 SAME convolution.

    Parameters
    ----------
    x : ndarray, shape (C_in, N, H, W)
    k : ndarray, shape (kh, kw, C_in, C_out)
    b : ndarray, shape (C_out,)

    Returns
    -------
    z : ndarray, shape (C_out, N, H, W), a new array
    cache : tuple
        What :func:`conv2d_backward` needs (the im2col matrix and the geometry).
    """
    C, N, H, W = x.shape
    kh, kw, cin, cout = k.shape
    if cin != C:
        raise ValueError(f"kernel expects {cin} input channels, got {C}")
    ph, pw, Hp, Wp, offsets = _frame(H, W, kh, kw)
    xp = np.zeros((C, N, Hp, Wp), dtype=x.dtype)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    flat = xp.reshape(C, N * Hp * Wp)
    L = N * Hp * Wp - offsets[-1]
    cols = np.empty((kh * kw, C, L), dtype=x.dtype)
    for s, off in enumerate(offsets):
        cols[s] = flat[:, off:off + L]
    cols = cols.reshape(kh * kw * C, L)
    kmat = k.reshape(kh * kw * C, cout)           # rows ordered (dy, dx, c) like cols
    zf = kmat.T @ cols                             # (C_out, L)
    # Valid outputs sit at p = n·Hp·Wp + i·Wp + j, i < H, j < W; the largest such p is
    # N·Hp·Wp − (kh−1)·Wp − kw < L, so this strided view never leaves zf.
    it = zf.itemsize
    z4 = as_strided(zf, shape=(cout, N, H, W), strides=(L * it, Hp * Wp * it, Wp * it, it),
                    writeable=False)
    z = z4 + b.reshape(cout, 1, 1, 1)
    return z, (cols, kmat, x.shape, k.shape, (ph, pw, Hp, Wp, offsets, L))


def conv2d_backward(dz: np.ndarray, cache, need_dx: bool = True):
    """Gradients of a stride-1 SAME convolution.

    Parameters
    ----------
    dz : ndarray, shape (C_out, N, H, W)
        Gradient with respect to the pre-activation ``z``.
    cache : tuple from :func:`conv2d_forward`
    need_dx : bool
        Skip the input gradient (the first layer does not need it).

    Returns
    -------
    dx : ndarray (C_in, N, H, W) or None
    dk : ndarray (kh, kw, C_in, C_out)
    db : ndarray (C_out,)
    """
    cols, kmat, xshape, kshape, (ph, pw, Hp, Wp, offsets, L) = cache
    C, N, H, W = xshape
    cout = dz.shape[0]
    dzp = np.zeros((cout, N, Hp, Wp), dtype=dz.dtype)
    dzp[:, :, :H, :W] = dz
    dzf = dzp.reshape(cout, N * Hp * Wp)[:, :L]
    dkmat = cols @ dzf.T                          # (kh·kw·C_in, C_out)
    kh_kw = len(offsets)
    dk = dkmat.reshape(kshape)
    db = dz.sum(axis=(1, 2, 3))
    dx = None
    if need_dx:
        dcols = (kmat @ dzf).reshape(kh_kw, C, L)
        dxp = np.zeros((C, N * Hp * Wp), dtype=dz.dtype)
        for s, off in enumerate(offsets):
            dxp[:, off:off + L] += dcols[s]
        dx = dxp.reshape(C, N, Hp, Wp)[:, :, ph:ph + H, pw:pw + W].copy()
    return dx, dk, db


class Conv2D(Layer):
    """The book's 'conv' layer: ``['conv', {'ksize': 3, 'chn': 6, 'actfunc': 'relu'}]``."""

    kind = "conv"

    def __init__(self, cfg, in_shape, layout, profile, rng, dtype):
        super().__init__(cfg, in_shape, layout, profile, rng, dtype)
        if len(self.in_shape) != 3 or layout != "cnhw":
            self._fail(f"needs an image-shaped input [H, W, C] but gets {list(self.in_shape)}; "
                       "put conv layers before any 'full' layer")
        H, W, C = self.in_shape
        self.kh, self.kw = cfg["ksize"]
        self.cout = cfg["chn"]
        self.actfunc = cfg["actfunc"]
        self.out_shape = (H, W, self.cout)

    def param_specs(self):
        return [ParamSpec("k", (self.kh, self.kw, self.in_shape[2], self.cout), "normal", "weight"),
                ParamSpec("b", (self.cout,), "zeros", "bias")]

    def forward(self, x, train):
        z, self._cache = conv2d_forward(x, self.params["k"], self.params["b"])
        self._y = activate(self.actfunc, z, out=z)
        return self._y

    def backward(self, dout):
        dz = activation_backward(self.actfunc, self._y, dout)
        dx, dk, db = conv2d_backward(dz, self._cache, self.need_input_grad)
        self.grads["k"][...] = dk
        self.grads["b"][...] = db
        return dx
