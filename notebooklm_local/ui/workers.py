"""Background work for the GUI: lanes (thread pools) and function workers with Qt signals.

Rules (house style 2.4): workers never touch widgets; they emit signals that are delivered, queued,
to bound ``@Slot`` methods of GUI-thread objects. Long work is cancellable via a CancelToken.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from notebooklm_local.core.jobs import CancelToken

__all__ = ["Lanes", "FunctionWorker", "WorkerSignals"]

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    """Signals of a worker (a QRunnable is not a QObject).

    Signals:
        succeeded(object): the function's return value.
        failed(object): the exception raised.
        progress(int, int, str): done, total, message.
        finished(): always, last.
    """

    succeeded = Signal(object)
    failed = Signal(object)
    progress = Signal(int, int, str)
    finished = Signal()


class FunctionWorker(QRunnable):
    """Runs ``fn(cancel=token, progress=cb)`` on a pool thread."""

    def __init__(self, fn: Callable[..., Any], *, pass_context: bool = False) -> None:
        super().__init__()
        self.fn = fn
        self.pass_context = pass_context
        self.cancel_token = CancelToken()
        self.signals = WorkerSignals()
        self.done = False
        self.setAutoDelete(True)

    def _progress(self, done: int, total: int, message: str = "") -> None:
        self._emit(self.signals.progress, done, total, message)

    def run(self) -> None:
        try:
            if self.pass_context:
                result = self.fn(cancel=self.cancel_token, progress=self._progress)
            else:
                result = self.fn()
        except BaseException as e:  # noqa: BLE001 - every failure must reach the GUI
            log.debug("worker failed:\n%s", traceback.format_exc())
            self._emit(self.signals.failed, e)
        else:
            self._emit(self.signals.succeeded, result)
        finally:
            self.done = True
            self._emit(self.signals.finished)

    @staticmethod
    def _emit(signal: Any, *args: Any) -> None:
        """Emit, unless the receiver side is gone: a job that outlives its window (the app is quitting and
        the job ignored its cancel) has nobody to tell, and must not print a traceback on the way out."""
        try:
            signal.emit(*args)
        except RuntimeError as e:  # "Signal source has been deleted"
            log.debug("result of a finished job dropped: %s", e)


class Lanes:
    """The lanes: ``llm`` (1 thread), ``store`` (1 thread), ``io`` (a few threads) and ``templates`` (1 thread).

    ``templates`` checks prompt templates as they are typed: a template that is slow to validate (it
    renders under a time budget) then waits only for itself, never for a download, a folder walk or an
    index write, and never holds up one of them.
    """

    def __init__(self) -> None:
        self.llm = QThreadPool()
        self.llm.setMaxThreadCount(1)
        self.store = QThreadPool()
        self.store.setMaxThreadCount(1)
        self.io = QThreadPool()
        self.io.setMaxThreadCount(max(2, min(4, QThreadPool.globalInstance().maxThreadCount())))
        self.templates = QThreadPool()
        self.templates.setMaxThreadCount(1)
        self._active: set[FunctionWorker] = set()

    def submit(self, pool: QThreadPool, worker: FunctionWorker) -> FunctionWorker:
        # no cross-thread connection for bookkeeping (PySide6 6.8+ lambda-slot crashes, PYSIDE-3124):
        # finished workers are pruned here instead.
        self._active = {w for w in self._active if not w.done}
        self._active.add(worker)
        pool.start(worker)
        return worker

    def shutdown(self, timeout_ms: int = 3000) -> bool:
        """Cancel all work and wait (bounded) for the lanes to drain. True if all finished.

        ``timeout_ms`` bounds the whole wait, not each lane's (four lanes would make it up to 4x).
        """
        for w in list(self._active):
            w.cancel_token.cancel()
        ok = True
        deadline = time.monotonic() + timeout_ms / 1000
        for pool in (self.llm, self.store, self.io, self.templates):
            left = max(0, round((deadline - time.monotonic()) * 1000))
            ok = pool.waitForDone(left) and ok
        if not ok:
            log.warning("some background work did not stop within %d ms", timeout_ms)
        return ok
