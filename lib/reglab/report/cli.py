"""Command line for the report: ``python -m reglab report [--runs-dir DIR] [--out DIR] [--no-pdf]``.

``--study`` renders the study report (``notebooks/study_report.ipynb`` on ``reports/study``,
written by ``python -m reglab study``) into ``study_report.html/.pdf/_page1.png`` instead.

Before rendering, every record the report plans is read here too: a record that is there but
cannot be used (not JSON, a field of the wrong type) is named on stderr with the field, and the
report goes on without that run (it shows as unreadable).

Also runs standalone: ``python -m reglab.report.cli [options]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..paths import project_root

__all__ = ["add_report_parser", "run_report", "warn_unreadable", "main"]


def _project_path(*parts) -> Path:
    """``<checkout>/<parts>`` (the current folder if reglab does not run from a checkout)."""
    return (project_root() or Path.cwd()).joinpath(*parts)


def run_report(args) -> int:
    """Build the report from parsed arguments; returns the exit code (0 ok, 1 failed)."""
    from .render import ReportError, build_report

    study = getattr(args, "study", False)
    default_runs = ("reports", "study") if study else ("reports", "runs")
    runs_dir = Path(args.runs_dir) if args.runs_dir else _project_path(*default_runs)
    out_dir = Path(args.out) if args.out else _project_path("reports")
    warn_unreadable(runs_dir, study, getattr(args, "profiles", None))
    try:
        if study:
            from .render import build_study_report
            out = build_study_report(runs_dir, out_dir, pdf=not args.no_pdf, png=not args.no_pdf)
        else:
            out = build_report(runs_dir, out_dir, pdf=not args.no_pdf, png=not args.no_pdf,
                               profiles=args.profiles)
    except ReportError as exc:
        print(f"보고서를 만들지 못했습니다 / report failed: {exc}", file=sys.stderr)
        return 1
    done = [p for p in (out.html, out.pdf, out.png) if p is not None]
    print("보고서 / report: " + ", ".join(str(p) for p in done)
          + f"  ({out.seconds.get('total', 0):.1f} s)")
    return 0


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
