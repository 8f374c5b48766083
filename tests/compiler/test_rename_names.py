"""Renaming a variable in a statement (``fc1`` -> ``out``) reads a plain statement with a regular
expression and anything else with ``tokenize``: the two give the same text for every statement
the compiler writes and for the awkward ones below."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio.compiler import generate
from studio.compiler.forward import _rename_tokens, rename_names
from studio.graph.project import load_project

EXAMPLES = sorted((Path(__file__).parents[2] / "resources" / "examples").glob("*.studio.json"))
NAME = re.compile(r"[^\W\d]\w*")


def _renames(text: str) -> dict[str, str]:
    """Every name in ``text``, each to a new one."""
    return {n: f"z_{n}" for n in NAME.findall(text)}


def _statements() -> list[str]:
    out = []
    for path in EXAMPLES:
        project = load_project(path)
        out += [line.strip() for line in generate(project.graph, project.name).source.splitlines()]
    return [s for s in out if s]


def test_every_statement_of_every_example_renames_as_the_tokenizer_does():
    statements = _statements()
    assert len(statements) > 250  # every line of the examples (276)
    for text in statements:
        renames = _renames(text)
        assert rename_names(text, renames) == _rename_tokens(text, renames), text


@pytest.mark.parametrize(
    "text",
    [
        "x = self.fc1(x)",
        "out = self.fc1(fc1)",
        "y = f(fc1=fc1, b = fc1)",
        "y = f(a, fc1 =fc1)",
        "y = fc1 == fc1",
        "y = [fc1 for fc1 in fc1s]",
        "y = x[..., fc1]",
        "y = x * 1.e5 + e5",
        "y = 0x1f + x1f + 1_000",
        "y = {fc1: fc1}",
        "y = f(x, (fc1 := 3))",
        "y = lambda fc1=1: fc1",
        "y = x[fc1:fc1, ::2]",
        "y = self . fc1(fc1)",
        "y = torch.cat([fc1, fc2], dim=1)",
        "y = f('fc1', fc1)",  # a string: the tokenizer's
        "y = fc1  # fc1",  # a comment: the tokenizer's
        "y = f(fc1",  # unbalanced: left as it is
        "y = fc1)",
        "größe = größe + fc1",
        "y = fc1; z = fc1",
        "y = 1.fc1 + fc1",  # not Python, but hypothesis found the two readings differed
    ],
)
def test_awkward_statements_rename_as_the_tokenizer_does(text):
    renames = {**_renames(text), "fc1": "out"}
    assert rename_names(text, renames) == _rename_tokens(text, renames)


_atoms = st.sampled_from(["fc1", "out", "x", "self.fc1", "1", "2.5", "1.e5", "e5", "..."])
_ops = st.sampled_from([" + ", " * ", ", ", " == ", "=", " = ", ":", "[", "]", "(", ")", "."])


@given(st.lists(st.tuples(_atoms, _ops), min_size=1, max_size=8))
def test_generated_statements_rename_as_the_tokenizer_does(parts):
    text = "y = " + "".join(a + o for a, o in parts)
    renames = {"fc1": "out", "x": "identity", "e5": "z"}
    assert rename_names(text, renames) == _rename_tokens(text, renames), text
