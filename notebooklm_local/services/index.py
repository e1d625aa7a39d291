"""The vector index: Chroma (embedded PersistentClient or a Chroma server), telemetry off, our own embedder.

One collection per (notebook, embedding model): a collection never mixes vectors of two models.
Vectors are computed by us (llama.cpp GGUF embedder) and passed explicitly; the collection also
carries an embedding function backed by the same embedder so that Chroma never falls back to its
default (which would download a model at run time).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from notebooklm_local.core.errors import IndexingError
from notebooklm_local.services.native_imports import import_serialized

__all__ = ["Embedder", "ChromaIndex", "LlamaEmbeddingFunction"]

log = logging.getLogger(__name__)


class Embedder(Protocol):
    @property
    def model_id(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def _chroma_settings() -> Any:
    import_serialized("chromadb")
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)


def _make_embedding_function(embedder: Embedder) -> Any:
    import_serialized("chromadb")
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

    class LlamaEmbeddingFunction(EmbeddingFunction[Documents]):
        """Chroma embedding function over a llama.cpp GGUF embedder."""

        def __init__(self, inner: Embedder) -> None:
            self.inner = inner

        def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - Chroma's signature
            import numpy as np

            return [np.asarray(v, dtype=np.float32) for v in self.inner.embed(list(input))]

        @staticmethod
        def name() -> str:
            return "notebooklm-local-llama-cpp"

        def default_space(self) -> str:  # type: ignore[override]
            return "cosine"

        def get_config(self) -> dict[str, Any]:
            path = getattr(self.inner, "path", None)
            return {"model_id": self.inner.model_id, "path": str(path) if path else None}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> LlamaEmbeddingFunction:
            # Chroma calls this to check the function is serialisable; loading is lazy, so it is cheap.
            from notebooklm_local.services.llama_runtime import LlamaCppEmbedder

            if not config.get("path"):
                raise IndexingError("this collection's embedding function has no model path")
            return LlamaEmbeddingFunction(LlamaCppEmbedder(config["path"]))

    return LlamaEmbeddingFunction(embedder)


LlamaEmbeddingFunction = _make_embedding_function  # public alias for tests and plugins


def model_key(model_id: str) -> str:
    return hashlib.sha1(model_id.encode("utf-8"), usedforsecurity=False).hexdigest()[:10]


class ChromaIndex:
    """Vectors of chunks, per notebook and embedding model."""

    def __init__(self, client: Any, embedder: Embedder) -> None:
        self.client = client
        self.embedder = embedder
        self._ef = _make_embedding_function(embedder)
        self._collections: dict[str, Any] = {}

    @classmethod
    def persistent(cls, path: Path, embedder: Embedder) -> ChromaIndex:
        chromadb = import_serialized("chromadb")

        path.mkdir(parents=True, exist_ok=True)
        return cls(chromadb.PersistentClient(path=str(path), settings=_chroma_settings()), embedder)

    @classmethod
    def http(cls, host: str, port: int, embedder: Embedder) -> ChromaIndex:
        chromadb = import_serialized("chromadb")

        try:
            client = chromadb.HttpClient(host=host, port=port, settings=_chroma_settings())
            client.heartbeat()
        except Exception as e:  # chromadb raises many types for an unreachable server
            raise IndexingError(f"Cannot reach the Chroma server at {host}:{port}: {e}") from e
        return cls(client, embedder)

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def _name(self, notebook_id: str, model_id: str | None = None) -> str:
        return f"nb_{notebook_id}_{model_key(model_id or self.model_id)}"

    def collection(self, notebook_id: str) -> Any:
        name = self._name(notebook_id)
        col = self._collections.get(name)
        if col is None:
            col = self.client.get_or_create_collection(
                name=name,
                embedding_function=self._ef,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"notebook_id": notebook_id, "embedding_model": self.model_id},
            )
            self._collections[name] = col
        return col

    def add(self, notebook_id: str, items: Sequence[tuple[int, str, dict[str, Any]]], vectors: Sequence[Sequence[float]]) -> None:
        """Upsert (chunk id, source id, metadata) with their vectors."""
        if not items:
            return
        dims = {len(v) for v in vectors}
        col = self.collection(notebook_id)
        recorded = (col.metadata or {}).get("dimension")
        if len(dims) != 1 or (recorded and recorded not in dims):
            raise IndexingError(f"embedding dimension mismatch: {sorted(dims)} vs collection {recorded}")
        if not recorded:
            col.modify(metadata={**(col.metadata or {}), "dimension": dims.pop()})
        col.upsert(
            ids=[f"c{cid}" for cid, _, _ in items],
            embeddings=[list(v) for v in vectors],
            metadatas=[{"source_id": sid, **{k: v for k, v in meta.items() if v is not None}} for _, sid, meta in items],
        )

    def query(
        self, notebook_id: str, vector: Sequence[float], k: int, source_ids: Sequence[str] | None = None,
        *, chunk_ids: Sequence[int] | None = None,
    ) -> list[tuple[int, float]]:
        """Nearest chunks: (chunk id, cosine similarity), best first.

        ``source_ids`` restricts the search to those sources (Chroma's metadata filter). ``chunk_ids``,
        the ids of those sources' chunks in this collection when the caller knows them, restricts it
        by id instead: 3-5x faster than the metadata filter (measured at 100k chunks: 42 vs 129 ms
        for a tenth of them, 111 vs 492 ms for half); the filter is the fallback when an id is not
        in the collection (Chroma refuses unknown ids).
        """
        col = self.collection(notebook_id)
        where = None
        if source_ids is not None:
            if not source_ids:
                return []
            where = {"source_id": {"$in": list(source_ids)}} if len(source_ids) > 1 else {"source_id": source_ids[0]}
            if chunk_ids is not None:
                if not chunk_ids:
                    return []
                try:
                    res = col.query(query_embeddings=[list(vector)], n_results=min(k, len(chunk_ids)),
                                    ids=[f"c{i}" for i in chunk_ids], include=["distances"])
                    return self._hits(res)
                except Exception as e:  # noqa: BLE001 - an id not (or no longer) in the collection: Chroma raises several types
                    log.debug("id-restricted vector search failed (%s); using the metadata filter", e)
        # no count() first: it costs more than the query itself on a large collection
        try:
            res = col.query(query_embeddings=[list(vector)], n_results=k, where=where, include=["distances"])
        except Exception as e:  # an empty collection or a too-large k on old Chroma versions
            if col.count() == 0:
                return []
            raise IndexingError(f"vector search failed: {e}") from e
        return self._hits(res)

    @staticmethod
    def _hits(res: Any) -> list[tuple[int, float]]:
        return [(int(i[1:]), 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def ids(self, notebook_id: str) -> set[int]:
        col = self.collection(notebook_id)
        out: set[int] = set()
        offset = 0
        while True:
            got = col.get(include=[], limit=5000, offset=offset)["ids"]
            out.update(int(i[1:]) for i in got)
            if len(got) < 5000:
                return out
            offset += len(got)

    def delete_ids(self, notebook_id: str, chunk_ids: Sequence[int]) -> None:
        col = self.collection(notebook_id)
        ids = [f"c{i}" for i in chunk_ids]
        for i in range(0, len(ids), 5000):
            col.delete(ids=ids[i : i + 5000])

    def delete_source(self, notebook_id: str, source_id: str) -> None:
        self.collection(notebook_id).delete(where={"source_id": source_id})

    def delete_notebook(self, notebook_id: str) -> None:
        prefix = f"nb_{notebook_id}_"
        for col in self.client.list_collections():
            name = col if isinstance(col, str) else col.name
            if name.startswith(prefix):
                self.client.delete_collection(name)
                self._collections.pop(name, None)

    def drop_stale_models(self, notebook_id: str) -> list[str]:
        """Delete this notebook's collections of other embedding models; returns their names."""
        prefix, keep = f"nb_{notebook_id}_", self._name(notebook_id)
        dropped = []
        for col in self.client.list_collections():
            name = col if isinstance(col, str) else col.name
            if name.startswith(prefix) and name != keep:
                self.client.delete_collection(name)
                dropped.append(name)
        return dropped
