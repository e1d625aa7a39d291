"""The real embedded model through llama-cpp-python: load, generate, stream, cancel, embed, bad files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from notebooklm_local.core.errors import Cancelled, ModelLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.llama_runtime import LlamaCppEmbedder, LlamaCppEngine, build_info

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def engine(tiny_model_path: Path) -> LlamaCppEngine:
    e = LlamaCppEngine(tiny_model_path, n_ctx=512)
    yield e
    e.close()


@pytest.fixture(scope="module")
def embedder(tiny_model_path: Path) -> LlamaCppEmbedder:
    e = LlamaCppEmbedder(tiny_model_path, n_ctx=256)
    yield e
    e.close()


def test_build_info_reports_a_backend_and_reason() -> None:
    info = build_info()
    assert info.version.startswith("0.")
    assert info.backend in {"CPU", "CUDA", "Metal", "Vulkan", "ROCm", "SYCL"} or "+" in info.backend
    assert info.reason
    if info.backend == "CPU":
        assert not info.gpu_offload


def test_generates_a_few_tokens_with_timings(engine: LlamaCppEngine) -> None:
    res = engine.generate("The three primary colours are", max_tokens=8)
    assert res.text.strip(), "the model produced no text"
    assert 1 <= res.completion_tokens <= 8
    assert res.prompt_tokens > 3
    assert res.prompt_eval_s > 0 and res.generation_s >= 0
    assert res.finish_reason in {"length", "stop"}
    assert res.backend == build_info().backend
    assert engine.architecture == "gemma3"


def test_greedy_generation_is_deterministic(engine: LlamaCppEngine) -> None:
    a = engine.generate("Once upon a time", max_tokens=6).text
    b = engine.generate("Once upon a time", max_tokens=6).text
    assert a == b


def test_stream_yields_pieces_and_cancel_stops_at_next_token(engine: LlamaCppEngine) -> None:
    token = CancelToken()
    pieces = []
    for piece in engine.stream("Write a long story about a dragon:", max_tokens=200, cancel=token):
        pieces.append(piece)
        if len(pieces) == 3:
            token.cancel()
    assert 3 <= len(pieces) <= 4, f"generation went on after cancel: {len(pieces)} pieces"
    with pytest.raises(Cancelled):
        pre = CancelToken()
        pre.cancel()
        engine.generate("Hello", max_tokens=50, cancel=pre)


def test_prompt_longer_than_context_is_a_clear_error(engine: LlamaCppEngine) -> None:
    with pytest.raises(ModelLoadError, match="context holds 512"):
        engine.generate("word " * 2000, max_tokens=4)


def test_embeddings_are_normalised_and_meaningful(embedder: LlamaCppEmbedder) -> None:
    vecs = embedder.embed(["The cat sat on the mat.", "A cat is sitting on a rug.", "Quarterly tax filing deadlines"])
    assert len(vecs) == 3 and embedder.dimension == len(vecs[0]) == 640
    for v in vecs:
        assert math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-4)

    def cos(a: list[float], b: list[float]) -> float:
        return math.fsum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vecs[0], vecs[1]) > cos(vecs[0], vecs[2])
    assert embedder.embed([]) == []
    assert len(embedder.embed(["", "   "])) == 2  # empty text does not crash llama.cpp


def test_embedding_truncates_overlong_text(embedder: LlamaCppEmbedder) -> None:
    (v,) = embedder.embed(["lorem ipsum " * 2000])
    assert len(v) == 640


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a GGUF"),
        (b"hello, this is a text file pretending to be a model", "not a GGUF"),
    ],
)
def test_non_gguf_files_are_refused_clearly(tmp_path: Path, content: bytes, message: str) -> None:
    f = tmp_path / "model.gguf"
    f.write_bytes(content)
    with pytest.raises(ModelLoadError, match=message):
        LlamaCppEngine(f).load()


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        LlamaCppEngine(tmp_path / "nope.gguf").load()


def test_truncated_gguf_is_a_clear_error_not_a_crash(tmp_path: Path, tiny_model_path: Path) -> None:
    f = tmp_path / "truncated.gguf"
    with tiny_model_path.open("rb") as src:
        f.write_bytes(src.read(3_000_000))
    with pytest.raises(ModelLoadError, match="truncated.gguf is .*truncated"):
        LlamaCppEngine(f, n_ctx=256).load()


def test_embedding_is_cancelled_inside_the_decode_and_the_model_stays_usable(tiny_model_path: Path) -> None:
    """Closing the app during indexing must not wait for a whole chunk: llama.cpp's abort callback stops
    the decode itself; the next embedding is unaffected."""
    import threading
    import time

    from notebooklm_local.core.errors import Cancelled
    from notebooklm_local.core.jobs import CancelToken

    e = LlamaCppEmbedder(tiny_model_path, n_ctx=512)
    text = "Night trains connect Vienna with Hamburg, Brussels and Rome; book couchettes early. " * 25
    before = e.embed([text])[0]
    t0 = time.perf_counter()
    e.embed([text])
    full = time.perf_counter() - t0
    token = CancelToken()
    threading.Timer(full / 4, token.cancel).start()  # a quarter into the decode: never after it ended (no race)
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        e.embed([text], cancel=token)
    stopped = time.perf_counter() - t0
    assert stopped < max(0.5, full / 2), (stopped, full)  # well before the decode would have ended
    after = e.embed([text], cancel=CancelToken())[0]
    assert max(abs(a - b) for a, b in zip(before, after, strict=True)) < 1e-5
    e.close()
