"""The text dataset kinds' signatures and reader specs (pure Python, read by `kinds`).

Reading the vocabulary needs the whole file once; it is cached per file, tokenizer and
modification time, so the check before Train on every edit does not read it again. The reader
spec carries the vocabulary itself: Studio's run and train.py's SETTINGS use the same ids.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from studio.training.readers import absolute
from studio.training.runtime.tables import DataProblem
from studio.training.runtime.tokens import (
    checked_text,
    file_name,
    label_classes,
    make_codec,
    memory_limit,
    read_text_column,
    vocabulary_size,
)
from studio.training.signatures import DataError, DataSignature, resolve


def _stamp(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


@functools.lru_cache(maxsize=32)
def _text_facts(path_text: str, tokenizer: str, vocab: str, stamp: int) -> tuple[dict, int]:
    """(codec, token count) of a text file; `vocab`: a kept vocabulary, else the file's. The file
    is read behind Studio's guards (`checked_text`): every reader spec of a text is made here
    (`text_spec`), so the runtime's reader, and train.py, read a file checked first."""
    try:
        text = checked_text(path_text)
    except DataProblem as e:
        raise DataError(str(e)) from None
    codec = make_codec(tokenizer, [text], vocab)
    _vocabulary_covers(codec, text, path_text)
    return codec, len(text.encode("utf-8")) if tokenizer == "byte" else len(text)


def _vocabulary_covers(codec: dict, text: str, where: str) -> None:
    """A kept vocabulary (a run's, or one typed in) must hold every character the file has,
    else training would stop at the first one: say so at the check."""
    if codec["tokenizer"] != "char":
        return
    missing = set(text) - set(codec["vocab"])
    if missing:
        shown = "".join(sorted(missing)[:10])
        raise DataError(
            f"{file_name(where)} has {len(missing)} character(s) the kept vocabulary lacks ({shown!r}); "
            "clear the kept vocabulary to use the file's own, or use the byte tokenizer."
        )


def text_facts(values: Mapping[str, Any], base_dir=None) -> tuple[dict, int]:
    path = resolve(values.get("path"), base_dir, "text file")
    return _text_facts(str(path), values.get("tokenizer", "char"), values.get("vocab") or "", _stamp(path))


def pin_text(values: Mapping[str, Any], base_dir=None) -> dict:
    """What a run keeps of a text: its vocabulary (char tokenizer)."""
    vocab = text_facts(values, base_dir)[0]["vocab"]
    return {"vocab": vocab} if vocab else {}


def pin_csv(values: Mapping[str, Any], base_dir=None) -> dict:
    vocab = column_facts(values, base_dir)[0]["vocab"]
    return {"vocab": vocab} if vocab else {}


def text_signature(values: Mapping[str, Any], base_dir=None) -> DataSignature:
    codec, n = text_facts(values, base_dir)
    size, block = vocabulary_size(codec), int(values["block_size"])
    windows = (n - block - 1) // int(values["stride"]) + 1 if n > block else 0
    if windows == 0:
        raise DataError(f"{file_name(values['path'])} has {n} tokens, too few for one window of {block}; "
                        "use a longer text or a smaller block size.")
    note = f"{file_name(values['path'])} ({n} tokens, {windows} windows)"
    return DataSignature((block,), "int64", size, "tokens", None, note, vocab_size=size)


def text_spec(kind, values: Mapping[str, Any], target: Any, base_dir=None) -> dict:
    codec, _ = text_facts(values, base_dir)
    return {"path": absolute(values["path"], base_dir), "tokenizer": codec["tokenizer"], "vocab": codec["vocab"],
            "block_size": values["block_size"], "stride": values["stride"]}


@functools.lru_cache(maxsize=32)
def _column_facts(path_text: str, key: tuple, stamp: int) -> tuple[dict, list[str], int]:
    """(codec, classes, rows) of a CSV file's text and label columns."""
    text, target, delimiter, header, tokenizer, vocab = key
    try:
        texts, labels, _ = read_text_column(path_text, text, target, delimiter, header)
    except DataProblem as e:
        raise DataError(str(e)) from None
    codec = make_codec(tokenizer, texts, vocab, offset=1)
    _vocabulary_covers(codec, "".join(texts), path_text)
    return codec, label_classes(labels), len(texts)


def column_facts(values: Mapping[str, Any], base_dir=None) -> tuple[dict, list[str], int]:
    path = resolve(values.get("path"), base_dir, "CSV file")
    key = (values["text"], values["target"], values["delimiter"], values["header"], values["tokenizer"],
           values.get("vocab") or "")
    return _column_facts(str(path), key, _stamp(path))


def text_csv_signature(values: Mapping[str, Any], base_dir=None) -> DataSignature:
    codec, classes, rows = column_facts(values, base_dir)
    length = int(values["length"])
    if rows * length * 8 > memory_limit(4):  # the int64 token matrix, built whole when it trains
        raise DataError(
            f"{file_name(values['path'])}: {rows:,} texts of {length:,} tokens take "
            f"{rows * length * 8 / 1e9:,.1f} GB as token ids, more than this computer can hold "
            "(a quarter of its memory); lower the length."
        )
    note = f"{file_name(values['path'])} ({rows} texts)"
    size = vocabulary_size(codec)
    return DataSignature((int(values["length"]),), "int64", len(classes), "class", None, note, vocab_size=size)


def text_csv_spec(kind, values: Mapping[str, Any], target: Any, base_dir=None) -> dict:
    codec, _, _ = column_facts(values, base_dir)
    keys = ("text", "target", "delimiter", "header", "length")
    return {"path": absolute(values["path"], base_dir), **{k: values[k] for k in keys},
            "tokenizer": codec["tokenizer"], "vocab": codec["vocab"]}
