"""The embedder's several llama.cpp contexts (issue 17): same vectors as one plain context, in order,
per-text progress in the caller's thread, cancel inside the decodes, a query ahead of queued texts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from notebooklm_local.core.errors import Cancelled
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.llama_runtime import LlamaCppEmbedder

pytestmark = pytest.mark.model

TEXTS = [f"Paragraph {i}: night trains connect Vienna with Hamburg, Brussels and Rome; book early. " * (1 + i % 4)
         for i in range(10)]


@pytest.fixture(scope="module")
def minilm(default_embedder_files: list[Path]) -> Path:
    return default_embedder_files[0]


@pytest.fixture(scope="module")
def multi(minilm: Path) -> Iterator[LlamaCppEmbedder]:
    e = LlamaCppEmbedder(minilm, contexts=2)
    yield e
    e.close()


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_several_contexts_give_the_plain_contexts_vectors_in_order(minilm: Path, multi: LlamaCppEmbedder) -> None:
    plain = LlamaCppEmbedder(minilm, contexts=1, flash_attn=False)
    try:
        ref = plain.embed(TEXTS)
        assert plain.contexts == 1
    finally:
        plain.close()
    got = multi.embed(TEXTS)
    assert multi.contexts == 2
    assert len(got) == len(TEXTS)
    assert min(_cos(a, b) for a, b in zip(ref, got, strict=True)) > 0.9999
    assert list(multi.embed_stream(iter(TEXTS))) == got  # the stream: the same vectors, the same order
    assert _cos(multi.embed([TEXTS[3]])[0], ref[3]) > 0.9999  # a single text (a query) too


def test_progress_is_per_text_in_the_callers_thread(multi: LlamaCppEmbedder) -> None:
    seen: list[tuple[int, str]] = []
    multi.embed(TEXTS, on_each=lambda n: seen.append((n, threading.current_thread().name)))
    assert [n for n, _ in seen] == list(range(1, len(TEXTS) + 1))
    assert {name for _, name in seen} == {threading.current_thread().name}


def test_cancel_stops_the_decodes_and_the_embedder_stays_usable(multi: LlamaCppEmbedder) -> None:
    before = multi.embed(TEXTS[:2])
    token = CancelToken()
    long_texts = [t * 3 for t in TEXTS] * 20
    got: list[list[float]] = []
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        for vec in multi.embed_stream(iter(long_texts), cancel=token):
            got.append(vec)
            if len(got) == 3:
                token.cancel()
    assert time.perf_counter() - t0 < 30
    assert len(got) == 3
    assert not [t for t in threading.enumerate() if t.name.startswith("embed ")], "workers left running"
    after = multi.embed(TEXTS[:2])
    assert min(_cos(a, b) for a, b in zip(before, after, strict=True)) > 0.99999


def test_closing_the_stream_early_stops_its_workers(multi: LlamaCppEmbedder) -> None:
    stream = multi.embed_stream(iter(TEXTS * 10))
    next(stream)
    stream.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("embed ")]


def test_a_query_is_served_while_a_long_stream_runs(multi: LlamaCppEmbedder) -> None:
    """A search during indexing waits for at most the text being decoded, not for the stream."""
    stop = threading.Event()
    started = threading.Event()

    def texts() -> Iterator[str]:
        while not stop.is_set():
            started.set()
            yield TEXTS[3] * 3

    def consume() -> None:
        for _ in multi.embed_stream(texts()):
            if stop.is_set():
                break

    t = threading.Thread(target=consume)
    t.start()
    try:
        assert started.wait(30)
        time.sleep(0.3)
        t0 = time.perf_counter()
        multi.embed(["a short query"])
        waited = time.perf_counter() - t0
    finally:
        stop.set()
        t.join(60)
    assert not t.is_alive()
    # one text of this length decodes in well under a second even on 2 busy cores; the stream never ends
    assert waited < 5, waited
