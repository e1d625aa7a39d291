"""Model-free studio outputs: every item is a verbatim source sentence with a citation to its exact span.

Nothing here is generated. A :class:`Corpus` is built once from the selected sources (their full text,
chunks as :class:`~notebooklm_local.core.citations.Passage` and, when stored, their blocks); the outputs
are chosen from its sentences:

* :func:`extractive_summary` — central, non-redundant sentences covering each source's sections (headings
  where the document has them, else position bands) within a word budget, in document order;
* :func:`key_quotes` — per source, the most quotable sentences (central, informative, self-contained);
* flashcards, quizzes (``core/cards.py``) and the outline mind map (``core/mindmap.py``) use the same corpus.

Scoring is TF-IDF over sentences (a sentence is a "document"): a sentence's centrality is its cosine to
its source's and its section's centroid (centroid summarisation, Radev et al. 2004), and redundancy is
removed with maximal marginal relevance (Carbonell & Goldstein 1998). Everything is bounded: sentence
splitting is linear in the text, and at most ``max_candidates`` sentences per source (evenly spaced
through it) are scored.

Each item's :class:`~notebooklm_local.core.citations.Citation` has ``start``/``end`` in the source text
(``text[start:end]`` is the sentence, verbatim), the chunk that holds it (``chunk_id``; the span inside
the chunk's text is ``chunk_span``), and its page or timestamp, so the GUI's citation chips open the viewer.

Pure Python.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from notebooklm_local.core.citations import Citation, Passage, format_location, mark_ocr
from notebooklm_local.core.library import HEADING_SEP
from notebooklm_local.core.textutil import STOPWORDS, content_words

__all__ = [
    "LABEL",
    "LENGTHS",
    "sentence_spans",
    "SourceMaterial",
    "Sentence",
    "Corpus",
    "Extract",
    "SummarySection",
    "SourceSummary",
    "ExtractiveSummary",
    "QuoteGroup",
    "KeyQuotes",
    "extractive_summary",
    "key_quotes",
    "Vector",
    "cosine",
    "common_prefix",
    "normalise",
    "terms",
    "n_words",
    "mmr",
    "md_escape",
    "md_footnote",
    "one_line",
]

LABEL = "Extracted from your sources \u2014 nothing generated"

# word budgets of an extractive summary for one source; more sources get more words (see _budget)
LENGTHS: dict[str, int] = {"short": 120, "medium": 280, "long": 600}

MAX_CANDIDATES = 3000  # scored sentences per source (evenly spaced through it)
MAX_SENTENCE_CHARS = 600  # longer "sentences" are flattened tables/code: never candidates

Vector = dict[str, float]

# ---------------------------------------------------------------------------------------------
# Sentence splitting (linear; shared with chat quotes)

_ABBREV = frozenset(
    "e.g i.e etc vs cf fig figs eq eqs no al dr mr mrs ms prof st approx ca sec ch vol pp p ed eds resp "
    "jan feb mar apr jun jul aug sep sept oct nov dec inc ltd co corp jr sr".split()
)
_END = re.compile(
    r"(?:[.!?\u2026]+[\"'\u201d\u2019)\]\u00bb]*(?:[ \t]*\[[^\[\]\n]{1,40}\])*(?=\s|$)"
    r"|[\u3002\uff01\uff1f][\u3002\uff01\uff1f\"'\u201d\u2019)\]\u300d\u300f]*(?:\[[^\[\]\n]{1,40}\])*)"
)
_PARA = re.compile(r"\n[ \t]*\n\s*|\n(?=[ \t]*(?:[-*\u2022\u2023\u25aa\u25e6\u2043]|\d{1,3}[.)])[ \t]+)")
_BULLET = re.compile(r"(?:[-*\u2022\u2023\u25aa\u25e6\u2043]|\d{1,3}[.)]|#{1,6}|[^\w\s\"'\u201c\u2018(\[$\u20ac\u00a3]{1,3})[ \t]+")
_LAST_WORD = re.compile(r"([\w.]+)$")


def sentence_spans(text: str, start: int = 0, end: int | None = None, *, paragraphs: bool = True
                   ) -> list[tuple[int, int]]:
    """Sentence spans ``(a, b)`` of ``text[start:end]`` as offsets into ``text``, stripped of surrounding space
    and of a leading list bullet or Markdown heading mark, so ``text[a:b]`` is the sentence.

    A sentence ends at ``. ! ? …`` followed by space (after closing quotes, brackets or citation markers
    like ``[1]``) or at a CJK full stop; abbreviations (e.g., et al., Dr.), initials and decimals do not end
    one. With ``paragraphs`` (the default) blank lines and list items end sentences too; without, they are
    ordinary space (transcript cues). Linear in the length of the text.
    """
    end = len(text) if end is None else min(end, len(text))
    out: list[tuple[int, int]] = []

    def push(a: int, b: int) -> None:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        for _ in range(2):
            m = _BULLET.match(text, a, b)
            if not m or m.end() >= b:
                break
            a = m.end()
        if b > a:
            out.append((a, b))

    if paragraphs:
        paras, last = [], start
        for m in _PARA.finditer(text, start, end):
            paras.append((last, m.start()))
            last = m.end()
        paras.append((last, end))
    else:
        paras = [(start, end)]
    for pa, pb in paras:
        seg = pa
        for m in _END.finditer(text, pa, pb):
            e = m.end()
            punct = m.group()
            if punct[:1] == "." and not punct.startswith("..") and e < pb:
                lw_m = _LAST_WORD.search(text, max(seg, m.start() - 24), m.start())
                lw = lw_m.group(1).casefold().rstrip(".") if lw_m else ""
                j = e
                while j < pb and text[j] in " \t\n":
                    j += 1
                nxt = text[j : j + 1]
                if lw in _ABBREV or (len(lw) == 1 and lw.isalpha()) or nxt.islower():
                    continue
            push(seg, e)
            seg = e
        push(seg, pb)
    return out


# ---------------------------------------------------------------------------------------------
# Terms and vectors

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_WORDISH = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*", re.UNICODE)


def terms(text: str) -> list[str]:
    """Content terms for TF-IDF: lightly stemmed content words; runs of CJK characters as character bigrams."""
    out = content_words(text)
    if _CJK.search(text):
        res: list[str] = []
        for w in out:
            if _CJK.search(w) and len(w) > 2:
                res += [w[i : i + 2] for i in range(len(w) - 1)]
            else:
                res.append(w)
        return res
    return out


def n_words(text: str) -> int:
    """Words in ``text``; CJK text (no spaces) counts about one word per two characters."""
    cjk = len(_CJK.findall(text))
    return len(_WORDISH.findall(text)) - (1 if cjk and not _CJK.sub("", text).strip() else 0) + cjk // 2


def cosine(a: Vector, b: Vector) -> float:
    """Dot product of two L2-normalised sparse vectors."""
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def normalise(v: Mapping[str, float]) -> Vector:
    n = math.sqrt(sum(w * w for w in v.values()))
    return {t: w / n for t, w in v.items()} if n > 0 else {}


def _centroid(vectors: Iterable[Vector], keep: int = 400) -> Vector:
    acc: Counter[str] = Counter()
    for v in vectors:
        acc.update(v)
    return normalise(dict(acc.most_common(keep)))


def one_line(text: str) -> str:
    """``text`` on one line with single spaces (what is shown for a verbatim sentence)."""
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------
# Material


@dataclass
class SourceMaterial:
    """One source as the outputs need it: its full text, its chunks (as passages, in reading order, with
    ``start``/``end`` in ``text``) and, when stored, its blocks (``{"start", "end", "kind", "page",
    "heading_path", "t_start"}``: give more exact pages/timestamps and the headings)."""

    source_id: str
    title: str
    text: str
    passages: list[Passage]
    blocks: list[dict[str, Any]] = field(default_factory=list)
    kind: str = ""
    url: str | None = None

    @classmethod
    def from_passages(cls, passages: Sequence[Passage], *, blocks: Sequence[dict[str, Any]] = (),
                      kind: str = "") -> SourceMaterial:
        """Rebuild a source's text from its chunks (their spans; gaps become blank lines) when the full text
        is not at hand. All passages must be of one source."""
        if not passages:
            raise ValueError("no passages")
        ps = sorted(passages, key=lambda p: p.start)
        n = max(p.end for p in ps)
        buf = ["\n"] * n
        for p in ps:
            buf[p.start : p.start + len(p.text)] = list(p.text)
        first = ps[0]
        return cls(first.source_id, first.source_title, "".join(buf)[:n], list(ps), list(blocks), kind, first.url)


@dataclass
class Sentence:
    """A candidate sentence: ``source.text[start:end]``, in ``passage`` (a chunk that holds it)."""

    idx: int  # index in Corpus.sentences
    src: int  # index in Corpus.sources
    start: int
    end: int
    text: str
    passage: Passage
    section: tuple[str, ...]  # heading path (() without headings)
    page: int | None
    t_start: float | None
    position: float  # 0..1 through the source
    words: int
    strict: bool  # a complete, self-contained sentence (quotes, cards)
    terms: list[str] = field(default_factory=list)
    vec: Vector = field(default_factory=dict)
    score: float = 0.0  # centrality (0..1)
    info: float = 0.0  # mean IDF of its terms, 0..1 over the corpus

    @property
    def display(self) -> str:
        return one_line(self.text)

    @property
    def chunk_span(self) -> tuple[int, int]:
        a = max(0, self.start - self.passage.start)
        return a, max(a, min(len(self.passage.text), self.end - self.passage.start))

    def citation(self, pid: int, quote: str | None = None) -> Citation:
        p = self.passage
        return Citation(pid, p.chunk_id, p.source_id, p.source_title, self.page, self.t_start, self.start, self.end,
                        self.display if quote is None else quote,
                        mark_ocr(format_location(self.page, None, self.t_start, HEADING_SEP.join(self.section)),
                                 self.page, None, p.ocr_pages), p.url)


_DANGLING_START = frozenset(
    "this that these those it its they them their he she his her him such however but and so also then thus "
    "therefore hence moreover furthermore which here there or nor yet because as".split()
)
_URLISH = re.compile(r"https?://|www\.|\S+@\S+\.\w|[{}<>|\\]{2,}|\$\$|\\[a-zA-Z]+|\\[()\[\]]|[=+/^]{2,}|_{2,}")
_TERMINAL = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019)\]\u00bb\u300d\u300f]*(?:\s*\[[^\[\]]{1,40}\])*$")


def _quality(text: str, words: int) -> tuple[bool, bool]:
    """(usable at all, a strict complete sentence)."""
    if words < 4 or len(text) > MAX_SENTENCE_CHARS:
        return False, False
    letters = sum(ch.isalpha() for ch in text)
    if letters < 0.55 * len(text.replace(" ", "")) or _URLISH.search(text):
        return False, False
    terminal = bool(_TERMINAL.search(text))
    if not terminal and words < 8:
        return False, False
    first = next((ch for ch in text if ch.isalnum()), "")
    starts_ok = bool(first) and not first.islower()
    balanced = text.count("(") == text.count(")") and text.count("[") == text.count("]") and \
        text.count('"') % 2 == 0 and text.count("\u201c") == text.count("\u201d")
    strict = terminal and starts_ok and balanced and 6 <= words <= 60 and text.rstrip()[-1:] != ":"
    return True, strict


class Corpus:
    """The selected sources split into scored candidate sentences; build once, make every output from it.

    ``sources``: the materials; ``sentences``: candidates in source order then document order (at most
    ``max_candidates`` per source, evenly spaced through it); ``idf``: term -> inverse document frequency
    over the candidates. Each sentence has its TF-IDF vector (``vec``), centrality (``score``) and
    informativeness (``info``).
    """

    def __init__(self, sources: Sequence[SourceMaterial], *, max_candidates: int = MAX_CANDIDATES) -> None:
        self.sources = [s for s in sources]
        self.sentences: list[Sentence] = []
        self.n_spans = 0  # sentences found before sampling
        self.sampled: dict[int, bool] = {}
        self.has_headings: dict[int, bool] = {}
        for i, src in enumerate(self.sources):
            self._split(i, src, max_candidates)
        self.df: Counter[str] = Counter()
        for s in self.sentences:
            self.df.update(set(s.terms))
        n = max(1, len(self.sentences))
        self.idf = {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in self.df.items()}
        self._max_idf = math.log(1 + n) + 1.0
        for s in self.sentences:
            tf = Counter(s.terms)
            s.vec = normalise({t: (1 + math.log(c)) * self.idf[t] for t, c in tf.items()})
            s.info = (sum(self.idf[t] for t in tf) / len(tf) / self._max_idf) if tf else 0.0
        self._score()

    # -- building -----------------------------------------------------------------------------
    def _split(self, i: int, src: SourceMaterial, cap: int) -> None:
        text = src.text
        if not text.strip() or not src.passages:
            self.has_headings[i] = False
            return
        blocks = sorted((b for b in src.blocks if isinstance(b, dict) and "start" in b), key=lambda b: b["start"])
        cue_source = bool(blocks) and sum(b.get("kind") == "cue" for b in blocks) > len(blocks) / 2
        spans = sentence_spans(text, paragraphs=not cue_source)
        if cue_source:  # unpunctuated captions: a run-on "sentence" is cut back at its cues
            spans = [x for a, b in spans for x in ([(a, b)] if b - a <= MAX_SENTENCE_CHARS
                                                    else sentence_spans(text, a, b))]
        self.n_spans += len(spans)
        spans = [(a, b) for a, b in spans if 12 <= b - a <= MAX_SENTENCE_CHARS]
        if len(spans) > cap:  # evenly spaced through the source: bounded, still covers every part
            step = len(spans) / cap
            spans = [spans[int(k * step)] for k in range(cap)]
            self.sampled[i] = True
        b_starts = [b["start"] for b in blocks]
        passages = sorted(src.passages, key=lambda p: (p.start, p.end))
        p_starts = [p.start for p in passages]
        heading_blocks = [(b["start"], b["end"]) for b in blocks if b.get("kind") == "heading"]
        h_starts = [a for a, _ in heading_blocks]
        self.has_headings[i] = bool(heading_blocks) or any(p.heading for p in passages)
        # a heading every section shares (the document's title as its only H1) says nothing: left out
        all_paths = [tuple(b.get("heading_path") or ()) for b in blocks if b.get("kind") != "heading"] or \
            [tuple(x for x in p.heading.split(HEADING_SEP) if x) for p in passages]
        common = common_prefix([pth for pth in all_paths if pth])
        first = len(all_paths) and len(all_paths) > 1 and common and any(len(pth) > len(common) for pth in all_paths)
        strip = len(common) if first else 0
        n = max(1, len(text))
        for a, b in spans:
            k = bisect.bisect_right(h_starts, a) - 1  # a heading line is never a candidate
            if k >= 0 and heading_blocks[k][0] <= a < heading_blocks[k][1]:
                continue
            passage = _holder(passages, p_starts, a, b)
            if passage is None:
                continue
            block = None
            if blocks:
                j = bisect.bisect_right(b_starts, a) - 1
                if j >= 0 and blocks[j]["start"] <= a < blocks[j]["end"]:
                    block = blocks[j]
            if block is not None and block.get("kind") == "code":
                continue  # code (a fenced block, <pre>) is searchable, never a summary point, quote or card
            if block is not None:
                path = tuple(str(x) for x in block.get("heading_path") or ())
                page = block.get("page") if block.get("page") is not None else passage.page
                t_start = block.get("t_start") if block.get("t_start") is not None else passage.t_start
            else:
                path = tuple(x for x in passage.heading.split(HEADING_SEP) if x) if passage.heading else ()
                page, t_start = passage.page, passage.t_start
            path = path[strip:] if strip and len(path) >= strip else path
            a = _drop_heading_lines(text, a, b)
            seg = text[a:b]
            w = n_words(seg)
            ok, strict = _quality(seg, w)
            if not ok:
                continue
            s = Sentence(len(self.sentences), i, a, b, seg, passage, path, page, t_start, a / n, w, strict,
                         terms(seg))
            if s.terms:
                self.sentences.append(s)

    def _score(self) -> None:
        by_src: dict[int, list[Sentence]] = {}
        for s in self.sentences:
            by_src.setdefault(s.src, []).append(s)
        for group in by_src.values():
            c_src = _centroid(s.vec for s in group)
            by_sec: dict[tuple[str, ...], list[Sentence]] = {}
            for s in group:
                by_sec.setdefault(s.section[:2], []).append(s)
            for sec in by_sec.values():
                c_sec = _centroid(s.vec for s in sec) if len(sec) > 2 else c_src
                for s in sec:
                    s.score = 0.65 * cosine(s.vec, c_src) + 0.35 * cosine(s.vec, c_sec)

    # -- queries ------------------------------------------------------------------------------
    def of_source(self, i: int) -> list[Sentence]:
        return [s for s in self.sentences if s.src == i]

    def source_index(self, source_id: str) -> int:
        for i, s in enumerate(self.sources):
            if s.source_id == source_id:
                return i
        raise KeyError(source_id)

    @property
    def empty(self) -> bool:
        return not self.sentences


_LINE_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")


def _drop_heading_lines(text: str, a: int, b: int) -> int:
    """Skip a title line glued to the sentence after it by a single line break ("Steps of RLHF Using PPO\nThe
    RLHF process ..."): short, unpunctuated, mostly capitalised words, and the next line starts a sentence."""
    for _ in range(3):
        nl = text.find("\n", a, b)
        if nl < 0:
            return a
        line = text[a:nl].strip()
        ws = _LINE_WORD.findall(line)
        rest = text[nl + 1 : b].lstrip()
        if (not ws or len(ws) > 8 or line[-1:] in ".,;:!?" or not rest[:1].isupper()
                or sum(w[0].isupper() for w in ws if w.casefold() not in STOPWORDS) < 0.6 * len(ws)):
            return a
        a = nl + 1
        while a < b and text[a].isspace():
            a += 1
    return a


def common_prefix(paths: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    if not paths:
        return ()
    out: list[str] = []
    for parts in zip(*paths, strict=False):
        if len(set(parts)) != 1:
            break
        out.append(parts[0])
    return tuple(out)


def _holder(passages: list[Passage], starts: list[int], a: int, b: int) -> Passage | None:
    """The chunk that holds ``[a, b)`` (the first that holds all of it, else the one its start is in)."""
    j = bisect.bisect_right(starts, a) - 1
    fallback = None
    k = j
    while k >= 0 and passages[k].end > a and j - k < 4:
        if passages[k].start <= a and passages[k].end >= b:
            return passages[k]
        if fallback is None and passages[k].start <= a < passages[k].end:
            fallback = passages[k]
        k -= 1
    # overlapping chunks: a later chunk may start before ``a`` too
    k = j + 1
    while k < len(passages) and passages[k].start <= a:
        if passages[k].end >= b:
            return passages[k]
        k += 1
    return fallback


def mmr(candidates: Sequence[Sentence], k: int, *, lam: float = 0.7, max_sim: float = 0.6,
        relevance: Callable[[Sentence], float] | None = None, selected: Sequence[Sentence] = (),
        fits: Callable[[Sentence], bool] | None = None) -> list[Sentence]:
    """Maximal marginal relevance: up to ``k`` sentences, each the best trade of relevance against its
    similarity to those already chosen (``selected`` counts as chosen); a sentence more similar than
    ``max_sim`` to a chosen one is never taken. ``fits`` can refuse a sentence (a budget)."""
    rel = relevance or (lambda s: s.score)
    pool = sorted(candidates, key=lambda s: -rel(s))[: max(50, 8 * k)]
    chosen = list(selected)
    out: list[Sentence] = []
    sims: dict[int, float] = {s.idx: max((cosine(s.vec, c.vec) for c in chosen), default=0.0) for s in pool}
    while pool and len(out) < k:
        best, best_val = None, -1e9
        for s in pool:
            if sims[s.idx] > max_sim or (fits is not None and not fits(s)):
                continue
            val = lam * rel(s) - (1 - lam) * sims[s.idx]
            if val > best_val:
                best, best_val = s, val
        if best is None:
            break
        out.append(best)
        pool.remove(best)
        for s in pool:
            sims[s.idx] = max(sims[s.idx], cosine(s.vec, best.vec))
    return out


# ---------------------------------------------------------------------------------------------
# Items


@dataclass
class Extract:
    """A verbatim source sentence and where it is: ``citation.start``/``end`` in the source text,
    ``chunk_span`` inside the chunk's text (``citation.chunk_id``)."""

    text: str  # exactly source_text[citation.start:citation.end]
    citation: Citation
    chunk_span: tuple[int, int]
    section: tuple[str, ...] = ()
    score: float = 0.0

    @property
    def display(self) -> str:
        return one_line(self.text)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.display, "exact": self.text, "citation": self.citation.to_json(),
                "chunk_span": list(self.chunk_span), "section": HEADING_SEP.join(self.section),
                "score": round(self.score, 4)}

    @classmethod
    def of(cls, s: Sentence, pid: int, score: float | None = None) -> Extract:
        return cls(s.text, s.citation(pid), s.chunk_span, s.section, s.score if score is None else score)


def _md_escape_re() -> re.Pattern[str]:
    return re.compile(r"([\\`*_\[\]$~#|<>])")


_MD_ESC = _md_escape_re()


def md_escape(text: str) -> str:
    """Plain text that Markdown shows as is, on one line."""
    t = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    t = _MD_ESC.sub(r"\\\1", " ".join(t.split()))
    return re.sub(r"&(?=#?\w+;)", "&amp;", t)


def md_footnote(label: str | int, c: Citation, *, quote: bool = False) -> str:
    """A footnote definition like ``core/note_export.py`` writes: source, location, (quote), link."""
    text = md_escape(c.source_title or "Source") + (f", {md_escape(c.location)}" if c.location else "")
    if quote and c.quote:
        q = one_line(c.quote)
        text += f" \u2014 \u201c{md_escape(q if len(q) <= 300 else q[:299] + chr(0x2026))}\u201d"
    if c.url and re.match(r"(?i)https?://\S+$", c.url.strip()):
        text += f" <{c.url.strip()}>"
    return f"[^{label}]: {text}"


# ---------------------------------------------------------------------------------------------
# Extractive summary


@dataclass
class SummarySection:
    title: str  # heading path joined with " › ", a location range ("pp. 3-5", "2:10-4:05"), or "" (one part)
    items: list[Extract]

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "items": [x.to_json() for x in self.items]}


@dataclass
class SourceSummary:
    source_id: str
    title: str
    sections: list[SummarySection]

    @property
    def items(self) -> list[Extract]:
        return [x for sec in self.sections for x in sec.items]

    def to_json(self) -> dict[str, Any]:
        return {"source_id": self.source_id, "title": self.title, "sections": [s.to_json() for s in self.sections]}


@dataclass
class ExtractiveSummary:
    """Per source, per section, verbatim sentences in document order; each cites its span."""

    title: str
    length: str
    budget_words: int
    sources: list[SourceSummary]
    notes: list[str] = field(default_factory=list)
    label: str = LABEL

    @property
    def items(self) -> list[Extract]:
        return [x for s in self.sources for x in s.items]

    @property
    def citations(self) -> list[Citation]:
        return [x.citation for x in self.items]

    @property
    def words(self) -> int:
        return sum(n_words(x.text) for x in self.items)

    @property
    def text(self) -> str:
        """The summary as plain text with ``[n]`` markers (what a note body or a CitedAnswer holds)."""
        parts = []
        for s in self.sources:
            parts.append(" ".join(f"{x.display} [{x.citation.passage_id}]" for x in s.items))
        return "\n\n".join(p for p in parts if p)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "extract_summary", "label": self.label, "title": self.title, "length": self.length,
                "budget_words": self.budget_words, "words": self.words,
                "sources": [s.to_json() for s in self.sources], "citations": [c.to_json() for c in self.citations],
                "text": self.text, "notes": self.notes}

    def to_markdown(self) -> str:
        out = [f"# {md_escape(self.title)}", "", f"*{self.label}.*", ""]
        for s in self.sources:
            if len(self.sources) > 1:
                out += [f"## {md_escape(s.title)}", ""]
            for sec in s.sections:
                if sec.title:
                    out += [f"{'###' if len(self.sources) > 1 else '##'} {md_escape(sec.title)}", ""]
                out += [" ".join(f"{md_escape(x.display)}[^{x.citation.passage_id}]" for x in sec.items), ""]
        if not self.items:
            out += ["*The selected sources have no sentences to extract.*", ""]
        for n in self.notes:
            out += [f"*Note: {md_escape(n)}*", ""]
        out += [md_footnote(x.citation.passage_id, x.citation) for x in self.items]
        return "\n".join(out).rstrip() + "\n"


def _budget(length: str | int, n_sources: int) -> int:
    if isinstance(length, int):
        return max(20, length)
    if length not in LENGTHS:
        raise ValueError(f"length must be one of {', '.join(LENGTHS)} or a number of words")
    base = LENGTHS[length]
    return int(base * min(3.0, 1 + 0.5 * (max(1, n_sources) - 1)))


def _bands(group: Sequence[Sentence], n: int) -> dict[int, int]:
    """Sentence idx -> position band (0..n-1), by position in the source."""
    return {s.idx: min(n - 1, int(s.position * n)) for s in group}


def _band_title(items: Sequence[Sentence]) -> str:
    pages = [s.page for s in items if s.page is not None]
    if pages:
        lo, hi = min(pages), max(pages)
        return format_location(lo, hi, None)
    times = [s.t_start for s in items if s.t_start is not None]
    if times:
        return f"{format_location(None, None, min(times))}\u2013{format_location(None, None, max(times))}"
    return ""


def _summarise_source(corpus: Corpus, i: int, budget: int) -> list[tuple[str, list[Sentence]]]:
    group = corpus.of_source(i)
    if not group or budget <= 0:
        return []
    pool = [s for s in group if s.strict] if sum(s.strict for s in group) >= 3 else group
    if corpus.has_headings.get(i) and any(s.section for s in pool):
        key: Callable[[Sentence], Any] = lambda s: s.section[:2]  # noqa: E731
    else:
        n_bands = max(1, min(6, budget // 70))
        bands = _bands(pool, n_bands)
        key = lambda s: bands[s.idx]  # noqa: E731
    sections: dict[Any, list[Sentence]] = {}
    for s in pool:
        sections.setdefault(key(s), []).append(s)
    used = 0
    chosen: list[Sentence] = []

    def fits(s: Sentence) -> bool:
        return used + s.words <= budget * 1.1 or not chosen

    # 1. coverage: the best sentence of each section, biggest sections first, while the budget lasts
    for _sec_key, members in sorted(sections.items(), key=lambda kv: -len(kv[1])):
        if used >= budget * 0.75:
            break
        pick = mmr(members, 1, selected=chosen, fits=fits)
        if pick:
            chosen.append(pick[0])
            used += pick[0].words
    # 2. fill with the most central, non-redundant sentences anywhere in the source
    while used < budget * 0.9:
        pick = mmr(pool, 1, selected=chosen, fits=fits)
        if not pick:
            break
        chosen.append(pick[0])
        used += pick[0].words
    chosen.sort(key=lambda s: s.start)
    out: list[tuple[str, list[Sentence]]] = []
    by_key: dict[Any, list[Sentence]] = {}
    order: list[Any] = []
    for s in chosen:
        k = key(s)
        if k not in by_key:
            order.append(k)
        by_key.setdefault(k, []).append(s)
    for k in order:
        members = by_key[k]
        if isinstance(k, tuple):
            title = HEADING_SEP.join(k)
        else:
            title = _band_title(sections[k]) if len(order) > 1 else ""
        out.append((title, members))
    return out


def extractive_summary(corpus: Corpus, length: str | int = "medium", *, title: str = "") -> ExtractiveSummary:
    """The most central, non-redundant sentences of each source, covering its sections, within the word
    budget of ``length`` ("short" / "medium" / "long", or a number of words), in document order."""
    budget = _budget(length, len(corpus.sources))
    sizes = {i: len(corpus.of_source(i)) for i in range(len(corpus.sources))}
    weights = {i: math.sqrt(n) for i, n in sizes.items() if n}
    total = sum(weights.values()) or 1.0
    out: list[SourceSummary] = []
    pid = 0
    notes: list[str] = []
    for i, src in enumerate(corpus.sources):
        if not sizes.get(i):
            if corpus.sources and src.text.strip():
                notes.append(f"{src.title}: no complete sentences to extract.")
            elif src.title:
                notes.append(f"{src.title}: no text.")
            continue
        own = sum(x.words for x in corpus.of_source(i))
        share = min(max(25, int(budget * weights[i] / total)), max(25, int(0.4 * own)))  # a summary, not the text
        sections = []
        for sec_title, members in _summarise_source(corpus, i, share):
            items = []
            for s in members:
                pid += 1
                items.append(Extract.of(s, pid))
            sections.append(SummarySection(sec_title, items))
        out.append(SourceSummary(src.source_id, src.title, sections))
    if any(corpus.sampled.values()):
        notes.append("Long sources were sampled: at most "
                     f"{MAX_CANDIDATES} evenly spaced sentences per source were scored.")
    label = "Summary" if not title else title
    return ExtractiveSummary(label, str(length), budget, out, notes)


# ---------------------------------------------------------------------------------------------
# Key quotes


@dataclass
class QuoteGroup:
    source_id: str
    title: str
    quotes: list[Extract]

    def to_json(self) -> dict[str, Any]:
        return {"source_id": self.source_id, "title": self.title, "quotes": [q.to_json() for q in self.quotes]}


@dataclass
class KeyQuotes:
    title: str
    groups: list[QuoteGroup]
    notes: list[str] = field(default_factory=list)
    label: str = LABEL

    @property
    def items(self) -> list[Extract]:
        return [q for g in self.groups for q in g.quotes]

    @property
    def citations(self) -> list[Citation]:
        return [q.citation for q in self.items]

    @property
    def text(self) -> str:
        return "\n".join(f"\u201c{q.display}\u201d [{q.citation.passage_id}]" for q in self.items)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "key_quotes", "label": self.label, "title": self.title,
                "groups": [g.to_json() for g in self.groups], "citations": [c.to_json() for c in self.citations],
                "text": self.text, "notes": self.notes}

    def to_markdown(self) -> str:
        out = [f"# {md_escape(self.title)}", "", f"*{self.label}.*", ""]
        for g in self.groups:
            out += [f"## {md_escape(g.title)}", ""]
            for q in g.quotes:
                loc = f" \u2014 {md_escape(q.citation.location)}" if q.citation.location else ""
                out += [f"> \u201c{md_escape(q.display)}\u201d[^{q.citation.passage_id}]{loc}", ""]
        if not self.items:
            out += ["*The selected sources have no complete sentences to quote.*", ""]
        out += [md_footnote(q.citation.passage_id, q.citation) for q in self.items]
        return "\n".join(out).rstrip() + "\n"


def quotability(s: Sentence) -> float:
    """Central and informative, self-contained, of a quotable length (12-35 words best)."""
    first = _WORDISH.search(s.text)
    dangling = bool(first) and first.group().casefold() in _DANGLING_START  # type: ignore[union-attr]
    length = 1.0 if 10 <= s.words <= 35 else 0.8 if s.words <= 45 else 0.6
    specific = 1.1 if re.search(r"\d|\b[A-Z]{2,}\b", s.text) else 1.0
    return s.score * (0.55 + 0.45 * s.info) * length * specific * (0.6 if dangling else 1.0)


def key_quotes(corpus: Corpus, per_source: int = 5, *, title: str = "Key quotes") -> KeyQuotes:
    """Per source, up to ``per_source`` of the most quotable sentences (non-redundant), best first."""
    per_source = max(1, int(per_source))
    groups: list[QuoteGroup] = []
    pid = 0
    for i, src in enumerate(corpus.sources):
        group = corpus.of_source(i)
        pool = [s for s in group if s.strict] or [s for s in group if s.words >= 6]
        picks = mmr(pool, per_source, relevance=quotability, lam=0.75, max_sim=0.5)
        if not picks:
            continue
        quotes = []
        for s in picks:
            pid += 1
            quotes.append(Extract.of(s, pid, quotability(s)))
        groups.append(QuoteGroup(src.source_id, src.title, quotes))
    notes = [] if groups else ["No complete sentences to quote in the selected sources."]
    return KeyQuotes(title, groups, notes)
