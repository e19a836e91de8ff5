"""reglab — chapter 8 (정규화, regularization) of 『파이썬 날코딩으로 알고 짜는 딥러닝』 in numpy.

``from reglab import Model, FlowersDataset`` gives the book's two entry points:

* :class:`reglab.data.FlowersDataset` — the flowers photos, split like the book.
* :class:`reglab.nn.Model` — the book's CnnRegModel (MLP/CNN, L1/L2, dropout, noise, batch
  normalisation), with a ``profile`` choosing the book's behaviour or textbook math.
"""

from .nn import Model, TrainingDiverged
from .profile import BOOK, EXACT, Profile, get_profile


def __getattr__(name):  # lazy: importing the data module pulls in Pillow
    if name == "FlowersDataset":
        from .data import FlowersDataset
        return FlowersDataset
    raise AttributeError(f"module 'reglab' has no attribute {name!r}")


__all__ = ["Model", "FlowersDataset", "TrainingDiverged", "Profile", "BOOK", "EXACT", "get_profile"]
__version__ = "0.1.0"
