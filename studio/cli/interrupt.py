"""Ctrl-C during a run started from the terminal (`studio train`, `studio sweep`)."""

from __future__ import annotations

import contextlib
import signal
import sys


@contextlib.contextmanager
def stop_on_ctrl_c(stop):
    """While inside: the first Ctrl-C calls ``stop`` (the run ends after this batch and keeps
    what it wrote); a second one aborts (KeyboardInterrupt). The previous handler comes back.
    Yields a list that holds an entry once Ctrl-C was pressed (exit status 130)."""
    interrupted = []

    def on_sigint(signum, frame):
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(True)
        print("\nStopping after this batch (Ctrl-C again to abort)...", file=sys.stderr)
        stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)
