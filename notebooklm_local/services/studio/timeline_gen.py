"""The generative timeline and data table: an instruct model writes dated events (or subject / attribute /
value rows) under a JSON grammar, each naming the passage it comes from; every row is then checked like an
answer's sentence (``core/citations.verify_sentences``: numbers, names, negation, direction, support) and a
timeline row's date must be a date of its passage. Rows that fail are kept *flagged* (``supported`` false,
with the reason) and never shown as supported; a run in which no row is supported is retried, then refused
with a clear :class:`~notebooklm_local.core.errors.StudioError` — nothing made up is stored.

Only the passages that hold a date (timeline) or a quantity (table) are sent, in batches that fit the
model's context; with none, the result says so without calling the model. The result is the same
:class:`~notebooklm_local.core.timeline.Timeline` / ``DataTable`` the model-free path makes (``generated``
true), stored with the kinds ``timeline`` / ``data_table`` and the model's name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from notebooklm_local.core.citations import Citation, Passage, format_passages, sentence_citation, verify_sentences
from notebooklm_local.core.errors import NotebookError, StudioError
from notebooklm_local.core.grounding import Similarity
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import ChatMessage, Engine
from notebooklm_local.core.studio_store import StudioOutput, StudioStore
from notebooklm_local.core.textutil import split_sentences
from notebooklm_local.core.timeline import (
    NO_DATES,
    NO_FACTS,
    DataTable,
    DateMention,
    NumericFact,
    Timeline,
    TimelineEvent,
    find_dates,
    find_quantities,
)
from notebooklm_local.services.studio.common import (
    Progress,
    RunStats,
    batch_by_tokens,
    generate_structured,
    load_material,
)

__all__ = ["GeneratedResult", "generate", "timeline_schema", "table_schema", "GENERATED_LABEL"]

GENERATED_LABEL = "Written by the model from your sources \u2014 every row checked against its passage"
MAX_BATCHES = 6  # bounded time: later passages are left out (and said so)
ROWS_PER_BATCH = 12

_SYSTEM_TIMELINE = (
    "You extract a timeline from the passages. List dated events that the passages state: for each, the date as "
    "written in the passage (a year, a month and year, or a full date), a short description of the event in the "
    "passage's own words, and the id of the passage it comes from. Use only the passages. Do not guess dates. "
    "Answer with JSON only.")
_SYSTEM_TABLE = (
    "You extract a data table from the passages. List facts that the passages state with a number: for each, the "
    "subject (a named thing), the attribute (what is measured), the value with its unit exactly as written, and "
    "the id of the passage it comes from. Use only the passages. Answer with JSON only.")


def timeline_schema(n_passages: int, max_items: int = ROWS_PER_BATCH) -> dict[str, Any]:
    return {"type": "object", "properties": {"events": {"type": "array", "minItems": 1, "maxItems": max_items, "items": {
        "type": "object", "properties": {
            "date": {"type": "string", "maxLength": 40},
            "event": {"type": "string", "maxLength": 300},
            "passage": _passage_ids(n_passages)},
        "required": ["date", "event", "passage"]}}}, "required": ["events"]}


def table_schema(n_passages: int, max_items: int = ROWS_PER_BATCH) -> dict[str, Any]:
    return {"type": "object", "properties": {"rows": {"type": "array", "minItems": 1, "maxItems": max_items, "items": {
        "type": "object", "properties": {
            "subject": {"type": "string", "maxLength": 80},
            "attribute": {"type": "string", "maxLength": 80},
            "value": {"type": "string", "maxLength": 60},
            "passage": _passage_ids(n_passages)},
        "required": ["subject", "attribute", "value", "passage"]}}}, "required": ["rows"]}


def _passage_ids(n: int) -> dict[str, Any]:
    """The ids the model may cite, as an enum: a grammar turns it into the only numbers it can write (llama.cpp
    ignores ``minimum``/``maximum``; the tiny model wrote ids like 1000000000000000)."""
    return {"type": "integer", "enum": list(range(1, max(1, n) + 1))}


@dataclass
class GeneratedResult:
    kind: str  # timeline | data_table
    result: Timeline | DataTable
    output: StudioOutput | None
    stats: RunStats
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.stats.wall_s


def _words(text: str) -> int:
    return len(re.findall(r"[^\W\d_]{2,}", text))


def _same_date(d: DateMention, passage_text: str) -> DateMention | None:
    """The passage's date that ``d`` names (same year, and same month / day where both give one)."""
    for pd in find_dates(passage_text):
        if pd.key[0] != d.key[0] and not (pd.key_end and pd.key[0] <= d.key[0] <= pd.key_end[0]):
            continue
        if d.key[1] and pd.key[1] and d.key[1] != pd.key[1] and d.precision != "quarter":
            continue
        if d.key[2] and pd.key[2] and d.key[2] != pd.key[2]:
            continue
        if d.key[1] and not pd.key[1] and pd.precision == "year":
            continue  # "March 2019" is more than the passage's "2019"
        return pd
    return None


def _parse_date(text: str) -> DateMention | None:
    t = " ".join(str(text).split())[:40]
    ds = find_dates(t) or find_dates(f"in {t}")
    if not ds:
        return None
    d = ds[0]
    return d if d.end - d.start >= 4 else None


def _citation_for(sentence: Any, cits: Sequence[Citation], p: Passage) -> Citation | None:
    a, b = sentence.quotes.get(p.pid, (p.start, p.end))
    for c in cits:
        if c.passage_id == p.pid:
            return c
    quote = p.text[max(0, a - p.start) : max(0, b - p.start)].strip()
    return Citation(p.pid, p.chunk_id, p.source_id, p.source_title, p.page, p.t_start, a, b, quote, p.location,
                    p.url) if quote else None


def _number_position(p: Passage, value: str, subject: str) -> int | None:
    """Where the value's number is written in the passage (in a sentence naming the subject when one does)."""
    m = re.search(r"\d[\d,.]*\d|\d", value)
    if not m:
        return None
    num = m.group().rstrip(".,")
    hits = [h.start() for h in re.finditer(r"(?<![\d.])" + re.escape(num) + r"(?![\d])", p.text)]
    if not hits:
        return None
    words = [w for w in re.findall(r"\w{3,}", subject.casefold())]
    for a, b in split_sentences(p.text):
        if any(a <= h < b for h in hits) and any(w in p.text[a:b].casefold() for w in words):
            return next(h for h in hits if a <= h < b)
    return hits[0]


def _checker(kind: str, batch: Sequence[Passage], similarity: Similarity | None) -> Any:
    by_local = {i + 1: p for i, p in enumerate(batch)}

    def check(data: Any) -> list[Any]:
        key = "events" if kind == "timeline" else "rows"
        items = data.get(key) if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise ValueError(f"no {key} in the output")
        out: list[Any] = []
        reasons: list[str] = []
        seen: set[tuple[str, ...]] = set()
        for it in items:
            if not isinstance(it, dict):
                reasons.append("a row is not an object")
                continue
            pid = it.get("passage")
            p = by_local.get(pid) if isinstance(pid, int) and not isinstance(pid, bool) else None
            if p is None:
                reasons.append(f"a row cites passage {pid!r}, which it was not given")
                continue
            row: TimelineEvent | NumericFact | None
            if kind == "timeline":
                row = _check_event(it, p, similarity, reasons)
            else:
                row = _check_fact(it, p, similarity, reasons)
            if row is None:
                continue
            ident = ((row.date.iso, row.text.casefold()) if isinstance(row, TimelineEvent)
                     else (row.subject.casefold(), row.quantity.casefold()))
            if ident in seen:
                continue
            seen.add(ident)
            out.append(row)
        if not any(r.supported for r in out):
            why = "; ".join(dict.fromkeys(reasons[:3])) or "no row is supported by its passage"
            flags = [r.flag for r in out if r.flag][:2]
            raise ValueError(f"no row is supported by its passage ({why}{'; ' + '; '.join(flags) if flags else ''})")
        return out

    return check


def _verified(claim: str, p: Passage, similarity: Similarity | None,
              reasons: list[str]) -> tuple[Citation, bool, str] | None:
    """``claim`` checked against its one passage: (its citation, supported, the flag), or None (and the
    reason) when the passage gives nothing to cite."""
    sents, cits = verify_sentences([(claim, [p.pid])], [p], similarity)
    s = sents[0]
    cit = _citation_for(s, cits, p)
    if cit is None:
        reasons.append("a row whose passage is empty")
        return None
    return cit, bool(s.supported and s.citations), s.flag


def _check_event(it: dict[str, Any], p: Passage, similarity: Similarity | None,
                 reasons: list[str]) -> TimelineEvent | None:
    date_raw, event = str(it.get("date", "")).strip(), " ".join(str(it.get("event", "")).split())
    d = _parse_date(date_raw)
    if d is None:
        reasons.append(f"\u201c{date_raw[:40]}\u201d is not a date")
        return None
    if _words(event) < 3:
        reasons.append("an event without a description")
        return None
    checked = _verified(event, p, similarity, reasons)
    if checked is None:
        return None
    cit, supported, flag = checked
    in_passage = _same_date(d, p.text)
    if in_passage is None:
        supported, flag = False, f"the date \u201c{d.label}\u201d is not a date of the cited passage"
    else:
        d = DateMention(p.start + in_passage.start, p.start + in_passage.end, in_passage.text, d.key, d.precision,
                        d.label, d.key_end)
        cit = sentence_citation(p, cit.passage_id, in_passage.start) or cit  # the sentence with the date
    if not supported and not flag:
        flag = "the cited passage does not support it"
    ca = max(0, cit.start - p.start)
    return TimelineEvent(d, event, cit, (ca, max(ca, cit.end - p.start)), (d.start, d.end), generated=True,
                         supported=supported, flag=flag)


def _check_fact(it: dict[str, Any], p: Passage, similarity: Similarity | None,
                reasons: list[str]) -> NumericFact | None:
    subject = " ".join(str(it.get("subject", "")).split())
    attribute = " ".join(str(it.get("attribute", "")).split())
    value = " ".join(str(it.get("value", "")).split())
    if not re.search(r"[^\W_]", subject) or not re.search(r"\d", value):
        reasons.append("a row without a subject or a number")
        return None
    claim = f"{subject} {attribute}: {value}."
    checked = _verified(claim, p, similarity, reasons)
    if checked is None:
        return None
    cit, supported, flag = checked
    if not supported and not flag:
        flag = "the cited passage does not support it"
    pos = _number_position(p, value, subject)
    if pos is not None:
        cit = sentence_citation(p, cit.passage_id, pos) or cit  # the sentence that holds the number
    qs = find_quantities(value)
    num = 0.0
    if qs:
        num = qs[0].value
    else:
        m = re.search(r"\d+(?:\.\d+)?", value.replace(",", ""))
        num = float(m.group()) if m else 0.0
    ca = max(0, cit.start - p.start)
    return NumericFact(subject, value, qs[0].unit if qs else "", num, cit.quote, cit,
                       (ca, max(ca, cit.end - p.start)), attribute=attribute, generated=True, supported=supported,
                       flag=flag)


def generate(engine: Engine, library: Any, notebook: str, source_ids: Sequence[str] | None = None, *,
             what: str = "timeline", similarity: Similarity | None = None, retries: int = 1, store: bool = True,
             progress: Progress | None = None, cancel: CancelToken | None = None,
             max_batches: int = MAX_BATCHES, max_tokens: int = 900) -> GeneratedResult:
    """A timeline (``what`` "timeline") or data table ("table") written by ``engine`` from the notebook's
    selected sources (or ``source_ids``), every row checked against its passage. ``library`` is the
    LibraryService. Raises StudioError when the model gives no supported row."""
    kind = {"timeline": "timeline", "table": "data_table", "data_table": "data_table"}.get(what)
    if kind is None:
        raise NotebookError(f"Unknown output '{what}'. Choose timeline or table.")
    progress = progress or (lambda _d, _t, _m: None)
    cancel = cancel or CancelToken()
    stats = RunStats()
    lib = library.library
    nb = lib.notebook(notebook)
    sources, passages = load_material(lib, nb.id, source_ids)
    names = [s.display for s in sources]
    base = "Timeline" if kind == "timeline" else "Data table"
    title = base if not names else (f"{base} \u2014 {names[0]}" if len(names) == 1 else
                                    f"{base} \u2014 {names[0]} + {len(names) - 1} more")[:200]
    model = engine.info().model
    if kind == "timeline":
        useful = [p for p in passages if find_dates(p.text)]
    else:
        useful = [p for p in passages if find_quantities(p.text)]
    notes: list[str] = []
    rows: list[Any] = []
    if useful:
        n_ctx = engine.info().n_ctx or 4096
        answer_tokens = max(64, int(max_tokens))
        room = max(300, n_ctx - answer_tokens - 350)
        batches = batch_by_tokens(useful, engine.count_tokens, room)
        if len(batches) > max_batches:
            left = sum(len(b) for b in batches[max_batches:])
            notes.append(f"The model read the first {sum(len(b) for b in batches[:max_batches])} passages with "
                         f"{'dates' if kind == 'timeline' else 'numbers'}; {left} more were left out.")
            batches = batches[:max_batches]
        failures: list[str] = []
        for i, batch in enumerate(batches):
            cancel.raise_if_set()
            progress(i, len(batches), f"Reading passages ({i + 1}/{len(batches)})…")
            local = [Passage(j + 1, p.chunk_id, p.source_id, p.source_title, p.text, p.start, p.end, p.page,
                             p.page_end, p.t_start, p.heading, p.url, ocr_pages=p.ocr_pages)
                     for j, p in enumerate(batch)]
            schema = timeline_schema(len(local)) if kind == "timeline" else table_schema(len(local))
            ask = ("List the dated events these passages state." if kind == "timeline" else
                   "List the facts with numbers these passages state.")
            messages = [ChatMessage("system", _SYSTEM_TIMELINE if kind == "timeline" else _SYSTEM_TABLE),
                        ChatMessage("user", f"{format_passages(local)}\n\n{ask} Cite each row's passage id.")]
            try:
                got, _attempts = generate_structured(engine, messages, schema, _checker(kind, local, similarity),
                                                     what=base.lower(), max_tokens=answer_tokens, retries=retries,
                                                     stats=stats, temperature=0.2, cancel=cancel)
            except StudioError as e:
                failures.append(str(e))
                continue
            rows.extend(got)
        progress(len(batches), len(batches), "Checking the rows…")
        if not rows:
            stats.finish()
            raise StudioError(failures[0] if failures else f"The model gave no usable {base.lower()}.")
        if failures:
            notes.append(f"{len(failures)} of {len(batches)} batches of passages gave no supported row.")
    else:
        notes.append(NO_DATES if kind == "timeline" else NO_FACTS)
    stats.finish()
    for pid, r in enumerate(rows, 1):  # renumbered: one footnote per row
        c = r.citation
        r.citation = Citation(pid, c.chunk_id, c.source_id, c.source_title, c.page, c.t_start, c.start, c.end,
                              c.quote, c.location, c.url)
    flagged = sum(1 for r in rows if not r.supported)
    if flagged:
        notes.append(f"{flagged} row{'s' if flagged != 1 else ''} not supported by {'their' if flagged != 1 else 'its'} "
                     "passage (flagged \u26a0).")
    result: Timeline | DataTable
    if kind == "timeline":
        rows.sort(key=lambda e: (e.date.key, e.date.key_end or e.date.key))
        result = Timeline(title, rows, notes, GENERATED_LABEL, True, model)
    else:
        result = DataTable(title, rows, notes, GENERATED_LABEL, True, model)
    out = None
    if store:
        payload = result.to_json()
        payload["stats"] = {**stats.to_json(), "wall_s": round(stats.wall_s, 4)}
        out = StudioStore(lib).add(nb.id, kind, title, source_ids=[s.id for s in sources],
                                   options={"generated": True}, model=model, template="timeline-json",
                                   payload=payload)
    return GeneratedResult(kind, result, out, stats, notes)
