"""Watched folders: what a sync of a notebook's folder does, planned on plain data (no file system here).

A notebook can follow local folders (``Library.watch_folder``). Syncing one compares the folder's files
(scanned by the services, with the same filter as adding a folder) with the notebook's file sources
under it:

* a file no source refers to is **added**;
* a file whose size or modification time differs from what was recorded at the last sync is a
  **suspect**: the services hash it, and :func:`confirm_changes` splits the suspects into those whose
  content changed (**re-indexed** from the original) and those that were only touched (their new stat
  is recorded, nothing else happens);
* a source whose file is gone is **marked** with :data:`MISSING_FLAG` (never deleted: the user removes
  it), and a marked source whose file is back loses the mark (**restored**);
* everything else is unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MISSING_FLAG", "STAT_KEY", "WatchedFolder", "FileStat", "KnownFile", "SyncPlan", "SyncResult", "QueuedFile",
    "plan_sync", "confirm_changes", "is_under", "known_file",
]

MISSING_FLAG = "original missing"  # a source's flag while its watched file is gone
STAT_KEY = "file_stat"  # Source.meta[STAT_KEY] = [size, mtime] of the file when it was last synced


@dataclass(frozen=True)
class WatchedFolder:
    notebook_id: str
    path: str  # absolute, resolved
    recursive: bool = True
    added_at: float = 0.0


@dataclass(frozen=True)
class FileStat:
    """A file found in the folder."""

    path: str
    size: int
    mtime: float


@dataclass(frozen=True)
class KnownFile:
    """A file source of the notebook: its id, path, the stat recorded at the last sync (None: never
    synced, e.g. added by hand), the stored sha256 and whether it is marked missing."""

    source_id: str
    path: str
    size: int | None = None
    mtime: float | None = None
    sha256: str | None = None
    missing: bool = False


@dataclass
class SyncPlan:
    add: list[str] = field(default_factory=list)  # paths
    suspects: list[tuple[KnownFile, FileStat]] = field(default_factory=list)  # stat differs: hash to decide
    mark_missing: list[KnownFile] = field(default_factory=list)
    restore: list[tuple[KnownFile, FileStat]] = field(default_factory=list)  # marked missing, file is back
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not (self.add or self.suspects or self.mark_missing or self.restore)


@dataclass(frozen=True)
class QueuedFile:
    """A file a deferred sync queued for indexing (the window's ingest queue runs it): a new source, or
    one to re-index; its stat is recorded once it is indexed (``LibraryService.record_file_stat``)."""

    source_id: str
    path: str
    reindex: bool
    size: int
    mtime: float


@dataclass
class SyncResult:
    """What a sync of one folder did (or, with ``dry_run``, would do); paths are the files'."""

    folder: str
    added: list[str] = field(default_factory=list)
    reindexed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # newly marked (and still missing ones, see ``still_missing``)
    still_missing: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # stat changed, content did not
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (path, existing title)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): the folder filter's
    moved: list[tuple[str, str]] = field(default_factory=list)  # (old path, new path): a missing file found again
    queued: list[QueuedFile] = field(default_factory=list)  # deferred sync: indexing left to the caller
    unchanged: int = 0
    dry_run: bool = False
    error: str = ""  # the folder itself could not be synced (gone, unreadable): nothing was changed
    notebook_id: str = ""
    seconds: float = 0.0

    @property
    def problems(self) -> bool:
        return bool(self.error or self.failed)

    def drop(self, path: str) -> None:
        """A file that failed or was a duplicate: not reported as added, re-indexed or restored."""
        for lst in (self.added, self.reindexed, self.restored):
            if path in lst:
                lst.remove(path)

    def summary(self, folder_label: str | None = None) -> str:
        """``Synced ~/papers: 2 added, 1 re-indexed, 1 missing`` (``nothing changed`` when so)."""
        label = folder_label or self.folder
        if self.error:
            return f"Could not sync {label}: {self.error}"
        parts = [f"{len(v)} {k}" for k, v in (("added", self.added), ("re-indexed", self.reindexed),
                                              ("missing", self.missing), ("moved", self.moved),
                                              ("restored", self.restored), ("failed", self.failed)) if v]
        verb = "Would sync" if self.dry_run else "Synced"
        return f"{verb} {label}: {', '.join(parts) if parts else 'nothing changed'}"

    def lines(self) -> list[str]:
        pre = "would " if self.dry_run else ""
        if self.error:
            return [f"failed: {self.folder}: {self.error}"]
        out = [f"{pre}add: {p}" for p in self.added]
        out += [f"{pre}re-index: {p}" for p in self.reindexed]
        out += [f"{pre}mark missing: {p}" for p in self.missing]
        out += [f"still missing: {p}" for p in self.still_missing]
        out += [f"{pre}restore: {p}" for p in self.restored]
        out += [f"moved: {a} -> {b}" for a, b in self.moved]
        out += [f"failed: {p}: {r}" for p, r in self.failed]
        out += [f"duplicate: {p} is already in the notebook as '{t}'" for p, t in self.duplicates]
        out += [f"skipped: {p}: {r}" for p, r in self.skipped]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "folder": self.folder, "dry_run": self.dry_run, "added": self.added, "reindexed": self.reindexed,
            "missing": self.missing, "still_missing": self.still_missing, "restored": self.restored,
            "touched": self.touched, "unchanged": self.unchanged, "error": self.error or None,
            "moved": [{"from": a, "to": b} for a, b in self.moved], "seconds": round(self.seconds, 3),
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "duplicates": [{"path": p, "existing": t} for p, t in self.duplicates],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }


def is_under(path: str, folder: str, *, recursive: bool = True) -> bool:
    """Whether ``path`` lies in ``folder`` (directly, unless ``recursive``); both absolute."""
    folder = folder.rstrip(os.sep) or os.sep
    prefix = folder if folder.endswith(os.sep) else folder + os.sep
    if not path.startswith(prefix) or path == folder:
        return False
    return recursive or os.sep not in path[len(prefix):]


def known_file(source_id: str, ref: Mapping[str, Any], meta: Mapping[str, Any], sha256: str | None,
               flags: Sequence[str]) -> KnownFile | None:
    """A source's row as a :class:`KnownFile` (None: not a file source)."""
    path = ref.get("path")
    if not isinstance(path, str) or not path:
        return None
    stat = meta.get(STAT_KEY)
    size: int | None = None
    mtime: float | None = None
    if isinstance(stat, (list, tuple)) and len(stat) == 2:
        try:
            size, mtime = int(stat[0]), float(stat[1])
        except (TypeError, ValueError):
            size = mtime = None
    return KnownFile(source_id, path, size, mtime, sha256, MISSING_FLAG in flags)


def plan_sync(folder: WatchedFolder, scanned: Iterable[FileStat], known: Iterable[KnownFile]) -> SyncPlan:
    """What to add, hash (suspects), mark missing and restore for one folder.

    ``known`` may hold the notebook's every file source: those outside the folder are ignored. When two
    sources refer to the same file, the first one is the file's (the other is left alone).
    """
    plan = SyncPlan()
    files = {f.path: f for f in scanned if is_under(f.path, folder.path, recursive=folder.recursive)}
    seen: set[str] = set()
    for k in known:
        if not is_under(k.path, folder.path, recursive=folder.recursive) or k.path in seen:
            continue
        seen.add(k.path)
        f = files.get(k.path)
        if f is None:
            if not k.missing:
                plan.mark_missing.append(k)
            continue
        if k.missing:
            plan.restore.append((k, f))
        elif k.size != f.size or k.mtime is None or abs(k.mtime - f.mtime) > 1e-6:
            plan.suspects.append((k, f))
        else:
            plan.unchanged += 1
    plan.add = sorted(p for p in files if p not in seen)
    return plan


def confirm_changes(
    suspects: Iterable[tuple[KnownFile, FileStat]], hashes: Mapping[str, str | None]
) -> tuple[list[tuple[KnownFile, FileStat]], list[tuple[KnownFile, FileStat]]]:
    """Split hashed suspects into (changed: re-index, touched: record the stat only).

    ``hashes``: path -> sha256 of the file now (None: unreadable, counted as changed so that re-indexing
    reports why).
    """
    changed: list[tuple[KnownFile, FileStat]] = []
    touched: list[tuple[KnownFile, FileStat]] = []
    for k, f in suspects:
        sha = hashes.get(f.path)
        if sha is not None and k.sha256 is not None and sha == k.sha256:
            touched.append((k, f))
        else:
            changed.append((k, f))
    return changed, touched
