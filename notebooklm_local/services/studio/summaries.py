"""Cited summaries (and the other document templates: briefing, study guide, FAQ) by map-reduce.

Everything fits -> one call. Otherwise each part (consecutive chunks that fit the context) is
summarised with citations (map), and the parts' supported sentences become numbered notes that a
reduce call combines, citing notes; each final sentence then cites the original passages behind its
notes and is checked against *them*, so a citation always opens real source text. Reduce repeats
while the notes do not fit.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from notebooklm_local.core.citations import (
    CitedAnswer,
    Passage,
    build_structured_answer,
    format_passages,
    mostly_unsupported,
    strip_markers,
)
from notebooklm_local.core.density import degenerate_reason
from notebooklm_local.core.errors import NotebookError, StudioError
from notebooklm_local.core.grounding import Similarity
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import Engine
from notebooklm_local.core.templates import PromptTemplate
from notebooklm_local.core.textutil import normalize_for_match
from notebooklm_local.services.studio.common import (
    Progress,
    RunStats,
    batch_by_tokens,
    generate_structured,
    messages_for,
)
from notebooklm_local.services.studio.stages import StageReporter

__all__ = ["LENGTHS", "AUDIENCES", "DOCUMENT_TEMPLATES", "summary_schema", "cited_document", "SummaryPlan"]

LENGTHS: dict[str, tuple[int, int]] = {"short": (80, 5), "medium": (160, 8), "long": (300, 14)}  # words, sentences
AUDIENCES = ("beginner", "general", "expert")
# template name -> (what the reduce step writes, the output's label)
DOCUMENT_TEMPLATES: dict[str, tuple[str, str]] = {
    "summary": ("one summary", "Summary"),
    "briefing": ("one briefing document", "Briefing"),
    "study_guide": ("one study guide", "Study guide"),
    "faq": ("one FAQ", "FAQ"),
}


def summary_schema(n_passages: int, max_sentences: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "sentences": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_sentences,
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string", "maxLength": 320},
                        "citations": {"type": "array", "maxItems": 3,
                                      "items": {"type": "integer", "minimum": 1, "maximum": max(1, n_passages)}},
                    },
                    "required": ["text", "citations"],
                },
            },
        },
        "required": ["sentences"],
    }


def answer_tokens_for(words: int, sentences: int) -> int:
    """Room for a JSON answer of ``words`` words: ~1.6 tokens a word plus the JSON around each sentence."""
    return int(words * 1.8) + sentences * 18 + 32


@dataclass
class SummaryPlan:
    words: int
    sentences: int
    audience: str
    focus: str
    language: str
    template: PromptTemplate
    reduce_template: PromptTemplate
    task: str
    retries: int
    temperature: float = 0.3
    notes: list[str] = field(default_factory=list)


def _values(plan: SummaryPlan, passages_text: str, *, reduce: bool) -> dict[str, Any]:
    v: dict[str, Any] = {"words": plan.words, "audience": plan.audience, "focus": plan.focus,
                         "language": plan.language}
    if reduce:
        v.update({"notes": passages_text, "task": plan.task})
    else:
        v["passages"] = passages_text
    return v


def _renumber(batch: Sequence[Passage]) -> list[Passage]:
    return [Passage(i + 1, p.chunk_id, p.source_id, p.source_title, p.text, p.start, p.end, p.page, p.page_end,
                    p.t_start, p.heading, p.url) for i, p in enumerate(batch)]


def _checker(local_to_global: Callable[[int], list[int]], passages: Sequence[Passage],
             similarity: Similarity | None = None) -> Callable[[Any], CitedAnswer]:
    """Checks one map/reduce output and returns it as a CitedAnswer over the original passages.

    Fail safe, not fail hard: an output with some unsupported sentences is kept with those flagged; it is
    refused (and retried) only when it is not valid structure, says nothing, or is mostly unsupported."""

    def check(data: Any) -> CitedAnswer:
        if not isinstance(data, dict) or not isinstance(data.get("sentences"), list):
            raise ValueError("the output has no list of sentences")
        items: list[dict[str, Any]] = []
        for it in data["sentences"]:
            if not isinstance(it, dict):
                continue
            text = " ".join(strip_markers(str(it.get("text", ""))).split())
            if not re.search(r"\w\w", text):  # "...", "-" and other placeholders copied from the prompt
                continue
            if text[-1] not in ".!?…:;。！？\"”')":
                text += "."
            if any(normalize_for_match(text) == normalize_for_match(i["text"]) for i in items):
                continue  # the same sentence twice
            raw = it.get("citations")
            cites: list[Any] = raw if isinstance(raw, list) else []
            glob: list[int] = []
            for c in cites:
                if isinstance(c, int) and not isinstance(c, bool):
                    glob += [g for g in local_to_global(c) if g not in glob]
            items.append({"text": text, "citations": glob})
        if not items:
            raise ValueError("the output has no sentences")
        keys = [normalize_for_match(i["text"]) for i in items]
        if len(items) >= 3 and len(set(keys)) < len(keys) * 0.6:
            raise ValueError("it repeats the same sentences")
        if (why := degenerate_reason(" ".join(i["text"] for i in items))) is not None:
            raise ValueError(why)
        answer = build_structured_answer({"sentences": items}, passages, similarity)
        if answer.not_found or not answer.sentences:
            raise ValueError("the output says nothing about the sources")
        if (why := mostly_unsupported(answer.sentences)) is not None:
            raise ValueError(why)
        return answer

    return check


def cited_document(
    engine: Engine,
    passages: Sequence[Passage],
    plan: SummaryPlan,
    *,
    stats: RunStats,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    on_token: Callable[[str], None] | None = None,
    similarity: Similarity | None = None,
    reporter: StageReporter | None = None,
    first_unit: int = 0,
    later_units: int = 0,
    stage: str = "",
) -> tuple[CitedAnswer, int, int]:
    """Map-reduce over ``passages`` (global ids). Returns (answer, parts, reduce rounds).

    Reports its stages to ``reporter`` (one is made for ``progress`` when None): "Reading part i/n" per
    part, "Combining the parts", each attempt and token. A caller that runs it as the first stage of a
    longer job gives ``first_unit`` (units done before), ``later_units`` (units after it) and ``stage``
    (the name of its parts); then it does not report "Done"."""
    cancel = cancel or CancelToken()
    nested = bool(stage)
    reporter = reporter or StageReporter(progress)
    answer_tokens = answer_tokens_for(plan.words, plan.sentences)
    overhead = engine.count_chat_tokens(messages_for(plan.template, _values(plan, format_passages([]), reduce=False)))
    room = engine.n_ctx - answer_tokens - overhead - 48
    if room < 160:
        raise NotebookError(
            f"The model's context ({engine.n_ctx} tokens) is too small for a {plan.words}-word output. Choose a "
            "shorter length or raise the context size (Settings \u2192 Performance)."
        )
    batches = batch_by_tokens(passages, engine.count_tokens, room)
    own = len(batches) + (1 if len(batches) > 1 else 0)
    total = first_unit + own + later_units
    single = len(batches) == 1

    def run(batch: Sequence[Passage], template: PromptTemplate, reduce: bool, notes_map: dict[int, list[int]] | None,
            what: str, stream: bool, p: SummaryPlan = plan) -> CitedAnswer:
        local = _renumber(batch)
        if notes_map is None:
            def to_global(i: int) -> list[int]:
                return [batch[i - 1].pid] if 1 <= i <= len(batch) else []
        else:
            def to_global(i: int) -> list[int]:
                return notes_map.get(batch[i - 1].pid, []) if 1 <= i <= len(batch) else []
        msgs = messages_for(template, _values(p, format_passages(local), reduce=reduce))
        answer, _ = generate_structured(
            engine, msgs, summary_schema(len(local), p.sentences), _checker(to_global, passages, similarity), what=what,
            max_tokens=answer_tokens, retries=plan.retries, stats=stats, temperature=plan.temperature,
            cancel=cancel, on_token=on_token if stream else None, reporter=reporter,
        )
        return answer

    partials: list[CitedAnswer] = []
    for i, batch in enumerate(batches, 1):
        if single:
            reporter.unit(first_unit, total, stage or "Writing")
        else:
            reporter.unit(first_unit + i - 1, total, stage or "Reading part", part=i, parts=len(batches))
        try:
            partials.append(run(batch, plan.template, False, None, "summary" if single else f"summary of part {i}",
                                single))
        except StudioError:
            if single:
                raise
            plan.notes.append(f"Part {i} of {len(batches)} gave no usable summary and was left out.")
    if single:
        if not nested:
            reporter.finish()
        return partials[0], 1, 0
    if not partials:
        raise StudioError("No part of the sources gave a usable summary. Try a larger model (Settings \u2192 Model).")

    # reduce: the parts' sentences become notes; notes_map: note id -> original passage ids
    rounds = 0
    answers = partials
    while True:
        rounds += 1
        notes: list[Passage] = []
        notes_map: dict[int, list[int]] = {}
        for part, ans in enumerate(answers, 1):
            chosen = [s for s in ans.sentences if s.supported] or ans.sentences
            for s in chosen:
                nid = len(notes) + 1
                notes.append(Passage(nid, -1, "", f"part {part}", strip_markers(s.text), 0, 0))
                notes_map[nid] = list(s.citations)
        reduce_overhead = engine.count_chat_tokens(
            messages_for(plan.reduce_template, _values(plan, format_passages([]), reduce=True)))
        reduce_room = engine.n_ctx - answer_tokens - reduce_overhead - 48
        groups = batch_by_tokens(notes, engine.count_tokens, reduce_room)
        name = "Combining the section summaries" if stage else "Combining the parts"
        if len(groups) == 1:
            reporter.unit(first_unit + len(batches), total, name + ("" if rounds == 1 else f" (round {rounds})"))
        else:
            reporter.unit(first_unit + len(batches), total, f"{name} (round {rounds}), group", part=1,
                          parts=len(groups))
        if len(groups) == 1:
            final = run(groups[0], plan.reduce_template, True, notes_map, "combined summary", True)
            if not nested:
                reporter.finish()
            return final, len(batches), rounds
        if rounds >= 4:
            raise StudioError("The parts' summaries do not fit the context even after 4 rounds of combining. "
                              "Choose fewer sources or a larger context size.")
        # an intermediate round must shrink the notes or the rounds never converge (an output of plan.words
        # is about as long as the notes that fit one call): each group gives at most half as many sentences
        answers = []
        for gi, g in enumerate(groups, 1):
            if gi > 1:
                reporter.unit(first_unit + len(batches), total, ("Combining the section summaries" if stage else
                              "Combining the parts") + f" (round {rounds}), group", part=gi, parts=len(groups))
            k = max(1, min(plan.sentences, len(g) // 2))
            sub = dataclasses.replace(plan, words=max(20, plan.words * k // plan.sentences), sentences=k, notes=[])
            answers.append(run(g, plan.reduce_template, True, notes_map, f"combined summary (round {rounds})",
                               False, sub))


def title_for(label: str, names: Sequence[str]) -> str:
    first = re.sub(r"\s+", " ", names[0]).strip()[:80] if names else "sources"
    more = f" + {len(names) - 1} more" if len(names) > 1 else ""
    return f"{label}: {first}{more}"
