"""Citation health of a notebook over its stored history (``core/health.py``): every chat answer and studio
output, and whether their citations still match the sources' current text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from notebooklm_local.core.chat_store import ChatStore
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.health import HealthReport, citation_health
from notebooklm_local.core.library import Library
from notebooklm_local.core.studio_store import StudioStore

__all__ = ["notebook_health"]


def _records(library: Library, notebook_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
    chats = ChatStore(library)
    for session in chats.sessions(notebook_id):
        for m in chats.messages(session.id):
            if m.role == "assistant" and m.payload:
                yield "answer", m.payload
    for out in StudioStore(library).list(notebook_id):
        yield out.kind, out.payload


def notebook_health(library: Library, notebook_id: str) -> HealthReport:
    def text(source_id: str) -> str | None:
        try:
            return library.source_text(source_id)[0]
        except NotebookError:
            return None

    return citation_health(_records(library, notebook_id), text)
