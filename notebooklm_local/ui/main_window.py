"""The main window: Sources (left), Notebook / Studio (center), Chat (right, collapsible).

Files, folders and links dropped anywhere on the window go to the Sources pane (a highlight shows
while dragging); the toolbar switches, creates, renames and deletes notebooks; the status bar shows
indexing progress.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, QRectF, QSettings, Qt, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QComboBox,
    QFrame,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QSplitter,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local import APP_DISPLAY_NAME, __version__
from notebooklm_local.core.context import AppContext
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.library import Library
from notebooklm_local.ui.chat_panel import ChatPanel
from notebooklm_local.ui.errors import guard_none_refcount
from notebooklm_local.ui.ingest import IngestController
from notebooklm_local.ui.source_viewer import SourceViewer
from notebooklm_local.ui.sources_pane import SourcesPane, items_from_mime
from notebooklm_local.ui.workers import FunctionWorker, Lanes

__all__ = ["MainWindow"]

log = logging.getLogger(__name__)


def _pane(title: str, body: str, name: str) -> QFrame:
    frame = QFrame()
    frame.setObjectName(name)
    frame.setAccessibleName(title)
    frame.setFrameShape(QFrame.Shape.StyledPanel)
    layout = QVBoxLayout(frame)
    header = QLabel(f"<b>{title}</b>")
    header.setObjectName(f"{name}-title")
    layout.addWidget(header)
    text = QLabel(body)
    text.setWordWrap(True)
    text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    layout.addWidget(text, 1)
    return frame


@dataclass
class _WholeSource:
    """What the source viewer needs to open a source at its start (no cited passage)."""

    url: str | None = None
    location: str = ""
    t_start: float | None = None
    start: int = 0
    end: int = 0


class _DropOverlay(QWidget):
    """The highlight over the whole window while files or links are dragged over it."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("drop-overlay")
        self.setAccessibleName("Drop to add sources")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.text = ""
        self.subtext = ""
        self.hide()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(255, 255, 255, 170))
        box = QRectF(self.rect()).adjusted(14, 14, -14, -14)
        p.setBrush(QColor(26, 93, 204, 28))
        pen = QPen(QColor("#1a5dcc"), 3, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawRoundedRect(box, 14, 14)
        f = QFont(self.font())
        f.setPointSizeF(f.pointSizeF() * 1.8)
        f.setBold(True)
        p.setFont(f)
        p.setPen(QColor("#123f8c"))
        mid = box.center().y()
        p.drawText(QRectF(box.left(), mid - 60, box.width(), 56),
                   Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, self.text)
        f.setPointSizeF(self.font().pointSizeF() * 1.1)
        f.setBold(False)
        p.setFont(f)
        p.drawText(QRectF(box.left(), mid + 8, box.width(), 40),
                   Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, self.subtext)
        p.end()


def _is_text_input(w: QObject) -> bool:
    """Whether ``w`` (or the editor whose viewport it is) takes typed or dropped text."""
    for cand in (w, w.parent() if isinstance(w, QWidget) else None):
        if isinstance(cand, QLineEdit) and not cand.isReadOnly():
            return True
        if isinstance(cand, (QPlainTextEdit, QTextEdit)) and not cand.isReadOnly():
            return True
    return False


class _DropForwarder(QObject):
    """Event filter on the window's widgets that take drops themselves (text fields): files and links
    dropped on them go to the Sources pane like everywhere else; plain text into a text field stays there."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._win = window

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        t = event.type()
        if t in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            assert isinstance(event, QDropEvent)
            mime = event.mimeData()
            if not (mime.hasUrls() or (mime.hasText() and not _is_text_input(obj))):
                return False
            if t == QEvent.Type.DragEnter:
                self._win.dragEnterEvent(event)  # type: ignore[arg-type]
            elif t == QEvent.Type.DragMove:
                self._win.dragMoveEvent(event)  # type: ignore[arg-type]
            else:
                self._win.dropEvent(event)
            return True
        if t == QEvent.Type.DragLeave and self._win.drop_overlay.isVisible():
            self._win.drop_overlay.hide()
        return False


class MainWindow(QMainWindow):
    """The application window."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        guard_none_refcount()  # PySide6 6.12.0 on CPython 3.11 (see ui.errors): the sources list paints a lot
        self.ctx = ctx
        self.lanes = Lanes()
        self.setWindowTitle(f"{APP_DISPLAY_NAME} {__version__}")
        self.setObjectName("main-window")
        self.resize(1280, 800)

        self.library: Library | None = None
        self.ingest = IngestController(self.lanes, self._open_library_service, self)
        self.sources_pane = SourcesPane(ingest=self.ingest)
        self.studio_pane = _pane(
            "Notebook", "Summaries, chain-of-density, podcasts and notes made from your sources.", "studio-pane"
        )
        self.chat_pane = ChatPanel(self.lanes, self._make_chat)
        self.chat_pane.citation_activated.connect(self._on_citation_activated)
        self.sources_pane.selection_changed.connect(self._on_selection_changed)
        self.sources_pane.open_requested.connect(self._on_source_open_requested)
        self.sources_pane.create_notebook_requested.connect(self.new_notebook)
        self.sources_pane.notice_posted.connect(self._on_sources_notice_posted)
        self.ingest.activity_changed.connect(self._on_ingest_activity_changed)
        self.ingest.source_finished.connect(self._on_ingest_source_finished)
        self.ingest.notebook_deleted.connect(self._on_ingest_notebook_deleted)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("main-splitter")
        for w in (self.sources_pane, self.studio_pane, self.chat_pane):
            self.splitter.addWidget(w)
        self.splitter.setCollapsible(2, True)
        self.splitter.setSizes([330, 530, 420])
        self.setCentralWidget(self.splitter)

        self.model_label = QLabel(f"Model: {ctx.chat_model_name}")
        self.model_label.setObjectName("status-model")
        self.backend_label = QLabel("Backend: …")
        self.backend_label.setObjectName("status-backend")
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.backend_label)
        self._build_indexing_status()
        self.notebook_box = QComboBox()
        self.notebook_box.setObjectName("notebook-switcher")
        self.notebook_box.setAccessibleName("Notebook")
        self.notebook_box.setMinimumWidth(220)
        self.notebook_box.currentIndexChanged.connect(self._on_notebook_box_changed)
        toolbar = self.addToolBar("Notebook")
        toolbar.setObjectName("notebook-toolbar")
        toolbar.setMovable(False)
        toolbar.addWidget(QLabel(" Notebook: "))
        toolbar.addWidget(self.notebook_box)
        self._build_notebook_actions(toolbar)
        self._build_drop_target()
        self._build_menus()
        self._build_sources_menus()
        self._restore_state()
        for notice in ctx.notices:
            self.statusBar().showMessage(notice, 15000)
        self._probe_backend()
        self._load_library()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        view_menu = self.menuBar().addMenu("&View")
        self.toggle_chat_action = QAction("&Chat panel", self, checkable=True, checked=True)
        self.toggle_chat_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.toggle_chat_action.toggled.connect(self.chat_pane.setVisible)
        view_menu.addAction(self.toggle_chat_action)
        help_menu = self.menuBar().addMenu("&Help")
        self._help_menu = help_menu
        about = QAction("&About", self)
        about.triggered.connect(self._on_about_triggered)
        help_menu.addAction(about)

    # -- notebooks: switcher, new / rename / delete -----------------------------------------------

    def _build_notebook_actions(self, toolbar: object) -> None:
        self.new_notebook_action = QAction("&New notebook…", self)
        self.new_notebook_action.setObjectName("new-notebook")
        self.new_notebook_action.setShortcut(QKeySequence("Ctrl+Shift+N"))
        self.new_notebook_action.setToolTip("Create a new, empty notebook (Ctrl+Shift+N)")
        self.new_notebook_action.triggered.connect(self.new_notebook)
        self.new_notebook_action.setIconText("+ New notebook")
        self.rename_notebook_action = QAction("&Rename notebook…", self)
        self.rename_notebook_action.setObjectName("rename-notebook")
        self.rename_notebook_action.triggered.connect(self.rename_notebook)
        self.delete_notebook_action = QAction("&Delete notebook…", self)
        self.delete_notebook_action.setObjectName("delete-notebook")
        self.delete_notebook_action.triggered.connect(self.delete_notebook)
        self.new_notebook_button = QToolButton()
        self.new_notebook_button.setObjectName("new-notebook-button")
        self.new_notebook_button.setDefaultAction(self.new_notebook_action)
        self.new_notebook_button.setAccessibleName("New notebook")
        self.notebook_menu_button = QToolButton()
        self.notebook_menu_button.setObjectName("notebook-menu-button")
        self.notebook_menu_button.setText("⋯")
        self.notebook_menu_button.setToolTip("Rename or delete this notebook")
        self.notebook_menu_button.setAccessibleName("Notebook actions")
        self.notebook_menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.notebook_menu_button)
        menu.addAction(self.rename_notebook_action)
        menu.addAction(self.delete_notebook_action)
        self.notebook_menu_button.setMenu(menu)
        toolbar.addWidget(self.new_notebook_button)  # type: ignore[attr-defined]
        toolbar.addWidget(self.notebook_menu_button)  # type: ignore[attr-defined]
        self._update_notebook_actions()

    def _build_sources_menus(self) -> None:
        nb_menu = self.menuBar().addMenu("&Notebook")
        nb_menu.setObjectName("notebook-menu")
        for a in (self.new_notebook_action, self.rename_notebook_action, self.delete_notebook_action):
            nb_menu.addAction(a)
        src_menu = self.menuBar().addMenu("&Sources")
        src_menu.setObjectName("sources-menu")
        pane = self.sources_pane
        for a in pane.add_actions:
            src_menu.addAction(a)
        src_menu.addSeparator()
        for a in (pane.select_all_action, pane.select_none_action, pane.resume_action):
            src_menu.addAction(a)
        # Help stays the last menu
        help_action = self._help_menu.menuAction()
        self.menuBar().removeAction(help_action)
        self.menuBar().addAction(help_action)

    def _update_notebook_actions(self) -> None:
        has = self.notebook_box.count() > 0 and self.library is not None
        self.rename_notebook_action.setEnabled(has)
        self.delete_notebook_action.setEnabled(has)
        self.notebook_menu_button.setEnabled(has)
        self.new_notebook_action.setEnabled(self.library is not None)

    def current_notebook_id(self) -> str | None:
        nb_id = self.notebook_box.currentData()
        return str(nb_id) if nb_id else None

    def _reload_notebooks(self, select: str | None = None) -> None:
        """Fill the switcher from the library and show ``select`` (else the current one, else the first)."""
        if self.library is None:
            return
        keep = select or self.current_notebook_id()
        notebooks = self.library.notebooks()
        self.notebook_box.blockSignals(True)
        self.notebook_box.clear()
        for nb in notebooks:
            self.notebook_box.addItem(nb.name, nb.id)
        index = max(0, self.notebook_box.findData(keep)) if keep else 0
        self.notebook_box.setCurrentIndex(index if notebooks else -1)
        self.notebook_box.blockSignals(False)
        self._update_notebook_actions()
        if notebooks:
            self._on_notebook_box_changed(index)
        else:
            self._show_no_notebooks()

    def _show_no_notebooks(self) -> None:
        self.sources_pane.show_empty("No notebooks yet. Create one, then add PDFs, web pages, Markdown or "
                                     "transcripts to it.", offer_create=True)
        self.chat_pane.set_notebook(None, [])
        self.setWindowTitle(f"{APP_DISPLAY_NAME} {__version__}")

    @Slot()
    def new_notebook(self) -> None:
        if self.library is None:
            return
        name, ok = QInputDialog.getText(self, "New notebook", "Name of the new notebook:")
        if not ok or not name.strip():
            return
        try:
            nb = self.library.create_notebook(name)
        except NotebookError as e:
            QMessageBox.warning(self, "New notebook", str(e))
            return
        self._reload_notebooks(select=nb.id)
        self.statusBar().showMessage(f"Created notebook “{nb.name}”. Add sources with + Add or by dropping them here.",
                                     8000)

    @Slot()
    def rename_notebook(self) -> None:
        nb_id = self.current_notebook_id()
        if self.library is None or nb_id is None:
            return
        old = self.notebook_box.currentText()
        name, ok = QInputDialog.getText(self, "Rename notebook", "New name:", text=old)
        if not ok or not name.strip() or name.strip() == old:
            return
        try:
            nb = self.library.rename_notebook(nb_id, name)
        except NotebookError as e:
            QMessageBox.warning(self, "Rename notebook", str(e))
            return
        self._reload_notebooks(select=nb.id)

    @Slot()
    def delete_notebook(self) -> None:
        nb_id = self.current_notebook_id()
        if self.library is None or nb_id is None:
            return
        name = self.notebook_box.currentText()
        n = len(self.library.sources(nb_id))
        answer = QMessageBox.question(
            self, "Delete notebook",
            f"Delete the notebook “{name}” with its {n} source{'s' if n != 1 else ''}, chats and notes?\n\n"
            "This cannot be undone. Your original files are not touched.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.statusBar().showMessage(f"Deleting “{name}”…")
        self.ingest.delete_notebook(nb_id)

    @Slot(str)
    def _on_ingest_notebook_deleted(self, notebook_id: str) -> None:
        self.statusBar().showMessage("Notebook deleted.", 5000)
        self._reload_notebooks(None if self.current_notebook_id() == notebook_id else self.current_notebook_id())

    def _open_library_service(self) -> object:
        """Build the library service for adding and indexing (called once, on a lane: opening the index is slow)."""
        from notebooklm_local.extensions.runtime import open_library

        return open_library(self.ctx.paths, self.ctx.settings)

    # -- sources: open, notices, indexing progress in the status bar ---------------------------------

    def _build_indexing_status(self) -> None:
        self.indexing_label = QLabel("")
        self.indexing_label.setObjectName("status-indexing")
        self.indexing_label.setAccessibleName("Indexing progress")
        self.indexing_bar = QProgressBar()
        self.indexing_bar.setObjectName("status-indexing-bar")
        self.indexing_bar.setAccessibleName("Indexing progress")
        self.indexing_bar.setRange(0, 100)
        self.indexing_bar.setMaximumWidth(140)
        self.indexing_bar.setMaximumHeight(14)
        self.indexing_bar.setTextVisible(False)
        self.statusBar().insertPermanentWidget(0, self.indexing_label)
        self.statusBar().insertPermanentWidget(1, self.indexing_bar)
        self.indexing_label.hide()
        self.indexing_bar.hide()
        self._batch_outcomes: dict[str, int] = {}

    @Slot(int, int)
    def _on_ingest_activity_changed(self, remaining: int, percent: int) -> None:
        if remaining > 0:
            indexing = self.ingest.remaining
            if indexing:
                text = f"Indexing {indexing} source{'s' if indexing != 1 else ''}… {percent}%"
            else:
                text = "Checking what to add…"
            self.indexing_label.setText(text)
            self.indexing_bar.setValue(percent)
            self.indexing_label.show()
            self.indexing_bar.show()
            return
        was_busy = self.indexing_label.isVisible()
        self.indexing_label.hide()
        self.indexing_bar.hide()
        if was_busy and self._batch_outcomes:
            o = self._batch_outcomes
            parts = [f"{o[k]} {k}" for k in ("ready", "failed", "duplicate", "stopped") if o.get(k)]
            self.statusBar().showMessage("Indexing finished: " + ", ".join(parts) + ".", 10000)
        self._batch_outcomes = {}

    @Slot(str, str, str)
    def _on_ingest_source_finished(self, _source_id: str, outcome: str, _message: str) -> None:
        self._batch_outcomes[outcome] = self._batch_outcomes.get(outcome, 0) + 1

    @Slot(str)
    def _on_sources_notice_posted(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)

    @Slot(str)
    def _on_source_open_requested(self, source_id: str) -> None:
        if self.library is None:
            return
        try:
            src = self.library.source(source_id)
            text, _blocks = self.library.source_text(source_id)
        except NotebookError:
            self.statusBar().showMessage("This source has no text yet: it has not been read (see its state).", 8000)
            return
        viewer = SourceViewer(src.title or src.display, text, _WholeSource(url=src.ref.get("url")), self)
        viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.source_viewer = viewer
        viewer.show()

    # -- drag and drop anywhere on the window ------------------------------------------------------

    def _build_drop_target(self) -> None:
        self.setAcceptDrops(True)
        self.drop_overlay = _DropOverlay(self)
        self._drop_forwarder = _DropForwarder(self)

    def install_drop_forwarding(self) -> None:
        """Make widgets that take drops themselves (text fields) pass files and links on to the window.

        Called when the window is shown; call it again after adding such widgets later.
        """
        for w in self.findChildren(QWidget):
            if not w.acceptDrops() or w.property("nbl-drop-forwarded"):
                continue
            w.setProperty("nbl-drop-forwarded", True)
            w.installEventFilter(self._drop_forwarder)
            if isinstance(w, QAbstractScrollArea):
                w.viewport().installEventFilter(self._drop_forwarder)

    def _drag_wanted(self, event: QDropEvent) -> bool:
        mime = event.mimeData()
        return mime.hasUrls() or mime.hasText()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if not self._drag_wanted(event):
            event.ignore()
            return
        event.acceptProposedAction()
        nb = self.notebook_box.currentText() if self.current_notebook_id() else ""
        n = len(items_from_mime(event.mimeData()))
        what = f"{n} item{'s' if n != 1 else ''}" if n else "sources"
        self.drop_overlay.text = f"Drop to add {what} to “{nb}”" if nb else "Create a notebook first"
        self.drop_overlay.subtext = "Files, folders and web links become sources of this notebook." if nb else (
            "Use “+ New notebook” in the toolbar, then drop your files again.")
        self.drop_overlay.setGeometry(self.rect())
        self.drop_overlay.raise_()
        self.drop_overlay.show()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 - Qt override
        if self._drag_wanted(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802 - Qt override
        self.drop_overlay.hide()
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        self.drop_overlay.hide()
        if not self._drag_wanted(event):
            event.ignore()
            return
        event.acceptProposedAction()
        self.sources_pane.handle_drop(event.mimeData())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self.drop_overlay.isVisible():
            self.drop_overlay.setGeometry(self.rect())

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.install_drop_forwarding()

    def _probe_backend(self) -> None:
        from notebooklm_local.services.llama_runtime import build_info

        worker = FunctionWorker(build_info)
        worker.signals.succeeded.connect(self._on_backend_probed)
        worker.signals.failed.connect(self._on_backend_failed)
        self.lanes.submit(self.lanes.io, worker)

    def _load_library(self) -> None:
        db = self.ctx.paths.data / "library.db"

        def load() -> tuple[Library, list]:
            lib = Library(db)
            return lib, lib.notebooks()

        worker = FunctionWorker(load)
        worker.signals.succeeded.connect(self._on_library_loaded)
        worker.signals.failed.connect(self._on_library_failed)
        self.lanes.submit(self.lanes.store, worker)

    @Slot(object)
    def _on_library_loaded(self, result: object) -> None:
        lib, _notebooks = result  # type: ignore[misc]
        self.library = lib
        self._reload_notebooks()

    @Slot(object)
    def _on_library_failed(self, exc: object) -> None:
        log.warning("could not open the library: %s", exc)
        self.sources_pane.show_empty(f"The library could not be opened: {exc}")

    @Slot(int)
    def _on_notebook_box_changed(self, index: int) -> None:
        nb_id = self.notebook_box.itemData(index)
        if self.library is not None and nb_id:
            sources = self.library.sources(nb_id)
            self.sources_pane.set_sources(self.library, sources, nb_id)
            self.chat_pane.set_notebook(nb_id, [s.id for s in sources if s.selected])
            self.setWindowTitle(f"{self.notebook_box.itemText(index)} — {APP_DISPLAY_NAME}")

    def _make_chat(self) -> object:
        """Build the chat service (called once, on the llm lane: opening the index and model is slow)."""
        from notebooklm_local.extensions.runtime import open_chat

        return open_chat(self.ctx.paths, self.ctx.settings)

    @Slot(list)
    def _on_selection_changed(self, ids: list) -> None:
        self.chat_pane.set_sources(list(ids))

    @Slot(object)
    def _on_citation_activated(self, citation: object) -> None:
        if self.library is None:
            return
        try:
            text, _blocks = self.library.source_text(citation.source_id)  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001 - a removed source: say so, never crash
            QMessageBox.information(self, "Source not available", f"This source is no longer available ({e}).")
            return
        viewer = SourceViewer(citation.source_title, text, citation, self)  # type: ignore[attr-defined]
        viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.source_viewer = viewer
        viewer.show()

    @Slot(object)
    def _on_backend_probed(self, info: object) -> None:
        backend = getattr(info, "backend", "?")
        self.backend_label.setText(f"Backend: {backend}")
        self.backend_label.setToolTip(getattr(info, "reason", ""))

    @Slot(object)
    def _on_backend_failed(self, exc: object) -> None:
        self.backend_label.setText("Backend: unavailable")
        self.backend_label.setToolTip(str(exc))

    @Slot()
    def _on_about_triggered(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_DISPLAY_NAME}",
            f"<b>{APP_DISPLAY_NAME}</b> {__version__}<br>Private, offline notebooks with cited answers.<br>"
            f"Data: {self.ctx.paths.data}",
        )

    def _restore_state(self) -> None:
        qs = QSettings(str(self.ctx.paths.config / "window.ini"), QSettings.Format.IniFormat)
        geometry = qs.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = qs.value("splitter")
        if state is not None:
            self.splitter.restoreState(state)

    def _save_state(self) -> None:
        qs = QSettings(str(self.ctx.paths.config / "window.ini"), QSettings.Format.IniFormat)
        qs.setValue("geometry", self.saveGeometry())
        qs.setValue("splitter", self.splitter.saveState())

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self._save_state()
        self.chat_pane.stop()
        self.ingest.shutdown()
        drained = self.lanes.shutdown(3000)
        if drained:
            self.ingest.close_service()
        chat = self.chat_pane.chat
        if chat is not None:
            chat.engine.close()
        if self.library is not None:
            self.library.close()
        super().closeEvent(event)
