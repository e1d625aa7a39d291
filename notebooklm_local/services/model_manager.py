"""The model manager: GGUF models known to the app, their metadata, adding, downloading and removing them.

Known models are the ``*.gguf`` files in ``<data>/models`` (downloads and the embedded default land there)
plus the files the user added from elsewhere (``settings.model.extra_paths``).

Metadata comes from the GGUF header, read without loading the model in llama.cpp
(:func:`notebooklm_local.services.gguf.read_gguf_header`: ~35 ms for the embedded Gemma).

Downloads use huggingface_hub (2.x) for what it is good at — the hub URL and headers (token, user agent),
the HEAD metadata request (``get_hf_file_metadata``: sha256 ETag, size, CDN location), its HTTP session
and its typed errors — but stream the body themselves: ``hf_hub_download`` in 2.4 downloads into a
process-unique temporary file that it *deletes* on any failure (huggingface_hub PR #4228), so a cancelled
or interrupted download always starts again from zero, and it reads in 10 MiB blocks, too coarse for
prompt cancelling. Here the partial file is ``<data>/models/.<name>.<etag>.part``; a later download of the
same file resumes it with an HTTP ``Range`` request, checks the sha256 against the hub's LFS ETag and
renames it into place (same directory: atomic, never a half file under the final name, never a symlink
into a cache). Xet is never used (plain HTTP works against any hub mirror), and huggingface_hub's
"telemetry" (its agent-detection request to huggingface.co that ``build_hf_headers`` triggers) is off.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebooklm_local.core.errors import Cancelled, ModelLoadError, NotebookError
from notebooklm_local.core.jobs import CancelToken, ProgressCallback
from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import Settings
from notebooklm_local.services.gguf import GGUFHeader, check_gguf_file, read_gguf_header
from notebooklm_local.services.models import DEFAULT_MODEL_NAME, default_embedder_path, model_candidates

__all__ = [
    "CATALOG",
    "CatalogEntry",
    "DownloadError",
    "ModelInfo",
    "ModelManager",
    "Removed",
    "catalog_entry",
    "read_model_info",
]

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"


class DownloadError(NotebookError):
    """A model download failed (network, hub, disk, checksum). The message says what to do."""


# --------------------------------------------------------------------------------------------------
# Curated catalog
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogEntry:
    """A recommended GGUF on the Hugging Face hub."""

    name: str  # short name for the CLI / GUI
    repo_id: str
    filename: str
    kind: str  # "chat" | "embedding"
    size_mb: int  # approximate download size
    description: str
    multilingual: bool = False
    license: str = ""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Repo ids, file names and sizes were checked against the hub's file listings as archived in the
# documentation search corpus (huggingface.co/<repo>/tree/...), except where a comment says otherwise.
# The hub itself cannot be reached from the development machines.
CATALOG: tuple[CatalogEntry, ...] = (
    # Repo and the q4_K_M quant from the official model card; the exact file name from third-party
    # scripts that download it (not seen on a file listing).
    CatalogEntry("qwen2.5-0.5b-instruct", "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct-q4_k_m.gguf",
                 "chat", 491, "Qwen2.5 0.5B Instruct, Q4_K_M: the smallest useful instruct model; 29+ languages.",
                 multilingual=True, license="apache-2.0"),
    CatalogEntry("qwen2.5-1.5b-instruct", "bartowski/Qwen2.5-1.5B-Instruct-GGUF", "Qwen2.5-1.5B-Instruct-Q4_K_M.gguf",
                 "chat", 986, "Qwen2.5 1.5B Instruct, Q4_K_M: good answers on a laptop CPU; 29+ languages.",
                 multilingual=True, license="apache-2.0"),
    CatalogEntry("qwen2.5-3b-instruct", "bartowski/Qwen2.5-3B-Instruct-GGUF", "Qwen2.5-3B-Instruct-Q4_K_M.gguf",
                 "chat", 1930, "Qwen2.5 3B Instruct, Q4_K_M: better reasoning; 29+ languages (research licence).",
                 multilingual=True, license="qwen-research"),
    CatalogEntry("llama-3.2-1b-instruct", "bartowski/Llama-3.2-1B-Instruct-GGUF", "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
                 "chat", 808, "Llama 3.2 1B Instruct, Q4_K_M: small and fast; 8 languages.",
                 multilingual=True, license="llama3.2"),
    CatalogEntry("llama-3.2-3b-instruct", "bartowski/Llama-3.2-3B-Instruct-GGUF", "Llama-3.2-3B-Instruct-Q4_K_M.gguf",
                 "chat", 2020, "Llama 3.2 3B Instruct, Q4_K_M: solid all-rounder; 8 languages.",
                 multilingual=True, license="llama3.2"),
    CatalogEntry("gemma-3-1b-it", "lmstudio-community/gemma-3-1b-it-GGUF", "gemma-3-1b-it-Q4_K_M.gguf",
                 "chat", 806, "Gemma 3 1B instruction-tuned, Q4_K_M: the instruct sibling of the embedded model.",
                 license="gemma"),
    CatalogEntry("nomic-embed-text-v1.5", "nomic-ai/nomic-embed-text-v1.5-GGUF", "nomic-embed-text-v1.5.Q4_K_M.gguf",
                 "embedding", 84, "nomic-embed-text v1.5, Q4_K_M: strong English embedder, 8k context "
                 "(expects 'search_query: ' / 'search_document: ' prefixes).", license="apache-2.0"),
    CatalogEntry("all-minilm-l6-v2", "second-state/All-MiniLM-L6-v2-Embedding-GGUF", "all-MiniLM-L6-v2-Q8_0.gguf",
                 "embedding", 25, "all-MiniLM-L6-v2, Q8_0: tiny, fast English embedder (512-token context).",
                 license="apache-2.0"),
    CatalogEntry("bge-m3", "rbehzadan/bge-m3-gguf", "bge-m3-Q8_0.gguf",
                 "embedding", 635, "BAAI bge-m3, Q8_0: multilingual embedder (100+ languages, 8k context); "
                 "a community conversion.", multilingual=True, license="mit"),
)


def catalog_entry(name: str) -> CatalogEntry | None:
    """The catalog entry with this short name (case-insensitive), or None."""
    key = name.strip().lower()
    return next((e for e in CATALOG if e.name == key), None)


# --------------------------------------------------------------------------------------------------
# Model info
# --------------------------------------------------------------------------------------------------

_EMBEDDING_ARCHS = {"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "jina-bert-v3", "modern-bert",
                    "neo-bert", "t5encoder", "gemma-embedding"}



@dataclass(frozen=True)
class ModelInfo:
    """A model file as the app sees it. ``error`` is set (and metadata is None) when it cannot be read."""

    path: Path
    size: int
    architecture: str | None = None
    name: str | None = None
    quantization: str | None = None  # "Q4_K_M", "F16", ...
    context_length: int | None = None
    size_label: str | None = None  # "270M", "1.5B" (general.size_label, else from the parameter count)
    parameters: int | None = None
    has_chat_template: bool = False
    chat_template: str | None = field(default=None, repr=False)
    is_embedding: bool = False
    model_type: str | None = None  # general.type: "model", "adapter" (LoRA), "mmproj"...
    default: bool = False  # the embedded default model
    source: str = "data dir"  # "data dir" | "added" | "default"
    in_use: tuple[str, ...] = ()  # "chat" and/or "embedding": the roles the settings give this file
    error: str | None = None

    @property
    def file_name(self) -> str:
        return self.path.name

    @property
    def kind(self) -> str:
        return "embedding" if self.is_embedding else "chat"

    def to_json(self, *, with_template: bool = False) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["path"] = str(self.path)
        d["file_name"] = self.path.name
        d["in_use"] = list(self.in_use)
        d["kind"] = self.kind if self.error is None else None
        if not with_template:
            d.pop("chat_template")
        return d


def _quantization(header: GGUFHeader, gguf: Any) -> str | None:
    ft = header.metadata.get("general.file_type")
    if isinstance(ft, int):
        try:
            label = gguf.LlamaFileType(ft & ~1024).name  # 1024: llama.cpp's "guessed" flag
            return label.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            pass
    if header.tensor_types:  # no (known) file type: name the type holding most weights
        ttype = header.tensor_types.most_common(1)[0][0]
        try:
            return gguf.GGMLQuantizationType(ttype).name
        except ValueError:
            return f"type {ttype}"
    return None


def _size_label(header: GGUFHeader) -> str | None:
    label = header.metadata.get("general.size_label")
    if isinstance(label, str) and label:
        return label
    n = header.parameters
    if not n:
        return None
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"


def read_model_info(path: Path, *, source: str = "data dir", default: bool = False) -> ModelInfo:
    """Metadata of one GGUF model file. Raises ModelLoadError for missing, corrupt or truncated files."""
    import gguf

    p = Path(path)
    header = read_gguf_header(p)
    meta = header.metadata
    arch = meta.get("general.architecture")
    arch = arch if isinstance(arch, str) else None
    template = meta.get("tokenizer.chat_template")
    template = template if isinstance(template, str) and template.strip() else None
    ctx = meta.get(f"{arch}.context_length")
    is_embedding = arch in _EMBEDDING_ARCHS or f"{arch}.pooling_type" in meta or meta.get(f"{arch}.attention.causal") is False
    name = meta.get("general.name")
    mtype = meta.get("general.type")
    return ModelInfo(
        path=p,
        size=p.stat().st_size,
        architecture=arch,
        name=name if isinstance(name, str) else None,
        quantization=_quantization(header, gguf),
        context_length=ctx if isinstance(ctx, int) and not isinstance(ctx, bool) else None,
        size_label=_size_label(header),
        parameters=header.parameters or None,
        has_chat_template=template is not None,
        chat_template=template,
        is_embedding=bool(is_embedding),
        model_type=mtype if isinstance(mtype, str) else None,
        default=default,
        source=source,
    )


# --------------------------------------------------------------------------------------------------
# The manager
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Removed:
    """What :meth:`ModelManager.remove` did."""

    info: ModelInfo
    forgot: bool  # dropped from settings.model.extra_paths
    deleted: bool  # the file was deleted
    cleared: tuple[str, ...]  # settings reset to the embedded default ("chat", "embedding")

    def message(self) -> str:
        what = []
        if self.deleted:
            what.append(f"deleted {self.info.path}")
        if self.forgot:
            what.append(f"forgot {self.info.path}" + ("" if self.deleted else " (the file is kept)"))
        text = "; ".join(what) or f"nothing to do for {self.info.path}"
        if self.info.default and self.deleted:
            text += " — the embedded default model is assembled again from the installed package when needed"
        if self.cleared:
            text += f"; the {' and '.join(self.cleared)} model is the embedded default again"
        return text


class ModelManager:
    """Models known to the app, and adding, downloading and removing them.

    Methods that change the settings (:meth:`add`, :meth:`remove`) change ``settings`` in place and then
    call ``save(settings)`` if given (the CLI passes ``save_settings``); without ``save`` the caller saves.
    """

    chunk_size = 1 << 20  # bytes between progress reports when downloading
    min_rate_bps = 2_000.0  # a download slower than this over ``rate_window_s`` is stopped (resumable)
    rate_window_s = 60.0

    def __init__(self, paths: AppPaths, settings: Settings, save: Callable[[Settings], None] | None = None) -> None:
        self.paths = paths
        self.settings = settings
        self.save = save
        self._cache: dict[Path, tuple[int, int, ModelInfo]] = {}

    # ---- listing -----------------------------------------------------------------------------

    @property
    def default_path(self) -> Path:
        return (self.paths.models / DEFAULT_MODEL_NAME).resolve()

    def _setting_path(self, value: str) -> Path | None:
        return Path(value).expanduser().resolve() if value else None

    def _roles(self, path: Path) -> tuple[str, ...]:
        """Roles the settings give this file; an empty setting means the embedded default."""
        m = self.settings.model
        chat = self._setting_path(m.path) or self.default_path
        emb = self._setting_path(m.embedding_path) or default_embedder_path(self.paths).resolve()
        return tuple(r for r, p in (("chat", chat), ("embedding", emb)) if p == path)

    def _explicit_roles(self, path: Path) -> tuple[str, ...]:
        m = self.settings.model
        return tuple(r for r, v in (("chat", m.path), ("embedding", m.embedding_path))
                     if v and self._setting_path(v) == path)

    def _candidates(self) -> Iterator[tuple[Path, str]]:
        return model_candidates(self.paths, self.settings)

    def info(self, path: Path, source: str = "data dir") -> ModelInfo:
        """Metadata of one file (cached by size and mtime); a missing or unreadable file gives ``error``."""
        path = Path(path)
        extra: dict[str, Any] = {"source": source, "default": path == self.default_path, "in_use": self._roles(path)}
        try:
            st = path.stat()
        except OSError:
            return ModelInfo(path, 0, error="file not found", **extra)
        cached = self._cache.get(path)
        if cached and cached[:2] == (st.st_size, st.st_mtime_ns):
            return dataclasses.replace(cached[2], **extra)
        try:
            info = dataclasses.replace(read_model_info(path), **extra)
        except ModelLoadError as e:
            return ModelInfo(path, st.st_size, error=str(e), **extra)
        self._cache[path] = (st.st_size, st.st_mtime_ns, info)
        return info

    def list(self) -> list[ModelInfo]:
        """The models in the data dir, then the added ones; unreadable or missing files are listed with ``error``."""
        return [self.info(p, source) for p, source in self._candidates()]

    def find(self, target: str | os.PathLike[str]) -> ModelInfo:
        """A known model by path, file name (with or without ``.gguf``) or catalog short name."""
        text = str(target)
        as_path = Path(text).expanduser()
        infos = self.list()
        if as_path.is_absolute() or os.sep in text or (os.altsep and os.altsep in text):
            rp = as_path.resolve()
            match = [i for i in infos if i.path == rp]
        else:
            entry = catalog_entry(text)
            names = {text.lower(), f"{text.lower()}.gguf"}
            if entry:
                names.add(Path(entry.filename).name.lower())
            match = [i for i in infos if i.path.name.lower() in names]
        if not match:
            raise NotebookError(f"No model '{text}' is known; see `notebooklm-local models list`.")
        if len(match) > 1:
            raise NotebookError(f"'{text}' matches {len(match)} models ({', '.join(str(i.path) for i in match)}); "
                                "give the full path.")
        return match[0]

    # ---- add / remove --------------------------------------------------------------------------

    def _save(self) -> None:
        if self.save is not None:
            self.save(self.settings)

    def add(self, path: str | os.PathLike[str]) -> ModelInfo:
        """Validate a local GGUF and remember it (``settings.model.extra_paths``); files already in the data dir
        need no record. Raises ModelLoadError (settings unchanged) for missing, non-GGUF, corrupt or truncated
        files, LoRA adapters and vision projectors."""
        p = check_gguf_file(Path(path))
        info = read_model_info(p)
        if info.model_type == "adapter":
            raise ModelLoadError(f"{p.name} is a LoRA adapter, not a model; add the base model instead.")
        if info.model_type == "mmproj" or info.architecture == "clip":
            raise ModelLoadError(f"{p.name} is a vision projector (mmproj), not a language model.")
        if p.parent == self.paths.models.resolve():
            return self.info(p, "default" if p == self.default_path else "data dir")
        known = {self._setting_path(v) for v in self.settings.model.extra_paths}
        if p not in known:
            self.settings.model.extra_paths.append(str(p))
            self._save()
        return self.info(p, "added")

    def remove(self, target: str | os.PathLike[str], *, delete_file: bool = False, force: bool = False) -> Removed:
        """Forget an added model (and delete its file with ``delete_file``), or delete a file in the data dir.

        The model the settings name as chat or embedding model is refused unless ``force``, which also resets
        that setting to the embedded default. Deleting the embedded default itself is allowed: it is
        assembled again from the installed package when next needed.
        """
        info = self.find(target)
        explicit = self._explicit_roles(info.path)
        if explicit and not force:
            raise NotebookError(f"{info.path.name} is the {' and '.join(explicit)} model in the settings; choose "
                                "another model first, or force it (the embedded default takes its place).")
        m = self.settings.model
        for role in explicit:
            if role == "chat":
                m.path = ""
            else:
                m.embedding_path = ""
        forgot = False
        if info.source == "added":
            kept = [v for v in m.extra_paths if self._setting_path(v) != info.path]
            forgot = len(kept) != len(m.extra_paths)
            m.extra_paths[:] = kept
        deleted = False
        if info.source != "added" or delete_file:
            try:
                info.path.unlink(missing_ok=True)
            except OSError as e:
                raise NotebookError(f"Could not delete {info.path}: {e.strerror or e}") from e
            deleted = True
            if info.path.parent == self.paths.models.resolve():
                for part in self.paths.models.glob(f".{info.path.name}.*.part"):
                    part.unlink(missing_ok=True)
        self._cache.pop(info.path, None)
        if forgot or explicit:
            self._save()
        return Removed(info, forgot, deleted, explicit)

    # ---- download ------------------------------------------------------------------------------

    def endpoint(self, endpoint: str | None = None) -> str:
        """The hub to use: the argument, else ``settings.model.hub_endpoint``, else ``$HF_ENDPOINT``, else the hub."""
        chosen = endpoint or self.settings.model.hub_endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
        return chosen.rstrip("/")

    @staticmethod
    def resolve(spec: CatalogEntry | str, filename: str | None = None) -> tuple[str, str]:
        """(repo_id, filename) for a catalog entry, a catalog short name, or a repo id plus a file name."""
        if isinstance(spec, CatalogEntry):
            return spec.repo_id, spec.filename
        if filename is None:
            entry = catalog_entry(spec)
            if entry:
                return entry.repo_id, entry.filename
            if "/" in spec:
                raise DownloadError(f"Give the GGUF file to download from {spec}: "
                                    f"notebooklm-local models download {spec} FILE.gguf")
            raise DownloadError(f"'{spec}' is not in the catalog ({', '.join(e.name for e in CATALOG)}); "
                                "or give a repository and a file name.")
        from huggingface_hub.errors import HFValidationError
        from huggingface_hub.utils import validate_repo_id

        try:
            validate_repo_id(spec)
        except HFValidationError as e:
            raise DownloadError(f"'{spec}' is not a Hugging Face repository id (owner/name): {e}") from None
        return spec, filename

    def download(
        self,
        spec: CatalogEntry | str,
        filename: str | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        endpoint: str | None = None,
        revision: str = "main",
        token: str | bool | None = None,
    ) -> ModelInfo:
        """Download a GGUF from the hub into the data dir's models folder; return its info.

        Progress is ``progress(bytes_done, bytes_total, message)``. Cancelling (``cancel``) raises
        :class:`Cancelled` and keeps the partial file: downloading the same file again resumes it. A file
        already downloaded (same sha256) is returned without downloading. ``token``: None uses the logged-in
        token or ``$HF_TOKEN`` like huggingface_hub does; False sends none.
        """
        repo_id, filename = self.resolve(spec, filename)
        name = Path(filename).name
        if not name.lower().endswith(".gguf") or ".." in Path(filename).parts:
            raise DownloadError(f"'{filename}' is not a GGUF file name (*.gguf).")
        if re.search(r"-\d{5}-of-\d{5}\.gguf$", name, re.IGNORECASE):
            raise DownloadError(f"{name} is one part of a split GGUF; choose a single-file quantization.")
        hub = self.endpoint(endpoint)
        try:
            return self._download(repo_id, filename, name, hub, revision, token, progress, cancel)
        except (Cancelled, NotebookError):
            raise
        except Exception as e:  # every failure becomes one clear message
            raise _download_error(e, repo_id, filename, hub, self.paths.models) from e

    def _download(self, repo_id: str, filename: str, name: str, hub: str, revision: str, token: str | bool | None,
                  progress: ProgressCallback | None, cancel: CancelToken | None) -> ModelInfo:
        from filelock import FileLock, Timeout
        from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url

        # huggingface_hub's user agent calls home (an agent-detection request to huggingface.co) unless
        # telemetry is disabled; it reads this flag at call time.
        constants.HF_HUB_DISABLE_TELEMETRY = True
        models = self.paths.models
        models.mkdir(parents=True, exist_ok=True)
        report: ProgressCallback = progress or _no_progress

        url = hf_hub_url(repo_id, filename, revision=revision, endpoint=hub)
        ua = {"library_name": "notebooklm-local", "library_version": _version()}
        meta = get_hf_file_metadata(url, token=token, endpoint=hub, library_name=ua["library_name"],
                                    library_version=ua["library_version"])
        if not meta.commit_hash:
            raise DownloadError(f"{hub} does not answer like a Hugging Face hub (no X-Repo-Commit header); "
                                "check the hub endpoint setting.")
        etag = (meta.etag or "").lower()
        locks = self.paths.cache / "downloads"  # not in the models folder: lock files stay behind
        locks.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(locks / f"{name}.lock"), timeout=0, is_singleton=False)
        try:
            lock.acquire()
        except Timeout:
            raise DownloadError(f"{name} is already being downloaded by another notebooklm-local process.") from None
        try:
            return self._download_locked(repo_id, filename, name, url, meta, etag, token, ua, report, cancel)
        finally:
            lock.release()

    def _download_locked(self, repo_id: str, filename: str, name: str, url: str, meta: Any, etag: str,
                         token: str | bool | None, ua: dict[str, str], report: ProgressCallback,
                         cancel: CancelToken | None) -> ModelInfo:
        from huggingface_hub.utils import build_hf_headers

        models, size = self.paths.models, meta.size
        dest = models / name
        if dest.exists():
            if (size is None or dest.stat().st_size == size) and _matches(dest, etag, cancel):
                log.info("%s is already downloaded", dest)
                report(dest.stat().st_size, dest.stat().st_size, f"{name}: already downloaded")
                return self.info(dest.resolve())
            raise DownloadError(f"{dest} exists and is not {repo_id}/{filename}; remove it first "
                                f"(notebooklm-local models remove {name}).")

        part = models / f".{name}.{re.sub(r'[^0-9a-zA-Z]', '', etag)[:16] or 'noetag'}.part"
        for stale in models.glob(f".{name}.*.part"):
            if stale != part:  # an older version of the file on the hub
                stale.unlink(missing_ok=True)
        have = part.stat().st_size if part.exists() else 0
        if size is not None:
            free = shutil.disk_usage(models).free
            if free < size - have:
                raise DownloadError(f"Not enough disk space for {name}: {_mb(size - have)} needed, {_mb(free)} free "
                                    f"in {models}.")

        # Like hf_hub_download without hf_xet: a Xet-stored file is fetched through /resolve (the hub redirects
        # to a plain-HTTP bridge), any other through the CDN location the HEAD request returned.
        source = url if meta.xet_file_data is not None else meta.location
        headers = build_hf_headers(token=token, library_name=ua["library_name"], library_version=ua["library_version"])
        headers["Accept-Encoding"] = "identity"
        if _origin(source) != _origin(url):
            headers.pop("authorization", None)  # a signed CDN URL: the token stays with the hub

        total = self._fetch(source, headers, part, size, report, cancel, name)
        report(total, total, f"{name}: verifying the checksum")
        if not _matches(part, etag, cancel):
            part.unlink(missing_ok=True)
            raise DownloadError(f"The download of {name} is corrupt (its sha256 does not match the hub's); "
                                "it was deleted — run the download again.")
        try:
            read_model_info(part)
        except ModelLoadError as e:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{repo_id}/{filename} is not a usable GGUF model: {e}") from None
        os.replace(part, dest)
        return self.info(dest.resolve())

    def _fetch(self, url: str, headers: dict[str, str], part: Path, size: int | None,
               report: ProgressCallback, cancel: CancelToken | None, name: str) -> int:
        """Stream ``url`` into ``part``, resuming what is there. Returns the final size."""
        import httpx2
        from huggingface_hub import constants
        from huggingface_hub.utils import hf_raise_for_status, http_stream_backoff

        retries = 0
        while True:
            if cancel is not None:
                cancel.raise_if_set()
            have = part.stat().st_size if part.exists() else 0
            if size is not None and have > size:
                part.unlink()
                have = 0
            if size is not None and have == size:
                return size
            h = dict(headers)
            if have:
                h["Range"] = f"bytes={have}-"
            start = have
            try:
                with http_stream_backoff("GET", url, headers=h, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT,
                                         follow_redirects=True, max_retries=3, retry_on_exceptions=()) as r:
                    if r.status_code == 416:  # our partial file is not a prefix of the remote one
                        part.unlink(missing_ok=True)
                        raise httpx2.RemoteProtocolError("range not satisfiable; starting over")
                    hf_raise_for_status(r)
                    if have and r.status_code != 206:  # the server ignored the Range header
                        have = 0
                    total = size or have + int(r.headers.get("Content-Length") or 0) or None
                    report(have, total or have, f"{name}: {'resuming at ' + _mb(have) if have else 'starting'}")
                    with part.open("ab" if have else "wb") as f:
                        window_t, window_have, reported = time.monotonic(), have, have
                        for chunk in r.iter_bytes():  # as it arrives: a server dripping bytes is seen at once
                            if cancel is not None:
                                cancel.raise_if_set()
                            f.write(chunk)
                            have += len(chunk)
                            now = time.monotonic()
                            if now - window_t >= self.rate_window_s:  # the minimum rate, over a sliding window
                                rate = (have - window_have) / (now - window_t)
                                if rate < self.min_rate_bps:
                                    f.flush()
                                    raise DownloadError(
                                        f"The download of {name} is too slow ({rate / 1000:.1f} KB/s over the last "
                                        f"{now - window_t:.0f} s, under {self.min_rate_bps / 1000:g} KB/s); stopped "
                                        f"at {_mb(have)}. Run the same command again to resume.")
                                window_t, window_have = now, have
                            if have - reported >= self.chunk_size or (total and have >= total):
                                reported = have
                                report(have, total or have, f"{name}: {_mb(have)} of {_mb(total) if total else '?'}")
                        if reported != have:
                            report(have, total or have, f"{name}: {_mb(have)} of {_mb(total) if total else '?'}")
                        f.flush()
                        os.fsync(f.fileno())
                if size is not None and have != size:
                    raise httpx2.RemoteProtocolError(f"the server sent {have:,} of {size:,} bytes")
                return have
            except (httpx2.TransportError, httpx2.StreamError) as e:
                # a dropped connection: resume where we are, a few times, while data keeps coming
                retries = 0 if have > start else retries + 1
                if retries > 3:
                    raise
                log.warning("download of %s interrupted (%s); resuming at %s bytes", name, e, have)
                time.sleep(min(retries, 3))


def _no_progress(done: int, total: int, message: str) -> None:
    """A progress callback that reports nowhere."""


def _version() -> str:
    from notebooklm_local import __version__

    return __version__


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:,.1f} MB"


def _origin(url: str) -> tuple[str, str, int | None]:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    return u.scheme, (u.hostname or "").lower(), u.port


def _matches(path: Path, etag: str, cancel: CancelToken | None) -> bool:
    """Whether the file's digest matches the hub's ETag: sha256 for LFS files (GGUFs are), git-sha1 otherwise.
    An ETag that is neither (a mirror that does not send them) cannot be checked: accepted, with a warning."""
    if re.fullmatch(r"[0-9a-f]{64}", etag):
        h = hashlib.sha256()
    elif re.fullmatch(r"[0-9a-f]{40}", etag):
        h = hashlib.sha1(usedforsecurity=False)
        h.update(b"blob %d\0" % path.stat().st_size)
    else:
        log.warning("no checksum for %s (ETag %r); only its size and GGUF header are checked", path.name, etag)
        return True
    with path.open("rb") as f:
        while block := f.read(8 << 20):
            if cancel is not None:
                cancel.raise_if_set()
            h.update(block)
    return h.hexdigest() == etag



def _connect_reason(e: BaseException) -> str:
    """Why a connection failed, in words ("[Errno -2] Name or service not known" -> the name is unknown)."""
    text = str(e)
    if re.search(r"Errno -[235]\b|Name or service not known|nodename nor servname|getaddrinfo failed|"
                 r"Temporary failure in name resolution|No address associated", text):
        return "its name could not be resolved (no network, or a wrong address)"
    if re.search(r"Errno 111\b|Connection refused", text):
        return "the connection was refused (nothing answers at that address)"
    if re.search(r"Errno 101\b|Network is unreachable", text):
        return "the network is unreachable"
    return re.sub(r"\[Errno -?\d+\]\s*", "", text) or "the connection failed"


def _download_error(e: BaseException, repo_id: str, filename: str, hub: str, models: Path) -> DownloadError:
    """A clear, actionable message for what went wrong during a download."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    what = f"{repo_id}/{filename}"
    login = "log in with `hf auth login` or set HF_TOKEN to a token that has access"
    if isinstance(e, GatedRepoError):
        return DownloadError(f"{repo_id} is a gated model: accept its licence on {hub}/{repo_id}, then {login}.")
    if isinstance(e, RemoteEntryNotFoundError):
        return DownloadError(f"{repo_id} has no file named {filename} (check the name on {hub}/{repo_id}).")
    if isinstance(e, RevisionNotFoundError):
        return DownloadError(f"{repo_id} has no such revision (branch, tag or commit).")
    if isinstance(e, RepositoryNotFoundError):
        return DownloadError(f"No repository {repo_id} on {hub} (or it is private: {login}).")
    if isinstance(e, HfHubHTTPError):
        status = e.response.status_code if e.response is not None else None
        if status in (401, 403):
            return DownloadError(f"{hub} refused access to {what} (HTTP {status}): {login}.")
        if status == 404:
            return DownloadError(f"{what} was not found on {hub} (HTTP 404).")
        return DownloadError(f"{hub} answered HTTP {status} for {what}; try again later.")
    if isinstance(e, OfflineModeIsEnabled):
        return DownloadError("Downloads are off because HF_HUB_OFFLINE is set; unset it to download models.")
    if isinstance(e, httpx2.ConnectError):
        return DownloadError(f"Cannot reach {hub}: {_connect_reason(e)}. Check the network connection "
                             "(or the hub endpoint setting); run the same command again to resume.")
    if isinstance(e, httpx2.TimeoutException):
        return DownloadError(f"{hub} stopped answering (timeout); run the same command again to resume.")
    if isinstance(e, httpx2.HTTPError):
        return DownloadError(f"The download of {what} failed: {e}. Run the same command again to resume.")
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        return DownloadError(f"The disk is full ({models}); free some space and run the same command again "
                             "to resume.")
    if isinstance(e, OSError):
        return DownloadError(f"Cannot write the download to {models}: {e.strerror or e}")
    return DownloadError(f"The download of {what} failed: {type(e).__name__}: {e}")

