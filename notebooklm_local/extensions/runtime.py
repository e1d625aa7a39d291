"""Assemble the running services from settings: loaders (registry), embedder, vector index, library."""

from __future__ import annotations

import logging

from notebooklm_local.core.library import Library
from notebooklm_local.core.llm import Engine
from notebooklm_local.core.paths import AppPaths, resources_dir
from notebooklm_local.core.settings import Settings
from notebooklm_local.core.templates import TemplateStore
from notebooklm_local.extensions.builtins import builtin_registry
from notebooklm_local.extensions.points import Registry
from notebooklm_local.services.chat import ChatService
from notebooklm_local.services.index import ChromaIndex
from notebooklm_local.services.library_service import LibraryService
from notebooklm_local.services.studio.service import StudioService

__all__ = ["open_library", "open_engine", "open_chat", "open_studio", "template_store", "tts_engines"]

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


def open_engine(paths: AppPaths, settings: Settings) -> Engine:
    """The chat model from settings: an OpenAI-compatible server when enabled, else llama.cpp (not loaded yet)."""
    if settings.server.enabled:
        from notebooklm_local.services.openai_engine import engine_from_settings

        return engine_from_settings(settings.server)
    from notebooklm_local.services.llama_runtime import LlamaCppEngine
    from notebooklm_local.services.models import chat_model_path

    m = settings.model
    return LlamaCppEngine(
        chat_model_path(paths, settings), n_ctx=m.n_ctx, n_gpu_layers=m.n_gpu_layers, n_threads=m.n_threads,
        flash_attn=m.flash_attn, chat_format=m.chat_format,
    )


def template_store(paths: AppPaths) -> TemplateStore:
    return TemplateStore(resources_dir() / "templates", paths.templates)


def open_chat(
    paths: AppPaths, settings: Settings, *, library: LibraryService | None = None, engine: Engine | None = None
) -> ChatService:
    """A chat service over the library (opened here unless given) with the configured engine."""
    return ChatService(
        library or open_library(paths, settings), engine or open_engine(paths, settings), template_store(paths),
        settings.chat,
    )


def tts_engines(registry: Registry | None = None) -> list[object]:
    """The text-to-speech engines registered (built-in espeak-ng first, then plugins')."""
    return list((registry or builtin_registry()).tts_engines.items())


def open_studio(
    paths: AppPaths, settings: Settings, *, library: LibraryService | None = None, engine: Engine | None = None,
    registry: Registry | None = None,
) -> StudioService:
    """The studio over the library (opened here unless given) with the configured engine and TTS engines."""
    registry = registry or builtin_registry()
    return StudioService(
        library or open_library(paths, settings, registry=registry), engine or open_engine(paths, settings),
        template_store(paths), settings, tts_engines=lambda: tts_engines(registry),
    )
