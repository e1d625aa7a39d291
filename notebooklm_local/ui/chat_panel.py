"""The chat side panel: ask, watch the answer stream, read its citations, stop.

The panel runs ``ChatService.ask`` (the same code as the CLI's ``ask``) on the ``llm`` lane. Tokens
arrive as queued signals and are painted in batches by a timer (not one repaint per token). When the
answer is done it is re-drawn from the *checked* answer: citation chips ``[n]`` link to the passage
(hover shows the quote, click opens the source at the passage), unsupported sentences are marked.
Each answer has "Save to note" (a note with its citations, written on the ``store`` lane) and "Copy"
(the answer as Markdown with its citations as footnotes).
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QCursor, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.core.chat_goals import GOAL_LABELS, ChatGoal
from notebooklm_local.core.citations import NO_ANSWER_TEXT, is_no_answer, strip_markers
from notebooklm_local.core.library import Library
from notebooklm_local.core.note_export import render_markdown
from notebooklm_local.core.notes import Note, NoteStore, answer_note_body
from notebooklm_local.services.chat import QUOTES_LABEL, STOPPED_NOTE, ChatService
from notebooklm_local.ui.errors import NO_NOTEBOOK, guard_none_refcount
from notebooklm_local.ui.ops import BackgroundOp
from notebooklm_local.ui.theme import css, good_color, recolor
from notebooklm_local.ui.workers import Lanes

__all__ = ["ChatPanel", "answer_html", "answer_markdown", "citation_html", "quotes_html", "regenerate_link"]

log = logging.getLogger(__name__)

FLUSH_MS = 50  # batched repaint of streamed tokens


MODES = (("auto", "Auto"), ("generate", "Generated"), ("quotes", "Quotes only"))  # short: the panel is narrow
MODE_TIP = ("Auto: quotes when the chat model is the built-in demo model (it cannot answer), a generated answer "
            "with a real instruct model.\nGenerated: the model writes the answer, citing passages.\n"
            "Quotes only: the source sentences that answer best, verbatim, with their citations (no model).")
SCOPE_TIP = ("Search all notebooks: answer from the ready sources of every notebook (this notebook's ticks do not "
             "apply); citations name the notebook, a chip opens its source. The chat stays in this notebook.")
ALL_NOTEBOOKS_LABEL = "From all notebooks"


def _chips(key: int, ids: Any) -> str:
    return "".join(
        f' <a href="cite:{key}:{pid}" style="text-decoration:none"><span style="background:{css("chip_bg")};color:{css("chip_fg")};'
        f'border-radius:4px">&nbsp;{pid}&nbsp;</span></a>'
        for pid in ids
    )


def quotes_html(answer: Any, key: int = 0) -> str:
    """An extractive ("Quotes") answer: each quoted source sentence on its own line with its chip, under a label."""
    label = f'<div style="color:{good_color()};font-size:small;font-weight:bold">\u275d {QUOTES_LABEL}</div>'
    if not answer.sentences:
        return label + f"<p>{html.escape(answer.text)}</p>" + _notes_and_sources(answer, key)
    items = "".join(
        f'<li style="margin-bottom:4px">\u201c{html.escape(strip_markers(s.text))}\u201d{_chips(key, s.citations)}</li>'
        for s in answer.sentences
    )
    return f"{label}<ul style='margin-left:0px'>{items}</ul>{_notes_and_sources(answer, key)}"


def _note_html(note: str) -> str:
    return f"<b>{html.escape(note)}</b>" if note == STOPPED_NOTE else html.escape(note)


def _notes_and_sources(answer: Any, key: int) -> str:
    """An answer's notes (what was left out, why not found) and its list of cited sources, as links."""
    extra = "".join(f'<div style="color:{css("muted")};font-size:small">{_note_html(n)}</div>' for n in answer.notes)
    if answer.citations:
        extra += '<div style="font-size:small">Sources: ' + "; ".join(
            f'<a href="cite:{key}:{c.passage_id}">[{c.passage_id}] {html.escape(c.source_title)}'
            f'{", " + html.escape(c.location) if c.location else ""}</a>' for c in answer.citations
        ) + "</div>"
    return extra


def answer_html(result_or_answer: Any, key: int = 0, *, mode: str = "", cut_off: str | None = None,
                scope: str = "") -> str:
    """A stored or fresh answer as HTML: quotes answers as quotes, generated ones with their checks.

    A stopped answer shows the sentence it was writing (``cut_off``; from the result when not given) after
    its checked sentences, in grey and unchecked, and its "Stopped" note. An answer from all notebooks
    (``scope`` "all"; from the result when not given) says so above it."""
    answer = getattr(result_or_answer, "answer", result_or_answer)
    mode = mode or getattr(result_or_answer, "mode", "") or ""
    cut = getattr(result_or_answer, "cut_off", "") if cut_off is None else cut_off
    scope = scope or getattr(result_or_answer, "scope", "") or ""
    head = (f'<div style="color:{css("muted")};font-size:small">{html.escape(ALL_NOTEBOOKS_LABEL)}</div>'
            if scope == "all" else "")
    return head + (quotes_html(answer, key) if mode == "quotes" else
                   citation_html(answer, key, cut_off=str(cut or "")))


def regenerate_link(key: int, index: int) -> str:
    """A small "rewrite" link after a flagged item (``regen:<key>:<index>``; the studio handles it)."""
    return (f' <a href="regen:{key}:{index}" style="font-size:small;text-decoration:none" '
            f'title="Write this one again from its passages">\u21bb rewrite</a>')


def citation_html(answer: Any, key: int = 0, *, regenerate: bool = False, cut_off: str = "") -> str:
    """The checked answer as HTML: sentences with citation links (``cite:<key>:<id>``), unsupported ones marked
    (with a ``regen:<key>:<n>`` link after each when ``regenerate``); ``cut_off``: the sentence a stopped
    answer was writing, shown after them in grey, neither supported nor flagged (it was never checked)."""
    if is_no_answer(answer):  # the app's notice, not a flagged claim: no ⚠, no "not supported" line
        return (f'<div style="color:{css("warning")}">{html.escape(NO_ANSWER_TEXT)}</div>'
                f"{_notes_and_sources(answer, key)}")
    parts: list[str] = []
    for n, s in enumerate(answer.sentences):
        text = html.escape(strip_markers(s.text))
        chips = _chips(key, s.citations)
        if s.supported:
            parts.append(f"{text}{chips}")
        else:
            parts.append(
                f'<span style="background:{css("flagged_bg")};color:{css("flagged_fg")}" title="{html.escape(s.flag)}">\u26a0 {text}</span>{chips}'
                + (regenerate_link(key, n) if regenerate else "")
            )
    body = " ".join(parts) if parts else html.escape(answer.text)
    if cut_off:
        body += (f' <span style="color:{css("muted")}" title="Cut off when the answer was stopped: not checked">'
                 f"{html.escape(cut_off)}\u2026</span>")
    extra = ""
    flagged = [s for s in answer.sentences if not s.supported]
    if flagged:
        extra += (f'<div style="color:{css("warning")};font-size:small">\u26a0 {len(flagged)} sentence'
                  f'{"s are" if len(flagged) > 1 else " is"} not supported by the cited sources.</div>')
    for m in answer.removed_markers:
        extra += f'<div style="color:{css("warning")};font-size:small">Removed citation {html.escape(m)}: no such passage.</div>'
    return f"<div>{body}</div>{extra}{_notes_and_sources(answer, key)}"


def answer_markdown(answer: Any) -> str:
    """An answer as Markdown: its ``[n]`` markers as footnote references, one footnote per cited passage."""
    note = Note("", "", "Answer", answer.text, citations=[c.to_json() for c in answer.citations])
    md = render_markdown(note, notebook_name="")
    md = re.sub(r"\A---\n.*?\n---\n+", "", md, count=1, flags=re.DOTALL)  # no front matter
    return re.sub(r"\A# [^\n]*\n+", "", md, count=1)  # no "# Answer" heading


def _actions_html(key: int, *, save: bool = True) -> str:
    """The links under an answer: Save to note (not for a stopped answer, like ``ask --save-note``) and Copy."""
    link = 'style="font-size:small;text-decoration:none"'
    note = f'<a href="note:{key}" {link}>Save to note</a>&nbsp;&nbsp;·&nbsp;&nbsp;' if save else ""
    return f'<div style="margin-top:2px">{note}<a href="copy:{key}" {link}>Copy</a></div>'


class _GoalButton(QToolButton):
    """The header's goal button: its text elides ("Goal: Custom · lo…") rather than widening the panel."""

    def __init__(self) -> None:
        super().__init__()
        self._full = ""

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()

    def full_text(self) -> str:
        return self._full

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self.fontMetrics().horizontalAdvance("Goal: Default") + 12), hint.height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 16, super().sizeHint().height())

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = max(10, self.width() - 12)
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, room)
        if shown != self.text():
            self.setText(shown)


def _history_not_read(exc: BaseException) -> None:
    log.debug("could not read the chat history: %s", exc)  # e.g. the library was closed meanwhile


class ChatPanel(QWidget):
    """Chat with the current notebook. ``chat_factory`` builds the ChatService (on the llm lane)."""

    citation_activated = Signal(object)  # a Citation: the main window opens the source viewer
    answer_finished = Signal(object)  # AskResult
    busy_changed = Signal(bool)
    note_saved = Signal(str)  # an answer was saved as a note (its id): refresh the notes pane

    def __init__(self, lanes: Lanes, chat_factory: Callable[[], ChatService], *,
                 library_getter: Callable[[], Library | None] | None = None) -> None:
        guard_none_refcount()  # PySide6 6.12 on CPython 3.11: one emit per streamed token (see ui.errors)
        super().__init__()
        self.setObjectName("chat-pane")
        self.setAccessibleName("Chat")
        self.lanes = lanes
        self.chat_factory = chat_factory
        self.library_getter = library_getter  # the workspace's Library (None until open): past chats shown again
        self.sessions: list[Any] = []  # the notebook's chat sessions, newest first (the History menu)
        self.chat: Any = None
        self.notebook_id: str | None = None
        self.session_id: str | None = None
        self.source_ids: list[str] | None = None
        self.answer_op: BackgroundOp | None = None  # the answer being written
        self.last_result: Any = None
        self._pending: list[str] = []
        self._streamed = ""
        self._history_html: list[str] = []
        self._citations: dict[tuple[int, int], Any] = {}  # (answer number, passage id) -> Citation
        self._results: dict[int, Any] = {}  # answer number -> AskResult (for Save to note / Copy)
        self._answers = 0
        self._discard = threading.Event()  # set by stop(discard=True): the stopped answer is not stored

        layout = QVBoxLayout(self)
        head = QHBoxLayout()
        title = QLabel("<b>Chat</b>")
        title.setObjectName("chat-pane-title")
        head.addWidget(title)
        head.addStretch(1)
        self.mode_box = QComboBox()
        self.mode_box.setObjectName("chat-mode")
        self.mode_box.setAccessibleName("Answer mode")
        self.mode_box.setToolTip(MODE_TIP)
        self.mode_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode_box.setMinimumContentsLength(11)  # "Quotes only" whole (it was cut to "Generated ans")
        for value, text in MODES:
            self.mode_box.addItem(text, value)
        # the notebook's chat goal, shown in the header; a click opens the Goal dialog (ui/chat_goal_dialog.py)
        self.goal = ChatGoal()
        self.goal_dialog: Any = None
        self._goal_notebook_name = ""
        self.goal_button = _GoalButton()
        self.goal_button.setObjectName("chat-goal")
        self.goal_button.clicked.connect(self.open_goal_dialog)
        self._show_goal()
        head.addWidget(self.goal_button)
        head.addWidget(QLabel("Answers:"))
        head.addWidget(self.mode_box)
        layout.addLayout(head)
        self.transcript = QTextBrowser()
        self.transcript.setObjectName("chat-transcript")
        self.transcript.setAccessibleName("Chat transcript")
        self.transcript.setOpenLinks(False)
        self.transcript.setOpenExternalLinks(False)
        self.transcript.anchorClicked.connect(self._on_anchor_clicked)
        self.transcript.highlighted.connect(self._on_anchor_hovered)
        self.transcript.setPlaceholderText("Answers cite your sources, passage by passage.")
        layout.addWidget(self.transcript, 1)
        self.input = QPlainTextEdit()
        self.input.setObjectName("chat-input")
        self.input.setAccessibleName("Question")
        self.input.setPlaceholderText("Ask about your sources… (Ctrl+Enter to send)")
        self.input.setMaximumHeight(90)
        # Tab moves on to the buttons below (a question needs no tab characters): without it a keyboard user
        # reached the input and could go no further (Send, History, New chat, All notebooks)
        self.input.setTabChangesFocus(True)
        layout.addWidget(self.input)
        # the status on a line of its own (word-wrapped, never widening the panel), then the controls
        self.status = QLabel("")
        self.status.setObjectName("chat-status")
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # the search scope shares the status line (a short button: the panel gets no wider): checked, answers
        # come from every notebook's ready sources and citations name the notebook ("Notebook › Source")
        self.scope_action = QAction("Search all notebooks", self)
        self.scope_action.setObjectName("chat-scope-action")
        self.scope_action.setIconText("All notebooks")
        self.scope_action.setCheckable(True)
        self.scope_action.setToolTip(SCOPE_TIP)
        self.scope_action.toggled.connect(self._on_scope_toggled)
        self.scope_button = QToolButton()
        self.scope_button.setObjectName("chat-scope")
        self.scope_button.setDefaultAction(self.scope_action)
        self.scope_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.scope_button.setAccessibleName("Search all notebooks")
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.scope_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(status_row)
        row = QHBoxLayout()
        row.addStretch(1)
        self.new_button = QPushButton("New chat")
        self.new_button.setAccessibleName("New chat")
        self.new_button.clicked.connect(self.new_session)
        self.history_button = QToolButton()
        self.history_button.setObjectName("chat-history")
        self.history_button.setText("History")
        self.history_button.setAccessibleName("Earlier chats of this notebook")
        self.history_button.setToolTip("Earlier chats of this notebook")
        self.history_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.history_menu = QMenu(self.history_button)
        self.history_menu.aboutToShow.connect(self._fill_history_menu)
        self.history_menu.triggered.connect(lambda a: self.load_session(a.data()) if a.data() else None)
        self.history_button.setMenu(self.history_menu)
        row.addWidget(self.history_button)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("chat-stop")
        self.stop_button.setAccessibleName("Stop the answer")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("chat-send")
        self.send_button.setAccessibleName("Send the question")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        for b in (self.new_button, self.stop_button, self.send_button):
            row.addWidget(b)
        layout.addLayout(row)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.send)
        QShortcut(QKeySequence("Escape"), self, activated=self.stop)

        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)
        self.repaints = 0  # streamed repaints (tests check that tokens are batched)
        self.stages: list[str] = []

    # -- public -------------------------------------------------------------------------------

    def set_notebook(self, notebook_id: str | None, source_ids: list[str] | None = None) -> None:
        changed = notebook_id != self.notebook_id
        if changed:
            self.new_session()
        self.notebook_id = notebook_id
        self.source_ids = source_ids
        if changed:
            self.load_goal()
        if changed and notebook_id:
            self.load_session(None)  # the notebook's latest chat, to continue it

    # -- chat goal: the notebook's goal and response length ----------------------------------------

    def _show_goal(self) -> None:
        self.goal_button.set_full_text(f"Goal: {self.goal.label}")
        self.goal_button.setAccessibleName(f"Chat goal: {self.goal.label} (change it)")
        self.goal_button.updateGeometry()
        self.goal_button.setToolTip(
            f"This notebook's chat goal: {GOAL_LABELS.get(self.goal.goal, self.goal.goal)}, "
            f"{self.goal.length} response length.\nClick to change it (answers always cite your sources).")

    def load_goal(self) -> None:
        """Read the current notebook's chat goal (store lane) and show it in the header."""
        self.goal = ChatGoal()
        self._goal_notebook_name = ""
        self._show_goal()
        library = self.library_getter() if self.library_getter is not None else None
        notebook = self.notebook_id
        if library is None or not notebook:
            return

        def load() -> Any:
            from notebooklm_local.core.chat_goals import notebook_goal

            return notebook, notebook_goal(library, notebook), library.notebook(notebook).name

        self._run_goal_worker(load)

    def _run_goal_worker(self, fn: Callable[[], Any]) -> None:
        BackgroundOp(self, fn, lanes=self.lanes, lane="store", on_success=self._on_goal_loaded,
                     on_failure=self._on_goal_failed, label="Chat goal").run()

    @Slot(object)
    def _on_goal_loaded(self, got: Any) -> None:
        notebook, goal, name = got
        if notebook == self.notebook_id:
            self.goal = goal
            self._goal_notebook_name = name
            self._show_goal()

    @Slot(object)
    def _on_goal_failed(self, exc: object) -> None:
        log.warning("chat goal: %s", exc)
        self.status.setText(f"The chat goal could not be read or stored: {exc}")

    @Slot()
    def open_goal_dialog(self) -> None:
        """The Goal dialog for the current notebook (non-modal ``open()``; OK stores the choice)."""
        from notebooklm_local.ui.chat_goal_dialog import ChatGoalDialog

        if not self.notebook_id or self.library_getter is None or self.library_getter() is None:
            self.status.setText(NO_NOTEBOOK)
            return
        dialog = ChatGoalDialog(self.goal, self._goal_notebook_name, self)
        dialog.accepted.connect(self._on_goal_dialog_accepted)
        self.goal_dialog = dialog
        dialog.open()

    @Slot()
    def _on_goal_dialog_accepted(self) -> None:
        dialog = self.goal_dialog
        chosen = getattr(dialog, "chosen", None)
        if chosen is not None:
            self.set_goal(chosen)

    def set_goal(self, goal: ChatGoal) -> None:
        """Store ``goal`` as the current notebook's chat goal (store lane; checked again there)."""
        library = self.library_getter() if self.library_getter is not None else None
        notebook = self.notebook_id
        if library is None or not notebook:
            return
        self.goal = goal
        self._show_goal()

        def store() -> Any:
            from notebooklm_local.core.chat_goals import set_notebook_goal

            stored = set_notebook_goal(library, notebook, goal.goal, goal.persona, goal.length)
            return notebook, stored, library.notebook(notebook).name

        self._run_goal_worker(store)

    # -- history: earlier chats of the notebook ---------------------------------------------------

    def load_session(self, session_id: str | None, *, show: bool = True) -> None:
        """Show a stored chat of the current notebook (None: its latest) and continue it (store lane).

        ``show`` False only refreshes the list of sessions (the History menu)."""
        library = self.library_getter() if self.library_getter is not None else None
        notebook = self.notebook_id
        if library is None or not notebook or self.busy:
            return

        def load() -> Any:
            from notebooklm_local.core.chat_store import ChatStore

            store = ChatStore(library)
            sessions = store.sessions(notebook)
            chosen = next((x for x in sessions if x.id == session_id), None) if session_id else \
                (sessions[0] if sessions else None)
            messages = store.messages(chosen.id) if chosen is not None else []
            return notebook, sessions, chosen if show else None, messages if show else []

        BackgroundOp(self, load, lanes=self.lanes, lane="store", on_success=self._on_session_loaded,
                     on_failure=_history_not_read, label="Chat history").run()

    @Slot(object)
    def _on_session_loaded(self, got: Any) -> None:
        notebook, sessions, chosen, messages = got
        if notebook != self.notebook_id:
            return  # the user moved on
        self.sessions = list(sessions)
        if self.busy:
            return
        if chosen is None or (self._answers and chosen.id == self.session_id):
            return
        from notebooklm_local.ui.rich_text import answer_from_json

        self.new_session()
        self.session_id = chosen.id
        for m in messages:
            if m.role == "user":
                self._history_html.append(f'<p style="margin-top:12px"><b>You:</b> {html.escape(m.content)}</p>')
            elif m.role == "assistant":
                self._answers += 1
                try:
                    answer = answer_from_json(m.payload) if m.payload.get("sentences") is not None else None
                except Exception:  # noqa: BLE001 - an old or damaged record: show its text
                    answer = None
                if answer is None:
                    self._history_html.append(f"<p><b>Answer:</b></p><p>{html.escape(m.content)}</p>")
                    continue
                for c in answer.citations:
                    self._citations[(self._answers, c.passage_id)] = c
                mode = str(m.payload.get("mode", "")) if isinstance(m.payload, dict) else ""
                cut = str(m.payload.get("cut_off", "") or "") if m.payload.get("cancelled") else ""
                scope = str(m.payload.get("scope", "") or "")
                self._history_html.append(
                    f"<p><b>Answer:</b></p>{answer_html(answer, self._answers, mode=mode, cut_off=cut, scope=scope)}")
        when = time.strftime("%d %b %H:%M", time.localtime(chosen.updated))
        self._history_html.append(f'<p style="color:{css("muted")};font-size:small">— chat of {when}; ask to continue it, '
                                  "or start a New chat —</p>")
        self._render(streaming=False)

    @Slot()
    def _fill_history_menu(self) -> None:
        self.history_menu.clear()
        if not self.sessions:
            a = self.history_menu.addAction("No earlier chats in this notebook")
            a.setEnabled(False)
            return
        for sess in self.sessions[:30]:
            when = time.strftime("%d %b %H:%M", time.localtime(sess.updated))
            title = (sess.title or "Untitled chat")[:60]
            a = self.history_menu.addAction(f"{title} — {when}")
            a.setData(sess.id)
            a.setCheckable(True)
            a.setChecked(sess.id == self.session_id)

    def set_sources(self, source_ids: list[str]) -> None:
        self.source_ids = source_ids

    @property
    def scope(self) -> str:
        """Where questions are answered from: ``notebook`` (its ticked sources) or ``all`` (every notebook)."""
        return "all" if self.scope_action.isChecked() else "notebook"

    def set_scope(self, scope: str) -> None:
        self.scope_action.setChecked(scope == "all")

    @Slot(bool)
    def _on_scope_toggled(self, on: bool) -> None:
        self.input.setPlaceholderText("Ask across all notebooks… (Ctrl+Enter to send)" if on else
                                      "Ask about your sources… (Ctrl+Enter to send)")
        self.status.setText("Answers come from every notebook's sources; citations name the notebook." if on else
                            "Answers come from this notebook's selected sources.")

    @property
    def busy(self) -> bool:
        return self.answer_op is not None and not self.answer_op.done

    @property
    def mode(self) -> str:
        """The answer mode chosen in the panel: ``auto``, ``generate`` or ``quotes``."""
        return str(self.mode_box.currentData() or "auto")

    def set_mode(self, mode: str) -> None:
        i = self.mode_box.findData(mode)
        if i >= 0:
            self.mode_box.setCurrentIndex(i)

    @Slot()
    def new_session(self) -> None:
        if self.busy:
            return
        self.session_id = None
        self._history_html = []
        self._citations = {}
        self._results = {}
        self.transcript.clear()

    @Slot()
    def send(self) -> None:
        question = self.input.toPlainText().strip()
        if not question or self.busy or not self.notebook_id:
            if not self.notebook_id:
                self.status.setText(NO_NOTEBOOK)
            return
        self.input.clear()
        self._history_html.append(f'<p style="margin-top:12px"><b>You:</b> {html.escape(question)}</p>')
        self._streamed = ""
        self._pending = []
        self.repaints = 0
        self.stages = []  # what the status line said while this answer was made
        self._render(streaming=True)
        notebook, session, sources = self.notebook_id, self.session_id, self.source_ids
        mode, scope = self.mode, self.scope
        if scope == "all":
            sources = None  # every notebook's ready sources: this notebook's ticks do not apply
        discard = self._discard = threading.Event()

        def keep_stopped() -> bool:
            return not discard.is_set()

        def run(cancel: Any, progress: Any) -> Any:
            if self.chat is None:
                progress(0, 0, "Opening the index…" if mode == "quotes" else "Loading the model…")
                self.chat = self.chat_factory()
            progress(0, 0, "Finding the passages…")
            return self.chat.ask(notebook, question, session_id=session, new_session=session is None,
                                 source_ids=sources, on_token=op.post, cancel=cancel, mode=mode,
                                 on_stage=lambda text: progress(0, 0, text), store_stopped=keep_stopped,
                                 scope=scope)

        # the streamed tokens are posted through the op (queued to the GUI thread, batched by the flush timer)
        op = self.answer_op = BackgroundOp(self, run, lanes=self.lanes, lane="llm", context=True,
                                           on_success=self._on_answer, on_failure=self._on_failed,
                                           on_progress=self._on_progress, on_post=self._on_token,
                                           on_finished=self._on_finished, label="Chat")
        self.stop_button.setEnabled(True)
        self.send_button.setEnabled(False)
        self.busy_changed.emit(True)
        self._flush_timer.start()
        op.run()

    @Slot()
    def stop(self, *, discard: bool = False) -> None:
        """Stop the answer being written: what it wrote is stored as stopped, or nothing when ``discard``
        (the window closes)."""
        if self.answer_op is not None and not self.answer_op.done:
            if discard:
                self._discard.set()
            self.answer_op.cancel()
            self.status.setText("Stopping…")

    # -- slots ----------------------------------------------------------------------------------

    @Slot(str)
    def _on_token(self, piece: str) -> None:
        self._pending.append(piece)

    @Slot()
    def _flush(self) -> None:
        if not self._pending:
            return
        self._streamed += "".join(self._pending)
        self._pending = []
        self.repaints += 1
        self._render(streaming=True)

    @Slot(int, int, str)
    def _on_progress(self, _done: int, _total: int, message: str) -> None:
        self.status.setText(message)
        self.stages.append(message)

    @Slot(object)
    def _on_answer(self, result: Any) -> None:
        self._flush_timer.stop()
        self._pending = []
        self.last_result = result
        self.session_id = result.session_id
        self._answers += 1
        for c in result.answer.citations:
            self._citations[(self._answers, c.passage_id)] = c
        self._results[self._answers] = result
        goal = getattr(result, "goal", None)
        if isinstance(goal, ChatGoal) and goal != self.goal:  # changed meanwhile (`chat-goal set`): shown as used
            self.goal = goal
            self._show_goal()
        self.load_session(None, show=False)  # the History menu lists this chat too
        actions = (_actions_html(self._answers, save=not result.cancelled and not is_no_answer(result.answer))
                   if result.answer.text.strip() else "")
        self._history_html.append(f"<p><b>Answer:</b></p>{answer_html(result, self._answers)}{actions}")
        self._streamed = ""
        self._render(streaming=False)
        g = result.generation
        if getattr(result, "mode", "") == "quotes":
            ms = 1000 * float(result.timings.get("total_s", 0.0))
            self.status.setText(f"Quoted in {ms:.0f} ms (nothing generated).")
        elif g is not None:
            self.status.setText(f"{g.completion_tokens} tokens, {g.tokens_per_s:.1f} tok/s"
                                + (" — stopped" if result.cancelled else ""))
        self.answer_finished.emit(result)

    @Slot(object)
    def _on_failed(self, exc: object) -> None:
        from notebooklm_local.core.errors import Cancelled

        self._flush_timer.stop()
        if isinstance(exc, Cancelled):  # stopped before the model wrote anything: nothing was stored
            self._history_html.append("<p><i>Stopped before the answer started (not saved).</i></p>")
            self.status.setText("Stopped.")
        else:
            log.warning("chat failed: %s", exc)
            self._history_html.append(f'<p style="color:{css("error")}">{html.escape(str(exc))}</p>')
            self.status.setText("The answer failed; see the message above.")
        self._streamed = ""
        self._render(streaming=False)

    @Slot()
    def _on_finished(self) -> None:
        self.stop_button.setEnabled(False)
        self.send_button.setEnabled(True)
        self.busy_changed.emit(False)

    @Slot(QUrl)
    def _on_anchor_clicked(self, url: QUrl) -> None:
        link = url.toString()
        for scheme, action in (("note:", self.save_to_note), ("copy:", self.copy_answer)):
            if link.startswith(scheme):
                try:
                    action(int(link[len(scheme):]))
                except ValueError:
                    pass
                return
        c = self._citation_for(link)
        if c is not None:
            self.citation_activated.emit(c)

    # -- save / copy ----------------------------------------------------------------------------

    def save_to_note(self, key: int) -> bool:
        """Save answer ``key`` (1 = the first of this chat) as a note with its citations, on the store lane."""
        result = self._results.get(key)
        if result is None or self.chat is None or not self.notebook_id or getattr(result, "cancelled", False):
            return False
        library = self.chat.library.library
        notebook, answer, session = self.notebook_id, result.answer, result.session_id
        title = " ".join(str(getattr(result, "question", "")).split())[:200]  # as `ask --save-note` titles it
        body = answer_note_body(answer, getattr(result, "mode", "generate"))

        def run() -> Any:
            return NoteStore(library).add(notebook, title, body, citations=[c.to_json() for c in answer.citations],
                                          origin_kind="chat", origin_id=session or "")

        self.status.setText("Saving the answer as a note…")
        BackgroundOp(self, run, lanes=self.lanes, lane="store", on_success=self._on_note_saved,
                     on_failure=self._on_note_failed, label="Save to note").run()
        return True

    def _on_note_saved(self, note: Any) -> None:
        self.status.setText(f"Saved as the note \u201c{note.title}\u201d.")
        self.note_saved.emit(note.id)

    def _on_note_failed(self, exc: object) -> None:
        log.warning("saving an answer as a note failed: %s", exc)
        self.status.setText(f"Not saved: {exc}")

    def copy_answer(self, key: int) -> str:
        """Copy answer ``key`` as Markdown with footnote citations; returns what was copied."""
        result = self._results.get(key)
        if result is None:
            return ""
        text = answer_markdown(result.answer)
        QGuiApplication.clipboard().setText(text)
        self.status.setText("Answer copied as Markdown.")
        return text

    @Slot(QUrl)
    def _on_anchor_hovered(self, url: QUrl | str) -> None:
        link = url.toString() if isinstance(url, QUrl) else str(url or "")  # QTextBrowser.highlighted sends a QUrl
        c = self._citation_for(link)
        if c is not None:
            from notebooklm_local.ui.rich_text import citation_tooltip

            QToolTip.showText(QCursor.pos(), citation_tooltip(c), self.transcript)
        else:
            QToolTip.hideText()

    def _citation_for(self, link: str) -> Any:
        if not link.startswith("cite:"):
            return None
        try:
            key, pid = link[5:].split(":", 1)
            return self._citations.get((int(key), int(pid)))
        except ValueError:
            return None

    def _render(self, *, streaming: bool) -> None:
        body = "".join(self._history_html)
        if streaming:
            body += f"<p><b>Answer:</b> {html.escape(self._streamed)}\u2026</p>"
        self.transcript.setHtml(recolor(body))  # parts written before a change of theme take the new one
        sb = self.transcript.verticalScrollBar()
        sb.setValue(sb.maximum())
