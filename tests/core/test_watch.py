"""Watched folders' sync plan on plain data (core.watch), and the folder links in the library database."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.library import Library
from notebooklm_local.core.watch import (
    MISSING_FLAG,
    STAT_KEY,
    FileStat,
    KnownFile,
    SyncResult,
    WatchedFolder,
    confirm_changes,
    is_under,
    known_file,
    plan_sync,
)

F = WatchedFolder("nb", "/w/papers")


def test_is_under() -> None:
    assert is_under("/w/papers/a.md", "/w/papers")
    assert is_under("/w/papers/sub/a.md", "/w/papers")
    assert not is_under("/w/papers/sub/a.md", "/w/papers", recursive=False)
    assert is_under("/w/papers/a.md", "/w/papers/", recursive=False)
    assert not is_under("/w/papers2/a.md", "/w/papers")  # a sibling with the same prefix
    assert not is_under("/w/papers", "/w/papers")
    assert is_under("/a.md", "/")


def test_plan_new_changed_gone_unchanged() -> None:
    scanned = [FileStat("/w/papers/new.md", 10, 1.0), FileStat("/w/papers/same.md", 5, 2.0),
               FileStat("/w/papers/edited.md", 7, 9.0), FileStat("/w/papers/sub/deep.txt", 3, 1.0),
               FileStat("/w/other/x.md", 1, 1.0)]
    known = [KnownFile("s1", "/w/papers/same.md", 5, 2.0, "aa"),
             KnownFile("s2", "/w/papers/edited.md", 6, 3.0, "bb"),
             KnownFile("s3", "/w/papers/gone.md", 4, 1.0, "cc"),
             KnownFile("s4", "/w/elsewhere/kept.md", 4, 1.0, "dd"),  # not under the folder: ignored
             KnownFile("s5", "/w/papers/old-gone.md", 4, 1.0, "ee", missing=True)]  # already marked
    plan = plan_sync(F, scanned, known)
    assert plan.add == ["/w/papers/new.md", "/w/papers/sub/deep.txt"]
    assert [(k.source_id, f.path) for k, f in plan.suspects] == [("s2", "/w/papers/edited.md")]
    assert [k.source_id for k in plan.mark_missing] == ["s3"]
    assert plan.restore == [] and plan.unchanged == 1 and not plan.empty

    flat = plan_sync(WatchedFolder("nb", "/w/papers", recursive=False), scanned, known)
    assert flat.add == ["/w/papers/new.md"]


def test_plan_never_synced_source_is_a_suspect_and_a_returning_file_is_restored() -> None:
    scanned = [FileStat("/w/papers/a.md", 5, 2.0), FileStat("/w/papers/back.md", 5, 2.0)]
    known = [KnownFile("s1", "/w/papers/a.md", None, None, "aa"),  # added by hand: no recorded stat
             KnownFile("s2", "/w/papers/back.md", 5, 2.0, "bb", missing=True),
             KnownFile("dup", "/w/papers/a.md", 5, 2.0, "aa")]  # a second source of one file: left alone
    plan = plan_sync(F, scanned, known)
    assert [k.source_id for k, _ in plan.suspects] == ["s1"]
    assert [k.source_id for k, _ in plan.restore] == ["s2"]
    assert plan.add == [] and plan.mark_missing == []


def test_plan_of_an_unchanged_folder_is_empty() -> None:
    scanned = [FileStat(f"/w/papers/{i}.md", i, float(i)) for i in range(100)]
    known = [KnownFile(f"s{i}", f"/w/papers/{i}.md", i, float(i), "x") for i in range(100)]
    plan = plan_sync(F, scanned, known)
    assert plan.empty and plan.unchanged == 100


def test_confirm_changes_by_hash() -> None:
    a = (KnownFile("s1", "/w/papers/a.md", 1, 1.0, "old"), FileStat("/w/papers/a.md", 2, 2.0))
    b = (KnownFile("s2", "/w/papers/b.md", 1, 1.0, "same"), FileStat("/w/papers/b.md", 1, 5.0))
    c = (KnownFile("s3", "/w/papers/c.md", 1, 1.0, "x"), FileStat("/w/papers/c.md", 1, 5.0))  # unreadable
    d = (KnownFile("s4", "/w/papers/d.md", 1, 1.0, None), FileStat("/w/papers/d.md", 1, 5.0))  # never extracted
    changed, touched = confirm_changes([a, b, c, d], {"/w/papers/a.md": "new", "/w/papers/b.md": "same",
                                                      "/w/papers/c.md": None, "/w/papers/d.md": "z"})
    assert [k.source_id for k, _ in changed] == ["s1", "s3", "s4"]
    assert [k.source_id for k, _ in touched] == ["s2"]


def test_known_file_from_a_source_row() -> None:
    k = known_file("s", {"path": "/w/a.md"}, {STAT_KEY: [3, 4.5]}, "h", [MISSING_FLAG])
    assert k == KnownFile("s", "/w/a.md", 3, 4.5, "h", True)
    assert known_file("s", {"url": "https://x"}, {}, None, []) is None
    assert known_file("s", {"path": "/w/a.md"}, {STAT_KEY: "bad"}, None, []) == KnownFile("s", "/w/a.md")


def test_result_summary_and_lines() -> None:
    r = SyncResult("/home/u/papers", added=["/a", "/b"], reindexed=["/c"], missing=["/d"])
    assert r.summary("~/papers") == "Synced ~/papers: 2 added, 1 re-indexed, 1 missing"
    assert SyncResult("/p").summary() == "Synced /p: nothing changed"
    assert SyncResult("/p", dry_run=True, added=["/a"]).lines() == ["would add: /a"]
    assert SyncResult("/p", error="gone").summary() == "Could not sync /p: gone"
    assert r.to_json()["added"] == ["/a", "/b"]


def test_library_folder_links(tmp_path: Path) -> None:
    lib = Library(tmp_path / "library.db")
    nb = lib.create_notebook("Papers")
    other = lib.create_notebook("Other")
    w = lib.watch_folder(nb.id, "/w/papers")
    assert w.recursive and w.added_at > 0
    lib.watch_folder(nb.id, "/w/notes", recursive=False)
    lib.watch_folder(other.id, "/w/papers")  # another notebook may follow the same folder
    with pytest.raises(NotebookError, match="already watched"):
        lib.watch_folder(nb.id, "/w/papers")
    assert [(x.path, x.recursive) for x in lib.watched_folders(nb.id)] == [("/w/papers", True), ("/w/notes", False)]
    assert len(lib.watched_folders()) == 3
    assert lib.unwatch_folder(nb.id, "/w/notes") and not lib.unwatch_folder(nb.id, "/w/notes")
    lib.delete_notebook(other.id)  # cascades
    assert [x.notebook_id for x in lib.watched_folders()] == [nb.id]
    assert lib.query("PRAGMA user_version")[0][0] == 6
    lib.close()
