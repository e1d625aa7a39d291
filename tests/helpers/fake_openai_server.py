"""A small local server that speaks the OpenAI chat-completions protocol, for engine tests.

Threaded ``http.server`` (standard library only). It streams scripted deltas as server-sent events
the way real servers do (``data: {...}`` lines, ``: ping`` comments, ``data: [DONE]``), answers
``/v1/models``, optionally llama-server's ``/props``, ``/tokenize`` and ``/apply-template``, vLLM's
``/tokenize`` or llama-cpp-python's ``/extras/tokenize/count``, and has error modes. Every request is
recorded (path, body, headers, start/end times, whether the client went away mid-stream).

Usage::

    with FakeOpenAIServer(Script(deltas=["Hel", "lo"])) as server:
        engine = OpenAICompatibleEngine(server.base_url)
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeOpenAIServer", "Recorded", "Script", "fake_token_count"]


def fake_token_count(text: str) -> int:
    """The fake tokenizer: one token per whitespace-separated word."""
    return len(text.split())


@dataclass
class Script:
    """What the next chat completions answer with.

    ``usage_style``: "separate" (OpenAI, vLLM: a last chunk with empty ``choices``), "with_finish"
    (llama-server: on the chunk with the finish reason) or None (no usage: llama-cpp-python).
    ``error``: None or one of "401", "500", "loading", "context", "malformed", "garbage",
    "error_event", "drop", "json_body", "hang", "reject_json_schema", "reject_stream_options",
    "close_once" (the first chat request: the connection is closed without any reply, like a
    kept-alive connection the server dropped).
    """

    deltas: list[str] = field(default_factory=lambda: ["Hello", ",", " world", "."])
    finish_reason: str = "stop"
    usage: dict[str, Any] | None = field(
        default_factory=lambda: {"prompt_tokens": 21, "completion_tokens": 4, "total_tokens": 25}
    )
    usage_style: str | None = "separate"
    timings: dict[str, Any] | None = None  # llama-server's, sent with the finish chunk
    first_delay_s: float = 0.0  # after the headers, before the first chunk (prompt evaluation)
    delay_s: float = 0.0  # between chunks
    ping: bool = True  # a ": ping" comment before the first chunk
    error: str | None = None


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    t_start: float
    t_end: float = 0.0
    disconnected: bool = False


class FakeOpenAIServer:
    """An OpenAI-compatible server on 127.0.0.1 (a free port) with scripted answers."""

    def __init__(
        self,
        script: Script | None = None,
        *,
        models: list[dict[str, Any]] | None = None,
        props: dict[str, Any] | None = None,
        tokenizer: str | None = None,  # "llama-server" | "vllm" | "llama-cpp-python" | None
        api_key: str | None = None,
        models_html: bool = False,
    ) -> None:
        self.script = script or Script()
        self.models = models if models is not None else [{"id": "fake-model", "object": "model", "owned_by": "me"}]
        self.props = props
        self.tokenizer = tokenizer
        self.api_key = api_key
        self.models_html = models_html
        self.requests: list[Recorded] = []
        self.closed_once = False
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def wait_for_disconnect(self, timeout: float = 3.0) -> bool:
        """Whether the last chat request's client went away mid-stream (waits up to ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chats = self.chat_requests()
            if chats and chats[-1].disconnected:
                return True
            time.sleep(0.02)
        return False

    def sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def _make_handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # streamed bodies end when the connection closes

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        # -- plumbing --------------------------------------------------------------------------

        def _json(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, type_: str = "invalid_request_error", **extra: Any) -> None:
            self._json(status, {"error": {"code": status, "message": message, "type": type_, **extra}})

        def _read_body(self) -> Any:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return raw.decode("utf-8", "replace")

        def _authorised(self) -> bool:
            if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                self._error(401, "Invalid API Key", "authentication_error")
                return False
            return True

        def _handle(self, method: str) -> None:
            rec = Recorded(method, self.path, self._read_body() if method == "POST" else None,
                           {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
            server.record(rec)
            try:
                if self._authorised():
                    self._route(method, rec)
            except (BrokenPipeError, ConnectionResetError):
                rec.disconnected = True
            finally:
                rec.t_end = time.monotonic()

        def do_GET(self) -> None:  # http.server's naming
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        # -- routes ----------------------------------------------------------------------------

        def _route(self, method: str, rec: Recorded) -> None:
            path = self.path.split("?", 1)[0]
            body = rec.body if isinstance(rec.body, dict) else {}
            if method == "GET" and path == "/v1/models":
                if server.models_html:
                    data = b"<html><body>It works!</body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self._json(200, {"object": "list", "data": server.models})
            elif method == "GET" and path == "/props" and server.props is not None:
                self._json(200, server.props)
            elif method == "POST" and path == "/tokenize" and server.tokenizer == "llama-server":
                content = body.get("content")
                if not isinstance(content, str):
                    self._json(200, {"tokens": []})  # what llama-server does without "content"
                    return
                self._json(200, {"tokens": list(range(fake_token_count(content)))})
            elif method == "POST" and path == "/tokenize" and server.tokenizer == "vllm":
                if not isinstance(body.get("prompt"), str):
                    self._error(400, "prompt is required")
                    return
                n = fake_token_count(body["prompt"])
                self._json(200, {"count": n, "max_model_len": 4096, "tokens": list(range(n))})
            elif method == "POST" and path == "/extras/tokenize/count" and server.tokenizer == "llama-cpp-python":
                self._json(200, {"count": fake_token_count(str(body.get("input", ""))) + 1})  # + BOS, as there
            elif method == "POST" and path == "/apply-template" and server.tokenizer == "llama-server":
                prompt = "".join(
                    f"<start_of_turn>{m['role']} {m['content']} <end_of_turn> " for m in body.get("messages", [])
                ) + "<start_of_turn>model "
                self._json(200, {"prompt": prompt})
            elif method == "POST" and path == "/v1/chat/completions":
                self._chat(body)
            else:
                self._error(404, "File Not Found", "not_found_error")

        def _chat(self, body: dict[str, Any]) -> None:
            script = server.script
            ids = [m["id"] for m in server.models]
            model = body.get("model")
            if model is not None and ids and model not in ids:
                self._error(404, f'model "{model}" not found, try pulling it first', "not_found_error")
                return
            error = script.error
            if error == "close_once" and not server.closed_once:
                server.closed_once = True
                self.close_connection = True
                return
            if error == "hang":
                server.sleep(30)
                return
            if error == "401":
                self._error(401, "Invalid API Key", "authentication_error")
                return
            if error == "500":
                self._error(500, "internal failure: CUDA error: out of memory", "server_error")
                return
            if error == "loading":
                self._error(503, "Loading model", "unavailable_error")
                return
            if error == "context":
                self._error(400, "the request exceeds the available context size, try increasing it",
                            "exceed_context_size_error", n_prompt_tokens=9000, n_ctx=8192)
                return
            if error == "reject_stream_options" and "stream_options" in body:
                self._error(400, "Unrecognized request argument supplied: stream_options")
                return
            fmt = body.get("response_format")
            if error == "reject_json_schema" and isinstance(fmt, dict) and fmt.get("type") == "json_schema":
                self._json(422, {"detail": [{
                    "type": "literal_error", "loc": ["body", "response_format", "type"],
                    "msg": "Input should be 'text' or 'json_object'", "input": "json_schema",
                }]})
                return
            if error == "json_body":
                self._json(200, {
                    "id": "chatcmpl-1", "object": "chat.completion", "model": model or ids[0],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(script.deltas)},
                                 "finish_reason": script.finish_reason}],
                    "usage": script.usage,
                })
                return
            self._stream(script, model or (ids[0] if ids else "fake"))

        def _send(self, text: str) -> None:
            self.wfile.write(text.encode("utf-8"))
            self.wfile.flush()

        def _event(self, payload: dict[str, Any]) -> None:
            self._send(f"data: {json.dumps(payload)}\n\n")

        def _stream(self, script: Script, model: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.flush()
            base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model}
            if script.ping:
                self._send(": ping - keep-alive\n\n")
            server.sleep(script.first_delay_s)
            if script.error == "malformed":
                self._send("data: {\"choices\": [{\"delta\": {\"content\": \"Hi\"\n\n")
                return
            if script.error == "garbage":
                self._send("<html>Gateway error</html>\n")
                return
            # the first chunk: the role, content null (llama-server, OpenAI)
            self._event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": None},
                                              "finish_reason": None}]})
            for i, piece in enumerate(script.deltas):
                if i:
                    server.sleep(script.delay_s)
                self._event({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                if script.error == "error_event" and i == 0:
                    self._event({"error": {"code": 500, "message": "slot 0 failed: decode error", "type": "server_error"}})
                    return
                if script.error == "drop" and i == 1:
                    return
            final: dict[str, Any] = {**base, "choices": [{"index": 0, "delta": {},
                                                          "finish_reason": script.finish_reason}]}
            if script.usage is not None and script.usage_style == "with_finish":
                final["usage"] = script.usage
            if script.timings is not None:
                final["timings"] = script.timings
            self._event(final)
            if script.usage is not None and script.usage_style == "separate":
                self._event({**base, "choices": [], "usage": script.usage})
            self._send("data: [DONE]\n\n")

    return Handler
