"""What chapter 8 teaches, in numpy: layers, losses, L1/L2 penalties, Adam, and the model.

Read in this order: :mod:`~reglab.nn.layers` (one file per layer, its equation first),
:mod:`~reglab.nn.losses`, :mod:`~reglab.nn.regularizers`, :mod:`~reglab.nn.optim`, then
:mod:`~reglab.nn.model`, which builds a network from the book's ``hconfigs``
(:mod:`~reglab.nn.config`) and trains it. Every book quirk is a field of the run's
:class:`~reglab.profile.Profile`.
"""

from .model import NUMERICS_VERSION, Model, TrainingDiverged, single_thread_blas

__all__ = ["Model", "TrainingDiverged", "NUMERICS_VERSION", "single_thread_blas"]
