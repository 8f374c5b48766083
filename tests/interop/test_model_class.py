"""A file named without ``:Class`` (``studio import net.py``, the import dialog's File… button):
its model class is found by reading the file, never by running it."""

import textwrap

import pytest

from studio.interop.sources import (
    SourceError,
    Spec,
    load_model,
    model_class,
    model_classes,
    parse_spec,
)

TUTORIAL = textwrap.dedent("""
    import sys

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    sys.exit("this file must not run just to find its class")


    class Block(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.fc = nn.Linear(width, width)

        def forward(self, x):
            return F.relu(self.fc(x))


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(Block(4), Block(4))
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.blocks(x))


    class Config:
        width = 4
""")


def test_the_network_is_picked_over_its_blocks_without_running_the_file(tmp_path):
    path = tmp_path / "tutorial.py"
    path.write_text(TUTORIAL)
    assert model_classes(path) == ["Net", "Block"]  # Config has no forward: not a model
    assert model_class(path) == "Net"
    assert parse_spec(str(path)) == Spec("file", str(path), "")  # the class: found on import


def test_two_unrelated_models_are_listed_and_none_is_a_plain_message(tmp_path):
    two = tmp_path / "two.py"
    two.write_text("from torch import nn\nclass A(nn.Module): pass\nclass B(nn.Module): pass\n")
    with pytest.raises(SourceError, match=r"defines A, B: name one, as in .*two.py:A"):
        model_class(two)
    none = tmp_path / "none.py"
    none.write_text("x = 1\n")
    with pytest.raises(SourceError, match="defines no model class"):
        model_class(none)
    broken = tmp_path / "broken.py"
    broken.write_text("class Net(nn.Module:\n")
    with pytest.raises(SourceError, match="not Python code"):
        model_class(broken)
    with pytest.raises(SourceError, match="cannot be read"):
        model_class(tmp_path / "missing.py")


def test_a_bare_file_imports_its_one_model(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(
        TUTORIAL.replace('sys.exit("this file must not run just to find its class")', "")
    )
    loaded = load_model(str(path))
    assert type(loaded.module).__name__ == "Net" and loaded.name == "Net"
    assert loaded.source == f"{path.resolve()}:Net"  # a Custom module block finds it again
