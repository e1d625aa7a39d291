"""Search with some sources selected: the over-fetch-and-filter and id-restricted vector queries give
exactly what Chroma's metadata filter gives (same chunks, same similarities, same order)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from notebooklm_local.core.chunking import Chunk, estimate_tokens
from notebooklm_local.core.library import Library, SourceStatus
from notebooklm_local.services import library_service as ls
from notebooklm_local.services.index import ChromaIndex
from notebooklm_local.services.library_service import LibraryService

DIM = 16
WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda sigma".split()


class RandomEmbedder:
    model_id = "test:random-16"
    path = None

    def __init__(self) -> None:
        self.rng = np.random.default_rng(7)

    def vectors(self, n: int, centre: np.ndarray | None = None) -> np.ndarray:
        v = self.rng.standard_normal((n, DIM)).astype(np.float32)
        if centre is not None:
            v = v * 0.05 + centre
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.vectors(len(texts)).tolist()


@pytest.fixture()
def service(tmp_path: Path) -> tuple[LibraryService, str, list[str]]:
    """6 sources x 60 chunks; the last source's vectors sit in a tight cluster far from most queries."""
    emb = RandomEmbedder()
    index = ChromaIndex.persistent(tmp_path / "chroma", emb)
    library = Library(tmp_path / "library.db", check=False, backup=False)
    lib = LibraryService(tmp_path, library, [], index)
    nb = lib.create_notebook("N")
    far = np.zeros(DIM, dtype=np.float32)
    far[0] = 1.0
    sources = []
    for si in range(6):
        src = library.add_source(nb.id, {"path": f"/s{si}.txt"}, title=f"s{si}")
        texts = [" ".join(WORDS[(si + o + j) % len(WORDS)] for j in range(6)) + f" s{si}o{o}" for o in range(60)]
        chunks, pos = [], 0
        for o, t in enumerate(texts):
            chunks.append(Chunk(o, t, pos, pos + len(t), None, None, (), None, None, estimate_tokens(t)))
            pos += len(t) + 2
        library.store_extraction(src.id, kind="text", title=src.title, sha256=f"x{si}", blob=None,
                                 text="\n\n".join(texts), blocks=[], flags=[], meta={})
        library.replace_chunks(src.id, chunks)
        ids = [r[0] for r in library.query("SELECT id FROM chunks WHERE source_id = ? ORDER BY ordinal", (src.id,))]
        vecs = emb.vectors(len(ids), far if si == 5 else None)
        index.add(nb.id, [(cid, src.id, {"ordinal": o}) for o, cid in enumerate(ids)], vecs.tolist())
        library.mark_embedded(ids, emb.model_id)
        library.update_source(src.id, status=SourceStatus.READY)
        sources.append(src.id)
    return lib, nb.id, sources


def _filtered(lib: LibraryService, nb_id: str, vec: list[float], n: int, subset: list[str]) -> list[tuple[int, float]]:
    assert lib.index is not None
    return lib.index.query(nb_id, vec, n, subset)  # Chroma's metadata filter: the reference


def _same(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> None:
    assert [c for c, _ in a] == [c for c, _ in b]
    assert np.allclose([s for _, s in a], [s for _, s in b], atol=1e-6)


def _ready(lib: LibraryService, nb_id: str) -> dict:
    return {s.id: s for s in lib.library.sources(nb_id, status=[SourceStatus.READY])}


@pytest.mark.parametrize("n", [5, 40, 200])
@pytest.mark.parametrize("pick", [[0, 1, 2], [0], [5], [1, 5], [0, 1, 2, 3, 4]])
def test_selected_sources_match_the_metadata_filter(service: tuple, pick: list[int], n: int) -> None:
    lib, nb_id, sources = service
    subset = [sources[i] for i in pick]
    emb = lib.index.embedder
    for _ in range(5):
        vec = emb.vectors(1)[0].tolist()
        _same(lib._dense(nb_id, vec, n, subset, _ready(lib, nb_id)), _filtered(lib, nb_id, vec, n, subset))


def test_every_path_is_taken_and_exact(service: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    lib, nb_id, sources = service
    calls: list[str] = []
    real = lib.index.query

    def spy(nb: str, vec: Sequence[float], k: int, source_ids: Sequence[str] | None = None, *,
            chunk_ids: Sequence[int] | None = None) -> list[tuple[int, float]]:
        calls.append("ids" if chunk_ids is not None else "filter" if source_ids is not None else "unfiltered")
        return real(nb, vec, k, source_ids, chunk_ids=chunk_ids)

    monkeypatch.setattr(lib.index, "query", spy)
    v = lib.index.embedder.vectors(1)[0]
    v[0] = -2.0  # pointing away from the last source's cluster
    vec = (v / np.linalg.norm(v)).tolist()
    ready = _ready(lib, nb_id)
    half = sources[:3]
    _same(lib._dense(nb_id, vec, 20, half, ready), real(nb_id, vec, 20, half))
    assert calls == ["unfiltered"], "over-fetch and filter"
    calls.clear()
    far = [sources[5]]  # its vectors are far from the query: the over-fetch finds too few of them
    _same(lib._dense(nb_id, vec, 20, far, ready), real(nb_id, vec, 20, far))
    assert calls == ["unfiltered", "ids"]
    calls.clear()
    monkeypatch.setattr(ls, "DENSE_OVERFETCH_MAX", 10)  # a small selection: straight to the id restriction
    _same(lib._dense(nb_id, vec, 20, half, ready), real(nb_id, vec, 20, half))
    assert calls == ["ids"]
    calls.clear()
    # Chroma refuses an id-restricted query (an id its HNSW segment does not have: "Error finding id"):
    # the metadata filter
    col = lib.index.collection(nb_id)
    col_query = col.query

    def refuse_ids(*a: object, **kw: object) -> object:
        if kw.get("ids") is not None:
            raise RuntimeError("Error executing plan: Internal error: Error finding id")
        calls.append("where" if kw.get("where") else "none")
        return col_query(*a, **kw)

    monkeypatch.setattr(col, "query", refuse_ids)
    got = lib._dense(nb_id, vec, 20, half, ready)
    assert calls == ["ids", "where"]
    _same(got, real(nb_id, vec, 20, half))
    monkeypatch.setattr(col, "query", col_query)
    # ids deleted from the collection behind the library's back: still the filter's result
    gone = lib.library.embedded_chunk_ids([sources[0]], lib.index.model_id)[:3]
    lib.index.delete_ids(nb_id, gone)
    _same(lib._dense(nb_id, vec, 20, half, ready), real(nb_id, vec, 20, half))


def test_search_with_selected_sources_is_unchanged(service: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    lib, nb_id, sources = service
    queries = ["alpha beta", "gamma s3o7", "kappa lambda sigma", "zeta"]
    emb = lib.index.embedder
    for subset in (sources[:3], sources[4:], [sources[2]]):
        emb.rng = np.random.default_rng(11)
        fast = [lib.search("N", q, k=8, source_ids=subset) for q in queries]
        monkeypatch.setattr(LibraryService, "_dense", lambda self, nb, vec, n, sub, ready: _filtered(self, nb, vec, n, sub))
        emb.rng = np.random.default_rng(11)
        ref = [lib.search("N", q, k=8, source_ids=subset) for q in queries]
        monkeypatch.undo()
        for f, r in zip(fast, ref, strict=True):
            assert [(h.chunk.id, h.dense_rank, h.lexical_rank) for h in f] == [
                (h.chunk.id, h.dense_rank, h.lexical_rank) for h in r]
            assert all(h.source.id in subset for h in f)
