"""The generation-engine interface shared by the local llama.cpp engine and OpenAI-compatible servers.

Everything above the engines (chat, studio) talks to :class:`Engine` only; which model runs where
is wiring (``workspace.py``). Pure Python: no llama.cpp, no HTTP here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from notebooklm_local.core.jobs import CancelToken

__all__ = ["ChatMessage", "EngineInfo", "GenerationResult", "Engine", "Role"]

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass
class EngineInfo:
    """What runs the model, for the status bar, ``doctor`` and every generation's report."""

    kind: str  # "llama.cpp" or "openai"
    model: str  # file name or the server's model id
    backend: str  # "CPU", "CUDA", ... or the server's URL
    gpu_layers: int = 0  # layers offloaded (-1: all); 0 for a CPU build or a server
    n_ctx: int = 0
    chat_format: str = ""  # "gguf-template", "family:<name>", "raw" (completion), "server"
    flash_attn: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerationResult:
    """The text of one generation and how it ran."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    prompt_eval_s: float  # time to first token (prompt evaluation)
    generation_s: float  # time from first to last token
    finish_reason: str  # "stop", "length", "cancelled"
    backend: str = "CPU"
    gpu_layers: int = 0
    n_ctx: int = 0
    cached_prompt_tokens: int = 0  # prompt tokens served from the KV cache (prefix reuse)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt_tokens_per_s(self) -> float:
        evaluated = self.prompt_tokens - self.cached_prompt_tokens
        return evaluated / self.prompt_eval_s if self.prompt_eval_s > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        # the first token is produced by prompt eval; the rest by generation
        n = max(self.completion_tokens - 1, 0)
        return n / self.generation_s if self.generation_s > 0 else 0.0

    def timings(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "prompt_eval_s": round(self.prompt_eval_s, 4),
            "generation_s": round(self.generation_s, 4),
            "prompt_tokens_per_s": round(self.prompt_tokens_per_s, 1),
            "tokens_per_s": round(self.tokens_per_s, 1),
            "finish_reason": self.finish_reason,
            "backend": self.backend,
            "gpu_layers": self.gpu_layers,
            "n_ctx": self.n_ctx,
        }


@runtime_checkable
class Engine(Protocol):
    """A chat model. One generation at a time per engine; implementations serialise callers.

    ``stream_chat`` yields text pieces as they are produced and, when ``result`` is a list, appends
    one :class:`GenerationResult` at the end. Cancellation takes effect at the next token.
    ``json_schema`` constrains the output to JSON matching the schema (a llama.cpp grammar locally,
    ``response_format`` on a server). ``static_prefix`` names how many leading messages are the
    same from call to call (the system prompt): an engine may keep their evaluation cached.
    """

    @property
    def n_ctx(self) -> int: ...

    def info(self) -> EngineInfo: ...

    def count_tokens(self, text: str) -> int: ...

    def count_chat_tokens(self, messages: Sequence[ChatMessage]) -> int: ...

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
        result: list[GenerationResult] | None = None,
    ) -> Iterator[str]: ...

    def close(self) -> None: ...
