"""Which outside code the user has agreed to run in this session (pure Python, no Qt, no torch).

A project file can name code that would run when its shapes are inferred: a Custom module
loaded from a ``.py`` file or imported by module name, or a torch.hub repository. Importing a
module by name runs its top-level code exactly like loading a file does, so both need the same
consent. Loading a project must execute no code, and a file cannot vouch for itself, so the
trust lives here, outside any project: the window asks the user and calls :func:`trust`; the
CLI has ``--trust-code``; the importer trusts the file the user just chose to import.

Only the packages Studio itself depends on (:data:`ALLOWED_PACKAGES`) may be imported without
consent, and then never from the project's folder or the working directory (a ``torchvision.py``
dropped next to a project must not stand in for the real one): see :func:`import_module`.

The state is one immutable :class:`TrustPolicy`; what a block's cached shapes depend on is the
policy's answer for the outside code that block names (``BlockType.outside_code``), not a
global counter.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import threading
from dataclasses import dataclass, replace
from types import ModuleType

#: top-level packages a project may import by name without the user's consent
ALLOWED_PACKAGES = frozenset({"torch", "torchvision"})

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class UntrustedCode(Exception):
    """Outside code the user has not trusted; ``str()`` is one line for the user."""


def _key(source: str) -> str:
    source = source.strip()
    if source.endswith(".py") or os.sep in source or source.startswith("."):
        try:
            return os.path.realpath(source)
        except (OSError, ValueError):
            return source
    return source


def is_module_name(source: str) -> bool:
    """True for ``pkg.mod`` (not a file path, not a repository)."""
    return bool(_DOTTED.match(source.strip())) and not source.strip().endswith(".py")


def allowed_without_consent(module: str) -> bool:
    """An allow-listed module (``torch.nn``, ``torchvision.models``...); never ``__main__``
    or a private ``_`` name, which exist to run code or are no API."""
    parts = module.strip().split(".")
    return parts[0] in ALLOWED_PACKAGES and not any(p.startswith("_") for p in parts[1:])


@dataclass(frozen=True)
class TrustPolicy:
    """What the user allowed: a set of sources (real paths of files, module names, repository
    names), or everything (``--trust-code``). Immutable: a changed trust is a new policy."""

    trusted: frozenset[str] = frozenset()
    everything: bool = False

    def allows(self, source: str) -> bool:
        """May the code named by ``source`` (a file, a module name or a repository) run?"""
        if self.everything:
            return True
        if is_module_name(source) and allowed_without_consent(source):
            return True
        return _key(source) in self.trusted

    def trusts(self, source: str) -> bool:
        """Did the user trust ``source`` itself (the allow-list aside)?"""
        return self.everything or _key(source) in self.trusted

    def with_source(self, source: str) -> TrustPolicy:
        return replace(self, trusted=self.trusted | {_key(source)})

    def decisions(self, sources: list[str] | tuple[str, ...]) -> tuple[bool, ...]:
        """The answers for one block's outside code: what its cached results depend on."""
        return tuple(self.allows(s) for s in sources)


_policy = TrustPolicy()
_lock = threading.Lock()


def policy() -> TrustPolicy:
    """The session's policy now (pass it on; it never changes under you)."""
    return _policy


def _set(new: TrustPolicy) -> None:
    global _policy
    _policy = new


def trust(source: str) -> None:
    _set(_policy.with_source(source))


def trust_everything(enabled: bool = True) -> None:
    """For ``--trust-code`` on the command line."""
    _set(replace(_policy, everything=enabled))


def is_trusted(source: str) -> bool:
    """True when the user trusted ``source`` (a file, module name or repository) this session."""
    return _policy.trusts(source)


def allows(source: str) -> bool:
    """True when ``source`` may run now: trusted, or an allow-listed module name."""
    return _policy.allows(source)


def forget_all() -> None:
    _set(TrustPolicy())


def shorten(text: str, limit: int = 80) -> str:
    """User text as it may be echoed in a message: at most ``limit`` characters."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def untrusted_message(source: str) -> str:
    return (
        f"This block runs code from {shorten(source)}. Studio does not run code named in a "
        "project until you trust it (Trust code in the block's menu, or --trust-code on the "
        "command line)."
    )


def snapshot() -> tuple[tuple[str, ...], bool]:
    """What is trusted now, to hand to a training process (it starts trusting nothing)."""
    return tuple(sorted(_policy.trusted)), _policy.everything


def restore(state: tuple[tuple[str, ...], bool]) -> None:
    trusted, everything = state
    _set(TrustPolicy(frozenset(trusted), bool(everything)))


# ------------------------------------------------------------------ importing by module name
def _local_paths() -> set[str]:
    """sys.path entries that mean "the working directory" (``''``, ``.``, the cwd itself)."""
    try:
        cwd = os.path.realpath(os.getcwd())
    except OSError:
        cwd = ""
    out = set()
    for entry in sys.path:
        try:
            if entry in ("", ".") or os.path.realpath(entry) == cwd:
                out.add(entry)
        except (OSError, ValueError, TypeError):
            continue
    return out


@contextlib.contextmanager
def _without_local_paths(extra: tuple[str, ...] = ()):
    """Import with the working directory (and the given folders) off ``sys.path``."""
    drop = _local_paths() | {e for e in sys.path if e in extra}
    with _lock:
        saved = list(sys.path)
        sys.path[:] = [e for e in saved if e not in drop]
        try:
            yield
        finally:
            sys.path[:] = saved + [e for e in sys.path if e not in saved]


def _origin_is_local(module: ModuleType, folders: tuple[str, ...] = ()) -> bool:
    """Was this top-level module found in the working folder (or one of ``folders``), as
    ``torchvision.py`` or ``torchvision/__init__.py`` there?"""
    where = getattr(module, "__file__", None)
    if not where:
        return False
    try:
        root = os.path.dirname(os.path.realpath(where))
        if os.path.basename(where).startswith("__init__."):
            root = os.path.dirname(root)
        local = {os.path.realpath(os.getcwd()), *(os.path.realpath(f) for f in folders)}
    except (OSError, ValueError):
        return False
    return root in local


def import_module(name: str, policy_: TrustPolicy | None = None, folders: tuple[str, ...] = ()) -> ModuleType:
    """Import the module a project names, only as the policy allows.

    Untrusted and not allow-listed: :class:`UntrustedCode`, and nothing is imported. An
    allow-listed package is imported with the working directory and ``folders`` (the
    project's folder) off ``sys.path``, and refused if it still came from there.
    """
    pol = policy_ or _policy
    name = name.strip()
    if pol.trusts(name):
        return importlib.import_module(name)
    if not (is_module_name(name) and allowed_without_consent(name)):
        raise UntrustedCode(untrusted_message(name))
    top = name.split(".")[0]
    with _without_local_paths(tuple(folders)):
        module = importlib.import_module(name)
    if _origin_is_local(sys.modules.get(top, module), tuple(folders)):
        raise UntrustedCode(
            f"{shorten(top)} was found in the working folder, not where Studio's own copy is "
            "installed; Studio does not run it."
        )
    return module
