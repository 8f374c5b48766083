"""The generic lazy / dependent Choice, and the registry staying free of torch."""

import subprocess
import sys

import pytest

from studio.blocks.params import Choice, ParamError


def test_lazy_options_are_evaluated_on_use_only():
    calls = []

    def options():
        calls.append(1)
        return ("a", "b")

    c = Choice("a", options=options)
    assert c.lazy and not calls
    assert c.coerce("b") == "b"
    with pytest.raises(ParamError, match="'a', 'b'"):
        c.coerce("z")


def test_dependent_options_get_the_other_values():
    c = Choice("x1", options=lambda v: (f"{v.get('kind', 'x')}1", f"{v.get('kind', 'x')}2"), depends_on=("kind",))
    assert c.options_for({"kind": "y"}) == ("y1", "y2")
    assert c.coerce_in("y2", "v", {"kind": "y"}) == "y2"
    with pytest.raises(ParamError):
        c.coerce_in("x1", "v", {"kind": "y"})
    assert c.fit("x2", {"kind": "y"}) == "y1"  # default gone: first option


def test_registry_and_palette_import_without_torch():
    code = (
        "import sys\n"
        "from studio.blocks.registry import all_block_types, get_block_type\n"
        "spec = get_block_type('backbone')\n"
        "assert spec.params['model'].lazy\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'torchvision' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=".")
