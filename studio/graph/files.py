"""Reading and writing the user's files without losing one or hanging. Pure Python, no torch.

Every file Studio writes (a project, an autosave, an export, an imported project, a run's
files) goes through :func:`write_target`: a symbolic link is followed to the file it names (so
the link stays a link and its target gets the new content), and a device, a FIFO, a socket or
a folder is refused, never replaced; ``''`` is refused as a name. Every file Studio reads
from a path the user or a project names (a project, text data, a module's weights, a
checkpoint) goes through :func:`check_readable`: a regular file no larger than the limit
given, so ``/dev/zero`` or a FIFO can neither fill the memory nor block the reader.

The errors are :class:`UnsafeFile`, an :class:`OSError` with a one-line message, so callers
that already turn ``OSError`` into their own one-line error need no new branch.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: symbolic links followed before giving up (the kernel's own limit is 40)
MAX_LINKS = 40


class UnsafeFile(OSError):
    """A path Studio will not read or write; ``str()`` is one line for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.strerror = message

    def __str__(self) -> str:
        return self.strerror


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def write_target(path: str | os.PathLike[str]) -> Path:
    """The path to write ``path``'s new content to: ``path`` itself, or the file a symbolic
    link (or a chain of them) names. Raises :class:`UnsafeFile` for an empty name, a loop of
    links, or a target that exists and is not a regular file."""
    if not str(path).strip():
        raise UnsafeFile("the file name is empty; give a file to write")
    if "\0" in str(path):
        raise UnsafeFile("the file name holds a NUL character; no file can have that name")
    target = Path(path)
    for _ in range(MAX_LINKS):
        try:
            st = target.lstat()
        except FileNotFoundError:
            return target
        except OSError as e:
            raise UnsafeFile(f"{target}: cannot reach the file ({e.strerror or e})") from None
        if stat.S_ISLNK(st.st_mode):
            link = Path(os.readlink(target))
            target = link if link.is_absolute() else target.parent / link
            continue
        if not stat.S_ISREG(st.st_mode):
            shown = f"{path} (a link to {target})" if target != Path(path) else str(path)
            raise UnsafeFile(
                f"{shown} is {_kind(st.st_mode)}; Studio writes only regular files, choose a file name"
            )
        return target
    raise UnsafeFile(f"{path}: too many symbolic links (a loop?)")


def check_readable(path: str | os.PathLike[str], limit: int, what: str = "the file") -> int:
    """The size of ``path`` if it is a regular file (links followed) of at most ``limit`` bytes;
    else :class:`UnsafeFile` (or FileNotFoundError) with one line naming ``what`` and why.
    Checked with ``stat`` before any ``open``, so a FIFO never blocks."""
    if "\0" in str(path):
        raise UnsafeFile(f"{what} has a NUL character in its name; no file can have that name")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise UnsafeFile(f"{path}: cannot read {what} ({e.strerror or e})") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFile(f"{path} is {_kind(st.st_mode)}; {what} must be a regular file")
    if st.st_size > limit:
        raise UnsafeFile(
            f"{path}: {what} is too large ({_size(st.st_size)}; the limit is {_size(limit)})"
        )
    return st.st_size


def read_bytes(path: str | os.PathLike[str], limit: int, what: str = "the file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see :func:`check_readable`);
    reads at most ``limit + 1`` bytes even if the file grows meanwhile."""
    check_readable(path, limit, what)
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UnsafeFile(f"{path}: {what} is too large (more than {_size(limit)})")
    return data


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def memory_budget() -> int:
    """Bytes of physical memory (8 GB where the system does not say): the bound that a file
    read whole, or a model built from declarations, is held against."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 8 * 10**9


def sha256_of(path: str | os.PathLike[str], limit: int | None = None) -> str:
    """The SHA-256 of a regular file (checked as :func:`check_readable` does), read in blocks."""
    import hashlib

    check_readable(path, memory_budget() if limit is None else limit)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
