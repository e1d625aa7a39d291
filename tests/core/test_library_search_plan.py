"""The planned BM25 query (core.lexical + Library.lexical_search): frequent terms are scored but do not
select rows; the scores and order of the rows returned are FTS5's for the full OR query."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebooklm_local.core import lexical
from notebooklm_local.core.chunking import Chunk, estimate_tokens
from notebooklm_local.core.library import Library, fts_query


def _source(lib: Library, nb_id: str, texts: list[str]) -> str:
    src = lib.add_source(nb_id, {"path": f"/{len(texts)}-{texts[0][:10]}.txt"})
    chunks, pos = [], 0
    for o, t in enumerate(texts):
        chunks.append(Chunk(o, t, pos, pos + len(t), None, None, (), None, None, estimate_tokens(t)))
        pos += len(t) + 2
    lib.store_extraction(src.id, kind="text", title="s", sha256=src.id, blob=None, text="\n\n".join(texts),
                         blocks=[], flags=[], meta={})
    lib.replace_chunks(src.id, chunks)
    lib.update_source(src.id, status="ready")
    return src.id


def _exact(lib: Library, scope: str, query: str, limit: int) -> list[tuple[int, float]]:
    """The unplanned query: the plain OR of all terms within the scope."""
    rows = lib.query("SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?",
                     (f"{scope} AND ({fts_query(query)})", limit))
    return [(r[0], -float(r[1])) for r in rows]


def _texts(n: int, seed: int) -> list[str]:
    out = []
    for i in range(n):
        words = ["common"] * (1 + (i * seed) % 4) + ["filler"] * (3 + i % 7)
        if i % 2:
            words += ["often"] * (1 + i % 3)
        if i % 25 == 3:
            words += ["zephyr"] * (1 + i % 2)
        out.append(" ".join(words) + f" row{i}")
    return out


@pytest.fixture()
def lib(tmp_path: Path) -> Library:
    return Library(tmp_path / "lib.db", check=False, backup=False)


def test_plan_keeps_rare_terms_selecting_and_frequent_ones_scored() -> None:
    df = {"zephyr": 10, "often": 150, "common": 300}
    single = list(df)
    assert lexical.plan(["zephyr", "often", "common"], df, single, budget=1000).exact
    p = lexical.plan(["common", "zephyr", "often"], df, single, budget=100)
    assert p.match == ["zephyr"] and p.extra == ["common", "often"] and not p.conjunctive
    p = lexical.plan(["common", "zephyr", "often"], df, single, budget=200)
    assert p.match == ["zephyr", "often"] and p.extra == ["common"]
    assert lexical.plan(["common", "often"], df, single, budget=100).conjunctive
    assert lexical.plan(["common"], df, single, budget=100).exact  # one term: nothing to plan
    p = lexical.plan(["common", "x2y"], {"common": 300, "x2y": 500}, ["common"], budget=100)
    assert "x2y" in p.match and "common" in p.extra  # a term FTS splits into a phrase always selects


def test_fts_tokens_and_varints() -> None:
    assert lexical.fts_tokens("Café NAÏVE über_alles co-op") == ["cafe", "naive", "uber", "alles", "co", "op"]
    assert lexical.varints(bytes([0x05, 0x81, 0x00, 0xFF, 0x7F])) == [5, 128, 16383]


def test_planned_query_returns_fts5_scores_of_the_full_query(lib: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = lib.create_notebook("N")
    _source(lib, nb.id, _texts(150, 3))
    _source(lib, nb.id, _texts(150, 5))
    scope = f'scope : "nb{nb.id}"'
    q = "zephyr common often"
    exact = _exact(lib, scope, q, 300)
    assert lib.lexical_search(nb.id, q, limit=300) == exact  # within the budget: the plain OR, unchanged
    monkeypatch.setattr(lexical, "MATCH_BUDGET", 20)
    lib._fts_dfs.clear()
    got = lib.lexical_search(nb.id, q, limit=300)
    zephyr = {r[0] for r in lib.query("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH '\"zephyr\"'")}
    assert {c for c, _ in got} == zephyr, "rows with the selecting term only"
    assert got == [(c, s) for c, s in exact if c in zephyr], "same scores, same order as the full query"
    assert lib.lexical_search(nb.id, q, limit=5) == got[:5]


def test_all_frequent_terms_need_every_term_or_fall_back(lib: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = lib.create_notebook("N")
    _source(lib, nb.id, _texts(200, 3))
    monkeypatch.setattr(lexical, "MATCH_BUDGET", 20)
    got = lib.lexical_search(nb.id, "common often", limit=10)
    texts = lib.chunks([c for c, _ in got])
    assert len(got) == 10 and all("common" in t.text and "often" in t.text for t in texts.values())
    scope = f'scope : "nb{nb.id}"'
    assert lib.lexical_search(nb.id, "common often", limit=150) == _exact(lib, scope, "common often", 150)


def test_unscoped_query_is_filtered_to_the_notebook_and_the_selection(lib: Library) -> None:
    big, small = lib.create_notebook("Big"), lib.create_notebook("Small")
    b1 = _source(lib, big.id, _texts(120, 3))
    b2 = _source(lib, big.id, _texts(120, 5))
    s1 = _source(lib, small.id, _texts(30, 7))
    for nb, scope in ((big, f'scope : "nb{big.id}"'), (small, f'scope : "nb{small.id}"')):
        for limit in (5, 40, 500):
            assert lib.lexical_search(nb.id, "zephyr common", limit=limit) == _exact(lib, scope, "zephyr common", limit)
    for sel in ([b1], [b1, b2], [s1]):
        scope = "scope : (" + " OR ".join(f'"src{s}"' for s in sel) + ")"
        nb = small if sel == [s1] else big
        assert lib.lexical_search(nb.id, "often zephyr", source_ids=sel, limit=30) == _exact(
            lib, scope, "often zephyr", 30)


def test_term_counts_follow_changes_to_the_index(lib: Library) -> None:
    nb = lib.create_notebook("N")
    src = _source(lib, nb.id, _texts(50, 3))
    lib.lexical_search(nb.id, "zephyr common")
    assert lib._fts_dfs["zephyr"] == 2
    _source(lib, nb.id, ["zephyr zephyr"] * 3)
    lib.lexical_search(nb.id, "zephyr common")
    assert lib._fts_dfs["zephyr"] == 5
    lib.delete_source(src)
    lib.lexical_search(nb.id, "zephyr")
    assert lib._fts_dfs["zephyr"] == 3
