"""The Call again block: a layer used twice (shared weights), one attribute in the code.

What the fx importer makes of a module called a second time in ``forward``; a block of its
own because that call has its own inputs and outputs in the graph but must create no layer.
"""

from __future__ import annotations

import re

from studio import pyast
from studio.blocks.catalogue.ops import CUSTOM, CustomModuleEmitter
from studio.blocks.params import Int, Text
from studio.blocks.registry import BlockType, EmitContext, Emitted, Emitter, Module, Port, register
from studio.blocks.text import short_repr

_CLASS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _target(params):
    """The block type and parameters of the block whose layer a Call again block calls."""
    from studio.blocks.registry import UnknownBlockType, get_block_type

    try:
        spec = get_block_type(params.get("type", "identity"))
    except UnknownBlockType as e:
        raise ValueError(str(e)) from None
    try:
        values = pyast.literal_eval(params.get("params", "{}") or "{}")
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ValueError("the called block's parameters must be a Python literal dict") from None
    if not isinstance(values, dict):
        raise ValueError("the called block's parameters must be a Python literal dict")
    return spec, spec.coerce_params(values)


def _again_ports(output: bool):
    def ports(params) -> tuple[Port, ...]:
        try:
            spec, values = _target(params)
        except ValueError:
            return (Port("out" if output else "in"),)
        return spec.output_ports(values) if output else spec.input_ports(values)

    return ports


class CallAgainEmitter(Emitter):
    """The called block's forward lines, on ``self.<block>``: one module, used twice.

    While shapes are inferred there is no ``self.<block>``: a throwaway copy of the layer is
    built, run and deleted again, so the shapes are exact and no parameter is counted twice."""

    def emit(self, c: EmitContext) -> Emitted:
        spec, values = _target(c.params)
        attr = c.attr if c.inference else c.p.block
        inner = EmitContext(
            attr=attr, params=values, inputs=c.inputs, outputs=c.outputs, in_shapes=c.in_shapes,
            in_dtypes=c.in_dtypes, inference=c.inference, namer=c.namer,
        )
        emitted = spec.emitter.emit(inner)
        if c.inference:
            return Emitted(init=emitted.init, forward=[*emitted.forward, f"del {c.self_attr}"], imports=emitted.imports)
        return Emitted(forward=emitted.forward, imports=emitted.imports)


def _again_check(c: EmitContext) -> str | None:
    if not _CLASS.match(c.p.block):
        return f"Call again: {short_repr(c.p.block)} is not a block name."
    try:
        spec, values = _target(c.params)
    except ValueError as e:
        return f"Call again: {e}."
    if spec.id == "call_again" or not isinstance(spec.emitter, (CustomModuleEmitter, Module)):
        return f"Call again: a {spec.label} block has no layer to call again."
    if spec.check is None:
        return None
    # the called block's own check (for a Custom module: whether its code is trusted)
    return spec.check(EmitContext(
        attr=c.attr, params=values, inputs=c.inputs, outputs=c.outputs, in_shapes=c.in_shapes,
        in_dtypes=c.in_dtypes, inference=c.inference, namer=c.namer,
    ))


def _again_outside_code(params) -> list[str]:
    try:
        spec, values = _target(params)
    except ValueError:
        return []
    return spec.outside_code(values) if spec.outside_code is not None else []


register(
    BlockType(
        id="call_again",
        label="Call again",
        category=CUSTOM,
        description=(
            "Calls another block's layer once more, with the same weights (a module used twice "
            "in forward): block is that block's name; its type and settings are copied so the "
            "shapes are known."
        ),
        torch_name="self.<layer>(x) again",
        params={
            "block": Text("fc", "block", "The name of the block whose layer this calls.", key=True, max_len=200),
            "type": Text("linear", "type", "That block's type (shapes are inferred from it).", max_len=80),
            "params": Text("{'out_features': 8}", "settings", "That block's settings, a Python literal dict.", max_len=4000),
        },
        inputs=_again_ports(False),
        outputs=_again_ports(True),
        emitter=CallAgainEmitter(),
        check=_again_check,
        outside_code=_again_outside_code,
        name_base="again",
        keywords=("shared", "weights", "reuse", "tied", "twice"),
    )
)


class TiedHeadEmitter(Emitter):
    """``logits = F.linear(x, self.<embedding>.weight)``: the head reads the Embedding's weight,
    so the two share one matrix (as GPT-2 and nanoGPT tie them). While shapes are inferred a
    throwaway matrix of the same size stands in for it."""

    def emit(self, c: EmitContext) -> Emitted:
        imports = {"import torch.nn.functional as F"}
        if c.inference:
            d = c.dim(-1)
            return Emitted(
                init=[f"{c.self_attr} = nn.Parameter(torch.empty({c.p.vocab}, {d}))"],
                forward=[f"{c.out} = F.linear({c.x}, {c.self_attr})", f"del {c.self_attr}"],
                imports=imports | {"import torch", "from torch import nn"},
            )
        return Emitted(forward=[f"{c.out} = F.linear({c.x}, self.{c.p.embedding}.weight)"], imports=imports)


def _tied_check(c: EmitContext) -> str | None:
    if not _CLASS.match(c.p.embedding):
        return f"Tied head: {short_repr(c.p.embedding)} is not a block name."
    return None


register(
    BlockType(
        id="tied_head",
        label="Tied head",
        category="Sequence & attention",
        description=(
            "A bias-free Linear head that reuses an Embedding's weight (weight tying, as in GPT-2): "
            "scores for each of the vocabulary's tokens, with no matrix of its own. embedding is "
            "that block's name, vocabulary its num_embeddings."
        ),
        torch_name="F.linear(x, embedding.weight)",
        params={
            "embedding": Text("token_embedding", "embedding", "The name of the Embedding block whose weight this reuses.", key=True, max_len=200),
            "vocab": Int(1000, "vocabulary", "That Embedding's num_embeddings: how many scores come out.", min=1),
        },
        emitter=TiedHeadEmitter(),
        check=_tied_check,
        name_base="lm_head",
        keywords=("tied", "weight tying", "lm head", "gpt", "shared", "logits"),
    )
)


_PATH_PART = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)$")


def attribute_path(path: str) -> str | None:
    """``transformer.h.0.attn.weight`` -> ``self.transformer.h[0].attn.weight`` (names and
    list positions only, so nothing else reaches the code), else None."""
    parts = path.split(".")
    if not path or not all(_PATH_PART.match(p) for p in parts) or parts[0].isdigit():
        return None
    return "self" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in parts)


class TieEmitter(Emitter):
    """``self.lm_head.weight = self.transformer.wte.weight`` at the end of ``__init__``: one
    tensor (or module) under both names; both keys stay in the state_dict, and it is counted
    and trained once. Nothing while shapes are inferred: no layer is built there."""

    def emit(self, c: EmitContext) -> Emitted:
        if c.inference:
            return Emitted()
        return Emitted(init=[f"{attribute_path(c.p.attribute)} = {attribute_path(c.p.to)}"])


def _tie_check(c: EmitContext) -> str | None:
    for text in (c.p.attribute, c.p.to):
        if attribute_path(text) is None:
            return f"Tie weights: {short_repr(text)} is not an attribute's path (like lm_head.weight)."
    return None


register(
    BlockType(
        id="tie",
        label="Tie weights",
        category=CUSTOM,
        description=(
            "Makes one attribute the same object as another (weight tying: GPT-2's "
            "lm_head.weight is transformer.wte.weight; T5's shared is encoder.embed_tokens). "
            "Both keep their state_dict keys; the weight is counted and trained once. Not "
            "wired: it runs when the model is built."
        ),
        torch_name="self.a.weight = self.b.weight",
        params={
            "attribute": Text("lm_head.weight", "attribute", "The weight (or layer) that becomes the other one, as a path.", key=True, max_len=400),
            "to": Text("transformer.wte.weight", "to", "The weight (or layer) it shares, as a path.", key=True, max_len=400),
        },
        inputs=(),
        outputs=(),
        emitter=TieEmitter(),
        check=_tie_check,
        shares=lambda params: params["attribute"],
        name_base="tie",
        keywords=("tied", "weight tying", "shared", "lm head", "gpt"),
    )
)
