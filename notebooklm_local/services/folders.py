"""Which files of a local folder adding it takes (the filter shared by folder-add and watched folders)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

__all__ = ["walk_folder"]


def walk_folder(folder: Path, extensions: set[str], accept: Callable[[Path], bool] | None = None, *,
                recursive: bool = True) -> tuple[list[Path], list[tuple[str, str]]]:
    """The files of ``folder`` that adding the folder takes (sorted), and the skipped ones with the reason.

    Hidden files and folders (a name starting with ".") are left out silently; a file is taken when its
    extension is one of ``extensions`` or ``accept(file)`` says a loader reads it by its content. Only the
    folder's own files unless ``recursive``. Used by ``expand_inputs`` and by watched folders' sync.
    """
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for f in sorted(folder.rglob("*") if recursive else folder.glob("*")):
        if any(part.startswith(".") for part in f.relative_to(folder).parts) or f.is_dir():
            continue
        if not f.is_file():  # a FIFO, socket or device (or a dangling link): never opened
            skipped.append((str(f), "not a regular file"))
        elif f.suffix.lower() in extensions or (accept is not None and accept(f)):
            files.append(f)
        elif not f.suffix:
            skipped.append((str(f), "unsupported file type (no extension, and not plain text)"))
        else:
            skipped.append((str(f), f"unsupported file type '{f.suffix}'"))
    return files, skipped
