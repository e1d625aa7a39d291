"""Disk full: reported as such (with the free space), a failed rollback never hides it, the store stays
consistent and `resume` finishes once there is room; read-only commands work when the pid file cannot be written."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from notebooklm_local.cli import main
from notebooklm_local.core.library import SourceStatus
from notebooklm_local.core.library_care import DiskFullError
from notebooklm_local.core.paths import app_paths
from notebooklm_local.services import library_service
from tests.reliability.test_hangs import lexical_service


def _big_text(path: Path) -> Path:
    path.write_text("\n\n".join(f"Paragraph {i}: glaciers grind bedrock into fine flour." for i in range(3000)),
                    encoding="utf-8")
    return path


def test_sqlite_full_is_reported_as_disk_full_and_resume_finishes(tmp_path: Path) -> None:
    lib = lexical_service()
    nb = lib.create_notebook("nb")
    pages = lib.library.query("PRAGMA page_count")[0][0]
    lib.library._db.execute(f"PRAGMA max_page_count = {pages + 8}")  # SQLite's own SQLITE_FULL, a few pages on
    with pytest.raises(DiskFullError, match="disk is full"):
        lib.add("nb", [str(_big_text(tmp_path / "big.txt"))])
    (src,) = lib.library.sources(nb.id)
    assert src.status != SourceStatus.READY
    assert "rollback" not in (src.error or "").lower()
    lib.library._db.execute("PRAGMA max_page_count = 1073741823")  # space freed
    lib.resume()
    (src,) = lib.library.sources(nb.id)
    assert src.status == SourceStatus.READY and src.n_chunks > 10
    assert lib.library.query("PRAGMA integrity_check")[0][0] == "ok"


def test_a_failed_rollback_never_hides_the_real_error() -> None:
    lib = lexical_service()
    with pytest.raises(DiskFullError), lib.library.transaction() as db:
        db.execute("ROLLBACK")  # as SQLite does by itself on SQLITE_FULL: the handler's ROLLBACK then fails
        raise sqlite3.OperationalError("database or disk is full")


def test_enospc_writing_an_original_is_reported_as_disk_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = lexical_service()
    nb = lib.create_notebook("nb")

    def full(*_a: object, **_k: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(lib, "_store_blob", full)
    f = tmp_path / "a.txt"
    f.write_text("Sediment settles where rivers slow down.", encoding="utf-8")
    with pytest.raises(DiskFullError, match="free"):
        lib.add("nb", [str(f)])
    (src,) = lib.library.sources(nb.id)
    assert src.status == SourceStatus.FAILED and "disk is full" in (src.error or "")


def test_add_refuses_to_start_on_a_nearly_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notebook", "create", "nb"]) == 0
    monkeypatch.setattr(library_service, "free_space", lambda _p: 5_000_000)
    f = tmp_path / "a.txt"
    f.write_text("Sediment settles where rivers slow down.", encoding="utf-8")
    capsys.readouterr()
    assert main(["add", str(f), "-n", "nb", "--lexical-only"]) == 1
    err = capsys.readouterr().err
    assert "disk is full" in err and "MB free" in err and "Traceback" not in err


def test_read_only_commands_work_when_the_pid_file_cannot_be_written(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notebook", "create", "nb"]) == 0
    data = app_paths().data
    (data / ".lock.pid").unlink(missing_ok=True)
    (data / ".lock.pid").mkdir()  # writing the pid file fails, as on a full disk
    capsys.readouterr()
    assert main(["sources", "-n", "nb"]) == 0
    assert "no sources yet" in capsys.readouterr().out


def test_a_full_disk_while_writing_vectors_is_reported_as_such(tmp_path: Path) -> None:
    from tests.reliability.test_kill_points import service

    lib = service()
    nb = lib.create_notebook("nb")
    assert lib.index is not None

    def full(*_a: object, **_k: object) -> None:
        raise RuntimeError("Error executing plan: Internal error: error returned from database: "
                           "(code: 13) database or disk is full")  # what a wrapped backend error looks like

    real = lib.index.add
    lib.index.add = full  # type: ignore[method-assign]
    with pytest.raises(DiskFullError):
        lib.add("nb", [str(_big_text(tmp_path / "big.txt"))])
    lib.index.add = real  # type: ignore[method-assign]  # space freed
    lib.resume()
    (src,) = lib.library.sources(nb.id)
    assert src.status == SourceStatus.READY
