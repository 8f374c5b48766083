"""Every message ``graph_from_dict`` gives for a bad graph, word for word.

The checks build their messages only when one fails (a 5,000-block file opened with about 8
f-strings a block built and thrown away); these pin each message's text, so the lazy ones say
exactly what the eager ones said: which block or wire (by its place in the file, then its name),
and what is wrong with it.
"""

from __future__ import annotations

import json

import pytest

from studio.graph.model import Graph
from studio.graph.project import ProjectError, load_project
from studio.graph.serialize import FormatError

IN = {"id": "a", "type": "input", "name": "x", "params": {"shape": [4]}}
FC = {"id": "b", "type": "linear", "name": "fc", "params": {"out_features": 3}}
WIRE = {"id": "e1", "from": ["a", "out"], "to": ["b", "in"]}


def fc(**changes) -> dict:
    return {**FC, **changes}


def without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


def wired(*edges) -> dict:
    return {"blocks": [IN, FC], "edges": list(edges)}


CASES = [
    ([], "'graph' must be an object with 'blocks' and 'edges'"),
    (
        {"blocks": [], "edges": [], "blox": []},
        "Unknown key in 'graph': 'blox'; did you mean 'blocks'?",
    ),
    ({"blocks": {}}, "'blocks' must be a list"),
    ({"blocks": [], "edges": "x"}, "'edges' must be a list"),
    ({"blocks": [IN, 3]}, "block 2 must be an object"),
    ({"blocks": [IN, without(FC, "id")]}, "block 2 needs a text 'id'"),
    ({"blocks": [IN, fc(id="")]}, "block 2 needs a text 'id'"),
    ({"blocks": [IN, without(FC, "type")]}, "block 2 ('b') needs a text 'type'"),
    ({"blocks": [IN, fc(name=5)]}, "block 2 ('b') needs a text 'name'"),
    (
        {"blocks": [IN, fc(postion=[0, 0])]},
        "Unknown key in block 'fc': 'postion'; did you mean 'position'?",
    ),
    ({"blocks": [IN, fc(type="warp_drive")]}, "block 'fc' has an unknown type 'warp_drive'"),
    ({"blocks": [IN, fc(params=[1])]}, "block 'fc': 'params' must be an object"),
    ({"blocks": [IN, fc(version="2")]}, "block 'fc': bad 'version'"),
    ({"blocks": [IN, fc(version=True)]}, "block 'fc': bad 'version'"),
    ({"blocks": [IN, fc(version=99)]}, "block 'fc' was saved by a newer Studio (type version 99)"),
    ({"blocks": [IN, fc(position=[0, "1"])]}, "block 'fc': 'position' must be two numbers"),
    ({"blocks": [IN, fc(position=[0, 1e12])]}, "block 'fc': 'position' must be two numbers"),
    ({"blocks": [IN, fc(position=[0, True])]}, "block 'fc': 'position' must be two numbers"),
    ({"blocks": [IN, fc(position=[0])]}, "block 'fc': 'position' must be two numbers"),
    ({"blocks": [IN, fc(frozen="yes")]}, "block 'fc': 'frozen' must be true or false"),
    (
        {"blocks": [IN, fc(params={"out_features": -3})]},
        "block 'fc': out features must be at least 1 (got -3).",
    ),
    ({"blocks": [IN, fc(id="a")]}, "block 'fc': Block id 'a' is already used."),
    (
        {"blocks": [IN, fc(name="x")]},
        "block 'x': Another block is already called 'x'; names must be unique.",
    ),
    (
        {"blocks": [IN, fc(name="n" * 200, type="nope")]},
        f"block '{'n' * 78}… has an unknown type 'nope'",
    ),
    (wired(WIRE, "e"), "edge 2 must be an object"),
    (wired({**WIRE, "too": 1}), "Unknown key in edge 1: 'too'; did you mean 'to'?"),
    (wired(without(WIRE, "id")), "edge 1 needs a text 'id'"),
    (wired({**WIRE, "from": ["a"]}), "edge 1: 'from' must be [block id, port name]"),
    (wired({**WIRE, "to": ["b", 1]}), "edge 1: 'to' must be [block id, port name]"),
    (
        wired({**WIRE, "to": ["zz", "in"]}),
        "edge 1: Both ends of a wire must be blocks on the canvas.",
    ),
    (wired({**WIRE, "to": ["b", "inn"]}), "edge 1: 'fc' has no input called 'inn'."),
    (wired(WIRE, {**WIRE, "to": ["b", "in"]}), "edge 2: Edge id 'e1' is already used."),
]


@pytest.mark.parametrize(("data", "message"), CASES, ids=[m[:40] for _, m in CASES])
def test_each_bad_graph_gets_its_own_message_word_for_word(data, message):
    with pytest.raises(FormatError) as err:
        Graph.from_dict(data)
    assert str(err.value) == message


def test_a_bad_block_deep_in_a_large_file_is_named_by_its_place_and_name():
    blocks = [IN] + [{"id": f"r{i}", "type": "relu", "name": f"relu_{i}"} for i in range(4_000)]
    blocks[3_000] = {**blocks[3_000], "position": [1, "2"]}
    blocks[3_500] = without(blocks[3_500], "type")
    with pytest.raises(FormatError, match=r"^block 'relu_2999': 'position' must be two numbers$"):
        Graph.from_dict({"blocks": blocks})
    del blocks[3_000]["position"]
    with pytest.raises(FormatError, match=r"^block 3501 \('r3499'\) needs a text 'type'$"):
        Graph.from_dict({"blocks": blocks})


def test_the_message_reaches_the_user_with_the_files_name(tmp_path):
    path = tmp_path / "bad.studio.json"
    path.write_text(json.dumps({"format_version": 2, "graph": wired({**WIRE, "to": ["b", 1]})}))
    with pytest.raises(ProjectError) as err:
        load_project(path)
    text = str(err.value)
    assert str(path) in text and text.endswith("edge 1: 'to' must be [block id, port name]")


def test_a_good_graph_loads_whole():
    g = Graph.from_dict(
        {**wired(WIRE), "blocks": [IN, fc(position=[3, 4.5], frozen=True, version=1)]}
    )
    assert [b.name for b in g] == ["x", "fc"]
    assert g.blocks["b"].position == (3.0, 4.5) and g.blocks["b"].frozen
    assert [(e.src, e.dst) for e in g.edges.values()] == [("a", "b")]
