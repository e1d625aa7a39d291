"""EPUB source loader (EPUB 2 and 3, DRM-free), with the standard library only (zipfile + html.parser).

The package document (OPF) gives the metadata (title, creators, language, date) and the spine, the
chapters in reading order. Each chapter's XHTML becomes blocks: ``h1``..``h6`` are headings (a chapter
without one gets a heading from the table of contents, else "Chapter N"), paragraphs, list items,
table rows and other block elements are paragraphs. Scripts, styles and navigation are skipped.

Bad input gives a clear SourceLoadError: not a ZIP file, a ZIP that is not an EPUB, a DRM-protected
book, a damaged package, no text at all, or more text than a source may have.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree as ET

from notebooklm_local.extensions.api import (
    Block,
    CancelToken,
    FileLoader,
    LoadedDocument,
    PluginApi,
    SourceLoadError,
)

MAX_FILE_BYTES = 200_000_000
MAX_TEXT_CHARS = 10_000_000
MAX_PART_BYTES = 50_000_000  # one chapter or package file, uncompressed
MAX_TOTAL_BYTES = 300_000_000  # everything read, uncompressed (zip bombs)
_BLOCK_TAGS = {"p", "div", "li", "blockquote", "pre", "tr", "dt", "dd", "figcaption", "caption", "section",
               "article", "aside", "header", "footer", "td", "th", "br", "hr", "table", "ul", "ol", "dl"}
_SKIP_TAGS = {"script", "style", "head", "title", "nav", "svg", "math", "template", "noscript"}
_HEADING = re.compile(r"h([1-6])")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


class _ChapterParser(HTMLParser):
    """XHTML -> [(level or None, text)]: headings with their level, other block texts with None."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[tuple[int | None, str]] = []
        self.buf: list[str] = []
        self.level: int | None = None
        self.skip = 0

    def _flush(self) -> None:
        text = " ".join("".join(self.buf).split())
        if text:
            self.out.append((self.level, text))
        self.buf = []
        self.level = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower().rsplit(":", 1)[-1]
        if tag in _SKIP_TAGS:
            self.skip += 1
            return
        m = _HEADING.fullmatch(tag)
        if m:
            self._flush()
            self.level = int(m.group(1))
        elif tag in _BLOCK_TAGS:
            if tag in ("td", "th"):
                self.buf.append(" | " if self.buf and "".join(self.buf).strip() else "")
            else:
                self._flush()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.lower() in ("br", "hr"):
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower().rsplit(":", 1)[-1]
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
            return
        if _HEADING.fullmatch(tag) or (tag in _BLOCK_TAGS and tag not in ("td", "th")):
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.buf.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


class _Book:
    def __init__(self, data: bytes, name: str) -> None:
        self.name = name
        self.read_total = 0
        if not data.startswith(b"PK"):
            raise SourceLoadError(f"{name} is not an EPUB e-book: an .epub file is a ZIP archive, and this is not one.")
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            self.names = set(self.zip.namelist())
        except (zipfile.BadZipFile, ValueError, OSError) as e:
            raise SourceLoadError(f"{name} is damaged: it cannot be opened as a ZIP archive ({e}).") from None

    def read(self, path: str) -> bytes:
        try:
            info = self.zip.getinfo(path)
        except KeyError:
            raise SourceLoadError(f"{self.name} is damaged: {path} is missing from the book.") from None
        if info.file_size > MAX_PART_BYTES:
            raise SourceLoadError(f"{self.name}: {path} is {info.file_size / 1e6:.0f} MB uncompressed; the limit "
                                  f"is {MAX_PART_BYTES / 1e6:.0f} MB.")
        self.read_total += info.file_size
        if self.read_total > MAX_TOTAL_BYTES:
            raise SourceLoadError(f"{self.name} is too large (more than {MAX_TOTAL_BYTES / 1e6:.0f} MB uncompressed).")
        try:
            return self.zip.read(info)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, RuntimeError) as e:
            raise SourceLoadError(f"{self.name} is damaged: {path} cannot be read ({e}).") from None

    def xml(self, path: str) -> ET.Element:
        try:
            # expat (>= 2.4.1, in CPython 3.11) refuses entity-expansion bombs; ElementTree resolves no external entities
            return ET.fromstring(self.read(path))  # noqa: S314
        except ET.ParseError as e:
            raise SourceLoadError(f"{self.name} is damaged: {path} is not valid XML ({e}).") from None


def _rootfile(book: _Book) -> str:
    if "META-INF/container.xml" not in book.names:
        if "word/document.xml" in book.names:
            raise SourceLoadError(f"{book.name} is a Word document, not an EPUB e-book.")
        raise SourceLoadError(f"{book.name} is a ZIP archive, not an EPUB e-book (it has no META-INF/container.xml).")
    if "META-INF/encryption.xml" in book.names:
        enc = book.read("META-INF/encryption.xml")
        # font obfuscation (IDPF/Adobe) is harmless; anything else encrypted is DRM
        if b"EncryptedData" in enc and not re.search(rb"(?:idpf\.org/2008/embedding|ns\.adobe\.com/pdf/enc#RC)", enc):
            raise SourceLoadError(f"{book.name} is protected by DRM; only DRM-free e-books can be added.")
    for el in book.xml("META-INF/container.xml").iter():
        if _local(el.tag) == "rootfile" and el.get("full-path"):
            return str(el.get("full-path"))
    raise SourceLoadError(f"{book.name} is damaged: its container.xml names no package document.")


def _toc_titles(book: _Book, base: str, manifest: dict[str, tuple[str, str, str]], spine_toc: str | None) -> dict[str, str]:
    """chapter path -> title, from the EPUB 3 nav document or the EPUB 2 NCX (best effort)."""
    titles: dict[str, str] = {}
    nav = next((href for href, _mt, props in manifest.values() if "nav" in props.split()), None)
    try:
        if nav:
            parser = _NavParser()
            parser.feed(book.read(nav).decode("utf-8", "replace"))
            for href, label in parser.links:
                titles.setdefault(_resolve(posixpath.dirname(nav), href.split("#")[0]), label)
        elif spine_toc and spine_toc in manifest:
            ncx_path = manifest[spine_toc][0]
            root = book.xml(ncx_path)
            for point in root.iter():
                if _local(point.tag) != "navpoint":
                    continue
                label = next((" ".join("".join(t.itertext()).split()) for t in point.iter() if _local(t.tag) == "text"), "")
                src = next((c.get("src") for c in point if _local(c.tag) == "content"), None)
                if label and src:
                    titles.setdefault(_resolve(posixpath.dirname(ncx_path), src.split("#")[0]), label)
    except SourceLoadError:
        return titles  # a broken table of contents is not worth refusing the book
    return titles


class _NavParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.lower() == "a":
            self._href = dict(attrs).get("href")
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag.lower() == "a" and self._href:
            label = " ".join("".join(self._text).split())
            if label:
                self.links.append((self._href, label))
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)


def _resolve(base: str, href: str) -> str:
    return posixpath.normpath(posixpath.join(base, unquote(href))).lstrip("/")


def epub_to_document(data: bytes, name: str, cancel: CancelToken | None = None) -> LoadedDocument:
    """Turn EPUB bytes into a document. Raises SourceLoadError (with ``name`` in the message)."""
    cancel = cancel or CancelToken()
    book = _Book(data, name)
    opf_path = _rootfile(book)
    opf = book.xml(opf_path)
    base = posixpath.dirname(opf_path)
    meta: dict[str, Any] = {}
    authors: list[str] = []
    title = ""
    manifest: dict[str, tuple[str, str, str]] = {}
    spine: list[str] = []
    spine_toc: str | None = None
    for el in opf.iter():
        tag = _local(el.tag)
        text = " ".join("".join(el.itertext()).split())
        if tag == "title" and not title:
            title = text
        elif tag == "creator" and text:
            authors.append(text)
        elif tag in ("language", "date", "publisher", "description") and text and tag not in meta:
            meta[tag] = text[:1000]
        elif tag == "item" and el.get("id") and el.get("href"):
            manifest[str(el.get("id"))] = (_resolve(base, str(el.get("href"))), el.get("media-type") or "",
                                            el.get("properties") or "")
        elif tag == "spine":
            spine_toc = el.get("toc")
        elif tag == "itemref" and el.get("idref") and el.get("linear", "yes") != "no":
            spine.append(str(el.get("idref")))
    if authors:
        meta["author"] = ", ".join(dict.fromkeys(authors))
    if not spine:
        raise SourceLoadError(f"{name} is damaged: its package document lists no chapters (an empty spine).")
    toc = _toc_titles(book, base, manifest, spine_toc)
    blocks: list[Block] = []
    size = 0
    chapters = 0
    for idref in spine:
        cancel.raise_if_set()
        if idref not in manifest:
            continue
        path, media_type, props = manifest[idref]
        if "nav" in props.split() or media_type not in ("application/xhtml+xml", "text/html", ""):
            continue
        parser = _ChapterParser()
        raw = book.read(path)
        parser.feed(raw.decode("utf-8", "replace"))
        parser.close()
        items = parser.out
        if not any(text for _, text in items):
            continue
        chapters += 1
        path_stack: list[tuple[int, str]] = []
        if not any(level is not None for level, _ in items):
            items = [(1, toc.get(path) or f"Chapter {chapters}"), *items]
        for level, text in items:
            if level is not None:
                while path_stack and path_stack[-1][0] >= level:
                    path_stack.pop()
                path_stack.append((level, text))
                block = Block(text, "heading", heading_path=tuple(t for _, t in path_stack))
            else:
                block = Block(text, "paragraph", heading_path=tuple(t for _, t in path_stack))
            size += len(text) + 2
            if size > MAX_TEXT_CHARS:
                raise SourceLoadError(f"{name} has more than {MAX_TEXT_CHARS / 1e6:.0f} million characters of text; "
                                      "the limit for one source is that.")
            blocks.append(block)
    if not blocks:
        raise SourceLoadError(f"{name} contains no text (its chapters are empty, or only pictures).")
    meta["chapters"] = chapters
    return LoadedDocument.from_blocks("epub", title or Path(name).stem, blocks, metadata=meta, original=data,
                                      original_suffix=".epub")


class EpubLoader(FileLoader):
    """Loads .epub e-books."""

    name = "epub"
    extensions = (".epub",)
    max_bytes = MAX_FILE_BYTES

    def parse(self, data: bytes, filename: str, cancel: CancelToken) -> LoadedDocument:
        return epub_to_document(data, filename, cancel)


def register(api: PluginApi) -> None:
    api.register_source_loader(EpubLoader())
