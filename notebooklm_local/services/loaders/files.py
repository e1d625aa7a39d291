"""Reading a local source file, with the same clear errors for every loader."""

from __future__ import annotations

from pathlib import Path

from notebooklm_local.core.errors import SourceLoadError

__all__ = ["read_file_bytes", "MAX_FILE_BYTES"]

MAX_FILE_BYTES = 200_000_000


def read_file_bytes(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """Read a local file; missing, folder, unreadable and oversize files raise SourceLoadError."""
    try:
        if path.is_dir():
            raise SourceLoadError(f'"{path.name}" is a folder, not a file.')
        size = path.stat().st_size
        if size > limit:
            raise SourceLoadError(f"{path.name} is {size / 1e6:.0f} MB; the limit is {limit / 1e6:.0f} MB.")
        return path.read_bytes()
    except FileNotFoundError as e:
        raise SourceLoadError(f'File not found: "{path.name}" ({path})') from e
    except PermissionError as e:
        raise SourceLoadError(f'No permission to read "{path.name}" ({path})') from e
    except IsADirectoryError as e:
        raise SourceLoadError(f'"{path.name}" is a folder, not a file.') from e
    except OSError as e:
        raise SourceLoadError(f'Cannot read "{path.name}": {e.strerror or e}') from e
