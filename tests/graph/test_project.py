import json

import pytest

from studio.graph.project import FORMAT_VERSION, Project, ProjectError, load_project, save_project
from tests.helpers import mlp


def test_save_and_load_round_trip(tmp_path):
    p = Project(name="Demo", graph=mlp(), training={"epochs": 3}, metadata={"description": "d"})
    path = save_project(p, tmp_path / "demo.studio.json")
    q = load_project(path)
    assert q.name == "Demo" and q.training == {"epochs": 3} and q.metadata == {"description": "d"}
    assert q.graph.to_dict() == p.graph.to_dict()
    data = json.loads(path.read_text())
    assert data["format_version"] == FORMAT_VERSION and data["app"] == "studio"


def test_saving_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "p.studio.json"
    save_project(Project(name="one", graph=mlp()), path)
    original = path.read_text()

    import studio.graph.project as project_module

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(project_module.os, "replace", boom)
    with pytest.raises(ProjectError, match="No space left"):
        save_project(Project(name="two", graph=mlp()), path)
    assert path.read_text() == original  # the user's file is untouched
    assert [f.name for f in tmp_path.iterdir()] == ["p.studio.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not"),
        (b"[1, 2]", "not a Studio project"),
        (b'{"name": "x"}', "no 'format_version'"),
        (b'{"format_version": 99}', "newer than this Studio"),
        (b'{"format_version": 1, "graph": {"blocks": [{"id": "a", "type": "warp_drive", "name": "w"}]}}', "unknown type 'warp_drive'"),
        (b'{"format_version": 1, "graph": {"blocks": [{"id": "a", "type": "linear", "name": "w", "params": {"out_features": -5}}]}}', "at least 1"),
        (b'{"format_version": 1, "graph": {"blocks": [{"id": "a", "type": "linear", "name": "w", "params": {"out_features": 1e300}}]}}', "whole number"),
        (b'{"format_version": 1, "graph": {"blocks": [], "edges": [{"id": "e", "from": ["a", "out"], "to": ["b", "in"]}]}}', "edge 1"),
        (b'{"format_version": 1, "graph": {"blocks": "nope"}}', "'blocks' must be a list"),
        (b'{"format_version": 1, "training": []}', "'training' must be an object"),
    ],
)
def test_bad_files_give_one_clean_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.studio.json"
    path.write_bytes(content)
    with pytest.raises(ProjectError) as err:
        load_project(path)
    text = str(err.value)
    assert str(path) in text and message in text and "\n" not in text


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ProjectError, match="no such file"):
        load_project(tmp_path / "missing.studio.json")
    with pytest.raises(ProjectError, match="is a folder"):
        load_project(tmp_path)


def test_loading_and_checking_a_project_runs_none_of_the_code_it_names(tmp_path):
    """A file-based Custom module's code runs only once the user trusts the file: loading the
    project and inferring its shapes leave no trace of it (the marker proves it would show)."""
    from studio.compiler import analyze
    from studio.trust import trust

    marker = tmp_path / "ran.txt"
    module = tmp_path / "evil.py"
    module.write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "import torch\n\nclass Block(torch.nn.Module):\n    def forward(self, x):\n        return x\n"
    )
    sneaky = "__import__('os').system('x')"  # names stay text
    data = {
        "format_version": FORMAT_VERSION,
        "name": sneaky,
        "graph": {
            "blocks": [
                {"id": "a", "type": "input", "name": "x", "params": {"shape": [4]}},
                {"id": "b", "type": "custom_module", "name": sneaky, "params": {"source": f"{module}:Block"}},
                {"id": "c", "type": "output", "name": "y"},
            ],
            "edges": [
                {"id": "e1", "from": ["a", "out"], "to": ["b", "in"]},
                {"id": "e2", "from": ["b", "out"], "to": ["c", "in"]},
            ],
        },
    }
    path = tmp_path / "p.studio.json"
    path.write_text(json.dumps(data))
    project = load_project(path)
    assert project.name == sneaky and project.graph.block("b").name == sneaky
    analysis = analyze(project.graph)
    assert any("does not run code" in d.message for d in analysis.errors)
    assert not marker.exists()
    trust(str(module))
    assert analyze(project.graph).ok
    assert marker.read_text() == "ran"


def test_old_block_type_ids_still_load_through_aliases(tmp_path, monkeypatch):
    from studio.blocks.registry import _ALIASES

    monkeypatch.setitem(_ALIASES, "dense", "linear")
    data = {"format_version": 1, "graph": {"blocks": [{"id": "a", "type": "dense", "name": "fc"}]}}
    path = tmp_path / "old.studio.json"
    path.write_text(json.dumps(data))
    assert load_project(path).graph.block("a").type == "linear"
