"""Screen readers and keyboard users: every control says what it is, Tab leaves the chat input, Shift+F10
opens context menus.

A screen reader announces a control by its accessible name (what ``QAccessible`` reports: the widget's
``accessibleName``, a button's text, or the text of the label it is the buddy of). A button that shows only a
symbol ("⋯", "↻", "▶", "×") is read as that symbol, or as nothing: its name must have a letter in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QScrollBar,
    QTabBar,
    QTextEdit,
    QWidget,
)

from notebooklm_local.core.context import AppContext
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings
from tests.ui.helpers import open_window

pytestmark = [pytest.mark.gui]

INTERACTIVE = (QAbstractButton, QLineEdit, QComboBox, QAbstractItemView, QAbstractSpinBox, QAbstractSlider,
               QTextEdit, QPlainTextEdit)


def _internal(w: QWidget, root: QWidget) -> bool:
    """Qt's own parts of a composite control (a spin box's line edit, a tab bar's scroll arrows, a scroll bar)."""
    if w.objectName().startswith("qt_") or isinstance(w, (QScrollBar, QHeaderView)):
        return True
    p = w.parentWidget()
    while p is not None and p is not root:
        if isinstance(p, (QComboBox, QAbstractSpinBox, QScrollBar, QTabBar, QMenu, QLineEdit)):
            return True
        p = p.parentWidget()
    return False


def spoken_name(w: QWidget) -> str:
    """The widget's accessible name, else the text of the label it is the buddy of, else what Qt reports.

    On Linux Qt reports a combo box's current value as its name (its label goes as a relation): a combo box
    needs an accessible name or a label of its own."""
    if w.accessibleName():
        return w.accessibleName().strip()
    label = next((lb for lb in w.window().findChildren(QLabel) if lb.buddy() is w), None)
    if label is not None:
        return label.text().replace("&", "").strip()
    if isinstance(w, QComboBox):
        return ""
    iface = QAccessible.queryAccessibleInterface(w)
    name = iface.text(QAccessible.Text.Name) if iface is not None else ""
    return (name or "").replace("&", "").strip()


def unnamed(root: QWidget) -> list[str]:
    """Each interactive widget under ``root`` whose spoken name has no letter or digit: 'Class objectName "name"'."""
    out = []
    for w in root.findChildren(QWidget):
        if not isinstance(w, INTERACTIVE) or _internal(w, root):
            continue
        if isinstance(w, QAbstractButton) and not w.text() and w.icon().isNull() and not w.accessibleName():
            continue  # shows nothing yet: a quiz's answer buttons before a quiz is loaded
        name = spoken_name(w)
        # a symbol that is not a letter or digit is read as its Unicode name ("black right-pointing triangle")
        if not any(c.isalnum() for c in name) or any(c in name for c in "▶◀↺↻⋯✕×▸"):
            chain, p = [], w.parentWidget()
            while p is not None and p is not root and len(chain) < 4:
                chain.append(p.objectName() or type(p).__name__)
                p = p.parentWidget()
            out.append(f'{type(w).__name__} {w.objectName() or "(no object name)"} "{name}" in {"/".join(chain)}')
    return out


@pytest.fixture
def ctx(app_home: Path, tmp_path: Path) -> AppContext:
    from notebooklm_local.workspace import open_library

    paths = app_paths().ensure()
    lib = open_library(paths, Settings())
    lib.create_notebook("Rivers")
    (tmp_path / "nile.md").write_text("# Nile\n\nThe Nile flows north into the Mediterranean Sea.", encoding="utf-8")
    assert lib.add("Rivers", [str(tmp_path / "nile.md")]).added
    lib.library.close()
    return AppContext(paths, Settings())


def _window(qtbot: Any, ctx: AppContext) -> Any:
    win = open_window(qtbot, ctx)
    qtbot.waitUntil(lambda: win.sources_pane.list.count() == 1, timeout=10000)
    return win


def test_every_control_of_the_main_window_and_the_studio_tabs_has_a_spoken_name(qtbot, ctx: AppContext) -> None:
    win = _window(qtbot, ctx)
    bad = unnamed(win)  # the studio's tabs and the notes pane are children of the window, shown or not
    assert not bad, "\n".join(bad)


def test_every_control_of_the_settings_dialog_has_a_spoken_name(qtbot, ctx: AppContext) -> None:
    win = _window(qtbot, ctx)
    win.show_settings()
    dlg = win.settings_dialog
    qtbot.waitUntil(lambda: not dlg.busy, timeout=10000)
    bad = unnamed(dlg)
    assert not bad, "\n".join(bad)
    dlg.reject()


def test_tab_leaves_the_chat_input_for_the_buttons_below(qtbot, ctx: AppContext) -> None:
    win = _window(qtbot, ctx)
    box = win.chat_pane.input
    win.activateWindow()
    box.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is box)
    qtbot.keyClick(box, Qt.Key.Key_Tab)
    assert box.toPlainText() == ""  # no tab character typed into the question
    assert QApplication.focusWidget() is not box


def test_shift_f10_opens_the_source_list_context_menu(qtbot, ctx: AppContext) -> None:
    win = _window(qtbot, ctx)
    view = win.sources_pane.list
    win.activateWindow()
    view.setFocus()
    view.setCurrentRow(0)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is view)
    with qtbot.waitSignal(view.customContextMenuRequested, timeout=2000) as sig:
        qtbot.keyClick(view, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    pos = sig.args[0]
    assert view.visualItemRect(view.item(0)).contains(pos)  # the menu is at the current row, as with the Menu key
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=2000)
    QApplication.activePopupWidget().close()


def test_ctrl_1_and_ctrl_2_move_the_keyboard_to_the_studio_and_the_notes(qtbot, ctx: AppContext) -> None:
    win = _window(qtbot, ctx)
    win.activateWindow()
    win.focus_chat()  # Ctrl+K
    qtbot.waitUntil(lambda: QApplication.focusWidget() is win.chat_pane.input)
    win.show_notes_action.trigger()  # Ctrl+2
    assert win.center.currentWidget() is win.notes_pane
    assert win.notes_pane.isAncestorOf(QApplication.focusWidget())
    win.show_studio_action.trigger()  # Ctrl+1
    assert win.center.currentWidget() is win.studio_pane
    assert win.studio_pane.isAncestorOf(QApplication.focusWidget())
