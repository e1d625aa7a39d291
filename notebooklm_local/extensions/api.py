"""The plugin API facade (version 1): the only module plugins may import.

Built-in loaders register through this same facade (``extensions/builtins.py``), so the API is
exercised by the app itself.
"""

from __future__ import annotations

import logging

from notebooklm_local.core.documents import Block, LoadedDocument, SourceLoader, SourceRef
from notebooklm_local.core.errors import Cancelled, NotebookError, SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.extensions.points import Registry

__all__ = [
    "API_VERSION",
    "SUPPORTED_API_VERSIONS",
    "PluginApi",
    "Block",
    "LoadedDocument",
    "SourceLoader",
    "SourceRef",
    "CancelToken",
    "Cancelled",
    "NotebookError",
    "SourceLoadError",
]

API_VERSION = "1"
SUPPORTED_API_VERSIONS = frozenset({"1"})


class PluginApi:
    """What a plugin's ``register(api)`` receives."""

    def __init__(self, registry: Registry, plugin_id: str) -> None:
        self._registry = registry
        self.plugin_id = plugin_id
        self.log = logging.getLogger(f"notebooklm_local.plugins.{plugin_id}")

    def register_source_loader(self, loader: SourceLoader) -> None:
        """Add a source loader (checked against the SourceLoader protocol)."""
        if not isinstance(loader, SourceLoader):
            raise TypeError(f"{loader!r} does not implement SourceLoader (name, extensions, can_load, load)")
        self._registry.source_loaders.register(self.plugin_id, loader)
