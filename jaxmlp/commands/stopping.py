"""Ctrl-C and SIGTERM for the commands: both stop every phase the same way, and a stop is never lost.

Python delivers a signal as an exception in whatever frame runs at that moment; when that is a finalizer
(``__del__``, a gc callback) the exception is printed and swallowed, and the command would go on. So the
handler also records the stop, and ``raise_if_stopped`` (called at every progress line) raises it again.
"""

from __future__ import annotations

import signal
from typing import Any, NoReturn


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's ``KeyboardInterrupt`` would be. ``exit_code`` 143 (128 + 15)."""

    exit_code = 143


_stops: list[KeyboardInterrupt] = []


def _on_signal(signum: int, frame: Any) -> NoReturn:
    stop = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
    _stops.append(stop)
    raise stop


def install() -> Any:
    """Handle SIGINT and SIGTERM as described above; return a function that puts the previous handlers back."""
    _stops.clear()
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    return lambda: [signal.signal(sig, handler) for sig, handler in previous.items()]


def raise_if_stopped() -> None:
    """Raise the stop that was asked for, if one was (and perhaps swallowed by a finalizer)."""
    if _stops:
        raise _stops[0]


def exit_code(stop: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM."""
    return getattr(stop, "exit_code", 130)
