"""Training for the class notebooks: one model quietly, or one model per parameter value.

* :func:`train_quietly` — ``model.train(...)`` without the book's log lines.
* :func:`sweep` — one seeded model per value, as result dicts the plots take.
* :func:`final_metrics`, :func:`summary_lines` — the numbers and Korean lines of a run.
"""

from __future__ import annotations

import contextlib
import io
import time

__all__ = ["train_quietly", "sweep", "final_metrics", "summary_lines", "format_value"]


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
