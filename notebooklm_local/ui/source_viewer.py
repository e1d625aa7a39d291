"""A source opened at a cited passage, so the reader can check the citation.

* PDFs open as rendered pages (QtPdf, all pages in one scroll) at the cited page, with the quoted
  passage highlighted through the page's text layer. When the text layer does not contain the
  passage (scans, odd encodings) the page is still shown and the extracted text opens beside it
  with the span highlighted. A PDF that QtPdf cannot open (missing copy, password, damage) falls
  back to the extracted text with a message.
* Transcripts show their text with a timestamp before each paragraph, the cited span highlighted,
  and for YouTube a link that opens the video at the cited moment.
* Everything else shows the extracted text with the span highlighted and a link to the original.

Ctrl+F opens a find bar over the visible view (Enter / F3: next, Shift+Enter / Shift+F3: previous,
Esc: close). In the page view PageUp/PageDown/Home/End move by whole pages.

Build it with :meth:`SourceViewer.for_source` (reads the source's text, blocks and stored original
from the library); the plain constructor still takes a title, a text and a citation.
"""

from __future__ import annotations

import html
import logging
import re
import time
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence, Set
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import (
    QDesktopServices,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QShortcut,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtPdf import QPdfDocument, QPdfSearchModel
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.core.citations import format_location, is_ocr_location, mark_ocr, ocr_pages_in
from notebooklm_local.ui.rich_text import OCR_TOOLTIP_NOTE

if TYPE_CHECKING:
    from notebooklm_local.core.library import Library, Source

from notebooklm_local.ui.theme import color, css, on_theme_changed

__all__ = ["SourceViewer", "youtube_link", "NOT_IN_TEXT_LAYER"]

log = logging.getLogger(__name__)

NOT_IN_TEXT_LAYER = "Passage not found in the page's text layer; showing the extracted text."
MAX_PAINTED_MATCHES = 2000  # find matches painted at once in the text view (all are still navigable)
MAX_MATCHES = 20000
QUOTE_PROBE_WORDS = 8  # when the whole quote is not found on the page, search its first / last words
_SCAN_BUDGET_S = 0.012  # PDF find: time per event-loop turn spent searching pages
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_MARKER = re.compile(r"^\[(?:p\. \d+(?:, OCR)?|\d+(?::\d\d){1,2})\] ")


def youtube_link(url: str | None, t_start: float | None) -> str | None:
    """The YouTube ``url`` set to start at ``t_start`` seconds (``&t=754s``); None for other URLs or no time."""
    if not url or t_start is None:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not (host == "youtu.be" or host == "youtube.com" or host.endswith(".youtube.com")):
        return None
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("t", "start")]
    query.append(("t", f"{max(0, int(t_start))}s"))
    return urlunsplit(parts._replace(query=urlencode(query, safe=":/")))


# -- text helpers (pure) ---------------------------------------------------------------------------


class _Utf16:
    """Python string offsets -> Qt document positions (UTF-16 code units: a character above U+FFFF is two)."""

    def __init__(self, text: str) -> None:
        self._astral = [m.start() for m in _ASTRAL.finditer(text)]

    def __call__(self, i: int) -> int:
        return i + bisect_left(self._astral, i)


def _fold(ch: str) -> str:
    """One character as compared when looking for a quote in a PDF text layer."""
    if ch in "\u2018\u2019\u201a\u2032":
        return "'"
    if ch in "\u201c\u201d\u201e\u2033":
        return '"'
    if ch in "\u2010\u2011\u2012\u2013\u2014\u2212":
        return "-"
    return unicodedata.normalize("NFKC", ch).casefold()


def _folded(text: str) -> tuple[str, list[int]]:
    """``text`` folded for matching (space runs -> one space, hyphenated line breaks undone) and, for each
    folded character, the index of the character it came from."""
    out: list[str] = []
    where: list[int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "-" and i > 0 and text[i - 1].isalnum():  # "re-\r\ntreat" -> "retreat"
            j = i + 1
            while j < n and text[j] in "\r\n":
                j += 1
            if j > i + 1 and j < n and text[j].isalnum():
                i = j
                continue
        if ch.isspace():
            if out and out[-1] != " ":
                out.append(" ")
                where.append(i)
            i += 1
            continue
        for c in _fold(ch):
            out.append(c)
            where.append(i)
        i += 1
    return "".join(out), where


def locate_in_page(page_text: str, quote: str) -> tuple[int, int] | None:
    """The span of ``quote`` in a PDF page's text, ignoring case, spacing, line breaks, hyphenation and quote
    styles; tries the whole quote, then its first and its last words. None when it is not there."""
    hay, where = _folded(page_text)
    words = quote.split()
    probes = [" ".join(words)]
    if len(words) > QUOTE_PROBE_WORDS:
        probes += [" ".join(words[:QUOTE_PROBE_WORDS]), " ".join(words[-QUOTE_PROBE_WORDS:])]
    for probe in probes:
        needle = _folded(probe)[0].strip()
        if len(needle) < 4:
            continue
        k = hay.find(needle)
        if k >= 0:
            return where[k], where[k + len(needle) - 1] + 1
    return None


def _block_at(blocks: Sequence[Mapping[str, Any]], offset: int) -> Mapping[str, Any] | None:
    """The block holding ``offset`` (or the next one when ``offset`` falls between blocks)."""
    if not blocks:
        return None
    starts = [int(b.get("start", 0)) for b in blocks]
    i = bisect_right(starts, offset) - 1
    if i < 0:
        return blocks[0]
    if offset >= int(blocks[i].get("end", 0)) and i + 1 < len(blocks):
        return blocks[i + 1]
    return blocks[i]


class _Display:
    """The text as shown: the source text with markers (``[0:42]``, ``[p. 3]``) before blocks, and the mapping
    from source-text offsets to positions in the shown document."""

    def __init__(self, text: str, blocks: Sequence[Mapping[str, Any]] | None, kind: str,
                 ocr_pages: Set[int] = frozenset()) -> None:
        self.source = text
        inserts: list[tuple[int, str]] = []
        last_page: int | None = None
        for b in sorted(blocks or (), key=lambda b: int(b.get("start", 0))):
            start = max(0, min(int(b.get("start", 0)), len(text)))
            if b.get("t_start") is not None:
                inserts.append((start, f"[{format_location(None, None, float(b['t_start']))}] "))
            elif kind == "pdf" and b.get("page") is not None and b["page"] != last_page:
                ocr = ", OCR" if int(b["page"]) in ocr_pages else ""  # the page's text was read by OCR
                inserts.append((start, f"[p. {int(b['page'])}{ocr}] "))
            if b.get("page") is not None:
                last_page = b["page"]
        self.markers = bool(inserts)
        self._at = [p for p, _ in inserts]
        self._shift = [0]
        pieces, last = [], 0
        for pos, marker in inserts:
            pieces += [text[last:pos], marker]
            last = pos
            self._shift.append(self._shift[-1] + len(marker))
        pieces.append(text[last:])
        self.text = "".join(pieces) if inserts else text
        self.utf16 = _Utf16(self.text)

    def shown(self, offset: int, *, end: bool = False) -> int:
        """The shown-text offset of source offset ``offset`` (a span's start lands after a marker, its end before)."""
        offset = max(0, min(offset, len(self.source)))
        k = bisect_left(self._at, offset) if end else bisect_right(self._at, offset)
        return offset + self._shift[k]

    def position(self, offset: int, *, end: bool = False) -> int:
        """The Qt document position of source offset ``offset``."""
        return self.utf16(self.shown(offset, end=end))


class _MarkerHighlighter(QSyntaxHighlighter):
    """Greys out the ``[0:42]`` / ``[p. 3]`` markers at the start of paragraphs."""

    def __init__(self, document: Any) -> None:
        super().__init__(document)
        self._fmt = QTextCharFormat()
        self._fmt.setForeground(color("muted"))
        on_theme_changed(self, _MarkerHighlighter._retheme)

    def _retheme(self) -> None:
        self._fmt.setForeground(color("muted"))
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt override
        m = _MARKER.match(text)
        if m:
            self.setFormat(0, len(m.group(0)) - 1, self._fmt)


# -- the PDF page view -------------------------------------------------------------------------------


def _qround(x: float) -> int:
    return int(x + 0.5) if x >= 0 else -int(-x + 0.5)


class _PdfPages(QPdfView):
    """All pages in one scroll, fitted to the width; PageUp/PageDown/Home/End move by whole pages."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPageMode(QPdfView.PageMode.MultiPage)
        self.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        screen = QGuiApplication.primaryScreen()
        self._res = (screen.logicalDotsPerInch() if screen is not None else 72.0) / 72.0
        # where go_to() last put the view: kept in view through resizes (fitting the width changes every
        # page's height) until the reader scrolls
        self._anchor: tuple[int, QRectF | None] | None = None
        self._moving = False
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)

    # QPdfView keeps its page layout private; in FitToWidth mode every page is as wide as the viewport less
    # the margins, and its height follows from its point size (Qt rounds the sizes the same way).
    def _page_height(self, page: int, width: int) -> int:
        pt = self.document().pagePointSize(page)
        w0, h0 = _qround(pt.width() * self._res), _qround(pt.height() * self._res)
        return _qround(h0 * width / w0) if w0 > 0 else 0

    def _content_width(self) -> int:
        m = self.documentMargins()
        return max(1, self.viewport().width() - m.left() - m.right())

    def page_top(self, page: int) -> int:
        """The y of ``page``'s top in the scrolled document, in pixels."""
        width, spacing = self._content_width(), self.pageSpacing()
        return self.documentMargins().top() + sum(self._page_height(i, width) + spacing for i in range(page))

    def page_scale(self, page: int) -> float:
        """Pixels per PDF point on ``page``."""
        pt = self.document().pagePointSize(page)
        return self._page_height(page, self._content_width()) / pt.height() if pt.height() > 0 else 1.0

    def page_count(self) -> int:
        doc = self.document()
        return doc.pageCount() if doc is not None else 0

    def go_to(self, page: int, rect: QRectF | None = None) -> None:
        """Scroll to ``page`` (0-based); with ``rect`` (page points), put that rectangle a third of the way down."""
        n = self.page_count()
        if n == 0:
            return
        page = max(0, min(page, n - 1))
        self._moving = True
        try:
            self.pageNavigator().jump(page, QPointF(rect.topLeft()) if rect is not None else QPointF(),
                                      self.zoomFactor())
            y = self.page_top(page)
            if rect is not None:
                y += int(rect.top() * self.page_scale(page) - self.viewport().height() * 0.3)
            self.verticalScrollBar().setValue(max(0, y))
        finally:
            self._moving = False
        self._anchor = (page, rect)

    @Slot(int)
    def _on_scrolled(self, _value: int) -> None:
        if not self._moving:
            self._anchor = None

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        anchor = self._anchor
        self._moving = True
        try:
            super().resizeEvent(event)
        finally:
            self._moving = False
        if anchor is not None:
            self.go_to(*anchor)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        key, n = event.key(), self.page_count()
        cur = self.pageNavigator().currentPage()
        if n and key == Qt.Key.Key_PageDown:
            self.go_to(min(cur + 1, n - 1))
        elif n and key == Qt.Key.Key_PageUp:
            self.go_to(cur if self.verticalScrollBar().value() > self.page_top(cur) + 2 else cur - 1)
        elif n and key == Qt.Key.Key_Home and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.go_to(0)
        elif n and key == Qt.Key.Key_End and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.go_to(n - 1)
        else:
            super().keyPressEvent(event)
            return
        event.accept()


class _PdfScan(QObject):
    """Counts a search string's results page by page in short slices of the event loop (QPdfSearchModel only
    knows a result's global index once every page before it has been searched)."""

    progressed = Signal()

    def __init__(self, model: QPdfSearchModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.counts: list[int | None] = []
        self._next = 0
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._tick)

    def restart(self, needle: str) -> None:
        doc = self.model.document()
        self.model.setSearchString(needle)
        self.counts = [None] * (doc.pageCount() if doc is not None else 0)
        self._next = 0
        if needle and self.counts:
            self._timer.start()
        else:
            self._timer.stop()

    @property
    def done(self) -> bool:
        return self._next >= len(self.counts)

    def total(self) -> int:
        return sum(c for c in self.counts if c)

    def on_page(self, page: int) -> list[Any]:
        results = list(self.model.resultsOnPage(page)) if self.model.searchString() else []
        if 0 <= page < len(self.counts):
            self.counts[page] = len(results)
        return results

    def index_of(self, page: int, k: int) -> int | None:
        """The global result index of result ``k`` on ``page``, once known."""
        before = self.counts[:page]
        if any(c is None for c in before):
            return None
        return sum(c for c in before if c) + k

    @Slot()
    def _tick(self) -> None:
        t0 = time.perf_counter()
        while self._next < len(self.counts) and time.perf_counter() - t0 < _SCAN_BUDGET_S:
            if self.counts[self._next] is None:
                self.on_page(self._next)
            self._next += 1
        if self.done:
            self._timer.stop()
        self.progressed.emit()


# -- the find bar --------------------------------------------------------------------------------------


class _FindBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("source-viewer-find")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setObjectName("source-viewer-find-edit")
        self.edit.setPlaceholderText("Find in source")
        self.edit.setAccessibleName("Find in source")
        self.edit.setClearButtonEnabled(True)
        self.prev_button = QToolButton()
        self.prev_button.setText("\u2191")
        self.prev_button.setToolTip("Previous match (Shift+Enter, Shift+F3)")
        self.prev_button.setAccessibleName("Previous match")
        self.next_button = QToolButton()
        self.next_button.setText("\u2193")
        self.next_button.setToolTip("Next match (Enter, F3)")
        self.next_button.setAccessibleName("Next match")
        self.status = QLabel("")
        self.status.setObjectName("source-viewer-find-status")
        self.status.setMinimumWidth(90)
        self.close_button = QToolButton()
        self.close_button.setText("\u2715")
        self.close_button.setToolTip("Close the find bar (Esc)")
        self.close_button.setAccessibleName("Close find bar")
        for w in (self.edit, self.prev_button, self.next_button, self.status, self.close_button):
            row.addWidget(w, 1 if w is self.edit else 0)


# -- the viewer ------------------------------------------------------------------------------------------


class SourceViewer(QDialog):
    """A source shown at a cited passage (or from its start when the citation is None).

    Signals:
        link_opened(str): an external link (the video at the cited time, the original) was opened.

    Attributes:
        text: The extracted-text view (a read-only QPlainTextEdit).
        pdf_view: The page view (None unless a PDF opened).
        pdf_document / search_model: Its QPdfDocument and QPdfSearchModel.
        pdf_page: The 0-based page the viewer opened at (None without a page view).
        pdf_match: The cited passage's rectangles on that page, in PDF points (empty: not found).
        highlighted: The cited span of the source text.
        notice_text: The message shown above the views ("" when none).
        video_link / original_link: The external links offered (None when none).
    """

    link_opened = Signal(str)

    def __init__(
        self,
        title: str,
        text: str,
        citation: Any = None,
        parent: QWidget | None = None,
        *,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        kind: str = "",
        pdf_path: Path | str | None = None,
        url: str | None = None,
        original: str | None = None,
        ocr_pages: Sequence[int] = (),
    ) -> None:
        super().__init__(parent)
        self.ocr_pages = {int(p) for p in ocr_pages or ()}  # pages whose text was read by OCR
        self.setObjectName("source-viewer")
        self.source_title = title
        self.kind = kind
        self.citation = citation
        self.blocks = list(blocks or [])
        self.pdf_view: _PdfPages | None = None
        self.pdf_document: QPdfDocument | None = None
        self.search_model: QPdfSearchModel | None = None
        self.pdf_page: int | None = None
        self.pdf_match: list[QRectF] = []
        self.notice_text = ""
        self.video_link: str | None = None
        self.original_link: str | None = None
        self.highlighted = ""
        self._cited_needle = ""
        self._cited_result: tuple[int, int] | None = None
        self._find_needle = ""
        self._text_matches: list[tuple[int, int]] = []
        self._text_current = -1
        self._pdf_current: tuple[int, int] | None = None
        self._revealed = False
        self._cite_sel: list[QTextEdit.ExtraSelection] = []
        self._cite_pos = 0
        self._pdf_pending: int | None = None  # find: the page to look from once the scan gets there

        start = int(getattr(citation, "start", 0) or 0)
        end = int(getattr(citation, "end", 0) or 0)
        block = _block_at(self.blocks, start) if citation is not None and end > start else None
        page = block.get("page") if block else None
        if page is None:
            page = getattr(citation, "page", None)
        t_start = block.get("t_start") if block else None
        if t_start is None:
            t_start = getattr(citation, "t_start", None)
        self.cited_page: int | None = int(page) if page is not None else None  # 1-based, as in the library
        self.cited_time: float | None = float(t_start) if t_start is not None else None
        location = str(getattr(citation, "location", "") or "")
        if self.cited_time is not None:
            location = format_location(None, None, self.cited_time)
        elif self.cited_page is not None and (not location or self.cited_page != getattr(citation, "page", None)):
            location = f"p. {self.cited_page}"
        self.resize(860, 760 if kind == "pdf" else 640)

        layout = QVBoxLayout(self)
        self.header = QLabel("")
        self.header.setObjectName("source-viewer-title")
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        layout.addWidget(self.header)
        self._set_location(location)
        self.links = QLabel("")
        self.links.setObjectName("source-viewer-links")
        self.links.setTextFormat(Qt.TextFormat.RichText)
        self.links.setOpenExternalLinks(False)
        self.links.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                           | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.links.linkActivated.connect(self.open_link)
        layout.addWidget(self.links)
        self.notice = QLabel("")
        self.notice.setObjectName("source-viewer-notice")
        self.notice.setWordWrap(True)
        self.notice.setAccessibleName("Notice")
        self.notice.setStyleSheet(f"QLabel {{ background: {css('notice_bg')}; border: 1px solid "
                                  f"{css('notice_border')}; border-radius: 3px; padding: 4px 6px; "
                                  f"color: {css('notice_fg')}; }}")
        self.notice.hide()
        layout.addWidget(self.notice)
        on_theme_changed(self, SourceViewer._paint_text)  # the cited passage and find matches in the new colours
        self.find_bar = _FindBar(self)
        self.find_bar.hide()
        layout.addWidget(self.find_bar)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("source-viewer-tabs")
        self.tabs.setAccessibleName("Source views")
        self.tabs.setTabBarAutoHide(True)
        self.tabs.setDocumentMode(True)
        layout.addWidget(self.tabs, 1)

        t0 = time.perf_counter()
        self.display = _Display(text, self.blocks, kind, self.ocr_pages)
        self.text = QPlainTextEdit()
        self.text.setObjectName("source-viewer-text")
        self.text.setAccessibleName("Source text")
        self.text.setReadOnly(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.text.setPlainText(self.display.text)
        if self.display.markers:
            self._markers = _MarkerHighlighter(self.text.document())
        self.text_load_seconds = time.perf_counter() - t0

        if kind == "pdf" or pdf_path is not None:
            self._open_pdf(Path(pdf_path) if pdf_path is not None else None)
        self.tabs.addTab(self.text, "Extracted text")
        if self.pdf_view is not None:
            self.tabs.setTabToolTip(1, "The text extracted from the PDF (what the answers were built from)")

        bottom = QHBoxLayout()
        self.page_label = QLabel("")
        self.page_label.setObjectName("source-viewer-page")
        bottom.addWidget(self.page_label)
        bottom.addStretch(1)
        find_button = QPushButton("Find\u2026")
        find_button.setToolTip("Find in source (Ctrl+F)")
        find_button.setAutoDefault(False)
        find_button.clicked.connect(self.show_find_bar)
        close_button = QPushButton("Close")
        close_button.setAutoDefault(False)
        close_button.clicked.connect(self.reject)
        bottom.addWidget(find_button)
        bottom.addWidget(close_button)
        layout.addLayout(bottom)

        self._build_links(url if url is not None else getattr(citation, "url", None), original)
        self.highlighted = self.highlight(start, end) if citation is not None else ""
        if self.pdf_view is not None:
            self._locate_in_pdf(text[max(0, start):max(0, end)] or str(getattr(citation, "quote", "") or ""))
            self.pdf_view.pageNavigator().currentPageChanged.connect(self._on_page_changed)
            self._on_page_changed(self.pdf_page or 0)

        self._wire_find()
        self.tabs.currentChanged.connect(self._on_tab_changed)

    # -- construction from the library ------------------------------------------------------------------

    @classmethod
    def for_source(
        cls,
        library: Library,
        source: Source | str,
        citation: Any = None,
        parent: QWidget | None = None,
        *,
        data_dir: Path | None = None,
    ) -> SourceViewer:
        """Open ``source`` (a Source or its id) at ``citation`` (None: from the start).

        The stored original (``source.blob``, relative to ``data_dir``, by default the library database's
        folder) gives the PDF pages; the source's blocks give pages and timestamps.

        Raises:
            NotebookError: the source, or its extracted text, is no longer in the library.
        """
        src = library.source(source) if isinstance(source, str) else source
        text, blocks = library.source_text(src.id)
        base = Path(data_dir) if data_dir is not None else Path(library.path).parent
        stored = base / src.blob if src.blob else None
        url = src.meta.get("url") or src.ref.get("url")
        path = src.ref.get("path")
        original = url or (path if path and Path(path).exists() else None)
        if original is None and stored is not None and src.ref.get("path"):
            original = str(stored)  # the file moved or was deleted: open the copy the library kept
        return cls(src.title or src.display, text, citation, parent, blocks=blocks, kind=src.kind,
                   pdf_path=stored if src.kind == "pdf" else None, url=url, original=original,
                   ocr_pages=ocr_pages_in(src.meta))

    # -- header links and notices -----------------------------------------------------------------------

    def _set_location(self, location: str) -> None:
        """Show where the passage is (``p. 3``, ``0:42``, a heading) in the header and the window title.

        A page whose text was read by OCR is marked ``(OCR)``, with a tooltip on the header saying so."""
        m = re.match(r"pp?\. (\d+)(?:-(\d+))?$", location)
        if m and self.ocr_pages:
            location = mark_ocr(location, int(m.group(1)), int(m.group(2) or m.group(1)), self.ocr_pages)
        self.location = location
        self.header.setToolTip(OCR_TOOLTIP_NOTE if is_ocr_location(location) else "")
        title = self.source_title
        self.setWindowTitle(f"{title} \u2014 {location}" if location else title)
        self.header.setText(f"<b>{html.escape(title)}</b>" + (f" \u2014 {html.escape(location)}" if location else ""))

    def _build_links(self, url: str | None, original: str | None) -> None:
        parts: list[str] = []
        if self.cited_time is not None:
            self.video_link = youtube_link(url, self.cited_time)
            if self.video_link:
                parts.append(f'<a href="{html.escape(self.video_link)}">Open the video at '
                             f"{html.escape(format_location(None, None, self.cited_time))}</a>")
            else:
                parts.append(f"At {html.escape(format_location(None, None, self.cited_time))} in the recording")
        elif url and youtube_link(url, 0):
            self.video_link = url
            parts.append(f'<a href="{html.escape(url)}">Open the video</a>')
        if original and not (self.video_link and original == url):
            href = original if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", original) else \
                QUrl.fromLocalFile(str(original)).toString()
            self.original_link = href
            parts.append(f'<a href="{html.escape(href)}">Open original</a>')
        self.links.setText(" \u00b7 ".join(parts))
        self.links.setVisible(bool(parts))

    def show_notice(self, message: str) -> None:
        self.notice_text = message
        self.notice.setText(message)
        self.notice.setVisible(bool(message))

    @Slot(str)
    def open_link(self, href: str) -> None:
        """Open an external link (the video, the original) in the desktop's default application."""
        QDesktopServices.openUrl(QUrl(href))
        self.link_opened.emit(href)

    # -- the text view --------------------------------------------------------------------------------------

    def highlight(self, start: int, end: int) -> str:
        """Mark the source text's ``[start, end)`` (Python string offsets) and scroll to it; returns that text."""
        src = self.display.source
        start, end = max(0, min(start, len(src))), max(0, min(end, len(src)))
        if end <= start:
            self._cite_sel = []
            self._paint_text()
            return ""
        a, b = self.display.position(start), self.display.position(end, end=True)
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(a)
        cursor.setPosition(b, QTextCursor.MoveMode.KeepAnchor)
        sel = QTextEdit.ExtraSelection()
        sel.cursor = cursor
        fmt = QTextCharFormat()
        fmt.setBackground(color("cited_bg"))
        sel.format = fmt
        self._cite_sel = [sel]
        self._paint_text()
        self._cite_pos = a
        self._scroll_text_to(a)
        return src[start:end]

    def _scroll_text_to(self, position: int) -> None:
        view = QTextCursor(self.text.document())
        view.setPosition(position)
        self.text.setTextCursor(view)
        self.text.centerCursor()

    def _paint_text(self) -> None:
        for sel in self._cite_sel:  # in the current theme's colour (this runs again when the theme changes)
            fmt = QTextCharFormat()
            fmt.setBackground(color("cited_bg"))
            sel.format = fmt
        sels = list(self._cite_sel)
        if self._text_matches:
            lo = max(0, self._text_current - MAX_PAINTED_MATCHES // 2)
            for i in range(lo, min(len(self._text_matches), lo + MAX_PAINTED_MATCHES)):
                a, b = self._text_matches[i]
                cursor = QTextCursor(self.text.document())
                cursor.setPosition(a)
                cursor.setPosition(b, QTextCursor.MoveMode.KeepAnchor)
                sel = QTextEdit.ExtraSelection()
                sel.cursor = cursor
                fmt = QTextCharFormat()
                fmt.setBackground(color("current_match_bg" if i == self._text_current else "match_bg"))
                sel.format = fmt
                sels.append(sel)
        self.text.setExtraSelections(sels)

    # -- the PDF view ---------------------------------------------------------------------------------------

    def _open_pdf(self, path: Path | None) -> None:
        if path is None:
            self.show_notice("The original PDF was not kept, so its pages cannot be shown; showing the extracted text.")
            return
        if not path.is_file():
            self.show_notice("The stored copy of this PDF is missing, so its pages cannot be shown; "
                             "showing the extracted text.")
            return
        doc = QPdfDocument(self)
        try:
            err = doc.load(str(path))
        except Exception as e:  # noqa: BLE001 - a broken file must not take the viewer down
            log.warning("QtPdf could not open %s: %s", path, e)
            err = QPdfDocument.Error.Unknown
        if err != QPdfDocument.Error.None_ or doc.status() != QPdfDocument.Status.Ready or doc.pageCount() < 1:
            reason = {
                QPdfDocument.Error.IncorrectPassword: "it is password-protected",
                QPdfDocument.Error.UnsupportedSecurityScheme: "it uses an unsupported encryption",
                QPdfDocument.Error.InvalidFileFormat: "it is damaged or not a PDF",
                QPdfDocument.Error.FileNotFound: "its stored copy is missing",
            }.get(err, "QtPdf could not read it")
            self.show_notice(f"This PDF's pages cannot be shown ({reason}); showing the extracted text.")
            doc.close()
            doc.deleteLater()
            return
        self.pdf_document = doc
        self.pdf_view = _PdfPages()
        self.pdf_view.setObjectName("source-viewer-pdf")
        self.pdf_view.setAccessibleName("Source pages")
        self.pdf_view.setDocument(doc)
        self.search_model = QPdfSearchModel(self)
        self.search_model.setDocument(doc)
        self.pdf_view.setSearchModel(self.search_model)
        self.search_model.searchStringChanged.connect(self._on_search_string_changed)
        self._scan = _PdfScan(self.search_model, self)
        self._scan.progressed.connect(self._on_scan_progress)
        self.tabs.addTab(self.pdf_view, "Page view")

    def _locate_in_pdf(self, quote: str) -> None:
        """Find the quote on the cited page (or the page after: a chunk may run on) and highlight it."""
        assert self.pdf_document is not None and self.search_model is not None
        n = self.pdf_document.pageCount()
        target = max(0, min((self.cited_page or 1) - 1, n - 1))
        self.pdf_page = target
        words = quote.split()
        if not words:
            return
        candidates = [" ".join(words)]
        if len(words) > QUOTE_PROBE_WORDS:
            candidates += [" ".join(words[:QUOTE_PROBE_WORDS]), " ".join(words[-QUOTE_PROBE_WORDS:])]
        pages = [p for p in dict.fromkeys((target, target + 1, target - 1)) if 0 <= p < n]
        for page in pages:
            for needle in candidates:
                if self._try_needle(page, needle):
                    return
            # the text layer may differ from the extracted text (hyphenation, ligatures, quote styles)
            page_text = self.pdf_document.getAllText(page).text()
            span = locate_in_page(page_text, quote)
            if span is not None:
                pieces = [p.strip() for p in re.split(r"-?\r?\n", page_text[span[0]:span[1]]) if p.strip()]
                for piece in sorted(pieces, key=len, reverse=True):
                    if self._try_needle(page, " ".join(piece.split())):
                        return
        self._scan.restart("")
        self.show_notice(NOT_IN_TEXT_LAYER)
        self.tabs.setCurrentWidget(self.text)

    def _try_needle(self, page: int, needle: str) -> bool:
        self._scan.restart(needle)
        results = self._scan.on_page(page)
        if not results:
            return False
        if page != self.pdf_page:  # the passage runs on to (or starts on) a neighbouring page
            self._set_location(f"p. {page + 1}")
        self.pdf_page = page
        self.pdf_match = [QRectF(r) for r in results[0].rectangles()]
        self._cited_needle = needle
        self._cited_result = self._pdf_current = (page, 0)
        self._on_scan_progress()
        return True

    @Slot()
    def _on_scan_progress(self) -> None:
        if self.pdf_view is None:
            return
        if self._pdf_pending is not None:
            self._resolve_pending()
        idx = self._scan.index_of(*self._pdf_current) if self._pdf_current is not None else None
        self.pdf_view.setCurrentSearchResultIndex(-1 if idx is None else idx)
        if self._find_needle and self.tabs.currentWidget() is self.pdf_view:
            self._show_pdf_status()

    @Slot()
    def _on_search_string_changed(self) -> None:
        if self.pdf_view is not None:
            self.pdf_view.setCurrentSearchResultIndex(-1)  # until the new string's result index is known

    @Slot(int)
    def _on_page_changed(self, page: int) -> None:
        if self.pdf_document is not None:
            self.page_label.setText(f"Page {page + 1} of {self.pdf_document.pageCount()}")

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._revealed:
            self._revealed = True
            QTimer.singleShot(0, self._reveal)

    @Slot()
    def _reveal(self) -> None:
        """Scroll to the cited place once the views have their real size."""
        if self.pdf_view is not None and self.pdf_page is not None:
            self.pdf_view.go_to(self.pdf_page, self.pdf_match[0] if self.pdf_match else None)
        if self._cite_sel:
            self._scroll_text_to(self._cite_pos)
        current = self.tabs.currentWidget()
        if current is not None:
            current.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- find -------------------------------------------------------------------------------------------------

    def _wire_find(self) -> None:
        bar = self.find_bar
        bar.next_button.clicked.connect(self.find_next)
        bar.prev_button.clicked.connect(self.find_previous)
        bar.close_button.clicked.connect(self.hide_find_bar)
        bar.edit.installEventFilter(self)
        self._find_timer = QTimer(self)
        self._find_timer.setSingleShot(True)
        self._find_timer.setInterval(200)
        self._find_timer.timeout.connect(self._run_find)
        bar.edit.textEdited.connect(lambda _t: self._find_timer.start())
        for seq, slot in ((QKeySequence.StandardKey.Find, self.show_find_bar),
                          (QKeySequence.StandardKey.FindNext, self.find_next),
                          (QKeySequence.StandardKey.FindPrevious, self.find_previous)):
            shortcut = QShortcut(QKeySequence(seq), self)
            shortcut.activated.connect(slot)

    @Slot()
    def show_find_bar(self) -> None:
        self.find_bar.show()
        self.find_bar.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.find_bar.edit.selectAll()

    @Slot()
    def hide_find_bar(self) -> None:
        """Close the find bar: the find highlights go, the cited passage's highlight comes back."""
        self.find_bar.hide()
        self._find_timer.stop()
        self._find_needle = ""
        self._pdf_pending = None
        self._text_matches, self._text_current = [], -1
        self._paint_text()
        if self.pdf_view is not None and self._scan.model.searchString() != self._cited_needle:
            self._pdf_current = self._cited_result
            self._scan.restart(self._cited_needle)
            self._on_scan_progress()
        widget = self.tabs.currentWidget()
        if widget is not None:
            widget.setFocus(Qt.FocusReason.OtherFocusReason)

    def find(self, needle: str) -> int:
        """Show the find bar, search ``needle`` in the visible view and go to the first match at or after the
        current place. Returns the number of matches (in the page view: found so far; the count grows)."""
        self.find_bar.show()
        self.find_bar.edit.setText(needle)
        return self._run_find()

    @Slot()
    def _run_find(self) -> int:
        self._find_timer.stop()
        needle = self.find_bar.edit.text()
        self._find_needle = needle
        if self.pdf_view is not None and self.tabs.currentWidget() is self.pdf_view:
            return self._find_pdf(needle)
        return self._find_text(needle)

    @Slot()
    def find_next(self) -> None:
        self._step(+1)

    @Slot()
    def find_previous(self) -> None:
        self._step(-1)

    def _step(self, direction: int) -> None:
        if not self.find_bar.isVisible() or not self.find_bar.edit.text():
            self.show_find_bar()
            return
        if self.find_bar.edit.text() != self._find_needle:
            self._run_find()
            return
        if self.pdf_view is not None and self.tabs.currentWidget() is self.pdf_view:
            self._step_pdf(direction)
        elif self._text_matches:
            self._text_current = (self._text_current + direction) % len(self._text_matches)
            self._show_text_match()

    # text view
    def _find_text(self, needle: str) -> int:
        self._text_matches, self._text_current = [], -1
        if needle:
            utf16 = self.display.utf16
            for m in re.finditer(re.escape(needle), self.display.text, re.IGNORECASE):
                self._text_matches.append((utf16(m.start()), utf16(m.end())))
                if len(self._text_matches) >= MAX_MATCHES:
                    break
        if not self._text_matches:
            self._paint_text()
            self.find_bar.status.setText("No matches" if needle else "")
            return 0
        here = self.text.textCursor().selectionStart()
        starts = [a for a, _ in self._text_matches]
        self._text_current = bisect_left(starts, here) % len(self._text_matches)
        self._show_text_match()
        return len(self._text_matches)

    def _show_text_match(self) -> None:
        a, _b = self._text_matches[self._text_current]
        self._paint_text()
        self._scroll_text_to(a)
        more = "+" if len(self._text_matches) >= MAX_MATCHES else ""
        self.find_bar.status.setText(f"{self._text_current + 1} of {len(self._text_matches)}{more}")

    # page view
    def _find_pdf(self, needle: str) -> int:
        assert self.pdf_view is not None
        self._pdf_current = None
        self._pdf_pending = None
        self._scan.restart(needle)
        if not needle:
            self.find_bar.status.setText("")
            self._on_scan_progress()
            return 0
        start = self.pdf_view.pageNavigator().currentPage()
        if self._scan.on_page(start):
            self._pdf_current = (start, 0)
            self._show_pdf_match()
        else:  # the first match after this page is picked as the scan reaches it (no long search here)
            self._pdf_pending = start
        self._on_scan_progress()
        return self._scan.total()

    def _resolve_pending(self) -> None:
        """Find: go to the first match at or after the page the search started from, once the scan knows it."""
        start, counts = self._pdf_pending, self._scan.counts
        assert start is not None
        for p in [*range(start, len(counts)), *range(0, start)]:
            if counts[p] is None:
                return
            if counts[p]:
                self._pdf_pending = None
                self._pdf_current = (p, 0)
                self._show_pdf_match()
                return
        self._pdf_pending = None

    def _pdf_seek(self, page: int, k: int, direction: int) -> tuple[int, int] | None:
        """The result after (or before) result ``k`` on ``page``, wrapping around the document."""
        n = self.pdf_view.page_count() if self.pdf_view is not None else 0
        results = self._scan.on_page(page)
        if direction > 0 and k + 1 < len(results):
            return page, k + 1
        if direction < 0 and 0 <= k - 1 < len(results):
            return page, k - 1
        for step in range(1, n + 1):
            p = (page + direction * step) % n
            results = self._scan.on_page(p)
            if results:
                return p, (0 if direction > 0 else len(results) - 1)
        return None

    def _step_pdf(self, direction: int) -> None:
        self._pdf_pending = None
        if self._pdf_current is None:
            page = self.pdf_view.pageNavigator().currentPage() if self.pdf_view is not None else 0
            self._pdf_current = self._pdf_seek(page, -1 if direction > 0 else 0, direction)
        else:
            self._pdf_current = self._pdf_seek(*self._pdf_current, direction)
        if self._pdf_current is not None:
            self._show_pdf_match()
        self._on_scan_progress()
        self._show_pdf_status()

    def _show_pdf_match(self) -> None:
        assert self.pdf_view is not None and self._pdf_current is not None
        page, k = self._pdf_current
        results = self._scan.on_page(page)
        rects = results[k].rectangles() if k < len(results) else []
        self.pdf_view.go_to(page, QRectF(rects[0]) if rects else None)

    def _show_pdf_status(self) -> None:
        total, more = self._scan.total(), "" if self._scan.done else "+"
        if self._pdf_current is None:
            done = self._scan.done and self._pdf_pending is None
            self.find_bar.status.setText("No matches" if done else "Searching\u2026")
            return
        idx = self._scan.index_of(*self._pdf_current)
        pos = f"{idx + 1}" if idx is not None else "\u2026"
        self.find_bar.status.setText(f"{pos} of {max(total, 1)}{more}")

    @Slot(int)
    def _on_tab_changed(self, _index: int) -> None:
        if self.find_bar.isVisible() and self.find_bar.edit.text():
            self._run_find()

    # -- keys -------------------------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.find_bar.edit and event.type() == QEvent.Type.KeyPress:
            key = event.key()  # type: ignore[attr-defined]
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)  # type: ignore[attr-defined]
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._step(-1 if shift else +1)
                return True
            if key == Qt.Key.Key_Escape:
                self.hide_find_bar()
                return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Escape and self.find_bar.isVisible():
            self.hide_find_bar()
            event.accept()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()  # there is no default button: Enter must not close the viewer
            return
        super().keyPressEvent(event)
