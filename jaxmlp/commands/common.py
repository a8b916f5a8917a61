"""What the commands share: the data flags and loading (with its phase shown), progress lines, number parsers."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from jaxmlp.commands import stopping

SOURCES = ("auto", "cache", "tfds", "idx", "mirror")


def positive(kind: type) -> Any:
    """An argparse ``type`` for a positive, finite ``int`` or ``float``."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}; got {text!r}") from None
        if not value > 0 or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}; got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


def add_data_flags(p: argparse.ArgumentParser) -> None:
    """``--source`` and ``--data-dir``."""
    p.add_argument("--source", default="auto", choices=SOURCES, help="where MNIST comes from (default: auto)")
    p.add_argument("--data-dir", help="folder of IDX files (for --source idx)")


def load_data(args: argparse.Namespace, say: Reporter) -> Any:
    """MNIST from ``args.source``, with a phase line while it loads (a first download takes seconds)."""
    import os

    import jaxmlp
    from jaxmlp.errors import InputError

    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise InputError(f"--data-dir {args.data_dir!r} is not a folder; expected a folder holding the MNIST IDX files")
    with say.timed("loading MNIST"):
        return jaxmlp.load_mnist(args.source, data_dir=args.data_dir)


class Reporter:
    """Human-readable lines: on stdout, or on stderr with ``--json`` (stdout then holds only the JSON)."""

    def __init__(self, json_mode: bool = False):
        self.stream = sys.stderr if json_mode else sys.stdout

    def __call__(self, *parts: Any, **kwargs: Any) -> None:
        stopping.raise_if_stopped()  # every progress line is a point where a swallowed Ctrl-C takes effect
        print(*parts, file=self.stream, flush=True, **kwargs)

    def phase(self, text: str) -> None:
        """A line naming what the next wait is for."""
        self(f"{text} …")

    def timed(self, text: str) -> _Timed:
        """``with say.timed("compiling"):`` prints ``compiling …`` then ``compiling: 0.4 s`` when done."""
        return _Timed(self, text)

    def epochs(self, total: int, done: int = 0) -> EpochProgress:
        return EpochProgress(self, total, done)


class _Timed:
    def __init__(self, say: Reporter, text: str):
        self.say, self.text = say, text

    def __enter__(self) -> None:
        self.start = time.perf_counter()
        self.say.phase(self.text)

    def __exit__(self, kind: Any, *_: Any) -> None:
        if kind is None:
            self.say(f"{self.text}: {time.perf_counter() - self.start:.1f} s")


class EpochProgress:
    """A tqdm bar over epochs on a terminal, one plain line per epoch otherwise; the compile shown as its phase.

    The bar's rate is the same per-epoch training time the final summary adds up (compile excluded).
    """

    def __init__(self, say: Reporter, total: int, done: int):
        self.say, self.total, self.bar = say, total, None
        self.interactive = say.stream.isatty()
        self.say.phase("compiling the epoch program")
        self.done = done

    def compiled(self, seconds: float) -> None:
        self.say(f"compiled in {seconds:.2f} s; training {self.total - self.done} epochs")
        if self.interactive:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, initial=self.done, unit="epoch", dynamic_ncols=True, file=self.say.stream)

    def update(self, state: Any, history: Any) -> None:
        stopping.raise_if_stopped()
        cost, acc, seconds = history.test_cost[-1], history.test_accuracy[-1], history.epoch_seconds[-1]
        if self.bar is not None:
            self.bar.set_postfix(test_acc=f"{acc:.2%}", s_per_epoch=f"{seconds:.2f}")
            self.bar.update(1)
        else:
            self.say(f"epoch {state.epoch:3d}  test cost {cost:.4f}  test accuracy {acc:.2%}  {seconds:.2f} s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
