"""The main window: Sources (left), Notebook / Studio (center), Chat (right, collapsible).

Files, folders and links dropped anywhere on the window go to the Sources pane (a highlight shows
while dragging); the toolbar switches, creates, renames and deletes notebooks; the status bar shows
indexing progress.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QRectF, QSettings, QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
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
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QSplitter,
    QTabWidget,
    QTextEdit,
    QToolButton,
    QWidget,
)

from notebooklm_local import APP_DISPLAY_NAME, __version__
from notebooklm_local.core.context import AppContext
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.library import Library
from notebooklm_local.ui.chat_panel import ChatPanel
from notebooklm_local.ui.errors import NO_NOTEBOOK, guard_none_refcount, show_error, show_exception
from notebooklm_local.ui.first_run import should_show_first_run
from notebooklm_local.ui.ingest import IngestController, LargeSource
from notebooklm_local.ui.keyboard import focus_first_in, install_context_menu_key
from notebooklm_local.ui.notes_pane import NotesPane
from notebooklm_local.ui.ops import BackgroundOp
from notebooklm_local.ui.prompts import ask_text
from notebooklm_local.ui.source_viewer import SourceViewer
from notebooklm_local.ui.sources_pane import SourcesPane, items_from_mime
from notebooklm_local.ui.studio.pane import StudioPane
from notebooklm_local.ui.theme import color
from notebooklm_local.ui.workers import Lanes

if TYPE_CHECKING:
    from notebooklm_local.workspace import Workspace

__all__ = ["MainWindow"]

log = logging.getLogger(__name__)
FRAME_ALLOWANCE = 40  # px kept for the window manager's title bar and borders while the frame is not known


class _PluginNotices(QObject):
    """Carries plugins' ``api.notify`` messages (from any thread) to the status bar."""

    posted = Signal(str, str, str)  # plugin id, level, message


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
        p.fillRect(self.rect(), color("overlay_bg"))
        box = QRectF(self.rect()).adjusted(14, 14, -14, -14)
        p.setBrush(color("overlay_fill"))
        pen = QPen(color("overlay_border"), 3, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawRoundedRect(box, 14, 14)
        f = QFont(self.font())
        f.setPointSizeF(f.pointSizeF() * 1.8)
        f.setBold(True)
        p.setFont(f)
        p.setPen(color("overlay_text"))
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


def _close_failed(exc: BaseException) -> None:
    log.debug("closing the previous engine failed: %r", exc)


class MainWindow(QMainWindow):
    """The application window.

    Args:
        ctx: paths, settings, start-up notices.
        workspace: the services (``notebooklm_local.workspace``; app.py opens it); None: one over ``ctx``.
            The window loads its plugins, and closes it when it closes.

    ``settled`` is emitted once, when the start-up work in the background is over (the backend probed,
    the library loaded, the index opened; each whether it worked or not): what is alive then lives for
    the session (``ui.application.freeze_heap_when_settled``).
    """

    settled = Signal()

    def __init__(self, ctx: AppContext, workspace: Workspace | None = None) -> None:
        super().__init__()
        guard_none_refcount()  # PySide6 6.12.0 on CPython 3.11 (see ui.errors): the sources list paints a lot
        self.ctx = ctx
        if workspace is None:
            from notebooklm_local.workspace import Workspace

            workspace = Workspace(ctx.paths, ctx.settings, safe_mode=ctx.safe_mode)
        self.workspace = workspace
        # numpy (under llama_cpp and chromadb) is not safe to import from two threads at once: the workers
        # import those through services.native_imports (one lock), not the GUI thread (cold start).
        # Worker threads run pure-Python work (pypdf, chunking, JSON) next to the GUI thread. CPython hands
        # the GIL over only every "switch interval" (5 ms), and the GUI thread needs it many times per
        # event; 1 ms keeps the window responsive while a PDF is read (measured: bench_ui_heartbeat).
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self.lanes = Lanes()
        # the plain name: X11 window titles get " — <display name>" appended unless they end with it
        # ("NotebookLM Local 0.1.0 — NotebookLM Local" before); the version is in Help ▸ About
        self.setWindowTitle(APP_DISPLAY_NAME)
        self.setObjectName("main-window")
        self.resize(1280, 800)
        install_context_menu_key(self)  # Shift+F10 opens context menus as the Menu key does

        self.library: Library | None = None
        self.ingest = IngestController(self.lanes, self._open_library_service, self)
        self.sources_pane = SourcesPane(ingest=self.ingest)
        self.sources_pane.loaders_getter = lambda: self.plugins.registry.source_loaders.items()
        self.plugins = self._load_plugins()
        self.studio_pane = StudioPane(self.lanes, self._make_studio, settings=ctx.settings,
                                      tts_engines=self._tts_engines, library_getter=lambda: self.library,
                                      library_service=self.ingest.service)
        self.notes_pane = NotesPane(self.lanes, lambda: self.library, exporters=self._exporters)
        self.center = QTabWidget()
        self.center.setObjectName("center-tabs")
        self.center.setAccessibleName("Notebook")
        self.center.setDocumentMode(True)
        self.center.addTab(self.studio_pane, "Studio")
        self.center.addTab(self.notes_pane, "Notes")
        for pane, name in ((self.studio_pane, "studio-pane-title"), (self.notes_pane, "notes-pane-title")):
            title = pane.findChild(QLabel, name)
            if title is not None:
                title.hide()  # the tab says it
        self.chat_pane = ChatPanel(self.lanes, self._make_chat, library_getter=lambda: self.library)
        self.studio_pane.extract_tab.ask_requested.connect(self._ask_in_chat)
        self.chat_pane.set_mode(getattr(ctx.settings.chat, "mode", "auto"))
        self.chat_pane.mode_box.currentIndexChanged.connect(self._on_chat_mode_changed)
        self.chat_pane.citation_activated.connect(self._on_citation_activated)
        self.studio_pane.citation_activated.connect(self._on_citation_activated)
        self.chat_pane.note_saved.connect(self._on_note_saved)
        self.studio_pane.note_saved.connect(self._on_note_saved)
        self.chat_pane.answer_finished.connect(self._on_answer_finished)
        self.chat_pane.busy_changed.connect(self._on_generation_busy_changed)
        self.studio_pane.busy_changed.connect(self._on_generation_busy_changed)
        self._template_notices_shown: set[str] = set()
        self.sources_pane.selection_changed.connect(self._on_selection_changed)
        self.sources_pane.open_requested.connect(self._on_source_open_requested)
        self.sources_pane.create_notebook_requested.connect(self.new_notebook)
        self.sources_pane.notice_posted.connect(self._on_sources_notice_posted)
        self.ingest.activity_changed.connect(self._on_ingest_activity_changed)
        self.ingest.source_finished.connect(self._on_ingest_source_finished)
        self.ingest.notebook_deleted.connect(self._on_ingest_notebook_deleted)
        self.ingest.large_source.connect(self._on_large_source)
        self.ingest.disk_full.connect(self._on_disk_full)
        self.ingest.library_damaged.connect(self._on_library_damaged)
        self._large_questions: dict[str, QMessageBox] = {}
        self._close_confirmed = False  # closing during work was confirmed (confirm_close): do not ask again
        # asked before closing while work runs, with what runs (True: stop it and close); tests replace it
        self.confirm_close: Callable[[list[str]], bool] = self.ask_before_closing
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("main-splitter")
        for w in (self.sources_pane, self.center, self.chat_pane):
            self.splitter.addWidget(w)
        self.splitter.setCollapsible(2, True)
        self.splitter.setSizes([330, 530, 420])
        self.setCentralWidget(self.splitter)

        self.model_label = QLabel(f"Model: {ctx.chat_model_name}")
        self.model_label.setObjectName("status-model")
        self.backend_label = QLabel("Backend: …")
        self.backend_label.setObjectName("status-backend")
        self.speed_label = QLabel("")
        self.speed_label.setObjectName("status-speed")
        self.speed_label.setAccessibleName("Speed of the last answer")
        self.statusBar().addPermanentWidget(self.speed_label)
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
        # the very first start (the welcome dialog shows): an empty library gets the sample notebook, as `init` makes
        self._first_start = should_show_first_run(ctx.settings) and not os.environ.get("NOTEBOOKLM_LOCAL_NO_FIRST_RUN")
        self._starting = {"backend", "library", "index"}  # start-up work not yet over (``settled``)
        self.ingest.index_opened.connect(lambda _ok: self._start_step_done("index"))
        self._probe_backend()
        self._load_library()
        if self._first_start:
            QTimer.singleShot(0, self.show_first_run)

    def _action(self, text: str, slot: Any, name: str, shortcut: QKeySequence | str | None = None,
                tip: str = "") -> QAction:
        a = QAction(text, self)
        a.setObjectName(name)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setToolTip(tip)
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        return a

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.setObjectName("file-menu")
        self.export_notes_action = self._action(
            "&Export notes…", self.export_notes, "export-notes", "Ctrl+Shift+E",
            "Export this notebook's notes to Markdown (citations as footnotes)")
        file_menu.addAction(self.export_notes_action)
        file_menu.addSeparator()
        self.settings_action = self._action("&Settings…", self.show_settings, "settings",
                                            QKeySequence.StandardKey.Preferences, "Models, performance, audio, data")
        if self.settings_action.shortcut().isEmpty():
            self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        quit_action = self._action("&Quit", self.close, "quit", QKeySequence.StandardKey.Quit)
        file_menu.addAction(quit_action)

        view_menu = self.menuBar().addMenu("&View")
        view_menu.setObjectName("view-menu")
        self._view_menu = view_menu
        self.toggle_chat_action = QAction("&Chat panel", self, checkable=True, checked=True)
        self.toggle_chat_action.setObjectName("toggle-chat")
        self.toggle_chat_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.toggle_chat_action.toggled.connect(self.chat_pane.setVisible)
        view_menu.addAction(self.toggle_chat_action)
        view_menu.addSeparator()
        self.show_studio_action = self._action("&Studio", lambda: self.show_center(self.studio_pane),
                                               "show-studio", "Ctrl+1")
        self.show_notes_action = self._action("&Notes", lambda: self.show_center(self.notes_pane),
                                              "show-notes", "Ctrl+2")
        self.focus_chat_action = self._action("Ask a &question", self.focus_chat, "focus-chat", "Ctrl+K",
                                              "Move to the chat input")
        for a in (self.show_studio_action, self.show_notes_action, self.focus_chat_action):
            view_menu.addAction(a)

        tools_menu = self.menuBar().addMenu("&Tools")
        tools_menu.setObjectName("tools-menu")
        self._tools_menu = tools_menu
        self.templates_action = self._action("Prompt &templates…", self.show_templates, "prompt-templates",
                                             "Ctrl+Shift+T", "Edit, validate, preview and reset prompt templates")
        self.plugins_action = self._action("&Plugins…", self.show_plugins, "plugins", None,
                                           "Bundled and your own plugins: state, errors, enable or disable")
        self.health_action = self._action("Citation &health…", self.show_health, "citation-health", None,
                                          "How well this notebook's answers and studio outputs are supported, "
                                          "flags by kind, citations that no longer match their source")
        tools_menu.addAction(self.templates_action)
        tools_menu.addAction(self.plugins_action)
        tools_menu.addAction(self.health_action)

        help_menu = self.menuBar().addMenu("&Help")
        self._help_menu = help_menu
        welcome = self._action("&Getting started…", self.show_first_run, "getting-started", None,
                               "About the built-in demo model and how to get a real one")
        logs = self._action("Open the &logs folder", self._open_logs, "open-logs")
        about = self._action("&About", self._on_about_triggered, "about")
        for a in (welcome, logs, about):
            help_menu.addAction(a)

    # -- plugins, models, studio services -------------------------------------------------------

    def _load_plugins(self) -> Any:
        """Load the built-ins and the enabled plugins (none in safe mode); failures are contained."""
        self._plugin_notices = _PluginNotices(self)
        self._plugin_notices.posted.connect(self._on_plugin_notice)
        self.workspace.notify = self._plugin_notices.posted.emit
        manager = self.workspace.load_plugins()
        failed = manager.errors()
        if failed:
            names = ", ".join(i.name for i in failed[:3]) + (" …" if len(failed) > 3 else "")
            self.ctx.notices.append(f"{len(failed)} plugin(s) could not be loaded: {names}. See Tools ▸ Plugins.")
        if manager.safe_mode:
            self.ctx.notices.append("Safe mode: no plugins were loaded.")
        return manager

    @Slot(str, str, str)
    def _on_plugin_notice(self, plugin_id: str, level: str, message: str) -> None:
        self.statusBar().showMessage(f"{plugin_id}: {message}", 10000)

    def _make_chat(self) -> object:
        """The workspace's chat service (called once, on the llm lane: opening the index and model is slow)."""
        return self.workspace.chat()

    def _make_studio(self) -> object:
        """The workspace's studio service, over the chat's library and model (on the llm lane)."""
        return self.workspace.studio()

    def _exporters(self) -> list[Any]:
        return self.workspace.exporters()

    def _tts_engines(self) -> list[Any]:
        return self.workspace.tts_engines()

    def _tts_engine_states(self) -> list[tuple[str, str | None]]:
        """For the Settings dialog (called on the io lane): each engine and why it is unavailable, if it is."""
        out = []
        for e in self._tts_engines():
            try:
                out.append((e.name, e.unavailable_reason()))
            except Exception as exc:  # noqa: BLE001 - a plugin engine that fails to answer is unavailable
                out.append((getattr(e, "name", "?"), str(exc)))
        return out

    def _release_models(self) -> None:
        """Drop the chat and studio services so the next use loads the model with the new settings."""
        engine = self.workspace.release_engine(close=False)
        self.chat_pane.chat = None
        self.studio_pane.reset_studio()
        if engine is None:
            return
        # after any running answer (one llm thread); a failure to close is only logged, as before
        BackgroundOp(None, engine.close, lanes=self.lanes, lane="llm", on_failure=_close_failed).run()

    # -- dialogs ----------------------------------------------------------------------------------

    @Slot()
    def show_settings(self, initial_tab: str = "model") -> None:
        from notebooklm_local.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.ctx.paths, self.ctx.settings, self.lanes, self,
                                tts_engines=self._tts_engine_states, initial_tab=initial_tab or "model")
        dialog.settings_changed.connect(lambda _s: self._on_settings_changed(dialog.reload_needed))
        self.settings_dialog = dialog
        dialog.open()

    def _on_settings_changed(self, reload_needed: list[str]) -> None:
        from notebooklm_local.ui.theme import apply_theme

        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, self.ctx.settings.ui.theme)
        self.model_label.setText(f"Model: {self.ctx.chat_model_name}")
        self.studio_pane.settings = self.ctx.settings
        if reload_needed:
            busy = self.chat_pane.busy or self.studio_pane.busy
            self._release_models()
            if "embedding model" in reload_needed:  # index with the new model now, not at the next question
                self.workspace.release_index()
                self.ingest.reembed_stale(reopen=True)
            self.statusBar().showMessage(
                "Settings saved. " + ("The model reloads after the current job: " if busy else
                                      "The model reloads at the next question: ") + "; ".join(reload_needed), 10000)
        else:
            self.statusBar().showMessage("Settings saved.", 5000)

    @Slot(str)
    def _ask_in_chat(self, question: str) -> None:
        """Put a question (e.g. about a mind-map node) into the chat panel, ready to send."""
        self.toggle_chat_action.setChecked(True)
        self.chat_pane.input.setPlainText(question)
        self.chat_pane.input.setFocus()

    @Slot(int)
    def _on_chat_mode_changed(self, _index: int) -> None:
        """Remember the chat panel's answer mode (``chat.mode`` in settings, as ``config set`` would)."""
        from notebooklm_local.core.settings import save_settings

        self.ctx.settings.chat.mode = self.chat_pane.mode
        try:
            save_settings(self.ctx.settings, self.ctx.paths.settings_file)
        except OSError as e:
            self.statusBar().showMessage(f"The answer mode could not be saved: {e}", 8000)

    @Slot()
    def show_health(self) -> None:
        """The current notebook's citation health (``notebooklm-local notebook health``), read on the store lane."""
        nb_id, library = self.current_notebook_id(), self.library
        if nb_id is None or library is None:
            self.statusBar().showMessage(NO_NOTEBOOK, 8000)
            return
        self._health_notebook = self.notebook_box.currentText()

        def run() -> Any:
            from notebooklm_local.services.health import notebook_health

            return notebook_health(library, nb_id).to_json()

        BackgroundOp(self, run, lanes=self.lanes, lane="store", on_success=self._on_health_ready,
                     on_failure=self._on_health_failed, label="Citation health").run()

    @Slot(object)
    def _on_health_ready(self, report: object) -> None:
        from notebooklm_local.ui.provenance import InfoDialog, health_html

        body = health_html(report, self._health_notebook)  # type: ignore[arg-type]
        self.health_dialog = InfoDialog("Citation health", body, self, name="health")
        self.health_dialog.open()

    @Slot(object)
    def _on_health_failed(self, exc: object) -> None:
        if isinstance(exc, BaseException):
            show_exception(self, "Citation health", exc)

    @Slot()
    def show_first_run(self) -> None:
        from notebooklm_local.ui.first_run import FirstRunDialog

        dialog = FirstRunDialog(self.ctx.paths, self.ctx.settings, self.lanes, self,
                                tts_engines=self._tts_engine_states)
        dialog.settings_changed.connect(lambda _s: self._on_settings_changed(["chat model"]))
        self.first_run_dialog = dialog
        dialog.open()

    @Slot()
    def show_templates(self) -> None:
        from notebooklm_local.ui.template_editor import TemplateEditorDialog

        dialog = TemplateEditorDialog(self.workspace.template_store(), self._preview_values,
                                      self, lanes=self.lanes)
        dialog.template_changed.connect(self._on_template_changed)
        self.template_editor = dialog
        dialog.open()

    def _preview_values(self) -> dict[str, Any]:
        """Preview values from the current selection: the last answer's question and passages."""
        result = self.chat_pane.last_result
        if result is None:
            return {}
        values: dict[str, Any] = {}
        question = getattr(result, "question", None)
        if question:
            values["question"] = question
        passages = getattr(result, "passages", None)
        if passages:
            values["passages"] = passages
        return values

    @Slot(str)
    def _on_template_changed(self, name: str) -> None:
        # templates are read from disk at each use: the next generation uses the saved (or reset) one
        try:
            edited = self.workspace.template_store().get(name).origin == "user"
        except Exception:  # noqa: BLE001 - the message only; the editor reported any problem already
            edited = True
        what = "saved" if edited else "reset to the default"
        self.statusBar().showMessage(f"Template “{name}” {what}; the next generation uses it.", 6000)

    @Slot()
    def show_plugins(self) -> None:
        from notebooklm_local.ui.plugins_dialog import PluginsDialog

        dialog = PluginsDialog(self.plugins, self)
        for info in self.plugins.errors()[:1]:
            dialog.select(info.id)  # the first problem, as the start-up notice said
        dialog.plugins_changed.connect(self._on_plugins_changed)
        self.plugins_dialog = dialog
        dialog.open()

    @Slot()
    def _on_plugins_changed(self) -> None:
        self.statusBar().showMessage("Plugins changed. New sources, exports and voices use them now.", 6000)

    @Slot()
    def export_notes(self) -> None:
        self.center.setCurrentWidget(self.notes_pane)
        self.notes_pane.export("all", single_file=False)

    @Slot()
    def show_center(self, pane: QWidget) -> None:
        """Ctrl+1 / Ctrl+2: show the studio or the notes and move the keyboard there (typing went on into the
        chat input, a dozen Tabs away from what was just shown)."""
        self.center.setCurrentWidget(pane)
        focus_first_in(pane)

    def focus_chat(self) -> None:
        if not self.chat_pane.isVisible():
            self.toggle_chat_action.setChecked(True)
        self.chat_pane.input.setFocus()

    @Slot()
    def _open_logs(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.ctx.paths.logs)))

    # -- notes, speed -----------------------------------------------------------------------------

    @Slot(str)
    def _on_note_saved(self, note_id: str) -> None:
        self.notes_pane.show_note(note_id)  # listed and opened: "Export this note" works at once
        self.statusBar().showMessage("Saved to Notes (Ctrl+2 shows them).", 6000)

    @Slot(object)
    def _on_answer_finished(self, result: object) -> None:
        self._show_template_notices()
        g = getattr(result, "generation", None)
        if g is not None and getattr(g, "completion_tokens", 0):
            self.speed_label.setText(f"Last answer: {g.tokens_per_s:.1f} tok/s")
        eng = getattr(result, "engine", None)
        backend = getattr(eng, "backend", "")
        if backend:
            layers = int(getattr(eng, "gpu_layers", 0) or 0)
            gpu = f" · {layers} layers on the GPU" if layers > 0 else ""
            self.backend_label.setText(f"Backend: {backend}{gpu}")

    @Slot(bool)
    def _on_generation_busy_changed(self, busy: bool) -> None:
        if not busy:
            self._show_template_notices()

    def _show_template_notices(self) -> None:
        """A user template that failed on real values was replaced by the default (``TemplateStore.notices``):
        say so in the chat panel and the status bar, once per notice (the answer itself went through)."""
        new: list[str] = []
        for service in (getattr(self.chat_pane, "chat", None), getattr(self.studio_pane, "studio", None)):
            for note in list(getattr(getattr(service, "templates", None), "notices", None) or []):
                if note not in self._template_notices_shown:
                    self._template_notices_shown.add(note)
                    new.append(note)
        if not new:
            return
        text = " ".join(new) + " Fix it in Tools ▸ Prompt templates (or reset it)."
        self.chat_pane.status.setText(f"⚠ {text}")
        self.chat_pane.status.setToolTip(text)
        self.statusBar().showMessage(text, 30000)
        self.template_notice = text

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
        from notebooklm_local.ui.bundle_actions import BundleActions

        self.bundles = BundleActions(self)  # Export notebook… / Import notebook… (bundles)
        from notebooklm_local.ui.watch_folders import FolderWatch

        self.folder_watch = FolderWatch(self)  # Watch a folder… / Stop watching…, and the automatic sync
        self.new_notebook_button = QToolButton()
        self.new_notebook_button.setObjectName("new-notebook-button")
        self.new_notebook_button.setDefaultAction(self.new_notebook_action)
        self.new_notebook_button.setAccessibleName("New notebook")
        self.notebook_menu_button = QToolButton()
        self.notebook_menu_button.setObjectName("notebook-menu-button")
        self.notebook_menu_button.setText("⋯")
        self.notebook_menu_button.setToolTip("Rename, delete, export or import notebooks")
        self.notebook_menu_button.setAccessibleName("Notebook actions")
        self.notebook_menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.notebook_menu_button)
        menu.addAction(self.rename_notebook_action)
        menu.addAction(self.delete_notebook_action)
        menu.addSeparator()
        menu.addAction(self.bundles.export_action)
        menu.addAction(self.bundles.import_action)
        menu.addSeparator()
        menu.addAction(self.folder_watch.watch_action)
        menu.addAction(self.folder_watch.unwatch_action)
        self.notebook_menu_button.setMenu(menu)
        toolbar.addWidget(self.new_notebook_button)  # type: ignore[attr-defined]
        toolbar.addWidget(self.notebook_menu_button)  # type: ignore[attr-defined]
        self._update_notebook_actions()

    def _build_sources_menus(self) -> None:
        nb_menu = self.menuBar().addMenu("&Notebook")
        nb_menu.setObjectName("notebook-menu")
        for a in (self.new_notebook_action, self.rename_notebook_action, self.delete_notebook_action):
            nb_menu.addAction(a)
        nb_menu.addSeparator()
        nb_menu.addAction(self.bundles.export_action)
        nb_menu.addAction(self.bundles.import_action)
        nb_menu.addSeparator()
        nb_menu.addAction(self.folder_watch.watch_action)
        nb_menu.addAction(self.folder_watch.unwatch_action)
        src_menu = self.menuBar().addMenu("&Sources")
        src_menu.setObjectName("sources-menu")
        pane = self.sources_pane
        for a in pane.add_actions:
            src_menu.addAction(a)
        src_menu.addSeparator()
        for a in (pane.select_all_action, pane.select_none_action, pane.resume_action):
            src_menu.addAction(a)
        # File, Notebook, Sources, View, Tools, Help
        for menu in (self._view_menu, self._tools_menu, self._help_menu):
            self.menuBar().removeAction(menu.menuAction())
            self.menuBar().addAction(menu.menuAction())

    def _update_notebook_actions(self) -> None:
        has = self.notebook_box.count() > 0 and self.library is not None
        self.rename_notebook_action.setEnabled(has)
        self.delete_notebook_action.setEnabled(has)
        self.notebook_menu_button.setEnabled(has)
        self.new_notebook_action.setEnabled(self.library is not None)
        self.bundles.update(self.library is not None, has)
        self.folder_watch.update(has)

    def current_notebook_id(self) -> str | None:
        nb_id = self.notebook_box.currentData()
        return str(nb_id) if nb_id else None

    def reload_notebooks(self, select: str | None = None) -> None:
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
        self.studio_pane.set_notebook(None, [])
        self.notes_pane.set_notebook(None, "")
        self.setWindowTitle(APP_DISPLAY_NAME)
        self.folder_watch.notebook_opened(None)

    @Slot()
    def new_notebook(self) -> None:
        if self.library is None:
            return
        name, ok = ask_text(self, "New notebook", "Name of the new notebook:")
        if not ok or not name.strip():
            return
        try:
            nb = self.library.create_notebook(name)
        except NotebookError as e:
            QMessageBox.warning(self, "New notebook", str(e))
            return
        self.reload_notebooks(select=nb.id)
        self.statusBar().showMessage(f"Created notebook “{nb.name}”. Add sources with + Add or by dropping them here.",
                                     8000)

    @Slot()
    def rename_notebook(self) -> None:
        nb_id = self.current_notebook_id()
        if self.library is None or nb_id is None:
            return
        old = self.notebook_box.currentText()
        name, ok = ask_text(self, "Rename notebook", "New name:", text=old)
        if not ok or not name.strip() or name.strip() == old:
            return
        try:
            nb = self.library.rename_notebook(nb_id, name)
        except NotebookError as e:
            QMessageBox.warning(self, "Rename notebook", str(e))
            return
        self.reload_notebooks(select=nb.id)

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
        self.reload_notebooks(None if self.current_notebook_id() == notebook_id else self.current_notebook_id())

    def _open_library_service(self) -> object:
        """The workspace's library service, for adding and indexing (called on a lane: opening the index is slow)."""
        return self.workspace.library_service()

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
            parts = [f"{o[k]} {k}" for k in ("ready", "failed", "duplicate", "stopped", "cancelled") if o.get(k)]
            self.statusBar().showMessage("Indexing finished: " + ", ".join(parts) + ".", 10000)
        self._batch_outcomes = {}

    @Slot(str, str, str)
    def _on_ingest_source_finished(self, source_id: str, outcome: str, _message: str) -> None:
        self._batch_outcomes[outcome] = self._batch_outcomes.get(outcome, 0) + 1
        box = self._large_questions.pop(source_id, None)
        if box is not None:  # stopped (Cancel in the sources list) while the size question was open
            box.close()

    # -- long embedding, full disk, damaged library: asked or told in the window ---------------------------

    @Slot(object)
    def _on_large_source(self, question: object) -> None:
        """Embedding a source will take more than a few minutes: continue, keyword search only, or cancel.

        Window-modal and opened with ``open()`` (never ``exec()``): the GUI keeps running while the store
        lane waits for the answer; Cancel in the sources list (or closing the window) also ends the wait.
        """
        assert isinstance(question, LargeSource)
        sid = question.source_id
        box = QMessageBox(self)
        box.setObjectName("large-source-question")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Large source")
        box.setText(question.message)
        box.setInformativeText("Index it for meaning search now, keep keyword search only for now (re-index it "
                               "later to add meaning search), or " + ("cancel adding it?" if question.adding
                                                                    else "stop it (resume finishes it later)?"))
        go = box.addButton("Continue", QMessageBox.ButtonRole.AcceptRole)
        go.setObjectName("large-continue")
        lexical = box.addButton("Keyword search only", QMessageBox.ButtonRole.ActionRole)
        lexical.setObjectName("large-lexical")
        stop = box.addButton("Cancel" if question.adding else "Stop", QMessageBox.ButtonRole.RejectRole)
        stop.setObjectName("large-cancel")
        box.setDefaultButton(go)
        box.setEscapeButton(go)  # closing the question never removes a source
        answers = {go: "continue", lexical: "lexical", stop: "cancel"}

        def answered(button: object) -> None:
            if self._large_questions.pop(sid, None) is not None:
                self.ingest.answer_large(sid, answers.get(button, "continue"))  # type: ignore[call-overload]

        box.buttonClicked.connect(answered)
        box.finished.connect(lambda _r: answered(box.clickedButton()))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._large_questions[sid] = box
        self.large_question = box
        box.open()

    @Slot(str)
    def _on_disk_full(self, message: str) -> None:
        self.statusBar().showMessage("The disk is full: indexing stopped. Nothing was lost.", 30000)
        self.error_dialog = show_error(self, "The disk is full", message)

    @Slot(str)
    def _on_library_damaged(self, message: str) -> None:
        self.statusBar().showMessage("The library database is damaged: see the message.", 30000)
        self.error_dialog = show_error(self, "The library is damaged", message)

    @Slot(str)
    def _on_sources_notice_posted(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)

    @Slot(str)
    def _on_source_open_requested(self, source_id: str) -> None:
        self._open_viewer(source_id)

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

    def _start_step_done(self, step: str) -> None:
        if step in self._starting:
            self._starting.discard(step)
            if not self._starting:
                self.settled.emit()

    @property
    def is_settled(self) -> bool:
        """Whether ``settled`` was emitted (the start-up work in the background is over)."""
        return not self._starting

    def _probe_backend(self) -> None:
        from notebooklm_local.services.llama_runtime import build_info

        BackgroundOp(self, build_info, lanes=self.lanes, lane="io", on_success=self._on_backend_probed,
                     on_failure=self._on_backend_failed, label="Backend").run()

    def _load_library(self) -> None:
        workspace = self.workspace

        def load() -> tuple[Library, list]:
            lib = workspace.library()  # the one library of the workspace (its services use it too)
            return lib, lib.notebooks()

        BackgroundOp(self, load, lanes=self.lanes, lane="store", on_success=self._on_library_loaded,
                     on_failure=self._on_library_failed, label="Library").run()

    @Slot(object)
    def _on_library_loaded(self, result: object) -> None:
        if self.workspace.closed:  # the window closed while the library opened (its lanes drained since)
            return
        lib, notebooks = result  # type: ignore[misc]
        self.library = lib
        self._start_step_done("library")
        if not notebooks and self._first_start:
            self._create_sample_notebook()
        self.reload_notebooks()
        # Open the index now, while the window is idle (Chroma's client holds the GIL for ~0.1 s when it
        # opens, which would otherwise be felt as a hitch at the first drop), and re-embed the sources that
        # have no vectors of the current embedding model (a data dir made with an earlier default).
        self.ingest.reembed_stale()

    def _create_sample_notebook(self) -> None:
        """Create the sample notebook (the shipped sources, indexed in the background like any drop)."""
        from notebooklm_local.core.paths import resources_dir
        from notebooklm_local.extensions.sample import SAMPLE_NOTEBOOK

        assert self.library is not None
        try:
            nb = self.library.create_notebook(SAMPLE_NOTEBOOK)
        except NotebookError as e:
            log.warning("could not create the sample notebook: %s", e)
            return
        folder = resources_dir() / "sample"
        self.ingest.add(nb.id, [str(p) for p in sorted(folder.iterdir()) if p.is_file()])
        self.statusBar().showMessage("Created the Sample notebook: its sources are being indexed. Ask it something "
                                     "in the chat, or try the Studio's Extract tab.", 10000)

    @Slot(object)
    def _on_library_failed(self, exc: object) -> None:
        from notebooklm_local.core.library_care import DiskFullError, LibraryDamagedError

        log.warning("could not open the library: %s", exc)
        self._start_step_done("library")
        self._start_step_done("index")  # never opened without a library
        self.sources_pane.show_empty(f"The library could not be opened: {exc}")
        if isinstance(exc, DiskFullError):
            self._on_disk_full(str(exc))
        elif isinstance(exc, LibraryDamagedError):
            self._on_library_damaged(str(exc))
        elif isinstance(exc, BaseException):
            self.statusBar().showMessage("The library could not be opened.", 30000)
            self.error_dialog = show_exception(self, "The library could not be opened", exc)

    @Slot(int)
    def _on_notebook_box_changed(self, index: int) -> None:
        nb_id = self.notebook_box.itemData(index)
        if self.library is not None and nb_id:
            sources = self.library.sources(nb_id)
            self.sources_pane.set_sources(self.library, sources, nb_id)
            selected = [s.id for s in sources if s.selected]
            self.chat_pane.set_notebook(nb_id, selected)
            self.studio_pane.set_notebook(nb_id, selected)
            self.notes_pane.set_notebook(nb_id, self.notebook_box.itemText(index))
            self.setWindowTitle(f"{self.notebook_box.itemText(index)} — {APP_DISPLAY_NAME}")
            self.folder_watch.notebook_opened(nb_id)  # follows and syncs its watched folders

    @Slot(list)
    def _on_selection_changed(self, ids: list) -> None:
        self.chat_pane.set_sources(list(ids))
        self.studio_pane.set_sources(list(ids))

    @Slot(object)
    def _on_citation_activated(self, citation: object) -> None:
        """Open the cited source at the passage: the PDF page, the transcript time, or the text span."""
        self._open_viewer(citation.source_id, citation)  # type: ignore[attr-defined]

    def _open_viewer(self, source_id: str, citation: object = None) -> None:
        if self.library is None:
            return
        try:
            viewer = SourceViewer.for_source(self.library, source_id, citation, self, data_dir=self.ctx.paths.data)
        except NotebookError:
            self.statusBar().showMessage(
                "This source is not available: it was removed, or it has not been read yet (see its state).", 8000)
            return
        except Exception as e:  # noqa: BLE001 - a damaged source: say so, never crash
            show_exception(self, "Open source", e)
            return
        viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.source_viewer = viewer
        viewer.show()

    @Slot(object)
    def _on_backend_probed(self, info: object) -> None:
        backend = getattr(info, "backend", "?")
        self.backend_label.setText(f"Backend: {backend}")
        self.backend_label.setToolTip(getattr(info, "reason", ""))
        self._start_step_done("backend")

    @Slot(object)
    def _on_backend_failed(self, exc: object) -> None:
        self.backend_label.setText("Backend: unavailable")
        self.backend_label.setToolTip(str(exc))
        self._start_step_done("backend")

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
        self._clamp_to_screen()

    def _clamp_to_screen(self) -> None:
        """Keep the window on its screen: a saved size larger than the screen (saved on a bigger monitor, or
        after a layout pushed the window wider) is cut to the available area, and moved back onto it."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        # the window manager's frame (title bar, borders) is on the screen too: before the window is shown
        # it is not known yet, so room for a title bar is kept (the default 1280x800 on a 1280x800 screen
        # put the status bar below the screen's edge)
        frame = self.frameGeometry().size() - self.size()
        if frame.height() <= 0:
            frame = QSize(0, FRAME_ALLOWANCE)
        w = min(self.width(), area.width() - frame.width())
        h = min(self.height(), area.height() - frame.height())
        if (w, h) != (self.width(), self.height()):
            self.resize(w, h)  # never below the layout's minimum (Qt keeps that)
        floor = self.minimumSizeHint()  # (before the first show, the layout's minimum is not applied yet)
        outer_w = max(self.width(), floor.width()) + frame.width()
        outer_h = max(self.height(), floor.height()) + frame.height()
        x = min(max(self.x(), area.left()), max(area.left(), area.right() - outer_w + 1))
        y = min(max(self.y(), area.top()), max(area.top(), area.bottom() - outer_h + 1))
        if (x, y) != (self.x(), self.y()):
            self.move(x, y)

    def _save_state(self) -> None:
        qs = QSettings(str(self.ctx.paths.config / "window.ini"), QSettings.Format.IniFormat)
        qs.setValue("geometry", self.saveGeometry())
        qs.setValue("splitter", self.splitter.saveState())

    def running_work(self) -> list[str]:
        """What closing the window now would stop, one plain sentence each (empty: nothing is running)."""
        work: list[str] = []
        if self.chat_pane.busy:
            work.append("An answer is being written: it is discarded (not saved in the chat).")
        if self.ingest.busy:
            n = self.ingest.remaining
            what = f"{n} source{'s' if n != 1 else ''}" if n else "the sources being added"
            work.append(f"Indexing {what} stops: what is done is kept, and Resume in Sources finishes it "
                        "at the next start.")
        names: list[str] = []
        for job in list(getattr(self.studio_pane, "jobs", {}).values()):
            tab = getattr(job, "tab", None)
            if tab is None or tab is getattr(self.studio_pane, "history_tab", None) or job.slot != id(tab):
                continue  # reading the history, finding voices: nothing is lost
            i = self.studio_pane.tabs.indexOf(tab)
            names.append(self.studio_pane.tabs.tabText(i).replace("&", "") if i >= 0 else "Studio")
        if names:
            jobs = ", ".join(names)
            work.append(f"The studio job ({jobs}) stops: what it was making is not saved.")
        if self.bundles.busy:
            work.append(f"{self.bundles.busy} stops: an import is undone, an export leaves no file.")
        return work

    def ask_before_closing(self, work: list[str]) -> bool:
        """The "Close while working?" dialog, listing ``work`` (True: Stop and close; False: Keep working).
        The default of the ``confirm_close`` hook."""
        box = QMessageBox(QMessageBox.Icon.Question, "Close while working?",
                          "Closing now stops the work that is running.", parent=self)
        box.setObjectName("close-while-working")
        box.setInformativeText("\n".join(f"\u2022 {w}" for w in work))
        box.setStyleSheet("QLabel#qt_msgbox_label, QLabel#qt_msgbox_informativelabel { min-width: 420px; }")  # the
        # window manager shortened the title of the narrow default box ("Close while wor…")
        stop = box.addButton("Stop and close", QMessageBox.ButtonRole.AcceptRole)
        stop.setObjectName("close-stop")
        keep = box.addButton("Keep working", QMessageBox.ButtonRole.RejectRole)
        keep.setObjectName("close-keep")
        box.setDefaultButton(stop)
        box.setEscapeButton(keep)
        box.exec()
        return box.clickedButton() is stop

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self._close_confirmed:
            work = self.running_work()
            if work and not self.confirm_close(work):
                event.ignore()  # the work goes on
                return
            self._close_confirmed = True  # a second close event (quit after close) asks nothing
        self._save_state()
        self.notes_pane.save_pending()
        self.chat_pane.stop(discard=True)  # a cut-off answer is not stored (the dialog said so)
        self.studio_pane.stop()
        self.ingest.shutdown()
        drained = self.lanes.shutdown(3000)
        if drained:
            self.workspace.close()  # the engine and the one library (the ingest's, the chat's and the panes')
        super().closeEvent(event)
