"""Load the plugins (the registry) and hand out their contributions, contained.

Plugins are loaded once per process and configuration (:func:`plugin_manager`): the CLI and the GUI get
the same loaders, exporters, TTS engines and templates, every plugin contribution wrapped so that its
failures are contained (``extensions.containment``). The services themselves are assembled by
``notebooklm_local.workspace`` (the composition root), which loads the plugins through here; functions
given no registry use the current manager (loading plugins on first use).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import Settings
from notebooklm_local.extensions.builtins import BUILTIN_ID, builtin_registry
from notebooklm_local.extensions.containment import ContainedExporter, ContainedLoader, ContainedTTSEngine
from notebooklm_local.extensions.manager import PluginManager, strict_mode
from notebooklm_local.extensions.points import Registry

__all__ = ["load_plugins", "plugin_manager", "current_manager", "source_loaders", "tts_engines", "exporters"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_current: PluginManager | None = None


def _key(m: PluginManager) -> tuple[Any, ...]:
    return (m.paths, m.safe_mode, m.strict, frozenset(m.settings.disabled_plugins), frozenset(m.optins()),
            tuple(r for r, _ in m.roots))


def load_plugins(paths: AppPaths, settings: Settings, safe_mode: bool | None = None, *,
                 notify: Callable[[str, str, str], None] | None = None) -> PluginManager:
    """Load the built-ins and every enabled plugin (none in safe mode) into a new manager.

    The manager becomes the process's current one: the workspace's builders (``open_library``,
    ``open_studio``, ``open_chat``, ``template_store``) called without a registry use it. ``safe_mode`` None: the ``--safe-mode`` flag
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


def source_loaders(registry: Registry) -> list[Any]:
    """The source loaders registered (built-ins first, plugin ones contained)."""
    return _contained(ContainedLoader, registry, "source_loaders")


def tts_engines(registry: Registry | None = None) -> list[object]:
    """The text-to-speech engines registered (built-in espeak-ng first, then plugins', contained).

    ``registry`` None: the built-ins only.
    """
    return _contained(ContainedTTSEngine, registry if registry is not None else builtin_registry(), "tts_engines")
