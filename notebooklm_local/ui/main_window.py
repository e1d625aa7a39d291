"""The main window: Sources (left), Notebook / Studio (center), Chat (right, collapsible)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QSettings, Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
)

from notebooklm_local import APP_DISPLAY_NAME, __version__
from notebooklm_local.core.context import AppContext
from notebooklm_local.core.library import Library
from notebooklm_local.ui.chat_panel import ChatPanel
from notebooklm_local.ui.source_viewer import SourceViewer
from notebooklm_local.ui.sources_pane import SourcesPane
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


class MainWindow(QMainWindow):
    """The application window."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.lanes = Lanes()
        self.setWindowTitle(f"{APP_DISPLAY_NAME} {__version__}")
        self.setObjectName("main-window")
        self.resize(1280, 800)

        self.library: Library | None = None
        self.sources_pane = SourcesPane()
        self.studio_pane = _pane(
            "Notebook", "Summaries, chain-of-density, podcasts and notes made from your sources.", "studio-pane"
        )
        self.chat_pane = ChatPanel(self.lanes, self._make_chat)
        self.chat_pane.citation_activated.connect(self._on_citation_activated)
        self.sources_pane.selection_changed.connect(self._on_selection_changed)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("main-splitter")
        for w in (self.sources_pane, self.studio_pane, self.chat_pane):
            self.splitter.addWidget(w)
        self.splitter.setCollapsible(2, True)
        self.splitter.setSizes([300, 560, 420])
        self.setCentralWidget(self.splitter)

        self.model_label = QLabel(f"Model: {ctx.chat_model_name}")
        self.model_label.setObjectName("status-model")
        self.backend_label = QLabel("Backend: …")
        self.backend_label.setObjectName("status-backend")
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.backend_label)
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
        self._build_menus()
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
        about = QAction("&About", self)
        about.triggered.connect(self._on_about_triggered)
        help_menu.addAction(about)

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
        lib, notebooks = result  # type: ignore[misc]
        self.library = lib
        self.notebook_box.blockSignals(True)
        self.notebook_box.clear()
        for nb in notebooks:
            self.notebook_box.addItem(nb.name, nb.id)
        self.notebook_box.blockSignals(False)
        if notebooks:
            self._on_notebook_box_changed(0)
        else:
            self.sources_pane.show_empty("No notebooks yet. Create one with `notebooklm-local notebook create NAME`.")

    @Slot(object)
    def _on_library_failed(self, exc: object) -> None:
        log.warning("could not open the library: %s", exc)
        self.sources_pane.show_empty(f"The library could not be opened: {exc}")

    @Slot(int)
    def _on_notebook_box_changed(self, index: int) -> None:
        nb_id = self.notebook_box.itemData(index)
        if self.library is not None and nb_id:
            sources = self.library.sources(nb_id)
            self.sources_pane.set_sources(self.library, sources)
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
        self.lanes.shutdown(3000)
        chat = self.chat_pane.chat
        if chat is not None:
            chat.engine.close()
        if self.library is not None:
            self.library.close()
        super().closeEvent(event)
