"""The book's printed lines and figures, as pure formatting functions plus thin plotting helpers.

Everything a run prints goes through here so the notebooks, the report and the tests agree on
the exact strings (those of the book's train, test and parameter-histogram output).
"""

from __future__ import annotations

import numpy as np

__all__ = ["epoch_line", "train_started_line", "train_ended_line", "test_line", "near_zero_line",
           "plot_param_hist", "NEAR_ZERO"]

NEAR_ZERO = 1e-5


def train_started_line(name: str) -> str:
    return f"Model {name} train started:"


def epoch_line(epoch: int, cost: float, train_acc: float, val_acc: float,
               interval_secs: int, total_secs: int) -> str:
    """``    Epoch 2: cost=1.118, accuracy=0.569/0.530 (138/138 secs)`` (4 leading spaces)."""
    return (f"    Epoch {epoch}: cost={cost:5.3f}, accuracy={train_acc:5.3f}/{val_acc:5.3f} "
            f"({interval_secs}/{total_secs} secs)")


def train_ended_line(name: str, secs: int) -> str:
    return f"Model {name} train ended in {secs} secs:"


def test_line(name: str, acc: float, secs: int) -> str:
    """The book's test line; the book's format string ends in a newline (a blank line follows)."""
    return f"Model {name} test report: accuracy = {acc:5.3f}, ({secs} secs)\n"


def near_zero_line(count: int, total: int) -> str:
    """``Near 0 parameters =  0.0%(209/829790)``: ``{pct:4.1f}`` as in the book."""
    pct = 100.0 * count / total if total else 0.0
    return f"Near 0 parameters = {pct:4.1f}%({count}/{total})"


def plot_param_hist(params: np.ndarray, ax=None, title: str | None = None):
    """The book's ``show_param_dist`` figure: 100 bins, density, axes [-0.2, 0.2] × [0, 20].

    Returns the matplotlib Axes. mu and sigma (population std) are written at (0.08, 15) and
    (0.08, 13) as in the book.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    mu = float(np.mean(params))
    sigma = float(np.sqrt(np.var(params)))
    ax.hist(params, 100, density=True, facecolor="g", alpha=0.75)
    ax.axis([-0.2, 0.2, 0, 20.0])
    ax.text(0.08, 15.0, f"mu={mu:5.3f}")
    ax.text(0.08, 13.0, f"sigma={sigma:5.3f}")
    ax.grid(True)
    if title:
        ax.set_title(title)
    return ax
