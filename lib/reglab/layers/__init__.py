"""Layer types of the book's configuration language, each with a pure functional core.

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


def build_layer(cfg, in_shape, layout, profile, rng, dtype) -> Layer:
    """Instantiate the layer for ``cfg`` (a :class:`reglab.config.LayerConfig`)."""
    return LAYER_TYPES[cfg.kind](cfg, in_shape, layout, profile, rng, dtype)


__all__ = ["Layer", "ParamSpec", "LAYER_TYPES", "SPATIAL_KINDS", "build_layer", "Dense", "Conv2D",
           "MaxPool", "AvgPool", "Dropout", "Noise", "BatchNorm"]
