"""GGUF file checks that need no llama.cpp: magic bytes, size; clear errors before a native load."""

from __future__ import annotations

from pathlib import Path

from notebooklm_local.core.errors import ModelLoadError

__all__ = ["check_gguf_file"]

GGUF_MAGIC = b"GGUF"


def check_gguf_file(path: Path) -> Path:
    """Return the resolved path if it looks like a GGUF model, else raise ModelLoadError."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelLoadError(f"Model file not found: {p}")
    if not p.is_file():
        raise ModelLoadError(f"Model path is not a file: {p}")
    try:
        with p.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelLoadError(f"Cannot read model file {p}: {e.strerror or e}") from e
    if magic != GGUF_MAGIC:
        raise ModelLoadError(
            f"{p.name} is not a GGUF model (the file does not start with 'GGUF'). "
            "notebooklm-local runs llama.cpp GGUF files; convert or download a .gguf."
        )
    return p.resolve()
