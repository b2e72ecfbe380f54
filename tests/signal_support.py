"""Ctrl-C for a command a test starts, as a terminal would deliver it."""

from __future__ import annotations

import contextlib
import signal


@contextlib.contextmanager
def sigint_not_ignored():
    """A child inherits an ignored SIGINT (pytest started as a background job ignores it);
    a handled one is reset to the default on exec, so the CLI gets Ctrl-C like in a terminal."""
    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous == signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)
