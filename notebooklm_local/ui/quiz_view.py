"""Quiz mode: one multiple-choice question at a time. Click an option to answer; the answer is revealed at once
(right or wrong, the right option marked, the explanation and a citation chip that opens the passage); Next
goes on; after the last question the score, with every question's outcome; Restart begins again.

Works for any quiz whose questions have ``stem``, ``options``, ``correct``, ``answer``, ``explanation`` and
``citation`` (the model-free quiz of ``core/cards.py`` and the one the model writes, ``cards_gen.py``).
Keys: 1-4 (or A-D) answer, Enter / Right arrow next.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from notebooklm_local.ui.rich_text import CitationBrowser, chip
from notebooklm_local.ui.theme import css

__all__ = ["QuizView"]

LETTERS = "ABCD"


class QuizView(QWidget):
    """The quiz. ``next_key`` gives unique keys for citation links (the studio pane's counter)."""

    citation_activated = Signal(object)
    finished = Signal(int, int)  # right, total

    def __init__(self, next_key: Callable[[], int] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._keys = next_key or self._own_key
        self._n = 0
        self.questions: list[Any] = []
        self.i = 0
        self.answers: dict[int, int] = {}  # question index -> chosen option
        self.done = False
        layout = QVBoxLayout(self)
        self.counter = QLabel("")
        self.counter.setObjectName("quiz-counter")
        layout.addWidget(self.counter)
        self.stem = QLabel("")
        self.stem.setObjectName("quiz-stem")
        self.stem.setWordWrap(True)
        self.stem.setTextFormat(Qt.TextFormat.PlainText)
        f = self.stem.font()
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.stem.setFont(f)
        layout.addWidget(self.stem)
        self.options: list[QPushButton] = []
        for n in range(4):
            b = QPushButton("")
            b.setObjectName(f"quiz-option-{n}")
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            b.setStyleSheet("text-align:left;padding:6px 10px")
            b.clicked.connect(self._on_option)
            self.options.append(b)
            layout.addWidget(b)
            for key in (str(n + 1), LETTERS[n]):
                sc = QShortcut(QKeySequence(key), self)
                sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                sc.activated.connect(b.click)
        self.feedback = CitationBrowser()
        self.feedback.setObjectName("quiz-feedback")
        self.feedback.setAccessibleName("Quiz feedback")
        self.feedback.setMinimumHeight(90)
        self.feedback.setMaximumHeight(220)
        self.feedback.citation_activated.connect(self.citation_activated)
        layout.addWidget(self.feedback)
        layout.addStretch(1)  # the question stays at the top; free room goes below it
        row = QHBoxLayout()
        self.score = QLabel("")
        self.score.setObjectName("quiz-score")
        row.addWidget(self.score, 1)
        self.restart_button = QPushButton("\u21ba Restart")
        self.restart_button.setObjectName("quiz-restart")
        self.restart_button.setAccessibleName("Restart the quiz")  # not "clockwise open circle arrow Restart"
        self.restart_button.setToolTip("Start the quiz again (answers cleared)")
        self.restart_button.clicked.connect(self.restart)
        self.next_button = QPushButton("Next \u25b6")
        self.next_button.setObjectName("quiz-next")
        self.next_button.setAccessibleName("Next question")
        self.next_button.clicked.connect(self.next)
        for key in ("Return", "Right"):
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(self.next_button.click)
        row.addWidget(self.restart_button)
        row.addWidget(self.next_button)
        layout.addLayout(row)
        self.set_questions([])

    def _own_key(self) -> int:
        self._n += 1
        return self._n

    # -- state ----------------------------------------------------------------------------------
    @property
    def right(self) -> int:
        return sum(1 for i, a in self.answers.items() if a == self.questions[i].correct)

    def set_questions(self, questions: Sequence[Any]) -> None:
        self.questions = list(questions)
        self.restart()

    @Slot()
    def restart(self) -> None:
        self.answers = {}
        self.done = False
        self.show_question(0)

    def show_question(self, i: int) -> None:
        self.done = False
        self.feedback.setMaximumHeight(220)
        self.feedback.clear_content()
        if not self.questions:
            self.counter.setText("")
            self.stem.setText("No question: the selected sources gave none that passed the checks.")
            for b in self.options:
                b.hide()
            self.next_button.setEnabled(False)
            self.restart_button.setEnabled(False)
            self._score()
            return
        self.i = max(0, min(i, len(self.questions) - 1))
        q = self.questions[self.i]
        diff = getattr(getattr(q, "card", None), "difficulty", "")
        self.counter.setText(f"Question {self.i + 1} of {len(self.questions)}" + (f" \u00b7 {diff}" if diff else ""))
        self.stem.setText(q.stem)
        for n, b in enumerate(self.options):
            b.setVisible(n < len(q.options))
            b.setText(f"{LETTERS[n]})  {q.options[n]}" if n < len(q.options) else "")
            b.setAccessibleName(f"Option {LETTERS[n]}")
        self.restart_button.setEnabled(bool(self.answers))
        if self.i in self.answers:
            self._reveal()
        else:
            self._paint_options(None)
            self.feedback.set_content(f'<p style="color:{css("muted")}">Click an option (or press 1\u20134) to '
                                      "answer.</p>", {})
            self.next_button.setEnabled(False)
            self.next_button.setText("Next \u25b6")
            self.next_button.setAccessibleName("Next question")
        self._score()

    # -- answering ------------------------------------------------------------------------------
    @Slot()
    def _on_option(self) -> None:
        sender = self.sender()
        if sender in self.options:
            self.answer(self.options.index(sender))

    def answer(self, n: int) -> None:
        """Answer the current question with option ``n`` (ignored once it is answered) and reveal."""
        if self.done or not self.questions or self.i in self.answers or not 0 <= n < len(self.questions[self.i].options):
            return
        self.answers[self.i] = n
        self._reveal()
        self._score()

    def _paint_options(self, q: Any) -> None:
        chosen = self.answers.get(self.i) if q is not None else None
        for n, b in enumerate(self.options):
            style = "text-align:left;padding:6px 10px"
            if q is not None and n == q.correct:
                style += f";border:2px solid {css('success')};color:{css('success')};font-weight:bold"
            elif q is not None and n == chosen:
                style += f";border:2px solid {css('error')};color:{css('error')};text-decoration:line-through"
            elif q is not None:
                style += f";color:{css('muted')}"
            b.setStyleSheet(style)
            # answered: the buttons stay enabled (disabled text would be too faint to read) but answer() ignores them
            b.setCursor(Qt.CursorShape.ArrowCursor if q is not None else Qt.CursorShape.PointingHandCursor)
            if q is not None and n == q.correct and not b.text().startswith("\u2714"):
                b.setText("\u2714 " + b.text())
            elif q is not None and n == chosen and n != q.correct and not b.text().startswith("\u2718"):
                b.setText("\u2718 " + b.text())

    def _reveal(self) -> None:
        q = self.questions[self.i]
        self._paint_options(q)
        ok = self.answers[self.i] == q.correct
        key = self._keys()
        link = f"cite:{key}:{q.citation.passage_id}"
        verdict = (f'<b style="color:{css("success")}">\u2714 Correct.</b>' if ok else
                   f'<b style="color:{css("error")}">\u2718 Incorrect</b> \u2014 the answer is '
                   f"<b>{html.escape(q.answer)}</b>.")
        loc = html.escape(q.citation.source_title + (f", {q.citation.location}" if q.citation.location else ""))
        self.feedback.set_content(
            f"<p>{verdict}</p><p>{html.escape(q.explanation)}{chip(link, 'source')}</p>"
            f'<p style="color:{css("muted")};font-size:small">{loc}</p>', {link: q.citation})
        last = self.i + 1 >= len(self.questions)
        self.next_button.setText("See the score" if last else "Next \u25b6")
        self.next_button.setAccessibleName("See the score" if last else "Next question")
        self.next_button.setEnabled(True)
        self.restart_button.setEnabled(True)

    @Slot()
    def next(self) -> None:
        if not self.questions or self.done:
            return
        if self.i + 1 < len(self.questions):
            self.show_question(self.i + 1)
        elif len(self.answers) == len(self.questions):
            self.show_score()
        else:  # questions skipped with the keyboard: go to the first unanswered one
            self.show_question(min(set(range(len(self.questions))) - set(self.answers)))

    def show_score(self) -> None:
        """The end: the score and each question's outcome."""
        self.done = True
        total = len(self.questions)
        right = self.right
        self.counter.setText("Quiz finished")
        self.stem.setText(f"You got {right} of {total} right ({round(100 * right / max(1, total))} %).")
        for b in self.options:
            b.hide()
        rows = []
        for i, q in enumerate(self.questions):
            ok = self.answers.get(i) == q.correct
            mark = (f'<span style="color:{css("success")}">\u2714</span>' if ok else
                    f'<span style="color:{css("error")}">\u2718</span>')
            rows.append(f"<li>{mark} {html.escape(q.stem)} \u2014 <b>{html.escape(q.answer)}</b></li>")
        self.feedback.setMaximumHeight(16777215)  # the whole list of outcomes
        self.feedback.set_content(f"<ol>{''.join(rows)}</ol>", {})
        self.next_button.setEnabled(False)
        self.restart_button.setEnabled(True)
        self._score()
        self.finished.emit(right, total)

    def _score(self) -> None:
        if not self.answers:
            self.score.setText("")
            return
        self.score.setText(f"Score: {self.right} / {len(self.answers)} answered" +
                           (f" of {len(self.questions)}" if len(self.answers) < len(self.questions) else ""))
