"""Uses of a module definition share a class where their ``__init__`` lines differ only in
literals; lines differing only in numbers and plain strings share one parse
(``modulegen._skeleton``), which must group them exactly as parsing each would."""

from __future__ import annotations

import ast

import pytest

from studio.compiler import modulegen

#: pairs of lines; the second differs from the first only in literals where the parse says so
PAIRS = [
    ("self.c = nn.Conv2d(64, 128, 3, stride=2)", "self.c = nn.Conv2d(3, 8, 5, stride=1)"),
    ("self.c = nn.Conv2d(64, 128, (3, 3))", "self.c = nn.Conv2d(64, 128, 3)"),
    ("x = f('a', -1, 1e-05, 1_000)", 'x = f("it\'s", -2, 0.5, 7)'),
    ("x = f(1.e5)", "x = f(1.5.e5)"),  # a number, and an attribute of one
    ("x = f(1.e5)", "x = f(2.e5)"),
    ("x = f(1_0)", "x = f(1__0)"),  # the second does not parse: its own skeleton
    ("x = f(0)", "x = f(01)"),
    ("x = f(b'a')", "x = f(b'b')"),
    ("x = f(f'{y}1')", "x = f(f'{z}1')"),
    ("x = f(1)  # 2", "x = f(3)  # 4"),
    ("x = f(y.T)", "x = f(y.t)"),
]


def _parsed(text: str) -> str:
    """What grouping means: the AST with its literals blanked, or the text where it does not parse."""
    try:
        tree = ast.parse(text).body[0]
    except SyntaxError:
        return text
    return ast.dump(modulegen._Blank().visit(tree))


@pytest.mark.parametrize("first, second", PAIRS)
def test_lines_group_as_their_parses_do(first, second):
    for a, b in ((first, second), (second, first)):  # whichever line is met first
        modulegen._skeleton.cache_clear()
        modulegen._SKELETONS.clear()
        got = (modulegen._skeleton(a), modulegen._skeleton(b))
        assert got == (_parsed(a), _parsed(b))
    assert (got[0] == got[1]) == (_parsed(first) == _parsed(second))


def test_lines_differing_in_numbers_are_parsed_once(monkeypatch):
    modulegen._skeleton.cache_clear()
    modulegen._SKELETONS.clear()
    parsed = []
    parse = modulegen._parse
    monkeypatch.setattr(modulegen, "_parse", lambda text: parsed.append(text) or parse(text))
    lines = [
        f"self.conv = nn.Conv2d({c}, {2 * c}, 3, stride={s})" for c in (8, 16, 32) for s in (1, 2)
    ]
    assert len({modulegen._skeleton(line) for line in lines}) == 1
    assert parsed == lines[:1]
