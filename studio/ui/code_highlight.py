"""Syntax colours for the Code view, worked out while the code is written and applied to the
lines on screen only.

A ``QSyntaxHighlighter`` colours every line of the document on the GUI thread as soon as the
text is set: 4,000 lines (2,000 blocks) took 108 ms of Python regex work there, five times the
11 ms of setting the text. Here :func:`line_spans` (pure Python) finds each line's coloured
runs a line at a time, in the slices that write the code (:mod:`studio.ui.code_writer`), and
:class:`LazyHighlighter` hands a line's runs to Qt when the line first scrolls into view, which
is a screenful of lines at a time."""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator

from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextLayout
from PySide6.QtWidgets import QPlainTextEdit

#: (kind, pattern), later kinds drawn over earlier ones where they overlap
_RULES = [
    ("keyword", re.compile(r"\b(" + "|".join(keyword.kwlist) + r")\b")),
    ("builtin", re.compile(r"\b(self|torch|nn|super)\b")),
    ("number", re.compile(r"\b\d+(\.\d+)?([eE][-+]?\d+)?\b")),
    ("name", re.compile(r"\bdef\s+(\w+)|\bclass\s+(\w+)")),
    ("string", re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")),
    ("comment", re.compile(r"#.*$")),
]

#: kind -> (light colour, dark colour, bold, italic)
_STYLES = {
    "keyword": ("#7b1fa2", "#c678dd", True, False),
    "builtin": ("#9a6700", "#e5c07b", False, False),
    "number": ("#b35900", "#d19a66", False, False),
    "name": ("#1565c0", "#61afef", True, False),
    "string": ("#2e7d32", "#98c379", False, False),
    "comment": ("#6a737d", "#7f848e", False, True),
    "doc": ("#2e7d32", "#98c379", False, False),
}

Span = tuple[int, int, str]  # start, length, kind


def python_spans(source: str) -> list[tuple[Span, ...]]:
    """Each line's coloured runs, in order and not overlapping (a triple-quoted string may span
    lines)."""
    return list(line_spans(source))


def line_spans(source: str) -> Iterator[tuple[Span, ...]]:
    """:func:`python_spans` a line at a time (the Code view finds them in slices between turns
    of the event loop)."""
    inside = False  # in a triple-quoted string that began on an earlier line
    for text in source.split("\n"):
        n = len(text)
        if not n:
            yield ()
            continue
        kinds: list[str | None] = [None] * n
        for kind, pattern in _RULES:
            for m in pattern.finditer(text):
                s, e = m.start(), m.end()
                kinds[s:e] = [kind] * (e - s)
        pos = 0
        while True:
            if inside:
                end = text.find('"""', pos)
                stop = n if end < 0 else end + 3
                kinds[pos:stop] = ["doc"] * (stop - pos)
                if end < 0:
                    break
                pos, inside = stop, False
            else:
                start = text.find('"""', pos)
                if start < 0:
                    break
                kinds[start : start + 3] = ["doc"] * 3
                pos, inside = start + 3, True
        yield _runs(kinds)


def _runs(kinds: list[str | None]) -> tuple[Span, ...]:
    runs: list[Span] = []
    start, current = 0, kinds[0]
    for i in range(1, len(kinds) + 1):
        kind = kinds[i] if i < len(kinds) else object()
        if kind != current:
            if current is not None:
                runs.append((start, i - start, current))
            start, current = i, kind
    return tuple(runs)


def _format(kind: str, dark: bool) -> QTextCharFormat:
    light_colour, dark_colour, bold, italic = _STYLES[kind]
    f = QTextCharFormat()
    f.setForeground(QColor(dark_colour if dark else light_colour))
    if bold:
        f.setFontWeight(QFont.Weight.Bold)
    f.setFontItalic(italic)
    return f


class LazyHighlighter:
    """Colours the lines of ``edit`` that are on screen from :meth:`set_spans`' runs, each line
    once (after the text is set, as it scrolls into view)."""

    def __init__(self, edit: QPlainTextEdit, dark: bool = False) -> None:
        self.edit = edit
        self.formats = {kind: _format(kind, dark) for kind in _STYLES}
        self._spans: list[tuple[Span, ...]] = []
        self._done: set[int] = set()
        self._colouring = False
        edit.updateRequest.connect(self._on_update)  # scrolled, resized, or the text set

    def set_spans(self, spans: list[tuple[Span, ...]]) -> None:
        """The runs of the text just set (line by line); the lines on screen are coloured now."""
        self._spans = spans
        self._done = set()
        self.colour_visible()

    def colour_visible(self) -> None:
        """Colour the lines on screen not coloured yet. Not re-entered: colouring a line marks
        it dirty, which asks for an update (``updateRequest``) at once; and at most a screenful
        of lines, since right after the text is set the lines below are not laid out yet and
        their geometry says nothing (2,000 blocks: 930 lines were looked at, 30-75 ms)."""
        if self._colouring:
            return
        self._colouring = True
        try:
            self._colour_visible()
        finally:
            self._colouring = False

    def _colour_visible(self) -> None:
        edit = self.edit
        doc = edit.document()
        block = edit.firstVisibleBlock()
        offset = edit.contentOffset()
        bottom = edit.viewport().height()
        lines = bottom // max(1, edit.fontMetrics().lineSpacing()) + 2  # one block, one line
        spans, done, formats = self._spans, self._done, self.formats
        while block.isValid() and lines > 0:
            lines -= 1
            if edit.blockBoundingGeometry(block).translated(offset).top() > bottom:
                break
            n = block.blockNumber()
            if n not in done and n < len(spans):
                done.add(n)
                if spans[n]:
                    ranges = []
                    for start, length, kind in spans[n]:
                        r = QTextLayout.FormatRange()
                        r.start, r.length, r.format = start, length, formats[kind]
                        ranges.append(r)
                    block.layout().setFormats(ranges)
                    doc.markContentsDirty(block.position(), block.length())
            block = block.next()

    def _on_update(self, *_: object) -> None:
        self.colour_visible()
