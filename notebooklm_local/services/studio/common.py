"""What every studio output shares: the material (chunks as passages), structured generation with
checks and retries, and the timing report (prompt evaluation vs generation)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from notebooklm_local.core.citations import Passage, ocr_pages_in, repair_json
from notebooklm_local.core.errors import Cancelled, NotebookError, StudioError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.library import Library, Source, StoredChunk
from notebooklm_local.core.llm import ChatMessage, Engine, GenerationResult
from notebooklm_local.core.templates import PromptTemplate
from notebooklm_local.services.studio.stages import StageReporter

__all__ = [
    "Progress",
    "RunStats",
    "Attempt",
    "passage_from_chunk",
    "load_material",
    "messages_for",
    "generate_structured",
    "batch_by_tokens",
]

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
T = TypeVar("T")


@dataclass
class RunStats:
    """Every generation of one studio run, summed: what the benchmark and the closing report quote."""

    calls: int = 0
    attempts_failed: int = 0
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_eval_s: float = 0.0
    generation_s: float = 0.0
    wall_s: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def add(self, g: GenerationResult | None) -> None:
        if g is None:
            return
        self.calls += 1
        self.prompt_tokens += g.prompt_tokens
        self.cached_prompt_tokens += g.cached_prompt_tokens
        self.completion_tokens += g.completion_tokens
        self.prompt_eval_s += g.prompt_eval_s
        self.generation_s += g.generation_s

    def finish(self) -> RunStats:
        self.wall_s = time.perf_counter() - self.started
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls, "failed_attempts": self.attempts_failed, "prompt_tokens": self.prompt_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens, "completion_tokens": self.completion_tokens,
            "prompt_eval_s": round(self.prompt_eval_s, 3), "generation_s": round(self.generation_s, 3),
            "wall_s": round(self.wall_s, 3),
            "other_s": round(max(0.0, self.wall_s - self.prompt_eval_s - self.generation_s), 3),
        }


@dataclass
class Attempt:
    raw: str
    error: str


def passage_from_chunk(pid: int, chunk: StoredChunk, source: Source) -> Passage:
    url = source.ref.get("url") if isinstance(source.ref, dict) else None
    return Passage(pid, chunk.id, source.id, source.display, chunk.text, chunk.char_start, chunk.char_end,
                   chunk.page, chunk.page_end, chunk.t_start, chunk.heading, url, ocr_pages=ocr_pages_in(source.meta))


def load_material(library: Library, notebook_id: str, source_ids: Sequence[str] | None
                  ) -> tuple[list[Source], list[Passage]]:
    """The ready sources (the selected ones when ``source_ids`` is None) and all their chunks, in reading order,
    numbered 1..N. Raises NotebookError when there is nothing to work from."""
    sources = library.sources(notebook_id)
    if source_ids is None:
        chosen = [s for s in sources if s.selected]
    else:
        wanted = list(dict.fromkeys(source_ids))
        by_id = {s.id: s for s in sources}
        missing = [sid for sid in wanted if sid not in by_id]
        if missing:
            raise NotebookError(f"Not a source of this notebook: {', '.join(missing)}")
        chosen = [by_id[sid] for sid in wanted]
    if not chosen:
        raise NotebookError("No sources are selected. Select (or name) the sources to work from.")
    not_ready = [s for s in chosen if s.status != "ready"]
    ready = [s for s in chosen if s.status == "ready"]
    if not ready:
        states = ", ".join(f"{s.display} ({s.status}{': ' + s.error if s.error else ''})" for s in not_ready[:5])
        raise NotebookError(f"None of the chosen sources is ready: {states}.")
    passages: list[Passage] = []
    for s in ready:
        for c in library.source_chunks(s.id):
            if c.text.strip():
                passages.append(passage_from_chunk(len(passages) + 1, c, s))
    if not passages:
        names = ", ".join(s.display for s in ready[:5])
        raise NotebookError(f"The chosen sources have no text to work from ({names}). A scanned PDF needs OCR first.")
    return ready, passages


def messages_for(template: PromptTemplate, values: dict[str, Any]) -> list[ChatMessage]:
    r = template.render(values)
    msgs = [ChatMessage("system", r.system)] if r.system else []
    msgs.append(ChatMessage("user", r.user))
    return msgs


def batch_by_tokens(passages: Sequence[Passage], count: Callable[[str], int], room: int) -> list[list[Passage]]:
    """Consecutive groups whose texts fit ``room`` tokens (a passage bigger than the room is cut to fit)."""
    batches: list[list[Passage]] = []
    cur: list[Passage] = []
    used = 0
    for p in passages:
        n = count(p.text) + 24  # the <passage ...> tag around it
        if n > room:
            keep = max(200, int(len(p.text) * room / n * 0.9))
            p = Passage(p.pid, p.chunk_id, p.source_id, p.source_title, p.text[:keep], p.start, p.start + keep,
                        p.page, p.page_end, p.t_start, p.heading, p.url, p.score)
            n = count(p.text) + 24
        if cur and used + n > room:
            batches.append(cur)
            cur, used = [], 0
        cur.append(p)
        used += n
    if cur:
        batches.append(cur)
    return batches


def generate_structured(
    engine: Engine,
    messages: Sequence[ChatMessage],
    schema: dict[str, Any],
    check: Callable[[Any], T],
    *,
    what: str,
    max_tokens: int,
    retries: int,
    stats: RunStats,
    temperature: float = 0.3,
    cancel: CancelToken | None = None,
    on_token: Callable[[str], None] | None = None,
    reporter: StageReporter | None = None,
) -> tuple[T, list[Attempt]]:
    """Generate JSON under ``schema`` and pass it through ``check`` (which raises ValueError on bad output).

    Tries ``1 + retries`` times, warmer each time (a retry at the same temperature often repeats the
    same mistake). After the last failure raises StudioError naming ``what`` and every reason.
    ``reporter`` hears of each attempt (a/m, and why the one before was rejected) and each streamed token.
    """
    cancel = cancel or CancelToken()
    attempts: list[Attempt] = []
    for i in range(retries + 1):
        cancel.raise_if_set()
        temp = min(1.0, temperature + 0.35 * i)
        pieces: list[str] = []
        if reporter is not None:
            reporter.attempt(i + 1, retries + 1, max_tokens, rejected=attempts[-1].error if attempts else "")
        gen = engine.stream_chat(messages, max_tokens=max_tokens, temperature=temp, cancel=cancel,
                                 json_schema=schema, static_prefix=len(messages) - 1)
        try:
            for piece in gen:
                pieces.append(piece)
                if on_token is not None:
                    on_token(piece)
                if reporter is not None:
                    reporter.token()
        except Cancelled:
            raise
        generation = gen.result()
        stats.add(generation)
        if reporter is not None:
            reporter.call_done(generation)
        if cancel.is_set() or generation.finish_reason == "cancelled":
            raise Cancelled()
        raw = "".join(pieces)
        try:
            data = repair_json(raw)
            value = check(data)
        except ValueError as e:
            reason = str(e) or "unusable output"
            if generation.finish_reason == "length":
                reason += " (the output reached its length limit)"
            log.info("%s: attempt %d rejected: %s: %r", what, i + 1, reason, raw[:300])
            attempts.append(Attempt(raw, reason))
            stats.attempts_failed += 1
            continue
        attempts.append(Attempt(raw, ""))
        return value, attempts
    reasons = "; ".join(f"attempt {n}: {a.error}" for n, a in enumerate(attempts, 1))
    raise StudioError(
        f"The model gave no usable {what} in {len(attempts)} attempt{'s' if len(attempts) > 1 else ''} ({reasons}). "
        "Try again, choose fewer sources, or use a larger model (Settings \u2192 Model).",
        attempts=[(a.raw, a.error) for a in attempts],
    )
