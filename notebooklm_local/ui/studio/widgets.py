"""Widgets the studio tabs share: the job bar (progress, stage, Cancel, the last message) and small
builders for the tabs' combo boxes and buttons. Their own module so that the Extract tab and the other
studio tabs use them without importing the studio pane (which imports them)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.services.studio.stages import UNIT_STEPS, StageReport
from notebooklm_local.ui.theme import css

__all__ = ["JobBar", "_button", "_combo"]


class JobBar(QWidget):
    """A tab's job: progress bar with the step message and a Cancel button; below, the tab's last message.

    Progress is stored when it arrives and painted by :meth:`flush` (the pane's 50 ms timer).
    """

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{name}-job")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.row = QWidget()
        row = QHBoxLayout(self.row)
        row.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setObjectName(f"{name}-progress")
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.message = QLabel("")
        self.message.setObjectName(f"{name}-progress-message")
        self.message.setWordWrap(True)  # a long stage line wraps; it never widens the window
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName(f"{name}-cancel")
        self.cancel_button.setAccessibleName("Cancel the job")
        col = QVBoxLayout()
        col.setSpacing(1)
        col.addWidget(self.progress)
        col.addWidget(self.message)
        row.addLayout(col, 1)
        row.addWidget(self.cancel_button)
        layout.addWidget(self.row)
        self.notice = QLabel("")
        self.notice.setObjectName(f"{name}-message")
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice.setVisible(False)
        layout.addWidget(self.notice)
        self.attempts: list[tuple[str, str]] = []  # the model's rejected outputs of the last failure
        self.attempts_button = QPushButton("What the model wrote (rejected)…")
        self.attempts_button.setObjectName(f"{name}-attempts")
        self.attempts_button.setAccessibleName("Show what the model wrote; it was rejected")
        self.attempts_button.setFlat(True)
        self.attempts_button.setVisible(False)
        self.attempts_button.clicked.connect(self.show_attempts)
        layout.addWidget(self.attempts_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.attempts_dialog: QDialog | None = None
        self.row.setVisible(False)
        self._pending: tuple[int, int, str] | None = None
        self.kind = ""  # "error" | "info" | ""
        self.updates = 0  # progress repaints (tests check that updates are batched)
        self.stage: StageReport | None = None  # the job's last stage report (repainted with the GUI's clock)
        self._stage_new = False
        self._painted = 0.0
        self._held = False

    @property
    def text(self) -> str:
        return self.notice.text() if not self.notice.isHidden() else ""

    def begin(self, message: str) -> None:
        self.clear_notice()
        self._pending = None
        self.stage, self._stage_new, self._held = None, False, False
        self.progress.setRange(0, 0)
        self.message.setText(message)
        self.cancel_button.setEnabled(True)
        self.row.setVisible(True)

    def queue(self, done: int, total: int, message: str) -> None:
        self._pending = (done, total, message)

    def queue_stage(self, report: StageReport) -> None:
        """A structured stage report: from now on the bar shows it (the plain messages say the same)."""
        self.stage, self._stage_new = report, True

    def hold(self, message: str) -> None:
        """Show ``message`` (e.g. "Cancelling…") and ignore further progress until the next job."""
        self._held = True
        self.message.setText(message)

    def flush(self) -> None:
        if self._held:
            return
        if self.stage is not None:
            self._flush_stage()
            return
        if self._pending is None:
            return
        done, total, message = self._pending
        self._pending = None
        self.updates += 1
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(max(0, min(done, total)))
        else:
            self.progress.setRange(0, 0)
        if message:
            self.message.setText(message)

    def _flush_stage(self) -> None:
        """Paint the stage: a new report at most 10 times a second; with nothing new, every half second (the
        seconds and the time left move on by the GUI's clock; the reporter's clock is the same monotonic one)."""
        now = time.monotonic()
        if now - self._painted < (0.1 if self._stage_new else 0.5):
            return
        r = self.stage
        assert r is not None
        self._stage_new = False
        self._painted = now
        self.updates += 1
        if r.total > 0:
            steps = r.total * UNIT_STEPS
            self.progress.setRange(0, steps)
            self.progress.setValue(int(r.fraction(now) * steps))
        else:
            self.progress.setRange(0, 0)
        text = r.text(now)
        if text != self.message.text():
            self.message.setText(text)

    def end(self) -> None:
        self._pending = None
        self.stage = None
        self.row.setVisible(False)
        self.cancel_button.setEnabled(False)

    def show_error(self, text: str, attempts: Sequence[tuple[str, str]] = ()) -> None:
        self._notice(text, "error", f"color:{css('error')}")
        self.attempts = list(attempts)
        self.attempts_button.setVisible(bool(self.attempts))

    @Slot()
    def show_attempts(self) -> None:
        """The rejected outputs, each with why it was rejected: to look at, never used as a result."""
        if not self.attempts:
            return
        dialog = QDialog(self)
        dialog.setObjectName("studio-attempts-dialog")
        dialog.setWindowTitle("What the model wrote (rejected)")
        dialog.resize(720, 480)
        lay = QVBoxLayout(dialog)
        intro = QLabel("These outputs failed the studio's checks and were not used. They are shown so you can "
                       "see what the model did; a larger model usually passes.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        view = QPlainTextEdit()
        view.setObjectName("studio-attempts-text")
        view.setReadOnly(True)
        view.setPlainText("\n\n".join(f"— Attempt {n}, rejected: {reason or 'no reason given'}\n\n"
                                        f"{text.strip() or '(empty)'}"
                                        for n, (text, reason) in enumerate(self.attempts, 1)))
        lay.addWidget(view, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        lay.addWidget(buttons)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.attempts_dialog = dialog
        dialog.open()

    def show_info(self, text: str) -> None:
        self._notice(text, "info", f"color:{css('success')}")

    def _notice(self, text: str, kind: str, style: str) -> None:
        self.kind = kind
        self.notice.setStyleSheet(style)
        self.notice.setText(text)
        self.notice.setVisible(True)

    def clear_notice(self) -> None:
        self.kind = ""
        self.notice.clear()
        self.notice.setVisible(False)
        self.attempts = []
        self.attempts_button.setVisible(False)


def _combo(name: str, items: Sequence[tuple[str, str]], current: str) -> QComboBox:
    box = QComboBox()
    box.setObjectName(name)
    for label, value in items:
        box.addItem(label, value)
    i = box.findData(current)
    box.setCurrentIndex(max(0, i))
    return box


def _button(text: str, name: str, slot: Callable[[], None], tip: str = "") -> QPushButton:
    b = QPushButton(text)
    b.setObjectName(name)
    b.setAccessibleName(text.rstrip("…"))
    if tip:
        b.setToolTip(tip)
    b.clicked.connect(slot)
    return b
