"""The Extract tab's table for a timeline (date | event | source) or a data table (subject | quantity |
context | source). Each row is cited: clicking it (or Enter on it) opens the source at the passage; the
tooltip shows the quote and its location. A generated row its passage does not support is marked ⚠ with
the reason, never shown as supported. Without rows it says why ("No dated events found ...")."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.core.citations import Citation

__all__ = ["TimelineTableView"]

_HEADERS = {"timeline": ["Date", "Event", "Source"], "data_table": ["Subject", "Quantity", "Context", "Source"]}
FLAG = "\u26a0"
NARROW_COLUMN_CHARS = 28  # the widest a date, subject, quantity or source column starts ...
NARROW_COLUMN_SHARE = 0.22  # ... and its share of the table's width at most


def _source_label(c: Citation) -> str:
    return c.source_title + (f" \u00b7 {c.location}" if c.location else "")


def _tooltip(c: Citation, flag: str = "") -> str:
    q = " ".join(c.quote.split())
    q = q if len(q) <= 400 else q[:399] + "\u2026"
    head = f"{FLAG} {flag}\n\n" if flag else ""
    return f"{head}\u201c{q}\u201d\n\u2014 {_source_label(c)}\n\nClick to open the passage."


class TimelineTableView(QWidget):
    """Rows of a Timeline or DataTable (``core/timeline.py``); ``citation_activated`` opens a row's passage."""

    citation_activated = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.empty = QLabel("")
        self.empty.setObjectName("timeline-empty")
        self.empty.setWordWrap(True)
        self.empty.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.empty)
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("timeline-table")
        self.table.setAccessibleName("Timeline")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(True)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.cellClicked.connect(lambda row, _col: self.open_row(row))
        self.table.activated.connect(self._on_activated)
        layout.addWidget(self.table, 1)
        self.hint = QLabel("Click a row: its passage opens. Export: Markdown (footnotes) or CSV (with quotes).")
        self.hint.setObjectName("timeline-hint")
        self.hint.setWordWrap(True)
        self.hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout.addWidget(self.hint)
        self.kind = "timeline"
        self.rows: list[Any] = []
        self.citations: list[Citation] = []
        self._wide_column = 1
        self._natural: list[int] = []
        self.clear()

    def clear(self) -> None:
        self.rows, self.citations = [], []
        self.table.setRowCount(0)
        self.table.hide()
        self.empty.setText("")
        self.empty.hide()

    def set_result(self, kind: str, result: Any) -> None:
        """Show ``result`` (a Timeline when ``kind`` is "timeline", else a DataTable)."""
        self.kind = kind if kind in _HEADERS else "timeline"
        rows = list(result.events if self.kind == "timeline" else result.rows)
        self.rows = rows
        self.citations = [r.citation for r in rows]
        headers = _HEADERS[self.kind]
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setAccessibleName("Timeline" if self.kind == "timeline" else "Data table")
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            c = r.citation
            flag = "" if r.supported else (r.flag or "not supported by its passage")
            tip = _tooltip(c, flag)
            if self.kind == "timeline":
                cells = [r.date.label, (f"{FLAG} " if flag else "") + r.display, _source_label(c)]
            else:
                qty = r.quantity + (f" ({r.attribute})" if r.attribute else "")
                cells = [r.subject, qty, (f"{FLAG} " if flag else "") + r.display, _source_label(c)]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                if j == len(cells) - 1:  # the source "chip"
                    f = item.font()
                    f.setItalic(True)
                    item.setFont(f)
                    item.setForeground(self.palette().color(QPalette.ColorRole.Link))
                self.table.setItem(i, j, item)
        hh = self.table.horizontalHeader()
        self._wide_column = 1 if self.kind == "timeline" else 2
        for j in range(len(headers)):
            hh.setSectionResizeMode(j, QHeaderView.ResizeMode.Stretch if j == self._wide_column else
                                    QHeaderView.ResizeMode.Interactive)
        self._natural = [max(self.table.sizeHintForColumn(j), hh.sectionSizeHint(j)) if j != self._wide_column
                         else 0 for j in range(len(headers))]
        self._fit_columns()
        # wrapped rows follow their columns' widths (set while the view may still be hidden, at another
        # width); measuring thousands would stall the window
        vh = self.table.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents if len(rows) <= 300 else
                                QHeaderView.ResizeMode.Interactive)
        self.table.setVisible(bool(rows))
        notes = list(getattr(result, "notes", []) or [])
        if not rows:
            self.empty.setText(" ".join([result.empty_message, *notes]))
        else:
            self.empty.setText(" ".join(notes))
        self.empty.setVisible(bool(self.empty.text()))

    def _fit_columns(self) -> None:
        """The event / context column takes the room left; the others fit their contents up to a share of
        the table's width (a long subject or source title wraps there instead of pushing the text column off
        the table). Again at each resize: the result is often set while the view is hidden, at another size."""
        if not self._natural:
            return
        hh = self.table.horizontalHeader()
        char = self.fontMetrics().averageCharWidth()
        share = int(self.width() * NARROW_COLUMN_SHARE)  # (the table's own width lags while it is hidden)
        cap = max(hh.minimumSectionSize(), min(char * NARROW_COLUMN_CHARS, share))
        for j, natural in enumerate(self._natural):
            if j != self._wide_column and j < self.table.columnCount():
                hh.resizeSection(j, min(natural, cap))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit_columns()

    @Slot(QModelIndex)
    def _on_activated(self, index: QModelIndex) -> None:
        self.open_row(index.row())

    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.citations):
            self.citation_activated.emit(self.citations[row])
