"""Text data: a .txt file as next-token windows, a CSV text column for classification."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from studio.training import TrainingSettings, load_data
from studio.training.datasets import DatasetError
from studio.training.plan import run_plan
from studio.training.runtime.metrics import token_hits, with_perplexity
from studio.training.runtime.text import TokenCrossEntropy
from studio.training.runtime.tokens import decode_tokens

TALES = Path(__file__).resolve().parents[2] / "resources" / "data" / "tiny_tales.txt"


def text_settings(path, **data) -> TrainingSettings:
    return TrainingSettings.from_dict({
        "data": {"kind": "text", "path": str(path), **data}, "loss": {"name": "next_token"}, "val_split": 0.0,
    })


def write(tmp_path, text, name="t.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_windows_are_the_next_token_targets_shifted_by_one(tmp_path):
    path = write(tmp_path, "abcdefghij")
    data = load_data(text_settings(path, block_size=3, stride=2))
    x, y = data.train.tensors
    assert x.dtype == y.dtype == torch.uint8  # one byte a token; samples and batches are int64
    assert data.train[0][0].dtype == data.train[0][1].dtype == torch.int64
    assert [decode_tokens(r.tolist(), data.train.codec) for r in x] == ["abc", "cde", "efg", "ghi"]
    assert [decode_tokens(r.tolist(), data.train.codec) for r in y] == ["bcd", "def", "fgh", "hij"]
    assert data.input_shape == (3,)
    assert data.num_classes == 10
    assert "t.txt (10 tokens, 10 in the vocabulary, 4 windows of 3)" == data.description


def test_the_char_vocabulary_is_the_files_characters_and_travels_in_the_plan(tmp_path):
    path = write(tmp_path, "hello, world\n")
    settings = text_settings(path, block_size=4, stride=1)
    spec = run_plan(settings, tmp_path)["data"]
    assert spec["vocab"] == "\n ,dehlorw"
    data = load_data(settings)
    assert data.train.codec["vocab"] == spec["vocab"]
    assert data.train.tensors[0][0].tolist() == [spec["vocab"].index(c) for c in "hell"]


def test_validation_is_the_end_of_the_file_and_never_overlaps_training(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    path = write(tmp_path, text)
    settings = TrainingSettings.from_dict({
        "data": {"kind": "text", "path": str(path), "tokenizer": "byte", "block_size": 8, "stride": 1},
        "loss": {"name": "next_token"}, "val_split": 0.2, "shuffle": True,
    })
    data = load_data(settings)
    assert torch.equal(data.train.tokens, torch.tensor(list(text[:800].encode())))
    assert torch.equal(data.val.tokens, torch.tensor(list(text[800:].encode())))
    assert len(data.train) == 800 - 8 and len(data.val) == 200 - 8
    assert torch.equal(data.val.tensors[0][0], torch.tensor(list(text[800:808].encode())))


def test_byte_level_takes_any_utf8_text(tmp_path):
    text = "Grüße, naïve café — 東京 🙂\n"
    path = write(tmp_path, text)
    data = load_data(text_settings(path, tokenizer="byte", block_size=4, stride=4))
    assert data.num_classes == 256
    assert data.train.tokens.tolist() == list(text.encode("utf-8"))
    assert decode_tokens(data.train.tokens.tolist(), data.train.codec) == text


def test_a_file_that_is_not_utf8_or_too_short_gets_one_line(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café".encode("latin-1"))
    with pytest.raises(DatasetError, match=r"latin1.txt is not UTF-8 text .*save it as UTF-8"):
        load_data(text_settings(bad))
    short = write(tmp_path, "tiny", "short.txt")
    with pytest.raises(DatasetError, match="too few for one window of 64"):
        load_data(text_settings(short))
    with pytest.raises(DatasetError, match="file not found"):
        load_data(text_settings(tmp_path / "missing.txt"))


def test_the_shipped_text_is_small_public_domain_and_trains_offline():
    data = load_data(TrainingSettings.from_dict({
        "data": {"kind": "text", "path": str(TALES)}, "loss": {"name": "next_token"}}))
    assert 50_000 < TALES.stat().st_size < 300_000
    assert data.num_classes < 80 and len(data.train) > 5000 and len(data.val) > 1000


def test_a_csv_text_column_becomes_padded_token_ids_and_labels(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('review,label\n"good, very good",pos\nbad,neg\nlong long long text,pos\n', encoding="utf-8")
    settings = TrainingSettings.from_dict({
        "data": {"kind": "text_csv", "path": str(path), "text": "review", "target": "label", "length": 6},
        "val_split": 0.0,
    })
    data = load_data(settings)
    x, y = data.train.tensors
    assert x.shape == (3, 6) and x.dtype == torch.int64
    codec = data.train.codec
    assert decode_tokens(x[0].tolist(), codec) == "good, "
    assert decode_tokens(x[1].tolist(), codec) == "bad" and x[1, 3:].tolist() == [0, 0, 0]
    assert data.class_names == ["neg", "pos"] and y.tolist() == [1, 0, 1]
    assert min(x[x > 0].tolist()) >= 1  # id 0 pads


def test_the_token_loss_and_metrics_match_a_hand_computation():
    logits = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])  # N=1, T=2, V=3
    targets = torch.tensor([[0, 2]])
    loss = TokenCrossEntropy()(logits, targets).item()
    first = -math.log(math.exp(2) / (math.exp(2) + 2))
    second = -math.log(1 / (math.e + 2))
    assert loss == pytest.approx((first + second) / 2, abs=1e-6)
    assert token_hits(logits, targets).tolist() == [0.5]  # position 0 right, position 1 wrong
    m = {"epoch": 1, "train_loss": loss, "val_loss": math.log(7.0)}
    with_perplexity(m)
    assert list(m) == ["epoch", "train_loss", "val_loss", "train_perplexity", "val_perplexity"]
    assert m["train_perplexity"] == pytest.approx(math.exp((first + second) / 2))
    assert m["val_perplexity"] == pytest.approx(7.0)


def test_a_split_that_leaves_a_part_without_a_window_says_so_in_one_line():
    from studio.training.runtime.tables import DataProblem
    from studio.training.runtime.text import TextWindows

    data = TextWindows(torch.arange(40, dtype=torch.uint8), 16, 8, {"tokenizer": "byte", "vocab": None})
    train, val = data.split_tail(0.5)  # 20 tokens each: a window of 16 (and its next token) fits
    assert len(train) == len(val) == 1
    with pytest.raises(DataProblem) as e:
        data.split_tail(0.2)  # 8 tokens to validate on
    assert str(e.value) == "40 tokens: too few to split 0.2 in windows of 16."
