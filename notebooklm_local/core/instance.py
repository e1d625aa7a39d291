"""Single-instance lock on a data directory.

Chroma's PersistentClient must not be opened by two processes at once (chroma #961: "can cause
strange behavior including data deletion"), so the GUI and the data-changing CLI commands hold an
exclusive OS lock on ``<data>/.lock``. The OS releases it when the process dies, even on kill -9.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from notebooklm_local.core.errors import DataDirLockedError

__all__ = ["InstanceLock"]


class InstanceLock:
    """An exclusive, non-blocking lock on a data directory."""

    def __init__(self, lock_file: Path) -> None:
        self.path = lock_file
        self._lock = FileLock(str(lock_file), timeout=0, is_singleton=False)

    def acquire(self) -> InstanceLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            raise DataDirLockedError(
                f"Another notebooklm-local is using {self.path.parent}. Close it first, "
                "or start with --basedir DIR to use a separate data directory."
            ) from None
        info = self.path.with_suffix(".pid")
        try:
            info.write_text(str(os.getpid()), encoding="utf-8")
        except OSError:  # a full disk or a read-only dir: the pid file is informative only, the lock holds
            logging.getLogger(__name__).warning("could not write %s", info, exc_info=True)
        return self

    def release(self) -> None:
        if self._lock.is_locked:
            try:
                self.path.with_suffix(".pid").unlink(missing_ok=True)
            except OSError:
                pass
            self._lock.release()

    @property
    def is_locked(self) -> bool:
        return self._lock.is_locked

    def __enter__(self) -> InstanceLock:
        return self.acquire()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
