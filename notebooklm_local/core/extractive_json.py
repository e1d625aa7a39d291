"""Stored extractive outputs (their ``to_json()`` payloads) back into result objects, for the studio history,
exports and notes. Unknown keys are ignored; missing ones get defaults. Pure Python."""

from __future__ import annotations

from typing import Any

from notebooklm_local.core.cards import Card, CardDeck, Quiz, QuizQuestion
from notebooklm_local.core.citations import Citation
from notebooklm_local.core.extractive import (
    HEADING_SEP,
    Extract,
    ExtractiveSummary,
    KeyQuotes,
    QuoteGroup,
    SourceSummary,
    SummarySection,
)
from notebooklm_local.core.mindmap import MindMap, MindNode, NodeRef

__all__ = ["citation_from_json", "extract_from_json", "result_from_json"]


citation_from_json = Citation.from_json


def extract_from_json(d: dict[str, Any]) -> Extract:
    span = d.get("chunk_span") or [0, 0]
    section = str(d.get("section", "") or "")
    return Extract(str(d.get("exact", d.get("text", ""))), citation_from_json(d.get("citation", {})),
                   (int(span[0]), int(span[1])), tuple(x for x in section.split(HEADING_SEP) if x),
                   float(d.get("score", 0.0)))


def _card(d: dict[str, Any]) -> Card:
    span = d.get("answer_span") or [0, 0]
    return Card(str(d.get("id", "")), extract_from_json(d.get("sentence", {})), str(d.get("answer", "")),
                (int(span[0]), int(span[1])), str(d.get("answer_type", "")), str(d.get("unit", "")),
                float(d.get("score", 0.0)), str(d.get("question", "") or ""),
                str(d.get("explanation", d.get("written_explanation", "")) or ""), str(d.get("difficulty", "") or ""))


def _node(d: dict[str, Any]) -> MindNode:
    refs = [NodeRef(int(r.get("chunk_id", -1)), str(r.get("source_id", "")), int(r.get("start", 0)),
                    int(r.get("end", 0)), r.get("page"), r.get("t_start")) for r in d.get("refs", [])]
    cit = d.get("citation")
    return MindNode(str(d.get("id", "")), str(d.get("label", "")), str(d.get("kind", "")), refs,
                    [_node(c) for c in d.get("children", [])], list(d.get("phrases", [])),
                    citation_from_json(cit) if isinstance(cit, dict) else None, int(d.get("n_refs", len(refs))))


def _written(d: dict[str, Any], result: Any) -> Any:
    """A result the model wrote (and the checks passed) keeps its label, model and ``generated`` mark."""
    if d.get("generated"):
        result.generated, result.model = True, str(d.get("model", ""))
        result.label = str(d.get("label", "") or result.label)
    return result


def result_from_json(kind: str, d: dict[str, Any]) -> Any:
    """The result object of a stored payload of ``kind`` (extract_summary, key_quotes, flashcards, quiz, mindmap,
    timeline, data_table)."""
    notes = [str(n) for n in d.get("notes", [])]
    title = str(d.get("title", ""))
    if kind == "extract_summary":
        sources = [SourceSummary(str(s.get("source_id", "")), str(s.get("title", "")),
                                 [SummarySection(str(sec.get("title", "")),
                                                 [extract_from_json(x) for x in sec.get("items", [])])
                                  for sec in s.get("sections", [])]) for s in d.get("sources", [])]
        return ExtractiveSummary(title, str(d.get("length", "")), int(d.get("budget_words", 0)), sources, notes)
    if kind == "key_quotes":
        groups = [QuoteGroup(str(g.get("source_id", "")), str(g.get("title", "")),
                             [extract_from_json(q) for q in g.get("quotes", [])]) for g in d.get("groups", [])]
        return KeyQuotes(title, groups, notes)
    if kind == "flashcards":
        return _written(d, CardDeck(title, [_card(c) for c in d.get("cards", [])], notes))
    if kind == "quiz":
        qs = []
        for q in d.get("questions", []):
            card = _card({"id": q.get("id", ""), "sentence": q.get("sentence", {}), "answer": q.get("answer", ""),
                          "answer_type": q.get("answer_type", ""),
                          "answer_span": q.get("answer_span") or _span_of(q), "question": q.get("question", ""),
                          "explanation": q.get("written_explanation", ""), "difficulty": q.get("difficulty", "")})
            qs.append(QuizQuestion(card, [str(o) for o in q.get("options", [])], int(q.get("correct", 0)),
                                   list(q.get("distractor_refs", []))))
        return _written(d, Quiz(title, qs, int(d.get("seed", 0)), notes))
    if kind == "mindmap":
        return _written(d, MindMap(title, _node(d.get("root", {})), notes))
    if kind in ("timeline", "data_table"):
        from notebooklm_local.core.timeline import table_from_json, timeline_from_json

        return timeline_from_json(d) if kind == "timeline" else table_from_json(d)
    raise ValueError(f"not an extractive output kind: {kind}")


def _span_of(q: dict[str, Any]) -> list[int]:
    text = str((q.get("sentence") or {}).get("exact", ""))
    ans = str(q.get("answer", ""))
    i = text.find(ans) if ans else -1
    return [i, i + len(ans)] if i >= 0 else [0, 0]
