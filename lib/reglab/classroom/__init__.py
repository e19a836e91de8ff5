"""Helpers for the class notebooks (``notebooks/class/``): small data, quick sweeps, Korean plots.

The class notebooks show one regularization technique each in well under a minute. They stay
thin: every loop lives here.

* :func:`load_class_data` — a small subset of the flower photos (``$FLOWERS_DIR`` or
  ``data/flowers``) or, when there are none, a synthetic stand-in that is made hard on purpose
  (grey + pixel noise, see its Notes), so that a small model can overfit it as it does the
  real photos.
* :func:`with_train_count` — the same dataset with fewer training photos (same validation set).
* :func:`train_quietly`, :func:`sweep` — train one model or one model per parameter value.
* :func:`activation_stats` — per-channel mean and std before and after every ``batch_normal``
  layer, in evaluation and in training mode, without changing the model.
* Plots with Korean labels: :func:`plot_curves`, :func:`plot_overfitting`,
  :func:`plot_weight_hists`, :func:`plot_near_zero`, :func:`plot_bn_stats`,
  :func:`show_noisy_photos`.
* :func:`control_panel` — ipywidgets controls plus a run button; the callback draws into the
  panel. Nothing waits for input, so papermill and nbval run the notebooks top to bottom.

Every random draw is seeded: the subset and split (``seed``), the synthetic photos (fixed
seeds) and the models (``Model(..., seed=...)``).
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import time
from pathlib import Path

import numpy as np

__all__ = ["CLASS_SYNTHETIC_PER_CLASS", "class_synthetic_dir", "find_photo_dir", "load_class_data",
           "with_train_count", "train_quietly", "sweep", "final_metrics", "summary_lines",
           "activation_stats", "bn_stats_lines", "inactive_units", "weight_share",
           "plot_curves", "plot_overfitting", "plot_weight_hists", "plot_near_zero",
           "plot_bn_stats", "show_noisy_photos", "control_panel"]

#: Photos per class of the class notebooks' synthetic set (5 x 120 = 600).
CLASS_SYNTHETIC_PER_CLASS = 120
_CLASS_SYNTHETIC_VERSION = 1
#: Std (pixel units, 0-255) of the fixed noise added to the grey synthetic photos.
SYNTHETIC_NOISE_STD = 40.0
NEAR_ZERO = 1e-5


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def class_synthetic_dir(root=None) -> Path:
    """A synthetic photo folder of 5 classes x ``CLASS_SYNTHETIC_PER_CLASS``, made once and reused.

    It lives in ``root`` (default: the image cache folder, ``$REGLAB_CACHE_DIR`` or
    ``~/.cache/reglab``) as ``class-synthetic-v1/flowers``; it is written into a temporary folder
    and renamed into place, so two notebooks starting together never see half a set.
    """
    from ..data.synthetic import cached_synthetic_flowers
    return cached_synthetic_flowers(f"class-synthetic-v{_CLASS_SYNTHETIC_VERSION}",
                                    CLASS_SYNTHETIC_PER_CLASS, seed=1, root=root)


def find_photo_dir(data_dir=None) -> tuple[Path | None, str]:
    """Where the photos come from: ``(folder, origin)``; folder None means synthetic.

    ``data_dir`` None or ``""``: ``$FLOWERS_DIR``, then ``data/flowers`` (current folder, then the
    project root); synthetic when none holds photos. ``"synthetic"``: always synthetic.
    Anything else: that folder (FileNotFoundError if it holds no photos).
    """
    from ..data.images import resolve_photo_dir

    if data_dir is not None and str(data_dir) == "synthetic":
        return None, "요청한 합성 사진"
    if data_dir is not None and str(data_dir).strip():
        return resolve_photo_dir(Path(data_dir).expanduser()), "data_dir"
    try:
        folder = resolve_photo_dir(None)
    except FileNotFoundError:
        if os.environ.get("FLOWERS_DIR"):
            return None, f"FLOWERS_DIR={os.environ['FLOWERS_DIR']}에 사진이 없어 대신 쓰는 합성 사진"
        return None, "사진 폴더가 없어 대신 쓰는 합성 사진"
    origin = "$FLOWERS_DIR" if os.environ.get("FLOWERS_DIR") else "data/flowers"
    return folder, origin


def _grey_noisy(xs: np.ndarray, rng: np.random.Generator, std: float) -> np.ndarray:
    """Grey photos (the same value in R, G, B) with fixed Gaussian noise, uint8."""
    grey = xs.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    grey += rng.normal(0.0, std, grey.shape).astype(np.float32)
    grey = np.repeat(grey[..., None], 3, axis=-1)
    return np.clip(grey, 0, 255).round().astype(np.uint8)


def load_class_data(max_samples: int = 600, resolution=32, data_dir=None, *, tr_ratio=0.6,
                    va_ratio=0.3, seed: int = 1234, verbose: bool = True):
    """A small dataset for a class notebook: real photos if there are any, else synthetic.

    Parameters
    ----------
    max_samples : int
        Photos to use (a class-stratified, seeded subset). The synthetic set has 600.
    resolution : int or (H, W)
        Every photo is stretched to this size (a CNN with two 2x2 max-pools and an average pool
        of stride 3 needs a side of 12k, e.g. 36 or 48).
    data_dir : None, "", "synthetic" or a folder
        See :func:`find_photo_dir`.
    tr_ratio, va_ratio : float
        Split like the book's (training rounded down to a multiple of 10); the defaults keep a
        large validation split (30%) so the validation curves are smooth enough to read.
    seed : int
        Subset and split permutation.
    verbose : bool
        Print which photos were used and the split sizes (in Korean).

    Returns
    -------
    reglab.data.FlowersDataset
        With the extra attribute ``source``: ``"photos"`` or ``"synthetic"``.

    Notes
    -----
    The synthetic photos (:func:`reglab.data.make_synthetic_flowers`) differ by hue and by
    pattern, which even a tiny model separates perfectly. For the class notebooks they are made
    grey (the hue is gone; only the pattern tells the classes apart) and get fixed Gaussian pixel
    noise (std ``SYNTHETIC_NOISE_STD``, seeded), so a model of a few hundred thousand weights
    can memorize the training photos and overfit, as it does with the real photos.
    """
    from ..data import FlowersDataset

    if isinstance(resolution, (int, np.integer)):
        resolution = [int(resolution), int(resolution)]
    resolution = [int(r) for r in resolution]
    folder, origin = find_photo_dir(data_dir)
    synthetic = folder is None
    if synthetic:
        folder = class_synthetic_dir()
    ds = FlowersDataset(resolution, resolution + [3], path=folder, seed=seed,
                        tr_ratio=tr_ratio, va_ratio=va_ratio, max_samples=int(max_samples),
                        progress=False)
    ds.source = "synthetic" if synthetic else "photos"
    if synthetic:
        rng = np.random.default_rng([seed, 7])
        ds.tr_xs = _grey_noisy(ds.tr_xs, rng, SYNTHETIC_NOISE_STD)
        ds.va_xs = _grey_noisy(ds.va_xs, rng, SYNTHETIC_NOISE_STD)
        ds.te_xs = _grey_noisy(ds.te_xs, rng, SYNTHETIC_NOISE_STD)
        ds.name = "synthetic"
    if verbose:
        if synthetic:
            print(f"데이터: 합성 사진 ({origin}) — 흑백 + 잡음(표준편차 {SYNTHETIC_NOISE_STD:g})으로 "
                  f"일부러 어렵게 만든 5종 도형 사진, {folder}")
            print("    실제 꽃 사진으로 하려면 FLOWERS_DIR을 지정하거나 data/flowers에 사진을 두세요 "
                  "(README의 '사진 받기').")
        else:
            print(f"데이터: 실제 꽃 사진 ({origin}: {ds.path})")
        print(f"    {resolution[0]}×{resolution[1]} 크기 {len(ds)}장 — 학습 {ds.train_count}장, "
              f"검증 {ds.validate_count}장, 테스트 {ds.test_count}장; "
              f"클래스 {', '.join(ds.target_names)}")
    return ds


def with_train_count(dataset, n: int):
    """A shallow copy of ``dataset`` that keeps only its first ``n`` training photos.

    The validation and test splits are the same objects, so curves of models trained on
    different amounts of data are scored on the same photos. ``n`` is capped at the training
    split's size.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n={n} must be a positive number of training photos")
    ds = copy.copy(dataset)
    ds.tr_xs = dataset.tr_xs[:n]
    ds.tr_ys = dataset.tr_ys[:n]
    if hasattr(dataset, "tr_indices"):
        ds.tr_indices = dataset.tr_indices[:n]
    return ds


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------
def train_quietly(model, epochs: int = 10, batch_size: int = 10, learning_rate: float = 0.001):
    """``model.train(...)`` without the book's log lines; returns the model (history filled)."""
    with contextlib.redirect_stdout(io.StringIO()):
        model.train(epochs, batch_size, learning_rate, report=0)
    return model


def sweep(values, make_model, epochs: int = 10, *, batch_size: int = 10,
          learning_rate: float = 0.001, label: str = "값", verbose: bool = True) -> list[dict]:
    """Train ``make_model(value)`` for each value; returns one result dict per value.

    Parameters
    ----------
    values : iterable
        Parameter values (λ, keep_prob, std, a profile name ...), in the order to plot them.
    make_model : callable value -> reglab.Model
        Builds an untrained model (seeded, so every value starts from the same weights when the
        architecture is the same).
    epochs, batch_size, learning_rate :
        Passed to :meth:`reglab.Model.train`.
    label : str
        The parameter's name in the printed lines and in plot legends (e.g. ``"λ"``).
    verbose : bool
        Print one Korean line per trained model.

    Returns
    -------
    list of dict
        ``value, label, model, history, weights (copy), near_zero, total, seconds``.
    """
    results = []
    for value in values:
        model = make_model(value)
        t0 = time.perf_counter()
        train_quietly(model, epochs, batch_size, learning_rate)
        seconds = time.perf_counter() - t0
        w = model.weights()
        res = {"value": value, "label": label, "model": model, "history": list(model.history),
               "weights": w, "near_zero": int(np.count_nonzero(np.abs(w) <= NEAR_ZERO)),
               "total": int(w.size), "seconds": seconds}
        results.append(res)
        if verbose:
            print(summary_lines([res])[0])
    return results


def final_metrics(history: list[dict]) -> dict:
    """Last epoch's numbers plus the epoch with the lowest validation loss."""
    last = history[-1]
    best = min(history, key=lambda h: h["val_loss"])
    return {"train_loss": last["train_loss"], "val_loss": last["val_loss"],
            "train_acc": last["train_acc"], "val_acc": last["val_acc"],
            "best_epoch": best["epoch"], "best_val_loss": best["val_loss"],
            "gap": last["val_loss"] - last["train_loss"]}


def summary_lines(results: list[dict]) -> list[str]:
    """One Korean line per result: final accuracies, losses and the training time."""
    lines = []
    for r in results:
        m = final_metrics(r["history"])
        lines.append(f"{r['label']}={_fmt(r['value'])}: 학습 정확도 {m['train_acc']:.2f}, "
                     f"검증 정확도 {m['val_acc']:.2f} | 학습 손실 {m['train_loss']:.3f}, "
                     f"검증 손실 {m['val_loss']:.3f} (가장 낮은 검증 손실 {m['best_val_loss']:.3f}, "
                     f"{m['best_epoch']} 에폭) | {r['seconds']:.1f}초")
    return lines


def inactive_units(model, xs_u8, layer: int = 0) -> tuple[int, int]:
    """``(inactive, total)``: units of ``model.layers[layer]`` (a ReLU ``full`` layer) whose
    output is 0 for every image in ``xs_u8`` (evaluation mode). Their incoming weights get no
    gradient from the data, only from the L1/L2 penalty."""
    from ..nn.model import _blas_limit

    with _blas_limit():
        x = model._to_input(np.asarray(xs_u8))
        for l in model.layers[:layer + 1]:
            x = l.forward(x, False)
    h = np.asarray(x).reshape(x.shape[0], -1)
    return int(np.count_nonzero(h.max(axis=0) <= 0)), int(h.shape[1])


def weight_share(weights: np.ndarray, threshold: float) -> float:
    """Share (0-1) of weights with ``|w| <= threshold``."""
    w = np.asarray(weights)
    return float(np.count_nonzero(np.abs(w) <= threshold)) / max(w.size, 1)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


# --------------------------------------------------------------------------------------------
# Batch-norm statistics
# --------------------------------------------------------------------------------------------
def activation_stats(model, xs_u8, modes=("eval", "train")) -> list[dict]:
    """Per-channel mean and std of the input and output of every ``batch_normal`` layer.

    The images go through the model's layers in one batch, once per mode: ``"eval"`` uses the
    running averages (what a trained model does at test time), ``"train"`` the batch's own
    statistics (what it does while learning). The model is left exactly as it was: the
    running averages and the random streams of dropout and noise are restored afterwards.

    Parameters
    ----------
    model : reglab.Model
    xs_u8 : ndarray of uint8, shape (N, H, W, 3)
        A batch of photos, e.g. ``dataset.va_xs[:100]``.
    modes : sequence of {"eval", "train"}

    Returns
    -------
    list of dict
        One per (mode, batch-norm layer): ``mode, layer (index in model.layers), bn (1-based
        count), channels, in_mean, in_std, out_mean, out_std`` (arrays per channel), and
        ``running_mean``, ``running_var``, ``scale``, ``shift`` of the layer (copies).
    """
    from ..nn.model import _blas_limit

    for mode in modes:
        if mode not in ("eval", "train"):
            raise ValueError(f"mode {mode!r} is not allowed; use 'eval' or 'train'")
    xs_u8 = np.asarray(xs_u8)
    buffers = {id(l): {k: v.copy() for k, v in l.buffers.items()} for l in model.layers}
    rngs = {id(l.rng): (l.rng, copy.deepcopy(l.rng.bit_generator.state))
            for l in model.layers if getattr(l, "rng", None) is not None}
    records = []
    try:
        with _blas_limit(), np.errstate(over="ignore", invalid="ignore"):
            for mode in modes:
                train = mode == "train"
                x = model._to_input(xs_u8)
                bn = 0
                for i, layer in enumerate(model.layers):
                    if layer.kind != "batch_normal":
                        x = layer.forward(x, train)
                        continue
                    bn += 1
                    rec = {"mode": mode, "layer": i, "bn": bn, "channels": layer.channels,
                           "running_mean": layer.buffers["mavg"].copy(),
                           "running_var": layer.buffers["mvar"].copy(),
                           "scale": (layer.params["scale"].copy() if "scale" in layer.params
                                     else np.ones(layer.channels)),
                           "shift": (layer.params["shift"].copy() if "shift" in layer.params
                                     else np.zeros(layer.channels))}
                    rows = np.asarray(layer._rows(x), dtype=np.float64)
                    rec["in_mean"], rec["in_std"] = rows.mean(axis=1), rows.std(axis=1)
                    x = layer.forward(x, train)
                    rows = np.asarray(layer._rows(x), dtype=np.float64)
                    rec["out_mean"], rec["out_std"] = rows.mean(axis=1), rows.std(axis=1)
                    records.append(rec)
                # restore the running averages after a training-mode pass
                for layer in model.layers:
                    for k, v in buffers[id(layer)].items():
                        layer.buffers[k][...] = v
    finally:
        for layer in model.layers:
            for k, v in buffers[id(layer)].items():
                layer.buffers[k][...] = v
        for rng, state in rngs.values():
            rng.bit_generator.state = state
    return records


def bn_stats_lines(records: list[dict]) -> list[str]:
    """Korean summary lines of :func:`activation_stats` records: ranges over the channels."""
    def rng(a):
        return f"{np.min(a):.2f}~{np.max(a):.2f}"

    lines = []
    by_layer: dict = {}
    for r in records:
        by_layer.setdefault(r["bn"], {})[r["mode"]] = r
    for b in sorted(by_layer):
        modes = by_layer[b]
        src = modes.get("train") or modes.get("eval")
        parts = [(f"배치 정규화 {b} (채널 {src['channels']}개): 입력 평균 {rng(src['in_mean'])}, "
                  f"표준편차 {rng(src['in_std'])}")]
        for mode, name in (("train", "학습 모드"), ("eval", "평가 모드")):
            if mode in modes:
                r = modes[mode]
                parts.append(f"{name} 출력 평균 {rng(r['out_mean'])}, 표준편차 {rng(r['out_std'])}")
        lines.append(" | ".join(parts))
    return lines


# --------------------------------------------------------------------------------------------
# Plots (Korean labels; PNG through the inline backend)
# --------------------------------------------------------------------------------------------
def _plt():
    import matplotlib.pyplot as plt

    from ..plots import setup_korean_fonts
    setup_korean_fonts()
    return plt


def _colors(n):
    plt = _plt()
    cmap = plt.get_cmap("viridis")
    return [cmap(0.85 * i / max(n - 1, 1)) for i in range(n)]


def plot_overfitting(history: list[dict], title: str | None = None, axes=None):
    """Train and validation loss/accuracy with the epoch of the lowest validation loss marked.

    The shaded region after that epoch is where more training only memorizes. Returns the Figure.
    """
    from ..plots import plot_history

    _plt()
    fig = plot_history(history, title=title, axes=axes)
    best = min(history, key=lambda h: h["val_loss"])
    last = history[-1]["epoch"]
    for ax in fig.axes[:2]:
        ax.axvline(best["epoch"], color="crimson", lw=1, ls=":")
        if best["epoch"] < last:
            ax.axvspan(best["epoch"], last, color="crimson", alpha=0.06)
    ax = fig.axes[0]
    ax.annotate(f"검증 손실 최저\n({best['epoch']} 에폭)", xy=(best["epoch"], best["val_loss"]),
                xytext=(0.35, 0.9), textcoords="axes fraction", fontsize=8, color="crimson",
                arrowprops={"arrowstyle": "->", "color": "crimson", "lw": 0.8})
    fig.tight_layout()
    return fig


def plot_curves(results: list[dict], title: str | None = None, label: str | None = None):
    """Loss and accuracy per epoch for several runs: validation solid, training dashed.

    One colour per value of the swept parameter. ``label`` overrides the parameter's name in
    the legend (``""``: the values alone). Returns the Figure.
    """
    plt = _plt()
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    colors = _colors(len(results))
    for r, c in zip(results, colors):
        ep = [h["epoch"] for h in r["history"]]
        lab = r["label"] if label is None else label
        name = f"{lab}={_fmt(r['value'])}" if lab else _fmt(r["value"])
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
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


_ROW_COLORS = {"L2": "tab:green", "L1": "tab:purple"}


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
    plt = _plt()
    names = list(rows)
    ncols = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(names), ncols, figsize=(2.8 * ncols, 2.8 * len(names)),
                             sharex=True, sharey=True, squeeze=False)
    edges = np.linspace(-xlim, xlim, bins + 1)
    for r_i, name in enumerate(names):
        color = _ROW_COLORS.get(name, ["tab:green", "tab:purple", "tab:orange"][r_i % 3])
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
            ax.set_title(f"{name}, λ={_fmt(res['value'])}\n{text}", fontsize=9)
            ax.grid(True, alpha=0.3)
            if r_i == len(names) - 1:
                ax.set_xlabel("가중치 값 w")
            if c_i == 0:
                ax.set_ylabel("개수 (로그 눈금)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_near_zero(rows: dict, thresholds=(1e-5, 1e-3), title: str | None = None, ax=None):
    """Share of weights with ``|w| <= threshold`` for each λ, one line per technique and threshold.

    The λ values are placed at equal steps (their labels on the axis), so λ = 0 fits beside
    the powers of ten. Returns the Axes.
    """
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    styles = ["-o", "--s", ":^"]
    lams = sorted({r["value"] for res in rows.values() for r in res})
    pos = {v: i for i, v in enumerate(lams)}
    for r_i, (name, res) in enumerate(rows.items()):
        color = _ROW_COLORS.get(name, ["tab:green", "tab:purple", "tab:orange"][r_i % 3])
        xs = [pos[r["value"]] for r in res]
        for t, style in zip(thresholds, styles):
            ys = [100 * weight_share(r["weights"], t) for r in res]
            ax.plot(xs, ys, style, color=color, label=f"{name}: |w| ≤ {t:g}")
    ax.set_xticks(range(len(lams)), [_fmt(float(v)) for v in lams])
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
    plt = _plt()
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
            ax.set_title(f"{name}\n배치 정규화 {b} (채널 {src['channels']}개)", fontsize=9)
            ax.grid(True, alpha=0.3)
            if r_i == len(names) - 1:
                ax.set_xlabel("채널 평균")
            if b == 1:
                ax.set_ylabel("채널 표준편차")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06 if len(names) > 1 else 0.1, 1, 1))
    return fig


def show_noisy_photos(dataset, stds, profile="exact", count: int = 4, seed: int = 0):
    """A grid of validation photos with Gaussian noise of each ``std`` added, as the noise layer
    sees them (``std`` in the model's input units: 0-1 in the exact profile, 0-255 in book).

    Returns the Figure (nothing is saved).
    """
    from ..profile import get_profile

    plt = _plt()
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
                ax.set_title(f"std={_fmt(float(std))}", fontsize=9)
            if c_i == 0:
                ax.set_ylabel(dataset.target_names[int(dataset.va_ys[r_i])], fontsize=8)
    fig.suptitle("잡음을 넣은 입력 (학습할 때만)", fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Widgets
# --------------------------------------------------------------------------------------------
def control_panel(controls: dict, run, title: str = "", button: str = "실행"):
    """Sliders (or any ipywidgets) plus a run button; the results appear inside the panel.

    Parameters
    ----------
    controls : dict name -> ipywidgets widget
        Their ``.value`` are passed to ``run`` as keyword arguments.
    run : callable(**values)
        Trains and draws (``plt.show()`` or a returned Figure); called only when the button is
        pressed, never while the notebook is executed top to bottom.
    title : str
        Korean text above the controls (HTML allowed).

    Returns
    -------
    ipywidgets.VBox
        Display it (``display(panel)``, or as the cell's last value). ``panel.output`` is the
        ipywidgets.Output that receives the runs; ``panel.press()`` runs once as if clicked.
    """
    import ipywidgets as widgets
    from IPython.display import display

    btn = widgets.Button(description=button, button_style="primary", icon="play")
    status = widgets.HTML("")
    out = widgets.Output()

    def on_click(_=None):
        plt = _plt()
        values = {k: w.value for k, w in controls.items()}
        btn.disabled = True
        status.value = "<i>학습 중…</i>"
        t0 = time.perf_counter()
        try:
            with out:
                out.clear_output(wait=True)
                fig = run(**values)
                if fig is not None and hasattr(fig, "savefig"):
                    display(fig)
                    plt.close(fig)
                else:
                    plt.show()
            status.value = f"끝 ({time.perf_counter() - t0:.1f}초)"
        except Exception as exc:                 # show it in the panel, keep the UI alive
            status.value = f"<b>오류</b>: {type(exc).__name__}: {exc}"
            raise
        finally:
            btn.disabled = False

    btn.on_click(on_click)
    children = []
    if title:
        children.append(widgets.HTML(title))
    children += list(controls.values())
    children += [widgets.HBox([btn, status]), out]
    panel = widgets.VBox(children)
    panel.output = out
    panel.press = on_click
    return panel
