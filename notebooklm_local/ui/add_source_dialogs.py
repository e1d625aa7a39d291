"""Dialogs for adding sources that are not files: web pages, YouTube videos and pasted text.

They only collect and check what the user typed; the library service does the adding (and has the last
word: a URL that passes here can still fail to load, and then the source shows the loader's reason).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.ui.theme import css

__all__ = ["AddUrlDialog", "PasteTextDialog", "check_web_url", "check_youtube"]

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_DOMAIN = re.compile(r"(?:\w(?:[\w-]*\w)?\.)+\w[\w-]*\w\.?")


def check_web_url(text: str) -> tuple[str | None, str]:
    """Check one typed web address: (the URL to add, "") or (None, why it is not one).

    A missing scheme is completed with ``https://`` (people paste ``example.com/page``).
    """
    s = text.strip()
    if not s:
        return None, "Enter a web address."
    if any(c.isspace() for c in s):
        return None, f"“{_short(s)}” is not a web address (it contains spaces)."
    if not _SCHEME.match(s):
        s = "https://" + s.lstrip("/")
    try:
        parts = urlsplit(s)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None, f"“{_short(text.strip())}” is not a valid web address."
    if parts.scheme.lower() not in ("http", "https"):
        return None, f"Only http:// and https:// addresses can be added (not {parts.scheme}://)."
    host = parts.hostname or ""
    if not (host == "localhost" or _is_ip(host) or _DOMAIN.fullmatch(host)):
        return None, f"“{_short(text.strip())}” is not a valid web address. Enter one like https://example.com/article."
    return s, ""


def check_youtube(text: str) -> tuple[str | None, str]:
    """Check one YouTube link or video id: (the reference to add, "") or (None, why not)."""
    from notebooklm_local.services.loaders.youtube import parse_video_id  # imports requests: not at start

    s = text.strip()
    if not s:
        return None, "Enter a YouTube link or video id."
    if parse_video_id(s) is None:
        return None, f"“{_short(s)}” is not a YouTube video link (like https://www.youtube.com/watch?v=…)."
    return s, ""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _short(s: str, n: int = 60) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


class AddUrlDialog(QDialog):
    """Asks for one or more web pages (``kind="web"``) or YouTube videos (``kind="youtube"``), one per line.

    OK stays disabled until every non-empty line is acceptable; the reason is shown under the field.
    """

    def __init__(self, kind: str = "web", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        youtube = kind == "youtube"
        self.setObjectName("add-youtube-dialog" if youtube else "add-url-dialog")
        self.setWindowTitle("Add YouTube video" if youtube else "Add web page")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Paste YouTube links or video ids, one per line. The video's captions are added as a transcript."
            if youtube else
            "Paste web addresses, one per line. The page's main text is downloaded and added; "
            "links to PDF, text and Markdown files work too."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.edit = QPlainTextEdit()
        self.edit.setObjectName("add-url-input")
        self.edit.setAccessibleName("YouTube links" if youtube else "Web addresses")
        self.edit.setPlaceholderText("https://www.youtube.com/watch?v=…" if youtube else "https://example.com/article")
        self.edit.setTabChangesFocus(True)
        self.edit.setFixedHeight(self.edit.fontMetrics().lineSpacing() * 4 + 16)
        layout.addWidget(self.edit)
        self.message = QLabel("")
        self.message.setObjectName("add-url-message")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {css('error')}")
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Add")
        self.ok_button.setAccessibleName("Add the video" if youtube else "Add the web page")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.edit.textChanged.connect(self._on_edit_text_changed)
        clip = QGuiApplication.clipboard().text().strip() if QGuiApplication.clipboard() else ""
        if clip and "\n" not in clip and (check_youtube if youtube else check_web_url)(clip)[0] and (
            youtube or _SCHEME.match(clip)
        ):
            self.edit.setPlainText(clip)  # a link just copied from the browser: one keystroke less
            self.edit.selectAll()
        self._on_edit_text_changed()

    def urls(self) -> list[str]:
        """The accepted references, in the order typed (duplicates dropped)."""
        out: list[str] = []
        check = check_youtube if self.kind == "youtube" else check_web_url
        for line in self.edit.toPlainText().splitlines():
            ok, _why = check(line)
            if ok and ok not in out:
                out.append(ok)
        return out

    def _on_edit_text_changed(self) -> None:
        check = check_youtube if self.kind == "youtube" else check_web_url
        lines = [ln for ln in self.edit.toPlainText().splitlines() if ln.strip()]
        problems = []
        for n, line in enumerate(lines, 1):
            ok, why = check(line)
            if ok is None:
                problems.append(f"Line {n}: {why}" if len(lines) > 1 else why)
        self.message.setText("\n".join(problems[:3]) + (f"\n…and {len(problems) - 3} more" if len(problems) > 3 else ""))
        self.message.setVisible(bool(problems))
        self.ok_button.setEnabled(bool(lines) and not problems)


class PasteTextDialog(QDialog):
    """Asks for a title and a text to add as a source (notes, an e-mail, an excerpt)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("paste-text-dialog")
        self.setWindowTitle("Paste text")
        self.resize(620, 460)
        layout = QVBoxLayout(self)
        title_label = QLabel("&Title")
        layout.addWidget(title_label)
        self.title_edit = QLineEdit()
        self.title_edit.setObjectName("paste-title")
        self.title_edit.setAccessibleName("Title")
        self.title_edit.setPlaceholderText("Pasted text")
        self.title_edit.setMaxLength(200)
        title_label.setBuddy(self.title_edit)
        layout.addWidget(self.title_edit)
        text_label = QLabel("Te&xt (Markdown is fine)")
        layout.addWidget(text_label)
        self.text_edit = QPlainTextEdit()
        self.text_edit.setObjectName("paste-text")
        self.text_edit.setAccessibleName("Text to add")
        self.text_edit.setPlaceholderText("Paste or type the text to add as a source…")
        self.text_edit.setTabChangesFocus(True)
        text_label.setBuddy(self.text_edit)
        layout.addWidget(self.text_edit, 1)
        self.counter = QLabel("")
        self.counter.setObjectName("paste-counter")
        layout.addWidget(self.counter)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Add")
        self.ok_button.setAccessibleName("Add the text")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.text_edit.textChanged.connect(self._on_text_changed)
        self._on_text_changed()

    def title(self) -> str:
        """The title typed, or the first line of the text (cut to 80 characters), or "Pasted text"."""
        t = self.title_edit.text().strip()
        if t:
            return t
        for line in self.text().splitlines():
            line = line.strip().lstrip("#").strip()
            if line:
                return line if len(line) <= 80 else line[:79] + "…"
        return "Pasted text"

    def text(self) -> str:
        return self.text_edit.toPlainText()

    def _on_text_changed(self) -> None:
        text = self.text()
        words = len(text.split())
        self.counter.setText(f"{words:,} words, {len(text):,} characters" if text.strip() else "The text is empty.")
        self.ok_button.setEnabled(bool(text.strip()))
