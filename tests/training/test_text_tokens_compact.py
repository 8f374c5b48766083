"""A text file's tokens are kept in one byte each (not int64's eight) and widened a batch at a
time: the batches are the int64 windows they were, in the same order, in Studio and train.py."""

from pathlib import Path

import torch

from studio.training.batches import make_batches
from studio.training.runtime.loop import epoch_order, tensor_batches
from studio.training.runtime.text import TextWindows, read_text_windows, token_dtype

TALES = Path(__file__).resolve().parents[2] / "resources" / "data" / "tiny_tales.txt"


def _spec(tokenizer="char"):
    return {"path": str(TALES), "tokenizer": tokenizer, "block_size": 16, "stride": 8}


def test_the_tokens_take_one_byte_each_and_samples_are_int64():
    for tokenizer in ("char", "byte"):
        data, _ = read_text_windows(_spec(tokenizer))
        assert data.tokens.dtype == torch.uint8
        x, y = data[3]
        assert x.dtype == y.dtype == torch.int64 and torch.equal(x[1:], y[:-1])
    assert [token_dtype(n) for n in (256, 257, 32768, 32769)] == [
        torch.uint8,
        torch.int16,
        torch.int16,
        torch.int32,
    ]


def test_batches_are_the_int64_windows_in_the_epoch_order_and_copy_no_epoch():
    data, _ = read_text_windows(_spec())
    train, val = data.split_tail(0.1)
    wide = train.tokens.long().unfold(
        0, 17, 8
    )  # what the windows were before: int64, gathered whole
    gen = torch.Generator().manual_seed(0)
    order = epoch_order(len(train), True, gen)
    want = list(tensor_batches([wide[:, :-1], wide[:, 1:]], 32, order))
    got = list(
        make_batches(train, 32, True, torch.device("cpu"), 0, 0).epoch(
            torch.Generator().manual_seed(0)
        )
    )
    assert len(got) == len(want) > 1
    for (gx, gy), (wx, wy) in zip(got, want, strict=True):
        assert gx.dtype == gy.dtype == torch.int64
        assert torch.equal(gx, wx) and torch.equal(gy, wy)
    (vx, vy), *_ = make_batches(val, 32, False, torch.device("cpu"), 0, 0).epoch(None)
    assert vx.dtype == torch.int64 and torch.equal(vx, val.tokens.long().unfold(0, 17, 8)[:32, :-1])


def test_a_compact_window_set_read_a_sample_at_a_time_is_int64_too():
    windows = TextWindows(
        torch.arange(40, dtype=torch.uint8), 4, 4, {"tokenizer": "byte", "vocab": None}
    )
    x, y = windows[torch.tensor([0, 2])]
    assert x.dtype == torch.int64 and x.tolist() == [[0, 1, 2, 3], [8, 9, 10, 11]]
