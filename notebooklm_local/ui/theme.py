"""Light and dark appearance: follow the system's colour scheme, or the user's choice (``settings.ui.theme``).

Qt reports the desktop's scheme through ``QStyleHints.colorScheme()`` (GNOME, KDE, Windows, macOS) and
signals changes; where the platform reports nothing (a bare X server) the scheme is light. The Fusion
style is used everywhere so that both palettes look the same on every desktop.

``PALETTE`` is the app's one palette: every colour the UI draws or writes into a style sheet or HTML is a named
role with a light and a dark value, read through ``color()``/``css()``; a change of theme recolours what was
already shown (see ``apply_theme``).
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QPalette, QTextCursor, QTextDocument
from PySide6.QtWidgets import QApplication, QLabel, QListWidget, QTextEdit, QTreeWidget, QWidget

__all__ = ["PALETTE", "THEMES", "apply_theme", "branch_fill", "color", "css", "dark_palette", "effective_scheme",
           "is_dark", "light_palette", "on_theme_changed", "recolor"]

log = logging.getLogger(__name__)

THEMES = ("system", "light", "dark")


# -- the palette ---------------------------------------------------------------------------------------------
#
# Every colour the UI shows is a named role here with a light and a dark value ("#rrggbb", or "#aarrggbb" for a
# translucent one). Widgets ask for the current theme's value with ``color(role)`` (a QColor, for painting) or
# ``css(role)`` (a string for style sheets and generated HTML); nothing else in ui/ spells a colour
# (tests/ui/test_theme.py scans for literals and checks the contrast of every text pair below in both themes).

PALETTE: dict[str, tuple[str, str]] = {
    # the Qt palette's own roles (light: Fusion's standard palette; dark: ours)
    "window": ("#efefef", "#2b2d31"),
    "base": ("#ffffff", "#1e1f22"),
    "alternate_base": ("#f7f7f7", "#26282b"),
    "text": ("#000000", "#e8e8e8"),
    "button": ("#efefef", "#35373b"),
    "tooltip_base": ("#ffffdc", "#3a3c40"),
    "placeholder": ("#6b6b6b", "#9a9a9a"),
    "disabled_text": ("#808080", "#808080"),
    "highlight": ("#308cc6", "#3d7ed6"),
    "highlighted_text": ("#ffffff", "#ffffff"),
    "mid": ("#b8b8b8", "#303236"),
    "panel": ("#fbfbfb", "#44464a"),  # what Fusion paints a tab page with (measured; text sits on it too)
    "link": ("#0b57d0", "#7ab7ff"),
    "link_visited": ("#7b1fa2", "#c9a6ff"),
    # text on the window or on a text view
    "muted": ("#666666", "#b4b4b4"),  # notes, hints, statistics, timestamps
    "secondary": ("#444444", "#c8c8c8"),  # a small heading that is not muted
    "error": ("#b3261e", "#ff9e96"),
    "warning": ("#8a5a00", "#f0b94d"),
    "success": ("#2e6b30", "#8fd694"),  # "grounded", "valid", "saved", "right"
    # a sentence the sources do not support (chat, podcast lines)
    "flagged_bg": ("#fff1c2", "#4a3b10"),
    "flagged_fg": ("#3d2e00", "#ffe7a3"),
    # a citation chip
    "chip_bg": ("#dbe7ff", "#23395f"),
    "chip_fg": ("#1a3d8f", "#cfe0ff"),
    # a notice bar (source viewer, sources pane, plugins' safe mode, template editor)
    "notice_bg": ("#fff4d6", "#3d3418"),
    "notice_fg": ("#3d2e00", "#ffe7a3"),
    "notice_border": ("#c9a227", "#8a7430"),
    # the source viewer: the cited passage, find matches
    "cited_bg": ("#ffe58a", "#6b5a12"),
    "match_bg": ("#cfe3ff", "#1f4470"),
    "current_match_bg": ("#ffb347", "#8a4b00"),
    # the chain-of-density chart
    "chart_bg": ("#fafafa", "#26282b"),
    "chart_axis": ("#8a8a8a", "#7c7c7c"),
    "chart_bar": ("#6f8fcc", "#4f73b3"),
    "chart_bar_selected": ("#1c3f94", "#9cc6ff"),
    "chart_text": ("#444444", "#c8c8c8"),
    "chart_text_selected": ("#1a1a1a", "#f5f5f5"),
    # the template editor
    "code_expr": ("#1a52a8", "#8cc2ff"),
    "code_expr_bg": ("#1c1f5fbf", "#2e8cc2ff"),
    "code_stmt": ("#8a2be2", "#d0a8ff"),
    "code_comment": ("#666666", "#b4b4b4"),
    "code_unknown": ("#b3261e", "#ff9e96"),
    "error_line_bg": ("#ffe0e0", "#5c2326"),
    # the mind map (the branches' fills come from branch_fill)
    "mindmap_root_bg": ("#1c3f94", "#9cc6ff"),
    "mindmap_root_fg": ("#ffffff", "#0f2347"),
    "mindmap_edge": ("#8a8a8a", "#7c7c7c"),
    # the drop overlay of the main window
    "overlay_bg": ("#aaffffff", "#aa1e1f22"),
    "overlay_fill": ("#1c1a5dcc", "#2e7ab7ff"),
    "overlay_border": ("#0b57d0", "#7ab7ff"),
    "overlay_text": ("#1a3d8f", "#cfe0ff"),
}

# text (or a graphic) drawn on a background, and the contrast WCAG 2.x AA asks of it: 4.5:1 for text, 3:1 for
# graphics (chart bars, the axis). A translucent background is laid over the second background named.
CONTRAST_PAIRS: tuple[tuple[str, str, float], ...] = (
    *((fg, bg, 4.5) for fg in ("text", "muted", "secondary", "error", "warning", "success", "link", "link_visited")
      for bg in ("window", "base", "panel")),
    ("placeholder", "base", 4.5),
    ("highlighted_text", "highlight", 3.0),  # Fusion's own selection (large enough to count as a UI part)
    ("flagged_fg", "flagged_bg", 4.5),
    ("chip_fg", "chip_bg", 4.5),
    ("notice_fg", "notice_bg", 4.5),
    ("notice_border", "notice_bg", 1.5),
    ("text", "cited_bg", 4.5),
    ("text", "match_bg", 4.5),
    ("text", "current_match_bg", 4.5),
    ("text", "tooltip_base", 4.5),
    ("chart_axis", "chart_bg", 3.0),
    ("chart_bar", "chart_bg", 3.0),
    ("chart_bar_selected", "chart_bg", 3.0),
    ("chart_text", "chart_bg", 4.5),
    ("chart_text_selected", "chart_bg", 4.5),
    ("muted", "chart_bg", 4.5),
    *((fg, bg, 4.5) for fg in ("text", "code_expr", "code_stmt", "code_comment", "code_unknown")
      for bg in ("base", "error_line_bg")),
    ("code_expr", "code_expr_bg+base", 4.5),
    ("code_expr", "code_expr_bg+error_line_bg", 4.5),
    ("mindmap_root_fg", "mindmap_root_bg", 4.5),
    ("mindmap_edge", "base", 3.0),
    ("overlay_text", "overlay_bg+window", 4.5),
    ("overlay_border", "overlay_bg+window", 3.0),
)


def _is_dark_now(dark: bool | None) -> bool:
    return is_dark() if dark is None else dark


def color(role: str, dark: bool | None = None) -> QColor:
    """The colour of ``role`` in the current theme (or the dark/light one when ``dark`` is given)."""
    return QColor(PALETTE[role][1 if _is_dark_now(dark) else 0])


def css(role: str, dark: bool | None = None) -> str:
    """``role``'s colour for a style sheet or generated HTML: "#rrggbb", or "rgba(r,g,b,a)" when translucent."""
    value = PALETTE[role][1 if _is_dark_now(dark) else 0]
    if len(value) == 9:
        c = QColor(value)
        return f"rgba({c.red()},{c.green()},{c.blue()},{c.alpha()})"
    return value


def branch_fill(branch: int, depth: int, dark: bool | None = None) -> QColor:
    """The fill of a mind-map node: one hue per top-level branch, paler deeper down; the theme's text colour
    stays readable on it (lightness 215/238 of 255 in light, 70/50 in dark)."""
    hue = BRANCH_HUES[branch % len(BRANCH_HUES)]
    if _is_dark_now(dark):
        return QColor.fromHsl(hue, 110 if depth <= 1 else 70, 70 if depth <= 1 else 50)
    return QColor.fromHsl(hue, 110 if depth <= 1 else 70, 215 if depth <= 1 else 238)


BRANCH_HUES = (210, 140, 30, 280, 0, 180, 330, 90)  # one hue per top-level branch of a mind map


# the Qt palette's roles: the palette itself changes with the theme, text written with them is not swapped
_QT_ROLES = frozenset({"window", "base", "alternate_base", "text", "button", "tooltip_base", "placeholder",
                       "disabled_text", "highlight", "highlighted_text", "mid", "panel"})


def _recolor_map(dark: bool) -> dict[str, str]:
    """The other theme's value of every role -> this theme's (lower-case "#rrggbb"/"#aarrggbb")."""
    now, other = (1, 0) if dark else (0, 1)
    out: dict[str, str] = {}
    for role, values in PALETTE.items():
        if role not in _QT_ROLES and values[now] != values[other]:
            out[values[other].lower()] = values[now].lower()
    # what Fusion's standard palette gives links where no role did (HTML set before the theme was applied)
    if dark:
        out.setdefault("#0000ff", PALETTE["link"][1])
        out.setdefault("#ff00ff", PALETTE["link_visited"][1])
    return out


_HEX = re.compile(r"#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6})\b")


def recolor(text: str, dark: bool | None = None) -> str:
    """``text`` (HTML or a style sheet) with the other theme's palette colours swapped for this theme's."""
    mapping = _recolor_map(_is_dark_now(dark))
    return _HEX.sub(lambda m: mapping.get(m.group(0).lower(), m.group(0)), text)


def dark_palette() -> QPalette:
    """A dark palette with enough contrast for body text (≥ 7:1) and links."""
    return _palette(dark=True)


def light_palette(base: QPalette | None = None) -> QPalette:
    """Fusion's standard light palette with readable link colours."""
    return _palette(dark=False, base=base)


def _palette(dark: bool, base: QPalette | None = None) -> QPalette:
    p = QPalette(base) if base is not None else QPalette()
    i = 1 if dark else 0

    def c(role: str) -> QColor:
        return QColor(PALETTE[role][i])

    roles = {
        QPalette.ColorRole.Link: c("link"),
        QPalette.ColorRole.LinkVisited: c("link_visited"),
    }
    if dark:
        roles |= {
            QPalette.ColorRole.Window: c("window"),
            QPalette.ColorRole.WindowText: c("text"),
            QPalette.ColorRole.Base: c("base"),
            QPalette.ColorRole.AlternateBase: c("alternate_base"),
            QPalette.ColorRole.ToolTipBase: c("tooltip_base"),
            QPalette.ColorRole.ToolTipText: c("text"),
            QPalette.ColorRole.PlaceholderText: c("placeholder"),
            QPalette.ColorRole.Text: c("text"),
            QPalette.ColorRole.Button: c("button"),
            QPalette.ColorRole.ButtonText: c("text"),
            QPalette.ColorRole.BrightText: c("error"),
            QPalette.ColorRole.Highlight: c("highlight"),
            QPalette.ColorRole.HighlightedText: c("highlighted_text"),
            QPalette.ColorRole.Light: QColor(0x45, 0x47, 0x4B),
            QPalette.ColorRole.Midlight: QColor(0x3A, 0x3C, 0x40),
            QPalette.ColorRole.Mid: c("mid"),
            QPalette.ColorRole.Dark: QColor(0x18, 0x19, 0x1B),
            QPalette.ColorRole.Shadow: QColor(0x0C, 0x0C, 0x0D),
        }
    for role, value in roles.items():
        p.setColor(role, value)
    if dark:
        for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
            p.setColor(QPalette.ColorGroup.Disabled, role, c("disabled_text"))
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


class _Notifier(QObject):
    changed = Signal(bool)  # dark


_notifier: _Notifier | None = None


def _the_notifier() -> _Notifier:
    global _notifier
    if _notifier is None:
        _notifier = _Notifier()
    return _notifier


def on_theme_changed(owner: QObject, callback: Callable[[Any], None]) -> None:
    """Call ``callback(owner)`` after each change of theme while ``owner`` lives (for code that keeps colours it
    got from ``color()``: formats, scene items, extra selections). Only a weak reference to ``owner`` is kept:
    pass an unbound method (``Class.method``), not a bound one or a lambda over ``self``. Painting code that
    asks ``color()`` in ``paintEvent`` needs none of this."""
    ref = weakref.ref(owner)

    def call(_dark: bool) -> None:
        obj = ref()
        if obj is not None:
            try:
                callback(obj)
            except RuntimeError:  # the C++ side is already gone
                pass

    _the_notifier().changed.connect(call)
    owner.destroyed.connect(lambda *_: _disconnect(call))


def _disconnect(call: Callable[[bool], None]) -> None:
    try:
        _the_notifier().changed.disconnect(call)
    except (RuntimeError, TypeError):
        pass


def _recolor_brush(brush: QBrush, mapping: dict[str, str]) -> QColor | None:
    if brush.style() == Qt.BrushStyle.NoBrush:
        return None
    c = brush.color()
    new = mapping.get(c.name(QColor.NameFormat.HexArgb if c.alpha() < 255 else QColor.NameFormat.HexRgb))
    return QColor(new) if new else None


def recolor_document(doc: QTextDocument, dark: bool | None = None) -> None:
    """Swap the other theme's palette colours for this theme's in ``doc``'s character formats (text and
    backgrounds, links included), in place: the scroll position and the content stay."""
    mapping = _recolor_map(_is_dark_now(dark))
    cursor = QTextCursor(doc)
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            if frag.isValid():
                fmt = frag.charFormat()
                fg = _recolor_brush(fmt.foreground(), mapping)
                bg = _recolor_brush(fmt.background(), mapping)
                if fg is not None or bg is not None:
                    if fg is not None:
                        fmt.setForeground(fg)
                    if bg is not None:
                        fmt.setBackground(bg)
                    cursor.setPosition(frag.position())
                    cursor.setPosition(frag.position() + frag.length(), QTextCursor.MoveMode.KeepAnchor)
                    cursor.setCharFormat(fmt)
            it += 1
        block = block.next()


def _recolor_widget(w: QWidget, dark: bool) -> None:
    sheet = w.styleSheet()
    if sheet and "#" in sheet:
        new = recolor(sheet, dark)
        if new != sheet:
            w.setStyleSheet(new)
    if isinstance(w, QLabel) and "#" in w.text():
        new = recolor(w.text(), dark)
        if new != w.text():
            w.setText(new)
    elif isinstance(w, QTextEdit) and w.isReadOnly():  # a view (what the user types is not touched)
        recolor_document(w.document(), dark)
    elif isinstance(w, QListWidget):
        mapping = _recolor_map(dark)
        for i in range(w.count()):
            row = w.item(i)
            fg = _recolor_brush(row.foreground(), mapping)
            if fg is not None:
                row.setForeground(fg)
    elif isinstance(w, QTreeWidget):
        mapping = _recolor_map(dark)
        stack = [t for t in (w.topLevelItem(i) for i in range(w.topLevelItemCount())) if t is not None]
        while stack:
            node = stack.pop()
            for col in range(w.columnCount()):
                fg = _recolor_brush(node.foreground(col), mapping)
                if fg is not None:
                    node.setForeground(col, fg)
            stack.extend(c for c in (node.child(i) for i in range(node.childCount())) if c is not None)


def _apply(app: QApplication, theme: str) -> Qt.ColorScheme:
    scheme = effective_scheme(theme)
    style = app.style()
    dark = scheme == Qt.ColorScheme.Dark
    was_dark = is_dark(app)
    palette = dark_palette() if dark else light_palette(style.standardPalette() if style else None)
    app.setPalette(palette)
    if dark != was_dark:
        # what was written with the other theme's colours (style sheets, rich-text labels, text views)
        for w in app.allWidgets():
            _recolor_widget(w, dark)
        _the_notifier().changed.emit(dark)
    log.debug("theme %s: %s palette", theme, "dark" if dark else "light")
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
    """The colour of "grounded, nothing generated" labels, readable on the current palette (the "success"
    role: WCAG AA on both themes)."""
    return css("success", is_dark(app))
