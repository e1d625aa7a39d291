"""Stop (or closing the window) while the model reads a chat's static prompt prefix (the system prompt with the
passages, ~1000 tokens for a chat question) takes effect within one prompt slice, as it does for the rest of
the prompt: the prefix is evaluated in slices too (found by tests/e2e/test_x11_user_loop.py: closing during
"Reading 8 passages…" waited for the whole prefix, past the window's 3 s wait for background work)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import ChatMessage
from notebooklm_local.services.llama_runtime import PROMPT_SLICE_TOKENS, LlamaCppEngine

pytestmark = pytest.mark.model

PASSAGES = "\n".join(f"[{i}] Pump number {i} moves liquid sodium from the core to heat exchanger {i % 7} at "
                     f"{300 + i} degrees Celsius." for i in range(1, 41))


def _messages() -> list[ChatMessage]:
    return [ChatMessage("system", "Answer from these passages only, citing them.\n\n" + PASSAGES),
            ChatMessage("user", "Which pump moves sodium to heat exchanger 3?")]


def test_cancel_while_the_static_prefix_is_read_stops_within_one_slice(tiny_model_path: Path) -> None:
    engine = LlamaCppEngine(tiny_model_path, n_ctx=2048, n_threads=1)
    try:
        llm = engine.load()
        n_prompt = engine.count_chat_tokens(_messages())
        token = CancelToken()
        evals: list[int] = []
        real_eval = llm.eval

        def eval_then_close(tokens: Any) -> Any:
            evals.append(len(tokens))
            token.cancel()  # the user closes the window while this part of the prompt is read
            return real_eval(tokens)

        llm.eval = eval_then_close
        try:
            gen = engine.stream_chat(_messages(), cancel=token, static_prefix=1, max_tokens=8)
            out = list(gen)
        finally:
            del llm.eval
        assert out == [] and gen.result().finish_reason == "cancelled"
        assert evals and max(evals) <= PROMPT_SLICE_TOKENS, (
            f"one uninterruptible evaluation of {max(evals)} tokens (prompt {n_prompt}): Stop waits for all of it")
        assert len(evals) == 1, evals  # nothing more is read once cancelled

        # the next question still answers (a cache left half-read is never used as if it were whole)
        gen = engine.stream_chat(_messages(), static_prefix=1, max_tokens=4)
        text = "".join(gen)
        res = gen.result()
        assert res.finish_reason in ("stop", "length") and res.completion_tokens >= 1, text
    finally:
        engine.close()
