"""PDF and text loaders on generated files, including broken, hostile and huge input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.errors import Cancelled, SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.loaders.pdf import PdfLoader
from notebooklm_local.services.loaders.text import PastedTextLoader, TextLoader, load_text_bytes
from tests.helpers.docs import make_pdf


def load_pdf(path: Path, password: str | None = None):
    return PdfLoader().load(SourceRef(path=path, password=password), CancelToken())


def test_pdf_pages_metadata_and_spans(tmp_path: Path) -> None:
    f = make_pdf(tmp_path / "paper.pdf", ["Alpha page one.\n\nSecond paragraph " + "wraps over several lines of the page. " * 6, "Beta page two.",
                  "Gamma three."],
                 title="A Paper", author="Ada Lovelace")
    doc = load_pdf(f)
    assert doc.kind == "pdf" and doc.title == "A Paper"
    assert doc.metadata["author"] == "Ada Lovelace" and doc.metadata["pages"] == 3
    assert [b.page for b in doc.blocks] == [1, 1, 2, 3]
    for b in doc.blocks:
        assert doc.text[b.start : b.end] == b.text
    assert "Beta page two." in doc.text
    start, end = doc.metadata["page_spans"]["2"]
    assert doc.text[start:end] == "Beta page two."
    assert doc.flags == [] and doc.original == f.read_bytes()


def test_pdf_without_text_layer_is_flagged_not_failed(tmp_path: Path) -> None:
    # pages with a drawing and no text and no image: not scans (tests/services/test_loader_pdf_defects.py has those)
    doc = load_pdf(make_pdf(tmp_path / "scan.pdf", ["x", "y"], blank_pages=(1, 2)))
    assert doc.blocks == [] and doc.flags == ["no extractable text"]
    partial = load_pdf(make_pdf(tmp_path / "partial.pdf", ["text here", "x"], blank_pages=(2,)))
    assert partial.flags == []


def test_encrypted_pdf_needs_the_password(tmp_path: Path) -> None:
    f = make_pdf(tmp_path / "secret.pdf", ["Classified content."], user_password="pw123")
    with pytest.raises(SourceLoadError, match="password-protected"):
        load_pdf(f)
    with pytest.raises(SourceLoadError, match="Wrong password"):
        load_pdf(f, "nope")
    assert "Classified content." in load_pdf(f, "pw123").text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10, "not a PDF"),
        (b"%PDF-1.7\n" + b"\x00garbage" * 100, "damaged or truncated|no pages"),
    ],
)
def test_broken_pdfs_are_clear_errors(tmp_path: Path, content: bytes, message: str) -> None:
    f = tmp_path / "bad.pdf"
    f.write_bytes(content)
    with pytest.raises(SourceLoadError, match=message):
        load_pdf(f)


def test_truncated_pdf(tmp_path: Path) -> None:
    full = make_pdf(tmp_path / "full.pdf", [f"Page {i} text." for i in range(20)]).read_bytes()
    f = tmp_path / "trunc.pdf"
    f.write_bytes(full[: len(full) // 3])
    try:
        doc = load_pdf(f)  # pypdf may recover some pages from a truncated file: fine, nothing lost
    except SourceLoadError as e:
        assert "damaged or truncated" in str(e) or "no pages" in str(e)
    else:
        assert doc.metadata["pages"] >= 1


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceLoadError, match="File not found"):
        load_pdf(tmp_path / "nope.pdf")
    (tmp_path / "dir.pdf").mkdir()
    with pytest.raises(SourceLoadError, match="folder"):
        load_pdf(tmp_path / "dir.pdf")


@pytest.mark.slow
def test_thousand_page_pdf(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for i in range(1000):
        pdf.add_page()
        pdf.multi_cell(0, 5, f"Page {i + 1}. " + "Lorem ipsum dolor sit amet. " * 20)
    f = tmp_path / "big.pdf"
    pdf.output(str(f))
    t0 = time.perf_counter()
    doc = load_pdf(f)
    assert doc.metadata["pages"] == 1000 and doc.blocks[-1].page == 1000
    assert time.perf_counter() - t0 < 120
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        PdfLoader().load(SourceRef(path=f), token)


def test_text_encodings(tmp_path: Path) -> None:
    text = "Café naïve — «quotes» and ünïcödé.\n\nSecond paragraph."
    for enc, name in [("utf-8", "u8.txt"), ("utf-8-sig", "bom.txt"), ("utf-16", "u16.txt"), ("cp1252", "win.txt")]:
        (tmp_path / name).write_bytes(text.encode(enc))
        doc = TextLoader().load(SourceRef(path=tmp_path / name), CancelToken())
        assert doc.text == text.replace("\n\n", "\n\n"), (enc, doc.text)
        assert [doc.block_text(b) for b in doc.blocks] == ["Café naïve — «quotes» and ünïcödé.", "Second paragraph."]


@pytest.mark.parametrize("enc", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("text", [
    "Café naïve — «quotes» and ünïcödé.\r\n\r\nSecond paragraph.",  # Western (a Windows tool's CRLF)
    "Привет, мир. Это текст без метки порядка байтов.\n\nВторой абзац.",  # Cyrillic: zeros only in spaces/newlines
    "Γειά σου κόσμε.\n\nΔεύτερη παράγραφος.",
])
def test_utf16_without_a_bom_is_detected(tmp_path: Path, enc: str, text: str) -> None:
    (tmp_path / "nobom.txt").write_bytes(text.encode(enc))  # no byte-order mark
    doc = TextLoader().load(SourceRef(path=tmp_path / "nobom.txt"), CancelToken())
    want = text.replace("\r\n", "\n")
    assert doc.text.replace("\r\n", "\n") == want, (enc, doc.text)
    assert len(doc.blocks) == 2 and doc.block_text(doc.blocks[1]).endswith(("paragraph.", "абзац.", "παράγραφος."))


def test_binary_with_zero_bytes_in_both_halves_is_not_taken_for_utf16(tmp_path: Path) -> None:
    import struct

    # little-endian integers (zeros in every position) and UTF-16-looking data full of control codes
    (tmp_path / "ints.txt").write_bytes(b"".join(struct.pack("<I", i * 7) for i in range(5000)))
    (tmp_path / "ctl.txt").write_bytes(bytes([1, 0, 2, 0, 3, 0, 65, 0]) * 500)
    for name in ("ints.txt", "ctl.txt"):
        with pytest.raises(SourceLoadError, match="binary"):
            TextLoader().load(SourceRef(path=tmp_path / name), CancelToken())


def test_binary_file_named_txt_and_empty_file(tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(bytes(range(256)) * 100)
    with pytest.raises(SourceLoadError, match="binary"):
        TextLoader().load(SourceRef(path=tmp_path / "bin.txt"), CancelToken())
    (tmp_path / "empty.md").write_bytes(b"")
    with pytest.raises(SourceLoadError, match="empty"):
        TextLoader().load(SourceRef(path=tmp_path / "empty.md"), CancelToken())
    (tmp_path / "blank.txt").write_text("  \n\n \t \n")
    with pytest.raises(SourceLoadError, match="no text"):
        TextLoader().load(SourceRef(path=tmp_path / "blank.txt"), CancelToken())


def test_invalid_utf8_mixed_encoding_is_decoded_not_rejected(tmp_path: Path) -> None:
    data = "Hello wörld. ".encode() + "Grüße aus Köln. ".encode("cp1252") * 50
    doc = load_text_bytes(data, "mixed.txt", markdown=False)
    assert doc.text.startswith("Hello")


def test_markdown_headings_become_structure() -> None:
    md = b"# Title\n\nIntro.\n\n## Part A\n\nText A.\n\n```\n# not a heading\n```\n\n## Part B\n\nText B."
    doc = load_text_bytes(md, "notes.md", markdown=True)
    assert doc.title == "Title" and doc.kind == "markdown"
    para_b = next(b for b in doc.blocks if b.text == "Text B.")
    assert para_b.heading_path[-1] == "Part B"
    assert not any(b.kind == "heading" and "not a heading" in b.text for b in doc.blocks)


def test_pasted_text() -> None:
    doc = PastedTextLoader().load(SourceRef(text="Some pasted words.", title="My paste"), CancelToken())
    assert doc.kind == "paste" and doc.title == "My paste" and doc.text == "Some pasted words."
    with pytest.raises(SourceLoadError, match="empty"):
        PastedTextLoader().load(SourceRef(text="   "), CancelToken())


@pytest.mark.slow
def test_fifty_megabyte_text_file(tmp_path: Path) -> None:
    para = ("The quick brown fox jumps over the lazy dog. " * 20 + "\n\n").encode()
    f = tmp_path / "huge.txt"
    with f.open("wb") as out:
        for _ in range(50_000_000 // len(para)):
            out.write(para)
    t0 = time.perf_counter()
    doc = TextLoader().load(SourceRef(path=f), CancelToken())
    assert len(doc.text) > 49_000_000 and len(doc.blocks) > 50_000
    assert time.perf_counter() - t0 < 120
