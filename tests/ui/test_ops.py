"""ui/ops.BackgroundOp: the one way panes run work off the GUI thread.

Success and failure arrive on the GUI thread; a failure without a handler opens the app's error dialog (none
for a user's cancel); progress and posted items arrive in order; cancel reaches the job through its token;
a job whose widget was destroyed meanwhile calls nothing back; an exception raised by the job never escapes
the worker.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from PySide6.QtCore import QThread, QThreadPool
from PySide6.QtWidgets import QApplication, QWidget

from notebooklm_local.core.errors import Cancelled, NotebookError
from notebooklm_local.ui import errors, ops
from notebooklm_local.ui.ops import BackgroundOp, live_ops
from notebooklm_local.ui.workers import Lanes

pytestmark = [pytest.mark.gui]

WAIT = 10000


@pytest.fixture
def lanes() -> Any:
    lanes = Lanes()
    yield lanes
    lanes.shutdown(3000)


@pytest.fixture
def widget(qtbot: Any) -> QWidget:
    w = QWidget()
    qtbot.addWidget(w)
    return w


def _gui_thread() -> bool:
    app = QApplication.instance()
    return app is not None and QThread.currentThread() is app.thread()


def test_success_arrives_on_the_gui_thread_with_the_result(qtbot: Any, widget: QWidget, lanes: Lanes) -> None:
    seen: list[Any] = []
    worker_threads: list[bool] = []

    def work() -> int:
        worker_threads.append(_gui_thread())
        return 42

    op = BackgroundOp(widget, work, lanes=lanes, lane="store",
                      on_success=lambda r: seen.append((r, _gui_thread())),
                      on_finished=lambda: seen.append("finished")).run()
    qtbot.waitUntil(lambda: "finished" in seen, timeout=WAIT)
    assert seen == [(42, True), "finished"]
    assert worker_threads == [False]  # the work ran off the GUI thread
    assert op.done and live_ops() == 0


def test_failure_goes_to_the_given_callback(qtbot: Any, widget: QWidget, lanes: Lanes,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    dialogs: list[Any] = []
    monkeypatch.setattr(ops, "show_exception", lambda *a: dialogs.append(a))
    failures: list[BaseException] = []
    ends: list[str] = []

    def work() -> None:
        raise NotebookError("the library is gone")

    BackgroundOp(widget, work, lanes=lanes, on_success=lambda r: ends.append("success"),
                 on_failure=failures.append, on_finished=lambda: ends.append("finished")).run()
    qtbot.waitUntil(lambda: "finished" in ends, timeout=WAIT)
    assert ends == ["finished"]
    assert [str(e) for e in failures] == ["the library is gone"] and isinstance(failures[0], NotebookError)
    assert dialogs == []


def test_failure_without_a_handler_opens_the_error_dialog(qtbot: Any, widget: QWidget, lanes: Lanes) -> None:
    def work() -> None:
        raise ValueError("bad header")

    done: list[bool] = []
    BackgroundOp(widget, work, lanes=lanes, label="Models", on_finished=lambda: done.append(True)).run()
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)
    shown = [d for d in list(errors._open) + widget.findChildren(errors.ErrorDialog) if d.title == "Models"]
    assert shown and "ValueError: bad header" in shown[0].message
    assert shown[0].parent() is widget
    for d in shown:
        d.close()


def test_a_cancel_opens_no_dialog(qtbot: Any, widget: QWidget, lanes: Lanes, monkeypatch: pytest.MonkeyPatch) -> None:
    started = threading.Event()

    def work(cancel: Any, progress: Any) -> str:
        started.set()
        while True:
            cancel.raise_if_set()
            QThread.msleep(5)

    done: list[bool] = []
    op = BackgroundOp(widget, work, lanes=lanes, context=True, label="Work",
                      on_finished=lambda: done.append(True)).run()
    assert started.wait(5)
    assert not op.done
    op.cancel()
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)
    assert op.done and op.cancel_token.is_set()
    assert not widget.findChildren(errors.ErrorDialog)  # a user's cancel is not an error


def test_cancel_reaches_the_job_through_its_token_and_the_failure_callback(qtbot: Any, widget: QWidget,
                                                                         lanes: Lanes) -> None:
    from notebooklm_local.core.jobs import CancelToken

    token = CancelToken()
    started = threading.Event()

    def work(cancel: Any, progress: Any) -> str:
        assert cancel is token
        started.set()
        while True:
            cancel.raise_if_set()
            QThread.msleep(5)

    failures: list[BaseException] = []
    op = BackgroundOp(widget, work, lanes=lanes, lane="llm", context=True, cancel=token,
                      on_failure=failures.append).run()
    assert started.wait(5)
    token.cancel()
    qtbot.waitUntil(lambda: bool(failures), timeout=WAIT)
    assert isinstance(failures[0], Cancelled) and op.done


def test_progress_and_posted_items_arrive_in_order_before_the_result(qtbot: Any, widget: QWidget,
                                                                     lanes: Lanes) -> None:
    events: list[Any] = []
    op_ref: list[BackgroundOp] = []

    def work(cancel: Any, progress: Any) -> str:
        for i in range(1, 4):
            progress(i, 3, f"step {i}")
            op_ref[0].post(f"token{i}")
        return "done"

    op = BackgroundOp(widget, work, lanes=lanes, context=True,
                      on_progress=lambda d, t, m: events.append(("progress", d, t, m, _gui_thread())),
                      on_post=lambda item: events.append(("post", item, _gui_thread())),
                      on_success=lambda r: events.append(("success", r)))
    op_ref.append(op)
    op.run()
    qtbot.waitUntil(lambda: ("success", "done") in events, timeout=WAIT)
    assert [e for e in events if e[0] == "progress"] == [("progress", i, 3, f"step {i}", True) for i in (1, 2, 3)]
    assert [e for e in events if e[0] == "post"] == [("post", f"token{i}", True) for i in (1, 2, 3)]
    assert events[-1] == ("success", "done")


def test_parent_destroyed_mid_job_calls_nothing_back(qtbot: Any, lanes: Lanes,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    dialogs: list[Any] = []
    monkeypatch.setattr(ops, "show_exception", lambda *a: dialogs.append(a))
    release = threading.Event()
    calls: list[str] = []

    class Pane(QWidget):
        def on_success(self, result: object) -> None:
            self.setWindowTitle(str(result))  # would raise on a deleted widget
            calls.append("success")

        def on_failure(self, exc: BaseException) -> None:
            calls.append("failure")

        def on_progress(self, done: int, total: int, message: str) -> None:
            self.setWindowTitle(message)
            calls.append("progress")

        def on_finished(self) -> None:
            calls.append("finished")

    def make(fail: bool) -> BackgroundOp:
        pane = Pane()

        def work(cancel: Any, progress: Any) -> str:
            assert release.wait(5)
            progress(1, 1, "late")
            if fail:
                raise RuntimeError("late failure")
            return "late result"

        op = BackgroundOp(pane, work, lanes=lanes, context=True, on_success=pane.on_success,
                          on_failure=None if fail else pane.on_failure, on_progress=pane.on_progress,
                          on_finished=pane.on_finished).run()
        pane.deleteLater()
        return op

    ok, bad = make(False), make(True)
    qtbot.wait(50)  # the panes are deleted (deleteLater) while their jobs still run
    release.set()
    qtbot.waitUntil(lambda: ok.done and bad.done and live_ops() == 0, timeout=WAIT)
    qtbot.wait(50)
    assert calls == [] and dialogs == []


def test_the_job_object_is_kept_alive_without_a_reference(qtbot: Any, widget: QWidget, lanes: Lanes) -> None:
    import gc

    seen: list[Any] = []
    release = threading.Event()

    def work() -> str:
        assert release.wait(5)
        return "kept"

    BackgroundOp(widget, work, lanes=lanes, on_success=seen.append).run()  # no reference kept
    gc.collect()
    assert live_ops() == 1
    release.set()
    qtbot.waitUntil(lambda: seen == ["kept"], timeout=WAIT)
    qtbot.waitUntil(lambda: live_ops() == 0, timeout=WAIT)


def test_an_exception_in_the_job_does_not_leak(qtbot: Any, lanes: Lanes) -> None:
    """No parent, no handler: logged and shown, and never raised out of the worker (pytest-qt would report an
    exception escaping into Qt's event loop, and the pool thread would print it)."""
    done: list[bool] = []
    BackgroundOp(None, lambda: 1 / 0, lanes=lanes, label="Division",
                 on_finished=lambda: done.append(True)).run()
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)
    shown = [d for d in errors._open if d.title == "Division"]
    assert shown and "ZeroDivisionError" in shown[0].message
    for d in shown:
        d.close()


def test_a_dialog_without_lanes_runs_on_its_own_pool_or_the_global_one(qtbot: Any, widget: QWidget) -> None:
    pool = QThreadPool(widget)
    pool.setMaxThreadCount(1)
    seen: list[str] = []
    BackgroundOp(widget, lambda: "own pool", pool=pool, on_success=seen.append).run()
    BackgroundOp(widget, lambda: "global", on_success=seen.append).run()
    qtbot.waitUntil(lambda: sorted(seen) == ["global", "own pool"], timeout=WAIT)
    op = BackgroundOp(widget, lambda: None)
    op.run()
    with pytest.raises(RuntimeError):
        op.run()
    qtbot.waitUntil(lambda: op.done, timeout=WAIT)


def test_a_job_started_from_on_finished_runs_and_the_first_receiver_is_kept_meanwhile(
        qtbot: Any, widget: QWidget, lanes: Lanes) -> None:
    """The studio refreshes its history when a job ends: a new op starts inside the old op's finish callback,
    which must not drop the receiver whose slot is still running."""
    seen: list[str] = []

    def second() -> None:
        assert ops._finishing == 1 and len(ops._finished) >= 1  # the first receiver is still held
        BackgroundOp(widget, lambda: "second", lanes=lanes, on_success=seen.append).run()

    BackgroundOp(widget, lambda: "first", lanes=lanes, on_success=seen.append, on_finished=second).run()
    qtbot.waitUntil(lambda: seen == ["first", "second"], timeout=WAIT)
    qtbot.waitUntil(lambda: live_ops() == 0, timeout=WAIT)
    assert ops._finishing == 0
