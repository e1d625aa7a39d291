"""User settings: a typed model with a schema version, stored as TOML, saved atomically.

Versioning rule (napari's): adding an option changes nothing; changing a default is a MINOR change;
removing or renaming an option is a MAJOR change and needs a migration function in ``_MIGRATIONS``
that turns schema N into N+1.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import tomli_w

from notebooklm_local.core.errors import ConfigError

__all__ = ["Settings", "ModelSettings", "ServerSettings", "ChatSettings", "IndexSettings", "SCHEMA_VERSION", "load_settings", "save_settings"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2


@dataclass
class ModelSettings:
    """The chat/generation model and how llama.cpp runs it."""

    path: str = ""  # empty: the embedded default model
    n_ctx: int = 4096
    n_gpu_layers: int = -1  # -1: all layers when the llama.cpp build has a GPU backend, else 0
    n_threads: int = 0  # 0: llama.cpp's choice
    embedding_path: str = ""  # empty: the default embedder (all-MiniLM-L6-v2, made at first use)
    flash_attn: str = "auto"  # auto (on when the backend offloads to a GPU) | on | off
    chat_format: str = "auto"  # auto (GGUF template, else family fallback, else raw) | raw | <family>
    extra_paths: list[str] = field(default_factory=list)  # GGUFs the user added from elsewhere
    hub_endpoint: str = ""  # Hugging Face endpoint for downloads; empty: $HF_ENDPOINT or the hub


@dataclass
class ServerSettings:
    """An OpenAI-compatible model server (llama-server, Ollama, LM Studio, vLLM) instead of llama.cpp."""

    enabled: bool = False
    base_url: str = "http://127.0.0.1:8080/v1"
    model: str = ""  # the server's model id; empty: the first one /models lists
    api_key_env: str = "OPENAI_API_KEY"  # name of the environment variable holding the key (never stored)
    n_ctx: int = 8192  # the server's context size (servers rarely report it)
    timeout_s: float = 120.0


@dataclass
class ChatSettings:
    """How answers are made."""

    top_k: int = 8  # passages retrieved per question
    answer_tokens: int = 512  # room kept for the answer
    temperature: float = 0.2
    structured: str = "auto"  # auto (on for raw-completion models) | on | off: JSON-schema answers
    rewrite_followups: bool = True
    min_similarity: float = 0.4  # below this (and without a keyword match) a passage is "not relevant"
    mode: str = "auto"  # auto (quotes for base models, else generate) | generate | quotes (no model: cited sentences)


@dataclass
class IndexSettings:
    """Where the vector index lives, and how sources are read into it."""

    backend: str = "persistent"  # "persistent" (in the data dir) or "http" (a Chroma server)
    host: str = "127.0.0.1"
    port: int = 8000
    ocr: bool = True  # read scanned PDF pages with OCR (Tesseract) when they have no text layer


@dataclass
class StudioSettings:
    """Summaries, chain of density and podcasts."""

    summary_length: str = "medium"  # short | medium | long
    audience: str = "general"  # beginner | general | expert
    cod_steps: int = 5
    cod_words: int = 80  # the word budget every chain-of-density step keeps
    retries: int = 2  # extra attempts when a structured step is unusable
    host_a: str = "Alex"
    host_b: str = "Sam"
    podcast_length: str = "short"  # short | medium | long


@dataclass
class TtsSettings:
    """Podcast audio."""

    engine: str = "espeak-ng"  # espeak-ng, or a plugin's engine (piper, ...)
    voice_a: str = ""  # empty: the engine's default first voice for the language
    voice_b: str = ""
    rate_wpm: int = 165
    pause_s: float = 0.45  # silence between turns
    format: str = "wav"  # wav | mp3 | ogg (mp3/ogg need ffmpeg, lame or oggenc)


@dataclass
class UiSettings:
    theme: str = "system"  # system | light | dark
    first_run_done: bool = False


@dataclass
class Settings:
    schema_version: int = SCHEMA_VERSION
    output_language: str = ""  # empty: the language of the question
    disabled_plugins: list[str] = field(default_factory=list)
    model: ModelSettings = field(default_factory=ModelSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    chat: ChatSettings = field(default_factory=ChatSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    studio: StudioSettings = field(default_factory=StudioSettings)
    tts: TtsSettings = field(default_factory=TtsSettings)
    ui: UiSettings = field(default_factory=UiSettings)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# schema N -> N+1 migrations, applied in order to the raw TOML dict.
def _v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 moved the top-level ``tts_engine`` into ``[tts] engine``."""
    engine = raw.pop("tts_engine", None)
    if isinstance(engine, str) and engine:
        tts = raw.setdefault("tts", {})
        if isinstance(tts, dict):
            tts.setdefault("engine", engine)
    return raw


_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def _from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"settings: [{where}] must be a table, got {type(data).__name__}")
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        typ = hints[f.name]
        key = f"{where}.{f.name}" if where else f.name
        if dataclasses.is_dataclass(typ):
            kwargs[f.name] = _from_dict(typ, value, key)  # type: ignore[arg-type]
            continue
        expected = getattr(typ, "__origin__", typ)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok = isinstance(value, expected) and not (expected in (int, float) and isinstance(value, bool))
        if expected is list and ok:
            ok = all(isinstance(v, str) for v in value)
        if not ok:
            raise ConfigError(f"settings: '{key}' should be {getattr(expected, '__name__', expected)}, got {value!r}")
        kwargs[f.name] = value
    unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        log.warning("settings: ignoring unknown keys in [%s]: %s", where or "top", ", ".join(sorted(unknown)))
    return cls(**kwargs)


def parse_settings(text: str) -> Settings:
    """Parse TOML text into Settings, migrating older schemas. Raises ConfigError."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"settings file is not valid TOML: {e}") from e
    version = raw.get("schema_version", 1)
    if not isinstance(version, int) or version < 1:
        raise ConfigError(f"settings: bad schema_version {version!r}")
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"settings were written by a newer notebooklm-local (schema {version} > {SCHEMA_VERSION})"
        )
    while version < SCHEMA_VERSION:
        raw = _MIGRATIONS[version](raw)
        version += 1
    raw["schema_version"] = SCHEMA_VERSION
    return _from_dict(Settings, raw, "")


def load_settings(path: Path) -> Settings:
    """Load settings; a missing file gives defaults.

    A file that cannot be parsed is moved aside (``settings.toml.bad-<time>``, nothing is lost) and
    defaults are used, with a warning in the log.
    """
    error: Exception
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as e:
        error = e
    else:
        try:
            return parse_settings(text)
        except ConfigError as e:
            error = e
    backup = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(path, backup)
    except OSError:
        backup = path
    log.warning("settings: %s; kept the file as %s and started from defaults", error, backup)
    return Settings()


def save_settings(settings: Settings, path: Path) -> None:
    """Write settings atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = tomli_w.dumps(settings.to_dict())
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
