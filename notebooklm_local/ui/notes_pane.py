"""The notes pane: a notebook's notes (filter by tag, search), a Markdown editor with a live preview, export.

Notes live in the library database (``core.notes.NoteStore``); every read and write runs on the ``store``
lane, file exports on the ``io`` lane. The preview is the note as it would be exported
(``core.note_export.render_markdown``: citations become footnotes), converted with raw HTML switched off
and shown in a browser that loads nothing (``ui.rich_text``): a note, a source quote or a model's output
cannot run script or fetch a remote image. Edits are saved automatically a moment after typing stops,
and at once before another note, notebook or export is taken up, so nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFontDatabase, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.library import Library
from notebooklm_local.core.note_export import ExportExists, export_notes, render_markdown, safe_filename
from notebooklm_local.core.notes import Note, NoteStore
from notebooklm_local.ui.errors import NO_NOTEBOOK, guard_none_refcount, show_exception
from notebooklm_local.ui.ops import BackgroundOp
from notebooklm_local.ui.rich_text import SafeTextBrowser, markdown_html, strip_front_matter
from notebooklm_local.ui.theme import css
from notebooklm_local.ui.workers import Lanes

__all__ = ["NotesPane", "note_preview_html"]

log = logging.getLogger(__name__)

PREVIEW_MS = 200  # preview debounce
AUTOSAVE_MS = 1000  # autosave after typing stops
SEARCH_MS = 250


def note_preview_html(note: Note, notebook_name: str) -> str:
    """A note as the preview shows it: the exported Markdown (footnote citations), safely converted."""
    return markdown_html(strip_front_matter(render_markdown(note, notebook_name=notebook_name)))


def _tags_text(tags: Sequence[str]) -> str:
    return ", ".join(tags)


def _parse_tags(text: str) -> list[str]:
    return [t for t in (p.strip() for p in text.split(",")) if t]


class NotesPane(QWidget):
    """The current notebook's notes.

    Args:
        lanes: the app's lanes (store for the database, io for exports).
        library_getter: returns the open Library, the workspace's one (None when none is open).

    Signals:
        note_saved(str): a note was created or saved (its id).
        note_deleted(str): a note was deleted (its id).
    """

    note_saved = Signal(str)
    note_deleted = Signal(str)

    def __init__(self, lanes: Lanes, library_getter: Callable[[], Library | None], parent: QWidget | None = None, *,
                 exporters: Callable[[], Sequence[Any]] | None = None) -> None:
        guard_none_refcount()
        super().__init__(parent)
        self.setObjectName("notes-pane")
        self.setAccessibleName("Notes")
        self.lanes = lanes
        self.library_getter = library_getter
        self.exporters = exporters or (lambda: [])  # plugin exporters (e.g. an Obsidian vault), contained
        self.notebook_id: str | None = None
        self.notebook_name = ""
        self.notes: list[Note] = []
        self.current: Note | None = None
        self.dirty = False
        self._loading = False
        self._select_after_refresh: str | None = None
        self._focus_title: str | None = None  # a new note: its title is selected for typing
        self._running = 0  # store/io jobs not finished yet
        self.previews = 0  # preview renders (tests check the debounce)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        title = QLabel("<b>Notes</b>")
        title.setObjectName("notes-pane-title")
        layout.addWidget(title)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("notes-splitter")
        layout.addWidget(split, 1)

        # -- left: filters, list, actions
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("notes-search")
        self.search_edit.setPlaceholderText("Search notes…")
        self.search_edit.setAccessibleName("Search notes")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self._on_search_changed)
        lv.addWidget(self.search_edit)
        self.tag_box = QComboBox()
        self.tag_box.setObjectName("notes-tag-filter")
        self.tag_box.setAccessibleName("Filter by tag")
        self.tag_box.addItem("All tags", None)
        self.tag_box.activated.connect(self._on_tag_chosen)
        lv.addWidget(self.tag_box)
        self.list = QListWidget()
        self.list.setObjectName("notes-list")
        self.list.setAccessibleName("Notes")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setWordWrap(True)
        self.list.currentItemChanged.connect(self._on_current_changed)
        lv.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.new_button = QPushButton("New")
        self.new_button.setObjectName("notes-new")
        self.new_button.setAccessibleName("New note")
        self.new_button.clicked.connect(self.new_note)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("notes-delete")
        self.delete_button.setAccessibleName("Delete the note")
        self.delete_button.clicked.connect(self.delete_note)
        self.export_button = QToolButton()
        self.export_button.setObjectName("notes-export")
        self.export_button.setText("Export")
        self.export_button.setAccessibleName("Export notes")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        self.export_actions = {
            ("current", True): menu.addAction("This note to a Markdown file…"),
            ("selected", False): menu.addAction("Selected notes to a folder…"),
            ("selected", True): menu.addAction("Selected notes to one Markdown file…"),
            ("all", False): menu.addAction("All notes to a folder…"),
            ("all", True): menu.addAction("All notes to one Markdown file…"),
        }
        for (scope, single), action in self.export_actions.items():
            action.setData((scope, single))
        self._plugin_export_actions: list[Any] = []
        menu.aboutToShow.connect(self._add_plugin_exporters)
        menu.triggered.connect(self._on_export_action)
        self.export_button.setMenu(menu)
        for b in (self.new_button, self.delete_button, self.export_button):
            row.addWidget(b)
        row.addStretch(1)
        lv.addLayout(row)
        split.addWidget(left)

        # -- right: title, tags, editor | preview
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        self.title_edit = QLineEdit()
        self.title_edit.setObjectName("note-title")
        self.title_edit.setAccessibleName("Title")
        self.title_edit.setPlaceholderText("Title (empty: the first line of the text)")
        self.title_edit.textEdited.connect(self._on_edited)
        fields = QFormLayout()
        fields.setContentsMargins(0, 0, 0, 0)
        fields.addRow("Title", self.title_edit)
        self.tags_edit = QLineEdit()
        self.tags_edit.setObjectName("note-tags")
        self.tags_edit.setAccessibleName("Tags")
        self.tags_edit.setPlaceholderText("Tags, separated by commas")
        self.tags_edit.textEdited.connect(self._on_edited)
        fields.addRow("Tags", self.tags_edit)
        rv.addLayout(fields)
        body = QSplitter(Qt.Orientation.Horizontal)
        body.setObjectName("note-body")
        self.body_split = body
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("note-editor")
        self.editor.setAccessibleName("Note text (Markdown)")
        self.editor.setPlaceholderText("Write in Markdown. Citations [n] become footnotes in the preview and export.")
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.textChanged.connect(self._on_body_changed)
        self.preview = SafeTextBrowser()
        self.preview.setObjectName("note-preview")
        self.preview.setAccessibleName("Preview")
        body.addWidget(self.editor)
        body.addWidget(self.preview)
        rv.addWidget(body, 1)
        foot = QHBoxLayout()
        self.status = QLabel("")
        self.status.setObjectName("notes-status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        foot.addWidget(self.status, 1)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("note-save")
        self.save_button.setAccessibleName("Save the note")
        self.save_button.setToolTip("Notes are also saved automatically (Ctrl+S saves now)")
        self.save_button.clicked.connect(self.save)
        foot.addWidget(self.save_button)
        rv.addLayout(foot)
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        split.setSizes([280, 820])
        right.installEventFilter(self)  # editor and preview side by side only when there is room
        self._right = right
        QShortcut(QKeySequence.StandardKey.Save, self, activated=self.save)

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_MS)
        self._preview_timer.timeout.connect(self.render_preview)
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(AUTOSAVE_MS)
        self._autosave_timer.timeout.connect(self.save)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_MS)
        self._search_timer.timeout.connect(self.refresh)
        self._load_editor(None)
        self._update_buttons()

    # -- public ---------------------------------------------------------------------------------
    def set_notebook(self, notebook_id: str | None, notebook_name: str = "") -> None:
        """Show ``notebook_id``'s notes (None: none). Unsaved edits of the open note are saved first."""
        if notebook_id == self.notebook_id:
            self.notebook_name = notebook_name or self.notebook_name
            return
        self.save_pending()
        self.notebook_id, self.notebook_name = notebook_id, notebook_name
        self.notes = []
        self.list.clear()
        self._reset_tags()
        self.search_edit.blockSignals(True)
        self.search_edit.clear()
        self.search_edit.blockSignals(False)
        self._load_editor(None)
        self.status.clear()
        self.refresh()

    SIDE_BY_SIDE_MIN = 640  # px: narrower, the editor sits above the preview (each was ~150 px wide at 1280)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if obj is self._right and event.type() == QEvent.Type.Resize:
            want = (Qt.Orientation.Horizontal if self._right.width() >= self.SIDE_BY_SIDE_MIN
                    else Qt.Orientation.Vertical)
            if self.body_split.orientation() != want:
                self.body_split.setOrientation(want)
        return super().eventFilter(obj, event)

    @property
    def busy(self) -> bool:
        return self._running > 0

    @Slot()
    def refresh(self) -> None:
        """Read the notebook's notes again (with the tag filter and search applied)."""
        nb = self.notebook_id
        if not nb:
            self._update_buttons()
            return
        tag = self.tag_box.currentData()
        query = self.search_edit.text().strip() or None

        def run(store: NoteStore) -> Any:
            return nb, store.list(nb, tag=tag, query=query), store.tags(nb)

        self._submit(run, self._on_listed)

    @Slot(str)
    def show_note(self, note_id: str) -> None:
        """Select and open a note (filters are cleared when they hide it)."""
        if any(n.id == note_id for n in self.notes):
            self._select(note_id)
            return
        self._select_after_refresh = note_id
        self.search_edit.blockSignals(True)
        self.search_edit.clear()
        self.search_edit.blockSignals(False)
        self.tag_box.setCurrentIndex(0)
        self.refresh()

    def save_pending(self) -> None:
        """Save the open note now if it has unsaved edits (e.g. before the window closes)."""
        if self.dirty:
            self.save()

    # -- list -----------------------------------------------------------------------------------
    def _on_listed(self, result: tuple[str, list[Note], dict[str, int]]) -> None:
        nb, notes, tags = result
        if nb != self.notebook_id:
            return
        self.notes = notes
        want = self._select_after_refresh or (self.current.id if self.current else None)
        self._select_after_refresh = None
        self._set_tags(tags)
        self.list.blockSignals(True)
        self.list.clear()
        for n in notes:
            item = QListWidgetItem(self._item_text(n))
            item.setData(Qt.ItemDataRole.UserRole, n.id)
            item.setToolTip(n.title)
            self.list.addItem(item)
        self.list.blockSignals(False)
        if want and any(n.id == want for n in notes):
            self._select(want)
            if self._focus_title == want:
                self.title_edit.setFocus()
                self.title_edit.selectAll()
        elif self.current is not None and not self.dirty:
            self._load_editor(None)
        self._focus_title = None
        if not notes:
            filtered = self.tag_box.currentData() is not None or bool(self.search_edit.text().strip())
            self.status.setText("No note matches." if filtered else "No notes yet: press New, or save an answer "
                                "or a studio output as a note.")
        elif self.status.text().startswith(("No notes yet", "No note matches")):
            self.status.setText("")  # the list has notes now (e.g. one saved from the chat)
        self._update_buttons()

    @staticmethod
    def _item_text(n: Note) -> str:
        when = datetime.fromtimestamp(n.updated or n.created).strftime("%Y-%m-%d %H:%M")
        tags = " ".join(f"#{t}" for t in n.tags)
        return f"{n.title}\n{tags + '  ·  ' if tags else ''}{when}"

    def _reset_tags(self) -> None:
        self.tag_box.clear()
        self.tag_box.addItem("All tags", None)

    def _set_tags(self, tags: dict[str, int]) -> None:
        keep = self.tag_box.currentData()
        self.tag_box.blockSignals(True)
        self._reset_tags()
        for t, n in tags.items():
            self.tag_box.addItem(f"#{t} ({n})", t)
        i = self.tag_box.findData(keep) if keep is not None else 0
        self.tag_box.setCurrentIndex(max(0, i))
        self.tag_box.blockSignals(False)

    def _select(self, note_id: str) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == note_id:
                if self.list.currentItem() is not item:
                    self.list.setCurrentItem(item)
                else:
                    self._on_current_changed(item, None)
                self.list.scrollToItem(item)
                return

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_changed(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        note_id = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if self.current is not None and note_id == self.current.id:
            return
        self.save_pending()
        self._load_editor(next((n for n in self.notes if n.id == note_id), None))
        self._update_buttons()

    @Slot()
    def _on_search_changed(self) -> None:
        self._search_timer.start()

    @Slot(int)
    def _on_tag_chosen(self, _index: int) -> None:
        self.refresh()

    def selected_ids(self) -> list[str]:
        return [it.data(Qt.ItemDataRole.UserRole) for it in self.list.selectedItems()]

    # -- editor ---------------------------------------------------------------------------------
    def _load_editor(self, note: Note | None) -> None:
        self._loading = True
        self.current = note
        self.dirty = False
        self._autosave_timer.stop()
        self.title_edit.setText(note.title if note else "")
        self.tags_edit.setText(_tags_text(note.tags) if note else "")
        for edit in (self.title_edit, self.tags_edit):  # a long title shows its start, not its end
            edit.setCursorPosition(0)
        self.editor.setPlainText(note.body if note else "")
        for w in (self.title_edit, self.tags_edit, self.editor):
            w.setEnabled(note is not None)
        self._loading = False
        if note is not None:
            origin = "" if note.origin_kind == "manual" else f" · from {note.origin_kind}"
            cites = f" · {len(note.citations)} citation(s)" if note.citations else ""
            self._show_status(f"Saved{origin}{cites}")
        self.render_preview()
        self._update_buttons()

    @Slot()
    def _on_edited(self) -> None:
        if not self._loading and self.current is not None:
            self._mark_dirty()

    @Slot()
    def _on_body_changed(self) -> None:
        if self._loading or self.current is None:
            return
        self._mark_dirty()

    def _mark_dirty(self) -> None:
        self.dirty = True
        self._show_status("Unsaved changes…")
        self.save_button.setEnabled(True)
        self._autosave_timer.start()
        self._preview_timer.start()

    def _editor_note(self) -> Note | None:
        if self.current is None:
            return None
        c = self.current
        return Note(c.id, c.notebook_id, self.title_edit.text().strip() or c.title, self.editor.toPlainText(),
                    _parse_tags(self.tags_edit.text()), c.citations, c.origin_kind, c.origin_id, c.created,
                    time.time())

    @Slot()
    def render_preview(self) -> None:
        self._preview_timer.stop()
        note = self._editor_note()
        self.previews += 1
        if note is None:
            self.preview.setHtml("")
            return
        try:
            self.preview.setHtml(note_preview_html(note, self.notebook_name))
        except Exception as e:  # noqa: BLE001 - a preview problem must not break editing
            log.warning("note preview failed: %s", e)
            self.preview.setPlainText(f"The preview could not be made: {e}")

    @Slot()
    def save(self) -> None:
        """Save the open note's title, tags and text (now)."""
        self._autosave_timer.stop()
        if self.current is None or not self.dirty:
            return
        note_id = self.current.id
        title, body, tags_text = self.title_edit.text(), self.editor.toPlainText(), self.tags_edit.text()
        snapshot = (title, body, tags_text)

        def run(store: NoteStore) -> Any:
            return store.update(note_id, title=title.strip(), body=body, tags=_parse_tags(tags_text)), snapshot

        self.status.setText("Saving…")
        self._submit(run, self._on_saved, self._on_save_failed)

    def _on_saved(self, result: tuple[Note, tuple[str, str, str]]) -> None:
        note, snapshot = result
        before = next((n for n in self.notes if n.id == note.id), None)
        self.notes = [note if n.id == note.id else n for n in self.notes]
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == note.id:
                item.setText(self._item_text(note))
                item.setToolTip(note.title)
        if self.current is not None and self.current.id == note.id:
            self.current = note
            now = (self.title_edit.text(), self.editor.toPlainText(), self.tags_edit.text())
            if now == snapshot:
                self.dirty = False
                self._show_status("Saved")
                if not self.title_edit.text().strip() and not self.title_edit.hasFocus():
                    self._loading = True
                    self.title_edit.setText(note.title)  # the title derived from the text
                    self.title_edit.setCursorPosition(0)
                    self._loading = False
        self._update_buttons()
        self.note_saved.emit(note.id)
        if before is not None and before.tags != note.tags:
            self.refresh()  # the tag filter lists the new tags

    def _on_save_failed(self, exc: BaseException) -> None:
        self.dirty = True
        self._update_buttons()
        self._report(exc, prefix="Not saved: ")

    @Slot()
    def new_note(self) -> None:
        nb = self.notebook_id
        if not nb:
            self.status.setText(NO_NOTEBOOK)
            return
        self.save_pending()

        def run(store: NoteStore) -> Any:
            return store.add(nb, "Untitled note", "")

        self._submit(run, self._on_created)

    def _on_created(self, note: Note) -> None:
        self.note_saved.emit(note.id)
        if note.notebook_id != self.notebook_id:
            return
        self._focus_title = note.id
        self.show_note(note.id)

    @Slot()
    def delete_note(self) -> None:
        note = self.current
        if note is None or not self._confirm("Delete note", f"Delete the note \u201c{note.title}\u201d? This cannot "
                                                            "be undone."):
            return
        self._autosave_timer.stop()
        self.dirty = False

        def run(store: NoteStore) -> Any:
            return store.delete(note.id).id

        self._submit(run, self._on_deleted)

    def _on_deleted(self, note_id: str) -> None:
        if self.current is not None and self.current.id == note_id:
            self._load_editor(None)
        self.status.setText("Note deleted.")
        self.note_deleted.emit(note_id)
        self.refresh()

    # -- export ---------------------------------------------------------------------------------
    @Slot(object)
    def _on_export_action(self, action: Any) -> None:
        data = action.data()
        if isinstance(data, str):  # a plugin exporter, by name
            self.export_with(data)
            return
        scope, single = data
        self.export(scope, single_file=single)

    @Slot()
    def _add_plugin_exporters(self) -> None:
        """List the plugin exporters at the end of the Export menu (they change when plugins are switched)."""
        menu = self.export_button.menu()
        for a in self._plugin_export_actions:
            menu.removeAction(a)
        self._plugin_export_actions = []
        try:
            exporters = [e for e in self.exporters() if getattr(e, "name", "markdown") != "markdown"]
        except Exception as e:  # noqa: BLE001 - a plugin that cannot even list itself: no entry, a log line
            log.warning("could not list the plugin exporters: %s", e)
            exporters = []
        if exporters:
            self._plugin_export_actions.append(menu.addSeparator())
        for e in exporters:
            desc = str(getattr(e, "description", "") or e.name)
            action = menu.addAction(f"All notes with “{e.name}”…")
            action.setToolTip(desc)
            action.setStatusTip(desc)
            action.setData(str(e.name))
            self._plugin_export_actions.append(action)

    def export_with(self, exporter_name: str, target: str | None = None) -> None:
        """Export all of the notebook's notes, and its sources, with a plugin exporter into a folder."""
        nb, name = self.notebook_id, self.notebook_name
        if not nb:
            self.status.setText(NO_NOTEBOOK)
            return
        exporter = next((e for e in self.exporters() if getattr(e, "name", None) == exporter_name), None)
        if exporter is None:
            self._show_status(f"The exporter “{exporter_name}” is no longer available (its plugin was switched "
                              "off?).", error=True)
            return
        self.save_pending()
        target = target or self._ask_folder(f"Export notes with {exporter_name} into a folder")
        if not target:
            return

        def fetch(store: NoteStore) -> Any:
            from notebooklm_local.core.exporters import export_sources

            return store.list(nb), export_sources(store.library, nb)

        self._submit(fetch, lambda got: self._write_plugin_export(exporter, got[0], got[1], Path(target), name,
                                                                  False))

    def _write_plugin_export(self, exporter: Any, notes: list[Note], sources: list[Any], target: Path, name: str,
                             force: bool) -> None:
        def run(_store: Any) -> Any:
            return exporter.export(notes, target, notebook_name=name, sources=sources, force=force)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, ExportExists):
                if self._confirm("Replace?", f"{len(exc.paths)} file{'s' if len(exc.paths) != 1 else ''} already "
                                             f"exist in {target}.\n\nReplace them?"):
                    self._write_plugin_export(exporter, notes, sources, target, name, True)
                else:
                    self._show_status("Export cancelled: nothing was written.")
                return
            self._report(exc, prefix="Export failed: ")

        self._submit(run, self._on_exported, failed, lane="io")

    def export(self, scope: str, *, single_file: bool) -> None:
        """Export ``scope`` ("current", "selected" or "all") to a folder or one Markdown file (asked for)."""
        nb, name = self.notebook_id, self.notebook_name
        if not nb:
            self.status.setText(NO_NOTEBOOK)
            return
        if scope == "current":
            ids: list[str] | None = [self.current.id] if self.current else []
        elif scope == "selected":
            ids = self.selected_ids()
        else:
            ids = None
        if ids is not None and not ids:
            self._show_status("Choose the notes to export first.", error=True)
            return
        self.save_pending()
        if single_file:
            default = (self.current.title if scope == "current" and self.current else f"{name or 'Notes'} notes")
            target = self._ask_file("Export notes to a Markdown file", safe_filename(default) + ".md")
        else:
            target = self._ask_folder("Export notes to a folder")
        if not target:
            return

        def fetch(store: NoteStore) -> Any:
            notes = store.list(nb) if ids is None else [store.get(i) for i in ids]
            return notes

        self._submit(fetch, lambda notes: self._write_export(notes, Path(target), single_file, False))

    def _write_export(self, notes: list[Note], target: Path, single_file: bool, force: bool) -> None:
        name = self.notebook_name

        def run(_store: Any) -> Any:
            return export_notes(notes, target, notebook_name=name, force=force, single_file=single_file)

        self._submit(run, self._on_exported,
                     lambda exc: self._on_export_failed(exc, notes, target, single_file), lane="io")

    def _on_exported(self, paths: list[Path]) -> None:
        where = paths[0] if len(paths) == 1 else paths[0].parent
        self._show_status(f"Exported {len(paths)} file{'s' if len(paths) != 1 else ''} to {where}.")

    def _on_export_failed(self, exc: BaseException, notes: list[Note], target: Path, single_file: bool) -> None:
        if isinstance(exc, ExportExists):
            shown = "\n".join(str(p) for p in exc.paths[:8]) + ("\n…" if len(exc.paths) > 8 else "")
            if self._confirm("Replace?", f"{len(exc.paths)} file{'s' if len(exc.paths) != 1 else ''} already "
                                         f"exist:\n{shown}\n\nReplace {'them' if len(exc.paths) != 1 else 'it'}?"):
                self._write_export(notes, target, single_file, True)
            else:
                self._show_status("Export cancelled: nothing was written.")
            return
        self._report(exc, prefix="Export failed: ")

    # -- plumbing -------------------------------------------------------------------------------
    def _submit(self, fn: Callable[[Any], Any], on_success: Callable[[Any], None],
                on_error: Callable[[BaseException], None] | None = None, *, lane: str = "store") -> None:
        library = self.library_getter()
        if library is None:
            self._show_status("No library is open.", error=True)
            return

        def run() -> Any:
            return fn(NoteStore(library))

        self._running += 1
        BackgroundOp(self, run, lanes=self.lanes, lane="io" if lane == "io" else "store", on_success=on_success,
                     on_failure=on_error or self._report, on_finished=self._job_done, label="Notes").run()

    def _job_done(self) -> None:
        self._running -= 1

    def _report(self, exc: object, prefix: str = "") -> None:
        if isinstance(exc, NotebookError):
            self._show_status(prefix + str(exc), error=True)
        else:
            log.warning("notes: unexpected error: %r", exc)
            self._show_status(f"{prefix}Unexpected error: {type(exc).__name__}: {exc}", error=True)
            if isinstance(exc, BaseException):
                show_exception(self, "Notes", exc)

    def _show_status(self, text: str, *, error: bool = False) -> None:
        self.status.setStyleSheet(f"color:{css('error')}" if error else "")
        self.status.setText(text)

    def _update_buttons(self) -> None:
        has_nb = bool(self.notebook_id)
        self.new_button.setEnabled(has_nb)
        self.delete_button.setEnabled(self.current is not None)
        self.export_button.setEnabled(has_nb and bool(self.notes))
        self.export_actions[("current", True)].setEnabled(self.current is not None)
        self.save_button.setEnabled(self.current is not None and self.dirty)

    # -- dialogs (tests replace these) ------------------------------------------------------------
    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Ok
                                      | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Ok

    def _ask_file(self, title: str, name: str) -> str:
        path, _filter = QFileDialog.getSaveFileName(self, title, str(Path.home() / name),
                                                    "Markdown (*.md);;All files (*)")
        return path

    def _ask_folder(self, title: str) -> str:
        return QFileDialog.getExistingDirectory(self, title, str(Path.home()))
