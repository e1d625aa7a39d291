"""Export notes as an Obsidian vault.

The target folder becomes (or joins) a vault::

    <target>/
      <Note title>.md           one per note: front matter, body, footnote citations
      Sources/<Source title>.md one per source: front matter (title, kind, url/path, ...) and its text

Notes are rendered exactly like the Markdown export (``render_markdown``: YAML front matter, ``[n]``
citations as footnotes); each footnote and the ``sources`` property then link the cited source with a
``[[Sources/Title]]`` wiki-link, so Obsidian's graph and backlinks connect notes and sources. File names
are safe on every system and in links; nothing is overwritten unless ``force`` is given (then all
files are replaced, else nothing is written).
"""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from notebooklm_local.extensions.api import (
    ExportError,
    ExportSource,
    Note,
    PluginApi,
    render_markdown,
    safe_filename,
    write_files,
    yaml_quote,
)

SOURCES_FOLDER = "Sources"
MAX_SOURCE_TEXT_CHARS = 200_000  # Obsidian gets slow on huge notes; the rest stays in the app
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_MD_SPECIAL = re.compile(r"[\\`*_\[\]#|]")


def _one_line(text: object) -> str:
    return " ".join(str(text or "").split())


def _alias(title: str) -> str:
    """Link text that cannot end or split a wiki-link."""
    return _one_line(title).replace("|", "-").replace("[", "(").replace("]", ")")


def wikilink(stem: str, title: str) -> str:
    alias = _alias(title)
    return f"[[{SOURCES_FOLDER}/{stem}]]" if not alias or alias == stem else f"[[{SOURCES_FOLDER}/{stem}|{alias}]]"


def _unique(stems: Sequence[str]) -> list[str]:
    used: set[str] = set()
    out = []
    for stem in stems:
        name, k = stem, 2
        while name.casefold() in used:  # case-insensitive file systems (Windows, macOS)
            name, k = f"{stem} ({k})", k + 1
        used.add(name.casefold())
        out.append(name)
    return out


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts or time.time(), UTC).astimezone().isoformat(timespec="seconds")


def source_markdown(src: ExportSource, *, notebook: str = "") -> str:
    """One source as an Obsidian note: front matter, where it came from, and its extracted text."""
    fm = ["---", f"title: {yaml_quote(_one_line(src.title) or 'Untitled source')}",
          f"kind: {yaml_quote(src.kind or 'unknown')}"]
    if src.url:
        fm.append(f"url: {yaml_quote(src.url)}")
    if src.path:
        fm.append(f"path: {yaml_quote(src.path)}")
    for key in ("author", "date", "language"):
        if src.metadata.get(key):
            fm.append(f"{key}: {yaml_quote(_one_line(src.metadata[key]))}")
    if notebook:
        fm.append(f"notebook: {yaml_quote(notebook)}")
    fm += [f"added: {_date(src.created)}", "tags:", "  - \"source\"", "---"]
    title = _one_line(src.title) or "Untitled source"
    lines = [*fm, "", "# " + _MD_SPECIAL.sub(r"\\\g<0>", title), ""]
    where = [f"Kind: {src.kind or 'unknown'}"]
    if src.url:
        where.append(f"<{src.url}>" if re.match(r"(?i)https?://\S+$", src.url) else src.url)
    elif src.path:
        where.append(f"`{src.path.replace('`', '')}`")
    lines += [" \u00b7 ".join(where), ""]
    text = src.text.strip()
    if text:
        shown = text[:MAX_SOURCE_TEXT_CHARS]
        lines += ["## Text", "", _TAG_START.sub("&lt;", shown).rstrip(), ""]
        if len(text) > len(shown):
            lines += [f"*(The text continues: {len(text) - len(shown):,} more characters are in notebooklm-local.)*", ""]
    else:
        lines += ["*(No extracted text is stored for this source.)*", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


class ObsidianExporter:
    name = "obsidian"
    description = "An Obsidian vault: one file per note, a Sources folder, citations as [[wiki-links]]"

    def export(self, notes: Sequence[Note], target: Path, *, notebook_name: str | Mapping[str, str],
               sources: Sequence[ExportSource] = (), force: bool = False) -> list[Path]:
        notes = list(notes)
        if not notes:
            raise ExportError("There are no notes to export.")
        raw = str(target)
        if not raw.strip():
            raise ExportError("No export destination given.")
        if ".." in re.split(r"[\\/]", raw):
            raise ExportError(f"The export destination {raw} contains '..'; give a path without parent-folder steps.")
        dest = Path(raw).expanduser()
        if dest.exists() and not dest.is_dir():
            raise ExportError(f"Cannot export a vault into {dest}: it is a file, not a folder.")

        def nb_name(n: Note) -> str:
            return notebook_name if isinstance(notebook_name, str) else notebook_name.get(n.notebook_id, n.notebook_id)

        sources = list({s.id: s for s in sources}.values())
        source_stems = _unique([safe_filename(s.title or "Untitled source") for s in sources])
        by_id = {s.id: (stem, s) for s, stem in zip(sources, source_stems, strict=True)}
        by_title: dict[str, tuple[str, ExportSource]] = {}
        for s, stem in zip(sources, source_stems, strict=True):
            by_title.setdefault(_one_line(s.title).casefold(), (stem, s))

        files: dict[Path, str] = {}
        for note, stem in zip(notes, _unique([safe_filename(n.title) for n in notes]), strict=True):
            files[dest / f"{stem}.md"] = self._note(note, nb_name(note), by_id, by_title)
        for s, stem in zip(sources, source_stems, strict=True):
            nb = notebook_name if isinstance(notebook_name, str) else notebook_name.get(s.notebook_id, "")
            files[dest / SOURCES_FOLDER / f"{stem}.md"] = source_markdown(s, notebook=nb)
        write_files(files, force=force)
        return list(files)

    @staticmethod
    def _note(note: Note, notebook: str, by_id: Mapping[str, tuple[str, ExportSource]],
              by_title: Mapping[str, tuple[str, ExportSource]]) -> str:
        # Cited sources get a unique placeholder title; after rendering, the placeholder becomes a
        # wiki-link in the footnotes and in the front matter's `sources` list.
        tokens: dict[str, str] = {}  # source id -> token
        links: dict[str, tuple[str, ExportSource]] = {}  # token -> (file stem, source)
        citations = []
        for c in note.citations:
            c = dict(c)
            hit = by_id.get(str(c.get("source_id") or "")) or by_title.get(_one_line(c.get("source_title")).casefold())
            if hit is not None:
                stem, src = hit
                token = tokens.setdefault(src.id, f"NBLSRCLINK{uuid.uuid4().hex}")
                links[token] = hit
                c["source_title"] = token
            citations.append(c)
        text = render_markdown(dataclasses.replace(note, citations=citations), notebook_name=notebook)
        for token, (stem, src) in links.items():
            text = text.replace(yaml_quote(token), yaml_quote(f"[[{SOURCES_FOLDER}/{stem}]]"))
            text = text.replace(token, wikilink(stem, src.title))
        return text


def register(api: PluginApi) -> None:
    api.register_exporter(ObsidianExporter())
