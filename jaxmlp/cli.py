"""``jaxmlp`` command line: one subcommand per module in ``jaxmlp/commands``.

Each command module defines ``add_parser(subparsers)`` (which sets ``run``) and ``run(args) -> int``.
Command modules import their heavy dependencies (JAX, matplotlib, tensorflow-datasets) inside ``run``.

Exit codes: 0 success; 1 the command ran and its answer is "no" (a gradient check failed, training diverged);
2 bad input, reported in one line (``jaxmlp.InputError``, a missing data source, a file that cannot be
written); 130 Ctrl-C and 143 SIGTERM, each with what was saved. Any other exception is a bug in jaxmlp and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from jaxmlp import __version__

COMMANDS = ("train", "evaluate", "gradcheck", "inspect", "predict", "serve")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's ``KeyboardInterrupt`` would be, so both stop every phase the same way."""

    exit_code = 143


def _on_sigterm(signum: int, frame: Any) -> NoReturn:
    raise Terminated()


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (no usage block), exit code 2."""

    def error(self, message: str) -> NoReturn:
        if "unrecognized arguments" in message:
            message += _did_you_mean(self, message)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _did_you_mean(parser: argparse.ArgumentParser, message: str) -> str:
    flags = [s for action in parser._actions for s in action.option_strings]
    words = message.split(":", 1)[-1].split()
    guesses = [g for word in words for g in difflib.get_close_matches(word.split("=")[0], flags, n=1)]
    return f"; did you mean {', '.join(guesses)}?" if guesses else ""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jaxmlp", description="The 784-16-16-10 handwritten-digit network, in JAX.")
    parser.add_argument("--version", action="version", version=f"jaxmlp {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"jaxmlp.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code (see the module docstring)."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    from jaxmlp.data.load import HINTS, MNISTUnavailableError
    from jaxmlp.errors import InputError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version (0) or a bad flag (2, already reported in one line)
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt as stop:  # training reports what it saved itself; elsewhere there is nothing to save
        code = getattr(stop, "exit_code", 130)
        print(f"jaxmlp {args.command}: {'terminated' if code == 143 else 'interrupted'}", file=sys.stderr)
        return code
    except InputError as error:
        message = " ".join(str(error).split()) or type(error).__name__
    except MNISTUnavailableError as error:  # no source had the data: what was tried, then what to do
        tried = "; ".join(f"{source}: {' '.join(str(why).split())[:160]}" for source, why in error.reasons)
        message = f"could not load {error.dataset} (tried {tried})\n  what to do: {HINTS[0]}"
    except OSError as error:  # a file that cannot be read or written: the OS's reason and the path, one line
        where = f" {error.filename}" if error.filename else ""
        message = f"{error.strerror or error}{where}"
    print(f"jaxmlp {args.command}: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
