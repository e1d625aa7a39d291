"""OpenAICompatibleEngine against a fake OpenAI-compatible server, and against llama-cpp-python's real one."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import ChatMessage, Engine, GenerationResult
from notebooklm_local.core.settings import ServerSettings
from notebooklm_local.services.openai_engine import (
    MESSAGE_OVERHEAD_TOKENS,
    REPLY_OVERHEAD_TOKENS,
    ModelServerError,
    OpenAICompatibleEngine,
    engine_from_settings,
    estimate_tokens,
)
from tests.helpers.fake_openai_server import FakeOpenAIServer, Script, fake_token_count

CHAT = [ChatMessage("system", "You answer briefly."), ChatMessage("user", "Say hello.")]


def run_chat(engine: OpenAICompatibleEngine, messages=CHAT, **kwargs) -> tuple[list[str], GenerationResult]:
    gen = engine.stream_chat(messages, **kwargs)
    pieces = list(gen)
    return pieces, gen.result()


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as s:
        yield s


@pytest.fixture
def engine(server: FakeOpenAIServer) -> Iterator[OpenAICompatibleEngine]:
    e = OpenAICompatibleEngine(server.base_url, timeout_s=10)
    yield e
    e.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- streaming -------------------------------------------------------------------------------------


def test_streams_deltas_and_reports_server_usage(server: FakeOpenAIServer, engine: OpenAICompatibleEngine) -> None:
    pieces, res = run_chat(engine, max_tokens=64, temperature=0.3, stop=["\n\n"])
    assert pieces == ["Hello", ",", " world", "."]
    assert res.text == "Hello, world."
    assert (res.prompt_tokens, res.completion_tokens) == (21, 4)
    assert res.finish_reason == "stop"
    assert res.backend == server.base_url and res.gpu_layers == 0
    assert res.extra["usage"] == "server" and res.extra["timings"] == "client"
    body = server.chat_requests()[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 64 and body["temperature"] == 0.3 and body["stop"] == ["\n\n"]
    assert body["model"] == "fake-model"  # model "" -> the first id /models lists
    assert body["messages"] == [{"role": "system", "content": "You answer briefly."},
                                {"role": "user", "content": "Say hello."}]
    assert "response_format" not in body
    assert isinstance(engine, Engine)


def test_llama_server_timings_and_usage_on_the_finish_chunk() -> None:
    script = Script(usage={"prompt_tokens": 300, "completion_tokens": 4, "total_tokens": 304}, usage_style="with_finish",
                    timings={"cache_n": 250, "prompt_n": 50, "prompt_ms": 125.0, "predicted_n": 4, "predicted_ms": 60.0})
    with FakeOpenAIServer(script) as server:
        engine = OpenAICompatibleEngine(server.base_url)
        _, res = run_chat(engine)
    assert res.prompt_tokens == 300 and res.cached_prompt_tokens == 250
    assert res.prompt_eval_s == pytest.approx(0.125) and res.generation_s == pytest.approx(0.060)
    assert res.prompt_tokens_per_s == pytest.approx(50 / 0.125)
    assert res.extra["timings"] == "server"


def test_finish_reason_length_and_client_side_timings() -> None:
    with FakeOpenAIServer(Script(finish_reason="length", first_delay_s=0.3, delay_s=0.05)) as server:
        _, res = run_chat(OpenAICompatibleEngine(server.base_url))
    assert res.finish_reason == "length"
    assert res.prompt_eval_s >= 0.25  # time to the first content token
    assert res.generation_s >= 0.1  # three more pieces, 50 ms apart


def test_without_usage_counts_are_estimated_from_the_stream() -> None:
    with FakeOpenAIServer(Script(usage=None, usage_style=None)) as server:
        engine = OpenAICompatibleEngine(server.base_url)
        _, res = run_chat(engine)
    assert res.completion_tokens == 4  # one token per streamed chunk
    assert res.prompt_tokens == engine._sum_chat_tokens(CHAT)  # no tokenizer endpoint: the estimate
    assert res.prompt_tokens == sum(estimate_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in CHAT) + REPLY_OVERHEAD_TOKENS
    assert res.extra["usage"] == "estimated"


def test_a_server_that_ignores_stream_true_still_answers() -> None:
    with FakeOpenAIServer(Script(error="json_body")) as server:
        pieces, res = run_chat(OpenAICompatibleEngine(server.base_url))
    assert pieces == ["Hello, world."] and res.prompt_tokens == 21 and res.finish_reason == "stop"


def test_api_key_from_the_env_var_named_in_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBL_TEST_KEY", "sk-local-123")
    with FakeOpenAIServer(api_key="sk-local-123") as server:
        settings = ServerSettings(enabled=True, base_url=server.base_url + "/", model="fake-model",
                                  api_key_env="NBL_TEST_KEY", n_ctx=2048, timeout_s=5)
        engine = engine_from_settings(settings)
        pieces, _ = run_chat(engine)
        assert pieces
        assert server.chat_requests()[0].headers["authorization"] == "Bearer sk-local-123"
        assert engine.base_url == server.base_url and engine.timeout_s == 5
        assert "sk-local-123" not in repr(settings)


# -- structured output ------------------------------------------------------------------------------

SCHEMA = {"title": "Answer", "type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def test_json_schema_is_sent_as_response_format(server: FakeOpenAIServer, engine: OpenAICompatibleEngine) -> None:
    run_chat(engine, json_schema=SCHEMA)
    fmt = server.chat_requests()[0].body["response_format"]
    assert fmt == {"type": "json_schema", "json_schema": {"name": "Answer", "schema": SCHEMA, "strict": True}}


def test_json_schema_falls_back_to_json_object_schema_when_rejected() -> None:
    with FakeOpenAIServer(Script(error="reject_json_schema")) as server:
        engine = OpenAICompatibleEngine(server.base_url)
        pieces, _ = run_chat(engine, json_schema=SCHEMA)
        run_chat(engine, json_schema=SCHEMA)
    formats = [r.body["response_format"] for r in server.chat_requests()]
    assert formats[0]["type"] == "json_schema"
    assert formats[1] == {"type": "json_object", "schema": SCHEMA}  # llama-cpp-python's form, retried at once
    assert formats[2] == {"type": "json_object", "schema": SCHEMA}  # and remembered
    assert pieces == ["Hello", ",", " world", "."]


def test_stream_options_dropped_when_the_server_rejects_them() -> None:
    with FakeOpenAIServer(Script(error="reject_stream_options", usage=None, usage_style=None)) as server:
        pieces, _ = run_chat(OpenAICompatibleEngine(server.base_url))
    bodies = [r.body for r in server.chat_requests()]
    assert "stream_options" in bodies[0] and "stream_options" not in bodies[1]
    assert pieces


# -- cancellation -----------------------------------------------------------------------------------


def test_cancel_stops_at_the_next_token_and_closes_the_connection() -> None:
    with FakeOpenAIServer(Script(deltas=[f"t{i} " for i in range(100)], delay_s=0.1)) as server:
        engine = OpenAICompatibleEngine(server.base_url)
        token = CancelToken()
        pieces = []
        t0 = time.monotonic()
        gen = engine.stream_chat(CHAT, cancel=token)
        for piece in gen:
            pieces.append(piece)
            if len(pieces) == 3:
                token.cancel()
        elapsed = time.monotonic() - t0
        assert len(pieces) == 3, "no piece may arrive after the cancel"
        assert elapsed < 1.5, f"cancel took effect late ({elapsed:.2f}s; the whole answer takes 10s)"
        res = gen.result()
        assert res.finish_reason == "cancelled" and res.text == "t0 t1 t2 "
        assert res.completion_tokens == 3
        assert server.wait_for_disconnect(), "the server never saw the client go away"


def test_cancel_while_the_server_evaluates_the_prompt_returns_at_once() -> None:
    with FakeOpenAIServer(Script(first_delay_s=8)) as server:
        engine = OpenAICompatibleEngine(server.base_url)
        token = CancelToken()
        threading.Timer(0.3, token.cancel).start()
        t0 = time.monotonic()
        pieces, res = run_chat(engine, cancel=token)
        elapsed = time.monotonic() - t0
    assert pieces == [] and res.finish_reason == "cancelled"
    assert elapsed < 2.0, f"Stop waited for the server ({elapsed:.2f}s)"


def test_cancel_before_the_call_sends_no_request(server: FakeOpenAIServer, engine: OpenAICompatibleEngine) -> None:
    token = CancelToken()
    token.cancel()
    pieces, res = run_chat(engine, cancel=token)
    assert pieces == [] and res.finish_reason == "cancelled" and res.completion_tokens == 0
    assert server.chat_requests() == []


def test_closing_the_generator_early_releases_the_engine(server: FakeOpenAIServer,
                                                          engine: OpenAICompatibleEngine) -> None:
    gen = engine.stream_chat(CHAT)
    assert next(gen) == "Hello"
    gen.close()
    assert run_chat(engine)[1].text == "Hello, world."  # the lock was released


def test_one_generation_at_a_time() -> None:
    with FakeOpenAIServer(Script(deltas=["a", "b", "c"], delay_s=0.15)) as server:
        engine = OpenAICompatibleEngine(server.base_url)
        engine.info()  # probe once, outside the race
        threads = [threading.Thread(target=run_chat, args=(engine,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        a, b = sorted(server.chat_requests(), key=lambda r: r.t_start)
    assert a.t_end and b.t_end
    assert b.t_start >= a.t_end - 0.05, "two generations overlapped on one engine"


# -- tokens, model and context ----------------------------------------------------------------------


def test_estimate_is_conservative() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcdefg") == 3  # ceil(7 / 3)
    assert estimate_tokens("héllo") == math.ceil(4 / 3) + 1
    assert estimate_tokens("日本語") == 3


def test_count_tokens_without_a_tokenizer_endpoint_estimates(server: FakeOpenAIServer,
                                                             engine: OpenAICompatibleEngine) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    assert engine.count_tokens(text) == math.ceil(len(text) / 3)
    chat = [ChatMessage("user", text)]
    assert engine.count_chat_tokens(chat) == math.ceil(len(text) / 3) + MESSAGE_OVERHEAD_TOKENS + REPLY_OVERHEAD_TOKENS
    assert engine.info().extra["tokenizer"] == "estimate"


@pytest.mark.parametrize("flavour", ["llama-server", "vllm", "llama-cpp-python"])
def test_count_tokens_uses_the_server_tokenizer(flavour: str) -> None:
    models = {
        "llama-server": [{"id": "m.gguf", "object": "model", "owned_by": "llamacpp", "meta": {"n_ctx_train": 32768}}],
        "vllm": [{"id": "org/m", "object": "model", "owned_by": "vllm", "max_model_len": 4096}],
        "llama-cpp-python": [{"id": "m.gguf", "object": "model", "owned_by": "me"}],
    }[flavour]
    props = {"default_generation_settings": {"n_ctx": 4096}} if flavour == "llama-server" else None
    with FakeOpenAIServer(models=models, props=props, tokenizer=flavour) as server:
        engine = OpenAICompatibleEngine(server.base_url)
        text = "one two three four five six seven"
        assert engine.count_tokens(text) == 7  # the fake tokenizer: words (BOS removed for llama-cpp-python)
        assert engine.count_tokens("") == 0
        assert engine.info().extra["tokenizer"] == flavour
        n_posts = len(server.requests)
        assert engine.count_tokens(text) == 7 and len(server.requests) == n_posts  # cached
        chat = [ChatMessage("user", "a b c")]
        if flavour == "llama-server":  # the server renders its own chat template
            prompt = "<start_of_turn>user a b c <end_of_turn> <start_of_turn>model "
            assert engine.count_chat_tokens(chat) == fake_token_count(prompt) + 1
        else:
            assert engine.count_chat_tokens(chat) == 3 + MESSAGE_OVERHEAD_TOKENS + REPLY_OVERHEAD_TOKENS
        # llama-server: /props; vLLM: max_model_len; llama-cpp-python reports none: the configured value
        assert engine.info().n_ctx == (8192 if flavour == "llama-cpp-python" else 4096)


def test_info_picks_the_first_model_and_reads_n_ctx_from_props() -> None:
    models = [{"id": "qwen3-8b", "object": "model", "owned_by": "llamacpp", "meta": {"n_ctx_train": 40960}},
              {"id": "other", "object": "model", "owned_by": "llamacpp"}]
    with FakeOpenAIServer(models=models, props={"default_generation_settings": {"n_ctx": 16384}}) as server:
        info = OpenAICompatibleEngine(server.base_url, n_ctx=8192).info()
    assert (info.kind, info.model, info.backend, info.chat_format) == ("openai", "qwen3-8b", server.base_url, "server")
    assert info.n_ctx == 16384 and info.gpu_layers == 0
    assert info.extra["server"] == "llama-server" and info.extra["models"] == ["qwen3-8b", "other"]


def test_n_ctx_capped_by_n_ctx_train_without_props_and_settings_otherwise() -> None:
    models = [{"id": "tiny", "object": "model", "owned_by": "llamacpp", "meta": {"n_ctx_train": 2048}}]
    with FakeOpenAIServer(models=models) as server:
        assert OpenAICompatibleEngine(server.base_url, n_ctx=8192).n_ctx == 2048
    with FakeOpenAIServer() as server:
        engine = OpenAICompatibleEngine(server.base_url, model="fake-model", n_ctx=6000)
        assert engine.n_ctx == 6000 and engine.info().extra["n_ctx_source"] == "settings"


def test_configured_model_is_used_as_is(server: FakeOpenAIServer) -> None:
    engine = OpenAICompatibleEngine(server.base_url, model="fake-model")
    run_chat(engine)
    assert server.chat_requests()[0].body["model"] == "fake-model"
    assert engine.info().model == "fake-model"


# -- errors -----------------------------------------------------------------------------------------


def test_connection_refused_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    engine = OpenAICompatibleEngine(url, model="m")
    with pytest.raises(ModelServerError, match=r"Could not reach the model server at .* is it running") as e:
        run_chat(engine)
    assert e.value.reason == "connect" and url in str(e.value)
    info = engine.info()  # never raises: the status bar shows what is wrong
    assert "Could not reach" in info.extra["error"] and info.n_ctx == 8192
    assert engine.count_tokens("abc def") == estimate_tokens("abc def")


def test_unreachable_without_model_id_is_the_same_clear_error() -> None:
    engine = OpenAICompatibleEngine(f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ModelServerError, match="Could not reach the model server"):
        run_chat(engine)


def test_timeout_is_a_clear_error() -> None:
    with FakeOpenAIServer(Script(error="hang")) as server:
        engine = OpenAICompatibleEngine(server.base_url, model="fake-model", timeout_s=0.5)
        with pytest.raises(ModelServerError, match=r"did not answer within 0.5 s") as e:
            run_chat(engine)
    assert e.value.reason == "timeout"


def test_401_names_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NBL_MISSING_KEY", raising=False)
    with FakeOpenAIServer(api_key="secret") as server:
        settings = ServerSettings(base_url=server.base_url, model="fake-model", api_key_env="NBL_MISSING_KEY")
        with pytest.raises(ModelServerError, match=r"needs an API key.*Set the environment variable NBL_MISSING_KEY") as e:
            run_chat(engine_from_settings(settings))
        assert e.value.status == 401 and e.value.reason == "auth"
        wrong = OpenAICompatibleEngine(server.base_url, model="fake-model", api_key="nope", api_key_env="MY_KEY")
        with pytest.raises(ModelServerError, match=r"rejected the API key.*MY_KEY"):
            run_chat(wrong)


def test_404_model_lists_the_available_ids() -> None:
    models = [{"id": "llama3.2:3b", "object": "model"}, {"id": "qwen3:8b", "object": "model"}]
    with FakeOpenAIServer(models=models) as server:
        engine = OpenAICompatibleEngine(server.base_url, model="gemma3:27b")
        with pytest.raises(ModelServerError, match=r"no model 'gemma3:27b'.*Available: llama3.2:3b, qwen3:8b") as e:
            run_chat(engine)
    assert e.value.reason == "not_found" and e.value.status == 404


def test_wrong_base_url_says_to_check_it(server: FakeOpenAIServer) -> None:
    engine = OpenAICompatibleEngine(server.base_url.removesuffix("/v1") + "/api", model="fake-model")
    with pytest.raises(ModelServerError, match=r"has no endpoint http://127.0.0.1:\d+/api/chat/completions \(HTTP 404\).*ends in /v1"):
        run_chat(engine)


def test_server_error_and_loading() -> None:
    with FakeOpenAIServer(Script(error="500")) as server:
        with pytest.raises(ModelServerError, match=r"failed \(HTTP 500\): internal failure: CUDA error") as e:
            run_chat(OpenAICompatibleEngine(server.base_url))
        assert e.value.reason == "server"
    with FakeOpenAIServer(Script(error="loading")) as server:
        with pytest.raises(ModelServerError, match="still loading its model"):
            run_chat(OpenAICompatibleEngine(server.base_url))


def test_context_exceeded_is_explained() -> None:
    with FakeOpenAIServer(Script(error="context")) as server:
        with pytest.raises(ModelServerError, match=r"too long for the model server's context.*exceeds the available") as e:
            run_chat(OpenAICompatibleEngine(server.base_url), json_schema=SCHEMA)
        assert e.value.reason == "context" and e.value.status == 400
        assert len(server.chat_requests()) == 1  # a context error is not mistaken for a rejected schema


@pytest.mark.parametrize("mode", ["malformed", "garbage"])
def test_malformed_stream_is_a_clear_error(mode: str) -> None:
    with FakeOpenAIServer(Script(error=mode)) as server:
        with pytest.raises(ModelServerError, match="malformed event stream") as e:
            run_chat(OpenAICompatibleEngine(server.base_url))
    assert e.value.reason == "protocol"


def test_error_event_mid_stream() -> None:
    with FakeOpenAIServer(Script(error="error_event")) as server:
        engine = OpenAICompatibleEngine(server.base_url)
        pieces: list[str] = []
        with pytest.raises(ModelServerError, match="reported an error: slot 0 failed"):
            for piece in engine.stream_chat(CHAT):
                pieces.append(piece)
    assert pieces == ["Hello"]


def test_stream_cut_short_is_an_error() -> None:
    with FakeOpenAIServer(Script(error="drop")) as server:
        with pytest.raises(ModelServerError, match="without finishing it") as e:
            run_chat(OpenAICompatibleEngine(server.base_url))
    assert e.value.reason == "broken"


def test_a_dropped_connection_without_reply_is_retried_once() -> None:
    with FakeOpenAIServer(Script(error="close_once")) as server:
        pieces, _ = run_chat(OpenAICompatibleEngine(server.base_url, model="fake-model"))
    assert server.closed_once and len(server.chat_requests()) == 2
    assert pieces == ["Hello", ",", " world", "."]


def test_non_json_models_listing() -> None:
    with FakeOpenAIServer(models_html=True) as server:
        engine = OpenAICompatibleEngine(server.base_url)
        with pytest.raises(ModelServerError, match=r"did not answer .*/models with JSON.*ends in /v1"):
            engine.list_models()
        with pytest.raises(ModelServerError, match="with JSON"):
            run_chat(engine)


def test_bad_url_is_rejected_early() -> None:
    with pytest.raises(ModelServerError, match="not an http"):
        OpenAICompatibleEngine("localhost:8080")


def test_injected_http_client_is_used_and_not_closed(server: FakeOpenAIServer) -> None:
    client = httpx.Client(timeout=5)
    engine = OpenAICompatibleEngine(server.base_url, http_client=client)
    assert run_chat(engine)[1].text == "Hello, world."
    engine.close()
    assert not client.is_closed
    client.close()


# -- the real thing: llama-cpp-python's OpenAI-compatible server -------------------------------------


def _import_server_extra() -> None:
    for name in ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings", "llama_cpp.server.app"):
        pytest.importorskip(name, reason=f"llama-cpp-python[server] is not installed ({name} missing)")


@pytest.fixture(scope="module")
def real_server(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` with the embedded tiny model; yields its /v1 URL."""
    _import_server_extra()
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(tiny_model_path), "--n_ctx", "2048",
           "--chat_format", "gemma", "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited ({proc.returncode}):\n{log_path.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def real_engine(real_server: str) -> Iterator[OpenAICompatibleEngine]:
    e = OpenAICompatibleEngine(real_server, n_ctx=8192, timeout_s=120)
    yield e
    e.close()


@pytest.mark.model
@pytest.mark.slow
def test_real_server_streams_a_chat_completion(real_engine: OpenAICompatibleEngine, tiny_model_path: Path) -> None:
    messages = [ChatMessage("user", "Write one sentence about the sea.")]
    pieces, res = run_chat(real_engine, messages, max_tokens=24)
    assert pieces and res.text == "".join(pieces) and res.text.strip()
    assert res.finish_reason in {"stop", "length"}
    assert 1 <= res.completion_tokens <= 24
    assert res.prompt_tokens > 5 and res.prompt_eval_s > 0 and res.generation_s >= 0
    info = real_engine.info()
    assert info.kind == "openai" and info.model == str(tiny_model_path) and info.chat_format == "server"
    assert info.extra["tokenizer"] == "llama-cpp-python"
    assert info.n_ctx == 8192  # this server reports no context size: the configured value


@pytest.mark.model
@pytest.mark.slow
def test_real_server_tokenizer_matches_llama_cpp(real_engine: OpenAICompatibleEngine, tiny_model_path: Path) -> None:
    import llama_cpp

    vocab = llama_cpp.Llama(model_path=str(tiny_model_path), vocab_only=True, verbose=False)
    text = "Retrieval-augmented generation cites its sources: [1], [2]."
    expected = len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True))
    assert real_engine.count_tokens(text) == expected


@pytest.mark.model
@pytest.mark.slow
def test_real_server_cancel_stops_early(real_engine: OpenAICompatibleEngine) -> None:
    token = CancelToken()
    pieces = []
    messages = [ChatMessage("user", "Write a very long story about a dragon and a knight.")]
    gen = real_engine.stream_chat(messages, max_tokens=400, cancel=token)
    for piece in gen:
        pieces.append(piece)
        if len(pieces) == 3:
            token.cancel()
    assert len(pieces) == 3 and gen.result().finish_reason == "cancelled"
    _, after = run_chat(real_engine, [ChatMessage("user", "Hi")], max_tokens=4)  # the server is still usable
    assert after.completion_tokens >= 1


@pytest.mark.model
@pytest.mark.slow
def test_real_server_context_overflow_is_an_error_and_the_server_stays_usable(
    real_engine: OpenAICompatibleEngine,
) -> None:
    # llama-cpp-python raises inside the event stream ("Requested tokens exceed context window"): the
    # stream ends without a finish reason and the server drops the kept-alive connection
    with pytest.raises(ModelServerError, match="without finishing it.*context size") as e:
        run_chat(real_engine, [ChatMessage("user", "word " * 3000)], max_tokens=8)
    assert e.value.reason == "broken"
    _, after = run_chat(real_engine, [ChatMessage("user", "Hi")], max_tokens=4)
    assert after.completion_tokens >= 1


@pytest.mark.model
@pytest.mark.slow
def test_real_server_json_schema_output_parses(real_engine: OpenAICompatibleEngine) -> None:
    schema = {
        "type": "object",
        "properties": {"colour": {"type": "string", "enum": ["red", "green", "blue"]}, "sure": {"type": "boolean"}},
        "required": ["colour", "sure"],
    }
    messages = [ChatMessage("user", "What colour is the sky? Answer in JSON.")]
    _, res = run_chat(real_engine, messages, max_tokens=96, json_schema=schema)
    data = json.loads(res.text)
    assert data["colour"] in {"red", "green", "blue"} and isinstance(data["sure"], bool)
    assert real_engine._schema_style == "json_object"  # llama-cpp-python rejects the json_schema form


@pytest.mark.model
@pytest.mark.slow
def test_cited_chat_through_a_real_server_via_settings(real_server: str, tmp_path: Path) -> None:
    """The same chat pipeline as with llama.cpp, with `[server] enabled = true` in settings."""
    from notebooklm_local.core.paths import AppPaths
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.extensions.sample import SAMPLE_NOTEBOOK, ensure_sample_notebook
    from notebooklm_local.workspace import open_chat, open_library
    from tests.services.test_chat_real import assert_answer_is_honest

    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "ca", tmp_path / "l").ensure()
    settings = Settings()
    settings.server.enabled = True
    settings.server.base_url = real_server
    settings.server.n_ctx = 2048
    settings.chat.answer_tokens = 48
    settings.chat.mode = "generate"
    lib = open_library(paths, settings, with_index=False)  # keyword search: no embedder needed here
    ensure_sample_notebook(lib)
    chat = open_chat(paths, settings, library=lib)
    assert isinstance(chat.engine, OpenAICompatibleEngine)
    pieces: list[str] = []
    res = chat.ask(SAMPLE_NOTEBOOK, "What does Q4_K_M quantization trade off?", on_token=pieces.append)
    assert res.engine.kind == "openai" and res.passages
    assert res.generation is not None and res.generation.completion_tokens > 0
    assert "".join(pieces) == res.shown_text
    assert_answer_is_honest(res, lib)
    # the tiny model seldom cites, so the check above may have had no citation to look at: the same chat
    # (server engine, same library) in the model-free Quotes mode always cites, and passes the same check
    quoted = chat.ask(SAMPLE_NOTEBOOK, "What does Q4_K_M quantization trade off?", mode="quotes", new_session=True)
    assert quoted.mode == "quotes" and quoted.answer.citations and quoted.passages
    assert_answer_is_honest(quoted, lib)
    assert any("Q4_K_M" in c.quote for c in quoted.answer.citations)
