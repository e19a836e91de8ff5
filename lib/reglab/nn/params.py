"""All trainable parameters of a model in one flat buffer, grouped by update rule.

Notes
-----
Each layer's ``params[key]`` and ``grads[key]`` are views into ``ParamStore.data`` and
``ParamStore.grad``. The buffer is ordered by group so that every rule acts on one contiguous
slice, with no Python loop over tensors:

    [ decay: weights and kernels | optimizer: biases (and γ, β) | sgd: γ, β in the book profile ]

* L1/L2 act on ``data[:n_decay]`` (the book's ``collect_params``: weights and kernels only).
* The optimizer (Adam) updates ``data[:n_optimizer]``.
* ``data[n_optimizer:]`` gets plain SGD (the book's batch-norm scale/shift, erratum E4).

Initialisation draws N(0, init_std) for weights and kernels in the book's order (hidden layers
in order, the output layer last); biases and shifts are 0, scales 1.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ParamStore"]

GROUPS = ("decay", "optimizer", "sgd")


class ParamStore:
    """Allocate, initialise and bind the parameters of ``layers``.

    Parameters
    ----------
    layers : list of reglab.nn.layers.Layer
    profile : reglab.profile.Profile
    rng : numpy.random.Generator
        Draws the initial weights.
    dtype : numpy dtype
    """

    def __init__(self, layers, profile, rng, dtype):
        self.dtype = np.dtype(dtype)
        entries = []
        for li, layer in enumerate(layers):
            for spec in layer.param_specs():
                if spec.role == "weight":
                    group = "decay"
                elif spec.role == "bn_affine" and profile.bn_affine_update == "sgd":
                    group = "sgd"
                else:
                    group = "optimizer"
                entries.append((li, spec, group))
        ordered = sorted(entries, key=lambda e: GROUPS.index(e[2]))  # stable: layer order kept
        sizes = [int(np.prod(spec.shape)) for _, spec, _ in ordered]
        total = int(sum(sizes))
        self.data = np.zeros(total, dtype=self.dtype)
        self.grad = np.zeros(total, dtype=self.dtype)
        self.slices = {}
        offset = 0
        counts = dict.fromkeys(GROUPS, 0)
        for (li, spec, group), size in zip(ordered, sizes):
            self.slices[(li, spec.key)] = (offset, offset + size, spec)
            counts[group] += size
            offset += size
        self.n_decay = counts["decay"]
        self.n_optimizer = counts["decay"] + counts["optimizer"]
        self.size = total
        per_layer = [({}, {}) for _ in layers]
        for li, spec, _ in entries:  # book order: layer by layer
            a, b, _ = self.slices[(li, spec.key)]
            view = self.data[a:b].reshape(spec.shape)
            if spec.init == "normal":
                view[...] = rng.normal(0.0, profile.init_std, spec.shape)
            elif spec.init == "ones":
                view[...] = 1
            per_layer[li][0][spec.key] = view
            per_layer[li][1][spec.key] = self.grad[a:b].reshape(spec.shape)
        for layer, (p, g) in zip(layers, per_layer):
            layer.bind(p, g)

    @property
    def weights(self) -> np.ndarray:
        """View of all weights and kernels (the tensors L1/L2 act on), in layer order."""
        return self.data[:self.n_decay]

    def count(self, role: str | None = None) -> int:
        """Number of scalars with the given role ('weight', 'bias', 'bn_affine') or in total."""
        if role is None:
            return self.size
        return sum(b - a for a, b, spec in self.slices.values() if spec.role == role)
