"""Notebook ▸ Export notebook… / Import notebook…: notebook bundles (``services/bundle.py``) from the GUI.

The CLI's ``notebook export NAME -o FILE.zip`` and ``notebook import FILE.zip [--into NAME]``. Export runs on
the io lane (it only reads), import on the store lane (it writes the library and embeds, after any
indexing). Both show a progress dialog whose Cancel stops the work (an import then leaves nothing behind);
errors go to the app's error dialog. Worker signals reach bound slots only (no lambdas, PYSIDE-3124).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog

from notebooklm_local.ui.errors import NO_NOTEBOOK, show_exception
from notebooklm_local.ui.ops import BackgroundOp

__all__ = ["BundleActions"]

log = logging.getLogger(__name__)

_FILTER = "Notebook bundles (*.zip);;All files (*)"


class BundleActions(QObject):
    """The two actions and their jobs, for the main window (``window``: library, lanes, ingest, ctx, plugins).

    Signals:
        finished(object): an ExportReport or ImportReport, once the job succeeded (tests wait on it).
        failed(object): the exception of a failed or cancelled job.
    """

    finished = Signal(object)
    failed = Signal(object)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.export_action = QAction("&Export notebook…", window)
        self.export_action.setObjectName("export-notebook")
        self.export_action.setToolTip("Save this notebook (sources, notes, studio outputs, chats) as one .zip to "
                                      "import elsewhere")
        self.export_action.triggered.connect(self.export_notebook)
        self.import_action = QAction("&Import notebook…", window)
        self.import_action.setObjectName("import-notebook")
        self.import_action.setToolTip("Import a notebook bundle (.zip) as a new notebook or into this one")
        self.import_action.triggered.connect(self.import_notebook)
        self.op: BackgroundOp | None = None
        self.progress_dialog: QProgressDialog | None = None
        self.report_dialog: Any = None
        self.error_dialog: Any = None
        self._what = ""

    # -- state ----------------------------------------------------------------------------------------
    @property
    def busy(self) -> str:
        """What is running ("Export notebook", "Import notebook"), or "" (for the close-while-working dialog)."""
        return self._what if self.op is not None else ""

    def update(self, has_library: bool, has_notebook: bool) -> None:
        busy = self.op is not None
        self.export_action.setEnabled(has_library and has_notebook and not busy)
        self.import_action.setEnabled(has_library and not busy)

    def _refresh(self) -> None:
        w = self.window
        self.update(w.library is not None, w.current_notebook_id() is not None)

    # -- dialogs (tests replace these) --------------------------------------------------------------
    def _ask_save(self, name: str) -> str:
        safe = "".join(c if c.isalnum() or c in " -_." else "_" for c in name).strip() or "notebook"
        path, _filter = QFileDialog.getSaveFileName(self.window, "Export notebook", str(Path.home() / f"{safe}.zip"),
                                                    _FILTER)
        return path

    def _ask_open(self) -> str:
        path, _filter = QFileDialog.getOpenFileName(self.window, "Import notebook", str(Path.home()), _FILTER)
        return path

    def _ask_target(self, current: str) -> str | None:
        """"new", "into" (the current notebook) or None (cancelled)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Import notebook",
                          "Import the bundle as a new notebook, or add its sources, notes, outputs and chats to "
                          f"“{current}”? (Sources “{current}” already has are skipped.)", parent=self.window)
        new = box.addButton("As a new notebook", QMessageBox.ButtonRole.AcceptRole)
        into = box.addButton(f"Add to “{current}”", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(new)
        box.exec()
        clicked = box.clickedButton()
        return "new" if clicked is new else "into" if clicked is into else None

    # -- export ---------------------------------------------------------------------------------------
    @Slot()
    def export_notebook(self) -> None:
        w = self.window
        nb_id = w.current_notebook_id()
        if w.library is None or nb_id is None:
            w.statusBar().showMessage(NO_NOTEBOOK, 8000)
            return
        path = self._ask_save(w.notebook_box.currentText())
        if path:
            self.export_to(nb_id, Path(path))

    def export_to(self, notebook_id: str, path: Path) -> None:
        """Export on the io lane (the save dialog already asked about replacing an existing file)."""
        w = self.window
        library, paths, settings = w.library, w.ctx.paths, w.ctx.settings
        registry = w.plugins.registry

        def run(cancel: Any, progress: Any) -> Any:
            from notebooklm_local.services.bundle import export_notebook
            from notebooklm_local.workspace import template_store

            return export_notebook(library, paths.data, notebook_id, path, templates=template_store(paths, registry),
                                   settings=settings, overwrite=True, cancel=cancel, progress=progress)

        self._start(run, w.lanes.io, "Export notebook", f"Exporting to {path.name}…")

    # -- import ---------------------------------------------------------------------------------------
    @Slot()
    def import_notebook(self) -> None:
        w = self.window
        if w.library is None:
            return
        path = self._ask_open()
        if not path:
            return
        into = None
        nb_id = w.current_notebook_id()
        if nb_id is not None:
            choice = self._ask_target(w.notebook_box.currentText())
            if choice is None:
                return
            into = nb_id if choice == "into" else None
        self.import_from(Path(path), into)

    def import_from(self, path: Path, into: str | None) -> None:
        """Import on the store lane: after any indexing in progress, never at the same time as it."""
        w = self.window
        open_service, paths, registry = w.ingest.service, w.ctx.paths, w.plugins.registry

        def run(cancel: Any, progress: Any) -> Any:
            from notebooklm_local.services.bundle import import_bundle
            from notebooklm_local.workspace import template_store

            return import_bundle(open_service(), path, into=into, templates=template_store(paths, registry),
                                 cancel=cancel, progress=progress)

        self._start(run, w.lanes.store, "Import notebook", f"Importing {path.name}…")

    # -- the job ----------------------------------------------------------------------------------------
    def _start(self, fn: Any, lane: Any, what: str, label: str) -> None:
        self._what = what
        op = BackgroundOp(self, fn, lanes=self.window.lanes, pool=lane, context=True, on_success=self._on_succeeded,
                          on_failure=self._on_failed, on_progress=self._on_progress, label=what)
        dialog = QProgressDialog(label, "Cancel", 0, 100, self.window)
        dialog.setObjectName("bundle-progress")
        dialog.setWindowTitle(what)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(400)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self._on_cancel)
        self.progress_dialog = dialog
        self.op = op
        self._refresh()
        self.window.statusBar().showMessage(label)
        op.run()

    @Slot()
    def _on_cancel(self) -> None:
        if self.op is not None:
            self.op.cancel_token.cancel()
            if self.progress_dialog is not None:
                self.progress_dialog.setLabelText("Stopping…")

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, message: str) -> None:
        d = self.progress_dialog
        if d is None or self.op is None or self.op.cancel_token.is_set():
            return
        d.setValue(int(100 * done / total) if total > 0 else 0)
        if message:
            d.setLabelText(message[:120])

    def _end(self) -> None:
        self.op = None
        if self.progress_dialog is not None:
            self.progress_dialog.canceled.disconnect(self._on_cancel)
            self.progress_dialog.close()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None
        self._refresh()

    @Slot(object)
    def _on_succeeded(self, report: object) -> None:
        self._end()
        w = self.window
        if self._what == "Export notebook":
            w.statusBar().showMessage(getattr(report, "lines", lambda: ["Exported."])()[0], 10000)
        else:
            w.reload_notebooks(select=getattr(report, "notebook_id", None))
            lines: list[str] = getattr(report, "lines", list)()
            w.statusBar().showMessage(lines[0] if lines else "Imported.", 10000)
            self._show_report(lines)
        self.finished.emit(report)

    def _show_report(self, lines: list[str]) -> None:
        from notebooklm_local.ui.provenance import InfoDialog

        body = "<ul>" + "".join(f"<li>{html.escape(ln)}</li>" for ln in lines) + "</ul>"
        self.report_dialog = InfoDialog("Notebook imported", body, self.window, name="import-report")
        self.report_dialog.open()

    @Slot(object)
    def _on_failed(self, exc: object) -> None:
        self._end()
        if isinstance(exc, BaseException):
            from notebooklm_local.core.errors import Cancelled

            if isinstance(exc, Cancelled):
                self.window.statusBar().showMessage(f"{self._what}: cancelled (nothing was changed).", 8000)
            else:
                self.window.statusBar().clearMessage()
                self.error_dialog = show_exception(self.window, self._what, exc)
        self.failed.emit(exc)

