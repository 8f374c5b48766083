"""Parameters counted once: a Tie weights block makes one parameter (``lm_head.weight``) the
same tensor as another (``transformer.wte.weight``), so ``model.parameters()`` yields it once;
the analysis's totals must say the same. A sharing block's info counts that tensor negatively.

The path is resolved as the exported code resolves it: a block's name, into a module use's
inside (a list position picks a repeated copy), down to a parameter of a built-in block's layer,
which is built on ``meta`` (no memory) to read its size.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from studio.blocks.registry import EmitContext
from studio.compiler.shapes import BlockInfo


def shared_info(analysis: Any, path: str) -> BlockInfo:
    """The counts the tensor (or layer) at ``path`` adds in ``analysis`` (an ``Analysis``; not
    imported, which imports this), negated (nothing when the path is not
    found: then the count stays as it was)."""
    found = _counts(analysis, path.split("."))
    if found is None:
        return BlockInfo((), (), ())
    n, trainable, size = found
    return BlockInfo((), (), (), params=-n, trainable=-trainable, size_bytes=-size)


def _counts(analysis: Any, parts: list[str]) -> tuple[int, int, int] | None:
    """(parameters, trainable, bytes) at ``parts`` inside ``analysis``'s graph."""
    block = next((b for b in analysis.graph.blocks.values() if b.name == parts[0]), None)
    if block is None:
        return None
    info = analysis.info.get(block.id)
    if info is None or info.error:
        return None
    rest = parts[1:]
    if not rest:  # a whole layer (T5's shared is encoder.embed_tokens)
        return info.params, info.trainable, info.size_bytes
    if block.spec.definition is not None:
        result = analysis.use_results.get(block.id)
        if result is None or not result.copies:
            return None
        copies = result.copies
        if len(copies) > 1 and rest[0].isdigit():
            i = int(rest[0])
            if i >= len(copies) or len(rest) < 2:
                return None
            return _counts(copies[i], rest[1:])
        return _counts(copies[0], rest)
    if block.spec.emitter is None:
        return None
    params = analysis.params_of(block)
    n_out = len(block.spec.output_ports(params))
    ctx = EmitContext(
        attr="layer",
        params=params,
        inputs=[f"_in{i}" for i in range(len(info.in_shapes))],
        outputs=[f"_out{i}" for i in range(n_out)],
        in_shapes=list(info.in_shapes),
        in_dtypes=[None] * len(info.in_shapes),
        inference=True,
        namer=lambda base: f"_tmp_{base}",
        trust=analysis.trust,
    )
    holder = nn.Module()
    ns = {"torch": torch, "nn": nn, "self": holder}
    try:
        emitted = block.spec.emitter.emit(ctx)
        for line in sorted(emitted.imports):
            exec(line, ns)
        with torch.device("meta"):
            for line in emitted.init:
                exec(line, ns)
        target = ".".join(["layer", *rest])
        try:
            tensors = [holder.get_parameter(target)]
        except AttributeError:
            tensors = list(holder.get_submodule(target).parameters())
    except Exception:  # a layer that cannot be built here: counted as it was
        return None
    n = sum(t.numel() for t in tensors)
    return n, n if info.trainable else 0, sum(t.numel() * t.element_size() for t in tensors)
