"""Assemble the running services from settings: loaders (registry), embedder, vector index, library."""

from __future__ import annotations

import logging

from notebooklm_local.core.library import Library
from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import Settings
from notebooklm_local.extensions.builtins import builtin_registry
from notebooklm_local.extensions.points import Registry
from notebooklm_local.services.index import ChromaIndex
from notebooklm_local.services.library_service import LibraryService

__all__ = ["open_library"]

log = logging.getLogger(__name__)


def open_library(
    paths: AppPaths, settings: Settings, *, registry: Registry | None = None, with_index: bool = True
) -> LibraryService:
    """Open the library database and, unless ``with_index`` is false, the embedder and Chroma index."""
    registry = registry or builtin_registry()
    library = Library(paths.data / "library.db")
    index = None
    if with_index:
        from notebooklm_local.services.llama_runtime import LlamaCppEmbedder
        from notebooklm_local.services.models import embedding_model_path

        embedder = LlamaCppEmbedder(
            embedding_model_path(paths, settings), n_threads=settings.model.n_threads,
            n_gpu_layers=settings.model.n_gpu_layers,
        )
        if settings.index.backend == "http":
            index = ChromaIndex.http(settings.index.host, settings.index.port, embedder)
        else:
            index = ChromaIndex.persistent(paths.index / "chroma", embedder)
    return LibraryService(paths.data, library, registry.source_loaders.items(), index)
