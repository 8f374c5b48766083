"""Text data, the next-token loss and sampling from a trained model (runtime).

A `.txt` file becomes one token sequence (`tokens.make_codec`: characters of the file, or the
256 UTF-8 bytes) cut into windows of `block_size` for next-token prediction: sample i is
x = tokens[j : j + T], y = tokens[j + 1 : j + T + 1] with j = i * stride (int64; the tokens are
kept in one byte each where the vocabulary allows, and widened a batch at a time). Validation is
the last part of the file (`TextWindows.split_tail`), so no window of it overlaps training text.
A CSV with a text column gives token ids padded (id 0) or cut to a length, and a class label.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from studio.training.runtime.tables import DataProblem
from studio.training.runtime.tokens import (
    decode_tokens,
    encode_text,
    file_name,
    label_classes,
    make_codec,
    read_text,
    read_text_column,
    vocabulary_size,
)


def token_dtype(vocabulary):
    """The narrowest integer dtype for ids below `vocabulary`: a file's tokens are kept in it (one
    byte a token up to 256 ids, not the 8 of int64) and widened a batch at a time (`batch_dtype`).
    int32 holds any vocabulary: Unicode has fewer than 2**21 characters."""
    return torch.uint8 if vocabulary <= 256 else torch.int16 if vocabulary <= 32768 else torch.int32


class TextWindows(TensorDataset):
    """Windows over one token sequence (views of it, no copies), with the codec that maps ids
    back to text (`codec`) and the window length (`block_size`) generation crops context to.
    The tokens may be compact (`token_dtype`); samples and batches come out as `batch_dtype`.
    They make at least one window: Studio checks the count before it reads the file
    (`text_data.text_signature`), and train.py's split (`split_tail`) checks both parts."""

    batch_dtype = torch.long

    def __init__(self, tokens, block_size, stride, codec):
        windows = tokens.unfold(0, block_size + 1, stride)  # x: a window, y: the next tokens
        super().__init__(windows[:, :-1], windows[:, 1:])
        self.tokens, self.block_size, self.stride, self.codec = tokens, block_size, stride, codec

    def __getitem__(self, index):
        return tuple(t[index].to(self.batch_dtype) for t in self.tensors)

    def split_tail(self, fraction):
        """(train, validation): the first tokens train, the last `fraction` of them validate."""
        n, block = len(self.tokens), self.block_size
        parts = self.tokens[: n - round(n * fraction)], self.tokens[n - round(n * fraction) :]
        if min(len(part) for part in parts) <= block:
            raise DataProblem(f"{n} tokens: too few to split {fraction:g} in windows of {block}.")
        return tuple(TextWindows(part, block, self.stride, self.codec) for part in parts)


def read_text_windows(spec, chunk=1 << 20):
    """(TextWindows, info: "num_classes" and "codec"; Studio adds `windows_description`) of the
    text file spec["path"]: spec["tokenizer"] "char" (the ids of spec["vocab"], the file's
    characters when not given) or "byte", windows of spec["block_size"] tokens every
    spec["stride"] tokens. The file was checked when the spec
    was made (`tokens.checked_text`): it is read as it is. Characters are encoded a chunk at a
    time into compact tokens (`token_dtype`): a Python list of the whole file took 8 bytes a
    character."""
    text = read_text(spec["path"])
    name = Path(spec["path"]).name
    codec = make_codec(spec["tokenizer"], [text], spec.get("vocab"))
    size = vocabulary_size(codec)
    if codec["tokenizer"] == "byte":  # the UTF-8 bytes are the ids, without a Python list
        ids = torch.frombuffer(bytearray(text, "utf-8"), dtype=torch.uint8)
    else:
        dtype = token_dtype(size)
        parts = (text[i : i + chunk] for i in range(0, len(text), chunk))
        ids = torch.cat([torch.tensor(encode_text(part, codec, name), dtype=dtype) for part in parts])
    return TextWindows(ids, spec["block_size"], spec["stride"], codec), {"num_classes": size, "codec": codec}


def windows_description(data, path):
    """The line Studio shows for a text's windows (train.py says nothing of them: not in it)."""
    shown = f"{len(data.tokens)} tokens, {vocabulary_size(data.codec)} in the vocabulary"
    return f"{file_name(path)} ({shown}, {len(data)} windows of {data.block_size})"


def read_text_classes(spec):
    """(TensorDataset, info) of a CSV file with a text column spec["text"] and a label column
    spec["target"]: each text as spec["length"] token ids (cut, or padded with id 0; the
    tokens start at 1), labels 0, 1, ... in `label_classes` order."""
    texts, labels, lines = read_text_column(spec["path"], spec["text"], spec["target"], spec["delimiter"], spec["header"])
    codec = make_codec(spec["tokenizer"], texts, spec.get("vocab"), offset=1)
    name, length = file_name(spec["path"]), int(spec["length"])
    x = torch.zeros(len(texts), length, dtype=torch.long)
    for i, (text, line) in enumerate(zip(texts, lines, strict=True)):
        ids = encode_text(text, codec, f"{name} row {line}")[:length]
        x[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    classes = label_classes(labels)
    index = {c: i for i, c in enumerate(classes)}
    data = TensorDataset(x, torch.tensor([index[v] for v in labels], dtype=torch.long))
    data.codec = codec
    info = {"num_classes": len(classes), "class_names": classes, "codec": codec,
            "description": f"{name} ({len(texts)} texts of {length} tokens, {len(classes)} classes)"}
    return data, info


class TokenCrossEntropy(nn.CrossEntropyLoss):
    """Cross-entropy at every position: N x T x V scores against N x T next tokens, the mean
    over all N * T tokens (its exp is the perplexity)."""

    def forward(self, logits, targets):
        return super().forward(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def generate_tokens(model, ids, length, block_size, temperature=1.0, generator=None):
    """`ids` (1 x t token ids) followed by `length` new tokens, each drawn with
    torch.multinomial from the softmax of the last position's scores / `temperature` (0: the
    most likely token), the context cropped to the last `block_size` tokens. The caller turns
    gradients off (``model.requires_grad_(False)``): no graph is kept of a sampling step."""
    for _ in range(length):
        logits = model(ids[:, -block_size:])[:, -1, :].float()
        if temperature > 0:
            step = torch.softmax(logits / temperature, -1).multinomial(1, generator=generator)
        else:
            step = logits.argmax(-1, keepdim=True)
        ids = torch.cat([ids, step], 1)
    return ids


def sample_text(model_class, settings, args):
    """train.py --generate: the prompt continued by the weights train.py saved in --out, with the
    codec saved beside them (weights.json), sampled with --seed; prints the text and returns None,
    or returns the one-line message for sys.exit."""
    weights, model = Path(args.out) / "weights.pt", model_class()
    try:
        codec = json.loads(weights.with_suffix(".json").read_text(encoding="utf-8"))["codec"]
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        ids = torch.tensor([encode_text(args.generate, codec, "The prompt") or [0]])
    except (FileNotFoundError, DataProblem) as e:  # sys.exit prints the message, exits with 1
        return str(e) if isinstance(e, DataProblem) else f"No weights in {args.out}; train first."
    generator = torch.Generator().manual_seed(args.seed)  # the same text for the same --seed
    model.eval().requires_grad_(False)  # sampling: no dropout, no gradients
    block = settings["data"]["block_size"]
    ids = generate_tokens(model, ids, args.tokens, block, args.temperature, generator)
    print(decode_tokens(ids[0].tolist(), codec))
