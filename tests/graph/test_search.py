"""Search ranges: parsing the command line's form, the project file section, and their checks."""

import json

import pytest

from studio.graph.file_keys import PROJECT as PROJECT_KEYS
from studio.graph.project import ProjectError, dumps, load_project, loads
from studio.graph.search import Search, SearchError, SearchRange, apply_to_graph, parse
from studio.training import search_targets

SPIRAL = "resources/examples/mlp_classifier.studio.json"


@pytest.fixture
def project():
    return load_project(SPIRAL)


def test_parse_the_three_forms(project):
    lr = parse("lr=1e-4..1e-1:log", project.graph)
    assert (lr.setting, lr.low, lr.high, lr.log) == ("lr", 1e-4, 0.1, True)
    fc = parse("fc1.out_features=8..128", project.graph)
    assert (fc.block, fc.param, fc.low, fc.high, fc.is_int) == ("b2", "out_features", 8, 128, True)
    assert fc.label(project.graph) == "fc1.out_features" and fc.key == "b2.out_features"
    opt = parse("optimizer=adam,sgd", project.graph)
    assert opt.choices == ("adam", "sgd") and opt.describe() == "adam, sgd"
    step = parse("batch_size=16..128:step=16")
    assert step.step == 16 and step.describe() == "16..128 step 16"


@pytest.mark.parametrize(
    "text, words",
    [
        ("lr", "TARGET=LOW..HIGH"),
        ("lr=0..1:log", "log scale needs low greater than 0"),
        ("lr=1..0.1", "must be less than high"),
        ("lr=a..b", "'a' is not a number"),
        ("lr=1e-4..1:cubic", "unknown option"),
        ("fc9.out_features=8..16", "no block called 'fc9'"),
        ("fc1.out_features=0.5..8", "whole number"),
        ("fc1.out_features=0..8", "at least 1"),
        ("fc1.bias=1..2", "is a choice"),
        ("fc1.nope=1..2", "no parameter 'nope'"),
        ("optimizer=adam", "at least two values"),
    ],
)
def test_bad_ranges_say_why(project, text, words):
    with pytest.raises(SearchError, match=words):
        parse(text, project.graph)


def test_setting_names_are_checked_against_their_declarations(project):
    problems = search_targets.problems(
        Search([parse("momentum=0.5..2"), parse("optimizer=adam,lion"), parse("warmup=1..3")]),
        project.graph,
    )
    assert len(problems) == 3
    assert (
        "less than 1" in problems[0]
        and "'lion'" in problems[1]
        and "lr, weight_decay" in problems[2]
    )


def test_ranges_round_trip_through_the_project_file(project):
    project.search = Search(
        [
            parse(t, project.graph)
            for t in ("lr=1e-4..1e-1:log", "fc1.out_features=8..128", "optimizer=adam,sgd")
        ]
    )
    text = dumps(project)
    data = json.loads(text)
    assert set(data) <= set(PROJECT_KEYS)
    assert data["search"]["version"] == 1
    assert data["search"]["ranges"][1] == {
        "block": "b2",
        "param": "out_features",
        "low": 8,
        "high": 128,
    }
    again = loads(text)
    assert again.search == project.search


def test_a_project_without_ranges_writes_no_search_section(project):
    assert "search" not in json.loads(dumps(project))


def test_renaming_a_block_keeps_its_range(project):
    project.search = Search([parse("fc1.out_features=8..128", project.graph)])
    project.graph.rename("b2", "hidden")
    assert project.search.ranges[0].label(project.graph) == "hidden.out_features"
    assert search_targets.problems(project.search, project.graph) == []


def test_a_range_on_a_removed_block_is_a_problem(project):
    project.search = Search([parse("fc1.out_features=8..128", project.graph)])
    project.graph.remove_block("b2")
    assert "no longer exists" in search_targets.problems(project.search, project.graph)[0]


@pytest.mark.parametrize(
    "section, words",
    [
        ([], "'search' must be an object"),
        ({"ranges": {}}, "'ranges' must be a list"),
        ({"version": 2, "ranges": []}, "newer Studio"),
        ({"ranges": [], "extra": 1}, "unknown key 'extra'"),
        ({"ranges": [{"setting": "lr", "low": 1, "high": 2, "colour": 3}]}, "unknown key 'colour'"),
        ({"ranges": [{"setting": "lr"}]}, "'low' must be a number"),
        (
            {"ranges": [{"block": "b2", "setting": "lr", "low": 1, "high": 2}]},
            "either 'block' and 'param'",
        ),
        ({"ranges": [{"setting": "lr", "low": 1, "high": 2}] * 2}, "two ranges"),
        ({"ranges": [{"setting": "opt", "choices": [[1]]}]}, "each choice"),
    ],
)
def test_a_bad_search_section_is_one_clear_message(tmp_path, section, words):
    data = json.loads(open(SPIRAL).read())
    data["search"] = section
    path = tmp_path / "bad.studio.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProjectError, match=words):
        load_project(path)


def test_apply_sets_block_parameters_and_nested_settings(project):
    applied = search_targets.apply(
        project, {"b2.out_features": 17, "lr": 0.003, "optimizer": "sgd", "batch_size": 32}
    )
    assert applied.graph.blocks["b2"].params["out_features"] == 17
    assert applied.training["optimizer"] == {"name": "sgd", "lr": 0.003}
    assert applied.training["batch_size"] == 32
    assert project.graph.blocks["b2"].params["out_features"] == 64  # the original is untouched
    assert project.training["optimizer"]["name"] == "adam"


def test_with_range_replaces_the_same_target_in_place():
    s = Search(
        [SearchRange(setting="lr", low=0.1, high=1.0), SearchRange(setting="epochs", low=1, high=5)]
    )
    s2 = s.with_range(SearchRange(setting="lr", low=0.01, high=1.0, log=True))
    assert [r.key for r in s2.ranges] == ["lr", "epochs"] and s2.ranges[0].log
    assert [r.key for r in s2.without("lr").ranges] == ["epochs"]


def test_apply_to_graph_ignores_settings_and_missing_blocks(project):
    apply_to_graph(project.graph, {"lr": 0.1, "b99.out_features": 4, "b4.out_features": 9})
    assert project.graph.blocks["b4"].params["out_features"] == 9
