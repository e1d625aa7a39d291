"""Chain of density, one step per model call under a JSON-schema grammar (``core/density.py`` checks each).

A source too long for the context is first summarised per section (the summary map-reduce), and
the chain densifies that; entities are still checked against the full source text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from notebooklm_local.core.citations import Passage, attach_citations, strip_markers
from notebooklm_local.core.density import CoDStep, chain_problem, check_step, cod_step_schema
from notebooklm_local.core.errors import NotebookError, StudioError
from notebooklm_local.core.grounding import Similarity
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import Engine
from notebooklm_local.core.templates import PromptTemplate
from notebooklm_local.services.studio.common import Progress, RunStats, generate_structured, messages_for
from notebooklm_local.services.studio.stages import StageReporter
from notebooklm_local.services.studio.summaries import SummaryPlan, answer_tokens_for, cited_document

__all__ = ["SourceMatcher", "CoDRun", "run_chain", "regenerate_step"]


class SourceMatcher:
    """Finds an entity in the source: exactly, ignoring case/punctuation/spacing, or fuzzily (rapidfuzz).
    Returns the source's own spelling, or None when the entity is not there."""

    def __init__(self, text: str, min_score: float = 88.0) -> None:
        self.text = text
        self.lower = text.lower()
        self.min_score = min_score
        self._aligned = len(self.lower) == len(text)

    def find(self, entity: str) -> str | None:
        e = re.sub(r"\s+", " ", entity).strip()
        if not e or len(e) > 120:
            return None
        m = re.search(rf"(?<!\w){re.escape(e)}(?!\w)", self.text, re.IGNORECASE)
        if m:
            return self.text[m.start() : m.end()]
        toks = re.findall(r"\w+", e)
        if toks:
            m = re.search(r"(?<!\w)" + r"\W{1,3}".join(map(re.escape, toks)) + r"(?!\w)", self.text, re.IGNORECASE)
            if m:
                return self.text[m.start() : m.end()]
        if len(e) < 5 or not self._aligned:  # short strings match anything fuzzily
            return None
        al = fuzz.partial_ratio_alignment(e.lower(), self.lower, score_cutoff=self.min_score)
        if al is None:
            return None
        a, b = al.dest_start, al.dest_end
        while a < b and not self.text[a].isalnum():  # an edge on a space must not widen into the word beside it
            a += 1
        while b > a and not self.text[b - 1].isalnum():
            b -= 1
        while a > 0 and self.text[a - 1].isalnum():  # widen to whole words
            a -= 1
        while b < len(self.text) and self.text[b].isalnum():
            b += 1
        found = re.sub(r"\s+", " ", self.text[a:b]).strip(" .,;:")
        if not found or not 0.6 <= len(found) / len(e) <= 1.6:
            return None
        return found


@dataclass
class CoDRun:
    steps: list[CoDStep]
    sections: int  # parts summarised first (0: the source fitted as is)
    failure: str = ""  # why the chain stopped early ("" when all steps were made)
    notes: list[str] = field(default_factory=list)


def run_chain(
    engine: Engine,
    passages: Sequence[Passage],
    texts: Sequence[tuple[str, str]],
    *,
    template: PromptTemplate,
    section_plan: SummaryPlan,
    steps: int,
    words: int,
    language: str,
    retries: int,
    stats: RunStats,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    on_step: Callable[[CoDStep], None] | None = None,
    similarity: Similarity | None = None,
    reporter: StageReporter | None = None,
) -> CoDRun:
    cancel = cancel or CancelToken()
    reporter = reporter or StageReporter(progress)
    if not 1 <= steps <= 10:
        raise NotebookError("Chain of density takes 1 to 10 steps.")
    if not 20 <= words <= 400:
        raise NotebookError("The chain-of-density word budget must be between 20 and 400 words.")
    source_text = _article(texts)
    answer_tokens = int(words * 1.8) + 80
    probe = {"article": "", "words": words, "step": steps, "steps": steps, "previous": "w " * words,
             "language": language}
    overhead = engine.count_chat_tokens(messages_for(template, probe))
    room = engine.n_ctx - answer_tokens - overhead - 48
    if room < 150:
        raise NotebookError(f"The model's context ({engine.n_ctx} tokens) is too small for chain of density with "
                            f"{words} words. Lower the word budget (--words) or raise the context size.")
    article, sections = source_text, 0
    notes: list[str] = []
    if engine.count_tokens(source_text) > room:
        # long source: summarise it per section first (map-reduce), then densify that
        section_plan.words = max(words * 2, min(400, int(room / 2.2)))
        section_plan.sentences = max(6, section_plan.words // 18)
        # the section summaries need room for their passages too: at most half the context for their output
        while (section_plan.words > words * 2
               and answer_tokens_for(section_plan.words, section_plan.sentences) > engine.n_ctx // 2):
            section_plan.words = max(words * 2, section_plan.words - 20)
            section_plan.sentences = max(6, section_plan.words // 18)
        answer, sections, _ = cited_document(engine, passages, section_plan, stats=stats, cancel=cancel,
                                             reporter=reporter, later_units=steps,
                                             stage="The source is long: summarising section")
        article = strip_markers(answer.text)
        notes.append(f"The source is longer than the context: it was summarised in {sections} section(s) first, "
                     "then densified; entities are checked against the full source.")
    matcher = SourceMatcher(source_text)
    schema = cod_step_schema(words)
    done: list[CoDStep] = []
    accepted: list[str] = []
    failure = ""
    before_steps = (sections + (1 if sections > 1 else 0)) if sections else 0  # the section summary's units
    for i in range(1, steps + 1):
        cancel.raise_if_set()
        reporter.unit(before_steps + i - 1, before_steps + steps, "Step", part=i, parts=steps)
        prev = done[-1] if done else None
        msgs = messages_for(template, {"article": article, "words": words, "step": i, "steps": steps,
                                       "previous": prev.summary if prev else "", "language": language})

        def check(data: object, i: int = i, prev: CoDStep | None = prev, before: tuple = tuple(accepted)) -> CoDStep:
            return check_step(data, index=i, previous=prev, budget_words=words, find_in_source=matcher.find,
                              reference=source_text, accepted_before=before)

        try:
            step, attempts = generate_structured(
                engine, msgs, schema, check, what=f"chain-of-density step {i}", max_tokens=answer_tokens,
                retries=retries, stats=stats, temperature=0.4, cancel=cancel, reporter=reporter,
            )
        except StudioError as e:
            if not done:
                raise
            failure = f"Stopped after step {i - 1}: {e}"
            break
        step.attempts = len(attempts)
        step.citations = attach_citations(step.summary, passages, similarity=similarity).to_json()
        accepted += step.missing_entities
        done.append(step)
        if on_step is not None:
            on_step(step)
    if not failure and (problem := chain_problem(done)):
        failure = f"Every step is kept, but {problem}."
    reporter.finish()
    return CoDRun(done, sections, failure, notes)


def regenerate_step(
    engine: Engine,
    passages: Sequence[Passage],
    texts: Sequence[tuple[str, str]],
    steps: Sequence[CoDStep],
    index: int,
    *,
    template: PromptTemplate,
    words: int,
    language: str,
    retries: int,
    stats: RunStats,
    cancel: CancelToken | None = None,
    similarity: Similarity | None = None,
) -> CoDStep:
    """Step ``index`` (1-based) made again on its own from the step before it, under the same checks.
    Raises StudioError (every attempt failed) or NotebookError (the source no longer fits the context)."""
    if not 1 <= index <= len(steps):
        raise NotebookError(f"Choose a step from 1 to {len(steps)}.")
    source_text = _article(texts)
    answer_tokens = int(words * 1.8) + 80
    prev = steps[index - 2] if index > 1 else None
    values = {"article": source_text, "words": words, "step": index, "steps": len(steps),
              "previous": prev.summary if prev else "", "language": language}
    msgs = messages_for(template, values)
    if engine.count_chat_tokens(msgs) + answer_tokens + 48 > engine.n_ctx:
        raise NotebookError("The source is longer than the model's context: a single step cannot be made again "
                            "on its own. Run the whole chain again instead.")
    matcher = SourceMatcher(source_text)
    before = tuple(e for s in steps[: index - 1] for e in s.missing_entities)

    def check(data: object) -> CoDStep:
        return check_step(data, index=index, previous=prev, budget_words=words, find_in_source=matcher.find,
                          reference=source_text, accepted_before=before)

    step, attempts = generate_structured(
        engine, msgs, cod_step_schema(words), check, what=f"chain-of-density step {index}", max_tokens=answer_tokens,
        retries=retries, stats=stats, temperature=0.6, cancel=cancel,
    )
    step.attempts = len(attempts)
    step.citations = attach_citations(step.summary, passages, similarity=similarity).to_json()
    step.notes.append("made again on its own")
    return step


def _article(texts: Sequence[tuple[str, str]]) -> str:
    """The sources' full text; several sources are headed by their titles."""
    if len(texts) == 1:
        return texts[0][1].strip()
    return "\n\n".join(f"# {title}\n\n{text.strip()}" for title, text in texts).strip()
