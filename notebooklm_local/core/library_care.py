"""Care of the library database: open checks, damaged files kept aside, backups and salvage.

* ``check_file`` refuses to create an empty library silently next to an existing index or stored
  originals (a 0-byte ``library.db`` would otherwise become a new, empty library and orphan them).
* ``quick_check`` runs ``PRAGMA quick_check`` at open (linear in the file, no index cross-checks).
* ``damaged`` keeps a copy of a damaged file aside (once) and returns the clear error to show.
* ``backup_if_due`` writes ``backups/library-<time>.db`` with ``VACUUM INTO``: at most once a day and
  after schema migrations, keeping the newest few.
* ``salvage`` copies every row SQLite can still read from a damaged file into a fresh database.
"""

from __future__ import annotations

import errno
import logging
import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from notebooklm_local.core.errors import NotebookError

__all__ = [
    "LibraryDamagedError", "DiskFullError", "check_file", "quick_check", "damaged", "backup_if_due",
    "salvage", "SalvageReport", "disk_full_error", "DISK_FULL_PREFIX", "is_disk_full", "free_space", "BACKUPS_KEPT",
]

log = logging.getLogger(__name__)

BACKUPS_KEPT = 3
BACKUP_EVERY_S = 24 * 3600
# tables in the order their rows can be re-inserted (parents before children)
TABLES = ("notebooks", "sources", "source_texts", "chunks", "chat_sessions", "chat_messages", "studio_outputs",
          "notes", "notebook_folders")


class LibraryDamagedError(NotebookError):
    """The library database cannot be read (or must not be replaced); ``repair`` salvages it."""


class DiskFullError(NotebookError):
    """No space left on the device holding the data directory."""


def free_space(path: Path) -> int | None:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def _mb(n: int | None) -> str:
    return "unknown" if n is None else f"{n / 1e6:.1f} MB"


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT from the OS, or SQLite's SQLITE_FULL ("database or disk is full")."""
    for e in (exc, exc.__cause__, exc.__context__):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return True
        if isinstance(e, sqlite3.OperationalError) and ("disk is full" in str(e) or "database or disk" in str(e)):
            return True
        if isinstance(e, DiskFullError):
            return True
        if e is not None and any(m in str(e) for m in _FULL_MESSAGES):  # wrapped (Chroma's Rust core, ...)
            return True
    return False


_FULL_MESSAGES = ("No space left on device", "database or disk is full", "Disk quota exceeded")


DISK_FULL_PREFIX = "The disk is full"


def disk_full_error(path: Path, exc: BaseException | None = None) -> DiskFullError:
    return DiskFullError(
        f"{DISK_FULL_PREFIX}: {_mb(free_space(path))} free where the data lives ({path}). Nothing was lost; free "
        "some space, then run the command again (`notebooklm-local resume` finishes interrupted sources)."
        + (f" ({exc})" if exc is not None and not isinstance(exc, DiskFullError) else ""))


def _has_data_beside(db: Path) -> list[str]:
    data = db.parent
    found = []
    blobs = data / "blobs"
    if blobs.is_dir() and any(p.is_file() for p in blobs.rglob("*")):
        found.append(f"stored originals in {blobs}")
    index = data / "index"
    if index.is_dir() and any(index.iterdir()):
        found.append(f"a search index in {index}")
    return found


def check_file(db: Path) -> None:
    """Refuse a 0-byte (or header-less) library next to existing data instead of silently starting over."""
    try:
        size = db.stat().st_size
    except FileNotFoundError:
        size = None
    except OSError:
        return
    if size == 0 or (size is None and (db.parent / "backups").is_dir() and any((db.parent / "backups").iterdir())):
        beside = _has_data_beside(db)
        if beside:
            what = "is empty (0 bytes)" if size == 0 else "is missing"
            raise LibraryDamagedError(
                f"The library database {db} {what}, but this data directory holds {' and '.join(beside)}. "
                "Not starting a new, empty library over them. Run `notebooklm-local repair` to rebuild the "
                "library from a backup and what is left, or move the data directory away to start afresh.")


QUICK_CHECK_ALWAYS_BYTES = 100_000_000  # smaller files are checked at every open (well under a second)
QUICK_CHECK_EVERY_S = 6 * 3600  # larger ones when the last clean check is older than this


def quick_check(db: sqlite3.Connection, path: Path | None = None) -> None:
    """Raise sqlite3.DatabaseError when ``PRAGMA quick_check`` finds damage.

    It reads every page, so a large library (hundreds of MB) is checked at most every few hours (a
    ``.<name>.checked`` stamp); damage met in between still surfaces as a clear error from any command.
    The header and schema are read at every open anyway.
    """
    stamp = path.with_name(f".{path.name}.checked") if path is not None else None
    if stamp is not None:
        try:
            if (path.stat().st_size > QUICK_CHECK_ALWAYS_BYTES  # type: ignore[union-attr]
                    and time.time() - stamp.stat().st_mtime < QUICK_CHECK_EVERY_S):
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return
        except OSError:
            pass
    rows = db.execute("PRAGMA quick_check").fetchall()
    problems = [str(r[0]) for r in rows if str(r[0]) != "ok"]
    if problems:
        raise sqlite3.DatabaseError("; ".join(problems[:3]) + (" ..." if len(problems) > 3 else ""))
    if stamp is not None:
        try:
            stamp.touch()
        except OSError:
            pass


def _keep_aside(db: Path) -> Path | None:
    """Copy the damaged file (and its WAL) to ``library.db.damaged-<time>`` unless an identical copy exists."""
    try:
        st = db.stat()
    except OSError:
        return None
    for old in sorted(db.parent.glob(db.name + ".damaged-*")):
        if old.suffix != ".db-wal" and "-wal" not in old.name:
            try:
                o = old.stat()
            except OSError:
                continue
            if o.st_size == st.st_size and o.st_mtime >= st.st_mtime:
                return old
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = db.with_name(f"{db.name}.damaged-{stamp}")
    try:
        shutil.copy2(db, target)
        wal = db.with_name(db.name + "-wal")
        if wal.exists():
            shutil.copy2(wal, target.with_name(target.name + "-wal"))
    except OSError:
        log.warning("could not keep a copy of the damaged %s", db, exc_info=True)
        return None
    return target


def damaged(db: Path, exc: BaseException) -> NotebookError:
    """The error to show for a database that cannot be read; a copy of it is kept aside."""
    if is_disk_full(exc):
        return disk_full_error(db, exc)
    kept = _keep_aside(db)
    where = f" A copy of it was kept as {kept}." if kept else ""
    backups = sorted((db.parent / "backups").glob("library-*.db"))
    backup = f" The newest backup is {backups[-1]}." if backups else ""
    return LibraryDamagedError(
        f"The library database {db} is damaged ({exc}).{where}{backup} Run `notebooklm-local repair` to salvage "
        "what can still be read into a new database (your notes, chats and sources' originals are kept).")


def backup_if_due(db: sqlite3.Connection, path: Path, *, force: bool = False, now: float | None = None) -> Path | None:
    """``VACUUM INTO`` a dated copy when the newest is older than a day (or ``force``); keep the newest few.

    Never raises: a backup that cannot be written (disk full, read-only) is logged and skipped.
    """
    folder = path.parent / "backups"
    now = time.time() if now is None else now
    try:
        existing = sorted(folder.glob("library-*.db"))
        if existing and not force and now - existing[-1].stat().st_mtime < BACKUP_EVERY_S:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"library-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}.db"
        n = 1
        while target.exists():
            target = folder / f"library-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{n}.db"
            n += 1
        tmp = target.with_name("." + target.name + ".tmp")
        tmp.unlink(missing_ok=True)
        db.execute("VACUUM INTO ?", (str(tmp),))
        tmp.replace(target)
        for old in sorted(folder.glob("library-*.db"))[:-BACKUPS_KEPT]:
            old.unlink(missing_ok=True)
        return target
    except (OSError, sqlite3.Error):
        log.warning("could not back up the library to %s", folder, exc_info=True)
        return None


@dataclass
class SalvageReport:
    recovered: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)  # rows read but not re-insertable (a parent missing)
    unreadable: list[str] = field(default_factory=list)  # tables (or ranges) SQLite could not read
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{t}: {self.recovered.get(t, 0)} recovered" + (f", {self.lost[t]} dropped (their parent is lost)"
                                                               if self.lost.get(t) else "") for t in TABLES]
        out += [f"unreadable: {u}" for u in self.unreadable]
        return out + self.notes


def _read_rows(src: sqlite3.Connection, table: str, report: SalvageReport) -> list[sqlite3.Row]:
    """Every row SQLite can read, in rowid ranges; a range that fails is retried row by row."""
    try:
        top = src.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0  # noqa: S608 - fixed names
    except sqlite3.DatabaseError as e:
        report.unreadable.append(f"{table} ({e})")
        top = 0
    rows: list[sqlite3.Row] = []
    step = 256
    bad = 0
    for a in range(0, top + 1, step):
        try:
            rows += src.execute(f"SELECT rowid AS _rowid_, * FROM {table} WHERE rowid BETWEEN ? AND ?",  # noqa: S608
                                (a, a + step - 1)).fetchall()
            continue
        except sqlite3.DatabaseError:
            pass
        for r in range(a, a + step):
            try:
                rows += src.execute(f"SELECT rowid AS _rowid_, * FROM {table} WHERE rowid = ?", (r,)).fetchall()  # noqa: S608
            except sqlite3.DatabaseError:
                bad += 1
    if bad:
        report.unreadable.append(f"{table}: {bad} row slots in damaged pages")
    return rows


def salvage(damaged_db: Path, fresh: Callable[[], sqlite3.Connection]) -> SalvageReport:
    """Copy what can be read from ``damaged_db`` into the (migrated, empty) database ``fresh()`` returns."""
    report = SalvageReport()
    try:
        src = sqlite3.connect(str(damaged_db))
        src.row_factory = sqlite3.Row
        src.execute("PRAGMA writable_schema = ON")  # read a schema with damaged entries anyway (nothing is written)
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as e:
        report.unreadable.append(f"the whole file ({e})")
        return report
    dst = fresh()
    rows_of = {t: _read_rows(src, t, report) for t in TABLES}
    # a chunk's scope ("nb<notebook> src<source>") says where text whose source row is lost belonged
    owner: dict[str, str] = {}
    for row in rows_of["chunks"]:
        m = re.match(r"nb(\w+) src(\w+)", str(_get(row, "scope") or ""))
        if m:
            owner[m.group(2)] = m.group(1)
    placeholders = 0
    try:
        for table in TABLES:
            cols = {r[1] for r in dst.execute(f"PRAGMA table_info({table})")}
            ok = lost = 0
            dst.execute("BEGIN")
            for row in rows_of[table]:
                keys = [k for k in row.keys() if k in cols]  # noqa: SIM118 - sqlite3.Row
                if table in ("chunks", "chat_messages") and "id" not in keys:
                    keys.append("id")
                values = [row["_rowid_"] if k == "id" and k not in row.keys() else row[k] for k in keys]  # noqa: SIM118
                sql = (f"INSERT OR IGNORE INTO {table} ({', '.join(keys)}) "  # noqa: S608 - fixed names
                       f"VALUES ({', '.join('?' * len(keys))})")
                try:
                    dst.execute(sql, values)
                    ok += 1
                except sqlite3.IntegrityError:
                    sid = _get(row, "source_id")
                    if table in ("source_texts", "chunks") and sid in owner and _placeholder(dst, sid, owner[sid]):
                        placeholders += 1
                        try:
                            dst.execute(sql, values)
                            ok += 1
                            continue
                        except sqlite3.IntegrityError:
                            pass
                    lost += 1
            dst.execute("COMMIT")
            report.recovered[table] = ok
            if lost:
                report.lost[table] = lost
        dst.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
        if placeholders:
            dst.execute("UPDATE sources SET n_chunks = (SELECT count(*) FROM chunks c WHERE c.source_id = sources.id) "
                        "WHERE title LIKE 'Recovered source %'")
            report.notes.append(f"{placeholders} source(s) lost their record but not their text: kept as "
                                "'Recovered source …' (rename them, or remove them and add the file again)")
    finally:
        src.close()
    return report


def _get(row: sqlite3.Row, key: str) -> object:
    return row[key] if key in row.keys() else None  # noqa: SIM118 - sqlite3.Row


def _placeholder(dst: sqlite3.Connection, source_id: str, notebook_id: str) -> bool:
    """A source row (and notebook) for text whose own rows were lost; False when one exists already."""
    now = time.time()
    if dst.execute("SELECT 1 FROM sources WHERE id = ?", (source_id,)).fetchone():
        return False
    dst.execute("INSERT OR IGNORE INTO notebooks (id, name, created, updated) VALUES (?,?,?,?)",
                (notebook_id, f"Recovered notebook {notebook_id[:8]}", now, now))
    has_text = dst.execute("SELECT 1 FROM source_texts WHERE source_id = ?", (source_id,)).fetchone()
    dst.execute("INSERT INTO sources (id, notebook_id, ref, title, status, created, updated) VALUES (?,?,?,?,?,?,?)",
                (source_id, notebook_id, "{}", f"Recovered source {source_id[:8]}",
                 "extracted" if has_text else "chunked", now, now))
    return True
