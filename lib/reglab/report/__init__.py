"""The chapter-8 report and the study report: content from the run records, and its rendering.

The notebooks ``notebooks/chapter8_report.ipynb`` and ``notebooks/study_report.ipynb`` call the
content modules and display what they return; :mod:`reglab.report.render` executes them and
writes the HTML/PDF; :mod:`reglab.report.cli` is ``python -m reglab report``. The modules are
described in ``README.md`` next to this file.

The heavy imports (papermill, nbconvert) happen only when :func:`build_report` is used.
"""

from __future__ import annotations

__all__ = ["build_report", "build_study_report", "load_report_data", "load_study_data",
           "ReportError"]


def __getattr__(name):
    if name in ("build_report", "build_study_report", "ReportError"):
        from . import render
        return getattr(render, name)
    if name in ("load_report_data", "load_study_data"):
        from . import records
        return getattr(records, name)
    raise AttributeError(f"module 'reglab.report' has no attribute {name!r}")
