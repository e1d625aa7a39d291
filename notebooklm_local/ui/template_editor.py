"""The prompt template editor: edit the system and user parts of a template, validated as you type.

It works on the same :class:`TemplateStore` as ``notebooklm-local templates ...``: validation is
``TemplateStore.validate`` (the check of ``templates validate``), Save is ``TemplateStore.save`` (what
``templates edit`` calls; invalid text is never written), Reset is ``TemplateStore.reset``. The file text
is rebuilt from the two parts with :func:`replace_parts`, keeping every other key of the file.

Validation renders the template once, which for a big template (a 1 MB paste) takes seconds, so it runs on
a pool thread, debounced (300 ms after the last key); only the newest result is shown. The user's text is
never replaced by a failed check or a refused save.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from PySide6.QtCore import Qt, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import (
    QFont,
    QFontDatabase,
    QKeySequence,
    QShortcut,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.core.errors import TemplateError
from notebooklm_local.core.templates import PromptTemplate, TemplateStore, replace_parts
from notebooklm_local.ui.errors import ErrorDialog, guard_none_refcount, show_error, show_exception
from notebooklm_local.ui.ops import BackgroundOp
from notebooklm_local.ui.theme import color, css, on_theme_changed
from notebooklm_local.ui.workers import Lanes

__all__ = ["TemplateEditorDialog", "TemplateHighlighter", "unknown_names"]

log = logging.getLogger(__name__)

DEBOUNCE_MS = 300
PARTS = ("system", "user")

# Names a template may use without declaring them: Jinja keywords, literals and globals.
_BUILTINS = frozenset(
    "if elif else endif for in endfor not and or is set endset true false none True False None loop range "
    "lipsum dict cycler joiner namespace raw endraw filter endfilter macro endmacro call endcall with endwith "
    "recursive without context ignore missing import include from as super self varargs kwargs caller "
    "break continue do".split()
)
_TAG_OPEN = re.compile(r"\{\{|\{%|\{#")
_CLOSE = {"{{": "}}", "{%": "%}", "{#": "#}"}
_STATE = {"{{": 1, "{%": 2, "{#": 3}
_OPEN_OF_STATE = {v: k for k, v in _STATE.items()}
_STRINGS = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_BOUND_FOR = re.compile(r"\{%-?\s*for\s+(.+?)\s+in\s")
_BOUND_SET = re.compile(r"\{%-?\s*set\s+([A-Za-z_]\w*)")
_SYNTAX = re.compile(r"^(system|user): syntax error on line (\d+): (.*)$", re.S)
_UNKNOWN = re.compile(r"^unknown variable\(s\): (.+?) \(known:")


def unknown_names(content: str, known: Iterable[str]) -> list[tuple[int, int]]:
    """Spans ``(start, length)`` of the names inside one tag's content that are neither known nor Jinja's own.

    A quick approximation for highlighting (``TemplateStore.validate`` is the real check): attributes,
    filters, tests and keyword arguments are skipped, string literals are ignored.
    """
    known = set(known)
    text = _STRINGS.sub(lambda m: " " * len(m.group()), content)
    spans = []
    for m in _IDENT.finditer(text):
        name = m.group()
        if name in known or name in _BUILTINS:
            continue
        before = text[:m.start()].rstrip()
        if before.endswith((".", "|")) or re.search(r"\bis(\s+not)?$", before):
            continue
        after = text[m.end():].lstrip()
        if after.startswith("=") and not after.startswith("=="):
            continue
        spans.append((m.start(), len(name)))
    return spans


def bound_names(text: str) -> set[str]:
    """Names a template binds itself (``{% for x in ... %}``, ``{% set x = ... %}``)."""
    names: set[str] = set()
    for m in _BOUND_FOR.finditer(text):
        names |= {n.strip() for n in m.group(1).strip("()").split(",") if n.strip()}
    names |= {m.group(1) for m in _BOUND_SET.finditer(text)}
    return names


def _u16(text: str, index: int) -> int:
    """Qt positions count UTF-16 code units; Python indexes code points (an emoji is 2 units, 1 point)."""
    if text.isascii():
        return index
    return len(text[:index].encode("utf-16-le")) // 2


class TemplateHighlighter(QSyntaxHighlighter):
    """Colours ``{{ expressions }}``, ``{% statements %}``, ``{# comments #}`` and unknown variables (red, wavy)."""

    def __init__(self, document: QTextDocument, known: Iterable[str] = ()) -> None:
        guard_none_refcount()  # setFormat is called thousands of times (see ui.errors)
        super().__init__(document)
        self.known: frozenset[str] = frozenset(known)
        self.expr = QTextCharFormat()
        self.stmt = QTextCharFormat()
        self.stmt.setFontWeight(QFont.Weight.Bold)
        self.comment = QTextCharFormat()
        self.comment.setFontItalic(True)
        self.unknown = QTextCharFormat()
        self.unknown.setFontWeight(QFont.Weight.Bold)
        self.unknown.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        self._set_colours()
        on_theme_changed(self, TemplateHighlighter._retheme)

    def _retheme(self) -> None:
        self._set_colours()
        self.rehighlight()

    def _set_colours(self) -> None:
        """The formats' colours from the current theme's palette (readable on the editor and its error line)."""
        self.expr.setForeground(color("code_expr"))
        self.expr.setBackground(color("code_expr_bg"))
        self.stmt.setForeground(color("code_stmt"))
        self.comment.setForeground(color("code_comment"))
        self.unknown.setForeground(color("code_unknown"))
        self.unknown.setUnderlineColor(color("code_unknown"))

    def set_known(self, names: Iterable[str]) -> None:
        known = frozenset(names)
        if known != self.known:
            self.known = known
            self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt override
        pos = 0
        state = max(self.previousBlockState(), 0)
        while True:
            if state:
                opener = _OPEN_OF_STATE[state]
                start, body = pos, pos
            else:
                m = _TAG_OPEN.search(text, pos)
                if m is None:
                    break
                opener, start, body = m.group(), m.start(), m.end()
            close = text.find(_CLOSE[opener], body)
            end = len(text) if close < 0 else close + 2
            self._tag(text, opener, start, body, end if close < 0 else close, end)
            state = _STATE[opener] if close < 0 else 0
            if close < 0:
                break
            pos = end
        self.setCurrentBlockState(state)

    def _tag(self, text: str, opener: str, start: int, body: int, body_end: int, end: int) -> None:
        fmt = {"{{": self.expr, "{%": self.stmt, "{#": self.comment}[opener]
        self.setFormat(_u16(text, start), _u16(text, end) - _u16(text, start), fmt)
        if opener == "{#":
            return
        for s, n in unknown_names(text[body:body_end], self.known):
            a = body + s
            self.setFormat(_u16(text, a), _u16(text, a + n) - _u16(text, a), self.unknown)


@dataclasses.dataclass
class _Check:
    """The result of one background validation."""

    generation: int
    problems: list[str]
    template: PromptTemplate | None = None
    sample: Any = None  # RenderedPrompt with the sample values
    real: Any = None  # RenderedPrompt with the selection's values
    real_error: str = ""


class _Editor(QPlainTextEdit):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.setObjectName(f"template-{name}")
        self.setAccessibleName(f"{name.capitalize()} part of the template")
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setTabChangesFocus(True)


class TemplateEditorDialog(QDialog):
    """Edit, validate, preview, save and reset prompt templates.

    Args:
        store: the template store (``Workspace.template_store()`` (``notebooklm_local.workspace``)).
        preview_values: optional; returns values for the preview from the current selection (e.g. the real
            passages of the last answer and its question). Called on the GUI thread: it must be quick.
        parent: parent widget.
        lanes: optional; validation and saving then run on the ``templates`` lane (a lane of their own: a
            slow validation never holds up other work, nor waits for it), else on a pool of the dialog's.

    Signals:
        template_changed(str): a template was saved or reset (its name).
        validated(list): a validation finished for the current text (its problems; empty when valid).
    """

    template_changed = Signal(str)
    validated = Signal(list)

    def __init__(self, store: TemplateStore, preview_values: Callable[[], Mapping[str, Any]] | None = None,
                 parent: QWidget | None = None, *, lanes: Lanes | None = None) -> None:
        guard_none_refcount()
        super().__init__(parent)
        self.setObjectName("template-editor")
        self.setWindowTitle("Prompt templates")
        self.resize(1200, 740)
        self.store = store
        self.preview_values = preview_values
        self.lanes = lanes
        self._pool: QThreadPool | None = None  # without lanes: the dialog's own one-thread pool
        self.current: str | None = None
        self.last_error: ErrorDialog | None = None
        self._base_text = ""  # the file text the parts are put back into
        self._saved = {"system": "", "user": ""}  # the parts as last loaded or saved
        self._known: set[str] = set()
        self._generation = 0
        self._checking: BackgroundOp | None = None
        self._recheck = False
        self._last: _Check | None = None
        self._saving: BackgroundOp | None = None
        self._after_save: Callable[[], None] | None = None
        self._loading = False

        self.template_list = QListWidget()
        self.template_list.setObjectName("template-list")
        self.template_list.setAccessibleName("Templates")
        self.template_list.setMinimumWidth(150)
        self.template_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)

        self.title = QLabel()
        self.title.setObjectName("template-title")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.notice = QLabel()
        self.notice.setObjectName("template-notice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet(f"background:{css('notice_bg')};color:{css('notice_fg')};padding:6px;border-radius:4px")
        self.notice.setVisible(False)

        self.editors = {p: _Editor(p) for p in PARTS}
        self.highlighters = {p: TemplateHighlighter(e.document()) for p, e in self.editors.items()}
        self.system_edit, self.user_edit = self.editors["system"], self.editors["user"]
        self._focused = self.user_edit
        parts = QSplitter(Qt.Orientation.Vertical)
        for p, label in (("system", "System part — instructions for the model"),
                         ("user", "User part — the message with the passages and the question")):
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            lab = QLabel(f"<b>{label}</b>")
            lab.setBuddy(self.editors[p])
            lay.addWidget(lab)
            lay.addWidget(self.editors[p], 1)
            parts.addWidget(box)
        parts.setSizes([300, 200])

        self.variables = QTableWidget(0, 2)
        self.variables.setObjectName("template-variables")
        self.variables.setAccessibleName("Variables")
        self.variables.setHorizontalHeaderLabels(["Variable", "Description"])
        self.variables.verticalHeader().setVisible(False)
        self.variables.setWordWrap(True)
        self.variables.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.variables.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.variables.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.variables.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.sectionResized.connect(self._on_variable_column_resized)
        self.variables.setToolTip("Double-click a variable to insert it at the cursor; * = required")
        var_box = QWidget()
        vl = QVBoxLayout(var_box)
        vl.setContentsMargins(0, 0, 0, 0)
        vl.addWidget(QLabel("<b>Variables</b> (double-click to insert)"))
        vl.addWidget(self.variables, 1)
        self.cursor_label = QLabel()
        self.cursor_label.setObjectName("template-cursor")
        vl.addWidget(self.cursor_label)

        edit_tab = QSplitter(Qt.Orientation.Horizontal)
        edit_tab.addWidget(parts)
        edit_tab.addWidget(var_box)
        edit_tab.setStretchFactor(0, 3)
        edit_tab.setStretchFactor(1, 1)
        edit_tab.setSizes([760, 230])

        preview_tab = QWidget()
        pl = QVBoxLayout(preview_tab)
        row = QHBoxLayout()
        row.addWidget(QLabel("Render with:"))
        self.use_sample = QRadioButton("the sample values")
        self.use_selection = QRadioButton("the current selection")
        self.use_selection.setEnabled(preview_values is not None)
        self.use_selection.setToolTip("The real passages and question of the current notebook selection"
                                      if preview_values else "Open the editor from a notebook to use its passages")
        group = QButtonGroup(self)
        for b in (self.use_sample, self.use_selection):
            group.addButton(b)
            row.addWidget(b)
        (self.use_selection if preview_values is not None else self.use_sample).setChecked(True)
        row.addStretch(1)
        pl.addLayout(row)
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("template-preview")
        self.preview.setAccessibleName("Preview of the rendered prompt")
        self.preview.setReadOnly(True)
        self.preview.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        pl.addWidget(self.preview, 1)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("template-tabs")
        self.tabs.addTab(edit_tab, "Edit")
        self.tabs.addTab(preview_tab, "Preview")

        self.status = QLabel()
        self.status.setObjectName("template-status")
        self.status.setWordWrap(True)
        self.problem_list = QListWidget()
        self.problem_list.setObjectName("template-problems")
        self.problem_list.setAccessibleName("Problems")
        self.problem_list.setMaximumHeight(110)
        self.problem_list.setWordWrap(True)
        self.problem_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.problem_list.setVisible(False)
        self.problem_list.setToolTip("Click a problem with a line number to go there")

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.title)
        rl.addWidget(self.notice)
        rl.addWidget(self.tabs, 1)
        rl.addWidget(self.status)
        rl.addWidget(self.problem_list)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.template_list)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([180, 1020])

        self.reset_button = QPushButton("Reset to default…")
        self.reset_button.setObjectName("template-reset")
        self.reset_button.setToolTip("Delete your edited version; the shipped template applies again")
        self.revert_button = QPushButton("Revert")
        self.revert_button.setObjectName("template-revert")
        self.revert_button.setToolTip("Undo the changes since the last save (Ctrl+Z brings them back)")
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("template-save")
        self.save_button.setToolTip("Save your version (Ctrl+S); only a valid template is saved")
        self.save_button.setDefault(True)
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.revert_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._check_now)
        for e in self.editors.values():
            e.textChanged.connect(self._on_text_changed)
            e.cursorPositionChanged.connect(self._on_cursor_moved)
            e.document().modificationChanged.connect(self._on_modification_changed)
        self.template_list.currentRowChanged.connect(self._on_template_selected)
        self.variables.itemDoubleClicked.connect(self._on_variable_double_clicked)
        self.problem_list.itemClicked.connect(self._on_problem_clicked)
        self.use_sample.toggled.connect(self._on_preview_source_toggled)
        self.save_button.clicked.connect(self.save)
        self.revert_button.clicked.connect(self.revert)
        self.reset_button.clicked.connect(self.reset_to_default)
        self.close_button.clicked.connect(self.reject)
        QShortcut(QKeySequence.StandardKey.Save, self, activated=self.save)

        self._fill_list()
        if self.template_list.count():
            self.template_list.setCurrentRow(0)

    # -- public -------------------------------------------------------------------------------------

    def select(self, name: str) -> bool:
        """Show the template ``name`` (asks about unsaved changes first). True if it is shown."""
        for row in range(self.template_list.count()):
            if self.template_list.item(row).data(Qt.ItemDataRole.UserRole) == name:
                self.template_list.setCurrentRow(row)
                return self.current == name
        return False

    def parts(self) -> dict[str, str]:
        return {p: e.toPlainText() for p, e in self.editors.items()}

    def is_dirty(self) -> bool:
        return self.current is not None and self.parts() != self._saved

    def problems(self) -> list[str]:
        """The problems of the last validation of the current text (empty when valid or not checked yet)."""
        return list(self._last.problems) if self._last and self._last.generation == self._generation else []

    def file_text(self) -> str:
        """The template file the editor would save."""
        return replace_parts(self._base_text, **self.parts())

    @Slot()
    def save(self) -> None:
        """Validate and save in the background; refused (with the reasons, the text kept) when invalid."""
        if self.current is None or self._saving is not None:
            return
        if not self.is_dirty():
            self.status.setText("No changes to save.")
            return
        if self._last is not None and self._last.generation == self._generation and self._last.problems:
            self._refuse(self._last.problems)
            return
        try:
            text = self.file_text()
        except TemplateError as e:
            self._refuse([str(e)])
            return
        name, store = self.current, self.store
        self.save_button.setEnabled(False)
        self.status.setText("Saving…")
        self._saving = self._start(lambda: store.save(name, text), self._on_saved, self._on_save_failed)

    @Slot()
    def revert(self) -> None:
        """Put back the text as last loaded or saved (undoable: Ctrl+Z brings the changes back)."""
        for p, e in self.editors.items():
            if e.toPlainText() != self._saved[p]:
                cursor = QTextCursor(e.document())
                cursor.select(QTextCursor.SelectionType.Document)
                cursor.insertText(self._saved[p])
            e.document().setModified(False)
        self.status.setText("Reverted to the saved text (Ctrl+Z undoes this).")

    @Slot()
    def reset_to_default(self) -> None:
        """Delete the user's version after confirmation; the default is shown again."""
        if self.current is None:
            return
        name = self.current
        if not self._confirm("Reset to default",
                             f"Reset '{name}' to the shipped default? Your edited version is deleted"
                             + (" and your unsaved changes are lost." if self.is_dirty() else ".")):
            return
        try:
            self.store.reset(name)
        except (TemplateError, OSError) as e:
            self.last_error = show_exception(self, "Could not reset the template", e)
            return
        self._fill_list(keep=name)
        self._load(name)
        self.status.setText(f"'{name}' is the default again.")
        self.template_changed.emit(name)

    # -- overridable prompts (tests replace these) ---------------------------------------------------

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Ok
                                      | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Ok

    def _ask_unsaved(self, name: str) -> str:
        """'save', 'discard' or 'cancel'."""
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save your changes to '{name}'?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(answer, "cancel")

    # -- closing --------------------------------------------------------------------------------------

    def reject(self) -> None:
        """Close (Escape, the Close button, the window's close box): asks about unsaved changes."""
        if self._settle(super().reject):
            super().reject()

    def _settle(self, then: Callable[[], None]) -> bool:
        """Resolve unsaved changes before leaving the current template. True: go on now; False: not now
        (cancelled, or saving first and ``then`` runs when the save succeeds)."""
        if self._saving is not None:
            self._after_save = then
            return False
        if not self.is_dirty():
            return True
        choice = self._ask_unsaved(self.current or "")
        if choice == "discard":
            return True
        if choice == "save":
            self._after_save = then
            self.save()
            if self._saving is None:  # refused: stay
                self._after_save = None
            return False
        return False

    # -- loading ----------------------------------------------------------------------------------

    def _fill_list(self, keep: str | None = None) -> None:
        self.template_list.blockSignals(True)
        self.template_list.clear()
        for name in self.store.names():
            try:
                description = self.store.default(name).description
            except TemplateError as e:
                description = str(e)
            edited = self.store.is_overridden(name)
            item = QListWidgetItem(f"{name}  ✎ edited" if edited else name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(f"{description}\n({'your edited version' if edited else 'default'})")
            if edited:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.template_list.addItem(item)
            if name == keep:
                self.template_list.setCurrentItem(item)
        self.template_list.blockSignals(False)

    @Slot(int)
    def _on_template_selected(self, row: int) -> None:
        item = self.template_list.item(row)
        name = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if name is None or name == self.current:
            return

        def switch() -> None:
            self._select_row_quietly(name)
            self._load(name)

        if self._settle(switch):
            self._load(name)
        elif self.current is not None:
            self._select_row_quietly(self.current)

    def _select_row_quietly(self, name: str) -> None:
        self.template_list.blockSignals(True)
        for row in range(self.template_list.count()):
            if self.template_list.item(row).data(Qt.ItemDataRole.UserRole) == name:
                self.template_list.setCurrentRow(row)
        self.template_list.blockSignals(False)

    def _load(self, name: str) -> None:
        """Show ``name``: the user's version when there is one (even an invalid one: it is what they wrote)."""
        notice = ""
        try:
            default = self.store.default(name)
        except TemplateError as e:
            self.current = None
            self._set_parts({"system": "", "user": ""}, editable=False)
            self.title.setText(f"<b>{html.escape(name)}</b>")
            self._show_problems([str(e)])
            return
        text, system, user = default.text, default.system, default.user
        if self.store.is_overridden(name):
            path = self.store.user_dir / f"{name}.toml"
            try:
                own = path.read_text(encoding="utf-8")
                data = tomllib.loads(own)
                if not isinstance(data.get("system", ""), str) or not isinstance(data.get("user", ""), str):
                    raise ValueError("'system' and 'user' must be text")
            except (OSError, UnicodeDecodeError, ValueError) as e:  # TOMLDecodeError is a ValueError
                notice = (f"Your edited version ({path}) cannot be read ({e}). The default is shown; saving "
                          "replaces your file, Reset deletes it.")
            else:
                text, system, user = own, data.get("system", ""), data.get("user", "")
        self.current = name
        self._generation += 1  # a check still running for the previous template is stale
        self._base_text = text
        self._known = set(default.variables)
        self._saved = {"system": system, "user": user}
        edited = self.store.is_overridden(name) and not notice
        self.title.setText(f"<b>{html.escape(name)}</b> — {'your edited version' if edited else 'default'}"
                           f"<br><span style='color:{css('muted')}'>{html.escape(default.description)}</span>")
        self.notice.setText(notice)
        self.notice.setVisible(bool(notice))
        self.variables.setRowCount(0)
        for row, (var, description) in enumerate(default.variables.items()):
            self.variables.insertRow(row)
            name_item = QTableWidgetItem(var + (" *" if var in default.required else ""))
            name_item.setData(Qt.ItemDataRole.UserRole, var)
            name_item.setToolTip("required: the template must use it" if var in default.required else "optional")
            text_item = QTableWidgetItem(description)
            text_item.setData(Qt.ItemDataRole.UserRole, var)
            text_item.setToolTip(description)
            self.variables.setItem(row, 0, name_item)
            self.variables.setItem(row, 1, text_item)
        self.variables.resizeRowsToContents()
        self._set_parts(self._saved, editable=True)
        self.reset_button.setEnabled(self.store.is_overridden(name))
        self._check_now()

    def _set_parts(self, parts: Mapping[str, str], *, editable: bool) -> None:
        self._loading = True
        try:
            for p, e in self.editors.items():
                self.highlighters[p].set_known(self._known | bound_names("\n".join(parts.values())))
                e.setPlainText(parts[p])
                e.document().setModified(False)
                e.setReadOnly(not editable)
        finally:
            self._loading = False
        self._update_buttons()

    # -- validation --------------------------------------------------------------------------------

    @Slot()
    def _on_text_changed(self) -> None:
        if self._loading:
            return
        self._generation += 1
        self._debounce.start()
        self.status.setText("Checking…")
        self._update_buttons()

    @Slot()
    def _check_now(self) -> None:
        """Validate the current text on a pool thread (one check at a time; the newest text wins)."""
        self._debounce.stop()
        if self.current is None:
            return
        if self._checking is not None:
            self._recheck = True
            return
        parts = self.parts()
        for h in self.highlighters.values():
            h.set_known(self._known | bound_names("\n".join(parts.values())))
        values, values_error = None, ""
        if self.preview_values is not None and self.use_selection.isChecked():
            try:
                values = dict(self.preview_values())
            except Exception as e:  # noqa: BLE001 - the preview must not break the editor
                values_error = f"Could not get values from the selection: {e}"
        store, name, base, generation = self.store, self.current, self._base_text, self._generation

        def check() -> _Check:
            try:
                text = replace_parts(base, **parts)
                tpl = store.validate(name, text)  # the check of `templates validate`; renders the samples once
            except TemplateError as e:
                return _Check(generation, [p.strip() for p in str(e).split("; ") if p.strip()])
            result = _Check(generation, [], tpl, tpl.preview(), real_error=values_error)
            if values is not None:
                try:
                    result.real = tpl.preview(values)
                except TemplateError as e:
                    result.real_error = str(e)
            return result

        self._checking = self._start(check, self._on_checked, self._on_check_failed)

    def _start(self, fn: Callable[[], Any], ok: Callable[[Any], None],
               failed: Callable[[BaseException], None]) -> BackgroundOp:
        """Run ``fn`` on the templates lane (without lanes: on the dialog's own one-thread pool)."""
        pool = None
        if self.lanes is None:
            if self._pool is None:
                self._pool = QThreadPool(self)
                self._pool.setMaxThreadCount(1)
            pool = self._pool
        return BackgroundOp(self, fn, lanes=self.lanes, lane="templates", pool=pool, on_success=ok,
                            on_failure=failed, label="Templates").run()

    @Slot(object)
    def _on_checked(self, result: _Check) -> None:
        self._checking = None
        if self._recheck:
            self._recheck = False
            self._check_now()
        if result.generation != self._generation:
            return  # the text changed meanwhile; the next check reports
        self._last = result
        self._show_problems(result.problems)
        self._show_preview()
        self._update_buttons()
        self.validated.emit(list(result.problems))

    @Slot(object)
    def _on_check_failed(self, exc: object) -> None:
        self._checking = None
        log.warning("template check failed: %r", exc)
        self._show_problems([f"The check itself failed: {type(exc).__name__}: {exc}"])
        if self._recheck:
            self._recheck = False
            self._check_now()

    def _locate(self, problem: str) -> list[tuple[str, str, int, int]]:
        """(text, part, line, column) entries for a problem message; line/column are 1-based, 0 = unknown."""
        m = _SYNTAX.match(problem)
        if m:
            part, line = m.group(1), int(m.group(2))
            return [(f"{part.capitalize()} part, line {line}: syntax error: {m.group(3)}", part, line, 0)]
        m = _UNKNOWN.match(problem)
        if m:
            out = []
            for name in (n.strip() for n in m.group(1).split(",")):
                where = self._find_use(name)
                if where:
                    part, line, col = where
                    out.append((f"{part.capitalize()} part, line {line}, column {col}: unknown variable "
                                f"'{name}' (known: {', '.join(sorted(self._known))})", part, line, col))
                else:
                    out.append((f"Unknown variable '{name}' (known: {', '.join(sorted(self._known))})", "", 0, 0))
            return out
        return [(problem[0].upper() + problem[1:] if problem else problem, "", 0, 0)]

    def _find_use(self, name: str) -> tuple[str, int, int] | None:
        pattern = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")
        for part, e in self.editors.items():
            for i, line in enumerate(e.toPlainText().split("\n"), 1):
                for tag in re.finditer(r"\{\{.*?\}\}|\{%.*?%\}", line):
                    hit = pattern.search(tag.group())
                    if hit:
                        return part, i, tag.start() + hit.start() + 1
        return None

    def _show_problems(self, problems: list[str]) -> None:
        if any(_SYNTAX.match(p) for p in problems):
            # a part that does not parse uses no variables: "missing" would only repeat the syntax error
            problems = [p for p in problems if not p.startswith("missing variable")]
        self.problem_list.clear()
        marks: dict[str, list[QTextEdit.ExtraSelection]] = {p: [] for p in PARTS}
        for problem in problems:
            for text, part, line, col in self._locate(problem):
                item = QListWidgetItem("✖ " + text)
                item.setForeground(color("error"))
                item.setData(Qt.ItemDataRole.UserRole, (part, line, col))
                item.setToolTip(text)
                self.problem_list.addItem(item)
                if part and line:
                    marks[part].append(self._line_mark(part, line))
        for p, e in self.editors.items():
            e.setExtraSelections(marks[p])
        self.problem_list.setVisible(bool(problems))
        if problems:
            n = self.problem_list.count()
            self.status.setText(f"<span style='color:{css('error')}'>✖ {n} problem{'s' if n > 1 else ''}: this template "
                                f"cannot be saved until {'they are' if n > 1 else 'it is'} fixed.</span>")
        else:
            self.status.setText(f"<span style='color:{css('success')}'>✔ Valid</span>"
                                + (" — unsaved changes" if self.is_dirty() else ""))

    def _line_mark(self, part: str, line: int) -> QTextEdit.ExtraSelection:
        sel = QTextEdit.ExtraSelection()
        block = self.editors[part].document().findBlockByNumber(line - 1)
        sel.cursor = QTextCursor(block)
        sel.format.setBackground(color("error_line_bg"))
        sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        return sel

    def _show_preview(self) -> None:
        r = self._last
        if r is None or r.template is None:
            self.preview.setPlainText("The preview appears when the template is valid.")
            return
        use_real = self.use_selection.isChecked() and self.preview_values is not None
        rendered = r.real if use_real else r.sample
        if use_real and rendered is None:
            self.preview.setPlainText((r.real_error or "No values from the selection.") + "\n\nWith the sample "
                                      f"values:\n\n--- system ---\n{r.sample.system}\n\n--- user ---\n{r.sample.user}")
            return
        self.preview.setPlainText(f"--- system ---\n{rendered.system}\n\n--- user ---\n{rendered.user}")

    # -- saving ------------------------------------------------------------------------------------

    def _refuse(self, problems: list[str]) -> None:
        self._show_problems(problems)
        lines = "\n".join(f"• {t}" for p in problems for t, *_ in self._locate(p))
        self.last_error = show_error(self, "Template not saved",
                                     "The template has problems, so it was not saved (your text is still in the "
                                     f"editor):\n\n{lines}")
        self._after_save = None

    @Slot(object)
    def _on_saved(self, tpl: PromptTemplate) -> None:
        self._saving = None
        name = tpl.name or self.current or ""
        if name == self.current:
            self._base_text = tpl.text
            self._saved = {"system": tpl.system, "user": tpl.user}
            for e in self.editors.values():
                e.document().setModified(self.parts() != self._saved)
            self.notice.setVisible(False)
            self.title.setText(f"<b>{html.escape(name)}</b> — your edited version"
                               f"<br><span style='color:{css('muted')}'>{html.escape(tpl.description)}</span>")
        self._fill_list(keep=self.current)
        self.reset_button.setEnabled(True)
        self.status.setText(f"<span style='color:{css('success')}'>✔ Saved your version of '{html.escape(name)}'.</span>")
        self._update_buttons()
        self.template_changed.emit(name)
        then, self._after_save = self._after_save, None
        if then is not None:
            then()

    @Slot(object)
    def _on_save_failed(self, exc: object) -> None:
        self._saving = None
        self._update_buttons()
        if isinstance(exc, TemplateError):
            self._refuse([p.strip() for p in str(exc).split("; ") if p.strip()])
        else:
            self._after_save = None
            self.status.setText("Not saved.")
            self.last_error = show_exception(self, "Could not save the template", exc)  # type: ignore[arg-type]

    # -- small slots ---------------------------------------------------------------------------------

    @Slot(bool)
    def _on_modification_changed(self, _changed: bool) -> None:
        self._update_buttons()

    def _update_buttons(self) -> None:
        dirty = self.is_dirty()
        self.revert_button.setEnabled(self.current is not None and dirty)
        self.save_button.setEnabled(self.current is not None and self._saving is None)
        name = self.current or "Prompt templates"
        self.setWindowTitle(f"{name}{' •' if dirty else ''} — Prompt templates" if self.current else name)

    @Slot()
    def _on_cursor_moved(self) -> None:
        editor = self.sender()
        if isinstance(editor, _Editor):
            self._focused = editor
            c = editor.textCursor()
            part = "System" if editor is self.system_edit else "User"
            text = c.block().text()
            col = len(text.encode("utf-16-le")[:c.positionInBlock() * 2].decode("utf-16-le", "ignore")) + 1
            self.cursor_label.setText(f"{part} — line {c.blockNumber() + 1}, column {col}")

    @Slot(int, int, int)
    def _on_variable_column_resized(self, _index: int, _old: int, _new: int) -> None:
        self.variables.resizeRowsToContents()

    @Slot(QTableWidgetItem)
    def _on_variable_double_clicked(self, item: QTableWidgetItem) -> None:
        name = item.data(Qt.ItemDataRole.UserRole)
        if name and not self._focused.isReadOnly():
            self._focused.insertPlainText(f"{{{{ {name} }}}}")
            self._focused.setFocus()

    @Slot(QListWidgetItem)
    def _on_problem_clicked(self, item: QListWidgetItem) -> None:
        part, line, col = item.data(Qt.ItemDataRole.UserRole)
        if not part or not line:
            return
        editor = self.editors[part]
        self.tabs.setCurrentIndex(0)
        block = editor.document().findBlockByNumber(line - 1)
        cursor = QTextCursor(block)
        if col:
            cursor.setPosition(block.position() + _u16(block.text(), col - 1))
        editor.setTextCursor(cursor)
        editor.centerCursor()
        editor.setFocus()

    @Slot(bool)
    def _on_preview_source_toggled(self, _checked: bool) -> None:
        if self.use_selection.isChecked():
            self._check_now()  # fetch the selection's values again
        else:
            self._show_preview()
