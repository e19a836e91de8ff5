"""The numbers behind the chapter report's comparisons: collapse, its cause, and seed noise.

A chapter comparison is one run against one run (seed 1234). Two things decide what it can say:

* **collapse** — :func:`collapsed` is :func:`reglab.report.collapse.one_class` for a chapter
  run; :func:`collapse_cause` names what the records point to: raw 0–255 inputs (the profile's
  ``input_scale`` is 1, erratum E8) when the same profile's baseline without regularization
  collapses too, or a λ too large for this network when the baseline learns and the run with
  L2/L1 decay does not;
* **seed noise** — where the study folder (``python -m reglab study``) holds seeds of the same run
  (same profile, model name and settings except the seed), :func:`seed_runs` and
  :func:`compare` put the seeds' means and Welch's 95 % interval of their difference beside the
  single runs (:mod:`reglab.report.stats`). Without the study, :attr:`Comparison.seeds` is None
  and the sentences say that the comparison is one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..profile import PROFILES
from .chapter_analysis import BASELINES, near_zero
from .collapse import one_class
from .fmt import r3
from .records import MISSING, ReportData, RunEntry, StudyData, load_study_data
from .stats import Difference, Summary, summarize, welch

__all__ = ["SAME_SETTINGS", "load_seed_study", "collapsed", "collapse_cause", "seed_runs",
           "seed_acc", "SeedSide", "Comparison", "compare", "missing_seeds"]

#: Config keys a study seed must share with a chapter run to count as a seed of the same run.
SAME_SETTINGS = ("epochs", "batch_size", "learning_rate", "resolution", "max_samples",
                 "hconfigs", "l2_decay", "l1_decay")


def load_seed_study(study_dir) -> StudyData | None:
    """The study records under ``study_dir``, or None if there is no folder or no seeds record."""
    if not study_dir or not Path(study_dir).is_dir():
        return None
    study = load_study_data(study_dir)
    return study if study.has("seeds") else None


def collapsed(entry: RunEntry) -> dict | None:
    """:func:`reglab.report.collapse.one_class` of a finished chapter run (None otherwise)."""
    return one_class(entry) if entry.ok else None


def _decay(entry: RunEntry) -> tuple[float, float]:
    cfg = entry.config
    return (float(cfg.get("l2_decay", entry.spec.l2_decay) or 0.0),
            float(cfg.get("l1_decay", entry.spec.l1_decay) or 0.0))


def collapse_cause(data: ReportData, entry: RunEntry) -> dict | None:
    """What the records point to as the cause of a collapsed run, or None if it did not collapse.

    Returns ``{"kind": "input_scale" | "decay" | "unknown", ...}``: ``input_scale`` with the
    profile's scale and, if the other profile's run of the same model learns, that ``other``
    entry; ``decay`` with the baseline entry, the decay values and the near-zero share of the
    run's weights.
    """
    if collapsed(entry) is None:
        return None
    base = data.entries.get((entry.profile, BASELINES[entry.spec.family]))
    base_collapsed = base is not None and base.ok and collapsed(base) is not None
    profile = PROFILES.get(entry.profile)
    scale = getattr(profile, "input_scale", None)
    if scale == 1.0 and (entry.name == getattr(base, "name", None) or base_collapsed):
        others = [data.entries[(p, entry.name)] for p in data.profiles if p != entry.profile
                  and PROFILES.get(p) is not None and PROFILES[p].input_scale != 1.0]
        other = next((o for o in others if o.ok and collapsed(o) is None), None)
        return {"kind": "input_scale", "scale": scale, "other": other}
    l2, l1 = _decay(entry)
    if (l2 or l1) and base is not None and base.ok and not base_collapsed:
        c, t, thr = near_zero(entry)
        return {"kind": "decay", "base": base, "l2": l2, "l1": l1,
                "near_share": c / t if t else None, "threshold": thr}
    return {"kind": "unknown"}


# ----------------------------------------------------------------------------- seeds
def seed_runs(study: StudyData | None, entry: RunEntry) -> list:
    """The study's finished seeds of the same run as ``entry`` (profile, name, settings)."""
    if study is None or not entry.ok:
        return []
    mine = entry.config
    return [r for r in study.select("seeds", entry.profile, entry.name, ok=True)
            if all(r.entry.config.get(k) == mine.get(k) for k in SAME_SETTINGS)]


def seed_acc(study: StudyData | None, entry: RunEntry) -> Summary:
    """Test accuracy over :func:`seed_runs` (an empty Summary without seeds)."""
    return summarize(r.test_acc for r in seed_runs(study, entry))


@dataclass(frozen=True)
class SeedSide:
    """One side of a comparison over seeds: the accuracies and how many seeds collapsed."""

    acc: Summary
    collapsed: int
    classes: tuple

    @property
    def all_collapsed(self) -> bool:
        return self.acc.n > 0 and self.collapsed == self.acc.n


def _side(study: StudyData | None, entry: RunEntry) -> SeedSide:
    runs = seed_runs(study, entry)
    ocs = [oc for r in runs if (oc := one_class(r)) is not None]
    classes = tuple(sorted({str(oc["class"]) for oc in ocs if oc["class"]}))
    return SeedSide(summarize(r.test_acc for r in runs), len(ocs), classes)


@dataclass(frozen=True)
class Comparison:
    """Run ``a`` against run ``b``: the single runs, their collapse, and (with a study) seeds.

    ``diff`` is a − b at the shown precision; ``seeds`` is ``(side a, side b, Welch difference)``
    when the study holds seeds of both runs, else None (``study`` tells whether there was one).
    """

    a: RunEntry
    b: RunEntry
    diff: float
    oc_a: dict | None
    oc_b: dict | None
    study: bool
    seeds: tuple | None

    @property
    def both_collapsed(self) -> bool:
        return self.oc_a is not None and self.oc_b is not None

    @property
    def seed_diff(self) -> Difference | None:
        return None if self.seeds is None else self.seeds[2]


def compare(study: StudyData | None, a: RunEntry, b: RunEntry) -> Comparison | None:
    """The :class:`Comparison` of two finished runs (None if either is not finished)."""
    if not (a.ok and b.ok):
        return None
    seeds = None
    if study is not None:
        sa, sb = _side(study, a), _side(study, b)
        if sa.acc.n and sb.acc.n:
            seeds = (sa, sb, welch(sa.acc, sb.acc))
    return Comparison(a, b, r3(a.test_acc) - r3(b.test_acc), collapsed(a), collapsed(b),
                      study is not None, seeds)


def missing_seeds(study: StudyData | None, data: ReportData) -> list[RunEntry]:
    """Finished chapter runs without any matching seed in ``study`` (empty without a study)."""
    if study is None:
        return []
    return [e for e in data.ok_entries() if e.status != MISSING and not seed_runs(study, e)]
