"""Is a process of this machine still running? (Standard library only: the window asks at start.)"""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (this process included). A process that exists but is not ours
    to signal (PermissionError) counts as running: its files are not ours to take over."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
