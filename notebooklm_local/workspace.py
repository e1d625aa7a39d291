"""The one composition root: what a running app (the window or a CLI command) opens, built once and shared.

A :class:`Workspace` holds the paths and settings, the plugin manager (built-ins + enabled plugins), the
one SQLite :class:`~notebooklm_local.core.library.Library`, the one
:class:`~notebooklm_local.services.library_service.LibraryService` over it (with the embedder and the
Chroma index), the model (engine) shared by chat and studio, the chat and studio services, the stores
(chats, notes, studio outputs) over the same library, the prompt templates, the TTS engines and the
exporters. Everything is opened on first use (opening the index or the model is slow: the window asks
from its lanes, never from the GUI thread) and closed by :meth:`Workspace.close`.

The builder functions below (``open_library``, ``open_engine``, ``open_chat``, ``open_studio``,
``template_store``) assemble one service each from settings; the workspace calls them through this module,
so a test can replace one (``monkeypatch.setattr(workspace, "open_engine", ...)``). GUI-free: the CLI and
the tests use it as the window does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from notebooklm_local.core.chat_store import ChatStore
from notebooklm_local.core.library import Library
from notebooklm_local.core.llm import Engine
from notebooklm_local.core.notes import NoteStore
from notebooklm_local.core.paths import AppPaths, resources_dir
from notebooklm_local.core.settings import Settings, load_settings
from notebooklm_local.core.studio_store import StudioStore
from notebooklm_local.core.templates import TemplateStore
from notebooklm_local.extensions import runtime
from notebooklm_local.extensions.manager import PluginManager
from notebooklm_local.extensions.points import Registry
from notebooklm_local.services.chat import ChatService
from notebooklm_local.services.index import ChromaIndex
from notebooklm_local.services.library_service import LibraryService

if TYPE_CHECKING:
    from notebooklm_local.services.library_service import AddReport
    from notebooklm_local.services.studio.service import StudioService

__all__ = [
    "Workspace", "open_library", "open_index", "open_engine", "open_chat", "open_studio", "template_store",
    "tts_engines", "exporters", "resources_dir",
]

log = logging.getLogger(__name__)

tts_engines = runtime.tts_engines  # plugin contributions (contained): the plugin machinery's, re-exported
exporters = runtime.exporters


def _registry(paths: AppPaths, settings: Settings, registry: Registry | None) -> Registry:
    return registry if registry is not None else runtime.plugin_manager(paths, settings).registry


def open_index(paths: AppPaths, settings: Settings) -> ChromaIndex:
    """The embedder (llama.cpp, not loaded yet) and the Chroma index from settings."""
    from notebooklm_local.services.llama_runtime import LlamaCppEmbedder
    from notebooklm_local.services.models import embedding_model_path

    embedder = LlamaCppEmbedder(
        embedding_model_path(paths, settings), n_threads=settings.model.n_threads,
        n_gpu_layers=settings.model.n_gpu_layers,
    )
    if settings.index.backend == "http":
        return ChromaIndex.http(settings.index.host, settings.index.port, embedder)
    return ChromaIndex.persistent(paths.index / "chroma", embedder)


def open_library(
    paths: AppPaths, settings: Settings, *, registry: Registry | None = None, with_index: bool = True,
    library: Library | None = None,
) -> LibraryService:
    """Open the library database (unless ``library`` is given) and, unless ``with_index`` is false, the
    embedder and Chroma index.

    ``registry``: whose source loaders to use (default: the current plugin manager's, see
    ``extensions.runtime.plugin_manager``).
    """
    registry = _registry(paths, settings, registry)
    library = library if library is not None else Library(paths.data / "library.db")
    index = open_index(paths, settings) if with_index else None
    service = LibraryService(paths.data, library, runtime.source_loaders(registry), index)
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
        registry = runtime.plugin_manager(paths, load_settings(paths.settings_file)).registry
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


class Workspace:
    """The services of one data dir, opened on first use and shared (see the module's docstring).

    Args:
        paths: the data, config and log dirs.
        settings: the app's settings; kept by reference (the Settings dialog updates them in place).
        safe_mode: load no plugins (``--safe-mode``); False: as ``$NOTEBOOKLM_LOCAL_NO_PLUGINS`` says.
        notify: receives ``api.notify(plugin_id, level, message)`` of the plugins :meth:`load_plugins` loads
            (from any thread); may be set later (the window sets its status-bar relay).
        plugins: an already loaded plugin manager to use instead of loading one.

    Thread-safe: the window's lanes ask for services from their threads; each is built once.
    """

    def __init__(
        self, paths: AppPaths, settings: Settings, *, safe_mode: bool = False,
        notify: Callable[[str, str, str], None] | None = None, plugins: PluginManager | None = None,
    ) -> None:
        self.paths = paths
        self.settings = settings
        self.safe_mode = safe_mode
        self.notify = notify
        self._lock = threading.RLock()
        self._plugins = plugins
        self._library: Library | None = None
        self._service: LibraryService | None = None
        self._index_stale = False
        self._engine: Engine | None = None
        self._chat: ChatService | None = None
        self._studio: StudioService | None = None
        self._closed = False

    # -- plugins ------------------------------------------------------------------------------------

    def _notify(self, plugin_id: str, level: str, message: str) -> None:
        if self.notify is not None:
            self.notify(plugin_id, level, message)

    @property
    def plugins(self) -> PluginManager:
        """The plugin manager (built-ins + enabled plugins, none in safe mode): the one :meth:`load_plugins`
        loaded, else the process's current one when it matches these settings (``runtime.plugin_manager``:
        a CLI command loads plugins once), else loaded now."""
        with self._lock:
            if self._plugins is None:
                self._plugins = runtime.plugin_manager(self.paths, self.settings, self.safe_mode or None)
            return self._plugins

    def load_plugins(self) -> PluginManager:
        """Load the built-ins and the enabled plugins anew (the window does, once, at start); their
        ``api.notify`` messages go to :attr:`notify`."""
        manager = runtime.load_plugins(self.paths, self.settings, safe_mode=self.safe_mode or None,
                                       notify=self._notify)
        with self._lock:
            self._plugins = manager
        return manager

    @property
    def registry(self) -> Registry:
        return self.plugins.registry

    # -- the library --------------------------------------------------------------------------------

    @property
    def opened_library(self) -> Library | None:
        """The library if it was opened (None before the first :meth:`library`)."""
        return self._library

    def library(self) -> Library:
        """The one SQLite library of the data dir (opened on first use: fast, no index)."""
        with self._lock:
            self._check_open()
            if self._library is None:
                self._library = Library(self.paths.data / "library.db")
            return self._library

    def library_service(self, *, with_index: bool = True) -> LibraryService:
        """The one library service over :meth:`library`: loaders, and (``with_index``) embedder and index.

        Asked without the index first and with it later, the same service gets the index then.
        """
        with self._lock:
            self._check_open()
            if self._service is None:
                self._service = open_library(self.paths, self.settings, registry=self.registry,
                                             with_index=with_index, library=self.library())
                self._index_stale = False
            elif with_index and (self._service.index is None or self._index_stale):
                self._service.index = open_index(self.paths, self.settings)
                self._index_stale = False
            return self._service

    @property
    def opened_service(self) -> LibraryService | None:
        """The library service if it was opened."""
        return self._service

    def release_index(self) -> None:
        """The embedding model changed: the next :meth:`library_service` opens the index anew (the old
        embedder is closed by whoever indexes with it, once it is done)."""
        with self._lock:
            self._index_stale = self._service is not None and self._service.index is not None

    # -- the model, chat and studio -----------------------------------------------------------------

    def engine(self) -> Engine:
        """The chat model shared by chat and studio (built on first use; llama.cpp loads it at the first answer)."""
        with self._lock:
            self._check_open()
            if self._engine is None:
                self._engine = open_engine(self.paths, self.settings)
            return self._engine

    @property
    def opened_engine(self) -> Engine | None:
        return self._engine

    def chat(self) -> ChatService:
        """The chat service over the library service and the shared engine (built once)."""
        with self._lock:
            if self._chat is None:
                library = self.library_service()
                self._chat = open_chat(self.paths, self.settings, library=library, engine=self.engine(),
                                       registry=self.registry)
            return self._chat

    def studio(self) -> StudioService:
        """The studio service over the library service and the shared engine (built once)."""
        with self._lock:
            if self._studio is None:
                library = self.library_service()
                self._studio = open_studio(self.paths, self.settings, library=library, engine=self.engine(),
                                           registry=self.registry)
            return self._studio

    def release_engine(self, *, close: bool = True) -> Engine | None:
        """Forget the engine and the chat and studio built on it: the next use opens the model with the
        current settings. ``close`` False: the caller closes the returned engine (the window does, on its
        ``llm`` lane, after a running answer)."""
        with self._lock:
            engine, self._engine = self._engine, None
            self._chat = self._studio = None
        if engine is not None and close:
            engine.close()
        return engine

    # -- stores, templates, plugin contributions ----------------------------------------------------

    def chat_store(self) -> ChatStore:
        return ChatStore(self.library())

    def note_store(self) -> NoteStore:
        return NoteStore(self.library())

    def studio_store(self) -> StudioStore:
        return StudioStore(self.library())

    def template_store(self) -> TemplateStore:
        """The prompt templates (read from disk at each use: an edit applies at the next generation)."""
        return template_store(self.paths, self.registry)

    def tts_engines(self) -> list[Any]:
        """The TTS engines: the built-in espeak-ng first, then plugins' (contained)."""
        return tts_engines(self.registry)

    def exporters(self) -> list[Any]:
        """The exporters: the built-in Markdown one first, then plugins' (contained)."""
        return exporters(self.paths, self.settings, registry=self.registry)

    def ensure_sample_notebook(self) -> tuple[str, AddReport | None]:
        """Create the sample notebook with the shipped sources (indexed now) unless it exists (``init``)."""
        from notebooklm_local.extensions.sample import ensure_sample_notebook

        return ensure_sample_notebook(self.library_service())

    # -- closing ------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the workspace is closed")

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the engine and the library (idempotent). Call once nothing runs on them any more."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            engine, self._engine = self._engine, None
            library, self._library = self._library, None
            self._service = self._chat = self._studio = None
        try:
            if engine is not None:
                engine.close()
        finally:
            if library is not None:
                library.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
