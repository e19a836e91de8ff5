"""The numbers the study report compares, computed from the study records.

Gap
    :func:`final_gap` — a run's last-epoch ``acc_gap = train_acc − val_acc`` and
    ``loss_gap = val_loss − train_loss``. The loss gap is not used for runs with L2/L1 decay,
    whose train loss includes the penalty term; the accuracy gap is used for every model. (The
    train values are the book's minibatch averages with dropout/noise active; the book profile
    validates on 100 fresh images each time.)

Turn-up
    :func:`turn_up` — the epoch where validation loss turns up: the argmin of the seed-mean
    validation-loss curve; if the minimum is the last epoch, it does not turn up.

One class
    :func:`one_class` (from :mod:`reglab.report.collapse`) tells whether a run predicts a single
    class: its test accuracy is exactly the test-split share of one class and its last train
    accuracy close to the train-split share of the same class.

Per model
    :func:`seed_summary` (the seeds study), :func:`long_rows` (the long study beside the 10-epoch
    seeds) and :func:`ablation_rows`: each flipped run (seed 1234) against the book profile's
    seed-1234 run of the seeds study, judged by that model's book seed spread
    (:func:`reglab.report.stats.single_run_difference`).
"""

from __future__ import annotations

import numpy as np

from ..pipeline.experiments import CHAPTER8_RUNS, get_run
from ..pipeline.study import ABLATIONS, LONG_EPOCHS
from .collapse import TRAIN_SHARE_TOL, one_class, split_class_counts
from .records import StudyData, StudyRun
from .stats import combine, single_run_difference, summarize

__all__ = ["has_decay", "final_gap", "acc_gap", "loss_gap", "turn_up", "TRAIN_SHARE_TOL",
           "split_class_counts", "one_class", "seed_summary", "seed1234_diff", "long_rows",
           "long_epochs", "ablation_rows"]


def has_decay(run: StudyRun) -> bool:
    """True if the run has L2 or L1 decay (its train loss includes the penalty term)."""
    cfg = run.entry.config
    return bool(cfg.get("l2_decay", run.spec.l2_decay) or cfg.get("l1_decay", run.spec.l1_decay))


def final_gap(run: StudyRun) -> dict | None:
    """The last epoch's ``acc_gap`` (train_acc − val_acc) and ``loss_gap`` (val_loss −
    train_loss; None for L2/L1 runs, whose train loss includes the penalty)."""
    hist = run.history
    if not hist:
        return None
    last = hist[-1]
    lgap = None if has_decay(run) else float(last["val_loss"]) - float(last["train_loss"])
    return {"epoch": last["epoch"], "acc_gap": float(last["train_acc"]) - float(last["val_acc"]),
            "loss_gap": lgap}


def acc_gap(r: StudyRun):
    """The run's final ``train_acc − val_acc`` (None without a history)."""
    g = final_gap(r)
    return None if g is None else g["acc_gap"]


def loss_gap(r: StudyRun):
    """The run's final ``val_loss − train_loss`` (None without a history or with decay)."""
    g = final_gap(r)
    return None if g is None else g["loss_gap"]


def turn_up(runs) -> dict | None:
    """Where the seed-mean validation loss is lowest.

    Returns ``{"epoch", "min", "last", "last_epoch", "turned", "rise", "rise_diff", "epochs",
    "val_mean", "val_std", "train_mean", "train_std", "n"}``; ``turned`` is False if the minimum
    is at the last epoch; ``rise_diff`` is the per-seed rise (last − value at that epoch) as a
    :class:`~reglab.report.stats.Difference` (one-sample t-interval). Histories are cut to the
    shortest one.
    """
    hists = [r.history for r in runs if r.history]
    if not hists:
        return None
    k = min(len(h) for h in hists)
    epochs = [int(h["epoch"]) for h in hists[0][:k]]
    val = np.array([[float(e["val_loss"]) for e in h[:k]] for h in hists])
    train = np.array([[float(e["train_loss"]) for e in h[:k]] for h in hists])
    vm, tm = val.mean(axis=0), train.mean(axis=0)
    sd = (lambda a: a.std(axis=0, ddof=1)) if len(hists) > 1 else (lambda a: np.zeros(k))
    i = int(np.argmin(vm))
    rise = summarize(val[:, -1] - val[:, i])
    return {"epoch": epochs[i], "min": float(vm[i]), "last": float(vm[-1]),
            "last_epoch": epochs[-1], "turned": i < k - 1, "rise": float(vm[-1] - vm[i]),
            "rise_diff": combine([(1.0, rise)]),
            "epochs": epochs, "val_mean": vm, "val_std": sd(val), "train_mean": tm,
            "train_std": sd(train), "n": len(hists)}


def seed_summary(data: StudyData, profile: str, name: str, study: str = "seeds") -> dict:
    """Summaries of one model in one profile: test accuracy, gaps, one-class seeds."""
    runs = data.select(study, profile, name, ok=True)
    return {"runs": runs, "acc": summarize(r.test_acc for r in runs),
            "acc_gap": summarize(acc_gap(r) for r in runs),
            "loss_gap": summarize(loss_gap(r) for r in runs),
            "one_class": [oc for r in runs if (oc := one_class(r)) is not None],
            "all": data.select(study, profile, name)}


def seed1234_diff(data: StudyData, profile: str, name: str, base: str) -> float | None:
    """Test accuracy of ``name`` minus ``base`` in the seed-1234 runs (the chapter's runs)."""
    a = data.select("seeds", profile, name, ok=True, variant="seed1234")
    b = data.select("seeds", profile, base, ok=True, variant="seed1234")
    return a[0].test_acc - b[0].test_acc if a and b else None


def long_rows(data: StudyData) -> list[dict]:
    """Per model: the long study's turn-up and test accuracy, and the 10-epoch exact seeds."""
    rows = []
    for spec in CHAPTER8_RUNS:
        runs = data.select("long", "exact", spec.name, ok=True)
        ten = seed_summary(data, "exact", spec.name)
        rows.append({"spec": spec, "runs": runs, "all": data.select("long", "exact", spec.name),
                     "turn": turn_up(runs), "acc": summarize(r.test_acc for r in runs),
                     "acc_gap": summarize(acc_gap(r) for r in runs),
                     "one_class": [oc for r in runs if (oc := one_class(r)) is not None],
                     "acc10": ten["acc"], "acc_gap10": ten["acc_gap"]})
    return rows


def long_epochs(data: StudyData) -> int:
    """The epochs of the long study's finished runs (:data:`LONG_EPOCHS` if there are none)."""
    eps = [int(r.entry.config.get("epochs", 0)) for r in data.select("long", ok=True)]
    return max(eps) if eps else LONG_EPOCHS


def ablation_rows(data: StudyData) -> list[dict]:
    """One row per (switch, model): book seed-1234 run, flipped run, difference, verdict."""
    rows = []
    for ab in ABLATIONS:
        for name in ab.runs:
            flip = data.select("ablation", "book", name, variant=ab.key)[0]
            ref = data.select("seeds", "book", name, variant="seed1234")
            ref = ref[0] if ref else None
            spread = data.values("seeds", "book", name)
            row = {"ablation": ab, "name": name, "spec": get_run(name), "flip": flip,
                   "ref": ref, "spread": spread, "diff": None,
                   "one_class_ref": one_class(ref) if ref is not None and ref.ok else None,
                   "one_class_flip": one_class(flip) if flip.ok else None}
            if flip.ok and ref is not None and ref.ok:
                row["diff"] = single_run_difference(flip.test_acc, ref.test_acc, spread)
            rows.append(row)
    return rows
