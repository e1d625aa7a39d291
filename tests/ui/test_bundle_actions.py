"""Notebook ▸ Export notebook… / Import notebook… in the main window: the jobs run off the GUI thread with a
progress dialog, the imported notebook is shown with its report, and a bad bundle opens the error dialog."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebooklm_local.core.context import AppContext
from notebooklm_local.core.notes import NoteStore
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings

pytestmark = pytest.mark.gui


@pytest.fixture
def ctx(app_home: Path, tmp_path: Path) -> AppContext:
    from notebooklm_local.workspace import open_library

    paths = app_paths().ensure()
    lib = open_library(paths, Settings())  # embedded as the window expects: no background re-embedding at start
    lib.create_notebook("Rivers")
    (tmp_path / "nile.md").write_text("# Nile\n\nThe Nile flows north into the Mediterranean Sea.", encoding="utf-8")
    assert lib.add("Rivers", [str(tmp_path / "nile.md")]).added
    NoteStore(lib.library).add(lib.notebook("Rivers").id, "Nile", "It flows north.")
    lib.library.close()
    return AppContext(paths, Settings())


def _window(qtbot, ctx: AppContext):  # a MainWindow
    from notebooklm_local.ui.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.library is not None and win.notebook_box.count() == 1, timeout=10000)
    return win


def test_export_and_import_from_the_notebook_menu(qtbot, ctx: AppContext, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    win = _window(qtbot, ctx)
    b = win.bundles
    menu = win.menuBar().findChild(type(win.menuBar().actions()[0].menu()), "notebook-menu")
    assert b.export_action in menu.actions() and b.import_action in menu.actions()
    assert b.export_action.isEnabled() and b.import_action.isEnabled()
    out = tmp_path / "rivers.zip"
    monkeypatch.setattr(b, "_ask_save", lambda name: str(out) if name == "Rivers" else "")
    with qtbot.waitSignal(b.finished, timeout=30000) as sig:
        b.export_action.trigger()
        assert not b.export_action.isEnabled()  # one bundle job at a time
    assert out.is_file() and sig.args[0].sources == 1 and sig.args[0].notes == 1
    assert sig.args[0].lines()[0].startswith("exported 'Rivers'")  # what the status bar shows (the window's
    # background re-embedding of the keyword-only source may have replaced the message since)

    monkeypatch.setattr(b, "_ask_open", lambda: str(out))
    monkeypatch.setattr(b, "_ask_target", lambda current: "new")
    with qtbot.waitSignal(b.finished, timeout=60000) as sig:
        b.import_action.trigger()
    assert sig.args[0].notebook == "Rivers (2)"
    qtbot.waitUntil(lambda: win.notebook_box.currentText() == "Rivers (2)", timeout=5000)
    assert b.report_dialog is not None and b.report_dialog.isVisible()
    assert "imported into new notebook" in b.report_dialog.view.toPlainText()
    assert [s.status for s in win.library.sources(win.current_notebook_id())] == ["ready"]
    assert b.export_action.isEnabled() and b.progress_dialog is None
    b.report_dialog.close()

    bad = tmp_path / "bad.zip"
    bad.write_bytes(out.read_bytes()[:200])
    monkeypatch.setattr(b, "_ask_open", lambda: str(bad))
    monkeypatch.setattr(b, "_ask_target", lambda current: "into")
    with qtbot.waitSignal(b.failed, timeout=30000):
        b.import_action.trigger()
    assert b.error_dialog is not None and b.error_dialog.isVisible()
    assert b.error_dialog.windowTitle() == "Import notebook"
    assert [win.notebook_box.itemText(i) for i in range(win.notebook_box.count())] == ["Rivers", "Rivers (2)"]
    b.error_dialog.close()
    win.close()


def test_cancel_in_the_progress_dialog_stops_the_import(qtbot, ctx: AppContext, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from PySide6.QtWidgets import QPushButton

    from notebooklm_local.core.errors import Cancelled
    from notebooklm_local.services import bundle as service

    started = threading.Event()

    def slow_import(svc, path, *, cancel, progress, **kw):  # stands in for a long import
        started.set()
        progress(1, 4, "indexing")
        while not cancel.is_set():
            cancel.raise_if_set()
            threading.Event().wait(0.01)
        raise Cancelled()

    monkeypatch.setattr(service, "import_bundle", slow_import)
    win = _window(qtbot, ctx)
    b = win.bundles
    monkeypatch.setattr(b, "_ask_open", lambda: str(tmp_path / "any.zip"))
    monkeypatch.setattr(b, "_ask_target", lambda current: "new")
    b.import_action.trigger()
    qtbot.waitUntil(started.is_set, timeout=10000)
    assert b.progress_dialog is not None and not b.import_action.isEnabled()
    assert any(w.startswith("Import notebook stops") for w in win.running_work())  # closing asks first
    with qtbot.waitSignal(b.failed, timeout=10000) as sig:
        b.progress_dialog.findChild(QPushButton).click()  # its Cancel button
    assert isinstance(sig.args[0], Cancelled) and b.error_dialog is None
    assert "cancelled (nothing was changed)" in win.statusBar().currentMessage()
    assert b.import_action.isEnabled() and win.notebook_box.count() == 1
    win.close()
