"""Small text helpers shared by search, citation checking and summaries: stop words, content words,
sentence splitting. Pure Python, language-light (English stop words; other languages still split and
match on their word tokens)."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["STOPWORDS", "words", "content_words", "split_sentences", "normalize_for_match", "format_duration"]

# Words that match nearly every chunk: they cost BM25 time and add nothing to the ranking or to
# deciding whether a passage supports a claim.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor not of
    off on once only or other our ours out over own same she should so some such than that the their
    theirs them then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours also may might must shall""".split()
)

_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _stem(w: str) -> str:
    """A deliberately light stemmer (plural/verb endings) so 'models' supports 'model'."""
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    for suf in ("ing", "ed", "es", "s"):
        if len(w) > len(suf) + 3 and w.endswith(suf) and not w.endswith("ss"):
            return w[: -len(suf)]
    return w


def content_words(text: str) -> list[str]:
    """Lower-cased, lightly stemmed words that carry meaning (no stop words, no 1-letter tokens)."""
    return [_stem(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


_MATCH_TABLE: dict[int, str | None] = {ord(k): v for k, v in {
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u00ad": None,
}.items()}


def normalize_for_match(text: str) -> str:
    """Case-, accent-, quote- and whitespace-insensitive form for finding a quote in a passage."""
    t = unicodedata.normalize("NFKC", text).casefold()
    t = t.translate(_MATCH_TABLE)
    return re.sub(r"\s+", " ", t).strip()


_ABBREV = frozenset(
    "e.g i.e etc vs cf fig figs eq eqs no al dr mr mrs ms prof st approx ca sec ch vol pp p ed eds resp".split()
)
# a sentence ends at . ! ? followed by space/end, or at a CJK full stop (no space needed: CJK text
# has none), optionally after closing quotes, brackets or citation markers like [1]
_END = re.compile(
    r"((?:[.!?]+[\"'\u201d\u2019)\]]*(?:\s*\[[^\[\]\n]{1,40}\])*(?=\s|$)"
    r"|[.!?]*[\u3002\uff01\uff1f][.!?\u3002\uff01\uff1f]*[\"'\u201d\u2019)\]\u300d\u300f]*(?:\s*\[[^\[\]\n]{1,40}\])*))"
    r"(\s*)"
)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` in ``text`` (stripped of surrounding space).

    Handles abbreviations (e.g., et al.), decimals (3.5), initials, and citation markers that
    follow the full stop ("... capital. [1]" stays with its sentence). Blank lines and list items
    also end sentences.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    n = len(text)

    def push(a: int, b: int) -> None:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            spans.append((a, b))

    i = 0
    while i < n:
        m = _END.search(text, i)
        nl = text.find("\n\n", i)
        li = _next_list_item(text, i)
        candidates = [x for x in (nl, li) if x != -1]
        brk = min(candidates) if candidates else -1
        if brk != -1 and (m is None or brk < m.start()):
            push(start, brk)
            start = i = brk + (2 if text.startswith("\n\n", brk) else 1)
            continue
        if m is None:
            break
        end = m.end(1)
        before = text[start : m.start(1)]
        last_word = re.findall(r"[\w.]+$", before)
        lw = last_word[0].casefold().rstrip(".") if last_word else ""
        nxt = text[m.end() : m.end() + 1]
        is_abbrev = m.group(1).startswith(".") and (
            lw in _ABBREV or (len(lw) == 1 and lw.isalpha()) or (nxt and nxt.islower())
        )
        if is_abbrev and m.end() < n:
            i = m.end()
            continue
        push(start, end)
        start = i = m.end()
    push(start, n)
    return spans


_LIST_ITEM = re.compile(r"\n[ \t]*(?:[-*\u2022]|\d+[.)])[ \t]+")


def _next_list_item(text: str, pos: int) -> int:
    m = _LIST_ITEM.search(text, pos)
    return m.start() if m else -1


def format_duration(seconds: float) -> str:
    """``"40 seconds"``, ``"12 minutes"``, ``"2.5 hours"`` (how long a large source will take, CLI and GUI)."""
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    if seconds < 5400:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"
