"""Outside code named in a project runs only with consent, through every command.

The canaries (see tests/canary.py) write a file when their code runs. Without --trust-code
none may appear, and each command fails with a short message that says why; with it they
do (so the tests can fail).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from tests.canary import canaries, file_project, hub_project, module_project, project

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """The working folder holds the outside code and is on sys.path, as with ``python -m studio``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.fixture
def projects(folder):
    return [module_project(folder)[0], file_project(folder)[0], hub_project(folder)[0]]


def test_check_export_train_and_weights_run_no_outside_code_without_trust(projects, folder, capsys):
    assert main(["check", *map(str, projects)]) == 1
    err = capsys.readouterr().err
    assert err.count("does not run code named in a project until you trust it") == 3
    for path in projects:
        assert main(["export", str(path), "-o", str(folder / "m.py")]) == 1
        assert "until you trust it" in capsys.readouterr().err
        assert main(["train", str(path), "--out", str(folder / "run")]) == 2
        assert "until you trust it" in capsys.readouterr().err
    for path in projects:
        main(["weights", str(path)])  # fetches what a project needs; runs none of it
    assert canaries(folder) == []
    assert not (folder / "m.py").exists() and not (folder / "run" / "metrics.csv").exists()


def test_trust_code_lets_each_run(projects, folder, capsys):
    assert main(["check", "--trust-code", *map(str, projects)]) == 0
    assert len(canaries(folder)) == 3


def test_training_with_trust_code_runs_the_module(folder, capsys):
    path, name = module_project(folder)
    assert main(["train", str(path), "--trust-code", "--out", str(folder / "run")]) == 0
    assert canaries(folder) == [f"CANARY-{name}"]


def test_import_of_a_file_or_module_needs_yes_off_a_terminal(folder, capsys):
    _, module = module_project(folder)
    _, file = file_project(folder)
    for spec in (f"{module}:Net", f"{file}.py:Net"):
        assert main(["import", spec, "--input-shape", "2", "-o", str(folder / "i.studio.json")]) == 1
        assert "give --yes (or --trust-code)" in capsys.readouterr().err
    assert canaries(folder) == []
    assert main(["import", f"{module}:Net", "--yes", "--input-shape", "2", "-o", str(folder / "i.studio.json")]) == 0
    assert canaries(folder) == [f"CANARY-{module}"]


def test_a_real_process_imports_nothing_from_the_working_folder(folder):
    """``python -m studio`` puts the working folder on sys.path: a project naming a module
    there, a standard module with side effects (``this`` prints a poem), a file or a hub
    folder, or torchvision shadowed by a ``torchvision.py`` there, runs none of it."""
    paths = [module_project(folder)[0], file_project(folder)[0], hub_project(folder)[0]]
    (folder / "torchvision.py").write_text(
        "import pathlib\npathlib.Path(__file__).with_name('CANARY-torchvision').write_text('x')\n"
    )
    paths.append(project(folder, "tv", {"type": "custom_module", "params": {"source": "torchvision.ops:Permute", "kwargs": "{'dims': [0, 1]}"}}))
    paths.append(project(folder, "poem", {"type": "custom_module", "params": {"source": "this:Net"}}))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "ascii:strict"}
    r = subprocess.run(
        [sys.executable, "-m", "studio", "check", *map(str, paths)],
        capture_output=True, text=True, cwd=folder, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert "Beautiful is better than ugly" not in r.stdout
    assert r.stderr.count("until you trust it") == 4  # the torchvision one is allowed and fine
    assert canaries(folder) == []
