"""GUI responsiveness: a heartbeat on the GUI thread while the real window ingests and answers.

The real ``MainWindow`` (offscreen, a throw-away data dir, the app's default settings: the embedded
Gemma 3 270M for chat, all-MiniLM-L6-v2 for embeddings) with a 10 ms precise timer on the GUI thread
(``ui.heartbeat``). A gap between two ticks far above 10 ms is a stall: the event loop could not run,
because of work on the GUI thread or a worker holding the GIL. Phases:

1. idle      — the window shown and loaded, nothing running (the baseline of this run)
2. ingest    — a generated N-page PDF dropped on the window (``MainWindow.dropEvent``, as a drag
               does), until the source is ready: opening the index and embedder, extracting, embedding
3. ask cold  — a question through the chat panel (Send) until ``answer_finished``: loading the model,
               retrieval, prompt eval, streamed tokens, the checked answer
4. ask warm  — a second question (model loaded)
5. close     — the window closed while a second PDF is embedding, and a new window closed while an
               answer streams: how long ``closeEvent`` takes and whether the lanes are empty after it

Goal (issue #6): no gap > 50 ms in phases 2-4; close within 3 s with no worker left running.
Ratios: each phase's max gap and p99 against the idle baseline measured in the same run.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_ui_heartbeat.py   # 100 pages: 15+ min on 2 busy cores
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_ui_heartbeat.py --pages 30   # ~6 min
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_ui_heartbeat.py --pages 20 --diagnose
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import os
import random
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

WORDS = ("canal lock barge tide river harbour engine steam towpath lockkeeper cargo grain coal timber "
         "ledger survey bridge aqueduct reservoir pump winter summer flood drought toll company "
         "engineer surveyor village market mill weir basin wharf horse boat crew journey").split()


def page_text(rng: random.Random, page: int, chars: int = 1800) -> str:
    out: list[str] = [f"Chapter {page // 10 + 1}, page {page}."]
    n = len(out[0])
    while n < chars:
        w = rng.sample(WORDS, 9)
        s = (f"In {1700 + rng.randrange(250)} the {w[0]} near the {w[1]} carried {rng.randrange(2, 900)} tons "
             f"of {w[2]}, and the {w[3]} recorded the {w[4]} beside the {w[5]} {w[6]} for the {w[7]} {w[8]}.")
        out.append(s)
        n += len(s) + 1
    return " ".join(out)


def make_pdf(path: Path, pages: int, seed: int) -> Path:
    from fpdf import FPDF

    rng = random.Random(seed)
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for i in range(1, pages + 1):
        pdf.add_page()
        pdf.multi_cell(0, 5, page_text(rng, i))
    pdf.output(str(path))
    return path


class StallSampler:
    """(--diagnose) Prints every thread's stack when the GUI thread misses its heartbeat by > ``ms``.

    A watchdog re-armed at each tick: ``faulthandler.dump_traceback_later`` runs in a C thread that needs
    no GIL, so it sees the stall *while* it happens, also when a thread holds the GIL (a Python-level
    sampler thread only ran once the holder let go, and missed it). Garbage collections over 10 ms are
    printed too (``gc.callbacks``: a full one holds the GIL)."""

    def __init__(self, hb: Any, ms: float = 45.0) -> None:
        self.hb, self.ms = hb, ms
        self._on = False
        self._gc_start = 0.0

    def start(self) -> None:
        self._on = True
        self.hb._timer.timeout.connect(self._arm)  # a diagnostic hook on the heartbeat's own timer
        gc.callbacks.append(self._gc)

    def stop(self) -> None:
        self._on = False
        faulthandler.cancel_dump_traceback_later()
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)

    def _arm(self) -> None:
        if self._on:
            faulthandler.cancel_dump_traceback_later()
            faulthandler.dump_traceback_later(self.ms / 1000.0, repeat=False, file=sys.stderr)

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif (ms := (time.perf_counter() - self._gc_start) * 1000) > 10:
            print(f"--- garbage collection (generation {info['generation']}): {ms:.0f} ms", file=sys.stderr)


CHROMA_CALLS: list[tuple[float, float]] = []


def record_chroma_calls() -> None:
    """Record when the index talks to Chroma (open, collection, upsert): its Rust bindings hold the GIL
    for the whole call (upstream frees it for get/query only: chroma-core/chroma#3873)."""
    from notebooklm_local.services.index import ChromaIndex

    def timed(fn: Any) -> Any:
        def call(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                CHROMA_CALLS.append((t0, time.perf_counter()))
        return call

    ChromaIndex.persistent = classmethod(timed(ChromaIndex.persistent.__func__))  # type: ignore[method-assign]
    ChromaIndex.collection = timed(ChromaIndex.collection)  # type: ignore[method-assign]
    ChromaIndex.add = timed(ChromaIndex.add)  # type: ignore[method-assign]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=100, help="pages of the dropped PDF (default 100)")
    ap.add_argument("--idle-s", type=float, default=3.0, help="seconds of idle baseline (default 3)")
    ap.add_argument("--no-close", action="store_true", help="skip the close-during-work phases")
    ap.add_argument("--diagnose", action="store_true", help="print all threads' stacks on every stall > 45 ms")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    home = Path(tempfile.mkdtemp(prefix="nbl-bench-ui-"))
    os.environ["NOTEBOOKLM_LOCAL_HOME"] = str(home / "home")
    C.start("bench_ui_heartbeat")

    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtWidgets import QApplication

    from notebooklm_local.core.context import AppContext
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.services.models import ensure_default_model
    from notebooklm_local.ui.application import create_application, freeze_heap_when_settled
    from notebooklm_local.ui.heartbeat import GcPauses, Heartbeat, HeartbeatReport, run_until
    from notebooklm_local.ui.main_window import MainWindow
    from notebooklm_local.workspace import open_library

    app = create_application()
    record_chroma_calls()
    paths = app_paths().ensure()
    settings = Settings()  # the app's defaults: the embedded chat model and embedder
    settings.chat.mode = "generate"  # the questions stream generated answers (the heavier case for the GUI)
    ensure_default_model(paths)
    lib = open_library(paths, settings, with_index=False)
    lib.create_notebook("Canals")
    lib.library.close()
    t0 = time.perf_counter()
    pdfs = [make_pdf(home / f"canals-{i}.pdf", args.pages, seed=i) for i in (1, 2)]
    print(f"two {args.pages}-page PDFs written in {time.perf_counter() - t0:.1f} s "
          f"({pdfs[0].stat().st_size // 1024} KiB each)")
    ctx = AppContext(paths, settings)

    def open_window() -> MainWindow:
        win = MainWindow(ctx)
        win.confirm_close = lambda work: True  # "Stop and close": the close phases measure the close itself
        freeze_heap_when_settled(win)  # what run_gui does: the start-up heap frozen once the start settled
        win.show()
        ok = run_until(lambda: win.sources_pane.notebook_id is not None and win.is_settled, 60)
        assert ok, "the window did not load"
        return win

    def drop(win: MainWindow, path: Path) -> None:
        """Drag the file over the window and drop it (enter, move, drop: what Qt delivers for a real drag)."""
        import warnings

        from PySide6.QtCore import QPoint, QPointF, Qt
        from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent

        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        pos = QPoint(win.width() // 2, win.height() // 2)
        a, m, b, k = Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        with warnings.catch_warnings():  # PySide6 marks some QPoint constructors deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            events = [QDragEnterEvent(pos, a, m, b, k), QDragMoveEvent(pos, a, m, b, k), QDropEvent(QPointF(pos), a, m, b, k)]
        for ev in events:
            QApplication.sendEvent(win, ev)
        assert events[-1].isAccepted(), "the window did not take the drop"

    def statuses(win: MainWindow) -> dict[str, str]:
        assert win.library is not None
        return {Path(s.ref.get("path", "")).name: s.status for s in win.library.sources(win.sources_pane.notebook_id)}

    results: dict[str, Any] = {}
    rows: list[list[Any]] = []
    gc.disable()  # as app.py does while the app starts (freeze_heap_when_settled turns it back on)
    win = open_window()
    # as in the app: the window opens the index in the background as it starts; measure after that
    run_until(lambda: win.ingest.opened_service is not None, 120)
    hb = Heartbeat(10)
    gc_rec = GcPauses().start()  # the collector's pauses (a full one holds the GIL: every thread waits)
    sampler = StallSampler(hb) if args.diagnose else None

    def phase(name: str, start: Any, done: Any, timeout_s: float) -> HeartbeatReport:
        hb.start()
        if sampler is not None:
            print(f"=== phase {name}", file=sys.stderr)
        t = time.perf_counter()
        start()
        ok = run_until(done, timeout_s)
        wall = time.perf_counter() - t
        rep = hb.stop()
        print(f"{name}: {'done' if ok else 'TIMED OUT'} in {wall:.1f} s — {rep.summary()}")
        stalls = rep.stalls(50)
        pauses = [(a, b) for a, b, _ in gc_rec.pauses if a >= t]
        in_gc = [(e - s) * 1000 for s, e in stalls if any(a < e and s < b for a, b in pauses)]
        print(f"  garbage collections: {len(pauses)}, longest {max(((b - a) * 1000 for a, b in pauses), default=0):.0f} ms;"
              f" gaps > 50 ms during one: {len(in_gc)}")
        in_chroma = [(e - s) * 1000 for s, e in stalls if any(a < e and s < b for a, b in CHROMA_CALLS)]
        other = [(e - s) * 1000 for s, e in stalls if not any(a < e and s < b for a, b in CHROMA_CALLS)]
        if stalls:
            print(f"  gaps > 50 ms during a Chroma call: {len(in_chroma)} (max {max(in_chroma, default=0):.0f} ms); "
                  f"others: {len(other)} (max {max(other, default=0):.0f} ms)")
        results[name] = {"ok": ok, "wall_s": wall, "max_ms": rep.max_ms, "p99_ms": rep.p99_ms,
                         "p50_ms": rep.percentile(50), "over_50ms": rep.over(50), "ticks": rep.ticks,
                         "over_50ms_in_chroma": len(in_chroma), "over_50ms_in_gc": len(in_gc),
                         "gc_pauses": len(pauses), "gc_max_ms": max(((b - a) * 1000 for a, b in pauses), default=0.0), "over_50ms_other": len(other),
                         "max_other_ms": max(other, default=0.0), "worst": rep.worst(10)}
        return rep

    if sampler is not None:
        sampler.start()
    idle = phase("idle", lambda: None, lambda: False, args.idle_s)
    name = pdfs[0].name
    phase(f"ingest {args.pages}-page PDF", lambda: drop(win, pdfs[0]),
          lambda: statuses(win).get(name) in ("ready", "failed"), 900)
    print(f"  source: {statuses(win).get(name)}; {win.sources_pane.list.count()} row(s)")
    answers: list[Any] = []
    win.chat_pane.answer_finished.connect(answers.append)

    def ask(q: str) -> Any:
        def go() -> None:
            win.chat_pane.input.setPlainText(q)
            win.chat_pane.send_button.click()
        return go

    n = len(answers)
    phase("ask (cold: loads the model)", ask("What did the barges carry near the aqueduct?"),
          lambda: len(answers) > n and not win.chat_pane.busy, 600)
    n = len(answers)
    phase("ask (warm)", ask("Who recorded the floods at the weir?"),
          lambda: len(answers) > n and not win.chat_pane.busy, 600)
    if answers:
        g = answers[-1].generation
        if g is not None:
            print(f"  last answer: {g.completion_tokens} tokens at {g.tokens_per_s:.1f} tok/s, "
                  f"{win.chat_pane.repaints} streamed repaints")

    closes: dict[str, Any] = {}
    if not args.no_close:
        # close while the second PDF is embedding
        drop(win, pdfs[1])
        ok = run_until(lambda: (cur := win.ingest._current) is not None
                       and cur.state.text.startswith("Embedding"), 300)
        closes["ingest"] = close_and_check(win, ok)
        # close a new window while an answer streams
        win2 = open_window()
        win2.chat_pane.input.setPlainText("Tell me about the lockkeeper and the toll company.")
        win2.chat_pane.send_button.click()
        ok = run_until(lambda: win2.chat_pane.repaints > 0, 300)
        closes["generation"] = close_and_check(win2, ok)
        for what, c in closes.items():
            print(f"close during {what}: closeEvent {c['close_s']:.2f} s, lanes drained: {c['drained']}, "
                  f"running workers after: {c['active_after']}, reached the state: {c['reached']}")
    if sampler is not None:
        sampler.stop()

    for name, r in results.items():
        rows.append([name, r["wall_s"], r["ticks"], r["p50_ms"], r["p99_ms"], r["max_ms"], r["over_50ms"],
                     r["over_50ms_in_chroma"], r["max_other_ms"],
                     r["p99_ms"] / max(idle.p99_ms, 1e-9), r["max_ms"] / max(idle.max_ms, 1e-9)])
    print()
    print(C.table(rows, ["phase", "wall s", "ticks", "p50 ms", "p99 ms", "max ms", "gaps>50ms",
                         "in Chroma", "max other ms", "p99/idle", "max/idle"]))
    worst = max((r["max_ms"] for k, r in results.items() if k != "idle"), default=0.0)
    stalls = sum(r["over_50ms"] for k, r in results.items() if k != "idle")
    print(f"\ngoal: no gap > 50 ms while working — worst {worst:.0f} ms, {stalls} gap(s) > 50 ms: "
          f"{'met' if stalls == 0 else 'NOT met'}")
    if closes:
        slowest = max(c["close_s"] for c in closes.values())
        clean = all(c["drained"] and c["active_after"] == 0 for c in closes.values())
        print(f"goal: close during work within 3 s, nothing left running — slowest {slowest:.2f} s, "
              f"{'met' if slowest < 3 and clean else 'NOT met'}")
    C.write_results("bench_ui_heartbeat", {"args": vars(args), "phases": results, "close": closes})
    app.processEvents()
    return 0


def close_and_check(win: Any, reached: bool) -> dict[str, Any]:
    from notebooklm_local.ui.heartbeat import run_until

    t = time.perf_counter()
    win.close()
    close_s = time.perf_counter() - t
    pools = (win.lanes.llm, win.lanes.store, win.lanes.io)
    active = sum(p.activeThreadCount() for p in pools)
    if active:
        print(f"--- {active} worker(s) still running {close_s:.2f} s after close; stacks:")
        for ident, frame in sys._current_frames().items():
            if ident != threading.get_ident():
                print("".join(traceback.format_stack(frame, limit=6)))
    run_until(lambda: False, 0.3)  # the queued finished signals arrive
    return {"reached": reached, "close_s": close_s, "drained": all(p.waitForDone(0) for p in pools),
            "active_after": active}


if __name__ == "__main__":
    raise SystemExit(main())
