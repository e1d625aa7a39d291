"""A scripted stand-in for the generation engine (``core.llm.Engine``): returns prepared outputs in order.

For unit tests of the logic around the model (studio steps, retries, checks). Every capability also
has a test through the real llama.cpp engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import ChatMessage, EngineInfo, Generation, GenerationResult

Output = str | dict[str, Any] | list[Any] | Callable[[Sequence[ChatMessage], dict[str, Any] | None], Any]


@dataclass
class Call:
    messages: list[ChatMessage]
    json_schema: dict[str, Any] | None
    temperature: float
    max_tokens: int

    @property
    def prompt(self) -> str:
        return "\n".join(m.content for m in self.messages)


@dataclass
class ScriptedEngine:
    """``outputs``: strings are returned as is; dicts/lists as JSON; callables get (messages, schema).

    When the outputs run out, ``fallback`` is used (default: raise AssertionError, so a test notices
    an unexpected extra call).
    """

    outputs: list[Output] = field(default_factory=list)
    n_ctx: int = 4096
    chat_format: str = "raw"
    fallback: Output | None = None
    calls: list[Call] = field(default_factory=list)
    closed: bool = False
    cancel_after_calls: int | None = None  # set the cancel token when this many calls have started

    def info(self) -> EngineInfo:
        return EngineInfo("scripted", "scripted-model.gguf", "CPU", 0, self.n_ctx, self.chat_format)

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def count_chat_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(self.count_tokens(m.content) + 4 for m in messages)

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
        cancel: CancelToken | None = None,
        json_schema: dict[str, Any] | None = None,
        static_prefix: int = 0,
    ) -> Generation:
        return Generation(self._pieces(messages, max_tokens, temperature, cancel, json_schema))

    def _pieces(self, messages: Sequence[ChatMessage], max_tokens: int, temperature: float,
                cancel: CancelToken | None, json_schema: dict[str, Any] | None,
                ) -> Generator[str, None, GenerationResult]:
        self.calls.append(Call(list(messages), json_schema, temperature, max_tokens))
        if self.cancel_after_calls is not None and len(self.calls) >= self.cancel_after_calls and cancel:
            cancel.cancel()
        if cancel is not None and cancel.is_set():
            return GenerationResult("", self.count_chat_tokens(messages), 0, 0.01, 0.0, "cancelled")
        if self.outputs:
            out = self.outputs.pop(0)
        elif self.fallback is not None:
            out = self.fallback
        else:
            raise AssertionError(f"unexpected extra call #{len(self.calls)}:\n{self.calls[-1].prompt[-400:]}")
        if callable(out):
            out = out(messages, json_schema)
        text = out if isinstance(out, str) else json.dumps(out)
        for i in range(0, len(text), 7):
            if cancel is not None and cancel.is_set():  # like the real engines: stop, report "cancelled"
                return GenerationResult(text[:i], self.count_chat_tokens(messages), i // 4, 0.01, 0.01, "cancelled")
            yield text[i : i + 7]
        return GenerationResult(text, self.count_chat_tokens(messages), max(1, len(text) // 4), 0.02, 0.03, "stop")

    def close(self) -> None:
        self.closed = True
