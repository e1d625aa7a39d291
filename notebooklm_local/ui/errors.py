"""The one way the GUI shows an error: a small dialog with the message and a "Copy details" button.

``show_error`` never blocks: the dialog is window-modal over ``parent`` (or application-modal without
one) and opened with ``open()``, so it is safe to call from a slot and in tests. Details (a traceback,
a log excerpt) are collapsed under the message; "Copy details" puts the title, the message, the details
and the app/Qt/Python versions on the clipboard for a bug report. ``show_exception`` picks the text for
an exception: nothing for a user's cancel, the message of a :class:`NotebookError` (it is written for the
user), the type and message of anything else; the traceback goes into the details either way.
"""

from __future__ import annotations

import logging
import platform
import sys
import traceback

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QFontDatabase, QGuiApplication, QTextCharFormat
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local import __version__
from notebooklm_local.core.errors import Cancelled, NotebookError

__all__ = ["ErrorDialog", "show_error", "show_exception", "exception_details", "guard_none_refcount", "NO_NOTEBOOK"]

# what every pane says when it is asked to work with no notebook open (there may be none yet)
NO_NOTEBOOK = "No notebook is open: choose one in the toolbar, or create one with “+ New notebook”."

log = logging.getLogger(__name__)

# Dialogs without a parent are kept here until closed, so Python does not delete them while shown
# (Anki's ``_mbox`` for the same reason).
_open: set[ErrorDialog] = set()


_none_guarded = False


def guard_none_refcount() -> None:
    """Keep PySide6 6.12.0 on CPython 3.11 from crashing the app ("none_dealloc: deallocating None").

    That PySide6 (an abi3 wheel) returns ``None`` from every void method without taking a reference, so
    each call (``label.setText``, ``highlighter.setFormat``...) drops one reference to ``None``; after a
    few thousand calls CPython deallocates ``None`` and aborts; ``Signal.emit()`` does the same to ``True``.
    PySide6 6.11.2 and CPython 3.12+ (where both are immortal) are not affected. When a leak is measured,
    the object gets 2**40 references of headroom, which is what 3.12 does for it. Idempotent and cheap;
    called by the widgets of this package (the app should call it once at start-up).
    """
    global _none_guarded
    if _none_guarded or sys.version_info >= (3, 12) or platform.python_implementation() != "CPython":
        return
    _none_guarded = True
    probe = QTextCharFormat()
    before = sys.getrefcount(None)
    for _ in range(64):
        probe.setFontItalic(True)
    if sys.getrefcount(None) <= before - 32:
        import ctypes

        ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40
        log.warning("PySide6 %s drops references to None on this Python; applied the workaround", pyside_version)
    # the same PySide6 returns ``True`` from every ``Signal.emit()`` without taking a reference: a streamed
    # answer (one emit per token) would soon deallocate True ("bool_dealloc") and abort
    relay = _EmitProbe()
    before = sys.getrefcount(True)
    for _ in range(64):
        relay.ping.emit()
    if sys.getrefcount(True) <= before - 32:
        import ctypes

        for obj in (True, False):
            ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
        log.warning("PySide6 %s drops references to True on Signal.emit(); applied the workaround", pyside_version)


class _EmitProbe(QObject):
    ping = Signal()


class ErrorDialog(QDialog):
    """An error message with optional details and a "Copy details" button."""

    def __init__(self, parent: QWidget | None, title: str, message: str, details: str = "") -> None:
        guard_none_refcount()
        super().__init__(parent)
        self.setObjectName("error-dialog")
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.title, self.message, self.details = title, message, details
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(40, 40))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        row.addWidget(icon)
        text = QLabel(f"<b>{_escape(title)}</b><br>{_escape(message)}")
        text.setObjectName("error-message")
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text.setMinimumWidth(380)
        row.addWidget(text, 1)
        layout.addLayout(row)
        self.details_view = QPlainTextEdit(details)
        self.details_view.setObjectName("error-details")
        self.details_view.setReadOnly(True)
        self.details_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details_view.setMinimumHeight(160)
        self.details_view.setVisible(False)
        layout.addWidget(self.details_view, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.toggle_button = QPushButton("Show details")
        self.toggle_button.setEnabled(bool(details))
        self.toggle_button.clicked.connect(self._on_toggle_clicked)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.setObjectName("error-copy")
        self.copy_button.setToolTip("Copy the message, the details and the versions, for a bug report")
        self.copy_button.clicked.connect(self._on_copy_clicked)
        buttons.addButton(self.toggle_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.finished.connect(self._on_finished)

    def report(self) -> str:
        """What "Copy details" copies."""
        parts = [self.title, self.message]
        if self.details:
            parts.append(self.details.rstrip())
        parts.append(f"notebooklm-local {__version__}; PySide6 {pyside_version}; Python {platform.python_version()}; "
                     f"{platform.platform()}")
        return "\n\n".join(parts) + "\n"

    @Slot()
    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.report())
        self.copy_button.setText("Copied")

    @Slot()
    def _on_toggle_clicked(self) -> None:
        shown = not self.details_view.isVisible()
        self.details_view.setVisible(shown)
        self.toggle_button.setText("Hide details" if shown else "Show details")
        self.adjustSize()

    @Slot(int)
    def _on_finished(self, _result: int) -> None:
        _open.discard(self)


def _escape(text: str) -> str:
    import html

    return html.escape(text).replace("\n", "<br>")


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> ErrorDialog:
    """Show an error without blocking; returns the dialog (already open)."""
    log.info("error shown: %s: %s", title, message)
    dialog = ErrorDialog(parent, title, message, details)
    if parent is None:
        _open.add(dialog)
    dialog.open()
    return dialog


def exception_details(exc: BaseException) -> str:
    """The traceback of ``exc`` (it keeps the frames of the worker thread that raised it)."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def show_exception(parent: QWidget | None, title: str, exc: BaseException) -> ErrorDialog | None:
    """Show ``exc``: nothing for Cancelled, the user-facing message of a NotebookError, else type and message."""
    if isinstance(exc, Cancelled):
        return None
    message = str(exc) if isinstance(exc, NotebookError) else f"Unexpected error: {type(exc).__name__}: {exc}"
    return show_error(parent, title, message, exception_details(exc))
