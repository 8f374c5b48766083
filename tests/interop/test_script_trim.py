"""Folding settings into train.py's source keeps what each expression means."""

from __future__ import annotations

import pytest

from studio import pyast
from studio.interop.script_trim import _constant_operand


@pytest.mark.parametrize(
    ("source", "folded"),
    [
        ("y = True and args.generate\n", "y = args.generate\n"),
        ("y = False or args.generate\n", "y = args.generate\n"),
        # the last operand is the value when the others are falsy (truthy): it stays
        ("k = int(num_classes or 0)\n", None),
        ("k = flag and True\n", None),
        ("k = False or n or 0\n", "k = n or 0\n"),
    ],
)
def test_a_neutral_constant_goes_only_where_the_value_is_unchanged(source, folded):
    assert _constant_operand(source, pyast.parse(source)) == folded
    for num_classes, flag, n in ((None, 0, 0), (3, 1, 5)):
        args = type("Args", (), {"generate": None})
        env = {"args": args, "num_classes": num_classes, "flag": flag, "n": n}
        before, after = dict(env), dict(env)
        exec(source, {}, before)
        exec(folded or source, {}, after)
        assert {k: v for k, v in before.items() if k not in env} == {
            k: v for k, v in after.items() if k not in env
        }
