"""PDF source loader (pypdf): text per page with page numbers, metadata, clear errors."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

from notebooklm_local.core.documents import Block, LoadedDocument, SourceRef
from notebooklm_local.core.errors import SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.loaders.files import read_file_bytes

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


def load_pdf_bytes(
    data: bytes, name: str, *, password: str | None = None, cancel: CancelToken | None = None
) -> LoadedDocument:
    """Extract a PDF's text page by page.

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

    blocks: list[Block] = []
    empty_pages: list[int] = []
    failed_pages: list[int] = []
    for i in range(n_pages):
        cancel.raise_if_set()
        try:
            text = pages[i].extract_text() or ""
        except Exception as e:  # noqa: BLE001 - pypdf raises many types on broken content streams
            log.info("%s: page %d unreadable: %s", name, i + 1, e)
            failed_pages.append(i + 1)
            continue
        paras = _page_paragraphs(text)
        if not paras:
            empty_pages.append(i + 1)
        blocks.extend(Block(p, "paragraph", page=i + 1) for p in paras)

    meta = {}
    try:
        info = reader.metadata
    except Exception:  # noqa: BLE001
        info = None
    if info is not None:
        meta = {"author": _meta_str(info.author), "subject": _meta_str(info.subject)}
        title = _meta_str(info.title)
    else:
        title = ""
    metadata = {k: v for k, v in meta.items() if v}
    metadata["pages"] = n_pages
    flags: list[str] = []
    if not blocks:
        flags.append("no extractable text (scanned?)")
    elif empty_pages:
        flags.append(f"{len(empty_pages)} of {n_pages} pages have no extractable text (scanned?)")
    if failed_pages:
        flags.append(f"{len(failed_pages)} pages could not be read: {', '.join(map(str, failed_pages[:10]))}")
    doc = LoadedDocument.from_blocks(
        "pdf", title or Path(name).stem, blocks, metadata=metadata, flags=flags, original=data, original_suffix=".pdf"
    )
    spans: dict[int, list[int]] = {}
    for b in doc.blocks:
        assert b.page is not None
        span = spans.setdefault(b.page, [b.start, b.end])
        span[1] = b.end
    doc.metadata["page_spans"] = {str(p): s for p, s in spans.items()}
    return doc


class PdfLoader:
    """Loads ``.pdf`` files."""

    name = "pdf"
    extensions = (".pdf",)

    def can_load(self, ref: SourceRef) -> bool:
        return ref.path is not None and ref.path.suffix.lower() in self.extensions

    def load(self, ref: SourceRef, cancel: CancelToken) -> LoadedDocument:
        assert ref.path is not None
        data = read_file_bytes(ref.path, MAX_PDF_BYTES)
        return load_pdf_bytes(data, ref.path.name, password=ref.password, cancel=cancel)

