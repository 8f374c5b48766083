"""Open a pretrained Backbone into its editable layers, keeping its pretrained weights.

The Backbone's own model is built exactly as training would build it (the generated code, its
weights made local first), traced with torch.fx into module definitions that keep its
hierarchy (``fx_hierarchy``), and checked: the definitions' code must load the model's
``state_dict`` with ``strict=True`` and give the same outputs. The weights are written to a
new file beside the project, named with their digest and never over another file, that the new module block loads when built (its ``weights``, read
with ``weights_only=True``), so a user can replace or unfreeze one layer and keep the
pretrained weights for the rest. The graph change itself is the undoable
:class:`~studio.graph.insert_modules.ReplaceWithModule`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.compiler import analyze, build_model, generate
from studio.compiler.build import build_class
from studio.graph.insert_modules import ReplaceWithModule
from studio.graph.model import Graph
from studio.graph.weights_files import digest_name, file_problem
from studio.naming import class_name, sanitize


class OpenError(Exception):
    """The Backbone cannot be opened; ``str()`` is one line for the user."""


@dataclass
class Opened:
    command: ReplaceWithModule
    weights_file: Path
    classes: int
    notes: list[str] = field(default_factory=list)


def open_backbone(graph: Graph, block_id: str, folder: str | Path, fetch: Any = None) -> Opened:
    """The command that replaces Backbone ``block_id`` by its layers, with the weights file
    written to ``folder``. ``fetch(graph)`` makes pretrained weights local (default: the hub's
    ``prepare_graph_weights``, which may download). Raises :class:`OpenError`."""
    block = graph.block(block_id)
    if block.spec.feature_params is None:
        raise OpenError(f"{block.name} is not a Backbone; only a Backbone opens into its layers.")
    analysis = analyze(graph)
    port = block.input_ports()[0].name
    edge = graph.edge_into(block_id, port)
    spec = analysis.edge_spec(edge) if edge is not None else None
    if spec is None:
        raise OpenError(f"Wire {block.name}'s input first: the layers' sizes follow from its input shape.")
    params = dict(block.params)
    if params.get("mode") == "feature map":
        raise OpenError("A Backbone that returns a feature map cannot be opened yet; choose features or classifier.")
    shape, dtype = tuple(spec[0][1:]), spec[1]
    resize = int(params.get("resize") or 0)
    if resize:
        shape = (*shape[:-2], resize, resize)
    sub = _built(block, {**params, "resize": 0, "freeze": "none"}, shape, dtype, fetch)
    imported = _imported(sub, block.name, shape, dtype)
    notes = []
    if resize:
        _resize_first(imported, resize)
        notes.append(f"the resize to {resize}x{resize} is the first block inside")
    if params.get("freeze") not in ("none", "backbone"):
        notes.append("the layers train; freeze the ones you want to keep (their block's Frozen box)")
    path = write_weights(sub.state_dict(), Path(folder), f"{sanitize(block.name)}_pretrained")
    data = imported.to_dict()
    top = class_name(type(sub).__name__, "Backbone")
    modules = [*data.get("modules", []), {"name": top, "graph": {"blocks": data["blocks"], "edges": data["edges"]}}]
    frozen = params.get("freeze") == "backbone" or block.frozen
    command = ReplaceWithModule(block_id, modules, top, {"weights": str(path)}, frozen=frozen)
    if frozen:
        notes.append("frozen as a whole, like the Backbone: untick Frozen on a layer inside to train it")
    return Opened(command, path, len(modules), notes)


def write_weights(state: dict, folder: Path, stem: str) -> Path:
    """Write ``state`` as ``<stem>-<digest>.pt`` in ``folder`` and return its path, never
    replacing a file: the name carries the first 16 hex digits of the content's SHA-256, so
    two projects (or two Backbones) in one folder get two files unless their weights are
    identical, and :mod:`studio.graph.weights_files` notices a file changed under a project.
    Written to a temporary file, then linked into place (fails rather than overwrite)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    path = (folder / digest_name(stem, digest)).resolve()
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if path.exists() and file_problem(path) is None:
            return path  # the same weights, written before: nothing to write
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        for i in range(1, 1000):
            candidate = path if i == 1 else path.with_name(f"{stem}{i}-{digest[:16]}.pt")
            try:
                os.link(tmp, candidate)  # fails if the name is taken: nothing is replaced
            except FileExistsError:
                if file_problem(candidate) is None:
                    return candidate
                continue
            return candidate
        raise OpenError(f"Cannot find a free file name for the weights in {folder}.")
    except OSError as e:
        raise OpenError(f"Cannot write the weights to {path} ({e.strerror or e}).") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _built(block, params: dict, shape: tuple, dtype: str, fetch) -> torch.nn.Module:
    """The Backbone's model with its pretrained weights, built from the generated code."""
    single = Graph()
    x = single.add_block("input", name="x", params={"shape": list(shape), "dtype": dtype})
    b = single.add_block(block.type, name=block.name, params=params)
    out = single.add_block("output", name="y")
    single.connect(x.id, "out", b.id, "in")
    single.connect(b.id, "out", out.id, "in")
    if fetch is None:
        from studio.hub.weights import prepare_graph_weights as fetch
    try:
        fetch(single)
        code = generate(single, "Backbone")
        model = build_class(code)()
    except Exception as e:  # noqa: BLE001 - weights missing, a download refused: one line
        raise OpenError(f"Cannot build {block.name} with its weights: {str(e).splitlines()[0][:200]}") from None
    return getattr(model, code.attrs[b.id]).eval()


def _imported(sub: torch.nn.Module, name: str, shape: tuple, dtype: str) -> Graph:
    from studio.interop.fx_import import ModelImportError, import_module

    try:
        result = import_module(sub, [(shape, dtype)], name=name, hierarchy=True)
    except ModelImportError as e:
        raise OpenError(f"{name} cannot be opened into layers: {e}") from None
    if not result.matches:
        raise OpenError(f"{name} cannot be opened into layers exactly ({result.summary()}).")
    graph = result.project.graph
    check = build_model(graph)
    try:
        check.load_state_dict(sub.state_dict(), strict=True)
    except RuntimeError:
        raise OpenError(f"{name}'s layers do not keep the pretrained weights' names; it stays one block.") from None
    return graph


def _resize_first(graph: Graph, size: int) -> None:
    """The Backbone resized its input before its model: a Function block right after the Input."""
    inp = next(b for b in graph.blocks.values() if b.spec.role == "input")
    edges = graph.outgoing(inp.id)
    resize = graph.add_block(
        "function",
        name="resize",
        params={
            "function": "F.interpolate",
            "arguments": f"in1, size=({size}, {size}), mode='bilinear', align_corners=False",
        },
        position=(inp.position[0], inp.position[1] + 140),
    )
    for e in edges:
        graph.disconnect(e.id)
        graph.connect(resize.id, "out", e.dst, e.dst_port)
    graph.connect(inp.id, "out", resize.id, resize.input_ports()[0].name)
