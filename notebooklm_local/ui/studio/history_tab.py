"""The History tab: the notebook's stored studio outputs; open one again in its tab, or delete it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from notebooklm_local.core.studio_store import StudioOutput, StudioStore
from notebooklm_local.services.studio.summaries import DOCUMENT_TEMPLATES
from notebooklm_local.ui.studio.tab_base import StudioTab
from notebooklm_local.ui.studio.widgets import _button

__all__ = ["HistoryTab"]

log = logging.getLogger(__name__)

_KIND_LABELS = {"summary": "Summary", "cod": "Chain of density", "podcast": "Podcast"}


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else ""


class HistoryTab(StudioTab):
    def __init__(self, pane: Any) -> None:
        super().__init__(pane)
        self.outputs: list[StudioOutput] = []
        self._refresh_when_idle = False
        layout = QVBoxLayout(self)
        self.tree = QTreeWidget()
        self.tree.setObjectName("studio-history")
        self.tree.setAccessibleName("Studio outputs")
        self.tree.setHeaderLabels(["Kind", "Title", "Made", "Model"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.itemDoubleClicked.connect(self._on_double_clicked)
        self.tree.itemSelectionChanged.connect(self._on_selection)
        self.tree.setColumnWidth(0, 120)
        self.tree.setColumnWidth(1, 260)
        self.tree.setColumnWidth(2, 120)
        layout.addWidget(self.tree, 1)
        row = QHBoxLayout()
        self.open_button = _button("Open", "studio-history-open", self.open_selected, "Show it again in its tab")
        self.delete_button = _button("Delete…", "studio-history-delete", self.delete_selected)
        self.refresh_button = _button("Refresh", "studio-history-refresh", self.refresh)
        for b in (self.open_button, self.delete_button, self.refresh_button):
            row.addWidget(b)
        row.addStretch(1)
        layout.addLayout(row)
        self.bar = self.job_bar("history")
        layout.addWidget(self.bar)
        self._on_selection()

    def set_busy(self, busy: bool) -> None:
        self.refresh_button.setEnabled(not busy)
        self._on_selection(busy)
        if not busy and self._refresh_when_idle:
            self._refresh_when_idle = False
            self.refresh()

    @Slot()
    def _on_selection(self, busy: bool | None = None) -> None:
        busy = self.pane.tab_busy(self) if busy is None else busy
        has = self.selected() is not None
        self.open_button.setEnabled(has)
        self.delete_button.setEnabled(has and not busy)

    def selected(self) -> StudioOutput | None:
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def clear(self) -> None:
        self.outputs = []
        self.tree.clear()
        self.bar.clear_notice()

    @Slot()
    def refresh(self) -> None:
        nb = self.pane.notebook_id
        if not nb:
            self.clear()
            return
        getter = self.pane.library_getter
        library = getter() if getter is not None else None

        def run(studio: Any, _cancel: Any, _progress: Any, _relay: Any) -> Any:
            store = studio.store if studio is not None else StudioStore(library)
            return store.list(nb)

        self.pane.submit(self, self.bar, run, on_success=self._on_list, lane="store",
                         needs_studio=library is None, message="Reading the history…", quiet=True)

    def _on_list(self, outputs: list[StudioOutput]) -> None:
        keep = self.selected()
        self.outputs = outputs
        self.tree.clear()
        for out in outputs:
            kind = _KIND_LABELS.get(out.kind, out.kind)
            if out.kind == "summary":
                kind = DOCUMENT_TEMPLATES.get(out.options.get("template", "summary"), ("", kind))[1]
            item = QTreeWidgetItem([kind, out.title, _when(out.created), out.model])
            item.setData(0, Qt.ItemDataRole.UserRole, out)
            item.setToolTip(1, out.title)
            self.tree.addTopLevelItem(item)
            if keep is not None and keep.id == out.id:
                item.setSelected(True)
        if not outputs:
            self.bar.show_info("Nothing made in this notebook yet.")
        self._on_selection()

    @Slot(QTreeWidgetItem, int)
    def _on_double_clicked(self, item: QTreeWidgetItem, _col: int) -> None:
        self.pane.open_output(item.data(0, Qt.ItemDataRole.UserRole))

    @Slot()
    def open_selected(self) -> None:
        out = self.selected()
        if out is not None:
            self.pane.open_output(out)

    @Slot()
    def delete_selected(self) -> None:
        out = self.selected()
        if out is None or not self.pane._confirm(  # noqa: SLF001
                "Delete studio output", f"Delete \u201c{out.title}\u201d? This cannot be undone. Notes saved "
                "from it are kept."):
            return
        getter = self.pane.library_getter
        library = getter() if getter is not None else None
        oid = out.id

        def run(studio: Any, _cancel: Any, _progress: Any, _relay: Any) -> Any:
            (studio.store if studio is not None else StudioStore(library)).delete(oid)
            return oid

        self.pane.submit(self, self.bar, run, on_success=self._on_deleted, lane="store",
                         needs_studio=library is None, message="Deleting…")

    def _on_deleted(self, oid: str) -> None:
        self.pane.output_deleted(oid)
        self._refresh_when_idle = True  # this job still holds the tab; list again when it has finished
