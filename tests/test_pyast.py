"""Studio parses Python text from several threads at once (the code view on the GUI thread, a
memory estimate in a worker). CPython 3.11's AST constructor keeps its recursion depth per
interpreter, so two parses that interleave fail with a SystemError; ``studio.pyast`` serialises
them. A garbage-collector callback that sleeps makes threads switch in the middle of a parse."""

import ast
import gc
import threading
import time

import pytest

from studio import pyast

SOURCE = "\n".join(
    f"def f{i}(x):\n    return [(x + {i}) * (x - {i}) for _ in range(3) if x]" for i in range(300)
)


def _parse_in_threads(parse, seconds=4.0, threads=4):
    errors = []

    def work():
        end = time.monotonic() + seconds
        while time.monotonic() < end and not errors:
            try:
                parse(SOURCE)
            except SystemError as e:
                errors.append(e)

    switch = lambda *_: time.sleep(0.0001)  # noqa: E731 - a thread switch inside every collection
    threshold = gc.get_threshold()
    gc.callbacks.append(switch)
    gc.set_threshold(50)
    try:
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
    finally:
        gc.callbacks.remove(switch)
        gc.set_threshold(*threshold)
    return errors


def test_parses_from_several_threads_at_once_never_fail():
    assert _parse_in_threads(pyast.parse) == []


def test_the_interleaving_this_guards_against_is_real_here():
    """Without the lock the same load fails (so the test above can fail); skipped on a Python
    whose AST constructor is thread-safe."""
    if not _parse_in_threads(ast.parse, seconds=8.0):
        pytest.skip("this Python's ast.parse did not collide across threads")


def test_literal_eval_reads_literals_and_refuses_code():
    assert pyast.literal_eval(" {'a': [1, 2.5, (3,)]}") == {"a": [1, 2.5, (3,)]}
    with pytest.raises(ValueError):
        pyast.literal_eval("__import__('os').system('true')")
