"""Watched folders through the real stack: loaders, SQLite/FTS5 (and Chroma with a stand-in embedder)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.library import Library
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.watch import MISSING_FLAG
from notebooklm_local.extensions.builtins import builtin_registry
from notebooklm_local.services.index import ChromaIndex
from notebooklm_local.services.library_service import LibraryService
from tests.helpers.embedders import HashEmbedder


def make_service(embedder: object | None = None) -> LibraryService:
    paths = app_paths().ensure()
    index = ChromaIndex.persistent(paths.index / "chroma", embedder) if embedder is not None else None  # type: ignore[arg-type]
    return LibraryService(paths.data, Library(paths.data / "library.db"), builtin_registry().source_loaders.items(),
                          index)


def touch_later(path: Path, text: str) -> None:
    """Rewrite a file so that its mtime surely differs (coarse file-system clocks)."""
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, (st.st_atime, st.st_mtime + 5))


def titles(lib: LibraryService) -> dict[str, object]:
    return {s.title: s for s in lib.sources("Papers")}


def lexical(lib: LibraryService, q: str) -> list[str]:
    return [h.source.title for h in lib.search("Papers", q, mode="lexical")]


@pytest.mark.parametrize("dense", [False, True], ids=["lexical-only", "chroma"])
def test_add_sync_change_delete(tmp_path: Path, dense: bool) -> None:
    folder = tmp_path / "papers"
    (folder / "sub").mkdir(parents=True)
    (folder / "roses.md").write_text("# Roses\n\nPrune roses in late winter.", encoding="utf-8")
    (folder / "soil.txt").write_text("Clay soil holds water.", encoding="utf-8")
    (folder / "sub" / "bees.md").write_text("# Bees\n\nBees pollinate apple blossoms.", encoding="utf-8")
    (folder / ".hidden.md").write_text("secret", encoding="utf-8")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    lib = make_service(HashEmbedder() if dense else None)
    nb = lib.create_notebook("Papers")
    w = lib.watch_folder("Papers", folder)
    assert w.path == str(folder.resolve()) and w.notebook_id == nb.id

    (r,) = lib.sync_folders("Papers")
    assert sorted(Path(p).name for p in r.added) == ["bees.md", "roses.md", "soil.txt"]
    assert [Path(p).name for p, _ in r.skipped] == ["photo.jpg"]  # the folder-add filter; hidden files silently
    assert not (r.reindexed or r.missing or r.failed)
    srcs = titles(lib)
    assert set(srcs) == {"Roses", "soil", "Bees"} and all(s.status == "ready" for s in srcs.values())  # type: ignore[attr-defined]
    if dense:
        assert lib.index is not None and len(lib.index.ids(nb.id)) == sum(s.n_chunks for s in srcs.values())  # type: ignore[attr-defined]

    (again,) = lib.sync_folders("Papers")  # nothing changed: nothing done
    assert again.summary() == f"Synced {folder.resolve()}: nothing changed" and again.unchanged == 3

    # changed content: re-indexed from the original (new text searchable, old not), same source id
    soil_id = srcs["soil"].id  # type: ignore[attr-defined]
    touch_later(folder / "soil.txt", "Sandy soil drains quickly; mulch keeps moisture.")
    # touched only (same bytes, new mtime): nothing re-indexed, the new stat recorded
    roses = folder / "roses.md"
    os.utime(roses, (time.time(), roses.stat().st_mtime + 7))
    dry = lib.sync_folders("Papers", dry_run=True)[0]
    assert [Path(p).name for p in dry.reindexed] == ["soil.txt"] and dry.lines() == [
        f"would re-index: {folder.resolve() / 'soil.txt'}", f"skipped: {folder / 'photo.jpg'}: unsupported file type '.jpg'"]
    assert lexical(lib, "clay") == ["soil"]  # a dry run changes nothing
    (r2,) = lib.sync_folders("Papers")
    assert [Path(p).name for p in r2.reindexed] == ["soil.txt"] and [Path(p).name for p in r2.touched] == ["roses.md"]
    assert lexical(lib, "clay") == [] and lexical(lib, "mulch") == ["soil"]
    assert titles(lib)["soil"].id == soil_id  # type: ignore[attr-defined]
    if dense:
        assert lib.index is not None
        assert len(lib.index.ids(nb.id)) == sum(s.n_chunks for s in lib.sources("Papers"))
        assert [h.source.title for h in lib.search("Papers", "mulch moisture", mode="hybrid")][0] == "soil"
    assert lib.sync_folders("Papers")[0].summary().endswith("nothing changed")

    # a deleted file: marked, not removed; still searchable until the user removes it
    (folder / "sub" / "bees.md").unlink()
    (r3,) = lib.sync_folders("Papers")
    assert [Path(p).name for p in r3.missing] == ["bees.md"] and r3.summary().endswith("1 missing")
    bees = titles(lib)["Bees"]
    assert MISSING_FLAG in bees.flags and bees.status == "ready"  # type: ignore[attr-defined]
    assert lexical(lib, "pollinate") == ["Bees"]
    (r4,) = lib.sync_folders("Papers")  # reported once as newly missing, then as still missing
    assert r4.missing == [] and [Path(p).name for p in r4.still_missing] == ["bees.md"]

    # it comes back (same content): the mark goes
    (folder / "sub" / "bees.md").write_text("# Bees\n\nBees pollinate apple blossoms.", encoding="utf-8")
    (r5,) = lib.sync_folders("Papers")
    assert [Path(p).name for p in r5.restored] == ["bees.md"] and not r5.reindexed and not r5.added
    assert MISSING_FLAG not in titles(lib)["Bees"].flags  # type: ignore[attr-defined]

    # moved (renamed): the source follows the file instead of a duplicate being refused
    (folder / "sub" / "bees.md").rename(folder / "pollinators.md")
    (r6,) = lib.sync_folders("Papers")
    assert [(Path(a).name, Path(b).name) for a, b in r6.moved] == [("bees.md", "pollinators.md")]
    assert not r6.missing and not r6.duplicates and not r6.added
    assert titles(lib)["Bees"].ref["path"] == str(folder.resolve() / "pollinators.md")  # type: ignore[attr-defined]
    assert lib.sync_folders("Papers")[0].summary().endswith("nothing changed")
    assert len(lib.sources("Papers")) == 3


def test_unreadable_file_is_reported_and_the_rest_syncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "ok.md").write_text("# Fine\n\nReadable text about tulips.", encoding="utf-8")
    locked = folder / "locked.txt"
    locked.write_text("Nobody reads this.", encoding="utf-8")
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads every file: refuse it as the OS would refuse anyone else
        real_open = os.open

        def refusing(path: object, *args: object, **kwargs: object) -> int:
            if str(path) == str(locked):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", refusing)
    try:
        lib = make_service()
        lib.create_notebook("Papers")
        lib.watch_folder("Papers", folder)
        (r,) = lib.sync_folders("Papers")
        assert [Path(p).name for p in r.added] == ["ok.md"]
        assert [Path(p).name for p, _ in r.failed] == ["locked.txt"] and r.summary().endswith("1 added, 1 failed")
        assert "No permission to read" in r.failed[0][1]
        assert lexical(lib, "tulips") == ["Fine"]
        # a failed file is retried when it changes, not at every sync
        assert lib.sync_folders("Papers")[0].summary().endswith("nothing changed")
    finally:
        locked.chmod(0o644)


def test_watch_errors_and_a_vanished_folder(tmp_path: Path) -> None:
    lib = make_service()
    lib.create_notebook("Papers")
    with pytest.raises(NotebookError, match="Folder not found"):
        lib.watch_folder("Papers", tmp_path / "nope")
    (tmp_path / "file.md").write_text("x", encoding="utf-8")
    with pytest.raises(NotebookError, match="is a file, not a folder"):
        lib.watch_folder("Papers", tmp_path / "file.md")
    folder = tmp_path / "drive"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nAlpha.", encoding="utf-8")
    lib.watch_folder("Papers", folder)
    with pytest.raises(NotebookError, match="already watched"):
        lib.watch_folder("Papers", str(folder) + "/")
    assert lib.sync_folders("Papers")[0].added
    # the folder itself is gone (an unmounted drive): reported, nothing marked missing
    folder.rename(tmp_path / "unmounted")
    (r,) = lib.sync_folders("Papers")
    assert "not there" in r.error and r.summary().startswith("Could not sync")
    assert all(MISSING_FLAG not in s.flags for s in lib.sources("Papers"))
    assert lib.unwatch_folder("Papers", folder).path == str(folder)  # by the stored path, though gone
    assert lib.watched_folders("Papers") == [] and len(lib.sources("Papers")) == 1  # sources stay
    with pytest.raises(NotebookError, match="does not watch"):
        lib.unwatch_folder("Papers", folder)


def test_an_unchanged_folder_is_only_listed_and_stat_ed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync that finds nothing changed hashes no file (lists and stats only); one edited file is the only
    one hashed and re-indexed. (Times: bench/README, not asserted here.)"""
    from notebooklm_local.services import watch

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(200):
        (folder / f"n{i:03}.txt").write_text(f"Note number {i} about topic {i % 7}.", encoding="utf-8")
    lib = make_service()
    lib.create_notebook("Papers")
    lib.watch_folder("Papers", folder)
    assert len(lib.sync_folders("Papers")[0].added) == 200
    hashed: list[str] = []
    real = watch.file_sha256
    monkeypatch.setattr(watch, "file_sha256", lambda p: hashed.append(Path(p).name) or real(p))
    (r,) = lib.sync_folders("Papers")
    assert r.unchanged == 200 and hashed == []
    touch_later(folder / "n007.txt", "An edited note about compost.")
    (r2,) = lib.sync_folders("Papers")
    assert hashed == ["n007.txt"] and [Path(p).name for p in r2.reindexed] == ["n007.txt"]


def test_deferred_sync_leaves_the_indexing_to_the_caller(tmp_path: Path) -> None:
    """The window's way: marks and stats applied at once, new and changed files handed to its ingest queue."""
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nAlpha apples.", encoding="utf-8")
    lib = make_service()
    lib.create_notebook("Papers")
    lib.watch_folder("Papers", folder)
    (r,) = lib.sync_folders("Papers", defer=True)
    (q,) = r.queued
    assert not q.reindex and q.path == str(folder.resolve() / "a.md") and lib.library.source(q.source_id).status == "queued"
    lib.process(q.source_id)
    lib.record_file_stat(q.source_id, q.size, q.mtime)
    assert lib.sync_folders("Papers", defer=True)[0].queued == []
    touch_later(folder / "a.md", "# A\n\nApricots now.")
    (r2,) = lib.sync_folders("Papers", defer=True)
    assert [(x.source_id, x.reindex) for x in r2.queued] == [(q.source_id, True)]
    assert lexical(lib, "apples") == ["A"]  # not re-indexed until the caller runs it


def test_files_the_filter_leaves_out_are_not_missing(tmp_path: Path) -> None:
    """A hidden file added by hand lies in the watched folder but is not scanned: it is not gone."""
    folder = tmp_path / "papers"
    (folder / ".drafts").mkdir(parents=True)
    (folder / ".drafts" / "draft.md").write_text("# Draft\n\nHidden draft about ferns.", encoding="utf-8")
    (folder / "a.md").write_text("# A\n\nAlpha.", encoding="utf-8")
    lib = make_service()
    lib.create_notebook("Papers")
    assert lib.add("Papers", [str(folder / ".drafts" / "draft.md")]).added
    lib.watch_folder("Papers", folder)
    (r,) = lib.sync_folders("Papers")
    assert [Path(p).name for p in r.added] == ["a.md"] and r.missing == []
    assert all(MISSING_FLAG not in s.flags for s in lib.sources("Papers"))


def test_a_duplicate_file_is_reported_once_and_not_read_again_while_unchanged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "a-roses.md").write_text("# Roses\n\nPrune roses in late winter.", encoding="utf-8")
    (folder / "b-copy.md").write_text("# Roses\n\nPrune roses in late winter.", encoding="utf-8")
    lib = make_service()
    lib.create_notebook("Papers")
    lib.watch_folder("Papers", folder)
    (r,) = lib.sync_folders("Papers")
    assert len(r.added) == 1 and [Path(p).name for p, _t in r.duplicates] == ["b-copy.md"]
    read: list[str] = []
    real = lib.process
    monkeypatch.setattr(lib, "process", lambda sid, **kw: read.append(str(kw.get("ref"))) or real(sid, **kw))
    (r2,) = lib.sync_folders("Papers")
    assert r2.duplicates == [] and r2.added == [] and r2.unchanged == 2 and read == []  # skipped, not read
    touch_later(folder / "b-copy.md", "# Roses\n\nRoses like compost in spring.")  # its own content now
    (r3,) = lib.sync_folders("Papers")
    assert [Path(p).name for p in r3.added] == ["b-copy.md"] and len(read) == 1
    assert lexical(lib, "compost") == ["Roses"]  # the copy, now its own source (titled by its heading)
