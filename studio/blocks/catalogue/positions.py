"""Where a token is: positional embeddings (learned, sinusoidal) and learned tokens (ViT's class
token) for N×L×E sequences.

The embedding size (and, unless set, the longest sequence) comes from the input shape. A
model trained on windows of L tokens still accepts shorter sequences (a prompt): the code
slices the positions to the input's length at run time.
"""

from __future__ import annotations

from studio.blocks.catalogue.layers import needs_rank
from studio.blocks.catalogue.sequence import SEQ
from studio.blocks.params import Int
from studio.blocks.registry import (
    IMPORT_NN,
    IMPORT_TORCH,
    BlockType,
    EmitContext,
    Emitted,
    Emitter,
    register,
)


def _max_len(c: EmitContext) -> int:
    return c.p.max_len or c.dim(1)


def _positions_check(c: EmitContext, even: bool = False) -> str | None:
    msg = needs_rank(3, layout="N×L×embed", hint="Put it after an Embedding.")(c)
    if msg or c.in_shapes[0] is None:
        return msg
    if c.p.max_len and c.dim(1) > c.p.max_len:
        return f"The sequence ({c.dim(1)} long) is longer than the {c.p.max_len} positions set."
    if even and c.dim(-1) % 2:
        return f"Sinusoidal positions need an even embedding size (sines and cosines); it is {c.dim(-1)}."
    return None


_MAX_LEN_DOC = "The longest sequence it accepts; 0: the input's length."


def _max_len_param() -> Int:
    return Int(
        0, "max length", key=True, min=0, max=1 << 20, doc=_MAX_LEN_DOC, special="input's length"
    )


class _Learned(Emitter):
    """``nn.Embedding`` over positions 0..L-1, added to the input (as nanoGPT's ``wpe``)."""

    def emit(self, c: EmitContext) -> Emitted:
        x = c.x
        return Emitted(
            init=[f"{c.self_attr} = nn.Embedding({_max_len(c)}, {c.dim(-1)})"],
            forward=[f"{c.out} = {x} + {c.self_attr}(torch.arange({x}.size(1), device={x}.device))"],
            imports={IMPORT_NN, IMPORT_TORCH},
        )


register(
    BlockType(
        id="learned_positions",
        label="LearnedPositionEmbedding",
        category=SEQ,
        description="Adds a learned vector for each position 0, 1, 2… to an N×L×E sequence (GPT-2, BERT).",
        torch_name="nn.Embedding",
        params={"max_len": _max_len_param()},
        emitter=_Learned(),
        check=_positions_check,
        name_base="pos_embedding",
        keywords=("positional embedding", "position", "wpe", "transformer", "gpt"),
    )
)


class _Sinusoidal(Emitter):
    """The fixed table of "Attention Is All You Need", a non-persistent buffer built in ``__init__``
(:func:`studio.interop.fx_patterns.sinusoidal_table` recognises it on import)."""

    def emit(self, c: EmitContext) -> Emitted:
        length, dim = _max_len(c), c.dim(-1)
        pos, freq, table = c.temp("position"), c.temp("frequency"), c.temp("table")
        init = [
            f"{pos} = torch.arange({length}).unsqueeze(1)",
            f"{freq} = 10000.0 ** (-torch.arange(0, {dim}, 2) / {dim})",
            f"{table} = torch.zeros({length}, {dim})",
            f"{table}[:, 0::2] = torch.sin({pos} * {freq})",
            f"{table}[:, 1::2] = torch.cos({pos} * {freq})",
            f"self.register_buffer({c.attr!r}, {table}, persistent=False)",
        ]
        x = c.x
        # narrow rather than [: x.size(1)]: torch.fx can trace it (a slice of a size cannot be),
        # so the code imports back onto this block
        return Emitted(
            init=init, forward=[f"{c.out} = {x} + {c.self_attr}.narrow(0, 0, {x}.size(1))"], imports={IMPORT_TORCH}
        )


register(
    BlockType(
        id="sinusoidal_positions",
        label="SinusoidalPositionEncoding",
        category=SEQ,
        description=(
            "Adds fixed sines and cosines of each position to an N×L×E sequence (the original "
            "transformer): nothing to learn, not saved with the weights."
        ),
        torch_name="register_buffer",
        params={"max_len": _max_len_param()},
        emitter=_Sinusoidal(),
        check=lambda c: _positions_check(c, even=True),
        name_base="pos_encoding",
        keywords=("positional encoding", "position", "sine", "transformer"),
    )
)


class _Tokens(Emitter):
    """``nn.Parameter`` tokens, expanded over the batch and put before the sequence (ViT)."""

    def emit(self, c: EmitContext) -> Emitted:
        x = c.x
        tokens = f"{c.self_attr}.expand({x}.size(0), -1, -1)"
        return Emitted(
            init=[f"{c.self_attr} = nn.Parameter(torch.zeros(1, {c.p.num_tokens}, {c.dim(-1)}))"],
            forward=[f"{c.out} = torch.cat([{tokens}, {x}], dim=1)"],
            imports={IMPORT_NN, IMPORT_TORCH},
        )


register(
    BlockType(
        id="class_token",
        label="ClassToken",
        category=SEQ,
        description=(
            "Puts learned tokens before an N×L×E sequence, giving N×(tokens+L)×E (ViT's class "
            "token: classify from position 0 after the encoder)."
        ),
        torch_name="nn.Parameter",
        params={"num_tokens": Int(1, "tokens", key=True, min=1, max=1024)},
        emitter=_Tokens(),
        check=needs_rank(3, layout="N×L×embed", hint="Put it after an Embedding or a Flatten of patches."),
        name_base="cls_token",
        keywords=("cls token", "learned token", "register tokens", "vit", "prepend"),
    )
)

