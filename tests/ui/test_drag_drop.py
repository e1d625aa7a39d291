"""Dropping files, folders and links anywhere on the main window adds them to the current notebook.

Synthetic drag events are sent to the widget Qt would send them to: the widget under the cursor if it
takes drops (a text field), else its nearest ancestor that does (the window).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from notebooklm_local.core.context import AppContext
from notebooklm_local.core.paths import app_paths, resources_dir
from notebooklm_local.core.settings import Settings
from tests.helpers.static_site import serve_pages
from tests.ui.helpers import open_window

pytestmark = [pytest.mark.gui, pytest.mark.model]

SAMPLE = resources_dir() / "sample"
PAGE = (b"<html><head><title>Night trains</title></head><body><article><h1>Night trains</h1>"
        b"<p>Night trains connect Vienna with Hamburg, Brussels and Rome. Book a couchette early in summer, "
        b"when the sleeping cars sell out weeks ahead.</p></article></body></html>")


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """A web site on 127.0.0.1 (the web loader fetches loopback; nothing leaves the machine)."""
    with serve_pages({"/trains": PAGE}) as url:
        yield url


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """No proxies (loopback only), no message boxes, no error logs."""
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)

    def no_box(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"unexpected message box: {args[1:3]}")

    for name in ("warning", "critical", "information", "question"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(no_box))
    caplog.set_level(logging.WARNING, logger="notebooklm_local")
    yield
    errors = [r.getMessage() for r in caplog.records
              if r.levelno >= logging.ERROR and r.name.startswith("notebooklm_local")]
    assert not errors, errors


def _ctx(notebook: str | None) -> AppContext:
    from notebooklm_local.workspace import open_library

    paths = app_paths().ensure()
    settings = Settings()
    if notebook:
        lib = open_library(paths, settings, with_index=False)
        lib.create_notebook(notebook)
        lib.library.close()
    return AppContext(paths, settings)




@pytest.fixture
def win(qtbot: Any, app_home: Path, installed_model: Path) -> Iterator[Any]:
    w = open_window(qtbot, _ctx("Travel"))
    qtbot.waitUntil(lambda: w.sources_pane.notebook_id is not None, timeout=10000)
    yield w
    w.close()
    qtbot.waitUntil(lambda: not w.ingest.busy, timeout=10000)


def _dnd_target(widget: QWidget) -> QWidget:
    """Where Qt delivers a drag over ``widget``: the nearest widget (itself or an ancestor) taking drops."""
    w: QWidget | None = widget
    while w is not None and not w.acceptDrops():
        w = w.parentWidget()
    assert w is not None, "nothing on the window takes drops"
    return w


def _mime(urls: list[QUrl] | None = None, text: str | None = None) -> QMimeData:
    m = QMimeData()
    if urls:
        m.setUrls(urls)
    if text is not None:
        m.setText(text)
    return m


def _drag_over(widget: QWidget, mime: QMimeData) -> tuple[QWidget, QPoint, bool]:
    target = _dnd_target(widget)
    pos = widget.mapTo(target, widget.rect().center()) if target is not widget else widget.rect().center()
    with warnings.catch_warnings():  # PySide6 marks the QPoint constructors deprecated and sometimes has no other
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
        move = QDragMoveEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                              Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    QApplication.sendEvent(target, move)
    return target, pos, enter.isAccepted()


def _drop(widget: QWidget, mime: QMimeData) -> QWidget:
    target, pos, accepted = _drag_over(widget, mime)
    assert accepted
    drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, drop)
    assert drop.isAccepted()
    return target


def _statuses(win: Any) -> dict[str, str]:
    assert win.library is not None
    return {s.title or Path(s.ref.get("path", "")).name or s.ref.get("url"): s.status
            for s in win.library.sources(win.sources_pane.notebook_id)}


def _wait_ready(qtbot: Any, win: Any, titles: set[str], timeout: int = 60000) -> None:
    def check() -> None:
        st = _statuses(win)
        assert titles <= set(st) and all(st[t] == "ready" for t in titles), st
        assert not win.ingest.busy

    qtbot.waitUntil(check, timeout=timeout)


def test_files_dropped_on_another_pane_are_added_with_a_highlight_while_dragging(
    qtbot: Any, win: Any, tmp_path: Path
) -> None:
    md = tmp_path / "packing.md"
    md.write_text("# Packing\n\nTake earplugs and a small torch on a night train.", encoding="utf-8")
    mime = _mime([QUrl.fromLocalFile(str(SAMPLE / "quantization-notes.txt")), QUrl.fromLocalFile(str(md))])
    target, _pos, accepted = _drag_over(win.studio_pane, mime)
    assert accepted and target is win
    assert win.drop_overlay.isVisible()
    assert win.drop_overlay.geometry() == win.rect()
    assert win.drop_overlay.text == "Drop to add 2 items to “Travel”"
    QApplication.sendEvent(target, QDragLeaveEvent())
    assert not win.drop_overlay.isVisible()  # dragged out again: no highlight, nothing added
    assert not win.ingest.busy and win.sources_pane.list.count() == 0
    _drop(win.studio_pane, mime)
    assert not win.drop_overlay.isVisible()
    _wait_ready(qtbot, win, {"quantization-notes", "Packing"})
    assert win.sources_pane.list.count() == 2
    assert sorted(win.chat_pane.source_ids or []) == sorted(s.id for s in win.library.sources(win.current_notebook_id()))


def test_links_and_folders_dropped_on_the_chat_input_become_sources(qtbot: Any, win: Any, tmp_path: Path,
                                                                     site: str) -> None:
    folder = tmp_path / "trip"
    folder.mkdir()
    (folder / "route.txt").write_text("Vienna, then Munich, then Zurich by train.", encoding="utf-8")
    chat_input = win.chat_pane.input.viewport()
    mime = _mime([QUrl.fromLocalFile(str(folder)), QUrl(f"{site}/trains")], text=f"{folder}\n{site}/trains")
    target = _drop(chat_input, mime)
    assert target is not win  # the text field itself got the events, and passed them on
    _wait_ready(qtbot, win, {"route", "Night trains"})
    assert win.chat_pane.input.toPlainText() == ""  # nothing was pasted into the question field
    # plain text dropped into a text field is the field's business, not a source
    before = win.sources_pane.list.count()
    _target, _pos, _accepted = _drag_over(chat_input, _mime(text="What time does the train leave?"))
    assert not win.drop_overlay.isVisible() and not win.ingest.busy
    assert win.sources_pane.list.count() == before and win.sources_pane.notices() == []


def test_plain_text_with_a_link_or_a_path_and_garbage_text(qtbot: Any, win: Any, tmp_path: Path, site: str) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Couchettes have six berths; sleepers have one to three.", encoding="utf-8")
    _drop(win.sources_pane.list.viewport(), _mime(text=f"Read this: {site}/trains."))
    _drop(win.sources_pane.title, _mime(text=str(notes)))
    _wait_ready(qtbot, win, {"Night trains", "notes"})
    _drop(win.chat_pane.transcript.viewport(), _mime(text="lorem ipsum dolor"))
    assert "Not added: “lorem ipsum dolor” is not a web address, file or folder." in win.sources_pane.notices()
    assert "lorem ipsum" in win.statusBar().currentMessage()
    assert win.sources_pane.list.count() == 2


def test_drop_without_a_notebook_says_to_create_one(qtbot: Any, app_home: Path, tmp_path: Path) -> None:
    win = open_window(qtbot, _ctx(None))
    assert win.sources_pane.create_button.isVisible()
    md = tmp_path / "a.md"
    md.write_text("# A\n\ntext", encoding="utf-8")
    mime = _mime([QUrl.fromLocalFile(str(md))])
    _target, _pos, accepted = _drag_over(win.chat_pane, mime)
    assert accepted and win.drop_overlay.isVisible() and win.drop_overlay.text == "Create a notebook first"
    _drop(win.chat_pane, mime)
    assert any("Create or open a notebook first" in n for n in win.sources_pane.notices())
    assert not win.ingest.busy
    win.close()
