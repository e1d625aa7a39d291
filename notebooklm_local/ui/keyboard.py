"""Keyboard conventions Qt leaves out on Linux.

Shift+F10 opens the context menu of the widget with the focus, as the Menu key does (GTK, KDE and Windows
all honour it; many laptop keyboards have no Menu key). Qt's xcb platform only maps the Menu key, so without
this the source list's, the chat's and the notes' context menus were out of reach on such keyboards.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QRectF, Qt
from PySide6.QtGui import QContextMenuEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QWidget

__all__ = ["focus_first_in", "install_context_menu_key", "open_context_menu"]


def open_context_menu(target: QWidget) -> None:
    """Send ``target`` the context menu event the Menu key would: at its cursor (an item view's current item)."""
    rect = target.inputMethodQuery(Qt.InputMethodQuery.ImCursorRectangle)
    if isinstance(rect, QRectF):
        rect = rect.toRect()
    pos = rect.center() if isinstance(rect, QRect) and rect.isValid() else QPoint(target.width() // 2,
                                                                                  target.height() // 2)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Keyboard, pos, target.mapToGlobal(pos),
                              Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, event)


def install_context_menu_key(owner: QWidget) -> QShortcut:
    """Shift+F10 in any window of the application (a shortcut: no Python call for other keys or events)."""
    shortcut = QShortcut(QKeySequence("Shift+F10"), owner)
    shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
    shortcut.activated.connect(lambda: (lambda w: open_context_menu(w) if w is not None else None)(
        QApplication.focusWidget()))
    return shortcut


def focus_first_in(container: QWidget) -> bool:
    """Give the focus to the first control inside ``container`` that Tab reaches (unless it is in there already)."""
    current = QApplication.focusWidget()
    if current is not None and container.isAncestorOf(current):
        return True
    w = container.nextInFocusChain()
    while w is not None and w is not container:
        if (container.isAncestorOf(w) and w.isVisible() and w.isEnabled()
                and w.focusPolicy() & Qt.FocusPolicy.TabFocus):
            w.setFocus(Qt.FocusReason.ShortcutFocusReason)
            return True
        w = w.nextInFocusChain()
    return False
