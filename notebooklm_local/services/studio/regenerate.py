"""Regenerate one flagged item of a stored studio output on its own (issue 14, fail safe): a summary's
sentence or a podcast line is written again from the passages it cited (or, uncited, the passages closest
to it), checked like the original, and replaces the old one only when the new one is supported. Nothing
else in the output changes, except that every sentence is checked again with the current checker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from notebooklm_local.core.citations import (
    CitedAnswer,
    Passage,
    build_structured_answer,
    format_passages,
    strip_markers,
)
from notebooklm_local.core.errors import NotebookError, StudioError
from notebooklm_local.core.grounding import Similarity
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import Engine
from notebooklm_local.core.templates import PromptTemplate
from notebooklm_local.core.textutil import content_words
from notebooklm_local.services.studio.common import RunStats, generate_structured, messages_for
from notebooklm_local.services.studio.summaries import SummaryPlan, _checker, _renumber, _values, summary_schema

__all__ = ["Regenerated", "closest_passages", "rewrite_sentence", "reanswer"]

REWRITE_WORDS = 45  # one sentence


@dataclass
class Regenerated:
    index: int  # of the sentence / line
    old: str
    new: str  # the new text ("" when no supported sentence could be made: the old one stays)
    replaced: bool
    flag: str = ""  # the new sentence's flag, or why nothing replaced the old one


def closest_passages(text: str, passages: Sequence[Passage], k: int = 3) -> list[Passage]:
    """The ``k`` passages sharing most content words with ``text`` (for an uncited sentence)."""
    tw = set(content_words(strip_markers(text)))
    scored = sorted(passages, key=lambda p: -len(tw & set(content_words(p.text))))
    return [p for p in scored[:k] if tw & set(content_words(p.text))] or list(scored[:1])


def rewrite_sentence(engine: Engine, sentence: str, cited: Sequence[Passage], all_passages: Sequence[Passage], *,
                     template: PromptTemplate, reduce_template: PromptTemplate, language: str, retries: int,
                     stats: RunStats, cancel: CancelToken | None = None,
                     similarity: Similarity | None = None) -> CitedAnswer:
    """One sentence on the point of ``sentence``, from ``cited`` only, checked against them (global ids).
    Raises StudioError when every attempt is unsupported."""
    local = _renumber(cited)
    plan = SummaryPlan(REWRITE_WORDS, 1, "general",
                       "one sentence that restates this point using only what the passages say: "
                       + " ".join(strip_markers(sentence).split())[:300],
                       language, template, reduce_template, "one sentence", retries)

    def to_global(i: int) -> list[int]:
        return [cited[i - 1].pid] if 1 <= i <= len(cited) else []

    msgs = messages_for(template, _values(plan, format_passages(local), reduce=False))
    answer, _ = generate_structured(
        engine, msgs, summary_schema(len(local), 1), _checker(to_global, all_passages, similarity),
        what="rewritten sentence", max_tokens=int(REWRITE_WORDS * 1.8) + 60, retries=retries, stats=stats,
        temperature=0.4, cancel=cancel,
    )
    return answer


def reanswer(items: Sequence[tuple[str, Sequence[int]]], passages: Sequence[Passage],
             similarity: Similarity | None) -> CitedAnswer:
    """The whole answer checked again from its (text, passage ids) sentences."""
    return build_structured_answer({"sentences": [{"text": strip_markers(t), "citations": list(ids)}
                                                  for t, ids in items]}, passages, similarity)


def remap_citations(stored: dict[str, Any], passages: Sequence[Passage]) -> dict[int, int]:
    """Stored passage id -> current passage id, through the chunk ids of the stored citations (passage ids
    are positions in the sources' chunk order, which a re-index may change)."""
    by_chunk = {p.chunk_id: p.pid for p in passages}
    out: dict[int, int] = {}
    for c in stored.get("citations", []):
        pid = by_chunk.get(int(c.get("chunk_id", -1)))
        if pid is not None:
            out[int(c["passage_id"])] = pid
    return out


def check_index(n: int, index: int, what: str) -> None:
    if not 0 <= index < n:
        raise NotebookError(f"Choose a {what} from 1 to {n}.")


def no_model_error(e: StudioError, what: str) -> str:
    return f"No supported {what} could be written ({e}); the old one is kept, flagged."
