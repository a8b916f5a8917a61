"""``jaxmlp`` command line: one subcommand per module in ``jaxmlp/commands``.

Each command module defines ``add_parser(subparsers)`` (which sets ``run``) and ``run(args) -> int``.
Modules import JAX lazily, inside ``run``, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = ("train", "evaluate", "gradcheck")


class UsageError(Exception):
    """A bad command-line argument: reported in one line with exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxmlp", description="The 784-16-16-10 handwritten-digit network, in JAX."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"jaxmlp.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; bad input of any kind exits with code 2 and one line on stderr."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (UsageError, ValueError, TypeError, OSError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"jaxmlp {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
