"""The hostile-input fuzz of #23's surfaces (tools/fuzz_surfaces.py), a seeded share: no
traceback, no hang, nothing lost. Slow (minutes): run with ``-m slow``."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_the_new_surfaces_survive_hostile_input(seed, capsys):
    from fuzz_surfaces import run

    tally = run(seed=seed, scale=1)
    assert tally.report() == 0, capsys.readouterr().out
