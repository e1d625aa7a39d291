"""Generative flashcards and quiz: an instruct model writes question/answer cards (or multiple-choice questions
with three distractors and an explanation) under a JSON grammar, each naming the passage it comes from, at the
difficulty and count the user chose.

Every item is checked like an answer's sentence (``core/citations.verify_sentences``: content words, numbers,
names, negation, direction, and the embedder's similarity when there is one): its answer (and a quiz
question's explanation) must be supported by the passage it cites. An item that fails is *regenerated once*
(one more call asks for replacements, naming what was rejected), then dropped: it is never shown as correct.
A quiz question whose distractor equals its answer (or another distractor) is rejected the same way. A batch
in which no item passes is retried (``generate_structured``) and then left out; a run with no item at all is
refused with a clear :class:`~notebooklm_local.core.errors.StudioError` and nothing is stored.

Long material is read map-style: the passages are cut into batches that fit the context, at most
``MAX_BATCHES`` of them spread over the whole material, each asked for its share of the count. The result
is the same :class:`~notebooklm_local.core.cards.CardDeck` / ``Quiz`` the model-free path makes (``generated``
true; each card's ``sentence`` is the cited source sentence that holds the answer), stored with the kinds
``flashcards`` / ``quiz``, so the view, the quiz mode and the exports (Markdown, CSV, Anki) are shared.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from notebooklm_local.core.cards import Card, CardDeck, Quiz, QuizQuestion
from notebooklm_local.core.citations import Citation, Passage, format_passages, sentence_citation, verify_sentences
from notebooklm_local.core.errors import NotebookError, StudioError
from notebooklm_local.core.extractive import Extract
from notebooklm_local.core.grounding import SUPPORT_THRESHOLD, Similarity
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import ChatMessage, Engine
from notebooklm_local.core.studio_store import StudioOutput, StudioStore
from notebooklm_local.core.templates import PromptTemplate
from notebooklm_local.core.textutil import content_words
from notebooklm_local.services.studio.common import (
    Progress,
    RunStats,
    batch_by_tokens,
    generate_structured,
    load_material,
    messages_for,
)
from notebooklm_local.services.studio.stages import OnStage, StageReporter

__all__ = ["DIFFICULTIES", "WrittenResult", "generate_cards", "cards_schema", "quiz_schema", "CARDS_LABEL",
           "QUIZ_LABEL", "spread_batches", "local_passages", "sentence_citation", "same_answer", "phrase_ok"]

DIFFICULTIES = ("easy", "medium", "hard")
CARDS_LABEL = "Written by the model from your sources \u2014 every answer checked against its passage"
QUIZ_LABEL = CARDS_LABEL
MAX_BATCHES = 4  # bounded time: long material is sampled (evenly) and the note says so
MAX_PER_CALL = 8
MAX_COUNT = 50


@dataclass
class WrittenResult:
    """What a generative Extract output returns (the shape of ``timeline_gen.GeneratedResult``)."""

    kind: str  # flashcards | quiz | mindmap
    result: Any
    output: StudioOutput | None
    stats: RunStats
    notes: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # why each dropped item was dropped

    @property
    def seconds(self) -> float:
        return self.stats.wall_s


def _ids(n: int) -> dict[str, Any]:
    """The passage ids the model may cite, as an enum (a grammar writes only these)."""
    return {"type": "integer", "enum": list(range(1, max(1, n) + 1))}


def cards_schema(n_passages: int, max_items: int) -> dict[str, Any]:
    return {"type": "object", "properties": {"cards": {"type": "array", "minItems": 1, "maxItems": max(1, max_items),
                                                       "items": {"type": "object", "properties": {
                                                           "question": {"type": "string", "maxLength": 240},
                                                           "answer": {"type": "string", "maxLength": 160},
                                                           "passage": _ids(n_passages)},
                                                           "required": ["question", "answer", "passage"]}}},
            "required": ["cards"]}


def quiz_schema(n_passages: int, max_items: int) -> dict[str, Any]:
    option = {"type": "string", "maxLength": 120}
    return {"type": "object", "properties": {"questions": {
        "type": "array", "minItems": 1, "maxItems": max(1, max_items), "items": {"type": "object", "properties": {
            "question": {"type": "string", "maxLength": 240},
            "answer": option,
            "distractors": {"type": "array", "items": option, "minItems": 3, "maxItems": 3},
            "explanation": {"type": "string", "maxLength": 300},
            "passage": _ids(n_passages)},
            "required": ["question", "answer", "distractors", "explanation", "passage"]}}},
            "required": ["questions"]}


# -- shared with the mind map ---------------------------------------------------------------------


def spread_batches(batches: list[list[Passage]], most: int) -> tuple[list[list[Passage]], int]:
    """At most ``most`` batches spread evenly over all of them (the whole material is sampled, not its start);
    and how many passages were left out."""
    if len(batches) <= most:
        return batches, 0
    picks = sorted({round(i * (len(batches) - 1) / (most - 1)) for i in range(most)}) if most > 1 else [0]
    kept = [batches[i] for i in picks]
    return kept, sum(len(b) for b in batches) - sum(len(b) for b in kept)


def local_passages(batch: Sequence[Passage]) -> list[Passage]:
    """The batch renumbered 1..n (the ids the prompt shows and the grammar allows)."""
    return [Passage(j + 1, p.chunk_id, p.source_id, p.source_title, p.text, p.start, p.end, p.page, p.page_end,
                    p.t_start, p.heading, p.url, ocr_pages=p.ocr_pages) for j, p in enumerate(batch)]


def _norm(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).casefold()
    t = re.sub(r"[^\w\s]", " ", t)
    return " ".join(w for w in t.split() if w not in ("a", "an", "the", "about", "approximately", "around"))


def same_answer(a: str, b: str) -> bool:
    """Whether two options say the same thing (case, punctuation, articles and "about" aside)."""
    na, nb = _norm(a), _norm(b)
    if not na or not nb:
        return na == nb
    return na == nb or (content_words(a) == content_words(b) and re.findall(r"\d+", a) == re.findall(r"\d+", b))


def _title(base: str, names: Sequence[str]) -> str:
    if not names:
        return base
    return (f"{base} \u2014 {names[0]}" if len(names) == 1 else f"{base} \u2014 {names[0]} + {len(names) - 1} more")[:200]


# -- checking one item ----------------------------------------------------------------------------


def phrase_ok(s: Any) -> bool:
    """A short answer or a concept label is a phrase, not a claim: it has no polarity or direction of its own
    ("the CPU" from "layers that do not fit stay on the CPU"), so only those two checks are waived for it; its
    words, names and numbers must still be in the passage. (An explanation, a sentence, gets every check.)"""
    return bool(s.citations) and s.check in ("negation", "direction") and s.support >= SUPPORT_THRESHOLD


def _answer_position(p: Passage, answer: str, quote: tuple[int, int] | None) -> int:
    """Where the passage states the answer: its literal text when it occurs, else the checker's best quote."""
    i = p.text.casefold().find(answer.casefold().strip(" .")) if len(answer.strip()) >= 2 else -1
    if i >= 0:
        return i
    if quote is not None:
        return max(0, min(len(p.text) - 1, quote[0] - p.start))
    return 0


@dataclass
class _Item:
    card: Card
    distractors: list[str]


def _check_item(kind: str, it: Any, by_local: dict[int, Passage], difficulty: str,
                similarity: Similarity | None, reasons: list[str]) -> _Item | None:
    if not isinstance(it, dict):
        reasons.append("an item is not an object")
        return None
    pid = it.get("passage")
    p = by_local.get(pid) if isinstance(pid, int) and not isinstance(pid, bool) else None
    question = " ".join(str(it.get("question", "")).split())
    answer = " ".join(str(it.get("answer", "")).split()).strip()
    label = f"\u201c{question[:60]}\u201d"
    if p is None:
        reasons.append(f"{label} cites passage {pid!r}, which it was not given")
        return None
    if len(re.findall(r"[^\W\d_]{2,}", question)) < 3:
        reasons.append(f"{label} is not a question")
        return None
    if not content_words(answer) and not re.search(r"\d", answer):
        reasons.append(f"{label} has no answer to check")
        return None
    if not set(content_words(question)) & set(content_words(p.text)):
        reasons.append(f"{label} is not about its passage")
        return None
    if _norm(answer) and f" {_norm(answer)} " in f" {_norm(question)} ":
        reasons.append(f"{label} gives its answer away")
        return None
    distractors: list[str] = []
    explanation = ""
    if kind == "quiz":
        raw = it.get("distractors")
        distractors = [" ".join(str(d).split()).strip() for d in raw] if isinstance(raw, list) else []
        if len(distractors) != 3 or not all(distractors):
            reasons.append(f"{label} does not have three distractors")
            return None
        if any(same_answer(d, answer) for d in distractors):
            reasons.append(f"{label} has a distractor equal to its answer")
            return None
        if any(same_answer(distractors[i], distractors[j]) for i in range(3) for j in range(i + 1, 3)):
            reasons.append(f"{label} repeats a distractor")
            return None
        explanation = " ".join(str(it.get("explanation", "")).split())
    claims = [(answer, [p.pid])] + ([(explanation, [p.pid])] if explanation else [])
    sents, _cits = verify_sentences(claims, [p], similarity)
    if not (sents[0].supported and sents[0].citations) and not phrase_ok(sents[0]):
        reasons.append(f"the answer of {label} is not supported by its passage ({sents[0].flag or 'no support'})")
        return None
    if explanation and not (sents[1].supported and sents[1].citations):
        reasons.append(f"the explanation of {label} is not supported by its passage ({sents[1].flag or 'no support'})")
        return None
    pos = _answer_position(p, answer, sents[0].quotes.get(p.pid))
    cit = sentence_citation(p, p.pid, pos)
    if cit is None:
        reasons.append(f"{label}: its passage is empty")
        return None
    ca, cb = cit.start - p.start, cit.end - p.start
    ext = Extract(p.text[ca:cb], cit, (ca, cb))
    i = ext.text.casefold().find(answer.casefold())
    span = (i, i + len(answer)) if i >= 0 else (0, 0)
    cid = hashlib.sha1(f"{p.source_id}:{cit.start}:{question}:{answer}".encode(), usedforsecurity=False).hexdigest()[:16]
    card = Card(cid, ext, answer, span, "written", question=question, explanation=explanation, difficulty=difficulty)
    return _Item(card, distractors)


def _checker(kind: str, local: Sequence[Passage], difficulty: str, similarity: Similarity | None,
             seen: set[str], rejected: list[str], *, allow_none: bool = False) -> Callable[[Any], list[_Item]]:
    by_local = {p.pid: p for p in local}
    key = "cards" if kind == "flashcards" else "questions"

    def check(data: Any) -> list[_Item]:
        items = data.get(key) if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise ValueError(f"no {key} in the output")
        reasons: list[str] = []
        out: list[_Item] = []
        mine: set[str] = set()
        for it in items:
            got = _check_item(kind, it, by_local, difficulty, similarity, reasons)
            if got is None:
                continue
            k = _norm(got.card.question)
            if k in seen or k in mine:
                continue
            mine.add(k)
            out.append(got)
        if not out and not allow_none:
            why = "; ".join(dict.fromkeys(reasons[:3])) or "nothing usable"
            raise ValueError(f"no {'card' if kind == 'flashcards' else 'question'} passed the checks ({why})")
        rejected[:] = reasons
        seen.update(mine)
        return out

    return check


# -- the run --------------------------------------------------------------------------------------


def generate_cards(engine: Engine, library: Any, notebook: str, source_ids: Sequence[str] | None = None, *,
                   what: str = "flashcards", template: PromptTemplate, count: int = 10, difficulty: str = "medium",
                   language: str = "", similarity: Similarity | None = None, retries: int = 1, seed: int = 0,
                   store: bool = True, progress: Progress | None = None, on_stage: OnStage | None = None,
                   cancel: CancelToken | None = None, max_batches: int = MAX_BATCHES, max_tokens: int | None = None,
                   provenance: dict[str, Any] | None = None) -> WrittenResult:
    """Flashcards (``what`` "flashcards") or a quiz ("quiz") written by ``engine`` from the notebook's selected
    sources (or ``source_ids``), every answer checked against its passage (see the module docstring).
    ``library`` is the LibraryService. Raises NotebookError on bad input, StudioError when no item passes."""
    kind = {"flashcards": "flashcards", "cards": "flashcards", "quiz": "quiz"}.get(what)
    if kind is None:
        raise NotebookError(f"Unknown output '{what}'. Choose flashcards or quiz.")
    if difficulty not in DIFFICULTIES:
        raise NotebookError(f"Difficulty must be one of: {', '.join(DIFFICULTIES)}.")
    if not 1 <= int(count) <= MAX_COUNT:
        raise NotebookError(f"The count must be between 1 and {MAX_COUNT}.")
    count = int(count)
    cancel = cancel or CancelToken()
    reporter = StageReporter(progress, on_stage)
    stats = RunStats()
    lib = library.library
    nb = lib.notebook(notebook)
    sources, passages = load_material(lib, nb.id, source_ids)
    names = [s.display for s in sources]
    base = "Flashcards" if kind == "flashcards" else "Quiz"
    title = _title(base, names)
    model = engine.info().model
    n_ctx = engine.info().n_ctx or 4096
    per_item = 70 if kind == "flashcards" else 150
    budget = max_tokens or min(1600, per_item * min(count, MAX_PER_CALL) + 40)
    overhead = engine.count_chat_tokens(messages_for(template, _values("", 1, difficulty, language)))
    room = max(300, n_ctx - budget - overhead - 64)
    batches, left_out = spread_batches(batch_by_tokens(passages, engine.count_tokens, room), max_batches)
    notes: list[str] = []
    if left_out:
        notes.append(f"The sources are long: the model read {sum(len(b) for b in batches)} passages spread over them; "
                     f"{left_out} others were left out.")
    shares = [count // len(batches) + (1 if i < count % len(batches) else 0) for i in range(len(batches))]
    items: list[_Item] = []
    seen: set[str] = set()
    dropped: list[str] = []
    failures: list[str] = []
    schema_of = cards_schema if kind == "flashcards" else quiz_schema
    for i, (batch, want) in enumerate(zip(batches, shares, strict=True)):
        if want <= 0:
            continue
        cancel.raise_if_set()
        reporter.unit(i, len(batches), "Writing from part" if len(batches) > 1 else "Writing",
                      part=i + 1, parts=len(batches))
        local = local_passages(batch)
        ask = min(MAX_PER_CALL, want)
        msgs = messages_for(template, _values(format_passages(local), ask, difficulty, language))
        rejected: list[str] = []
        try:
            got, _attempts = generate_structured(
                engine, msgs, schema_of(len(local), ask), _checker(kind, local, difficulty, similarity, seen, rejected),
                what=base.lower(), max_tokens=min(budget, per_item * ask + 40), retries=retries, stats=stats,
                temperature=0.3, cancel=cancel, reporter=reporter)
        except StudioError as e:
            failures.append(str(e))
            continue
        got = got[:want]
        if rejected and len(got) < want:  # regenerate the rejected ones once; what fails again is dropped
            missing = min(len(rejected), want - len(got))
            again: list[str] = []
            redo = [*msgs[:-1], ChatMessage("user", msgs[-1].content + "\n\nThese were rejected because the "
                                            "passages do not support them: " + "; ".join(rejected[:4])
                                            + f". Write {missing} different one(s), each answered by its passage.")]
            try:
                more, _ = generate_structured(
                    engine, redo, schema_of(len(local), missing),
                    _checker(kind, local, difficulty, similarity, seen, again, allow_none=True),
                    what=f"replacement {base.lower()}", max_tokens=min(budget, per_item * missing + 40), retries=0,
                    stats=stats, temperature=0.6, cancel=cancel, reporter=reporter)
            except StudioError:
                more = []
            got += more[:missing]
            dropped += rejected + again  # replaced or not, a rejected item is never shown
        else:
            dropped += rejected
        items += got
    reporter.unit(len(batches), len(batches), "Checking the answers")
    if not items:
        stats.finish()
        raise StudioError(failures[0] if failures else f"The model gave no usable {base.lower()}.")
    if failures:
        notes.append(f"{len(failures)} of {len(batches)} parts gave no item that passed the checks.")
    if dropped:
        notes.append(f"{len(dropped)} item(s) dropped: not supported by their passage after one rewrite "
                     f"(e.g. {dropped[0]}).")
    if len(items) < count:
        notes.append(f"{len(items)} of the {count} asked for passed the checks.")
    items = items[:count]
    for n, it in enumerate(items, 1):  # one footnote per item
        c = it.card.sentence.citation
        it.card.sentence.citation = Citation(n, c.chunk_id, c.source_id, c.source_title, c.page, c.t_start, c.start,
                                             c.end, c.quote, c.location, c.url)
    result: CardDeck | Quiz
    if kind == "flashcards":
        result = CardDeck(title, [it.card for it in items], notes, CARDS_LABEL, True, model)
    else:
        qs = []
        for it in items:
            rng = random.Random(seed * 7_919 + zlib.crc32(it.card.id.encode()))
            options = [it.card.answer, *it.distractors]
            order = list(range(len(options)))
            rng.shuffle(order)
            qs.append(QuizQuestion(it.card, [options[k] for k in order], order.index(0), []))
        result = Quiz(title, qs, seed, notes, QUIZ_LABEL, True, model)
    reporter.finish(f"{len(items)} {'cards' if kind == 'flashcards' else 'questions'}, every answer checked")
    stats.finish()
    out = None
    if store:
        payload = result.to_json()
        payload["stats"] = {**stats.to_json(), "wall_s": round(stats.wall_s, 4)}
        payload["dropped"] = dropped[:50]
        if provenance:
            payload["provenance"] = provenance
        out = StudioStore(lib).add(nb.id, kind, title, source_ids=[s.id for s in sources],
                                   options={"generated": True, "count": count, "difficulty": difficulty,
                                            "seed": seed, "language": language},
                                   model=model, template=template.name, payload=payload)
    return WrittenResult(kind, result, out, stats, notes, dropped)


def _values(passages: str, count: int, difficulty: str, language: str) -> dict[str, Any]:
    return {"passages": passages, "count": count, "difficulty": difficulty, "language": language}
