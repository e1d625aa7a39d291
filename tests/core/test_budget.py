"""Context budgeting with a fake tokenizer: what is sacrificed, in which order, and that the prompt never
overflows. Pure logic: a token is a whitespace-separated word, plus a fixed overhead per message."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from notebooklm_local.core.budget import SAFETY_TOKENS, BudgetPlan, Turn, condense_answer, fit_context
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.llm import ChatMessage

PER_MESSAGE = 4
ANSWER = 50
SYSTEM = " ".join(f"rule{i}" for i in range(120))  # keeps every n_ctx here above 2 * ANSWER


def count(messages: Sequence[ChatMessage]) -> int:
    return sum(len(m.content.split()) + PER_MESSAGE for m in messages)


def make_build(system: str = SYSTEM):
    def build(passages: Sequence[str], history: Sequence[Turn], question: str) -> list[ChatMessage]:
        msgs = [ChatMessage("system", system)]
        for t in history:
            msgs += [ChatMessage("user", t.question), ChatMessage("assistant", t.answer)]
        msgs.append(ChatMessage("user", "\n\n".join(passages) + "\n\nQuestion: " + question))
        return msgs

    return build


build = make_build()


def shorten(p: str, keep: float) -> str:
    words = p.split()
    return " ".join(words[: max(1, int(len(words) * keep))])


def _passage(k: int, n: int = 60) -> str:
    return f"passage{k} " + " ".join(f"w{k}_{i}" for i in range(n))


def _turn(k: int) -> Turn:
    rest = " ".join(f"detail{k}_{i}" for i in range(40))
    return Turn(f"question {k} about things?", f"Answer {k} starts with one short sentence. Then {rest}.")


PASSAGES = [_passage(k) for k in range(1, 5)]  # best first
HISTORY = [_turn(k) for k in range(1, 4)]  # oldest first
CONDENSED = [Turn(t.question, condense_answer(t.answer)) for t in HISTORY]
Q = "What do the passages say about the main topic?"


def room(passages: Sequence[str], history: Sequence[Turn], question: str, answer: int = ANSWER) -> int:
    """The smallest n_ctx in which exactly this prompt fits."""
    return count(build(passages, history, question)) + answer + SAFETY_TOKENS


def fit(n_ctx: int, *, passages: Sequence[str] = PASSAGES, history: Sequence[Turn] = HISTORY, question: str = Q,
        answer_tokens: int = ANSWER, shorten_passage=shorten, builder=build) -> BudgetPlan[str]:
    passages_before, history_before = list(passages), list(history)
    plan = fit_context(build=builder, count=count, n_ctx=n_ctx, answer_tokens=answer_tokens, passages=passages,
                       history=history, question=question, shorten_passage=shorten_passage)
    assert list(passages) == passages_before and list(history) == history_before  # inputs are not modified
    assert plan.messages == builder(plan.passages, plan.history, plan.question)
    assert plan.prompt_tokens == count(plan.messages)
    assert plan.prompt_tokens + plan.answer_tokens + SAFETY_TOKENS <= n_ctx
    return plan


def test_everything_fits_unchanged() -> None:
    n = room(PASSAGES, HISTORY, Q)
    plan = fit(n)
    assert plan.passages == PASSAGES and plan.history == HISTORY and plan.question == Q
    assert plan.dropped_passages == [] and plan.condensed_turns == 0 and plan.dropped_turns == 0
    assert not plan.cut_passage and not plan.cut_question
    assert plan.notes == []
    assert plan.answer_tokens == ANSWER
    assert plan.prompt_tokens == n - ANSWER - SAFETY_TOKENS  # exactly full is still a fit


def test_old_answers_are_condensed_first() -> None:
    plan = fit(room(PASSAGES, CONDENSED, Q))
    assert plan.passages == PASSAGES  # nothing else sacrificed
    assert plan.history == CONDENSED
    assert plan.history[0].answer == "Answer 1 starts with one short sentence."
    assert [t.question for t in plan.history] == [t.question for t in HISTORY]
    assert plan.condensed_turns == 3 and plan.dropped_turns == 0
    assert plan.notes == ["3 earlier answers shortened to fit the context."]


def test_then_the_oldest_turns_are_dropped_keeping_the_last() -> None:
    plan = fit(room(PASSAGES, CONDENSED[1:], Q))
    assert plan.history == CONDENSED[1:]
    assert plan.dropped_turns == 1
    assert plan.passages == PASSAGES
    assert plan.notes == ["1 earlier turn of the chat left out to fit the context."]

    plan = fit(room(PASSAGES, CONDENSED[2:], Q) + 1)
    assert plan.history == CONDENSED[2:]  # the last turn stays while passages can still go
    assert plan.dropped_turns == 2 and plan.passages == PASSAGES
    assert plan.notes == ["2 earlier turns of the chat left out to fit the context."]


def test_then_the_lowest_ranked_passages_are_dropped_keeping_the_best() -> None:
    plan = fit(room(PASSAGES[:2], CONDENSED[-1:], Q))
    assert plan.passages == PASSAGES[:2]
    assert plan.dropped_passages == PASSAGES[2:]  # in rank order
    assert plan.history == CONDENSED[-1:]  # the last turn is kept while a passage can go
    assert plan.notes == ["2 lower-ranked passages left out to fit the model's context.",
                          "2 earlier turns of the chat left out to fit the context."]

    plan = fit(room(PASSAGES[:3], CONDENSED[-1:], Q))
    assert plan.passages == PASSAGES[:3] and plan.dropped_passages == PASSAGES[3:]
    assert plan.notes[0] == "1 lower-ranked passage left out to fit the model's context."


def test_then_the_rest_of_the_history_is_dropped() -> None:
    plan = fit(room(PASSAGES[:1], [], Q))
    assert plan.passages == PASSAGES[:1]  # the best passage outranks the last turn
    assert plan.history == []
    assert plan.dropped_turns == 3
    assert plan.dropped_passages == PASSAGES[1:]
    assert not plan.cut_passage and not plan.cut_question


@pytest.mark.parametrize("keep", [0.5, 0.25, 0.1])
def test_then_the_best_passage_is_cut(keep: float) -> None:
    short = shorten(PASSAGES[0], keep)
    question = "Main topic?"  # short: under half the room even beside a 10% passage
    plan = fit(room([short], [], question), question=question)
    assert plan.passages == [short]
    assert plan.cut_passage
    assert plan.dropped_passages == PASSAGES[1:]
    assert plan.question == question and not plan.cut_question
    assert "The best passage was cut short to fit the context." in plan.notes


def test_a_passage_that_cannot_be_cut_enough_is_dropped_too() -> None:
    plan = fit(room([], [], Q))
    assert plan.passages == []
    assert plan.dropped_passages == PASSAGES  # the best one first
    assert not plan.cut_passage
    assert plan.question == Q
    assert plan.notes[0] == "No passage fitted into the model's context: the answer cannot cite the sources."


def test_without_shorten_passage_the_best_passage_is_dropped_not_an_error() -> None:
    huge = [_passage(1, 5000)]
    plan = fit(room([], [], Q), passages=huge, history=[], shorten_passage=None)
    assert plan.passages == [] and plan.dropped_passages == huge
    assert plan.question == Q


def test_a_long_question_gets_half_the_room_and_passages_the_rest() -> None:
    long_q = " ".join(f"q{i}" for i in range(400))
    n = room(PASSAGES[:1], [], "")
    plan = fit(n, question=long_q)
    assert plan.cut_question and long_q.startswith(plan.question) and len(plan.question) > 20
    assert len(plan.passages) == 1 and PASSAGES[0].startswith(plan.passages[0])  # cut, not dropped
    assert plan.cut_passage
    assert plan.notes[-2:] == ["The best passage was cut short to fit the context.",
                               "Your question was cut short to fit the model's context."]


def test_in_a_tiny_room_the_question_gets_it_all_rather_than_a_stub() -> None:
    question = "Why does " + "the " * 20 + "sky look blue?"
    base = count(build([], [], ""))
    n = room([], [], question[:30])  # half of this room holds under 20 characters of the question
    assert count(build([], [], question[:20])) - base > (n - ANSWER - SAFETY_TOKENS - base) // 2
    plan = fit(n, question=question)
    assert plan.passages == [] and plan.history == []
    assert plan.cut_question and 28 <= len(plan.question) < len(question)


def test_a_question_cut_early_is_restored_once_the_passages_are_gone() -> None:
    plan = fit(room([], [], Q))  # Q is more than half this room, and no passage fits beside it
    assert plan.passages == [] and plan.question == Q and not plan.cut_question
    assert "Your question was cut short to fit the model's context." not in plan.notes


def test_a_huge_question_is_cut_and_passages_are_kept() -> None:
    question = ("lorem ipsum dolor sit amet " * 4000)[:100_000]
    assert len(question) == 100_000
    plan = fit(2048, question=question, answer_tokens=256)
    assert plan.cut_question
    assert question.startswith(plan.question) and len(plan.question) < 20_000
    assert plan.passages == PASSAGES  # the question did not push every passage out
    assert plan.history == HISTORY
    limit = 2048 - 256 - SAFETY_TOKENS
    base = count(build([], [], ""))
    q_tokens = count(build([], [], plan.question)) - base
    assert (limit - base) // 4 < q_tokens <= (limit - base) // 2  # cut to half the room, not to nothing
    assert plan.notes == ["Your question was cut short to fit the model's context."]


def test_raises_when_even_the_system_prompt_does_not_fit() -> None:
    big_system = make_build(" ".join(["instruction"] * 500))
    with pytest.raises(NotebookError, match=r"context \(300 tokens\) is too small"):
        fit_context(build=big_system, count=count, n_ctx=300, answer_tokens=40, passages=PASSAGES, history=HISTORY,
                    question=Q, shorten_passage=shorten)


def test_raises_when_only_a_stub_of_the_question_would_fit() -> None:
    n = room([], [], "What")  # room for one question word only
    with pytest.raises(NotebookError, match="Raise the context size in Settings"):
        fit_context(build=build, count=count, n_ctx=n, answer_tokens=ANSWER, passages=PASSAGES, history=HISTORY,
                    question="What is " + "very " * 30 + "long?", shorten_passage=shorten)
    plan = fit(n, question="What")  # a short question that fits is not a stub
    assert plan.question == "What" and plan.passages == []


def test_an_empty_question_never_overflows() -> None:
    with pytest.raises(NotebookError):
        fit_context(build=build, count=count, n_ctx=40, answer_tokens=10, passages=[], history=[], question="",
                    shorten_passage=shorten)


def test_answer_tokens_are_capped_at_a_quarter_of_a_small_context() -> None:
    plan = fit(1000, passages=PASSAGES[:1], history=[], answer_tokens=800)
    assert plan.answer_tokens == 250
    plan = fit(250, passages=[], history=[], question="Why?", answer_tokens=200)
    assert plan.answer_tokens == 64  # never below 64
    plan = fit(1000, passages=PASSAGES[:1], history=[], answer_tokens=499)
    assert plan.answer_tokens == 499


def test_never_exceeds_the_context_random_sizes() -> None:
    """Property-style: random prompts, contexts and answer sizes; either a plan that fits or a clear error."""
    rng = random.Random(20240607)
    errors = fits = 0
    for _ in range(400):
        system = make_build(" ".join(["s"] * rng.randint(1, 300)))
        passages = [_passage(k, rng.randint(1, 400)) for k in range(rng.randint(0, 6))]
        history = [Turn(f"q{k} " * rng.randint(1, 20), "A sentence. " * rng.randint(1, 50))
                   for k in range(rng.randint(0, 5))]
        question = " ".join(rng.choice(["why", "what", "x", "photosynthesis"]) for _ in range(rng.randint(0, 3000)))
        n_ctx = rng.randint(64, 4096)
        answer = rng.randint(16, 2048)
        try:
            plan = fit(n_ctx, passages=passages, history=history, question=question, answer_tokens=answer,
                       shorten_passage=rng.choice([shorten, None]), builder=system)
        except NotebookError:
            errors += 1
            eff_answer = answer if answer < n_ctx // 2 else max(64, n_ctx // 4)
            limit = n_ctx - eff_answer - SAFETY_TOKENS
            assert count(system([], [], question[:20])) > limit  # not even a stub of the question fits
            continue
        fits += 1
        assert question.startswith(plan.question)
        assert plan.cut_question == (plan.question != question)
        assert len(plan.question) >= min(20, len(question))
        if plan.cut_passage:
            assert len(plan.passages) == 1 and plan.passages[0] != passages[0]
            assert passages[0].startswith(plan.passages[0])
            assert plan.dropped_passages == passages[1:]
        else:
            assert plan.passages + plan.dropped_passages == passages  # a rank-order prefix is kept
        assert len(plan.history) + plan.dropped_turns == len(history)
        kept_questions = [t.question for t in plan.history]
        assert kept_questions == [t.question for t in history][len(history) - len(plan.history):]
        sacrificed = bool(plan.dropped_passages or plan.dropped_turns or plan.condensed_turns or plan.cut_passage
                          or plan.cut_question)
        assert bool(plan.notes) == sacrificed
    assert errors and fits > 100  # both outcomes were exercised


def test_notes_are_singular_and_plural() -> None:
    plan: BudgetPlan[str] = BudgetPlan(["p"], [], "q", [], 0, 0, dropped_passages=["x"], condensed_turns=1)
    assert plan.notes == ["1 lower-ranked passage left out to fit the model's context.",
                          "1 earlier answer shortened to fit the context."]
    plan = BudgetPlan(["p"], [], "q", [], 0, 0, dropped_passages=["x", "y"], dropped_turns=2, condensed_turns=2,
                      cut_passage=True, cut_question=True)
    assert plan.notes == ["2 lower-ranked passages left out to fit the model's context.",
                          "2 earlier turns of the chat left out to fit the context.",
                          "The best passage was cut short to fit the context.",
                          "Your question was cut short to fit the model's context."]


def test_condense_answer() -> None:
    assert condense_answer("First one. Second one.") == "First one."
    assert condense_answer("No full stop at all") == "No full stop at all"
    long = " ".join(f"w{i}" for i in range(50)) + ". Next."
    short = condense_answer(long, max_words=10)
    assert short == " ".join(f"w{i}" for i in range(10)) + " \u2026"
    assert condense_answer("") == ""
    assert condense_answer("Paris is the capital [1]. It is big [2].") == "Paris is the capital [1]."
