"""Canaries for the trust tests: outside code that leaves a file behind when it runs.

Each builder writes, under a folder, a module / file / torch.hub repository whose top-level
code creates ``CANARY-<name>`` next to itself, and a project whose Custom module or Hub model
block names it. A test then runs a command and looks for the canary files: none may appear
until the user trusted the code.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

_BODY = '''\
import pathlib
pathlib.Path(__file__).resolve().parent.joinpath("CANARY-" + {tag!r}).write_text("ran")
import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(x)
'''


def canaries(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).rglob("CANARY-*"))


def project(folder: Path, name: str, block: dict) -> Path:
    """An Input -> block -> Output project (trainable on a tiny generated data set)."""
    doc = {
        "format_version": 1,
        "name": name,
        "graph": {
            "blocks": [
                {"id": "i", "type": "input", "name": "x", "params": {"shape": [2]}},
                {"id": "c", "name": "outside", **block},
                {"id": "o", "type": "output", "name": "y"},
            ],
            "edges": [
                {"id": "e1", "from": ["i", "out"], "to": ["c", "in"]},
                {"id": "e2", "from": ["c", "out"], "to": ["o", "in"]},
            ],
        },
        "training": {"data": {"kind": "spirals", "n": 32, "classes": 2}, "epochs": 1, "batch_size": 16},
    }
    path = Path(folder) / f"{name}.studio.json"
    path.write_text(json.dumps(doc))
    return path


def module_project(folder: Path) -> tuple[Path, str]:
    """A module ``canary_<id>.py`` in `folder`, named by module (``canary_<id>:Net``)."""
    name = f"canary_{uuid.uuid4().hex[:8]}"
    (Path(folder) / f"{name}.py").write_text(_BODY.format(tag=name))
    block = {"type": "custom_module", "params": {"source": f"{name}:Net"}}
    return project(folder, "by_module", block), name


def file_project(folder: Path, relative: bool = True) -> tuple[Path, str]:
    """A file ``canary_file_<id>.py`` in `folder`, named by path (relative to the working folder)."""
    name = f"canary_file_{uuid.uuid4().hex[:8]}"
    path = Path(folder) / f"{name}.py"
    path.write_text(_BODY.format(tag=name))
    block = {"type": "custom_module", "params": {"source": f"{path.name if relative else path}:Net"}}
    return project(folder, "by_file", block), name


def hub_project(folder: Path) -> tuple[Path, str]:
    """A local torch.hub repository whose hubconf.py is the canary; the file claims "trusted"."""
    name = f"canary_hub_{uuid.uuid4().hex[:8]}"
    repo = Path(folder) / name
    repo.mkdir()
    (repo / "hubconf.py").write_text(_BODY.format(tag=name) + "\n\ndef net():\n    return Net()\n")
    block = {"type": "hub_model", "params": {"repo": f"./{name}", "entry": "net", "trusted": True}}
    return project(folder, "by_hub", block), name
