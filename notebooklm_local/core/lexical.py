"""Planning of the BM25 (FTS5) query: which query terms select rows, which only add to the score.

FTS5 ranks every row its MATCH expression selects (``ORDER BY rank`` computes bm25 for each: about
2 us a row), and bm25 first counts each phrase's rows over the whole table (about 0.1 us a row). An OR
of frequent terms ("model", "data": 36k and 25k of 100k rows) therefore costs 80+ ms at 100k rows.

The plan bounds the rows ranked without changing the score of any row it returns:
- when the summed document frequencies of the terms fit a budget (``MATCH_BUDGET`` rows), the query
  is the plain OR of them, as before (always so in small libraries);
- otherwise the rarest terms select rows while their summed frequencies fit the budget, and the other,
  frequent terms ("extra") stay in the expression only to be scored: Library.lexical_search matches
  ``(selecting) AND (extra OR scope)``; the scope phrase holds for every row searched and its column's
  weight is 0, so each returned row gets FTS5's bm25 for the full query. Rows containing none of the
  selecting terms are not returned (they rank low: only frequent terms);
- when even the rarest term is over the budget, rows must contain every term (AND), with a fallback
  to the plain OR when that finds too few rows.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from notebooklm_local.core.textutil import STOPWORDS

__all__ = ["MATCH_BUDGET", "query_terms", "fts_tokens", "varints", "Plan", "plan"]

MATCH_BUDGET = 5000  # rows the selecting terms may match (summed document frequencies): ~10 ms of ranking

_QUERY_TOKEN = re.compile(r"\w+", re.UNICODE)
_FTS_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# the combining-mark blocks (diacritics that NFKD splits off)
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def query_terms(text: str) -> list[str]:
    """The query's terms as fts_query quotes them: lower case, stop words dropped unless nothing else is left."""
    terms = [t for t in _QUERY_TOKEN.findall(text.lower()) if len(t) > 1 or t.isdigit()]
    content = [t for t in terms if t not in STOPWORDS] or terms
    return list(dict.fromkeys(content))[:64]


def fts_tokens(text: str) -> list[str]:
    """Tokens as FTS5's ``unicode61 remove_diacritics 2`` makes them (letters and digits, folded)."""
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return _FTS_TOKEN.findall(text.casefold())


def varints(blob: bytes) -> list[int]:
    """Decode a run of SQLite varints (FTS5's averages record and docsize blobs)."""
    out: list[int] = []
    i, n = 0, len(blob)
    while i < n:
        v = 0
        for j in range(9):
            c = blob[i]
            i += 1
            if j == 8:
                v = (v << 8) | c
                break
            v = (v << 7) | (c & 0x7F)
            if not c & 0x80:
                break
        out.append(v)
    return out


@dataclass(frozen=True)
class Plan:
    match: list[str]  # terms whose rows are selected (OR-ed, or AND-ed when ``conjunctive``)
    extra: list[str]  # frequent single-token terms: scored on the selected rows, never selecting
    conjunctive: bool = False

    @property
    def exact(self) -> bool:
        """The plain OR of all terms (the unpruned query)."""
        return not self.extra and not self.conjunctive


def plan(terms: Sequence[str], df: Mapping[str, int], single: Iterable[str], budget: int | None = None) -> Plan:
    """Choose the selecting terms. ``df``: rows containing each term; ``single``: the terms that are one
    FTS token (a phrase such as "gpt-4" always selects)."""
    budget = MATCH_BUDGET if budget is None else budget
    singles = set(single)
    if sum(df.get(t, 0) for t in terms) <= budget or len(terms) < 2:
        return Plan(list(terms), [])
    order = sorted(terms, key=lambda t: (t in singles, df.get(t, 0)))  # phrases first: never "extra"
    match: list[str] = []
    total = 0
    for t in order:
        if t not in singles or not match or total + df.get(t, 0) <= budget:
            match.append(t)
            total += df.get(t, 0)
    if total > budget and all(t in singles for t in match) and len(match) == 1:
        return Plan(list(terms), [], conjunctive=True)  # even the rarest term is frequent: rows with all
    extra = [t for t in terms if t not in match]
    return Plan([t for t in terms if t in match], extra)
