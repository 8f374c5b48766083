"""Hostile and careless project files: one clear line, never a traceback; saving loses nothing."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

import pytest

from studio.graph.project import Project, ProjectError, dumps, load_project, loads, save_project

EXAMPLE = Path("resources/examples/mlp_classifier.studio.json")


def _example() -> dict:
    return json.loads(EXAMPLE.read_text())


def _message(text: str) -> str:
    with pytest.raises(ProjectError) as info:
        loads(text, "p.json")
    message = str(info.value)
    assert "\n" not in message and len(message) < 300, message
    return message


def test_an_integer_of_thousands_of_digits_is_one_line():
    doc = json.dumps(_example()).replace('"out_features": 64', '"out_features": ' + "9" * 5000, 1)
    assert "thousands of digits" in _message(doc)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize("where", ["metadata", "training"])
def test_nan_and_infinity_are_refused_at_load(where, number):
    doc = _example()
    doc[where] = {"x": "@"}
    text = json.dumps(doc).replace('"@"', number)
    message = _message(text)
    assert number in message and "finite number" in message


def test_a_lone_surrogate_in_the_name_is_saved_portably(tmp_path):
    doc = _example()
    doc["name"] = "\udfff model"
    project = loads(json.dumps(doc))  # the escape \udfff in JSON text
    path = save_project(project, tmp_path / "s.studio.json")
    again = load_project(path)
    assert again.name == "\udfff model"
    assert path.read_bytes().decode("utf-8")  # valid UTF-8 on disk


def test_echoed_user_text_is_shortened():
    doc = _example()
    doc["graph"]["blocks"][1]["type"] = "x" * 1_000_000
    assert "…" in _message(json.dumps(doc))
    doc = _example()
    doc["graph"]["blocks"][1]["params"]["out_features"] = "y" * 1_000_000
    assert "…" in _message(json.dumps(doc))
    doc = _example()
    doc["graph"]["edges"][0]["to"] = ["b2", "p" * 1_000_000]
    assert "…" in _message(json.dumps(doc))
    doc = _example()
    doc["name"] = "n" * 1_000_000
    assert "too long" in _message(json.dumps(doc))


def test_nan_put_in_by_code_gives_a_message_on_save(tmp_path):
    project = loads(EXAMPLE.read_text())
    project.metadata["x"] = float("nan")
    with pytest.raises(ProjectError, match="NaN"):
        dumps(project)
    target = tmp_path / "n.studio.json"
    target.write_text("old")
    with pytest.raises(ProjectError, match="NaN"):
        save_project(project, target)
    assert target.read_text() == "old"


def test_a_folder_that_refuses_the_temporary_file_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "p.studio.json"
    target.write_text("old")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(ProjectError) as info:
        save_project(loads(EXAMPLE.read_text()), target)
    assert "read-only" in str(info.value) and "not changed" in str(info.value)
    assert target.read_text() == "old"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_a_read_only_folder_keeps_the_old_file(tmp_path):
    target = tmp_path / "p.studio.json"
    target.write_text("old")
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(ProjectError, match="read-only"):
            save_project(loads(EXAMPLE.read_text()), target)
    finally:
        tmp_path.chmod(0o755)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["p.studio.json"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_project_files_respect_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        path = save_project(Project(name="u"), tmp_path / "u.studio.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_saving_over_a_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "k.studio.json"
    path.write_text("{}")
    path.chmod(0o640)
    save_project(Project(name="k"), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.parametrize(
    "block_type, params",
    [
        ("custom_module", {"source": "a" * 450 + ":X"}),
        ("custom_module", {"source": "torch.nn:Identity", "kwargs": "{'" + "k" * 3900 + "-': 1}"}),
        ("hub_model", {"repo": "x" * 450, "entry": "e"}),
        ("hub_model", {"repo": "./" + "d" * 450, "entry": "e"}),
    ],
)
def test_problems_quote_at_most_a_short_piece_of_the_users_text(block_type, params):
    from studio.compiler import analyze
    from studio.graph.model import Graph

    g = Graph()
    x = g.add_block("input", name="x")
    b = g.add_block(block_type, name="b", params=params)
    o = g.add_block("output", name="y")
    g.connect(x.id, "out", b.id, "in")
    g.connect(b.id, "out", o.id, "in")
    messages = [d.message for d in analyze(g).errors]
    assert messages and all(len(m) < 400 for m in messages), [m[:500] for m in messages]
