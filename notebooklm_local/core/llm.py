"""The generation-engine interface shared by the local llama.cpp engine and OpenAI-compatible servers.

Everything above the engines (chat, studio) talks to :class:`Engine` only; which model runs where
is wiring (``workspace.py``). Pure Python: no llama.cpp, no HTTP here.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Protocol, runtime_checkable

from notebooklm_local.core.jobs import CancelToken

__all__ = ["ChatMessage", "EngineInfo", "Generation", "GenerationResult", "Engine", "Report", "Role"]

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


# What an engine's generator returns when it finishes: the report, or a function that makes it (for an
# engine whose report costs something, e.g. a server round trip to count the prompt's tokens), called by
# the first ``Generation.result()`` only, so that callers who want just the text never pay for it.
Report = GenerationResult | Callable[[], GenerationResult]


class Generation(Iterator[str]):
    """One generation: iterate it for the text pieces as they are produced, then ask :meth:`result`.

    The shape of Simon Willison's ``llm`` ``Response``::

        gen = engine.stream_chat(messages, max_tokens=200)
        for piece in gen:
            show(piece)
        report = gen.result()  # GenerationResult: text, tokens, timings, finish reason

    It wraps the engine's generator (``source``) and changes nothing about how that runs: nothing happens
    before the first piece is asked for (the engine takes its lock then), a cancelled generation ends
    normally with ``finish_reason == "cancelled"``, and :meth:`close` (or dropping the object, or leaving
    a ``with`` block) closes the generator early as closing it directly would, releasing the engine.

    ``source`` yields the pieces and *returns* a :data:`Report`. When it ends, ``StopIteration`` carries that
    report on, so a wrapping generator can pass it through with ``return (yield from inner)``.
    """

    __slots__ = ("_source", "_report", "_result", "_state")

    def __init__(self, source: Generator[str, None, Report]) -> None:
        self._source = source
        self._report: Report | None = None
        self._result: GenerationResult | None = None
        self._state = "running"  # -> "finished" (the source returned), "closed" (closed early) or "failed"

    def __next__(self) -> str:
        if self._state != "running":
            raise StopIteration(self._report)
        try:
            return next(self._source)
        except StopIteration as stop:
            self._state, self._report = "finished", stop.value
            raise StopIteration(stop.value) from None
        except BaseException:
            self._state = "failed"
            raise

    def result(self) -> GenerationResult:
        """The report of the finished generation (the same object on every call).

        Called before the pieces were all read, it reads (and drops) the rest first: the generation runs to
        its end, as ``llm``'s ``Response`` does (an engine error on the way is raised from here). Raises
        ``RuntimeError`` when there is no report: the generation was closed early, or ended with an error
        (which was raised to whoever iterated it).
        """
        if self._result is not None:
            return self._result
        if self._state == "running":
            for _ in self:
                pass
        if self._state != "finished":
            how = "was closed before it finished" if self._state == "closed" else "ended with an error"
            raise RuntimeError(f"The generation {how}; it has no result.")
        report = self._report
        if report is None:
            raise RuntimeError("The engine's generator returned no result.")
        self._result = report if isinstance(report, GenerationResult) else report()
        return self._result

    def close(self) -> None:
        """Stop early: closes the engine's generator (which releases the engine); no result then."""
        if self._state == "running":
            self._state = "closed"
        self._source.close()

    def __enter__(self) -> Generation:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@runtime_checkable
class Engine(Protocol):
    """A chat model. One generation at a time per engine; implementations serialise callers.

    ``stream_chat`` returns a :class:`Generation`: iterating it yields the text pieces as they are produced;
    its ``result()`` then gives the :class:`GenerationResult`. Cancellation takes effect at the next token.
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
    ) -> Generation: ...

    def close(self) -> None: ...
