"""Plain text is cut into paragraphs without decoding a whole large file at once (issue 17, memory): the
documents are the same as decoding the whole file and building blocks from its paragraphs."""

from __future__ import annotations

import codecs
import dataclasses
import random
import re

import pytest

from notebooklm_local.core.documents import Block, LoadedDocument
from notebooklm_local.core.errors import SourceLoadError
from notebooklm_local.services.loaders.text import decode_text, load_text_bytes

_SPLIT = re.compile(r"\n[ \t]*\n")


def _reference(data: bytes) -> LoadedDocument:
    text, encoding = decode_text(data, "x.txt")
    blocks = [Block(p) for p in _SPLIT.split(text.replace("\r\n", "\n").replace("\r", "\n")) if p.strip()]
    return LoadedDocument.from_blocks("text", "x", blocks, metadata={"encoding": encoding})


@pytest.mark.parametrize("data", [
    "Emoji 😀 paragraph.\r\n\r\nSecond — with a dash.\r\nSame paragraph.\n \t\nThird\r\rFourth".encode(),
    codecs.BOM_UTF8 + "Après la pluie.\n\nLe beau temps 𝔘.".encode(),
    b"Plain ASCII only.\n\n\n\nAfter blank lines.\n",
    "Ünïcödé in cp1252.\r\n\r\nZweiter Absatz: Grüße.".encode("cp1252"),  # not UTF-8: the whole-text path
    codecs.BOM_UTF16_LE + "UTF-16 text.\n\nSecond paragraph.".encode("utf-16-le"),
    "x\u2028y\n\u3000\nz\ufeff\n\n\x0cw".encode(),
])
def test_same_document_as_decoding_the_whole_file(data: bytes) -> None:
    ref = _reference(data)
    doc = load_text_bytes(data, "x.txt", markdown=False)
    assert (doc.text, doc.metadata) == (ref.text, ref.metadata)
    assert [dataclasses.replace(b, text=doc.block_text(b)) for b in doc.blocks] == ref.blocks
    assert all(b.text == "" for b in doc.blocks)  # the text is held once, in doc.text
    assert all(doc.text[b.start : b.end] == ref.block_text(b) for b in ref.blocks)


def test_same_documents_on_random_inputs() -> None:
    rng = random.Random(7)
    pieces = [b"a", b" ", b"\t", b"\n", b"\r", b"\r\n", "é".encode(), "😀".encode(), b"\x00", b"\xff", b"\xc3",
              "\u2028".encode(), b"\n \n", codecs.BOM_UTF8]
    compared = 0
    for _ in range(3000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        try:
            ref = _reference(data)
        except SourceLoadError:
            with pytest.raises(SourceLoadError):
                load_text_bytes(data, "x.txt", markdown=False)
            continue
        if not ref.text:
            continue
        doc = load_text_bytes(data, "x.txt", markdown=False)
        assert (doc.text, doc.metadata) == (ref.text, ref.metadata), data
        assert [dataclasses.replace(b, text=doc.block_text(b)) for b in doc.blocks] == ref.blocks, data
        compared += 1
    assert compared > 300
