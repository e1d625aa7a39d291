"""The library database on its own: migrations, FTS5 query safety, notebook/source bookkeeping."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebooklm_local.core import library as library_mod
from notebooklm_local.core.chunking import chunk_document
from notebooklm_local.core.documents import Block, LoadedDocument
from notebooklm_local.core.library import Library, fts_query


def _add_ready_source(lib: Library, nb_id: str, text: str) -> str:
    src = lib.add_source(nb_id, {"path": "/x.txt"})
    doc = LoadedDocument.from_blocks("text", "x", [Block(text)])
    lib.store_extraction(src.id, kind="text", title="x", sha256=src.id, blob=None, text=doc.text, blocks=[],
                         flags=[], meta={})
    lib.replace_chunks(src.id, chunk_document(doc))
    lib.update_source(src.id, status="ready")
    return src.id


def test_schema_1_database_is_migrated_and_searchable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "lib.db"
    monkeypatch.setattr(library_mod, "_MIGRATIONS", library_mod._MIGRATIONS[:1])
    old = Library(db)
    nb = old.create_notebook("Old")
    src = old.add_source(nb.id, {"path": "/old.txt"})
    old._db.execute(
        "INSERT INTO chunks (source_id, ordinal, text, char_start, char_end, heading, n_tokens) "
        "VALUES (?, 0, 'photosynthesis converts light', 0, 30, '', 8)", (src.id,))
    old.close()
    monkeypatch.undo()
    new = Library(db)
    assert new.query("PRAGMA user_version")[0][0] == len(library_mod._MIGRATIONS) == 6
    assert new.watched_folders(nb.id) == []  # migration 6: watched folders
    assert [cid for cid, _ in new.lexical_search(nb.id, "photosynthesis")] == [1]
    assert new.lexical_search(nb.id, "photosynthesis", source_ids=[src.id])
    assert new.lexical_search("other-notebook", "photosynthesis") == []


def test_newer_database_is_refused(tmp_path: Path) -> None:
    lib = Library(tmp_path / "lib.db")
    lib._db.execute("PRAGMA user_version = 99")
    lib.close()
    with pytest.raises(Exception, match="newer notebooklm-local"):
        Library(tmp_path / "lib.db")


@pytest.mark.parametrize(
    "hostile",
    ['"unbalanced', "NEAR(a b)", "a AND OR NOT b", "col:value", "x*", "^start", "((()))", "'; DROP TABLE chunks; --",
     "\x00\x01", "🙂 emoji", "a" * 10_000],
)
def test_hostile_queries_are_safe(tmp_path: Path, hostile: str) -> None:
    lib = Library(tmp_path / "lib.db")
    nb = lib.create_notebook("N")
    _add_ready_source(lib, nb.id, "Drop table statements and emoji 🙂 are just text here. start value")
    lib.lexical_search(nb.id, hostile)  # must not raise
    assert lib.query("SELECT count(*) FROM chunks")[0][0] == 1


def test_stop_words_are_dropped_unless_nothing_else() -> None:
    assert fts_query("What is the capital of France?") == '"capital" OR "france"'
    assert fts_query("to be or not to be") == '"to" OR "be" OR "or" OR "not"'
    assert fts_query("?!") == ""


def test_scope_keeps_notebooks_and_sources_apart(tmp_path: Path) -> None:
    lib = Library(tmp_path / "lib.db")
    a, b = lib.create_notebook("A"), lib.create_notebook("B")
    sa = _add_ready_source(lib, a.id, "glaciers carve valleys")
    sa2 = _add_ready_source(lib, a.id, "glaciers melt in summer")
    _add_ready_source(lib, b.id, "glaciers in notebook b")
    assert len(lib.lexical_search(a.id, "glaciers")) == 2
    assert len(lib.lexical_search(b.id, "glaciers")) == 1
    only = lib.lexical_search(a.id, "glaciers", source_ids=[sa2])
    assert len(only) == 1 and lib.chunks([only[0][0]])[only[0][0]].source_id == sa2
    assert lib.lexical_search(a.id, "glaciers", source_ids=[]) == []
    lib.delete_source(sa)
    assert len(lib.lexical_search(a.id, "glaciers")) == 1, "deleted chunks leave the FTS index"
