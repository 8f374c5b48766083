"""The weights files a project's module uses start from (``weights`` of a use): checked before
anything is built. Pure Python, no torch.

Open as layers writes ``<block>_pretrained-<first 16 hex digits of its SHA-256>.pt`` and never
overwrites a file (:mod:`studio.interop.open_backbone`): the digest in the name is the record
of what was written, so a file replaced under the project (another project's weights, a copy
of other weights with the same shapes) is noticed here instead of loading silently.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from studio.graph.files import UnsafeFile, memory_budget, sha256_of
from studio.graph.modules import MODULE_PREFIX, blocks_deep

#: the digest Open as layers puts in the file name
DIGEST = re.compile(r"-([0-9a-f]{16})\.pt$")

_cache: dict[tuple, str] = {}


def digest_name(stem: str, digest: str) -> str:
    return f"{stem}-{digest[:16]}.pt"


def resolve(path: str, base_dir: str | os.PathLike[str] | None) -> Path:
    p = Path(os.path.expanduser(path))
    return p if p.is_absolute() or base_dir is None else Path(base_dir) / p


def file_problem(path: Path) -> str | None:
    """Why a use cannot load ``path`` (None: it can): missing, not a regular file, larger than
    the memory, or not the file whose digest its name records."""
    if "\0" in str(path):
        return "its weights file name holds a NUL character; no file can have that name"
    try:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        digest = _cache.get(key) or sha256_of(path, memory_budget())
    except FileNotFoundError:
        return f"its weights file {_shown(path)} does not exist"
    except UnsafeFile as e:
        return str(e) if len(str(path)) <= 120 else f"its weights file {_shown(path)}: {e.strerror[-80:]}"
    except OSError as e:
        return f"cannot read its weights file {_shown(path)} ({e.strerror or type(e).__name__})"
    _cache[key] = digest
    m = DIGEST.search(path.name)
    if m and not digest.startswith(m.group(1)):
        return (
            f"its weights file {_shown(path)} changed after Studio wrote it (its content is not the one "
            "its name records); open the Backbone as layers again or clear 'start from weights'"
        )
    return None


def _shown(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 120 else text[:60] + "..." + text[-57:]


def weights_problems(
    graph, base_dir: str | os.PathLike[str] | None = None
) -> list[tuple[object, str]]:
    """(block, message) for every module use, at any depth, whose weights file cannot load."""
    out = []
    for block in blocks_deep(graph):
        if not block.type.startswith(MODULE_PREFIX):
            continue
        value = str(block.params.get("weights", "") or "").strip()
        if value:
            problem = file_problem(resolve(value, base_dir))
            if problem:
                out.append((block, problem))
    return out
