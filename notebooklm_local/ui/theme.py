"""Light and dark appearance: follow the system's colour scheme, or the user's choice (``settings.ui.theme``).

Qt reports the desktop's scheme through ``QStyleHints.colorScheme()`` (GNOME, KDE, Windows, macOS) and
signals changes; where the platform reports nothing (a bare X server) the scheme is light. The Fusion
style is used everywhere so that both palettes look the same on every desktop.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

__all__ = ["THEMES", "apply_theme", "effective_scheme", "dark_palette", "is_dark"]

log = logging.getLogger(__name__)

THEMES = ("system", "light", "dark")


def dark_palette() -> QPalette:
    """A dark palette with enough contrast for body text (≥ 7:1) and links."""
    p = QPalette()
    window, base, alt, text = QColor(0x2B, 0x2D, 0x31), QColor(0x1E, 0x1F, 0x22), QColor(0x26, 0x28, 0x2B), \
        QColor(0xE8, 0xE8, 0xE8)
    disabled = QColor(0x80, 0x80, 0x80)
    highlight = QColor(0x3D, 0x7E, 0xD6)
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: alt,
        QPalette.ColorRole.ToolTipBase: QColor(0x3A, 0x3C, 0x40),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor(0x9A, 0x9A, 0x9A),
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor(0x35, 0x37, 0x3B),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor(0xFF, 0x6B, 0x6B),
        QPalette.ColorRole.Link: QColor(0x7A, 0xB7, 0xFF),
        QPalette.ColorRole.LinkVisited: QColor(0xB3, 0x9D, 0xFF),
        QPalette.ColorRole.Highlight: highlight,
        QPalette.ColorRole.HighlightedText: QColor(0xFF, 0xFF, 0xFF),
        QPalette.ColorRole.Light: QColor(0x45, 0x47, 0x4B),
        QPalette.ColorRole.Midlight: QColor(0x3A, 0x3C, 0x40),
        QPalette.ColorRole.Mid: QColor(0x30, 0x32, 0x36),
        QPalette.ColorRole.Dark: QColor(0x18, 0x19, 0x1B),
        QPalette.ColorRole.Shadow: QColor(0x0C, 0x0C, 0x0D),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def effective_scheme(theme: str) -> Qt.ColorScheme:
    """The scheme to show for ``theme`` ("system" asks the platform; anything unknown means system)."""
    if theme == "dark":
        return Qt.ColorScheme.Dark
    if theme == "light":
        return Qt.ColorScheme.Light
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hints is not None else Qt.ColorScheme.Unknown
    return Qt.ColorScheme.Dark if scheme == Qt.ColorScheme.Dark else Qt.ColorScheme.Light


def is_dark(app: QApplication | None = None) -> bool:
    """True when the current palette is dark (for code that draws its own colours)."""
    app = app or QApplication.instance()  # type: ignore[assignment]
    if app is None:
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128  # type: ignore[union-attr]


class _Follower(QObject):
    """Re-applies the palette when the desktop switches between light and dark (theme "system")."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.app = app
        self.theme = "system"
        hints = QGuiApplication.styleHints()
        if hints is not None:
            hints.colorSchemeChanged.connect(self._on_scheme_changed)

    @Slot(Qt.ColorScheme)
    def _on_scheme_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self.theme == "system":
            _apply(self.app, "system")


def _apply(app: QApplication, theme: str) -> Qt.ColorScheme:
    scheme = effective_scheme(theme)
    style = app.style()
    palette = dark_palette() if scheme == Qt.ColorScheme.Dark else (style.standardPalette() if style else QPalette())
    app.setPalette(palette)
    log.debug("theme %s: %s palette", theme, "dark" if scheme == Qt.ColorScheme.Dark else "light")
    return scheme


def apply_theme(app: QApplication, theme: str = "system") -> Qt.ColorScheme:
    """Use Fusion with a light or dark palette for ``theme`` ("system", "light" or "dark"); keep following
    the desktop's changes while the theme is "system". Returns the scheme applied.
    """
    if theme not in THEMES:
        log.warning("unknown theme %r: following the system", theme)
        theme = "system"
    if app.style() is None or app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    follower = app.findChild(_Follower)
    if follower is None:
        follower = _Follower(app)
    follower.theme = theme
    return _apply(app, theme)


def good_color(app: QApplication | None = None) -> str:
    """The colour of "grounded, nothing generated" labels, readable on the current palette (WCAG AA on both:
    #2e6b30 on white 6.6:1, #8fd694 on the dark window colour 8.9:1)."""
    return "#8fd694" if is_dark(app) else "#2e6b30"
