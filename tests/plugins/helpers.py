"""Loading a bundled plugin's module the way the app does (through the plugin manager)."""

from __future__ import annotations

import types

from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings
from notebooklm_local.extensions.manager import PluginManager, PluginState


def bundled(plugin_id: str, settings: Settings | None = None) -> tuple[types.ModuleType, PluginManager]:
    """The loaded module of a bundled plugin and its manager (the plugin enabled)."""
    m = PluginManager(app_paths().ensure(), settings or Settings(), safe_mode=False, persist=False)
    m.load_all()
    info = m.get(plugin_id)
    if info.state is not PluginState.ENABLED:
        info = m.enable(plugin_id)
    assert info.state is PluginState.ENABLED, info.reason
    assert info.module is not None
    return info.module, m
