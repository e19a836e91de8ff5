"""Training for the class notebooks: one model quietly, or one model per parameter value.

* :func:`train_quietly` — ``model.train(...)`` without the book's log lines.
* :func:`sweep` — one seeded model per value, as result dicts the plots take.
* :func:`final_metrics`, :func:`summary_lines` — the numbers and Korean lines of a run.
* :func:`seed_spread`, :func:`spread_lines` — the same comparison over several seeds, so that
  a difference can be set beside the seed-to-seed spread.
"""

from __future__ import annotations

import contextlib
import io
import time

import numpy as np

__all__ = ["train_quietly", "sweep", "final_metrics", "summary_lines", "format_value",
           "seed_spread", "spread_lines"]


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
        ``value, label, model, history, weights (copy), near_zero (weights with
        ``|w| <= reglab.nn.display.NEAR_ZERO``), total, seconds``.
    """
    results = []
    for value in values:
        model = make_model(value)
        t0 = time.perf_counter()
        train_quietly(model, epochs, batch_size, learning_rate)
        seconds = time.perf_counter() - t0
        w = model.weights()
        res = {"value": value, "label": label, "model": model, "history": list(model.history),
               "weights": w, "near_zero": model.near_zero_count(), "total": int(w.size),
               "seconds": seconds}
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
        lines.append(f"{r['label']}={format_value(r['value'])}: 학습 정확도 {m['train_acc']:.2f}, "
                     f"검증 정확도 {m['val_acc']:.2f} | 학습 손실 {m['train_loss']:.3f}, "
                     f"검증 손실 {m['val_loss']:.3f} (가장 낮은 검증 손실 {m['best_val_loss']:.3f}, "
                     f"{m['best_epoch']} 에폭) | {r['seconds']:.1f}초")
    return lines


def format_value(v) -> str:
    """A swept value as the printed lines and the legends show it (floats with ``:g``)."""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def seed_spread(values, make_model, seeds, epochs: int = 10, *, batch_size: int = 10,
                learning_rate: float = 0.001, label: str = "값", trained=None,
                trained_seed: int | None = None) -> list[dict]:
    """Train ``make_model(value, seed)`` for every value and every seed.

    Parameters
    ----------
    values : iterable
        Parameter values to compare (e.g. keep_prob 1.0 and 0.5).
    make_model : callable (value, seed) -> reglab.Model
    seeds : sequence of int
        One model per seed: the seed sets the initial weights, the minibatch order and the
        dropout masks; the photos and their split stay the same.
    epochs, batch_size, learning_rate :
        Passed to :meth:`reglab.Model.train`.
    trained : list of dict, optional
        Results of :func:`sweep` already trained with the same settings and the seed
        ``trained_seed``: the ones whose value is among ``values`` count as that seed's runs
        and are not trained again.

    Returns
    -------
    list of dict
        One per value: ``value, label, seeds, val_acc, val_loss, train_acc`` (arrays of the
        last epoch's numbers, one entry per seed) and ``seconds`` (all seeds).
    """
    done = {r["value"]: r["history"][-1] for r in (trained or [])}
    if done and trained_seed is None:
        raise ValueError("trained_seed is missing: give the seed the trained results were made with")
    rows = []
    for value in values:
        t0 = time.perf_counter()
        last, used = [], []
        if value in done:
            last.append(done[value])
            used.append(int(trained_seed))
        for seed in seeds:
            if value in done and int(seed) == int(trained_seed):
                continue
            used.append(int(seed))
            model = train_quietly(make_model(value, int(seed)), epochs, batch_size, learning_rate)
            last.append(model.history[-1])
        rows.append({"value": value, "label": label, "seeds": used,
                     **{k: np.array([h[k] for h in last], dtype=np.float64)
                        for k in ("val_acc", "val_loss", "train_acc")},
                     "seconds": time.perf_counter() - t0})
    return rows


def _sigma(a: np.ndarray) -> float:
    return float(np.std(a, ddof=1)) if a.size > 1 else 0.0


def spread_lines(rows: list[dict], key: str = "val_acc", name: str = "검증 정확도") -> list[str]:
    """Korean lines for :func:`seed_spread`: mean ± σ over the seeds for each value, then each
    value against the first one, with the difference set beside twice its standard error.

    The standard error of a difference of two means is ``sqrt(σ_a²/n_a + σ_b²/n_b)``; a
    difference within twice that is called within the seed-to-seed spread.
    """
    lines = []
    for r in rows:
        a = r[key]
        lines.append(f"{r['label']}={format_value(r['value'])}: {name} {a.mean():.3f} ± σ "
                     f"{_sigma(a):.3f} (시드 {a.size}개: {', '.join(f'{v:.3f}' for v in a)})")
    base = rows[0]
    for r in rows[1:]:
        a, b = r[key], base[key]
        diff = a.mean() - b.mean()
        se = float(np.sqrt(_sigma(a) ** 2 / a.size + _sigma(b) ** 2 / b.size))
        verdict = ("시드 사이의 흩어짐보다 큽니다" if abs(diff) > 2 * se
                   else "시드 사이의 흩어짐 안에 있습니다(차이라고 말할 수 없음)")
        lines.append(f"{r['label']}={format_value(r['value'])} − {format_value(base['value'])}: "
                     f"{name} 차이 {diff:+.3f}, 표준오차의 2배 {2 * se:.3f} → {verdict}")
    return lines
