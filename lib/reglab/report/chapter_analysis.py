"""The numbers the chapter report compares, computed from its run records.

* :data:`BASELINES` and :func:`technique_pairs` — each technique run with the run it is compared
  with; :func:`overhead_rows` — the train time a technique adds to its baseline;
* :func:`overfitting_pick` — the finished run with the largest final ``val_loss − train_loss``
  (runs with L2/L1 decay left out: their train loss includes the penalty term);
* :func:`near_zero` — a run's near-zero weight count; :func:`weight_values` — its weights and
  kernels from the run's ``.npz`` (for the near-zero histograms); :func:`n_test` — the test
  split size;
* :func:`affected_runs` — the runs whose numbers a profile field can change.
"""

from __future__ import annotations

import numpy as np

from ..nn.display import NEAR_ZERO
from ..pipeline.experiments import CHAPTER8_RUNS, RunSpec
from .records import ReportData, RunEntry

__all__ = ["BASELINES", "unique", "technique_pairs", "overhead_rows", "comparable_losses",
           "overfitting_pick", "near_zero", "weight_values", "n_test", "affected_runs"]

#: The baseline each technique is compared with.
BASELINES = {"mlp": "flowers_model_1", "cnn": "flowers_cnn_1"}


def unique(values) -> list:
    """The values in their first order, each once."""
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def technique_pairs(data: ReportData, profile: str):
    """``(spec, baseline name, entry, baseline entry)`` for every technique run in ``profile``."""
    for spec in data.runs():
        base_name = BASELINES[spec.family]
        if spec.name != base_name:
            yield (spec, base_name, data.entry(profile, spec.name),
                   data.entry(profile, base_name))


def overhead_rows(data: ReportData, profile: str) -> list[dict]:
    """Train time of each technique against its baseline in ``profile`` (finished pairs only)."""
    out = []
    for spec, base_name, e, b in technique_pairs(data, profile):
        if e.ok and b.ok:
            d = e.train_seconds - b.train_seconds
            out.append({"name": spec.name, "technique": spec.technique, "baseline": base_name,
                        "seconds": e.train_seconds, "base_seconds": b.train_seconds,
                        "overhead": d,
                        "percent": 100 * d / b.train_seconds if b.train_seconds else None})
    return out


def comparable_losses(e: RunEntry) -> bool:
    """True if the run's train loss is plain cross entropy like its validation loss (no L2/L1
    term added: the printed cost of a decay run includes the penalty)."""
    cfg = e.config
    return not (cfg.get("l2_decay", e.spec.l2_decay) or cfg.get("l1_decay", e.spec.l1_decay))


def overfitting_pick(data: ReportData):
    """The finished run with the largest final ``val_loss − train_loss``: (entry, gap) or None.

    Runs with L2/L1 decay are left out: their train loss includes the penalty term.
    """
    best = None
    for e in data.ok_entries():
        last = e.last
        if not last or not comparable_losses(e):
            continue
        gap = float(last["val_loss"]) - float(last["train_loss"])
        if best is None or gap > best[1]:
            best = (e, gap)
    return best


def near_zero(e: RunEntry) -> tuple[int, int, float]:
    """``(count, total, threshold)`` of a finished run's weights with ``|w| ≤ threshold``."""
    nz = e.record["near_zero"]
    return int(nz["count"]), int(nz["total"]), float(nz.get("threshold", NEAR_ZERO))


def weight_values(e: RunEntry) -> np.ndarray | None:
    """The weights and kernels of a finished run (the values the near-zero count is taken
    over), read from its ``.npz`` (``L<i>.<kind>.w`` / ``.k``), or None if the file is not there,
    cannot be read or does not hold as many weights as the record counted."""
    if not e.ok or e.folder is None or not e.record.get("params_file"):
        return None
    path = e.folder / str(e.record["params_file"])
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = [k for k in f.files if k != "__meta__" and k.split(".")[-1] in ("w", "k")
                    and ".buf." not in k]
            keys.sort(key=lambda k: (int(k.split(".")[0][1:]), k))
            w = np.concatenate([np.asarray(f[k], dtype=np.float64).ravel() for k in keys]) \
                if keys else np.zeros(0)
    except (OSError, ValueError, KeyError):
        return None
    return w if w.size == near_zero(e)[1] else None


def n_test(data: ReportData, profile: str) -> int | None:
    """The test split size of the finished runs in ``profile`` (None if they differ)."""
    counts = unique((e.record.get("dataset") or {}).get("test") for e in data.ok_entries(profile))
    counts = [c for c in counts if c]
    return counts[0] if len(counts) == 1 else None


def _ops(spec: RunSpec) -> set[str]:
    return {h[0] for h in spec.hconfigs if isinstance(h, (list, tuple)) and h}


def affected_runs(field_name: str) -> list[RunSpec]:
    """The chapter-8 runs whose numbers a profile field can change."""
    if field_name in ("reg_cost_scaled", "decay_placement"):
        return [s for s in CHAPTER8_RUNS if s.l2_decay or s.l1_decay]
    if field_name.startswith("bn_"):
        return [s for s in CHAPTER8_RUNS if "batch_normal" in _ops(s)]
    if field_name == "noise_decision":
        return [s for s in CHAPTER8_RUNS if "noise" in _ops(s)]
    return list(CHAPTER8_RUNS)
