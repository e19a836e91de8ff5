"""The reports' figures, drawn from the records alone (no photo of the data set is shown).

Each function returns a PNG as ``IPython.display.Image`` (:func:`fig_to_image`) whose ``alt``
text starts with "그림", or None when there is nothing to draw. matplotlib is imported only
when a figure is drawn, with the Korean fonts of :func:`reglab.plots.setup_korean_fonts`.

Chapter report
    :func:`run_figure` (one run's curves, the book's weight histogram and the near-zero view
    :func:`log_weight_hist`), :func:`near_zero_figure` (the MLPs' log10|w| distributions and
    near-zero shares, per profile), :func:`overfitting_figure`.
Study report
    :func:`seeds_figure` (every seed's test accuracy with the mean's 95 % interval),
    :func:`long_figure` (seed-mean losses per model), :func:`long_val_acc_figure`.
"""

from __future__ import annotations

import io
import math

import numpy as np

from ..pipeline.experiments import CHAPTER8_RUNS
from ..nn.display import NEAR_ZERO
from .chapter_analysis import BASELINES, near_zero, overfitting_pick, weight_values
from .fmt import SHORT, fmt_thr, plabel
from .records import ReportData, RunEntry, StudyData
from .study_analysis import long_rows, seed_summary

__all__ = ["fig_to_image", "run_figure", "LOG_RANGE", "log_weight_hist", "near_zero_figure",
           "overfitting_figure", "seeds_figure", "long_figure",
           "long_val_acc_figure"]


def fig_to_image(fig, alt: str, dpi: int = 96):
    """PNG bytes of a matplotlib figure as an IPython Image (the figure is closed)."""
    import matplotlib.pyplot as plt
    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return Image(data=buf.getvalue(), format="png", metadata={"alt": alt})


#: The log10|w| axis of the near-zero view; smaller values (and exact zeros) go to the first bin.
LOG_RANGE = (-10.0, 1.0)
_LOG_BINS = 110


def _log_abs(w: np.ndarray) -> np.ndarray:
    """log10|w| clipped into :data:`LOG_RANGE` (0 and anything smaller lands in the first bin)."""
    lo, hi = LOG_RANGE
    with np.errstate(divide="ignore"):
        x = np.log10(np.abs(w))
    return np.clip(x, lo, hi - 1e-9)


def log_weight_hist(ax, w: np.ndarray, threshold: float = NEAR_ZERO, label: str | None = None,
                    color=None, step: bool = False):
    """The near-zero view: the share of weights (%) per bin of log10|w|, the book's threshold as
    a dashed line. Returns the share (0–1) of weights with ``|w| <= threshold``."""
    share = float(np.count_nonzero(np.abs(w) <= threshold)) / w.size if w.size else 0.0
    pct = np.full(w.size, 100.0 / w.size) if w.size else None
    kw = {"histtype": "step", "lw": 1.4} if step else {"alpha": 0.8}
    ax.hist(_log_abs(w), bins=_LOG_BINS, range=LOG_RANGE, weights=pct, color=color,
            label=label, **kw)
    ax.axvline(np.log10(threshold), color="#b03030", ls="--", lw=1)
    ax.set_xlim(*LOG_RANGE)
    ax.set_xlabel("log10|w| (맨 왼쪽 막대: 1e-10 이하와 0)", fontsize=8.5)
    ax.set_ylabel("가중치 비율 (%)", fontsize=8.5)
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize=8)
    return share


def run_figure(entry: RunEntry):
    """Loss/accuracy curves, the book's weight histogram and the near-zero view (log10|w|) of a
    finished run, or None."""
    if not entry.ok:
        return None
    import matplotlib.pyplot as plt

    from ..plots import plot_history, plot_result_weights, setup_korean_fonts

    setup_korean_fonts()
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.3))
    plot_history(entry.record["history"], axes=axes[:2])
    plot_result_weights(entry.record, ax=axes[2], title="가중치 분포 (교재, ±0.2)")
    w = weight_values(entry)
    _, _, thr = near_zero(entry)
    if w is None:
        axes[3].axis("off")
        axes[3].text(0.5, 0.5, "가중치 파일(.npz)이 없어\n0 근처를 그리지 못했습니다",
                     ha="center", va="center", fontsize=9, transform=axes[3].transAxes)
    else:
        share = log_weight_hist(axes[3], w, thr, color="#3a7d44")
        axes[3].set_title(f"0 근처 (log10|w|): |w| ≤ {fmt_thr(thr)}인 가중치 {100 * share:.1f} %",
                          fontsize=10)
    fig.suptitle(f"{entry.name} — {plabel(entry.profile)}")
    fig.tight_layout()
    return fig_to_image(fig, f"그림: {entry.name} ({entry.profile}) 손실·정확도 곡선, 가중치 분포와 "
                        "0 근처의 log10|w| 분포")


def near_zero_figure(data: ReportData):
    """Per profile, the log10|w| distributions of the MLPs (no regularization, L2, L1) on one
    panel, each labelled with its share of weights ``|w| <= 1e-5``; None without any weights."""
    panels = []
    for p in data.profiles:
        lines = [(e, w) for e in data.ok_entries(p, "mlp") if (w := weight_values(e)) is not None]
        if lines:
            panels.append((p, lines))
    if not panels:
        return None
    import matplotlib.pyplot as plt

    from ..plots import setup_korean_fonts

    setup_korean_fonts()
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 3.6), sharey=True,
                             squeeze=False)
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]
    for ax, (p, lines) in zip(axes[0], panels):
        thr = NEAR_ZERO
        for i, (e, w) in enumerate(lines):
            thr = near_zero(e)[2]
            share = float(np.count_nonzero(np.abs(w) <= thr)) / w.size
            log_weight_hist(ax, w, thr, color=colors[i % len(colors)], step=True,
                            label=f"{SHORT[e.name]} {e.spec.technique}: {100 * share:.1f} %")
        ax.set_title(f"{plabel(p)}", fontsize=10)
        ax.legend(fontsize=7.5, loc="upper left", title=f"|w| ≤ {fmt_thr(thr)}인 비율", title_fontsize=7.5)
    fig.suptitle("MLP 가중치의 log10|w| 분포와 0에 가까운 가중치의 비율 (점선: 1e-5)", fontsize=11)
    fig.tight_layout()
    return fig_to_image(fig, "그림: MLP 세 모델의 log10|w| 분포와 |w| ≤ 1e-5인 가중치의 비율")


def overfitting_figure(data: ReportData):
    """Train and validation curves of :func:`~reglab.report.chapter_analysis.overfitting_pick`'s
    run, with the final loss gap marked, or None."""
    pick = overfitting_pick(data)
    if pick is None:
        return None
    import matplotlib.pyplot as plt

    from ..plots import plot_history, setup_korean_fonts

    setup_korean_fonts()
    e, gap = pick
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    plot_history(e.record["history"], axes=axes)
    last = e.last
    axes[0].annotate(f"차이 {gap:+.3f}", xy=(last["epoch"], last["val_loss"]),
                     xytext=(-60, 10), textcoords="offset points", fontsize=9,
                     arrowprops={"arrowstyle": "->", "color": "gray"})
    fig.suptitle(f"과적합 보기: {e.name} — {plabel(e.profile)}")
    fig.tight_layout()
    return fig_to_image(fig, f"그림: {e.name} ({e.profile}) 학습 손실과 검증 손실")


def seeds_figure(data: StudyData):
    """Test accuracy of every seed (dots) with the mean and its 95 % interval, per profile."""
    profiles = data.profiles("seeds")
    if not any(data.select("seeds", ok=True)):
        return None
    import matplotlib.pyplot as plt

    from ..plots import setup_korean_fonts

    setup_korean_fonts()
    fig, axes = plt.subplots(1, len(profiles), figsize=(5.2 * len(profiles), 3.6), sharey=True,
                             squeeze=False)
    for ax, p in zip(axes[0], profiles):
        for i, spec in enumerate(CHAPTER8_RUNS):
            s = seed_summary(data, p, spec.name)["acc"]
            if not s.n:
                continue
            xs = i + np.linspace(-0.15, 0.15, s.n) if s.n > 1 else [i]
            ax.plot(xs, s.values, "o", color="#7a9cc6", ms=4, alpha=0.85)
            if s.half is not None:
                ax.errorbar([i], [s.mean], yerr=[[s.half], [s.half]], fmt="_", color="#b03030",
                            ms=16, capsize=4, lw=1.5)
            else:
                ax.plot([i], [s.mean], "_", color="#b03030", ms=16)
        ax.set_xticks(range(len(CHAPTER8_RUNS)))
        ax.set_xticklabels([SHORT[s.name] for s in CHAPTER8_RUNS], rotation=30, fontsize=8.5)
        ax.set_title(plabel(p), fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0][0].set_ylabel("평가 정확도")
    fig.suptitle("시드별 평가 정확도 (점) · 평균과 95 % 구간 (빨강)", fontsize=11)
    fig.tight_layout()
    return fig_to_image(fig, "그림: 시드별 평가 정확도와 평균의 95 % 구간")


def long_figure(data: StudyData):
    """Train and validation loss (seed mean ± 1 standard deviation) per model, with the epoch
    of the lowest mean validation loss marked."""
    rows = [r for r in long_rows(data) if r["turn"] is not None]
    if not rows:
        return None
    import matplotlib.pyplot as plt

    from ..plots import setup_korean_fonts

    setup_korean_fonts()
    ncol = 2
    nrow = math.ceil(len(rows) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(10, 2.9 * nrow), squeeze=False)
    for ax, r in zip(axes.flat, rows):
        t = r["turn"]
        ep = np.array(t["epochs"])
        for key, color, lab in (("train", "#1f77b4", "학습"), ("val", "#d62728", "검증")):
            m, s = t[f"{key}_mean"], t[f"{key}_std"]
            ax.plot(ep, m, color=color, lw=1.6, label=f"{lab} 손실")
            ax.fill_between(ep, m - s, m + s, color=color, alpha=0.18, lw=0)
        ax.axvline(t["epoch"], color="gray", ls="--", lw=1)
        ax.plot([t["epoch"]], [t["min"]], "v", color="#d62728", ms=7)
        note = (f"최저 {t['epoch']}에폭" if t["turned"] else "끝까지 내려감")
        dx = 4 if t["epoch"] < 0.75 * t["last_epoch"] else -70
        ax.annotate(note, xy=(t["epoch"], t["min"]), xytext=(dx, 10),
                    textcoords="offset points", fontsize=8.5, color="#444")
        spec = r["spec"]
        extra = " (학습 손실에 정규화 항 포함)" if spec.l2_decay or spec.l1_decay else ""
        ax.set_title(f"{spec.name} — {spec.technique}{extra}", fontsize=9.5)
        ax.set_xlabel("에폭", fontsize=8.5)
        ax.set_ylabel("손실", fontsize=8.5)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=8, loc="upper right")
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    n = max(r["turn"]["n"] for r in rows)
    fig.suptitle(f"학습 손실과 검증 손실: 시드 {n}개의 평균 ± 표준편차 (띠), "
                 "세로 점선 = 평균 검증 손실이 가장 낮은 에폭", fontsize=10.5)
    fig.tight_layout()
    return fig_to_image(fig, "그림: 긴 학습의 학습 손실과 검증 손실 (시드 평균 ± 표준편차)")


def long_val_acc_figure(data: StudyData):
    """Seed-mean validation accuracy per epoch: each family's models on one panel."""
    if not data.select("long", ok=True):
        return None
    import matplotlib.pyplot as plt

    from ..plots import setup_korean_fonts

    setup_korean_fonts()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax, fam, title in ((axes[0], "mlp", "MLP"), (axes[1], "cnn", "CNN")):
        for spec in [s for s in CHAPTER8_RUNS if s.family == fam]:
            hists = [r.history for r in data.select("long", "exact", spec.name, ok=True)
                     if r.history]
            if not hists:
                continue
            k = min(len(h) for h in hists)
            acc = np.mean([[float(e["val_acc"]) for e in h[:k]] for h in hists], axis=0)
            ax.plot([e["epoch"] for e in hists[0][:k]], acc, lw=1.5,
                    ls="-" if spec.name == BASELINES[fam] else "--",
                    label=f"{SHORT[spec.name]} {spec.technique}")
        ax.set_title(f"{title}: 검증 정확도 (시드 평균)", fontsize=10)
        ax.set_xlabel("에폭", fontsize=8.5)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7.5)
    fig.tight_layout()
    return fig_to_image(fig, "그림: 긴 학습의 검증 정확도 (시드 평균)")
