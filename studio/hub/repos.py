"""torch.hub repositories: names, entry points, keyword arguments and trust.

A repository is ``owner/repo[:ref]`` on GitHub or a local folder with a ``hubconf.py``.
Entry points are read from ``hubconf.py`` with :mod:`ast` (no code runs to list them).
Loading a remote repository runs its code, so Studio loads one only after the user has
confirmed (:func:`trust_prompt`); only then is ``trust_repo=True`` passed to torch.hub.
Keyword arguments are a Python dict literal parsed with :func:`ast.literal_eval`, never eval.
"""

from __future__ import annotations

import ast
import keyword
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio import pyast
from studio.blocks.text import short_repr

HUBCONF = "hubconf.py"
_REMOTE = re.compile(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)(?::([A-Za-z0-9_./-]+))?$")
#: torch.hub.load's own keywords: a model keyword argument must not shadow them
_RESERVED = {"source", "trust_repo", "force_reload", "verbose", "skip_validation", "repo_or_dir", "model"}
#: keyword values switched off during shape inference (no download while inferring shapes)
_NO_DOWNLOAD = {"pretrained": False, "weights": None, "progress": False}


class HubError(ValueError):
    """A repository, entry point or argument problem, in words for the user."""


@dataclass(frozen=True)
class Repo:
    text: str
    local: Path | None = None
    owner: str = ""
    name: str = ""
    ref: str | None = None

    @property
    def is_local(self) -> bool:
        return self.local is not None

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"


def parse_repo(text: str) -> Repo:
    """``owner/repo[:ref]`` or an existing local folder."""
    text = (text or "").strip()
    if not text:
        raise HubError("Choose a repository: owner/repo[:ref] on GitHub, or a local folder.")
    path = Path(os.path.expanduser(text))
    looks_local = text.startswith((".", "/", "~", "\\")) or text[1:3] in (":\\", ":/")
    try:
        is_dir = path.is_dir()
    except (OSError, ValueError):  # a name too long for the system, a NUL character...
        is_dir = False
    if is_dir or looks_local:
        if not is_dir:
            raise HubError(f"The folder {short_repr(text)} does not exist.")
        return Repo(text, local=path.resolve())
    m = _REMOTE.match(text)
    if not m:
        raise HubError(
            f"{short_repr(text)} is not a repository: write owner/repo or owner/repo:ref "
            "(e.g. pytorch/vision:v0.19.0), or give a local folder."
        )
    return Repo(text, owner=m.group(1), name=m.group(2), ref=m.group(3))


def cached_repo_dir(repo: Repo) -> Path | None:
    """Where torch.hub keeps the downloaded code of ``repo`` (None when not downloaded)."""
    if repo.is_local:
        return repo.local
    import torch.hub

    hub = Path(torch.hub.get_dir())
    refs = [repo.ref.replace("/", "_")] if repo.ref else ["main", "master"]
    for ref in refs:
        d = hub / f"{repo.owner}_{repo.name}_{ref}"
        if (d / HUBCONF).is_file():
            return d
    return None


def list_entrypoints(repo_text: str) -> list[str]:
    """Entry points of a repository, read from its ``hubconf.py`` without running it.

    Like ``torch.hub.list``: every public function or imported name, except ``dependencies``.
    A remote repository must have been downloaded (after the user trusted it)."""
    repo = parse_repo(repo_text)
    folder = cached_repo_dir(repo)
    if folder is None:
        raise HubError(
            f"{repo.text} is not downloaded yet; Studio downloads it after you confirm you "
            "trust its code."
        )
    path = folder / HUBCONF
    try:
        tree = pyast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except FileNotFoundError:
        raise HubError(f"{folder} has no {HUBCONF}: it is not a torch.hub repository.") from None
    except SyntaxError as e:
        raise HubError(f"{path} cannot be read: {e.msg} (line {e.lineno}).") from None
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.ImportFrom):
            names += [a.asname or a.name for a in node.names if a.name != "*"]
    return sorted({n for n in names if not n.startswith("_") and n != "dependencies"})


def trust_prompt(repo_text: str) -> str:
    """The question to ask before the first load of a remote repository."""
    repo = parse_repo(repo_text)
    if repo.is_local:
        return f"Load the model from the local folder {repo.local}? This runs its hubconf.py."
    return (
        f"Loading a model from {repo.slug} downloads that GitHub repository and runs its code "
        f"(hubconf.py and what it imports) on this computer, with your permissions.\n\n"
        f"Only continue if you trust {repo.owner}. Do you trust {repo.slug}?"
    )


def fetch_repo(repo_text: str, trusted: bool) -> Path:
    """Download a remote repository's code into torch.hub's cache (after confirmation)."""
    repo = parse_repo(repo_text)
    found = cached_repo_dir(repo)
    if found is not None:
        return found
    if not trusted:
        raise HubError(trust_prompt(repo_text))
    if os.environ.get("STUDIO_NO_NETWORK"):
        raise HubError(f"Cannot download {repo.text}: the network is switched off (STUDIO_NO_NETWORK).")
    import torch.hub

    try:
        torch.hub.list(repo.text, trust_repo=True, verbose=False)
    except Exception as e:  # network errors, missing repository, bad ref
        import torch.hub as hub

        raise HubError(
            f"Cannot download {repo.text} ({e}). Clone it yourself and give its folder instead, "
            f"or put it in {hub.get_dir()}."
        ) from None
    found = cached_repo_dir(repo)
    if found is None:  # pragma: no cover - torch.hub named the folder differently
        raise HubError(f"{repo.text} was downloaded but not found in {torch.hub.get_dir()}.")
    return found


def parse_kwargs(text: str) -> dict[str, Any]:
    """``{"num_classes": 10}`` -> a dict, with :func:`ast.literal_eval` (never eval)."""
    text = (text or "").strip()
    if not text:
        return {}
    try:
        value = pyast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise HubError(
            "Keyword arguments must be a Python dict of plain values, like "
            "{'num_classes': 10, 'pretrained': False}."
        ) from None
    if not isinstance(value, dict):
        raise HubError("Keyword arguments must be a dict, like {'num_classes': 10}.")
    for key in value:
        if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
            raise HubError(f"{short_repr(key)} is not a valid keyword argument name.")
        if key in _RESERVED:
            raise HubError(f"{short_repr(key)} is set by Studio; remove it from the keyword arguments.")
    return value


def inference_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments with downloads switched off (``pretrained=False``...)."""
    return {k: (_NO_DOWNLOAD[k] if k in _NO_DOWNLOAD else v) for k, v in kwargs.items()}
