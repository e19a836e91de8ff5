"""The chapter-8 report: content from the run records, and its rendering.

* :mod:`reglab.report.content` — load ``<runs_dir>/<profile>/<name>.json``, build the tables and
  the Korean sentences that depend on numbers (used by ``notebooks/chapter8_report.ipynb``);
* :mod:`reglab.report.render` — :func:`build_report`: execute the notebook with papermill, then
  HTML (MathML math, no scripts), PDF (headless Chromium) and a PNG of page 1;
* :mod:`reglab.report.cli` — ``python -m reglab report`` (and ``python -m reglab.report.cli``).

The heavy imports (papermill, nbconvert) happen only when :func:`build_report` is used.
"""

from __future__ import annotations

__all__ = ["build_report", "load_report_data", "ReportError"]


def __getattr__(name):
    if name in ("build_report", "ReportError"):
        from . import render
        return getattr(render, name)
    if name == "load_report_data":
        from .content import load_report_data
        return load_report_data
    raise AttributeError(f"module 'reglab.report' has no attribute {name!r}")
