"""Try it for text, without Qt: whether a model was trained on text windows, and sampling a
continuation of a prompt with the runtime's `generate_tokens` (runs in the panel's thread)."""

from __future__ import annotations

import copy
import os

MAX_TOKENS = 5000


def text_source(data) -> tuple[dict, int] | None:
    """(codec, block size) when `data` are next-token windows of a text, else None."""
    for part in (data.train, data.val):
        codec, block = getattr(part, "codec", None), getattr(part, "block_size", None)
        if codec is not None and block is not None:
            return codec, block
    return None


def generate_text(model, data, prompt: str, length: int, temperature: float, seed: int = 0) -> dict:
    """The prompt continued by `length` tokens sampled from a copy of `model` on the CPU:
    {"task": "text", "prompt", "text" (the continuation), "tokens"}, or {"problem": sentence}
    for a prompt the vocabulary cannot spell. An empty prompt starts from the validation text's
    first token."""
    import torch

    from studio.training.runtime.tables import DataProblem
    from studio.training.runtime.text import generate_tokens
    from studio.training.runtime.threads import choose_threads
    from studio.training.runtime.tokens import decode_tokens, encode_text

    codec, block = text_source(data)
    try:
        ids = encode_text(prompt, codec, "The prompt")
    except DataProblem as e:
        return {"problem": str(e)}
    if not ids:
        ids = [int((data.val if data.val is not None else data.train).tokens[0])]
    length = max(1, min(int(length), MAX_TOKENS))
    choose_threads("cpu", at_most=max(1, (os.cpu_count() or 2) - 1))  # one token at a time: see threads.py
    model = copy.deepcopy(model).cpu().eval().requires_grad_(False)  # no graph of any step
    generator = torch.Generator().manual_seed(seed)
    out = generate_tokens(model, torch.tensor([ids]), length, block, float(temperature), generator)
    new = out[0, len(ids) :].tolist()
    return {
        "task": "text",
        "prompt": decode_tokens(ids, codec),
        "text": decode_tokens(new, codec),
        "tokens": len(new),
        "temperature": float(temperature),
    }


TEXT_ROWS = 200  # validation texts listed for a text classifier


def text_codec(part) -> dict | None:
    """The codec of a set of encoded texts (a CSV with text: its TensorDataset, or a Subset of
    it), or None for any other data."""
    while part is not None:
        codec = getattr(part, "codec", None)
        if codec is not None:
            return codec
        part = getattr(part, "dataset", None)
    return None


def sample_rows(inputs: list[str], truth, labels, probs, names: list[str]) -> list[dict]:
    """What Try it lists for a classifier without a picture of its inputs, one row per validation
    sample: {"text" (the input, in words or numbers), "truth", "predicted" (class names where
    known), "probability" (the model's softmax of its prediction), "right"}."""

    def name(k: int) -> str:
        return str(names[k]) if 0 <= k < len(names) else str(k)

    return [
        {
            "text": text,
            "truth": name(int(t)),
            "predicted": name(int(p)),
            "probability": float(prob),
            "right": int(t) == int(p),
        }
        for text, t, p, prob in zip(inputs, truth.tolist(), labels.tolist(), probs.tolist())
    ]


def text_rows(
    xs, codec: dict, truth, labels, probs, names: list[str], limit: int = TEXT_ROWS
) -> list[dict]:
    """A text classifier's validation texts (their padding, id 0, left out), as `sample_rows`."""
    from studio.training.runtime.tokens import decode_tokens

    texts = [decode_tokens([i for i in ids if i != 0], codec) for ids in xs[:limit].tolist()]
    return sample_rows(texts, truth, labels, probs, names)


def feature_rows(
    xs,
    truth,
    labels,
    probs,
    names: list[str],
    columns: list[str] | None = None,
    normalization: dict | None = None,
    limit: int = TEXT_ROWS,
) -> tuple[list[str], list[dict]]:
    """A table's validation rows as its file has them, as `sample_rows` with each row's values in
    "cells" (the tooltip, "text", names them), and the column titles: the file's column names
    (`columns`, "input 1", ... when unknown). Rows read standardised are brought back to the
    file's units with the run's ``normalization`` (mean, std): the model still reads them as it
    was trained, only the table shows them raw."""
    import numpy as np

    n = min(limit, len(xs))
    x = np.asarray(xs[:n], dtype=np.float64).reshape(n, -1)
    width = x.shape[1]
    err = np.abs(x)  # what float32 storage can have changed, in the file's units (times eps)
    mean, std = (
        np.asarray((normalization or {}).get(k) or [], dtype=np.float64) for k in ("mean", "std")
    )
    if mean.shape == std.shape == (width,):
        err = np.abs(x) * np.abs(std) + np.abs(mean)
        x = x * std + mean
    err = err * float(np.finfo(np.float32).eps) * 4
    titles = (
        list(columns)
        if columns and len(columns) == width
        else [f"input {j + 1}" for j in range(width)]
    )
    cells = [
        [_number(v, e) for v, e in zip(row, row_err, strict=True)]
        for row, row_err in zip(x, err, strict=True)
    ]
    texts = [", ".join(f"{t} {c}" for t, c in zip(titles, row, strict=True)) for row in cells]
    rows = sample_rows(texts, truth[:n], labels[:n], probs[:n], names)
    for row, values in zip(rows, cells, strict=True):
        row["cells"] = values
    return titles, rows


def _number(v: float, err: float) -> str:
    """``v`` to the last decimal its float32 round trip keeps (13.2, not 13.19999980926)."""
    import math

    if not math.isfinite(v):
        return str(v)
    if err <= 0:
        return f"{v:.6g}"
    decimals = max(0, min(12, math.floor(-math.log10(err))))  # 10**-decimals >= err
    text = f"{v:.{decimals}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text
