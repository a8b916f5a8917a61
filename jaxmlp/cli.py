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
from jaxmlp.commands import stopping

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

COMMANDS = ("train", "evaluate", "gradcheck", "inspect", "predict", "serve")


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (no usage block), exit code 2.

    Abbreviated flags are refused (``--epoch`` is not ``--epochs``): a typo must not silently mean something.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "allow_abbrev": False})

    def error(self, message: str) -> NoReturn:
        if "unrecognized arguments" in message:
            message += _did_you_mean(self, message)
        elif "invalid choice" in message:  # a mistyped command or choice: the closest valid one
            wrong, _, choices = message.partition("(choose from ")
            valid = [c.strip(" '),") for c in choices.split(",")]
            guess = difflib.get_close_matches(wrong.split("'")[1] if "'" in wrong else "", valid, n=1)
            message += f"; did you mean {guess[0]!r}?" if guess else ""
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


def _one_line_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> str:
    return f"jaxmlp: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code (see the module docstring)."""
    import warnings

    previous_format, warnings.formatwarning = warnings.formatwarning, _one_line_warning  # one line, like an error
    restore = stopping.install()
    try:
        return _main(argv)
    except KeyboardInterrupt as stop:  # while starting up (imports, parsing): nothing to save, no traceback
        code = stopping.exit_code(stop)
        print(f"jaxmlp: {'terminated' if code == 143 else 'interrupted'}", file=sys.stderr)
        return code
    finally:
        restore()
        warnings.formatwarning = previous_format


def _main(argv: Sequence[str] | None) -> int:
    parser = _deferring_ctrl_c(build_parser)
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # reported by the subcommand's parser: `jaxmlp train: error: ... (see jaxmlp train --help)`
            commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            commands.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exit_:  # --help, --version (0) or a bad flag (2, already reported in one line)
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt as stop:  # training reports what it saved itself; elsewhere there is nothing to save
        code = stopping.exit_code(stop)
        print(f"jaxmlp {args.command}: {'terminated' if code == 143 else 'interrupted'}", file=sys.stderr)
        return code
    except Exception as error:
        message = _one_line(error)
        if message is None:
            raise  # not bad input: a bug in jaxmlp, which keeps its traceback
    print(f"jaxmlp {args.command}: error: {message}", file=sys.stderr)
    return 2


def _deferring_ctrl_c(start: Any) -> Any:
    """Run ``start()`` (it imports JAX for the choice tables) with Ctrl-C held until it returns.

    A ``KeyboardInterrupt`` inside a C extension's initialisation surfaces as an ``ImportError`` and leaves the
    process unable to exit cleanly; held for that second, it becomes an ordinary interruption afterwards.
    """
    held: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: held.append(signum)) for sig in STOP_SIGNALS}
    try:
        result = start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if held:
        raise stopping.Terminated() if held[0] == signal.SIGTERM else KeyboardInterrupt()
    return result


def _one_line(error: Exception) -> str | None:
    """The message for bad input (``InputError``), a missing data source, or a file the OS refused; else None."""
    from jaxmlp.data.load import HINTS, MNISTUnavailableError
    from jaxmlp.errors import InputError

    if isinstance(error, InputError):
        return " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, MNISTUnavailableError):  # what was tried, then what to do
        tried = "; ".join(f"{source}: {' '.join(str(why).split())[:160]}" for source, why in error.reasons)
        return f"could not load {error.dataset} (tried {tried})\n  what to do: {HINTS[0]}"
    if isinstance(error, OSError):  # a file that cannot be read or written: the OS's reason and the path
        where = f" {error.filename}" if error.filename else ""
        return f"{error.strerror or error}{where}"
    return None


if __name__ == "__main__":
    sys.exit(main())
