"""Fast form of the stride-1 'SAME' convolution (used by :class:`~.conv.Conv2D`): the frame.

Notes
-----
These functions compute the same ``z``, ``dx``, ``dk`` and ``db`` as the plain
:func:`~.conv.conv2d_forward` and :func:`~.conv.conv2d_backward`, with large matrix products
instead of a loop over the kernel's taps.

The padded input is kept as one long row per channel, ``x̃_flat[c, p]`` with
``p = n·Hp·Wp + i·Wp + j`` (a :class:`Frame`). A shift by ``(u, v)`` is then a shift of
``u·Wp + v`` along that row, so the im2col matrix of a run of columns is a few contiguous block
copies of the row and the convolution one matrix product ``z_flat = K (C_out × kh·kw·C_in) @
cols``. It is computed chunk by chunk of columns, so that each chunk of ``cols`` is still in
cache when the product reads it. The output stays in the same frame: ``z[o, n, i, j]`` is
``z_flat[o, n·Hp·Wp + i·Wp + j]``, and positions ``i >= H`` or ``j >= W`` are padding garbage,
never read (the layer returns a strided view of the valid part).

The backward pass uses the same frame, with ``dz_flat`` zero on the garbage positions: ``dK``
is one batched product of the frame's shifted rows (a strided view, no copy) with
``dz_flatᵀ``, ``db`` the row sums of ``dz_flat``, and ``dx̃`` the sum of the ``kh·kw`` shifted
row blocks of ``Kᵀ @ dz_flat``.

The layer keeps its frames between steps in a :class:`Workspace` (one per batch size and mode,
so nothing large is allocated per step); the arrays it returns are views of those frames, valid
until the layer's next call with the same batch size and mode. :func:`conv2d_forward_fast` and
:func:`conv2d_backward_fast` run the same code on fresh frames and return new arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..activations import activate

__all__ = ["Frame", "get_frame", "im2col_chunk", "correlate_frame", "kernel_gradient",
           "frame_gradients", "Workspace", "conv2d_forward_fast", "conv2d_backward_fast"]


# Columns of the im2col matrix are built and consumed in chunks of about this many bytes, so a
# chunk stays in the core's L2 cache between its copy and its product.
CHUNK_BYTES = 1 << 19
# OpenBLAS's sgemm is much slower on chunks wider than WIDE_MAX_COLS columns once the im2col
# matrix has more than WIDE_ROWS rows, so such chunks are capped.
WIDE_ROWS, WIDE_MAX_COLS = 32, 1280
# Column block of the kernel-gradient products (OpenBLAS is slow on products this flat).
DK_BLOCK = 2048


@dataclass(frozen=True)
class Frame:
    """Geometry of the padded, flattened layout of a ``(C, N, H, W)`` batch for a kh×kw kernel."""

    N: int
    H: int
    W: int
    kh: int
    kw: int
    top: int = field(init=False)
    left: int = field(init=False)
    Hp: int = field(init=False)
    Wp: int = field(init=False)
    P: int = field(init=False)        # frame length per channel, N·Hp·Wp
    L: int = field(init=False)        # computed columns; every valid output position is < L

    def __post_init__(self):
        s = object.__setattr__
        s(self, "top", (self.kh - 1) // 2)
        s(self, "left", (self.kw - 1) // 2)
        s(self, "Hp", self.H + self.kh - 1)
        s(self, "Wp", self.W + self.kw - 1)
        s(self, "P", self.N * self.Hp * self.Wp)
        # the largest valid p is N·Hp·Wp − kh·Wp + W − 1 < L
        s(self, "L", self.P - (self.kh - 1) * self.Wp - (self.kw - 1))

    def offsets(self):
        """Shift of each kernel tap ``(u, v)`` along a frame row, taps in row-major order."""
        return [u * self.Wp + v for u in range(self.kh) for v in range(self.kw)]

    def chunks(self, rows: int, itemsize: int):
        """Column ranges ``(a, e)`` of the im2col matrix (``rows`` rows) built one at a time."""
        n = max(256, CHUNK_BYTES // (rows * itemsize))
        if rows > WIDE_ROWS:
            n = min(n, WIDE_MAX_COLS)
        return [(a, min(a + n, self.L)) for a in range(0, self.L, n)]

    def _view(self, flat, i0, j0):
        return flat.reshape(flat.shape[0], self.N, self.Hp, self.Wp)[:, :, i0:i0 + self.H,
                                                                     j0:j0 + self.W]

    def interior(self, flat):
        """The input positions of a padded frame ``(C, P)``: a ``(C, N, H, W)`` view."""
        return self._view(flat, self.top, self.left)

    def valid(self, flat):
        """The output positions of an output frame ``(C, P)``: a ``(C, N, H, W)`` view."""
        return self._view(flat, 0, 0)


@lru_cache(maxsize=64)
def get_frame(N, H, W, kh, kw) -> Frame:
    """The (cached) :class:`Frame` of a batch of N images of H×W for a kh×kw kernel."""
    return Frame(N, H, W, kh, kw)


def _ones_row(buf, n):
    buf[:n] = 1


def im2col_chunk(flat: np.ndarray, offsets, a: int, e: int, buf: np.ndarray) -> np.ndarray:
    """Columns ``a..e`` of the im2col matrix of a padded frame, with a row of ones on top.

    Returns ``(1 + kh·kw·C, e − a)`` in ``buf``: row 0 is 1 (it carries the bias in the
    product), row ``1 + s·C + c`` holds ``flat[c, a + offsets[s] : e + offsets[s]]``: nine
    contiguous block copies for a 3×3 kernel, which numpy runs faster than one copy of a 4-D
    strided view. Row 0 of ``buf`` must hold ones for the first ``e − a`` columns (see
    :func:`_ones_row`).
    """
    C = flat.shape[0]
    n = e - a
    cols = buf[:(1 + len(offsets) * C) * n].reshape(1 + len(offsets) * C, n)
    taps = cols[1:].reshape(len(offsets), C, n)
    for s, off in enumerate(offsets):
        taps[s] = flat[:, a + off:e + off]
    return cols


def correlate_frame(xflat, k, b, actfunc, f: Frame, zflat, buf) -> None:
    """``zflat[:, :L] = act([b | K] @ [1; cols])`` chunk by chunk (the forward pass on frames).

    Parameters
    ----------
    xflat : ndarray (C_in, P), the zero-padded input frame
    k : ndarray (kh, kw, C_in, C_out)
    b : ndarray (C_out,)
    actfunc : str or None
        Activation applied to the whole output afterwards (None: leave ``z``).
    f : Frame
    zflat : ndarray (C_out, P), written on ``[:, :L]``
    buf : ndarray from :func:`_scratch`
    """
    kh, kw, cin, cout = k.shape
    rows = kh * kw * cin
    kb = np.empty((cout, 1 + rows), dtype=k.dtype)      # [b | K]: bias folded into the product
    kb[:, 0] = b
    kb[:, 1:] = k.reshape(rows, cout).T
    chunks = f.chunks(rows, xflat.itemsize)
    offsets = f.offsets()
    _ones_row(buf, chunks[0][1] - chunks[0][0])
    for a, e in chunks:
        np.matmul(kb, im2col_chunk(xflat, offsets, a, e, buf), out=zflat[:, a:e])
    if actfunc is not None:
        z = zflat[:, :f.L]
        activate(actfunc, z, out=z)


def kernel_gradient(xflat, dzflat, f: Frame, kh: int, kw: int) -> np.ndarray:
    """``dk[u, v, c, o] = Σ_p x̃[c, p + u·Wp + v] · dz[o, p]`` straight from the frames.

    The shifted input rows of every tap are one 4-D strided view ``(kh, kw, C_in, L)`` of the
    padded frame (no im2col copy), so the whole kernel gradient is a batched product with
    ``dzᵀ``, taken over column blocks of ``DK_BLOCK`` and summed in block order.
    """
    cin, L = xflat.shape[0], f.L
    item = xflat.strides[1]
    taps = as_strided(xflat, (kh, kw, cin, L), (f.Wp * item, item, xflat.strides[0], item),
                      writeable=False)                # taps[u, v, c, p] = x̃[c, p + u·Wp + v]
    dzt = dzflat[:, :L].T
    dk = np.zeros((kh, kw, cin, dzflat.shape[0]), dtype=np.result_type(dzflat, xflat))
    for a in range(0, L, DK_BLOCK):
        dk += np.matmul(taps[..., a:a + DK_BLOCK], dzt[a:a + DK_BLOCK])
    return dk


def frame_gradients(xflat, dzflat, k, f: Frame, dxflat=None):
    """Kernel, bias and (optionally) input-frame gradients from ``dz`` in frame form.

    Parameters
    ----------
    xflat : ndarray (C_in, P), the padded input frame of the forward pass
    dzflat : ndarray (C_out, P), ``dz`` on the valid positions and 0 everywhere else
    k : ndarray (kh, kw, C_in, C_out)
    dxflat : ndarray (C_in, P) or None
        Receives ``dx̃`` (its :meth:`Frame.interior` is ``dx``); None skips the input gradient.

    Returns
    -------
    dk : ndarray (kh, kw, C_in, C_out), new
    db : ndarray (C_out,), new
    """
    kh, kw, cin, cout = k.shape
    L = f.L
    dk = kernel_gradient(xflat, dzflat, f, kh, kw)
    db = dzflat[:, :L].sum(axis=1)                  # the garbage positions of dz are 0
    if dxflat is not None:
        # dx̃ = Σ_s shift_s(K_sᵀ dz): one product for all taps, then kh·kw shifted adds
        offsets = f.offsets()
        dcols = (k.reshape(kh * kw * cin, cout) @ dzflat[:, :L]).reshape(kh * kw, cin, L)
        dxflat[:, :L] = dcols[0]                # offsets[0] == 0
        dxflat[:, L:] = 0
        for s in range(1, len(offsets)):
            off = offsets[s]
            dxflat[:, off:off + L] += dcols[s]
    return dk, db


def _scratch(f: Frame, cin: int, dtype) -> np.ndarray:
    """A buffer for the largest im2col chunk of ``f`` (see :func:`im2col_chunk`)."""
    rows = f.kh * f.kw * cin
    a, e = f.chunks(rows, np.dtype(dtype).itemsize)[0]
    return np.empty((1 + rows) * (e - a), dtype=dtype)


class Workspace:
    """The frames of one batch size and mode: input, output, output gradient, input gradient."""

    def __init__(self, f: Frame, cin: int, cout: int, dtype, train: bool):
        self.frame = f
        self.xflat = np.zeros((cin, f.P), dtype)       # padding stays 0: only the interior is written
        self.xin = f.interior(self.xflat)
        self.zflat = np.empty((cout, f.P), dtype)
        self.y = f.valid(self.zflat)
        self.buf = _scratch(f, cin, dtype)
        if train:
            self.dzflat = np.zeros((cout, f.P), dtype)  # garbage positions stay 0
            self.dzin = f.valid(self.dzflat)
            self.dxflat = np.empty((cin, f.P), dtype)
            self.dx = f.interior(self.dxflat)


def conv2d_forward_fast(x: np.ndarray, k: np.ndarray, b: np.ndarray):
    """Pre-activation output of a stride-1 SAME convolution, on fresh frames.

    Parameters
    ----------
    x : ndarray, shape (C_in, N, H, W)
    k : ndarray, shape (kh, kw, C_in, C_out)
    b : ndarray, shape (C_out,)

    Returns
    -------
    z : ndarray, shape (C_out, N, H, W), a new array
    cache : tuple
        What :func:`conv2d_backward_fast` needs (the padded input frame, the kernel, the frame).
    """
    kh, kw, cin, cout = k.shape
    if cin != x.shape[0]:
        raise ValueError(f"kernel expects {cin} input channels, got {x.shape[0]}")
    C, N, H, W = x.shape
    f = get_frame(N, H, W, kh, kw)
    dtype = np.result_type(x, k)
    xflat = np.zeros((C, f.P), dtype=dtype)
    f.interior(xflat)[...] = x
    zflat = np.empty((cout, f.P), dtype=dtype)
    correlate_frame(xflat, k, b, None, f, zflat, _scratch(f, C, dtype))
    return f.valid(zflat).copy(), (xflat, k, f)


def conv2d_backward_fast(dz: np.ndarray, cache, need_dx: bool = True):
    """Gradients of a stride-1 SAME convolution, on fresh frames.

    Parameters
    ----------
    dz : ndarray, shape (C_out, N, H, W)
        Gradient with respect to the pre-activation ``z``.
    cache : tuple from :func:`conv2d_forward_fast`
    need_dx : bool
        Skip the input gradient (the first layer does not need it).

    Returns
    -------
    dx : ndarray (C_in, N, H, W) or None
    dk : ndarray (kh, kw, C_in, C_out)
    db : ndarray (C_out,)
    """
    xflat, k, f = cache
    C = xflat.shape[0]
    cout = k.shape[3]
    dzflat = np.zeros((cout, f.P), dtype=np.result_type(dz, xflat))
    f.valid(dzflat)[...] = dz
    dxflat = np.empty((C, f.P), dtype=dzflat.dtype) if need_dx else None
    dk, db = frame_gradients(xflat, dzflat, k, f, dxflat)
    dx = f.interior(dxflat).copy() if need_dx else None
    return dx, dk, db
