"""``python -m reglab`` / ``reglab``: command line entry point."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    """Parse ``argv`` and run the chosen subcommand."""
    from reglab.data.cli import add_data_parser, run
    parser = argparse.ArgumentParser(prog="reglab", description="reglab command line")
    sub = parser.add_subparsers(dest="command", metavar="{data}", required=True)
    add_data_parser(sub)
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
