"""The chat side panel: ask, watch the answer stream, read its citations, stop.

The panel runs ``ChatService.ask`` (the same code as the CLI's ``ask``) on the ``llm`` lane. Tokens
arrive as queued signals and are painted in batches by a timer (not one repaint per token). When the
answer is done it is re-drawn from the *checked* answer: citation chips ``[n]`` link to the passage
(hover shows the quote, click opens the source at the passage), unsupported sentences are marked.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QCursor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.core.citations import strip_markers
from notebooklm_local.ui.workers import FunctionWorker, Lanes

__all__ = ["ChatPanel"]

log = logging.getLogger(__name__)

FLUSH_MS = 50  # batched repaint of streamed tokens


class _TokenRelay(QObject):
    """Carries tokens from the worker thread to the GUI thread (queued signal)."""

    token = Signal(str)


def citation_html(answer: Any, key: int = 0) -> str:
    """The checked answer as HTML: sentences with citation links (``cite:<key>:<id>``), unsupported ones marked."""
    parts: list[str] = []
    for s in answer.sentences:
        text = html.escape(strip_markers(s.text))
        chips = "".join(
            f' <a href="cite:{key}:{pid}" style="text-decoration:none"><span style="background:#dbe7ff;color:#1a3d8f;'
            f'border-radius:4px">&nbsp;{pid}&nbsp;</span></a>'
            for pid in s.citations
        )
        if s.supported:
            parts.append(f"{text}{chips}")
        else:
            parts.append(
                f'<span style="background:#fff1c2" title="{html.escape(s.flag)}">\u26a0 {text}</span>{chips}'
            )
    body = " ".join(parts) if parts else html.escape(answer.text)
    extra = ""
    flagged = [s for s in answer.sentences if not s.supported]
    if flagged:
        extra += (f'<div style="color:#8a5a00;font-size:small">\u26a0 {len(flagged)} sentence'
                  f'{"s are" if len(flagged) > 1 else " is"} not supported by the cited sources.</div>')
    for m in answer.removed_markers:
        extra += f'<div style="color:#8a5a00;font-size:small">Removed citation {html.escape(m)}: no such passage.</div>'
    for note in answer.notes:
        extra += f'<div style="color:#666;font-size:small">{html.escape(note)}</div>'
    if answer.citations:
        extra += '<div style="font-size:small;color:#444">Sources: ' + "; ".join(
            f'<a href="cite:{key}:{c.passage_id}">[{c.passage_id}] {html.escape(c.source_title)}'
            f'{", " + html.escape(c.location) if c.location else ""}</a>' for c in answer.citations
        ) + "</div>"
    return f"<div>{body}</div>{extra}"


class ChatPanel(QWidget):
    """Chat with the current notebook. ``chat_factory`` builds the ChatService (on the llm lane)."""

    citation_activated = Signal(object)  # a Citation: the main window opens the source viewer
    answer_finished = Signal(object)  # AskResult
    busy_changed = Signal(bool)

    def __init__(self, lanes: Lanes, chat_factory: Callable[[], Any]) -> None:
        super().__init__()
        self.setObjectName("chat-pane")
        self.setAccessibleName("Chat")
        self.lanes = lanes
        self.chat_factory = chat_factory
        self.chat: Any = None
        self.notebook_id: str | None = None
        self.session_id: str | None = None
        self.source_ids: list[str] | None = None
        self.worker: FunctionWorker | None = None
        self.last_result: Any = None
        self._pending: list[str] = []
        self._streamed = ""
        self._history_html: list[str] = []
        self._citations: dict[tuple[int, int], Any] = {}  # (answer number, passage id) -> Citation
        self._answers = 0

        layout = QVBoxLayout(self)
        title = QLabel("<b>Chat</b>")
        title.setObjectName("chat-pane-title")
        layout.addWidget(title)
        self.transcript = QTextBrowser()
        self.transcript.setObjectName("chat-transcript")
        self.transcript.setAccessibleName("Chat transcript")
        self.transcript.setOpenLinks(False)
        self.transcript.setOpenExternalLinks(False)
        self.transcript.anchorClicked.connect(self._on_anchor_clicked)
        self.transcript.highlighted.connect(self._on_anchor_hovered)
        self.transcript.setPlaceholderText("Ask a question about the selected sources. Answers cite the passages "
                                           "they come from; sentences the sources do not support are marked \u26a0.")
        layout.addWidget(self.transcript, 1)
        self.input = QPlainTextEdit()
        self.input.setObjectName("chat-input")
        self.input.setAccessibleName("Question")
        self.input.setPlaceholderText("Ask about your sources… (Ctrl+Enter to send)")
        self.input.setMaximumHeight(90)
        layout.addWidget(self.input)
        row = QHBoxLayout()
        self.status = QLabel("")
        self.status.setObjectName("chat-status")
        row.addWidget(self.status, 1)
        self.new_button = QPushButton("New chat")
        self.new_button.setAccessibleName("New chat")
        self.new_button.clicked.connect(self.new_session)
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

        self._relay = _TokenRelay()
        self._relay.token.connect(self._on_token)
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)
        self.repaints = 0  # streamed repaints (tests check that tokens are batched)

    # -- public -------------------------------------------------------------------------------

    def set_notebook(self, notebook_id: str | None, source_ids: list[str] | None = None) -> None:
        if notebook_id != self.notebook_id:
            self.new_session()
        self.notebook_id = notebook_id
        self.source_ids = source_ids

    def set_sources(self, source_ids: list[str]) -> None:
        self.source_ids = source_ids

    @property
    def busy(self) -> bool:
        return self.worker is not None and not self.worker.done

    @Slot()
    def new_session(self) -> None:
        if self.busy:
            return
        self.session_id = None
        self._history_html = []
        self._citations = {}
        self.transcript.clear()

    @Slot()
    def send(self) -> None:
        question = self.input.toPlainText().strip()
        if not question or self.busy or not self.notebook_id:
            if not self.notebook_id:
                self.status.setText("Open a notebook first.")
            return
        self.input.clear()
        self._history_html.append(f'<p style="margin-top:12px"><b>You:</b> {html.escape(question)}</p>')
        self._streamed = ""
        self._pending = []
        self.repaints = 0
        self._render(streaming=True)
        notebook, session, sources, relay = self.notebook_id, self.session_id, self.source_ids, self._relay

        def run(cancel: Any, progress: Any) -> Any:
            if self.chat is None:
                progress(0, 0, "Loading the model…")
                self.chat = self.chat_factory()
            progress(0, 0, "Thinking…")
            return self.chat.ask(notebook, question, session_id=session, new_session=session is None,
                                 source_ids=sources, on_token=relay.token.emit, cancel=cancel)

        worker = FunctionWorker(run, pass_context=True)
        worker.signals.succeeded.connect(self._on_answer)
        worker.signals.failed.connect(self._on_failed)
        worker.signals.progress.connect(self._on_progress)
        worker.signals.finished.connect(self._on_finished)
        self.worker = worker
        self.stop_button.setEnabled(True)
        self.send_button.setEnabled(False)
        self.busy_changed.emit(True)
        self._flush_timer.start()
        self.lanes.submit(self.lanes.llm, worker)

    @Slot()
    def stop(self) -> None:
        if self.worker is not None and not self.worker.done:
            self.worker.cancel_token.cancel()
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

    @Slot(object)
    def _on_answer(self, result: Any) -> None:
        self._flush_timer.stop()
        self._pending = []
        self.last_result = result
        self.session_id = result.session_id
        self._answers += 1
        for c in result.answer.citations:
            self._citations[(self._answers, c.passage_id)] = c
        self._history_html.append(f"<p><b>Answer:</b></p>{citation_html(result.answer, self._answers)}")
        self._streamed = ""
        self._render(streaming=False)
        g = result.generation
        if g is not None:
            self.status.setText(f"{g.completion_tokens} tokens, {g.tokens_per_s:.1f} tok/s"
                                + (" — stopped" if result.cancelled else ""))
        self.answer_finished.emit(result)

    @Slot(object)
    def _on_failed(self, exc: object) -> None:
        from notebooklm_local.core.errors import Cancelled

        self._flush_timer.stop()
        if isinstance(exc, Cancelled):
            self._history_html.append("<p><i>Stopped.</i></p>")
            self.status.setText("Stopped.")
        else:
            log.warning("chat failed: %s", exc)
            self._history_html.append(f'<p style="color:#a00000">{html.escape(str(exc))}</p>')
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
        c = self._citation_for(url.toString())
        if c is not None:
            self.citation_activated.emit(c)

    @Slot(str)
    def _on_anchor_hovered(self, link: str) -> None:
        c = self._citation_for(link)
        if c is not None:
            loc = f", {c.location}" if c.location else ""
            QToolTip.showText(QCursor.pos(), f"<b>{html.escape(c.source_title)}{html.escape(loc)}</b><br>"
                                             f"\u201c{html.escape(c.quote[:400])}\u201d", self.transcript)
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
        self.transcript.setHtml(body)
        sb = self.transcript.verticalScrollBar()
        sb.setValue(sb.maximum())
