"""Responsiveness (issue #6): the GUI thread never stalls while a 100-page PDF is indexed or an answer is
generated, and closing the window during either stops the work within 3 s.

A heartbeat (``ui.heartbeat``: a 10 ms timer on the GUI thread) records the gaps between its ticks; a gap
over 50 ms is a stall. The event loop runs in a real ``QEventLoop`` (``run_until``), not ``qtbot.wait``,
which sleeps between events and would add its own gaps.

Known stalls outside our code: Chroma's Rust bindings hold the GIL for the whole of a call (upstream frees
it for get/query only, chroma-core/chroma#3873): opening the client (~80-100 ms, once) and every upsert
(~40-350 ms on this VM's disk, mostly fsync; 11-20 ms on tmpfs), one per 16 chunks. A gap that overlaps a
Chroma call is counted apart (``_split``) and bounded by that call; every other gap must stay under 50 ms,
with one exception (< 200 ms) allowed because the 2 CI cores are shared with other test processes (the
idle heartbeat alone has shown gaps of 20-25 ms there).
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from notebooklm_local.core.context import AppContext
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings
from notebooklm_local.ui.application import freeze_heap_when_settled
from notebooklm_local.ui.heartbeat import GcPauses, Heartbeat, HeartbeatReport, run_until
from tests.helpers.docs import make_pdf
from tests.helpers.embedders import HashEmbedder

pytestmark = [pytest.mark.gui, pytest.mark.slow]

STALL_MS = 50.0
CLOSE_S = 3.0
WORDS = ("canal lock barge tide river harbour engine steam towpath lockkeeper cargo grain coal timber ledger "
         "survey bridge aqueduct reservoir pump winter summer flood drought toll company engineer mill weir").split()


def _pages(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for p in range(1, n + 1):
        sents = [f"Page {p}."]
        while sum(len(s) + 1 for s in sents) < 1800:
            w = rng.sample(WORDS, 6)
            sents.append(f"In {1700 + rng.randrange(250)} the {w[0]} near the {w[1]} carried {rng.randrange(900)} "
                         f"tons of {w[2]}, and the {w[3]} recorded the {w[4]} at the {w[5]}.")
        out.append(" ".join(sents))
    return out


def slow_hash_embedder() -> HashEmbedder:
    """Stands in for a real embedder: 20 ms per text, deterministic vectors. What the GUI thread competes
    with (a worker thread embedding) is the same."""
    return HashEmbedder("test:slow-hash:v1", dim=32, delay=0.02)


@pytest.fixture
def ctx(app_home: Path) -> AppContext:
    return AppContext(app_paths().ensure(), Settings())


@pytest.fixture
def chroma_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """(start, end) perf_counter times of every call into Chroma: opening the client (``persistent``, which
    also imports chromadb), getting a collection, upserting a batch (``add``)."""
    from notebooklm_local.services.index import ChromaIndex

    calls: list[tuple[float, float]] = []

    def timed(fn: Any) -> Any:
        def call(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                calls.append((t0, time.perf_counter()))
        return call

    monkeypatch.setattr(ChromaIndex, "persistent", classmethod(timed(ChromaIndex.persistent.__func__)))
    monkeypatch.setattr(ChromaIndex, "collection", timed(ChromaIndex.collection))
    monkeypatch.setattr(ChromaIndex, "add", timed(ChromaIndex.add))
    return calls


@pytest.fixture
def hash_embedder_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """The window's library service indexes with :func:`slow_hash_embedder` (real Chroma, SQLite, PDF reading)."""
    from notebooklm_local import workspace
    from notebooklm_local.services.index import ChromaIndex

    real = workspace.open_library

    def open_library(paths: Any, settings: Any, **kw: Any) -> Any:
        svc = real(paths, settings, **{**kw, "with_index": False})
        if kw.get("with_index", True):
            svc.index = ChromaIndex.persistent(paths.index / "chroma", slow_hash_embedder())  # type: ignore[arg-type]
        return svc

    monkeypatch.setattr(workspace, "open_library", open_library)


@pytest.fixture
def gc_pauses() -> Iterator[GcPauses]:
    """The garbage collector's pauses while the test runs (counted apart from our stalls)."""
    rec = GcPauses().start()
    yield rec
    rec.stop()


def _split(report: HeartbeatReport, calls: list[tuple[float, float]],
           pauses: list[tuple[float, float, int]] = ()) -> tuple[list[float], list[float], list[float]]:
    """Gaps over STALL_MS in ms: (those overlapping a Chroma call, those overlapping a garbage collection
    of 20 ms or more, the others)."""
    during, in_gc, other = [], [], []
    gcs = [(s, e) for s, e, _ in pauses if e - s >= 0.02]
    for start, end in report.stalls(STALL_MS):
        gap = (end - start) * 1000
        if any(s < end and start < e for s, e in calls):
            during.append(gap)
        elif any(s < end and start < e for s, e in gcs):
            in_gc.append(gap)
        else:
            other.append(gap)
    return during, in_gc, other


def _assert_responsive(report: HeartbeatReport, calls: list[tuple[float, float]],
                       gc_rec: GcPauses | None = None) -> None:
    pauses = list(gc_rec.pauses) if gc_rec is not None else []
    during, in_gc, other = _split(report, calls, pauses)
    longest = max(((e - s) * 1000 for s, e in calls), default=0.0)
    longest_gc = max(((e - s) * 1000 for s, e, _ in pauses), default=0.0)
    msg = (f"{report.summary()}; gaps during Chroma calls {during}, during garbage collection {in_gc}, "
           f"others {other}; longest Chroma call {longest:.0f} ms, longest collection {longest_gc:.0f} ms")
    print(msg)
    # Ours: none over 50 ms; one allowed (< 200 ms) for the shared CI cores (scheduling, not our code).
    assert len(other) <= 1 and max(other, default=0.0) < 4 * STALL_MS, msg
    # Chroma's: the call holding the GIL, plus a scheduling slice, never more. Likewise a collection.
    assert all(g < longest + 100 for g in during), msg
    assert all(g < longest_gc + 100 for g in in_gc), msg


def _window(ctx: AppContext) -> Any:
    from notebooklm_local.ui.main_window import MainWindow

    win = MainWindow(ctx)
    freeze_heap_when_settled(win)  # as run_gui does (the ``windows`` fixture unfreezes)
    win.show()
    assert run_until(lambda: win.sources_pane.notebook_id is not None and win.is_settled, 60)
    assert gc.get_freeze_count() > 0
    return win


def _drop(win: Any, path: Path) -> None:
    """Drag a file over the window and drop it (enter, move, drop), as Qt delivers a real drag."""
    import warnings

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = QPoint(win.width() // 2, win.height() // 2)
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with warnings.catch_warnings():  # PySide6 marks some QPoint constructors deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        events = [QDragEnterEvent(pos, *args), QDragMoveEvent(pos, *args), QDropEvent(QPointF(pos), *args)]
    for ev in events:
        QApplication.sendEvent(win, ev)
    assert events[-1].isAccepted()


def _status(win: Any, name: str) -> str | None:
    for s in win.library.sources(win.sources_pane.notebook_id):
        if Path(s.ref.get("path", "")).name == name:
            return s.status
    return None


def _close_within_3s(win: Any) -> float:
    """Close the window; it must return within 3 s with no worker left running on any lane."""
    pools = (win.lanes.llm, win.lanes.store, win.lanes.io)
    t0 = time.perf_counter()
    win.close()
    took = time.perf_counter() - t0
    assert took < CLOSE_S, f"closing took {took:.2f} s"
    assert sum(p.activeThreadCount() for p in pools) == 0 and all(p.waitForDone(0) for p in pools)
    return took


@pytest.fixture
def windows(qapp: QApplication) -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    for w in made:
        if w.isVisible():
            w.close()
        w.deleteLater()
    gc.unfreeze()


def test_indexing_100_pdf_pages_never_stalls_the_gui_and_closing_cancels_within_3s(
    ctx: AppContext, tmp_path: Path, hash_embedder_library: None, chroma_calls: list[tuple[float, float]],
    windows: list[Any], gc_pauses: GcPauses,
) -> None:
    from notebooklm_local.workspace import open_library

    lib = open_library(ctx.paths, ctx.settings, with_index=False)
    lib.create_notebook("Canals")
    lib.library.close()
    first = make_pdf(tmp_path / "canals.pdf", _pages(100, seed=1))
    second = make_pdf(tmp_path / "canals-2.pdf", _pages(100, seed=2))
    win = _window(ctx)
    windows.append(win)
    # the window opens the index in the background as it starts (Chroma's client holds the GIL ~0.1 s)
    assert run_until(lambda: win.ingest.opened_service is not None, 60)
    hb = Heartbeat(10)
    hb.start()
    _drop(win, first)
    assert run_until(lambda: _status(win, first.name) in ("ready", "failed"), 300)
    assert run_until(lambda: not win.ingest.busy, 30)
    report = hb.stop()
    assert _status(win, first.name) == "ready"
    assert win.sources_pane.list.count() == 1 and len(chroma_calls) >= 5  # ~250 chunks: an upsert per 16
    _assert_responsive(report, chroma_calls, gc_pauses)

    _drop(win, second)
    assert run_until(lambda: (cur := win.ingest._current) is not None and cur.state.text.startswith("Embedding"), 120)
    _close_within_3s(win)
    assert run_until(lambda: not win.ingest.busy, 10)
    from notebooklm_local.core.library import Library

    fresh = Library(ctx.paths.data / "library.db")
    try:  # stopped part-way (resume finishes it)
        assert {Path(s.ref.get("path", "")).name: s.status for s in fresh.sources(win.sources_pane.notebook_id)}[
            second.name] not in ("ready", "failed")
    finally:
        fresh.close()


@pytest.mark.model
def test_answering_never_stalls_the_gui_and_closing_stops_generation_within_3s(
    ctx: AppContext, installed_model: Path, tmp_path: Path, chroma_calls: list[tuple[float, float]],
    windows: list[Any], gc_pauses: GcPauses,
) -> None:
    from notebooklm_local.workspace import open_library

    notes = tmp_path / "canals.md"
    notes.write_text("# Canals\n\n" + "\n\n".join(_pages(3, seed=3)), encoding="utf-8")
    ctx.settings.chat.structured = "off"  # free-text answers: streamed token by token
    ctx.settings.chat.mode = "generate"  # the model answers (the demo model would otherwise quote)
    lib = open_library(ctx.paths, ctx.settings)
    lib.create_notebook("Canals")
    lib.add("Canals", [str(notes)])
    lib.library.close()
    win = _window(ctx)
    windows.append(win)
    answers: list[Any] = []
    win.chat_pane.answer_finished.connect(answers.append)
    hb = Heartbeat(10)
    hb.start()
    win.chat_pane.input.setPlainText("What did the barges carry near the aqueduct?")
    win.chat_pane.send_button.click()  # loads the model, retrieves, evaluates the prompt, streams
    assert run_until(lambda: answers and not win.chat_pane.busy, 300)
    report = hb.stop()
    assert answers[0].answer is not None
    _assert_responsive(report, chroma_calls, gc_pauses)

    win.chat_pane.input.setPlainText("Describe every barge, cargo and lock in the notes, one by one, in detail.")
    win.chat_pane.send_button.click()
    # Close half a second into the model's work: the passages' prompt evaluation (in 128-token slices, the
    # cancel checked between them) or the first tokens. Waiting for streamed text was flaky: the demo model
    # often writes only a few tokens, and the answer could end before the close.
    assert run_until(lambda: win.chat_pane.busy, 30)
    run_until(lambda: not win.chat_pane.busy, 0.5)
    assert win.chat_pane.busy, "the answer finished before the window could be closed during it"
    _close_within_3s(win)
