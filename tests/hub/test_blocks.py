"""The hub's own block types (Backbone, Hub model): registered by the hub, read from the one
registry by every consumer, whichever module is imported first."""

import subprocess
import sys

from studio.blocks.registry import CONTRIBUTORS, all_block_types, categories, get_block_type


def test_the_hub_contributes_its_block_types_to_the_one_registry():
    assert "studio.hub.blocks" in CONTRIBUTORS
    for type_id in ("backbone", "hub_model"):
        spec = get_block_type(type_id)
        assert spec.emitter.__module__ == "studio.hub.blocks"
        assert spec in categories()["Pretrained"]
    assert [s.id for s in all_block_types()].count("backbone") == 1


def test_importing_the_hub_first_keeps_the_palette_order():
    code = (
        "import studio.hub.blocks\n"
        "from studio.blocks.registry import categories\n"
        "print(' | '.join(categories()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    order = out.stdout.strip().split(" | ")
    assert order[0] == "Input / Output" and order[-1] == "Pretrained", order
