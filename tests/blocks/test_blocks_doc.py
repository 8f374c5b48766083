"""docs/blocks.md states how many torch.nn module types have a block, and lists them: both
must match the registry."""

import re
from pathlib import Path

from torch import nn

from studio.blocks.registry import all_block_types

DOC = Path(__file__).parents[2] / "docs" / "blocks.md"


def covered_modules() -> set[str]:
    """The torch.nn module classes named by a block type's torch_name (not the generic nn.Module)."""
    out = set()
    for spec in all_block_types():
        name = spec.torch_name.removeprefix("nn.")
        cls = getattr(nn, name, None) if spec.torch_name.startswith("nn.") else None
        if isinstance(cls, type) and issubclass(cls, nn.Module) and cls is not nn.Module:
            out.add(name)
    return out


def test_the_blocks_page_lists_every_covered_torch_nn_module_and_their_count():
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## `torch.nn` modules covered", 1)[1]
    count = int(re.search(r"\*\*(\d+)\*\* `torch.nn` module types", section).group(1))
    listed = set(re.findall(r"`nn\.(\w+)`", section))
    covered = covered_modules()
    assert listed == covered, f"missing {sorted(covered - listed)}, extra {sorted(listed - covered)}"
    assert count == len(covered)
    assert len(covered) > 33  # the count issue 15 started from
