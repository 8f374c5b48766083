"""Unbalanced classes (over 5x) get a Problems warning naming the two classes and their counts,
with one-click fixes for balanced sampling and class-weighted cross-entropy, each one undo step;
`studio check` prints the warning; balanced data gets none."""

import json
import random
from pathlib import Path

import pytest

from tests.ui.test_problems import set_training, shown, wait_rows  # noqa: F401 (fixture)

WARNING = "the classes are unbalanced"


def _csv(tmp_path: Path, big: int, small: int) -> Path:
    rng = random.Random(0)
    labels = [0] * big + [1] * small
    rows = ["a,b,label"] + [f"{rng.random():.3f},{rng.random():.3f},{t}" for t in labels]
    path = tmp_path / "points.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def _folder(tmp_path: Path, big: int, small: int) -> Path:
    from PIL import Image

    root = tmp_path / "pictures"
    for name, n in (("cats", big), ("dogs", small)):
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.new("L", (8, 8), i * 7 % 256).save(root / name / f"{i}.png")
    return root


def _data(kind: str, tmp_path: Path, big: int, small: int) -> dict:
    if kind == "csv":
        return {"kind": "csv", "path": str(_csv(tmp_path, big, small)), "target": "label"}
    return {
        "kind": "image_folder",
        "path": str(_folder(tmp_path, big, small)),
        "size": 8,
        "channels": 1,
    }


def _fit_the_input(qtbot, w) -> None:
    """An image folder for the example's flat Input: its own fix first (not what is tested)."""
    text = wait_rows(qtbot, w, "The data gives samples of")
    w.problems.all_fix_buttons()[text][0].click()


@pytest.mark.parametrize("kind", ["csv", "image_folder"])
@pytest.mark.parametrize(
    "fix, setting",
    [
        ("Balanced sampling", lambda t: t.get("balanced")),
        ("Class-weighted loss", lambda t: (t.get("loss") or {}).get("class_weights")),
    ],
)
def test_unbalanced_classes_are_named_and_each_fix_sets_its_option_as_one_undo_step(
    shown,  # noqa: F811 (the fixture imported above)
    qtbot,
    tmp_path,
    kind,
    fix,
    setting,
):
    w = shown
    set_training(w, data=_data(kind, tmp_path, big=60, small=10), val_split=0.0)
    if kind == "image_folder":
        _fit_the_input(qtbot, w)
    text = wait_rows(qtbot, w, WARNING)
    big, small = ("cats", "dogs") if kind == "image_folder" else ("0", "1")
    assert f"{big!r} has 60 training samples, {small!r} only 10 (6.0x)" in text
    buttons = {b.text(): b for b in w.problems.all_fix_buttons()[text]}
    assert set(buttons) == {"Balanced sampling", "Class-weighted loss"}
    graph_before, undo_at = w.doc.graph.to_dict(), w.doc.undo_stack.index()
    assert not setting(w.doc.project.training)
    buttons[fix].click()
    assert setting(w.doc.project.training) and w.doc.graph.to_dict() == graph_before
    qtbot.waitUntil(
        lambda: not any(WARNING in t for t in w.problems.problem_texts()), timeout=10_000
    )
    assert w.doc.undo_stack.index() == undo_at + 1
    w.doc.undo_stack.undo()  # one step
    assert not setting(w.doc.project.training)
    wait_rows(qtbot, w, WARNING)


@pytest.mark.parametrize("kind", ["csv", "image_folder"])
def test_classes_within_5x_get_no_warning(shown, qtbot, tmp_path, kind):  # noqa: F811
    w = shown
    set_training(w, data=_data(kind, tmp_path, big=50, small=10), val_split=0.0)  # exactly 5x
    if kind == "image_folder":
        _fit_the_input(qtbot, w)
    qtbot.waitUntil(lambda: not w.problems.is_reading(), timeout=120_000)
    qtbot.wait(50)
    assert not any(WARNING in t for t in w.problems.problem_texts())


def test_only_a_loss_with_class_weights_offers_them():
    from studio.training.balance_check import balance_problems
    from studio.training.kinds import get_loss

    assert "class_weights" not in get_loss("nll").options
    training = {"data": {"kind": "csv", "path": "x.csv"}, "loss": {"name": "nll"}}
    import studio.training.balance_check as bc

    key = bc._key(training, None)
    bc._cache[key] = (["a", "b"], [30, 3])
    try:
        [problem] = balance_problems(training, None)
        assert [f.text for f in problem.fix] == ["Balanced sampling"]
        assert balance_problems({**training, "balanced": True}, None) == []
        assert balance_problems({**training, "loss": {"name": "mse"}}, None) == []
    finally:
        bc._cache.pop(key, None)


def test_studio_check_prints_the_warning(tmp_path, capsys):
    from studio.cli import main
    from tests.ui.conftest import EXAMPLE

    root = Path(__file__).parents[2]
    project = json.loads((root / EXAMPLE).read_text())
    project["training"] = {
        **project.get("training", {}),
        "data": _data("csv", tmp_path, 70, 10),
        "val_split": 0.0,
    }
    path = tmp_path / "unbalanced.studio.json"
    path.write_text(json.dumps(project))
    main(["check", str(path)])  # in this process: a new one would only import torch again
    out = capsys.readouterr()
    expected = "warning: Training data: the classes are unbalanced: '0' has 70 training samples, '1' only 10 (7.0x)"
    assert expected in out.out, out.out + out.err
