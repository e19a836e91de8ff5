"""The layer protocol shared by every layer type.

A layer is a small object with ``forward(x, train)`` and ``backward(dout)``. Its trainable
parameters and their gradients live in two dicts with the same keys (``params['k']`` and
``grads['k']``); both hold views into the model's flat buffers (see :mod:`reglab.nn.params`), so an
optimizer can update every parameter in one vectorised pass. Non-trainable state (batch-norm
running statistics) lives in ``buffers``.

Layouts
-------
Between layers, image-shaped activations are stored channels-first as ``(C, N, H, W)`` ("cnhw"):
a 3×3 convolution then becomes one matrix product over contiguous rows, pooling works on the last
two axes and batch normalisation reduces contiguous rows. Vector activations are ``(N, F)``
("flat"). Shapes given to and reported by layers (``in_shape``, ``out_shape``) use the book's
per-sample convention ``[H, W, C]`` or ``[F]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ParamSpec", "Layer"]


@dataclass(frozen=True)
class ParamSpec:
    """A trainable tensor a layer asks for.

    Attributes
    ----------
    key : str
        Name in the layer's ``params``/``grads`` dicts ('w', 'k', 'b', 'scale', 'shift').
    shape : tuple of int
    init : {'normal', 'zeros', 'ones'}
        'normal' draws N(0, profile.init_std) from the model's generator (the book's rule for
        weights and kernels).
    role : {'weight', 'bias', 'bn_affine'}
        'weight' tensors are the ones L1/L2 act on and the book's ``collect_params`` counts.
    """

    key: str
    shape: tuple
    init: str
    role: str


class Layer:
    """Base class. Subclasses set ``kind`` and implement ``forward`` and ``backward``.

    Parameters
    ----------
    cfg : reglab.nn.config.LayerConfig
        Validated options of this layer.
    in_shape : tuple of int
        Per-sample input shape in the book's convention, ``(H, W, C)`` or ``(F,)``.
    layout : {'cnhw', 'flat'}
        Memory layout of the input batch.
    profile : reglab.profile.Profile
    rng : numpy.random.Generator
        Used only by layers that draw random numbers while training (dropout, noise).
    dtype : numpy dtype
    """

    kind = "layer"

    def __init__(self, cfg, in_shape, layout, profile, rng, dtype):
        self.cfg = cfg
        self.in_shape = tuple(in_shape)
        self.layout = layout
        self.profile = profile
        self.rng = rng
        self.dtype = np.dtype(dtype)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.need_input_grad = True
        self.out_shape = self.in_shape
        self.out_layout = layout

    @property
    def label(self) -> str:
        return self.cfg.label if self.cfg is not None else f"output layer ({self.kind!r})"

    def param_specs(self) -> list[ParamSpec]:
        return []

    def bind(self, params: dict, grads: dict) -> None:
        """Attach parameter and gradient views (called by the model after allocation)."""
        self.params, self.grads = params, grads

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label}: {list(self.in_shape)} -> {list(self.out_shape)})"

    def _fail(self, message: str):
        raise ValueError(f"{self.label}: {message}")
