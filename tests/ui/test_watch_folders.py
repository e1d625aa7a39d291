"""Notebook ▸ Watch a folder… / Stop watching…, and the window's automatic sync of watched folders (the real
window, library and built-in embedder; the file-system watcher on a temp folder)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from notebooklm_local.core.context import AppContext
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings
from notebooklm_local.core.watch import MISSING_FLAG
from tests.ui.helpers import open_window


@pytest.fixture(autouse=True)
def warned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    warned: list[str] = []

    def warning(_parent: Any, _title: str, text: str, *a: Any, **k: Any) -> Any:
        warned.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(warning))
    return warned


def _ctx(folder: Path | None) -> AppContext:
    from notebooklm_local.workspace import open_library

    paths = app_paths().ensure()
    settings = Settings()
    lib = open_library(paths, settings, with_index=False)
    nb = lib.create_notebook("Papers")
    if folder is not None:
        lib.library.watch_folder(nb.id, str(folder.resolve()))
    lib.library.close()
    return AppContext(paths, settings)


def _sources(win: Any) -> dict[str, Any]:
    return {Path(s.ref.get("path", "")).name: s for s in win.library.sources(win.current_notebook_id())}


def _found(win: Any, word: str) -> set[str]:
    lib = win.library
    ids = [c for c, _ in lib.lexical_search(win.current_notebook_id(), word)]
    return {Path(lib.source(s).ref["path"]).name for s in lib.chunk_sources(ids).values()}


def _later(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, (st.st_atime, st.st_mtime + 5))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    f = tmp_path / "papers"
    f.mkdir()
    (f / "roses.md").write_text("# Roses\n\nPrune roses in late winter.", encoding="utf-8")
    return f


@pytest.fixture
def win(qtbot: Any, app_home: Path, folder: Path) -> Iterator[Any]:
    w = open_window(qtbot, _ctx(folder))
    w.folder_watch.timer.setInterval(200)  # the 2 s debounce, shortened
    yield w
    w.close()
    qtbot.waitUntil(lambda: not w.ingest.busy, timeout=20000)


def test_watched_folder_syncs_at_start_and_on_changes(qtbot: Any, win: Any, folder: Path) -> None:
    synced: list[Any] = []
    win.folder_watch.synced.connect(synced.append)

    # the library loaded: the open notebook's watched folder was synced through the ingest queue
    qtbot.waitUntil(lambda: _sources(win).get("roses.md") is not None
                    and _sources(win)["roses.md"].status == "ready" and not win.ingest.busy, timeout=60000)
    qtbot.waitUntil(lambda: "Synced" in win.statusBar().currentMessage(), timeout=5000)
    assert "1 added" in win.statusBar().currentMessage()
    assert win.folder_watch.unwatch_action.isEnabled()
    assert str(folder.resolve()) in win.folder_watch.watcher.directories()

    # a file added to the watched folder is indexed (the watcher, debounced, then the ingest queue)
    synced.clear()
    (folder / "tulips.txt").write_text("Plant tulip bulbs in autumn.", encoding="utf-8")
    qtbot.waitUntil(lambda: any(r.added for r in synced) and not win.ingest.busy, timeout=60000)
    assert _sources(win)["tulips.txt"].status == "ready" and _found(win, "bulbs") == {"tulips.txt"}
    # the sync's summary, once the queue is idle (after its own "Indexing finished", which it replaces)
    qtbot.waitUntil(lambda: win.statusBar().currentMessage().endswith(": 1 added"), timeout=5000)

    # an edited file is re-indexed from the original; a deleted one is marked, not removed
    synced.clear()
    _later(folder / "roses.md", "# Roses\n\nRoses like compost in spring.")
    qtbot.waitUntil(lambda: any(r.reindexed for r in synced) and not win.ingest.busy, timeout=60000)
    assert _found(win, "compost") == {"roses.md"} and _found(win, "winter") == set()
    synced.clear()
    (folder / "tulips.txt").unlink()
    qtbot.waitUntil(lambda: any(r.missing for r in synced), timeout=30000)
    tulips = _sources(win)["tulips.txt"]
    assert MISSING_FLAG in tulips.flags and tulips.status == "ready"
    qtbot.waitUntil(lambda: "1 missing" in win.statusBar().currentMessage(), timeout=5000)


def test_watch_and_stop_watching_from_the_menu(qtbot: Any, app_home: Path, tmp_path: Path, warned: list[str]) -> None:
    w = open_window(qtbot, _ctx(None))
    try:
        qtbot.waitUntil(lambda: w.current_notebook_id() is not None, timeout=10000)
        fw = w.folder_watch
        nb_menu = next(a.menu() for a in w.menuBar().actions() if a.menu() and a.menu().objectName() == "notebook-menu")
        assert {"watch-folder", "unwatch-folder"} <= {a.objectName() for a in nb_menu.actions()}
        assert fw.watch_action.isEnabled() and not fw.unwatch_action.isEnabled()
        notes = tmp_path / "notes"
        notes.mkdir()
        (notes / "bees.md").write_text("# Bees\n\nBees pollinate apple blossoms.", encoding="utf-8")
        fw.pick_folder = lambda: str(notes)
        fw.watch_action.trigger()
        qtbot.waitUntil(lambda: "bees.md" in _sources(w) and _sources(w)["bees.md"].status == "ready"
                        and not w.ingest.busy, timeout=60000)
        assert [f.path for f in w.library.watched_folders(w.current_notebook_id())] == [str(notes.resolve())]
        assert fw.unwatch_action.isEnabled()

        fw.watch_action.trigger()  # already watched: a clear warning, nothing changes
        qtbot.waitUntil(lambda: any("already watched" in t for t in warned), timeout=10000)
        fw.pick_folder = lambda: str(notes / "bees.md")  # a file: the service's check, as `watch add`
        fw.watch_action.trigger()
        qtbot.waitUntil(lambda: any("is a file, not a folder" in t for t in warned), timeout=10000)
        assert len(w.library.watched_folders(w.current_notebook_id())) == 1

        fw.choose_folder = lambda folders: folders[0]
        fw.unwatch_action.trigger()
        assert w.library.watched_folders(w.current_notebook_id()) == []
        assert not fw.unwatch_action.isEnabled() and fw.watcher.directories() == []
        assert "bees.md" in _sources(w)  # its sources stay
        assert "Stopped watching" in w.statusBar().currentMessage()
    finally:
        w.close()
        qtbot.waitUntil(lambda: not w.ingest.busy, timeout=20000)


def test_a_duplicate_in_a_watched_folder_is_reported_once(qtbot: Any, win: Any, folder: Path) -> None:
    qtbot.waitUntil(lambda: _sources(win).get("roses.md") is not None
                    and _sources(win)["roses.md"].status == "ready" and not win.ingest.busy, timeout=60000)
    synced: list[Any] = []
    win.folder_watch.synced.connect(synced.append)
    (folder / "roses-again.md").write_text("# Roses\n\nPrune roses in late winter.", encoding="utf-8")
    qtbot.waitUntil(lambda: any(r.duplicates for r in synced) and not win.ingest.busy, timeout=60000)
    assert "roses-again.md" not in _sources(win)
    # the folder changes again: the duplicate is not queued and read again, nor reported again
    synced.clear()
    (folder / "tulips.txt").write_text("Plant tulip bulbs in autumn.", encoding="utf-8")
    qtbot.waitUntil(lambda: any(r.added for r in synced) and not win.ingest.busy, timeout=60000)
    assert all(not r.duplicates for r in synced)
    assert [Path(p).name for r in synced for p in r.added] == ["tulips.txt"]
