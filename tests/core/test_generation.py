"""``core.llm.Generation``: what an engine's ``stream_chat`` returns — iterate it for the pieces, then ``result()``."""

from __future__ import annotations

import gc
import threading
from collections.abc import Generator

import pytest

from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import ChatMessage, Generation, GenerationResult, Report
from tests.helpers.scripted_engine import ScriptedEngine


def _report(text: str, finish: str = "stop") -> GenerationResult:
    return GenerationResult(text, 10, len(text), 0.1, 0.2, finish)


class Source:
    """An engine's generator, recording what ran: started, pieces handed out, finally-block (the lock)."""

    def __init__(self, pieces: list[str], *, fail_after: int | None = None, lazy: bool = False) -> None:
        self.pieces = pieces
        self.fail_after = fail_after
        self.lazy = lazy
        self.started = False
        self.given: list[str] = []
        self.released = False
        self.reports_made = 0
        self.lock = threading.Lock()

    def make(self) -> GenerationResult:
        self.reports_made += 1
        return _report("".join(self.given))

    def run(self) -> Generator[str, None, Report]:
        with self.lock:  # as the engines hold their lock while generating
            self.started = True
            try:
                for i, piece in enumerate(self.pieces):
                    if self.fail_after is not None and i == self.fail_after:
                        raise OSError("the model went away")
                    self.given.append(piece)
                    yield piece
            finally:
                self.released = True
        return self.make if self.lazy else self.make()


def test_iterating_yields_the_pieces_then_result_gives_the_report() -> None:
    src = Source(["Hel", "lo", "."])
    gen = Generation(src.run())
    assert not src.started, "nothing runs before the first piece is asked for"
    assert list(gen) == ["Hel", "lo", "."]
    assert src.released and not src.lock.locked()
    res = gen.result()
    assert res.text == "Hello." and res.finish_reason == "stop"
    assert gen.result() is res  # the same report every time
    assert list(gen) == []  # finished: nothing more


def test_result_before_the_stream_was_read_reads_all_of_it() -> None:
    src = Source(["a", "b", "c"])
    gen = Generation(src.run())
    assert gen.result().text == "abc"
    assert src.given == ["a", "b", "c"] and src.released
    assert list(gen) == []


def test_result_in_the_middle_reads_the_rest() -> None:
    src = Source(["a", "b", "c", "d"])
    gen = Generation(src.run())
    assert next(gen) == "a"
    assert gen.result().text == "abcd"
    assert list(gen) == []


def test_closing_early_releases_the_engine_and_leaves_no_result() -> None:
    src = Source(["a", "b", "c"])
    gen = Generation(src.run())
    assert next(gen) == "a"
    assert src.lock.locked()
    gen.close()
    assert src.released and not src.lock.locked()
    assert src.given == ["a"]
    assert list(gen) == []
    with pytest.raises(RuntimeError, match="closed before it finished"):
        gen.result()
    gen.close()  # closing twice is harmless


def test_breaking_out_of_a_loop_and_dropping_the_generation_releases_the_engine() -> None:
    src = Source(["a", "b", "c"])
    for piece in Generation(src.run()):
        assert piece == "a"
        break
    gc.collect()  # CPython frees it at once; collect for other interpreters
    assert src.released and not src.lock.locked() and src.given == ["a"]


def test_a_with_block_closes_it() -> None:
    src = Source(["a", "b"])
    with Generation(src.run()) as gen:
        assert next(gen) == "a"
    assert src.released and not src.lock.locked()


def test_closing_a_finished_generation_keeps_its_result() -> None:
    gen = Generation(Source(["x"]).run())
    assert gen.result().text == "x"
    gen.close()
    assert gen.result().text == "x"


def test_an_error_reaches_the_reader_and_then_result_says_there_is_none() -> None:
    src = Source(["a", "b", "c"], fail_after=1)
    gen = Generation(src.run())
    with pytest.raises(OSError, match="went away"):
        list(gen)
    assert src.released
    with pytest.raises(RuntimeError, match="ended with an error"):
        gen.result()


def test_result_raises_the_engines_error_when_it_has_to_read_the_rest() -> None:
    gen = Generation(Source(["a", "b"], fail_after=1).run())
    with pytest.raises(OSError):
        gen.result()


def test_a_report_given_as_a_function_is_made_once_and_only_when_asked() -> None:
    src = Source(["a", "b"], lazy=True)
    gen = Generation(src.run())
    assert list(gen) == ["a", "b"]
    assert src.reports_made == 0, "a caller that wants only the text never pays for the report"
    assert gen.result().text == "ab"
    assert gen.result() is gen.result()
    assert src.reports_made == 1


def test_a_wrapping_generator_passes_the_report_on_with_yield_from() -> None:
    inner = Generation(Source(["a", "b"]).run())
    seen: list[str] = []

    def spy() -> Generator[str, None, Report]:
        seen.append("start")
        return (yield from inner)

    outer = Generation(spy())
    assert not seen
    assert "".join(outer) == "ab"
    assert outer.result() is inner.result()


def test_a_source_that_returns_nothing_is_a_clear_error() -> None:
    def bare() -> Generator[str, None, Report]:
        yield "a"
        return None  # type: ignore[return-value]  # what an engine must not do

    gen = Generation(bare())
    with pytest.raises(RuntimeError, match="returned no result"):
        gen.result()


def test_a_cancelled_generation_ends_normally_with_a_cancelled_report() -> None:
    engine = ScriptedEngine(outputs=["x" * 70])
    token = CancelToken()
    gen = engine.stream_chat([ChatMessage("user", "hi")], cancel=token)
    pieces = []
    for piece in gen:
        pieces.append(piece)
        if len(pieces) == 2:
            token.cancel()
    assert len(pieces) == 2  # stopped at the next piece
    res = gen.result()
    assert res.finish_reason == "cancelled" and res.text == "x" * 14


def test_an_engine_call_does_nothing_until_read() -> None:
    engine = ScriptedEngine(outputs=["hello"])
    gen = engine.stream_chat([ChatMessage("user", "hi")])
    assert engine.calls == []
    assert gen.result().text == "hello" and len(engine.calls) == 1

