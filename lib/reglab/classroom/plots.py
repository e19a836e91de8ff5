"""Figures of the class notebooks, with Korean labels (PNG through the inline backend).

Training curves (:func:`plot_overfitting`, :func:`plot_curves`), weights after L1/L2
(:func:`plot_weight_hists`, :func:`plot_near_zero`), batch-norm statistics
(:func:`plot_bn_stats`) and noisy inputs (:func:`show_noisy_photos`). Every function returns
its Figure (or Axes) and saves nothing.
"""

from __future__ import annotations

import numpy as np

from ..nn.display import NEAR_ZERO
from .stats import weight_share
from .train import final_metrics, format_value

__all__ = ["plot_overfitting", "plot_curves", "plot_weight_hists", "plot_near_zero",
           "plot_bn_stats", "show_noisy_photos", "korean_pyplot"]


#: Row colours of the weight figures by technique; other names take _OTHER_COLORS by row.
_ROW_COLORS = {"L2": "tab:green", "L1": "tab:purple"}
_OTHER_COLORS = ["tab:green", "tab:purple", "tab:orange"]


def korean_pyplot():
    """``matplotlib.pyplot`` with the Korean font set up (:func:`reglab.plots.setup_korean_fonts`)."""
    import matplotlib.pyplot as plt

    from ..plots import setup_korean_fonts
    setup_korean_fonts()
    return plt


def _colors(n):
    cmap = korean_pyplot().get_cmap("viridis")
    return [cmap(0.85 * i / max(n - 1, 1)) for i in range(n)]


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


def plot_overfitting(history: list[dict], title: str | None = None, axes=None):
    """Train and validation loss/accuracy with the epoch of the lowest validation loss marked.

    The shaded region after that epoch is where more training only memorizes. Returns the Figure.
    """
    from ..plots import plot_history

    fig = plot_history(history, title=title, axes=axes)
    m = final_metrics(history)
    best, last = m["best_epoch"], history[-1]["epoch"]
    for ax in fig.axes[:2]:
        ax.axvline(best, color="crimson", lw=1, ls=":")
        if best < last:
            ax.axvspan(best, last, color="crimson", alpha=0.06)
    ax = fig.axes[0]
    ax.annotate(f"검증 손실 최저\n({best} 에폭)", xy=(best, m["best_val_loss"]),
                xytext=(0.35, 0.9), textcoords="axes fraction", fontsize=8, color="crimson",
                arrowprops={"arrowstyle": "->", "color": "crimson", "lw": 0.8})
    fig.tight_layout()
    return fig


def plot_curves(results: list[dict], title: str | None = None, label: str | None = None):
    """Loss and accuracy per epoch for several runs: validation solid, training dashed.

    One colour per value of the swept parameter. ``label`` overrides the parameter's name in
    the legend (``""``: the values alone). Returns the Figure.
    """
    plt = korean_pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    colors = _colors(len(results))
    for r, c in zip(results, colors):
        ep = [h["epoch"] for h in r["history"]]
        lab = r["label"] if label is None else label
        name = f"{lab}={format_value(r['value'])}" if lab else format_value(r["value"])
        axes[0].plot(ep, [h["val_loss"] for h in r["history"]], "-", color=c, lw=2, label=name)
        axes[0].plot(ep, [h["train_loss"] for h in r["history"]], "--", color=c, lw=1.2)
        axes[1].plot(ep, [h["val_acc"] for h in r["history"]], "-", color=c, lw=2, label=name)
        axes[1].plot(ep, [h["train_acc"] for h in r["history"]], "--", color=c, lw=1.2)
    axes[0].set_ylabel("손실 (loss)")
    axes[0].set_title("손실: 실선 = 검증, 점선 = 학습")
    axes[1].set_ylabel("정확도 (accuracy)")
    axes[1].set_ylim(0, 1.02)
    axes[1].set_title("정확도: 실선 = 검증, 점선 = 학습")
    for ax in axes:
        ax.set_xlabel("에폭 (epoch)")
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [Line2D([], [], color="gray", lw=2, ls="-"), Line2D([], [], color="gray", lw=1.2, ls="--")]
    labels += ["검증 (validation)", "학습 (train)"]
    axes[0].legend(handles, labels, fontsize=8)
    return _finish(fig, title)


def plot_weight_hists(rows: dict, title: str | None = None, xlim: float = 0.2, bins: int = 101):
    """Weight histograms, one row per technique and one column per λ.

    Parameters
    ----------
    rows : dict name -> list of result dicts (from :func:`sweep`)
        e.g. ``{"L2": results_l2, "L1": results_l1}``.
    xlim : float
        The x axis is [-xlim, xlim] (the book's ±0.2); weights outside are counted in the text.

    The y axis is logarithmic (counts), so both the tall spike at 0 of L1 and the flat tails
    stay visible. Each panel's title states the standard deviation and the share of
    ``|w| <= 1e-5``.
    Returns the Figure.
    """
    plt = korean_pyplot()
    names = list(rows)
    ncols = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(names), ncols, figsize=(2.8 * ncols, 2.8 * len(names)),
                             sharex=True, sharey=True, squeeze=False)
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
            text = f"σ={np.std(w):.4f}, |w| ≤ 1e-5: {share:.1f}%"
            outside = int(np.count_nonzero(np.abs(w) > xlim))
            if outside:
                text += f"\n(±{xlim:g} 밖 {outside:,}개)"
            _label_panel(ax, f"{name}, λ={format_value(res['value'])}\n{text}",
                         "가중치 값 w" if r_i == len(names) - 1 else None,
                         "개수 (로그 눈금)" if c_i == 0 else None)
    return _finish(fig, title)


def plot_near_zero(rows: dict, thresholds=(NEAR_ZERO, 1e-3), title: str | None = None, ax=None):
    """Share of weights with ``|w| <= threshold`` for each λ, one line per technique and threshold.

    The λ values are placed at equal steps (their labels on the axis), so λ = 0 fits beside
    the powers of ten. Returns the Axes.
    """
    plt = korean_pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    styles = ["-o", "--s", ":^"]
    lams = sorted({r["value"] for res in rows.values() for r in res})
    pos = {v: i for i, v in enumerate(lams)}
    for r_i, (name, res) in enumerate(rows.items()):
        color = _row_color(name, r_i)
        xs = [pos[r["value"]] for r in res]
        for t, style in zip(thresholds, styles):
            ys = [100 * weight_share(r["weights"], t) for r in res]
            ax.plot(xs, ys, style, color=color, label=f"{name}: |w| ≤ {t:g}")
    ax.set_xticks(range(len(lams)), [format_value(float(v)) for v in lams])
    ax.set_xlabel("정규화 계수 λ")
    ax.set_ylabel("0에 가까운 가중치 비율 (%)")
    ax.set_ylim(-3, 103)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "λ가 커질 때 0 근처로 가는 가중치")
    ax.figure.tight_layout()
    return ax


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
    plt = korean_pyplot()
    names = list(stats_by_model)
    n_bn = max(max((r["bn"] for r in recs), default=0) for recs in stats_by_model.values())
    fig, axes = plt.subplots(len(names), n_bn, figsize=(3.4 * n_bn, 3.1 * len(names)),
                             squeeze=False)
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


def show_noisy_photos(dataset, stds, profile="exact", count: int = 4, seed: int = 0):
    """A grid of validation photos with Gaussian noise of each ``std`` added, as the noise layer
    sees them (``std`` in the model's input units: 0-1 in the exact profile, 0-255 in book).

    Returns the Figure (nothing is saved).
    """
    from ..profile import get_profile

    plt = korean_pyplot()
    scale = get_profile(profile).input_scale
    xs = dataset.va_xs[:count].astype(np.float64) * scale
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(count, len(stds), figsize=(1.6 * len(stds), 1.6 * count),
                             squeeze=False)
    for c_i, std in enumerate(stds):
        noisy = xs + rng.normal(0.0, float(std), xs.shape) if std else xs
        for r_i in range(count):
            ax = axes[r_i, c_i]
            ax.imshow(np.clip(noisy[r_i] / (255 * scale), 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            if r_i == 0:
                ax.set_title(f"std={format_value(float(std))}", fontsize=9)
            if c_i == 0:
                ax.set_ylabel(dataset.target_names[int(dataset.va_ys[r_i])], fontsize=8)
    fig.suptitle("잡음을 넣은 입력 (학습할 때만)", fontsize=10)
    fig.tight_layout()
    return fig
