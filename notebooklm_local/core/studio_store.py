"""Studio outputs (summaries, chain-of-density runs, podcast scripts) persisted per notebook (migration 4).

An output keeps what was made (``payload``: text, sentences, citations, steps), from which sources,
with which options, model and template, so the user can see later how it came about.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.library import Library

__all__ = ["StudioOutput", "StudioStore", "KINDS", "EXTRACTED_KINDS"]

# shown and exported with no engine (a timeline or data table may have been written by the model, and checked)
EXTRACTED_KINDS = ("extract_summary", "key_quotes", "flashcards", "quiz", "mindmap", "timeline", "data_table")
KINDS = ("summary", "cod", "podcast", *EXTRACTED_KINDS)


@dataclass
class StudioOutput:
    id: str
    notebook_id: str
    kind: str
    title: str
    source_ids: list[str]
    options: dict[str, Any]
    model: str
    template: str
    payload: dict[str, Any]
    created: float
    updated: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "notebook_id": self.notebook_id, "kind": self.kind, "title": self.title,
            "source_ids": self.source_ids, "options": self.options, "model": self.model, "template": self.template,
            "created": self.created, "updated": self.updated, **self.payload,
        }


def _row(r: Any) -> StudioOutput:
    return StudioOutput(
        r["id"], r["notebook_id"], r["kind"], r["title"], json.loads(r["source_ids"]), json.loads(r["options"]),
        r["model"], r["template"], json.loads(r["payload"]), r["created"], r["updated"],
    )


@dataclass
class StudioStore:
    library: Library
    _cache: dict[str, StudioOutput] = field(default_factory=dict, repr=False)

    def add(self, notebook_id: str, kind: str, title: str, *, source_ids: Sequence[str], options: dict[str, Any],
            model: str, template: str, payload: dict[str, Any]) -> StudioOutput:
        now = time.time()
        out = StudioOutput(uuid.uuid4().hex, notebook_id, kind, title.strip()[:200] or kind, list(source_ids),
                           dict(options), model, template, dict(payload), now, now)
        with self.library.transaction() as db:
            db.execute(
                "INSERT INTO studio_outputs (id, notebook_id, kind, title, source_ids, options, model, template, payload,"
                " created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (out.id, notebook_id, kind, out.title, json.dumps(out.source_ids), json.dumps(out.options),
                 model, template, json.dumps(out.payload, ensure_ascii=False), now, now),
            )
        return out

    def get(self, output_id: str) -> StudioOutput:
        """By id, or by a unique prefix of at least 6 characters."""
        oid = (output_id or "").strip()
        rows = self.library.query("SELECT * FROM studio_outputs WHERE id = ?", (oid,))
        key = oid.lower()
        if not rows and len(key) >= 6 and re.fullmatch(r"[0-9a-f]+", key):  # ids are hex: no LIKE wildcards
            rows = self.library.query("SELECT * FROM studio_outputs WHERE id LIKE ? LIMIT 2", (key + "%",))
            if len(rows) > 1:
                raise NotebookError(f"'{oid}' matches more than one studio output; give more of the id.")
        if not rows:
            raise NotebookError(f"No studio output '{oid}'.")
        return _row(rows[0])

    def list(self, notebook_id: str, kind: str | None = None) -> list[StudioOutput]:
        if kind:
            rows = self.library.query(
                "SELECT * FROM studio_outputs WHERE notebook_id = ? AND kind = ? ORDER BY created DESC",
                (notebook_id, kind))
        else:
            rows = self.library.query(
                "SELECT * FROM studio_outputs WHERE notebook_id = ? ORDER BY created DESC", (notebook_id,))
        return [_row(r) for r in rows]

    def update(self, output_id: str, *, payload: dict[str, Any] | None = None, title: str | None = None) -> StudioOutput:
        out = self.get(output_id)
        if payload is not None:
            out.payload = dict(payload)
        if title is not None:
            out.title = title.strip()[:200] or out.title
        out.updated = time.time()
        with self.library.transaction() as db:
            db.execute("UPDATE studio_outputs SET payload = ?, title = ?, updated = ? WHERE id = ?",
                       (json.dumps(out.payload, ensure_ascii=False), out.title, out.updated, out.id))
        return out

    def delete(self, output_id: str) -> None:
        out = self.get(output_id)
        with self.library.transaction() as db:
            db.execute("DELETE FROM studio_outputs WHERE id = ?", (out.id,))
