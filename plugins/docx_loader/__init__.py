"""DOCX source loader (python-docx): headings, paragraphs, lists and tables in document order.

* Headings ("Heading 1".."Heading 9" styles, or an outline level) become heading blocks; every block
  carries the path of the headings above it, so citations can name the section.
* Tables become one block, one row per line, cells separated by " | " (merged cells once).
* Consecutive list paragraphs stay together, one item per line.
* Core properties: title (else the first "Title" paragraph, else the file name), author, dates.

Bad input gives a clear SourceLoadError: not a ZIP file, a ZIP that is not a Word document (an Excel
or PowerPoint file, an EPUB), an encrypted (password-protected) or old binary .doc file, a damaged
document, a document without text, or one with more text than a source may have.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

from notebooklm_local.extensions.api import (
    Block,
    CancelToken,
    FileLoader,
    LoadedDocument,
    PluginApi,
    SourceLoadError,
)

MAX_FILE_BYTES = 200_000_000
MAX_TEXT_CHARS = 10_000_000  # about 5,000 pages: split anything larger into several documents
MAX_XML_BYTES = 40_000_000  # word/document.xml, uncompressed: refused before parsing (zip bombs, huge texts)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted OOXML and legacy .doc share this container
_HEADING_STYLE = re.compile(r"^(?:heading|überschrift|titre|título|titolo|kop)\s*(\d)$", re.IGNORECASE)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _check_container(data: bytes, name: str) -> None:
    """Fail early, and clearly, on what is not a DOCX file."""
    if data.startswith(_OLE_MAGIC):
        raise SourceLoadError(
            f"{name} is encrypted (password-protected) or an old Word 97-2003 document. Open it in Word or "
            "LibreOffice and save it as .docx without a password, then add it again.")
    if not data.startswith(b"PK"):
        raise SourceLoadError(f"{name} is not a Word document: a .docx file is a ZIP archive, and this is not one.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            doc = next((i for i in z.infolist() if i.filename == "word/document.xml"), None)
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise SourceLoadError(f"{name} is damaged: it cannot be opened as a ZIP archive ({e}).") from None
    if doc is None:
        if "xl/workbook.xml" in names:
            kind = "an Excel workbook"
        elif "ppt/presentation.xml" in names:
            kind = "a PowerPoint presentation"
        elif "mimetype" in names and any(n.endswith(".opf") for n in names):
            kind = "an EPUB e-book"
        elif "content.xml" in names:
            kind = "an OpenDocument file"
        else:
            kind = "a ZIP archive"
        raise SourceLoadError(f"{name} is {kind}, not a Word document (it has no word/document.xml).")
    if doc.file_size > MAX_XML_BYTES:
        raise SourceLoadError(
            f"{name} is too large: its text is {doc.file_size / 1e6:.0f} MB uncompressed; the limit is "
            f"{MAX_XML_BYTES / 1e6:.0f} MB. Split it into smaller documents.")


def _heading_level(paragraph: Any) -> int | None:
    """1..9 for a heading, 0 for a "Title" paragraph, None otherwise."""
    style = paragraph.style
    seen = 0
    while style is not None and seen < 10:  # the style, then what it is based on
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 0
        m = _HEADING_STYLE.match(name)
        if m:
            return max(1, int(m.group(1)))
        level = _outline_level(style.element)
        if level is not None:
            return level
        style = style.base_style
        seen += 1
    return _outline_level(paragraph._p)  # noqa: SLF001 - python-docx has no public API for this


def _outline_level(element: Any) -> int | None:
    ppr = element.find(f"{_W}pPr")
    lvl = ppr.find(f"{_W}outlineLvl") if ppr is not None else None
    if lvl is None:
        return None
    try:
        value = int(lvl.get(f"{_W}val"))
    except (TypeError, ValueError):
        return None
    return value + 1 if 0 <= value < 9 else None  # 9 is "body text"


def _is_list_item(paragraph: Any) -> bool:
    ppr = paragraph._p.find(f"{_W}pPr")  # noqa: SLF001 - python-docx has no public API for this
    if ppr is not None and ppr.find(f"{_W}numPr") is not None:
        return True
    return (paragraph.style.name or "").lower().startswith("list") if paragraph.style is not None else False


def _table_text(table: Any) -> str:
    rows = []
    for row in table.rows:
        cells, last = [], None
        for cell in row.cells:
            if cell._tc is last:  # noqa: SLF001 - python-docx has no public API for this
                continue  # a merged cell repeats: show it once
            last = cell._tc  # noqa: SLF001 - python-docx has no public API for this
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


class _Stack:
    def __init__(self) -> None:
        self.items: list[tuple[int, str]] = []

    def push(self, level: int, text: str) -> tuple[str, ...]:
        while self.items and self.items[-1][0] >= level:
            self.items.pop()
        self.items.append((level, text))
        return self.path

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(t for _, t in self.items)


def docx_to_document(data: bytes, name: str, cancel: CancelToken | None = None) -> LoadedDocument:
    """Turn DOCX bytes into a document. Raises SourceLoadError (with ``name`` in the message)."""
    cancel = cancel or CancelToken()
    _check_container(data, name)
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph
    except ImportError as e:  # pragma: no cover - python-docx is a dependency of the app
        raise SourceLoadError(f"Reading Word documents needs the python-docx package ({e}).") from e
    try:
        document = docx.Document(io.BytesIO(data))
    except SourceLoadError:
        raise
    except Exception as e:  # noqa: BLE001 - python-docx/lxml raise many kinds for a damaged file
        raise SourceLoadError(f"{name} is damaged or not a valid Word document ({type(e).__name__}: {e}).") from None

    blocks: list[Block] = []
    headings = _Stack()
    title_para = ""
    first_heading = ""  # the first Heading 1: the title when there is no Title paragraph or core title
    list_items: list[str] = []
    size = 0

    def add(block: Block) -> None:
        nonlocal size
        size += len(block.text) + 2
        if size > MAX_TEXT_CHARS:
            raise SourceLoadError(
                f"{name} has more than {MAX_TEXT_CHARS / 1e6:.0f} million characters of text; the limit for "
                "one source is that. Split it into smaller documents.")
        blocks.append(block)

    def flush_list() -> None:
        if list_items:
            add(Block("\n".join(list_items), "paragraph", heading_path=headings.path))
            list_items.clear()

    def walk(parent_element: Any, parent: Any) -> None:
        nonlocal title_para, first_heading
        for n, child in enumerate(parent_element.iterchildren()):
            if n % 200 == 0:
                cancel.raise_if_set()
            tag = child.tag
            if tag == f"{_W}p":
                p = Paragraph(child, parent)
                text = p.text.strip()
                if not text:
                    continue
                level = _heading_level(p)
                if level == 0:
                    flush_list()
                    title_para = title_para or " ".join(text.split())
                    add(Block(text, "heading", heading_path=headings.push(0, " ".join(text.split()))))
                elif level is not None:
                    flush_list()
                    if level == 1 and not first_heading:
                        first_heading = " ".join(text.split())[:300]
                    add(Block(text, "heading", heading_path=headings.push(level, " ".join(text.split()))))
                elif _is_list_item(p):
                    list_items.append("- " + " ".join(text.split()))
                else:
                    flush_list()
                    add(Block(text, "paragraph", heading_path=headings.path))
            elif tag == f"{_W}tbl":
                flush_list()
                text = _table_text(Table(child, parent))
                if text:
                    add(Block(text, "paragraph", heading_path=headings.path))
            elif tag == f"{_W}sdt":  # a content control: its content is ordinary body content
                content = child.find(f"{_W}sdtContent")
                if content is not None:
                    walk(content, parent)

    try:
        walk(document.element.body, document._body)  # noqa: SLF001 - python-docx has no public API for this
        flush_list()
        props = document.core_properties
        meta: dict[str, Any] = {}
        for key in ("author", "subject", "keywords", "language", "category"):
            value = getattr(props, key, None)
            if isinstance(value, str) and value.strip():
                meta[key] = " ".join(value.split())
        for key in ("created", "modified"):
            value = getattr(props, key, None)
            if value is not None:
                meta["date" if key == "created" else key] = value.isoformat()
        core_title = " ".join((props.title or "").split())
    except SourceLoadError:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged part shows up while reading
        raise SourceLoadError(f"{name} is damaged: {type(e).__name__}: {e}") from None
    if not blocks:
        raise SourceLoadError(f"{name} contains no text (an empty document, or only pictures).")
    title = core_title or title_para or first_heading or Path(name).stem
    return LoadedDocument.from_blocks("docx", title, blocks, metadata=meta, original=data, original_suffix=".docx")


class DocxLoader(FileLoader):
    """Loads Word .docx files."""

    name = "docx"
    extensions = (".docx",)
    max_bytes = MAX_FILE_BYTES

    def parse(self, data: bytes, filename: str, cancel: CancelToken) -> LoadedDocument:
        return docx_to_document(data, filename, cancel)


def register(api: PluginApi) -> None:
    api.register_source_loader(DocxLoader())
