"""Folding settings into train.py's source keeps what each expression means."""

from __future__ import annotations

import pytest

from studio import pyast
from studio.interop.script_trim import _constant_operand, call_facts, unused_methods


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


def test_only_the_methods_and_class_attributes_nothing_names_go():
    hooks = (
        "class Hooks:\n"
        "    autocast, scaler = None, None\n"
        "    log = None\n"
        "\n"
        "    def __init__(self):\n"
        "        self.steps = []\n"
        "\n"
        "    def on_epoch_start(self, epoch):\n"
        "        return False\n"
        "\n"
        "    def on_step(self, loss):\n"
        "        self.steps.append(loss)\n"
    )
    loss = "class Loss(Base):\n    def forward(self, x):\n        return x\n"  # torch calls forward
    user = "def fit(hooks):\n    hooks.on_step(1)\n    return getattr(hooks, 'log', None)\n"
    kept_hooks, kept_loss, kept_user = unused_methods([hooks, loss, user])
    assert kept_loss == loss and kept_user == user
    assert "on_epoch_start" not in kept_hooks and "autocast" not in kept_hooks
    assert "log = None" in kept_hooks and "def on_step" in kept_hooks and "def __init__" in kept_hooks
    namespace = {}
    exec(kept_hooks + kept_user, namespace)
    assert namespace["fit"](namespace["Hooks"]()) is None


def test_an_argument_known_from_a_fact_makes_the_parameter_known():
    sources = {
        "make_codec": "def make_codec(tokenizer, text):\n    return tokenizer\n",
        "read": "def read(spec):\n    return make_codec(spec['tokenizer'], '')\n",
        "sample": "def sample(spec, tokenizer):\n    return make_codec(spec['tokenizer'], 'x')\n",
    }
    assert call_facts(sources) == {}
    assert call_facts(sources, {"spec['tokenizer']": "char"}) == {"make_codec": {"tokenizer": "char"}}
    # a plain name is a local of one function: it says nothing about another's argument
    sources["sample"] = "def sample(tokenizer):\n    return make_codec(tokenizer, 'x')\n"
    assert call_facts(sources, {"spec['tokenizer']": "char", "tokenizer": "char"}) == {}
