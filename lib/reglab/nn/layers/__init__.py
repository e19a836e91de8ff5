"""Layer types of the book's configuration language.

Each layer file opens with its equations and holds them as plain functions (``dense_forward``,
``conv2d_forward``, ``max_pool_backward``, ...), followed by the layer class. The classes
compute the same numbers with faster forms kept in ``fast_dense``, ``fast_conv`` and
``fast_pool`` (tested equal to the plain ones).

``LAYER_TYPES`` maps the book's layer names to classes; :func:`build_layer` makes one.
"""

from .base import Layer, ParamSpec
from .batchnorm import BatchNorm
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .noise import Noise
from .pool import AvgPool, MaxPool

LAYER_TYPES = {
    "full": Dense,
    "conv": Conv2D,
    "max": MaxPool,
    "avg": AvgPool,
    "dropout": Dropout,
    "noise": Noise,
    "batch_normal": BatchNorm,
}

# Layers that need an image-shaped (channels-first) input
SPATIAL_KINDS = ("conv", "max", "avg", "batch_normal")


def link_layers(layers) -> None:
    """Fuse each ReLU convolution with a max pool right after it (the fast form of the pair).

    The convolution then hands its pre-activation ``z`` to the pool, which computes
    ``relu(max(z)) = max(relu(z))`` on a quarter of the elements and, backwards, routes only
    windows whose maximum is positive: exactly the ReLU derivative at the routed position (see
    :func:`reglab.nn.layers.fast_pool.max_pool_backward_fast`). The pool also writes its input
    gradient straight into the convolution's gradient frame, which saves a full-size copy.
    """
    for a, b in zip(layers, layers[1:]):
        if a.kind == "conv" and b.kind == "max" and a.actfunc == "relu":
            a.act_grad_fused = b.fused_relu = True
            b.grad_into = a.grad_frame


def build_layer(cfg, in_shape, layout, profile, rng, dtype) -> Layer:
    """Instantiate the layer for ``cfg`` (a :class:`reglab.nn.config.LayerConfig`)."""
    return LAYER_TYPES[cfg.kind](cfg, in_shape, layout, profile, rng, dtype)


__all__ = ["Layer", "ParamSpec", "LAYER_TYPES", "SPATIAL_KINDS", "build_layer", "link_layers", "Dense", "Conv2D",
           "MaxPool", "AvgPool", "Dropout", "Noise", "BatchNorm"]
