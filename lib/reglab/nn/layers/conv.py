"""Stride-1 'SAME' convolution (the book's 'conv' layer) in the channels-first layout.

Notes
-----
For input ``x`` of shape ``(C_in, N, H, W)``, kernel ``k`` of the book's shape
``(kh, kw, C_in, C_out)`` and bias ``b`` (C_out,), let x̃ be ``x`` zero-padded by
``(kh-1)//2`` rows on top and ``kh-1-(kh-1)//2`` at the bottom (likewise ``(kw-1)//2`` columns
on the left and the rest on the right). The layer computes the cross-correlation

    z[o, n, i, j] = b[o] + Σ_{u, v, c} k[u, v, c, o] · x̃[c, n, i + u, j + v],     y = act(z)

and, backwards, with ``dz = dy ⊙ act'(z)``:

    dk[u, v, c, o] = Σ_{n, i, j} x̃[c, n, i + u, j + v] · dz[o, n, i, j]
    db[o]          = Σ_{n, i, j} dz[o, n, i, j]
    dx̃[c, n, i + u, j + v] += Σ_o k[u, v, c, o] · dz[o, n, i, j]     for every tap (u, v)

and ``dx`` is the unpadded part of ``dx̃``. :func:`conv2d_forward` and :func:`conv2d_backward`
are these sums as plain numpy, one ``einsum`` per kernel tap. The layer class computes the same
sums as a few large matrix products on a padded, flattened *frame* (:mod:`.fast_conv`).

Report section: 2.1.2 (the CNN models flowers_cnn_1..4).
"""

from __future__ import annotations

import numpy as np

from ..activations import activation_backward
from .base import Layer, ParamSpec
from .fast_conv import Workspace, correlate_frame, frame_gradients, get_frame

__all__ = ["same_padding", "conv2d_forward", "conv2d_backward", "Conv2D"]


def same_padding(size: int) -> tuple[int, int]:
    """Zero rows (or columns) ``(before, after)`` that keep the size for a kernel of ``size``."""
    before = (size - 1) // 2
    return before, size - 1 - before


def conv2d_forward(x: np.ndarray, k: np.ndarray, b: np.ndarray):
    """Pre-activation of a stride-1 SAME convolution.

    Parameters
    ----------
    x : ndarray, shape (C_in, N, H, W)
    k : ndarray, shape (kh, kw, C_in, C_out)
    b : ndarray, shape (C_out,)

    Returns
    -------
    z : ndarray, shape (C_out, N, H, W)
    cache : tuple ``(xp, k)`` for :func:`conv2d_backward` (``xp`` is the padded input)
    """
    kh, kw, _, C_out = k.shape
    _, N, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), same_padding(kh), same_padding(kw)))
    z = np.zeros((C_out, N, H, W), dtype=np.result_type(x, k))
    for u in range(kh):
        for v in range(kw):
            z += np.einsum("co,cnhw->onhw", k[u, v], xp[:, :, u:u + H, v:v + W])
    z += b[:, None, None, None]
    return z, (xp, k)


def conv2d_backward(dz: np.ndarray, cache):
    """Gradients of a stride-1 SAME convolution.

    Parameters
    ----------
    dz : ndarray, shape (C_out, N, H, W)
        Gradient of the loss with respect to the pre-activation ``z``.
    cache : tuple from :func:`conv2d_forward`

    Returns
    -------
    dx : ndarray, shape (C_in, N, H, W)
    dk : ndarray, shape (kh, kw, C_in, C_out)
    db : ndarray, shape (C_out,)
    """
    xp, k = cache
    kh, kw, _, _ = k.shape
    _, _, H, W = dz.shape
    dxp = np.zeros_like(xp)
    dk = np.zeros_like(k)
    for u in range(kh):
        for v in range(kw):
            dk[u, v] = np.einsum("cnhw,onhw->co", xp[:, :, u:u + H, v:v + W], dz)
            dxp[:, :, u:u + H, v:v + W] += np.einsum("co,onhw->cnhw", k[u, v], dz)
    db = dz.sum(axis=(1, 2, 3))
    top, left = same_padding(kh)[0], same_padding(kw)[0]
    dx = dxp[:, :, top:top + H, left:left + W]
    return dx, dk, db


class Conv2D(Layer):
    """The book's 'conv' layer: ``['conv', {'ksize': 3, 'chn': 6, 'actfunc': 'relu'}]``.

    Runs on the frames of :mod:`.fast_conv`, one :class:`~.fast_conv.Workspace` per batch size
    and mode; the arrays it returns are views of them, valid until its next call with the same
    batch size and mode.

    Attributes
    ----------
    act_grad_fused : bool
        Set by :func:`~reglab.nn.layers.link_layers` when the next layer is a max pool: this
        layer then returns the pre-activation ``z``, the pool applies the ReLU and its
        derivative, and :meth:`backward` takes ``dout`` as ``dz``.
    """

    kind = "conv"
    MAX_WORKSPACES = 4

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
        self.act_grad_fused = False
        self._spaces: dict = {}
        self._ws = None

    def param_specs(self):
        return [ParamSpec("k", (self.kh, self.kw, self.in_shape[2], self.cout), "normal", "weight"),
                ParamSpec("b", (self.cout,), "zeros", "bias")]

    def _workspace(self, n: int, train: bool) -> Workspace:
        key = (n, bool(train))
        ws = self._spaces.get(key)
        if ws is None:
            if len(self._spaces) >= self.MAX_WORKSPACES:     # e.g. many eval chunk sizes
                self._spaces.pop(next(iter(self._spaces)))
            H, W, C = self.in_shape
            ws = Workspace(get_frame(n, H, W, self.kh, self.kw), C, self.cout, self.dtype, train)
            self._spaces[key] = ws
        return ws

    def forward(self, x, train):
        ws = self._workspace(x.shape[1], train)
        ws.xin[...] = x
        # Fused with a following max pool, the ReLU is applied to the pooled output instead
        # (max and ReLU commute): this returns z and the pool returns relu(max(z)).
        act = None if self.act_grad_fused else self.actfunc
        correlate_frame(ws.xflat, self.params["k"], self.params["b"], act, ws.frame,
                        ws.zflat, ws.buf)
        if train:
            self._ws = ws
        return ws.y

    def grad_frame(self) -> np.ndarray:
        """Where the next layer may write ``dz`` for :meth:`backward`: the valid part of this
        step's gradient frame, ``(C_out, N, H, W)`` (used by a fused max pool)."""
        return self._ws.dzin

    def backward(self, dout):
        ws = self._ws
        if self.act_grad_fused:                 # the max pool applied ReLU' already
            if dout is not ws.dzin:             # (and usually wrote it into the frame)
                ws.dzin[...] = dout
        elif self.actfunc == "relu":
            np.multiply(dout, ws.y > 0, out=ws.dzin)
        else:
            ws.dzin[...] = activation_backward(self.actfunc, ws.y, dout)
        dk, db = frame_gradients(ws.xflat, ws.dzflat, self.params["k"], ws.frame,
                                 ws.dxflat if self.need_input_grad else None)
        self.grads["k"][...] = dk
        self.grads["b"][...] = db
        return ws.dx if self.need_input_grad else None
