"""An imported GPT-2 as the user sees it: its head's weight is the token embedding's (a Tie
weights block), so the status bar counts that matrix once, as ``model.parameters()`` does, and
the unwired tie block is no problem in the Problems list."""

import importlib.util
from pathlib import Path

import pytest
import torch

from tests.ui.conftest import open_window

# found, not imported: importing it costs every xdist worker 1-2 s at collection
pytestmark = pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="needs transformers")


def test_gpt2_status_bar_counts_the_tied_head_once_and_shows_no_problem(
    qtbot, config_dir, tmp_path
):
    from studio.graph.project import dumps
    from studio.interop.fx_import import import_example
    from tests.interop.zoo import libraries

    torch.manual_seed(0)
    model, args = libraries.gpt2(2, 12)
    n = sum(p.numel() for p in model.parameters())
    path = Path(tmp_path) / "gpt2.studio.json"
    path.write_text(dumps(import_example(model, args).project))
    w = open_window(qtbot, path)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: "Parameters: …" not in w.totals_label.text(), timeout=60_000)
    assert f"Parameters: {n:,} (all trainable)" in w.totals_label.text()
    assert w.doc.analysis.diagnostics == []  # the model's own; the data is not chosen yet
    assert not [t for t in w.problems.problem_texts() if "tie" in t.lower() or "Output" in t]
    # the tie block's card says what it shares, not a negative count
    tie = next(b for b in w.doc.graph.blocks.values() if b.spec.shares is not None)
    assert w.scene.blocks[tie.id].look.count == "shares 3,200 params, counted once"
    assert all("-" not in item.look.count for item in w.scene.blocks.values())
