"""What the end-to-end GUI test (tests/e2e/test_x11_user_loop.py) cannot see from outside the process.

Off by default. With ``NOTEBOOKLM_E2E_PROBE=FILE`` in the environment the app writes, every 200 ms, a JSON
snapshot of its windows to FILE (atomically: a temporary file, then rename): the global screen rectangles
of visible named widgets, buttons, tab bar tabs and open menu items (so xdotool can click them), the visible links
of the chat transcript (citation chips ``cite:…``, ``note:…``), whether a tooltip shows and its text, the
chat panel's state (busy, streamed characters), open source viewers (cited page, shown page, highlighted
passage), the application palette and the garbage collector's state. Nothing here changes what the app does.
"""

from __future__ import annotations

import gc
import json
import os
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QPoint, QTimer
from PySide6.QtGui import QPalette, QTextCursor
from PySide6.QtWidgets import QAbstractButton, QApplication, QMenu, QTabBar, QTextBrowser, QToolTip, QWidget

__all__ = ["ENV", "install_probe", "snapshot"]

ENV = "NOTEBOOKLM_E2E_PROBE"
INTERVAL_MS = 200


def _rect(w: QWidget) -> list[int]:
    p = w.mapToGlobal(QPoint(0, 0))
    return [p.x(), p.y(), w.width(), w.height()]


def _text(w: QWidget) -> str:
    for attr in ("text", "currentText", "toPlainText", "windowTitle"):
        fn = getattr(w, attr, None)
        if callable(fn):
            try:
                value = fn()
            except TypeError:
                continue
            if isinstance(value, str) and value:
                return value[:300]
    return ""


def _anchors(browser: QTextBrowser) -> list[dict[str, Any]]:
    """The links of a text browser that are (at least partly) visible: href, text, global rectangle."""
    out: list[dict[str, Any]] = []
    doc = browser.document()
    viewport = browser.viewport()
    vh, vw = viewport.height(), viewport.width()
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            fmt = frag.charFormat()
            if frag.isValid() and fmt.isAnchor() and fmt.anchorHref():
                c = QTextCursor(doc)
                c.setPosition(frag.position())
                a = browser.cursorRect(c)
                c.setPosition(frag.position() + max(0, frag.length() - 1))
                b = browser.cursorRect(c)
                if a.top() == b.top():  # on one line: from its first character to (before) its last
                    x0, x1 = a.left(), max(b.left(), a.left() + 4)
                else:  # wrapped: its first line's start
                    x0, x1 = a.left(), a.left() + 8
                if a.bottom() >= 0 and a.top() <= vh and x0 <= vw:
                    g = viewport.mapToGlobal(QPoint(x0, a.top()))
                    out.append({"href": fmt.anchorHref(), "text": frag.text()[:120],
                                "rect": [g.x(), g.y(), max(1, x1 - x0), max(1, a.height())]})
            it += 1
        block = block.next()
    return out


def _viewer(w: QWidget) -> dict[str, Any]:
    tabs = getattr(w, "tabs", None)
    current = tabs.tabText(tabs.currentIndex()) if tabs is not None else ""
    page_label = getattr(w, "page_label", None)
    return {
        "title": w.windowTitle(), "rect": _rect(w), "source_title": getattr(w, "source_title", ""),
        "cited_page": getattr(w, "cited_page", None),
        "pdf_page": (None if getattr(w, "pdf_page", None) is None else int(w.pdf_page) + 1),  # type: ignore[attr-defined]
        "pdf_match_rects": len(getattr(w, "pdf_match", []) or []),
        "highlighted": str(getattr(w, "highlighted", "") or "")[:500],
        "notice": str(getattr(w, "notice_text", "") or ""),
        "page_label": page_label.text() if page_label is not None else "",
        "current_tab": current,
    }


def snapshot(app: QApplication) -> dict[str, Any]:
    """The state the end-to-end test reads (see the module's docstring)."""
    pal = app.palette()
    focus = app.focusWidget()
    snap: dict[str, Any] = {
        "t": time.time(), "pid": os.getpid(),
        "palette": {"window": pal.color(QPalette.ColorRole.Window).name(),
                    "text": pal.color(QPalette.ColorRole.WindowText).name(),
                    "base": pal.color(QPalette.ColorRole.Base).name(),
                    "dark": pal.color(QPalette.ColorRole.Window).lightness() < 128},
        "focus": (focus.objectName() or type(focus).__name__) if focus is not None else "",
        "tooltip": {"visible": QToolTip.isVisible(), "text": QToolTip.text() if QToolTip.isVisible() else ""},
        "gc": {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()},  # paused at start, frozen once settled
        "windows": [], "widgets": {}, "buttons": [], "tabs": [], "menus": [], "anchors": [], "viewers": [], "chat": {},
    }
    for top in app.topLevelWidgets():
        if not top.isVisible():
            continue
        if isinstance(top, QMenu):
            for a in top.actions():
                r = top.actionGeometry(a)
                if a.isSeparator() or not a.isVisible() or r.isEmpty():
                    continue
                g = top.mapToGlobal(r.topLeft())
                snap["menus"].append({"text": a.text(), "enabled": a.isEnabled(),
                                      "rect": [g.x(), g.y(), r.width(), r.height()]})
            continue
        snap["windows"].append({"title": top.windowTitle(), "name": top.objectName(), "cls": type(top).__name__,
                                "rect": _rect(top), "active": top.isActiveWindow(), "modal": top.isModal()})
        if top.objectName() == "source-viewer":
            snap["viewers"].append(_viewer(top))
        for w in [top, *top.findChildren(QWidget)]:
            if not w.isVisible():
                continue
            name = w.objectName()
            if isinstance(w, QTabBar):
                for i in range(w.count()):
                    r = w.tabRect(i)
                    g = w.mapToGlobal(r.topLeft())
                    snap["tabs"].append({"bar": (w.parent().objectName() if w.parent() else ""), "text": w.tabText(i),
                                         "current": i == w.currentIndex(), "rect": [g.x(), g.y(), r.width(), r.height()]})
            if isinstance(w, QAbstractButton) and w.text():
                snap["buttons"].append({"text": w.text(), "name": name, "window": top.windowTitle(), "rect": _rect(w),
                                        "enabled": w.isEnabled()})
            if not name or name.startswith("qt_") or name in snap["widgets"]:
                continue
            snap["widgets"][name] = {"cls": type(w).__name__, "rect": _rect(w), "text": _text(w),
                                     "enabled": w.isEnabled(), "window": top.windowTitle()}
            if name == "chat-transcript" and isinstance(w, QTextBrowser):
                snap["anchors"] = _anchors(w)
            elif name == "chat-pane":
                snap["chat"] = {"busy": bool(getattr(w, "busy", False)), "streamed": len(getattr(w, "_streamed", "")),
                                "answers": int(getattr(w, "_answers", 0)),
                                "source_ids": list(getattr(w, "source_ids", None) or [])}
    return snap


class _Probe(QObject):
    def __init__(self, app: QApplication, out: Path) -> None:
        super().__init__(app)
        self.app, self.out = app, out
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.write)
        self.timer.start()

    def write(self) -> None:
        try:
            data = json.dumps(snapshot(self.app))
            tmp = self.out.with_name(self.out.name + ".tmp")
            tmp.write_text(data, encoding="utf-8")
            os.replace(tmp, self.out)
        except Exception:  # noqa: BLE001, S110 - a probe never takes the app down
            pass


def install_probe(path: str) -> None:
    """Start writing snapshots to ``path`` (the QApplication is created here if it does not exist yet)."""
    from notebooklm_local.ui.application import create_application

    global _probe
    _probe = _Probe(create_application(), Path(path))


_probe: _Probe | None = None
