"""core.studio_store: studio outputs in the library database (migration 4): add, get by prefix, list, update, delete."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from notebooklm_local.core import studio_store as studio_mod
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.library import Library
from notebooklm_local.core.studio_store import KINDS, StudioOutput, StudioStore


@pytest.fixture
def lib(tmp_path: Path) -> Iterator[Library]:
    library = Library(tmp_path / "library.db")
    yield library
    library.close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> itertools.count:
    ticks = itertools.count(1_000_000)
    monkeypatch.setattr(studio_mod, "time", SimpleNamespace(time=lambda: float(next(ticks))))
    return ticks


def _add(store: StudioStore, nb: str, kind: str = "summary", title: str = "A summary", **payload: object
         ) -> StudioOutput:
    return store.add(nb, kind, title, source_ids=["s1", "s2"], options={"length": "short", "focus": "caf\u00e9"},
                     model="gemma-3-270m-q8_0.gguf", template="summary", payload={"text": "Hello [1].", **payload})


def test_add_and_get_round_trip(lib: Library, clock: itertools.count) -> None:
    nb = lib.create_notebook("NB")
    store = StudioStore(lib)
    out = _add(store, nb.id, answer={"citations": [{"passage_id": 1, "quote": "\u201cq\u201d"}]}, parts=2)
    assert len(out.id) == 32 and out.created == out.updated
    got = StudioStore(lib).get(out.id)  # a fresh store: read from the database
    assert got == out
    assert got.payload["answer"]["citations"][0]["quote"] == "\u201cq\u201d"
    assert got.options == {"length": "short", "focus": "caf\u00e9"} and got.source_ids == ["s1", "s2"]
    j = got.to_json()
    assert j["id"] == out.id and j["kind"] == "summary" and j["text"] == "Hello [1]." and j["parts"] == 2


def test_title_is_trimmed_and_never_empty(lib: Library) -> None:
    nb = lib.create_notebook("NB")
    store = StudioStore(lib)
    assert _add(store, nb.id, kind="podcast", title="   ").title == "podcast"
    assert len(_add(store, nb.id, title="t" * 500).title) == 200


def test_get_by_prefix(lib: Library) -> None:
    nb = lib.create_notebook("NB")
    store = StudioStore(lib)
    a = _add(store, nb.id)
    assert store.get(a.id[:6]) == a
    assert store.get(f"  {a.id[:10]} ") == a
    with pytest.raises(NotebookError, match="No studio output"):
        store.get(a.id[:5])  # too short to be a prefix
    with pytest.raises(NotebookError, match="No studio output"):
        store.get("")
    with pytest.raises(NotebookError, match="No studio output 'ffffffffffff'"):
        store.get("f" * 12 if not a.id.startswith("f" * 12) else "0" * 12)
    # LIKE wildcards are no prefix (they used to match any output)
    for wild in ("%%%%%%%%", "______", a.id[:2] + "%%%%", a.id[:5] + "_"):
        with pytest.raises(NotebookError, match="No studio output"):
            store.get(wild)
    assert store.get(a.id[:8].upper()) == a


def test_an_ambiguous_prefix_is_an_error(lib: Library) -> None:
    nb = lib.create_notebook("NB")
    store = StudioStore(lib)
    a, b = _add(store, nb.id), _add(store, nb.id)
    # give both the same 8-character start
    with lib.transaction() as db:
        db.execute("UPDATE studio_outputs SET id = ? WHERE id = ?", ("abcdef12" + a.id[8:], a.id))
        db.execute("UPDATE studio_outputs SET id = ? WHERE id = ?", ("abcdef12" + b.id[8:], b.id))
    with pytest.raises(NotebookError, match="more than one studio output"):
        store.get("abcdef")
    assert store.get("abcdef12" + a.id[8:]).title == a.title


def test_list_by_notebook_and_kind_newest_first(lib: Library, clock: itertools.count) -> None:
    nb, other = lib.create_notebook("NB"), lib.create_notebook("Other")
    store = StudioStore(lib)
    s1 = _add(store, nb.id, "summary", "first")
    c1 = _add(store, nb.id, "cod", "chain")
    s2 = _add(store, nb.id, "summary", "second")
    _add(store, other.id, "summary", "elsewhere")
    assert [o.id for o in store.list(nb.id)] == [s2.id, c1.id, s1.id]
    assert [o.id for o in store.list(nb.id, "summary")] == [s2.id, s1.id]
    assert [o.id for o in store.list(nb.id, "cod")] == [c1.id]
    assert store.list(nb.id, "podcast") == []
    assert "podcast" in KINDS and set(KINDS) == {"summary", "cod", "podcast", "extract_summary", "key_quotes", "flashcards",
                                                 "quiz", "mindmap", "timeline", "data_table"}


def test_update_payload_and_title(lib: Library, clock: itertools.count) -> None:
    nb = lib.create_notebook("NB")
    store = StudioStore(lib)
    out = _add(store, nb.id)
    new = store.update(out.id[:8], payload={"text": "Edited.", "edited": True}, title="  Renamed  ")
    assert new.updated > out.created
    got = store.get(out.id)
    assert got.payload == {"text": "Edited.", "edited": True} and got.title == "Renamed"
    assert got.created == out.created and got.updated == new.updated
    # an empty title keeps the old one; payload None keeps the payload
    store.update(out.id, title="   ")
    assert store.get(out.id).title == "Renamed" and store.get(out.id).payload["edited"] is True
    with pytest.raises(NotebookError, match="No studio output"):
        store.update("0" * 32, title="x")


def test_delete(lib: Library) -> None:
    nb = lib.create_notebook("NB")
    store = StudioStore(lib)
    a, b = _add(store, nb.id), _add(store, nb.id)
    store.delete(a.id[:8])
    with pytest.raises(NotebookError, match="No studio output"):
        store.get(a.id)
    assert [o.id for o in store.list(nb.id)] == [b.id]
    with pytest.raises(NotebookError, match="No studio output"):
        store.delete(a.id)


def test_outputs_are_deleted_with_their_notebook(lib: Library) -> None:
    nb, keep = lib.create_notebook("NB"), lib.create_notebook("Keep")
    store = StudioStore(lib)
    gone = [_add(store, nb.id, k) for k in KINDS]
    kept = _add(store, keep.id)
    lib.delete_notebook(nb.id)
    for o in gone:
        with pytest.raises(NotebookError):
            store.get(o.id)
    assert lib.query("SELECT COUNT(*) FROM studio_outputs")[0][0] == 1
    assert store.get(kept.id) == kept


def test_an_output_needs_an_existing_notebook(lib: Library) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        _add(StudioStore(lib), "no-such-notebook")


def test_outputs_survive_reopening_the_database(tmp_path: Path) -> None:
    lib = Library(tmp_path / "library.db")
    nb = lib.create_notebook("NB")
    out = _add(StudioStore(lib), nb.id, kind="cod", steps=[{"index": 1, "summary": "s"}])
    lib.close()
    lib2 = Library(tmp_path / "library.db")
    try:
        assert StudioStore(lib2).get(out.id).payload["steps"] == [{"index": 1, "summary": "s"}]
    finally:
        lib2.close()
