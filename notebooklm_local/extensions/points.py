"""Extension points: typed registries keyed by the owner (a plugin id, or "builtin")."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from notebooklm_local.core.documents import SourceLoader
from notebooklm_local.core.exporters import Exporter
from notebooklm_local.core.templates import PromptTemplate
from notebooklm_local.core.tts import TTSEngine

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
    exporters: ExtensionPoint[Exporter] = field(default_factory=lambda: ExtensionPoint("exporters"))
    prompt_templates: ExtensionPoint[PromptTemplate] = field(default_factory=lambda: ExtensionPoint("prompt_templates"))
    tts_engines: ExtensionPoint[TTSEngine] = field(default_factory=lambda: ExtensionPoint("tts_engines"))
    actions: ExtensionPoint[Any] = field(default_factory=lambda: ExtensionPoint("actions"))  # api.Action

    def points(self) -> list[ExtensionPoint[Any]]:
        return [self.source_loaders, self.exporters, self.prompt_templates, self.tts_engines, self.actions]

    def unregister_owner(self, owner: str) -> int:
        """Remove everything ``owner`` registered; how many items went."""
        return sum(point.unregister_owner(owner) for point in self.points())

    def contributions(self, owner: str) -> dict[str, list[str]]:
        """What ``owner`` registered, by extension point: the items' names (ids for actions)."""
        out: dict[str, list[str]] = {}
        for point in self.points():
            names = [str(getattr(i, "name", None) or getattr(i, "id", None) or type(i).__name__)
                     for o, i in point.owned() if o == owner]
            if names:
                out[point.name] = names
        return out
