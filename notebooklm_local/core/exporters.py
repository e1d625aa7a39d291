"""Exporters: how notes (and their notebook's sources) leave the app as files.

An :class:`Exporter` writes notes somewhere: the built-in ``markdown`` exporter (one Markdown file
per note, ``core.note_export``) and plugin exporters (an Obsidian vault, ...) implement it and
register through ``PluginApi.register_exporter``. Exporters get the notebook's sources as plain
:class:`ExportSource` records (title, kind, where it came from, its extracted text), never the
library itself, so an exporter cannot change anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.library import Library
from notebooklm_local.core.note_export import export_notes
from notebooklm_local.core.notes import Note

__all__ = ["Exporter", "ExportSource", "MarkdownExporter", "export_sources", "find_exporter"]


@dataclass(frozen=True)
class ExportSource:
    """One source of a notebook as exporters see it."""

    id: str
    title: str
    kind: str  # pdf, markdown, web, youtube, ...
    url: str = ""
    path: str = ""
    text: str = ""  # the extracted text ("" when it is not stored, e.g. a failed source)
    status: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)  # author, date, pages, ... (as the loader found it)
    created: float = 0.0
    notebook_id: str = ""


@runtime_checkable
class Exporter(Protocol):
    """Writes notes to ``target`` (a folder or a file, as the exporter documents)."""

    name: str  # stable id, e.g. "markdown", "obsidian"
    description: str  # one line for menus and ``--help``

    def export(
        self, notes: Sequence[Note], target: Path, *, notebook_name: str | Mapping[str, str],
        sources: Sequence[ExportSource], force: bool,
    ) -> list[Path]:
        """Write the export; return the files written.

        Must never overwrite an existing file unless ``force`` is true (raise ``ExportExists``), and raise
        ``ExportError`` (a NotebookError) with a clear message for a bad destination.
        """
        ...


class MarkdownExporter:
    """The built-in exporter: one Markdown file per note (or one combined file for a ``.md`` target)."""

    name = "markdown"
    description = "Markdown files with YAML front matter and footnote citations (one per note, or one .md file)"

    def __init__(self, *, single_file: bool = False) -> None:
        self.single_file = single_file

    def export(
        self, notes: Sequence[Note], target: Path, *, notebook_name: str | Mapping[str, str],
        sources: Sequence[ExportSource] = (), force: bool = False,
    ) -> list[Path]:
        return export_notes(notes, target, notebook_name=notebook_name, force=force, single_file=self.single_file)


def export_sources(library: Library, notebook_ids: Sequence[str] | str) -> list[ExportSource]:
    """The sources of these notebooks as :class:`ExportSource` records, with their extracted text."""
    ids = [notebook_ids] if isinstance(notebook_ids, str) else list(dict.fromkeys(notebook_ids))
    out: list[ExportSource] = []
    for nb in ids:
        for s in library.sources(nb):
            try:
                text, _blocks = library.source_text(s.id)
            except NotebookError:
                text = ""
            ref = s.ref if isinstance(s.ref, dict) else {}
            out.append(ExportSource(
                id=s.id, title=s.title or s.display, kind=s.kind, url=str(ref.get("url") or ""),
                path=str(ref.get("path") or ""), text=text, status=s.status, metadata=dict(s.meta or {}),
                created=s.created, notebook_id=s.notebook_id,
            ))
    return out


def find_exporter(exporters: Sequence[Exporter], name: str) -> Exporter:
    """The exporter called ``name`` (case-insensitive). Raises NotebookError listing the known ones."""
    key = (name or "").strip().casefold()
    for e in exporters:
        if e.name.casefold() == key:
            return e
    known = ", ".join(sorted(e.name for e in exporters)) or "none"
    raise NotebookError(f"No exporter named '{name}'. Known exporters: {known}.")
