"""Every JSON example in the docs loads as it is written: no misspelt key slips into the docs
(docs/project-format.md's own example once used "dataset" and optimizer "kind", both ignored)."""

import json
import re
from pathlib import Path

import pytest

from studio.graph.file_keys import PROJECT
from studio.graph.project import FORMAT_VERSION, Project
from studio.training.settings import TrainingSettings

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md"])
BLOCK = re.compile(r"```json\n(.*?)```", re.S)
EXAMPLES = [
    (doc.name, i, text)
    for doc in DOCS
    for i, text in enumerate(BLOCK.findall(doc.read_text("utf-8")))
]


def test_the_docs_have_json_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize(("doc", "index", "text"), EXAMPLES, ids=lambda v: str(v)[:30])
def test_every_json_example_in_the_docs_loads(doc, index, text):
    text = text.strip()
    data = json.loads(
        text if text.startswith("{") else "{" + text + "}"
    )  # a '"graph": {...}' excerpt
    assert set(data) <= set(PROJECT), (
        f"{doc} example {index + 1}: keys {sorted(set(data) - set(PROJECT))}"
    )
    project = Project.from_dict({"format_version": FORMAT_VERSION, **data})
    assert TrainingSettings.from_dict(project.training).validate() == []


def test_the_old_example_is_refused_naming_the_keys_it_meant():
    errs = TrainingSettings.from_dict(
        {"dataset": {"kind": "spirals"}, "optimizer": {"kind": "adam"}}
    ).validate()
    assert "Unknown training setting 'dataset'; did you mean 'data'?" in errs
    assert any(e.startswith("Unknown optimizer setting 'kind'") for e in errs)
