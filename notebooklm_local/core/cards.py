"""Cloze flashcards and multiple-choice quizzes made of source sentences, with nothing generated.

A card is an informative, complete source sentence with one salient span blanked out: a number with its
unit ("4.8 bits"), a year, an acronym ("GGUF"), a named entity (capitalised words, "Scott Alexander") or a
key term (a content word that recurs in the source). Among a sentence's spans the blank is the most
salient by TF-IDF (the span's inverse sentence frequency times how often it recurs), weighted by type;
cards are ranked by sentence centrality times blank salience, deduplicated (one card per sentence and
per answer, no near-duplicate sentences) and spread over the sources.

A quiz question is a card whose blank gets three distractors of the same type taken from the sources:
numbers with the same unit (or years), acronyms, entities (same number of words preferred), terms of a
similar frequency. Options are shuffled with a seeded generator (same seed, same quiz); the
explanation is the cited sentence.

Pure Python; see ``core/extractive.py`` for the corpus and the citations.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import random
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from notebooklm_local.core.citations import Citation
from notebooklm_local.core.extractive import (
    LABEL,
    Corpus,
    Extract,
    Sentence,
    cosine,
    md_escape,
    md_footnote,
    one_line,
)
from notebooklm_local.core.textutil import STOPWORDS, content_words

__all__ = ["Span", "Card", "CardDeck", "QuizQuestion", "Quiz", "find_spans", "cloze_cards", "multiple_choice",
           "BLANK"]

BLANK = "_____"
MAX_POOL = 1500  # distractor candidates kept per type
TYPE_WEIGHT = {"number": 1.15, "year": 0.9, "acronym": 1.1, "entity": 1.1, "term": 1.0}

_UNITS = frozenset(
    "% percent bit bits byte bytes kb mb gb tb pb kib mib gib b k m bn ms s sec secs second seconds min mins minute "
    "minutes h hr hrs hour hours day days week weeks month months year years x times token tokens parameter "
    "parameters param params layer layers dimension dimensions dim dims head heads core cores gpu gpus cpu cpus "
    "step steps epoch epochs sample samples example examples document documents word words character characters "
    "page pages km m cm mm kg g mg meter meters metre metres mile miles usd eur dollar dollars euro euros million "
    "billion trillion thousand hz khz mhz ghz w kw mw v ms fps px".split()
)
_NUMBER = re.compile(r"(?<![\w.,/-])([$\u20ac\u00a3\u00a5]?)(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![.,]\d)")
_UNIT_AFTER = re.compile(r"(%|[A-Za-z\u00b5\u00b0][A-Za-z]{0,14})(?![\w-])|([ \u00a0])(%|[A-Za-z\u00b5\u00b0][A-Za-z]{0,14})(?![\w-])")
_TOKEN = re.compile(r"[^\W_][\w'\u2019]*(?:[-.][^\W_][\w'\u2019]*)*")
_CONNECTORS = frozenset("of de la le du des von van der den di da the for and &".split())
_VERB_CONTEXT = frozenset("to can could will would should may might must not i we you they he she it who "
                          "which that does did do".split())
_ROMAN = frozenset("I II III IV V VI VII VIII IX X XI XII".split())


@dataclass(frozen=True)
class Span:
    """A blankable span of a sentence: ``sentence.text[start:end] == text``."""

    start: int
    end: int
    text: str
    type: str  # number | year | acronym | entity | term
    key: str  # what makes two spans the same answer (casefolded; numbers: the value)
    unit: str = ""  # numbers: normalised unit ("" none)
    value: float = 0.0  # numbers and years


def _unit_key(unit: str) -> str:
    u = unit.casefold()
    if u in ("%", "percent"):
        return "%"
    return u[:-1] if len(u) > 3 and u.endswith("s") and not u.endswith("ss") else u


def _is_acronym(tok: str) -> bool:
    ups = sum(ch.isupper() for ch in tok)
    return ups >= 2 and len(tok) <= 16 and any(ch.isalpha() for ch in tok) and tok not in _ROMAN


def _numbers(text: str) -> list[Span]:
    out = []
    for m in _NUMBER.finditer(text):
        a, b = m.span()
        raw = m.group(2)
        try:
            value = float(raw.replace(",", ""))
        except ValueError:
            continue
        unit = ""
        if m.group(1):
            unit = m.group(1)
        um = _UNIT_AFTER.match(text, b)
        if um:
            word = um.group(1) or um.group(3)
            attached = um.group(1) is not None
            wk = word.casefold()
            ok = not unit and (word == "%" or wk in _UNITS or (not attached and word.islower() and wk not in STOPWORDS))
            if ok:
                unit = word
                b = um.end()
            elif attached:
                continue  # "3D", "4th": part of a word
        prev = text[:a].rstrip()
        prev_word = prev.rsplit(None, 1)[-1] if prev.split() else ""
        if not unit:
            if "." not in raw and len(raw) == 4 and 1500 <= value <= 2100:
                out.append(Span(a, b, text[a:b], "year", raw, "", value))
                continue
            if len(raw.replace(",", "").replace(".", "")) < 2 or (prev_word[:1].isupper() and a > 0
                                                                   and text[a - 1] == " "):
                continue  # "3 benefits" is not worth a card; "Gemma 3" is a name
        out.append(Span(a, b, text[a:b], "number", f"{value:g} {_unit_key(unit)}".strip(), _unit_key(unit), value))
    return out


def find_spans(text: str, *, lower_vocab: Counter[str] | None = None) -> list[Span]:
    """The blankable spans of a sentence: numbers (with units), years, acronyms, entities, key terms.

    ``lower_vocab`` (how often each word is written in lower case in the sources) tells a capitalised common
    word at the start of a sentence from a name."""
    lower_vocab = lower_vocab or Counter()
    spans = _numbers(text)
    taken = [(s.start, s.end) for s in spans]
    toks = []
    for m in _TOKEN.finditer(text):
        a, b, w = m.start(), m.end(), m.group()
        if len(w) > 2 and w[-2:] in ("'s", "\u2019s"):
            b, w = b - 2, w[:-2]
        toks.append((a, b, w))
    first_alpha = next((i for i, (_, _, w) in enumerate(toks) if w[0].isalpha()), None)
    i = 0
    while i < len(toks):
        a, b, w = toks[i]
        cap = w[0].isupper() and not w.isdigit()
        if not cap:
            i += 1
            continue
        j = i
        while j + 1 < len(toks):  # extend over capitalised words (and connectors inside a name)
            na, nb, nw = toks[j + 1]
            gap = text[toks[j][1] : na]
            if gap not in (" ", "\u00a0"):
                break
            if nw[0].isupper():
                j += 1
            elif nw.casefold() in _CONNECTORS and j + 2 < len(toks) and toks[j + 2][2][0].isupper() \
                    and text[nb : toks[j + 2][0]] == " ":
                j += 2
            else:
                break
        run = toks[i : j + 1]
        if i == first_alpha or text[max(0, a - 2) : a].strip() in (":", ".", "\u2013", "-", "\u2014"):
            # a capitalised first word is only a name when the sources never write it in lower case
            if run[0][2].casefold() in STOPWORDS or lower_vocab.get(run[0][2].casefold(), 0) > 0 or (
                    len(run) == 1 and not _is_acronym(run[0][2])):
                run = run[1:]
        while run and (run[-1][2].casefold() in _CONNECTORS or run[-1][2] == "I"):
            run = run[:-1]
        if run:
            ra, rb = run[0][0], run[-1][1]
            surface = text[ra:rb]
            if not any(s < rb and ra < e for s, e in taken):
                if len(run) == 1 and _is_acronym(surface):
                    if lower_vocab.get(surface.casefold(), 0) == 0 or not surface.isalpha() or not surface.isupper():
                        key = surface[:-1] if surface.endswith("s") and surface[:-1].isupper() else surface
                        spans.append(Span(ra, rb, surface, "acronym", key.casefold()))
                        taken.append((ra, rb))
                elif len(run) >= 2 or (surface.casefold() not in STOPWORDS and len(surface) >= 3
                                       and lower_vocab.get(surface.casefold(), 0) == 0):
                    spans.append(Span(ra, rb, surface, "entity", surface.casefold()))
                    taken.append((ra, rb))
        i = j + 1
    prev: tuple[int, int, str] | None = None
    for k, (a, b, w) in enumerate(toks):
        ok = (w.islower() and (len(w) >= 5 or "-" in w) and w not in STOPWORDS and not w.endswith("ly")
              and not any(ch.isdigit() for ch in w) and not any(s < b and a < e for s, e in taken))
        before = toks[k - 1][2].casefold() if k else ""
        if ok and before not in _VERB_CONTEXT:
            cw = content_words(w)
            if cw:
                spans.append(Span(a, b, w, "term", "-".join(cw)))
                if prev is not None and text[prev[1] : a] == " ":  # a two-word term ("reward model")
                    spans.append(Span(prev[0], b, text[prev[0] : b], "term", prev[2] + " " + "-".join(cw)))
                prev = (a, b, "-".join(cw))
                continue
        prev = None
    spans.sort(key=lambda s: s.start)
    return spans


# ---------------------------------------------------------------------------------------------
# Cards


@dataclass
class Card:
    """A cloze card: ``sentence.text[answer_span[0]:answer_span[1]] == answer``."""

    id: str
    sentence: Extract
    answer: str
    answer_span: tuple[int, int]
    answer_type: str
    unit: str = ""
    score: float = 0.0
    # a card written by the model (services/studio/cards_gen.py): a question, its checked answer, the
    # explanation and the difficulty asked for; ``sentence`` is the cited source sentence that supports it
    question: str = ""
    explanation: str = ""
    difficulty: str = ""

    @property
    def front(self) -> str:
        """The sentence with the answer blanked (one line); a written card's question."""
        if self.question:
            return one_line(self.question)
        a, b = self.answer_span
        t = self.sentence.text
        return one_line(t[:a] + "\x00" + t[b:]).replace("\x00", BLANK)

    @property
    def back(self) -> str:
        return self.answer

    @property
    def cloze(self) -> str:
        """Anki cloze text: ``... {{c1::answer}} ...`` (braces in the sentence are spaced out)."""
        a, b = self.answer_span
        t = self.sentence.text

        def safe(x: str) -> str:
            return x.replace("{{", "{ {").replace("}}", "} }").replace("::", ": :")

        return one_line(safe(t[:a]) + "\x00" + safe(t[b:])).replace("\x00", "{{c1::" + safe(self.answer) + "}}")

    @property
    def citation(self) -> Citation:
        return self.sentence.citation

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "front": self.front, "back": self.back, "cloze": self.cloze, "answer": self.answer,
                "answer_span": list(self.answer_span), "answer_type": self.answer_type, "unit": self.unit,
                "score": round(self.score, 4), "sentence": self.sentence.to_json(),
                **({"question": self.question, "explanation": self.explanation, "difficulty": self.difficulty}
                   if self.question else {})}


def _card_id(s: Sentence, span: Span) -> str:
    key = f"{s.passage.source_id}:{s.start}:{s.end}:{span.start}:{span.end}"
    return hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


@dataclass
class _Candidate:
    sentence: Sentence
    span: Span
    salience: float
    score: float


class _Index:
    """Every span of every candidate sentence, with how often each answer recurs (for salience and distractors)."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        lower: Counter[str] = Counter()
        for s in corpus.sentences:
            for m in _TOKEN.finditer(s.text):
                w = m.group()
                if w.islower():
                    lower[w] += 1
        self.lower = lower
        self.spans: dict[int, list[Span]] = {s.idx: find_spans(s.text, lower_vocab=lower) for s in corpus.sentences}
        self.freq: Counter[tuple[str, str]] = Counter()
        self.src_freq: Counter[tuple[int, str, str]] = Counter()
        for s in corpus.sentences:
            for sp in self.spans[s.idx]:
                self.freq[(sp.type, sp.key)] += 1
                self.src_freq[(s.src, sp.type, sp.key)] += 1
        n = max(1, len(corpus.sentences))
        self.max_idf = math.log(1 + n) + 1.0

    def salience(self, s: Sentence, sp: Span) -> float:
        c = self.corpus
        tf = self.src_freq[(s.src, sp.type, sp.key)]
        if sp.type in ("number", "year"):
            base = 0.75 if sp.unit else 0.5
        else:
            ws = content_words(sp.text)
            if not ws:
                return 0.0
            idf = sum(c.idf.get(w, self.max_idf) for w in ws) / len(ws)
            if sp.type == "term":
                df = min(c.df.get(w, 0) for w in ws)
                if tf < 2 or df > 0.15 * max(1, len(c.sentences)):
                    return 0.0  # a key term recurs in its source, and is not everywhere
                if len(ws) > 1:
                    idf *= 1.25
            base = idf / self.max_idf
        return base * (1 + math.log(max(1, tf))) ** 0.5 * TYPE_WEIGHT[sp.type]

    def candidates(self, *, need_distractors: bool = False) -> list[_Candidate]:
        out = []
        for s in self.corpus.sentences:
            if not s.strict:
                continue
            low = s.text.casefold()
            best: _Candidate | None = None
            for sp in self.spans[s.idx]:
                if low.count(sp.text.casefold()) != 1 or n_words_simple(sp.text) > 0.5 * s.words:
                    continue
                sal = self.salience(s, sp)
                if sal <= 0:
                    continue
                cand = _Candidate(s, sp, sal, s.score * (0.4 + 0.6 * s.info) * sal)
                if best is None or cand.score > best.score:
                    best = cand
            if best is not None:
                out.append(best)
        out.sort(key=lambda c: -c.score)
        return out


def n_words_simple(text: str) -> int:
    return len(text.split())


def _spread(cands: list[_Candidate], count: int, corpus: Corpus, accept: Any) -> list[tuple[_Candidate, Any]]:
    """Take up to ``count`` candidates, best first, spread over the sources by the square root of their size;
    ``accept(candidate, chosen)`` returns something (taken) or None (skipped)."""
    by_src: dict[int, list[_Candidate]] = {}
    for c in cands:
        by_src.setdefault(c.sentence.src, []).append(c)
    weight = {i: math.sqrt(len(v)) for i, v in by_src.items()}
    total = sum(weight.values()) or 1.0
    taken: dict[int, int] = dict.fromkeys(by_src, 0)
    pos: dict[int, int] = dict.fromkeys(by_src, 0)
    chosen: list[tuple[_Candidate, Any]] = []
    while len(chosen) < count:
        live = [i for i in by_src if pos[i] < len(by_src[i])]
        if not live:
            break
        i = max(live, key=lambda k: (count * weight[k] / total - taken[k], -k))
        c = by_src[i][pos[i]]
        pos[i] += 1
        got = accept(c, chosen)
        if got is not None:
            chosen.append((c, got))
            taken[i] += 1
    return chosen


def _fresh(c: _Candidate, chosen: list[tuple[_Candidate, Any]]) -> bool:
    for d, _ in chosen:
        if d.span.key == c.span.key and d.span.type == c.span.type:
            return False
        if d.sentence.idx == c.sentence.idx or cosine(d.sentence.vec, c.sentence.vec) > 0.7:
            return False
    return True


@dataclass
class CardDeck:
    title: str
    cards: list[Card]
    notes: list[str] = field(default_factory=list)
    label: str = LABEL
    generated: bool = False  # written by ``model`` (every answer checked against its passage)
    model: str = ""

    @property
    def citations(self) -> list[Citation]:
        return [c.citation for c in self.cards]

    @property
    def text(self) -> str:
        return "\n".join(f"{c.front} \u2192 {c.back} [{c.citation.passage_id}]" for c in self.cards)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "flashcards", "label": self.label, "title": self.title, "cards": [c.to_json() for c in self.cards],
                "citations": [c.to_json() for c in self.citations], "text": self.text, "notes": self.notes,
                **({"generated": True, "model": self.model} if self.generated else {})}

    def to_markdown(self) -> str:
        out = [f"# {md_escape(self.title)}", "", f"*{self.label}.*", ""]
        for n, c in enumerate(self.cards, 1):
            out += [f"{n}. {md_escape(c.front)}[^{c.citation.passage_id}]", f"   **Answer:** {md_escape(c.back)}"]
            if c.explanation:
                out += [f"   *{md_escape(c.explanation)}*"]
            out += [""]
        if not self.cards:
            out += ["*No sentence in the selected sources makes a good card.*", ""]
        for note in self.notes:
            out += [f"*Note: {md_escape(note)}*", ""]
        out += [md_footnote(c.citation.passage_id, c.citation, quote=True) for c in self.cards]
        return "\n".join(out).rstrip() + "\n"

    def to_csv(self) -> str:
        """One row per card: front, back, source, location, sentence (with a header row)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["front", "back", "source", "location", "sentence"])
        for c in self.cards:
            w.writerow([c.front, c.back, c.citation.source_title, c.citation.location, c.sentence.display])
        return buf.getvalue()


def cloze_cards(corpus: Corpus, count: int = 20, *, title: str = "Flashcards") -> CardDeck:
    """Up to ``count`` cloze cards, the most informative first within each source, sources in order."""
    count = max(1, int(count))
    index = _Index(corpus)
    picked = _spread(index.candidates(), count, corpus, lambda c, chosen: True if _fresh(c, chosen) else None)
    picked.sort(key=lambda t: (t[0].sentence.src, t[0].sentence.start))
    cards = []
    for n, (c, _) in enumerate(picked, 1):
        s, sp = c.sentence, c.span
        cards.append(Card(_card_id(s, sp), Extract.of(s, n), sp.text, (sp.start, sp.end), sp.type, sp.unit, c.score))
    notes = []
    if len(cards) < count:
        notes.append(f"{len(cards)} card(s) of the {count} asked for: the selected sources have no more "
                     "informative sentences with a term, name or number to blank out.")
    return CardDeck(title, cards, notes)


# ---------------------------------------------------------------------------------------------
# Quiz


@dataclass
class QuizQuestion:
    card: Card
    options: list[str]
    correct: int  # index into options
    distractor_refs: list[dict[str, Any]] = field(default_factory=list)  # where each distractor was found

    @property
    def stem(self) -> str:
        return self.card.front

    @property
    def answer(self) -> str:
        return self.card.answer

    @property
    def explanation(self) -> str:
        """The cited sentence, verbatim (one line); a written question's explanation."""
        return one_line(self.card.explanation) if self.card.explanation else self.card.sentence.display

    @property
    def citation(self) -> Citation:
        return self.card.citation

    def to_json(self) -> dict[str, Any]:
        return {"id": self.card.id, "stem": self.stem, "options": self.options, "correct": self.correct,
                "answer": self.answer, "answer_type": self.card.answer_type,
                "answer_span": list(self.card.answer_span), "explanation": self.explanation,
                "distractor_refs": self.distractor_refs, "sentence": self.card.sentence.to_json(),
                **({"question": self.card.question, "written_explanation": self.card.explanation,
                    "difficulty": self.card.difficulty} if self.card.question else {})}


@dataclass
class Quiz:
    title: str
    questions: list[QuizQuestion]
    seed: int = 0
    notes: list[str] = field(default_factory=list)
    label: str = LABEL
    generated: bool = False  # written by ``model`` (every answer checked against its passage)
    model: str = ""

    @property
    def citations(self) -> list[Citation]:
        return [q.citation for q in self.questions]

    @property
    def text(self) -> str:
        return "\n".join(f"{q.stem} ({' / '.join(q.options)}) \u2192 {q.answer} [{q.citation.passage_id}]"
                         for q in self.questions)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "quiz", "label": self.label, "title": self.title, "seed": self.seed,
                "questions": [q.to_json() for q in self.questions],
                "citations": [c.to_json() for c in self.citations], "text": self.text, "notes": self.notes,
                **({"generated": True, "model": self.model} if self.generated else {})}

    def to_markdown(self) -> str:
        out = [f"# {md_escape(self.title)}", "", f"*{self.label}.*", ""]
        for n, q in enumerate(self.questions, 1):
            out += [f"**{n}.** {md_escape(q.stem)}", ""]
            out += [f"- {chr(65 + k)}) {md_escape(o)}" for k, o in enumerate(q.options)]
            out += [""]
        if self.questions:
            out += ["## Answers", ""]
            for n, q in enumerate(self.questions, 1):
                out += [f"{n}. **{chr(65 + q.correct)}) {md_escape(q.answer)}** \u2014 "
                        f"\u201c{md_escape(q.explanation)}\u201d[^{q.citation.passage_id}]", ""]
        else:
            out += ["*The selected sources do not have enough terms, names or numbers of one kind for a quiz.*", ""]
        for note in self.notes:
            out += [f"*Note: {md_escape(note)}*", ""]
        out += [md_footnote(q.citation.passage_id, q.citation) for q in self.questions]
        return "\n".join(out).rstrip() + "\n"

    def to_csv(self) -> str:
        """question, option_a..option_d, answer (letter), answer_text, source, location, explanation."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["question", "option_a", "option_b", "option_c", "option_d", "answer", "answer_text", "source",
                    "location", "explanation"])
        for q in self.questions:
            opts = (q.options + [""] * 4)[:4]
            w.writerow([q.stem, *opts, chr(65 + q.correct), q.answer, q.citation.source_title, q.citation.location,
                        q.explanation])
        return buf.getvalue()


_SUFFIXES = ("ing", "ion", "ions", "ed", "ly", "al", "er", "ers", "es", "s", "ity", "ness", "ment", "ive")


def _suffix(w: str) -> str:
    return next((s for s in sorted(_SUFFIXES, key=len, reverse=True) if w.endswith(s)), "")


class _Pool:
    """Distractor candidates by type: (span, sentence) of every distinct answer in the sources."""

    def __init__(self, index: _Index) -> None:
        self.index = index
        by_type: dict[tuple[str, str], dict[str, tuple[Span, Sentence]]] = {}
        for s in index.corpus.sentences:
            for sp in index.spans[s.idx]:
                if sp.type == "term" and index.freq[(sp.type, sp.key)] < 2:
                    continue
                group = sp.unit if sp.type == "number" else ""
                by_type.setdefault((sp.type, group), {}).setdefault(sp.key, (sp, s))
        self.by_type = {}  # the most frequent answers of each type: bounded work per question
        for k, v in by_type.items():
            t = k[0]
            keys = sorted(v, key=lambda key: (-index.freq[(t, key)], key))[:MAX_POOL]  # used at once
            self.by_type[k] = {key: v[key] for key in keys}

    def distractors(self, c: _Candidate, rng: random.Random) -> list[tuple[Span, Sentence]] | None:
        sp = c.span
        group = sp.unit if sp.type == "number" else ""
        pool = self.by_type.get((sp.type, group), {})
        low = c.sentence.text.casefold()
        ans = sp.text.casefold()
        f_ans = self.index.freq[(sp.type, sp.key)]
        scored = []
        for key, (d, ds) in pool.items():
            dt = d.text.casefold()
            if key == sp.key or dt == ans or dt in ans or ans in dt or (dt in low and re.search(
                    r"(?<!\w)" + re.escape(dt) + r"(?!\w)", low)):
                continue
            if sp.type == "term":
                if len(d.text.split()) != len(sp.text.split()):
                    continue
                if content_words(d.text)[:1] == content_words(sp.text)[:1]:
                    continue
                f = self.index.freq[(d.type, d.key)]
                if f < 2:
                    continue
                sim = -abs(math.log(f) - math.log(max(1, f_ans))) + (0.5 if _suffix(dt) == _suffix(ans) else 0.0)
            elif sp.type in ("number", "year"):
                if d.value == sp.value:
                    continue
                sim = -abs(math.log1p(abs(d.value)) - math.log1p(abs(sp.value)))
                sim += 0.3 if ("." in d.text) == ("." in sp.text) else 0.0
            elif sp.type == "entity":
                f = self.index.freq[(d.type, d.key)]
                sim = (0.6 if len(d.text.split()) == len(sp.text.split()) else 0.0) - 0.3 * abs(
                    math.log(f) - math.log(max(1, f_ans)))
            else:  # acronym
                sim = -0.3 * abs(len(d.text) - len(sp.text)) + (
                    0.4 if any(ch.isdigit() for ch in d.text) == any(ch.isdigit() for ch in sp.text) else 0.0) + (
                    0.5 if d.text.endswith("s") == sp.text.endswith("s") else 0.0)
            scored.append((sim, key, d, ds))
        if len(scored) < 3:
            return None
        scored.sort(key=lambda t: (-t[0], t[1]))
        top = scored[: max(3, min(8, len(scored)))]
        chosen: list[tuple[Span, Sentence]] = []
        seen: set[str] = set()
        for _, _, d, ds in rng.sample(top, len(top)):
            if d.text.casefold() in seen:
                continue
            seen.add(d.text.casefold())
            chosen.append((d, ds))
            if len(chosen) == 3:
                return chosen
        return None


def multiple_choice(corpus: Corpus, count: int = 10, *, seed: int = 0, title: str = "Quiz") -> Quiz:
    """Up to ``count`` questions: a source sentence with a blank, its answer and three same-type distractors
    from the sources, options shuffled deterministically by ``seed``."""
    count = max(1, int(count))
    index = _Index(corpus)
    pool = _Pool(index)

    def accept(c: _Candidate, chosen: list[tuple[_Candidate, Any]]) -> Any:
        if not _fresh(c, chosen):
            return None
        rng = random.Random(seed * 1_000_003 + zlib.crc32(f"{c.sentence.passage.source_id}:{c.sentence.start}"
                                                          .encode()))
        return pool.distractors(c, rng)

    picked = _spread(index.candidates(), count, corpus, accept)
    picked.sort(key=lambda t: (t[0].sentence.src, t[0].sentence.start))
    questions = []
    for n, (c, ds) in enumerate(picked, 1):
        s, sp = c.sentence, c.span
        card = Card(_card_id(s, sp), Extract.of(s, n), sp.text, (sp.start, sp.end), sp.type, sp.unit, c.score)
        rng = random.Random(seed * 7_919 + zlib.crc32(card.id.encode()))
        options = [sp.text] + [d.text for d, _ in ds]
        order = list(range(4))
        rng.shuffle(order)
        refs = [{"text": d.text, "source_id": dsent.passage.source_id, "chunk_id": dsent.passage.chunk_id,
                 "start": dsent.start + d.start, "end": dsent.start + d.end} for d, dsent in ds]
        questions.append(QuizQuestion(card, [options[k] for k in order], order.index(0), refs))
    notes = []
    if len(questions) < count:
        notes.append(f"{len(questions)} question(s) of the {count} asked for: too few answers of the same kind "
                     "(numbers with the same unit, names, acronyms, terms) in the selected sources for more.")
    return Quiz(title, questions, seed, notes)
