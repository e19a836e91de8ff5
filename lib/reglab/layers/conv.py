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
matrix product ``z_flat = K (C_out × kh·kw·C_in) @ cols``, computed chunk by chunk of columns so
that each chunk of ``cols`` is still in cache when the product reads it (the backward pass
rebuilds the chunks instead of keeping a large matrix). Positions ``i >= H`` or ``j >= W`` in
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


# Columns of the im2col matrix are built and consumed in chunks of about this many bytes, so a
# chunk stays in the core's L2 cache between the copy and the product (conv1 on a batch of 10
# would otherwise stream a 10 MB matrix through memory twice per pass; chunking made its
# forward 2x and its kernel gradient 1.8x faster on the reference machine).
CHUNK_BYTES = 1 << 19


def _chunks(L, rows, itemsize):
    n = max(256, CHUNK_BYTES // (rows * itemsize))
    return [(a, min(a + n, L)) for a in range(0, L, n)]


def _cols(flat, offsets, a, e, buf):
    """Columns a..e of the im2col matrix, (kh·kw·C, e − a), written into ``buf``."""
    C = flat.shape[0]
    n = e - a
    cc = buf[:len(offsets) * C * n].reshape(len(offsets), C, n)
    for s, off in enumerate(offsets):
        cc[s] = flat[:, a + off:e + off]
    return cc.reshape(len(offsets) * C, n)


def _correlate(x: np.ndarray, kmat_t: np.ndarray, kh: int, kw: int, top: int, left: int):
    """Stride-1 cross-correlation with zero padding, the matrix-product core of the layer.

    ``x`` (C, N, H, W) is padded by ``top``/``left`` rows/columns before and
    ``kh-1-top``/``kw-1-left`` after; ``kmat_t`` (C_out, kh·kw·C) holds the kernel with its
    columns ordered (dy, dx, c). Returns the output as a read-only strided view
    (C_out, N, H, W) and the padded input (C, N, Hp, Wp).
    """
    C, N, H, W = x.shape
    Hp, Wp = H + kh - 1, W + kw - 1
    offsets = [dy * Wp + dx for dy in range(kh) for dx in range(kw)]
    xp = np.zeros((C, N, Hp, Wp), dtype=x.dtype)
    xp[:, :, top:top + H, left:left + W] = x
    flat = xp.reshape(C, N * Hp * Wp)
    L = N * Hp * Wp - offsets[-1]
    rows = kh * kw * C
    cout = kmat_t.shape[0]
    zf = np.empty((cout, L), dtype=np.result_type(x, kmat_t))
    chunks = _chunks(L, rows, x.itemsize)
    buf = np.empty(rows * (chunks[0][1] - chunks[0][0]), dtype=x.dtype)
    for a, e in chunks:
        np.matmul(kmat_t, _cols(flat, offsets, a, e, buf), out=zf[:, a:e])
    # Valid outputs sit at p = n·Hp·Wp + i·Wp + j, i < H, j < W; the largest such p is
    # N·Hp·Wp − (kh−1)·Wp − kw < L, so this strided view never leaves zf.
    it = zf.itemsize
    z4 = as_strided(zf, shape=(cout, N, H, W), strides=(L * it, Hp * Wp * it, Wp * it, it),
                    writeable=False)
    return z4, xp


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
        What :func:`conv2d_backward` needs (the padded input, the kernel and the geometry).
    """
    kh, kw, cin, cout = k.shape
    if cin != x.shape[0]:
        raise ValueError(f"kernel expects {cin} input channels, got {x.shape[0]}")
    ph, pw = (kh - 1) // 2, (kw - 1) // 2
    kmat_t = np.ascontiguousarray(k.reshape(kh * kw * cin, cout).T)
    z4, xp = _correlate(x, kmat_t, kh, kw, ph, pw)
    z = z4 + b.reshape(cout, 1, 1, 1)
    return z, (xp, k, x.shape)


def conv2d_backward(dz: np.ndarray, cache, need_dx: bool = True):
    """Gradients of a stride-1 SAME convolution.

    ``dk`` pairs the columns of the padded input with ``dz``, chunk by chunk as in the
    forward pass; ``dx`` scatters ``Kᵀ dz`` back through the nine shifts.

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
    xp, k, xshape = cache
    C, N, H, W = xshape
    kh, kw, _, cout = k.shape
    ph, pw = (kh - 1) // 2, (kw - 1) // 2
    Hp, Wp = xp.shape[2:]
    offsets = [dy * Wp + dx for dy in range(kh) for dx in range(kw)]
    L = N * Hp * Wp - offsets[-1]
    rows = kh * kw * C
    flat = xp.reshape(C, N * Hp * Wp)
    dzp = np.zeros((cout, N, Hp, Wp), dtype=dz.dtype)
    dzp[:, :, :H, :W] = dz
    dzf = dzp.reshape(cout, N * Hp * Wp)
    dkmat = np.zeros((rows, cout), dtype=np.result_type(dz, xp))
    chunks = _chunks(L, rows, xp.itemsize)
    buf = np.empty(rows * (chunks[0][1] - chunks[0][0]), dtype=xp.dtype)
    for a, e in chunks:
        dkmat += _cols(flat, offsets, a, e, buf) @ dzf[:, a:e].T
    dk = dkmat.reshape(k.shape)
    db = dz.sum(axis=(1, 2, 3))
    dx = None
    if need_dx:
        # dx̃ = Σ_s shift_s(K_sᵀ dz): one product for all taps, then nine shifted adds. Measured
        # faster here than a correlation with the flipped kernel (whose product has only C_in
        # rows) and than doing it chunk by chunk.
        dcols = (k.reshape(rows, cout) @ dzf[:, :L]).reshape(kh * kw, C, L)
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
