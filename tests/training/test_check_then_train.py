"""What check passes, train can start (#23 item 13): the cases that passed check and failed in train."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from studio.graph.project import ProjectError, loads
from studio.training import TrainingSettings, load_data
from studio.training.datasets import DatasetError
from studio.training.fit_check import read_signature

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from load_definitions import many  # noqa: E402


def _data(**data):
    return TrainingSettings.from_dict({"data": data, "loss": {"name": "cross_entropy"}}).data


def test_a_kept_vocabulary_missing_characters_of_the_file_fails_the_check(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abcabcabc " * 100, encoding="utf-8")
    spec = TrainingSettings.from_dict(
        {
            "data": {
                "kind": "text",
                "path": str(path),
                "vocab": "abc",
                "block_size": 8,
                "stride": 4,
            },
            "loss": {"name": "next_token"},
        }
    )
    sig = read_signature(spec.data, tmp_path)
    assert isinstance(sig, str) and "kept vocabulary lacks" in sig and "' '" in sig
    with pytest.raises(DatasetError, match="vocabulary"):
        load_data(spec)  # and train says the same, rather than failing mid-way


def test_a_text_csv_too_large_to_hold_as_token_ids_fails_the_check(tmp_path, monkeypatch):
    from studio.training import text_data

    monkeypatch.setattr(
        text_data, "memory_limit", lambda fraction=16: 4 * 100 * 1000 * 8
    )  # 100 x 1000 fits
    path = tmp_path / "t.csv"
    path.write_text(
        "text,label\n" + "".join(f"hello {i},{i % 2}\n" for i in range(100)), encoding="utf-8"
    )
    sig = read_signature(
        _data(kind="text_csv", path=str(path), text="text", target="label", length=5000), tmp_path
    )
    assert isinstance(sig, str) and "lower the length" in sig, sig
    ok = read_signature(
        _data(kind="text_csv", path=str(path), text="text", target="label", length=1000), tmp_path
    )
    assert not isinstance(ok, str), ok


@pytest.mark.parametrize("name", ["weights", "repeat"])
def test_a_per_use_parameter_named_like_a_use_setting_is_refused_at_load(name):
    data = many(1)
    data["graph"]["modules"][0]["params"] = [{"name": name, "targets": [["l", "out_features"]]}]
    with pytest.raises(ProjectError, match=f"cannot be called '{name}'"):
        loads(json.dumps(data).encode(), "p")
