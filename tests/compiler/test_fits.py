"""A model too large for the memory is refused by check and by train before it is built (#23.7)."""

import json
import sys
from pathlib import Path

import pytest

from studio.compiler import analyze
from studio.compiler.fits import size_problems
from studio.graph.project import loads

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from load_definitions import definition, project  # noqa: E402


def huge(repeat=256, width=4096) -> dict:
    """A(repeat B(repeat C)) used with repeat: 256^3 copies of C's two Linear layers."""
    mods = [definition("A", "B"), definition("B", "C"), definition("C")]
    for m in mods[:2]:
        next(b for b in m["graph"]["blocks"] if b["id"] == "u")["params"] = {"repeat": repeat}
    c = mods[2]["graph"]
    c["blocks"][1]["params"] = {"out_features": width}
    c["blocks"].append({"id": "l2", "type": "linear", "name": "fc2", "params": {"out_features": 8}})
    c["edges"] = [e for e in c["edges"] if e["id"] != "e3"] + [
        {"id": "e4", "from": ["l", "out"], "to": ["l2", "in"]},
        {"id": "e5", "from": ["l2", "out"], "to": ["o", "in"]},
    ]
    p = project(mods, "A")
    p["graph"]["blocks"][1]["params"] = {"repeat": repeat}
    return p


def test_a_model_larger_than_the_memory_is_an_error_with_the_numbers():
    graph = loads(json.dumps(huge()).encode(), "x").graph
    analysis = analyze(graph)
    t = analysis.totals()
    assert t.params > 10**12
    errors = [d.message for d in analysis.errors]
    assert any("cannot be built" in m and f"{t.params:,} parameters" in m for m in errors), errors


def test_training_size_is_a_warning_and_a_small_model_nothing():
    assert size_problems(10**6, 4 * 10**6, memory=10**9) == []
    (warn,) = size_problems(10**8, 4 * 10**8, memory=10**9)
    assert not warn.is_error and "training needs about 4x" in warn.message
    (err,) = size_problems(10**9, 4 * 10**9, memory=10**9)
    assert err.is_error


def test_train_refuses_it_before_building_anything(tmp_path):
    from studio.training.prepare import PrepareError, prepare_run
    from studio.training.settings import TrainingSettings

    proj = loads(json.dumps(huge()).encode(), "x")
    settings = TrainingSettings.from_dict({"data": {"kind": "spirals"}, "epochs": 1})
    with pytest.raises(PrepareError, match="cannot be built"):
        prepare_run(proj, settings, base_dir=tmp_path)
