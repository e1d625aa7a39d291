"""Quoted answers: the few source sentences that answer a question best, with no generative model.

The built-in model is a small *base* model that cannot answer questions. In "quotes" mode an answer is
made only of verbatim sentences of the retrieved passages, each cited like a model answer's sentence
(same :class:`~notebooklm_local.core.citations.Citation`: exact char span in the source, page or
timestamp, quote equal to the source text), so every UI shows and opens them unchanged.

Pipeline (all pure Python, bounded):

1. **split** each passage into sentences with exact offsets (``passage.text[start:end] == sentence``):
   lines are joined when the text is hard-wrapped and kept apart when they are bullets, Markdown
   headings, titles or one-paragraph-per-line; :func:`textutil.split_sentences` then cuts at sentence
   ends (abbreviations like "e.g.", decimals like "3.5" and URLs do not end a sentence); bullet and
   heading markers are left out of the span; fragments (few words, headings, bare links, tables, code)
   are dropped; over-long "sentences" (flattened tables, code) are cut at clause boundaries.
2. **score** every sentence:

   * lexical evidence: IDF-weighted share of the question's content words the sentence contains
     (light stemming and prefix matching: "quantize" ~ "quantization"), plus a bonus for question
     bigrams found as adjacent words. IDF comes from the candidate sentences (or is passed in); a
     question word found in no passage weighs a lot when it looks like a name (capitalised, digits) and
     little when it is an ordinary word a paraphrase would not repeat;
   * retrieval: the passage's rank and its dense (cosine) similarity to the question;
   * semantic: cosine between the question and the sentence from an injected ``embed(texts) -> vectors``
     callable, for the :data:`SEMANTIC_CANDIDATES` best sentences only (MiniLM on 2 CPU cores embeds a
     sentence in ~3-6 ms, so the whole step stays well under 100 ms).

3. **select** the best sentence; abstain when its score is below :data:`ABSTAIN_THRESHOLD` (calibrated
   on ``bench/data/quotes_qa.json``, see the constant); then add up to ``max_quotes - 1`` more by maximal
   marginal relevance (near-duplicates, e.g. the same sentence in two overlapping chunks, never both),
   keeping only sentences scoring at least :data:`RELATIVE_FLOOR` of the best.
4. **order** the quotes best first: they come from different places, so they do not read as one text
   whichever way they are ordered, and best-first puts the most direct answer where the eye lands (the
   chunk order of a source would put a weak context sentence first half the time).

:func:`quoted_answer` turns the selection into a :class:`CitedAnswer` whose sentence *i* cites passage
*i* (one passage copy per quote, so that each citation chip shows its own exact sentence).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from notebooklm_local.core.citations import AnswerSentence, Citation, CitedAnswer, Passage
from notebooklm_local.core.library import HEADING_SEP
from notebooklm_local.core.textutil import content_words, split_sentences, words

__all__ = [
    "ABSTAIN_TEXT",
    "ABSTAIN_THRESHOLD",
    "ABSTAIN_THRESHOLD_LEXICAL",
    "QuoteCandidate",
    "QuoteResult",
    "split_passage",
    "select_quotes",
    "quoted_answer",
]

ABSTAIN_TEXT = "The selected sources don't seem to answer this."

# Abstention thresholds on the best sentence's score, calibrated with bench/bench_quotes.py on
# bench/data/quotes_qa.json (93 answerable, 34 unanswerable questions over the sample corpus, MiniLM embedder,
# top_k 8; see bench/README.md, "Quotes mode"). Rule: the highest threshold at which an abstention is still
# right at least 90% of the time (a wrong quote is visibly a quote; a wrong abstention hides the answer).
# With the semantic score: at 0.39 abstention precision 0.96, recall 0.65-0.68 (22-23 of 34 unanswerable),
# 1 of 93 answerable abstains; at 0.42 the precision falls to 0.86, at 0.48 to 0.81 (recall 0.85).
ABSTAIN_THRESHOLD = 0.39
# Lexical + retrieval only (no embedder): at 0.38 precision 0.92, recall 0.65, 2 of 93 answerable abstain.
ABSTAIN_THRESHOLD_LEXICAL = 0.38

MAX_QUOTES = 3
RELATIVE_FLOOR = 0.6  # a further quote must score at least this share of the best one (measured before the
# wrap-width fix: 0.8: answer@needle 0.80, 1.9 quotes per answer; 0.7: 0.84, 2.2; 0.6: 0.85, 2.6; after it,
# at 0.6: 0.86 with 2.56 quotes per answer)
MMR_LAMBDA = 0.7  # relevance vs novelty in the maximal-marginal-relevance selection
DUPLICATE_SIM = 0.85  # at or above this cosine to a chosen quote a sentence is a near-duplicate ...
DUPLICATE_JACCARD = 0.6  # ... or at or above this share of content words in common

MAX_PASSAGE_CHARS = 20_000  # scanned per passage (a chunk is ~800 characters; this bounds odd inputs)
MAX_CANDIDATES = 600  # sentences scored lexically, over all passages
SEMANTIC_CANDIDATES = 6  # sentences (best by lexical + retrieval score) embedded for the semantic score (2: answer
# @needle 0.72, 5: 0.81, 8-16: 0.80: the answer is nearly always among the lexical top 6; each costs ~6 ms)
EMBED_CHARS = 240  # of a sentence, embedded (a sentence's start says what it is about; cost grows with length)
MAX_SENTENCE_CHARS = 400  # longer "sentences" (flattened tables, code) are cut at clause boundaries
MIN_WORDS = 4

# score = W_LEX * lexical + W_RET * retrieval + W_SEM * semantic (weights sum to 1 with an embedder;
# without one the semantic weight is shared out in proportion)
W_LEX, W_RET, W_SEM = 0.45, 0.15, 0.40

# question words that say what is asked, not what about (on top of textutil.STOPWORDS), and the
# commonest French/German/Spanish function words (a question in another language still matches on
# its names and numbers, not on "de"/"der")
_QUESTION_WORDS = frozenset(
    """many much kind kinds sort type types way ways actually exactly really thing things something
    someone does did do get gets got make makes made happen happens called call name named mean means
    example examples describe explain tell know according say says said use uses used using
    le la les de des du un une et est en que qui quoi quel quelle quels quelles comment pourquoi
    combien dans pour par sur avec ce cette ces il elle ils elles au aux ou où son sa ses leur
    der die das den dem des ein eine einer eines und ist sind wie was wer wo warum welche welcher
    welches wieviel wieviele viele mit von für auf im zu nicht es sie er
    el los las del una por para con qué cómo cuál cuántos""".split()
)

_URL = re.compile(r"(?:https?://|www\.)\S+|<https?://[^>]*>|\]\([^)]*\)", re.IGNORECASE)
_URL_END = re.compile(r"(?:https?://|www\.)\S+>?$", re.IGNORECASE)
_ABBREV_END = re.compile(r"\b(?:incl|excl|ex|approx|esp|resp|vs|cf|no|nr|ca|min|max|avg|est)\.$", re.IGNORECASE)
_HEADING_LINE = re.compile(r"[ \t]{0,3}#{1,6}[ \t]")
_MARKER = re.compile(
    r"(?:[-*+\u2022\u25e6\u25aa\u2023\u2043\u00b7>]|\d{1,3}[.)]|#{1,6})[ \t]+"
)  # bullet, number, quote or heading marker at the start of a line or sentence
_BULLET_START = re.compile(r"(?:[-*+\u2022\u25e6\u25aa\u2023\u2043\u00b7]|\d{1,3}[.)])[ \t]+")
_TERMINAL = re.compile(r"[.!?:;\u3002\uff01\uff1f][\"'\u201d\u2019)\]]*$")
_CLAUSE = re.compile(r"[;:,\u2013\u2014)]\s+|\s+")


@dataclass
class QuoteCandidate:
    """One source sentence and its scores (offsets are in the text of ``QuoteResult.passages[passage_index]``:
    the retrieved passages, those of one source that overlap joined into one)."""

    passage_index: int
    start: int
    end: int
    text: str
    keys: list[str] = field(default_factory=list, repr=False)
    context: set[str] = field(default_factory=set, repr=False)  # keys of its title and chunk heading
    lexical: float = 0.0
    retrieval: float = 0.0
    semantic: float | None = None
    score: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"passage": self.passage_index, "start": self.start, "end": self.end, "text": self.text[:200],
                "lexical": round(self.lexical, 4), "retrieval": round(self.retrieval, 4),
                "semantic": None if self.semantic is None else round(self.semantic, 4),
                "score": round(self.score, 4)}


@dataclass
class QuoteResult:
    """The chosen quotes (display order), the best candidates with their scores, and the decision."""

    quotes: list[QuoteCandidate]
    candidates: list[QuoteCandidate]  # best first (at most 20 kept, for debugging)
    abstained: bool
    confidence: float  # the best sentence's score
    threshold: float
    semantic: bool  # whether semantic scores were used
    timings: dict[str, float] = field(default_factory=dict)
    n_sentences: int = 0
    passages: list[_Merged] = field(default_factory=list, repr=False)  # what passage_index refers to

    def to_json(self) -> dict[str, Any]:
        return {"abstained": self.abstained, "confidence": round(self.confidence, 4),
                "threshold": self.threshold, "semantic": self.semantic, "n_sentences": self.n_sentences,
                "quotes": [q.to_json() for q in self.quotes],
                "candidates": [c.to_json() for c in self.candidates[:8]], "timings": self.timings}


# ---------------------------------------------------------------------------------------------
# Splitting


def _hard_break(prev: str, line: str, width: int) -> bool:
    """Whether the line break between ``prev`` and ``line`` (both stripped) separates them; ``width`` is
    the longest line around (hard-wrapped text has lines of about one width)."""
    if _HEADING_LINE.match(prev) or _HEADING_LINE.match(line) or _BULLET_START.match(line):
        return True
    if _URL.match(line) or line.startswith(("|", "[", "<", "```")) or _URL_END.search(prev):
        return True
    if _TERMINAL.search(prev):
        return True
    if prev.endswith((",", "-", "(", "/", "&")) or not line[:1].isupper() or _ends_function_word(prev):
        return False  # a wrapped sentence goes on
    # a capitalised line starts something new after a line much shorter than the wrap width (a title, a
    # label), or always when the text is not hard-wrapped (one paragraph per line)
    return width > 110 or len(prev) < 0.7 * width


_FUNCTION_WORDS = frozenset(
    "a an the of to in on at by for from with and or but as than that which who whose its their his her our "
    "your this these those is are was were be been has have had can could will would should may might must "
    "into onto over under between about via per not".split()
)


def _ends_function_word(line: str) -> bool:
    """A line ending in "the", "of", "to"... is cut mid-sentence (no title ends like that)."""
    m = re.search(r"(\w+)\W*$", line)
    return m is not None and m.group(1).casefold() in _FUNCTION_WORDS and not line.rstrip().endswith(('"', "\u201d"))


def _blocks(text: str, n: int) -> list[tuple[int, int, bool]]:
    """Line groups ``(start, end, is_heading)`` of ``text[:n]``: paragraphs, list items, headings."""
    out: list[tuple[int, int, bool]] = []
    # the wrap width: the 90th percentile of line lengths, not the longest line (one URL or table row in a
    # hard-wrapped passage must not make every capitalised line look like the start of something new)
    lengths = sorted(len(s) for ln in text[:n].split("\n") if (s := ln.strip()))
    width = lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0
    cur: list[int] | None = None  # [start, end]
    prev = ""
    pos = 0
    while pos < n:
        nl = text.find("\n", pos, n)
        end = n if nl < 0 else nl
        line = text[pos:end]
        stripped = line.strip()
        if not stripped:
            if cur is not None:
                out.append((cur[0], cur[1], False))
                cur = None
        else:
            a = pos + (len(line) - len(line.lstrip()))
            b = pos + len(line.rstrip())
            heading = bool(_HEADING_LINE.match(line))
            if cur is not None and (heading or _hard_break(prev, stripped, width)):
                out.append((cur[0], cur[1], False))
                cur = None
            if heading:
                out.append((a, b, True))
            elif cur is None:
                cur = [a, b]
            else:
                cur[1] = b
            prev = "" if heading else stripped
        pos = end + 1
    if cur is not None:
        out.append((cur[0], cur[1], False))
    return out


def _chop(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """Cut an over-long span at clause boundaries (then spaces) into pieces of at most MAX_SENTENCE_CHARS."""
    out: list[tuple[int, int]] = []
    while b - a > MAX_SENTENCE_CHARS:
        window = text[a : a + MAX_SENTENCE_CHARS]
        clause = space = -1
        for m in _CLAUSE.finditer(window, MAX_SENTENCE_CHARS // 2):
            if m.group().isspace():
                space = m.end()
            else:
                clause = m.end()
        cut = clause if clause > 0 else space if space > 0 else MAX_SENTENCE_CHARS
        piece_end = a + cut
        while piece_end > a and text[piece_end - 1].isspace():
            piece_end -= 1
        out.append((a, piece_end))
        a += cut
        while a < b and text[a].isspace():
            a += 1
    if b > a:
        out.append((a, b))
    return out


def _strip_marker(text: str, a: int, b: int) -> int:
    """The start of the span after bullet/number/heading markers."""
    while a < b:
        m = _MARKER.match(text, a, b)
        if not m or m.end() >= b:
            break
        a = m.end()
    return a


def _is_fragment(s: str) -> bool:
    """Too short to quote, or a heading, a bare link, a table row or code rather than a sentence."""
    bare = _URL.sub(" ", s)
    ws = words(bare)
    if len(ws) < MIN_WORDS:
        return True
    non_space = [c for c in bare if not c.isspace()]
    if non_space and sum(c.isalpha() for c in non_space) / len(non_space) < 0.55:
        return True  # numbers, symbols, math, code
    if not _TERMINAL.search(s.rstrip()) and len(ws) <= 5 and ":" not in s:
        return True  # a title or label
    return False


def _title_key(s: str) -> str:
    return " ".join(s.split()).strip(" .:").casefold()


def _heading_titles(heading: str | None) -> set[str]:
    """The headings of a passage's heading path, as :func:`_title_key` keys.

    A chunk's text holds its headings as plain lines (no ``#``), so a heading such as "Maximum length of a
    string or BLOB" (7 words) would otherwise be a candidate quote, and the best one for a question that repeats it.
    """
    return {k for part in heading.split(HEADING_SEP) if (k := _title_key(part))} if heading else set()


def _split(text: str, limit: int) -> list[tuple[int, int, str]]:
    """:func:`split_passage`'s spans, each with the title (heading or title line) it comes under."""
    n = min(len(text), limit)
    units: list[tuple[int, int, int]] = []  # (start, end, block number); headings are left out
    items: set[int] = set()  # the blocks that are list items
    for bno, (a, b, heading) in enumerate(_blocks(text, n)):
        if heading:
            units.append((a, b, -1))  # a boundary nothing joins across (and a title for what follows)
            continue
        if _BULLET_START.match(text, a, b):
            items.add(bno)
        merged: list[tuple[int, int]] = []
        for sa, sb in split_sentences(text[a:b]):
            if merged and _ABBREV_END.search(text[a + merged[-1][0] : a + merged[-1][1]]):
                merged[-1] = (merged[-1][0], sb)  # "prompts incl. few-shot": one sentence
            else:
                merged.append((sa, sb))
        for sa, sb in merged:
            for pa, pb in _chop(text, a + sa, a + sb):
                pa = _strip_marker(text, pa, pb)
                if pb > pa and any(c.isalpha() for c in text[pa:pb]):  # (not a lone "1." or "•")
                    units.append((pa, pb, bno))
    joined: list[tuple[int, int, int]] = []
    i = 0
    while i < len(units):
        a, b, bno = units[i]
        i += 1
        if bno < 0:
            joined.append((a, b, bno))
            continue
        if text[a:b].endswith(":"):  # "... can be grouped under:" + what follows
            # a list's first items (whole items, up to 3, as many as fit), else up to 3 sentences (the rest of its
            # paragraph, or an example and what follows it)
            blocks = absorbed = 0
            listed = i < len(units) and units[i][2] in items
            first_item = i
            while i < len(units) and units[i][2] >= 0 and units[i][1] - a <= MAX_SENTENCE_CHARS:
                nxt = units[i][2]
                if not listed and absorbed >= 3:
                    break
                if listed and nxt != units[i - 1][2]:  # a new list item
                    if blocks and (nxt not in items or blocks >= 3):
                        break  # (a paragraph after the items is not the list)
                    end = i
                    while end + 1 < len(units) and units[end + 1][2] == nxt:
                        end += 1
                    if blocks and units[end][1] - a > MAX_SENTENCE_CHARS:
                        break  # a further item only whole
                    blocks += 1
                b = units[i][1]
                i += 1
                absorbed += 1
                if nxt == bno:
                    break  # (the next sentence of the same paragraph completes the introduction)
            if listed and i > first_item:
                # each item is also a candidate of its own, whole (one of them may be the answer; an item's
                # sentences say more together: "Pre vs Post-Norm: ... Most models use pre-norm, as ...")
                joined.append((a, b, bno))
                k = first_item
                while k < i:
                    end = k
                    while end + 1 < len(units) and units[end + 1][2] == units[k][2]:
                        end += 1
                    if end >= i:  # an item absorbed in part: its sentences as usual
                        break
                    joined.append((units[k][0], units[end][1], units[k][2]))
                    k = end + 1
                i = k
                continue
        if (bno >= 0 and i < len(units) and units[i][2] == bno and (i < 2 or units[i - 2][2] != bno)
                and len(words(text[a:b])) < MIN_WORDS and units[i][1] - a <= MAX_SENTENCE_CHARS):
            b = units[i][1]  # a label opening its item ("INTEGER. The value is a signed integer...") goes with what follows
            i += 1
        prev = joined[-1] if joined else None
        seg = text[a:b]
        if (prev is not None and prev[2] == bno and b - prev[0] <= MAX_SENTENCE_CHARS
                and (len(seg) < 50 or len(words(seg)) < 8 or seg[:1].islower())):
            joined[-1] = (prev[0], b, bno)  # a short sentence (or a cut one's rest) goes with the one before
        else:
            joined.append((a, b, bno))
    out: list[tuple[int, int, str]] = []
    title = ""
    for a, b, bno in joined:
        seg = text[a:b]
        if bno < 0:
            title = seg.strip().lstrip("#").strip()
        elif not _is_fragment(seg):
            out.append((a, b, title))
        elif len(words(seg)) <= 8 and not _TERMINAL.search(seg):
            title = seg  # a title line ("mechanistic interpretability") says what the next sentences are about
    return out


def split_passage(text: str, limit: int = MAX_PASSAGE_CHARS) -> list[tuple[int, int]]:
    """Quotable sentence spans ``(start, end)`` of ``text`` (its first ``limit`` characters), in order.

    Every span is verbatim: ``text[start:end]`` is the sentence, without surrounding space or a leading
    bullet/heading marker. A very short sentence is quoted with the one before it in its paragraph
    ("Textual FSM: Step 1, Step 2. If Step-2 fails then Step-4."), an introduction ending with a colon
    with the items after it. Headings, bare links and short fragments are left out.
    """
    return [(a, b) for a, b, _title in _split(text, limit)]


# ---------------------------------------------------------------------------------------------
# Scoring

_SUFFIXES = ("izations", "isations", "ization", "isation", "ations", "ation", "ities", "ity", "ness", "ments",
             "ment", "ally", "ly", "ized", "ised", "izes", "ises", "ize", "ise", "ers", "er", "al", "ic", "e")


def _key(stem: str) -> str:
    """A content word reduced a little further than textutil's stem (quantization -> quantiz)."""
    for suf in _SUFFIXES:
        if stem.endswith(suf) and len(stem) - len(suf) >= 4:
            return stem[: -len(suf)]
    return stem


_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}


def _keys(text: str) -> list[str]:
    out = [_NUMBER_WORDS.get(w) or _key(w) for w in content_words(text) if w not in _QUESTION_WORDS]
    if "_" in text:  # an identifier also stands for its words: sqlite3_last_insert_rowid ~ "last inserted rowid"
        out += [k for w in out if "_" in w for k in _keys(w.replace("_", " "))]
    return out


def _entity_like(question: str) -> set[str]:
    """Keys of the question's words that look like names: capitalised inside the sentence, all caps,
    mixed case or with digits (Mixtral, QLoRA, 8x7B, H100)."""
    out: set[str] = set()
    for i, m in enumerate(re.finditer(r"\w+", question)):
        w = m.group()
        if any(c.isdigit() for c in w) or (w[:1].isupper() and i > 0) or sum(c.isupper() for c in w) > 1:
            out.update(_keys(w))
    return out


def _match(term: str, keys: set[str]) -> float:
    """1 for the same key, 0.8 when one is a long prefix of the other (retriev ~ retrieval), else 0."""
    if term in keys:
        return 1.0
    if len(term) >= 5:
        for k in keys:
            if len(k) >= 5 and (k.startswith(term) or term.startswith(k)) and min(len(k), len(term)) >= 0.7 * max(
                len(k), len(term)
            ):
                return 0.8
    return 0.0


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _weights(q_terms: list[str], cands: list[QuoteCandidate], idf: Mapping[str, float] | None,
             entities: set[str]) -> dict[str, float]:
    n = len(cands)
    df: dict[str, int] = {t: 0 for t in q_terms}
    for c in cands:
        ks = set(c.keys)
        for t in df:
            if _match(t, ks):
                df[t] += 1
    w: dict[str, float] = {}
    for t in q_terms:
        if idf is not None and t in idf:
            w[t] = float(idf[t])
        elif df[t]:
            w[t] = 1.0 + math.log((n + 1) / (df[t] + 0.5))
        elif t in entities:  # a name no passage mentions: the passages are about something else
            w[t] = 1.0 + math.log(2 * (n + 1))
        else:  # an ordinary word no passage uses: likely a paraphrase; it counts a little
            w[t] = 1.0
    return w


def _lexical(q_terms: list[str], q_bigrams: list[tuple[str, str]], w: Mapping[str, float],
             c: QuoteCandidate) -> float:
    ks = set(c.keys)
    total = sum(w[t] for t in q_terms)
    if not total:
        return 0.0
    # a question word found only in the sentence's title or heading counts half
    got = sum(w[t] * max(_match(t, ks), 0.5 * _match(t, c.context)) for t in q_terms)
    lex = got / total
    if not q_bigrams:
        return lex
    adjacent = set(zip(c.keys, c.keys[1:], strict=False))
    bw = sum((w[a] + w[b]) / 2 for a, b in q_bigrams)
    bgot = sum((w[a] + w[b]) / 2 for a, b in q_bigrams if (a, b) in adjacent or (b, a) in adjacent)
    return 0.8 * lex + 0.2 * (bgot / bw if bw else 0.0)


_QUANTITY_Q = re.compile(
    r"\b(?:how\s+(?:many|much|deep|far|fast|long|large|big|high|tall|old|expensive|often|wide|heavy|small)|"
    r"what\s+(?:share|percentage|fraction|proportion|number|size|amount)|combien|wie\s+(?:viele?|hoch|tief|lange?))\b",
    re.IGNORECASE)
_TIME_Q = re.compile(r"\b(?:when\s+(?:did|was|were|is|are|does|do|will|has|had)|(?:what|which)\s+(?:year|date|month|day)|in\s+which\s+year|quand|wann)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|"
                     r"dozen|half|twice|double)\b", re.IGNORECASE)
_DATE = re.compile(r"\b(?:1[5-9]\d\d|20\d\d|january|february|march|april|may|june|july|august|september|october|"
                   r"november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|q[1-4])\b", re.IGNORECASE)


def _answer_type(question: str) -> str:
    """"number" or "date" when the question asks for one (how many/much/deep..., when/which year), else ""."""
    if _TIME_Q.search(question):
        return "date"
    return "number" if _QUANTITY_Q.search(question) else ""


def _fit(sentence: str, wants: str) -> float:
    """A factor for answer shape: a quantity question wants a number, a when-question a date; a question
    in the source (rhetorical, or a FAQ's) rarely answers one."""
    f = 0.85 if sentence.rstrip().endswith("?") else 1.0
    if wants == "number" and not _NUMBER.search(sentence) or wants == "date" and not _DATE.search(sentence):
        f *= 0.85
    return f


def _retrieval(rank: int, similarity: float | None) -> float:
    prior = 1.0 / (1.0 + rank / 2.0)
    if similarity is None:
        return prior
    return 0.5 * prior + 0.5 * min(1.0, max(0.0, (similarity - 0.1) / 0.6))


# ---------------------------------------------------------------------------------------------
# Selecting


@dataclass
class _Merged:
    """Retrieved passages of one source that overlap, joined into one text (a sentence cut by a chunk
    boundary is whole again); ``rank`` and ``similarity`` are its best part's."""

    passage: Passage
    parts: list[Passage]
    rank: int
    similarity: float | None


_SENT_END = re.compile(r"[.!?\u3002][\"'\u201d\u2019)\]]*(?=\s)|\n[ \t]*\n|\n(?=[ \t]*(?:[-*+\u2022#]|\d{1,3}[.)])[ \t])")
_LAST_END = re.compile(r"(?:[.!?\u3002][\"'\u201d\u2019)\]]*\s|\n[ \t]*\n)(?!.*(?:[.!?\u3002][\"'\u201d\u2019)\]]*\s|\n[ \t]*\n))",
                       re.DOTALL)
CONTEXT_CHARS = 300  # how far a passage cut mid-sentence is extended to the sentence's start or end


def _complete(p: Passage, context: Callable[[str, int, int], str | None]) -> Passage:
    """``p`` extended to the end of its last and the start of its first sentence when its chunk cut them
    (the missing text read from the source with ``context(source_id, start, end)``)."""
    text, start, end = p.text, p.start, p.end
    tail = text.rstrip()
    if tail and not _TERMINAL.search(tail):
        more = context(p.source_id, end, end + CONTEXT_CHARS)
        m = _SENT_END.search(more) if more else None
        if more is not None and m is not None and m.start() > 0 and more[: m.start()].strip():
            text, end = text + more[: m.end()].rstrip(), end + len(more[: m.end()].rstrip())
    elif tail.endswith(":") and len(text) - len(tail) <= 2:
        # an introduction the chunk ends with ("But there are also disadvantages:"): what it introduces, as far as
        # a quote goes (:func:`_split` quotes them together), to the last sentence end there
        more = context(p.source_id, end, end + MAX_SENTENCE_CHARS)
        m = _LAST_END.search(more + ("\n\n" if len(more) < MAX_SENTENCE_CHARS else "")) if more and more.strip() else None
        if more is not None and m is not None and more[: m.start() + 1].strip():
            add = more[: m.end()].rstrip()
            text, end = text + add, end + len(add)
    if text[:1].islower() and start > 0:
        before = context(p.source_id, max(0, start - CONTEXT_CHARS), start)
        m = _LAST_END.search(before) if before else None
        if before is not None and m is not None:
            cut = m.end()
            while cut < len(before) and before[cut].isspace():
                cut += 1
            text, start = before[cut:] + text, start - (len(before) - cut)
    return p if (start, end) == (p.start, p.end) else replace(p, text=text, start=start, end=end)


def _merge(passages: Sequence[Passage], similarities: Sequence[float | None],
           context: Callable[[str, int, int], str | None] | None = None) -> list[_Merged]:
    groups: dict[str, list[tuple[int, Passage]]] = {}
    for i, p in enumerate(passages):
        if context is not None:
            try:
                p = _complete(p, context)
            except Exception:  # noqa: BLE001, S110 - without the context the chunk is quoted as it is
                pass
        groups.setdefault(p.source_id, []).append((i, p))
    out: list[_Merged] = []
    for items in groups.values():
        items.sort(key=lambda x: (x[1].start, x[1].end))
        cur: _Merged | None = None
        for i, p in items:
            sim = similarities[i] if i < len(similarities) else None
            if cur is not None:
                c = cur.passage
                overlap = c.end - p.start
                if p.start >= c.start and 0 <= overlap <= len(p.text) and c.text[len(c.text) - overlap :] == p.text[
                    :overlap
                ] and len(c.text) + len(p.text) - overlap <= MAX_PASSAGE_CHARS:
                    cur.passage = replace(c, text=c.text + p.text[overlap:], end=max(c.end, p.end),
                                          page_end=p.page_end if p.end >= c.end else c.page_end)
                    cur.parts.append(p)
                    cur.rank = min(cur.rank, i)
                    if sim is not None:
                        cur.similarity = sim if cur.similarity is None else max(cur.similarity, sim)
                    continue
                if p.start >= c.start and p.end <= c.end:  # inside the one before: nothing new
                    cur.rank = min(cur.rank, i)
                    continue
                out.append(cur)
            cur = _Merged(p, [p], i, sim)
        if cur is not None:
            out.append(cur)
    out.sort(key=lambda m: m.rank)
    return out


def select_quotes(
    question: str,
    passages: Sequence[Passage],
    *,
    similarities: Sequence[float | None] | None = None,
    embed: Callable[[Sequence[str]], Sequence[Sequence[float]]] | None = None,
    idf: Mapping[str, float] | None = None,
    max_quotes: int | None = None,
    threshold: float | None = None,
    semantic_candidates: int | None = None,
    context: Callable[[str, int, int], str | None] | None = None,
) -> QuoteResult:
    """The source sentences that answer ``question`` best (see the module docstring).

    ``passages`` are in retrieval order (best first); ``similarities`` their dense cosine similarity to
    the question (None where unknown); ``embed`` an optional sentence embedder; ``idf`` optional
    weights per content-word key. ``threshold`` None: the calibrated one. ``context(source_id, start, end)``
    optionally gives source text outside the passages (None: not available): a passage cut mid-sentence
    is completed from it, so that a sentence split by a chunk boundary is quoted whole.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    max_quotes = MAX_QUOTES if max_quotes is None else max_quotes
    semantic_candidates = SEMANTIC_CANDIDATES if semantic_candidates is None else semantic_candidates
    use_sem = embed is not None and semantic_candidates > 0
    thr = threshold if threshold is not None else (ABSTAIN_THRESHOLD if use_sem else ABSTAIN_THRESHOLD_LEXICAL)
    q_terms = list(dict.fromkeys(_keys(question)))
    q_seq = _keys(question)
    q_bigrams = list(dict.fromkeys((a, b) for a, b in zip(q_seq, q_seq[1:], strict=False) if a != b))

    merged = _merge(passages, list(similarities) if similarities is not None else [], context)
    cands: list[QuoteCandidate] = []
    for i, m in enumerate(merged):
        if len(cands) >= MAX_CANDIDATES:
            break
        text = m.passage.text or ""
        heading = set(_keys(m.passage.heading)) if m.passage.heading else set()
        titles = _heading_titles(m.passage.heading)
        for a, b, title in _split(text, MAX_PASSAGE_CHARS):
            if titles and _title_key(text[a:b]) in titles:
                continue  # the passage's own heading, as a line of its text: a title, not an answer
            cands.append(QuoteCandidate(i, a, b, text[a:b], _keys(text[a:b]), heading | set(_keys(title))))
            if len(cands) >= MAX_CANDIDATES:
                break
    timings["split_ms"] = round((time.perf_counter() - t0) * 1000, 2)
    if not cands or (not q_terms and not use_sem):
        return QuoteResult([], cands, True, 0.0, thr, False, timings, len(cands), merged)

    w = _weights(q_terms, cands, idf, _entity_like(question))
    wants = _answer_type(question)
    for c in cands:
        m = merged[c.passage_index]
        c.lexical = _lexical(q_terms, q_bigrams, w, c) if q_terms else 0.0
        c.retrieval = _retrieval(m.rank, m.similarity)
    lex_total = W_LEX + W_RET
    for c in cands:
        c.score = (W_LEX * c.lexical + W_RET * c.retrieval) / lex_total * _fit(c.text, wants)
    cands.sort(key=lambda c: (-c.score, c.passage_index, c.start))
    t1 = time.perf_counter()
    timings["score_ms"] = round((t1 - t0) * 1000 - timings["split_ms"], 2)

    vec_of: dict[int, Sequence[float]] = {}  # id(candidate) -> its embedding
    eligible = cands
    if use_sem and embed is not None:
        top = cands[:semantic_candidates]
        try:
            vecs = list(embed([question[:EMBED_CHARS]] + [" ".join(c.text.split())[:EMBED_CHARS] for c in top]))
        except Exception:  # noqa: BLE001 - an embedder failure costs the semantic score, not the answer
            vecs = []
        if len(vecs) == len(top) + 1:
            qv = vecs[0]
            for c, v in zip(top, vecs[1:], strict=True):
                c.semantic = max(0.0, _cosine(qv, v))
                c.score = (W_LEX * c.lexical + W_RET * c.retrieval + W_SEM * c.semantic) * _fit(c.text, wants)
                vec_of[id(c)] = v
            # only the embedded sentences compete: the others' scores are on another scale
            eligible = sorted(top, key=lambda c: (-c.score, c.passage_index, c.start))
            cands = eligible + cands[semantic_candidates:]
        timings["embed_ms"] = round((time.perf_counter() - t1) * 1000, 2)
    semantic = bool(vec_of)
    if not semantic and threshold is None:
        thr = ABSTAIN_THRESHOLD_LEXICAL

    best = eligible[0]
    chosen: list[QuoteCandidate] = []
    if best.score >= thr:
        chosen.append(best)
        pool = [c for c in eligible[1:] if c.score >= max(thr, RELATIVE_FLOOR * best.score)]

        def sim(a: QuoteCandidate, b: QuoteCandidate) -> tuple[float, bool]:
            """(redundancy for MMR, near-duplicate?)"""
            lexical = _jaccard(set(a.keys), set(b.keys))
            va, vb = vec_of.get(id(a)), vec_of.get(id(b))
            cos = _cosine(va, vb) if va is not None and vb is not None else 0.0
            same = lexical >= DUPLICATE_JACCARD or cos >= DUPLICATE_SIM or " ".join(a.text.split()) == " ".join(
                b.text.split()) or (a.passage_index == b.passage_index and a.start < b.end and b.start < a.end)
            return max(lexical, cos), same

        while pool and len(chosen) < max_quotes:
            scored = []
            for c in pool:
                sims = [sim(c, s) for s in chosen]
                if not any(dup for _r, dup in sims):
                    redundancy = max(r for r, _dup in sims)
                    scored.append((MMR_LAMBDA * c.score - (1 - MMR_LAMBDA) * redundancy, c))
            if not scored:
                break
            pick = max(scored, key=lambda x: x[0])[1]
            chosen.append(pick)
            pool.remove(pick)
    timings["total_ms"] = round((time.perf_counter() - t0) * 1000, 2)
    return QuoteResult(chosen, cands[:20], not chosen, best.score, thr, semantic, timings, len(cands), merged)


def quoted_answer(result: QuoteResult) -> tuple[CitedAnswer, list[Passage]]:
    """The quotes as a cited answer, and the passages it cites: quote *i* cites passage *i*, a copy of the
    (joined) passage it comes from with the chunk id, page and time of the chunk where it starts, so that
    two quotes from one chunk each keep their own exact span."""
    if result.abstained or not result.quotes:
        text = ABSTAIN_TEXT
        return CitedAnswer(text, [AnswerSentence(text, supported=True)], [], not_found=True), []
    sentences: list[AnswerSentence] = []
    citations: list[Citation] = []
    cited: list[Passage] = []
    for i, q in enumerate(result.quotes, start=1):
        m = result.passages[q.passage_index]
        a, b = m.passage.start + q.start, m.passage.start + q.end
        first = next((x for x in m.parts if x.start <= a < x.end), m.parts[0])
        last = next((x for x in reversed(m.parts) if x.start < b <= x.end), first)
        p = replace(m.passage, pid=i, chunk_id=first.chunk_id, page=first.page, page_end=last.page_end,
                    t_start=first.t_start, heading=first.heading, score=first.score)
        shown = " ".join(q.text.split())
        sentences.append(AnswerSentence(f"{shown} [{i}]", [i], supported=True, support=round(q.score, 4),
                                        quotes={i: (a, b)}))
        citations.append(Citation(i, p.chunk_id, p.source_id, p.source_title, p.page, p.t_start, a, b,
                                  p.text[q.start : q.end], p.location, p.url))
        cited.append(p)
    return CitedAnswer(" ".join(s.text for s in sentences), sentences, citations), cited
