"""Figures for the notebooks and the report, with Korean text that renders everywhere.

:func:`setup_korean_fonts` registers the NanumGothic TTFs shipped in the ``koreanize-matplotlib``
wheel (without importing that package, which needs distutils) and sets the font list to
``["NanumGothic", "DejaVu Sans"]``: NanumGothic has no U+2212 minus sign, so matplotlib takes it
from DejaVu Sans and no glyph is missing.

Every plotting function takes plain data (a history list, a result record) and an optional Axes,
and returns the Figure or Axes, so the report can build its figures from results files alone.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

__all__ = ["setup_korean_fonts", "korean_font_files", "plot_history", "plot_weight_hist",
           "plot_result_weights", "FONT_FAMILY"]

FONT_FAMILY = ["NanumGothic", "DejaVu Sans"]
_done = False


def korean_font_files() -> list[Path]:
    """The NanumGothic TTF files of the installed ``koreanize-matplotlib`` wheel."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return []
    root = Path(next(iter(spec.submodule_search_locations)))
    return sorted(root.rglob("*.ttf"))


def setup_korean_fonts() -> str:
    """Register the Korean font with matplotlib and make it the default; returns its name.

    Raises
    ------
    RuntimeError
        If no Korean font can be found (install the package's dependencies: ``pip install -e .``).
    """
    global _done
    import matplotlib
    from matplotlib import font_manager

    if not _done:
        for f in korean_font_files():
            font_manager.fontManager.addfont(str(f))
        names = {f.name for f in font_manager.fontManager.ttflist}
        if "NanumGothic" not in names:
            raise RuntimeError("NanumGothic not found: the package koreanize-matplotlib provides "
                               "it; run `pip install -e .` (or `make test`) to install it")
        _done = True
    matplotlib.rcParams["font.family"] = FONT_FAMILY
    matplotlib.rcParams["axes.unicode_minus"] = True
    return "NanumGothic"


def plot_history(history: list[dict], title: str | None = None, axes=None):
    """Train-vs-validation loss and accuracy per epoch (two panels): validation solid, training
    dashed, as in the class notebooks. Returns the Figure."""
    import matplotlib.pyplot as plt

    setup_korean_fonts()
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    else:
        fig = axes[0].figure
    ep = [h["epoch"] for h in history]
    ax = axes[0]
    ax.plot(ep, [h["val_loss"] for h in history], "s-", label="검증 (validation)")
    ax.plot(ep, [h["train_loss"] for h in history], "o--", label="학습 (train)")
    ax.set_xlabel("에폭 (epoch)")
    ax.set_ylabel("손실 (loss)")
    ax.set_title("손실")
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax = axes[1]
    ax.plot(ep, [h["val_acc"] for h in history], "s-", label="검증 (validation)")
    ax.plot(ep, [h["train_acc"] for h in history], "o--", label="학습 (train)")
    ax.set_xlabel("에폭 (epoch)")
    ax.set_ylabel("정확도 (accuracy)")
    ax.set_ylim(0, 1)
    ax.set_title("정확도")
    ax.grid(True, alpha=0.3)
    ax.legend()
    from matplotlib.ticker import MaxNLocator
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_weight_hist(edges, density, mu: float, sigma: float, near_zero: tuple | None = None,
                     title: str | None = None, ax=None):
    """The book's weight histogram from precomputed bins: density bars, axes [-0.2, 0.2] × [0, 20],
    mu and sigma written at (0.08, 15) and (0.08, 13); optionally the near-zero count."""
    import matplotlib.pyplot as plt

    setup_korean_fonts()
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.2))
    edges = np.asarray(edges)
    ax.bar(edges[:-1], density, width=np.diff(edges), align="edge", color="g", alpha=0.75)
    ax.axis([-0.2, 0.2, 0, 20.0])
    ax.text(0.08, 15.0, f"mu={mu:5.3f}")
    ax.text(0.08, 13.0, f"sigma={sigma:5.3f}")
    if near_zero is not None:
        count, total = near_zero
        ax.text(-0.19, 18.0, f"|w| ≤ 1e-5: {count:,}/{total:,} ({100 * count / total:.1f}%)",
                fontsize=8)
    ax.grid(True)
    if title:
        ax.set_title(title)
    return ax


def plot_result_weights(result: dict, ax=None, title: str | None = None):
    """:func:`plot_weight_hist` for a run record written by :func:`reglab.pipeline.record.execute_run`."""
    w = result["weights"]
    nz = result["near_zero"]
    return plot_weight_hist(w["hist_edges"], w["hist_density"], w["mu"], w["sigma"],
                            (nz["count"], nz["total"]), title=title or result["name"], ax=ax)
