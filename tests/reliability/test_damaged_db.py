"""A damaged library.db: a clear message (no traceback), the damaged file kept aside, `repair` salvages it;
a 0-byte file next to existing data is never silently replaced by an empty library; daily backups."""

from __future__ import annotations

import os
import random
import sqlite3
import time
from pathlib import Path

import pytest

from notebooklm_local.cli import main
from notebooklm_local.core.library import Library
from notebooklm_local.core.library_care import BACKUPS_KEPT, LibraryDamagedError, backup_if_due
from notebooklm_local.core.paths import app_paths
from tests.reliability.test_hangs import lexical_service

N_SOURCES = 12


def build_library(tmp_path: Path) -> Path:
    lib = lexical_service()
    lib.create_notebook("nb")
    files = []
    for i in range(N_SOURCES):
        f = tmp_path / f"doc{i}.txt"
        f.write_text("\n\n".join(f"Document {i} paragraph {j}: rivers carry sediment to the delta {i * j}."
                                 for j in range(150)), encoding="utf-8")
        files.append(str(f))
    report = lib.add("nb", files)
    assert len(report.added) == N_SOURCES
    lib.library._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    lib.library.close()
    return app_paths().data / "library.db"


def cut(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def random_pages(db: Path) -> None:
    rng = random.Random(7)
    size = db.stat().st_size
    with open(db, "r+b") as f:
        for _ in range(6):
            page = rng.randrange(2, size // 4096)
            f.seek(page * 4096)
            f.write(rng.randbytes(4096))


def random_header(db: Path) -> None:
    with open(db, "r+b") as f:
        f.write(random.Random(3).randbytes(100))


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("damage", [cut, random_pages, random_header], ids=["cut", "random-pages", "random-header"])
def test_damaged_library_gives_a_clear_message_and_repair_salvages(
        damage: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = build_library(tmp_path)
    damage(db)  # type: ignore[operator]
    rc, out, err = run_cli(capsys, "sources", "-n", "nb")
    assert rc == 1 and "damaged" in err and "repair" in err and "Traceback" not in err, err
    kept = list(db.parent.glob("library.db.damaged-*"))
    assert kept, "the damaged file is kept aside"
    rc2, _, err2 = run_cli(capsys, "sources", "-n", "nb")
    assert rc2 == 1 and len(list(db.parent.glob("library.db.damaged-*"))) == len(kept)  # kept once, not per command

    rc, out, err = run_cli(capsys, "repair")
    assert rc == 0, err
    assert "full-text index rebuilt" in out and "damaged database kept as" in out
    Library(db).close()  # the new database passes its check
    if damage is not random_header:  # the header gone, nothing can be read (and no backup exists yet)
        rc, out, err = run_cli(capsys, "sources", "-n", "nb")
        assert rc == 0, err
        assert "ready" in out or "Recovered source" in out
        lexical_service().resume()  # what `resume` does, without embedding (this library is lexical-only)
        rc, out, err = run_cli(capsys, "search", "rivers sediment", "-n", "nb", "--mode", "lexical")
        assert rc == 0 and "rivers carry sediment" in out, (out, err)


def test_repair_of_a_sound_library_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_library(tmp_path)
    rc, out, _ = run_cli(capsys, "repair")
    assert rc == 0 and "nothing to repair" in out


def test_a_zero_byte_library_next_to_originals_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = build_library(tmp_path)
    for side in db.parent.glob("library.db-*"):
        side.unlink()
    db.write_bytes(b"")
    with pytest.raises(LibraryDamagedError, match="0 bytes"):
        Library(db)
    assert db.stat().st_size == 0  # not silently turned into a new empty library
    rc, _, err = run_cli(capsys, "sources", "-n", "nb")
    assert rc == 1 and "0 bytes" in err and "Traceback" not in err


def test_a_zero_byte_library_is_rebuilt_from_the_backup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = build_library(tmp_path)
    Library(db).close()  # an existing library opened: the day's backup is written
    backups = sorted((db.parent / "backups").glob("library-*.db"))
    assert len(backups) == 1
    db.write_bytes(b"")
    rc, out, err = run_cli(capsys, "repair")
    assert rc == 0 and "restored from the backup" in out, (out, err)
    rc, out, _ = run_cli(capsys, "sources", "-n", "nb", "--json")
    assert rc == 0 and out.count('"status": "ready"') == N_SOURCES


def test_backups_at_most_daily_and_after_migrations(tmp_path: Path) -> None:
    db = tmp_path / "data" / "library.db"
    Library(db).close()  # new: nothing to back up
    folder = db.parent / "backups"
    assert not folder.exists()
    Library(db).close()
    assert len(list(folder.glob("library-*.db"))) == 1
    Library(db).close()
    assert len(list(folder.glob("library-*.db"))) == 1  # at most once a day
    # an older schema (as a previous version left it): migrating it writes a backup even within the day
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE notebook_folders")  # added by migration 6
    conn.execute("DROP TABLE notes")
    conn.execute("DROP TABLE studio_outputs")
    conn.execute("ALTER TABLE notebooks DROP COLUMN settings")  # added by migration 5
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    time.sleep(1.1)  # backups are named to the second
    Library(db).close()
    assert len(list(folder.glob("library-*.db"))) == 2


def test_a_few_backups_are_kept(tmp_path: Path) -> None:
    db = tmp_path / "library.db"
    Library(db).close()
    conn = sqlite3.connect(db)
    t0 = time.time() - 30 * 86400
    for day in range(6):
        t = t0 + day * 86400 + 1
        made = backup_if_due(conn, db, now=t)
        assert made is not None
        os.utime(made, (t, t))
        assert backup_if_due(conn, db, now=t + 3600) is None  # the same day: not again
    conn.close()
    kept = sorted((db.parent / "backups").glob("library-*.db"))
    assert len(kept) == BACKUPS_KEPT
    assert all(sqlite3.connect(k).execute("PRAGMA quick_check").fetchone()[0] == "ok" for k in kept)


def test_large_libraries_are_fully_checked_every_few_hours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from notebooklm_local.core import library_care

    db = build_library(tmp_path)
    monkeypatch.setattr(library_care, "QUICK_CHECK_ALWAYS_BYTES", 0)  # every library counts as large
    Library(db, backup=False).close()
    stamp = db.with_name(".library.db.checked")
    assert stamp.exists()  # a clean full check was recorded
    random_pages(db)
    old = time.time() - library_care.QUICK_CHECK_EVERY_S - 60
    os.utime(stamp, (old, old))  # the last full check is too old: the next open checks every page again
    with pytest.raises(LibraryDamagedError, match="damaged"):
        Library(db, backup=False)
