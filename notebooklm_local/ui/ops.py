"""One way for the GUI to run work off its thread: :class:`BackgroundOp`.

In the spirit of Anki's ``QueryOp`` (aqt/operations) and napari's ``create_worker``::

    BackgroundOp(self, lambda: store.list(nb), lanes=self.lanes, lane="store",
                 on_success=self._on_listed).run()

``fn`` runs on a lane of :class:`~notebooklm_local.ui.workers.Lanes` (or a given pool) through a
:class:`~notebooklm_local.ui.workers.FunctionWorker`; its result, its exception, its progress and anything it
:meth:`~BackgroundOp.post`\\ s arrive on the GUI thread, queued, in the order they were sent, through bound
``@Slot`` methods of a small receiver object (never lambdas: PYSIDE-3124). The guarantees:

- the worker never touches a widget: callbacks run on the GUI thread only;
- the op keeps itself alive until its job is done (no reference needs to be kept by the caller);
- an exception raised by ``fn`` never escapes the worker: it goes to ``on_failure``, by default the app's one
  error dialog (:func:`~notebooklm_local.ui.errors.show_exception`, which says nothing for a user's cancel);
- cancellation is cooperative, through the job's :class:`~notebooklm_local.core.jobs.CancelToken`
  (:meth:`~BackgroundOp.cancel`; the window's ``Lanes.shutdown`` cancels every op on the lanes too);
- when ``parent`` (a QObject, usually the widget that started the job) is destroyed before the job ends,
  the results are dropped: no callback runs against a dead widget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThreadPool, Signal, Slot
from PySide6.QtWidgets import QWidget

from notebooklm_local.core.errors import Cancelled
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.ui.errors import show_exception
from notebooklm_local.ui.workers import FunctionWorker, Lanes

__all__ = ["BackgroundOp", "live_ops"]

log = logging.getLogger(__name__)

# Receivers of running ops: kept here until their job is done (nobody else needs to hold them).
_live: set[_Receiver] = set()
# Finished receivers: not deleted inside their own slot; dropped when the next op starts outside a finish callback
# (an ``on_finished`` that starts a job must not drop the receiver whose slot is still running).
_finished: list[_Receiver] = []
_finishing = 0


def live_ops() -> int:
    """How many ops are running (started and not yet reported finished), for tests and diagnostics."""
    return len(_live)


class _Posts(QObject):
    """The channel for :meth:`BackgroundOp.post` (emitted on the worker thread, received queued)."""

    posted = Signal(object)


class _Receiver(QObject):
    """Lives on the GUI thread; the worker's signals are connected to its bound slots."""

    def __init__(self, op: BackgroundOp) -> None:
        super().__init__()
        self.op = op

    @Slot(object)
    def _on_succeeded(self, result: object) -> None:
        self.op._deliver_success(result)  # noqa: SLF001

    @Slot(object)
    def _on_failed(self, exc: object) -> None:
        self.op._deliver_failure(exc)  # noqa: SLF001

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.op._deliver_progress(done, total, message)  # noqa: SLF001

    @Slot(object)
    def _on_posted(self, item: object) -> None:
        self.op._deliver_post(item)  # noqa: SLF001

    @Slot()
    def _on_finished(self) -> None:
        global _finishing
        _live.discard(self)
        _finished.append(self)
        _finishing += 1
        try:
            self.op._deliver_finished()  # noqa: SLF001
        finally:
            _finishing -= 1


class BackgroundOp:
    """A job run off the GUI thread, reporting back on it.

    Args:
        parent: the object the results are for (usually a widget); when it is destroyed before the job
            ends, nothing is delivered. ``None``: always delivered. It is also the error dialog's parent.
        fn: the work. Called as ``fn()``, or ``fn(cancel=token, progress=cb)`` with ``context=True``
            (``cb(done, total, message)``, any thread).
        on_success: called with ``fn``'s result.
        on_failure: called with the exception ``fn`` raised (a user's cancel is ``core.errors.Cancelled``);
            default: the error dialog titled ``label``.
        on_progress: called with ``(done, total, message)`` for each progress report.
        on_post: called with each item the job hands over with :meth:`post` (streamed tokens, stages...).
        on_finished: called last, after success or failure.
        lanes, lane: the lane to run on (``"llm"``, ``"store"``, ``"io"``, ``"templates"``); a job on the
            lanes is cancelled by ``Lanes.shutdown``.
        pool: a thread pool to use instead of the lanes (a dialog opened without lanes).
        cancel: the job's cancel token (default: a new one, :attr:`cancel_token`).
        label: what the job is, for the error dialog's title and the log.
    """

    def __init__(self, parent: QObject | None, fn: Callable[..., Any], *,
                 on_success: Callable[[Any], None] | None = None,
                 on_failure: Callable[[BaseException], None] | None = None,
                 on_progress: Callable[[int, int, str], None] | None = None,
                 on_post: Callable[[Any], None] | None = None,
                 on_finished: Callable[[], None] | None = None,
                 lanes: Lanes | None = None, lane: str = "io", pool: QThreadPool | None = None,
                 context: bool = False, cancel: CancelToken | None = None, label: str = "") -> None:
        self.parent = parent
        self.fn = fn
        self.on_success, self.on_failure, self.on_progress = on_success, on_failure, on_progress
        self.on_post, self.on_finished = on_post, on_finished
        self.lanes, self.lane, self.pool = lanes, lane, pool
        self.label = label
        self.worker = FunctionWorker(fn, pass_context=context)
        if cancel is not None:
            self.worker.cancel_token = cancel
        self._posts: _Posts | None = None
        self._receiver: _Receiver | None = None
        self.started = False

    # -- the caller's side (GUI thread) ---------------------------------------------------------------
    @property
    def cancel_token(self) -> CancelToken:
        return self.worker.cancel_token

    @property
    def done(self) -> bool:
        """True once ``fn`` has returned or raised (its results may still be on their way)."""
        return self.worker.done

    def cancel(self) -> None:
        """Ask the job to stop (cooperative: ``fn`` checks its token); a finished job ignores it."""
        if not self.worker.done:
            self.worker.cancel_token.cancel()

    def run(self) -> BackgroundOp:
        """Start the job (once). Returns the op."""
        if self.started:
            raise RuntimeError("a BackgroundOp runs once")
        self.started = True
        if not _finishing:
            _finished.clear()
        receiver = self._receiver = _Receiver(self)
        signals = self.worker.signals
        signals.succeeded.connect(receiver._on_succeeded)  # noqa: SLF001
        signals.failed.connect(receiver._on_failed)  # noqa: SLF001
        signals.progress.connect(receiver._on_progress)  # noqa: SLF001
        signals.finished.connect(receiver._on_finished)  # noqa: SLF001
        self._posts = _Posts()
        self._posts.posted.connect(receiver._on_posted)  # noqa: SLF001
        _live.add(receiver)
        if self.pool is not None:
            if self.lanes is not None:
                self.lanes.submit(self.pool, self.worker)
            else:
                self.pool.start(self.worker)
        elif self.lanes is not None:
            self.lanes.submit(getattr(self.lanes, self.lane), self.worker)
        else:
            QThreadPool.globalInstance().start(self.worker)
        return self

    # -- the job's side (worker thread) ---------------------------------------------------------------
    def post(self, item: Any) -> None:
        """Hand ``item`` to ``on_post`` on the GUI thread (callable from the worker thread)."""
        posts = self._posts
        if posts is None:
            return
        try:
            posts.posted.emit(item)
        except RuntimeError as e:  # the channel is gone (the app is quitting)
            log.debug("post of a finished job dropped: %s", e)

    # -- delivery (GUI thread) ------------------------------------------------------------------------
    def _alive(self) -> bool:
        return self.parent is None or shiboken6.isValid(self.parent)

    def _deliver_success(self, result: object) -> None:
        if self._alive() and self.on_success is not None:
            self.on_success(result)

    def _deliver_failure(self, exc: object) -> None:
        if not isinstance(exc, BaseException):
            return
        if not self._alive():
            log.debug("%s failed after its window closed: %r", self.label or "background job", exc)
            return
        if self.on_failure is not None:
            self.on_failure(exc)
        else:
            if not isinstance(exc, Cancelled):
                log.warning("%s failed: %r", self.label or "background job", exc)
            parent = self.parent if isinstance(self.parent, QWidget) else None
            show_exception(parent, self.label or "Error", exc)

    def _deliver_progress(self, done: int, total: int, message: str) -> None:
        if self._alive() and self.on_progress is not None:
            self.on_progress(done, total, message)

    def _deliver_post(self, item: object) -> None:
        if self._alive() and self.on_post is not None:
            self.on_post(item)

    def _deliver_finished(self) -> None:
        if self._alive() and self.on_finished is not None:
            self.on_finished()
