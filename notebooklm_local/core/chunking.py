"""Structure-aware, token-budgeted chunking with overlap and exact character spans.

Units are the document's blocks; a block over the budget is cut at sentence ends, then at line
breaks, then at spaces. Units are packed greedily into chunks; a heading or a new page starts a new
chunk (so a chunk's page is exact and its heading path meaningful); consecutive chunks inside one
section overlap by up to ``overlap`` tokens, and a chunk that starts a list starts with the list's lead-in
sentence ("But there are also disadvantages:"). A chunk's text is always ``doc.text[start:end]``.
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
    lead_in: bool = False  # the sentence ending with ':' right before a list ("But there are also disadvantages:")
    list_start: bool = False  # the first piece of a list that has a lead-in

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


_LIST_START = re.compile(r"[ \t]*(?:[-*+\u2022]|\d{1,3}[.)])[ \t]+\S")


def _lead_in(text: str, b: Block, nxt: Block | None, max_chars: int) -> int | None:
    """Where the lead-in sentence of a list starts when block ``b`` ends with one (its last sentence ends
    with ':' and ``nxt``, on the same page, is a list), else None. At most a quarter of a chunk."""
    if nxt is None or b.kind == "heading" or nxt.kind == "heading" or nxt.page != b.page:
        return None
    end = b.end
    while end > b.start and text[end - 1].isspace():
        end -= 1
    if end <= b.start or text[end - 1] != ":" or not _LIST_START.match(text, nxt.start, nxt.end):
        return None
    start = b.start
    for m in _SENTENCE_END.finditer(text, b.start, end):
        if m.end() < end:
            start = m.end()
    return start if end - start <= max_chars // 4 else None


def _trimmed(text: str, s: int, e: int) -> tuple[int, int]:
    """The span without whitespace at its ends (so spans start and end on text)."""
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def _units(doc: LoadedDocument, max_chars: int) -> Iterator[_Unit]:
    """The blocks cut into pieces of at most ``max_chars``. A list's lead-in sentence is a unit of its own
    and the list's first piece leaves room for it, so the chunk that starts the list can start with it
    (see ``chunk_document``): a list never loses the sentence that says what it lists."""
    text = doc.text
    blocks = doc.blocks
    lead_chars = 0  # > 0: this block is a list after a lead-in of that many characters
    for i, b in enumerate(blocks):
        lead = _lead_in(text, b, blocks[i + 1] if i + 1 < len(blocks) else None, max_chars)
        body_end = b.end if lead is None else lead
        pieces: list[tuple[int, int]] = []
        if body_end > b.start and lead_chars:
            first = next(_cut(text, 0, b.start, body_end, max_chars - lead_chars - 2, _SENTENCE_END))
            pieces = [first, *(_cut(text, 0, first[1], body_end, max_chars, _SENTENCE_END) if first[1] < body_end
                               else ())]
        elif body_end > b.start:
            pieces = list(_cut(text, 0, b.start, body_end, max_chars, _SENTENCE_END))
        n = 0
        for s0, e0 in pieces:
            s, e = _trimmed(text, s0, e0)
            if e > s:
                yield _Unit(s, e, b, list_start=bool(lead_chars) and n == 0)
                n += 1
        lead_chars = 0
        if lead is not None:
            s, e = _trimmed(text, lead, b.end)
            if e > s:
                yield _Unit(s, e, b, lead_in=True)
                lead_chars = e - s


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
                if (not structural and not carry and unit.list_start and current[-1].lead_in
                        and estimate_tokens_span(current[-1].start, unit.end) <= opt.max_tokens):
                    carry = [current[-1]]  # the list's chunk starts with the sentence that introduces it
                current = carry
        current.append(unit)
    emit()
    return chunks
