"""What a loader produces: a document's normalized text as a sequence of structural blocks.

A loader turns a file, URL or pasted text into a :class:`LoadedDocument`: blocks (headings,
paragraphs, transcript cues) each tagged with its page, heading path or timestamps. The document's
stored text is the blocks joined by blank lines, and every block knows its exact character span in
that text, so chunks (and later citations) point at exact passages.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from notebooklm_local.core.jobs import CancelToken

__all__ = [
    "Block",
    "BlockKind",
    "LoadedDocument",
    "SourceRef",
    "SourceLoader",
    "normalize_text",
    "BLOCK_SEPARATOR",
]

# "code": a fenced code block or <pre> (Markdown and web loaders): indexed and shown like a paragraph, but
# never a sentence of the extracted outputs (summary, key quotes, cards, quiz, mind map, timeline, table)
BlockKind = Literal["heading", "paragraph", "cue", "code"]
BLOCK_SEPARATOR = "\n\n"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANKS = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """NFC, unified newlines, no control characters, collapsed runs of spaces, trimmed lines."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\ufeff", "").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = _CONTROL.sub("", text)
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANKS.sub("\n\n", text).strip()


@dataclass(frozen=True)
class Block:
    """One structural unit of a document. ``start``/``end`` index the document's text.

    ``text`` may be empty for a paragraph whose text is only in the document (a plain-text file's
    paragraphs, a stored document's): a copy per paragraph would hold a large source twice. Read a
    block's text with :meth:`LoadedDocument.block_text`.
    """

    text: str
    kind: BlockKind = "paragraph"
    page: int | None = None  # 1-based page number (PDF)
    heading_path: tuple[str, ...] = ()
    t_start: float | None = None  # seconds (transcripts)
    t_end: float | None = None
    start: int = 0
    end: int = 0


@dataclass
class LoadedDocument:
    """A loader's result. Build it with :meth:`from_blocks` so offsets are consistent."""

    kind: str  # pdf, markdown, text, html, web, youtube, transcript, paste, ...
    title: str
    text: str
    blocks: list[Block]
    metadata: dict[str, Any] = field(default_factory=dict)  # author, date, url, pages, language, ...
    flags: list[str] = field(default_factory=list)  # user-visible warnings, e.g. "no extractable text"
    original: bytes | None = None  # the bytes to keep as the source's original (file or download)
    original_suffix: str = ""

    def block_text(self, block: Block) -> str:
        """A block's text: its own, or its span of the document's text when it carries none."""
        return block.text or self.text[block.start : block.end]

    @classmethod
    def from_blocks(cls, kind: str, title: str, blocks: Sequence[Block], **kwargs: Any) -> LoadedDocument:
        """Join normalized blocks with blank lines and record each block's span."""
        out: list[Block] = []
        parts: list[str] = []
        pos = 0
        for b in blocks:
            t = normalize_text(b.text)
            if not t:
                continue
            if parts:
                parts.append(BLOCK_SEPARATOR)
                pos += len(BLOCK_SEPARATOR)
            parts.append(t)
            out.append(Block(t, b.kind, b.page, b.heading_path, b.t_start, b.t_end, pos, pos + len(t)))
            pos += len(t)
        return cls(kind=kind, title=title.strip() or "Untitled", text="".join(parts), blocks=out, **kwargs)


@dataclass(frozen=True)
class SourceRef:
    """What the user gave: a local path, a URL, or pasted text (exactly one)."""

    path: Path | None = None
    url: str | None = None
    text: str | None = None
    title: str | None = None  # for pasted text
    password: str | None = None  # for encrypted PDFs
    ocr: bool = True  # False: do not run OCR on scanned pages (settings [index] ocr); loaders may ignore it

    @property
    def display(self) -> str:
        if self.path is not None:
            return str(self.path)
        if self.url is not None:
            return self.url
        return self.title or "pasted text"


@runtime_checkable
class SourceLoader(Protocol):
    """A source loader. Built-in loaders and plugin loaders implement this."""

    # read-only members (a plain class attribute satisfies them): a loader's tuple of 3 suffixes is a
    # ``tuple[str, ...]`` to the registry, which never assigns these
    @property
    def name(self) -> str:
        """Stable id, e.g. "pdf"."""
        ...

    @property
    def extensions(self) -> tuple[str, ...]:
        """Lower-case, with the dot: (".pdf",)."""
        ...

    def can_load(self, ref: SourceRef) -> bool: ...

    def load(self, ref: SourceRef, cancel: CancelToken) -> LoadedDocument:
        """Return the document or raise SourceLoadError with a clear message."""
        ...
