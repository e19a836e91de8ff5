"""Figures of the class notebooks, with Korean labels (PNG through IPython's display).

Training curves (:func:`plot_overfitting`, :func:`plot_curves`), weights after L1/L2
(:func:`plot_weight_hists`, :func:`plot_near_zero`), batch-norm statistics
(:func:`plot_bn_stats`), the values a layer receives (:func:`plot_value_hists`) and noisy
inputs (:func:`show_noisy_photos`). Every function returns
its Figure (or Axes) and saves nothing; :func:`show` displays a Figure.

Thread safety: a button of :func:`reglab.classroom.control_panel` may run its callback on
another thread than the notebook's cells (JupyterLab 4.6 with ipykernel 7 handles widget
messages on a kernel subshell), while a cell is still drawing. matplotlib's text and mathtext
parsers are not thread-safe, so every figure here is an explicit
:class:`matplotlib.figure.Figure` (never pyplot's global list of figures), and all figure work
(building, laying out, rendering for display) holds the process-wide :data:`FIGURE_LOCK`.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from ..nn.display import NEAR_ZERO
from .data import class_label
from .stats import weight_share
from .train import final_metrics, format_value

__all__ = ["plot_overfitting", "plot_curves", "plot_weight_hists", "plot_near_zero",
           "plot_bn_stats", "plot_value_hists", "show_noisy_photos", "korean_pyplot",
           "new_figure", "show", "FIGURE_LOCK"]

#: Held by every figure helper here and by the control panels while they build, lay out or
#: render a figure (re-entrant: a helper may call another).
FIGURE_LOCK = threading.RLock()

#: Row colours of the weight figures by technique; other names take _OTHER_COLORS by row.
_ROW_COLORS = {"L2": "tab:green", "L1": "tab:purple"}
_OTHER_COLORS = ["tab:green", "tab:purple", "tab:orange"]


def _locked(func):
    """Run ``func`` while holding :data:`FIGURE_LOCK`."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with FIGURE_LOCK:
            return func(*args, **kwargs)
    return wrapper


def korean_pyplot():
    """``matplotlib.pyplot`` with the Korean font set up (:func:`reglab.plots.setup_korean_fonts`)."""
    import matplotlib.pyplot as plt

    from ..plots import setup_korean_fonts
    with FIGURE_LOCK:
        setup_korean_fonts()
    return plt


@_locked
def new_figure(figsize=(6.4, 4.8)):
    """An explicit :class:`matplotlib.figure.Figure` with the Korean font set up.

    It is not registered with pyplot, so no other thread's ``plt.show()`` or ``plt.close()``
    touches it; display it with :func:`show`.
    """
    from matplotlib.figure import Figure

    from ..plots import setup_korean_fonts
    setup_korean_fonts()
    return Figure(figsize=figsize)


def show(fig) -> None:
    """Display a Figure (or the Figure of an Axes) as PNG, rendered while holding the lock.

    Uses IPython's ``display`` and the PNG formatter that ``%matplotlib inline`` registers, so
    it works in JupyterLab, VS Code and Colab alike.
    """
    from IPython.display import display

    fig = getattr(fig, "figure", fig)
    with FIGURE_LOCK:
        display(fig)


def _colors(n):
    from matplotlib import colormaps
    cmap = colormaps["viridis"]
    return [cmap(0.85 * i / max(n - 1, 1)) for i in range(n)]


def _near_zero_label(threshold: float) -> str:
    """``|w| ≤ 10⁻⁵`` as mathtext (NanumGothic draws ≤ much like <, so the sign comes from
    the math font); thresholds that are not powers of ten are written with ``:g``."""
    exp = np.log10(threshold) if threshold > 0 else np.nan
    value = f"10^{{{int(round(exp))}}}" if np.isfinite(exp) and abs(exp - round(exp)) < 1e-9 \
        else f"{threshold:g}"
    return rf"$|w| \leq {value}$"


def _row_color(name, i: int):
    return _ROW_COLORS.get(name, _OTHER_COLORS[i % len(_OTHER_COLORS)])


def _label_panel(ax, title: str, xlabel: str | None, ylabel: str | None):
    """Title and grid of one panel of a grid of panels; axis labels only where given."""
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)


def _finish(fig, title: str | None, rect=None):
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=rect)
    return fig


#: Line styles of every training-curve figure: validation solid, training dashed.
VAL_STYLE = {"ls": "-", "lw": 2.0}
TRAIN_STYLE = {"ls": "--", "lw": 1.3}


def _curve_axes(fig):
    """The loss and accuracy panels of a curve figure, labelled."""
    from matplotlib.ticker import MaxNLocator

    axes = fig.subplots(1, 2)
    axes[0].set_ylabel("손실 (loss)")
    axes[0].set_title("손실: 실선 = 검증, 점선 = 학습", fontsize=10)
    axes[1].set_ylabel("정확도 (accuracy)")
    axes[1].set_ylim(0, 1.02)
    axes[1].set_title("정확도: 실선 = 검증, 점선 = 학습", fontsize=10)
    for ax in axes:
        ax.set_xlabel("에폭 (epoch)")
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return axes


def _legend_below(fig, handles, labels, title: str | None):
    """The legend under the panels (outside them, so it never covers a curve); lays out."""
    ncol = min(len(labels), 4)
    rows = -(-len(labels) // ncol)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    height = fig.get_figheight()
    return _finish(fig, title, rect=(0, min(0.3, (0.28 * rows + 0.1) / height), 1, 1))


@_locked
def plot_overfitting(history: list[dict], title: str | None = None):
    """Train and validation loss/accuracy with the epoch of the lowest validation loss marked.

    Validation solid, training dashed (as in :func:`plot_curves`). The dotted red line is the
    epoch of the lowest validation loss, named in the legend under the panels; the shaded region
    after it is where more training only memorizes. Returns the Figure.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig = new_figure(figsize=(10, 4.0))
    axes = _curve_axes(fig)
    ep = [h["epoch"] for h in history]
    for ax, key in zip(axes, ("loss", "acc")):
        ax.plot(ep, [h[f"val_{key}"] for h in history], color="tab:orange", marker="s", ms=3,
                **VAL_STYLE)
        ax.plot(ep, [h[f"train_{key}"] for h in history], color="tab:blue", marker="o", ms=3,
                **TRAIN_STYLE)
    m = final_metrics(history)
    best, last = m["best_epoch"], history[-1]["epoch"]
    for ax in axes:
        ax.axvline(best, color="crimson", lw=1, ls=":")
        if best < last:
            ax.axvspan(best, last, color="crimson", alpha=0.06)
    handles = [Line2D([], [], color="tab:orange", marker="s", ms=3, **VAL_STYLE),
               Line2D([], [], color="tab:blue", marker="o", ms=3, **TRAIN_STYLE),
               Line2D([], [], color="crimson", lw=1, ls=":")]
    labels = ["검증 (validation)", "학습 (train)", f"검증 손실 최저 ({best} 에폭)"]
    if best < last:
        handles.append(Patch(color="crimson", alpha=0.15))
        labels.append("과적합 구간 (외우기만 함)")
    return _legend_below(fig, handles, labels, title)


@_locked
def plot_curves(results: list[dict], title: str | None = None, label: str | None = None):
    """Loss and accuracy per epoch for several runs: validation solid, training dashed.

    One colour per value of the swept parameter. ``label`` overrides the parameter's name in
    the legend (``""``: the values alone). The legend sits under the panels. Returns the Figure.
    """
    from matplotlib.lines import Line2D

    fig = new_figure(figsize=(10, 4.0))
    axes = _curve_axes(fig)
    colors = _colors(len(results))
    handles, labels = [], []
    for r, c in zip(results, colors):
        ep = [h["epoch"] for h in r["history"]]
        lab = r["label"] if label is None else label
        labels.append(f"{lab}={format_value(r['value'])}" if lab else format_value(r["value"]))
        handles.append(Line2D([], [], color=c, lw=2))
        for ax, key in zip(axes, ("loss", "acc")):
            ax.plot(ep, [h[f"val_{key}"] for h in r["history"]], color=c, **VAL_STYLE)
            ax.plot(ep, [h[f"train_{key}"] for h in r["history"]], color=c, **TRAIN_STYLE)
    handles += [Line2D([], [], color="gray", **VAL_STYLE), Line2D([], [], color="gray", **TRAIN_STYLE)]
    labels += ["검증 (validation)", "학습 (train)"]
    return _legend_below(fig, handles, labels, title)


@_locked
def plot_weight_hists(rows: dict, title: str | None = None, xlim: float = 0.2, bins: int = 101):
    """Weight histograms, one row per technique and one column per λ.

    Parameters
    ----------
    rows : dict name -> list of result dicts (from :func:`sweep`)
        e.g. ``{"L2": results_l2, "L1": results_l1}``.
    xlim : float
        The x axis is [-xlim, xlim] (the book's ±0.2); weights outside are counted in the text.

    The y axis is logarithmic (counts), so both the tall spike at 0 of L1 and the flat tails
    stay visible. Each panel's title states the standard deviation σ and the share of
    ``|w| ≤ 1e-5``.
    Returns the Figure.
    """
    names = list(rows)
    ncols = max(len(v) for v in rows.values())
    fig = new_figure(figsize=(2.8 * ncols, 2.8 * len(names)))
    axes = fig.subplots(len(names), ncols, sharex=True, sharey=True, squeeze=False)
    edges = np.linspace(-xlim, xlim, bins + 1)
    for r_i, name in enumerate(names):
        color = _row_color(name, r_i)
        for c_i in range(ncols):
            ax = axes[r_i, c_i]
            if c_i >= len(rows[name]):
                ax.axis("off")
                continue
            res = rows[name][c_i]
            w = np.asarray(res["weights"])
            counts, _ = np.histogram(w, bins=edges)
            ax.bar(edges[:-1], np.maximum(counts, 0.8), width=np.diff(edges), align="edge",
                   color=color, alpha=0.8)
            ax.set_yscale("log")
            ax.set_ylim(0.8, None)
            ax.set_xlim(-xlim, xlim)
            share = 100 * res["near_zero"] / max(res["total"], 1)
            text = f"σ={np.std(w):.4f}, {_near_zero_label(NEAR_ZERO)}: {share:.1f}%"
            outside = int(np.count_nonzero(np.abs(w) > xlim))
            if outside:
                text += f"\n(±{xlim:g} 밖 {outside:,}개)"
            _label_panel(ax, f"{name}, λ={format_value(res['value'])}\n{text}",
                         "가중치 값 w" if r_i == len(names) - 1 else None,
                         "개수 (로그 눈금)" if c_i == 0 else None)
    return _finish(fig, title)


@_locked
def plot_near_zero(rows: dict, thresholds=(NEAR_ZERO, 1e-3), title: str | None = None, ax=None):
    """Share of weights with ``|w| <= threshold`` for each λ, one line per technique and threshold.

    The λ values are placed at equal steps (their labels on the axis), so λ = 0 fits beside
    the powers of ten. Returns the Axes.
    """
    if ax is None:
        ax = new_figure(figsize=(7.5, 3.6)).subplots()
    styles = ["-o", "--s", ":^"]
    lams = sorted({r["value"] for res in rows.values() for r in res})
    pos = {v: i for i, v in enumerate(lams)}
    for r_i, (name, res) in enumerate(rows.items()):
        color = _row_color(name, r_i)
        xs = [pos[r["value"]] for r in res]
        for t, style in zip(thresholds, styles):
            ys = [100 * weight_share(r["weights"], t) for r in res]
            ax.plot(xs, ys, style, color=color, label=f"{name}: {_near_zero_label(t)}")
    ax.set_xticks(range(len(lams)), [format_value(float(v)) for v in lams])
    ax.set_xlabel("정규화 계수 λ")
    ax.set_ylabel("0에 가까운 가중치 비율 (%)")
    ax.set_ylim(-3, 103)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_title(title or "λ가 커질 때 0 근처로 가는 가중치")
    ax.figure.tight_layout()
    return ax


@_locked
def plot_bn_stats(stats_by_model: dict, title: str | None = None, far: float = 10.0):
    """Per-channel (mean, std) points before and after each batch-norm layer.

    Parameters
    ----------
    stats_by_model : dict name -> list of records from :func:`activation_stats`
        One row of panels per model (e.g. ``{"exact 프로파일": ..., "book 프로파일": ...}``), one
        column per batch-norm layer.
    far : float
        Points with a mean or std beyond this (e.g. raw 0-255 pixels) are not drawn; the panel
        states their range instead, so the normalized outputs stay readable.

    Each point is one channel. Grey circles: the layer's input; blue dots: its output in
    training mode (batch statistics); red crosses: its output in evaluation mode (running
    averages). The dashed lines mark the target mean 0 and std 1. Returns the Figure.
    """
    names = list(stats_by_model)
    n_bn = max(max((r["bn"] for r in recs), default=0) for recs in stats_by_model.values())
    fig = new_figure(figsize=(3.4 * n_bn, 3.1 * len(names)))
    axes = fig.subplots(len(names), n_bn, squeeze=False)
    for r_i, name in enumerate(names):
        recs = stats_by_model[name]
        for b in range(1, n_bn + 1):
            ax = axes[r_i, b - 1]
            by_mode = {r["mode"]: r for r in recs if r["bn"] == b}
            src = by_mode.get("train") or by_mode.get("eval")
            if src is None:
                ax.axis("off")
                continue
            ax.axvline(0, color="goldenrod", ls="--", lw=1, zorder=0)
            ax.axhline(1, color="goldenrod", ls="--", lw=1, zorder=0, label="목표: 평균 0, 표준편차 1")
            series = [(src["in_mean"], src["in_std"], dict(s=34, facecolors="none", edgecolors="gray",
                                                           label="입력 (BN 앞)"))]
            if "train" in by_mode:
                r = by_mode["train"]
                series.append((r["out_mean"], r["out_std"], dict(s=16, color="tab:blue", zorder=3,
                                                                 label="출력, 학습 모드 (배치 통계)")))
            if "eval" in by_mode:
                r = by_mode["eval"]
                series.append((r["out_mean"], r["out_std"], dict(s=34, marker="x", color="tab:red",
                                                                 zorder=4, label="출력, 평가 모드 (이동 평균)")))
            notes = []
            for mx, sx, kw in series:
                mx, sx = np.asarray(mx), np.asarray(sx)
                near = (np.abs(mx) <= far) & (sx <= far)
                ax.scatter(mx[near], sx[near], **kw)
                if not near.all():
                    notes.append(f"{kw['label'].split(' (')[0]}: 평균 {mx[~near].min():.0f}~{mx[~near].max():.0f}, "
                                 f"표준편차 {sx[~near].min():.0f}~{sx[~near].max():.0f} (그림 밖)")
            if notes:
                ax.text(0.03, 0.03, "\n".join(notes), transform=ax.transAxes, fontsize=7,
                        va="bottom", color="dimgray",
                        bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
            x0, x1 = ax.get_xlim()
            y0, y1 = ax.get_ylim()
            ax.set_xlim(min(x0, -0.5), max(x1, 0.5))
            ax.set_ylim(min(y0, 0.0), max(y1, 1.5))
            _label_panel(ax, f"{name}\n배치 정규화 {b} (채널 {src['channels']}개)",
                         "채널 평균" if r_i == len(names) - 1 else None,
                         "채널 표준편차" if b == 1 else None)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    return _finish(fig, title, rect=(0, 0.06 if len(names) > 1 else 0.1, 1, 1))


@_locked
def plot_value_hists(values: dict, title: str | None = None, bins: int = 60):
    """One histogram panel per model of the values a layer receives (e.g. from
    :func:`reglab.classroom.layer_inputs`), each with its own x range.

    The panel's title states the mean and σ; a dashed line marks the mean. Returns the Figure.
    """
    names = list(values)
    fig = new_figure(figsize=(3.6 * len(names), 3.0))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for i, (ax, name) in enumerate(zip(axes, names)):
        v = np.asarray(values[name], dtype=np.float64)
        ax.hist(v, bins=bins, color=_OTHER_COLORS[i % len(_OTHER_COLORS)], alpha=0.8)
        ax.axvline(float(v.mean()), color="black", ls="--", lw=1)
        _label_panel(ax, f"{name}\n평균 {v.mean():.2f}, σ={v.std():.2f}", "값",
                     "개수" if i == 0 else None)
    return _finish(fig, title)


@_locked
def show_noisy_photos(dataset, stds, profile="exact", count: int = 4, seed: int = 0):
    """A grid of validation photos with Gaussian noise of each ``std`` added, as the noise layer
    sees them (``std`` in the model's input units: 0-1 in the exact profile, 0-255 in book).

    Returns the Figure (nothing is saved).
    """
    from ..profile import get_profile

    scale = get_profile(profile).input_scale
    xs = dataset.va_xs[:count].astype(np.float64) * scale
    rng = np.random.default_rng(seed)
    fig = new_figure(figsize=(1.6 * len(stds) + 0.8, 1.6 * count))
    axes = fig.subplots(count, len(stds), squeeze=False)
    for c_i, std in enumerate(stds):
        noisy = xs + rng.normal(0.0, float(std), xs.shape) if std else xs
        for r_i in range(count):
            ax = axes[r_i, c_i]
            ax.imshow(np.clip(noisy[r_i] / (255 * scale), 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            if r_i == 0:
                ax.set_title(f"σ={format_value(float(std))}", fontsize=9)
            if c_i == 0:
                ax.set_ylabel(class_label(dataset.target_names[int(dataset.va_ys[r_i])]), fontsize=8)
    fig.suptitle("잡음을 넣은 입력 (학습할 때만)", fontsize=10)
    fig.tight_layout()
    return fig


@_locked
def plot_mode_outputs(outputs: dict, class_names, title: str | None = None):
    """One photo's class probabilities: each training-mode pass (thin lines, one per dropout
    mask) and the evaluation-mode output (thick black line). ``outputs`` is what
    :func:`reglab.classroom.outputs_by_mode` returns. Returns the Figure."""
    fig = new_figure(figsize=(8, 3.8))
    ax = fig.subplots()
    x = np.arange(len(class_names))
    train = np.asarray(outputs["train"])
    colors = _colors(len(train))
    for i, (p, c) in enumerate(zip(train, colors)):
        ax.plot(x, p, "o--", color=c, lw=1.0, ms=4, label=f"학습 모드 {i + 1}번째")
    ax.plot(x, outputs["eval"], "s-", color="black", lw=2.2, ms=6, label="평가 모드 (매번 같음)")
    ax.set_xticks(x, [class_label(n) for n in class_names], fontsize=8)
    ax.set_ylabel("클래스 확률")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _finish(fig, title)
