"""Subtitle transcript files (.vtt, .srt, .sbv) as documents of timestamped paragraph blocks."""

from __future__ import annotations

import codecs
import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from notebooklm_local.core.documents import Block, LoadedDocument, SourceRef
from notebooklm_local.core.errors import SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.loaders.files import read_file_bytes
from notebooklm_local.services.loaders.text import decode_legacy

__all__ = [
    "Cue",
    "TranscriptFileLoader",
    "parse_vtt",
    "parse_srt",
    "parse_sbv",
    "collapse_rolling_cues",
    "cues_to_document",
    "decode_subtitle_bytes",
    "title_from_file_stem",
    "vtt_header_title",
]

# Grouping of cues into paragraph-sized blocks.
MAX_BLOCK_WORDS = 60  # never grow a block past this many words (a single longer cue stays whole)
SENTENCE_BREAK_WORDS = 25  # once a block has this many words, end it at the next sentence end
MAX_GAP_SECONDS = 30.0  # a pause longer than this starts a new block

_CANCEL_EVERY = 2000  # check the cancel token every this many cue blocks / cues

_TIMESTAMP = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d+))?"
_TIMING_LINE = re.compile(rf"^\s*{_TIMESTAMP}\s*-->\s*{_TIMESTAMP}(?:\s+.*)?$")
# SubViewer / YouTube Studio .sbv: "0:00:01.250,0:00:04.000" on its own line.
_SBV_TIMING = re.compile(r"^\s*(\d+:\d{1,2}:\d{1,2}(?:\.\d+)?),(\d+:\d{1,2}:\d{1,2}(?:\.\d+)?)\s*$", re.MULTILINE)
_BLOCK_SPLIT = re.compile(r"\n(?:[ \t]*\n)+")
# Tags: <c>, </c>, <c.yellow>, <v Speaker>, <i>, <font color="...">, <00:00:01.000>. A bare "<" in text
# ("x < y") is not a tag because a tag name starts right after the "<".
_TAG = re.compile(r"<(?:/?[A-Za-z][^<>\n]*|\d[\d:.]*)>")
_ASS_OVERRIDE = re.compile(r"\{\\[^{}\n]*\}")  # {\an8} positioning codes some .srt files carry
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*$")
_VTT_SKIPPED_BLOCKS = ("NOTE", "STYLE", "REGION")
_ROLLING_MAX_GAP = 1.0  # seconds: a cue extending the previous cue's text must follow it this closely


@dataclass(frozen=True, slots=True)
class Cue:
    """One caption: ``start``/``end`` in seconds and its (single-line, tag-free) text."""

    start: float
    end: float
    text: str


@dataclass(slots=True)
class _RawCue:
    start: float
    end: float
    lines: list[str]


def _seconds(groups: Sequence[str | None]) -> float | None:
    hours, minutes, seconds, fraction = groups
    mins, secs = int(minutes or 0), int(seconds or 0)
    if mins >= 60 or secs >= 60:
        return None
    value: float = int(hours or 0) * 3600 + mins * 60 + secs
    if fraction:
        value += float("0." + fraction)
    return round(value, 3)


def _parse_timing(line: str) -> tuple[float, float, bool] | None:
    """(start, end, hidden): ``hidden`` for a cue written with zero duration (end == start)."""
    m = _TIMING_LINE.match(line)
    if m is None:
        return None
    start, end = _seconds(m.groups()[:4]), _seconds(m.groups()[4:])
    if start is None or end is None:
        return None
    return start, max(start, end), end == start


def _clean_line(line: str) -> str:
    line = _ASS_OVERRIDE.sub("", _TAG.sub("", line))
    return " ".join(html.unescape(line).split())


def _parse(text: str, *, vtt: bool, cancel: CancelToken | None = None) -> tuple[list[Cue], int, int]:
    """Parse subtitle text into collapsed cues; also return the counts of malformed and of timed cues.

    As in WebVTT, a line with "-->" inside a cue's text ends that cue's payload: a valid timing line
    starts the next cue (a missing blank line), an invalid one drops the rest of the block. Cues of
    zero duration (hidden cues, end == start) are not indexed.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    raw: list[_RawCue] = []
    malformed = 0
    current: _RawCue | None = None

    def start_cue(timing: tuple[float, float, bool]) -> _RawCue:
        cue = _RawCue(timing[0], timing[1], [])
        if not timing[2]:
            raw.append(cue)
        return cue  # a hidden cue still collects its lines, which are then dropped with it

    for i, block in enumerate(_BLOCK_SPLIT.split(text.strip())):
        if cancel is not None and i % _CANCEL_EVERY == 0:
            cancel.raise_if_set()
        lines = block.split("\n")
        first = lines[0].strip()
        timing = _parse_timing(lines[0])
        body_from = 1
        if timing is None and len(lines) > 1:
            timing = _parse_timing(lines[1])  # line 0 is a cue number (srt) or a cue identifier (vtt)
            body_from = 2
        if timing is not None:
            current = start_cue(timing)
            body = lines[body_from:]
        elif i == 0 and first.startswith("WEBVTT"):
            continue  # the header block (may carry "Kind:" and "Language:" lines)
        elif vtt and first.split(" ", 1)[0].split("\t", 1)[0] in _VTT_SKIPPED_BLOCKS:
            continue
        elif current is None or first.isdigit() or "-->" in first or (len(lines) > 1 and "-->" in lines[1]):
            # A numbered or arrowed block without a valid timing line is a broken cue; so is text before any
            # cue. The cue's text is dropped, and the cue after it starts clean.
            malformed += 1
            current = None
            continue
        else:
            body = lines  # text after a blank line inside a cue (or after a whitespace-only line)
        for k, line in enumerate(body):
            if "-->" in line:
                inner = _parse_timing(line)
                if inner is None:
                    malformed += 1
                    current = None
                    break
                # a cue number just before the timing line belongs to the next cue, not to this text
                if k > 0 and body[k - 1].strip().isdigit() and current is not None and current.lines \
                        and current.lines[-1] == body[k - 1].strip():
                    current.lines.pop()
                current = start_cue(inner)
                continue
            cleaned = _clean_line(line)
            if cleaned and current is not None:
                current.lines.append(cleaned)
    return _collapse(raw), malformed, len(raw)


def sbv_to_srt(text: str) -> str:
    """Rewrite .sbv timing lines ("0:00:01.250,0:00:04.000") as SubRip ones; the rest is unchanged."""
    return _SBV_TIMING.sub(lambda m: f"{m.group(1)} --> {m.group(2)}", text)


def _collapse(cues: Sequence[_RawCue]) -> list[Cue]:
    out: list[Cue] = []
    prev_lines: list[str] = []
    prev_end = float("-inf")
    for cue in cues:
        lines = cue.lines
        new = lines
        overlap = 0
        for k in range(min(len(lines), len(prev_lines)), 0, -1):
            if lines[:k] == prev_lines[-k:]:
                overlap = k
                break
        if overlap:
            new = lines[overlap:]
        elif prev_lines and cue.start <= prev_end + _ROLLING_MAX_GAP:
            prev_text, text = " ".join(prev_lines), " ".join(lines)
            if text.startswith(prev_text + " "):
                new = [text[len(prev_text) + 1 :]]
        if lines:
            prev_lines, prev_end = lines, cue.end
        if not new:
            if out and lines and cue.end > out[-1].end:
                out[-1] = Cue(out[-1].start, cue.end, out[-1].text)
            continue
        out.append(Cue(cue.start, cue.end, " ".join(new)))
    return out


def collapse_rolling_cues(cues: Sequence[Cue]) -> list[Cue]:
    """Drop the repeated text of rolling captions (YouTube auto-captions) and empty cues.

    A rolling cue repeats the previous cue's last line(s) and adds a new one, and YouTube adds 10 ms cues
    that only repeat the finished line. Leading lines equal to the previous cue's trailing lines are dropped;
    a cue that follows another within a second and whose text starts with that cue's whole text keeps only
    the rest. A cue left with no text extends the previous kept cue's end instead. (The .vtt/.srt parsers
    already do this.)

    Args:
        cues: Cues in order; a cue's lines may be separated by newlines.

    Returns:
        The kept cues, each with single-line text.
    """
    raw = [_RawCue(c.start, c.end, [s for s in (" ".join(x.split()) for x in c.text.split("\n")) if s]) for c in cues]
    return _collapse(raw)


def parse_vtt(text: str, *, cancel: CancelToken | None = None) -> list[Cue]:
    """Parse WebVTT text: skips the header and NOTE/STYLE/REGION blocks, cue settings and inline tags.

    Args:
        text: The decoded file content.
        cancel: Optional token, checked periodically.

    Returns:
        The cues in file order, rolling duplicates collapsed, malformed cues skipped.
    """
    return _parse(text, vtt=True, cancel=cancel)[0]


def parse_sbv(text: str, *, cancel: CancelToken | None = None) -> list[Cue]:
    """Parse SubViewer / YouTube Studio ``.sbv`` text (``0:00:01.250,0:00:04.000`` timings)."""
    return _parse(sbv_to_srt(text), vtt=False, cancel=cancel)[0]


def parse_srt(text: str, *, cancel: CancelToken | None = None) -> list[Cue]:
    """Parse SubRip text: numbered cues, ``00:00:01,000 --> 00:00:04,000`` timings, HTML-ish tags.

    Args:
        text: The decoded file content.
        cancel: Optional token, checked periodically.

    Returns:
        The cues in file order, rolling duplicates collapsed, malformed cues skipped.
    """
    return _parse(text, vtt=False, cancel=cancel)[0]


def _group(cues: Sequence[Cue], cancel: CancelToken | None) -> list[Block]:
    blocks: list[Block] = []
    texts: list[str] = []
    words = 0
    t_start = t_end = prev_end = 0.0

    def flush() -> None:
        blocks.append(Block(" ".join(texts), kind="cue", t_start=t_start, t_end=t_end))

    for i, cue in enumerate(cues):
        if cancel is not None and i % _CANCEL_EVERY == 0:
            cancel.raise_if_set()
        text = " ".join(cue.text.split())
        if not text:
            continue
        n = text.count(" ") + 1
        if texts and (
            cue.start - prev_end > MAX_GAP_SECONDS
            or words + n > MAX_BLOCK_WORDS
            or (words >= SENTENCE_BREAK_WORDS and _SENTENCE_END.search(texts[-1]) is not None)
        ):
            flush()
            texts, words = [], 0
        if not texts:
            t_start = t_end = cue.start
        texts.append(text)
        words += n
        t_end = max(t_end, cue.end)
        prev_end = cue.end
    if texts:
        flush()
    return blocks


def cues_to_document(
    cues: Sequence[Cue],
    *,
    kind: str,
    title: str,
    metadata: Mapping[str, Any] | None = None,
    flags: Sequence[str] = (),
    original: bytes | None = None,
    original_suffix: str = "",
    cancel: CancelToken | None = None,
) -> LoadedDocument:
    """Group cues into paragraph-sized "cue" blocks, each with ``t_start``/``t_end``, and build the document.

    A block ends before it would pass ``MAX_BLOCK_WORDS`` words, after a sentence end once it has
    ``SENTENCE_BREAK_WORDS`` words, and before a pause of more than ``MAX_GAP_SECONDS``.

    Args:
        cues: The cues in order.
        kind: The document kind ("transcript", "youtube").
        title: The document title.
        metadata: Extra metadata; ``duration`` (seconds, the latest cue end) and ``cues`` (count) are added
            unless given.
        flags: User-visible warnings to attach.
        original: The original bytes to keep.
        original_suffix: The original's file suffix, with dot.
        cancel: Optional token, checked periodically.

    Returns:
        The loaded document.

    Raises:
        SourceLoadError: No cue has any text.
    """
    kept = [c for c in cues if c.text.strip()]
    if not kept:
        raise SourceLoadError(f'"{title}" has no caption text.')
    meta: dict[str, Any] = {"duration": round(max(c.end for c in kept), 3), "cues": len(kept)}
    meta.update(metadata or {})
    return LoadedDocument.from_blocks(
        kind,
        title,
        _group(kept, cancel),
        metadata=meta,
        flags=list(flags),
        original=original,
        original_suffix=original_suffix,
    )


def decode_subtitle_bytes(data: bytes) -> str | None:
    """Decode subtitle file bytes: BOM (UTF-8/16/32), else strict UTF-8, else a Western Windows code page
    when the text fits it, else charset detection (:func:`~notebooklm_local.services.loaders.text.decode_legacy`).

    Args:
        data: The raw file content.

    Returns:
        The text, or None when the bytes do not look like text in any encoding.
    """
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    decoded = decode_legacy(data)
    return None if decoded is None else decoded[0]


def _looks_binary(text: str) -> bool:
    sample = text[:20000]
    bad = sum(1 for ch in sample if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r"))
    return bad > max(2, len(sample) // 50)


# -- titles -------------------------------------------------------------------------------------------

_TITLE_KEY = re.compile(r"^\s*(?:title|name)\s*[:=]\s*(.+?)\s*$", re.IGNORECASE)
# "WEBVTT - English captions", "WEBVTT Subtitles by ...": a description of the file, not the talk's title
_DESCRIPTION = re.compile(r"\b(?:captions?|subtitles?|subs|transcript|cc|sdh)\b\W*$|^(?:captions?|subtitles?|subs)\b",
                          re.IGNORECASE)
_HEADER_META = re.compile(r"^[A-Za-z-]+\s*:")  # "Kind: captions", "Language: en" (header settings, not a title)
# tags file names of downloaded subtitles carry: a language code (".en", ".en-US", ".pt_BR", ".eng"), with
# ".forced"/".sdh"/".cc"/".auto"; a resolution or release tag ("[1080p]", "(720p)", "WEBRip", "x264"); a
# YouTube id in brackets as yt-dlp writes it ("Title [dQw4w9WgXcQ].en.vtt")
_RELEASE_TAG = re.compile(
    r"[\[(](?:\d{3,4}[pi]|4k|uhd|hd|sd)[\])]"
    r"|\b(?:\d{3,4}p|4k|web-?rip|web-?dl|bluray|brrip|hdtv|x26[45]|h\.?26[45]|hevc|aac)\b",
    re.IGNORECASE)
_LANG_CODES = frozenset(
    "en eng fr fre fra de ger deu es spa it ita pt por nl dut nld ru rus ja jpn zh chi zho ko kor pl pol cs cze "
    "ces sv swe da dan no nor fi fin el gre ell tr tur ar ara he heb hi hin hu hun ro rum ron uk ukr "
    "forced sdh cc auto default orig".split())


def vtt_header_title(text: str) -> str:
    """A title a WebVTT file states: text after "WEBVTT" on its first line ("WEBVTT - My talk"), a
    "Title: ..." line in its header, or a NOTE block at the top that holds "Title: ..."; else ""."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff \t\n")
    if not text.startswith("WEBVTT"):
        return ""
    blocks = _BLOCK_SPLIT.split(text.strip())
    header = blocks[0].split("\n")
    rest = header[0][len("WEBVTT"):]
    if rest[:1] in (" ", "\t"):
        candidate = rest.strip(" \t-\u2013\u2014:")
        if candidate and not _HEADER_META.match(candidate) and "-->" not in candidate \
                and not _DESCRIPTION.search(candidate):
            return _clean_title(candidate)
    for line in header[1:]:
        m = _TITLE_KEY.match(line)
        if m and "-->" not in line:
            return _clean_title(m.group(1))
    for block in blocks[1:4]:  # NOTE blocks before the first cue
        lines = block.split("\n")
        first = lines[0].strip()
        if _TIMING_LINE.match(first) or (len(lines) > 1 and _TIMING_LINE.match(lines[1])):
            break
        if first.split(" ", 1)[0] != "NOTE":
            continue
        body = [first[4:].strip(), *lines[1:]]
        for line in body:
            m = _TITLE_KEY.match(line)
            if m:
                return _clean_title(m.group(1))
    return ""


def _clean_title(title: str) -> str:
    title = " ".join(_TAG.sub("", html.unescape(title)).split())
    return title[:200]


def title_from_file_stem(stem: str) -> str:
    """A readable title from a subtitle file's name: language and resolution/release tags removed,
    underscores (and dots between words of release-style names) made spaces. The stem itself when
    nothing readable is left."""
    name = stem.strip()
    # language/"forced" suffixes: only known codes, so "Part.II" or "talk.v2" keep their end
    while True:
        m = re.search(r"[._ -]([A-Za-z]{2,7}(?:[-_][A-Za-z]{2,4})?)$", name)
        if not m:
            break
        code = m.group(1).lower()
        base = re.split(r"[-_]", code)[0]
        if code in _LANG_CODES or (base in _LANG_CODES and code != base):
            name = name[: m.start()]
        else:
            break
    name = re.sub(r"\s*\[[A-Za-z0-9_-]{11}\]$", "", name)  # yt-dlp's "[video id]" at the end
    if " " not in name.strip() and name.count(".") >= 2:
        name = re.sub(r"\.(?!\d)|(?<!\d)\.", " ", name)  # The.Great.Talk.2019 -> The Great Talk 2019 (not 2.5)
    name = _RELEASE_TAG.sub(" ", name)
    if "_" in name:
        name = name.replace("_", " ")
    name = re.sub(r"\s*[\[(]\s*[\])]\s*", " ", name)  # brackets left empty
    name = " ".join(name.split()).strip(" -_.\u2013\u2014")
    return name if re.search(r"\w", name) else stem


class TranscriptFileLoader:
    """Loads .vtt, .srt and .sbv subtitle files into timestamped "cue" blocks."""

    name = "transcript"
    extensions: tuple[str, ...] = (".vtt", ".srt", ".sbv")

    def can_load(self, ref: SourceRef) -> bool:
        """True for a path ending in .vtt, .srt or .sbv (any case)."""
        return ref.path is not None and ref.path.suffix.lower() in self.extensions

    def load(self, ref: SourceRef, cancel: CancelToken) -> LoadedDocument:
        """Read, decode and parse the file.

        Args:
            ref: The source; ``ref.path`` is the subtitle file.
            cancel: Checked between steps and periodically while parsing.

        Returns:
            A "transcript" document whose blocks carry ``t_start``/``t_end``.

        Raises:
            SourceLoadError: The file is missing, unreadable, empty, binary or has no valid cues.
            Cancelled: ``cancel`` was set.
        """
        if ref.path is None:
            raise SourceLoadError("A transcript source needs a .vtt or .srt file.")
        path = ref.path
        name = path.name
        cancel.raise_if_set()
        data = read_file_bytes(path)
        if not data:
            raise SourceLoadError(f'Transcript file "{name}" is empty (0 bytes).')
        text = decode_subtitle_bytes(data)
        if text is None or _looks_binary(text):
            raise SourceLoadError(
                f'"{name}" is not a text subtitle file (it looks like binary data). '
                "Export the transcript as a .vtt or .srt text file and import that."
            )
        if not text.strip():
            raise SourceLoadError(f'Transcript file "{name}" is empty.')
        cancel.raise_if_set()
        suffix = path.suffix.lower()
        vtt = suffix == ".vtt" or text.lstrip("\ufeff \t\r\n").startswith("WEBVTT")
        if suffix == ".sbv" or (not vtt and "-->" not in text and _SBV_TIMING.search(text)):
            text = sbv_to_srt(text)
        cues, malformed, timed = _parse(text, vtt=vtt, cancel=cancel)
        if not cues:
            if not timed:
                raise SourceLoadError(
                    f'"{name}" contains no valid subtitle timestamps (lines like "00:00:01,000 --> 00:00:04,000"), '
                    "so it is not a readable .vtt, .srt or .sbv file."
                )
            raise SourceLoadError(f'"{name}" has subtitle timestamps but no caption text.')
        flags = [f"skipped {malformed} malformed cue{'' if malformed == 1 else 's'}"] if malformed else []
        stated = vtt_header_title(text) if vtt else ""
        title = stated or title_from_file_stem(path.stem)
        return cues_to_document(
            cues,
            kind="transcript",
            title=title,
            metadata={"title_source": "file header"} if stated else None,
            flags=flags,
            original=data,
            original_suffix=suffix,
            cancel=cancel,
        )
