"""Notebook ▸ Watch a folder… / Stop watching…, and the automatic sync of the open notebook's watched folders.

The CLI's ``watch add|remove`` and ``sync``. The window syncs the open notebook's folders when the library
loads (and when another notebook is opened), and when a watched folder changes: a
``QFileSystemWatcher`` on the folders, their sub-folders and files, debounced (``DEBOUNCE_MS``). Syncing
runs through the ingest controller (``IngestController.sync_folders``): the scan on the io lane, the
indexing in the ingest queue with its progress and Stop, as for drops; each folder's summary goes to the
status bar ("Synced ~/papers: 2 added, 1 re-indexed, 1 missing"). Gone files are flagged "original
missing" in the sources list, never removed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from notebooklm_local.core.errors import NotebookError
from notebooklm_local.ui.errors import show_exception
from notebooklm_local.ui.ops import BackgroundOp

__all__ = ["FolderWatch", "DEBOUNCE_MS", "short_path"]

log = logging.getLogger(__name__)

DEBOUNCE_MS = 2000  # a burst of changes (a copy of many files, an editor's save) is one sync


def short_path(path: str) -> str:
    """``~/papers`` for a folder in the home folder."""
    home = str(Path.home())
    return "~" + path[len(home):] if path == home or path.startswith(home + os.sep) else path


class FolderWatch(QObject):
    """The two actions, the file-system watcher and the debounce timer, for the main window (``window``:
    library, ingest, current_notebook_id, statusBar).

    Signals:
        synced(object): a folder's SyncResult (after its files were indexed) — tests wait on it.
    """

    synced = Signal(object)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.watch_action = QAction("&Watch a folder…", window)
        self.watch_action.setObjectName("watch-folder")
        self.watch_action.setToolTip("Follow a folder: its files are added to this notebook, re-indexed when they "
                                     "change, and marked when they are gone")
        self.watch_action.triggered.connect(self.watch_folder)
        self.unwatch_action = QAction("&Stop watching…", window)
        self.unwatch_action.setObjectName("unwatch-folder")
        self.unwatch_action.setToolTip("Stop following a watched folder (its sources stay in the notebook)")
        self.unwatch_action.triggered.connect(self.stop_watching)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._on_changed)
        self.watcher.fileChanged.connect(self._on_changed)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.sync_now)
        self._notebook_id: str | None = None
        self._message = ""
        window.ingest.synced.connect(self._on_synced)
        window.ingest.activity_changed.connect(self._on_activity)
        window.ingest.folders_scanned.connect(self._on_folders_scanned)
        # dialogs (tests replace these)
        self.pick_folder: Callable[[], str] = self._pick_folder
        self.choose_folder: Callable[[list[str]], str | None] = self._choose_folder

    # -- state ----------------------------------------------------------------------------------------
    def update(self, has_notebook: bool) -> None:
        self.watch_action.setEnabled(has_notebook)
        self.unwatch_action.setEnabled(has_notebook and bool(self.folders()))

    def folders(self) -> list[str]:
        w = self.window
        nb_id = w.current_notebook_id()
        if w.library is None or nb_id is None:
            return []
        return [f.path for f in w.library.watched_folders(nb_id)]

    def notebook_opened(self, notebook_id: str | None, *, force: bool = False) -> None:
        """The window shows another notebook (or the library loaded): follow its folders, sync them.
        The same notebook again (a rename reloads the list) changes nothing unless ``force``."""
        if notebook_id == self._notebook_id and not force:
            self.update(notebook_id is not None)
            return
        self._notebook_id = notebook_id
        self.timer.stop()
        self._set_paths([])
        folders = self.folders()
        self.update(notebook_id is not None)
        if folders:
            self._set_paths(folders)
            self.sync_now()

    # -- actions ----------------------------------------------------------------------------------------
    @Slot()
    def watch_folder(self) -> None:
        w = self.window
        nb_id = w.current_notebook_id()
        if w.library is None or nb_id is None:
            return
        path = self.pick_folder()
        if not path:
            return
        # the service's checks (exists, a folder, readable, not watched yet), as `watch add`; on a lane: the
        # service may be opening the index
        BackgroundOp(self, lambda: w.ingest.service().watch_folder(nb_id, path), lanes=w.lanes, lane="store",
                     on_success=lambda f: self._on_watched(nb_id, f), on_failure=self._on_watch_failed,
                     label="Watch a folder").run()

    def _on_watched(self, notebook_id: str, folder: Any) -> None:
        self.window.statusBar().showMessage(f"Watching {short_path(folder.path)}: syncing…", 8000)
        if self.window.current_notebook_id() == notebook_id:
            self.notebook_opened(notebook_id, force=True)

    def _on_watch_failed(self, exc: BaseException) -> None:
        if isinstance(exc, NotebookError):
            QMessageBox.warning(self.window, "Watch a folder", str(exc))
        else:
            show_exception(self.window, "Watch a folder", exc)

    @Slot()
    def stop_watching(self) -> None:
        w = self.window
        nb_id = w.current_notebook_id()
        folders = self.folders()
        if w.library is None or nb_id is None or not folders:
            return
        path = self.choose_folder(folders)
        if not path:
            return
        w.library.unwatch_folder(nb_id, path)
        w.statusBar().showMessage(f"Stopped watching {short_path(path)}; its sources stay in the notebook.", 8000)
        self.notebook_opened(nb_id, force=True)

    @Slot()
    def sync_now(self) -> None:
        if self._notebook_id is not None and self.folders():
            self.window.ingest.sync_folders(self._notebook_id)

    # -- dialogs --------------------------------------------------------------------------------------
    def _pick_folder(self) -> str:
        return QFileDialog.getExistingDirectory(self.window, "Watch a folder", str(Path.home()))

    def _choose_folder(self, folders: list[str]) -> str | None:
        if len(folders) == 1:
            answer = QMessageBox.question(
                self.window, "Stop watching",
                f"Stop watching {short_path(folders[0])}?\n\nIts sources stay in the notebook; new files are no "
                "longer added.")
            return folders[0] if answer == QMessageBox.StandardButton.Yes else None
        item, ok = QInputDialog.getItem(self.window, "Stop watching", "Folder:", [short_path(f) for f in folders],
                                        0, False)
        return folders[[short_path(f) for f in folders].index(item)] if ok else None

    # -- the watcher ----------------------------------------------------------------------------------
    def _set_paths(self, paths: list[str]) -> None:
        old = self.watcher.directories() + self.watcher.files()
        if old:
            self.watcher.removePaths(old)
        existing = [p for p in paths if os.path.exists(p)]
        if existing:
            self.watcher.addPaths(existing)

    @Slot(str)
    def _on_changed(self, _path: str) -> None:
        self.timer.start()  # restarts: one sync after the burst

    @Slot(str, object)
    def _on_folders_scanned(self, notebook_id: str, paths: object) -> None:
        if notebook_id == self._notebook_id:
            self._set_paths(list(paths))  # type: ignore[call-overload]

    @Slot(object)
    def _on_synced(self, result: object) -> None:
        r: Any = result
        changed = r.added or r.reindexed or r.missing or r.moved or r.restored or r.failed or r.error
        if changed:
            # shown once the queue is idle, after its own "Indexing finished" message (the same finished
            # source triggers both, in either order): the sync's summary says more
            self._message = r.summary(short_path(r.folder))
            QTimer.singleShot(0, self._show_message)
        if r.missing or r.failed or r.error:
            log.info("%s", "; ".join(r.lines()))
        self.synced.emit(result)

    @Slot(int, int)
    def _on_activity(self, remaining: int, _percent: int) -> None:
        if remaining == 0 and self._message:
            QTimer.singleShot(0, self._show_message)

    @Slot()
    def _show_message(self) -> None:
        if self._message and not self.window.ingest.busy:  # still indexing: _on_activity shows it at the end
            self.window.statusBar().showMessage(self._message, 15000)
            self._message = ""
