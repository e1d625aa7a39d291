"""A cited timeline and a cited table of numeric facts, made of the sources' own sentences (no model).

**Timeline.** :func:`find_dates` finds explicit dates in text: ISO dates (``2024-03-12``), "12 March 2024",
"March 12, 2024", "March 2024", quarters ("Q3 2023", "the third quarter of 2023"), decades ("the 1990s"),
ranges ("1998–2001", "from 1998 to 2001") and bare years in a year's context ("in 1998", "(Radford et al.,
2019)"). Numbers that only look like years are refused: a unit or a noun after them ("2048 tokens",
"2048-token", "1536 dimensions"), a product, page or version before them ("RTX 2080", "page 1999",
"v2023"), arithmetic or a run of other numbers around them ("1024, 1536, 2048"), decimals and numbers
glued to words. :func:`timeline` turns every dated sentence of the selected sources into an event: the
sentence (trimmed around the date when long), its date's sort key and precision (day, month, quarter,
year, decade, range), and a citation to the exact span; the same event cited twice (overlapping chunks,
a passage repeated in two sources) is one event with both citations. Events are sorted chronologically.
Without any date it says so (:data:`NO_DATES`).

**Data table.** :func:`data_table` keeps only what a sentence states outright: a quantity with a unit
("175B parameters", "4.8 bits", "$20", "30%") and a named subject (a capitalised name or acronym) in the same
sentence — the nearest one before the quantity, else after it. One row per (subject, quantity), cited.

Both results export as Markdown (a table with footnote citations), CSV (with the source title, its page or
timestamp and the quote) and JSON. Pure Python; see ``core/extractive.py`` for sources and citations.
"""

from __future__ import annotations

import bisect
import csv
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from notebooklm_local.core.citations import Citation, Passage, format_location, mark_ocr
from notebooklm_local.core.extractive import (
    HEADING_SEP,
    LABEL,
    SourceMaterial,
    md_escape,
    md_footnote,
    one_line,
    sentence_spans,
)

__all__ = [
    "DateMention",
    "find_dates",
    "TimelineEvent",
    "Timeline",
    "timeline",
    "NumericFact",
    "DataTable",
    "data_table",
    "find_quantities",
    "NO_DATES",
    "NO_FACTS",
    "csv_safe",
    "timeline_from_json",
    "table_from_json",
]

NO_DATES = "No dated events found in the selected sources."
NO_FACTS = "No numeric facts (a quantity with a unit and a named subject in one sentence) found in the selected sources."
MAX_EVENTS = 1000
MAX_ROWS = 1000
MAX_EVENT_CHARS = 320  # a longer sentence is trimmed around its date (the citation is the trimmed span)
MAX_DATES_PER_SENTENCE = 3  # more is a list or a table, not a sentence about events
YEAR_MIN, YEAR_MAX = 1000, 2100  # explicit dates (with a month, a quarter or in a range)
BARE_MIN, BARE_MAX = 1600, 2040  # a bare year ("in 1998")
BARE_PLAIN_MIN = 1900  # a bare year with no year-like word before it

_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}
_MONTH_NAMES = ["", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
# capitalised month names only ("may" is a verb, "march" a walk)
_MON = (r"(?P<mon>January|February|March|April|May|June|July|August|September|October|November|December"
        r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?")
_DASH = r"\s*(?:-|\u2013|\u2014|to|until|through|and)\s*"
_Y = r"(?<![\w.,/$\u20ac\u00a3#-])"  # a year is not glued to a word, a decimal, a path or a currency
_AFTER = r"(?![\w%\u00b0]|[.,]\d|-[A-Za-z])"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(_Y + r"(?P<y>\d{4})-(?P<m>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])(?![\w])")),
    ("dmy", re.compile(r"(?<![\w])(?P<d>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MON + r",?\s+(?P<y>\d{4})"
                       + _AFTER)),
    ("mdy", re.compile(r"(?<![\w])" + _MON + r"\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})" + _AFTER)),
    ("my", re.compile(r"(?<![\w])" + _MON + r",?\s+(?:of\s+)?(?P<y>\d{4})" + _AFTER)),
    ("quarter", re.compile(r"(?<![\w])(?:Q(?P<q>[1-4])\s*(?P<y>\d{4})|(?P<qw>first|second|third|fourth|1st|2nd|3rd|4th)"
                           r"\s+quarter\s+of\s+(?P<y2>\d{4}))" + _AFTER, re.IGNORECASE)),
    ("range", re.compile(r"(?:\b(?P<pre>(?i:from|between))\s+)?" + _Y + r"(?P<y>\d{4})(?:\s*(?:-|\u2013|\u2014)\s*|"
                         r"\s+(?:to|until|through|and)\s+)(?P<y_end>\d{4}|\d{2})" + _AFTER)),
    ("decade", re.compile(r"(?<![\w.,/-])(?P<y>1[6-9]\d0|20[0-3]0)['\u2019]?s\b")),
    ("year", re.compile(_Y + r"(?P<y>\d{4})" + _AFTER)),
]

# words that make a 4-digit number before them a year ("in 1998", "since 2017", "early 2020")
_YEAR_CUES = frozenset(
    "in since by from until till to during of year years circa c ca around about before after early mid late "
    "as back between and or through throughout summer winter spring autumn fall christmas start end "
    "beginning started founded born died published released introduced launched spring".split())
# words after a number that make it a quantity, not a year
_UNIT_AFTER = frozenset(
    "tokens token words word characters chars bytes byte bits bit kb mb gb tb px pixels dims dimension dimensions "
    "dim parameters params param layers layer heads head steps step epochs epoch samples sample examples "
    "documents docs rows columns items points pages page lines entries records users people times x ms s sec "
    "seconds minutes hours km m cm mm kg g mhz ghz hz w kw watts cores gpus cpus nodes queries requests "
    "vectors embeddings images files chunks batches iterations runs trials questions answers subjects "
    "calories dollars usd eur euros votes stars followers downloads sentences paragraphs units elo "
    "mg ml lb lbs miles feet ft meters metres points pts tflops flops rpm mph kph".split())
# words before a number that make it a name, a page, a version or an amount
_NOT_YEAR_BEFORE = frozenset(
    "rtx gtx rx page p pp pages version v ver no nr number step steps epoch epochs port model size dim "
    "dimension dimensions top layer layers batch seed id issue pr # chapter ch section sec figure fig table "
    "tab eq equation line lines row rows col column item index first last k n d top-k max min length len "
    "window context ctx of_size iso rfc cve a100 h100 dataset score rank =".split())
_NUM_TOKEN = re.compile(r"(?<![\w-])[$\u20ac\u00a3]?\d[\d,.]*")
_WORD_BEFORE = re.compile(r"([\w#=.'-]+)[\s(\[]*$")
_WORD_AFTER = re.compile(r"^[\s)\]]*(?:-)?([A-Za-z\u00b5%\u00d7][\w%]*)")
_RUN_BEFORE = re.compile(r"(?:(?<![\w-])[$\u20ac\u00a3]?\d[\d,.]*[ \t,;/x\u00d7*&+-]+(?:and |or )?)+$")
_RUN_AFTER = re.compile(r"^(?:[ \t,;/x\u00d7*&+-]+(?:and |or )?[$\u20ac\u00a3]?\d[\d,.]*(?![\w-]))+")
_ARITH = re.compile(r"[*/^=+<>\u00d7]\s*$")
_ARITH_AFTER = re.compile(r"^\s*[*/^=+<>\u00d7%]")


@dataclass(frozen=True)
class DateMention:
    """A date written in the text: ``text[start:end]``; ``key`` sorts it (year, month, day), ``key_end`` ends a
    range; ``precision``: day | month | quarter | year | decade | range."""

    start: int
    end: int
    text: str
    key: tuple[int, int, int]
    precision: str
    label: str  # what the timeline shows ("2024-03-12", "Mar 2024", "Q3 2023", "1998", "1990s", "1998–2001")
    key_end: tuple[int, int, int] | None = None

    @property
    def iso(self) -> str:
        y, m, d = self.key
        if self.precision == "day":
            return f"{y:04d}-{m:02d}-{d:02d}"
        if self.precision == "month":
            return f"{y:04d}-{m:02d}"
        if self.precision == "quarter":
            return f"{y:04d}-Q{(m - 1) // 3 + 1}"
        if self.precision == "range" and self.key_end is not None:
            return f"{y:04d}/{self.key_end[0]:04d}"
        return f"{y:04d}"


def _valid_day(y: int, m: int, d: int) -> bool:
    if not 1 <= m <= 12 or d < 1:
        return False
    days = [31, 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return d <= days[m - 1]


def _context_ok(text: str, a: int, b: int, *, bare: bool) -> bool:
    """Whether the number at ``text[a:b]`` can be a year: not a quantity, a name, a page, a version or a term
    of arithmetic or of a list of other numbers."""
    before = text[max(0, a - 40) : a]
    after = text[b : b + 40]
    wb = _WORD_BEFORE.search(before)
    prev = wb.group(1).casefold().strip(".'") if wb and before[wb.end(1):].strip(" \t([") == "" else ""
    wa = _WORD_AFTER.match(after)
    nxt = wa.group(1).casefold() if wa else ""
    if nxt in _UNIT_AFTER or nxt.rstrip("s") in _UNIT_AFTER or nxt in ("x", "\u00d7", "%", "k", "b", "m"):
        return False
    if after[:1] == "-" and after[1:2].isalpha() and not after[1:].casefold().startswith(("era", "s ")):
        return False  # "2048-token", "1999-style"
    if prev in _NOT_YEAR_BEFORE or (prev and prev[-1:].isdigit() and not prev.isdigit()):
        return False  # "RTX 2080", "page 1999", "A100 2048"
    if _ARITH.search(before) or _ARITH_AFTER.match(after):
        return False
    if bare:
        # a run of numbers ("512, 1024, 2048") is a list of sizes, not of years
        # only numbers joined to this one by separators count ("in $6 billion in 2023" is no list)
        tail = _RUN_BEFORE.search(before[-24:])
        head = _RUN_AFTER.match(after[:24])
        near = _NUM_TOKEN.findall(tail.group() if tail else "") + _NUM_TOKEN.findall(head.group() if head else "")
        for n in near:
            digits = n.strip("$\u20ac\u00a3.,").replace(",", "")
            if not digits.isdigit() or not (len(digits) == 4 and BARE_MIN <= int(digits) <= BARE_MAX):
                return False
    return True


def _prev_word(text: str, a: int) -> str:
    wb = _WORD_BEFORE.search(text[max(0, a - 30) : a])
    return wb.group(1).casefold().strip(".'") if wb else ""


def find_dates(text: str, start: int = 0, end: int | None = None) -> list[DateMention]:
    """Explicit dates in ``text[start:end]`` (offsets into ``text``), in text order, not overlapping."""
    end = len(text) if end is None else min(end, len(text))
    found: list[DateMention] = []
    starts: list[int] = []  # taken spans, sorted and disjoint
    ends: list[int] = []

    def free(a: int, b: int) -> bool:
        k = bisect.bisect_left(starts, b)  # spans starting before b: only the last of them can reach past a
        return k == 0 or ends[k - 1] <= a

    def take(a: int, b: int) -> None:
        k = bisect.bisect_left(starts, a)
        starts.insert(k, a)
        ends.insert(k, b)

    for kind, pat in _PATTERNS:
        for m in pat.finditer(text, start, end):
            a, b = m.span()
            if not free(a, b):
                continue
            got = _mention(kind, m, text)
            if got is None:
                if kind in ("iso", "dmy", "mdy") and m.group("y") and YEAR_MIN <= int(m.group("y")) <= YEAR_MAX:
                    take(a, b)  # "31 February 2020" is no date, and not February either
                continue
            if (got.start, got.end) != (a, b) and not free(got.start, got.end):
                continue
            found.append(got)
            take(got.start, got.end)
    found.sort(key=lambda d: d.start)
    return found


def _mention(kind: str, m: re.Match[str], text: str) -> DateMention | None:
    a, b = m.span()
    g = m.groupdict()
    if kind == "iso":
        y, mo, d = int(g["y"]), int(g["m"]), int(g["d"])
        if not (YEAR_MIN <= y <= YEAR_MAX and _valid_day(y, mo, d)):
            return None
        return DateMention(a, b, m.group(), (y, mo, d), "day", f"{y:04d}-{mo:02d}-{d:02d}")
    if kind in ("dmy", "mdy"):
        y, mo, d = int(g["y"]), _MONTHS[g["mon"].casefold().rstrip(".")], int(g["d"])
        if not (YEAR_MIN <= y <= YEAR_MAX and _valid_day(y, mo, d)):
            return None
        return DateMention(a, b, m.group(), (y, mo, d), "day", f"{y:04d}-{mo:02d}-{d:02d}")
    if kind == "my":
        y, mo = int(g["y"]), _MONTHS[g["mon"].casefold().rstrip(".")]
        if not YEAR_MIN <= y <= YEAR_MAX or not _context_ok(text, m.start("y"), b, bare=False):
            return None
        if g["mon"] == "May" and _prev_word(text, a) in ("it", "this", "that", "which", "you", "we", "they", "i"):
            return None
        return DateMention(a, b, m.group(), (y, mo, 0), "month", f"{_MONTH_NAMES[mo]} {y}")
    if kind == "quarter":
        if g.get("q"):
            q, y = int(g["q"]), int(g["y"])
        else:
            q = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
                 "4th": 4}[g["qw"].casefold()]
            y = int(g["y2"])
        if not YEAR_MIN <= y <= YEAR_MAX:
            return None
        return DateMention(a, b, m.group(), (y, 3 * q - 2, 0), "quarter", f"Q{q} {y}")
    if kind == "range":
        y = int(g["y"])
        raw_end = g["y_end"]
        y2 = int(raw_end) if len(raw_end) == 4 else (y // 100) * 100 + int(raw_end)
        sep = text[m.end("y") : m.start("y_end")].strip().casefold()
        if not (BARE_MIN <= y < y2 <= BARE_MAX) or y2 - y > 150:
            return None
        if len(raw_end) == 2 and sep not in ("-", "\u2013", "\u2014"):
            return None
        if sep == "and" and (g.get("pre") or "").casefold() != "between":
            return None  # "1998 and 2001" are two years; "between 1998 and 2001" is a range
        if not _context_ok(text, m.start("y"), m.end("y"), bare=False) or not _context_ok(
                text, m.start("y_end"), b, bare=False):
            return None
        if y < BARE_PLAIN_MIN and not g.get("pre") and _prev_word(text, m.start("y")) not in _YEAR_CUES:
            return None
        s = m.start("y") if not g.get("pre") else a
        return DateMention(s, b, text[s:b], (y, 0, 0), "range", f"{y}\u2013{y2}", (y2, 0, 0))
    if kind == "decade":
        y = int(g["y"])
        return DateMention(a, b, m.group(), (y, 0, 0), "decade", f"{y}s", (y + 9, 0, 0))
    # a bare year
    y = int(g["y"])
    if not BARE_MIN <= y <= BARE_MAX or not _context_ok(text, a, b, bare=True):
        return None
    prev = _prev_word(text, a)
    cue = prev in _YEAR_CUES or text[max(0, a - 2) : a] in (", ", "(") and _author_year(text, a)
    if y < BARE_PLAIN_MIN and not cue:
        return None
    if not cue and not _plain_year_ok(text, a, b):
        return None
    return DateMention(a, b, m.group(), (y, 0, 0), "year", str(y))


def _author_year(text: str, a: int) -> bool:
    """"(Radford et al., 2019)", "(Vaswani, 2017)": a citation's year."""
    seg = text[max(0, a - 60) : a]
    return bool(re.search(r"(?:et al\.?|[A-Z][\w'-]+),\s*$|\(\s*$", seg))


def _plain_year_ok(text: str, a: int, b: int) -> bool:
    """A year with no cue word before it: at the start of a sentence/line, after a comma or in brackets, or
    followed by a clause ("2019 was", "2019: the year ...")."""
    before = text[max(0, a - 3) : a]
    after = text[b : b + 12]
    if before.endswith(("(", "[", ", ", "\n", "\u2014 ", "\u2013 ", "- ", ": ")) or a == 0:
        return True
    if re.match(r"\s*(?:[:)\],.;]|was|is|saw|brought|marked|had|will)\b", after) or re.match(r"\s*[:)\].;,]", after):
        return True
    return False


# ---------------------------------------------------------------------------------------------
# Locating spans in a source (chunk, page, heading)


class _Locator:
    """Where a span of a source's text is: the chunk that holds it, its page or timestamp, its heading path."""

    def __init__(self, src: SourceMaterial) -> None:
        self.src = src
        self.passages = sorted(src.passages, key=lambda p: (p.start, p.end))
        self.p_starts = [p.start for p in self.passages]
        self.blocks = sorted((b for b in src.blocks if isinstance(b, dict) and "start" in b and "end" in b),
                             key=lambda b: b["start"])
        self.b_starts = [b["start"] for b in self.blocks]
        self.headings = [(b["start"], b["end"]) for b in self.blocks if b.get("kind") == "heading"]
        self.h_starts = [h[0] for h in self.headings]
        self.code = [(b["start"], b["end"]) for b in self.blocks if b.get("kind") == "code"]
        self.c_starts = [c[0] for c in self.code]
        self.cue = bool(self.blocks) and sum(b.get("kind") == "cue" for b in self.blocks) > len(self.blocks) / 2

    def passage(self, a: int, b: int) -> Passage | None:
        ps, starts = self.passages, self.p_starts
        j = bisect.bisect_right(starts, a) - 1
        fallback = None
        k = j
        while k >= 0 and j - k < 6:
            p = ps[k]
            if p.start <= a and p.end >= b:
                return p
            if fallback is None and p.start <= a < p.end:
                fallback = p
            k -= 1
        return fallback

    def in_heading(self, a: int) -> bool:
        k = bisect.bisect_right(self.h_starts, a) - 1
        return k >= 0 and self.headings[k][0] <= a < self.headings[k][1]

    def in_code(self, a: int) -> bool:
        """Whether offset ``a`` is in a code block (never an event or a row)."""
        k = bisect.bisect_right(self.c_starts, a) - 1
        return k >= 0 and self.code[k][0] <= a < self.code[k][1]

    def where(self, a: int, p: Passage) -> tuple[int | None, float | None, tuple[str, ...]]:
        block = None
        if self.blocks:
            j = bisect.bisect_right(self.b_starts, a) - 1
            if j >= 0 and self.blocks[j]["start"] <= a < self.blocks[j]["end"]:
                block = self.blocks[j]
        if block is not None:
            path = tuple(str(x) for x in block.get("heading_path") or ())
            page = block.get("page") if block.get("page") is not None else p.page
            t = block.get("t_start") if block.get("t_start") is not None else p.t_start
        else:
            path = tuple(x for x in p.heading.split(HEADING_SEP) if x) if p.heading else ()
            page, t = p.page, p.t_start
        return page, t, path

    def citation(self, pid: int, a: int, b: int, p: Passage) -> Citation:
        page, t, path = self.where(a, p)
        loc = mark_ocr(format_location(page, None, t, HEADING_SEP.join(path)), page, None, p.ocr_pages)
        return Citation(pid, p.chunk_id, p.source_id, p.source_title, page, t, a, b, one_line(self.src.text[a:b]),
                        loc, p.url)


def _trim(text: str, a: int, b: int, da: int, db: int, limit: int = MAX_EVENT_CHARS) -> tuple[int, int]:
    """``[a, b)`` cut to about ``limit`` characters around ``[da, db)`` at word boundaries."""
    if b - a <= limit:
        return a, b
    room = max(0, limit - (db - da))
    lo = max(a, da - room // 2)
    hi = min(b, db + (room - (da - lo)))
    lo = max(a, hi - limit) if hi - lo < limit else lo
    if lo > a:
        sp = text.find(" ", lo, da)
        lo = sp + 1 if sp >= 0 else lo
    if hi < b:
        sp = text.rfind(" ", db, hi)
        hi = sp if sp > db else hi
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return lo, hi


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


# ---------------------------------------------------------------------------------------------
# Timeline


@dataclass
class TimelineEvent:
    """A dated event: ``text`` is exactly ``source_text[citation.start:citation.end]``; ``date_span`` is the
    date's span in the source text. ``also``: the same event cited elsewhere. A generated event (``generated``)
    carries the grounding check's verdict: ``supported`` and, when not, ``flag``."""

    date: DateMention
    text: str
    citation: Citation
    chunk_span: tuple[int, int]
    date_span: tuple[int, int]
    trimmed: tuple[bool, bool] = (False, False)  # cut at the start / at the end
    also: list[Citation] = field(default_factory=list)
    generated: bool = False
    supported: bool = True
    flag: str = ""

    @property
    def display(self) -> str:
        t = one_line(self.text)
        return ("\u2026" if self.trimmed[0] else "") + t + ("\u2026" if self.trimmed[1] else "")

    @property
    def citations(self) -> list[Citation]:
        return [self.citation, *self.also]

    def to_json(self) -> dict[str, Any]:
        d = self.date
        return {"date": d.label, "iso": d.iso, "precision": d.precision, "sort_key": list(d.key),
                "sort_key_end": list(d.key_end) if d.key_end else None, "date_text": d.text,
                "date_span": list(self.date_span), "event": self.display, "exact": self.text,
                "trimmed": list(self.trimmed), "citation": self.citation.to_json(),
                "chunk_span": list(self.chunk_span), "also": [c.to_json() for c in self.also],
                "generated": self.generated, "supported": self.supported, "flag": self.flag}


def _location(c: Citation) -> str:
    return c.location or ""


def csv_safe(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ (a formula) gets a quote mark before it."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@dataclass
class Timeline:
    title: str
    events: list[TimelineEvent]
    notes: list[str] = field(default_factory=list)
    label: str = LABEL
    generated: bool = False
    model: str = ""

    @property
    def citations(self) -> list[Citation]:
        return [e.citation for e in self.events]

    @property
    def empty_message(self) -> str:
        return NO_DATES

    @property
    def text(self) -> str:
        """Plain text with ``[n]`` markers (a note body)."""
        if not self.events:
            return NO_DATES
        return "\n".join(f"- {e.date.label}: {e.display} [{e.citation.passage_id}]" for e in self.events)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "timeline", "label": self.label, "title": self.title, "generated": self.generated,
                "model": self.model, "events": [e.to_json() for e in self.events],
                "citations": [c.to_json() for c in self.citations], "text": self.text, "notes": self.notes}

    def to_markdown(self) -> str:
        out = [f"# {md_escape(self.title)}", "", f"*{self.label}.*", ""]
        if not self.events:
            out += [f"*{NO_DATES}*", ""]
        else:
            out += ["| Date | Event | Source |", "|---|---|---|"]
            for e in self.events:
                mark = "" if e.supported else " \u26a0 " + md_escape(e.flag or "not supported by its passage")
                src = md_escape(e.citation.source_title) + (f", {md_escape(e.citation.location)}"
                                                            if e.citation.location else "")
                out.append(f"| {md_escape(e.date.label)} | {md_escape(e.display)}[^{e.citation.passage_id}]{mark} "
                           f"| {src} |")
            out.append("")
        for n in self.notes:
            out += [f"*Note: {md_escape(n)}*", ""]
        out += [md_footnote(e.citation.passage_id, e.citation, quote=e.generated) for e in self.events]
        return "\n".join(out).rstrip() + "\n"

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["date", "iso", "precision", "event", "source", "location", "page", "timestamp", "quote",
                    "source_id", "start", "end", "supported"])
        for e in self.events:
            c = e.citation
            w.writerow([csv_safe(e.date.label), e.date.iso, e.date.precision, csv_safe(e.display),
                        csv_safe(c.source_title), csv_safe(_location(c)), "" if c.page is None else c.page,
                        "" if c.t_start is None else round(float(c.t_start), 1), csv_safe(one_line(c.quote)),
                        c.source_id, c.start, c.end, "yes" if e.supported else "no"])
        return buf.getvalue()


def _sentences(src: SourceMaterial, loc: _Locator) -> list[tuple[int, int]]:
    spans = sentence_spans(src.text, paragraphs=not loc.cue)
    if loc.cue:
        spans = [x for a, b in spans for x in ([(a, b)] if b - a <= 600 else sentence_spans(src.text, a, b))]
    return spans


def _event_words(text: str, date: DateMention, a: int) -> int:
    rest = text[:date.start - a] + " " + text[date.end - a:]
    return len(re.findall(r"[^\W\d_]{2,}", rest))


def timeline(sources: Sequence[SourceMaterial], *, title: str = "Timeline", max_events: int = MAX_EVENTS) -> Timeline:
    """Every dated sentence of ``sources`` as a cited event, sorted chronologically (ties: source order)."""
    events: list[TimelineEvent] = []
    seen: dict[tuple[Any, ...], TimelineEvent] = {}
    pid = 0
    dropped = 0
    for src in sources:
        if not src.text.strip() or not src.passages:
            continue
        loc = _Locator(src)
        text = src.text
        dates = find_dates(text)
        if not dates:
            continue
        spans = _sentences(src, loc)
        s_starts = [a for a, _ in spans]
        by_sentence: dict[int, list[DateMention]] = {}
        for d in dates:
            k = bisect.bisect_right(s_starts, d.start) - 1
            if k < 0 or not spans[k][0] <= d.start < spans[k][1] or loc.in_heading(d.start) or loc.in_code(d.start):
                continue
            by_sentence.setdefault(k, []).append(d)
        for k, ds in by_sentence.items():
            a, b = spans[k]
            distinct: list[DateMention] = []
            for d in ds:
                if all((x.key, x.key_end) != (d.key, d.key_end) for x in distinct):
                    distinct.append(d)
            rank = {"day": 3, "month": 2, "quarter": 2}
            # "in June 2017 (Vaswani et al., 2017)": one event, at its more precise date
            distinct = [d for d in distinct if not any(
                x is not d and x.key[0] == d.key[0] and x.key_end is None and d.key_end is None
                and rank.get(x.precision, 1) > rank.get(d.precision, 1)
                and (d.key[1] == 0 or x.key[1] == d.key[1]) for x in distinct)]
            if len(distinct) > MAX_DATES_PER_SENTENCE:
                distinct = distinct[:1]  # a list of dates: the sentence once, at its first
            for d in distinct:
                lo, hi = _trim(text, a, b, d.start, d.end)
                seg = text[lo:hi]
                if _event_words(seg, d, lo) < 3:
                    continue  # a bare date or a heading ("January 2024"), not an event
                p = loc.passage(lo, hi)
                if p is None:
                    continue
                key = (d.key, d.key_end, _norm(seg))
                if key in seen:
                    prev = seen[key]
                    if all(c.source_id != p.source_id or c.start != lo for c in prev.citations):
                        pid += 1
                        prev.also.append(loc.citation(pid, lo, hi, p))
                    continue
                if len(events) >= max_events:
                    dropped += 1
                    continue
                pid += 1
                cit = loc.citation(pid, lo, hi, p)
                ca = max(0, lo - p.start)
                ev = TimelineEvent(d, seg, cit, (ca, max(ca, min(len(p.text), hi - p.start))), (d.start, d.end),
                                   (lo > a, hi < b))
                seen[key] = ev
                events.append(ev)
    order = {id(s): i for i, s in enumerate(sources)}
    src_rank = {s.source_id: order[id(s)] for s in sources}
    events.sort(key=lambda e: (e.date.key, e.date.key_end or e.date.key, src_rank.get(e.citation.source_id, 0),
                               e.citation.start))
    notes: list[str] = []
    if dropped:
        notes.append(f"Only the first {max_events} dated events are listed ({dropped} more left out).")
    return Timeline(title, events, notes)


# ---------------------------------------------------------------------------------------------
# Data table of numeric facts

_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9,
          "t": 1e12, "trillion": 1e12}
# unit words a table row may carry (a count noun, a measure, a currency)
_UNITS = frozenset(
    "% percent bit bits byte bytes kb mb gb tb pb kib mib gib ms s sec secs second seconds min mins minute minutes "
    "h hr hrs hour hours day days week weeks month months year years x times token tokens parameter parameters "
    "param params layer layers dimension dimensions dim dims head heads core cores gpu gpus cpu cpus step steps "
    "epoch epochs sample samples example examples document documents word words character characters page pages "
    "km m cm mm kg g mg meter meters metre metres mile miles usd eur dollar dollars euro euros hz khz mhz ghz w kw "
    "mw v fps px users employees customers languages tasks questions benchmarks models experts images hours "
    "tflops flops pflops rows queries requests servers nodes".split())
_CURRENCY = {"$": "USD", "\u20ac": "EUR", "\u00a3": "GBP", "\u00a5": "JPY"}
_QTY = re.compile(
    r"(?<![\w.,/#-])(?P<cur>[$\u20ac\u00a3\u00a5])?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?![.,]\d)(?P<scale>\s?(?:thousand|million|billion|trillion|bn|mn)\b|[kKMBT](?![\w]))?"
    r"(?P<unit>(?:%|(?:\s|-)?(?:[A-Za-z\u00b5][A-Za-z]{0,14}))(?![\w-]))?")
_SUBJECT = re.compile(
    r"(?:[A-Z][\w.+&'\u2019]*(?:[-\s][A-Z0-9][\w.+&]*)*(?:-\d+(?:\.\d+)?[A-Za-z]*)?|[A-Za-z]*[A-Z]{2,}[\w.+&-]*)")


@dataclass(frozen=True)
class Quantity:
    start: int  # in the text given to find_quantities
    end: int
    text: str
    value: float  # with its scale (175B -> 1.75e11)
    unit: str  # normalised ("parameters", "%", "USD", "GB")


def find_quantities(text: str) -> list[Quantity]:
    """Quantities with a unit in ``text``: "175B parameters", "4.8 bits", "$20", "30%", "14 GB". Years,
    bare numbers and numbers inside names ("GPT-3", "Llama 2") are not quantities."""
    out = []
    for m in _QTY.finditer(text):
        num = m.group("num")
        try:
            value = float(num.replace(",", ""))
        except ValueError:
            continue
        scale_raw = (m.group("scale") or "").strip()
        unit_raw = (m.group("unit") or "").strip(" -")
        cur = m.group("cur") or ""
        unit_k = unit_raw.casefold()
        end = m.end()
        if unit_raw and unit_k not in _UNITS and not (unit_k.endswith("s") and unit_k[:-1] in _UNITS):
            if unit_k in _SCALE and not scale_raw:  # "7 B" is a scale; otherwise an ordinary word
                scale_raw, unit_raw, unit_k = unit_raw, "", ""
            else:
                end = m.start("unit")
                unit_raw, unit_k = "", ""
        if scale_raw:
            value *= _SCALE.get(scale_raw.casefold(), 1.0)
        if not unit_raw and not cur and not scale_raw:
            continue
        if not unit_raw and scale_raw and not cur:
            # "175B" alone: a count of what follows when a unit noun does ("175B parameters" was matched above)
            nm = re.match(r"\s+([A-Za-z]+)", text[end : end + 20])
            if nm and (nm.group(1).casefold() in _UNITS):
                unit_raw = nm.group(1)
                end += nm.end()
            else:
                unit_raw = ""
        unit = "%" if unit_k in ("%", "percent") else (_CURRENCY.get(cur, "") if cur and not unit_raw else unit_raw)
        if cur and unit_raw and unit_k not in ("usd", "eur"):
            unit = f"{_CURRENCY.get(cur, cur)} {unit_raw}"
        if not unit and not scale_raw:
            continue
        a = m.start()
        prev = text[max(0, a - 12) : a]
        if re.search(r"(?:[A-Za-z]-|[A-Za-z]\s?)$", prev) and re.search(r"[A-Z][\w]*[-\s]?$", prev) and not cur \
                and unit_k not in ("%", "percent"):
            # "Llama 2 models", "GPT-4 users": the number is part of a name
            pw = re.search(r"([A-Za-z][\w]*)[-\s]?$", prev)
            if pw and pw.group(1)[:1].isupper():
                continue
        if "." not in num and len(num) == 4 and 1600 <= float(num) <= 2100 and (not unit or unit_k == "s"):
            continue  # a year or a decade ("the 1960s")
        out.append(Quantity(a, end, text[a:end], value, unit or scale_raw))
    return out


@dataclass
class NumericFact:
    """A row: ``subject`` and ``quantity`` both occur in ``sentence`` (exactly ``source_text[citation.start:
    citation.end]``)."""

    subject: str
    quantity: str
    unit: str
    value: float
    sentence: str
    citation: Citation
    chunk_span: tuple[int, int]
    also: list[Citation] = field(default_factory=list)
    attribute: str = ""
    generated: bool = False
    supported: bool = True
    flag: str = ""

    @property
    def display(self) -> str:
        return one_line(self.sentence)

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "quantity": self.quantity, "unit": self.unit, "value": self.value,
                "attribute": self.attribute, "sentence": self.display, "exact": self.sentence,
                "citation": self.citation.to_json(), "chunk_span": list(self.chunk_span),
                "also": [c.to_json() for c in self.also], "generated": self.generated,
                "supported": self.supported, "flag": self.flag}


@dataclass
class DataTable:
    title: str
    rows: list[NumericFact]
    notes: list[str] = field(default_factory=list)
    label: str = LABEL
    generated: bool = False
    model: str = ""

    @property
    def citations(self) -> list[Citation]:
        return [r.citation for r in self.rows]

    @property
    def empty_message(self) -> str:
        return NO_FACTS

    @property
    def text(self) -> str:
        if not self.rows:
            return NO_FACTS
        return "\n".join(f"- {r.subject}: {r.quantity} [{r.citation.passage_id}]" for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "data_table", "label": self.label, "title": self.title, "generated": self.generated,
                "model": self.model, "rows": [r.to_json() for r in self.rows],
                "citations": [c.to_json() for c in self.citations], "text": self.text, "notes": self.notes}

    def to_markdown(self) -> str:
        out = [f"# {md_escape(self.title)}", "", f"*{self.label}.*", ""]
        if not self.rows:
            out += [f"*{NO_FACTS}*", ""]
        else:
            out += ["| Subject | Quantity | Context | Source |", "|---|---|---|---|"]
            for r in self.rows:
                mark = "" if r.supported else " \u26a0 " + md_escape(r.flag or "not supported by its passage")
                src = md_escape(r.citation.source_title) + (f", {md_escape(r.citation.location)}"
                                                            if r.citation.location else "")
                q = md_escape(r.quantity) + (f" ({md_escape(r.attribute)})" if r.attribute else "")
                out.append(f"| {md_escape(r.subject)} | {q} | {md_escape(r.display)}[^{r.citation.passage_id}]{mark} "
                           f"| {src} |")
            out.append("")
        for n in self.notes:
            out += [f"*Note: {md_escape(n)}*", ""]
        out += [md_footnote(r.citation.passage_id, r.citation, quote=r.generated) for r in self.rows]
        return "\n".join(out).rstrip() + "\n"

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["subject", "quantity", "value", "unit", "attribute", "context", "source", "location", "page",
                    "timestamp", "quote", "source_id", "start", "end", "supported"])
        for r in self.rows:
            c = r.citation
            w.writerow([csv_safe(r.subject), csv_safe(r.quantity), f"{r.value:g}", csv_safe(r.unit),
                        csv_safe(r.attribute), csv_safe(r.display), csv_safe(c.source_title), csv_safe(_location(c)),
                        "" if c.page is None else c.page, "" if c.t_start is None else round(float(c.t_start), 1),
                        csv_safe(one_line(c.quote)), c.source_id, c.start, c.end, "yes" if r.supported else "no"])
        return buf.getvalue()


_SUBJECT_STOP = frozenset(
    "the a an this that these those it its they we i you he she in on at for of and or but with by from to as "
    "if when while however also then thus so our their his her my your there here what which who how why "
    "table figure fig section chapter step note example see use using first second third each all some most "
    "about over under up down more less than only just yes no not although though because since after before "
    "while until unless whereas during according starting including".split())


def _subjects(sentence: str, lower: Counter[str]) -> list[tuple[int, int, str]]:
    """Named subjects of a sentence: capitalised runs and acronyms that are not a common word capitalised
    at the start of the sentence."""
    out = []
    for m in _SUBJECT.finditer(sentence):
        a, b = m.span()
        s = re.sub(r"['\u2019]s$", "", m.group()).rstrip(".,'\u2019")
        if not s or (a > 0 and (sentence[a - 1].isalnum() or sentence[a - 1] in "-_/")):
            continue
        words = s.split()
        at_start = sentence[:a].strip() == "" or sentence[:a].rstrip()[-1:] in ".:!?\u2022-*"
        while words and (words[0].casefold() in _SUBJECT_STOP or (at_start and len(words) > 1 and not any(
                ch.isupper() for ch in words[0][1:]) and lower.get(words[0].casefold(), 0) > 0)):
            a += len(words[0]) + 1
            words = words[1:]
        while words and words[-1].casefold() in _SUBJECT_STOP:
            words = words[:-1]
        if not words or words[0].casefold().rstrip(".") in _MONTHS or not any(ch.isalpha() for ch in words[0]):
            continue
        if not words:
            continue
        s = " ".join(words)
        first = words[0]
        start_of_sentence = sentence[:a].strip() == "" or sentence[:a].rstrip()[-1:] in ".:!?\u2022-*"
        if len(words) == 1 and not any(ch.isupper() for ch in first[1:]) and not any(ch.isdigit() for ch in first):
            if lower.get(first.casefold(), 0) > 0 or len(first) < 3 or (start_of_sentence and first.endswith("ing")):
                continue
        if s.casefold() in _SUBJECT_STOP or _UNITS.__contains__(s.casefold()) or s in _MONTHS or s.title() in (
                "January", "February", "March", "April", "June", "July", "August", "September", "October",
                "November", "December", "Q1", "Q2", "Q3", "Q4"):
            continue
        out.append((a, a + len(s), s))
    return out


def data_table(sources: Sequence[SourceMaterial], *, title: str = "Data table", max_rows: int = MAX_ROWS) -> DataTable:
    """Rows of (named subject, quantity with unit) stated in one sentence of ``sources``, each cited."""
    lower: Counter[str] = Counter()
    for src in sources:
        for w in re.findall(r"\b[a-z][a-z'-]+\b", src.text[:2_000_000]):
            lower[w] += 1
    rows: list[NumericFact] = []
    seen: dict[tuple[str, str], NumericFact] = {}
    pid = 0
    dropped = 0
    for src in sources:
        if not src.text.strip() or not src.passages:
            continue
        loc = _Locator(src)
        text = src.text
        for a, b in _sentences(src, loc):
            if b - a > 600 or b - a < 12 or loc.in_heading(a) or loc.in_code(a):
                continue
            sent = text[a:b]
            if not any(ch.isdigit() for ch in sent):
                continue
            qs = find_quantities(sent)
            if not qs:
                continue
            subs = _subjects(sent, lower)
            if not subs:
                continue
            for q in qs[:4]:
                before = [s for s in subs if s[1] <= q.start and not (s[0] < q.end and q.start < s[1])]
                after = [s for s in subs if s[0] >= q.end and s[0] - q.end <= 60]
                pick = before[-1] if before else (after[0] if after else None)
                if pick is None:
                    continue
                subject = pick[2]
                key = (subject.casefold(), f"{q.value:g} {q.unit.casefold()}")
                p = loc.passage(a, b)
                if p is None:
                    continue
                if key in seen:
                    prev = seen[key]
                    if all(c.source_id != p.source_id or c.start != a for c in [prev.citation, *prev.also]):
                        pid += 1
                        prev.also.append(loc.citation(pid, a, b, p))
                    continue
                if len(rows) >= max_rows:
                    dropped += 1
                    continue
                pid += 1
                ca = max(0, a - p.start)
                fact = NumericFact(subject, one_line(q.text), q.unit, q.value, sent, loc.citation(pid, a, b, p),
                                   (ca, max(ca, min(len(p.text), b - p.start))), attribute=_attribute(q.unit))
                seen[key] = fact
                rows.append(fact)
    notes: list[str] = []
    if dropped:
        notes.append(f"Only the first {max_rows} facts are listed ({dropped} more left out).")
    return DataTable(title, rows, notes)


def _attribute(unit: str) -> str:
    u = unit.casefold()
    if u in ("%", "percent"):
        return "share"
    if u in ("usd", "eur", "gbp", "jpy") or u.startswith(("usd ", "eur ", "gbp ")):
        return "amount"
    if u in ("kb", "mb", "gb", "tb", "pb", "kib", "mib", "gib", "bytes", "byte"):
        return "size"
    if u in ("ms", "s", "sec", "secs", "second", "seconds", "min", "mins", "minute", "minutes", "h", "hr", "hrs",
             "hour", "hours", "day", "days", "week", "weeks", "month", "months", "year", "years"):
        return "duration"
    return u if u.endswith("s") and len(u) > 3 else ""


# ---------------------------------------------------------------------------------------------
# Stored payloads back into results


def _cit(d: Any) -> Citation:
    return Citation.from_json(d if isinstance(d, dict) else {})


def _key(v: Any) -> tuple[int, int, int]:
    parts = [int(x) for x in (v or [0, 0, 0])][:3]
    return (parts + [0, 0, 0])[0], (parts + [0, 0, 0])[1], (parts + [0, 0, 0])[2]


def timeline_from_json(d: dict[str, Any]) -> Timeline:
    events = []
    for e in d.get("events", []):
        span = e.get("date_span") or [0, 0]
        end_key = e.get("sort_key_end")
        dm = DateMention(int(span[0]), int(span[1]), str(e.get("date_text", e.get("date", ""))), _key(e.get("sort_key")),
                         str(e.get("precision", "year")), str(e.get("date", "")), _key(end_key) if end_key else None)
        cs = e.get("chunk_span") or [0, 0]
        tr = e.get("trimmed") or [False, False]
        events.append(TimelineEvent(dm, str(e.get("exact", e.get("event", ""))), _cit(e.get("citation")),
                                    (int(cs[0]), int(cs[1])), (int(span[0]), int(span[1])), (bool(tr[0]), bool(tr[1])),
                                    [_cit(c) for c in e.get("also", [])], bool(e.get("generated", False)),
                                    bool(e.get("supported", True)), str(e.get("flag", ""))))
    return Timeline(str(d.get("title", "")), events, [str(n) for n in d.get("notes", [])],
                    str(d.get("label", LABEL)), bool(d.get("generated", False)), str(d.get("model", "")))


def table_from_json(d: dict[str, Any]) -> DataTable:
    rows = []
    for r in d.get("rows", []):
        cs = r.get("chunk_span") or [0, 0]
        rows.append(NumericFact(str(r.get("subject", "")), str(r.get("quantity", "")), str(r.get("unit", "")),
                                float(r.get("value", 0.0) or 0.0), str(r.get("exact", r.get("sentence", ""))),
                                _cit(r.get("citation")), (int(cs[0]), int(cs[1])), [_cit(c) for c in r.get("also", [])],
                                str(r.get("attribute", "")), bool(r.get("generated", False)),
                                bool(r.get("supported", True)), str(r.get("flag", ""))))
    return DataTable(str(d.get("title", "")), rows, [str(n) for n in d.get("notes", [])], str(d.get("label", LABEL)),
                     bool(d.get("generated", False)), str(d.get("model", "")))
