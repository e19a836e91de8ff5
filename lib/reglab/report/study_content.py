"""The study report's content: repeated runs turned into tables, figures and Korean sentences.

``python -m reglab study`` (:mod:`reglab.study`) writes one result record per run into
``<study_dir>/{seeds,long,ablation}/<profile>/<run_id>.json`` (the schema of
:mod:`reglab.runs`). ``notebooks/study_report.ipynb`` calls the functions here and displays what
they return, so every number and every sentence that depends on a number is computed from those
records.

Loading
    :func:`load_study_data` looks for every run the studies plan (:data:`reglab.study.SEEDS`,
    :data:`~reglab.study.LONG_SEEDS`, :data:`~reglab.study.ABLATIONS`); a run is ``ok``,
    ``failed`` (failed record or unreadable file) or ``missing``. Only ``ok`` runs enter the
    statistics; the others are listed.

Statistics (no scipy)
    :class:`Summary` — n, mean, standard deviation (ddof=1) and the 95 % t-interval of the mean
    ``mean ± t(0.975, n−1)·s/√n`` over the finished seeds. :func:`welch` — the difference of two
    means with Welch's standard error and Satterthwaite's degrees of freedom; :func:`combine`
    does the same for any linear combination of means (e.g. how a difference changed from 10 to
    40 epochs). A difference **exceeds the spread** iff its 95 % interval excludes 0.
    :func:`t_quantile` inverts Student's t CDF (regularized incomplete beta function);
    :data:`T975` holds the textbook table for df 1..10, used by the tests.

Gap
    The final train/validation gap of a run (:func:`final_gap`), at the last epoch:
    ``acc_gap = train_acc − val_acc`` and ``loss_gap = val_loss − train_loss``. The loss gap is
    not used for runs with L2/L1 decay, whose train loss includes the penalty term; the accuracy
    gap is used for every model. (The train values are the book's minibatch averages with
    dropout/noise active; the book profile validates on 100 fresh images each time.)

Turn-up
    :func:`turn_up` — the epoch where validation loss turns up: the argmin of the seed-mean
    validation-loss curve; if the minimum is the last epoch, it does not turn up.

Ablation
    Each flipped run (seed 1234) is compared with the book profile's seed-1234 run of the seeds
    study (``seeds/book/<name>__seed1234.json``). One run against one run: the spread of the
    difference is taken as ``s·√2`` with ``s`` the book profile's seed standard deviation of that
    model (seeds study), so the interval is ``d ± t(0.975, n−1)·s·√2``.

One class
    :func:`one_class` tells whether a run predicts a single class: its test accuracy is exactly
    the test-split share of one class and its last train accuracy close to the train-split share
    of the same class (split counts from the photo folder, :func:`split_class_counts`; without
    the photos: a train accuracy that no longer changes).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..pipeline.experiments import CHAPTER8_RUNS, RunSpec, get_run
from ..pipeline.study import ABLATIONS, LONG_EPOCHS, LONG_SEEDS, SEEDS, STUDIES
from .content import (BASELINES, FAILED, MISSING, OK, PROFILE_LABELS, RunEntry,
                      _entry_from_record, _fig_to_image, _short_error, _table, esc, fmt_acc,
                      fmt_int, fmt_secs)

__all__ = [
    "T975", "t_quantile", "t_cdf", "Summary", "Difference", "summarize", "combine", "welch",
    "single_run_difference", "verdict", "StudyRun", "StudyData", "load_study_data",
    "build_study_data", "expected_runs", "final_gap", "turn_up", "split_class_counts",
    "one_class", "missing_note", "overview_markdown", "status_markdown", "seed_summary",
    "seeds_table_html", "seeds_sentences", "seeds_figure", "seeds_blocks", "long_rows",
    "long_table_html", "long_figure", "long_val_acc_figure", "turn_up_sentences",
    "hypothesis_sentences", "long_blocks", "ablation_rows", "ablation_table_html",
    "ablation_sentences", "ablation_blocks", "STUDY_NOTEBOOK", "STUDY_REPORT_NAME",
    "STUDY_REPORT_TITLE", "build_study_report", "SEED_HYPOTHESIS",
]

STUDY_NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "study_report.ipynb"
STUDY_REPORT_NAME = "study_report"
STUDY_REPORT_TITLE = "8장 정규화 반복 실험 보고서"
SEED_HYPOTHESIS = "Epoch가 늘어나면 늘어날 수록 정규화한 모델의 정확도가 높아질 것으로 예상된다."

STUDY_LABELS = {"seeds": "시드 반복", "long": "긴 학습", "ablation": "절제 실험"}
SHORT = {s.name: s.name.replace("flowers_", "") for s in CHAPTER8_RUNS}

#: t(0.975, df) for df = 1..10 (textbook table, three decimals).
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228}


# ----------------------------------------------------------------------------- t distribution
def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        de = d * c
        h *= de
        if abs(de - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
           + b * math.log1p(-x))
    bt = math.exp(lbt)
    if x < (a + 1.0) / (a + b + 2.0):
        return bt * _betacf(a, b, x) / a
    return 1.0 - bt * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student's t cumulative distribution function (df > 0; df = inf is the normal)."""
    if math.isinf(df):
        return 0.5 * (1.0 + math.erf(t / math.sqrt(2.0)))
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (bisection on
    :func:`t_cdf`; ``df`` may be fractional, as Welch's is)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if not df > 0:
        raise ValueError(f"df must be > 0, got {df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    lo, hi = 0.0, 2.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


# ----------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class Summary:
    """Values of one quantity over the finished seeds: n, mean, std (ddof=1), 95 % interval."""

    values: tuple

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.values)) if self.values else None

    @property
    def std(self) -> float | None:
        return float(np.std(self.values, ddof=1)) if self.n >= 2 else None

    @property
    def half(self) -> float | None:
        """Half width of the 95 % t-interval of the mean."""
        if self.n < 2:
            return None
        return t_quantile(0.975, self.n - 1) * self.std / math.sqrt(self.n)

    @property
    def lo(self) -> float | None:
        return None if self.half is None else self.mean - self.half

    @property
    def hi(self) -> float | None:
        return None if self.half is None else self.mean + self.half

    def mean_std(self, digits: int = 3) -> str:
        if not self.n:
            return "—"
        if self.std is None:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"

    def interval(self, digits: int = 3) -> str:
        if self.half is None:
            return "—"
        return f"[{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


def summarize(values) -> Summary:
    return Summary(tuple(float(v) for v in values if v is not None))


@dataclass(frozen=True)
class Difference:
    """A difference (or any linear combination) of means with its 95 % interval.

    ``se`` is None when a group has fewer than two values (no spread to compare with).
    """

    diff: float
    se: float | None = None
    df: float | None = None
    lo: float | None = None
    hi: float | None = None

    @property
    def known(self) -> bool:
        return self.se is not None

    @property
    def exceeds(self) -> bool:
        """True iff the 95 % interval excludes 0 (the difference exceeds the spread)."""
        return self.known and (self.lo > 0 or self.hi < 0)


def combine(terms) -> Difference:
    """Σ cᵢ·meanᵢ for ``terms = [(cᵢ, Summary)]`` with the Welch–Satterthwaite interval:
    var = Σ cᵢ² sᵢ²/nᵢ, df = var² / Σ (cᵢ² sᵢ²/nᵢ)² / (nᵢ − 1), half width t(0.975, df)·√var."""
    terms = list(terms)
    d = float(sum(c * s.mean for c, s in terms))
    if any(s.n < 2 for _, s in terms):
        return Difference(d)
    comps = [(c * c * s.std ** 2 / s.n, s.n) for c, s in terms]
    var = sum(v for v, _ in comps)
    if var == 0.0:
        return Difference(d, 0.0, math.inf, d, d)
    df = var ** 2 / sum(v ** 2 / (n - 1) for v, n in comps if v > 0)
    half = t_quantile(0.975, df) * math.sqrt(var)
    return Difference(d, math.sqrt(var), df, d - half, d + half)


def welch(a: Summary, b: Summary) -> Difference:
    """mean(a) − mean(b) with Welch's 95 % interval."""
    return combine([(1.0, a), (-1.0, b)])


def single_run_difference(x: float, y: float, spread: Summary) -> Difference:
    """One run minus one run, judged by the seed spread ``s`` of one run: the difference's
    standard deviation is taken as s·√2 (df = n − 1 of the spread's seeds)."""
    d = float(x) - float(y)
    if spread.n < 2:
        return Difference(d)
    se = spread.std * math.sqrt(2.0)
    if se == 0.0:
        return Difference(d, 0.0, math.inf, d, d)
    half = t_quantile(0.975, spread.n - 1) * se
    return Difference(d, se, spread.n - 1, d - half, d + half)


def verdict(diff: Difference, what: str = "시드에 따른 흩어짐") -> str:
    """The Korean clause saying whether ``diff`` exceeds the spread (with its interval)."""
    if not diff.known:
        return "완료된 시드가 2개보다 적어 흩어짐과 비교할 수 없습니다"
    if diff.se == 0.0:
        if diff.diff == 0.0:
            return "시드를 바꾸어도 값이 변하지 않고(표준편차 0) 차이도 0입니다"
        return (f"시드를 바꾸어도 값이 변하지 않으므로(표준편차 0) 이 차이는 {what}보다 "
                "큽니다")
    rng = f"95 % 구간 [{_bound(diff.lo)}, {_bound(diff.hi)}]"
    if diff.exceeds:
        return f"{rng}이 0을 포함하지 않아 {what}보다 큰 차이입니다"
    return f"{rng}이 0을 포함해 {what}을 넘지 않습니다 (구별할 수 없습니다)"


def _sg(d: float) -> str:
    """A signed difference with three decimals (never "-0.000")."""
    out = f"{float(d):+.3f}"
    return "+0.000" if out == "-0.000" else out


def _bound(x: float) -> str:
    """An interval bound: three decimals, or four when three would read ±0.000."""
    return f"{x:+.4f}" if x != 0 and abs(x) < 0.0005 else _sg(x)


def _topic(number: str) -> str:
    """The number with the Korean topic particle read after its last digit (은/는)."""
    return number + ("는" if number[-1:] in "2459" else "은")


def _dir(d: float, up: str = "높습니다", down: str = "낮습니다", same: str = "같습니다") -> str:
    if round(d, 3) == 0:
        return same if d == 0 else f"거의 {same}"
    return up if d > 0 else down


# ----------------------------------------------------------------------------- loading
@dataclass
class StudyRun:
    """One planned run of a study: where its record is, its status and record."""

    study: str
    variant: str                      # "seed<k>" or the ablation switch key
    seed: int
    switch: str | None
    path: Path | None
    entry: RunEntry

    @property
    def profile(self) -> str:
        return self.entry.profile

    @property
    def spec(self) -> RunSpec:
        return self.entry.spec

    @property
    def name(self) -> str:
        return self.entry.spec.name

    @property
    def status(self) -> str:
        return self.entry.status

    @property
    def ok(self) -> bool:
        return self.entry.ok

    @property
    def record(self) -> dict | None:
        return self.entry.record

    @property
    def error(self) -> str | None:
        return self.entry.error

    @property
    def test_acc(self) -> float | None:
        return self.entry.test_acc

    @property
    def history(self) -> list:
        return ((self.record or {}).get("history") or []) if self.ok else []

    @property
    def label(self) -> str:
        return f"{self.study}/{self.profile}/{self.name}__{self.variant}"


def expected_runs() -> list[tuple]:
    """(study, profile, model name, variant, seed, switch) of every planned study run."""
    out = []
    for ab in ABLATIONS:
        for name in ab.runs:
            out.append(("ablation", "book", name, ab.key, 1234, ab.key))
    for profile in ("book", "exact"):
        for spec in CHAPTER8_RUNS:
            for seed in SEEDS:
                out.append(("seeds", profile, spec.name, f"seed{seed}", seed, None))
    for spec in CHAPTER8_RUNS:
        for seed in LONG_SEEDS:
            out.append(("long", "exact", spec.name, f"seed{seed}", seed, None))
    return out


@dataclass
class StudyData:
    """Every planned study run with its status; the finished ones carry their record."""

    study_dir: Path | None
    runs: list

    def select(self, study: str, profile: str | None = None, name: str | None = None,
               ok: bool | None = None, variant: str | None = None) -> list[StudyRun]:
        return [r for r in self.runs if r.study == study
                and (profile is None or r.profile == profile)
                and (name is None or r.name == name)
                and (variant is None or r.variant == variant)
                and (ok is None or r.ok == ok)]

    def has(self, study: str) -> bool:
        """True if the study has at least one result file (finished or failed)."""
        return any(r.status != MISSING for r in self.select(study))

    def counts(self, study: str) -> dict:
        out = {OK: 0, FAILED: 0, MISSING: 0}
        for r in self.select(study):
            out[r.status] += 1
        return out

    def values(self, study: str, profile: str, name: str, fn=lambda r: r.test_acc) -> Summary:
        """A :class:`Summary` of ``fn(run)`` over the finished runs (seeds) of one model."""
        return summarize(fn(r) for r in self.select(study, profile, name, ok=True))

    def profiles(self, study: str) -> list[str]:
        return [p for p in ("book", "exact")
                if any(r.status != MISSING for r in self.select(study, p))]


def build_study_data(records: dict, study_dir=None) -> StudyData:
    """A :class:`StudyData` from ``{(study, profile, run_id): record}`` (missing = no result;
    a value may be an Exception: the file could not be read)."""
    runs = []
    base = None if study_dir is None else Path(study_dir)
    for study, profile, name, variant, seed, switch in expected_runs():
        stem = f"{name}__{variant}"
        rec = records.get((study, profile, stem))
        entry = _entry_from_record(get_run(name), profile, rec)
        path = None if base is None else base / study / profile / f"{stem}.json"
        runs.append(StudyRun(study, variant, seed, switch, path, entry))
    return StudyData(base, runs)


def load_study_data(study_dir) -> StudyData:
    """Read ``<study_dir>/<study>/<profile>/<run_id>.json`` for every planned study run."""
    study_dir = Path(study_dir)
    records = {}
    for study, profile, name, variant, _, _ in expected_runs():
        stem = f"{name}__{variant}"
        path = study_dir / study / profile / f"{stem}.json"
        if not path.exists():
            continue
        try:
            with open(path, encoding="utf-8") as f:
                records[(study, profile, stem)] = json.load(f)
        except (OSError, ValueError) as exc:
            records[(study, profile, stem)] = exc
    return build_study_data(records, study_dir)


# ----------------------------------------------------------------------------- per-run numbers
def _has_decay(run: StudyRun) -> bool:
    cfg = run.entry.config
    return bool(cfg.get("l2_decay", run.spec.l2_decay) or cfg.get("l1_decay", run.spec.l1_decay))


def final_gap(run: StudyRun) -> dict | None:
    """The last epoch's ``acc_gap`` (train_acc − val_acc) and ``loss_gap`` (val_loss −
    train_loss; None for L2/L1 runs, whose train loss includes the penalty)."""
    hist = run.history
    if not hist:
        return None
    last = hist[-1]
    loss_gap = None if _has_decay(run) else float(last["val_loss"]) - float(last["train_loss"])
    return {"epoch": last["epoch"], "acc_gap": float(last["train_acc"]) - float(last["val_acc"]),
            "loss_gap": loss_gap}


def _acc_gap(r: StudyRun):
    g = final_gap(r)
    return None if g is None else g["acc_gap"]


def _loss_gap(r: StudyRun):
    g = final_gap(r)
    return None if g is None else g["loss_gap"]


def turn_up(runs) -> dict | None:
    """Where the seed-mean validation loss is lowest.

    Returns ``{"epoch", "min", "last", "last_epoch", "turned", "rise", "rise_diff", "epochs",
    "val_mean", "val_std", "train_mean", "train_std", "n"}``; ``turned`` is False if the minimum
    is at the last epoch; ``rise_diff`` is the per-seed rise (last − value at that epoch) as a
    :class:`Difference` (one-sample t-interval). Histories are cut to the shortest one.
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


_SPLIT_CACHE: dict = {}
#: How far the last epoch's train accuracy may be from the predicted class's train share.
TRAIN_SHARE_TOL = 0.02


def split_class_counts(record: dict) -> dict | None:
    """Per-class photo counts of the train / validation / test splits of a run's data.

    Recomputed from the photo folder listing (no pixels): the class labels in load order, the
    same class-stratified subset for ``max_samples`` and the split permutation with seed 1234
    (:class:`reglab.data.FlowersDataset`). None if the folder is not there or its counts do not
    match the record's split sizes (e.g. photos skipped while decoding).
    """
    ds = record.get("dataset") or {}
    cfg = record.get("config") or {}
    key = (ds.get("path"), int(cfg.get("max_samples") or 0), ds.get("train"),
           ds.get("validation"), ds.get("test"))
    if key in _SPLIT_CACHE:
        return _SPLIT_CACHE[key]
    out = None
    try:
        from ..data.dataset import split_counts, stratified_subset
        from ..data.images import scan_photos

        folder = scan_photos(ds["path"])
        labels = np.asarray(folder.labels)
        if key[1]:
            labels = labels[stratified_subset(labels, key[1], 1234)]
        n = len(labels)
        tr, va, te = split_counts(n)
        if (tr, va, te) == (ds.get("train"), ds.get("validation"), ds.get("test")) and \
                list(folder.class_names) == list(ds.get("classes") or folder.class_names):
            perm = np.random.default_rng(1234).permutation(n)
            c = len(folder.class_names)
            out = {"classes": list(folder.class_names),
                   "train": np.bincount(labels[perm[:tr]], minlength=c),
                   "validation": np.bincount(labels[perm[tr:tr + va]], minlength=c),
                   "test": np.bincount(labels[perm[tr + va:]], minlength=c)}
    except Exception:  # noqa: BLE001 - no photos here: the caller falls back
        out = None
    _SPLIT_CACHE[key] = out
    return out


def one_class(run: StudyRun, counts: dict | None | bool = True) -> dict | None:
    """If the run predicts a single class: ``{"class", "test_count", "test_n", "test_share",
    "train_share", "largest_train", "largest_test", "inferred"}``, else None.

    With split counts (``counts``; True = compute them from the record), the run predicts one
    class c when its test accuracy is exactly the test share of c (the same count of photos) and
    its last train accuracy is within :data:`TRAIN_SHARE_TOL` of the train share of c (the train
    accuracy is averaged over the epoch's minibatches while the weights still move, so a model
    that ends on one class may read a little above the share). Without them (``inferred``): the
    train accuracy of the last three epochs is the same number.
    """
    if not run.ok or not run.history:
        return None
    if counts is True:
        counts = split_class_counts(run.record)
    last_train = float(run.history[-1]["train_acc"])
    if counts:
        te, tr = np.asarray(counts["test"]), np.asarray(counts["train"])
        n_te, n_tr = int(te.sum()), int(tr.sum())
        for c, name in enumerate(counts["classes"]):
            if abs(run.test_acc - te[c] / n_te) < 0.5 / n_te and \
                    abs(last_train - tr[c] / n_tr) <= TRAIN_SHARE_TOL:
                return {"class": name, "test_count": int(te[c]), "test_n": n_te,
                        "test_share": te[c] / n_te, "train_share": tr[c] / n_tr,
                        "largest_train": c == int(np.argmax(tr)),
                        "largest_test": c == int(np.argmax(te)), "inferred": False}
        return None
    tail = [float(h["train_acc"]) for h in run.history[-3:]]
    if len(tail) == 3 and max(tail) - min(tail) < 1e-12:
        n_te = int(((run.record or {}).get("dataset") or {}).get("test") or 0)
        return {"class": None, "test_count": round(run.test_acc * n_te) if n_te else None,
                "test_n": n_te or None, "test_share": run.test_acc, "train_share": last_train,
                "largest_train": None, "largest_test": None, "inferred": True}
    return None


# ----------------------------------------------------------------------------- common text
def missing_note(study: str) -> str:
    return f"결과 없음 — `python -m reglab study --only {study}`로 만드세요."


def _plabel(profile: str) -> str:
    return PROFILE_LABELS.get(profile, profile)


def _tech(spec: RunSpec) -> str:
    return f"**{spec.technique}** ({spec.name})"


def status_markdown(data: StudyData, study: str, limit: int = 12) -> str:
    """Failed and missing runs of a study (empty string if every run finished)."""
    runs = data.select(study)
    failed = [r for r in runs if r.status == FAILED]
    missing = [r for r in runs if r.status == MISSING]
    lines = []
    for r in failed[:limit]:
        lines.append(f"- 실패: `{r.profile}/{r.name}__{r.variant}` — "
                     f"{esc(_short_error(r.error, 200))}")
    if len(failed) > limit:
        lines.append(f"- 그 밖의 실패 {len(failed) - limit}개.")
    if missing:
        names = ", ".join(f"`{r.profile}/{r.name}__{r.variant}`" for r in missing[:limit])
        more = f" 외 {len(missing) - limit}개" if len(missing) > limit else ""
        lines.append(f"- 아직 결과가 없는 실행 {len(missing)}개: {names}{more}. 통계는 완료된 "
                     "실행만으로 계산했습니다.")
    return "\n".join(lines) + ("\n" if lines else "")


def _class_name_ko(name) -> str:
    return f"`{name}`" if name else "그 클래스"


def _predicts(name) -> str:
    """"모든 사진을 `c` 하나로" (or "한 클래스로" if the class is not known)."""
    return f"모든 사진을 `{name}` 하나로" if name else "모든 사진을 한 클래스로"


# ----------------------------------------------------------------------------- 1. overview
def overview_markdown(data: StudyData) -> str:
    """What each study holds: planned/finished/failed runs, notebook time, data and seeds."""
    lines = []
    total_runs, total_secs = 0, 0.0
    for study in STUDIES:
        runs = data.select(study)
        c = data.counts(study)
        oks = [r for r in runs if r.ok]
        secs = sum(float(r.record.get("wall_seconds") or 0.0) for r in oks)
        reused = sum(1 for r in oks if r.record.get("reused_from"))
        epochs = sorted({int(r.entry.config.get("epochs", 0)) for r in oks})
        total_runs += c[OK]
        total_secs += secs
        what = {"ablation": f"book 프로파일에서 스위치 하나씩 ({len(ABLATIONS)}종), 시드 1234",
                "seeds": f"7개 실행 × 프로파일 2개 × 시드 {len(SEEDS)}개 "
                         f"({', '.join(map(str, SEEDS))})",
                "long": f"7개 실행 × exact 프로파일 × 시드 {len(LONG_SEEDS)}개 "
                        f"({', '.join(map(str, LONG_SEEDS))}), {LONG_EPOCHS}에폭"}[study]
        if not data.has(study):
            lines.append(f"- **{STUDY_LABELS[study]}** ({what}): 결과 없음.")
            continue
        ep = "/".join(map(str, epochs)) if epochs else "—"
        s = (f"- **{STUDY_LABELS[study]}** ({what}): 계획 {len(runs)}개 중 완료 {c[OK]}개, "
             f"실패 {c[FAILED]}개, 결과 없음 {c[MISSING]}개; 완료된 실행의 에폭 {ep}; "
             f"노트북 실행 시간의 합 {fmt_secs(secs)}")
        if reused:
            s += f" (그중 {reused}개는 장 보고서의 실행을 그대로 가져온 것으로, 그 시간 포함)"
        lines.append(s + ".")
    if total_runs:
        lines.append(f"- **합계**: 완료된 실행 {fmt_int(total_runs)}개, 노트북 실행 시간의 합 "
                     f"{fmt_secs(total_secs)} (약 {total_secs / 3600:.1f}시간). 실행은 여러 "
                     "개를 동시에 돌리므로 실제로 걸린 시간은 이보다 짧습니다 "
                     "(`python -m reglab study`가 끝에 출력합니다).")
    oks = [r for r in data.runs if r.ok]
    if oks:
        ds = oks[0].record.get("dataset") or {}
        if ds.get("test"):
            lines.append(f"- **데이터**: 학습 {fmt_int(ds['train'])}장, 검증 "
                         f"{fmt_int(ds['validation'])}장, 평가 {fmt_int(ds['test'])}장 (분할 시드 "
                         f"1234, 모든 실행이 같은 분할). 평가 사진 한 장은 정확도 "
                         f"{1 / ds['test']:.4f}입니다.")
        maxs = sorted({int(r.entry.config.get("max_samples") or 0) for r in oks} - {0})
        if maxs:
            lines.append(f"- **주의**: 사진을 최대 {', '.join(map(fmt_int, maxs))}장만 쓴 실행이 "
                         "있습니다(`max_samples`). 전체 데이터의 결과가 아닙니다.")
        long_eps = [int(r.entry.config.get("epochs", 0)) for r in data.select("long", ok=True)]
        if long_eps and max(long_eps) < LONG_EPOCHS:
            lines.append(f"- **주의**: 긴 학습의 에폭이 {LONG_EPOCHS}보다 짧습니다 "
                         "(`--epochs-scale`로 줄인 시험 실행).")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- 2. seeds
def seed_summary(data: StudyData, profile: str, name: str, study: str = "seeds") -> dict:
    """Summaries of one model in one profile: test accuracy, gaps, one-class seeds."""
    runs = data.select(study, profile, name, ok=True)
    return {"runs": runs, "acc": summarize(r.test_acc for r in runs),
            "acc_gap": summarize(_acc_gap(r) for r in runs),
            "loss_gap": summarize(_loss_gap(r) for r in runs),
            "one_class": [oc for r in runs if (oc := one_class(r)) is not None],
            "all": data.select(study, profile, name)}


def _nw(cell: str) -> str:
    """A table cell that does not wrap (numbers like "0.421 ± 0.006")."""
    return f'<td style="white-space: nowrap">{cell}</td>'


def _h(*lines: str) -> str:
    """A table header of lines that do not wrap inside themselves."""
    return "<br>".join(f'<span style="white-space: nowrap">{x}</span>' for x in lines)


def _n_cell(s: dict) -> str:
    n = s["acc"].n
    bad = [r for r in s["all"] if r.status == FAILED]
    return f"{n}" + (f" (실패 {len(bad)})" if bad else "")


def seeds_table_html(data: StudyData, profile: str) -> str:
    headers = ["모델", "기법", "n", _h("평가 정확도", "평균 ± 표준편차"), "95 % 구간",
               _h("정확도 차이", "학습 − 검증"), _h("손실 차이", "검증 − 학습"),
               _h("한 클래스만", "예측")]
    rows = []
    for spec in CHAPTER8_RUNS:
        s = seed_summary(data, profile, spec.name)
        row = [esc(spec.name), esc(spec.technique), _n_cell(s)]
        if not s["acc"].n:
            row.append('<td class="missing" colspan="5">완료된 시드 없음</td>')
        else:
            lg = "—" if spec.l2_decay or spec.l1_decay else s["loss_gap"].mean_std()
            oc = s["one_class"]
            row += [_nw(f"<b>{s['acc'].mean_std()}</b>"), _nw(s["acc"].interval()),
                    _nw(s["acc_gap"].mean_std()), _nw(lg),
                    f"{len(oc)}/{s['acc'].n}" + (f" ({esc(oc[0]['class'])})"
                                                  if oc and oc[0]["class"] else "")]
        rows.append(row)
    return _table(headers, rows, caption=f"시드 반복 ({len(SEEDS)}개 시드, 10에폭) — "
                  f"{esc(_plabel(profile))}")


def _single_run_diff(data: StudyData, profile: str, name: str, base: str) -> float | None:
    a = data.select("seeds", profile, name, ok=True, variant="seed1234")
    b = data.select("seeds", profile, base, ok=True, variant="seed1234")
    return a[0].test_acc - b[0].test_acc if a and b else None


def seeds_sentences(data: StudyData, profile: str) -> str:
    """Markdown bullets: each technique against its baseline in ``profile`` (Welch), with the
    chapter's single seed-1234 difference beside it, and the one-class runs."""
    lines = []
    for spec in CHAPTER8_RUNS:
        base = BASELINES[spec.family]
        if spec.name == base:
            continue
        a = seed_summary(data, profile, spec.name)["acc"]
        b = seed_summary(data, profile, base)["acc"]
        if not a.n or not b.n:
            lines.append(f"- {_tech(spec)}: {spec.name if not a.n else base}의 완료된 시드가 "
                         "없어 비교할 수 없습니다.")
            continue
        d = welch(a, b)
        s = (f"- {_tech(spec)}: 평균 {a.mean_std()} (n={a.n}), 기준 {base} {b.mean_std()} "
             f"(n={b.n}) → 기준보다 {abs(d.diff):.3f} {_dir(d.diff)}"
             if round(d.diff, 3) != 0 else
             f"- {_tech(spec)}: 평균 {a.mean_std()} (n={a.n}), 기준 {base} {b.mean_std()} "
             f"(n={b.n}) → 차이 {_sg(d.diff)}")
        s += f"; {verdict(d)}."
        one = _single_run_diff(data, profile, spec.name, base)
        if one is not None:
            agree = ""
            if d.exceeds and round(one, 3) != 0:
                agree = (", 평균의 차이와 같은 방향" if one * d.diff > 0
                         else ", 평균의 차이와 반대 방향")
            s += f" (장 보고서의 한 번의 실행, 시드 1234의 차이: {_sg(one)}{agree}.)"
        lines.append(s)
    groups: dict = {}
    for spec in CHAPTER8_RUNS:
        s = seed_summary(data, profile, spec.name)
        for oc in s["one_class"]:
            key = (oc["class"], oc["test_count"], oc["inferred"])
            groups.setdefault(key, {"oc": oc, "models": {}})["models"].setdefault(
                spec.name, [0, s["acc"].n])[0] += 1
    for g in groups.values():
        cls = g["oc"]
        if cls["inferred"]:
            how = "마지막 에폭들의 학습 정확도가 변하지 않는 것으로 추정했습니다."
        else:
            share = _topic(f"{cls['test_share']:.3f}")
            how = (f"평가 정확도 {cls['test_count']}/{cls['test_n']} = {share} "
                   f"평가 데이터에서 {_class_name_ko(cls['class'])}의 비율입니다 (학습 데이터에서는 "
                   f"{cls['train_share']:.3f}"
                   + (", 가장 많은 클래스" if cls["largest_train"] else "") + ").")
        which = ", ".join(f"{name} {k}/{n}" for name, (k, n) in g["models"].items())
        lines.append(f"- {_predicts(cls['class'])} 예측하는 시드: {which}. {how}")
    return "\n".join(lines) + "\n"


def profile_sentences(data: StudyData) -> str:
    """Markdown bullets: exact − book per model (Welch), where both profiles have seeds."""
    lines = []
    for spec in CHAPTER8_RUNS:
        b = seed_summary(data, "book", spec.name)["acc"]
        x = seed_summary(data, "exact", spec.name)["acc"]
        if not b.n or not x.n:
            continue
        d = welch(x, b)
        lines.append(f"- {spec.name} ({spec.technique}): exact {x.mean_std()}, book "
                     f"{b.mean_std()} → exact − book {_sg(d.diff)}; {verdict(d)}.")
    if not lines:
        return ""
    return "**book과 exact 프로파일 (모든 항목을 한꺼번에 바꾼 차이)**\n\n" + "\n".join(lines) + "\n"


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
        ax.set_title(_plabel(p), fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0][0].set_ylabel("평가 정확도")
    fig.suptitle("시드별 평가 정확도 (점) · 평균과 95 % 구간 (빨강)", fontsize=11)
    fig.tight_layout()
    return _fig_to_image(fig, "그림: 시드별 평가 정확도와 평균의 95 % 구간")


SEEDS_INTRO = (
    "장 보고서의 7개 실행을 시드 {seeds}로 다섯 번씩, 두 프로파일에서 10에폭씩 반복했습니다. "
    "시드는 가중치 초기화, 미니배치 순서, 드롭아웃·잡음의 난수를 바꿉니다 (데이터 분할은 모든 "
    "실행이 같습니다). 표의 **n**은 완료된 시드 수, **95 % 구간**은 평균의 t-구간 "
    "평균 ± t(0.975, n−1)·s/√n 입니다 (s는 표준편차, ddof=1).\n\n"
    "**정확도 차이**는 마지막 에폭의 학습 정확도 − 검증 정확도, **손실 차이**는 검증 손실 − 학습 "
    "손실입니다. L2/L1 모델은 학습 손실에 정규화 항이 더해져 있어 손실 차이를 쓰지 않고(—) "
    "정확도 차이만 봅니다. 학습 값은 교재처럼 미니배치마다 잰 값(드롭아웃·잡음이 켜진 상태)의 "
    "평균이고, book 프로파일의 검증은 매번 새로 뽑은 100장이라 exact(검증 데이터 전체)보다 더 "
    "흔들립니다. **한 클래스만 예측**은 모든 사진을 한 클래스로 답한 시드의 수입니다.\n\n"
    "두 평균의 비교는 Welch의 방법으로 합니다: 차이의 95 % 구간이 0을 포함하지 않을 때만 "
    "\"시드에 따른 흩어짐보다 큰 차이\"라고 씁니다.")


def seeds_blocks(data: StudyData) -> list:
    """Display objects of section 2 (or the one-line note)."""
    from IPython.display import HTML, Markdown

    if not data.has("seeds"):
        return [Markdown(missing_note("seeds"))]
    out = [Markdown(SEEDS_INTRO.format(seeds=", ".join(map(str, SEEDS))))]
    st = status_markdown(data, "seeds")
    if st:
        out.append(Markdown(st))
    fig = seeds_figure(data)
    if fig is not None:
        out.append(fig)
    for p in data.profiles("seeds"):
        out.append(HTML(seeds_table_html(data, p)))
        out.append(Markdown(f"**{esc(_plabel(p))}: 기법과 기준 모델**\n\n"
                            + seeds_sentences(data, p)))
    ps = profile_sentences(data)
    if ps:
        out.append(Markdown(ps))
    return out


# ----------------------------------------------------------------------------- 3. long
def long_rows(data: StudyData) -> list[dict]:
    """Per model: the long study's turn-up and test accuracy, and the 10-epoch exact seeds."""
    rows = []
    for spec in CHAPTER8_RUNS:
        runs = data.select("long", "exact", spec.name, ok=True)
        ten = seed_summary(data, "exact", spec.name)
        rows.append({"spec": spec, "runs": runs, "all": data.select("long", "exact", spec.name),
                     "turn": turn_up(runs), "acc": summarize(r.test_acc for r in runs),
                     "acc_gap": summarize(_acc_gap(r) for r in runs),
                     "one_class": [oc for r in runs if (oc := one_class(r)) is not None],
                     "acc10": ten["acc"], "acc_gap10": ten["acc_gap"]})
    return rows


def _epochs_label(data: StudyData) -> int:
    eps = [int(r.entry.config.get("epochs", 0)) for r in data.select("long", ok=True)]
    return max(eps) if eps else LONG_EPOCHS


def long_table_html(data: StudyData) -> str:
    E = _epochs_label(data)
    headers = ["모델", "기법", "n", _h("검증 손실", "최저 에폭"), _h("그 뒤 상승", "(시드 평균)"),
               _h("평균 검증 손실", "최저 → 마지막"), _h("평가 정확도", f"{E}에폭"),
               _h("평가 정확도", "10에폭", "(시드 반복)"),
               _h("정확도 차이", "학습 − 검증", f"10 → {E}에폭")]
    rows = []
    for r in long_rows(data):
        spec, t = r["spec"], r["turn"]
        bad = sum(1 for x in r["all"] if x.status == FAILED)
        row = [esc(spec.name), esc(spec.technique),
               f"{r['acc'].n}" + (f" (실패 {bad})" if bad else "")]
        if t is None:
            row.append('<td class="missing" colspan="6">완료된 시드 없음</td>')
        else:
            if not t["turned"]:
                rise = "없음"
            else:
                rise = f"{_sg(t['rise'])}<br>{_short_verdict(t['rise_diff'])}"
            oc = (f"<br>한 클래스 {len(r['one_class'])}/{r['acc'].n}" if r["one_class"]
                  else "")
            g10 = _sg(r["acc_gap10"].mean) if r["acc_gap10"].n else "—"
            row += [f"{t['epoch']}", _nw(rise), _nw(f"{t['min']:.3f} → {t['last']:.3f}"),
                    _nw(f"<b>{r['acc'].mean_std()}</b>{oc}"),
                    _nw(r["acc10"].mean_std() if r["acc10"].n else "—"),
                    _nw(f"{g10} → {_sg(r['acc_gap'].mean)}")]
        rows.append(row)
    return _table(headers, rows, caption=f"긴 학습 ({E}에폭, exact, 시드 "
                  f"{', '.join(map(str, LONG_SEEDS))})")


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
        ax.annotate(note, xy=(t["epoch"], t["min"]), xytext=(4 if t["epoch"] < 0.75 * t["last_epoch"] else -70, 10),
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
    return _fig_to_image(fig, "그림: 긴 학습의 학습 손실과 검증 손실 (시드 평균 ± 표준편차)")


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
    return _fig_to_image(fig, "그림: 긴 학습의 검증 정확도 (시드 평균)")


def turn_up_sentences(data: StudyData) -> str:
    lines = []
    for r in long_rows(data):
        t, spec = r["turn"], r["spec"]
        if t is None:
            continue
        head = f"- {spec.name} ({spec.technique}): "
        if t["turned"] and t["rise_diff"].exceeds:
            s = (f"{head}평균 검증 손실이 {t['epoch']}에폭에서 가장 낮고({t['min']:.3f}) 그 뒤 "
                 f"올라가 {t['last_epoch']}에폭에는 {t['last']:.3f}입니다. 시드별로 잰 상승 폭은 "
                 f"평균 {_sg(t['rise'])}이고, {verdict(t['rise_diff'])}.")
        elif t["turned"]:
            s = (f"{head}평균 검증 손실은 {t['epoch']}에폭에서 가장 낮지만({t['min']:.3f}), 그 뒤 "
                 f"{t['last_epoch']}에폭까지 시드별로 잰 상승 폭은 평균 {_sg(t['rise'])}이고, "
                 f"{verdict(t['rise_diff'])}. 따라서 {t['last_epoch']}에폭 안에 올라간다고 할 "
                 "수 없습니다.")
        else:
            s = (f"{head}평균 검증 손실이 {t['last_epoch']}에폭 안에 올라가지 않습니다 (마지막 "
                 f"에폭이 가장 낮음: {t['min']:.3f}).")
        if r["one_class"]:
            s += (f" 이 모델은 {_seeds_of(len(r['one_class']), r['acc'].n)}가 모든 사진을 한 "
                  "클래스로 예측해 손실이 거의 변하지 않습니다.")
        lines.append(s)
    return "\n".join(lines) + ("\n" if lines else "")


def hypothesis_sentences(data: StudyData) -> str:
    """The seed report's hypothesis answered per technique, with the numbers.

    At the long study's epochs: the regularized model's mean against its baseline's (Welch);
    the same difference at 10 epochs (exact seeds study) and how it changed (a combination of
    four means); the model's own accuracy change; the train − validation accuracy gaps.
    """
    E = _epochs_label(data)
    rows = {r["spec"].name: r for r in long_rows(data)}
    lines, kinds = [], []
    for spec in CHAPTER8_RUNS:
        base = BASELINES[spec.family]
        if spec.name == base:
            continue
        r, b = rows[spec.name], rows[base]
        head = f"- **{spec.technique}** ({spec.name}, 기준 {base})"
        if not r["acc"].n or not b["acc"].n:
            lines.append(f"{head}: {E}에폭 결과가 모두 있어야 답할 수 있습니다.")
            continue
        d40 = welch(r["acc"], b["acc"])
        sub = [(f"{E}에폭: 평균 {r['acc'].mean_std()} (n={r['acc'].n}), 기준 "
                f"{b['acc'].mean_std()} (n={b['acc'].n}) → 차이 {_sg(d40.diff)}; "
                f"{verdict(d40)}.")]
        if r["acc10"].n and b["acc10"].n:
            d10 = welch(r["acc10"], b["acc10"])
            change = combine([(1, r["acc"]), (-1, b["acc"]), (-1, r["acc10"]), (1, b["acc10"])])
            own = welch(r["acc"], r["acc10"])
            kind, answer = _hypothesis_answer(d40, change, E)
            kinds.append((kind, spec.technique))
            sub.append(f"10에폭 → {E}에폭: 기준과의 차이 {_sg(d10.diff)} → {_sg(d40.diff)}, 변화 "
                       f"{_sg(change.diff)}; {verdict(change)}.")
            sub.append(f"이 모델의 평가 정확도: 10에폭 {r['acc10'].mean:.3f} → {E}에폭 "
                       f"{r['acc'].mean:.3f} ({_sg(own.diff)}; {verdict(own)}).")
            if r["acc_gap10"].n and r["acc_gap"].n and b["acc_gap10"].n and b["acc_gap"].n:
                sub.append(f"학습 − 검증 정확도 차이 (10에폭 → {E}에폭): 이 모델 "
                           f"{_sg(r['acc_gap10'].mean)} → {_sg(r['acc_gap'].mean)}, 기준 "
                           f"{_sg(b['acc_gap10'].mean)} → {_sg(b['acc_gap'].mean)}.")
        else:
            answer = ("10에폭 exact 시드 반복이 없어 에폭에 따른 변화는 비교할 수 없습니다.")
        if r["one_class"]:
            sub.append(f"이 모델은 {E}에폭에서도 {_seeds_of(len(r['one_class']), r['acc'].n)}가 "
                       "모든 사진을 한 클래스로 예측합니다.")
        lines.append(f"{head} — **답**: {answer}")
        lines += [f"    - {x}" for x in sub]
    if kinds:
        summary = "; ".join(
            f"{label} {len(names)}개 ({', '.join(names)})"
            for key, label in ANSWER_LABELS.items()
            if (names := [t for k, t in kinds if k == key]))
        lines.insert(0, f"- **요약** ({len(kinds)}개 기법): {summary}.")
    return "\n".join(lines) + ("\n" if lines else "")


#: Categories of the answer to the seed report's hypothesis, in the order of the summary.
ANSWER_LABELS = {"yes": "예상대로", "partly": "일부만 맞음", "no": "예상과 다름",
                 "opposite": "예상과 반대", "ahead": "처음부터 앞섬", "unclear": "확인되지 않음"}


def _hypothesis_answer(d40: Difference, change: Difference, E: int) -> tuple[str, str]:
    """(category, Korean answer) from the difference at ``E`` epochs and its change since 10."""
    up40 = d40.exceeds and d40.diff > 0
    down40 = d40.exceeds and d40.diff < 0
    if change.exceeds and change.diff > 0:
        if up40:
            return "yes", (f"예상대로입니다. 에폭을 늘리자 기준과의 차이가 정규화 모델 쪽으로 "
                           f"커졌고, {E}에폭에서 기준보다 높습니다.")
        return "partly", (f"일부만 맞습니다. 에폭을 늘리자 기준과의 차이가 정규화 모델 쪽으로 "
                          f"움직였지만, {E}에폭에서 기준보다 높다고 할 수는 "
                          + ("없고 오히려 낮습니다." if down40 else "없습니다."))
    if change.exceeds and change.diff < 0:
        return "opposite", ("예상과 반대입니다. 에폭을 늘리자 기준과의 차이가 정규화 모델에 "
                            "불리한 쪽으로 움직였습니다.")
    if not change.known:
        tail = ("기준보다 높습니다" if up40 else "기준보다 낮습니다" if down40
                else "기준과 구별되지 않습니다")
        return "unclear", f"시드가 모자라 변화를 판단할 수 없습니다; {E}에폭에서는 {tail}."
    if down40:
        return "no", (f"예상과 다릅니다. {E}에폭에서도 기준보다 낮고(흩어짐보다 큰 차이), 에폭을 "
                      "늘려도 기준과의 차이가 흩어짐을 넘게 줄지 않았습니다.")
    if up40:
        return "ahead", (f"{E}에폭에서 기준보다 높지만, 에폭을 늘려서 생긴 차이는 아닙니다: 기준과의 "
                         "차이가 10에폭 때와 흩어짐 안에서 같습니다.")
    return "unclear", (f"확인되지 않습니다. {E}에폭에서도 기준과 구별되지 않고, 에폭을 늘려도 "
                       "기준과의 차이가 흩어짐을 넘게 바뀌지 않았습니다.")


def _seeds_of(k: int, n: int) -> str:
    return f"시드 {n}개 모두" if k == n else f"시드 {n}개 중 {k}개"


LONG_INTRO = (
    "원 보고서는 10에폭 실행 한 번씩을 보고 다음과 같이 예상했습니다: "
    f"\"{SEED_HYPOTHESIS}\" 이를 확인하려고 7개 실행을 exact 프로파일에서 {{E}}에폭씩 시드 "
    f"{', '.join(map(str, LONG_SEEDS))}로 반복했습니다. 그림의 선은 시드 평균, 띠는 ± 표준편차이고 "
    "세로 점선은 평균 검증 손실이 가장 낮은 에폭입니다 (그 뒤로 검증 손실이 올라가면 과적합이 "
    "시작된 것입니다). L2/L1 모델의 학습 손실에는 λ를 곱한 정규화 항이 들어 있습니다.")


def long_blocks(data: StudyData) -> list:
    from IPython.display import HTML, Markdown

    if not data.has("long"):
        return [Markdown(missing_note("long"))]
    out = [Markdown(LONG_INTRO.format(E=_epochs_label(data)))]
    st = status_markdown(data, "long")
    if st:
        out.append(Markdown(st))
    for fig in (long_figure(data), long_val_acc_figure(data)):
        if fig is not None:
            out.append(fig)
    out.append(HTML(long_table_html(data)))
    out.append(Markdown("**검증 손실이 올라가는 에폭**\n\n" + turn_up_sentences(data)))
    out.append(Markdown("**원 보고서의 예상에 대한 답 (기법별)**\n\n"
                        "기준은 L2/L1이 flowers_model_1, 드롭아웃·잡음 주입·배치 정규화가 "
                        "flowers_cnn_1입니다. 10에폭 값은 exact 프로파일의 시드 반복(시드 "
                        f"{len(SEEDS)}개)이고, 두 학습 길이는 독립 표본으로 보고 비교합니다.\n\n"
                        + hypothesis_sentences(data)))
    return out


# ----------------------------------------------------------------------------- 4. ablation
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


def ablation_table_html(data: StudyData) -> str:
    headers = ["오류", "바꾼 항목", "모델", _h("book", "(시드 1234)"), _h("바꾼", "실행"),
               "차이", _h("book 시드", "표준편차 (n)"), "판단"]
    rows = []
    for r in ablation_rows(data):
        ab, flip, ref, d = r["ablation"], r["flip"], r["ref"], r["diff"]
        oc_r = " (한 클래스)" if r["one_class_ref"] else ""
        oc_f = " (한 클래스)" if r["one_class_flip"] else ""
        row = [esc(ab.errata), esc(ab.label), esc(r["name"])]
        row.append(f"{fmt_acc(ref.test_acc)}{oc_r}" if ref is not None and ref.ok else
                   '<td class="missing">결과 없음</td>')
        if flip.ok:
            row.append(f"<b>{fmt_acc(flip.test_acc)}</b>{oc_f}")
        elif flip.status == FAILED:
            row.append(f'<td class="failed">실패: {esc(_short_error(flip.error, 120))}</td>')
        else:
            row.append('<td class="missing">결과 없음</td>')
        sp = r["spread"]
        sp_txt = f"{sp.std:.3f} ({sp.n})" if sp.std is not None else f"— ({sp.n})"
        if d is None:
            row += ["—", sp_txt, "—"]
        else:
            if d.diff == 0.0:
                judge = "정확히 같음"
            elif not d.known:
                judge = "판단 불가 (시드 부족)"
            elif d.se == 0.0:
                judge = "흩어짐보다 큼<br>(book 값이 시드와 무관)"
            elif d.exceeds:
                judge = f"흩어짐보다 큼<br>[{_sg(d.lo)}, {_sg(d.hi)}]"
            else:
                judge = f"흩어짐 안<br>[{_sg(d.lo)}, {_sg(d.hi)}]"
            row += [f"{_sg(d.diff)}", sp_txt, judge]
        rows.append(row)
    return _table(headers, rows, caption="book 프로파일에서 항목 하나만 바꾼 실행의 평가 정확도 "
                  "(시드 1234)")


def _collapse_sentences(data: StudyData, rows: list[dict]) -> list[str]:
    """Which switch brings the book MLPs out of one-class prediction."""
    out = []
    mlp = [s for s in CHAPTER8_RUNS if s.family == "mlp"]
    collapsed = []
    for spec in mlp:
        s = seed_summary(data, "book", spec.name)
        if s["one_class"]:
            collapsed.append((spec, s))
    if not collapsed:
        return out
    oc = collapsed[0][1]["one_class"][0]
    share = (f"{oc['test_count']}/{oc['test_n']} = {oc['test_share']:.3f}"
             if oc["test_count"] is not None else f"{oc['test_share']:.3f}")
    which = ", ".join(f"{spec.name} {len(s['one_class'])}/{s['acc'].n}" for spec, s in collapsed)
    cls = _class_name_ko(oc["class"])
    why = ""
    if not oc["inferred"]:
        why = (f" 평가 정확도({share})는 평가 데이터에서 {cls}의 비율이고, 학습 데이터에서 "
               f"{cls}의 비율은 {oc['train_share']:.3f}입니다"
               + (" (학습 데이터에서 가장 많은 클래스" + ("" if oc["largest_test"] else
                  "; 평가 데이터에서 가장 많은 클래스는 아님") + ")" if oc["largest_train"] else "")
               + ".")
    out.append(f"- **MLP의 붕괴**: book 프로파일의 MLP는 {_predicts(oc['class'])} 예측합니다 "
               f"(시드 반복에서 {which}).{why}")
    fixes, stays = {}, {}
    for r in rows:
        if r["spec"].family != "mlp" or not r["flip"].ok or r["one_class_ref"] is None:
            continue
        ab = r["ablation"]
        if r["one_class_flip"] is None:
            fixes.setdefault(ab.key, (ab, []))[1].append(
                f"{r['name']} {fmt_acc(r['ref'].test_acc)} → {fmt_acc(r['flip'].test_acc)} "
                f"({_short_verdict(r['diff'])})")
        else:
            stays.setdefault(ab.key, (ab, []))[1].append(
                f"{r['name']} {fmt_acc(r['flip'].test_acc)}")
    for ab, items in fixes.values():
        out.append(f"- 「{ab.label}」({ab.errata})만 바꾸면 한 클래스 예측에서 벗어납니다: "
                   + ", ".join(items) + ".")
    if stays:
        out.append("- 바꾸어도 여전히 한 클래스만 예측하는 항목: "
                   + "; ".join(f"「{ab.label}」({ab.errata}) — {', '.join(items)}"
                               for ab, items in stays.values()) + ".")
    fixed_names = {r["name"] for r in rows if r["ablation"].key in fixes and r["flip"].ok
                   and r["one_class_flip"] is None and r["one_class_ref"] is not None}
    if len(fixes) == 1:
        ab = next(iter(fixes.values()))[0]
        every = all(spec.name in fixed_names for spec, _ in collapsed)
        out.append(f"- 따라서 book 프로파일의 MLP를 한 클래스 예측으로 무너뜨리는 것은 "
                   f"「{ab.label}」({ab.errata})가 빠진 것, 곧 0–255 입력을 그대로 쓰는 교재 "
                   f"코드입니다" + ("" if every else " (결과가 있는 모델에서)") + "."
                   if ab.key == "input_scale" else
                   f"- 한 클래스 예측을 푸는 항목은 「{ab.label}」({ab.errata}) 하나입니다.")
    elif not fixes and stays:
        out.append("- 한 번에 하나씩 바꾼 항목 가운데 MLP를 한 클래스 예측에서 벗어나게 하는 것은 "
                   "없습니다.")
    return out


def _short_verdict(d: Difference | None) -> str:
    if d is None or not d.known:
        return "시드 부족"
    if d.diff == 0.0:
        return "정확히 같음"
    return "흩어짐보다 큼" if d.exceeds else "흩어짐 안"


def _bn_sentences(data: StudyData, rows: list[dict]) -> list[str]:
    bn = [r for r in rows if r["name"] == "flowers_cnn_4" and r["diff"] is not None]
    out = []
    b = seed_summary(data, "book", "flowers_cnn_4")["acc"]
    x = seed_summary(data, "exact", "flowers_cnn_4")["acc"]
    if b.n and x.n:
        d = welch(x, b)
        out.append(f"- **배치 정규화 모델 (flowers_cnn_4)**: 시드 반복에서 book {b.mean_std()}, "
                   f"exact {x.mean_std()} → exact − book {_sg(d.diff)}; {verdict(d)}.")
    if not bn:
        return out
    parts = [f"「{r['ablation'].label}」({r['ablation'].errata}) {_sg(r['diff'].diff)} "
             f"({_short_verdict(r['diff'])})" for r in bn]
    out.append("- flowers_cnn_4에서 항목 하나씩 바꾼 효과 (시드 1234, book "
               f"{fmt_acc(bn[0]['ref'].test_acc)} 기준): " + "; ".join(parts) + ".")
    big = [r for r in bn if r["diff"].exceeds]
    if big:
        top = max(big, key=lambda r: abs(r["diff"].diff))
        out.append(f"- flowers_cnn_4를 가장 크게 바꾸는 항목은 {top['ablation'].label} "
                   f"({top['ablation'].errata})입니다: {fmt_acc(top['ref'].test_acc)} → "
                   f"{fmt_acc(top['flip'].test_acc)} ({_sg(top['diff'].diff)}). "
                   + ("교재 코드의 이 동작이 배치 정규화 모델을 낮춥니다."
                      if top["diff"].diff > 0 else
                      "교재 코드의 이 동작을 고치면 오히려 낮아집니다."))
    else:
        s = ("- 어느 항목도 한 번의 실행(시드 1234)으로는 flowers_cnn_4의 평가 정확도를 book 시드 "
             "흩어짐보다 크게 바꾸지 않습니다.")
        top = max(bn, key=lambda r: r["diff"].diff)
        if top["diff"].diff > 0:
            s += (f" 가장 크게 올린 항목은 「{top['ablation'].label}」({top['ablation'].errata}), "
                  f"{_sg(top['diff'].diff)}입니다.")
        ref = bn[0]["ref"].test_acc
        if b.n >= 2:
            s += (f" 비교 기준인 시드 1234의 book 값 {_topic(fmt_acc(ref))} book 시드 평균 "
                  f"{b.mean_std()}보다 {_dir(ref - b.mean)}.")
        out.append(s)
    return out


def _validation_sentences(rows: list[dict]) -> list[str]:
    val = [r for r in rows if r["ablation"].key == "validation" and r["diff"] is not None]
    if not val:
        return []
    same = [r for r in val if r["diff"].diff == 0.0]
    ab = val[0]["ablation"]
    if len(same) == len(val):
        return [(f"- **{ab.label} ({ab.errata})**: 평가 정확도가 {len(val)}개 모델 모두 정확히 "
                 "같습니다. reglab에서는 검증에 쓸 사진을 뽑는 난수가 학습 난수(초기화, 미니배치 "
                 "순서, 드롭아웃·잡음)와 따로 있어서, 검증 방식만 바꾸면 학습과 평가는 그대로이고 "
                 "기록되는 검증 손실·정확도만 달라집니다.")]
    parts = [f"{r['name']} {_sg(r['diff'].diff)}" for r in val]
    return [f"- **{ab.label} ({ab.errata})**: 평가 정확도 차이 " + ", ".join(parts)
            + ". 검증 난수는 학습 난수와 따로 있으므로, 0이 아닌 차이는 검증 이외의 원인"
            "(예: 실행 환경)을 뜻합니다."]


def ablation_sentences(data: StudyData) -> str:
    rows = ablation_rows(data)
    lines = _collapse_sentences(data, rows) + _bn_sentences(data, rows)
    lines += _validation_sentences(rows)
    done = {"validation"}
    for r in rows:
        ab = r["ablation"]
        if ab.key in done or r["diff"] is None or r["name"] == "flowers_cnn_4":
            continue
        if r["spec"].family == "mlp" and r["one_class_ref"] is not None:
            continue                      # said above (the collapse)
        lines.append(f"- {ab.label} ({ab.errata}), {r['name']}: {fmt_acc(r['ref'].test_acc)} → "
                     f"{fmt_acc(r['flip'].test_acc)} ({_sg(r['diff'].diff)}); "
                     f"{verdict(r['diff'], 'book 시드 흩어짐')}.")
    return "\n".join(lines) + ("\n" if lines else "")


ABLATION_INTRO = (
    "book 프로파일(교재 코드 그대로)에서 교재 코드의 특이점 하나(정오표 번호 하나에 묶인 프로파일 "
    "항목들)만 exact 값으로 바꾸고, 그 특이점이 영향을 줄 수 있는 모델만 시드 1234로 10에폭 "
    "돌렸습니다. 비교 대상은 시드 반복의 book 프로파일 시드 1234 실행 "
    "(바꾸지 않은 같은 실행)입니다. 한 번의 실행끼리의 차이이므로, 그 모델의 book 시드 반복 "
    "표준편차 s로 차이의 표준편차를 s·√2로 잡아 95 % 구간 차이 ± t(0.975, n−1)·s·√2를 만들고, "
    "이 구간이 0을 포함하지 않으면 \"흩어짐보다 큼\"으로 판단합니다. \"한 클래스\"는 모든 사진을 "
    "한 클래스로 예측한 실행입니다.")


def ablation_blocks(data: StudyData) -> list:
    from IPython.display import HTML, Markdown

    if not data.has("ablation"):
        return [Markdown(missing_note("ablation"))]
    out = [Markdown(ABLATION_INTRO)]
    st = status_markdown(data, "ablation")
    if st:
        out.append(Markdown(st))
    if not data.select("seeds", "book", ok=True):
        out.append(Markdown("시드 반복의 book 프로파일 결과가 없어 비교 기준이 없습니다 — "
                            "`python -m reglab study --only seeds`로 만드세요."))
    out.append(HTML(ablation_table_html(data)))
    out.append(Markdown(ablation_sentences(data)))
    return out


# ----------------------------------------------------------------------------- rendering
def build_study_report(study_dir, out_dir="reports", pdf: bool = True, png: bool = True,
                       log=None):
    """Render ``study_report.ipynb/.html`` (and ``.pdf``, ``_page1.png``) into ``out_dir`` from
    the study results in ``study_dir``, with the chapter report's machinery
    (:func:`reglab.report.render.build_report`)."""
    from .render import build_report

    return build_report(study_dir, out_dir, pdf=pdf, png=png, notebook=STUDY_NOTEBOOK,
                        log=log, name=STUDY_REPORT_NAME, title=STUDY_REPORT_TITLE,
                        param="study_dir")
