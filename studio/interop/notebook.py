"""Export format ``notebook``: train.py as a Jupyter notebook a learner runs cell by cell.

The cells hold the very text of :func:`studio.interop.script.script_source` (no second
assembler): the imports, the settings, the model, `main` with the first steps of training, the
runtime with the loop (`fit`), then a cell that runs it and one that plots the loss from
metrics.csv (matplotlib when it is installed, else the numbers printed). Markdown cells explain
each part and the five steps. Writing it needs nbformat (the optional extra ``notebook``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from studio.graph.project import Project
from studio.interop.export_formats import (
    ExportError,
    ExportFormat,
    ExportResult,
    _atomic,
    register_format,
)
from studio.interop.script import RULES, script_source

_STEPS = """\
## The five steps of training

1. **The model** (`model = ...()`): the network, with freshly initialised weights.
2. **The optimizer and the loss function** (`optimizer = torch.optim...`, `loss_fn = nn...`):
   the optimizer changes the weights; the loss function says in one number how wrong the model is.
3. **The forward pass** (`logits = model(x)`): the model's scores for a batch.
4. **The loss and the gradients** (`loss = loss_fn(logits, y)`, `optimizer.zero_grad()`,
   `loss.backward()`): how far the scores are from the targets, and which way each weight should
   move to make that smaller (backpropagation).
5. **The step** (`optimizer.step()`): every weight moves a little against its gradient.

Steps 1 and 2 are in `main` below; 3 to 5 in `fit`, the loop, further down."""

_RUN = """\
import sys

sys.argv = ["train.py", "--out", "runs/notebook"]  # the script's options, as on a command line
try:
    main({call})
except SystemExit as end:  # main ends like a script; a notebook carries on
    if end.code:
        raise"""

_PLOT = """\
import csv

with open("runs/notebook/metrics.csv", newline="") as f:
    rows = list(csv.DictReader(f))
epochs = [int(r["epoch"]) for r in rows]
try:
    import matplotlib.pyplot as plt
except ImportError:  # no matplotlib: the numbers instead
    for r in rows:
        print(r["epoch"], r["train_loss"], r.get("val_loss", ""))
else:
    plt.plot(epochs, [float(r["train_loss"]) for r in rows], label="training loss")
    if "val_loss" in rows[0]:
        plt.plot(epochs, [float(r["val_loss"]) for r in rows], label="validation loss")
    plt.xlabel("epoch")
    plt.legend()
    plt.show()"""


def notebook_cells(source: str) -> list[tuple[str, str]]:
    """(kind, text) of each cell: train.py's text cut at its section rules, with markdown."""
    head, rest = source.split(RULES["model"], 1)
    head, settings = head.split(RULES["settings"], 1) if RULES["settings"] in head else (head, "")
    model, rest = rest.split(RULES["main"], 1)
    main, rest = rest.split(RULES["runtime"], 1)
    runtime, entry = rest.rsplit('if __name__ == "__main__":\n', 1)
    call = re.search(r"^\s*main\((.*)\)$", entry, re.MULTILINE).group(1)  # in a try where it reads files
    settings_cells = [
        ("markdown", "## Settings\n\nThe data's settings; the options' defaults are in `main`, the other "
                     "settings are written where the code uses them."),
        ("code", settings.strip()),
    ] if settings else []
    return [
        ("markdown", "# Training " + head.splitlines()[0].split("'", 1)[-1].rsplit("'", 1)[0]
         + "\n\nWritten by Studio: the code of its train.py, one part a cell. Run the cells in order."),
        ("code", head.strip()),
        *settings_cells,
        ("markdown", "## The model\n\nThe class Studio generated from the canvas."),
        ("code", model.strip()),
        ("markdown", _STEPS),
        ("code", main.strip()),
        ("markdown", "## The loop and its helpers\n\nStudio's own training functions: the window "
                     "trains with these very functions. `fit` holds steps 3 to 5."),
        ("code", runtime.strip()),
        ("markdown", "## Train\n\nThis prints one line per epoch and writes `runs/notebook/metrics.csv`."),
        ("code", _imported_once(_RUN.format(call=call), head)),
        ("markdown", "## The loss, epoch by epoch"),
        ("code", _imported_once(_PLOT, head)),
    ]


def _imported_once(cell: str, head: str) -> str:
    """`cell` without the imports the first cell made already (a notebook is one namespace)."""
    made = {line for line in head.splitlines() if line.startswith("import ")}
    lines = cell.splitlines()
    while lines and (lines[0] in made or (not lines[0] and lines[:1] != cell.splitlines()[:1])):
        lines.pop(0)
    return "\n".join(lines)


def export_notebook(project: Project, path: str | os.PathLike[str]) -> ExportResult:
    try:
        import nbformat
    except ImportError:
        raise ExportError("Writing a notebook needs nbformat: pip install 'studio[notebook]'.") from None

    source, notes = script_source(project)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
                for kind, text in notebook_cells(source)]
    for number, cell in enumerate(nb.cells, 1):  # not nbformat's random ids: the same project
        cell["id"] = f"cell-{number}"  # exported again is the same file (a clean diff in git)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    with _atomic(path) as tmp:
        tmp.write_text(nbformat.writes(nb), encoding="utf-8")
    return ExportResult(Path(path), "notebook", notes)


register_format(ExportFormat(
    "notebook", "Jupyter notebook", ".ipynb",
    "train.py as a notebook: the model, the five steps explained, the loop and a loss plot.",
    export_notebook,
))
