"""Transformer parts: scaled-dot-product attention, a causal mask, and the encoder and decoder
layers of ``torch.nn`` on their own or as stacks of ``num_layers``.

All of them take batch-first sequences (N×L×d_model, as the rest of Studio does). A causal
option writes the mask the way PyTorch documents it
(``nn.Transformer.generate_square_subsequent_mask`` plus ``is_causal=True``), sized from the
sequence at run time so a shorter prompt works too.
"""

from __future__ import annotations

from studio.blocks.catalogue.layers import needs_rank
from studio.blocks.catalogue.sequence import SEQ
from studio.blocks.params import Bool, Choice, Float, Int
from studio.blocks.registry import (
    IMPORT_NN,
    IMPORT_TORCH,
    BlockType,
    Code,
    EmitContext,
    Emitted,
    Emitter,
    Port,
    call,
    opt,
    register,
)
from studio.blocks.shapes import fmt_shape

IMPORT_F = "import torch.nn.functional as F"


# ------------------------------------------------------------ scaled dot-product attention
class _SDPA(Emitter):
    """``F.scaled_dot_product_attention(q, k, v, ...)``; dropout only while training."""

    def emit(self, c: EmitContext) -> Emitted:
        q = c.inputs[0] or "None"
        k = c.inputs[1] or q
        v = c.inputs[2] or k
        kwargs = {
            "attn_mask": Code(c.inputs[3]) if c.inputs[3] else None,
            "dropout_p": Code(f"{c.p.dropout_p!r} if self.training else 0.0") if c.p.dropout_p else None,
            "is_causal": True if c.p.is_causal else None,
            "scale": c.p.scale or None,
        }
        kwargs = {key: value for key, value in kwargs.items() if value is not None}
        line = call("F.scaled_dot_product_attention", Code(q), Code(k), Code(v), **kwargs)
        return Emitted(forward=[f"{c.out} = {line}"], imports={IMPORT_TORCH, IMPORT_F})


def _sdpa_check(c: EmitContext) -> str | None:
    q = c.in_shapes[0]
    if q is None:
        return None
    if len(q) < 3:
        return f"Attention needs N×L×E or N×heads×L×E queries but gets {fmt_shape(q)}."
    k = c.in_shapes[1] or q
    v = c.in_shapes[2] or k
    if k[-1] != q[-1]:
        return f"The keys' size ({k[-1]}) must equal the queries' ({q[-1]})."
    if k[-2] != v[-2]:
        return f"Keys and values must have the same length (they have {k[-2]} and {v[-2]})."
    if c.p.is_causal and c.inputs[3]:
        return "Use either the causal option or a mask input, not both."
    return None


register(
    BlockType(
        id="scaled_dot_product_attention",
        label="ScaledDotProductAttention",
        category=SEQ,
        description=(
            "softmax(q·kᵀ/√E)·v over N×L×E or N×heads×L×E inputs, with PyTorch's fused kernels. "
            "Leave key and value unwired for self-attention; 'causal' lets each position see only "
            "earlier ones (a GPT)."
        ),
        torch_name="F.scaled_dot_product_attention",
        params={
            "is_causal": Bool(False, "causal", key=True, doc="Each position attends only to itself and earlier ones."),
            "dropout_p": Float(0.0, "dropout", min=0.0, max=1.0, doc="On the attention weights, while training only."),
            "scale": Float(0.0, "scale", min=0.0, doc="Multiplies q·kᵀ; 0 is 1/√E (T5 uses 1: no scaling)."),
        },
        inputs=(
            Port("query"),
            Port("key", optional=True),
            Port("value", optional=True),
            Port("mask", "mask (True: attend)", optional=True),
        ),
        emitter=_SDPA(),
        check=_sdpa_check,
        macs=lambda c, outs: 2 * (c.shape()[-2] ** 2) * c.dim(-1) * (c.dim(1) if len(c.shape()) == 4 else 1),
        name_base="attention",
        keywords=("sdpa", "flash attention", "self-attention", "causal", "transformer", "gpt"),
    )
)


class _CausalMask(Emitter):
    def emit(self, c: EmitContext) -> Emitted:
        size = f"{c.x}.size({c.p.dim})"
        line = f"torch.tril(torch.ones({size}, {size}, dtype=torch.bool, device={c.x}.device))"
        return Emitted(forward=[f"{c.out} = {line}"], imports={IMPORT_TORCH})


register(
    BlockType(
        id="causal_mask",
        label="CausalMask",
        category=SEQ,
        description=(
            "An L×L mask, True on and below the diagonal, sized from the input's sequence: "
            "wire it into the mask of ScaledDotProductAttention."
        ),
        torch_name="torch.tril",
        params={"dim": Int(1, "sequence dim", key=True, min=-8, max=8, doc="The input's sequence dimension.")},
        emitter=_CausalMask(),
        check=lambda c: None
        if c.in_shapes[0] is None or -len(c.shape()) <= c.p.dim < len(c.shape())
        else f"The input {fmt_shape(c.shape())} has no dimension {c.p.dim}.",
        name_base="mask",
        keywords=("causal", "triangular", "attention mask", "gpt"),
    )
)


# --------------------------------------------------------------- encoder and decoder layers
def _layer_params(stack: bool) -> dict:
    params = {
        "nhead": Int(4, "heads", key=True, min=1, max=256),
        "dim_feedforward": Int(256, "feed-forward size", min=1),
        "dropout": Float(0.1, min=0.0, max=1.0),
        "activation": Choice("relu", options=("relu", "gelu")),
        "norm_first": Bool(False, "norm first", doc="Pre-norm (GPT-2 style): LayerNorm before attention and feed-forward."),
        "causal": Bool(False, key=True, doc="Each position attends only to itself and earlier ones."),
    }
    if stack:
        params["num_layers"] = Int(2, "layers", key=True, min=1, max=128)
        params["final_norm"] = Bool(False, "final LayerNorm", doc="A LayerNorm after the last layer (use it with norm first).")
    return params


def _layer_call(kind: str, c: EmitContext) -> str:
    """``nn.Transformer<kind>Layer(d_model, nhead, ...)`` with torch's defaults left out."""
    return call(
        f"nn.Transformer{kind}Layer",
        c.dim(-1),
        c.p.nhead,
        dim_feedforward=opt(c.p.dim_feedforward, 2048),
        dropout=opt(c.p.dropout, 0.1),
        activation=opt(c.p.activation, "relu"),
        batch_first=True,
        norm_first=opt(c.p.norm_first, False),
    )


class _Transformer(Emitter):
    """One layer (``stack=False``) or ``nn.Transformer<kind>(layer, num_layers)``."""

    def __init__(self, kind: str, stack: bool) -> None:
        self.kind, self.stack = kind, stack

    def emit(self, c: EmitContext) -> Emitted:
        layer = _layer_call(self.kind, c)
        init = [f"{c.self_attr} = {layer}"]
        if self.stack:
            var = c.temp(f"{self.kind.lower()}_layer")
            nested_ok = not c.p.norm_first and c.p.nhead % 2 == 0
            kwargs = {
                "num_layers": c.p.num_layers,
                "norm": Code(f"nn.LayerNorm({c.dim(-1)})") if c.p.final_norm else None,
                # torch warns when it cannot use nested tensors for this layer: say so instead
                "enable_nested_tensor": False if self.kind == "Encoder" and not nested_ok else None,
            }
            kwargs = {k: v for k, v in kwargs.items() if v is not None}
            init = [f"{var} = {layer}", f"{c.self_attr} = {call(f'nn.Transformer{self.kind}', Code(var), **kwargs)}"]
        x = c.x
        args = [x] if self.kind == "Encoder" else [x, c.inputs[1] or x]
        forward = []
        if c.p.causal:
            mask = c.temp("causal_mask")
            forward.append(f"{mask} = nn.Transformer.generate_square_subsequent_mask({x}.size(1), device={x}.device)")
            if self.kind == "Encoder":
                masks = {"mask" if self.stack else "src_mask": Code(mask), "is_causal": True}
            else:
                masks = {"tgt_mask": Code(mask), "tgt_is_causal": True}
        else:
            masks = {}
        forward.append(f"{c.out} = {call(c.self_attr, *map(Code, args), **masks)}")
        return Emitted(init=init, forward=forward, imports={IMPORT_NN})


def _heads_check(c: EmitContext) -> str | None:
    msg = needs_rank(3, layout="N×L×d_model")(c)
    if msg:
        return msg
    if c.dim(-1) % c.p.nhead:
        return f"The model size {c.dim(-1)} must divide evenly into {c.p.nhead} heads."
    memory = c.in_shapes[1] if len(c.in_shapes) > 1 else None
    if memory is not None and (len(memory) != 3 or memory[-1] != c.dim(-1)):
        return f"The memory must be N×S×{c.dim(-1)} like the target; it is {fmt_shape(memory)}."
    return None


def _layer_macs(c: EmitContext, layers: int, cross: bool) -> int:
    steps, d = c.dim(1), c.dim(-1)
    attention = 4 * d * d + 2 * steps * d
    per_layer = steps * (attention * (2 if cross else 1) + 2 * d * c.p.dim_feedforward)
    return layers * per_layer


_DECODER_INPUTS = (Port("in", "target"), Port("memory"))
_WHAT = {
    "Encoder": "self-attention and a feed-forward network",
    "Decoder": "self-attention over the target, attention over the memory (the encoder's output) and a feed-forward network",
}


def _transformer(kind: str, stack: bool) -> None:
    label = f"Transformer{kind}{'' if stack else 'Layer'}"
    if stack:
        description = f"A stack of transformer {kind.lower()} layers ({_WHAT[kind]}), each with residuals and LayerNorm."
    else:
        description = f"One transformer {kind.lower()} block: {_WHAT[kind]}, each with a residual and LayerNorm."
    register(
        BlockType(
            id=f"transformer_{kind.lower()}{'' if stack else '_layer'}",
            label=label,
            category=SEQ,
            description=description,
            torch_name=f"nn.{label}",
            params=_layer_params(stack),
            inputs=_DECODER_INPUTS if kind == "Decoder" else (Port("in"),),
            emitter=_Transformer(kind, stack),
            check=_heads_check,
            macs=lambda c, outs: _layer_macs(c, c.p.num_layers if stack else 1, kind == "Decoder"),
            name_base=kind.lower(),
            keywords=("transformer", "attention", "bert" if kind == "Encoder" else "gpt", "causal"),
        )
    )


_transformer("Encoder", stack=False)
_transformer("Decoder", stack=False)
_transformer("Encoder", stack=True)
_transformer("Decoder", stack=True)
