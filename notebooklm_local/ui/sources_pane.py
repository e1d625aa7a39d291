"""The Sources pane: the notebook's sources with their state; checkboxes choose what chat and studio use."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from notebooklm_local.core.library import Library, Source

__all__ = ["SourcesPane"]

log = logging.getLogger(__name__)

_KIND_LABEL = {
    "pdf": "PDF", "markdown": "Markdown", "text": "Text", "web": "Web", "html": "HTML", "youtube": "YouTube",
    "transcript": "Transcript", "paste": "Pasted",
}
_STATUS_MARK = {"ready": "", "failed": "⚠ ", "queued": "… ", "extracted": "… ", "chunked": "… ", "embedded": "… "}


class SourcesPane(QWidget):
    """Lists the current notebook's sources.

    Signals:
        selection_changed(list): ids of the sources checked for chat and studio.
    """

    selection_changed = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sources-pane")
        self.setAccessibleName("Sources")
        self._library: Library | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.title = QLabel("<b>Sources</b>")
        layout.addWidget(self.title)
        self.list = QListWidget()
        self.list.setObjectName("sources-list")
        self.list.setAccessibleName("Sources of this notebook")
        self.list.setAlternatingRowColors(True)
        self.list.setWordWrap(True)
        self.list.itemChanged.connect(self._on_list_item_changed)
        layout.addWidget(self.list, 1)
        self.summary = QLabel("")
        self.summary.setObjectName("sources-summary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.show_empty("Loading…")

    def show_empty(self, text: str) -> None:
        self.list.clear()
        self.summary.setText(text)

    def set_sources(self, library: Library, sources: list[Source]) -> None:
        self._library = library
        self.list.blockSignals(True)
        self.list.clear()
        for s in sources:
            kind = _KIND_LABEL.get(s.kind, s.kind or "?")
            detail = f"{kind} · {s.n_chunks} chunks" if s.status == "ready" else f"{kind} · {s.status}"
            item = QListWidgetItem(f"{_STATUS_MARK.get(s.status, '')}{s.title or s.display}\n{detail}")
            item.setData(Qt.ItemDataRole.UserRole, s.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if s.selected else Qt.CheckState.Unchecked)
            tip = [s.title, s.ref.get("path") or s.ref.get("url") or ""]
            if s.error:
                tip.append(f"Failed: {s.error}")
            tip += s.flags
            item.setToolTip("\n".join(t for t in tip if t))
            self.list.addItem(item)
        self.list.blockSignals(False)
        ready = sum(1 for s in sources if s.status == "ready")
        if not sources:
            self.summary.setText("No sources yet. Add PDFs, web pages, Markdown or transcripts.")
        else:
            self.summary.setText(f"{len(sources)} sources, {ready} ready, {len(self.selected_ids())} selected")

    def selected_ids(self) -> list[str]:
        return [
            self.list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.list.count())
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        ]

    @Slot(QListWidgetItem)
    def _on_list_item_changed(self, item: QListWidgetItem) -> None:
        sid = item.data(Qt.ItemDataRole.UserRole)
        if self._library is not None and sid:
            self._library.update_source(sid, selected=int(item.checkState() == Qt.CheckState.Checked))
        ids = self.selected_ids()
        self.summary.setText(f"{self.list.count()} sources, {len(ids)} selected")
        self.selection_changed.emit(ids)
