"""The run records the reports read, with a status for every run they plan.

A record is ``<dir>/.../<run>.json`` in the schema of :mod:`reglab.pipeline.record` (written by
:func:`reglab.pipeline.record.execute_run`, or by the runner for a failed run). A planned run is
:data:`OK` (a finished record with every key the report reads, each of the type it needs),
:data:`FAILED` (a failed record, or a file that cannot be read, has an unknown schema or a field
the report cannot use, e.g. ``"test_acc": "abc"`` or a ``null`` loss) or :data:`MISSING` (no
file). An entry of a file that cannot be used is ``unreadable`` and its error names the file
and the field; :func:`unreadable_records` lists them for the terminal.

Chapter report
    :func:`load_report_data` reads ``<runs_dir>/<profile>/<name>.json`` for the seven runs of
    :data:`reglab.pipeline.experiments.CHAPTER8_RUNS` and each requested profile into a
    :class:`ReportData` of :class:`RunEntry`; a profile without a single file is skipped.

Study report
    :func:`load_study_data` reads ``<study_dir>/<study>/<profile>/<run_id>.json`` for every run
    the studies of :mod:`reglab.pipeline.study` plan (:func:`expected_runs`) into a
    :class:`StudyData` of :class:`StudyRun`. Only finished runs enter the statistics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..pipeline.experiments import CHAPTER8_RUNS, RunSpec, get_run
from ..pipeline.study import ABLATIONS, LONG_SEEDS, SEEDS
from ..profile import PROFILES
from .stats import Summary, summarize

__all__ = ["OK", "FAILED", "MISSING", "RunEntry", "ReportData", "entry_from_record",
           "record_problem", "unreadable_records",
           "build_report_data", "load_report_data", "StudyRun", "StudyData", "expected_runs",
           "build_study_data", "load_study_data"]

OK, FAILED, MISSING = "ok", "failed", "missing"

_REQUIRED_OK_KEYS = ("config", "history", "test_acc", "train_seconds", "near_zero", "weights",
                     "log")


def _read_record(path: Path):
    """The JSON of ``path``, the exception if it cannot be read, or None if there is no file."""
    if not path.exists():
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        return exc


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _not_number(field: str, value) -> str:
    what = "null" if value is None else repr(value)
    return f"{field} is {what}, not a number"


def record_problem(rec: dict) -> str | None:
    """The first field of an ok record that the report cannot use (``"test_acc is 'abc',
    not a number"``), or None. Numbers may not be null (a NaN of the run)."""
    for key in ("test_acc", "train_seconds"):
        if not _number(rec.get(key)):
            return _not_number(key, rec.get(key))
    if not isinstance(rec.get("config"), dict):
        return "config is not an object"
    hist = rec.get("history")
    if not isinstance(hist, list):
        return "history is not a list"
    for n, h in enumerate(hist):
        if not isinstance(h, dict):
            return f"history[{n}] is not an object"
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            if key in h and not _number(h[key]):
                return _not_number(f"history[{n}].{key}", h[key])
    near = rec.get("near_zero")
    if not isinstance(near, dict):
        return "near_zero is not an object"
    for key in ("count", "total", "threshold"):
        if key in near and not _number(near[key]):
            return _not_number(f"near_zero.{key}", near[key])
    weights = rec.get("weights")
    if not isinstance(weights, dict):
        return "weights is not an object"
    for key, value in weights.items():
        values = value if isinstance(value, list) else [value]
        bad = next((v for v in values if not _number(v)), 0)
        if not _number(bad):
            return _not_number(f"weights.{key}", bad)
    return None


# ----------------------------------------------------------------------------- chapter runs
@dataclass
class RunEntry:
    """One (profile, run) cell of the report: the spec, its status and its record."""

    spec: RunSpec
    profile: str
    status: str
    record: dict | None = None
    error: str | None = None
    source: str | None = None         # the record's file, relative to the results folder
    unreadable: str | None = None     # what is wrong with a file that cannot be used
    folder: Path | None = None        # the record's folder (for its .npz), if known

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def config(self) -> dict:
        return (self.record or {}).get("config") or {}

    @property
    def test_acc(self) -> float | None:
        return float(self.record["test_acc"]) if self.ok else None

    @property
    def train_seconds(self) -> float | None:
        return float(self.record["train_seconds"]) if self.ok else None

    @property
    def last(self) -> dict | None:
        """The last history entry (final epoch), if any."""
        hist = (self.record or {}).get("history") or []
        return hist[-1] if self.ok and hist else None


@dataclass
class ReportData:
    """Every run of every requested profile, with the profiles that have results."""

    runs_dir: Path | None
    requested: list[str]
    entries: dict = field(default_factory=dict)   # (profile, name) -> RunEntry

    @property
    def profiles(self) -> list[str]:
        """Requested profiles with at least one result file (finished or failed)."""
        return [p for p in self.requested
                if any(self.entries[(p, s.name)].status != MISSING for s in CHAPTER8_RUNS)]

    @property
    def skipped(self) -> list[str]:
        return [p for p in self.requested if p not in self.profiles]

    def entry(self, profile: str, name: str) -> RunEntry:
        return self.entries[(profile, name)]

    def runs(self, family: str | None = None) -> list[RunSpec]:
        return [s for s in CHAPTER8_RUNS if family is None or s.family == family]

    def ok_entries(self, profile: str | None = None, family: str | None = None) -> list[RunEntry]:
        profs = self.profiles if profile is None else [profile]
        return [self.entries[(p, s.name)] for p in profs for s in self.runs(family)
                if self.entries[(p, s.name)].ok]

    def counts(self) -> dict[str, int]:
        out = {OK: 0, FAILED: 0, MISSING: 0}
        for p in self.profiles:
            for s in CHAPTER8_RUNS:
                out[self.entries[(p, s.name)].status] += 1
        return out


def entry_from_record(spec: RunSpec, profile: str, rec, source=None) -> RunEntry:
    """The :class:`RunEntry` of one planned run from its record (None: no file; an Exception:
    the file could not be read). ``source`` (the file, relative to the results folder, so that
    the report names no folder of the machine) is named in the error of a record that cannot
    be used."""
    where = f"{source}: " if source is not None else ""

    def unreadable(what: str, error: str | None = None, record=None) -> RunEntry:
        return RunEntry(spec, profile, FAILED, record,
                        error or f"결과 파일을 읽을 수 없습니다 ({where}{what})", source, what)

    if rec is None:
        return RunEntry(spec, profile, MISSING)
    if isinstance(rec, Exception):
        return unreadable(str(rec))
    if not isinstance(rec, dict) or rec.get("schema") != 1:
        schema = rec.get("schema") if isinstance(rec, dict) else None
        return unreadable(f"unknown schema {schema!r}",
                          f"결과 파일의 형식을 알 수 없습니다 ({where}schema={schema!r})")
    status = rec.get("status")
    if status == OK:
        missing = [k for k in _REQUIRED_OK_KEYS if k not in rec]
        if missing:
            return unreadable(f"missing {', '.join(missing)}",
                              f"결과 파일에 항목이 없습니다: {where}{', '.join(missing)}", rec)
        problem = record_problem(rec)
        if problem:
            return unreadable(problem)
        return RunEntry(spec, profile, OK, rec)
    if status == FAILED:
        return RunEntry(spec, profile, FAILED, rec, str(rec.get("error") or "알 수 없는 오류"))
    return RunEntry(spec, profile, FAILED, rec, f"알 수 없는 상태 {status!r}")


def unreadable_records(data) -> list[str]:
    """``"<file>: <problem>"`` for each record of ``data`` (a :class:`ReportData` or
    :class:`StudyData`) that is there but cannot be used."""
    if isinstance(data, ReportData):
        base, entries = data.runs_dir, data.entries.values()
    else:
        base, entries = data.study_dir, [r.entry for r in data.runs]
    return [f"{e.source if base is None else base / e.source}: {e.unreadable}"
            for e in entries if e.unreadable]


def build_report_data(records: dict, profiles=tuple(PROFILES), runs_dir=None) -> ReportData:
    """A :class:`ReportData` from ``{(profile, name): record}`` (missing keys = no result).

    A value may be an ``Exception`` (the file could not be read).
    """
    data = ReportData(None if runs_dir is None else Path(runs_dir), list(profiles))
    for p in data.requested:
        for spec in CHAPTER8_RUNS:
            source = f"{p}/{spec.name}.json"
            entry = entry_from_record(spec, p, records.get((p, spec.name)), source)
            if data.runs_dir is not None:
                entry.folder = data.runs_dir / p
            data.entries[(p, spec.name)] = entry
    return data


def load_report_data(runs_dir, profiles=tuple(PROFILES)) -> ReportData:
    """Read ``<runs_dir>/<profile>/<name>.json`` for the seven chapter-8 runs and each profile."""
    runs_dir = Path(runs_dir)
    records = {}
    for p in profiles:
        for spec in CHAPTER8_RUNS:
            rec = _read_record(runs_dir / p / f"{spec.name}.json")
            if rec is not None:
                records[(p, spec.name)] = rec
    return build_report_data(records, profiles, runs_dir)


# ----------------------------------------------------------------------------- study runs
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
    for profile in PROFILES:
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
        """A :class:`~reglab.report.stats.Summary` of ``fn(run)`` over the finished runs (seeds)
        of one model."""
        return summarize(fn(r) for r in self.select(study, profile, name, ok=True))

    def profiles(self, study: str) -> list[str]:
        return [p for p in PROFILES
                if any(r.status != MISSING for r in self.select(study, p))]


def build_study_data(records: dict, study_dir=None) -> StudyData:
    """A :class:`StudyData` from ``{(study, profile, run_id): record}`` (missing = no result;
    a value may be an Exception: the file could not be read)."""
    runs = []
    base = None if study_dir is None else Path(study_dir)
    for study, profile, name, variant, seed, switch in expected_runs():
        stem = f"{name}__{variant}"
        rec = records.get((study, profile, stem))
        path = None if base is None else base / study / profile / f"{stem}.json"
        entry = entry_from_record(get_run(name), profile, rec, f"{study}/{profile}/{stem}.json")
        runs.append(StudyRun(study, variant, seed, switch, path, entry))
    return StudyData(base, runs)


def load_study_data(study_dir) -> StudyData:
    """Read ``<study_dir>/<study>/<profile>/<run_id>.json`` for every planned study run."""
    study_dir = Path(study_dir)
    records = {}
    for study, profile, name, variant, _, _ in expected_runs():
        stem = f"{name}__{variant}"
        rec = _read_record(study_dir / study / profile / f"{stem}.json")
        if rec is not None:
            records[(study, profile, stem)] = rec
    return build_study_data(records, study_dir)
