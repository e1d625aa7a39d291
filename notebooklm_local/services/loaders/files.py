"""Reading a local source file, with the same clear errors for every loader.

Only regular files are read: a FIFO, socket or device given as ``notes.txt`` would block the read
forever (or never end), so it is refused before it is opened, and the file is opened non-blocking
and checked again on the open descriptor (no window for a swap in between).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from notebooklm_local.core.errors import SourceLoadError

__all__ = ["read_file_bytes", "read_file_head", "MAX_FILE_BYTES", "check_regular_file"]

MAX_FILE_BYTES = 200_000_000


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def check_regular_file(path: Path) -> os.stat_result:
    """Stat ``path`` (following links); raise SourceLoadError unless it is a regular file."""
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise SourceLoadError(f'"{path.name}" is a folder, not a file.')
    if not stat.S_ISREG(st.st_mode):
        raise SourceLoadError(f'"{path.name}" is {_kind(st.st_mode)}, not a regular file; only files can be added '
                              f"({path}).")
    return st


def read_file_bytes(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """Read a local regular file; missing, folder, special, unreadable and oversize files raise SourceLoadError."""
    try:
        size = check_regular_file(path).st_size
        if size > limit:
            raise SourceLoadError(f"{path.name} is {size / 1e6:.0f} MB; the limit is {limit / 1e6:.0f} MB.")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):  # swapped for a FIFO between stat and open
                raise SourceLoadError(f'"{path.name}" is {_kind(st.st_mode)}, not a regular file.')
            data = f.read(limit + 1)
        if len(data) > limit:
            raise SourceLoadError(f"{path.name} is over the {limit / 1e6:.0f} MB limit.")
        return data
    except FileNotFoundError as e:
        raise SourceLoadError(f'File not found: "{path.name}" ({path})') from e
    except PermissionError as e:
        raise SourceLoadError(f'No permission to read "{path.name}" ({path})') from e
    except IsADirectoryError as e:
        raise SourceLoadError(f'"{path.name}" is a folder, not a file.') from e
    except OSError as e:
        raise SourceLoadError(f'Cannot read "{path.name}": {e.strerror or e}') from e


def read_file_head(path: Path, size: int) -> bytes | None:
    """The first ``size`` bytes of a local regular file, or None when it is missing, special or unreadable
    (for sniffing a file's type: never raises, never opens a FIFO or device)."""
    try:
        check_regular_file(path)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            return f.read(size)
    except (OSError, SourceLoadError):
        return None
