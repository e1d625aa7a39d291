"""`watch add|list|remove` and `sync` (the Notebook menu's Watch a folder… / Stop watching… and the window's
sync), in process, on a keyword-only library (no model loaded)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from notebooklm_local.app import main


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def later(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, (st.st_atime, st.st_mtime + 5))


def test_watch_and_sync(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "roses.md").write_text("# Roses\n\nPrune roses in late winter.", encoding="utf-8")
    (folder / "soil.txt").write_text("Clay soil holds water.", encoding="utf-8")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    real = folder.resolve()
    assert cli(capsys, "notebook", "create", "Garden")[0] == 0

    rc, out, _ = cli(capsys, "watch", "list")
    assert rc == 0 and out.startswith("no watched folders")
    rc, out, err = cli(capsys, "watch", "add", "--notebook", "Garden", str(folder))
    assert rc == 0 and out.strip() == f"watching {real} in 'Garden'" and "sync" in err
    rc, out, _ = cli(capsys, "watch", "list", "--json")
    assert [(w["notebook"], w["path"], w["recursive"]) for w in json.loads(out)] == [("Garden", str(real), True)]

    # clear errors
    rc, _, err = cli(capsys, "watch", "add", "-n", "Garden", str(folder))
    assert rc == 1 and err.strip() == f"error: {real} is already watched by 'Garden'."
    rc, _, err = cli(capsys, "watch", "add", "-n", "Garden", str(tmp_path / "nope"))
    assert rc == 1 and err.strip() == f"error: Folder not found: {tmp_path.resolve() / 'nope'}"
    rc, _, err = cli(capsys, "watch", "add", "-n", "Garden", str(folder / "roses.md"))
    assert rc == 1 and "is a file, not a folder" in err
    rc, _, err = cli(capsys, "watch", "add", "-n", "Nowhere", str(folder))
    assert rc == 1 and "No notebook named 'Nowhere'" in err

    rc, out, err = cli(capsys, "sync", "--dry-run")
    assert rc == 0, err
    assert f"would add: {real / 'roses.md'}" in out and out.strip().endswith("(\'Garden\', 0 unchanged)")
    assert "skipped:" in err and "photo.jpg" in err
    assert json.loads(cli(capsys, "sources", "-n", "Garden", "--json")[1]) == []  # dry run: nothing added

    rc, out, err = cli(capsys, "sync", "--notebook", "Garden", "--lexical-only")
    assert rc == 0, err
    assert f"Synced {real}: 2 added ('Garden', 0 unchanged)" in out

    later(folder / "soil.txt", "Sandy soil drains quickly; mulch keeps moisture.")
    (folder / "roses.md").unlink()
    rc, out, err = cli(capsys, "sync", "-n", "Garden", "--lexical-only", "--json")
    assert rc == 0, err
    (r,) = json.loads(out)
    assert r["notebook"] == "Garden" and r["reindexed"] == [str(real / "soil.txt")]
    assert r["missing"] == [str(real / "roses.md")] and r["added"] == [] and not r["failed"]
    rc, out, _ = cli(capsys, "search", "mulch", "-n", "Garden", "--mode", "lexical", "--json")
    assert json.loads(out)[0]["source"] == "soil"

    rc, out, _ = cli(capsys, "sources", "-n", "Garden")
    roses = next(line for line in out.splitlines() if line.endswith("Roses — original missing"))
    assert "ready" in roses  # marked, not deleted: the user removes it
    srcs = {s["title"]: s for s in json.loads(cli(capsys, "sources", "-n", "Garden", "--json")[1])}
    assert srcs["Roses"]["flags"] == ["original missing"] and srcs["soil"]["flags"] == []
    rc, out, _ = cli(capsys, "remove", "Roses", "-n", "Garden")
    assert rc == 0

    rc, out, _ = cli(capsys, "sync", "--lexical-only")
    assert rc == 0 and f"Synced {real}: nothing changed ('Garden', 1 unchanged)" in out

    rc, out, _ = cli(capsys, "watch", "remove", "-n", "Garden", str(folder))
    assert rc == 0 and out.strip() == f"stopped watching {real} (its sources stay in the notebook)"
    rc, _, err = cli(capsys, "watch", "remove", "-n", "Garden", str(folder))
    assert rc == 1 and "does not watch" in err
    assert [s["title"] for s in json.loads(cli(capsys, "sources", "-n", "Garden", "--json")[1])] == ["soil"]


def test_sync_reports_a_vanished_folder_and_syncs_the_others(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "one.md").write_text("# One\n\nFirst.", encoding="utf-8")
    (b / "two.md").write_text("# Two\n\nSecond.", encoding="utf-8")
    cli(capsys, "notebook", "create", "Garden")
    assert cli(capsys, "watch", "add", "-n", "Garden", str(a), "--sync", "--lexical-only")[0] == 0
    cli(capsys, "watch", "add", "-n", "Garden", str(b))
    a.rename(tmp_path / "gone")
    rc, out, err = cli(capsys, "sync", "-n", "Garden", "--lexical-only")
    assert rc == 1
    assert f"failed: {a.resolve()}" in err and "nothing was marked missing" in err
    assert f"Synced {b.resolve()}: 1 added" in out
    srcs = json.loads(cli(capsys, "sources", "-n", "Garden", "--json")[1])
    assert sorted(s["title"] for s in srcs) == ["One", "Two"] and all(not s["flags"] for s in srcs)
