"""Rich text shared by the studio and notes panes: a browser that loads nothing, safe Markdown, citation chips.

* :class:`SafeTextBrowser` shows HTML but never fetches a resource: ``loadResource`` answers nothing for
  every URL (remote images, stylesheets, ``file:`` paths), and links are never followed by the widget
  itself: in-page anchors scroll, http(s)/mailto links open in the user's browser only when clicked.
* :func:`markdown_html` converts Markdown (footnotes, fenced code, tables) with raw HTML switched off:
  ``<script>``, ``<img>``, ``<iframe>`` written in a note, a source or a model's output come out as text.
  Markdown images become a placeholder, and links with other schemes (``javascript:``, ``file:``) lose
  their target.
* :class:`CitationBrowser` maps ``cite:`` links to :class:`~notebooklm_local.core.citations.Citation`
  objects: hover shows the quote, click emits ``citation_activated``.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from typing import Any

import markdown
from markdown.treeprocessors import Treeprocessor
from PySide6.QtCore import QUrl, Signal, Slot
from PySide6.QtGui import QCursor, QDesktopServices
from PySide6.QtWidgets import QTextBrowser, QToolTip, QWidget

from notebooklm_local.core.citations import AnswerSentence, Citation, CitedAnswer, is_ocr_location
from notebooklm_local.ui.theme import css

__all__ = [
    "SafeTextBrowser",
    "CitationBrowser",
    "markdown_html",
    "strip_front_matter",
    "answer_from_json",
    "citation_from_json",
    "citation_tooltip",
    "chip",
]

_SAFE_SCHEMES = ("http", "https", "mailto")


class SafeTextBrowser(QTextBrowser):
    """A read-only rich-text view that makes no loads of its own (no remote or local resources).

    Attributes:
        blocked: the resource URLs the document asked for and did not get (for tests and diagnostics).
    """

    external_link_clicked = Signal(QUrl)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.blocked: list[str] = []
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._on_safe_anchor_clicked)
        self.open_external = True  # open clicked http(s)/mailto links in the user's browser

    def loadResource(self, type: int, name: QUrl) -> Any:  # noqa: A002, N802 - Qt's signature
        """Nothing is ever loaded: images, stylesheets and other resources stay empty."""
        self.blocked.append(name.toString())
        return None

    @Slot(QUrl)
    def _on_safe_anchor_clicked(self, url: QUrl) -> None:
        scheme = url.scheme().lower()
        if not scheme and url.hasFragment() and not url.path():
            self.scrollToAnchor(url.fragment())
        elif scheme in _SAFE_SCHEMES:
            self.external_link_clicked.emit(url)
            if self.open_external:
                QDesktopServices.openUrl(url)


class CitationBrowser(SafeTextBrowser):
    """A SafeTextBrowser whose ``cite:...`` links stand for citations (hover: quote; click: signal)."""

    citation_activated = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.citations: dict[str, Any] = {}
        self.anchorClicked.connect(self._on_cite_clicked)
        self.highlighted.connect(self._on_cite_hovered)

    def set_content(self, body_html: str, citations: dict[str, Any]) -> None:
        self.citations = dict(citations)
        self.setHtml(body_html)

    def clear_content(self) -> None:
        self.citations = {}
        self.clear()

    @Slot(QUrl)
    def _on_cite_clicked(self, url: QUrl) -> None:
        c = self.citations.get(url.toString())
        if c is not None:
            self.citation_activated.emit(c)

    @Slot(QUrl)
    def _on_cite_hovered(self, url: QUrl | str) -> None:
        link = url.toString() if isinstance(url, QUrl) else str(url or "")  # QTextBrowser.highlighted sends a QUrl
        c = self.citations.get(link)
        if c is not None:
            QToolTip.showText(QCursor.pos(), citation_tooltip(c), self)
        else:
            QToolTip.hideText()


OCR_TOOLTIP_NOTE = "Read by OCR from a scanned page: the text may contain recognition errors."


def citation_tooltip(c: Any) -> str:
    loc = f", {c.location}" if getattr(c, "location", "") else ""
    ocr = (f"<br><i>{html.escape(OCR_TOOLTIP_NOTE)}</i>"
           if is_ocr_location(str(getattr(c, "location", "") or "")) else "")
    return (f"<b>{html.escape(str(c.source_title))}{html.escape(loc)}</b><br>"
            f"\u201c{html.escape(str(c.quote)[:400])}\u201d{ocr}")


def chip(link: str, label: str) -> str:
    """A citation chip like the chat panel's: a small blue label linking to ``link``."""
    return (f' <a href="{html.escape(link)}" style="text-decoration:none"><span style="background:{css("chip_bg")};'
            f'color:{css("chip_fg")};border-radius:4px">&nbsp;{html.escape(label)}&nbsp;</span></a>')


# ---------------------------------------------------------------------------------------------
# Stored JSON back into objects


citation_from_json = Citation.from_json  # one definition (core.citations); the name kept for the panes


def answer_from_json(d: dict[str, Any]) -> CitedAnswer:
    """A CitedAnswer from its ``to_json`` dict (as studio outputs store it)."""
    sentences = [AnswerSentence(str(s.get("text", "")), [int(c) for c in s.get("citations", [])],
                                bool(s.get("supported", False)), float(s.get("support", 0.0)), str(s.get("flag", "")))
                 for s in d.get("sentences", []) if isinstance(s, dict)]
    citations = [citation_from_json(c) for c in d.get("citations", []) if isinstance(c, dict)]
    return CitedAnswer(str(d.get("answer", "")), sentences, citations, list(d.get("removed_markers", [])),
                       bool(d.get("not_found", False)), list(d.get("notes", [])))


# ---------------------------------------------------------------------------------------------
# Markdown without raw HTML

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)


def strip_front_matter(text: str) -> str:
    """``text`` without a leading YAML front matter block."""
    return _FRONT_MATTER.sub("", text, count=1).lstrip("\n")


class _Sanitize(Treeprocessor):
    """Images become a text placeholder; links keep only http(s), mailto and in-page targets."""

    def run(self, root: ET.Element) -> None:
        for parent in root.iter():
            for i, el in enumerate(list(parent)):
                if el.tag == "img":
                    alt = el.get("alt") or "image"
                    span = ET.Element("span", {"style": f"color:{css('muted')}"})
                    span.text = f"[image: {alt} \u2014 not loaded]"
                    span.tail = el.tail
                    parent.remove(el)
                    parent.insert(i, span)
                elif el.tag == "a":
                    href = (el.get("href") or "").strip()
                    scheme = href.split(":", 1)[0].lower() if ":" in href.split("#", 1)[0] else ""
                    if scheme and scheme not in _SAFE_SCHEMES:
                        el.attrib.pop("href", None)


class _OneBacklink(Treeprocessor):
    """One ↩ per footnote: a footnote referenced several times gets "↩ 1 2 3" (each number jumps back to
    one of its references), not a row of ↩ (Python-Markdown's default)."""

    def run(self, root: ET.Element) -> None:
        for li in root.iter("li"):
            label = (li.get("id") or "")[3:] if (li.get("id") or "").startswith("fn:") else None
            if label is None:
                continue
            for parent in list(li.iter()):
                refs = [el for el in parent if el.tag == "a" and "footnote-backref" in (el.get("class") or "")]
                if len(refs) < 2:
                    continue
                at = list(parent).index(refs[0])
                tail = refs[-1].tail
                for r in refs:
                    parent.remove(r)
                group = ET.Element("span", {"class": "footnote-backrefs"})
                group.text = "\u21a9 "
                for k, r in enumerate(refs, 1):
                    a = ET.SubElement(group, "a", {"class": "footnote-backref", "href": r.get("href") or "",
                                                   "title": f"Jump back to reference {k} of footnote {label}"})
                    a.text = str(k)
                    a.tail = " " if k < len(refs) else ""
                group.tail = tail
                parent.insert(at, group)


def _converter() -> markdown.Markdown:
    md = markdown.Markdown(extensions=["footnotes", "fenced_code", "tables"], output_format="html")
    md.preprocessors.deregister("html_block")  # raw HTML blocks: kept as text (escaped)
    md.inlinePatterns.deregister("html")  # inline tags: kept as text (escaped)
    md.treeprocessors.register(_OneBacklink(md), "nbl_one_backlink", 1)  # after footnote-duplicate (15)
    md.treeprocessors.register(_Sanitize(md), "nbl_sanitize", 0)
    return md


def markdown_html(text: str) -> str:
    """Markdown -> HTML, with raw HTML escaped (never interpreted) and images/unsafe links neutralised."""
    return _converter().convert(text)
