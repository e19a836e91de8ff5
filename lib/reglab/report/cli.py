"""Command line for the report: ``python -m reglab report [--runs-dir DIR] [--out DIR] [--no-pdf]``.

``--study`` renders the study report (``notebooks/study_report.ipynb`` on ``reports/study``,
written by ``python -m reglab study``) into ``study_report.html/.pdf/_page1.png`` instead. The
chapter report quotes the seeds of ``--study-dir`` (default: the project's ``reports/study`` if
it is there) beside its single runs.

Before rendering, every record the report plans is read here too:

* a results folder that does not exist, or holds no record of the requested profiles (of any
  study with ``--study``), is an error naming the folder: exit code 1 and nothing is written;
* a record that is there but cannot be used (not JSON, a field of the wrong type) is named on
  stderr with the field, and the report goes on without that run (it shows as unreadable);
* every failed or missing run gets one stderr line; the report is written, and the exit code is
  1 unless ``--allow-missing`` is given.

Also runs standalone: ``python -m reglab.report.cli [options]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..paths import project_root

__all__ = ["add_report_parser", "run_report", "check_results", "run_problems", "warn_unreadable",
           "main"]


def _project_path(*parts) -> Path:
    """``<checkout>/<parts>`` (the current folder if reglab does not run from a checkout)."""
    return (project_root() or Path.cwd()).joinpath(*parts)


def run_report(args) -> int:
    """Build the report from parsed arguments; returns the exit code (0 ok; 1 no report, a
    failed build, or failed/missing runs without ``--allow-missing``)."""
    from .render import ReportError

    study = getattr(args, "study", False)
    default_runs = ("reports", "study") if study else ("reports", "runs")
    runs_dir = Path(args.runs_dir) if args.runs_dir else _project_path(*default_runs)
    out_dir = Path(args.out) if args.out else _project_path("reports")
    profiles = getattr(args, "profiles", None)
    study_dir = None
    if not study:
        given = getattr(args, "study_dir", None)
        study_dir = Path(given) if given else _project_path("reports", "study")
        if given and not study_dir.is_dir():
            return _no_report(f"study folder {study_dir} does not exist / 반복 실험 폴더가 "
                              "없습니다")
        if not study_dir.is_dir():
            study_dir = None
    problem = check_results(runs_dir, study, profiles)
    if problem:
        return _no_report(problem)
    warn_unreadable(runs_dir, study, profiles)
    lines = run_problems(runs_dir, study, profiles)
    for line in lines:
        print(line, file=sys.stderr)
    try:
        from . import render
        if study:
            out = render.build_study_report(runs_dir, out_dir, pdf=not args.no_pdf,
                                            png=not args.no_pdf)
        else:
            out = render.build_report(runs_dir, out_dir, pdf=not args.no_pdf,
                                      png=not args.no_pdf, profiles=profiles,
                                      study_dir=study_dir)
    except ReportError as exc:
        print(f"보고서를 만들지 못했습니다 / report failed: {exc}", file=sys.stderr)
        return 1
    done = [p for p in (out.html, out.pdf, out.png) if p is not None]
    print("보고서 / report: " + ", ".join(str(p) for p in done)
          + f"  ({out.seconds.get('total', 0):.1f} s)")
    if lines and not getattr(args, "allow_missing", False):
        print(f"실패했거나 결과가 없는 실행 {len(lines)}개 / {len(lines)} run(s) failed or "
              "missing (listed above): exit code 1; --allow-missing accepts them",
              file=sys.stderr)
        return 1
    return 0


def _no_report(problem: str) -> int:
    print(f"보고서를 만들지 않았습니다 / no report written: {problem}", file=sys.stderr)
    return 1


def _load(runs_dir, study: bool, profiles):
    from ..profile import PROFILES
    from .records import load_report_data, load_study_data

    if study:
        return load_study_data(runs_dir)
    return load_report_data(runs_dir, profiles or tuple(PROFILES))


def check_results(runs_dir, study: bool = False, profiles=None) -> str | None:
    """Why no report can be made from ``runs_dir`` (the message names the folder), or None.

    The folder must exist and hold at least one record (finished or failed) of the requested
    profiles, or with ``study`` of any study; the profiles must be known ones.
    """
    from ..pipeline.study import STUDIES
    from ..profile import PROFILES

    runs_dir = Path(runs_dir)
    what = "study folder / 반복 실험 폴더" if study else "results folder / 결과 폴더"
    if not runs_dir.is_dir():
        return f"{what} {runs_dir} does not exist / 없습니다"
    unknown = [p for p in (profiles or []) if p not in PROFILES]
    if unknown:
        return (f"unknown profile(s) {', '.join(unknown)}; known: {', '.join(PROFILES)} / "
                "알 수 없는 프로파일")
    data = _load(runs_dir, study, profiles)
    if study and not any(data.has(s) for s in STUDIES):
        return (f"{what} {runs_dir} holds no record of any study ({', '.join(STUDIES)}) / "
                "반복 실험의 결과 파일이 없습니다")
    if not study and not data.profiles:
        return (f"{what} {runs_dir} holds no record of the profiles "
                f"{', '.join(data.requested)} (<profile>/<run>.json) / 결과 파일이 없습니다")
    return None


def run_problems(runs_dir, study: bool = False, profiles=None) -> list[str]:
    """One line per failed or missing run the report plans (a study with no result at all is
    one line), for the terminal."""
    from ..pipeline.study import STUDIES
    from .fmt import short_error
    from .records import FAILED, MISSING

    data = _load(runs_dir, study, profiles)
    if study:
        lines = []
        for s in STUDIES:
            if not data.has(s):
                lines.append(f"✗ missing / 결과 없음: the whole {s} study "
                             f"(python -m reglab study --only {s})")
                continue
            for r in data.select(s):
                if r.status == FAILED:
                    lines.append(f"✗ failed / 실패: {r.label}: {short_error(r.error, 200)}")
                elif r.status == MISSING:
                    lines.append(f"✗ missing / 결과 없음: {r.label}")
        return lines
    lines = []
    for p in data.requested:
        for spec in data.runs():
            e = data.entry(p, spec.name)
            if e.status == FAILED:
                lines.append(f"✗ failed / 실패: {p}/{spec.name}: {short_error(e.error, 200)}")
            elif e.status == MISSING:
                lines.append(f"✗ missing / 결과 없음: {p}/{spec.name}.json")
    return lines


def warn_unreadable(runs_dir, study: bool = False, profiles=None) -> int:
    """Print one stderr line per record under ``runs_dir`` that the report cannot use (its
    file and field); returns how many."""
    from ..profile import PROFILES
    from .records import load_report_data, load_study_data, unreadable_records

    if not Path(runs_dir).is_dir():
        return 0
    data = (load_study_data(runs_dir) if study
            else load_report_data(runs_dir, profiles or tuple(PROFILES)))
    lines = unreadable_records(data)
    for line in lines:
        print(f"⚠ cannot read {line}; left out of the report / 보고서에서 빠집니다",
              file=sys.stderr)
    return len(lines)


def add_report_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``report`` on an argparse ``subparsers`` object (sets ``func=run_report``)."""
    p = subparsers.add_parser(
        "report", help="render the chapter-8 report (HTML, PDF, PNG of page 1)",
        description="Execute notebooks/chapter8_report.ipynb on the run results and write "
        "chapter8_report.ipynb/.html (and .pdf + _page1.png if Chromium is on PATH).")
    add_report_arguments(p)
    p.set_defaults(func=run_report)
    return p


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs-dir", default=None,
                   help="results folder holding <profile>/<name>.json "
                        "(default: the project's reports/runs; with --study reports/study)")
    p.add_argument("--out", default=None,
                   help="output folder (default: the project's reports/)")
    p.add_argument("--no-pdf", action="store_true",
                   help="HTML only: no PDF and no PNG of page 1")
    p.add_argument("--profiles", nargs="+", default=None, metavar="PROFILE",
                   help="profiles to include (default: the notebook's, book exact)")
    p.add_argument("--study-dir", default=None,
                   help="chapter report: the study folder whose seeds are quoted beside the "
                        "single runs (default: the project's reports/study if it exists)")
    p.add_argument("--allow-missing", action="store_true",
                   help="exit 0 even if some planned runs failed or have no record (they are "
                        "listed on stderr and shown in the report)")
    p.add_argument("--study", action="store_true",
                   help="render the study report (seeds, 40 epochs, ablation) from the results "
                        "of `python -m reglab study` into study_report.html/.pdf")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reglab.report.cli",
                                     description="Render the chapter-8 report.")
    add_report_arguments(parser)
    args = parser.parse_args(argv)
    return run_report(args)


if __name__ == "__main__":
    sys.exit(main())
