"""Text as token ids: reading a text file or a CSV text column, vocabularies, encoding (runtime).

Standard library only, so the torch-free data signatures read text with the same rules as the
reader and train.py. A `codec` is a plain dict: {"tokenizer": "char" | "byte", "vocab": the
characters in id order (char) or None (byte: the 256 UTF-8 byte values), "offset": ids start
here (1 where id 0 pads a CSV text)}; train.py holds its vocabulary in SETTINGS, so it reads
the text with the very mapping Studio trained with, and saves the codec in weights.json, which
--generate reads. Studio's own checks of a file (`checked_text`) stay here, out of train.py.
"""

from __future__ import annotations

from pathlib import Path

from studio.training.runtime.tables import (
    DataProblem,
    column_number,
    header_names,
    is_number,
    memory_limit,
    read_rows,
    regular_file,
)


def file_name(path):
    return str(path).replace("\\", "/").rsplit("/", 1)[-1]


def read_text(path):
    """The text of a UTF-8 file (a byte-order mark is dropped, line ends become \\n), read as it
    is: Studio checks the file first (`checked_text`, when the reader spec is built), and a
    training script reads the one file its project was checked with."""
    return Path(path).read_text(encoding="utf-8-sig")


def checked_text(path):
    """`read_text` behind Studio's guards, each a one-sentence DataProblem: a regular file (a FIFO
    would block the reader, /dev/zero never ends) of at most 1/16 of the memory (its tokens take
    up to 8 bytes a character), UTF-8, not empty."""
    regular_file(path, memory_limit())
    try:
        text = read_text(path)
    except UnicodeDecodeError as e:
        raise DataProblem(
            f"{file_name(path)} is not UTF-8 text (byte {e.start} is not valid); save it as UTF-8."
        ) from None
    except OSError as e:
        raise DataProblem(f"Could not read {path}: {e.strerror or e}") from None
    if not text:
        raise DataProblem(f"{file_name(path)} is empty.")
    return text


def make_codec(tokenizer, texts, vocab=None, offset=0):
    """The codec of `tokenizer` ("char" or "byte") for `texts` (a list of texts: a file's, or a
    CSV column's); `vocab` keeps a stored mapping, else the char tokenizer's ids are the distinct
    characters of the texts in code-point order."""
    if tokenizer == "byte":
        return {"tokenizer": "byte", "vocab": None, "offset": offset}
    chars = vocab or "".join(sorted(set().union(*map(set, texts))))
    return {"tokenizer": "char", "vocab": chars, "offset": offset}


def vocabulary_size(codec):
    """How many token ids the codec uses (the Embedding's num_embeddings, the head's width)."""
    if codec["tokenizer"] == "byte":
        return 256 + codec.get("offset", 0)
    return len(codec["vocab"]) + codec.get("offset", 0)


def encode_text(text, codec, where="The text"):
    """The token ids of `text`; DataProblem naming the first character the vocabulary lacks."""
    if codec["tokenizer"] == "byte":
        offset = codec.get("offset", 0)
        return [b + offset for b in text.encode("utf-8")]
    index = {c: i for i, c in enumerate(codec["vocab"], codec.get("offset", 0))}
    try:
        return [index[c] for c in text]
    except KeyError as e:
        problem = f"{where} has the character {e.args[0]!r}, which the training text does not have"
        raise DataProblem(f"{problem}; use only its characters, or the byte tokenizer.") from None


def decode_tokens(ids, codec):
    """The text of token ids (ids outside the vocabulary, like padding, are left out)."""
    offset, vocab = codec.get("offset", 0), codec["vocab"]
    if codec["tokenizer"] == "byte":
        return bytes(i - offset for i in ids if 0 <= i - offset < 256).decode("utf-8", errors="replace")
    return "".join(vocab[i - offset] for i in ids if 0 <= i - offset < len(vocab))


def read_text_column(path, text_column, label_column, delimiter=",", header=True):
    """(texts, labels as written, line numbers) of the rows of a CSV file with a text column."""
    rows = read_rows(path, delimiter)
    names, has_header = header_names(rows[0][1], header)
    name = file_name(path)
    t, k = column_number(text_column, names, name), column_number(label_column, names, name)
    texts, labels, lines = [], [], []
    for line, cells in rows[1 if has_header else 0 :]:
        if max(t, k) >= len(cells):
            raise DataProblem(f"{name} row {line} has {len(cells)} cells; the text and label columns need {max(t, k) + 1}.")
        texts.append(cells[t])
        labels.append(cells[k].strip())
        lines.append(line)
    if not texts:
        raise DataProblem(f"{name} has a header but no rows.")
    return texts, labels, lines


def label_classes(labels):
    """The distinct labels in class order: by value when all are numbers, else alphabetically."""
    distinct = set(labels)
    if all(is_number(v) for v in distinct):
        return sorted(distinct, key=float)
    return sorted(distinct)
