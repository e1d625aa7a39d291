"""Web page and HTML file loaders: main-content extraction with trafilatura, fetching with httpx."""

from __future__ import annotations

import codecs
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import unquote, urlsplit

from notebooklm_local import __version__
from notebooklm_local.core.documents import Block, LoadedDocument, SourceRef
from notebooklm_local.core.errors import SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.loaders.files import read_file_bytes
from notebooklm_local.services.loaders.markdown_blocks import HeadingStack, markdown_to_blocks
from notebooklm_local.services.loaders.pdf_text import is_placeholder_title
from notebooklm_local.services.loaders.text import load_text_bytes

if TYPE_CHECKING:
    import httpx

__all__ = [
    "HtmlFileLoader",
    "WebLoader",
    "decode_html",
    "html_to_document",
    "is_youtube_url",
]

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
_YOUTUBE_HOSTS = ("youtube.com", "youtu.be", "youtube-nocookie.com")
_MIN_TEXT_CHARS = 20  # fewer letters/digits than this on a page with scripts: "it needs JavaScript"

# ---------------------------------------------------------------------------------------------------------------------
# HTML decoding and extraction
# ---------------------------------------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_NOSCRIPT = re.compile(r"<noscript\b.*?</noscript\s*>", re.IGNORECASE | re.DOTALL)
_HAS_SCRIPT = re.compile(r"<script\b", re.IGNORECASE)
_LATIN1_LABELS = {"latin-1", "iso8859-1", "ascii"}  # the HTML standard reads these as windows-1252


def _codec(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return "cp1252" if name in _LATIN1_LABELS else name


def _try_decode(data: bytes, codec: str | None) -> str | None:
    if codec is None:
        return None
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        if codec == "cp1252":  # five bytes are undefined in cp1252; latin-1 maps them to C1 controls
            return data.decode("latin-1")
        return None


def decode_html(data: bytes, http_charset: str | None = None) -> str:
    """Decode an HTML document's bytes like a browser would.

    Order: byte-order mark, the HTTP ``charset`` parameter, ``<meta charset>`` (or ``http-equiv``) / the XML
    declaration, strict UTF-8, then charset_normalizer's guess. A ``latin-1`` HTTP charset (a common server
    default) loses to a ``<meta charset=utf-8>`` when the bytes are valid UTF-8.

    Args:
        data: The raw document.
        http_charset: The ``charset`` parameter of the HTTP Content-Type header, if any.

    Returns:
        The document as text (never raises; undecodable bytes become U+FFFD).
    """
    for bom, bom_codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(bom_codec, errors="replace")
    head = data[:16384]
    m = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    meta = _codec(m.group(1).decode("ascii")) if m else None
    if meta is not None and meta.startswith(("utf-16", "utf-32")):
        meta = "utf-8"  # a document that could be read to find this declaration is not UTF-16
    header = _codec(http_charset)
    candidates = [header, meta]
    if header == "cp1252" and meta == "utf-8":
        candidates = [meta, header]
    for codec in candidates:
        decoded = _try_decode(data, codec)
        if decoded is not None:
            return decoded
    decoded = _try_decode(data, "utf-8")
    if decoded is not None:
        return decoded
    from charset_normalizer import from_bytes

    best = from_bytes(data[:2_000_000]).best()
    codec = _codec(best.encoding) if best is not None else None
    return data.decode(codec or "cp1252", errors="replace")


_BLOCK_TAGS = frozenset(
    "address article aside blockquote body br dd details div dl dt fieldset figcaption figure footer form header hr "
    "li main nav ol p pre section summary table tbody td tfoot th thead tr ul".split()
)
_SKIP_TAGS = ("script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas", "math")
_HEADING_TAGS = {f"h{n}": n for n in range(1, 7)}


def _fallback_blocks(html: str) -> list[Block]:
    """Plain text of ``<body>`` without scripts and styles, split at block-level elements."""
    import lxml.etree
    import lxml.html

    try:
        root = lxml.html.document_fromstring(_XML_DECL.sub("", html, count=1))
    except (ValueError, lxml.etree.LxmlError):
        return []
    lxml.etree.strip_tags(root, lxml.etree.Comment, lxml.etree.ProcessingInstruction)
    for el in [e for e in root.iter(*_SKIP_TAGS)]:
        el.drop_tree()
    body = root.find("body")
    if body is None:
        body = root
    blocks: list[Block] = []
    headings = HeadingStack()
    buf: list[str] = []
    heading_level = 0
    in_pre = 0  # inside <pre>: a code block

    def flush() -> None:
        text = " ".join("".join(buf).split())
        buf.clear()
        if text:
            if heading_level:
                blocks.append(Block(text, "heading", heading_path=headings.push(heading_level, text)))
            else:
                blocks.append(Block(text, "code" if in_pre else "paragraph", heading_path=headings.path))

    for event, el in lxml.etree.iterwalk(body, events=("start", "end")):
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        is_break = tag in _BLOCK_TAGS or tag in _HEADING_TAGS
        if event == "start":
            if is_break and el is not body:
                flush()
                if tag in _HEADING_TAGS and not heading_level:
                    heading_level = _HEADING_TAGS[tag]
            in_pre += tag == "pre"
            buf.append(el.text or "")
        else:
            if is_break:
                flush()
                if tag in _HEADING_TAGS:
                    heading_level = 0
            in_pre -= tag == "pre"
            if el is not body:
                buf.append(el.tail or "")
    flush()
    return blocks


def _alnum_count(blocks: Iterable[Block]) -> int:
    return sum(sum(c.isalnum() for c in b.text) for b in blocks)


def _url_label(url: str | None) -> str:
    """``host/path`` of a URL (for titles), or an empty string."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return unquote(f"{parts.hostname or ''}{parts.path.rstrip('/')}")


def _metadata(html: str, url: str | None) -> dict[str, Any]:
    import trafilatura

    try:
        meta = trafilatura.extract_metadata(html, default_url=url)
    except Exception:  # noqa: BLE001 - metadata is best effort; a broken page still has text
        return {}
    if meta is None:
        return {}
    out: dict[str, Any] = {}
    for key in ("title", "author", "date", "sitename", "description", "url", "language"):
        value = getattr(meta, key, None)
        if isinstance(value, str) and value.strip():
            out[key] = value.strip()
    return out


_RECALL_GAIN = 1.3  # use trafilatura's recall mode only when it finds this much more text than the default


def _extract_main(html: str, url: str | None) -> str | None:
    """The page's main content as Markdown (trafilatura), ``favor_recall`` only where it is measured better.

    ``favor_recall=True`` lets sidebar boxes ("Related Subjects", "Send us your feedback") into the text on
    real pages; the default mode keeps them out but, on list-heavy pages (release notes, manuals), drops
    up to half of the real content (bench/README.md, "Web text"). So the default is used unless recall
    finds at least 30 % more text: boilerplate boxes never add that much to a real article.
    """
    import trafilatura

    def run(recall: bool) -> str | None:
        try:
            return trafilatura.extract(
                html, url=url, output_format="markdown", include_comments=False, include_tables=True,
                include_images=False, include_links=False, favor_recall=recall,
            )
        except Exception:  # noqa: BLE001 - trafilatura/lxml can fail on pathological markup; fall back below
            return None

    md = run(False)
    recall = run(True)
    if recall and (_alnum_text(recall) > _RECALL_GAIN * _alnum_text(md or "") or _restores_inner_lists(md, recall)):
        return recall
    return md


def _alnum_text(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


def _norm(text: str) -> str:
    """Lower-case letters and digits only: the same text whatever markup or spacing renders it."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


_MD_LIST_LINE = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S", re.MULTILINE)
_MD_LIST_MARK = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+")
_MIN_INNER_LIST_CHARS = 40
_MIN_ANCHOR = 20  # shorter passages ("Note", "Example") are found anywhere; they do not anchor the comparison


def _restores_inner_lists(default: str | None, recall: str) -> bool:
    """Whether recall mode gives the default text back plus lists *inside* it that the default mode dropped.

    On manuals the default mode drops whole lists ("Advantages include:" followed by nothing: SQLite's WAL
    page, Debian's reference, Bash's POSIX-mode list) while finding almost as much text overall, so the 30 %
    rule never picks recall. Boilerplate that recall mode lets in sits around the article (sidebars, "Related"
    boxes); list items between two passages the default mode kept are the article's own. Texts are compared
    as letters and digits only (one mode may render as a list what the other renders as paragraphs).
    """
    if not default:
        return False
    dn = _norm(default)
    anchors = [k for _, k in _units(default) if len(k) >= _MIN_ANCHOR]
    rn_parts: list[str] = []
    lines: list[tuple[str, str, int]] = []  # (line, key, offset of the key in the recall text)
    offset = 0
    for line in recall.splitlines():
        key = _norm(_MD_LIST_MARK.sub("", line, count=1))
        if key:
            lines.append((line, key, offset))
            rn_parts.append(key)
            offset += len(key)
    rn = "".join(rn_parts)
    spans: list[tuple[int, int]] = []
    cur = 0
    for a in anchors:
        at = rn.find(a, cur)
        if at >= 0:
            spans.append((at, at + len(a)))
            cur = at + len(a)
    if not spans or len(spans) < 0.8 * len(anchors):
        return False  # recall chose other content, not the same article with more in it
    first, last = spans[0][0], spans[-1][1]
    inner = sum(
        _alnum_text(line) for line, key, at in lines
        if first <= at < last and _MD_LIST_LINE.match(line) and key not in dn
    )
    return inner >= _MIN_INNER_LIST_CHARS


def _units(md: str) -> list[tuple[str, str]]:
    """(text, key) of each paragraph of Markdown, and of each item of a list, without the list markers."""
    out: list[tuple[str, str]] = []
    for para in md.split("\n\n"):
        parts = para.splitlines() if _MD_LIST_LINE.search(para) else [para]
        for part in parts:
            key = _norm(_MD_LIST_MARK.sub("", part, count=1))
            if key:
                out.append((part, key))
    return out


_PRE = re.compile(r"(<pre\b[^>]*>)(?!\s*<code\b)(.*?)(</pre\s*>)", re.IGNORECASE | re.DOTALL)
_PRE_INLINE = re.compile(  # markup inside <pre> (a comment in italics) makes trafilatura drop the code fence
    r"</?(?:a|b|i|em|strong|span|font|u|tt|kbd|var|samp|code|mark|small|big)\b[^>]*>", re.IGNORECASE
)
_INLINE_FENCE = re.compile(r"(?m)^(.*\S)[ \t]*(`{3,})[ \t]*$")
_BOLD_TITLE = re.compile(r"(?m)(?<![^\n])\*\*([^*\n]*[^*\s.,;:!?])\*\*[ \t]*$(?=\n\n|\Z)")
_BOLD_TITLE_WORDS = 12
# "- **High-volume Websites**" over the item's text (recall mode's rendering of <li><p><b>..</b></p><p>..</p>)
_BOLD_ITEM_TITLE = re.compile(r"(?m)^[ \t]*[-*+][ \t]+\*\*([^*\n]*[^*\s.,;:!?])\*\*[ \t]*\n(?=[ \t]*[^\s*+\-\d#|>`])")
_SUP = re.compile(r"<sup>(.*?)</sup>", re.IGNORECASE | re.DOTALL)
_SUB = re.compile(r"</?sub>", re.IGNORECASE)


def _code_in_pre(html: str) -> str:
    """``<pre>`` without ``<code>`` gets one, so that trafilatura keeps it as a fenced code block.

    Otherwise a bare ``<pre>`` comes out as plain lines: a shell session's ``----`` under a column name
    turns the lines above it into a Markdown heading, and code runs into the prose sentences around it.
    """
    return _PRE.sub(lambda m: f"{m.group(1)}<code>{_PRE_INLINE.sub('', m.group(2))}</code>{m.group(3)}", html)


def _inline_html(md: str) -> str:
    """Trafilatura's Markdown made plain: ``2<sup>48</sup>`` -> ``2^48``; a code fence it opens at the end of
    a line of prose ("For example: ```") moved to a line of its own (else the closing fence opens a code block
    that swallows the prose after it); a paragraph, or a list item over its text, that is only a short bold
    title (``<p><b>Websites</b></p>``, how SQLite's pages title their items) made a heading under the current
    one, so that it is the passage's heading rather than a quote of its own or the start of its first sentence."""
    md = _BOLD_ITEM_TITLE.sub(
        lambda m: f"\n###### {m.group(1)}\n\n" if len(m.group(1).split()) <= _BOLD_TITLE_WORDS else m.group(0), md)
    md = _BOLD_TITLE.sub(lambda m: f"###### {m.group(1)}" if len(m.group(1).split()) <= _BOLD_TITLE_WORDS else m.group(0), md)
    md = _INLINE_FENCE.sub(lambda m: f"{m.group(1)}\n\n{m.group(2)}" if m.group(1).count("`") % 2 == 0 else m.group(0), md)
    return _SUB.sub("", _SUP.sub(r"^\1", md))


def _html_headings(html: str) -> list[tuple[int, str, str]]:
    """The page's headings in order: (depth, text, key of the text that follows the heading)."""
    out: list[tuple[int, str, str]] = []
    blocks = _fallback_blocks(html)
    for i, b in enumerate(blocks):
        if b.kind != "heading":
            continue
        after = next((n for n in blocks[i + 1 :] if n.kind != "heading"), None)
        out.append((len(b.heading_path), b.text, _norm(after.text)[:40] if after else ""))
    return out


def _starts_with(block: str, key: str) -> bool:
    return bool(key) and (block.startswith(key) or (len(block) >= 20 and key.startswith(block)))


def _restore_headings(blocks: list[Block], html: str) -> list[Block]:
    """Put back the page's headings that the main-content extraction dropped, and rebuild heading paths.

    Trafilatura leaves out many headings of documentation pages (all of SQLite's, most of the Debian
    Reference's), and with them the structure a mind map, the summary's sections and the passages' heading
    paths use. A heading of the page goes back in front of the block that starts with the text following it
    in the page, so headings of navigation and sidebars, whose text is not in the extracted content, stay
    out. Of the places found, the longest run in page order is used (a heading followed by a "Table of
    contents" that matches a block far down the page must not make the headings between them lost).
    """
    headings = _html_headings(html)
    if not headings:
        return blocks
    norms = [_norm(_MD_LIST_MARK.sub("", b.text, count=1)) for b in blocks]  # "1. Is the data..." as in the page
    placed = _in_order(
        [[i for i, n in enumerate(norms) if n and _starts_with(n, key)] if _norm(text) else [] for _, text, key in headings]
    )
    depth_of = {_norm(t): d for d, t, _ in headings}
    before: dict[int, list[str]] = {}
    as_heading: set[int] = set()
    for h, k in sorted(placed.items()):  # page order (two headings can precede the same block)
        text = headings[h][1]
        hkey = _norm(text)
        near = [i for i in range(max(0, k - 3), k) if _norm(blocks[i].text) == hkey]
        if near:  # already there (as a heading, or as a paragraph of the heading's text)
            as_heading.add(near[-1])
        else:
            before.setdefault(k, []).append(text)
    stack = HeadingStack()
    fixed: list[Block] = []

    def heading(text: str, fallback_depth: int) -> None:
        fixed.append(Block(text, "heading", heading_path=stack.push(depth_of.get(_norm(text), fallback_depth), text)))

    for i, b in enumerate(blocks):
        for text in before.get(i, ()):
            heading(text, 1)
        if b.kind == "heading" or i in as_heading:
            heading(b.text, _UNKNOWN_DEPTH)
        else:
            fixed.append(Block(b.text, b.kind, page=b.page, heading_path=stack.path))
    return fixed


_UNKNOWN_DEPTH = 99  # a heading that is not one of the page's <h1>..<h6> (a bold title) nests under the current one


def _in_order(candidates: list[list[int]]) -> dict[int, int]:
    """The most items that can each take one of their candidate positions, positions never going back.

    Longest non-decreasing subsequence over (item, position) pairs (patience sorting); returns item -> position.
    """
    import bisect

    tails: list[int] = []  # the smallest last position of a run of each length
    tail_ids: list[tuple[int, int]] = []
    prev: dict[tuple[int, int], tuple[int, int] | None] = {}
    for item, positions in enumerate(candidates):
        for pos in sorted(positions, reverse=True):  # descending: one item never takes two places in a run
            n = bisect.bisect_right(tails, pos)
            prev[(item, pos)] = tail_ids[n - 1] if n else None
            if n == len(tails):
                tails.append(pos)
                tail_ids.append((item, pos))
            else:
                tails[n] = pos
                tail_ids[n] = (item, pos)
    out: dict[int, int] = {}
    node = tail_ids[-1] if tail_ids else None
    while node is not None:
        out[node[0]] = node[1]
        node = prev[node]
    return out


def _has_comments(html: str, url: str | None) -> bool:
    """Whether the page has a comment section (which the main-content extraction leaves out)."""
    if "comment" not in html.lower():
        return False
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(html, url=url, include_comments=True, with_metadata=False)
    except Exception:  # noqa: BLE001
        return False
    return bool(doc is not None and _alnum_text(getattr(doc, "comments", None) or "") >= 20)


def html_to_document(
    html: str | bytes, *, url: str | None, kind: str, fallback_title: str | None = None
) -> LoadedDocument:
    """Extract an HTML page's main content (no navigation, footers, comments, banners) as a document.

    Trafilatura finds the main content and renders it as Markdown, which :func:`markdown_to_blocks` turns into
    heading and paragraph blocks. Without a recognizable main content, the whole ``<body>`` text (no scripts or
    styles) is used and the document is flagged.

    Args:
        html: The page, as text or bytes (bytes are decoded with :func:`decode_html`).
        url: The page's address (used for relative links, the metadata and a missing title), if any.
        kind: The document kind, ``"web"`` or ``"html"``.
        fallback_title: Title used when the page has neither a title nor a heading nor a URL (e.g. a file name).

    Returns:
        The document; ``metadata`` holds the url, title, author, date, sitename and description found;
        a flag says when the page's comments were left out.

    Raises:
        SourceLoadError: The page has no readable text (e.g. it is rendered by JavaScript).
    """
    if isinstance(html, bytes):
        html = decode_html(html)
    where = url or fallback_title or "The page"
    if not html.strip():
        raise SourceLoadError(f"{where} is empty; nothing was added.")
    cleaned = _code_in_pre(_NOSCRIPT.sub(" ", html))  # "please enable JavaScript" is not the page's content
    md = _extract_main(cleaned, url)
    blocks = _restore_headings(markdown_to_blocks(_inline_html(md)), html) if md else []
    flags: list[str] = []
    if blocks and _has_comments(cleaned, url):
        flags.append("comments on the page were left out (only the main content is used)")
    if _alnum_count(blocks) == 0:
        blocks = _fallback_blocks(html)
        if blocks:
            flags.append("main content not recognized; the whole page text was used")
    count = _alnum_count(blocks)
    if count == 0 or (count < _MIN_TEXT_CHARS and _HAS_SCRIPT.search(html)):
        raise SourceLoadError(
            f"There is no readable text on {where} (it may need JavaScript to show its content, which this app "
            "does not run). Nothing was added; save the page from your browser, or copy its text and add it as "
            "pasted text."
        )
    meta = _metadata(html, url)
    if url:
        meta["url"] = url
    first_heading = next((b.text for b in blocks if b.kind == "heading"), "")
    title = meta.pop("title", "")
    if title and is_placeholder_title(title):  # "Untitled", "index.html", "Document1": the page's heading instead
        meta["page_title"] = title
        title = ""
    title = title or first_heading or _url_label(url) or fallback_title or "Untitled"
    return LoadedDocument.from_blocks(kind, title, blocks, metadata=meta, flags=flags)


class HtmlFileLoader:
    """Loads a saved web page / HTML file from disk (main content only)."""

    name = "html"
    extensions = HTML_SUFFIXES

    def can_load(self, ref: SourceRef) -> bool:
        return ref.path is not None and ref.path.suffix.lower() in self.extensions

    def load(self, ref: SourceRef, cancel: CancelToken) -> LoadedDocument:
        """Read, decode and extract the file.

        Raises:
            SourceLoadError: unreadable file or no readable text.
            Cancelled: ``cancel`` was set.
        """
        if ref.path is None:
            raise SourceLoadError("The HTML loader needs a file path.")
        path = Path(ref.path)
        cancel.raise_if_set()
        data = read_file_bytes(path)
        if not data.strip():
            raise SourceLoadError(f"{path.name} is empty (0 bytes).")
        text = decode_html(data)
        cancel.raise_if_set()
        doc = html_to_document(text, url=None, kind="html", fallback_title=path.stem)
        doc.original = data
        doc.original_suffix = path.suffix.lower()
        return doc


# ---------------------------------------------------------------------------------------------------------------------
# Fetching web pages
# ---------------------------------------------------------------------------------------------------------------------

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_XML_TYPES = frozenset({"application/xml", "text/xml"})
_PDF_TYPES = frozenset({"application/pdf", "application/x-pdf", "application/acrobat"})
_TEXT_TYPES = frozenset({"text/plain"})
_MARKDOWN_TYPES = frozenset({"text/markdown", "text/x-markdown"})
_UNKNOWN_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/unknown"})
_MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")
_HTML_START = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|\?xml)\b", re.IGNORECASE | re.DOTALL
)
_TYPE_NAMES = {
    "application/zip": "a ZIP archive",
    "application/json": "JSON data",
    "application/gzip": "a compressed archive",
    "application/x-tar": "an archive",
    "application/msword": "a Word document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "a Word document",
    "application/epub+zip": "an e-book",
    "application/javascript": "a script",
    "text/javascript": "a script",
    "text/css": "a style sheet",
    "application/rss+xml": "a news feed",
    "application/atom+xml": "a news feed",
}


def is_youtube_url(url: str) -> bool:
    """Whether ``url`` points at YouTube (youtube.com, youtu.be, youtube-nocookie.com or a subdomain)."""
    try:
        host = (urlsplit(url.strip()).hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    return any(host == h or host.endswith("." + h) for h in _YOUTUBE_HOSTS)


def _invalid_url(url: str) -> SourceLoadError:
    return SourceLoadError(
        f"{url!r} is not a valid URL. Enter a full web address starting with http:// or https://, "
        "such as https://example.com/article."
    )


def _validate_url(url: str) -> str:
    """The stripped URL, or SourceLoadError "not a valid URL"."""
    import httpx

    u = url.strip()
    if not u or any(c.isspace() for c in u):
        raise _invalid_url(url)
    try:
        parts = urlsplit(u)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as e:
        raise _invalid_url(url) from e
    host = parts.hostname or ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise _invalid_url(url)
    if ":" in host:
        try:
            ipaddress.ip_address(host)
        except ValueError as e:
            raise _invalid_url(url) from e
    elif re.search(r"[/?#@<>\"'`{}|\\^%\[\]]", host) or not all(host.removesuffix(".").split(".")):
        raise _invalid_url(url)
    try:
        httpx.URL(u)
    except (httpx.InvalidURL, ValueError) as e:
        raise _invalid_url(url) from e
    return u


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or url
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return url


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.3g} MB"
    if n >= 1_000:
        return f"{n / 1_000:.3g} KB"
    return f"{n} bytes"


def _url_suffix(url: str) -> str:
    try:
        return PurePosixPath(unquote(urlsplit(url).path)).suffix.lower()
    except ValueError:
        return ""


def _url_name(url: str) -> str:
    """A file-like name for a download: the last path segment, else the host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    name = PurePosixPath(unquote(parts.path)).name
    return name or parts.hostname or url


def _type_description(mime: str) -> str:
    if mime in _TYPE_NAMES:
        return _TYPE_NAMES[mime]
    major = mime.split("/", 1)[0]
    return {
        "image": "an image",
        "video": "a video",
        "audio": "an audio file",
        "font": "a font",
    }.get(major, "a file")


def _unsupported(url: str, mime: str) -> SourceLoadError:
    what = f"{_type_description(mime)} ({mime})" if mime else "a file of unknown type"
    return SourceLoadError(
        f"{url} is {what}, not a web page, PDF or text, so it cannot be added as a web source. Nothing was added."
    )


def _classify(mime: str, url: str, head: bytes | None) -> str | None:
    """Kind: "html", "pdf", "text", "markdown", or None (unsupported). ``head`` is None before the body is read."""
    if head is not None and head.startswith(b"%PDF-"):
        return "pdf"
    if mime in _HTML_TYPES:
        return "html"
    if mime in _PDF_TYPES:
        return "pdf"
    if mime in _MARKDOWN_TYPES:
        return "markdown"
    if mime in _TEXT_TYPES:
        return "markdown" if _url_suffix(url) in _MARKDOWN_SUFFIXES else "text"
    if mime in _XML_TYPES:  # XHTML is sometimes served as plain XML
        if head is None:
            return "html"  # decided once the body is there
        return "html" if re.search(rb"<html\b", head[:4096], re.IGNORECASE) else None
    if mime not in _UNKNOWN_TYPES:
        return None
    if head is None:
        return "html"  # unknown until the body is there
    suffix = _url_suffix(url)
    if _HTML_START.match(head[:4096]) or suffix in HTML_SUFFIXES:
        return "html"
    if suffix in _MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix == ".txt":
        return "text"
    return None


_BINARY_BYTES = bytes(range(0, 9)) + bytes(range(14, 27)) + bytes(range(28, 32))


def _looks_binary(data: bytes) -> bool:
    """Random or compressed bytes served as text/html: control bytes no text has (UTF-16 with a BOM aside)."""
    head = data[:65536]
    if not head or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    bad = sum(head.count(b) for b in _BINARY_BYTES)
    return bad > max(2, len(head) // 200)


@dataclass
class _Download:
    url: str  # after redirects
    mime: str
    charset: str | None
    data: bytes


class WebLoader:
    """Fetches an http(s) URL (not YouTube) and loads a web page, PDF or text file from it."""

    name = "web"
    extensions: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        max_bytes: int = 25_000_000,
        user_agent: str = f"notebooklm-local/{__version__}",
        transport: httpx.BaseTransport | None = None,
        deadline_s: float = 180.0,
        min_rate_bps: float = 2_000.0,
        rate_grace_s: float = 20.0,
    ) -> None:
        """Configure fetching.

        Args:
            timeout: Seconds to wait for connecting and for each read.
            max_bytes: Largest accepted download (after decompression).
            user_agent: The User-Agent header.
            transport: An ``httpx.BaseTransport`` to use instead of the network (tests).
            deadline_s: The whole download (connect, headers, body) must finish within this many seconds; a
                server that drips a byte now and then never trips the per-read timeout alone.
            min_rate_bps: After ``rate_grace_s`` seconds, a download averaging fewer bytes per second is stopped.
        """
        self.timeout = timeout
        self.deadline_s = deadline_s
        self.min_rate_bps = min_rate_bps
        self.rate_grace_s = rate_grace_s
        self.max_bytes = max_bytes
        self.user_agent = user_agent
        self._transport = transport

    def can_load(self, ref: SourceRef) -> bool:
        if ref.url is None:
            return False
        try:
            scheme = urlsplit(ref.url.strip()).scheme.lower()
        except ValueError:
            return False
        return scheme in ("http", "https") and not is_youtube_url(ref.url)

    def load(self, ref: SourceRef, cancel: CancelToken) -> LoadedDocument:
        """Download ``ref.url`` and extract it.

        Raises:
            SourceLoadError: invalid URL, unreachable host, HTTP error, too large, unsupported content type,
                no readable text.
            Cancelled: ``cancel`` was set.
        """
        if ref.url is None:
            raise SourceLoadError("The web loader needs a URL.")
        url = _validate_url(ref.url)
        cancel.raise_if_set()
        dl = self._fetch(url, cancel)
        cancel.raise_if_set()
        kind = _classify(dl.mime, dl.url, dl.data[:8192])
        if kind is None:
            raise _unsupported(dl.url, dl.mime)
        if kind in ("html", "text", "markdown") and _looks_binary(dl.data):
            raise SourceLoadError(
                f"{dl.url} sent binary data, not a readable web page or text (it says {dl.mime or 'nothing'}). "
                "Nothing was added.")
        if kind == "html":
            doc = html_to_document(decode_html(dl.data, dl.charset), url=dl.url, kind="web")
            suffix = ".html"
        elif kind == "pdf":
            from notebooklm_local.services.loaders.pdf import load_pdf_bytes

            doc = load_pdf_bytes(dl.data, _url_name(dl.url), password=ref.password, cancel=cancel)
            suffix = ".pdf"
        else:
            markdown = kind == "markdown"
            doc = load_text_bytes(dl.data, _url_name(dl.url), markdown=markdown)
            suffix = ".md" if markdown else ".txt"
        doc.metadata["url"] = dl.url
        if dl.url != url:
            doc.metadata["requested_url"] = url
        doc.original = dl.data
        doc.original_suffix = suffix
        return doc

    def _fetch(self, url: str, cancel: CancelToken) -> _Download:
        """GET with redirects, streaming, size limit and cancellation; every failure is a SourceLoadError."""
        import httpx

        host = _host(url)
        headers = {
            "User-Agent": self.user_agent,
            "Accept": "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8,*/*;q=0.5",
        }
        t0 = time.monotonic()
        # The overall deadline also covers the headers (a server can drip those too, a byte at a time, and
        # no per-read timeout fires): at the deadline a watchdog shuts the sockets, which ends any read.
        socks: list[Any] = []
        fired: list[bool] = []

        def on_trace(event: str, info: dict[str, Any]) -> None:
            if event == "connection.connect_tcp.complete":
                stream = info.get("return_value")
                sock = stream.get_extra_info("socket") if stream is not None else None
                if sock is not None:
                    socks.append(sock)

        def track(request: httpx.Request) -> None:
            request.extensions["trace"] = on_trace

        def expire() -> None:
            fired.append(True)
            for sock in socks:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        watchdog = threading.Timer(self.deadline_s, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            with (
                httpx.Client(
                    follow_redirects=True,
                    max_redirects=10,
                    timeout=httpx.Timeout(min(self.timeout, self.deadline_s)),
                    headers=headers,
                    transport=self._transport,
                    event_hooks={"request": [track]},
                ) as client,
                client.stream("GET", url) as resp,
            ):
                final = str(resp.url)
                _check_status(resp.status_code, resp.reason_phrase, final, host)
                ctype = resp.headers.get("content-type", "")
                mime = ctype.split(";", 1)[0].strip().lower()
                charset = resp.charset_encoding
                if _classify(mime, final, None) is None:
                    raise _unsupported(final, mime)  # don't download a video to reject it
                length = resp.headers.get("content-length", "")
                if length.isdigit() and int(length) > self.max_bytes:
                    raise self._too_large(final, int(length), exact=True)
                chunks: list[bytes] = []
                total = 0
                for chunk in resp.iter_bytes():
                    cancel.raise_if_set()
                    total += len(chunk)
                    if total > self.max_bytes:
                        raise self._too_large(final, total, exact=False)
                    chunks.append(chunk)
                    self._check_pace(resp, final, total, time.monotonic() - t0)
                return _Download(final, mime, charset, b"".join(chunks))
        except (httpx.HTTPError, httpx.StreamError) as e:
            if fired or (isinstance(e, httpx.TimeoutException) and time.monotonic() - t0 >= self.deadline_s - 0.05):
                raise self._too_slow(url, None) from e
            self._raise_for(e, url, host)
        finally:
            watchdog.cancel()

    def _raise_for(self, e: Exception, url: str, host: str) -> NoReturn:
        import httpx

        nothing = "Nothing was added."
        try:
            raise e
        except httpx.TimeoutException as e:
            raise SourceLoadError(
                f"{host} is unreachable: it did not respond within {self.timeout:g} seconds (timed out). "
                f"Check your internet connection (are you offline?) or try again later. {nothing}"
            ) from e
        except httpx.ConnectError as e:
            raise SourceLoadError(
                f"{host} is unreachable: {_connect_reason(e)}. Check the address and your internet connection "
                f"(are you offline?). {nothing}"
            ) from e
        except httpx.TooManyRedirects as e:
            raise SourceLoadError(f"{url} redirects too many times (more than 10 redirects). {nothing}") from e
        except httpx.UnsupportedProtocol as e:
            raise SourceLoadError(
                f"{url} redirects to an address that is not http:// or https:// ({e}). {nothing}"
            ) from e
        except httpx.InvalidURL as e:
            raise SourceLoadError(f"{url} leads to an address that is not a valid URL ({e}). {nothing}") from e
        except (httpx.HTTPError, httpx.StreamError) as e:
            raise SourceLoadError(
                f"The connection to {host} failed while downloading {url} ({type(e).__name__}: {e or 'no details'}). "
                f"Try again later. {nothing}"
            ) from e

    def _check_pace(self, resp: httpx.Response, url: str, received: int, elapsed: float) -> None:
        """Stop a download past its overall deadline or below the minimum rate (a stuck read: the watchdog)."""
        if elapsed >= self.deadline_s:
            raise self._too_slow(url, received)
        if elapsed >= self.rate_grace_s and received / elapsed < self.min_rate_bps:
            raise self._too_slow(url, received, rate=received / elapsed)

    def _too_slow(self, url: str, received: int | None, *, rate: float | None = None) -> SourceLoadError:
        got = "" if received is None else f" ({_size(received)} received)"
        if rate is not None:
            why = f"it is arriving too slowly ({rate:.0f} bytes/s, under the {self.min_rate_bps:.0f} bytes/s minimum)"
        else:
            why = f"it did not finish within {self.deadline_s:g} seconds"
        return SourceLoadError(
            f"Stopped downloading {url}: {why}{got}. The server may be overloaded or throttling; try again later, "
            "or download the file yourself and add it from disk. Nothing was added.")

    def _too_large(self, url: str, size: int, *, exact: bool) -> SourceLoadError:
        got = _size(size) if exact else f"more than {_size(self.max_bytes)}"
        return SourceLoadError(
            f"{url} is too large: {got}, over the {_size(self.max_bytes)} limit for web sources. Nothing was "
            "added; download the file yourself and add it from disk."
        )


def _check_status(code: int, reason: str, url: str, host: str) -> None:
    """Raise a SourceLoadError for a non-2xx HTTP status."""
    if 200 <= code < 300:
        return
    status = f"HTTP {code}{' ' + reason if reason else ''}"
    nothing = "Nothing was added."
    if code in (404, 410):
        msg = f"{url} was not found ({status}). Check the address. {nothing}"
    elif code in (401, 403):
        msg = (
            f"{url} needs a login or refused access ({status}). Pages behind a login cannot be fetched; save the "
            f"page from your browser and add the file instead. {nothing}"
        )
    elif code == 407:
        msg = f"The proxy server needs a login ({status}). {nothing}"
    elif code == 429:
        msg = (
            f"{host} refused the request because of too many requests ({status}). Wait a while and try again. {nothing}"
        )
    elif code >= 500:
        msg = f"The server at {host} had an error ({status}). Try again later. {nothing}"
    elif 300 <= code < 400:
        msg = f"{url} redirects without saying where to ({status}). {nothing}"
    else:
        msg = f"{url} could not be fetched ({status}). {nothing}"
    raise SourceLoadError(msg)


def _connect_reason(exc: Exception) -> str:
    text = str(exc)
    low = text.lower()
    if any(
        s in low
        for s in (
            "name or service not known",
            "nodename nor servname",
            "getaddrinfo",
            "name resolution",
            "no address associated",
            "errno -2",
            "errno -3",
            "errno -5",
            "errno 11001",
        )
    ):
        return "its name could not be looked up (DNS failure)"
    if "refused" in low or "errno 111" in low or "errno 61" in low or "10061" in low:
        return "the connection was refused"
    if "certificate" in low or "ssl" in low:
        return f"a secure connection could not be established ({text})"
    if "unreachable" in low:
        return "the network is unreachable"
    return f"the connection failed ({text or type(exc).__name__})"
