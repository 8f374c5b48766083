"""One run per run folder: a lock file that the run holding the folder keeps open.

``studio train --out D`` twice at once, or the CLI pointed at a folder the window is training
into, used to interleave two runs' metrics, weights and checkpoints, both exiting 0. The
first run takes an exclusive ``flock`` on ``D/.studio-run.lock`` and writes who it is; the
second reads that and says who holds the folder. The kernel drops the lock when the holder's
process ends in any way (``kill -9`` included), so no stale lock is ever left to clean up.
Systems without ``fcntl`` fall back to creating the file exclusively and checking its pid.
No torch, no Qt.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

LOCK_NAME = ".studio-run.lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


class RunFolderBusy(Exception):
    """The folder cannot be used for this run; ``str()`` is one line for the user."""


class RunLock:
    """Held while a run writes into ``folder``; :meth:`release` (or process exit) frees it."""

    def __init__(self, folder: Path, fd: int) -> None:
        self.folder, self._fd = folder, fd

    @classmethod
    def acquire(cls, folder: str | os.PathLike[str], who: str) -> RunLock:
        """Create ``folder`` if needed and lock it for this process, or raise
        :class:`RunFolderBusy` naming the holder (or why the folder cannot be written)."""
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            what = "a file" if folder.is_file() else "a device or special file"
            raise RunFolderBusy(
                f"{folder} is {what}, not a folder; give a folder for the run's files"
            )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise RunFolderBusy(f"cannot write into {folder} ({_reason(e)})") from None
        if not _lock(fd, folder):
            os.close(fd)
            raise RunFolderBusy(
                f"{folder} is in use by another run: {holder(folder)}; wait for it or choose another folder"
            )
        info = {"pid": os.getpid(), "host": socket.gethostname(), "who": who, "since": time.time()}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except OSError as e:
            os.close(fd)
            raise RunFolderBusy(f"cannot write into {folder} ({_reason(e)})") from None
        return cls(folder, fd)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            if fcntl is None:  # pragma: no cover - Windows
                os.unlink(self.folder / LOCK_NAME)
        except OSError:
            pass
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def holder(folder: str | os.PathLike[str]) -> str:
    """Who holds ``folder``, in words, as far as its lock file says."""
    try:
        info = json.loads(Path(folder, LOCK_NAME).read_text(encoding="utf-8"))
        since = time.strftime("%H:%M:%S", time.localtime(float(info["since"])))
        return f"{info['who']} (pid {int(info['pid'])} on {info['host']}, since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return "a run that is just starting"


def is_locked(folder: str | os.PathLike[str]) -> bool:
    """Whether another process holds ``folder`` now."""
    try:
        fd = os.open(Path(folder) / LOCK_NAME, os.O_RDWR)
    except OSError:
        return False
    try:
        free = _lock(fd, Path(folder))
        return not free
    finally:
        os.close(fd)


def _lock(fd: int, folder: Path) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
    try:  # pragma: no cover - Windows: the pid in the file decides
        pid = json.loads(os.read(fd, 4096) or b"{}").get("pid")
        if isinstance(pid, int) and pid != os.getpid():
            os.kill(pid, 0)
            return False
    except (OSError, ValueError, AttributeError):
        pass
    return True


def _reason(e: OSError) -> str:
    if isinstance(e, PermissionError):
        return "permission denied: the folder is read-only"
    return e.strerror or str(e)
