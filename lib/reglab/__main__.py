"""``python -m reglab`` / ``reglab``: command line entry point.

Each subcommand lives in its own module with an ``add_<name>_parser(subparsers)`` function that
registers it and sets ``func`` (called with the parsed namespace, returns an exit code):
``data`` (reglab.data.cli), ``run`` (reglab.pipeline.runner), ``report`` (reglab.report.cli),
``study`` (reglab.pipeline.study) and ``class`` (reglab.classroom.handout). Ctrl-C that no subcommand handles ends the command with
``interrupted`` and exit code 130, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: (module, function) of each subcommand.
SUBCOMMANDS = [
    ("reglab.data.cli", "add_data_parser"),
    ("reglab.pipeline.runner", "add_run_parser"),
    ("reglab.report.cli", "add_report_parser"),
    ("reglab.pipeline.study", "add_study_parser"),
    ("reglab.classroom.handout", "add_class_parser"),
]


def main(argv=None) -> int:
    """Parse ``argv`` and run the chosen subcommand."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _main(argv) -> int:
    from reglab.data.cli import run
    parser = argparse.ArgumentParser(prog="reglab", description="reglab command line")
    sub = parser.add_subparsers(dest="command", required=True)
    for module, func in SUBCOMMANDS:
        getattr(importlib.import_module(module), func)(sub)
    sub.metavar = "{" + ",".join(sub.choices) + "}"
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
