"""Assemble the running services from settings: plugins (registry), embedder, vector index, library.

Plugins are loaded once per process and configuration (:func:`plugin_manager`): the CLI and the GUI get
the same loaders, exporters, TTS engines and templates, every plugin contribution wrapped so that its
failures are contained (``extensions.containment``). The GUI should call :func:`load_plugins` once at
start with its safe-mode flag and pass ``manager.registry`` on; functions given no registry use the
current manager (loading plugins on first use).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from notebooklm_local.core.library import Library
from notebooklm_local.core.llm import Engine
from notebooklm_local.core.paths import AppPaths, resources_dir
from notebooklm_local.core.settings import Settings, load_settings
from notebooklm_local.core.templates import TemplateStore
from notebooklm_local.extensions.builtins import BUILTIN_ID, builtin_registry
from notebooklm_local.extensions.containment import ContainedExporter, ContainedLoader, ContainedTTSEngine
from notebooklm_local.extensions.manager import PluginManager, strict_mode
from notebooklm_local.extensions.points import Registry
from notebooklm_local.services.chat import ChatService
from notebooklm_local.services.index import ChromaIndex
from notebooklm_local.services.library_service import LibraryService

if TYPE_CHECKING:
    from notebooklm_local.services.studio.service import StudioService

__all__ = [
    "open_library", "open_engine", "open_chat", "open_studio", "template_store", "tts_engines", "exporters",
    "load_plugins", "plugin_manager", "current_manager",
]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_current: PluginManager | None = None


def _key(m: PluginManager) -> tuple[Any, ...]:
    return (m.paths, m.safe_mode, m.strict, frozenset(m.settings.disabled_plugins), frozenset(m.optins()),
            tuple(r for r, _ in m.roots))


def load_plugins(paths: AppPaths, settings: Settings, safe_mode: bool | None = None, *,
                 notify: Callable[[str, str, str], None] | None = None) -> PluginManager:
    """Load the built-ins and every enabled plugin (none in safe mode) into a new manager.

    The manager becomes the process's current one: ``open_library``/``open_studio``/``open_chat`` and
    ``template_store`` called without a registry use it. ``safe_mode`` None: the ``--safe-mode`` flag
    (``manager.set_safe_mode``) or ``$NOTEBOOKLM_LOCAL_NO_PLUGINS``. ``notify(plugin_id, level, message)``
    receives the plugins' ``api.notify`` messages (the GUI's status bar); they are also kept in
    ``manager.notices``.
    """
    global _current
    manager = PluginManager(paths, settings, safe_mode=safe_mode, notify=notify)
    manager.load_all()
    with _lock:
        _current = manager
    return manager


def plugin_manager(paths: AppPaths, settings: Settings, safe_mode: bool | None = None) -> PluginManager:
    """The current manager when it matches (same dirs, safe mode, enabled plugins); else load anew."""
    probe = PluginManager(paths, settings, safe_mode=safe_mode)
    with _lock:
        current = _current
    if current is not None and _key(current) == _key(probe):
        return current
    return load_plugins(paths, settings, safe_mode)


def current_manager() -> PluginManager | None:
    """The manager the last :func:`load_plugins` made (None before any)."""
    return _current


def _manager_of(registry: Registry) -> PluginManager | None:
    m = _current
    return m if m is not None and m.registry is registry else None


def _contained(cls: type, registry: Registry, point: str) -> list[Any]:
    m = _manager_of(registry)
    hook = m.record_failure if m is not None else None
    strict = strict_mode()
    return [item if owner == BUILTIN_ID else cls(owner, item, strict=strict, on_failure=hook)
            for owner, item in getattr(registry, point).owned()]


def _registry(paths: AppPaths, settings: Settings, registry: Registry | None) -> Registry:
    return registry if registry is not None else plugin_manager(paths, settings).registry


def exporters(paths: AppPaths, settings: Settings, *, registry: Registry | None = None) -> list[Any]:
    """Every exporter (the built-in Markdown one first), plugin ones contained."""
    return _contained(ContainedExporter, _registry(paths, settings, registry), "exporters")


def open_library(
    paths: AppPaths, settings: Settings, *, registry: Registry | None = None, with_index: bool = True
) -> LibraryService:
    """Open the library database and, unless ``with_index`` is false, the embedder and Chroma index.

    ``registry``: whose source loaders to use (default: the current plugin manager's, see ``plugin_manager``).
    """
    registry = _registry(paths, settings, registry)
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
    service = LibraryService(paths.data, library, _contained(ContainedLoader, registry, "source_loaders"), index)
    service.ocr = settings.index.ocr is not False
    return service


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


def template_store(paths: AppPaths, registry: Registry | None = None) -> TemplateStore:
    """The prompt templates: shipped defaults, the user's edits, and plugins' templates (``store.extra``).

    ``registry`` None: the current plugin manager's (settings read from ``paths``).
    """
    store = TemplateStore(resources_dir() / "templates", paths.templates)
    if registry is None:
        registry = plugin_manager(paths, load_settings(paths.settings_file)).registry
    for tpl in registry.prompt_templates.items():
        store.extra.setdefault(tpl.name, tpl)
    return store


def open_chat(
    paths: AppPaths, settings: Settings, *, library: LibraryService | None = None, engine: Engine | None = None,
    registry: Registry | None = None,
) -> ChatService:
    """A chat service over the library (opened here unless given) with the configured engine."""
    registry = _registry(paths, settings, registry)
    return ChatService(
        library or open_library(paths, settings, registry=registry), engine or open_engine(paths, settings),
        template_store(paths, registry), settings.chat,
    )


def tts_engines(registry: Registry | None = None) -> list[object]:
    """The text-to-speech engines registered (built-in espeak-ng first, then plugins', contained).

    ``registry`` None: the built-ins only.
    """
    return _contained(ContainedTTSEngine, registry if registry is not None else builtin_registry(), "tts_engines")


def open_studio(
    paths: AppPaths, settings: Settings, *, library: LibraryService | None = None, engine: Engine | None = None,
    registry: Registry | None = None,
) -> StudioService:
    """The studio over the library (opened here unless given) with the configured engine and TTS engines."""
    from notebooklm_local.services.studio.service import StudioService  # rapidfuzz & co.: not at start

    registry = _registry(paths, settings, registry)
    return StudioService(
        library or open_library(paths, settings, registry=registry), engine or open_engine(paths, settings),
        template_store(paths, registry), settings, tts_engines=lambda: tts_engines(registry),
    )
