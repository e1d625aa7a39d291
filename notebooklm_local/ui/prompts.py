"""Small question dialogs sized for their title bar.

``QInputDialog.getText`` sizes the dialog for its label and line edit only (about 200 px), and the window
manager then cuts the title — with the application's name Qt appends to it ("New notebook — NotebookLM
Local") — to "New n… Local". The dialogs here are wide enough for the whole title as a window manager draws
it (a bold title font, an icon and three buttons) and for a name one types.
"""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QWidget

__all__ = ["ask_text", "text_dialog", "window_title_width"]

MIN_WIDTH = 360  # room for a name one types
TITLE_CHROME = 140  # the window manager's icon, minimise / maximise / close buttons and padding, in px


def window_title_width(title: str) -> int:
    """The width a window needs for ``title`` in its title bar (as the window manager shows it: with the
    application's display name Qt appends, in a bold font at least the application's size)."""
    app = QApplication.instance()
    name = app.applicationDisplayName() if isinstance(app, QApplication) else ""
    shown = f"{title} \u2014 {name}" if name and name not in title else title
    font = QFont(QApplication.font())
    font.setBold(True)
    return QFontMetrics(font).horizontalAdvance(shown) + TITLE_CHROME


def text_dialog(parent: QWidget | None, title: str, label: str, text: str = "") -> QInputDialog:
    """A one-line text question, wide enough for its whole title."""
    dlg = QInputDialog(parent)
    dlg.setInputMode(QInputDialog.InputMode.TextInput)
    dlg.setWindowTitle(title)
    dlg.setLabelText(label)
    dlg.setTextValue(text)
    dlg.setTextEchoMode(QLineEdit.EchoMode.Normal)
    width = max(MIN_WIDTH, window_title_width(title))
    # the dialog's layout keeps it at its contents' size (min and max), so the line edit carries the width
    edit = dlg.findChild(QLineEdit)
    m = dlg.layout().contentsMargins() if dlg.layout() is not None else None
    if edit is not None:
        edit.setMinimumWidth(width - (m.left() + m.right() if m is not None else 0))
    dlg.setMinimumWidth(width)
    return dlg


def ask_text(parent: QWidget | None, title: str, label: str, text: str = "") -> tuple[str, bool]:
    """Like ``QInputDialog.getText``: (the text, whether OK was pressed)."""
    dlg = text_dialog(parent, title, label, text)
    try:
        ok = bool(dlg.exec())
        return dlg.textValue(), ok
    finally:
        dlg.deleteLater()
