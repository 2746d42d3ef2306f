"""Ctrl-C and SIGTERM end the command with one line and exit 130 / 143 (issue 26).

Installed first thing (``python -m graphchurn`` before any other import of the command line;
the ``graphchurn`` script when :mod:`graphchurn.app.cli` is imported): both signals raise
:class:`Interrupted`, a :class:`KeyboardInterrupt`, so every ``finally`` and every atomic
output set (:mod:`graphchurn.io.atomic`) cleans up as for Ctrl-C, and the command line turns it
into one line. Should a library swallow the exception, it is raised again every second until
the command line has reported it, so a stopped run never completes and writes its outputs.
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading
import time

__all__ = ["Interrupted", "install", "restore", "report"]

_NAMES = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated (SIGTERM)"}


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; ``signum`` says which."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signum)
        self.signum = signum


_first: int | None = None   # the signal that stopped the run
_reported = False           # report() has printed its line


def _handler(signum, frame):
    global _first
    if _first is None:
        _first = signum
        # A library may swallow the exception (a bare ``except:`` around an import): say it
        # again every second until the command line has reported it.
        threading.Thread(target=_insist, name="graphchurn-interrupt", daemon=True).start()
    raise Interrupted(_first)


def _insist() -> None:
    while True:
        time.sleep(1.0)
        if _reported:
            return
        _thread.interrupt_main(_first)


def install() -> dict:
    """Route SIGINT and SIGTERM to :class:`Interrupted` (main thread only; else a no-op).

    Returns the handlers it replaced, for :func:`restore`.
    """
    previous = {}
    try:
        for sig in _NAMES:
            handler = signal.getsignal(sig)
            if handler is not signal.SIG_IGN:  # nohup / background jobs keep ignoring
                previous[sig] = handler
                signal.signal(sig, _handler)
    except ValueError:  # not the main thread (e.g. the CLI called from a worker thread)
        pass
    return previous


def restore(previous: dict) -> None:
    """Put back the handlers :func:`install` replaced (a run called in-process ends)."""
    try:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
    except ValueError:
        pass


def report(err: BaseException) -> int:
    """Print the one line for an interrupt and return its exit code (128 + signal)."""
    global _reported
    _reported = True
    signum = getattr(err, "signum", signal.SIGINT)
    try:
        print(f"graphchurn: {_NAMES.get(signum, 'interrupted')}; earlier outputs are left as "
              "they were", file=sys.stderr)
    except (OSError, ValueError):
        pass
    return 128 + int(signum)
