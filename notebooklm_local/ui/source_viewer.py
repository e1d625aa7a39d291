"""A source opened at a cited passage: its extracted text with the quoted span highlighted.

(PDF pages rendered with QtPdf come with the desktop-app issue; the text view works for every kind.)
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

__all__ = ["SourceViewer", "youtube_link"]


def youtube_link(url: str | None, t_start: float | None) -> str | None:
    if not url or t_start is None or not any(h in url for h in ("youtube.com", "youtu.be")):
        return None
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}t={int(t_start)}s"


class SourceViewer(QDialog):
    def __init__(self, title: str, text: str, citation: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("source-viewer")
        self.setWindowTitle(f"{title} — source")
        self.resize(760, 620)
        layout = QVBoxLayout(self)
        loc = f" — {citation.location}" if citation.location else ""
        header = QLabel(f"<b>{html.escape(title)}</b>{html.escape(loc)}")
        header.setObjectName("source-viewer-title")
        layout.addWidget(header)
        link = youtube_link(citation.url, citation.t_start)
        if link:
            video = QLabel(f'<a href="{html.escape(link)}">Open the video at {html.escape(citation.location)}</a>')
            video.setOpenExternalLinks(True)
            layout.addWidget(video)
        self.text = QTextBrowser()
        self.text.setObjectName("source-viewer-text")
        self.text.setAccessibleName("Source text")
        self.text.setPlainText(text)
        layout.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.highlighted = self.highlight(citation.start, citation.end)

    def highlight(self, start: int, end: int) -> str:
        """Mark ``text[start:end]`` (Python string offsets) and scroll to it; returns the highlighted text."""
        text = self.text.toPlainText()
        start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))

        def utf16(i: int) -> int:  # Qt counts UTF-16 code units (an emoji is two)
            return len(text[:i].encode("utf-16-le")) // 2

        start, end = utf16(start), utf16(end)
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        fmt = QTextCharFormat()
        fmt.setBackground(QColor("#ffe58a"))
        cursor.mergeCharFormat(fmt)
        view = QTextCursor(self.text.document())
        view.setPosition(start)
        self.text.setTextCursor(view)
        self.text.ensureCursorVisible()
        self.text.setFocus(Qt.FocusReason.OtherFocusReason)
        return cursor.selectedText()
