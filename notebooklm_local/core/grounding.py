"""Does a passage support a claim? The explainable checks behind every citation (issue 14).

Word overlap alone passes a sentence whose one changed word is the fact: a swapped name, an inserted
"not", "more" for "less". So besides overlap, each claim must pass checks that each name the word or
number at fault:

* **numbers** (digits and number words, with their scale: "1.1 billion" = "1.1B", "12 billion" =
  "12.0B") must occur in a cited passage, and a number's unit ("4x" / "4%", "14 GB" / "14 MB") must be
  the passage's;
* **names, acronyms and technical identifiers** (``core/density.py``'s entity extraction, plus words
  with inner capitals such as "vLLM") must occur in a cited passage, matched case-, accent- and
  hyphenation-insensitively ("Llama 2" = "LLaMA-2" = "Llama2"), an acronym also by the initials of a
  phrase there ("CBOW" = "Continuous Bag-of-Words");
* **polarity**: the claim and the passage sentence it matches best must agree on negation ("not",
  "never", "cannot", "non-transferable" ...);
* **direction**: a comparison word the claim adds ("more", "faster", "after", "increases") must not
  contradict the opposite word in that sentence ("less", "slower", "before", "reduces"), nor may the
  claim swap the two sides of an "X outperforms Y";
* **support**: enough of the claim's content words occur in the passage — or, where an embedder is
  given (``similarity``), the claim is close in meaning to one of the passage's sentences, so that a
  faithful paraphrase sharing few words passes. The semantic signal only ever *rescues* a claim with
  little overlap; it never overrides a failed name, number, polarity or direction check.

Pure Python: the similarity callable comes from ``services`` (the built-in MiniLM embedder).
Calibrated on ``bench/data/grounding_calibration.json`` (``bench/bench_grounding.py``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from notebooklm_local.core.density import extract_entities
from notebooklm_local.core.textutil import STOPWORDS, content_words, split_sentences

__all__ = [
    "Similarity",
    "Verdict",
    "SUPPORT_THRESHOLD",
    "SEMANTIC_THRESHOLD",
    "SEMANTIC_FLOOR",
    "assess",
    "claim_terms",
    "term_occurs",
    "missing_numbers",
    "polarity_conflict",
    "direction_conflict",
    "best_sentence",
]

# (claim, sentences) -> cosine similarity of the claim with each sentence (same order)
Similarity = Callable[[str, Sequence[str]], Sequence[float]]

SUPPORT_THRESHOLD = 0.5  # share of a claim's content words found in its best cited passage
# A claim with less overlap passes when its best passage sentence is this close in meaning (MiniLM
# cosine) and it still shares SEMANTIC_FLOOR of its content words with the passage. Calibrated on
# bench/data/grounding_calibration.json: see bench/README.md ("Grounding checks").
SEMANTIC_THRESHOLD = 0.55
SEMANTIC_FLOOR = 0.2
MAX_CLAIM_CHARS = 2000  # a longer "sentence" is checked on its first 2000 characters (and flagged as too long)


@dataclass
class Verdict:
    supported: bool
    flag: str = ""  # why not, naming the word or number at fault ("" when supported)
    check: str = ""  # which check failed: number, unit, entity, negation, direction, support
    support: float = 0.0  # the overlap (or semantic) score that decided
    semantic: float | None = None


# ---------------------------------------------------------------------------------------------
# Normalising

def _fold(text: str) -> str:
    t = unicodedata.normalize("NFKD", text)
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    return t.casefold()


def _spaced(text: str) -> str:
    """Words only, one space apart: "LLaMA-2's" -> "llama 2 s"."""
    return " ".join(re.findall(r"[^\W_]+", _fold(text)))


def _compact(text: str) -> str:
    return "".join(re.findall(r"[^\W_]+", _fold(text)))


# ---------------------------------------------------------------------------------------------
# Names, acronyms, identifiers

_INNER_CAP = re.compile(r"(?<![\w-])(?=\w*[a-z]\w*[A-Z]|\w*[A-Z]{2}\w*[a-z]\w*[A-Z])[A-Za-z][\w+]*\w(?![\w-])")
_IDENT = re.compile(r"(?<![\w.-])(?=[\w.+-]*[A-Za-z])(?=[\w.+-]*\d)[A-Za-z0-9][\w.+]*(?:-[\w.+]+)+(?![\w-])")
_CONNECTORS = frozenset("of the for de del der la le van von du da y and".split())
_ABBREVIATIONS = frozenset("eg ie etc vs cf al ca approx resp viz".split())
# Words a sentence may start with that are not names (the suffix rule below covers most others)
_COMMON_STARTERS = frozenset(
    """although because since unlike while once thus hence instead still yet even often usually typically overall
    together both either neither despite according another other such every each many several whatever whenever
    wherever however furthermore moreover therefore meanwhile nevertheless nonetheless indeed likewise first second
    third next then here there today now also besides otherwise rather yes okay thanks why what where who how when
    which whose one two three four five six seven eight nine ten all few much more less only just again already
    always never sometimes perhaps maybe given unless until upon within without across along among around behind
    beyond inside outside toward towards via per like unlike near our their its his her your my this that these
    those they we you it he she i an a the in on at by for from to of with as if so or and but nor not no
    well sure right great good nice wow hey hello hi welcome thank thanks yeah yep exactly true indeed absolutely
    okay oh ah hmm fine cool imagine picture suppose assume consider note see look think tell let take keep make
    use try ask give show read start remember compare check add say go put get find run set pick choose write call
    turn open hold bring wait listen hear""".split())
# after an imperative verb comes its object ("Tell me ...", "Take the ..."); after a name, mostly a verb
_OBJECT_WORDS = frozenset("me us you him her them it the a an this that these those your our my his their about "
                          "to what how why whether".split())
_COMMON_SUFFIX = re.compile(r"(?:ing|ed|ly|s|ion|ment|ness|ity|ive|al|ous|ful|able|ible|ise|ize|ism|ist|er|est|ure"
                            r"|ance|ence|ship|hood|less|ward|wise)$")


def claim_terms(claim: str, reference: str | None = None) -> list[str]:
    """Names, acronyms and technical identifiers of ``claim`` that a cited passage must contain
    (numbers are checked on their own)."""
    out: dict[str, str] = {}
    for e in extract_entities(claim, reference):
        e = e.strip()
        if not e or e[0].isdigit() or not re.search(r"[^\W\d_]", e):
            continue  # a number with its unit: the number check's job
        out.setdefault(_spaced(e), e)
    for rx in (_INNER_CAP, _IDENT):
        for m in rx.finditer(claim):
            out.setdefault(_spaced(m.group(0)), m.group(0))
    # a name that starts the sentence ("Microsoft was ...") is not told apart from a capitalised common word
    # by the entity extraction; a capitalised first word that is no common word by its form counts too
    for a, _b in split_sentences(claim):
        first = re.match(r"[\"'\u201c(]*([A-Z][a-z]{2,})(?:['\u2019]s)?\b(?![-'\u2019]\w)", claim[a:])
        if first is None:
            continue
        nxt = re.match(r"[\s,]*([A-Za-z]+)", claim[a + first.end():])
        if nxt is not None and nxt.group(1).casefold() in _OBJECT_WORDS:
            continue
        w = first.group(1)
        lw = w.casefold()
        if lw in STOPWORDS or lw in _COMMON_STARTERS or _COMMON_SUFFIX.search(lw):
            continue
        if re.search(rf"(?<!^)\b{re.escape(lw)}\b", claim[a:].casefold()[len(first.group(0)):]):
            continue  # used lower-case in the claim itself: a common word
        out.setdefault(_spaced(w), w)
    # a term inside a longer one is checked with it ("Llama" within "Llama 2")
    for k in [k for k in out if k.replace(" ", "") in _ABBREVIATIONS]:
        del out[k]
    keys = sorted(out, key=len, reverse=True)
    kept: list[str] = []
    for k in keys:
        if k and not any(re.search(rf"(?<!\w){re.escape(k)}(?!\w)", longer) for longer in kept):
            kept.append(k)
    folded = _spaced(claim)
    return [out[k] for k in sorted(kept, key=lambda k: (folded.find(k) % (len(folded) + 1), k))]


def _initials_match(acronym: str, words_: Sequence[str]) -> bool:
    letters = acronym.casefold()
    n = len(letters)
    for i in range(len(words_) - n + 1):
        if all(words_[i + j][0] == letters[j] for j in range(n)):
            return True
    return False


def _has_word(word: str, text_words: set[str]) -> bool:
    if word in text_words:
        return True
    if len(word) > 3 and word.endswith("s") and word[:-1] in text_words:  # "H100s", "GPTs"
        return True
    return word + "s" in text_words


def term_occurs(term: str, text: str) -> bool:
    """``term`` (a name, acronym or identifier) occurs in ``text``, ignoring case, accents, hyphens and
    spacing ("Llama 2" = "LLaMA-2" = "Llama2"), a plural "s", or as the initials of a phrase there."""
    t = _spaced(term)
    if not t:
        return True
    spaced = " " + _spaced(text) + " "
    if f" {t} " in spaced:
        return True
    tokens = t.split()
    text_words = set(spaced.split())
    if len(tokens) == 1:
        if _has_word(tokens[0], text_words):
            return True
    compact = _compact(term)
    if (len(tokens) > 1 or re.search(r"\d", compact)) and len(compact) >= 4 and compact in _compact(text):
        return True
    if len(tokens) > 1:
        significant = [w for w in tokens if w not in _CONNECTORS]
        if significant and not any(w.isdigit() for w in significant) and \
                all(_has_word(w, text_words) for w in significant):
            return True  # "Grand Prix of China" / "China Grand Prix"
        initials = "".join(w[0] for w in tokens if w not in _CONNECTORS and w.isalpha())
        if len(initials) >= 2 and initials in text_words:  # "Retrieval-Augmented Generation" = "RAG"
            return True
    letters = re.sub(r"[^A-Za-z]", "", term)
    if 2 <= len(letters) <= 6 and letters.isupper() and len(tokens) == 1:
        if _initials_match(letters, spaced.split()):  # "CBOW" = "Continuous Bag-of-Words"
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Numbers and units

_WORD_NUMBERS = {w: float(i) for i, w in enumerate(
    "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split()) if w != "_"}
_WORD_NUMBERS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
                      "ninety": 90, "dozen": 12})
_SCALES = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
           "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12, "bn": 1e9, "mn": 1e6}
_UNITS = {"%": "%", "percent": "%", "per cent": "%", "percentage": "%", "x": "x", "\u00d7": "x", "times": "x",
          "fold": "x", "gb": "gb", "gib": "gb", "mb": "mb", "mib": "mb", "kb": "kb", "kib": "kb", "tb": "tb",
          "ms": "ms", "milliseconds": "ms", "millisecond": "ms", "seconds": "s", "second": "s", "sec": "s",
          "minutes": "min", "minute": "min", "min": "min", "hours": "h", "hour": "h", "days": "d", "day": "d",
          "weeks": "wk", "week": "wk", "months": "mo", "month": "mo", "years": "y", "year": "y", "bit": "bit",
          "bits": "bit", "bytes": "byte", "byte": "byte"}
_NUM_TOKEN = r"(?:\d[\d,]*(?:\.\d+)?|(?:" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")\b)"
_QUANTITY = re.compile(
    rf"(?<![\w.])(?P<num>{_NUM_TOKEN})(?![\d])"
    r"(?:[\s-]?(?P<scale>hundred|thousand|million|billion|trillion|bn|mn|[kKmMbBtT])(?![A-Za-z]))?"
    r"(?:[\s-]?(?P<unit>%|\u00d7|x(?![A-Za-z])|per cent|percent(?:age)?|times|fold|[GMKT]i?B(?![A-Za-z])"
    r"|milliseconds?|ms(?![A-Za-z])|seconds?|sec(?![A-Za-z])|minutes?|hours?|days?|weeks?|months?|years?"
    r"|bits?|bytes?)(?![A-Za-z]))?",
    re.IGNORECASE,
)
_BARE_SCALE = re.compile(r"(?<![\w.\d])(?:a few|few|several|many|hundreds of|thousands of|millions of|billions of)?"
                         r"\s*\b(hundreds?|thousands?|millions?|billions?|trillions?)\b", re.IGNORECASE)
_ORDINAL_SUFFIX = re.compile(r"^(st|nd|rd|th)\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Quantity:
    surface: str
    value: float  # with the scale applied
    raw: float  # without it
    unit: str  # "" or a canonical unit


def _to_float(num: str) -> float | None:
    n = num.casefold().replace(",", "")
    if n in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[n])
    try:
        return float(n)
    except ValueError:
        return None


def _quantities(text: str) -> list[_Quantity]:
    out = []
    for m in _QUANTITY.finditer(text):
        raw = _to_float(m.group("num"))
        if raw is None:
            continue
        scale = m.group("scale")
        s = _SCALES.get(scale.casefold(), 1.0) if scale else 1.0
        if scale and scale in "mM" and m.group("unit") is None and text[m.end("scale"):m.end("scale") + 1] == "s":
            s = 1.0  # "5 ms"
        unit = m.group("unit")
        u = _UNITS.get(re.sub(r"\s+", " ", unit.casefold()), unit.casefold()) if unit else ""
        surface = re.sub(r"\s+", " ", m.group(0)).strip(" -")
        out.append(_Quantity(surface, raw * s, raw, u))
    return out


def _digit_numbers(text: str) -> set[float]:
    """Every digit run in ``text`` (also inside identifiers such as "Llama2-13B" or "Q4_K_M")."""
    vals = set()
    for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text):
        v = _to_float(n.rstrip(","))
        if v is not None:
            vals.add(v)
    return vals


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _scale_words(text: str) -> set[str]:
    return {m.group(1).casefold().rstrip("s") for m in _BARE_SCALE.finditer(text)}


def missing_numbers(claim: str, cited: str) -> tuple[list[str], list[str]]:
    """(numbers of ``claim`` not in ``cited``, numbers there with another unit). Each as the claim writes it
    (digits without thousands separators)."""
    passage_q = _quantities(cited)
    values = {q.value for q in passage_q} | {q.raw for q in passage_q} | _digit_numbers(cited)
    missing: list[str] = []
    wrong_unit: list[str] = []
    claim_digits = {m.start(): m.group(0) for m in re.finditer(r"\d[\d,]*(?:\.\d+)?", claim)}
    covered: set[int] = set()
    for m, q in zip(_QUANTITY.finditer(claim), _quantities(claim), strict=False):
        covered |= set(range(m.start(), m.end()))
        is_word = not m.group("num")[0].isdigit()
        if is_word and q.raw in (0.0,) and not q.unit:
            continue
        if _ORDINAL_SUFFIX.match(claim[m.end():m.end() + 3]) and not q.unit:
            if not any(_close(q.raw, v) for v in values):
                missing.append(m.group("num").replace(",", ""))
            continue
        scaled = q.value != q.raw
        if scaled:
            ok = any(_close(q.value, pq.value) for pq in passage_q)
        elif q.unit:  # "8 bits" needs an 8 as a quantity there, not the 8 of "Q8_0"
            ok = any(_close(q.raw, pq.raw) or _close(q.raw, pq.value) for pq in passage_q)
        else:
            ok = any(_close(q.raw, v) for v in values)
        if not ok and not scaled and is_word:
            ok = False
        if not ok:
            missing.append(q.surface.replace(",", "") if scaled or is_word else m.group("num").replace(",", ""))
            continue
        if q.unit:
            same_value = [pq for pq in passage_q if _close(pq.value, q.value) or _close(pq.raw, q.raw)]
            if same_value and not any(pq.unit == q.unit for pq in same_value) and any(pq.unit for pq in same_value) or not same_value and q.unit not in {pq.unit for pq in passage_q} and q.unit in {"gb", "mb", "kb", "tb"}:
                wrong_unit.append(q.surface)
    # digits inside identifiers the quantity pattern skipped ("Llama2-13B", "GPT-4")
    for start, d in claim_digits.items():
        if start in covered:
            continue
        v = _to_float(d.rstrip(","))
        if v is not None and not any(_close(v, x) for x in values):
            missing.append(d.replace(",", ""))
    # "a few thousand" where the passage says "a few hundred"
    for w in sorted(_scale_words(claim) - _scale_words(cited)):
        if not re.search(rf"\b{w}", cited, re.IGNORECASE) and not any(w in q.surface.casefold() for q in
                                                                       _quantities(claim)):
            missing.append(w)
    return list(dict.fromkeys(missing)), list(dict.fromkeys(wrong_unit))


# ---------------------------------------------------------------------------------------------
# Polarity and direction

_NEG = re.compile(
    r"\b(?:not|no|never|none|nor|neither|nothing|nobody|nowhere|cannot|hardly|rarely|seldom|unable|lacks?|lacking"
    r"|fails?|failed|ignor(?:e|es|ed|ing)|avoid(?:s|ed|ing)?|prevent(?:s|ed|ing)?|refus(?:e|es|ed|ing)"
    r"|stop(?:s|ped)?\s+(?:working|running|functioning))\b|n['\u2019]t\b",
    re.IGNORECASE,
)
# contrast: "X rather than Y" / "X instead of Y" negate Y, not the claim; they count only against a negation
_WEAK_NEG = re.compile(r"\b(?:rather\s+than|instead\s+of|but\s+only|whereas|unlike)\b", re.IGNORECASE)
_SCOPE = re.compile(r"\b(not|no|never)\s+(?:\w+\s+){0,1}?(\w{3,})", re.IGNORECASE)
_NEG_PREFIX = re.compile(r"\b(un|in|im|il|ir|dis|non-?)([a-z]{5,})", re.IGNORECASE)


def _negations(text: str, other: str) -> list[str]:
    """Negation cues of ``text``; a prefixed word counts when ``other`` has its positive root
    ("indistinguishable" when the other side says "distinguish")."""
    # "No: it runs on a laptop." answers a question; the "No" negates nothing in the sentence itself
    cues = [m.group(0) for m in _NEG.finditer(text)
            if not (m.group(0).casefold() == "no" and not text[:m.start()].strip(" \"'\u201c(")
                    and re.match(r"\s*[,:;!\u2014\u2013-]", text[m.end():]))]
    other_words = set(re.findall(r"\w+", other.casefold()))
    for m in _NEG_PREFIX.finditer(text):
        root = m.group(2).casefold()[:6]
        if any(w.startswith(root) for w in other_words) and m.group(0).casefold() not in other_words:
            cues.append(m.group(0))
    return cues


_INSTEAD = re.compile(r"\b(?:instead\s+of|rather\s+than)\s+(?:being\s+|getting\s+)?([^.,;:!?()]+)", re.IGNORECASE)


def _instead_conflict(claim: str, sentence: str) -> str | None:
    """"A is flagged instead of being shown as facts": a claim that says the replaced thing ("are shown as
    facts") without the thing done instead ("flagged") asserts what the source says does not happen."""
    if _INSTEAD.search(claim):
        return None  # the claim keeps the contrast
    said = set(content_words(claim))
    for m in _INSTEAD.finditer(sentence):
        replaced = content_words(m.group(1))
        before = re.findall(r"[^\W_]+", sentence[:m.start()])
        word = before[-1] if before else ""  # what happens instead: the word just before ("flagged")
        done = content_words(word)
        if replaced and done and done[0] not in said and sum(w in said for w in replaced) * 2 >= len(replaced):
            return (f"it says \u201c{m.group(1).strip()}\u201d where the source says that is what does not happen "
                    f"(\u201c{word} {m.group(0).strip()}\u201d)")
    return None


def polarity_conflict(claim: str, sentence: str) -> str | None:
    """A flag when ``claim`` and its best passage sentence disagree on negation, else None."""
    c = _negations(claim, sentence)
    s = _negations(sentence, claim)
    if len(c) % 2 == len(s) % 2:
        instead = _instead_conflict(claim, sentence)
        if instead:
            return instead
        # same polarity; but "evaluate X and not Y" vs "evaluate Y and not X" negates another thing
        cs = {m.group(1).casefold(): m.group(2) for m in _SCOPE.finditer(claim)}
        for m in _SCOPE.finditer(sentence):
            w = cs.get(m.group(1).casefold())
            if w is not None and content_words(w) and content_words(m.group(2)) and \
                    content_words(w)[0] != content_words(m.group(2))[0] and \
                    content_words(w)[0] in content_words(sentence) and content_words(m.group(2))[0] in content_words(claim):
                return f"it says \u201c{m.group(1)} {w}\u201d where the source says \u201c{m.group(1)} {m.group(2)}\u201d"
        return None
    weaker = claim if len(c) % 2 == 0 else sentence
    if _WEAK_NEG.search(weaker):
        return None  # "rather than generating" for "isn't generative"
    if len(c) > len(s):
        return f"it says \u201c{c[0].strip()}\u201d where the source does not"
    return f"it leaves out the source's \u201c{s[0].strip()}\u201d"


_DIRECTIONS: list[tuple[str, str, str]] = [
    # (group, up words, down words): lemma stems, matched at a word's start
    ("amount",
     "increas rise rose risen rais grow grew gain boost higher more greater larger bigger improv enhanc lift exceed",
     "decreas fall fell drop reduc reduct cut lower less fewer smaller declin shrink shrank hurt degrad worsen"),
    ("quality", "better outperform superior best", "worse underperform inferior worst"),
    ("speed", "faster quicker speedup", "slower slowdown"),
    ("time", "before earlier prior preced", "after later following subsequent"),
    ("length", "longer", "shorter"),
    ("extreme", "most maximum max highest largest", "least minimum min lowest smallest"),
    ("sameness", "same identical equal match", "different differ distinct"),
    ("truth", "true correct valid", "false incorrect invalid wrong"),
    ("difficulty", "easy easier", "hard harder difficult"),
]
_DIR_LEXICON: dict[str, tuple[str, int]] = {}
for _g, _up, _down in _DIRECTIONS:
    for _w in _up.split():
        _DIR_LEXICON[_w] = (_g, 1)
    for _w in _down.split():
        _DIR_LEXICON[_w] = (_g, -1)
_EXACT = frozenset("more less most least max min cut fell rose lift better worse best worst prior after before "
                   "later lower higher same equal match true false wrong valid easy hard".split())


def _direction_words(text: str) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for w in re.findall(r"[a-z]+", text.casefold()):
        for stem, d in _DIR_LEXICON.items():
            if (w in (stem, stem + "s", stem + "ed", stem + "ing")) if stem in _EXACT else (
                    w.startswith(stem) and len(w) - len(stem) <= 4):
                out[w] = d
                break
    return out


def _next_words(text: str, word: str) -> set[str]:
    toks = re.findall(r"[a-z]+", text.casefold())
    return {content_words(t)[0] for i, t in enumerate(toks) if t == word
            for t in toks[i + 1:i + 3] if content_words(t)}


def direction_conflict(claim: str, sentence: str) -> str | None:
    """A flag when the claim adds a direction word whose opposite the best sentence has ("more" / "less")."""
    cw, sw = _direction_words(claim), _direction_words(sentence)
    for w, (g, d) in cw.items():
        if w in sw:
            continue
        # "less power" where the source says "more power", whatever else the sentence says
        after = _next_words(claim, w)
        for w2, (g2, d2) in sw.items():
            if g2 == g and d2 == -d and w2 not in cw and after & _next_words(sentence, w2):
                return f"it says \u201c{w}\u201d where the source says \u201c{w2}\u201d"
        if any((g2, d2) == (g, d) for w2, (g2, d2) in sw.items()):
            continue  # the source says it too, in another word
        opposite = [w2 for w2, (g2, d2) in sw.items() if g2 == g and d2 == -d and w2 not in cw]
        if opposite:
            return f"it says \u201c{w}\u201d where the source says \u201c{opposite[0]}\u201d"
    return None


_COMPARATOR = re.compile(r"\b(?:than|outperform\w*|beat\w*|exceed\w*|surpass\w*|over|vs\.?|versus)\b|[<>]",
                         re.IGNORECASE)


def _order_conflict(claim: str, sentence: str, terms: Sequence[str]) -> str | None:
    """"X outperforms Y" in the source, "Y outperforms X" in the claim."""
    cm, sm = _COMPARATOR.search(claim), _COMPARATOR.search(sentence)
    if cm is None or sm is None or cm.group(0).casefold()[:4] != sm.group(0).casefold()[:4]:
        return None
    sp = _spaced(sentence)
    cp = _spaced(claim)
    placed = []
    for t in terms:
        k = _spaced(t)
        ci, si = cp.find(k), sp.find(k)
        if k and ci >= 0 and si >= 0:
            placed.append((t, ci < len(_spaced(claim[:cm.start()])), si < len(_spaced(sentence[:sm.start()]))))
    sides = {(c, s) for _, c, s in placed}
    if len(placed) >= 2 and all(c != s for _, c, s in placed) and len({c for c, _ in sides}) == 2:
        a, b = placed[0][0], placed[1][0]
        return f"it reverses the comparison between \u201c{a}\u201d and \u201c{b}\u201d"
    return None


# ---------------------------------------------------------------------------------------------
# Putting it together

def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)] or [text]


def _overlap(claim_words: set[str], text: str) -> float:
    return len(claim_words & set(content_words(text))) / len(claim_words) if claim_words else 0.0


def best_sentences(claim: str, passages: Sequence[str], tie: float = 0.15) -> list[str]:
    """The passage sentences sharing most content words with ``claim`` (the best and any within ``tie``)."""
    cw = set(content_words(claim))
    scored = [(_overlap(cw, s), s) for p in passages for s in _sentences(p)]
    if not scored:
        return [""]
    top = max(sc for sc, _ in scored)
    return [s for sc, s in scored if sc >= top - tie][:4]


def best_sentence(claim: str, passages: Sequence[str]) -> str:
    """The passage sentence sharing most content words with ``claim``."""
    return best_sentences(claim, passages, 0.0)[0]


def _initial_word_only(claim: str, term: str, cited: str) -> bool:
    """"Asking ChatGPT to ..." : the run's first word only starts the sentence; the rest is in the source."""
    words_ = term.split()
    if not words_ or not (_COMMON_SUFFIX.search(words_[0].casefold()) or words_[0].casefold() in _COMMON_STARTERS):
        return False
    return len(words_) > 1 and claim.lstrip(" \"'\u201c(").startswith(term) and term_occurs(" ".join(words_[1:]), cited)


def assess(claim: str, passages: Sequence[str], *, overlap: float,
           similarity: Similarity | None = None) -> Verdict:
    """Check ``claim`` against the texts of its cited ``passages``; ``overlap`` is the lexical support score
    the caller computed (best passage sentence, whole passage, union of passages)."""
    claim = claim[:MAX_CLAIM_CHARS]
    if not re.search(r"[^\W_]", claim):
        return Verdict(True, support=1.0)  # punctuation or markers only: claims nothing
    cited = "\n\n".join(passages)
    missing, wrong_unit = missing_numbers(claim, cited)
    if missing:
        return Verdict(False, f"the number(s) {', '.join(missing)} do not occur in the cited passage", "number",
                       overlap)
    if wrong_unit:
        return Verdict(False, f"\u201c{wrong_unit[0]}\u201d: the cited passage gives that number another unit",
                       "unit", overlap)
    terms = claim_terms(claim, cited)
    absent = [t for t in terms if not term_occurs(t, cited) and not _initial_word_only(claim, t, cited)]
    if absent:
        names = ", ".join(f"\u201c{t}\u201d" for t in absent[:4])
        verb = "does" if len(absent) == 1 else "do"
        return Verdict(False, f"{names} {verb} not occur in the cited passage", "entity", overlap)
    candidates = best_sentences(claim, passages)
    # polarity: flagged when every near-best sentence disagrees; direction: when the near-best ones together do
    neg = [polarity_conflict(claim, s) for s in candidates]
    if all(neg):
        return Verdict(False, str(neg[0]), "negation", overlap)
    joined = " ".join(candidates)
    why = direction_conflict(claim, joined) or _order_conflict(claim, candidates[0], terms)
    if why:
        return Verdict(False, why, "direction", overlap)
    if overlap >= SUPPORT_THRESHOLD:
        return Verdict(True, support=overlap)
    semantic = None
    if similarity is not None and overlap >= SEMANTIC_FLOOR:
        candidates = [s[:400] for p in passages for s in _sentences(p)][:48]
        try:
            sims = list(similarity(claim[:400], candidates)) if candidates else []
        except Exception:  # noqa: BLE001 - a failing embedder must not break the check: lexical only
            sims = []
        semantic = max(sims, default=0.0)
        if semantic >= SEMANTIC_THRESHOLD:
            return Verdict(True, support=max(overlap, SUPPORT_THRESHOLD), semantic=semantic)
    cw = set(content_words(claim))
    cited_words = set(content_words(cited))
    gaps = [w for w in re.findall(r"[^\W_]+", claim)
            if w.casefold() not in STOPWORDS and len(w) > 2 and content_words(w)
            and content_words(w)[0] in cw - cited_words]
    gaps = list(dict.fromkeys(gaps))
    return Verdict(False, "", "support", overlap, semantic) if not gaps else Verdict(
        False, "not in the source: " + ", ".join(f"\u201c{w}\u201d" for w in gaps[:4]), "support", overlap, semantic)
