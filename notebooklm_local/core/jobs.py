"""Cancellation and progress primitives shared by the CLI, the GUI workers and the services."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from notebooklm_local.core.errors import Cancelled

__all__ = ["CancelToken", "ProgressFn", "no_progress"]


class CancelToken:
    """A cooperative cancellation flag, checked by long-running work between steps.

    It also carries the job's progress back to whoever started it: long work inside a source loader
    (OCR of scanned pages) calls :meth:`report`, which does nothing unless the token was given a
    ``progress`` callback (the library service gives one, so the sources pane shows "OCR page 3/12").
    Loaders that never call it keep working unchanged.
    """

    def __init__(self, progress: Callable[[int, int, str], None] | None = None) -> None:
        self._event = threading.Event()
        self._progress = progress

    def report(self, done: int, total: int, message: str = "") -> None:
        """Report progress of the work this token belongs to (never raises; a no-op without a callback)."""
        if self._progress is None or self.is_set():  # a cancelled (or timed-out) load reports no more
            return
        try:
            self._progress(done, total, message)
        except Cancelled:
            raise
        except Exception:  # noqa: BLE001, S110 - progress is cosmetic
            pass

    def cancel(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def raise_if_set(self) -> None:
        """Raise :class:`Cancelled` if cancellation was requested."""
        if self._event.is_set():
            raise Cancelled()


class ProgressFn(Protocol):
    def __call__(self, done: int, total: int, message: str = "") -> None: ...


def no_progress(done: int, total: int, message: str = "") -> None:
    """A progress callback that ignores its arguments."""


ProgressCallback = Callable[[int, int, str], None]
