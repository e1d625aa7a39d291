"""The library: add sources (extract -> chunk -> embed -> ready), resume after a crash, hybrid search.

Every step is persisted before the next starts, so a process killed at any point resumes where it
stopped: ``queued`` (re-extract from the stored reference), ``extracted`` (re-chunk the stored text),
``chunked`` (embed the chunks not yet in the index). ``reconcile`` removes vectors whose chunks are
gone and re-queues chunks whose vectors are missing.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebooklm_local.core.chunking import ChunkingOptions, chunk_document
from notebooklm_local.core.citations import format_location, is_ocr_location, mark_ocr, ocr_pages_in
from notebooklm_local.core.documents import Block, LoadedDocument, SourceLoader, SourceRef
from notebooklm_local.core.errors import Cancelled, NotebookError, SourceLoadError
from notebooklm_local.core.jobs import CancelToken, ProgressCallback, no_progress
from notebooklm_local.core.library import Library, Notebook, Source, SourceStatus, StoredChunk
from notebooklm_local.core.library_care import (
    DISK_FULL_PREFIX,
    DiskFullError,
    disk_full_error,
    free_space,
    is_disk_full,
)
from notebooklm_local.core.watch import SyncResult, WatchedFolder
from notebooklm_local.services.folders import walk_folder
from notebooklm_local.services.index import ChromaIndex

__all__ = ["LibraryService", "AddReport", "Hit", "expand_inputs", "walk_folder"]

log = logging.getLogger(__name__)

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_NOT_A_SOURCE = re.compile(r"^\s*(javascript|data|vbscript|about|blob|mailto|chrome|view-source):", re.IGNORECASE)
_YT_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
EMBED_BATCH = 16  # one transaction + one Chroma upsert per batch: little work lost on a crash
# after the first batch (which measures the speed for confirm_large) a streaming embedder's vectors are stored
# 64 at a time: each batch costs a Chroma upsert and a committed transaction (an fsync), ~16 ms together on
# an idle disk, far more on a busy one (0.66 s of a 200-page PDF at 16; 3.1 s on the loaded machine)
EMBED_STORE_BATCH = 64
MIN_FREE_BYTES = 20_000_000  # below this, adding refuses to start (disk full)
LARGE_EMBED_S = 180.0  # embedding estimated to take longer than this is announced (and may be skipped)
LOAD_TIMEOUT_S = 900.0  # one source's reading/extraction (a stuck loader is marked failed, the rest go on)
RRF_K = 60
_CHUNK_FIELDS = frozenset(f.name for f in dataclasses.fields(StoredChunk) if f.name != "extra")


@dataclass
class AddReport:
    added: list[Source] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (input, existing source title)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) from folders

    def lines(self) -> list[str]:
        out = [f"added: {s.title} ({s.kind}, {s.n_chunks} chunks){' — ' + '; '.join(s.flags) if s.flags else ''}"
               for s in self.added]
        out += [f"failed: {i}: {r}" for i, r in self.failed]
        out += [f"duplicate: {i} is already in the notebook as '{t}'" for i, t in self.duplicates]
        out += [f"skipped: {p}: {r}" for p, r in self.skipped]
        return out

    def problem_lines(self) -> list[str]:
        """The lines of ``lines()`` that report a failure or a skipped input (the CLI prints them on stderr)."""
        return [ln for ln in self.lines() if ln.startswith(("failed: ", "skipped: "))]


@dataclass
class Hit:
    chunk: StoredChunk
    source: Source
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None
    similarity: float | None = None  # cosine similarity to the query (dense retrieval only)
    notebook: str = ""  # the name of the source's notebook (set by LibraryService.search)

    @property
    def location(self) -> str:
        c = self.chunk
        return mark_ocr(format_location(c.page, c.page_end, c.t_start, c.heading), c.page, c.page_end,
                        ocr_pages_in(self.source.meta))

    def to_json(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "notebook": self.notebook, "notebook_id": self.source.notebook_id,
            "source": self.source.title, "source_id": self.source.id, "kind": self.source.kind,
            "chunk_id": c.id, "page": c.page, "ocr": is_ocr_location(self.location), "timestamp": c.t_start, "heading": c.heading,
            "char_start": c.char_start, "char_end": c.char_end, "score": round(self.score, 6),
            "dense_rank": self.dense_rank, "lexical_rank": self.lexical_rank,
            "similarity": None if self.similarity is None else round(self.similarity, 4), "snippet": c.text[:300],
        }


def expand_inputs(items: Iterable[str], extensions: set[str],
                  accept: Callable[[Path], bool] | None = None) -> tuple[list[SourceRef], list[tuple[str, str]]]:
    """Turn CLI/drop inputs into refs: URLs, bare YouTube ids, files; folders are walked recursively.

    A file in a folder is taken when its extension is one of ``extensions`` or ``accept(file)`` says a
    loader reads it by its content (``LibraryService.can_load_file``: a README with no extension).
    Returns (refs, skipped) where skipped lists unsupported or unreadable files with the reason.
    """
    refs: list[SourceRef] = []
    skipped: list[tuple[str, str]] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        if _NOT_A_SOURCE.match(item) and not Path(item).exists():  # javascript:, data:, ...: not a file
            refs.append(SourceRef(url=item))
            continue
        if _URL.match(item) or item.startswith(("www.", "youtu.be/", "youtube.com/")):
            refs.append(SourceRef(url=item if _URL.match(item) else "https://" + item))
            continue
        p = Path(item).expanduser()
        if p.is_dir():
            files, skip = walk_folder(p, extensions, accept)
            refs += [SourceRef(path=f.resolve()) for f in files]
            skipped += skip
        elif p.exists() or not _YT_ID.match(item):
            refs.append(SourceRef(path=p.resolve() if p.exists() else p))
        else:
            refs.append(SourceRef(url=item))
    return refs, skipped


def _safe_can_load(ld: SourceLoader, ref: SourceRef) -> bool:
    try:
        return bool(ld.can_load(ref))
    except Exception:  # a plugin loader's can_load must not break adding
        log.exception("loader %s failed in can_load", getattr(ld, "name", ld))
        return False


def _ref_to_json(ref: SourceRef) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if ref.path is not None:
        d["path"] = str(ref.path)
    if ref.url is not None:
        d["url"] = ref.url
    if ref.title is not None:
        d["title"] = ref.title
    return d


def _fallback_title(ref: dict[str, Any]) -> str:
    """The name a source shows before its title is known: its file name or URL."""
    if ref.get("path"):
        return Path(str(ref["path"])).name
    return str(ref.get("url") or ref.get("title") or "")


def _block_json(b: Block) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": b.kind, "start": b.start, "end": b.end}
    if b.page is not None:
        d["page"] = b.page
    if b.heading_path:
        d["heading_path"] = list(b.heading_path)
    if b.t_start is not None:
        d["t_start"], d["t_end"] = b.t_start, b.t_end
    return d


def _doc_from_stored(kind: str, title: str, text: str, blocks: list[dict[str, Any]]) -> LoadedDocument:
    """The stored text as a document for the chunker, which reads only headings' block texts (the others
    are left empty: a copy of every paragraph would hold a large source's text twice)."""
    bl = [
        Block(text[b["start"] : b["end"]] if b["kind"] == "heading" else "", b["kind"], b.get("page"),
              tuple(b.get("heading_path", ())), b.get("t_start"), b.get("t_end"), b["start"], b["end"])
        for b in blocks
    ]
    return LoadedDocument(kind=kind, title=title, text=text, blocks=bl)


class _Eta:
    def __init__(self, total: int) -> None:
        self.total, self.t0 = total, time.monotonic()

    def message(self, done: int, what: str) -> str:
        elapsed = time.monotonic() - self.t0
        if done <= 0 or done >= self.total:
            return what
        eta = elapsed / done * (self.total - done)
        return f"{what} — about {eta:.0f} s left"


def _safe_progress(progress: ProgressCallback) -> ProgressCallback:
    """Progress that can never fail the work: a broken terminal (closed pipe, full disk) only silences it."""
    broken = False

    def call(done: int, total: int, message: str = "") -> None:
        nonlocal broken
        if broken:
            return
        try:
            progress(done, total, message)
        except (Cancelled, KeyboardInterrupt):
            raise
        except Exception:  # progress is cosmetic; the work goes on
            broken = True
            log.warning("progress output failed; continuing without it", exc_info=True)

    return call


def _run_bounded(fn: Any, timeout_s: float, cancel: CancelToken, what: str) -> Any:
    """Run ``fn(inner_cancel)`` in a daemon thread for at most ``timeout_s`` (and while ``cancel`` is not set).

    A loader stuck in a system call (a FIFO, a dead network mount, a plugin's endless loop) cannot be
    interrupted, but the caller moves on: the source is marked failed with the reason and the thread is
    left behind (asked to stop through its cancel token).
    """
    inner = CancelToken()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(inner)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = e

    t = threading.Thread(target=target, name=f"load {what}"[:60], daemon=True)
    t.start()
    deadline = time.monotonic() + timeout_s
    while t.is_alive():
        left = deadline - time.monotonic()
        if left <= 0:
            inner.cancel()
            raise SourceLoadError(
                f"Reading {what} took longer than {timeout_s:g} seconds and was stopped (is it a special file, "
                "a stalled network drive or a very large document?). Retry it with `add` or Retry.")
        if cancel.is_set():
            inner.cancel()
            raise Cancelled()
        t.join(min(left, 0.1))
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _source_step(progress: ProgressCallback, n: int, total: int) -> ProgressCallback:
    """One source's progress as a step of adding ``total`` sources: its message, the outer count."""

    def report(_done: int, _total: int, message: str) -> None:
        progress(n, total, message)

    return report


class LibraryService:
    """Notebooks, sources and search over the library database and the vector index."""

    load_timeout_s = LOAD_TIMEOUT_S
    large_embed_s = LARGE_EMBED_S
    # Asked once per source when embedding it will take longer than ``large_embed_s`` (estimated from the
    # first batch): (source, chunks, estimated seconds) -> "continue", "lexical" (keyword search only
    # for now) or "cancel" (the source is not added). None: always continue.
    confirm_large: Callable[[Source, int, float], str] | None = None
    # OCR of scanned PDF pages (settings [index] ocr): False asks loaders not to (SourceRef.ocr)
    ocr: bool = True

    def __init__(
        self,
        data_dir: Path,
        library: Library,
        loaders: Sequence[SourceLoader],
        index: ChromaIndex | None = None,
        chunking: ChunkingOptions | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.library = library
        self.loaders = list(loaders)
        self.index = index
        self.chunking = chunking or ChunkingOptions()
        # watched folders: files found to duplicate another source, (notebook id, path) -> (size, mtime) as
        # found; a sync skips them while unchanged instead of reading them again each time (services.watch)
        self.known_duplicates: dict[tuple[str, str], tuple[int, float]] = {}

    # -- notebooks ------------------------------------------------------------------------------
    def create_notebook(self, name: str) -> Notebook:
        return self.library.create_notebook(name)

    def notebooks(self) -> list[Notebook]:
        return self.library.notebooks()

    def notebook(self, name_or_id: str) -> Notebook:
        return self.library.notebook(name_or_id)

    def delete_notebook(self, name_or_id: str) -> Notebook:
        nb = self.library.notebook(name_or_id)
        blobs = [s.blob for s in self.library.sources(nb.id) if s.blob]
        if self.index is not None:
            self.index.delete_notebook(nb.id)
        self.library.delete_notebook(nb.id)
        for b in blobs:
            self._gc_blob(b)
        return nb

    # -- loaders --------------------------------------------------------------------------------
    @property
    def file_extensions(self) -> set[str]:
        return {e for ld in self.loaders for e in ld.extensions}

    def can_load_file(self, path: Path) -> bool:
        """Whether a loader takes the local file ``path`` (by its extension, or by its content for a file
        with none); for a folder's files, as ``loader_for`` decides for a single file."""
        return any(_safe_can_load(ld, SourceRef(path=path)) for ld in self.loaders)

    def loader_for(self, ref: SourceRef) -> SourceLoader:
        for ld in self.loaders:
            if _safe_can_load(ld, ref):
                return ld
        if ref.path is not None:
            if not ref.path.exists():
                raise SourceLoadError(f"File not found: {ref.path}")
            supported = ", ".join(sorted(self.file_extensions))
            if not ref.path.suffix:
                raise SourceLoadError(f"{ref.path.name}: unsupported file type (no extension, and the content is "
                                      "not plain text; a file with no extension is added as plain text when it "
                                      f"holds text). Supported: {supported}.")
            raise SourceLoadError(f"{ref.path.name}: unsupported file type {ref.path.suffix}. Supported: {supported}.")
        if ref.url is not None:
            m = _NOT_A_SOURCE.match(ref.url.strip())
            if m:
                raise SourceLoadError(f"{m.group(1).lower()}: links cannot be added; only web pages (http:// or "
                                      "https://), YouTube videos and files can.")
            raise SourceLoadError(f"Not a valid web or YouTube URL: {ref.url}")
        raise SourceLoadError("Nothing to add.")

    # -- adding ---------------------------------------------------------------------------------
    def add(
        self,
        notebook: str,
        items: Sequence[str | SourceRef],
        *,
        cancel: CancelToken | None = None,
        progress: ProgressCallback = no_progress,
    ) -> AddReport:
        """Add files, folders, URLs or pasted-text refs to a notebook; failures are reported, not raised."""
        cancel = cancel or CancelToken()
        progress = _safe_progress(progress)
        nb = self.library.notebook(notebook)
        free = free_space(self.data_dir)
        if free is not None and free < MIN_FREE_BYTES:
            raise disk_full_error(self.data_dir)
        report = AddReport()
        strs = [i for i in items if isinstance(i, str)]
        refs, report.skipped = expand_inputs(strs, self.file_extensions, self.can_load_file)
        refs += [i for i in items if isinstance(i, SourceRef)]
        queued = [self.library.add_source(nb.id, _ref_to_json(r), title=r.title or "") for r in refs]
        for n, (ref, src) in enumerate(zip(refs, queued, strict=True)):
            cancel.raise_if_set()
            progress(n, len(refs), f"adding {ref.display}")
            try:
                done = self.process(src.id, cancel=cancel, ref=ref, progress=_source_step(progress, n, len(refs)))
            except (Cancelled, DiskFullError):
                raise  # the next source would fail the same way
            except _Duplicate as d:
                report.duplicates.append((ref.display, d.existing.title))
                continue
            except NotebookError as e:
                report.failed.append((ref.display, str(e)))
                continue
            report.added.append(done)
        progress(len(refs), len(refs), "done")
        return report

    def process(
        self, source_id: str, *, cancel: CancelToken | None = None, ref: SourceRef | None = None,
        progress: ProgressCallback = no_progress,
    ) -> Source:
        """Drive one source from its current state to ``ready`` (or ``failed``, re-raised)."""
        cancel = cancel or CancelToken()
        progress = _safe_progress(progress)
        src = self.library.source(source_id)
        try:
            if src.status in (SourceStatus.QUEUED, SourceStatus.FAILED):
                self._extract(src, ref or self._ref_of(src), cancel, progress)
                src = self.library.source(source_id)
            if src.status == SourceStatus.EXTRACTED:
                self._chunk(src)
                src = self.library.source(source_id)
            if src.status in (SourceStatus.CHUNKED, SourceStatus.EMBEDDED, SourceStatus.READY):
                self._embed(src, cancel, progress)
                self.library.update_source(src.id, status=SourceStatus.READY, error=None)
                self._drop_stale_collections(src.notebook_id)  # the last source moved to a new model: old vectors go
        except _CancelLarge:
            self.remove_source(source_id)
            raise SourceLoadError("Not added: cancelled before its long embedding.") from None
        except (Cancelled, _Duplicate):
            raise
        except NotebookError as e:
            self._mark_failed(source_id, str(e), e)
            raise
        except Exception as e:  # any loader/plugin bug becomes a failed source, not a crash
            if is_disk_full(e):
                full = disk_full_error(self.data_dir, e)
                self._mark_failed(source_id, str(full), full)
                raise full from e
            log.exception("unexpected error processing %s", source_id)
            msg = f"Unexpected error: {type(e).__name__}: {e}"
            err = NotebookError(msg)
            self._mark_failed(source_id, msg, err)
            raise err from e
        return self.library.source(source_id)

    def _mark_failed(self, source_id: str, reason: str, original: BaseException) -> None:
        """Failed, with the reason; a source that failed before extraction is named after its file or URL.

        When even that cannot be written (the disk is full), the original error is what the caller
        raises: this failure is logged, never shown instead of it.
        """
        fields: dict[str, Any] = {"status": SourceStatus.FAILED, "error": reason}
        try:
            src = self.library.source(source_id)
            if not src.title:
                fields["title"] = _fallback_title(src.ref)
            self.library.update_source(source_id, **fields)
        except NotebookError as e:
            if not isinstance(e, SourceLoadError) and "No source with id" not in str(e):
                log.warning("could not record the failure of %s (%s): %s", source_id, original, e)
        except Exception:  # never hide ``original``
            log.warning("could not record the failure of %s (%s)", source_id, original, exc_info=True)

    def _ref_of(self, src: Source) -> SourceRef:
        r = src.ref
        if "path" in r:
            return SourceRef(path=Path(r["path"]))
        if "url" in r:
            return SourceRef(url=r["url"])
        if src.blob:  # pasted text: its original is the blob
            return SourceRef(text=(self.data_dir / src.blob).read_text(encoding="utf-8"), title=r.get("title"))
        raise SourceLoadError("This source's original is no longer available; remove it and add it again.")

    def _extract(self, src: Source, ref: SourceRef, cancel: CancelToken, progress: ProgressCallback) -> None:
        progress(0, 1, f"reading {ref.display}")
        loader = self.loader_for(ref)
        if not self.ocr and ref.ocr:
            ref = dataclasses.replace(ref, ocr=False)
        doc = _run_bounded(lambda inner: loader.load(ref, _Either(cancel, inner, progress)), self.load_timeout_s,
                           cancel, ref.display)
        cancel.raise_if_set()
        if not isinstance(doc, LoadedDocument):
            raise SourceLoadError(f"loader {loader.name} returned {type(doc).__name__}, not a document")
        original = doc.original if doc.original is not None else doc.text.encode("utf-8")
        sha = hashlib.sha256(original).hexdigest()
        dup = self.library.find_duplicate(src.notebook_id, sha, exclude=src.id)
        if dup is not None and dup.status != SourceStatus.READY:
            # the same content failed or never finished before (a crash, a closed pipe): this attempt
            # replaces it instead of being refused as a duplicate of something unusable
            log.info("replacing unfinished/failed source %s (%s) by %s", dup.id, dup.status, src.id)
            self.remove_source(dup.id)
            dup = None
        if dup is not None:
            self.library.delete_source(src.id)
            raise _Duplicate(dup)
        blob = self._store_blob(sha, original, doc.original_suffix or (".txt" if doc.original is None else ""))
        del original
        doc.original = None  # written: a large file's bytes are not kept while its text is stored
        meta = dict(doc.metadata)
        meta["loader"] = loader.name
        self.library.store_extraction(
            src.id, kind=doc.kind,
            title=src.title if src.title and src.title != _fallback_title(src.ref) else doc.title, sha256=sha, blob=blob, text=doc.text,
            blocks=[_block_json(b) for b in doc.blocks], flags=list(doc.flags), meta=meta,
        )

    def _chunk(self, src: Source) -> None:
        """Cut the stored text into chunks; only the text and the chunks are in memory at once."""
        text, blocks = self.library.source_text(src.id)
        doc = _doc_from_stored(src.kind, src.title, text, blocks)
        del text, blocks
        chunks = chunk_document(doc, self.chunking)
        del doc
        self.library.replace_chunks(src.id, chunks)

    def _store_blob(self, sha: str, data: bytes, suffix: str) -> str:
        rel = Path("blobs") / sha[:2] / f"{sha}{suffix}"
        target = self.data_dir / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        return str(rel)

    def _gc_blob(self, rel: str) -> None:
        if not self.library.query("SELECT 1 FROM sources WHERE blob = ? LIMIT 1", (rel,)):
            (self.data_dir / rel).unlink(missing_ok=True)

    def _embed(self, src: Source, cancel: CancelToken, progress: ProgressCallback) -> None:
        if self.index is None:
            return  # lexical-only library: chunks are searchable through FTS already
        model = self.index.model_id
        total = self.library.count_unembedded(src.id, model)
        eta, done = _Eta(total), 0
        with contextlib.closing(self._embedded_batches(src.id, model, cancel)) as batches:
            for batch, vectors in batches:
                self.index.add(
                    src.notebook_id,
                    [(c.id, src.id, {"page": c.page, "t_start": c.t_start, "ordinal": c.ordinal}) for c in batch],
                    vectors,
                )
                self.library.mark_embedded([c.id for c in batch], model)
                done += len(batch)
                if done == len(batch) and total > done and self.confirm_large is not None:
                    # the first batch measured this machine's speed: say up front when the rest takes long
                    left = (time.monotonic() - eta.t0) / done * (total - done)
                    if left > self.large_embed_s:
                        choice = self.confirm_large(src, total, left)
                        if choice == "lexical":
                            log.info("%s: embedding skipped by the user (%d chunks, ~%.0f s)", src.id, total, left)
                            return  # keyword search covers it; `resume` or re-index embeds it later
                        if choice == "cancel":
                            raise _CancelLarge()
                progress(done, total, eta.message(done, f"embedding {src.title}: {done}/{total} chunks"))

    def _embedded_batches(
        self, source_id: str, model: str, cancel: CancelToken
    ) -> Generator[tuple[list[StoredChunk], list[list[float]]], None, None]:
        """The chunks not yet embedded with ``model``, in reading order, EMBED_BATCH at a time with their vectors.

        An embedder that streams (``LlamaCppEmbedder.embed_stream``: several texts decoded at once) keeps
        decoding the next chunks while the caller stores a batch (a pipeline), EMBED_STORE_BATCH at a time
        after the first batch; any other embedder gets one text per call. Either way Stop acts within one chunk (inside its decode where supported).
        """
        assert self.index is not None
        embedder: Any = self.index.embedder  # streaming and cancelling are optional: probed below
        if getattr(embedder, "supports_stream", False):
            pending: collections.deque[StoredChunk] = collections.deque()

            def texts() -> Iterator[str]:
                for c in self._unembedded(source_id, model):
                    pending.append(c)
                    yield c.text

            batch: list[StoredChunk] = []
            vectors: list[list[float]] = []
            size = EMBED_BATCH
            with contextlib.closing(embedder.embed_stream(texts(), cancel=cancel)) as stream:
                for vec in stream:
                    batch.append(pending.popleft())
                    vectors.append(vec)
                    if len(batch) == size:
                        yield batch, vectors
                        batch, vectors = [], []
                        size = EMBED_STORE_BATCH
            if batch:
                yield batch, vectors
            return
        while True:
            cancel.raise_if_set()
            batch = self.library.chunks_to_embed(source_id, model, EMBED_BATCH)
            if not batch:
                return
            vectors = []
            for c in batch:  # one text at a time: Stop (and closing the app) acts within one chunk, or inside it
                cancel.raise_if_set()
                if getattr(embedder, "supports_cancel", False):
                    vectors.extend(embedder.embed([c.text], cancel=cancel))
                else:
                    vectors.extend(embedder.embed([c.text]))
            yield batch, vectors

    def _unembedded(self, source_id: str, model: str) -> Iterator[StoredChunk]:
        """Chunks of a source not embedded with ``model``, read in windows by ordinal (never rescanning
        the embedded ones: a 300k-chunk source would otherwise cost a quadratic scan)."""
        after = -1
        while True:
            rows = self.library.query(
                "SELECT * FROM chunks WHERE source_id = ? AND ordinal > ? AND (embedded_model IS NULL OR "
                "embedded_model != ?) ORDER BY ordinal LIMIT ?", (source_id, after, model, 4 * EMBED_BATCH))
            if not rows:
                return
            for r in rows:
                yield StoredChunk(**{k: r[k] for k in r.keys() if k in _CHUNK_FIELDS})  # noqa: SIM118 - sqlite3.Row
            after = rows[-1]["ordinal"]

    # -- maintenance ----------------------------------------------------------------------------
    def resume(self, *, cancel: CancelToken | None = None, progress: ProgressCallback = no_progress) -> list[str]:
        """Reconcile, then finish every unfinished source (and re-embed for a new embedding model)."""
        cancel = cancel or CancelToken()
        progress = _safe_progress(progress)
        self.reconcile()
        pending = self.library.all_sources(status=[SourceStatus.QUEUED, SourceStatus.EXTRACTED, SourceStatus.CHUNKED,
                                                   SourceStatus.EMBEDDED])
        # interrupted by a full disk (not the source's fault): finished once there is room again
        pending += [s for s in self.library.all_sources(status=[SourceStatus.FAILED])
                    if (s.error or "").startswith(DISK_FULL_PREFIX)]
        if self.index is not None:
            model = self.index.model_id
            pending += [s for s in self.library.all_sources(status=[SourceStatus.READY])
                        if self.library.count_unembedded(s.id, model)]
        messages = []
        for n, src in enumerate(pending):
            cancel.raise_if_set()
            progress(n, len(pending), f"resuming {src.display}")
            try:
                self.process(src.id, cancel=cancel)
                messages.append(f"resumed: {src.display}")
            except _Duplicate as d:
                messages.append(f"duplicate removed: {src.display} (already there as '{d.existing.title}')")
            except NotebookError as e:
                messages.append(f"failed: {src.display}: {e}")
        for nb in self.library.notebooks():
            self._drop_stale_collections(nb.id)
        return messages

    def reconcile(self) -> dict[str, int]:
        """Make SQLite and the vector index agree (after a crash or an interrupted delete)."""
        stats = {"orphan_vectors": 0, "missing_vectors": 0}
        if self.index is None:
            return stats
        model = self.index.model_id
        for nb in self.library.notebooks():
            in_index = self.index.ids(nb.id)
            all_chunks = self.library.chunk_ids(nb.id)
            marked = self.library.chunk_ids(nb.id, model_id=model)
            orphans = in_index - all_chunks
            if orphans:
                self.index.delete_ids(nb.id, sorted(orphans))
            missing = marked - in_index
            if missing:
                self.library.mark_embedded(sorted(missing), None)
                for sid in {r[0] for r in self.library.query(
                        f"SELECT DISTINCT source_id FROM chunks WHERE id IN ({','.join(map(str, missing))})")}:  # noqa: S608 - integer ids
                    self.library.update_source(sid, status=SourceStatus.CHUNKED)
            stats["orphan_vectors"] += len(orphans)
            stats["missing_vectors"] += len(missing)
            self._drop_stale_collections(nb.id)
        return stats

    def _drop_stale_collections(self, notebook_id: str) -> None:
        """Once every chunk has a vector of the current model, drop other models' collections."""
        if self.index is None:
            return
        if not self.library.query(
            "SELECT 1 FROM chunks c JOIN sources s ON s.id = c.source_id "
            "WHERE s.notebook_id = ? AND (c.embedded_model IS NULL OR c.embedded_model != ?) LIMIT 1",
            (notebook_id, self.index.model_id),
        ):
            self.index.drop_stale_models(notebook_id)

    def remove_source(self, source_id: str) -> Source:
        src = self.library.source(source_id)
        if self.index is not None:
            self.index.delete_source(src.notebook_id, src.id)
        self.library.delete_source(src.id)
        if src.blob:
            self._gc_blob(src.blob)
        return src

    def sources(self, notebook: str) -> list[Source]:
        return self.library.sources(self.library.notebook(notebook).id)

    # -- watched folders (services.watch) -------------------------------------------------------
    def watch_folder(self, notebook: str, path: str | Path, *, recursive: bool = True) -> WatchedFolder:
        """Link a local folder to a notebook (clear errors for a missing folder, a file, one already watched)."""
        from notebooklm_local.services import watch

        return watch.watch_folder(self, notebook, path, recursive=recursive)

    def unwatch_folder(self, notebook: str, path: str | Path) -> WatchedFolder:
        """Stop watching a folder; its sources stay in the notebook."""
        from notebooklm_local.services import watch

        return watch.unwatch_folder(self, notebook, path)

    def watched_folders(self, notebook: str | None = None) -> list[WatchedFolder]:
        nb_id = self.library.notebook(notebook).id if notebook is not None else None
        return self.library.watched_folders(nb_id)

    def sync_folders(
        self, notebook: str | None = None, *, folder: str | None = None, dry_run: bool = False,
        defer: bool = False, cancel: CancelToken | None = None, progress: ProgressCallback = no_progress,
    ) -> list[SyncResult]:
        """Sync the watched folders of a notebook (None: of every notebook; ``folder``: only that watched
        path): new files added, changed ones re-indexed, gone ones flagged ``original missing`` (core.watch).
        ``defer``: the indexing is left to the caller (``SyncResult.queued``; see services.watch)."""
        from notebooklm_local.services import watch

        if not dry_run and (free := free_space(self.data_dir)) is not None and free < MIN_FREE_BYTES:
            raise disk_full_error(self.data_dir)  # as `add` refuses to start when the disk is nearly full
        return watch.sync_folders(self, notebook, folder=folder, dry_run=dry_run, defer=defer, cancel=cancel,
                                  progress=_safe_progress(progress))

    def remember_duplicate(self, notebook_id: str, path: str, size: int, mtime: float) -> None:
        """A watched file turned out to duplicate another source: later syncs skip it while its size and
        mtime stay the same (it is reported once, and not read again at every folder change)."""
        self.known_duplicates[(notebook_id, path)] = (size, mtime)

    def record_file_stat(self, source_id: str, size: int, mtime: float) -> None:
        """After a deferred sync indexed a file: its stat, which the next sync compares with."""
        from notebooklm_local.services import watch

        watch.record_file_stat(self, source_id, size, mtime)

    # -- search ---------------------------------------------------------------------------------
    def search(
        self,
        notebook: str | None,
        query: str,
        *,
        k: int = 8,
        source_ids: Sequence[str] | None = None,
        mode: str = "hybrid",
        candidates: int = 40,
    ) -> list[Hit]:
        """Hybrid retrieval: dense (Chroma) and BM25 (FTS5) fused by reciprocal-rank fusion.

        ``mode`` is "hybrid", "dense" or "lexical". Without an index, search is lexical only.
        ``source_ids`` restricts the search to the user's selected sources.

        ``notebook`` None is the library-wide scope ("all notebooks"): the ready sources of every
        notebook (``source_ids``, when given, may then name sources of any notebook). BM25 runs once over
        the one FTS table; the vector query runs in each notebook's collection (one per notebook and
        embedding model) and the neighbours are merged by cosine similarity (one embedder: comparable);
        the two rankings are fused as for one notebook. Each hit names its notebook (``Hit.notebook``).
        """
        if not query.strip():
            raise NotebookError("The search query is empty.")
        if notebook is None:
            names = {n.id: n.name for n in self.library.notebooks()}
            ready = {s.id: s for s in self.library.all_sources(status=[SourceStatus.READY])}
            nb_id: str | None = None
        else:
            nb = self.library.notebook(notebook)
            names = {nb.id: nb.name}
            ready = {s.id: s for s in self.library.sources(nb.id, status=[SourceStatus.READY])}
            nb_id = nb.id
        allowed = [s for s in (source_ids if source_ids is not None else ready) if s in ready]
        if not allowed:
            return []
        scores: dict[int, float] = {}
        dense_rank: dict[int, int] = {}
        dense_sim: dict[int, float] = {}
        lex_rank: dict[int, int] = {}
        subset = allowed if len(allowed) < len(ready) else None
        lexical = mode in ("hybrid", "lexical") or self.index is None
        dense = mode in ("hybrid", "dense") and self.index is not None
        # library-wide: BM25 (SQLite releases the GIL) runs beside the notebooks' vector queries
        bm25 = self._dense_pool().submit(self.library.lexical_search, None, query, source_ids=subset,
                                         limit=candidates) if nb_id is None and lexical and dense else None
        if dense:
            assert self.index is not None
            (vec,) = self.index.embedder.embed([query])
            near = self._dense(nb_id, vec, candidates, subset, ready) if nb_id is not None \
                else self._dense_all(vec, candidates, subset, ready)
            for r, (cid, sim) in enumerate(near):
                dense_rank[cid] = r + 1
                dense_sim[cid] = sim
        if lexical:
            got = bm25.result() if bm25 is not None else \
                self.library.lexical_search(nb_id, query, source_ids=subset, limit=candidates)
            for r, (cid, _s) in enumerate(got):
                lex_rank[cid] = r + 1
        for ranks in (dense_rank, lex_rank):
            for cid, r in ranks.items():
                scores[cid] = scores.get(cid, 0.0) + 1.0 / (RRF_K + r)
        best = sorted(scores, key=lambda c: (-scores[c], c))[:k]
        chunks = self.library.chunks(best)
        hits = []
        for c in best:
            if c in chunks and (src := ready.get(chunks[c].source_id)) is not None:
                hits.append(Hit(chunks[c], src, scores[c], dense_rank.get(c), lex_rank.get(c), dense_sim.get(c),
                                names.get(src.notebook_id, "")))
        return hits

    def _dense_all(
        self, vec: Sequence[float], n: int, subset: Sequence[str] | None, ready: dict[str, Source]
    ) -> list[tuple[int, float]]:
        """The ``n`` nearest chunks over every notebook holding a ready source (of ``subset`` when given):
        each notebook's collection is asked for its ``n`` nearest (within its part of the selection, as
        :meth:`_dense` does for one notebook), and the union is cut to the ``n`` most similar."""
        by_nb: dict[str, list[str]] = collections.defaultdict(list)
        for sid in (subset if subset is not None else ready):
            if sid in ready:
                by_nb[ready[sid].notebook_id].append(sid)
        got: list[tuple[int, float]] = []
        whole: list[str] = []  # notebooks searched whole: plain Chroma queries, run side by side
        for nb_id, sids in by_nb.items():
            mine = {s: src for s, src in ready.items() if src.notebook_id == nb_id}
            if len(sids) < len(mine):
                got += self._dense(nb_id, vec, n, sids, mine)
            else:
                whole.append(nb_id)
        if len(whole) > 1:
            # Chroma's search releases the GIL: the collections' queries overlap (measured with 5 notebooks
            # of 2,000 chunks on 2 loaded cores: p50 18 -> 8 ms, p95 83 -> 20 ms against one after another)
            assert self.index is not None
            index = self.index
            for nb_id in whole:
                index.collection(nb_id)  # created (and cached) here, not in the pool's threads
            for part in self._dense_pool().map(lambda nb_id: index.query(nb_id, vec, n), whole):
                got += part
        elif whole:
            got += self._dense(whole[0], vec, n, None, ready)
        got.sort(key=lambda t: (-t[1], t[0]))
        return got[:n]

    def _dense_pool(self) -> Any:
        from concurrent.futures import ThreadPoolExecutor

        with _POOL_LOCK:
            pool = getattr(self, "_pool", None)
            if pool is None:
                pool = self._pool = ThreadPoolExecutor(max_workers=DENSE_THREADS,
                                                       thread_name_prefix="nbl-dense")
            return pool

    def _dense(
        self, notebook_id: str, vec: Sequence[float], n: int, subset: Sequence[str] | None, ready: dict[str, Source]
    ) -> list[tuple[int, float]]:
        """The ``n`` nearest chunks within the selected sources (all when ``subset`` is None).

        Chroma's metadata filter costs 17-64x the vector search itself at 100k chunks (129 ms for a
        tenth of the sources, 492 ms for half, vs 7.7 ms unfiltered, same run under load). So for a selection
        the unfiltered neighbours are over-fetched in proportion to the selection's share of the
        chunks and filtered here: the result is the filtered query's whenever at least ``n`` of them
        pass (the same distances, in the same order) or the collection has no more. Otherwise, and for
        small selections, the query is restricted to the selection's chunk ids (3-5x faster than the
        metadata filter).
        """
        assert self.index is not None
        if subset is None:
            return self.index.query(notebook_id, vec, n)
        total = sum(s.n_chunks for s in ready.values())
        share = sum(ready[s].n_chunks for s in subset if s in ready) / total if total else 0.0
        if share > 0 and (k := _dense_overfetch(n, share)) <= DENSE_OVERFETCH_MAX:
            got = self.index.query(notebook_id, vec, k)
            keep = set(subset)
            source_of = self.library.chunk_sources([c for c, _ in got])
            hits = [(c, sim) for c, sim in got if source_of.get(c) in keep]
            if len(hits) >= n or len(got) < k:
                return hits[:n]
        ids = self.library.embedded_chunk_ids(list(subset), self.index.model_id)
        return self.index.query(notebook_id, vec, n, subset, chunk_ids=ids)


def _dense_overfetch(n: int, share: float) -> int:
    """How many unfiltered neighbours to fetch so that ~``n`` fall in a selection holding ``share``."""
    return int(n / share * 1.5) + 10


DENSE_THREADS = 4  # notebooks' collections queried at once by the library-wide search
_POOL_LOCK = threading.Lock()
DENSE_OVERFETCH_MAX = 1000  # beyond this the id-restricted query is cheaper (measured at 100k: 610 -> 23 ms)


class _Either(CancelToken):
    """Set when either of two tokens is (the caller's, or the one a timed-out load gets)."""

    def __init__(self, a: CancelToken, b: CancelToken, progress: ProgressCallback | None = None) -> None:
        super().__init__(progress)
        self._a, self._b = a, b

    def cancel(self) -> None:
        self._b.cancel()

    def is_set(self) -> bool:
        return self._a.is_set() or self._b.is_set()

    def raise_if_set(self) -> None:
        if self.is_set():
            raise Cancelled()


class _CancelLarge(Exception):  # an internal signal
    """The user chose not to add a source whose embedding would take long."""


class _Duplicate(NotebookError):
    def __init__(self, existing: Source) -> None:
        super().__init__(f"already in the notebook as '{existing.title}'")
        self.existing = existing

