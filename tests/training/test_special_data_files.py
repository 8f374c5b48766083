"""A data path that is a device, a FIFO or too large: one line, never a hang (#23 item 6)."""

from __future__ import annotations

import os
import threading

import pytest

from studio.training import TrainingSettings, load_data
from studio.training.datasets import DatasetError
from studio.training.fit_check import read_signature
from studio.training.runtime import tables
from studio.training.runtime.tokens import checked_text


def _within(seconds, fn):
    """fn() in a thread; its result or exception, or 'blocked' after `seconds`."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except Exception as e:  # noqa: BLE001
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    return out if out else {"error": "blocked"}


def _settings(path, kind="text"):
    data = {"kind": kind, "path": str(path)}
    if kind == "text_csv":
        data.update(text="text", target="label")
    return TrainingSettings.from_dict(
        {"data": data, "loss": {"name": "next_token" if kind == "text" else "cross_entropy"}}
    )


@pytest.mark.parametrize("kind", ["text", "text_csv"])
@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_special_data_file_is_refused_in_one_line_by_check_and_by_load(tmp_path, special, kind):
    path = special
    if special == "fifo":
        path = tmp_path / "data.txt"
        os.mkfifo(path)
    got = _within(60, lambda: load_data(_settings(path, kind)))
    assert isinstance(got.get("error"), DatasetError), got
    assert "special file" in str(got["error"]) and "\n" not in str(got["error"])
    sig = _within(60, lambda: read_signature(_settings(path, kind).data, tmp_path))
    assert "special file" in str(sig.get("value", sig.get("error"))), sig


def test_a_text_file_larger_than_the_memory_allows_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.txt"
    path.write_text("abc" * 1000)
    monkeypatch.setattr(tables, "memory_limit", lambda fraction=16: 1000)
    import studio.training.runtime.tokens as tokens

    monkeypatch.setattr(tokens, "memory_limit", lambda fraction=16: 1000)
    with pytest.raises(tables.DataProblem, match="may be at most"):
        checked_text(path)


def test_a_text_is_encoded_a_chunk_at_a_time_not_as_one_list_of_the_whole_file(
    tmp_path, monkeypatch
):
    """#23 item 8: peak memory while reading text is the token tensor plus one chunk, not a
    Python list of every token beside it (a 200 MB file peaked at 17x its size)."""
    import torch

    from studio.training.runtime import text as runtime_text

    path = tmp_path / "t.txt"
    body = "the quick brown fox jumps over the lazy dog\n" * 500
    path.write_text(body, encoding="utf-8")
    sizes = []
    real = torch.tensor

    def spy(data, *a, **k):
        if isinstance(data, list):
            sizes.append(len(data))
        return real(data, *a, **k)

    monkeypatch.setattr(runtime_text.torch, "tensor", spy)
    data, _ = runtime_text.read_text_windows(
        {"path": str(path), "tokenizer": "char", "block_size": 16, "stride": 8}, chunk=1000
    )
    assert sizes and max(sizes) <= 1000
    vocab = data.codec["vocab"]
    assert "".join(vocab[i] for i in data.tokens[:44].tolist()) == body[:44]
    assert len(data.tokens) == len(body)
