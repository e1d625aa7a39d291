"""Small helpers for widget tests."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor


def link_hrefs(browser: Any) -> list[str]:
    """Every anchor href in a QTextBrowser's document, in order (duplicates kept once)."""
    out: list[str] = []
    block = browser.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            href = frag.charFormat().anchorHref() if frag.isValid() else ""
            if href and href not in out:
                out.append(href)
            it += 1
        block = block.next()
    return out


def click_link(qtbot: Any, browser: Any, href: str) -> None:
    """Click (mouse press + release) on the first piece of text that links to ``href``."""
    doc = browser.document()
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            if frag.isValid() and frag.charFormat().anchorHref() == href:
                cursor = QTextCursor(doc)
                cursor.setPosition(frag.position() + max(1, frag.length() // 2))
                browser.setTextCursor(cursor)
                browser.ensureCursorVisible()
                rect = browser.cursorRect(cursor)
                pos = rect.center()
                pos.setX(max(1, pos.x() - 2))
                qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=pos)
                return
            it += 1
        block = block.next()
    raise AssertionError(f"no link to {href!r}")


def open_window(qtbot: Any, ctx: Any) -> Any:
    """The real main window for ``ctx``, shown, exposed and with its library loaded."""
    from notebooklm_local.ui.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.library is not None, timeout=10000)
    return win
