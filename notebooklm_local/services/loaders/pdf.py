"""PDF source loader (pypdf, with PDFium for re-extraction and Tesseract OCR): text per page, metadata, clear errors."""

from __future__ import annotations

import io
import logging
import math
import re
from pathlib import Path
from typing import Any

from notebooklm_local.core.documents import Block, LoadedDocument, SourceRef
from notebooklm_local.core.errors import SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.loaders.files import read_file_bytes
from notebooklm_local.services.loaders.pdf_ocr import OCR_INSTALL_HINT, find_ocr_engine, ocr_enabled, render_page_png
from notebooklm_local.services.loaders.pdf_text import (
    TextFragment,
    better_spaced,
    clean_page_text,
    is_junk_title,
    looks_glued,
    title_from_fragments,
)

__all__ = ["PdfLoader", "load_pdf_bytes", "MAX_PDF_BYTES"]

log = logging.getLogger(__name__)

MAX_PDF_BYTES = 1_000_000_000
_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")
_PARA_SPLIT = re.compile(r"\n\s*\n")


_SENTENCE_END = ('.', '!', '?', ':', ';', '"', '\u201d', ')')


def _page_paragraphs(text: str) -> list[str]:
    """Rebuild paragraphs from a page's extracted lines.

    PDF text layers rarely keep blank lines between paragraphs. A line ends a paragraph when it
    ends a sentence and is clearly shorter than the page's full lines (the ragged last line of a
    paragraph), or when it is a short line without final punctuation followed by a capitalised line
    (a heading). Lines inside a paragraph are joined with spaces; hyphenated breaks are undone.
    """
    text = _HYPHEN_BREAK.sub(r"\1\2", text.replace("\r\n", "\n"))
    paragraphs: list[str] = []
    for raw in _PARA_SPLIT.split(text):
        lines = [ln.strip() for ln in raw.split("\n") if ln.strip()]
        if not lines:
            continue
        full = max(len(ln) for ln in lines)
        current: list[str] = []
        for i, line in enumerate(lines):
            current.append(line)
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            short = len(line) < 0.85 * full
            ends = line.endswith(_SENTENCE_END)
            heading = len(line) < 0.6 * full and not ends and nxt[:1].isupper()
            if nxt and short and (ends or heading):
                paragraphs.append(" ".join(current))
                current = []
        if current:
            paragraphs.append(" ".join(current))
    return paragraphs


def _meta_str(value: object) -> str:
    return str(value).strip() if value else ""


def _open_pdfium(data: bytes, password: str | None) -> Any:
    """A ``pypdfium2.PdfDocument`` for re-extraction and rendering, or None when unavailable."""
    try:
        import pypdfium2
    except ImportError:  # pragma: no cover - a declared dependency; the loader degrades without it
        return None
    try:
        return pypdfium2.PdfDocument(data, password=password or None)
    except Exception as e:  # noqa: BLE001 - PdfiumError and friends: the pypdf text stays
        log.info("pdfium cannot open the PDF: %s", e)
        return None


def _pdfium_text(doc: Any, index: int) -> str:
    page = doc[index]
    try:
        textpage = page.get_textpage()
        try:
            return textpage.get_text_bounded() or ""
        finally:
            textpage.close()
    finally:
        page.close()


def _has_image(page: Any) -> bool:
    """Whether a page draws an image (a scan) rather than nothing at all (an intentionally blank page)."""
    try:
        return len(page.images) > 0
    except Exception:  # noqa: BLE001 - broken resources: treat as having an image so the user is told
        return True


SCAN_MIN_COVERAGE = 0.4  # an image covering less of a text-less page is a figure or a logo, not a scan


def _image_coverage(doc: Any, index: int) -> float | None:
    """The share of the page the largest image covers (PDFium), or None when it cannot be measured."""
    try:
        import pypdfium2.raw as pdfium_c

        page = doc[index]
        try:
            width, height = page.get_size()
            best = 0.0
            for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4):
                left, bottom, right, top = obj.get_bounds()
                w = max(0.0, min(right, width) - max(left, 0.0))
                h = max(0.0, min(top, height) - max(bottom, 0.0))
                best = max(best, w * h / (width * height) if width and height else 0.0)
            return best
        finally:
            page.close()
    except Exception:  # noqa: BLE001 - measuring is optional
        return None


def _first_page_title(page: Any) -> str:
    """The largest-font line(s) near the top of a pypdf page (empty when no font stands out)."""
    fragments: list[TextFragment] = []
    try:
        box = page.mediabox
        top, height = float(box.top), float(box.height)
    except Exception:  # noqa: BLE001
        return ""

    def visit(text: str, cm: Any, tm: Any, _font: Any, size: float) -> None:
        if not text.strip():
            return
        try:
            scale = math.sqrt(abs(tm[0] * tm[3] - tm[1] * tm[2])) * math.sqrt(abs(cm[0] * cm[3] - cm[1] * cm[2]))
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        except (TypeError, IndexError):
            return
        for k, line in enumerate(text.split("\n")):
            fragments.append(TextFragment(line, float(size) * scale, top - y + k * float(size) * scale * 1.2))

    try:
        page.extract_text(visitor_text=visit)
    except Exception:  # noqa: BLE001 - a title is optional
        return ""
    return title_from_fragments(fragments, height)


def _choose_title(meta_title: str, first_page: Any, name: str) -> tuple[str, str]:
    """(title, where it came from): metadata unless junk, else page 1's largest-font lines, else the file name."""
    if meta_title and not is_junk_title(meta_title, name):
        return meta_title, "metadata"
    if first_page is not None:
        title = _first_page_title(first_page)
        if title and not looks_glued(title, min_letters=12, mean_len=14):
            return title, "page 1"
    return Path(name).stem, "file name"


def load_pdf_bytes(
    data: bytes, name: str, *, password: str | None = None, cancel: CancelToken | None = None,
    ocr: bool = True,
) -> LoadedDocument:
    """Extract a PDF's text page by page.

    pypdf reads the structure, metadata and encryption and extracts each page's text; pages whose
    words lost their spaces are re-extracted with PDFium (pypdfium2) when its text has them; pages
    pypdf cannot read are tried with PDFium too. Ligatures and leaked glyph names are normalized
    before the text becomes blocks, so block spans are exact against the stored text. Scanned pages
    (an image, no text layer) are read with OCR when Tesseract is installed (``ocr=False`` or
    ``NOTEBOOKLM_LOCAL_OCR=0`` turns it off); intentionally blank pages raise no warning.

    Raises:
        SourceLoadError: not a PDF, damaged, encrypted without (the right) password.
    """
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PdfStreamError

    cancel = cancel or CancelToken()
    if not data:
        raise SourceLoadError(f"{name} is empty (0 bytes).")
    if b"%PDF-" not in data[:1024]:
        raise SourceLoadError(f"{name} is not a PDF (no PDF header); was it renamed from another format?")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt(password or "")
            except (DependencyError, NotImplementedError) as e:
                raise SourceLoadError(f"{name} uses an encryption this installation cannot open ({e}).") from e
            if not ok:
                if password:
                    raise SourceLoadError(f"Wrong password for {name}.")
                raise SourceLoadError(f"{name} is password-protected. Add it again and give its password.")
        pages = reader.pages
        n_pages = len(pages)
    except SourceLoadError:
        raise
    except (PdfReadError, PdfStreamError, FileNotDecryptedError, ValueError, KeyError, TypeError,
            AttributeError, IndexError, RecursionError, OSError, AssertionError) as e:
        raise SourceLoadError(f"{name} is damaged or truncated and cannot be read ({type(e).__name__}: {e}).") from e
    if n_pages == 0:
        raise SourceLoadError(f"{name} has no pages (damaged or truncated?).")

    pdfium_doc: Any = None
    pdfium_tried = False

    def pdfium() -> Any:
        nonlocal pdfium_doc, pdfium_tried
        if not pdfium_tried:
            pdfium_tried = True
            pdfium_doc = _open_pdfium(data, password)
        return pdfium_doc

    page_blocks: dict[int, list[Block]] = {}
    scanned_pages: list[int] = []
    failed_pages: list[int] = []
    respaced_pages: list[int] = []
    try:
        for i in range(n_pages):
            cancel.raise_if_set()
            try:
                text = clean_page_text(pages[i].extract_text() or "")
            except Exception as e:  # noqa: BLE001 - pypdf raises many types on broken content streams
                log.info("%s: page %d unreadable by pypdf: %s", name, i + 1, e)
                doc = pdfium()
                try:
                    alt_text = clean_page_text(_pdfium_text(doc, i)) if doc is not None and i < len(doc) else None
                except Exception:  # noqa: BLE001
                    alt_text = None
                if alt_text is None:
                    failed_pages.append(i + 1)
                    continue
                text = alt_text
            if looks_glued(text) and pdfium() is not None and i < len(pdfium_doc):
                try:
                    alt = clean_page_text(_pdfium_text(pdfium_doc, i))
                except Exception as e:  # noqa: BLE001
                    log.info("%s: page %d: pdfium re-extraction failed: %s", name, i + 1, e)
                    alt = ""
                if alt and better_spaced(text, alt):
                    text = alt
                    respaced_pages.append(i + 1)
            paras = _page_paragraphs(text)
            if paras:
                page_blocks[i + 1] = [Block(p, "paragraph", page=i + 1) for p in paras]
            elif _has_image(pages[i]):
                coverage = _image_coverage(pdfium(), i) if pdfium() is not None else None
                if coverage is None or coverage >= SCAN_MIN_COVERAGE:
                    scanned_pages.append(i + 1)

        ocr_pages: list[int] = []
        ocr_empty: list[int] = []
        ocr_failed: list[int] = []
        engine = find_ocr_engine() if (ocr and scanned_pages) else None
        if engine is not None and pdfium() is not None:
            for n, page_no in enumerate(scanned_pages):
                cancel.raise_if_set()
                cancel.report(n, len(scanned_pages),
                              f"{name}: OCR page {n + 1}/{len(scanned_pages)} (page {page_no} of {n_pages})")
                try:
                    text = clean_page_text(engine.read_png(render_page_png(pdfium_doc, page_no - 1)))
                except Exception as e:  # noqa: BLE001 - OCR is best effort per page
                    log.info("%s: OCR of page %d failed: %s", name, page_no, e)
                    ocr_failed.append(page_no)
                    continue
                paras = _page_paragraphs(text)
                if paras:
                    page_blocks[page_no] = [Block(p, "paragraph", page=page_no) for p in paras]
                    ocr_pages.append(page_no)
                else:
                    ocr_empty.append(page_no)
        else:
            engine = None
    finally:
        if pdfium_doc is not None:
            pdfium_doc.close()
    blocks = [b for p in sorted(page_blocks) for b in page_blocks[p]]

    meta: dict[str, Any] = {}
    try:
        info = reader.metadata
    except Exception:  # noqa: BLE001
        info = None
    meta_title = ""
    if info is not None:
        meta = {"author": _meta_str(info.author), "subject": _meta_str(info.subject)}
        try:
            meta_title = _meta_str(info.title)
        except Exception:  # noqa: BLE001
            meta_title = ""
    metadata = {k: v for k, v in meta.items() if v}
    metadata["pages"] = n_pages
    title, title_source = _choose_title(meta_title, pages[0] if n_pages else None, name)
    metadata["title_source"] = title_source
    if meta_title and title_source != "metadata":
        metadata["metadata_title"] = meta_title
    if respaced_pages:
        metadata["respaced_pages"] = respaced_pages
    if ocr_pages:
        metadata["ocr_pages"] = ocr_pages
        metadata["ocr_engine"] = f"{engine.name} ({engine.languages})" if engine else ""

    flags: list[str] = []
    unread_scans = [p for p in scanned_pages if p not in ocr_pages]
    if ocr_pages:
        flags.append(f"{_pages(len(ocr_pages))} read by OCR ({engine.name if engine else 'OCR'}): "
                     "recognized text may contain errors")
    if unread_scans:
        if engine is not None:
            why = "OCR found no text on them" if not ocr_failed else "OCR failed on them"
        elif not ocr:
            why = "OCR is turned off"
        elif not ocr_enabled():
            why = "OCR is turned off (NOTEBOOKLM_LOCAL_OCR=0)"
        else:
            why = OCR_INSTALL_HINT
        listed = ", ".join(map(str, unread_scans[:10])) + (", ..." if len(unread_scans) > 10 else "")
        flags.append(f"{_pages(len(unread_scans))} of {n_pages} scanned without a text layer ({listed}); {why}")
    if not blocks and not unread_scans:
        flags.append("no extractable text")
    if failed_pages:
        flags.append(f"{len(failed_pages)} pages could not be read: {', '.join(map(str, failed_pages[:10]))}")
    doc = LoadedDocument.from_blocks(
        "pdf", title, blocks, metadata=metadata, flags=flags, original=data, original_suffix=".pdf"
    )
    spans: dict[int, list[int]] = {}
    for b in doc.blocks:
        assert b.page is not None
        span = spans.setdefault(b.page, [b.start, b.end])
        span[1] = b.end
    doc.metadata["page_spans"] = {str(p): s for p, s in spans.items()}
    return doc


def _pages(n: int) -> str:
    return "1 page" if n == 1 else f"{n} pages"


class PdfLoader:
    """Loads ``.pdf`` files (``ocr=False``: scanned pages are reported, not read with OCR)."""

    name = "pdf"
    extensions = (".pdf",)

    def __init__(self, *, ocr: bool = True) -> None:
        self.ocr = ocr

    def can_load(self, ref: SourceRef) -> bool:
        return ref.path is not None and ref.path.suffix.lower() in self.extensions

    def load(self, ref: SourceRef, cancel: CancelToken) -> LoadedDocument:
        assert ref.path is not None
        data = read_file_bytes(ref.path, MAX_PDF_BYTES)
        ocr = self.ocr and getattr(ref, "ocr", True)
        return load_pdf_bytes(data, ref.path.name, password=ref.password, cancel=cancel, ocr=ocr)

