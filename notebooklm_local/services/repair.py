"""``notebooklm-local repair``: rebuild a damaged library database from what can still be read.

The damaged file is moved aside (never deleted), a fresh database is created, every readable row is
copied into it (``core.library_care.salvage``; the newest backup is used when the file itself gives
nothing), the full-text index is rebuilt, and the result is reconciled with the vector index and the
stored originals: sources whose text or chunks were lost are queued again (``resume`` re-reads them
from their stored original), vectors without chunks are dropped.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from notebooklm_local.core import library_care as care
from notebooklm_local.core.library import Library, SourceStatus

__all__ = ["repair_library", "RepairResult"]

log = logging.getLogger(__name__)


@dataclass
class RepairResult:
    kept_as: Path | None
    salvage: care.SalvageReport
    used_backup: Path | None = None
    requeued: int = 0
    missing_originals: int = 0
    unreferenced_originals: int = 0
    index: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        if self.kept_as:
            out.append(f"damaged database kept as {self.kept_as}")
        if self.used_backup:
            out.append(f"nothing readable in the damaged file: restored from the backup {self.used_backup}")
        out += self.salvage.lines()
        out.append("full-text index rebuilt")
        if self.requeued:
            out.append(f"{self.requeued} source(s) lost their text or chunks: queued again "
                       "(run `notebooklm-local resume` to read them again from their stored originals)")
        if self.missing_originals:
            out.append(f"{self.missing_originals} source(s) have no stored original left")
        if self.unreferenced_originals:
            out.append(f"{self.unreferenced_originals} stored original(s) belong to no recovered source "
                       "(kept in blobs/)")
        if self.index:
            out.append(f"vector index: {self.index.get('orphan_vectors', 0)} orphan vector(s) removed, "
                       f"{self.index.get('missing_vectors', 0)} chunk(s) to embed again")
        return out + self.notes


def _move_aside(db: Path) -> Path | None:
    if not db.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = db.with_name(f"{db.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        target = db.with_name(f"{db.name}.damaged-{stamp}-{n}")
        n += 1
    db.replace(target)
    for suffix in ("-wal", "-shm"):
        side = db.with_name(db.name + suffix)
        if side.exists():
            side.replace(target.with_name(target.name + suffix))
    return target


def repair_library(db: Path, reconcile_index: Callable[[Library], dict[str, int]] | None = None) -> RepairResult:
    """Salvage ``db`` into a new database at the same path; see the module docstring."""
    kept = _move_aside(db)
    holder: list[Library] = []

    def fresh() -> sqlite3.Connection:
        lib = Library(db, check=False, backup=False)
        holder.append(lib)
        return lib._db  # noqa: SLF001 - the salvage writes through the library's own connection

    report = care.salvage(kept, fresh) if kept is not None and kept.stat().st_size > 0 else care.SalvageReport(
        unreadable=["the file is empty or missing"])
    result = RepairResult(kept, report)
    if not holder:
        fresh()
    lib = holder[0]
    backups = sorted((db.parent / "backups").glob("library-*.db"))
    if not report.recovered.get("notebooks") and backups:
        lib.close()
        db.unlink(missing_ok=True)
        holder.clear()
        result.salvage = care.salvage(backups[-1], fresh)
        result.used_backup = backups[-1]
        lib = holder[0] if holder else Library(db, check=False, backup=False)
    _reconcile_sources(lib, db.parent, result)
    if reconcile_index is not None:
        try:
            result.index = reconcile_index(lib)
        except Exception as e:  # the database is repaired; the index can be reconciled later
            log.warning("index reconciliation failed", exc_info=True)
            result.notes.append(f"the vector index could not be reconciled now ({e}); `resume` does it later")
    lib.close()
    return result


def _reconcile_sources(lib: Library, data_dir: Path, result: RepairResult) -> None:
    referenced = set()
    for row in lib.query("SELECT id, status, blob, n_chunks, ref FROM sources"):
        if row["blob"]:
            referenced.add(row["blob"])
            if not (data_dir / row["blob"]).exists():
                result.missing_originals += 1
        status = row["status"]
        if status in (SourceStatus.QUEUED, SourceStatus.FAILED):
            continue
        has_text = bool(lib.query("SELECT 1 FROM source_texts WHERE source_id = ?", (row["id"],)))
        n = lib.query("SELECT count(*) FROM chunks WHERE source_id = ?", (row["id"],))[0][0]
        if not has_text:
            lib.update_source(row["id"], status=SourceStatus.QUEUED)
            result.requeued += 1
        elif status != SourceStatus.EXTRACTED and n != row["n_chunks"]:
            lib.update_source(row["id"], status=SourceStatus.EXTRACTED)  # chunked again from the stored text
            result.requeued += 1
    blobs = data_dir / "blobs"
    if blobs.is_dir():
        result.unreferenced_originals = sum(
            1 for p in blobs.rglob("*") if p.is_file() and str(p.relative_to(data_dir)) not in referenced)
