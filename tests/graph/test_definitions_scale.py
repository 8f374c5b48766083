"""Module definitions: nesting is bounded, loading many is linear (#23 items 4 and 5)."""

import json
import sys
from pathlib import Path

import pytest

from studio.graph.errors import GraphError
from studio.graph.modules import MAX_NESTING, Definition
from studio.graph.project import ProjectError, load_project, loads

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from load_definitions import many, nested  # noqa: E402  (the benchmark's generators)


def test_nesting_past_the_bound_is_one_line_at_load(tmp_path):
    path = tmp_path / "deep.studio.json"
    path.write_text(json.dumps(nested(200)))
    with pytest.raises(ProjectError) as e:
        load_project(path)
    assert "nest 200 levels deep" in str(e.value) and f"at most {MAX_NESTING}" in str(e.value)
    loads(json.dumps(nested(MAX_NESTING)).encode(), "x")  # the bound itself loads
    with pytest.raises(ProjectError, match=f"nest {MAX_NESTING + 1} levels"):
        loads(json.dumps(nested(MAX_NESTING + 1)).encode(), "x")


def test_a_cycle_of_any_length_is_one_line():
    data = nested(500)
    last = data["graph"]["modules"][-1]["graph"]
    last["blocks"].append({"id": "u", "type": "module:M0", "name": "back"})
    with pytest.raises(ProjectError, match="contains itself"):
        loads(json.dumps(data).encode(), "x")


def test_placing_a_use_past_the_bound_is_refused_in_the_editor():
    graph = loads(json.dumps(nested(MAX_NESTING)).encode(), "x").graph
    outer = graph.library.new("Outer")
    with pytest.raises(GraphError, match=f"nest {MAX_NESTING + 1} levels"):
        outer.graph.add_block("module:M0")
    # inside the deepest module, a use of a fresh module is one level too many as well
    leaf = graph.library.new("Leaf")
    leaf.graph.add_block("input")
    deepest = graph.library.get(f"M{MAX_NESTING - 1}")
    with pytest.raises(GraphError, match="at most"):
        deepest.graph.add_block("module:Leaf")
    graph.library.get("M1").graph.add_block("module:Leaf")  # well within the bound


def test_loading_definitions_is_linear(monkeypatch):
    """Work counted, not timed: quadratic loading touched every definition on every change."""
    counts = {"used": 0}
    real = Definition.used_definitions

    def counted(self):
        counts["used"] += 1
        return real(self)

    monkeypatch.setattr(Definition, "used_definitions", counted)
    work = {}
    for n in (200, 800):
        counts["used"] = 0
        loads(json.dumps(many(n)).encode(), "x")
        work[n] = counts["used"]
    assert work[800] <= 4.5 * work[200], work  # linear: 4x; quadratic was 16x
