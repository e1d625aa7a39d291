"""Context budgeting: fit system prompt, history, passages and question into n_ctx minus the answer.

Order of sacrifice, least useful first:

1. old turns are condensed (answers cut to their first sentence, citations dropped);
2. the oldest turns are dropped, keeping the last one;
3. the lowest-ranked passages are dropped, keeping the best one;
4. the remaining history is dropped;
5. the best passage is cut short; then the question itself is cut short.

The prompt never overflows: if even the system prompt and a cut question do not fit, the caller gets
a clear error. Every sacrifice is reported in ``notes`` so the user knows what was left out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.llm import ChatMessage
from notebooklm_local.core.textutil import split_sentences

__all__ = ["Turn", "BudgetPlan", "fit_context", "condense_answer"]

P = TypeVar("P")

SAFETY_TOKENS = 8  # tokenisation seams between separately counted parts


@dataclass
class Turn:
    question: str
    answer: str


@dataclass
class BudgetPlan(Generic[P]):
    passages: list[P]
    history: list[Turn]
    question: str
    messages: list[ChatMessage]
    prompt_tokens: int
    answer_tokens: int
    dropped_passages: list[P] = field(default_factory=list)
    condensed_turns: int = 0
    dropped_turns: int = 0
    cut_passage: bool = False
    cut_question: bool = False

    @property
    def notes(self) -> list[str]:
        out = []
        if self.dropped_passages and not self.passages:
            out.append("No passage fitted into the model's context: the answer cannot cite the sources.")
        elif self.dropped_passages:
            n = len(self.dropped_passages)
            out.append(f"{n} lower-ranked passage{'s' if n > 1 else ''} left out to fit the model's context.")
        if self.dropped_turns:
            out.append(f"{self.dropped_turns} earlier turn{'s' if self.dropped_turns > 1 else ''} of the chat left "
                       "out to fit the context.")
        elif self.condensed_turns:
            out.append(f"{self.condensed_turns} earlier answer{'s' if self.condensed_turns > 1 else ''} shortened to "
                       "fit the context.")
        if self.cut_passage:
            out.append("The best passage was cut short to fit the context.")
        if self.cut_question:
            out.append("Your question was cut short to fit the model's context.")
        return out


def condense_answer(answer: str, max_words: int = 40) -> str:
    spans = split_sentences(answer)
    first = answer[spans[0][0] : spans[0][1]] if spans else answer
    words = first.split()
    return " ".join(words[:max_words]) + (" \u2026" if len(words) > max_words else "")


def fit_context(
    *,
    build: Callable[[Sequence[P], Sequence[Turn], str], list[ChatMessage]],
    count: Callable[[Sequence[ChatMessage]], int],
    n_ctx: int,
    answer_tokens: int,
    passages: Sequence[P],
    history: Sequence[Turn],
    question: str,
    shorten_passage: Callable[[P, float], P] | None = None,
) -> BudgetPlan[P]:
    """Choose what goes into the prompt. ``build`` makes the messages; ``count`` counts their tokens."""
    if answer_tokens >= n_ctx // 2:
        answer_tokens = max(64, n_ctx // 4)
    limit = n_ctx - answer_tokens - SAFETY_TOKENS
    kept = list(passages)
    turns = list(history)
    plan: BudgetPlan[P] = BudgetPlan(kept, turns, question, [], 0, answer_tokens)

    def measure() -> int:
        plan.messages = build(plan.passages, plan.history, plan.question)
        plan.prompt_tokens = count(plan.messages)
        return plan.prompt_tokens

    if measure() <= limit:
        return plan
    # 0. a question longer than half the room is cut first: it must not push out every passage
    base = count(build([], [], ""))
    if count(build([], [], question)) - base > (limit - base) // 2:
        _cut_question(plan, question, lambda: count(build([], [], plan.question)) <= base + (limit - base) // 2)
        if len(plan.question) < min(20, len(question)):  # a stub asks nothing: let step 5 give it the whole room
            plan.question, plan.cut_question = question, False
        if measure() <= limit:
            return plan
    # 1. condense old turns
    for i, t in enumerate(plan.history):
        short = condense_answer(t.answer)
        if short != t.answer:
            plan.history[i] = Turn(t.question, short)
            plan.condensed_turns += 1
    if plan.condensed_turns and measure() <= limit:
        return plan
    # 2. drop the oldest turns, keep the last
    while len(plan.history) > 1:
        plan.history.pop(0)
        plan.dropped_turns += 1
        if measure() <= limit:
            return plan
    # 3. drop the lowest-ranked passages, keep the best
    while len(plan.passages) > 1:
        plan.dropped_passages.insert(0, plan.passages.pop())
        if measure() <= limit:
            return plan
    # 4. drop the rest of the history
    if plan.history:
        plan.dropped_turns += len(plan.history)
        plan.history = []
        if measure() <= limit:
            return plan
    # 5. cut the best passage (or drop it when it cannot be cut), then the question
    if plan.passages:
        original = plan.passages[0]
        for keep in (0.5, 0.25, 0.1) if shorten_passage is not None else ():
            assert shorten_passage is not None
            plan.passages[0] = shorten_passage(original, keep)
            plan.cut_passage = True
            if measure() <= limit:
                return plan
        plan.dropped_passages.insert(0, original)
        plan.passages = []
        plan.cut_passage = False
        if not plan.cut_question and measure() <= limit:
            return plan
    # the question alone: it may have all the room now (also what step 0 cut from it, when that fits)
    _cut_question(plan, question, lambda: measure() <= limit)
    if measure() > limit or len(plan.question) < min(20, len(question)):
        raise NotebookError(
            f"The model's context ({n_ctx} tokens) is too small for the instructions and an answer of "
            f"{answer_tokens} tokens. Raise the context size in Settings."
        )
    return plan


def _cut_question(plan: BudgetPlan[P], question: str, fits: Callable[[], bool]) -> None:
    """Binary search on characters: the longest prefix of ``question`` for which ``fits()``."""
    lo, hi = 0, len(question)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        plan.question = question[:mid]
        if fits():
            lo = mid
        else:
            hi = mid - 1
    plan.question = question[:lo]
    plan.cut_question = lo < len(question)
