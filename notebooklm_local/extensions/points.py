"""Extension points: typed registries keyed by the owner (a plugin id, or "builtin")."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from notebooklm_local.core.documents import SourceLoader

__all__ = ["ExtensionPoint", "Registry"]

T = TypeVar("T")


class ExtensionPoint(Generic[T]):
    """An ordered registry of items; each remembers its owner so a plugin's items can be removed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._items: list[tuple[str, T]] = []

    def register(self, owner: str, item: T) -> T:
        self._items.append((owner, item))
        return item

    def unregister_owner(self, owner: str) -> int:
        before = len(self._items)
        self._items = [(o, i) for o, i in self._items if o != owner]
        return before - len(self._items)

    def items(self) -> list[T]:
        return [i for _, i in self._items]

    def owned(self) -> list[tuple[str, T]]:
        return list(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items())

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Registry:
    """All extension points of one running app."""

    source_loaders: ExtensionPoint[SourceLoader] = field(default_factory=lambda: ExtensionPoint("source_loaders"))
    exporters: ExtensionPoint[Any] = field(default_factory=lambda: ExtensionPoint("exporters"))
    prompt_templates: ExtensionPoint[Any] = field(default_factory=lambda: ExtensionPoint("prompt_templates"))
    tts_engines: ExtensionPoint[Any] = field(default_factory=lambda: ExtensionPoint("tts_engines"))
    actions: ExtensionPoint[Any] = field(default_factory=lambda: ExtensionPoint("actions"))

    def unregister_owner(self, owner: str) -> None:
        for point in (self.source_loaders, self.exporters, self.prompt_templates, self.tts_engines, self.actions):
            point.unregister_owner(owner)
