"""Issue 18: PDF text that search can trust. Each test generates a small PDF reproducing one defect
seen in real-world PDFs (tests/helpers/pdf_defects.py) and checks the stored text, title and flags."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.loaders import pdf_ocr
from notebooklm_local.services.loaders.pdf import PdfLoader, load_pdf_bytes
from notebooklm_local.services.loaders.pdf_text import (
    better_spaced,
    clean_page_text,
    is_junk_title,
    looks_glued,
)
from tests.helpers.pdf_defects import (
    DEJAVU,
    DEJAVU_SERIF,
    glued_words_pdf,
    glyph_name_pdf,
    ligature_pdf,
    scanned_pdf,
    titled_pdf,
)

needs_dejavu = pytest.mark.skipif(not DEJAVU.exists() or not DEJAVU_SERIF.exists(),
                                  reason="fonts-dejavu-core is not installed")
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None,
                                     reason="tesseract-ocr is not installed (scripts/system-deps.sh)")


def load(path: Path, **kw):
    return load_pdf_bytes(path.read_bytes(), path.name, **kw)


def assert_spans(doc) -> None:
    for b in doc.blocks:
        assert doc.text[b.start : b.end] == b.text
    for page, (start, end) in doc.metadata["page_spans"].items():
        assert all(b.start >= start and b.end <= end for b in doc.blocks if str(b.page) == page)


LINES = ["This document can be used according to the terms",
         "of the licence given in the appendix of this manual"]


@needs_dejavu
def test_glued_words_are_respaced_from_glyph_positions(tmp_path: Path) -> None:
    f = glued_words_pdf(tmp_path / "glued.pdf", LINES)
    assert "Thisdocumentcanbeused" in PdfReader(f).pages[0].extract_text()  # the defect is reproduced
    doc = load(f)
    assert doc.text == " ".join(LINES)
    assert doc.metadata["respaced_pages"] == [1]
    assert_spans(doc)


def test_normal_text_is_not_respaced(tmp_path: Path) -> None:
    from tests.helpers.docs import make_pdf

    doc = load(make_pdf(tmp_path / "plain.pdf", ["An ordinary page of text. " * 30, "Another page."]))
    assert "respaced_pages" not in doc.metadata


@needs_dejavu
def test_ligatures_are_expanded_and_spans_stay_exact(tmp_path: Path) -> None:
    f = ligature_pdf(tmp_path / "lig.pdf", ["The \ufb01rst \ufb02ow of the o\ufb03ce was e\ufb00ective.",
                                            "A ba\ufb04ing \ufb06ory, \ufb05ill \u00bd and x\u00b2 kept."])
    assert "\ufb01" in PdfReader(f).pages[0].extract_text()
    doc = load(f)
    assert "The first flow of the office was effective." in doc.text
    assert "A baffling story, still \u00bd and x\u00b2 kept." in doc.text  # only U+FB00-FB06 are folded
    assert not any(0xFB00 <= ord(c) <= 0xFB06 for c in doc.text)
    assert_spans(doc)


def test_glyph_names_become_characters(tmp_path: Path) -> None:
    f = glyph_name_pdf(tmp_path / "names.pdf", "Published in 2019 with DOI 10.1234/5678 by the oXce.")
    assert "/zero.alt" in PdfReader(f).pages[0].extract_text()
    doc = load(f)
    assert doc.text == "Published in 2019 with DOI 10.1234/5678 by the office."


def test_clean_page_text_units() -> None:
    assert clean_page_text("/T_he ﬁle /one.oldstyle/nine.alt/eight.sc/four.osf") == "The file 1984"
    assert clean_page_text("/f_f_i.alt") == "ffi"
    assert clean_page_text("see /usr/share/doc and /Type /Font, /a.out") == "see /usr/share/doc and /Type /Font, /a.out"
    assert clean_page_text("/T_h/e /c_t/one.oldstyle") == "Th/e ct1"
    assert clean_page_text("hy\x02\r\nphen") == "hy-\nphen"
    # TeX OT1 ligature codes pypdf returns without a ToUnicode map (pandora.pdf: "Identi\x0ccation")
    assert clean_page_text("Identi\x0ccation, \x0bect, \x0dow, o\x0ece, ba\x0fe") == "Identification, ffect, flow, office, baffle"
    assert clean_page_text("end.\x0c\x0cNext page\x0c") == "end.\x0c\x0cNext page\x0c"  # form feeds stay


def test_glue_heuristics() -> None:
    glued = "Thisdocumentcanbeusedaccordingtothetermsofthelicencegivenintheappendix"
    spaced = "This document can be used according to the terms of the licence given in the appendix"
    assert looks_glued(glued) and not looks_glued(spaced)
    assert better_spaced(glued, spaced)
    assert not better_spaced(spaced, spaced)
    assert not better_spaced(glued, "short text only")  # not the same text: keep pypdf's


@pytest.mark.parametrize("meta", ["apssamp.dvi", "No Title Given", "untitled", "", "Microsoft Word - draft3.docx",
                                  "J. Appl. Things, Vol. 3 (2001) 12-20", "paper", "ms_2019_04"])
def test_junk_metadata_title_gives_way_to_the_page_title(tmp_path: Path, meta: str) -> None:
    f = titled_pdf(tmp_path / "paper.pdf", ["Glacier Dynamics in the", "Western Alps"],
                   ["Body text of the paper, set in the body font. " * 12] * 3, meta_title=meta)
    doc = load(f)
    assert doc.title == "Glacier Dynamics in the Western Alps"
    assert doc.metadata["title_source"] == "page 1"
    if meta:
        assert doc.metadata["metadata_title"] == meta


def test_good_metadata_title_is_kept_and_uniform_pages_fall_back_to_the_file_name(tmp_path: Path) -> None:
    f = titled_pdf(tmp_path / "paper.pdf", ["Glacier Dynamics"], ["Body. " * 50], meta_title="Ice Flow Measured")
    assert load(f).title == "Ice Flow Measured"
    # no font stands out on page 1: the file name
    f = titled_pdf(tmp_path / "notes-2024.pdf", ["Same size heading"], ["Body text. " * 50], title_size=11)
    doc = load(f)
    assert doc.title == "notes-2024" and doc.metadata["title_source"] == "file name"


def test_is_junk_title() -> None:
    for junk in ("apssamp.dvi", "No Title Given", "Untitled-1", "Microsoft Word - Document1", "main.tex",
                 "C:\\work\\paper.pdf", "Journal of Physics: Conference Series, Vol. 12", "ISSN 1234-5678", "12", "x"):
        assert is_junk_title(junk), junk
    for good in ("Glacier Dynamics in the Western Alps", "The pdftexcmds package", "Babel", "R: A Language"):
        assert not is_junk_title(good), good
    assert is_junk_title("my_paper", "my_paper.pdf") and is_junk_title("My Paper", "my-paper.pdf")


def test_blank_pages_raise_no_warning(tmp_path: Path) -> None:
    doc = load(scanned_pdf(tmp_path / "twosided.pdf", ["Chapter one text.", None, "Chapter two text.", None]))
    assert doc.flags == [] and [b.page for b in doc.blocks] == [1, 3]
    empty = load(scanned_pdf(tmp_path / "empty.pdf", [None, None]))
    assert empty.flags == ["no extractable text"]


@needs_dejavu
def test_scanned_pages_without_ocr_say_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_ocr.shutil, "which", lambda _name: None)
    f = scanned_pdf(tmp_path / "scan.pdf", [["A scanned line of text."], "Typed page.", None])
    doc = load(f)
    assert doc.text == "Typed page."
    assert doc.flags == ["1 page of 3 scanned without a text layer (1); install Tesseract OCR to read them "
                         "(Debian/Ubuntu: sudo apt-get install tesseract-ocr)"]
    off = PdfLoader(ocr=False).load(SourceRef(path=f), CancelToken())
    assert off.flags[0].endswith("OCR is turned off")


@needs_dejavu
@needs_tesseract
def test_scanned_pages_are_read_with_ocr(tmp_path: Path) -> None:
    truth = ["The river carries sediment from glaciers", "into the valley where farmers plant barley."]
    f = scanned_pdf(tmp_path / "scan.pdf", [truth, "A typed second page.", None])
    doc = load(f)
    assert doc.metadata["ocr_pages"] == [1] and doc.metadata["ocr_engine"].startswith("Tesseract")
    assert doc.flags == ["1 page read by OCR (Tesseract): recognized text may contain errors"]
    words = doc.text.split()
    assert " ".join(words[: len(" ".join(truth).split())]) == " ".join(truth)
    assert [b.page for b in doc.blocks][-1] == 2
    assert_spans(doc)


@needs_dejavu
@needs_tesseract
def test_ocr_can_be_turned_off_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTEBOOKLM_LOCAL_OCR", "0")
    doc = load(scanned_pdf(tmp_path / "scan.pdf", [["Some scanned words here."]]))
    assert doc.blocks == [] and "NOTEBOOKLM_LOCAL_OCR=0" in doc.flags[0]


def test_section_number_is_not_part_of_the_title(tmp_path: Path) -> None:
    f = titled_pdf(tmp_path / "english.pdf", ["1 The English language"], ["Body text of the section. " * 30])
    assert load(f).title == "The English language"


@needs_dejavu
def test_a_page_with_only_a_small_figure_is_not_a_scan(tmp_path: Path) -> None:
    import io

    from fpdf import FPDF

    from tests.helpers.pdf_defects import page_image_png

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "A text page.")
    pdf.add_page()
    pdf.image(io.BytesIO(page_image_png(["logo"])), x=20, y=20, w=40, h=56)  # ~5 % of the page
    f = tmp_path / "figure.pdf"
    pdf.output(str(f))
    doc = load(f)
    assert doc.flags == [] and "ocr_pages" not in doc.metadata


@needs_dejavu
def test_glued_pages_of_an_encrypted_pdf_are_respaced_with_its_password(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    plain = glued_words_pdf(tmp_path / "glued.pdf", LINES[:1])
    writer = PdfWriter(clone_from=str(plain))
    writer.encrypt(user_password="pw", owner_password="owner", algorithm="AES-256")
    f = tmp_path / "locked.pdf"
    writer.write(str(f))
    doc = load(f, password="pw")
    assert doc.text == LINES[0] and doc.metadata["respaced_pages"] == [1]
