"""``jaxmlp`` command line: one subcommand per module in ``jaxmlp/commands``.

Each command module defines ``add_parser(subparsers)`` (which sets ``run``) and ``run(args) -> int``.
Command modules import their heavy optional dependencies (matplotlib, tensorflow-datasets) inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from jaxmlp.data.load import HINTS, MNISTUnavailableError

COMMANDS = ("train", "evaluate", "gradcheck", "inspect", "predict")


class UsageError(Exception):
    """A bad command-line argument: reported in one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (no usage block), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jaxmlp", description="The 784-16-16-10 handwritten-digit network, in JAX.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"jaxmlp.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; bad input of any kind exits with code 2 and one line on stderr."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a bad flag (2, already reported in one line)
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:  # Ctrl-C outside training (which saves and reports it itself)
        print(f"jaxmlp {args.command}: interrupted", file=sys.stderr)
        return 130
    except (UsageError, ValueError, TypeError, OSError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    except MNISTUnavailableError as error:  # no source had the data: every reason and what to do, on one line
        tried = "; ".join(f"{source}: {' '.join(str(why).split())}" for source, why in error.reasons)
        message = f"could not load {error.dataset} ({tried}); {' '.join(HINTS)}"
    print(f"jaxmlp {args.command}: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
