"""Markdown -> document blocks (headings with their path, paragraphs, lists, tables, code), inline markup
removed. Used by the text/Markdown file loader and by the web loader (trafilatura renders a page's main
content as Markdown); it lives here so that neither loader imports the other."""

from __future__ import annotations

import re

from notebooklm_local.core.documents import Block

__all__ = ["HeadingStack", "clean_inline_markdown", "markdown_to_blocks"]


_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_H1 = re.compile(r"^ {0,3}=+[ \t]*$")
_SETEXT_H2 = re.compile(r"^ {0,3}-+[ \t]*$")
_THEMATIC = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
_TABLE_ROW = re.compile(r"^[ \t]*\|")
_TABLE_SEP = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_QUOTE = re.compile(r"^ {0,3}>[ \t]?")
_YAML_KEY = re.compile(r"^[A-Za-z_][\w-]*[ \t]*:")

_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_IMAGE = re.compile(r"!\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:[ \t]+(?:\"[^\"]*\"|'[^']*'))?\)")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^()]*\))*(?:[ \t]+(?:\"[^\"]*\"|'[^']*'))?\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^\s<>]+)>")
_STAR_EMPH = re.compile(r"(\*{1,3})(?=\S)(.+?)(?<=\S)\1")
_UNDER_EMPH = re.compile(r"(?<!\w)(_{1,3})(?=\S)(.+?)(?<=\S)\1(?!\w)")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_PROTECTED = re.compile("[\U000f0000-\U000f007f]")


def _protect(text: str) -> str:
    """Map ASCII punctuation to private-use characters so emphasis stripping leaves it alone."""
    return "".join(chr(0xF0000 + ord(c)) if c.isascii() and not c.isalnum() and not c.isspace() else c for c in text)


def clean_inline_markdown(text: str) -> str:
    """Inline Markdown -> plain search text: link/image text kept, URLs and emphasis markers dropped."""
    text = _ESCAPE.sub(lambda m: chr(0xF0000 + ord(m.group(1))), text)
    text = _CODE_SPAN.sub(lambda m: _protect(m.group(2).strip()), text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    for _ in range(2):  # nested emphasis such as **bold _and italic_**
        text = _STAR_EMPH.sub(r"\2", text)
        text = _UNDER_EMPH.sub(r"\2", text)
        text = _STRIKE.sub(r"\1", text)
    return _PROTECTED.sub(lambda m: chr(ord(m.group(0)) - 0xF0000), text)


class HeadingStack:
    """The enclosing headings at the current position, by level."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def push(self, level: int, text: str) -> tuple[str, ...]:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))
        return self.path

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(t for _, t in self._stack)


def _skip_front_matter(lines: list[str]) -> list[str]:
    """Drop a leading YAML front-matter block (``---`` ... ``---``/``...``)."""
    if len(lines) > 2 and lines[0].strip() == "---" and _YAML_KEY.match(lines[1]):
        for i in range(2, min(len(lines), 500)):
            if lines[i].strip() in ("---", "..."):
                return lines[i + 1 :]
    return lines


def markdown_to_blocks(md: str) -> list[Block]:
    """Split Markdown into heading and paragraph blocks with heading paths.

    ATX (``#``..``######``) and setext (``===``/``---`` underlined) headings become ``heading`` blocks whose
    ``heading_path`` includes the heading itself; every following block carries the path of its enclosing
    headings. Paragraphs are split on blank lines (soft line breaks become spaces); consecutive list items
    stay together in one block, one item per line; pipe tables become one block, one row per line. A fenced
    code block is one ``code`` block, verbatim, and a ``#`` inside it is never a heading. Inline Markdown is
    reduced to plain text (link text kept, URLs and emphasis markers dropped). Thematic breaks and a leading
    YAML front matter are dropped.

    Args:
        md: Markdown text.

    Returns:
        Blocks without offsets; pass them to :meth:`LoadedDocument.from_blocks`.
    """
    lines = _skip_front_matter(md.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    blocks: list[Block] = []
    headings = HeadingStack()
    buf: list[str] = []
    buf_kind = ""  # "para", "list" or "table"

    def flush() -> None:
        nonlocal buf, buf_kind
        if buf:
            if buf_kind == "para":
                text = ""
                for line in buf:
                    hard = line.endswith(("  ", "\\"))
                    text += clean_inline_markdown(line.rstrip("\\").strip()) + ("\n" if hard else " ")
            else:
                text = "\n".join(clean_inline_markdown(line) for line in buf)
            if text.strip():
                blocks.append(Block(text.strip(), "paragraph", heading_path=headings.path))
        buf, buf_kind = [], ""

    def heading(level: int, raw: str) -> None:
        text = clean_inline_markdown(raw).strip()
        if text:
            blocks.append(Block(text, "heading", heading_path=headings.push(level, text)))

    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        fence = _FENCE_OPEN.match(line)
        if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            flush()
            marker = fence.group(1)
            closing = re.compile(rf"^ {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
            code: list[str] = []
            while i < len(lines) and not closing.match(lines[i]):
                if lines[i].strip():
                    code.append(lines[i])
                i += 1
            i += 1  # the closing fence (or the end of the text)
            if code:
                blocks.append(Block("\n".join(code), "code", heading_path=headings.path))
            continue
        if not line.strip():
            flush()
            continue
        atx = _ATX.match(line)
        if atx:
            flush()
            heading(len(atx.group(1)), atx.group(2) or "")
            continue
        if buf_kind == "para" and (_SETEXT_H1.match(line) or _SETEXT_H2.match(line)):
            raw = " ".join(part.strip() for part in buf)
            buf, buf_kind = [], ""
            heading(1 if "=" in line else 2, raw)
            continue
        if _THEMATIC.match(line):
            flush()
            continue
        quote = _QUOTE.match(line)
        if quote:
            while quote:
                line = line[quote.end() :]
                quote = _QUOTE.match(line)
            if not line.strip():
                flush()
                continue
        if _TABLE_ROW.match(line):
            if buf_kind != "table":
                flush()
                buf_kind = "table"
            if not _TABLE_SEP.match(line):
                buf.append(" | ".join(cell.strip() for cell in line.strip().strip("|").split("|")))
            continue
        if _LIST_ITEM.match(line):
            if buf_kind != "list":
                flush()
                buf_kind = "list"
            buf.append(line.strip())
            continue
        if buf_kind == "list":  # continuation of the last item
            buf[-1] = f"{buf[-1]} {line.strip()}"
            continue
        if buf_kind == "table":
            flush()
        buf_kind = "para"
        buf.append(line)
    flush()
    return blocks
