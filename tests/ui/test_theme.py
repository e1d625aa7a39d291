"""Light and dark appearance: the user's choice or the system's scheme, applied app-wide."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem

from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings, load_settings
from notebooklm_local.ui import theme
from notebooklm_local.ui.theme import (
    BRANCH_HUES,
    CONTRAST_PAIRS,
    PALETTE,
    apply_theme,
    branch_fill,
    color,
    css,
    dark_palette,
    effective_scheme,
    is_dark,
    recolor,
)

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


# -- one palette: every colour is a role of ui/theme.py with a light and a dark value ------------------------------

def _composite(role_spec: str, dark: bool) -> QColor:
    """A role's colour; "a+b" lays the translucent role a over role b."""
    i = 1 if dark else 0
    if "+" not in role_spec:
        return QColor(PALETTE[role_spec][i])
    top_name, under_name = role_spec.split("+")
    top, under = QColor(PALETTE[top_name][i]), QColor(PALETTE[under_name][i])
    a = top.alphaF()
    return QColor(*(round(a * t + (1 - a) * u) for t, u in ((top.red(), under.red()), (top.green(), under.green()),
                                                              (top.blue(), under.blue()))))


def wcag_contrast(a: QColor, b: QColor) -> float:
    """The contrast ratio of WCAG 2.x: (L1 + 0.05) / (L2 + 0.05) of the relative luminances."""
    return _contrast(a, b)


def test_wcag_contrast_is_computed_as_wcag_says() -> None:
    assert wcag_contrast(QColor("#000000"), QColor("#ffffff")) == pytest.approx(21.0)
    assert wcag_contrast(QColor("#777777"), QColor("#ffffff")) == pytest.approx(4.48, abs=0.01)  # the known border
    assert wcag_contrast(QColor("#767676"), QColor("#ffffff")) >= 4.5


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_every_text_and_graphic_pair_passes_wcag_aa(dark: bool) -> None:
    failures = []
    for fg, bg, need in CONTRAST_PAIRS:
        ratio = wcag_contrast(_composite(fg, dark), _composite(bg, dark))
        if ratio < need:
            failures.append(f"{fg} on {bg}: {ratio:.2f} < {need}")
    # the mind map's nodes: the theme's text on every branch's fill; its root
    for branch in range(len(BRANCH_HUES)):
        for depth in (1, 2):
            ratio = wcag_contrast(_composite("text", dark), branch_fill(branch, depth, dark))
            if ratio < 4.5:
                failures.append(f"text on branch {branch} depth {depth}: {ratio:.2f}")
    assert not failures, failures


def test_pairs_name_real_roles_and_every_role_has_two_valid_values() -> None:
    for fg, bg, _need in CONTRAST_PAIRS:
        for name in (fg, *bg.split("+")):
            assert name in PALETTE, name
    for role, values in PALETTE.items():
        assert len(values) == 2, role
        for v in values:
            assert re.fullmatch(r"#(?:[0-9a-f]{6}|[0-9a-f]{8})", v), (role, v)
            assert QColor(v).isValid(), (role, v)


@pytest.mark.parametrize("dark", [False, True], ids=["to-light", "to-dark"])
def test_recolouring_is_unambiguous(dark: bool) -> None:
    """Text written in the other theme can be swapped back role by role: no other-theme value means two roles,
    and none is also a value of this theme (it would be swapped though it is right already)."""
    now, other = (1, 0) if dark else (0, 1)
    seen: dict[str, str] = {}
    mapping = theme._recolor_map(dark)
    for role, values in PALETTE.items():
        if role in theme._QT_ROLES or values[0] == values[1]:
            continue
        key, value = values[other].lower(), values[now].lower()
        assert seen.setdefault(key, value) == value, (role, key)
    now_values = {v[now].lower() for r, v in PALETTE.items() if r not in theme._QT_ROLES}
    assert not (set(mapping) & now_values)
    assert recolor(f"color:{PALETTE['error'][other]};background:{PALETTE['flagged_bg'][other]}", dark) == \
        f"color:{PALETTE['error'][now]};background:{PALETTE['flagged_bg'][now]}"


def test_qt_palettes_use_the_roles(app: QApplication) -> None:
    for dark, theme_name in ((False, "light"), (True, "dark")):
        apply_theme(app, theme_name)
        p = app.palette()
        i = 1 if dark else 0
        for qt_role, role in ((QPalette.ColorRole.Window, "window"), (QPalette.ColorRole.Base, "base"),
                              (QPalette.ColorRole.Text, "text"), (QPalette.ColorRole.Link, "link"),
                              (QPalette.ColorRole.LinkVisited, "link_visited")):
            assert p.color(qt_role).name() == PALETTE[role][i], (theme_name, role)
        assert color("error").name() == PALETTE["error"][i] and css("muted") == PALETTE["muted"][i]


# -- no colour literal outside ui/theme.py -------------------------------------------------------------------------

_HEX = re.compile(r"#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3,4})\b")
_CSS_FUNC = re.compile(r"\b(?:rgba?|hsla?)\s*\(", re.I)
_STYLE_VALUE = re.compile(r"(?:^|[\s;{\"'])(?:color|background(?:-color)?|border(?:-[a-z-]+)?|outline|fill|stroke|"
                          r"selection-(?:background-)?color|gridline-color)\s*:\s*([^;\"'}]*)", re.I)
_HTML_ATTR = re.compile(r"\b(?:bg)?color\s*=\s*[\"']?([a-z]+)", re.I)
_COLOR_CALLS = {"QColor", "fromRgb", "fromRgbF", "fromRgba", "fromRgba64", "fromHsl", "fromHslF", "fromHsv",
                "fromHsvF", "fromCmyk", "fromCmykF", "fromString"}
_GLOBAL = {"white", "black", "red", "darkRed", "green", "darkGreen", "blue", "darkBlue", "cyan", "darkCyan",
           "magenta", "darkMagenta", "yellow", "darkYellow", "gray", "darkGray", "lightGray", "color0", "color1"}


def _css_names() -> set[str]:
    return {n.lower() for n in QColor.colorNames()} - {"transparent"}


def colour_literals(source: str) -> list[tuple[int, str]]:
    """Where ``source`` spells a colour itself: hex colours and CSS colour functions or names in strings (style
    sheets, HTML), ``QColor(...)``/``QColor.fromXxx(...)`` with a literal argument, ``Qt.GlobalColor.x``/``Qt.red``.
    Docstrings are prose and are skipped."""
    tree = ast.parse(source)
    names = _css_names()
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
            found += [(node.lineno, m.group(0)) for m in _HEX.finditer(text)]
            found += [(node.lineno, m.group(0)) for m in _CSS_FUNC.finditer(text)]
            for m in _STYLE_VALUE.finditer(text):
                found += [(node.lineno, w) for w in re.findall(r"[a-zA-Z]+", m.group(1)) if w.lower() in names]
            found += [(node.lineno, m.group(1)) for m in _HTML_ATTR.finditer(text) if m.group(1).lower() in names]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            literal = [a for a in [*node.args, *(k.value for k in node.keywords)]
                       if isinstance(a, ast.Constant) or (isinstance(a, ast.UnaryOp) and isinstance(a.operand, ast.Constant))]
            if name in _COLOR_CALLS and literal:
                found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Attribute):
            base = ast.unparse(node.value)
            if (base.endswith("GlobalColor") and node.attr != "transparent") or (
                    base in ("Qt", "QtCore.Qt") and node.attr in _GLOBAL):
                found.append((node.lineno, ast.unparse(node)))
    return found


_BAD = '''
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
A = "color:#a00000"
B = f"<span style='background:#fff;color:{x}'>"
C = QColor(255, 0, 0, 128)
D = QColor("red")
E = QColor.fromHsl(210, 110, 70)
F = Qt.GlobalColor.darkRed
G = "QLabel { color: darkblue; border: 1px solid orange }"
H = '<font color="red">x</font>'
I = "background: rgba(0, 0, 0, 40)"
J = Qt.red
K = "#80ff0000"
'''

_GOOD = '''
from notebooklm_local.ui.theme import color, css
A = f"color:{css('error')}"
B = QColor(css("muted"))
C = color("chart_bg").darker(130)
D = Qt.GlobalColor.transparent
E = "#sources-notices { border-radius: 4px; }"
F = "QLabel#plugins-status { font-weight: bold }"
G = "the red line in the text, an orange"  # prose, not a style
def f():
    """Colours unknown variables (red, wavy), like #c00000 once did."""
'''


def test_the_literal_scan_catches_each_kind_and_nothing_else() -> None:
    bad = colour_literals(_BAD)
    assert {line for line, _ in bad} == set(range(4, 15)), bad  # every line A..K
    assert {"darkblue", "orange", "red"} <= {w.lower() for _, w in bad}
    assert colour_literals(_GOOD) == []


def test_no_colour_literal_in_ui_outside_the_theme() -> None:
    ui = Path(theme.__file__).parent
    found = {str(p.relative_to(ui)): hits for p in sorted(ui.rglob("*.py")) if p.name != "theme.py"
             for hits in [colour_literals(p.read_text(encoding="utf-8"))] if hits}
    assert not found, found


# -- what the dark theme shows -------------------------------------------------------------------------------------

def _flagged_answer() -> Any:
    from notebooklm_local.core.citations import AnswerSentence, CitedAnswer

    return CitedAnswer(text="The sky is green. It rains.",
                       sentences=[AnswerSentence("The sky is green.", [], supported=False, flag="no source"),
                                  AnswerSentence("It rains.", [], supported=True)],
                       citations=[])


def _format_at(doc: Any, needle: str) -> Any:
    from PySide6.QtGui import QTextCursor

    pos = doc.toPlainText().index(needle)
    cursor = QTextCursor(doc)
    cursor.setPosition(pos + 1)
    return cursor.charFormat()


def test_dark_chat_flags_links_and_chart_use_the_dark_palette(qtbot: Any, app: QApplication) -> None:
    from PySide6.QtWidgets import QTextBrowser

    from notebooklm_local.ui.chat_panel import citation_html
    from notebooklm_local.ui.studio.chart import DensityChart

    apply_theme(app, "dark")
    view = QTextBrowser()
    qtbot.addWidget(view)
    html = citation_html(_flagged_answer(), 1, regenerate=True)
    assert PALETTE["flagged_bg"][1] in html and PALETTE["flagged_bg"][0] not in html
    view.setHtml(html)
    flagged = _format_at(view.document(), "sky is green")
    assert flagged.background().color().name() == PALETTE["flagged_bg"][1]
    assert flagged.foreground().color().name() == PALETTE["flagged_fg"][1]
    link = _format_at(view.document(), "rewrite")
    assert link.isAnchor() and link.foreground().color().name() == PALETTE["link"][1]

    chart = DensityChart()
    qtbot.addWidget(chart)
    chart.resize(300, 100)
    chart.set_steps([0.1, 0.3, 0.2], 2)
    img = chart.grab().toImage()
    assert img.pixelColor(1, 1).name() == PALETTE["chart_bg"][1]
    bar = chart._bars()[1]
    assert img.pixelColor(int(bar.center().x()), int(bar.bottom()) - 2).name() == PALETTE["chart_bar_selected"][1]


def test_switching_theme_recolours_what_is_shown(qtbot: Any, app: QApplication) -> None:
    from PySide6.QtGui import QTextDocument
    from PySide6.QtWidgets import QLabel, QListWidget, QTextBrowser, QTreeWidget, QTreeWidgetItem

    from notebooklm_local.ui.chat_panel import citation_html
    from notebooklm_local.ui.template_editor import TemplateHighlighter

    apply_theme(app, "light")
    label = QLabel(f"<span style='color:{css('error')}'>bad</span>")
    label.setStyleSheet(f"color:{css('muted')}")
    view = QTextBrowser()
    view.setHtml(citation_html(_flagged_answer(), 1, regenerate=True))
    doc = QTextDocument()
    highlighter = TemplateHighlighter(doc)
    items, tree = QListWidget(), QTreeWidget()
    items.addItem("problem")
    items.item(0).setForeground(color("error"))
    tree.setColumnCount(1)
    row = QTreeWidgetItem(tree, ["top"])
    child = QTreeWidgetItem(row, ["child"])
    child.setForeground(0, color("warning"))
    for w in (label, view, items, tree):
        qtbot.addWidget(w)
    for theme_name, i in (("dark", 1), ("light", 0)):
        apply_theme(app, theme_name)
        assert label.styleSheet() == f"color:{PALETTE['muted'][i]}"
        assert PALETTE["error"][i] in label.text()
        assert _format_at(view.document(), "sky is green").background().color().name() == PALETTE["flagged_bg"][i]
        assert _format_at(view.document(), "rewrite").foreground().color().name() == PALETTE["link"][i]
        assert highlighter.expr.foreground().color().name() == PALETTE["code_expr"][i]
        assert items.item(0).foreground().color().name() == PALETTE["error"][i]
        assert child.foreground(0).color().name() == PALETTE["warning"][i]


def test_theme_callbacks_follow_changes_and_do_not_keep_their_owner_alive(app: QApplication) -> None:
    import gc
    import weakref

    from PySide6.QtCore import QObject

    apply_theme(app, "light")
    calls: list[bool] = []
    owner = QObject()
    ref = weakref.ref(owner)
    theme.on_theme_changed(owner, lambda o: calls.append(is_dark(app)))
    apply_theme(app, "dark")
    apply_theme(app, "dark")  # no change: no call
    assert calls == [True]
    del owner
    gc.collect()
    assert ref() is None
    apply_theme(app, "light")
    assert calls == [True]


def test_an_unchecked_source_box_is_visible_in_the_dark_theme(app: QApplication, qtbot: Any) -> None:
    """The Sources list's checkbox: in the dark theme Fusion outlined it as dark as the row (1.03:1), so an
    unticked source showed no box at all. Its edge must stand out from the row (3:1, WCAG's non-text contrast;
    the light theme keeps Fusion's own grey edge, 1.9:1 on white, plainly visible)."""
    from PySide6.QtWidgets import QListWidget, QListWidgetItem

    from notebooklm_local.ui.sources_pane import STATE_ROLE, SourceDelegate

    apply_theme(app, "dark")
    view = QListWidget()
    qtbot.addWidget(view)
    delegate = SourceDelegate(view)
    view.setItemDelegate(delegate)
    item = QListWidgetItem("Shared MIME-info Database")
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(Qt.CheckState.Unchecked)
    item.setData(STATE_ROLE, "ready")
    view.addItem(item)
    view.resize(320, 120)
    view.show()
    qtbot.waitExposed(view)
    image = view.viewport().grab().toImage()
    opt = QStyleOptionViewItem()
    opt.initFrom(view)
    opt.rect = view.visualItemRect(item)
    box = delegate.check_rect_of(opt)
    row = image.pixelColor(opt.rect.right() - 3, box.center().y())
    edge = max((image.pixelColor(x, box.center().y()) for x in range(box.left(), box.left() + 3)),
               key=lambda c: _contrast(c, row))
    assert _contrast(edge, row) >= 3.0, (edge.name(), row.name())
