"""Chat sessions per notebook, persisted in the library database (migration 3)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.library import Library

__all__ = ["ChatSession", "ChatRecord", "ChatStore"]


@dataclass
class ChatSession:
    id: str
    notebook_id: str
    title: str
    created: float
    updated: float


@dataclass
class ChatRecord:
    id: int
    session_id: str
    role: str
    content: str
    created: float
    payload: dict[str, Any] = field(default_factory=dict)


class ChatStore:
    def __init__(self, library: Library) -> None:
        self.library = library

    def create_session(self, notebook_id: str, title: str = "") -> ChatSession:
        now = time.time()
        sess = ChatSession(uuid.uuid4().hex, notebook_id, title[:200], now, now)
        with self.library.transaction() as db:
            db.execute("INSERT INTO chat_sessions VALUES (?,?,?,?,?)", (sess.id, notebook_id, sess.title, now, now))
        return sess

    def sessions(self, notebook_id: str) -> list[ChatSession]:
        rows = self.library.query(
            "SELECT * FROM chat_sessions WHERE notebook_id = ? ORDER BY updated DESC", (notebook_id,)
        )
        return [ChatSession(**dict(r)) for r in rows]

    def session(self, session_id: str) -> ChatSession:
        rows = self.library.query("SELECT * FROM chat_sessions WHERE id = ?", (session_id,))
        if not rows:
            raise NotebookError(f"No chat session {session_id}.")
        return ChatSession(**dict(rows[0]))

    def latest_session(self, notebook_id: str) -> ChatSession | None:
        s = self.sessions(notebook_id)
        return s[0] if s else None

    def add_message(self, session_id: str, role: str, content: str, payload: dict[str, Any] | None = None) -> ChatRecord:
        if role not in ("user", "assistant"):
            raise NotebookError(f"A chat message's role must be 'user' or 'assistant', not {role!r}.")
        self.session(session_id)  # a clear error for a missing session
        now = time.time()
        with self.library.transaction() as db:
            cur = db.execute(
                "INSERT INTO chat_messages (session_id, role, content, payload, created) VALUES (?,?,?,?,?)",
                (session_id, role, content, json.dumps(payload or {}), now),
            )
            db.execute("UPDATE chat_sessions SET updated = ? WHERE id = ?", (now, session_id))
            if role == "user":
                db.execute("UPDATE chat_sessions SET title = ? WHERE id = ? AND title = ''", (" ".join(content.split())[:80], session_id))
        return ChatRecord(int(cur.lastrowid), session_id, role, content, now, payload or {})

    def messages(self, session_id: str, limit: int | None = None) -> list[ChatRecord]:
        sql = "SELECT * FROM chat_messages WHERE session_id = ? ORDER BY id"
        rows = self.library.query(sql, (session_id,))
        recs = [ChatRecord(r["id"], r["session_id"], r["role"], r["content"], r["created"], json.loads(r["payload"]))
                for r in rows]
        return recs[-limit:] if limit else recs

    def rename(self, session_id: str, title: str) -> None:
        with self.library.transaction() as db:
            db.execute("UPDATE chat_sessions SET title = ? WHERE id = ?", (title[:200], session_id))

    def delete_session(self, session_id: str) -> None:
        with self.library.transaction() as db:
            db.execute("DELETE FROM chat_sessions WHERE id = ?", (session_id,))
