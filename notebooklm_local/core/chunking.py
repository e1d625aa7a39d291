"""Structure-aware, token-budgeted chunking with overlap and exact character spans.

Units are the document's blocks; a block over the budget is cut at sentence ends, then at line
breaks, then at spaces. Units are packed greedily into chunks; a heading or a new page starts a new
chunk (so a chunk's page is exact and its heading path meaningful); consecutive chunks inside one
section overlap by up to ``overlap`` tokens. A chunk's text is always ``doc.text[start:end]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from notebooklm_local.core.documents import Block, LoadedDocument

__all__ = ["Chunk", "ChunkingOptions", "chunk_document", "estimate_tokens"]

_SENTENCE_END = re.compile(r"(?<=[.!?…。])[\"')\]]*\s+|\n")


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (about 4 characters per token for English subword vocabularies)."""
    return (len(text) + 3) // 4


@dataclass(frozen=True)
class ChunkingOptions:
    max_tokens: int = 200  # MiniLM-class embedders see 256 tokens; stay under with margin
    overlap_tokens: int = 30
    min_tokens: int = 40  # below this a heading does not force a break (keeps tiny sections together)


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    text: str
    start: int
    end: int
    page: int | None
    page_end: int | None
    heading_path: tuple[str, ...]
    t_start: float | None
    t_end: float | None
    n_tokens: int


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    block: Block

    @property
    def tokens(self) -> int:
        return estimate_tokens_span(self.start, self.end)


def estimate_tokens_span(start: int, end: int) -> int:
    return (end - start + 3) // 4


def _cut(text: str, offset: int, start: int, end: int, max_chars: int, pattern: re.Pattern[str] | None) -> Iterator[
    tuple[int, int]
]:
    """Split text[start:end] (absolute offsets: text index + offset) into pieces <= max_chars."""
    if end - start <= max_chars:
        yield start, end
        return
    cuts: list[int] = []
    if pattern is not None:
        seg = text[start - offset : end - offset]
        cuts = [m.end() + start for m in pattern.finditer(seg)]
    if not cuts:
        # hard wrap at the last space before the limit (or at the limit)
        pos = start
        while end - pos > max_chars:
            window = text[pos - offset : pos - offset + max_chars]
            sp = window.rfind(" ")
            nxt = pos + (sp + 1 if sp > max_chars // 2 else max_chars)
            yield pos, nxt
            pos = nxt
        yield pos, end
        return
    pos = start
    piece_start = start
    for c in [*cuts, end]:
        if c - piece_start > max_chars and pos > piece_start:
            yield from _cut(text, offset, piece_start, pos, max_chars, None)
            piece_start = pos
        pos = c
    if piece_start < end:
        yield from _cut(text, offset, piece_start, end, max_chars, None)


def _units(doc: LoadedDocument, max_chars: int) -> Iterator[_Unit]:
    for b in doc.blocks:
        for s, e in _cut(doc.text, 0, b.start, b.end, max_chars, _SENTENCE_END):
            # trim whitespace at the cut so spans start and end on text
            while s < e and doc.text[s].isspace():
                s += 1
            while e > s and doc.text[e - 1].isspace():
                e -= 1
            if e > s:
                yield _Unit(s, e, b)


def chunk_document(doc: LoadedDocument, options: ChunkingOptions | None = None) -> list[Chunk]:
    """Cut a loaded document into chunks (see the module docstring)."""
    opt = options or ChunkingOptions()
    max_chars = opt.max_tokens * 4
    chunks: list[Chunk] = []
    current: list[_Unit] = []

    def emit() -> None:
        if not current:
            return
        first, last = current[0], current[-1]
        t_starts = [u.block.t_start for u in current if u.block.t_start is not None]
        t_ends = [u.block.t_end for u in current if u.block.t_end is not None]
        heading = first.block.heading_path
        if first.block.kind == "heading" and heading[-1:] != (first.block.text,):
            heading = (*heading, first.block.text)
        chunks.append(
            Chunk(
                ordinal=len(chunks),
                text=doc.text[first.start : last.end],
                start=first.start,
                end=last.end,
                page=first.block.page,
                page_end=last.block.page,
                heading_path=heading,
                t_start=min(t_starts) if t_starts else None,
                t_end=max(t_ends) if t_ends else None,
                n_tokens=estimate_tokens_span(first.start, last.end),
            )
        )

    for unit in _units(doc, max_chars):
        if current:
            size = estimate_tokens_span(current[0].start, unit.end)
            prev = current[-1].block
            structural = unit.block.page != prev.page or (
                unit.block.kind == "heading" and prev.kind != "heading"
                and estimate_tokens_span(current[0].start, current[-1].end) >= opt.min_tokens
            )
            if structural or size > opt.max_tokens:
                emit()
                carry: list[_Unit] = []
                if not structural and opt.overlap_tokens > 0:
                    for u in reversed(current):
                        if estimate_tokens_span(u.start, current[-1].end) > opt.overlap_tokens:
                            break
                        carry.insert(0, u)
                    if carry and estimate_tokens_span(carry[0].start, unit.end) > opt.max_tokens:
                        carry = []
                current = carry
        current.append(unit)
    emit()
    return chunks
