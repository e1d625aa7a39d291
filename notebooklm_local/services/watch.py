"""Watched folders on the real file system: link/unlink a folder to a notebook, and sync it.

The plan (what to add, hash, mark missing, restore) is ``core.watch.plan_sync``'s; this module scans the
folder with the filter adding a folder uses (``services.folders.walk_folder``), hashes the suspects and
applies the plan through the library service: new files are added and indexed, changed ones re-indexed
from the original (as Re-index does), gone ones flagged ``original missing`` (never deleted).
``LibraryService.watch_folder`` / ``unwatch_folder`` / ``sync_folders`` are the entry points.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.errors import Cancelled, NotebookError
from notebooklm_local.core.jobs import CancelToken, ProgressCallback, no_progress
from notebooklm_local.core.library import Source, SourceStatus
from notebooklm_local.core.library_care import DiskFullError
from notebooklm_local.core.watch import (
    MISSING_FLAG,
    STAT_KEY,
    FileStat,
    KnownFile,
    QueuedFile,
    SyncResult,
    WatchedFolder,
    confirm_changes,
    known_file,
    plan_sync,
)
from notebooklm_local.services.folders import walk_folder

# ``lib`` below is the LibraryService (not imported: it imports this module for its watched-folder methods)
LibraryService = Any

__all__ = ["watch_folder", "unwatch_folder", "sync_folder", "sync_folders", "folder_path", "file_sha256",
           "record_file_stat"]

log = logging.getLogger(__name__)


def folder_path(path: str | Path) -> Path:
    """The absolute, resolved form of a folder the user named (``~`` expanded)."""
    return Path(path).expanduser().resolve()


def watch_folder(lib: LibraryService, notebook: str, path: str | Path, *, recursive: bool = True) -> WatchedFolder:
    nb = lib.library.notebook(notebook)
    p = folder_path(path)
    if not p.exists():
        raise NotebookError(f"Folder not found: {p}")
    if not p.is_dir():
        raise NotebookError(f"{p} is a file, not a folder: add it with `add`, or watch the folder it is in.")
    if not os.access(p, os.R_OK | os.X_OK):
        raise NotebookError(f"Cannot read the folder {p} (permission denied).")
    for w in lib.library.watched_folders(nb.id):
        if w.path == str(p):
            raise NotebookError(f"{p} is already watched by '{nb.name}'.")
    return lib.library.watch_folder(nb.id, str(p), recursive=recursive)


def unwatch_folder(lib: LibraryService, notebook: str, path: str | Path) -> WatchedFolder:
    """Stop watching (the sources stay). The path may be the stored one even when the folder is gone."""
    nb = lib.library.notebook(notebook)
    wanted = {str(path), str(Path(path).expanduser()), str(folder_path(path))}
    for w in lib.library.watched_folders(nb.id):
        if w.path in wanted:
            lib.library.unwatch_folder(nb.id, w.path)
            return w
    raise NotebookError(f"'{nb.name}' does not watch {folder_path(path)}.")


def file_sha256(path: str) -> str | None:
    """The sha256 of a file's bytes (None when it cannot be read)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def _scan(lib: LibraryService, folder: WatchedFolder, result: SyncResult) -> list[FileStat]:
    root = Path(folder.path)
    files, result.skipped = walk_folder(root, lib.file_extensions, lib.can_load_file, recursive=folder.recursive)
    out = []
    for f in files:
        try:
            st = f.stat()
        except OSError as e:
            result.skipped.append((str(f), f"cannot read it: {e.strerror or e}"))
            continue
        out.append(FileStat(str(f), st.st_size, st.st_mtime))
    return out


def record_file_stat(lib: LibraryService, source_id: str, size: int, mtime: float) -> None:
    """The file's stat as indexed: the next sync compares with it (after a deferred sync's indexing)."""
    _set_stat(lib, source_id, FileStat("", size, mtime), clear_missing=True)


def _set_stat(lib: LibraryService, source_id: str, f: FileStat, *, clear_missing: bool = False) -> None:
    src = lib.library.source(source_id)
    fields: dict[str, object] = {"meta": {**src.meta, STAT_KEY: [f.size, f.mtime]}}
    if clear_missing and MISSING_FLAG in src.flags:
        fields["flags"] = [x for x in src.flags if x != MISSING_FLAG]
    lib.library.update_source(source_id, **fields)


def sync_folder(
    lib: LibraryService, folder: WatchedFolder, *, dry_run: bool = False, defer: bool = False,
    cancel: CancelToken | None = None, progress: ProgressCallback = no_progress,
) -> SyncResult:
    """Sync one watched folder into its notebook (see the module's docstring); per-file problems are
    reported in the result, not raised. A folder that is gone (an unmounted drive) raises NotebookError
    and marks nothing.

    ``defer``: marks, stats and moves are applied, new files get a queued source, and the indexing (new
    and changed files) is left to the caller: ``result.queued`` (the window's ingest queue, with its
    progress and Stop); the caller records each file's stat once indexed (``record_file_stat``)."""
    cancel = cancel or CancelToken()
    result = SyncResult(folder.path, dry_run=dry_run)
    root = Path(folder.path)
    if not root.is_dir():
        raise NotebookError(f"The watched folder {root} is not there (moved, deleted or not mounted); "
                            "nothing was marked missing.")
    if not os.access(root, os.R_OK | os.X_OK):
        raise NotebookError(f"Cannot read the watched folder {root} (permission denied); nothing was marked missing.")
    scanned = _scan(lib, folder, result)
    sources = lib.library.sources(folder.notebook_id)
    known = [k for s in sources if (k := known_file(s.id, s.ref, s.meta, s.sha256, s.flags)) is not None]
    plan = plan_sync(folder, scanned, known)
    # a file the folder filter leaves out (a hidden one added by hand, one in a hidden sub-folder) is not gone
    plan.mark_missing = [k for k in plan.mark_missing if not os.path.lexists(k.path)]
    # a file found to duplicate another source, unchanged since: not read again (reported once)
    stats = {f.path: f for f in scanned}
    known_dups = [p for p in plan.add if lib.known_duplicates.get((folder.notebook_id, p))
                  == (stats[p].size, stats[p].mtime)]
    plan.add = [p for p in plan.add if p not in known_dups]
    result.unchanged = plan.unchanged + len(known_dups)
    cancel.raise_if_set()
    hashes = {f.path: file_sha256(f.path) for _k, f in (*plan.suspects, *plan.restore)}
    changed, touched = confirm_changes(plan.suspects, hashes)
    back_changed, back_same = confirm_changes(plan.restore, hashes)
    result.added = list(plan.add)
    result.reindexed = [f.path for _k, f in (*changed, *back_changed)]
    result.missing = [k.path for k in plan.mark_missing]
    result.still_missing = [k.path for k in known if k.missing and k.path not in stats and _under(k, folder)
                            and not os.path.lexists(k.path)]
    result.restored = [f.path for _k, f in (*back_same, *back_changed)]
    result.touched = [f.path for _k, f in touched]
    result.unchanged += len(touched)
    if dry_run:
        return result

    for k in plan.mark_missing:
        src = lib.library.source(k.source_id)
        lib.library.update_source(k.source_id, flags=[*src.flags, MISSING_FLAG])
    for k, f in (*touched, *back_same):
        _set_stat(lib, k.source_id, f, clear_missing=True)

    work: list[tuple[str, KnownFile | None, FileStat | None]] = [
        *((f.path, k, f) for k, f in (*changed, *back_changed)),
        *((p, None, None) for p in plan.add),
    ]
    if defer:
        for path, k, _f in work:
            fs = stats[path]
            qid = k.source_id if k is not None else lib.library.add_source(folder.notebook_id, {"path": path}).id
            result.queued.append(QueuedFile(qid, path, k is not None, fs.size, fs.mtime))
        return result
    for n, (path, k, _f) in enumerate(work):
        cancel.raise_if_set()
        name = Path(path).name
        progress(n, len(work), f"{'re-indexing' if k else 'adding'} {name}")

        def step(_d: int, _t: int, m: str, n: int = n) -> None:
            progress(n, len(work), m)

        sid: str | None = None
        try:
            if k is not None:
                sid = k.source_id
                if lib.index is not None:
                    lib.index.delete_source(folder.notebook_id, sid)
                lib.library.update_source(sid, status=SourceStatus.QUEUED, error=None)
            else:
                sid = lib.library.add_source(folder.notebook_id, {"path": path}, title="").id
            lib.process(sid, cancel=cancel, ref=SourceRef(path=Path(path)), progress=step)
        except (Cancelled, DiskFullError):
            raise
        except NotebookError as e:
            existing = getattr(e, "existing", None)  # the service's duplicate: it removed the new copy
            if isinstance(existing, Source):
                if not _adopt_move(lib, existing, path, stats.get(path), result):
                    result.duplicates.append((path, existing.title))
                    if (st := stats.get(path)) is not None:
                        lib.remember_duplicate(folder.notebook_id, path, st.size, st.mtime)
                result.drop(path)
                continue
            result.failed.append((path, str(e)))
            result.drop(path)
        # the stat of the file as indexed (or as failed: retried when the file changes again)
        st = stats.get(path)
        if sid is not None and st is not None:
            try:
                _set_stat(lib, sid, st, clear_missing=True)
            except NotebookError:
                pass  # removed meanwhile (a cancelled large source)
    progress(len(work), len(work), "done")
    return result


def _under(k: KnownFile, folder: WatchedFolder) -> bool:
    from notebooklm_local.core.watch import is_under

    return is_under(k.path, folder.path, recursive=folder.recursive)


def _adopt_move(lib: LibraryService, existing: Source, path: str, st: FileStat | None, result: SyncResult) -> bool:
    """A new file with the content of a source whose file is missing: the file was moved (or renamed), so
    that source follows it (its notes and citations stay valid) instead of a duplicate being refused."""
    if MISSING_FLAG not in existing.flags and existing.ref.get("path") not in result.missing:
        return False
    old = str(existing.ref.get("path", ""))
    src = lib.library.source(existing.id)
    meta = {**src.meta, **({STAT_KEY: [st.size, st.mtime]} if st else {})}
    lib.library.update_source(existing.id, ref={**src.ref, "path": path}, meta=meta,
                              flags=[x for x in src.flags if x != MISSING_FLAG])
    if old in result.missing:
        result.missing.remove(old)
    result.moved.append((old, path))
    return True


def sync_folders(
    lib: LibraryService, notebook: str | None = None, *, folder: str | None = None, dry_run: bool = False,
    defer: bool = False, cancel: CancelToken | None = None, progress: ProgressCallback = no_progress,
) -> list[SyncResult]:
    """Sync every folder a notebook (None: every notebook) watches; a folder that cannot be synced is a
    result with one failure (the folder) and the others still sync."""
    nb_id = lib.library.notebook(notebook).id if notebook is not None else None
    out = []
    for w in lib.library.watched_folders(nb_id):
        if folder is not None and w.path != folder:
            continue
        t0 = time.monotonic()
        try:
            r = sync_folder(lib, w, dry_run=dry_run, defer=defer, cancel=cancel, progress=progress)
        except (Cancelled, DiskFullError):
            raise
        except NotebookError as e:
            r = SyncResult(w.path, dry_run=dry_run, error=str(e))
        r.seconds = time.monotonic() - t0
        r.notebook_id = w.notebook_id
        out.append(r)
    return out
