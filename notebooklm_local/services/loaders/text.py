"""Plain-text and Markdown loaders with encoding detection (UTF-8, UTF-16/32 with BOM, UTF-16 without one
in alphabetic scripts, cp1252, ...)."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from notebooklm_local.core.documents import BLOCK_SEPARATOR, Block, LoadedDocument, SourceRef, normalize_text
from notebooklm_local.core.errors import SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.loaders.files import read_file_bytes, read_file_head
from notebooklm_local.services.loaders.markdown_blocks import markdown_to_blocks

__all__ = ["TextLoader", "PastedTextLoader", "decode_text", "looks_like_text", "sniffs_as_text", "decode_legacy", "fits_cp1252", "load_text_bytes", "MAX_TEXT_BYTES"]

MAX_TEXT_BYTES = 200_000_000
_PARA_SPLIT = re.compile(r"\n[ \t]*\n")
_PARA_SPLIT_ANY = re.compile(r"(?:\r\n|\r(?!\n)|\n)[ \t]*(?:\r\n|\r|\n)")  # the same, before \r\n and \r become \n
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")
TEXT_SUFFIXES = (".txt", ".text", ".rst", ".org", ".log", ".csv", ".tsv")


_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")
_ICELANDIC = frozenset("ÐÝÞðýþ")
# cp1250 (Czech, Polish, ...) letters read as cp1252 in places Western languages do not put them:
# ì ò inside a word (Czech ě ň; Italian has them only at a word's end), ø æ without å (Czech ř, Polish ć;
# Danish/Norwegian have å too), œ not before u/i (Polish ś; French œ is in cœur, œil, œuvre), ê at a word's
# end (Polish ę: "się", "proszę"), È Ì Ø (Czech Č Ě Ř).
_CENTRAL_EUROPEAN = re.compile(r"[ìò](?=\w)|(?<!\w)(?=\w*[øæ])(?!\w*å)\w+|œ(?![uil])|\wê(?!\w)|[ÈÌØ]")


def fits_cp1252(data: bytes, *, max_foreign_share: float = 0.6) -> bool:
    """Whether non-UTF-8 bytes read as natural cp1252 text (Western European), the most common legacy encoding.

    Short French or Spanish files fit several single-byte code pages, and charset detection often picks
    cp1250 or a Mac code page ("oů", "ŕ la télé"). cp1252 is preferred unless the text needs another:
    a byte cp1252 leaves undefined, a non-letter (¹ ³ ¿ ¦ ...) inside a word (Polish "¹" is cp1250's
    "ą"), Central European letters in un-Western places (see ``_CENTRAL_EUROPEAN``), Turkish letters
    (cp1254), or mostly non-ASCII letters (Cyrillic or Greek read as accented Latin letters).
    """
    return _western(data, max_foreign_share) == "cp1252"


def _western(data: bytes, max_foreign_share: float = 0.6) -> str | None:
    """"cp1252" or "cp1254" (Turkish) when non-UTF-8 bytes read as natural Western text, else None."""
    sample = data[:200_000]
    if not any(b >= 0x80 for b in sample) or any(b in _CP1252_UNDEFINED for b in sample):
        return None
    text = sample.decode("cp1252")
    if _CENTRAL_EUROPEAN.search(text) or not _latin_fits(text, max_foreign_share):
        return None
    # Ğ İ Ş ğ ı ş are cp1254's bytes for cp1252's Ð Ý Þ ð ý þ: Turkish (80 M speakers) over Icelandic
    return "cp1254" if any(ch in _ICELANDIC for ch in text) else "cp1252"


def _latin_fits(text: str, max_foreign_share: float) -> bool:
    letters = foreign = 0
    for i, ch in enumerate(text):
        if ch.isalpha():
            letters += 1
            if ord(ch) >= 0x80:
                foreign += 1
        elif 0x80 <= ord(ch) <= 0xFF and 0 < i < len(text) - 1 and text[i - 1].isalpha() and text[i + 1].isalpha():
            return False  # e.g. "w¹tek": a symbol inside a word is another code page's letter
    return letters > 0 and foreign / letters <= max_foreign_share


_MULTIBYTE_CJK = ("big5", "gb", "cp932", "cp949", "cp950", "shift_jis", "euc", "hz", "iso2022", "johab")
_CJK_LATIN_MIX = re.compile(r"[A-Za-z][\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\U00020000-\U0002ffff]"
                            r"|[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\U00020000-\U0002ffff][A-Za-z]")


def decode_legacy(data: bytes) -> tuple[str, str] | None:
    """(text, encoding) for bytes that are not UTF-8: Western Windows code pages when the text fits them,
    else charset detection, preferring Windows code pages to Mac/DOS ones of about the same fit and a
    single-byte reading to a CJK one that glues Latin letters to ideographs ("よk te𤦷kk僡ler")."""
    western = _western(data)
    if western:
        return data.decode(western), western
    from charset_normalizer import from_bytes

    results = list(from_bytes(data[:2_000_000]))
    if not results:
        return None
    best = results[0]
    for match in results[1:]:
        windows = match.encoding.startswith("cp125")
        if best.encoding.startswith(("mac_", "cp85", "cp86", "cp437")) and windows and match.chaos <= best.chaos + 0.05:
            best = match
            break
        if best.encoding.startswith(_MULTIBYTE_CJK) and _CJK_LATIN_MIX.search(str(best)) and \
                not match.encoding.startswith(_MULTIBYTE_CJK):
            best = match
            break
    # (no tie-break towards cp1252 here: _western already took cp1252 wherever the text fits it)
    try:
        return data.decode(best.encoding, errors="replace"), best.encoding
    except LookupError:  # pragma: no cover - charset_normalizer only reports codecs Python has
        return None


_TEXT_CONTROLS = frozenset("\t\n\r\f\v")


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16 text saved without a byte-order mark (some Windows tools, PowerShell's ``Out-File``), or None.

    Text in an alphabetic script has a zero byte in one half of many code units (the high byte of
    U+0000-U+00FF: all of Latin-1 text, at least the spaces and newlines of Greek or Cyrillic text), always
    in the same position (at least 5% of them), and (almost) never in the other; binary data has zeros on
    both sides. (CJK text without a BOM has no such zeros: it is not told from binary here.) The decoded text must then be
    text: valid UTF-16 (no lone surrogates) and at most 1% control characters other than whitespace.
    """
    if len(data) < 4 or len(data) % 2:
        return None
    sample = data[:65536]
    pairs = len(sample) // 2
    even = sum(1 for i in range(0, 2 * pairs, 2) if sample[i] == 0)
    odd = sum(1 for i in range(1, 2 * pairs, 2) if sample[i] == 0)
    if odd >= max(2, 0.05 * pairs) and even <= 0.01 * pairs:
        enc = "utf-16-le"
    elif even >= max(2, 0.05 * pairs) and odd <= 0.01 * pairs:
        enc = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(enc)
    except UnicodeDecodeError:
        return None
    probe = text[:32768]
    controls = sum(1 for c in probe if (c < " " or "\x7f" <= c < "\xa0") and c not in _TEXT_CONTROLS)
    if controls > 0.01 * max(1, len(probe)):
        return None
    return text, enc


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """Return (text, encoding). Raises SourceLoadError for binary data."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError as e:
                raise SourceLoadError(f"{name} starts with a {enc} byte-order mark but is not valid {enc}.") from e
    sample = data[:65536]
    if b"\x00" in sample:
        utf16 = _utf16_without_bom(data)
        if utf16 is not None:
            return utf16
        raise SourceLoadError(f"{name} looks like a binary file, not text.")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    decoded = decode_legacy(data)
    if decoded is None:
        raise SourceLoadError(f"{name} looks like a binary file or uses an unknown text encoding.")
    return decoded


SNIFF_BYTES = 8192
_BINARY_CONTROLS = frozenset(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r\f\v\x1b") | {"\x7f"}


def looks_like_text(head: bytes) -> bool:
    """Whether the first bytes of a file read as text, as ``decode_text`` would read them: a byte-order
    mark, or no NUL byte (or UTF-16 without a BOM) and valid UTF-8 or a legacy encoding ``decode_legacy``
    recognises, with at most 1% control characters other than whitespace and ESC (terminal colours in a
    log). Empty is text (the loader then says the file is empty). For files with no extension (README,
    NEWS, LICENSE, ...), whose type only their content tells."""
    if not head or any(head.startswith(bom) for bom, _ in _BOMS):
        return True
    if b"\x00" in head:
        return _utf16_without_bom(head[: len(head) // 4 * 4]) is not None
    try:  # (the sample may end inside a multi-byte character: not final)
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        decoded = decode_legacy(head)
        if decoded is None:
            return False
        text = decoded[0]
    controls = sum(1 for c in text if c in _BINARY_CONTROLS)
    return controls <= 0.01 * max(1, len(text))


def sniffs_as_text(path: Path) -> bool:
    """Whether the local regular file ``path`` starts with text (see ``looks_like_text``); False when it
    is missing, special or unreadable."""
    head = read_file_head(path, SNIFF_BYTES)
    return head is not None and looks_like_text(head)


def _plain_blocks(text: str) -> list[Block]:
    return [Block(p) for p in _paragraphs(text)]


def _paragraphs(text: str) -> Iterator[str]:
    """The non-blank paragraphs of plain text (any newline convention), one at a time: no list of them and
    no newline-converted copy of the whole text is made (a 200 MB file is not held several times)."""
    pos = 0
    for m in _PARA_SPLIT_ANY.finditer(text):
        p = text[pos : m.start()]
        if p.strip():
            yield p
        pos = m.end()
    p = text[pos:]
    if p.strip():
        yield p


def _utf8_start(data: bytes) -> int | None:
    """Where the text starts (0, or 3 after a UTF-8 byte-order mark) when ``decode_text`` would read
    ``data`` as UTF-8; else None. Checked in 1 MB pieces: no decoded copy of the whole file is made."""
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    if not start and (any(data.startswith(bom) for bom, _ in _BOMS) or b"\x00" in data[:65536]):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for i in range(start, len(data), 1 << 20):
            decoder.decode(view[i : i + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    return start


_PARA_SPLIT_BYTES = re.compile(_PARA_SPLIT_ANY.pattern.encode("ascii"))


def _utf8_paragraphs(data: bytes, start: int) -> Iterator[str]:
    """``_paragraphs(data[start:].decode("utf-8"))`` without decoding the whole file: the newline bytes
    never occur inside a UTF-8 multi-byte sequence, so the paragraph breaks are the same in the bytes.
    (A str holding one character beyond U+FFFF takes 4 bytes per character: one decoded copy of a
    200 MB file can take 800 MB.)"""
    view = memoryview(data)
    pos = start
    for m in _PARA_SPLIT_BYTES.finditer(data, start):
        p = codecs.utf_8_decode(view[pos : m.start()])[0]
        if p.strip():
            yield p
        pos = m.end()
    p = codecs.utf_8_decode(view[pos:])[0]
    if p.strip():
        yield p


def _plain_document(paragraphs: Iterable[str], title: str, **kwargs: Any) -> LoadedDocument:
    """``LoadedDocument.from_blocks(kind="text", blocks=[Block(p) for p in paragraphs])`` in one pass, the
    text never whole in memory twice: each paragraph is normalised as it comes (what from_blocks does)
    and appended, UTF-8 encoded, to one buffer decoded once at the end (a str of a 200 MB file with
    characters beyond U+FFFF takes 800 MB; the buffer ~200 MB). The paragraphs' blocks carry no text of
    their own (``doc.block_text(b)`` is their span of ``doc.text``). The same document otherwise."""
    buf = bytearray()
    sep = BLOCK_SEPARATOR.encode("utf-8")
    blocks: list[Block] = []
    pos = 0
    for para in paragraphs:
        t = normalize_text(para)
        if not t:
            continue
        if blocks:
            buf += sep
            pos += len(BLOCK_SEPARATOR)
        buf += t.encode("utf-8", "surrogatepass")
        blocks.append(Block("", "paragraph", None, (), None, None, pos, pos + len(t)))
        pos += len(t)
    joined = buf.decode("utf-8", "surrogatepass")
    del buf
    return LoadedDocument(kind="text", title=title.strip() or "Untitled", text=joined, blocks=blocks, **kwargs)


def _markdown_title(blocks: list[Block]) -> str:
    for b in blocks:
        if b.kind == "heading":
            return b.text.lstrip("#").strip()
    return ""


def load_text_bytes(data: bytes, name: str, *, markdown: bool) -> LoadedDocument:
    """Decode and structure text; Markdown headings become heading blocks and heading paths."""
    if not data:
        raise SourceLoadError(f"{name} is empty (0 bytes).")
    if not markdown:  # plain text: paragraphs cut and normalised one at a time (see _plain_document)
        utf8 = _utf8_start(data)
        if utf8 is not None:  # UTF-8 (most files): cut in the bytes, each paragraph decoded on its own
            paragraphs: Iterable[str] = _utf8_paragraphs(data, utf8)
            encoding = "utf-8-sig" if utf8 else "utf-8"
        else:
            text, encoding = decode_text(data, name)
            paragraphs = _paragraphs(text)
            del text  # the generator holds it until the document is built
        doc = _plain_document(paragraphs, Path(name).stem, metadata={"encoding": encoding}, original=data,
                              original_suffix=".txt")
        if not doc.text:
            raise SourceLoadError(f"{name} contains no text.")
        return doc
    text, encoding = decode_text(data, name)
    blocks = markdown_to_blocks(text)
    title = _markdown_title(blocks) or Path(name).stem
    kind, suffix = "markdown", ".md"
    doc = LoadedDocument.from_blocks(
        kind, title, blocks, metadata={"encoding": encoding}, original=data, original_suffix=suffix
    )
    if not doc.text:
        raise SourceLoadError(f"{name} contains no text.")
    return doc


class TextLoader:
    """Loads plain-text and Markdown files, and files with no extension whose content is text (README,
    NEWS, FAQ, INSTALL, LICENSE, ChangeLog, ...) as plain text."""

    name = "text"
    extensions = TEXT_SUFFIXES + MARKDOWN_SUFFIXES

    def can_load(self, ref: SourceRef) -> bool:
        if ref.path is None:
            return False
        suffix = ref.path.suffix.lower()
        return suffix in self.extensions or (not suffix and sniffs_as_text(ref.path))

    def load(self, ref: SourceRef, cancel: CancelToken) -> LoadedDocument:
        assert ref.path is not None
        data = read_file_bytes(ref.path, MAX_TEXT_BYTES)
        cancel.raise_if_set()
        return load_text_bytes(data, ref.path.name, markdown=ref.path.suffix.lower() in MARKDOWN_SUFFIXES)


class PastedTextLoader:
    """Text the user pasted (treated as Markdown, which plain text also is)."""

    name = "paste"
    extensions: tuple[str, ...] = ()

    def can_load(self, ref: SourceRef) -> bool:
        return ref.text is not None

    def load(self, ref: SourceRef, cancel: CancelToken) -> LoadedDocument:
        assert ref.text is not None
        data = ref.text.encode("utf-8")
        if not ref.text.strip():
            raise SourceLoadError("The pasted text is empty.")
        doc = load_text_bytes(data, ref.title or "Pasted text", markdown=True)
        doc.kind = "paste"
        if ref.title:
            doc.title = ref.title
        return doc
