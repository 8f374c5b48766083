"""Which third-party code the user has agreed to run in this session (pure Python).

A project file can name code that would run when its shapes are inferred: a Custom module
loaded from a ``.py`` file, or a torch.hub repository (local or remote). Loading a project must
execute no code, and a file cannot vouch for itself, so the trust lives here, outside any
project: the GUI asks the user and calls :func:`trust`; the CLI has ``--trust-code``; the
importer trusts the file the user just chose to import.
"""

from __future__ import annotations

import os

_trusted: set[str] = set()
_trust_all = False
_epoch = 0


def epoch() -> int:
    """Changes whenever trust changes (cached shape results depend on it)."""
    return _epoch


def _key(source: str) -> str:
    source = source.strip()
    if source.endswith(".py") or os.sep in source or source.startswith("."):
        try:
            return os.path.realpath(source)
        except (OSError, ValueError):
            return source
    return source


def trust(source: str) -> None:
    global _epoch
    _trusted.add(_key(source))
    _epoch += 1


def trust_everything(enabled: bool = True) -> None:
    """For ``--trust-code`` on the command line."""
    global _trust_all, _epoch
    _trust_all = enabled
    _epoch += 1


def is_trusted(source: str) -> bool:
    return _trust_all or _key(source) in _trusted


def forget_all() -> None:
    global _trust_all, _epoch
    _trusted.clear()
    _trust_all = False
    _epoch += 1


def untrusted_message(source: str) -> str:
    return (
        f"This block runs code from {source}. Studio does not run code named in a project "
        "until you trust it (Trust code in the block's menu, or --trust-code on the command line)."
    )


def snapshot() -> tuple[tuple[str, ...], bool]:
    """What is trusted now, to hand to a training process (it starts trusting nothing)."""
    return tuple(sorted(_trusted)), _trust_all


def restore(state: tuple[tuple[str, ...], bool]) -> None:
    global _trust_all, _epoch
    trusted, everything = state
    _trusted.clear()
    _trusted.update(trusted)
    _trust_all = bool(everything)
    _epoch += 1
