"""A list keeps the sentence that introduces it: when a chunk break falls between a lead-in ("But there
are also disadvantages:") and its list, the list's chunk starts with the lead-in (SQLite's WAL page: the
question "What are the disadvantages of WAL?" missed the list chunk, which never said "disadvantage")."""

from __future__ import annotations

import pytest

from notebooklm_local.core.chunking import ChunkingOptions, chunk_document
from notebooklm_local.core.documents import Block, LoadedDocument

FILLER = " ".join(f"WAL mode writes change number {i} to a separate log file before the database." for i in range(8))
ITEMS = "\n".join(f"{i}. Item {i} of the list says that readers and writers see consistent snapshots in case {i}."
                  for i in range(1, 13))


def doc(*blocks: Block) -> LoadedDocument:
    return LoadedDocument.from_blocks("web", "WAL", list(blocks))


def check(d: LoadedDocument, chunks: list, opt: ChunkingOptions) -> None:  # type: ignore[type-arg]
    for c in chunks:
        assert c.text == d.text[c.start : c.end] and c.n_tokens <= opt.max_tokens
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(d.text) if not ch.isspace())  # nothing lost


@pytest.mark.parametrize("lead", [
    "But there are also disadvantages:",
    "WAL has costs too. But there are also disadvantages:",  # (within the overlap: carried whole)
    "WAL mode has many good properties that make it the default choice for most applications today, and it "
    "is used widely on phones and desktops. But there are also disadvantages:",  # only its last sentence
])
def test_the_list_chunk_starts_with_its_lead_in(lead: str) -> None:
    d = doc(Block("Overview", "heading", heading_path=("Overview",)), Block(FILLER, heading_path=("Overview",)),
            Block(lead, heading_path=("Overview",)), Block(ITEMS, heading_path=("Overview",)))
    opt = ChunkingOptions()
    chunks = chunk_document(d, opt)
    check(d, chunks, opt)
    first_item = d.text.index("1. Item 1")
    (holder,) = [c for c in chunks if c.start <= first_item < c.end]
    assert "But there are also disadvantages:\n\n1. Item 1" in holder.text
    assert len(holder.text) < 800 and holder.heading_path == ("Overview",)
    if len(lead) > 120:
        assert holder.text.startswith("But there are also disadvantages:")


def test_no_lead_in_without_a_colon_a_list_or_across_a_heading() -> None:
    opt = ChunkingOptions()
    for blocks in (
        [Block(FILLER), Block("These are the disadvantages."), Block(ITEMS)],  # no colon
        [Block(FILLER), Block("These are the disadvantages:"), Block(ITEMS.replace("\n", " ").replace(". Item", " Item"))],
    ):
        d = doc(*blocks)
        chunks = chunk_document(d, opt)
        check(d, chunks, opt)
        assert not any(c.text.startswith("These are") for c in chunks[1:])
    d = doc(Block(FILLER, page=1), Block("Disadvantages:", page=1), Block(ITEMS, page=2))
    chunks = chunk_document(d, opt)
    check(d, chunks, opt)
    assert all(c.page == c.page_end for c in chunks)  # a page still starts a chunk


def test_long_lead_in_is_not_carried_and_small_lists_are_unchanged() -> None:
    opt = ChunkingOptions()
    long_lead = "Here " + "and there " * 30 + "are the disadvantages:"
    d = doc(Block(FILLER), Block(long_lead), Block(ITEMS))
    chunks = chunk_document(d, opt)
    check(d, chunks, opt)
    short = doc(Block("Disadvantages of WAL:"), Block("- it needs shared memory\n- it has extra files"))
    (one,) = chunk_document(short, opt)
    assert one.text == short.text
