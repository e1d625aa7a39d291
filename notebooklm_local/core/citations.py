"""Cited answers: passages in demarcation tags, citation markers parsed, every sentence checked.

The model sees passages as ``<passage id="3" ...>text</passage>`` and is asked to cite ids like
``[3]``. What it writes is never trusted:

* markers naming no provided passage are removed and reported;
* each sentence is checked against the passages it cites (a quote check when the model gave a
  quote, else content-word overlap, and every number in the sentence must occur in a cited passage);
  unsupported or uncited sentences are flagged, never hidden or "fixed" with invented citations;
* each citation resolves to (source, page or timestamp, char span in the source text, quote);
* passages that were retrieved but not cited are never shown as citations.

Pure Python; see ``services/chat.py`` for the pipeline that calls it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from notebooklm_local.core.grounding import SUPPORT_THRESHOLD, Similarity, assess
from notebooklm_local.core.textutil import content_words, normalize_for_match, split_sentences

__all__ = [
    "OCR_MARK",
    "ocr_pages_in",
    "mark_ocr",
    "is_ocr_location",
    "Passage",
    "Citation",
    "AnswerSentence",
    "CitedAnswer",
    "format_passages",
    "parse_markers",
    "build_answer",
    "build_structured_answer",
    "answer_schema",
    "repair_json",
    "strip_markers",
    "says_not_found",
    "NOT_FOUND_TEXT",
    "NO_ANSWER_TEXT",
    "NO_ANSWER_FLAG",
    "is_no_answer",
    "sentence_citation",
]

NOT_FOUND_TEXT = "The selected sources don't contain an answer to this question."
NO_ANSWER_FLAG = "the model wrote nothing"
NO_ANSWER_TEXT = "The model returned no answer. Try again, rephrase the question, or use a larger model."


def is_no_answer(answer: object) -> bool:
    """The model wrote nothing: the answer is only the app's "no answer" notice (not a claim to check)."""
    sentences = getattr(answer, "sentences", None) or []
    return len(sentences) == 1 and getattr(sentences[0], "flag", "") == NO_ANSWER_FLAG



@dataclass
class Passage:
    """A retrieved chunk as shown to the model."""

    pid: int  # the short id the model cites (1-based)
    chunk_id: int
    source_id: str
    source_title: str
    text: str
    start: int  # char span of the chunk in the source's normalized text
    end: int
    page: int | None = None
    page_end: int | None = None
    t_start: float | None = None
    heading: str = ""
    url: str | None = None
    score: float = 0.0
    ocr_pages: tuple[int, ...] = ()  # pages of the source whose text was read by OCR (marked in the location)

    @property
    def location(self) -> str:
        return mark_ocr(format_location(self.page, self.page_end, self.t_start, self.heading),
                        self.page, self.page_end, self.ocr_pages)


OCR_MARK = " (OCR)"


def mark_ocr(location: str, page: int | None, page_end: int | None, ocr_pages: Iterable[int] | None) -> str:
    """``location`` with " (OCR)" when a page it covers was read by OCR (its text may hold recognition errors)."""
    if page is None or not ocr_pages or not location or location.endswith(OCR_MARK):
        return location
    pages = set(ocr_pages)
    last = page_end if page_end is not None and page_end >= page else page
    return location + OCR_MARK if any(p in pages for p in range(page, last + 1)) else location


def ocr_pages_in(meta: Any) -> tuple[int, ...]:
    """The OCR'd pages a source's metadata lists (``ocr_pages``, set by the PDF loader); () when none."""
    pages = meta.get("ocr_pages") if isinstance(meta, dict) else None
    if not isinstance(pages, list | tuple):
        return ()
    return tuple(int(p) for p in pages if isinstance(p, int) and not isinstance(p, bool))


def is_ocr_location(location: str) -> bool:
    """Whether a citation's location says its page was read by OCR."""
    return bool(location) and location.endswith(OCR_MARK)


def format_location(page: int | None, page_end: int | None, t_start: float | None, heading: str = "") -> str:
    if page is not None:
        return f"p. {page}" if page_end in (None, page) else f"pp. {page}-{page_end}"
    if t_start is not None:
        s = int(t_start)
        return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:d}:{s % 60:02d}"
    return heading


@dataclass
class Citation:
    """One cited passage, resolved to a place the user can open and check."""

    passage_id: int
    chunk_id: int
    source_id: str
    source_title: str
    page: int | None
    t_start: float | None
    start: int  # char span of the quote in the source text
    end: int
    quote: str
    location: str = ""
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Citation:
        """A Citation from its ``to_json`` dict (unknown keys ignored, missing ones defaulted)."""
        return cls(
            int(d.get("passage_id", 0)), int(d.get("chunk_id", -1)), str(d.get("source_id", "")),
            str(d.get("source_title", "")), d.get("page"), d.get("t_start"), int(d.get("start", 0)),
            int(d.get("end", 0)), str(d.get("quote", "")), str(d.get("location", "") or ""), d.get("url"),
        )


@dataclass
class AnswerSentence:
    text: str
    citations: list[int] = field(default_factory=list)  # passage ids, valid ones only
    supported: bool = False
    support: float = 0.0  # best overlap with a cited passage (0..1)
    flag: str = ""  # why it is not supported ("" when it is)
    check: str = ""  # the check that failed: citation, quote, number, unit, entity, negation, direction, support
    semantic: float | None = None  # best passage-sentence similarity, where the embedder was asked
    quotes: dict[int, tuple[int, int]] = field(default_factory=dict)  # passage id -> quote span in the source

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "citations": self.citations, "supported": self.supported,
                "support": round(self.support, 3), "flag": self.flag, "check": self.check}


@dataclass
class CitedAnswer:
    text: str  # the answer as shown: markers normalised to [n]
    sentences: list[AnswerSentence]
    citations: list[Citation]  # unique, in order of first use
    removed_markers: list[str] = field(default_factory=list)
    not_found: bool = False
    notes: list[str] = field(default_factory=list)  # e.g. "2 passages left out to fit the context"

    @property
    def flags(self) -> list[str]:
        out = [f"Removed citation {m}: no passage has that id." for m in self.removed_markers]
        out += [f"Unsupported: \u201c{_short(s.text)}\u201d ({s.flag})" for s in self.sentences if not s.supported]
        return out

    @property
    def unsupported(self) -> list[AnswerSentence]:
        return [s for s in self.sentences if not s.supported]

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "not_found": self.not_found,
            "sentences": [s.to_json() for s in self.sentences],
            "citations": [c.to_json() for c in self.citations],
            "removed_markers": self.removed_markers,
            "flags": self.flags,
            "notes": self.notes,
        }


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


# ---------------------------------------------------------------------------------------------
# Prompt side


def _attr(value: str) -> str:
    return re.sub(r"[\"<>\n\r\t]", " ", value)[:120].strip()


def _neutralise(text: str) -> str:
    """A source must not be able to close its own tag or open a new one (it is data, not prompt)."""
    return re.sub(r"<\s*(/?)\s*(passages?)\b", lambda m: f"\u2039{m.group(1)}{m.group(2)}", text, flags=re.IGNORECASE)


def format_passages(passages: Sequence[Passage]) -> str:
    """The passages block of a prompt: one demarcated, attributed element per passage."""
    parts = []
    for p in passages:
        loc = f' location="{_attr(p.location)}"' if p.location else ""
        parts.append(f'<passage id="{p.pid}" source="{_attr(p.source_title)}"{loc}>\n{_neutralise(p.text.strip())}\n'
                     "</passage>")
    return "<passages>\n" + "\n".join(parts) + "\n</passages>"


def answer_schema(n_passages: int, max_sentences: int = 6) -> dict[str, Any]:
    """JSON schema of a structured answer (used as a llama.cpp grammar)."""
    cite: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": max(1, n_passages)}
    return {
        "type": "object",
        "properties": {
            "answerable": {"type": "boolean"},
            "sentences": {
                "type": "array",
                "maxItems": max_sentences,
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string", "maxLength": 400},
                        "citations": {"type": "array", "items": cite, "maxItems": 3},
                        "quote": {"type": "string", "maxLength": 300},
                    },
                    "required": ["text", "citations", "quote"],
                },
            },
        },
        "required": ["answerable", "sentences"],
    }


# ---------------------------------------------------------------------------------------------
# Parsing markers

_ID = r"(?:(?:passages?|sources?|ids?|refs?|doc|s|p)\s*#?\s*)?(\d{1,6})"
_MARKER = re.compile(
    r"\[\s*" + _ID + r"((?:\s*(?:,|;|\band\b|-|\u2013)\s*" + _ID.replace("(\\d{1,6})", "\\d{1,6}") + r")*)\s*\]",
    re.IGNORECASE,
)
_NUM = re.compile(r"\d{1,6}")
_DANGLING = re.compile(r"\[[^\]\n]{0,20}$")  # a marker cut off by the end of the generation


def parse_markers(text: str) -> list[tuple[int, int, list[int]]]:
    """Citation markers in ``text``: ``(start, end, ids)``; ranges like [2-4] are expanded."""
    out = []
    for m in _MARKER.finditer(text):
        inner = text[m.start() : m.end()]
        nums = [int(x) for x in _NUM.findall(inner)]
        ids: list[int] = []
        if re.search(r"\d\s*[-\u2013]\s*(?:[a-z]+\s*)?\d", inner, re.IGNORECASE) and len(nums) == 2 and 0 < nums[1] - nums[0] < 20:
            ids = list(range(nums[0], nums[1] + 1))
        else:
            ids = nums
        out.append((m.start(), m.end(), ids))
    return out


def strip_markers(text: str) -> str:
    """The text without citation markers (and without the space they leave before punctuation)."""
    t = _MARKER.sub("", text)
    return re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", t)).strip()


# ---------------------------------------------------------------------------------------------
# Checking support


def _best_quote(claim: str, passage: Passage) -> tuple[float, int, int]:
    """The passage sentence that best supports ``claim``: (overlap, start, end) in passage-text offsets."""
    claim_words = set(content_words(claim))
    best = (0.0, 0, min(len(passage.text), 300))
    if not claim_words:
        return best
    for a, b in split_sentences(passage.text) or [(0, len(passage.text))]:
        sw = set(content_words(passage.text[a:b]))
        score = len(claim_words & sw) / len(claim_words)
        if score > best[0]:
            best = (score, a, b)
    return best


def _check(sentence: AnswerSentence, by_id: dict[int, Passage], quote: str = "",
           similarity: Similarity | None = None) -> None:
    claim_text = strip_markers(sentence.text)
    claim_words = set(content_words(claim_text))
    if not sentence.citations:
        sentence.supported = not claim_words  # "Here is what I found:" needs no source
        sentence.flag = "" if sentence.supported else "no citation"
        sentence.check = "" if sentence.supported else "citation"
        return
    best_overlap = 0.0
    quoted_ok = False
    for pid in sentence.citations:
        p = by_id[pid]
        if quote:
            nq, np_ = normalize_for_match(quote), normalize_for_match(p.text)
            if len(nq) >= 12 and nq in np_:
                quoted_ok = True
                span = _locate(p.text, quote)
                if span is not None:
                    sentence.quotes[pid] = (p.start + span[0], p.start + span[1])
        overlap, a, b = _best_quote(sentence.text, p)
        sentence.quotes.setdefault(pid, (p.start + a, p.start + b))
        all_words = set(content_words(p.text))
        whole = len(claim_words & all_words) / len(claim_words) if claim_words else 1.0
        best_overlap = max(best_overlap, overlap, whole * 0.9)
    cited_text = " ".join(by_id[pid].text for pid in sentence.citations)
    if claim_words and len(sentence.citations) > 1:  # a claim may combine facts from its cited passages
        union = len(claim_words & set(content_words(cited_text))) / len(claim_words)
        best_overlap = max(best_overlap, union * 0.9)
    sentence.support = best_overlap
    if quote and not quoted_ok:  # an invented quote is a fabrication, whatever the word overlap
        v = assess(claim_text, [by_id[pid].text for pid in sentence.citations], overlap=1.0)
        if v.check in ("number", "unit"):
            sentence.supported, sentence.flag, sentence.check = False, v.flag, v.check
        else:
            sentence.supported, sentence.check = False, "quote"
            sentence.flag = "its quote does not occur in the cited passage"
        return
    # a sentence backed by an exact quote needs less of its own overlap (the quote is the evidence)
    overlap = best_overlap / 0.6 if quoted_ok else best_overlap
    v = assess(claim_text, [by_id[pid].text for pid in sentence.citations], overlap=overlap,
               similarity=similarity)
    sentence.supported, sentence.check = v.supported, v.check
    if v.semantic is not None:
        sentence.semantic = v.semantic
    if v.supported:
        sentence.flag = ""
    elif v.check != "support":
        sentence.flag = v.flag
    elif quoted_ok:
        sentence.flag = "the sentence says more than its quote" + (f" ({v.flag})" if v.flag else "")
    else:
        sentence.flag = (
            f"the cited passage{'s' if len(sentence.citations) > 1 else ''} "
            f"{', '.join(f'[{c}]' for c in sentence.citations)} do{'' if len(sentence.citations) > 1 else 'es'} "
            "not support it" + (f" ({v.flag})" if v.flag else "")
        )


_SAME_CHAR = {"'": "['\u2018\u2019]", "\u2018": "['\u2018\u2019]", "\u2019": "['\u2018\u2019]",
              '"': '["\u201c\u201d]', "\u201c": '["\u201c\u201d]', "\u201d": '["\u201c\u201d]',
              "-": "[-\u2013\u2014]", "\u2013": "[-\u2013\u2014]", "\u2014": "[-\u2013\u2014]"}


def _locate(haystack: str, quote: str) -> tuple[int, int] | None:
    """Span of ``quote`` in ``haystack`` matching case-, space- and quote-style-insensitively (None: not found)."""
    words_ = ["".join(_SAME_CHAR.get(ch, re.escape(ch)) for ch in w) for w in quote.split()]
    if words_:
        m = re.search(r"\s+".join(words_), haystack, re.IGNORECASE)
        if m:
            return m.start(), m.end()
    return None


def _resolve(answer_sentences: list[AnswerSentence], by_id: dict[int, Passage]) -> list[Citation]:
    cits: dict[int, Citation] = {}
    for s in answer_sentences:
        for pid in s.citations:
            if pid in cits:
                continue
            p = by_id[pid]
            a, b = s.quotes.get(pid, (p.start, p.end))
            rel_a, rel_b = max(0, a - p.start), max(0, b - p.start)
            quote = p.text[rel_a:rel_b].strip() or p.text[:300].strip()
            cits[pid] = Citation(pid, p.chunk_id, p.source_id, p.source_title, p.page, p.t_start, a, b, quote,
                                 p.location, p.url)
    return list(cits.values())


# ---------------------------------------------------------------------------------------------
# Building answers

_NOT_FOUND = re.compile(
    r"\b(?:(?:do|does|did)\s*(?:n['\u2019]t|not)\s+(?:contain|mention|say|include|provide|cover|address|discuss)"
    r"|(?:no|not enough)\s+(?:relevant\s+)?information"
    r"|not\s+(?:mentioned|found|covered|provided|addressed|discussed)\s+in\s+the"
    r"|(?:cannot|can['\u2019]t|unable\s+to)\s+(?:answer|find|determine))",
    re.IGNORECASE,
)


def says_not_found(text: str) -> bool:
    """The model said the sources don't have the answer (short answers only: not a caveat in a long one)."""
    return bool(_NOT_FOUND.search(text)) and len(split_sentences(text)) <= 2


def not_found_answer(notes: Sequence[str] = ()) -> CitedAnswer:
    return CitedAnswer(NOT_FOUND_TEXT, [AnswerSentence(NOT_FOUND_TEXT, supported=True)], [], not_found=True,
                       notes=list(notes))


def build_answer(raw: str, passages: Sequence[Passage], similarity: Similarity | None = None) -> CitedAnswer:
    """Check a free-text answer with ``[n]`` markers against the passages it was given."""
    by_id = {p.pid: p for p in passages}
    text = _DANGLING.sub("", raw.strip()).strip()
    removed: list[str] = []
    # normalise every marker to [a][b]; drop ids that name no passage
    pieces: list[str] = []
    last = 0
    for a, b, ids in parse_markers(text):
        pieces.append(text[last:a])
        valid = [i for i in dict.fromkeys(ids) if i in by_id]
        removed += [f"[{i}]" for i in dict.fromkeys(ids) if i not in by_id]
        if not valid:  # "France [7]." -> "France." (not "France .")
            pieces[-1] = pieces[-1].rstrip(" \t")
        pieces.append("".join(f"[{i}]" for i in valid))
        last = b
    pieces.append(text[last:])
    text = "".join(pieces)
    text = re.sub(r"(\[\d+\])(?:\s*\1)+", r"\1", text)  # [1][1] -> [1]
    if not strip_markers(text):
        return CitedAnswer(NO_ANSWER_TEXT, [AnswerSentence(NO_ANSWER_TEXT, flag=NO_ANSWER_FLAG)], [], removed)
    if says_not_found(strip_markers(text)) and not parse_markers(text):
        ans = not_found_answer()
        ans.removed_markers = removed
        return ans
    sentences: list[AnswerSentence] = []
    for a, b in split_sentences(text):
        seg = text[a:b]
        ids = [i for _, _, mids in parse_markers(seg) for i in mids if i in by_id]
        clean = strip_markers(seg)
        if not clean and sentences:  # a sentence of markers only belongs to the one before
            sentences[-1].citations += [i for i in ids if i not in sentences[-1].citations]
            continue
        if not clean:
            continue
        sentences.append(AnswerSentence(seg, list(dict.fromkeys(ids))))
    for s in sentences:
        _check(s, by_id, similarity=similarity)
    return CitedAnswer(text, sentences, _resolve(sentences, by_id), removed)


def build_structured_answer(data: Any, passages: Sequence[Passage], similarity: Similarity | None = None
                            ) -> CitedAnswer:
    """Check a structured answer ``{"answerable", "sentences": [{text, citations, quote}]}``."""
    by_id = {p.pid: p for p in passages}
    if not isinstance(data, dict):
        raise ValueError("the structured answer is not a JSON object")
    items = data.get("sentences")
    if not isinstance(items, list):
        raise ValueError("the structured answer has no list of sentences")
    removed: list[str] = []
    sentences: list[AnswerSentence] = []
    quotes: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        text = str(item.get("text", "")).strip()
        if not text:
            continue
        raw_ids = item.get("citations") or []
        ids: list[int] = []
        for r in raw_ids if isinstance(raw_ids, list) else [raw_ids]:
            try:
                if isinstance(r, bool) or (isinstance(r, float) and not r.is_integer()):
                    raise ValueError(r)
                i = int(r)
            except (TypeError, ValueError):
                removed.append(f"[{r}]")
                continue
            if i in by_id:
                if i not in ids:
                    ids.append(i)
            else:
                removed.append(f"[{i}]")
        # markers written inside the text are handled like free text
        for _, _, mids in parse_markers(text):
            for i in mids:
                if i in by_id and i not in ids:
                    ids.append(i)
                elif i not in by_id:
                    removed.append(f"[{i}]")
        clean = strip_markers(text)
        if not clean:
            continue
        sentences.append(AnswerSentence(clean + "".join(f" [{i}]" for i in ids), ids))
        quotes.append(str(item.get("quote", "") or ""))
    answerable = data.get("answerable", True)
    joined = " ".join(strip_markers(s.text) for s in sentences)
    if not sentences and answerable is not False:
        return CitedAnswer(NO_ANSWER_TEXT, [AnswerSentence(NO_ANSWER_TEXT, flag=NO_ANSWER_FLAG)], [],
                           removed)
    if not sentences or (answerable is False and not any(s.citations for s in sentences)) or says_not_found(joined):
        ans = not_found_answer()
        ans.removed_markers = removed
        return ans
    for s, q in zip(sentences, quotes, strict=True):
        _check(s, by_id, q, similarity)
    text = " ".join(s.text for s in sentences)
    return CitedAnswer(text, sentences, _resolve(sentences, by_id), removed)


def mostly_unsupported(sentences: Sequence[AnswerSentence], share: float = 0.5) -> str | None:
    """Why an output is refused for its grounding (None when it is kept, its unsupported sentences flagged):
    none of its claims is supported, or fewer than ``share`` of them are. Sentences that claim nothing
    (no content words: "Here is what I found:") do not count."""
    claims = [s for s in sentences if content_words(strip_markers(s.text))]
    if not claims:
        return None
    good = sum(1 for s in claims if s.supported and s.citations)
    if good == 0:
        return "none of its sentences is supported by the passages it cites"
    if good < share * len(claims):
        return (f"most of its sentences ({len(claims) - good} of {len(claims)}) are not supported by the passages "
                "they cite")
    return None


def verify_sentences(items: Sequence[tuple[str, Sequence[int]]], passages: Sequence[Passage],
                     similarity: Similarity | None = None) -> tuple[list[AnswerSentence], list[Citation]]:
    """Check ``(text, cited passage ids)`` pairs against ``passages`` (ids not among them are dropped):
    the same checks as answers get, for podcast lines and studio sentences."""
    by_id = {p.pid: p for p in passages}
    sentences = []
    for text, ids in items:
        valid = [i for i in dict.fromkeys(ids) if i in by_id]
        sentences.append(AnswerSentence(strip_markers(text), valid))
    for s in sentences:
        _check(s, by_id, similarity=similarity)
    return sentences, _resolve(sentences, by_id)


def attach_citations(text: str, passages: Sequence[Passage], min_overlap: float = SUPPORT_THRESHOLD,
                     similarity: Similarity | None = None) -> CitedAnswer:
    """Cite each sentence of an uncited text (a chain-of-density step) with the passage that best supports
    it; a sentence no passage supports well enough stays uncited and is flagged."""
    items: list[tuple[str, list[int]]] = []
    for a, b in split_sentences(strip_markers(text)):
        seg = strip_markers(text)[a:b]
        best, best_pid = 0.0, None
        claim = set(content_words(seg))
        for p in passages:
            whole = len(claim & set(content_words(p.text))) / len(claim) if claim else 0.0
            score = max(_best_quote(seg, p)[0], whole * 0.9)  # the measure _check uses
            if score > best:
                best, best_pid = score, p.pid
        items.append((seg, [best_pid] if best_pid is not None and best >= min_overlap else []))
    sentences, citations = verify_sentences(items, passages, similarity)
    for s in sentences:
        if s.citations:
            s.text = s.text + "".join(f" [{i}]" for i in s.citations)
    return CitedAnswer(" ".join(s.text for s in sentences), sentences, citations)


def repair_json(text: str) -> Any:
    """Parse JSON that a generation may have cut short: close open strings, arrays and objects.

    Returns the parsed value, or raises ValueError when nothing sensible can be recovered.
    """
    t = text.strip()
    if not t:
        raise ValueError("empty output")
    try:
        return json.loads(t)
    except json.JSONDecodeError:
        pass
    start = t.find("{")
    if start < 0:
        raise ValueError("no JSON object in the output")
    t = t[start:]
    try:  # a complete object followed by chatter ("``` thanks")
        return json.JSONDecoder().raw_decode(t)[0]
    except json.JSONDecodeError:
        pass
    stack: list[str] = []
    in_str = esc = False
    for ch in t:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    candidate = (t[:-1] if esc else t) + ('"' if in_str else "")  # (a cut escape is dropped)
    # drop a trailing partial key/value that cannot be closed ("a": or , or a cut key or literal)
    for _ in range(4):
        tail = candidate.rstrip()
        tail = re.sub(r",\s*$", "", tail)
        tail = re.sub(r',?\s*"[^"]*"\s*:\s*$', "", tail)
        try:
            return json.loads(tail + "".join(reversed(stack)))
        except json.JSONDecodeError:
            candidate = _UNFINISHED.sub("", tail, count=1)
    raise ValueError("the output is not valid JSON")


# what a cut can leave that closing brackets cannot fix: a key/value pair, a key without its colon
# ({"a": 1, "b"), a cut literal or number ("a": tru, "a": 1.)
_UNFINISHED = re.compile(r'(?:,?\s*"[^"]*"\s*:\s*"[^"]*"?|(?<=[{,])\s*"[^"]*"|(?<=[:\[,])\s*(?:[a-zA-Z]+|-?\d+\.|-))\s*$')


def sentence_citation(p: Passage, pid: int, pos: int) -> Citation | None:
    """The passage's sentence around ``pos`` (an offset into its text) as a citation of that exact span."""
    for a, b in split_sentences(p.text) or [(0, len(p.text))]:
        if a <= pos < b:
            while a < b and p.text[a].isspace():
                a += 1
            while b > a and p.text[b - 1].isspace():
                b -= 1
            if b <= a:
                return None
            return Citation(pid, p.chunk_id, p.source_id, p.source_title, p.page, p.t_start, p.start + a, p.start + b,
                            p.text[a:b], p.location, p.url)
    return None
