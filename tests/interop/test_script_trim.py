"""Folding settings into train.py's source keeps what each expression means."""

from __future__ import annotations

import pytest

from studio import pyast
from studio.interop.script_trim import (
    _constant_operand,
    call_facts,
    fold,
    inline_single_calls,
    prune,
    unused_methods,
    unused_parameters,
)


@pytest.mark.parametrize(
    ("source", "folded"),
    [
        ("y = True and args.generate\n", "y = args.generate\n"),
        ("y = False or args.generate\n", "y = args.generate\n"),
        # the last operand is the value when the others are falsy (truthy): it stays
        ("k = int(num_classes or 0)\n", None),
        ("k = flag and True\n", None),
        ("k = False or n or 0\n", "k = n or 0\n"),
        # a known test takes its branch; the brackets around it go only where nothing needs them
        ("k = flag is None or (n < 3 if 'min' == 'min' else n > 3)\n", "k = flag is None or n < 3\n"),
        ("k = int(n if 'min' == 'max' else flag)\n", "k = int(flag)\n"),
        # a constant that decides the value ends it (a kept vocabulary, folded in)
        ("k = 'abc' or n\n", "k = 'abc'\n"),
        ("k = n and 0 and flag\n", "k = n and 0\n"),
        ("k = flag or 'é' or n\n", "k = flag or 'é'\n"),
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


def _run(sources: list[str], call: str):
    namespace: dict = {}
    exec("\n\n".join(sources), namespace)
    return eval(call, namespace)


def test_a_short_function_called_once_is_written_where_it_is_called_and_computes_the_same():
    sources = [
        "def order(n, shuffle, generator):\n    return list(range(n))[::-1] if shuffle else None",
        "def pairs(n, shuffle, generator):\n    o = order(n + 1, shuffle, generator)\n    return o, n",
        "def load(spec, read):\n    train, info = read(spec)\n    train = train * 2\n    return train, info",
        "def main(spec):\n    data, info = load(spec, reader)\n    return data + info",
        "def reader(spec):\n    return spec, 1",
    ]
    inlined = inline_single_calls(sources)
    assert not any(s.startswith(("def order(", "def load(", "def reader(")) for s in inlined)
    pairs = next(s for s in inlined if s.startswith("def pairs("))
    assert "o = list(range(n + 1))[::-1] if shuffle else None" in pairs  # the one use takes the text
    main = next(s for s in inlined if s.startswith("def main("))
    # the returned locals take the caller's names: no `data, info = train, info` left over
    assert "data, info = spec, 1\n    data = data * 2\n    return data + info" in main  # reader too
    assert _run(inlined, "pairs(3, True, None), main(5)") == _run(sources, "pairs(3, True, None), main(5)")


@pytest.mark.parametrize(
    "caller",
    [
        "def main(x):\n    n = 5\n    y = helper(x)\n    return y + n",  # helper's local n would clash
        "def main(x):\n    return helper(x) + helper(x)",  # called twice
        "def main(x):\n    return helper(*x)",  # arguments unpacked
        "def main(x):\n    return globals()['helper'](x)",  # found by name
        "def main(x):\n    y = [helper]\n    return y[0](x)",  # used as a value
    ],
)
def test_a_function_stays_where_inlining_would_change_what_the_code_means(caller):
    helper = "def helper(x):\n    n = x * 2\n    return n + 1"
    assert inline_single_calls([helper, caller]) == [helper, caller]


def test_an_attribute_nothing_reads_goes_from_init():
    source = ("class Progress:\n    def __init__(self):\n        self.epoch = 0\n        self.plateau = None\n\n"
              "    def state_dict(self):\n        return {'epoch': self.epoch}")
    kept = unused_methods([source, "p = Progress()\nprint(p.state_dict())"])[0]
    assert "self.plateau" not in kept and "self.epoch = 0" in kept


def test_an_argument_read_twice_is_bound_once_and_a_check_keeps_its_name():
    save = "def save(path, value):\n    tmp = path + '.tmp'\n    return tmp, path, value"
    caller = "def end(out, value):\n    done = save(out + '/checkpoint.pt', value)\n    return done"
    inlined = inline_single_calls([save, caller])
    assert len(inlined) == 1 and "    path = out + '/checkpoint.pt'\n    tmp = path + '.tmp'" in inlined[0]
    assert _run(inlined, "end('o', 3)") == _run([save, caller], "end('o', 3)")
    check = "def split(n):\n    if n == 0:\n        raise ValueError(n)\n    return n // 2"
    assert inline_single_calls([check, "def main(n):\n    half = split(n)\n    return half"])[0] == check


def test_a_returned_local_takes_the_callers_name_only_where_no_argument_reads_that_name():
    load = "def load(x):\n    train = x * 2\n    y = x + 1\n    return train, y"
    caller = "def main(data):\n    data, extra = load(data)\n    return data, extra"
    inlined = inline_single_calls([load, caller])
    assert _run(inlined, "main(5)") == _run([load, caller], "main(5)") == (10, 6)


def test_a_partial_that_binds_every_parameter_is_a_call_and_a_comprehensions_names_clash_with_nothing():
    sources = {
        "share": "def share(data, k):\n    rows = [t[k] for t in data]\n    return rows\n",
        "main": "def main(data):\n    return functools.partial(share, data, 1)\n",
    }
    assert call_facts(sources) == {"share": {"k": 1}}
    main = "def main(data):\n    order = [t for t in data]\n    part = share(order, 1)\n    return part, order\n"
    inlined = inline_single_calls([sources["share"], main])
    assert len(inlined) == 1 and "share(" not in inlined[0]  # `t` is each comprehension's own
    before, after = {}, {}
    exec(sources["share"] + main, before)
    exec(inlined[0], after)
    data = [(1, 2), (3, 4)]
    assert before["main"](data) == after["main"](data) == ([2, 4], [(1, 2), (3, 4)])


def test_a_parameter_nothing_reads_goes_with_the_arguments_every_call_gives_it():
    sources = [
        "def batches(tensors, size, order=None, dtype=None):\n    return tensors[:size], order\n",
        "def main():\n    a = batches(t, 4, None, None)\n"
        "    b = functools.partial(batches, t, 4, None, dtype=None)\n    return a, b\n",
        "class Hooks:\n    def __init__(self, metric, steps):\n        self.metric = metric\n",
        "def run(model, rate, validation=None):\n    return model, validation\n",
        "def use():\n    return run(m, None, v), Hooks(hits, 12)\n",
    ]
    out = unused_parameters(sources)
    assert out[0].startswith("def batches(tensors, size, order=None):")
    assert "batches(t, 4, None)" in out[1] and "functools.partial(batches, t, 4, None)" in out[1]
    assert "def __init__(self, metric):" in out[2]
    assert out[3].startswith("def run(model, validation=None):")  # from the middle: all calls shift alike
    assert "run(m, v), Hooks(hits)" in out[4]
    for text in out:
        pyast.parse(text)


@pytest.mark.parametrize(
    "caller",
    [
        "def use():\n    f = run\n    return f(m, None)\n",  # passed as a value: its calls are unknown
        "def use():\n    return run(m, make_rate())\n",  # the argument calls something: it stays
        "def use():\n    return functools.partial(run, m)\n",  # its caller gives the rest
    ],
)
def test_a_parameter_stays_where_cutting_it_could_change_a_call(caller):
    source = "def run(model, rate=None):\n    return model\n"
    assert unused_parameters([source, caller]) == [source, caller]


def test_a_name_nothing_reads_from_an_unpacked_call_becomes_an_underscore():
    source = "def main():\n    batches, steps = make(data)\n    return batches\n"
    assert prune(source, {}) == "def main():\n    batches, _ = make(data)\n    return batches\n"


def test_an_attribute_nothing_reads_goes_from_a_tuple_assignment_in_init():
    source = ("class Hooks:\n    def __init__(self, a, b):\n        self.a, self.b, self.c = a, b, []\n\n"
              "    def on_step(self):\n        return self.a + self.c\n")
    out = unused_methods([source, "h = Hooks(1, 2)\nh.on_step()\n"])[0]
    assert "        self.a, self.c = a, []\n" in out and "self.b" not in out


def test_a_folded_text_with_non_ascii_characters_keeps_the_code_around_it_and_a_long_one_its_name():
    """ast counts columns in UTF-8 bytes: a vocabulary such as "café" folded in before another
    value on the same line must not shift where that value goes."""
    source = (
        "def codec(spec, offset):\n"
        "    chars = spec.get('vocab') or ''.join(sorted(set(text)))\n"
        "    return {'vocab': chars, 'offset': offset, 'n': spec['block_size']}\n"
    )
    for vocab in ("café", "ü" * 50):
        facts = {"spec.get('vocab')": vocab, "offset": 0, "spec['block_size']": 64}
        text = source
        for _ in range(3):
            text = prune(fold(text, {}, facts), {}, facts)
        namespace = {}
        exec(text, namespace)
        assert namespace["codec"]({}, 0) == {"vocab": vocab, "offset": 0, "n": 64}, text
        assert "sorted" not in text and "spec" not in text.split(":", 1)[1], text
        # a short text is written where it is read; a long one stays under its name
        assert ("chars = " in text) is (len(vocab) > 40), text
    written = "def f(spec):\n    return {'vocab': 'café', 'n': spec['block_size'], 'k': 'ü' or spec}\n"
    text = fold(written, {}, {"spec['block_size']": 64})
    assert text == "def f(spec):\n    return {'vocab': 'café', 'n': 64, 'k': 'ü' or spec}\n"
    assert _constant_operand(text, pyast.parse(text)) == text.replace("'ü' or spec", "'ü'")


def test_a_known_test_that_leaves_a_name_set_to_itself_takes_the_line_out():
    """``target = target.argmax(1) if <known False> else target`` folds to ``target = target``,
    which says nothing: the line goes (class_hits for class indices, #21)."""
    source = ("def hits(output, target):\n"
              "    target = target.argmax(1) if target.dtype.is_floating_point else target\n"
              "    return output.argmax(1) == target\n")
    trimmed = prune(source, {}, {"target.dtype.is_floating_point": False})
    assert trimmed == "def hits(output, target):\n    return output.argmax(1) == target\n"
    assert prune(source, {}, {}) == source  # unknown: both branches stay


def test_an_f_string_whose_fields_are_all_known_is_written_as_its_text():
    """``f"train_{name}"`` with the metric's name known reads ``"train_accuracy"`` (a learner
    sees the key the run writes); a field that is unknown, formatted or converted keeps it all."""
    source = ('def fit(plan, epoch, loss):\n'
              '    name = plan["metric_name"]\n'
              '    a = {f"train_{name}": loss, f"val_{name}": loss}\n'
              '    b = f"{name} in epoch {epoch}"\n'
              '    c = f"{name!r} {plan[\'epochs\']:3d}"\n')
    folded = fold(source, {"metric_name": "accuracy", "epochs": 5})
    assert 'a = {"train_accuracy": loss, "val_accuracy": loss}' in folded
    assert 'b = f"{name} in epoch {epoch}"' in folded and "c = f\"{name!r}" in folded


def test_a_function_that_grows_its_argument_is_written_where_the_caller_keeps_the_result_in_it():
    """``ids = generate_tokens(model, ids, ...)``: the loop that extends ``ids`` runs on the
    caller's own ``ids`` (its old value is overwritten by the result anyway), as nanoGPT's
    sample.py writes it; an argument under another name still keeps the function."""
    grow = "def grow(ids, n):\n    for _ in range(n):\n        ids = ids + [len(ids)]\n    return ids"
    caller = "def main(n):\n    ids = [7]\n    ids = grow(ids, n)\n    return ids"
    inlined = inline_single_calls([grow, caller])
    assert len(inlined) == 1 and "    for _ in range(n):\n        ids = ids + [len(ids)]\n" in inlined[0]
    assert _run(inlined, "main(3)") == _run([grow, caller], "main(3)") == [7, 1, 2, 3]
    other = "def main(n):\n    start = [7]\n    ids = grow(start, n)\n    return ids, start"
    assert inline_single_calls([grow, other]) == [grow, other]  # start must keep its value
