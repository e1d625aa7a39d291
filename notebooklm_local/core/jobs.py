"""Cancellation and progress primitives shared by the CLI, the GUI workers and the services."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from notebooklm_local.core.errors import Cancelled

__all__ = ["CancelToken", "ProgressFn", "no_progress"]


class CancelToken:
    """A cooperative cancellation flag, checked by long-running work between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

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
