"""A podcast script: two hosts, segments, lines that carry citations; Markdown out and (edited) back in.

The Markdown form is what users edit::

    # Episode title

    ## 1. Topic of the first segment

    **Alex:** Welcome! Today: quantization. [1]

    **Sam:** It stores weights in fewer bits [1][2].

Lines keep their ``[n]`` markers; ``from_markdown`` reads them back, so an edited script keeps its
citations (the service re-checks them against the passages).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from notebooklm_local.core.citations import parse_markers, strip_markers
from notebooklm_local.core.errors import NotebookError

__all__ = ["Host", "PodcastLine", "PodcastScript", "DEFAULT_PERSONAS", "PodcastFormat", "PODCAST_FORMATS",
           "PODCAST_LENGTHS", "podcast_format", "normalize_length", "budget", "checked_prefs", "PREFS_KEY"]

DEFAULT_PERSONAS = (
    "a curious host who asks the questions listeners would ask",
    "a knowledgeable host who explains with concrete examples from the sources",
)


@dataclass(frozen=True)
class PodcastFormat:
    """An audio overview's format: its prompt templates (editable in the templates system), how many
    speakers it has, their default personas, and its (segments, lines per segment) budget per length."""

    name: str
    label: str
    description: str
    outline_template: str
    dialogue_template: str
    speakers: int
    personas: tuple[str, ...]
    budgets: dict[str, tuple[int, int]]

    @property
    def templates(self) -> tuple[str, str]:
        return self.outline_template, self.dialogue_template


PODCAST_LENGTHS = ("short", "default", "long")
_LENGTH_ALIASES = {"medium": "default"}  # the name settings and older outputs used for "default"

PODCAST_FORMATS: dict[str, PodcastFormat] = {f.name: f for f in (
    PodcastFormat("deep-dive", "Deep dive", "Two hosts unpack the sources together, one asking, one explaining.",
                  "podcast_outline", "podcast_dialogue", 2, DEFAULT_PERSONAS,
                  {"short": (3, 4), "default": (4, 6), "long": (6, 8)}),
    PodcastFormat("brief", "Brief", "One voice sums up the key points in a minute or two.",
                  "podcast_brief_outline", "podcast_brief", 1,
                  ("a clear narrator who states the key points plainly",),
                  {"short": (2, 4), "default": (3, 4), "long": (3, 6)}),
    PodcastFormat("critique", "Critique", "A host and a reviewer weigh the sources' gaps, unsupported claims "
                  "and limitations, citing each passage they question.",
                  "podcast_critique_outline", "podcast_critique", 2,
                  ("a host who asks how far the sources can be trusted",
                   "a careful reviewer who points out gaps, unsupported claims and limitations"),
                  {"short": (3, 4), "default": (4, 6), "long": (5, 8)}),
    PodcastFormat("debate", "Debate", "Two hosts take opposite positions the sources support, taking turns, "
                  "each line cited.",
                  "podcast_debate_outline", "podcast_debate", 2,
                  ("argues FOR the position", "argues AGAINST the position"),
                  {"short": (2, 4), "default": (3, 6), "long": (5, 8)}),
)}


def podcast_format(name: str | None) -> PodcastFormat:
    """The format called ``name`` (None or "": deep dive); a clear error for an unknown one."""
    key = (name or "deep-dive").strip().casefold().replace("_", "-").replace(" ", "-")
    key = {"deepdive": "deep-dive"}.get(key, key)
    if key not in PODCAST_FORMATS:
        raise NotebookError(f"Podcast format must be one of: {', '.join(PODCAST_FORMATS)}.")
    return PODCAST_FORMATS[key]


def normalize_length(length: str | None, fallback: str = "default") -> str:
    """short / default / long ("medium" is read as "default"); a clear error for anything else."""
    key = (length or fallback).strip().casefold()
    key = _LENGTH_ALIASES.get(key, key)
    if key not in PODCAST_LENGTHS:
        raise NotebookError(f"Podcast length must be one of: {', '.join(PODCAST_LENGTHS)}.")
    return key


PREFS_KEY = "podcast"  # a notebook's audio overview choices in its settings (core.library, migration 5)


def checked_prefs(raw: Any) -> dict[str, str]:
    """A notebook's stored podcast choices (format, length, language, focus) as they may be used: an unknown
    format is deep dive, an unknown length "" (settings decide), language and focus bounded plain text."""
    raw = raw if isinstance(raw, dict) else {}
    out: dict[str, str] = {}
    try:
        out["format"] = podcast_format(str(raw.get("format") or "deep-dive")).name
    except NotebookError:
        out["format"] = "deep-dive"
    try:
        out["length"] = normalize_length(str(raw["length"])) if raw.get("length") else ""
    except NotebookError:
        out["length"] = ""
    for k, n in (("language", 40), ("focus", 500)):
        v = raw.get(k)
        out[k] = " ".join(v.split())[:n] if isinstance(v, str) else ""
    return out


def budget(fmt: str | PodcastFormat, length: str) -> tuple[int, int]:
    """(segments, lines per segment) for a format at a length."""
    f = fmt if isinstance(fmt, PodcastFormat) else podcast_format(fmt)
    return f.budgets[normalize_length(length)]


@dataclass
class Host:
    name: str
    persona: str = ""


@dataclass
class PodcastLine:
    speaker: str  # a host's name
    text: str  # with [n] markers
    citations: list[int] = field(default_factory=list)
    segment: int = 0  # index into PodcastScript.segments
    supported: bool = True
    flag: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"speaker": self.speaker, "text": self.text, "citations": self.citations, "segment": self.segment,
                "supported": self.supported, "flag": self.flag}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PodcastLine:
        return cls(str(d["speaker"]), str(d["text"]), [int(c) for c in d.get("citations", [])],
                   int(d.get("segment", 0)), bool(d.get("supported", True)), str(d.get("flag", "")))


@dataclass
class PodcastScript:
    title: str
    hosts: list[Host]
    segments: list[str]  # topics
    lines: list[PodcastLine]
    citations: list[dict[str, Any]] = field(default_factory=list)  # Citation.to_json(), by passage_id
    language: str = ""
    format: str = "deep-dive"  # a PODCAST_FORMATS name

    @property
    def unsupported(self) -> list[PodcastLine]:
        return [ln for ln in self.lines if not ln.supported]

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title, "hosts": [{"name": h.name, "persona": h.persona} for h in self.hosts],
            "segments": self.segments, "lines": [ln.to_json() for ln in self.lines], "citations": self.citations,
            "language": self.language, "format": self.format,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PodcastScript:
        return cls(str(d.get("title", "")), [Host(h["name"], h.get("persona", "")) for h in d.get("hosts", [])],
                   list(d.get("segments", [])), [PodcastLine.from_json(x) for x in d.get("lines", [])],
                   list(d.get("citations", [])), str(d.get("language", "")), str(d.get("format") or "deep-dive"))

    def to_markdown(self, *, with_sources: bool = True) -> str:
        out = [f"# {self.title or 'Podcast'}", ""]
        names = " and ".join(h.name for h in self.hosts)
        if len(self.hosts) == 1:
            out += [f"*Presented by {names}.*", ""]
        elif names:
            out += [f"*A conversation between {names}.*", ""]
        seg = None
        for ln in self.lines:
            if ln.segment != seg and 0 <= ln.segment < len(self.segments):
                seg = ln.segment
                out += [f"## {seg + 1}. {self.segments[seg]}", ""]
            mark = "" if ln.supported else " \u26a0"
            out += [f"**{ln.speaker}:** {ln.text}{mark}", ""]
        if with_sources and self.citations:
            out += ["## Sources", ""]
            for c in sorted(self.citations, key=lambda c: c.get("passage_id", 0)):
                loc = f", {c['location']}" if c.get("location") else ""
                quote = re.sub(r"\s+", " ", str(c.get("quote", ""))).strip()
                quote = quote if len(quote) <= 200 else quote[:199] + "\u2026"
                out.append(f"[{c.get('passage_id')}] {c.get('source_title', '')}{loc} \u2014 \u201c{quote}\u201d")
            out.append("")
        return "\n".join(out).rstrip() + "\n"

    def export_markdown(self) -> str:
        """The script as a Markdown file for the user (``--script-out``, ``studio show --markdown``, the
        studio's Export): the model wrote it, so raw HTML, images and script links are made inert
        (``core.note_export.neutralise_html``; Obsidian and many viewers would render them and fetch remote
        URLs). :func:`parse_markdown` reads the file back, with the ``<`` and ``![`` it escaped restored."""
        from notebooklm_local.core.note_export import neutralise_html

        return neutralise_html(self.to_markdown())

    def utterances(self) -> list[tuple[str, str]]:
        """(speaker, text to speak): markers, warning signs and Markdown emphasis removed."""
        out = []
        for ln in self.lines:
            text = strip_markers(ln.text).replace("\u26a0", "")
            text = re.sub(r"[*_`#>]+", "", text).strip()
            if text:
                out.append((ln.speaker, text))
        return out


# (no two adjacent optional runs of spaces: on a hostile line of spaces they backtrack quadratically)
_LINE = re.compile(r"^\s*(?:[-*]\s+)?\*\*(?P<speaker>[^*\n:]{1,60}):?\s{0,3}\*\*\s*:?\s*(?P<text>.*)$")
_SEGMENT = re.compile(r"^\s*##\s+(?:\d+[.)]\s*)?(?P<topic>.*\S)\s*$")


# what neutralise_html escapes in prose (export_markdown), put back when an exported script is read again
_RESTORED = {"&lt;": "<", "\\![": "!["}
_NEUTRALISED = re.compile(r"&lt;|\\!\[")


def parse_markdown(text: str, *, hosts: list[Host] | None = None) -> PodcastScript:
    """Read a (possibly edited) script back. Lines are ``**Name:** text``; ``## topic`` starts a segment;
    continuation lines join the line above; the Sources list is ignored. Raises NotebookError when no
    line is found."""
    title = ""
    segments: list[str] = []
    lines: list[PodcastLine] = []
    bodies: list[list[str]] = []  # each line's pieces, joined once at the end (a long text stays linear)
    in_sources = False
    for raw in text.splitlines():
        s = _NEUTRALISED.sub(lambda m: _RESTORED[m.group(0)], raw.rstrip())  # an exported script read back
        if not s.strip():
            continue
        if s.startswith("# ") and not title:
            title = s[2:].strip()
            continue
        m = _SEGMENT.match(s)
        if m and s.lstrip().startswith("## "):
            topic = m.group("topic")
            in_sources = topic.casefold() in ("sources", "quellen", "sources cited")
            if not in_sources:
                segments.append(topic)
            continue
        if in_sources:
            continue
        m = _LINE.match(s)
        if m:
            lines.append(PodcastLine(m.group("speaker").strip(), "", [], max(0, len(segments) - 1)))
            bodies.append([m.group("text").strip()])
        elif lines and not s.lstrip().startswith(("*A conversation", "_A conversation", "*Presented by")):
            bodies[-1].append(s.strip())
    if not lines:
        raise NotebookError("No dialogue found: write each line as **Name:** what they say.")
    for ln, parts in zip(lines, bodies, strict=True):
        ln.text = " ".join(p for p in parts if p).replace("\u26a0", "").strip()
        ln.citations = list(dict.fromkeys(i for _, _, mids in parse_markers(ln.text) for i in mids))
    speakers = list(dict.fromkeys(ln.speaker for ln in lines))
    if hosts is None:
        hosts = [Host(n) for n in speakers[:2]]
    return PodcastScript(title, hosts, segments, lines)
