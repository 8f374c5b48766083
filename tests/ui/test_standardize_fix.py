"""A CSV standardised as it is read gets a Problems row whose one click moves the standardisation
into the model (a Standardize block with the training split's statistics) and turns the data
option off, as one undo step."""

import torch

from tests.ui.test_problems import set_training, shown, wait_rows  # noqa: F401 (fixture)


def test_one_click_moves_the_standardisation_into_the_model_and_undo_restores_it(
    shown,  # noqa: F811 (the fixture imported above)
    qtbot,
    tmp_path,
):
    w = shown
    table = tmp_path / "points.csv"
    rows = ["a,b,label"] + [f"{10 + i * 0.5},{-3 + (i % 7)},{i % 2}" for i in range(60)]
    table.write_text("\n".join(rows) + "\n")
    set_training(w, data={"kind": "csv", "path": str(table), "target": "label"})
    text = wait_rows(qtbot, w, "standardised as they are read")
    [button] = w.problems.all_fix_buttons()[text]
    assert button.text() == "Standardise inside the model"
    blocks_before = set(w.doc.graph.blocks)
    button.click()
    [new] = [b for b in w.doc.graph.blocks.values() if b.id not in blocks_before]
    assert new.type == "standardize" and w.doc.project.training["data"]["standardize"] is False
    from studio.training.datasets import load_data
    from studio.training.settings import TrainingSettings

    data = load_data(
        TrainingSettings.from_dict(
            {
                **w.doc.project.training,
                "data": {**w.doc.project.training["data"], "standardize": True},
            }
        ),
        base_dir=tmp_path,
    )
    assert torch.allclose(
        torch.tensor(new.params["mean"]), torch.tensor(data.normalization["mean"])
    )
    points = w.doc.graph.block_by_name("points")
    assert [e.dst for e in w.doc.graph.outgoing(points.id)] == [new.id]
    qtbot.waitUntil(
        lambda: not any("standardised as they are read" in t for t in w.problems.problem_texts())
    )
    w.doc.undo_stack.undo()  # one step undoes both
    assert new.id not in w.doc.graph.blocks and "standardize" not in w.doc.project.training["data"]
