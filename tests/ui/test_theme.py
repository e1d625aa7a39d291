"""Light and dark appearance: the user's choice or the system's scheme, applied app-wide."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings, load_settings
from notebooklm_local.ui.theme import apply_theme, dark_palette, effective_scheme, is_dark

pytestmark = pytest.mark.gui


@pytest.fixture
def app(qapp: QApplication) -> Iterator[QApplication]:
    yield qapp
    apply_theme(qapp, "light")  # other tests expect the default palette


def _contrast(a: Any, b: Any) -> float:
    def lum(c: Any) -> float:
        def ch(v: float) -> float:
            v /= 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * ch(c.red()) + 0.7152 * ch(c.green()) + 0.0722 * ch(c.blue())
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_dark_and_light_are_applied_and_switch_back(app: QApplication) -> None:
    assert apply_theme(app, "dark") == Qt.ColorScheme.Dark
    assert is_dark(app) and app.style().name().lower() == "fusion"
    assert apply_theme(app, "light") == Qt.ColorScheme.Light
    assert not is_dark(app)


def test_system_follows_the_platform_and_unknown_names_mean_system(app: QApplication) -> None:
    expected = Qt.ColorScheme.Dark if app.styleHints().colorScheme() == Qt.ColorScheme.Dark else Qt.ColorScheme.Light
    assert effective_scheme("system") == expected
    assert apply_theme(app, "no-such-theme") == expected


def test_dark_palette_text_is_readable() -> None:
    p = dark_palette()
    for fg, bg in ((QPalette.ColorRole.Text, QPalette.ColorRole.Base),
                   (QPalette.ColorRole.WindowText, QPalette.ColorRole.Window),
                   (QPalette.ColorRole.ButtonText, QPalette.ColorRole.Button),
                   (QPalette.ColorRole.Link, QPalette.ColorRole.Base)):
        assert _contrast(p.color(fg), p.color(bg)) >= 4.5, (fg, bg)


def test_theme_chosen_in_settings_persists_and_applies_at_once(qtbot: Any, app: QApplication,
                                                               app_home: Path) -> None:
    from notebooklm_local.core.context import AppContext
    from notebooklm_local.ui.main_window import MainWindow

    paths = app_paths().ensure()
    win = MainWindow(AppContext(paths, Settings()))
    qtbot.addWidget(win)
    win.show_settings("output")
    dlg = win.settings_dialog
    qtbot.waitUntil(dlg.isVisible, timeout=5000)
    dlg.theme.setCurrentIndex(dlg.theme.findData("dark"))
    dlg.accept()
    assert load_settings(paths.settings_file).ui.theme == "dark"
    assert is_dark(app)
    win.close()
