"""Try the model: run it on validation samples and show input, prediction and truth.

2-D inputs get the decision regions (a grid evaluation drawn as an ImageItem under a scatter of
the samples); 1-D regression a curve; images a row of thumbnails titled prediction / truth;
classification a confusion matrix; a model trained on text windows generates text from a prompt
(`try_text`: temperature, length, sampled token by token). The matrix has a view of its own, beside the samples, at
least `CELL` pixels a cell, in a scroll area: squeezed into the samples' view it was cut off
(ten classes in a 100 px strip). The inference runs in `InferenceJob` (a QThread) on a copy of
the model, so the GUI and a paused run are never touched; generation too.
"""

from __future__ import annotations

import copy
import math
import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QThread, QTimer, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.ui.training.try_text import (
    MAX_TOKENS,
    feature_rows,
    generate_text,
    text_codec,
    text_rows,
    text_source,
)
from studio.ui.training.try_texts_table import TextsTable
from studio.ui.wheel import wheel_only_with_focus

GRID = 160
CELL = 28  # px per confusion-matrix cell: room for a three-digit count at 8 pt
CONFUSION_MARGIN = 32  # px beside the cells and the truth axis: the layout's margins
CONFUSION_HEIGHT = 96  # px above and below the cells: title, prediction axis, margins
THUMB_WIDTH = 140  # px per sample thumbnail and its caption
SAMPLES = 400
NO_MODEL = "Train (or pause) a run, or choose a kept run in the Runs tab, then try the model here."
NOT_YET = "No trained model yet: train a run (or pause one), or choose a kept run in the Runs tab."
CLASS_COLOURS = np.array(
    [
        (30, 136, 229),
        (244, 81, 30),
        (67, 160, 71),
        (142, 36, 170),
        (253, 216, 53),
        (0, 172, 193),
        (109, 76, 65),
        (236, 64, 122),
        (124, 179, 66),
        (84, 110, 122),
    ]
)


def evaluate(model, data, task: str, num_classes: int | None) -> dict:
    """Pure inference (no Qt): everything the panel draws, as numpy arrays. Runs in a thread."""
    import torch

    from studio.training.runtime.threads import choose_threads

    choose_threads("cpu", at_most=max(1, (os.cpu_count() or 2) - 1))  # the GUI keeps a core

    ds = data.val if data.val is not None and len(data.val) else data.train
    n = min(SAMPLES, len(ds))
    xs = torch.stack([torch.as_tensor(ds[i][0]) for i in range(n)])
    xs = (
        xs.float() if xs.is_floating_point() or xs.dtype == torch.bool else xs
    )  # token ids stay integers
    ys = torch.stack([torch.as_tensor(ds[i][1]) for i in range(n)])
    model = copy.deepcopy(model).cpu().eval()
    scale = getattr(data, "target_scale", None)
    if scale:  # a regression target learnt standardised: predictions in the data's units
        from studio.training.runtime.targets import ScaledOutput

        model = ScaledOutput(model, scale["mean"], scale["std"])
    out: dict = {
        "task": task,
        "x": xs.numpy(),
        "y": ys.numpy(),
        "input_shape": tuple(xs.shape[1:]),
        "class_names": list(data.class_names or []),
    }
    with torch.no_grad():
        pred = model(xs)
        out["pred"] = pred.float().numpy()
        if task == "classification" and pred.dim() >= 2:
            k = num_classes or pred.shape[1]
            labels = pred.argmax(1).numpy()
            truth = ys.argmax(1).numpy() if ys.dim() > 1 else ys.numpy().astype(int)
            cm = np.zeros((k, k), dtype=np.int64)
            for t, p in zip(truth.tolist(), labels.tolist(), strict=True):
                if t < k and p < k:
                    cm[t, p] += 1
            out.update(
                labels=labels, truth=truth, confusion=cm, accuracy=float((labels == truth).mean())
            )
            codec = text_codec(ds)
            probs = torch.softmax(pred.float(), 1).max(1).values.numpy()
            if codec is not None and not xs.is_floating_point():  # a CSV with text: list the texts
                out["texts"] = text_rows(
                    xs.numpy(), codec, truth, labels, probs, out["class_names"]
                )
            elif (
                xs.dim() == 2 and xs.shape[1] != 2
            ):  # a table's rows, in the file's units and words
                out["columns"], out["texts"] = feature_rows(
                    xs.numpy(),
                    truth,
                    labels,
                    probs,
                    out["class_names"],
                    getattr(data, "feature_names", None),
                    getattr(data, "normalization", None),
                )
            if xs.dim() == 2 and xs.shape[1] == 2 and xs.is_floating_point():
                lo, hi = xs.min(0).values.numpy(), xs.max(0).values.numpy()
                pad = (hi - lo) * 0.1 + 1e-6
                gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], GRID)
                gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], GRID)
                mx, my = np.meshgrid(gx, gy, indexing="ij")
                grid = torch.from_numpy(np.stack([mx.ravel(), my.ravel()], 1)).float()
                probs = torch.softmax(model(grid).float(), 1)
                conf, cls = probs.max(1)
                out["grid"] = (
                    gx,
                    gy,
                    cls.numpy().reshape(GRID, GRID),
                    conf.numpy().reshape(GRID, GRID),
                )
    return out


class InferenceJob(QThread):
    ready = Signal(object)  # dict from `work` (evaluate or generate_text), or {"error": message}

    def __init__(self, work, args: tuple, parent=None):
        super().__init__(parent)
        self.work, self.args = work, args

    def run(self) -> None:
        try:
            self.ready.emit(self.work(*self.args))
        except Exception as e:  # noqa: BLE001 - shown in the panel
            self.ready.emit({"error": f"{type(e).__name__}: {e}"})


class TryPanel(QWidget):
    """`source` is a callable returning (model, data), or None or a sentence saying why there is
    no model to try (yet); set by the controller."""

    cell_chosen = Signal(object)  # a clicked confusion cell's samples (`chosen_samples.pick`)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.source = lambda: None
        self.job: InferenceJob | None = None
        self.button = QPushButton("Run on validation samples")
        self.button.clicked.connect(self.run)
        self.message = QLabel(NO_MODEL)
        self.message.setWordWrap(True)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setMinimumHeight(100)
        self.confusion_view = pg.GraphicsLayoutWidget()
        self.confusion_scroll = QScrollArea()
        self.confusion_scroll.setWidget(self.confusion_view)
        self.confusion_scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.confusion_scroll.hide()
        self.confusion_plot = None
        self.confusion_view.scene().sigMouseClicked.connect(self._confusion_clicked)
        self.texts = TextsTable()  # a text classifier's validation texts, in place of the view
        self.texts.hide()
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.view)
        self.split.addWidget(self.texts)
        self.split.addWidget(self.confusion_scroll)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 1)
        top = QHBoxLayout()
        top.addWidget(self.button)
        top.addWidget(self.message, 1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(top)
        box.addWidget(self._text_row())
        box.addWidget(self.generated, 1)
        box.addWidget(self.split, 1)
        self.last: dict | None = None
        self._draws = 0  # each Generate draws anew (seed = the count)

    def _text_row(self) -> QWidget:
        """Prompt, temperature, length and Generate: shown once the model is a text model."""
        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("Prompt (empty: start from the validation text)")
        self.prompt.returnPressed.connect(self.run)
        self.temperature = wheel_only_with_focus(QDoubleSpinBox())
        self.temperature.setRange(0.0, 5.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(0.8)
        self.temperature.setPrefix("temperature ")
        self.temperature.setToolTip(
            "Lower: likelier, more repetitive text; 0: always the likeliest token."
        )
        self.length = wheel_only_with_focus(QSpinBox())
        self.length.setRange(1, MAX_TOKENS)
        self.length.setValue(300)
        self.length.setSuffix(" tokens")
        self.generate_button = QPushButton("Generate")
        self.generate_button.clicked.connect(self.run)
        self.generated = QPlainTextEdit()
        self.generated.setReadOnly(True)
        self.generated.hide()
        self.text_controls = QWidget()
        row = QHBoxLayout(self.text_controls)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.prompt, 1)
        for w in (self.temperature, self.length, self.generate_button):
            row.addWidget(w)
        self.text_controls.hide()
        return self.text_controls

    def forget(self) -> None:
        """Another project opened: nothing of the previous project's model stays to be tried."""
        if self.busy():
            self.job.wait()
        self.last = None
        self.view.clear()
        self.generated.clear()
        self.texts.hide()
        self.confusion_scroll.hide()
        self.button.setVisible(True)
        self.button.setEnabled(True)
        self.message.setText(NO_MODEL)

    def model_ready(self, data) -> None:
        """A trained (or paused) model is there: say so, and for text show the prompt at once."""
        if self.busy():
            return
        text = text_source(data) is not None
        self.text_controls.setVisible(text)
        self.button.setVisible(not text)
        self.message.setText(
            "Type a prompt (or leave it empty) and press Generate."
            if text
            else "A trained model is ready: run it on validation samples."
        )

    def run(self) -> None:
        src = self.source()
        if src is None or isinstance(src, str):  # the controller's reason, not a generic one
            self.message.setText(src or NOT_YET)
            return
        if self.job is not None and self.job.isRunning():
            return
        model, data = src
        if text_source(data) is not None:
            self._draws += 1
            args = (
                model,
                data,
                self.prompt.text(),
                self.length.value(),
                self.temperature.value(),
                self._draws,
            )
            work, doing = generate_text, "Generating text…"
        else:
            work, args, doing = (
                evaluate,
                (model, data, data.task, data.num_classes),
                "Running the model…",
            )
        self.button.setEnabled(False)
        self.generate_button.setEnabled(False)
        self.message.setText(doing)
        self.job = InferenceJob(work, args, self)
        self.job.ready.connect(self.show_result)
        self.job.start()

    def busy(self) -> bool:
        return self.job is not None and self.job.isRunning()

    def show_result(self, r: dict) -> None:
        if self.job is not None:
            self.job.wait()  # it has sent its result and is returning: a click now starts the next
        self.button.setEnabled(True)
        self.generate_button.setEnabled(True)
        self.last = r
        self.view.clear()
        self.confusion_view.clear()
        self.confusion_plot = None
        self.confusion_scroll.hide()
        text = r.get("task") == "text" or "problem" in r
        self.text_controls.setVisible(text)
        self.generated.setVisible(text)
        self.split.setVisible(not text)
        self.button.setVisible(not text)  # Generate takes its place
        if "error" in r:
            self.message.setText(f"The model failed: {r['error']}")
            return
        if "problem" in r:
            self.message.setText(r["problem"])
            return
        if text:
            self.message.setText(
                f"{r['tokens']} tokens generated at temperature {r['temperature']:g}."
            )
            self.generated.setPlainText(r["prompt"] + r["text"])
            return
        if r["task"] == "classification" and "labels" in r:
            self.message.setText(
                f"{len(r['labels'])} validation samples, accuracy {r['accuracy']:.1%}"
            )
        else:
            err = np.abs(
                r["pred"].reshape(len(r["y"]), -1) - r["y"].reshape(len(r["y"]), -1)
            ).mean()
            self.message.setText(f"{len(r['y'])} validation samples, mean absolute error {err:.4g}")
        self.view.setVisible("texts" not in r)
        self.texts.setVisible("texts" in r)
        if "confusion" in r:  # first: it takes its width, the samples fit in what is left
            self._draw_confusion(r["confusion"], r.get("class_names") or [])
        if "texts" in r:
            self.texts.show_rows(r["texts"], columns=r.get("columns"))
        else:
            self._draw_samples(r)

    def _draw_samples(self, r: dict) -> None:
        x, shape = r["x"], r["input_shape"]
        if "grid" in r:
            p = self.view.addPlot(title="Decision regions (validation points: truth; ✕ wrong)")
            gx, gy, cls, conf = r["grid"]
            rgb = CLASS_COLOURS[cls % len(CLASS_COLOURS)] * (0.35 + 0.3 * conf[..., None]) + 255 * (
                0.65 - 0.3 * conf[..., None]
            )
            img = pg.ImageItem(np.clip(rgb, 0, 255).astype(np.ubyte))
            img.setRect(pg.QtCore.QRectF(gx[0], gy[0], gx[-1] - gx[0], gy[-1] - gy[0]))
            p.addItem(img)
            truth, wrong = r["truth"], r["labels"] != r["truth"]
            brushes = [pg.mkBrush(*CLASS_COLOURS[t % len(CLASS_COLOURS)]) for t in truth]
            p.addItem(
                pg.ScatterPlotItem(
                    x[:, 0], x[:, 1], size=6, brush=brushes, pen=pg.mkPen("w", width=0.5)
                )
            )
            if wrong.any():
                p.addItem(
                    pg.ScatterPlotItem(
                        x[wrong, 0], x[wrong, 1], symbol="x", size=9, pen=pg.mkPen("k", width=1.5)
                    )
                )
        elif len(shape) == 1 and shape[0] == 1 and r["task"] == "regression":
            p = self.view.addPlot(title="Prediction (line) and truth (points)")
            order = np.argsort(x[:, 0])
            p.addItem(
                pg.ScatterPlotItem(
                    x[:, 0],
                    r["y"].reshape(len(x), -1)[:, 0],
                    size=4,
                    brush=pg.mkBrush(120, 120, 120),
                )
            )
            p.plot(
                x[order, 0],
                r["pred"].reshape(len(x), -1)[order, 0],
                pen=pg.mkPen("#1565c0", width=2),
            )
        elif len(shape) in (2, 3):
            self._draw_images(r)
        else:  # regression: each prediction against its truth, on the line where they are equal
            p = self.view.addPlot(title="Prediction vs truth (first output; the line: equal)")
            truth, pred = r["y"].reshape(len(x), -1)[:, 0], r["pred"].reshape(len(x), -1)[:, 0]
            lo, hi = float(min(truth.min(), pred.min())), float(max(truth.max(), pred.max()))
            p.plot(
                [lo, hi],
                [lo, hi],
                pen=pg.mkPen((150, 150, 150), width=1, style=Qt.PenStyle.DashLine),
            )
            p.addItem(pg.ScatterPlotItem(truth, pred, size=4))
            p.setLabel("bottom", "truth")
            p.setLabel("left", "prediction")

    def _draw_images(self, r: dict) -> None:
        cols = max(1, min(4, self.view.width() // THUMB_WIDTH))
        x = r["x"][: 2 * cols]
        names = r.get("class_names") or []

        def name(k):
            return (
                names[k]
                if isinstance(k, (int, np.integer)) and 0 <= k < len(names)
                else f"{k:.3g}"
                if isinstance(k, float)
                else str(k)
            )

        layout = self.view.addLayout()
        for i, img in enumerate(x):
            if img.ndim == 3:
                img = img[0] if img.shape[0] == 1 else np.moveaxis(img[:3], 0, -1)
            pred = r["labels"][i] if "labels" in r else r["pred"][i].ravel()[0]
            truth = r["truth"][i] if "truth" in r else r["y"][i].ravel()[0]
            row, col = (i // cols) * 2, i % cols
            vb = layout.addViewBox(row=row, col=col, lockAspect=True, invertY=True)
            vb.setMouseEnabled(False, False)
            lo, hi = float(img.min()), float(img.max())
            item = pg.ImageItem(
                np.swapaxes(img, 0, 1) if img.ndim == 2 else np.swapaxes(img, 0, 1),
                levels=(lo, hi or 1.0),
            )
            vb.addItem(item)
            text = f"✓ {name(pred)}" if pred == truth else f"✕ {name(pred)} (true: {name(truth)})"
            layout.addLabel(text, row=row + 1, col=col, size="8pt")

    def _draw_confusion(self, cm: np.ndarray, names: list[str]) -> None:
        k = len(cm)
        self.confusion_view.clear()
        p = self.confusion_view.addPlot(title="Confusion matrix", size="9pt")
        self.confusion_plot = p
        p.setMouseEnabled(False, False)
        p.hideButtons()
        norm = (cm / np.maximum(cm.sum(1, keepdims=True), 1)).T[
            ..., None
        ]  # share of each true class
        white, blue = np.array([255.0, 255.0, 255.0]), np.array([66.0, 133.0, 244.0])
        img = pg.ImageItem((white + (blue - white) * norm).astype(np.ubyte), levels=(0, 255))
        p.addItem(img)
        p.invertY(True)
        for t in range(k):
            for q in range(k):
                label = pg.TextItem(str(cm[t, q]), color="k", anchor=(0.5, 0.5))
                label.setPos(q + 0.5, t + 0.5)
                p.addItem(label)
        named = len(names) == k
        rows = [str(names[i])[:12] if named else str(i) for i in range(k)]  # rows: the class names
        # "2 2" says nothing more than "2": a class named by its number shows it once
        row_labels = [f"{i} {n}" if named and n != str(i) else n for i, n in enumerate(rows)]
        for side, text, labels in (
            ("bottom", "prediction", [str(i) for i in range(k)]),
            ("left", "truth", row_labels),
        ):
            axis = p.getAxis(side)
            axis.setTicks([[(i + 0.5, label) for i, label in enumerate(labels)]])
            axis.setLabel(text)
        p.setRange(xRange=(0, k), yRange=(0, k), padding=0)
        # pyqtgraph sizes its axes when it paints them, so their room is measured here: the rows'
        # names, the rotated "truth", the title
        left = p.getAxis("left")
        fm = pg.QtGui.QFontMetrics(left.style["tickFont"] or left.font())
        axis = max(fm.horizontalAdvance(label) for label in row_labels) + 2 * fm.height() + 8
        title = pg.QtGui.QFontMetrics(pg.QtGui.QFont(left.font().family(), 9)).horizontalAdvance(
            "Confusion matrix"
        )
        width = math.ceil(
            axis + max(title + 12, k * CELL) + CONFUSION_MARGIN
        )  # the title sits over the cells
        height = math.ceil(k * CELL + CONFUSION_HEIGHT)
        self.confusion_view.setFixedSize(width, height)
        self.confusion_scroll.setMinimumWidth(min(width, 220) + 4)  # a few columns, then it scrolls
        names_tip = "".join(f"\n{i}: {n}" for i, n in enumerate(names))
        self.confusion_scroll.setToolTip(
            f"Click a cell to see its samples in the Data tab{names_tip}"
        )
        self.confusion_scroll.show()
        total = self.split.width()
        side = min(width + 24, total // 2)  # the samples keep at least half
        self.split.setSizes(
            [0 if w.isHidden() else total - side for w in (self.view, self.texts)] + [side]
        )
        QTimer.singleShot(0, self._fit_confusion)

    def cell_position(self, truth: int, predicted: int):
        """Where the cell of the confusion matrix is drawn, in the view's coordinates."""
        from PySide6.QtCore import QPointF

        scene = self.confusion_plot.vb.mapViewToScene(QPointF(predicted + 0.5, truth + 0.5))
        return self.confusion_view.mapFromScene(scene)

    def _confusion_clicked(self, event) -> None:
        p, r = self.confusion_plot, self.last
        if p is None or r is None or "confusion" not in r:
            return
        if not p.vb.sceneBoundingRect().contains(event.scenePos()):
            return
        point = p.vb.mapSceneToView(event.scenePos())
        truth, predicted, k = math.floor(point.y()), math.floor(point.x()), len(r["confusion"])
        if 0 <= truth < k and 0 <= predicted < k:
            event.accept()
            self.choose_cell(truth, predicted)

    def choose_cell(self, truth: int, predicted: int) -> None:
        """Send the validation samples of class ``truth`` predicted as ``predicted`` on."""
        from studio.ui.training.chosen_samples import pick

        self.cell_chosen.emit(pick(self.last, truth, predicted))

    def _fit_confusion(self) -> None:
        """Once pyqtgraph has laid the matrix out: grow its view if the layout needs more room."""
        least = self.confusion_view.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize)
        size = self.confusion_view.size()
        if least.width() > size.width() or least.height() > size.height():
            self.confusion_view.setFixedSize(
                max(size.width(), math.ceil(least.width())),
                max(size.height(), math.ceil(least.height())),
            )
