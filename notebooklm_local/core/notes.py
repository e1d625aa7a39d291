"""Notes per notebook, persisted in the library database (migration 4, table ``notes``).

A note is Markdown text with tags and, when it was saved from a cited answer or a studio output,
the citations its ``[n]`` markers refer to (``core.citations.Citation.to_json`` dicts, each with the
``passage_id`` n). Citations are copied into the note, so they survive the removal of their source.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from notebooklm_local.core.citations import CitedAnswer, strip_markers
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.library import Library

__all__ = [
    "answer_note_body",
    "Note",
    "NoteStore",
    "normalize_tag",
    "normalize_tags",
    "derive_title",
    "MAX_TITLE_CHARS",
    "MAX_BODY_BYTES",
    "MAX_TAG_CHARS",
    "MAX_TAGS",
    "MIN_ID_PREFIX",
]

MAX_TITLE_CHARS = 200
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_TAG_CHARS = 64
MAX_TAGS = 50
MIN_ID_PREFIX = 6  # like git: a unique id prefix of at least this many characters names a note

_ORIGIN = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_HEX = re.compile(r"[0-9a-f]+")


@dataclass
class Note:
    id: str
    notebook_id: str
    title: str
    body: str
    tags: list[str] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)  # Citation.to_json dicts
    origin_kind: str = "manual"  # 'manual', 'chat', 'summary', 'cod', 'podcast', ...
    origin_id: str = ""
    created: float = 0.0
    updated: float = 0.0
    # how the studio output it was saved from was made (read with the note from that output; not stored twice)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _clean(text: str) -> str:
    """Text that SQLite and UTF-8 files accept: lone surrogates -> U+FFFD, no NUL characters."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").replace("\x00", "")


def normalize_tag(tag: str) -> str:
    """One tag as stored: trimmed, NFC, without '#', whitespace runs -> '-' ('' when nothing is left)."""
    t = unicodedata.normalize("NFC", _clean(str(tag))).replace("#", " ").strip()
    t = re.sub(r"[\s,]+", "-", t)
    t = re.sub(r"-{2,}", "-", t).strip("-")
    if len(t) > MAX_TAG_CHARS:
        raise NotebookError(f"Tags are limited to {MAX_TAG_CHARS} characters: '{t[:40]}…'.")
    return t


def normalize_tags(tags: Iterable[str]) -> list[str]:
    """Normalised tags, empty ones dropped, duplicates (case-insensitive) removed; first spelling wins."""
    if isinstance(tags, str):
        tags = [tags]
    out: dict[str, str] = {}
    for raw in tags:
        t = normalize_tag(raw)
        if t:
            out.setdefault(t.casefold(), t)
    if len(out) > MAX_TAGS:
        raise NotebookError(f"A note can have at most {MAX_TAGS} tags.")
    return list(out.values())


def derive_title(body: str, *, limit: int = 80) -> str:
    """A title from a note's text: its first non-empty line, without Markdown markup or citation markers."""
    for line in body.splitlines():
        if re.match(r"\s*(?:`{3,}|~{3,})", line):
            continue  # a code fence's info string is no title
        line = re.sub(r"^\s{0,3}(?:#{1,6}\s+|>\s*|[-*+]\s+|\d+[.)]\s+)", "", line)
        line = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", strip_markers(line))  # [text](url) -> text
        line = re.sub(r"(?<!\w)[*_`~]+|[*_`~]+(?!\w)", "", line)  # emphasis and code marks
        line = " ".join(line.split()).strip("# ")
        if line and not re.fullmatch(r"[-=*_~`]+", line):
            if len(line) <= limit:
                return line
            cut = line[: limit - 1]
            if " " in cut[limit // 2 :]:
                cut = cut[: cut.rindex(" ")]
            return cut.rstrip(" ,;:.-") + "\u2026"
    return "Untitled note"


def answer_note_body(answer: CitedAnswer, mode: str = "generate") -> str:
    """The Markdown body of a note saved from a chat answer. A Quotes answer (``mode`` "quotes": source
    sentences, nothing generated) is a list of quotations, one a line, each with its marker, as the chat
    shows it (joined into one paragraph it read as prose nobody wrote); a written answer is its text."""
    if mode != "quotes" or answer.not_found or not answer.sentences:
        return answer.text
    lines = []
    for s in answer.sentences:
        marks = " ".join(f"[{n}]" for n in s.citations)
        text = s.text.strip()
        if marks and text.endswith(marks):  # the quote as the source has it (a "[3]" of its own stays)
            text = text[: -len(marks)].rstrip()
        lines.append(f"- \u201c{text}\u201d {marks}".rstrip())
    return "\n".join(lines)


def _title(title: str | None, body: str) -> str:
    t = " ".join(unicodedata.normalize("NFC", _clean(title or "")).split())
    if not t:
        return derive_title(body)
    if len(t) > MAX_TITLE_CHARS:
        raise NotebookError(f"Note titles are limited to {MAX_TITLE_CHARS} characters (this one has {len(t)}).")
    return t


def _body(body: str) -> str:
    b = _clean(body).replace("\r\n", "\n").replace("\r", "\n")
    size = len(b.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise NotebookError(
            f"The note's text is {size / 1024 / 1024:.1f} MB; notes are limited to "
            f"{MAX_BODY_BYTES // 1024 // 1024} MB. Split it into several notes, or add it as a source instead."
        )
    return b


def _citations(citations: Iterable[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in citations:
        d = c.to_json() if hasattr(c, "to_json") else c
        if not isinstance(d, Mapping):
            raise NotebookError(f"A note's citations must be Citation objects or dicts, not {type(c).__name__}.")
        out.append(dict(d))
    try:
        json.dumps(out)
    except (TypeError, ValueError) as e:
        raise NotebookError(f"A note's citations must be JSON data: {e}") from e
    return out


# a note's columns, and the provenance of the studio output it came from (when it still exists)
_SELECT = ("SELECT notes.*, json_extract(s.payload, '$.provenance') AS provenance FROM notes "
           "LEFT JOIN studio_outputs s ON s.id = notes.origin_id AND notes.origin_kind != 'chat' "
           "AND json_valid(s.payload)")


def _note(row: sqlite3.Row) -> Note:
    prov: Any = None
    if "provenance" in row.keys() and row["provenance"]:  # noqa: SIM118 - on a sqlite3.Row, `in` tests values
        try:
            prov = json.loads(row["provenance"])
        except ValueError:
            prov = None
    return Note(
        id=row["id"], notebook_id=row["notebook_id"], title=row["title"], body=row["body"],
        tags=json.loads(row["tags"]), citations=json.loads(row["citations"]), origin_kind=row["origin_kind"],
        origin_id=row["origin_id"], created=row["created"], updated=row["updated"],
        provenance=prov if isinstance(prov, dict) else {},
    )


class NoteStore:
    """CRUD for notes over a :class:`Library` (thread-safe through the library's lock)."""

    def __init__(self, library: Library) -> None:
        self.library = library

    # -- writing --------------------------------------------------------------------------------
    def add(
        self, notebook_id: str, title: str, body: str, *, citations: Iterable[Any] = (), tags: Iterable[str] = (),
        origin_kind: str = "manual", origin_id: str = "",
    ) -> Note:
        """Create a note. An empty title is derived from the body's first line.

        Raises:
            NotebookError: no such notebook, title too long, text too large, bad tags or citations.
        """
        body = _body(body)
        if not body.strip() and not (title or "").strip():
            raise NotebookError("A note needs a title or some text.")
        title = _title(title, body)
        if not _ORIGIN.fullmatch(origin_kind):
            raise NotebookError(f"Invalid note origin {origin_kind!r} (expected e.g. 'manual', 'chat', 'summary').")
        now = time.time()
        note = Note(uuid.uuid4().hex, notebook_id, title, body, normalize_tags(tags), _citations(citations),
                    origin_kind, _clean(str(origin_id)), now, now)
        try:
            with self.library.transaction() as db:
                db.execute(
                    "INSERT INTO notes (id, notebook_id, title, body, tags, citations, origin_kind, origin_id, "
                    "created, updated) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (note.id, notebook_id, note.title, note.body, json.dumps(note.tags, ensure_ascii=False),
                     json.dumps(note.citations, ensure_ascii=False), note.origin_kind, note.origin_id, now, now),
                )
        except sqlite3.IntegrityError:
            raise NotebookError(f"No notebook with id {notebook_id}.") from None
        return self.get(note.id) if origin_kind not in ("manual", "chat") else note  # with its output's provenance

    def update(
        self, note_id: str, *, title: str | None = None, body: str | None = None, tags: Iterable[str] | None = None,
        citations: Iterable[Any] | None = None,
    ) -> Note:
        """Change what is given (None: unchanged). ``title=""`` derives the title from the body again."""
        note = self.get(note_id)
        if body is not None:
            note.body = _body(body)
        if title is not None:
            note.title = _title(title, note.body)
        if tags is not None:
            note.tags = normalize_tags(tags)
        if citations is not None:
            note.citations = _citations(citations)
        note.updated = time.time()
        with self.library.transaction() as db:
            db.execute(
                "UPDATE notes SET title = ?, body = ?, tags = ?, citations = ?, updated = ? WHERE id = ?",
                (note.title, note.body, json.dumps(note.tags, ensure_ascii=False),
                 json.dumps(note.citations, ensure_ascii=False), note.updated, note.id),
            )
        return note

    def add_tags(self, note_id: str, tags: Iterable[str]) -> Note:
        note = self.get(note_id)
        return self.update(note.id, tags=[*note.tags, *([tags] if isinstance(tags, str) else tags)])

    def remove_tags(self, note_id: str, tags: Iterable[str]) -> Note:
        note = self.get(note_id)
        drop = {t.casefold() for t in normalize_tags(tags)}
        return self.update(note.id, tags=[t for t in note.tags if t.casefold() not in drop])

    def delete(self, note_id: str) -> Note:
        """Delete a note (id or unique prefix); returns what was deleted."""
        note = self.get(note_id)
        with self.library.transaction() as db:
            db.execute("DELETE FROM notes WHERE id = ?", (note.id,))
        return note

    # -- reading --------------------------------------------------------------------------------
    def get(self, note_id: str, *, notebook_id: str | None = None) -> Note:
        """A note by id, or by a unique id prefix of at least 6 characters (like git).

        Raises:
            NotebookError: no note, or the prefix is ambiguous or too short.
        """
        key = note_id.strip().lower()
        scope, params = ("", []) if notebook_id is None else (" AND notes.notebook_id = ?", [notebook_id])
        rows = self.library.query(f"{_SELECT} WHERE notes.id = ?{scope}", [key, *params])
        if rows:
            return _note(rows[0])
        if len(key) < MIN_ID_PREFIX or not _HEX.fullmatch(key):
            raise NotebookError(
                f"No note with id '{note_id}'"
                + (f" (give at least {MIN_ID_PREFIX} characters of an id)." if len(key) < MIN_ID_PREFIX else ".")
            )
        rows = self.library.query(
            f"{_SELECT} WHERE notes.id >= ? AND notes.id < ?{scope} ORDER BY notes.id LIMIT 11",
            [key, key + "g", *params],  # ids are lowercase hex, so 'g' sorts after every continuation
        )
        if not rows:
            raise NotebookError(f"No note with id '{note_id}'.")
        if len(rows) > 1:
            ids = ", ".join(r["id"][: len(key) + 4] for r in rows[:5])
            raise NotebookError(f"The id '{note_id}' matches {len(rows) if len(rows) < 11 else 'more than 10'} "
                                f"notes ({ids}…); give more characters.")
        return _note(rows[0])

    def list(self, notebook_id: str, *, tag: str | None = None, query: str | None = None) -> list[Note]:
        """A notebook's notes, most recently updated first.

        Args:
            tag: only notes with this tag (case-insensitive, '#' optional).
            query: only notes whose title, text or tags contain every word of it (case-insensitive).
        """
        rows = self.library.query(f"{_SELECT} WHERE notes.notebook_id = ? ORDER BY notes.updated DESC, notes.id",
                                  (notebook_id,))
        notes = [_note(r) for r in rows]
        if tag is not None:
            want = normalize_tag(tag).casefold()
            notes = [n for n in notes if any(t.casefold() == want for t in n.tags)]
        if query and query.strip():
            terms = unicodedata.normalize("NFC", query).casefold().split()
            notes = [n for n in notes
                     if all(t in unicodedata.normalize("NFC", f"{n.title}\n{n.body}\n{' '.join(n.tags)}").casefold()
                            for t in terms)]
        return notes

    def tags(self, notebook_id: str) -> dict[str, int]:
        """Every tag used in a notebook with its number of notes, most used first."""
        counts: dict[str, tuple[str, int]] = {}
        for n in self.list(notebook_id):
            for t in n.tags:
                name, c = counts.get(t.casefold(), (t, 0))
                counts[t.casefold()] = (name, c + 1)
        return dict(sorted(counts.values(), key=lambda kv: (-kv[1], kv[0].casefold())))

    def count(self, notebook_id: str) -> int:
        return int(self.library.query("SELECT count(*) FROM notes WHERE notebook_id = ?", (notebook_id,))[0][0])
