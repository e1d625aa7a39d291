"""An OpenAI-compatible model server as an :class:`~notebooklm_local.core.llm.Engine`.

For users who already run a model server: llama-server (llama.cpp), Ollama, LM Studio, vLLM,
llama-cpp-python's server, or any other server that speaks ``POST /v1/chat/completions`` with
server-sent events. The protocol details this module relies on, per server:

* Streaming: ``data: {chunk}`` lines, ``data: [DONE]`` at the end; ``: ping`` comment lines
  (llama-server, sse-starlette) are skipped. The text is ``choices[0].delta.content``.
* ``stream_options: {"include_usage": true}`` asks for a last chunk with ``usage`` (OpenAI, vLLM,
  Ollama, llama-server); servers without it (llama-cpp-python) ignore the field. llama-server also
  sends a ``timings`` object (``prompt_ms``, ``predicted_ms``, ``cache_n``) with the last chunk.
* JSON output: ``response_format: {"type": "json_schema", "json_schema": {...}}`` (OpenAI, vLLM,
  LM Studio, Ollama >= 0.5, llama-server). llama-cpp-python's server only knows
  ``{"type": "json_object", "schema": ...}`` (which llama-server accepts as well); when a server
  rejects the first form with 400/422 the engine retries once in the second and keeps using it.
* Token counts: llama-server ``POST /tokenize {"content"}`` (and ``/apply-template`` for whole
  chats), vLLM ``POST /tokenize {"prompt"}``, llama-cpp-python ``POST /extras/tokenize/count
  {"input"}``. Servers without a tokenizer endpoint (Ollama, LM Studio, OpenAI) get a conservative
  estimate (see :func:`estimate_tokens`), so that context budgeting keeps a margin.
* Context size: llama-server ``GET /props`` (``default_generation_settings.n_ctx``, per slot),
  vLLM ``max_model_len`` in ``/v1/models``, llama-server's ``meta.n_ctx_train`` as an upper bound;
  else the configured value (Ollama cannot report it: set it to the server's ``num_ctx``).
* Prompt caching is the server's business: llama-server's ``cache_prompt`` is on by default, vLLM
  and Ollama cache prefixes themselves, so ``static_prefix`` is accepted and ignored and no
  server-specific field is sent (OpenAI itself rejects unknown request fields).

Cancellation: a watcher thread shuts the connection down as soon as the cancel token is set, so a
Stop takes effect at once, even while the server is still evaluating a long prompt; the server sees
the client go away and stops generating.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import re
import socket
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import ChatMessage, EngineInfo, Generation, GenerationResult, Report
from notebooklm_local.core.settings import ServerSettings

__all__ = ["ModelServerError", "OpenAICompatibleEngine", "engine_from_settings", "estimate_tokens"]

log = logging.getLogger(__name__)

# chat-template tokens around each message (role markers, separators) and before the answer, when the
# server cannot render the template for us; generous on purpose (ChatML: 4 + 3, Gemma: 5 + 3)
MESSAGE_OVERHEAD_TOKENS = 8
REPLY_OVERHEAD_TOKENS = 8
_PROBE_RETRY_S = 30.0  # after a failed probe of the server, use the configured values this long
_COUNT_CACHE_SIZE = 4096
_ERROR_TEXT_LIMIT = 300


class ModelServerError(NotebookError):
    """The model server could not be reached, or refused or broke a request.

    ``reason`` is one of "connect", "timeout", "auth", "not_found", "context", "loading", "server",
    "bad_request", "protocol", "broken"; ``status`` is the HTTP status (0: no HTTP reply).
    """

    def __init__(self, message: str, *, reason: str = "server", status: int = 0) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


def estimate_tokens(text: str) -> int:
    """A conservative token count for servers without a tokenizer endpoint.

    Tokenizers of current models average about 4 characters per token on English text and rarely
    fewer than 3; non-ASCII characters (accents, Cyrillic, CJK) often cost a token or more each.
    Counting ASCII at 3 characters per token and every other character as a whole token
    over-estimates for nearly all text, so budgets built on it keep a margin.
    """
    if not text:
        return 0
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    return math.ceil((len(text) - non_ascii) / 3) + non_ascii


@dataclass
class _ServerFacts:
    """What the engine learned about the server (once; see ``OpenAICompatibleEngine._probe``)."""

    flavour: str = "openai-compatible"  # llama-server | vllm | llama-cpp-python | openai-compatible
    models: list[str] = field(default_factory=list)
    n_ctx: int = 0  # 0: unknown
    n_ctx_source: str = "settings"


class OpenAICompatibleEngine:
    """A chat model behind an OpenAI-compatible HTTP server (implements ``Engine``).

    ``base_url`` is the API root that ``/chat/completions`` hangs off, e.g.
    ``http://127.0.0.1:8080/v1``. ``model`` empty: the first id that ``GET /models`` lists.
    ``api_key`` is sent as a bearer token; ``api_key_env`` only names where it came from, for
    error messages. One generation at a time per engine, like the local engine.
    """

    def __init__(
        self,
        base_url: str,
        model: str = "",
        api_key: str | None = None,
        n_ctx: int = 8192,
        timeout_s: float = 120.0,
        http_client: httpx.Client | None = None,
        *,
        api_key_env: str = "",
    ) -> None:
        self.base_url = base_url.strip().rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ModelServerError(
                f"The model server URL '{base_url}' is not an http(s) URL (e.g. http://127.0.0.1:8080/v1). "
                "Fix it in Settings → Model server.",
                reason="bad_request",
            )
        self.root_url = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
        self.model = model.strip()
        self.api_key = api_key or None
        self.api_key_env = api_key_env
        self.configured_n_ctx = int(n_ctx)
        self.timeout_s = float(timeout_s)
        self._own_client = http_client is None
        if http_client is None:
            host = (parts.hostname or "").lower()
            local = host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost")
            http_client = httpx.Client(
                timeout=httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 10.0)),
                # a proxy from the environment is for the internet, never for a server on this machine
                trust_env=not local,
            )
        self._client = http_client
        self._lock = threading.Lock()  # one generation at a time
        self._probe_lock = threading.Lock()
        self._facts: _ServerFacts | None = None
        self._probe_failed_at = 0.0
        self._probe_error: ModelServerError | None = None
        self._model_id: str | None = self.model or None
        self._tokenizer: str | None = None  # "llama-server" | "vllm" | "llama-cpp-python" | "estimate"
        self._tokenizer_baseline = 0
        self._count_cache: dict[str, int] = {}
        self._schema_style = "json_schema"  # or "json_object" once a server rejected json_schema
        self._send_stream_options = True

    # -- what the server is ----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _get_json(self, url: str) -> Any:
        """GET a JSON document; raise ModelServerError (with the HTTP status) on any failure."""
        return self._request_json("GET", url)

    def _post_json(self, url: str, body: dict[str, Any]) -> Any:
        return self._request_json("POST", url, body)

    def _request_json(self, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._client.request(method, url, json=body, headers=self._headers())
        except httpx.HTTPError as e:
            raise self._transport_error(e) from e
        if response.status_code >= 400:
            raise self._http_error(response.status_code, response.text, url=url)
        try:
            return response.json()
        except ValueError as e:
            if method == "POST":
                raise ModelServerError(f"{url} did not answer with JSON", reason="protocol") from e
            raise ModelServerError(
                f"The server at {self.base_url} did not answer {url} with JSON — is it an OpenAI-compatible "
                "model server? Check the URL in Settings → Model server (it usually ends in /v1).",
                reason="protocol", status=response.status_code,
            ) from e

    def list_models(self) -> list[str]:
        """The model ids ``GET {base_url}/models`` lists."""
        data = self._get_json(f"{self.base_url}/models")
        entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ModelServerError(
                f"{self.base_url}/models did not list models like an OpenAI-compatible server does.",
                reason="protocol",
            )
        return [str(e["id"]) for e in entries if isinstance(e, dict) and e.get("id")]

    def _probe(self, *, force: bool = False) -> _ServerFacts | None:
        """Learn the server's flavour, models and context size; None while the server cannot be reached.

        A failure is remembered for a while (``n_ctx`` and ``info()`` then use the configured values
        without waiting on the network again); ``force`` tries anyway.
        """
        with self._probe_lock:
            if self._facts is not None:
                return self._facts
            if not force and self._probe_failed_at and time.monotonic() - self._probe_failed_at < _PROBE_RETRY_S:
                return None
            try:
                self._facts = self._learn()
            except ModelServerError as e:
                self._probe_failed_at = time.monotonic()
                self._probe_error = e
                log.info("model server at %s: %s", self.base_url, e)
                return None
            self._probe_error = None
            f = self._facts
            log.info(
                "model server at %s: %s, model %s, n_ctx %d (%s)", self.base_url, f.flavour,
                self._model_id or "(server default)", self._known_n_ctx(), f.n_ctx_source,
            )
            return f

    def _learn(self) -> _ServerFacts:
        facts = _ServerFacts()
        data = self._get_json(f"{self.base_url}/models")  # raises when the server is unreachable
        entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ModelServerError(
                f"{self.base_url}/models did not list models like an OpenAI-compatible server does. Check the "
                "URL in Settings → Model server (it usually ends in /v1).",
                reason="protocol",
            )
        entries = [e for e in entries if isinstance(e, dict) and e.get("id")]
        facts.models = [str(e["id"]) for e in entries]
        if self._model_id is None and facts.models:
            self._model_id = facts.models[0]
        entry = next((e for e in entries if e["id"] == self._model_id), entries[0] if entries else {})
        owned_by = str(entry.get("owned_by", ""))
        if isinstance(entry.get("max_model_len"), int) or owned_by == "vllm":
            facts.flavour = "vllm"
            if isinstance(entry.get("max_model_len"), int) and entry["max_model_len"] > 0:
                facts.n_ctx, facts.n_ctx_source = int(entry["max_model_len"]), "server (max_model_len)"
        meta = entry.get("meta")
        if owned_by == "llamacpp" or isinstance(meta, dict):
            facts.flavour = "llama-server"
            train = meta.get("n_ctx_train") if isinstance(meta, dict) else None
            if isinstance(train, int) and train > 0:
                facts.n_ctx, facts.n_ctx_source = min(self.configured_n_ctx, train), "settings, capped by n_ctx_train"
        if facts.flavour in ("openai-compatible", "llama-server"):
            with contextlib.suppress(ModelServerError):
                props = self._get_json(f"{self.root_url}/props")
                settings = props.get("default_generation_settings") if isinstance(props, dict) else None
                if isinstance(settings, dict):
                    facts.flavour = "llama-server"
                    n = settings.get("n_ctx")
                    if isinstance(n, int) and n > 0:
                        facts.n_ctx, facts.n_ctx_source = n, "server (/props)"
        return facts

    @property
    def n_ctx(self) -> int:
        facts = self._probe()
        return facts.n_ctx if facts is not None and facts.n_ctx > 0 else self.configured_n_ctx

    @property
    def flavour(self) -> str:
        facts = self._probe()
        return facts.flavour if facts is not None else "unknown"

    def _known_n_ctx(self) -> int:
        """``n_ctx`` without asking the server."""
        facts = self._facts
        return facts.n_ctx if facts is not None and facts.n_ctx > 0 else self.configured_n_ctx

    def _resolve_model(self) -> str:
        """The model id to send; empty when the server lists none (it then uses its only model)."""
        if self._model_id is not None:
            return self._model_id
        if self._probe(force=True) is None:
            assert self._probe_error is not None
            raise self._probe_error
        return self._model_id or ""

    def info(self) -> EngineInfo:
        facts = self._probe()
        extra: dict[str, Any] = {
            "server": facts.flavour if facts else "unknown",
            "n_ctx_source": facts.n_ctx_source if facts else "settings",
            "tokenizer": self._tokenizer or "not yet probed",
        }
        if facts is None and self._probe_error is not None:
            extra["error"] = str(self._probe_error)
        if facts is not None:
            extra["models"] = list(facts.models)
        return EngineInfo(
            kind="openai",
            model=self._model_id or self.model,
            backend=self.base_url,
            gpu_layers=0,
            n_ctx=self.n_ctx,
            chat_format="server",
            extra=extra,
        )

    # -- tokens ----------------------------------------------------------------------------------

    def _server_count(self, kind: str, text: str) -> int:
        if kind == "llama-server":
            data = self._post_json(f"{self.root_url}/tokenize", {"content": text, "add_special": False})
            tokens = data.get("tokens") if isinstance(data, dict) else None
            if not isinstance(tokens, list):
                raise ModelServerError("unexpected /tokenize reply", reason="protocol")
            return len(tokens)
        if kind == "vllm":
            body: dict[str, Any] = {"prompt": text, "add_special_tokens": False}
            if self._model_id:
                body["model"] = self._model_id
            data = self._post_json(f"{self.root_url}/tokenize", body)
            count = data.get("count") if isinstance(data, dict) else None
            if not isinstance(count, int):
                raise ModelServerError("unexpected /tokenize reply", reason="protocol")
            return count
        if kind == "llama-cpp-python":
            data = self._post_json(f"{self.root_url}/extras/tokenize/count", {"input": text})
            count = data.get("count") if isinstance(data, dict) else None
            if not isinstance(count, int):
                raise ModelServerError("unexpected /extras/tokenize/count reply", reason="protocol")
            return max(count - self._tokenizer_baseline, 0)
        return estimate_tokens(text)

    def _choose_tokenizer(self) -> str | None:
        """Find the server's tokenizer endpoint; None when the server cannot be reached right now."""
        facts = self._probe()
        if facts is None:
            return None
        candidates = {"llama-server": ["llama-server"], "vllm": ["vllm"]}.get(
            facts.flavour, ["llama-cpp-python", "llama-server"]
        )
        for kind in candidates:
            try:
                if kind == "llama-cpp-python":
                    # its tokenizer adds BOS; what an empty text counts is that overhead
                    self._tokenizer_baseline = 0
                    self._tokenizer_baseline = self._server_count(kind, "")
                probe = self._server_count(kind, "Hello world")
            except ModelServerError as e:
                if e.reason in ("connect", "timeout"):
                    return None
                continue
            if probe > 0:
                return kind
        return "estimate"

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by the server's tokenizer, or a conservative estimate (see module doc)."""
        if not text:
            return 0
        cached = self._count_cache.get(text)
        if cached is not None:
            return cached
        if self._tokenizer is None:
            kind = self._choose_tokenizer()
            if kind is None:
                return estimate_tokens(text)  # server unreachable now: estimate, decide later
            self._tokenizer = kind
            log.info("model server at %s: counting tokens with %s", self.base_url, kind)
        try:
            n = self._server_count(self._tokenizer, text)
        except ModelServerError as e:
            log.debug("token count from the server failed (%s); estimating", e)
            return estimate_tokens(text)
        if len(self._count_cache) >= _COUNT_CACHE_SIZE:
            self._count_cache.clear()
        self._count_cache[text] = n
        return n

    def count_chat_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Prompt tokens of a chat: the server's own template when it can render it, else a sum + overhead."""
        if self.flavour == "llama-server":
            try:
                data = self._post_json(f"{self.root_url}/apply-template", {"messages": _wire_messages(messages)})
                prompt = data.get("prompt") if isinstance(data, dict) else None
                if isinstance(prompt, str):
                    return self.count_tokens(prompt) + 1  # + BOS when the template does not write it: 1 over at most
            except ModelServerError as e:
                log.debug("apply-template failed (%s); summing messages", e)
        return self._sum_chat_tokens(messages)

    def _sum_chat_tokens(self, messages: Sequence[ChatMessage], *, offline: bool = False) -> int:
        count = estimate_tokens if offline else self.count_tokens
        return sum(count(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages) + REPLY_OVERHEAD_TOKENS

    # -- generation ------------------------------------------------------------------------------

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self._schema_style == "json_object":
            return {"type": "json_object", "schema": schema}
        name = re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "response"))[:64] or "response"
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}

    def _payload(
        self, messages: Sequence[ChatMessage], model: str, max_tokens: int, temperature: float,
        stop: Sequence[str], json_schema: dict[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": _wire_messages(messages),
            "stream": True,
            "max_tokens": int(max_tokens),
            "temperature": float(temperature),
        }
        if model:
            body["model"] = model
        if self._send_stream_options:
            body["stream_options"] = {"include_usage": True}
        if stop:
            body["stop"] = list(stop)
        if json_schema is not None:
            body["response_format"] = self._response_format(json_schema)
        return body

    def _open(self, messages: Sequence[ChatMessage], model: str, **kwargs: Any) -> httpx.Response:
        """Send the chat request; adapt once to servers that reject optional fields; return the open response."""
        url = f"{self.base_url}/chat/completions"
        stale_retry = True
        for _attempt in range(4):
            body = self._payload(messages, model, **kwargs)
            request = self._client.build_request("POST", url, json=body, headers={
                **self._headers(), "Accept": "text/event-stream",
            })
            try:
                response = self._client.send(request, stream=True)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
                # a kept-alive connection the server had closed (llama-cpp-python drops it after a failed
                # stream): nothing was processed, so sending once more on a fresh connection is safe
                if stale_retry:
                    stale_retry = False
                    log.debug("model server closed a reused connection (%s); retrying once", e)
                    continue
                raise self._transport_error(e) from e
            except httpx.HTTPError as e:
                raise self._transport_error(e) from e
            if response.status_code < 400:
                return response
            try:
                response.read()
                text = response.text
            except httpx.HTTPError:
                text = ""
            finally:
                response.close()
            status = response.status_code
            low = text.lower()
            # a rejected optional field: 400 (llama-server, OpenAI), 422 (FastAPI validation), or 500 from
            # llama-cpp-python's server, whose error handler wraps validation errors as internal errors
            if status in (400, 422, 500) and not _is_context_error(low):
                if "stream_options" in low and self._send_stream_options:
                    log.info("model server rejects stream_options; asking without it")
                    self._send_stream_options = False
                    continue
                if kwargs.get("json_schema") is not None and self._schema_style == "json_schema" and (
                    status == 422 or "response_format" in low or "json_schema" in low
                ):
                    log.info("model server rejects response_format json_schema; using json_object + schema")
                    self._schema_style = "json_object"
                    continue
            raise self._http_error(status, text, url=url, model=model)
        raise ModelServerError(f"The model server at {self.base_url} kept rejecting the request.", reason="bad_request")

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
        cancel: CancelToken | None = None,
        json_schema: dict[str, Any] | None = None,
        static_prefix: int = 0,  # servers cache prompt prefixes themselves
    ) -> Generation:
        return Generation(self._locked_stream(messages, max_tokens, temperature, stop, cancel, json_schema))

    def _locked_stream(
        self, messages: Sequence[ChatMessage], max_tokens: int, temperature: float, stop: Sequence[str],
        cancel: CancelToken | None, json_schema: dict[str, Any] | None,
    ) -> Generator[str, None, Report]:
        with self._lock:
            return (yield from self._stream(messages, max_tokens, temperature, stop, cancel or CancelToken(),
                                            json_schema))

    def _stream(
        self, messages: Sequence[ChatMessage], max_tokens: int, temperature: float, stop: Sequence[str],
        cancel: CancelToken, json_schema: dict[str, Any] | None,
    ) -> Generator[str, None, Report]:
        """Yield the pieces; return the report as a function (made by the first ``result()`` only: counting
        the prompt's tokens may ask the server)."""
        t0 = time.perf_counter()
        if cancel.is_set():
            return functools.partial(self._report, _Run(t0=t0, t_end=t0, finish="cancelled"), messages, offline=True)
        model = self._resolve_model()
        # A stream the server closes before any text is sent once more, on a fresh connection: nothing reached
        # the caller, and a server that dropped a connection in a bad moment usually answers the next one. A
        # second early close is reported (it is what a server does when the prompt exceeds its context).
        for attempt in (1, 2):
            run = _Run(t0=t0)
            response = self._open(
                messages, model, max_tokens=max_tokens, temperature=temperature, stop=stop, json_schema=json_schema
            )
            done = threading.Event()
            watcher = threading.Thread(target=_watch_cancel, args=(cancel, response, done), daemon=True,
                                       name="openai-engine-cancel")
            watcher.start()
            early: httpx.HTTPError | None = None
            try:
                content_type = response.headers.get("content-type", "").lower()
                if "application/json" in content_type:
                    yield from self._read_whole(response, run)
                else:
                    yield from self._read_events(response, run, cancel)
            except httpx.TimeoutException as e:
                if not cancel.is_set():
                    raise ModelServerError(
                        f"The model server at {self.base_url} stopped sending for {self.timeout_s:g} s in the middle "
                        "of an answer. It may be overloaded; try again, or raise the timeout in Settings → Model "
                        "server.",
                        reason="timeout",
                    ) from e
            except httpx.HTTPError as e:
                if not cancel.is_set():
                    if run.pieces:
                        raise ModelServerError(
                            f"The connection to the model server at {self.base_url} broke in the middle of an answer "
                            f"({e}).",
                            reason="broken",
                        ) from e
                    early = e
            finally:
                done.set()
                response.close()
            closed_early = early is not None or (run.finish is None and not run.done and not run.pieces)
            if cancel.is_set() or not closed_early:
                break
            if attempt == 2:
                raise ModelServerError(_CLOSED_EARLY.format(url=self.base_url) + (f" ({early})" if early else ""),
                                       reason="broken") from early
            log.info("model server closed the answer before any text; sending it once more")
        run.t_end = time.perf_counter()
        if cancel.is_set():
            run.finish = "cancelled"
        elif run.finish is None and not run.done:
            raise ModelServerError(_CLOSED_EARLY.format(url=self.base_url), reason="broken")
        return functools.partial(self._report, run, messages, offline=run.finish == "cancelled")

    def _read_events(self, response: httpx.Response, run: _Run, cancel: CancelToken) -> Iterator[str]:
        for event in _sse_events(response.iter_lines(), self.base_url):
            if cancel.is_set():
                return
            if event is None:  # [DONE]
                run.done = True
                return
            piece = self._take_chunk(event, run)
            if piece:
                yield piece
            if cancel.is_set():
                return

    def _read_whole(self, response: httpx.Response, run: _Run) -> Iterator[str]:
        """A server that ignored ``stream: true`` and sent one JSON completion."""
        response.read()
        try:
            data = response.json()
        except ValueError as e:
            raise ModelServerError(f"The model server at {self.base_url} sent a reply that is not JSON.",
                                   reason="protocol") from e
        if not isinstance(data, dict):
            raise ModelServerError(f"The model server at {self.base_url} sent an unexpected reply.", reason="protocol")
        choices = data.get("choices")
        first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        message = first.get("message")
        if not isinstance(message, dict):
            message = {}
        chunk = {**data, "choices": [{"delta": {"content": message.get("content")},
                                      "finish_reason": first.get("finish_reason") or "stop"}]}
        piece = self._take_chunk(chunk, run)
        run.done = True
        if piece:
            yield piece

    def _take_chunk(self, event: dict[str, Any], run: _Run) -> str:
        error = event.get("error")
        if error and not event.get("choices"):
            raise ModelServerError(
                f"The model server reported an error: {_error_text(error)}", reason=_error_reason(_error_text(error))
            )
        if isinstance(event.get("usage"), dict):
            run.usage = event["usage"]
        if isinstance(event.get("timings"), dict):
            run.timings = event["timings"]
        choices = event.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return ""
        choice = choices[0]
        if choice.get("finish_reason"):
            run.finish = str(choice["finish_reason"])
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        if not isinstance(content, str) or not content:
            return ""
        if run.t_first is None:
            run.t_first = time.perf_counter()
        run.pieces.append(content)
        return content

    def _report(self, run: _Run, messages: Sequence[ChatMessage], *, offline: bool) -> GenerationResult:
        t_end = run.t_end or time.perf_counter()
        t_first = run.t_first or t_end
        usage, timings = run.usage or {}, run.timings or {}
        extra: dict[str, Any] = {"server": self._facts.flavour if self._facts else "unknown",
                                 "model": self._model_id or self.model}
        prompt_tokens = _int(usage.get("prompt_tokens"))
        completion_tokens = _int(usage.get("completion_tokens"))
        details = usage.get("prompt_tokens_details")
        cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else None
        if timings:
            if prompt_tokens is None and _int(timings.get("prompt_n")) is not None:
                prompt_tokens = (_int(timings.get("prompt_n")) or 0) + (_int(timings.get("cache_n")) or 0)
            if completion_tokens is None:
                completion_tokens = _int(timings.get("predicted_n"))
            if _int(timings.get("cache_n")) is not None:
                cached = _int(timings.get("cache_n"))
        extra["usage"] = "server" if prompt_tokens is not None else "estimated"
        if prompt_tokens is None:
            prompt_tokens = self._sum_chat_tokens(messages, offline=True) if offline else self.count_chat_tokens(messages)
        if completion_tokens is None:
            completion_tokens = len(run.pieces)  # servers stream one token per chunk
        prompt_ms, predicted_ms = _float(timings.get("prompt_ms")), _float(timings.get("predicted_ms"))
        if prompt_ms is not None and predicted_ms is not None:
            prompt_eval_s, generation_s = prompt_ms / 1000.0, predicted_ms / 1000.0
            extra["timings"] = "server"
        else:
            prompt_eval_s, generation_s = t_first - run.t0, t_end - t_first
            extra["timings"] = "client"
        extra["wall_s"] = round(t_end - run.t0, 4)
        return GenerationResult(
            text="".join(run.pieces),
            prompt_tokens=int(prompt_tokens),
            completion_tokens=int(completion_tokens),
            prompt_eval_s=max(prompt_eval_s, 0.0),
            generation_s=max(generation_s, 0.0),
            finish_reason=_finish(run.finish),
            backend=self.base_url,
            gpu_layers=0,
            n_ctx=self._known_n_ctx(),
            cached_prompt_tokens=int(cached or 0),
            extra=extra,
        )

    # -- errors ----------------------------------------------------------------------------------

    def _transport_error(self, error: httpx.HTTPError) -> ModelServerError:
        if isinstance(error, httpx.ConnectTimeout):
            return ModelServerError(
                f"Could not reach the model server at {self.base_url} (no answer to the connection within "
                f"{min(self.timeout_s, 10.0):g} s) — is it running, and is the address right?",
                reason="connect",
            )
        if isinstance(error, httpx.ConnectError):
            return ModelServerError(
                f"Could not reach the model server at {self.base_url} — is it running? ({_short(str(error))})",
                reason="connect",
            )
        if isinstance(error, httpx.TimeoutException):
            return ModelServerError(
                f"The model server at {self.base_url} did not answer within {self.timeout_s:g} s. It may be busy or "
                "loading the model; try again, or raise the timeout in Settings → Model server.",
                reason="timeout",
            )
        return ModelServerError(
            f"The connection to the model server at {self.base_url} failed: {_short(str(error)) or type(error).__name__}",
            reason="broken",
        )

    def _http_error(self, status: int, body: str, *, url: str, model: str = "") -> ModelServerError:
        message = _error_text(_json_or_text(body)) or f"HTTP {status}"
        low = message.lower()
        if status in (401, 403):
            where = (
                f"the environment variable {self.api_key_env}" if self.api_key_env else "the API key setting"
            )
            if self.api_key:
                text = f"The model server at {self.base_url} rejected the API key (HTTP {status}: {message}). " \
                       f"Check the key in {where}."
            else:
                text = f"The model server at {self.base_url} needs an API key (HTTP {status}: {message}). " \
                       f"Set {where} to the key before starting notebooklm-local."
            return ModelServerError(text, reason="auth", status=status)
        if _is_context_error(low):
            return ModelServerError(
                f"The prompt is too long for the model server's context ({message}). Use fewer or shorter sources, "
                "or raise the server's context size (and the context size in Settings → Model server to match).",
                reason="context", status=status,
            )
        if status == 404 or (status == 400 and "model" in low and ("not found" in low or "does not exist" in low)):
            if model and ("model" in low or status == 400):
                try:
                    available = self.list_models()
                except ModelServerError:
                    available = []
                listing = ", ".join(available[:12]) if available else "none listed"
                return ModelServerError(
                    f"The model server at {self.base_url} has no model '{model}' ({message}). Available: {listing}. "
                    "Set the model id in Settings → Model server (empty: the first available).",
                    reason="not_found", status=status,
                )
            return ModelServerError(
                f"The model server has no endpoint {url} (HTTP 404). Check the URL in Settings → Model server: for "
                "most servers it ends in /v1.",
                reason="not_found", status=status,
            )
        if status == 503 and "loading" in low:
            return ModelServerError(
                f"The model server at {self.base_url} is still loading its model; try again in a moment.",
                reason="loading", status=status,
            )
        if status >= 500:
            return ModelServerError(
                f"The model server at {self.base_url} failed (HTTP {status}): {message}. See the server's log.",
                reason="server", status=status,
            )
        return ModelServerError(
            f"The model server at {self.base_url} refused the request (HTTP {status}): {message}",
            reason="bad_request", status=status,
        )

    def close(self) -> None:
        if self._own_client:
            with contextlib.suppress(Exception):
                self._client.close()


_CLOSED_EARLY = ("The model server at {url} ended the answer without finishing it (the connection closed early). "
                 "The prompt may exceed the server's context size, or the server failed; see its log.")


@dataclass
class _Run:
    """One generation's state while it streams."""

    t0: float
    t_first: float | None = None
    t_end: float = 0.0
    pieces: list[str] = field(default_factory=list)
    finish: str | None = None
    done: bool = False
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None


def _wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _watch_cancel(cancel: CancelToken, response: httpx.Response, done: threading.Event) -> None:
    """Shut the connection down as soon as ``cancel`` is set (wakes a read blocked on the socket).

    The reading thread then sees the stream end or break and reports "cancelled"; the server sees
    the client go away and stops generating.
    """
    while not done.wait(0.05):
        if cancel.is_set():
            stream = response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            return


def _sse_events(lines: Iterator[str], base_url: str) -> Iterator[dict[str, Any] | None]:
    """Parse server-sent events into JSON objects; None for ``[DONE]``. Malformed input raises."""
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                raise _malformed(base_url, "\n".join(data))
            continue
        if line.startswith(":"):
            continue  # a comment: keep-alive pings
        name, _, value = line.partition(":")
        if name in ("event", "id", "retry"):
            continue
        if name != "data":
            raise _malformed(base_url, line)
        value = value[1:] if value.startswith(" ") else value
        if not data and value.strip() == "[DONE]":
            yield None
            return
        data.append(value)
        try:
            obj = json.loads("\n".join(data))
        except ValueError:
            continue  # maybe a JSON document split over several data lines
        data = []
        if not isinstance(obj, dict):
            raise _malformed(base_url, json.dumps(obj)[:80])
        yield obj
    if data:
        raise _malformed(base_url, "\n".join(data))


def _malformed(base_url: str, sample: str) -> ModelServerError:
    return ModelServerError(
        f"The model server at {base_url} sent a malformed event stream (not OpenAI-compatible server-sent events): "
        f"{_short(sample, 80)!r}",
        reason="protocol",
    )


def _json_or_text(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body


def _error_text(error: Any) -> str:
    """The human part of an error body: OpenAI/llama-server/vLLM/Ollama/FastAPI shapes."""
    if isinstance(error, dict):
        for key in ("error", "message", "detail"):
            if key in error and error[key]:
                return _error_text(error[key])
        return _short(json.dumps(error))
    if isinstance(error, list):  # FastAPI validation errors
        parts = []
        for item in error[:3]:
            if isinstance(item, dict):
                loc = ".".join(str(x) for x in item.get("loc", []) if x != "body")
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
            else:
                parts.append(str(item))
        return _short("; ".join(parts))
    text = str(error or "").strip()
    if text.lstrip().startswith("<"):  # an HTML error page
        return "the server answered with an HTML page"
    return _short(text)


def _error_reason(message: str) -> str:
    return "context" if _is_context_error(message.lower()) else "server"


def _is_context_error(low: str) -> bool:
    # llama-server: "the request exceeds the available context size"; OpenAI/vLLM/llama-cpp-python:
    # "This model's maximum context length is N tokens"; LM Studio: "...context length... overflows"
    return ("context" in low and any(k in low for k in ("exceed", "maximum", "too long", "overflow", "length"))) or (
        "context_length_exceeded" in low
    )


def _short(text: str, limit: int = _ERROR_TEXT_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else None


def _finish(reason: str | None) -> str:
    if reason in (None, "", "stop", "eos", "stop_sequence", "end_turn"):
        return "stop"
    if reason in ("length", "max_tokens"):
        return "length"
    return str(reason)


def engine_from_settings(server: ServerSettings, *, http_client: httpx.Client | None = None) -> OpenAICompatibleEngine:
    """The engine for the ``[server]`` settings; the API key is read from the environment variable they name."""
    api_key = os.environ.get(server.api_key_env, "").strip() if server.api_key_env else ""
    return OpenAICompatibleEngine(
        server.base_url,
        model=server.model,
        api_key=api_key or None,
        n_ctx=server.n_ctx,
        timeout_s=server.timeout_s,
        http_client=http_client,
        api_key_env=server.api_key_env,
    )
