"""Adding and indexing sources from the GUI, on the worker lanes, with per-source progress and cancel.

The GUI uses the same :class:`LibraryService` as the CLI (``open_library``): inputs are expanded and
checked on the ``io`` lane (walking folders, choosing a loader, queueing the sources), then each source
is driven to ``ready`` by ``LibraryService.process`` on the ``store`` lane. That lane is the single writer
of the vector index (house style 2.4) and it runs one source at a time, which also keeps the service's
duplicate check exact (two copies of a file processed at once could both pass it). ``process`` extracts,
chunks and embeds in one call, so a web page's download runs on the store lane too.

Removing sources and deleting notebooks go through the store lane as well, so they never overlap with
the index writes of a running source: a remove of a running source cancels it first.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.errors import Cancelled, NotebookError, SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.library import SourceStatus
from notebooklm_local.core.library_care import DiskFullError, LibraryDamagedError, disk_full_error, free_space
from notebooklm_local.core.textutil import format_duration
from notebooklm_local.services.library_service import MIN_FREE_BYTES, LibraryService, _ref_to_json, expand_inputs
from notebooklm_local.ui.ops import BackgroundOp
from notebooklm_local.ui.workers import Lanes

__all__ = ["IngestController", "LiveState", "LargeSource", "format_eta", "format_duration"]

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.1  # worker progress reaches the GUI at most ~10 times a second per source
_ETA = re.compile(r"about (\d+) s left")
_OCR = re.compile(r"OCR page (\d+)/(\d+)")  # the PDF loader's progress while it reads scanned pages


def format_eta(seconds: float) -> str:
    """``"about 40 s left"``, ``"about 3 min left"``."""
    s = max(1, round(seconds))
    if s < 90:
        return f"about {s} s left"
    return f"about {round(s / 60)} min left"


@dataclass
class LargeSource:
    """A source whose embedding will take long: the question put to the user (see ``large_source``)."""

    source_id: str
    label: str
    chunks: int
    seconds: float
    adding: bool  # a new source: "cancel" removes it; else (resume, retry, re-index) it only stops
    answer: str | None = None
    answered: threading.Event = field(default_factory=threading.Event)

    @property
    def message(self) -> str:
        return (f"“{self.label}” has {self.chunks:,} passages to index for meaning search, about "
                f"{format_duration(self.seconds)} on this computer. Keyword search can find it right away; "
                "meaning search needs the embedding.")


@dataclass
class LiveState:
    """What a source in the queue or being indexed is doing now (the database has the rest)."""

    source_id: str
    notebook_id: str
    label: str
    running: bool = False  # False: waiting for its turn
    fraction: float = 0.0  # 0..1 of this source's work
    text: str = "Waiting…"
    stopping: bool = False


@dataclass
class _Job:
    state: LiveState
    ref: SourceRef | None = None  # new sources: what the user gave (pasted text exists nowhere else yet)
    reindex: bool = False
    op: BackgroundOp | None = None
    file_stat: tuple[int, float] | None = None  # a watched folder's file: its stat, recorded once indexed


@dataclass
class Prepared:
    """The io lane's answer to :meth:`IngestController.add`."""

    notebook_id: str
    queued: list[tuple[str, SourceRef, str]] = field(default_factory=list)  # (source id, ref, label)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    notes: list[str] = field(default_factory=list)


MAX_WATCHED_PATHS = 2000  # folders and files handed to the window's file-system watcher (each costs a handle)


def _watch_paths(folders: Sequence[str]) -> list[str]:
    """(io lane) What to watch for a notebook's watched folders: the folders, their sub-folders (new and
    removed files) and their files (edits), hidden ones left out, at most ``MAX_WATCHED_PATHS``."""
    out: list[str] = []
    for folder in folders:
        out.append(folder)
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            if root != folder:
                out.append(root)
            out += [os.path.join(root, f) for f in sorted(files) if not f.startswith(".")]
            if len(out) >= MAX_WATCHED_PATHS:
                return out[:MAX_WATCHED_PATHS]
    return out


def _label(ref: SourceRef) -> str:
    if ref.path is not None:
        return ref.path.name or str(ref.path)
    return ref.url or ref.title or "Pasted text"


@dataclass
class _EmbedWatch:
    """The source being embedded on a store-lane thread: its cancel token and progress callback."""

    cancel: CancelToken
    report: Callable[[int, int, str], None]
    count: Callable[[], int]  # chunks still to embed (asked once, when embedding starts)
    done: int = 0
    total: int | None = None
    t1: float = 0.0  # when the first chunk was done (the first one also loads the model: not a fair sample)

    def step(self) -> None:
        if self.total is None:
            self.total = max(1, self.count())
            return
        self.done += 1
        now = time.monotonic()
        if self.done == 1:
            self.t1 = now
        eta = ""
        if 1 < self.done < self.total:
            eta = f" — about {(now - self.t1) / (self.done - 1) * (self.total - self.done):.0f} s left"
        self.report(min(self.done, self.total), self.total, f"embedding: {self.done}/{self.total} chunks{eta}")


class _CancellableEmbedder:
    """The index's embedder, one text per call, checking the running source's cancel token in between.

    ``LibraryService`` embeds 16 chunks per call, about 15 s on two CPU cores with the built-in model, and
    checks its token and reports progress only between calls: without this a Cancel, or closing the
    window, would wait for the whole batch and the progress bar would jump in steps of 16 chunks.
    (LlamaCppEmbedder decodes each text on its own anyway, so this costs nothing.)
    """

    def __init__(self, inner: Any, tls: threading.local) -> None:
        self._inner = inner
        self._tls = tls

    def embed(self, texts: Sequence[str], cancel: Any = None) -> list[list[float]]:
        watch: _EmbedWatch | None = getattr(self._tls, "watch", None)
        if watch is None:
            if cancel is not None and getattr(self._inner, "supports_cancel", False):
                return self._inner.embed(texts, cancel=cancel)
            return self._inner.embed(texts)
        if watch.total is None:
            watch.step()
        out: list[list[float]] = []
        cancellable = getattr(self._inner, "supports_cancel", False)  # LlamaCppEmbedder: it aborts mid-text
        for t in texts:
            watch.cancel.raise_if_set()
            out += self._inner.embed([t], cancel=watch.cancel) if cancellable else self._inner.embed([t])
            watch.step()
        return out

    def embed_stream(self, texts: Any, cancel: Any = None, **kw: Any) -> Any:
        """The inner embedder's stream (several texts decoded at once), with one progress step per vector."""
        watch: _EmbedWatch | None = getattr(self._tls, "watch", None)
        with contextlib.closing(self._inner.embed_stream(texts, cancel=cancel if watch is None else watch.cancel,
                                                         **kw)) as stream:
            if watch is not None and watch.total is None:
                watch.step()
            for vec in stream:
                if watch is not None:
                    watch.step()
                yield vec

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Relay(QObject):
    """Carries the large-source question from the store lane (which then waits for the answer) to the GUI thread
    (queued signal). A source's progress comes through its job (``ui.ops.BackgroundOp``)."""

    ask = Signal(object)  # LargeSource


class IngestController(QObject):
    """Runs adding, indexing, re-indexing and removing of sources on the lanes.

    Args:
        lanes: the window's lanes.
        open_service: builds the library service (called once, on a lane: opening the index is slow).

    Signals:
        state_changed(str): a source's live state changed (see :meth:`live`).
        source_finished(str, str, str): source id, outcome (``ready``, ``failed``, ``duplicate``,
            ``stopped``), a message.
        sources_changed(str): a notebook's list of sources changed (added, removed, finished).
        notice(str): a message for the user: an input that was not added and why, a duplicate.
        activity_changed(int, int): sources still to index (and inputs being checked), percent done of
            the current batch; (0, 100) when idle.
        notebook_deleted(str): the notebook is gone.
        large_source(object): a :class:`LargeSource`: embedding a source will take more than a few minutes
            (``LibraryService.confirm_large``). The store lane waits (cancellably) until
            :meth:`answer_large` is called with "continue", "lexical" (keyword search only for now) or
            "cancel". With nothing connected, the work continues.
        disk_full(str): the disk holding the data is full (the message says how much is free); the queue
            was stopped, nothing was lost, and the sources finish once there is room (Retry / resume).
        library_damaged(str): the library database could not be opened for indexing (damaged).
        synced(object): a watched folder's :class:`~notebooklm_local.core.watch.SyncResult`, once the files
            its sync queued were indexed (or failed, or were stopped) (:meth:`sync_folders`).
        folders_scanned(str, object): a notebook id and the paths to watch for changes (its watched folders,
            their sub-folders and files), after each sync of the notebook.
    """

    state_changed = Signal(str)
    source_finished = Signal(str, str, str)
    sources_changed = Signal(str)
    notice = Signal(str)
    activity_changed = Signal(int, int)
    notebook_deleted = Signal(str)
    large_source = Signal(object)
    disk_full = Signal(str)
    library_damaged = Signal(str)
    index_opened = Signal(bool)  # the first opening of the index finished (True) or failed (False)
    synced = Signal(object)
    folders_scanned = Signal(str, object)

    ASK_POLL_S = 0.1  # how often a store lane waiting for the user's answer looks at its cancel token

    def __init__(self, lanes: Lanes, open_service: Callable[[], LibraryService], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.lanes = lanes
        self._open_service = open_service
        self._svc: LibraryService | None = None
        self._svc_lock = threading.Lock()
        self._tls = threading.local()  # .watch: the source being embedded on this thread
        self._queue: deque[_Job] = deque()
        self._current: _Job | None = None
        self._preparing = 0
        self._batch_total = 0
        self._batch_done = 0
        self._closed = False
        self._last_emit: dict[str, float] = {}
        self._relay = _Relay()
        self._relay.ask.connect(self._on_relay_ask)
        self._asking: dict[str, LargeSource] = {}
        self._sync_pending: dict[str, Any] = {}  # source id -> the SyncResult waiting for it
        self._syncing: dict[str, bool] = {}  # notebook id -> another sync was asked for while this one ran
        self.source_finished.connect(self._on_sync_source_finished)

    # -- the service ------------------------------------------------------------------------------

    def service(self) -> LibraryService:
        """The library service, opened on first use. Call from a lane, never from the GUI thread."""
        with self._svc_lock:
            if self._svc is None:
                svc = self._open_service()
                if svc.index is not None:
                    svc.index.embedder = _CancellableEmbedder(svc.index.embedder, self._tls)  # type: ignore[assignment]
                svc.confirm_large = self._confirm_large
                self._svc = svc
            return self._svc

    @property
    def opened_service(self) -> LibraryService | None:
        """The service if it was opened (the window closes it; the lead may share it with chat)."""
        return self._svc

    # -- state ------------------------------------------------------------------------------------

    def live(self, source_id: str) -> LiveState | None:
        """The live state of a queued or running source, else None."""
        if self._current is not None and self._current.state.source_id == source_id:
            return self._current.state
        for job in self._queue:
            if job.state.source_id == source_id:
                return job.state
        return None

    @property
    def busy(self) -> bool:
        return self._current is not None or bool(self._queue) or self._preparing > 0

    @property
    def remaining(self) -> int:
        return len(self._queue) + (self._current is not None)

    def percent(self) -> int:
        if self._batch_total == 0:
            return 100
        current = self._current.state.fraction if self._current is not None else 0.0
        # 100 % only once nothing runs: a source whose last chunk is embedded is still being finished
        cap = 99 if (self._current is not None or self._queue) else 100
        return min(cap, int(100 * (self._batch_done + current) / self._batch_total))

    # -- adding -----------------------------------------------------------------------------------

    def add(self, notebook_id: str, items: Sequence[str | SourceRef]) -> None:
        """Check and queue files, folders, URLs or pasted-text refs, then index them one by one."""
        if self._closed or not items:
            return
        items = list(items)
        self._preparing += 1
        self._emit_activity()

        def prepare(cancel: CancelToken, progress: Any) -> Prepared:
            return self._prepare(notebook_id, items, cancel)

        BackgroundOp(self, prepare, lanes=self.lanes, lane="io", context=True, on_success=self._on_prepared,
                     on_failure=self._on_prepare_failed, label="Adding sources").run()

    def _prepare(self, notebook_id: str, items: list[str | SourceRef], cancel: CancelToken) -> Prepared:
        """(io lane) Expand folders, choose loaders and queue a source for every acceptable input."""
        svc = self.service()
        free = free_space(svc.data_dir)
        if free is not None and free < MIN_FREE_BYTES:  # as `add` refuses to start when the disk is nearly full
            raise disk_full_error(svc.data_dir)
        out = Prepared(notebook_id)
        nb = svc.library.notebook(notebook_id)
        exts = svc.file_extensions
        for item in items:
            cancel.raise_if_set()
            if isinstance(item, SourceRef):
                refs, skipped = [item], []
            else:
                refs, skipped = expand_inputs([item], exts, svc.can_load_file)
                folder = Path(item).expanduser()
                if folder.is_dir():
                    if not refs:
                        why = (f"it has no files that can be added ({len(skipped)} of other types)" if skipped
                               else "it is empty")
                        out.rejected.append((f"folder “{folder.name or folder}”", why))
                    elif skipped:
                        types = sorted({Path(p).suffix.lower() or "no extension" for p, _ in skipped})
                        out.notes.append(f"Skipped {len(skipped)} file{'s' if len(skipped) > 1 else ''} in "
                                         f"“{folder.name}” that cannot be added ({', '.join(types[:5])}).")
            for ref in refs:
                try:
                    svc.loader_for(ref)
                except SourceLoadError as e:
                    out.rejected.append((_label(ref), str(e)))
                    continue
                src = svc.library.add_source(nb.id, _ref_to_json(ref), title=ref.title or "")
                out.queued.append((src.id, ref, _label(ref)))
        return out

    @Slot(object)
    def _on_prepared(self, result: object) -> None:
        self._preparing -= 1
        assert isinstance(result, Prepared)
        for item, reason in result.rejected:
            self.notice.emit(f"Not added: {item} — {reason}" if not reason.startswith(item) else f"Not added: {reason}")
        for note in result.notes:
            self.notice.emit(note)
        for sid, ref, label in result.queued:
            self._enqueue(_Job(LiveState(sid, result.notebook_id, label), ref=ref))
        if result.queued:
            self.sources_changed.emit(result.notebook_id)
        self._emit_activity()
        self._start_next()

    @Slot(object)
    def _on_prepare_failed(self, exc: object) -> None:
        self._preparing -= 1
        self._report_failure(exc, "adding sources failed", "Could not add")
        self._emit_activity()

    def _report_failure(self, exc: object, log_text: str, notice: str) -> None:
        """A background step failed: a full disk or a damaged library has its own signal (the window says
        what to do), a cancellation says nothing, anything else is logged and posted as ``notice: exc``."""
        if isinstance(exc, DiskFullError):
            self.disk_full.emit(str(exc))
        elif isinstance(exc, LibraryDamagedError):
            self.library_damaged.emit(str(exc))
        elif not isinstance(exc, Cancelled):
            log.warning("%s: %s", log_text, exc)
            self.notice.emit(f"{notice}: {exc}")

    # -- indexing ---------------------------------------------------------------------------------

    def process(self, notebook_id: str, source_id: str, label: str = "") -> None:
        """Retry a failed source or finish an interrupted one (``LibraryService.process``)."""
        if not self._closed and self.live(source_id) is None:
            self._enqueue(_Job(LiveState(source_id, notebook_id, label or source_id)))
            self._start_next()

    def reindex(self, notebook_id: str, source_id: str, label: str = "") -> None:
        """Read the source again from its original (file, page, pasted text) and rebuild its index."""
        if not self._closed and self.live(source_id) is None:
            self._enqueue(_Job(LiveState(source_id, notebook_id, label or source_id), reindex=True))
            self._start_next()

    def cancel(self, source_id: str) -> bool:
        """Stop a queued or running source; it keeps the state it reached (resume finishes it)."""
        for job in list(self._queue):
            if job.state.source_id == source_id:
                self._queue.remove(job)
                self._batch_total -= 1
                self._emit_activity()
                self.source_finished.emit(source_id, "stopped", "Stopped before it started.")
                self.sources_changed.emit(job.state.notebook_id)
                return True
        cur = self._current
        if cur is not None and cur.state.source_id == source_id and cur.op is not None:
            cur.op.cancel()
            self._asking.pop(source_id, None)
            cur.state.stopping = True
            cur.state.text = "Stopping…"
            self.state_changed.emit(source_id)
            return True
        return False

    def cancel_notebook(self, notebook_id: str) -> None:
        for job in [j for j in self._queue if j.state.notebook_id == notebook_id]:
            self.cancel(job.state.source_id)
        if self._current is not None and self._current.state.notebook_id == notebook_id:
            self.cancel(self._current.state.source_id)

    def _enqueue(self, job: _Job) -> None:
        if self._current is None and not self._queue:
            self._batch_total = self._batch_done = 0
        self._queue.append(job)
        self._batch_total += 1
        self.state_changed.emit(job.state.source_id)

    def _start_next(self) -> None:
        if self._current is not None or not self._queue or self._closed:
            self._emit_activity()
            return
        job = self._queue.popleft()
        self._current = job
        job.state.running = True
        job.state.text = "Starting…"
        sid, ref, reindex, stat = job.state.source_id, job.ref, job.reindex, job.file_stat
        last = self._last_emit

        def run(cancel: CancelToken, progress: Any) -> tuple[str, str, str]:
            def report(done: int, total: int, message: str = "") -> None:
                now = time.monotonic()
                # only the per-chunk embedding reports come fast enough to need thinning; a stage change (reading,
                # OCR page n, ...) always gets through: it may be the last word for a long while (a slow OCR page)
                if message.startswith("embedding") and done < total and now - last.get(sid, 0.0) < PROGRESS_INTERVAL_S:
                    return
                last[sid] = now
                progress(done, total, message)  # dropped quietly when the window is gone

            out = self._run_one(sid, ref, reindex, cancel, report)
            if stat is not None and out[1] in ("ready", "failed"):  # failed: retried when the file changes
                with contextlib.suppress(NotebookError):
                    self.service().record_file_stat(sid, *stat)
            return out

        job.op = BackgroundOp(self, run, lanes=self.lanes, lane="store", context=True,
                              on_success=self._on_job_succeeded, on_failure=self._on_job_failed,
                              on_progress=functools.partial(self._on_job_progress, sid), label="Indexing")
        self.state_changed.emit(sid)
        self._emit_activity()
        job.op.run()

    def _run_one(
        self, sid: str, ref: SourceRef | None, reindex: bool, cancel: CancelToken, report: Callable[..., None]
    ) -> tuple[str, str, str]:
        """(store lane) One source to ready: returns (source id, outcome, message)."""
        svc = self.service()
        if svc.index is not None:
            index = svc.index
            self._tls.watch = _EmbedWatch(cancel, report, lambda: svc.library.count_unembedded(sid, index.model_id))
        self._tls.job = (sid, cancel, ref is not None and not reindex)
        try:
            if reindex:
                src = svc.library.source(sid)
                if svc.index is not None:
                    svc.index.delete_source(src.notebook_id, sid)
                svc.library.update_source(sid, status=SourceStatus.QUEUED, error=None)
            done = svc.process(sid, cancel=cancel, ref=ref, progress=report)
        except Cancelled:
            return sid, "stopped", "Stopped. Resume it to finish, or remove it."
        except DiskFullError as e:
            return sid, "disk_full", str(e)
        except NotebookError as e:
            if getattr(self._tls, "cancelled_large", False):  # the user said cancel: the service removed it
                return sid, "cancelled", f"{_label(ref) if ref is not None else sid} was not added (cancelled)."
            existing = getattr(e, "existing", None)
            if existing is not None:  # the service's duplicate: it removed the new copy
                name = _label(ref) if ref is not None else sid
                return sid, "duplicate", f"{name} is already in the notebook as “{existing.title}”."
            return sid, "failed", str(e)
        finally:
            self._tls.watch = None
            self._tls.job = None
            self._tls.cancelled_large = False
        return sid, "ready", done.title

    # -- watched folders -------------------------------------------------------------------------------

    def sync_folders(self, notebook_id: str) -> None:
        """Sync a notebook's watched folders: on the io lane the folders are scanned, missing files marked and
        new and changed files queued (``LibraryService.sync_folders(defer=True)``); the queue indexes them
        as it does drops (progress, Stop). ``synced`` reports each folder once its files are done."""
        if self._closed:
            return
        if notebook_id in self._syncing:
            self._syncing[notebook_id] = True  # once more when this one is over (a change came meanwhile)
            return
        self._syncing[notebook_id] = False
        self._preparing += 1
        self._emit_activity()

        def scan(cancel: CancelToken, progress: Any) -> tuple[str, list[Any], list[str]]:
            svc = self.service()
            results = svc.sync_folders(notebook_id, defer=True, cancel=cancel)
            return notebook_id, results, _watch_paths([r.folder for r in results if not r.error])

        BackgroundOp(self, scan, lanes=self.lanes, lane="io", context=True, on_success=self._on_sync_scanned,
                     on_failure=self._on_sync_failed, label="Syncing watched folders").run()

    @Slot(object)
    def _on_sync_scanned(self, result: object) -> None:
        self._preparing -= 1
        notebook_id, results, paths = result  # type: ignore[misc]
        changed = False
        for r in results:
            changed = changed or bool(r.missing or r.moved or r.restored or r.queued)
            waiting = []
            for q in r.queued:
                if self.live(q.source_id) is not None:  # already queued by an earlier sync
                    continue
                ref = None if q.reindex else SourceRef(path=Path(q.path))
                self._enqueue(_Job(LiveState(q.source_id, notebook_id, Path(q.path).name), ref=ref,
                                   reindex=q.reindex, file_stat=(q.size, q.mtime)))
                self._sync_pending[q.source_id] = r
                waiting.append(q.source_id)
            if not waiting:
                self.synced.emit(r)
        if changed:
            self.sources_changed.emit(notebook_id)
        self.folders_scanned.emit(notebook_id, paths)
        self._after_sync(notebook_id)
        self._emit_activity()
        self._start_next()

    @Slot(object)
    def _on_sync_failed(self, exc: object) -> None:
        self._preparing -= 1
        self._report_failure(exc, "syncing watched folders failed", "Could not sync the watched folders")
        for nb_id in list(self._syncing):
            self._after_sync(nb_id)
        self._emit_activity()

    def _after_sync(self, notebook_id: str) -> None:
        again = self._syncing.pop(notebook_id, False)
        if again:
            self.sync_folders(notebook_id)

    @Slot(str, str, str)
    def _on_sync_source_finished(self, source_id: str, outcome: str, message: str) -> None:
        r = self._sync_pending.pop(source_id, None)
        if r is None:
            return
        q = next((q for q in r.queued if q.source_id == source_id), None)
        if q is not None and outcome != "ready":
            r.drop(q.path)
            if outcome == "duplicate":
                r.duplicates.append((q.path, message))
                if self._svc is not None:  # not read again while unchanged (reported once)
                    self._svc.remember_duplicate(r.notebook_id, q.path, q.size, q.mtime)
            else:
                r.failed.append((q.path, message if outcome == "failed" else outcome))
        if not any(p is r for p in self._sync_pending.values()):
            self.synced.emit(r)

    # -- long embedding: ask the user ---------------------------------------------------------------

    def _confirm_large(self, src: Any, chunks: int, seconds: float) -> str:
        """(store lane) ``LibraryService.confirm_large``: ask on the GUI thread and wait for the answer.

        The wait checks the source's cancel token, so Cancel (or closing the window) ends it: the source
        then stops where it is (``Cancelled``), as it would mid-embedding.
        """
        job = getattr(self._tls, "job", None)
        if job is None or not self.isSignalConnected(self._large_source_signal()):
            return "continue"
        sid, cancel, adding = job
        question = LargeSource(sid, src.title or src.display, chunks, seconds, adding)
        try:
            self._relay.ask.emit(question)
        except RuntimeError:  # the window is gone
            return "continue"
        while not question.answered.wait(self.ASK_POLL_S):
            cancel.raise_if_set()
        cancel.raise_if_set()
        answer = question.answer or "continue"
        if answer == "cancel" and not adding:
            raise Cancelled()  # a resumed or re-indexed source is never removed: it stops where it is
        self._tls.cancelled_large = answer == "cancel"
        return answer

    def _large_source_signal(self) -> Any:
        from PySide6.QtCore import QMetaMethod

        return QMetaMethod.fromSignal(self.large_source)

    @Slot(object)
    def _on_relay_ask(self, question: object) -> None:
        assert isinstance(question, LargeSource)
        cur = self._current
        if cur is None or cur.state.source_id != question.source_id or cur.state.stopping or self._closed:
            question.answer = "continue"
            question.answered.set()
            return
        self._asking[question.source_id] = question
        cur.state.text = "Large source: waiting for your answer…"
        self.state_changed.emit(question.source_id)
        self.large_source.emit(question)

    def pending_question(self, source_id: str) -> LargeSource | None:
        """The unanswered size question of a source, if one is waiting."""
        return self._asking.get(source_id)

    def answer_large(self, source_id: str, answer: str) -> None:
        """The user's answer to ``large_source``: "continue", "lexical" or "cancel" (GUI thread)."""
        question = self._asking.pop(source_id, None)
        if question is None:
            return
        if answer == "cancel" and not question.adding:
            self.cancel(source_id)  # stops it (kept, resumable) rather than removing it
        question.answer = answer if answer in ("continue", "lexical", "cancel") else "continue"
        cur = self._current
        if cur is not None and cur.state.source_id == source_id and not cur.state.stopping:
            cur.state.text = {"lexical": "Keyword search only: finishing…",
                              "cancel": "Cancelling…"}.get(question.answer, "Embedding…")
            self.state_changed.emit(source_id)
        question.answered.set()

    def _on_job_progress(self, sid: str, done: int, total: int, message: str) -> None:
        cur = self._current
        if cur is None or cur.state.source_id != sid or cur.state.stopping:
            return
        st = cur.state
        if message.startswith("embedding") and total > 0:
            st.fraction = 0.1 + 0.9 * done / total
            eta = _ETA.search(message)
            st.text = f"Embedding {done}/{total} chunks" + (f" · {format_eta(float(eta.group(1)))}" if eta else "")
        elif message.startswith("reading"):
            st.fraction = max(st.fraction, 0.03)
            st.text = "Downloading…" if cur.ref is not None and cur.ref.url else "Reading…"
        elif (ocr := _OCR.search(message)) is not None:
            n, of = int(ocr.group(1)), max(1, int(ocr.group(2)))
            st.fraction = max(st.fraction, 0.03 + 0.07 * (n - 1) / of)
            st.text = f"OCR page {n}/{of}"
        self.state_changed.emit(sid)
        self._emit_activity()

    @Slot(object)
    def _on_job_succeeded(self, result: object) -> None:
        sid, outcome, message = result  # type: ignore[misc]
        job = self._finish_current()
        self._asking.pop(sid, None)
        if outcome == "disk_full":
            # every source after it would fail the same way: stop the queue, say so once, lose nothing
            dropped = list(self._queue)
            self._queue.clear()
            self.source_finished.emit(sid, "failed", message)
            for j in dropped:
                self.source_finished.emit(j.state.source_id, "stopped", "Not started: the disk is full.")
                self.sources_changed.emit(j.state.notebook_id)
            if job is not None:
                self.sources_changed.emit(job.state.notebook_id)
            self.disk_full.emit(message)
            self._emit_activity()
            return
        if outcome == "duplicate":
            self.notice.emit(f"Not added again: {message}")
        elif outcome == "cancelled":
            self.notice.emit(message)
        elif outcome == "failed" and job is not None:
            log.info("source %s failed: %s", job.state.label, message)
        self.source_finished.emit(sid, outcome, message)
        if job is not None:
            self.sources_changed.emit(job.state.notebook_id)
        self._start_next()

    @Slot(object)
    def _on_job_failed(self, exc: object) -> None:
        # Not a source's failure (the service turns those into a failed source): the service itself
        # could not open, e.g. a missing embedding model. Everything queued would fail the same way.
        job = self._finish_current()
        log.warning("indexing failed: %s", exc)
        if isinstance(exc, DiskFullError):
            self.disk_full.emit(str(exc))
        elif isinstance(exc, LibraryDamagedError):
            self.library_damaged.emit(str(exc))
        else:
            self.notice.emit(f"Indexing stopped: {exc}")
        dropped = list(self._queue)
        self._queue.clear()
        for j in [job, *dropped]:
            if j is not None:
                self.source_finished.emit(j.state.source_id, "stopped", str(exc))
                self.sources_changed.emit(j.state.notebook_id)
        self._emit_activity()

    def _finish_current(self) -> _Job | None:
        job, self._current = self._current, None
        if job is not None:
            self._batch_done += 1
            self._last_emit.pop(job.state.source_id, None)
        return job

    def _emit_activity(self) -> None:
        self.activity_changed.emit(self.remaining + self._preparing, self.percent())

    # -- removing ---------------------------------------------------------------------------------

    def remove(self, notebook_id: str, source_ids: Sequence[str]) -> None:
        """Remove sources (their chunks, vectors and stored originals); running ones are cancelled first."""
        ids = list(source_ids)
        for sid in ids:
            self.cancel(sid)

        def run() -> tuple[str, list[str], list[str]]:
            svc = self.service()
            removed, problems = [], []
            for sid in ids:
                try:
                    removed.append(svc.remove_source(sid).title)
                except NotebookError as e:
                    problems.append(str(e))
            return notebook_id, removed, problems

        BackgroundOp(self, run, lanes=self.lanes, lane="store", on_success=self._on_removed,
                     on_failure=self._on_store_failed, label="Removing sources").run()

    @Slot(object)
    def _on_removed(self, result: object) -> None:
        notebook_id, removed, problems = result  # type: ignore[misc]
        for p in problems:
            self.notice.emit(f"Not removed: {p}")
        self.sources_changed.emit(notebook_id)

    def delete_notebook(self, notebook_id: str) -> None:
        """Delete a notebook with its sources, index and stored originals (``LibraryService.delete_notebook``)."""
        self.cancel_notebook(notebook_id)

        def run() -> str:
            self.service().delete_notebook(notebook_id)
            return notebook_id

        BackgroundOp(self, run, lanes=self.lanes, lane="store", on_success=self._on_notebook_deleted,
                     on_failure=self._on_store_failed, label="Deleting the notebook").run()

    @Slot(object)
    def _on_notebook_deleted(self, notebook_id: object) -> None:
        self.notebook_deleted.emit(str(notebook_id))

    @Slot(object)
    def _on_store_failed(self, exc: object) -> None:
        log.warning("library operation failed: %s", exc)
        self.notice.emit(str(exc))

    # -- embedding model changes ---------------------------------------------------------------------

    def reembed_stale(self, *, reopen: bool = False) -> None:
        """Re-embed, in the background, every ready source that has no vectors of the current embedding model.

        Called when the window opens (a data dir made with another default embedder: its notebooks move to
        the new one) and after the embedding model changed in Settings (``reopen``: the service is opened
        again with the new model first). Sources stay usable meanwhile: keyword search finds them, and the
        old vectors are dropped only once every chunk has a new one (``LibraryService``), so an interrupted
        run loses nothing and the next start finishes it. Posts a ``notice`` saying what is happening.
        """
        if self._closed:
            return

        def find(cancel: CancelToken, progress: Any) -> tuple[str, list[tuple[str, str, str]]]:
            if reopen:
                with self._svc_lock:
                    old, self._svc = self._svc, None
                if old is not None and old.index is not None:
                    with contextlib.suppress(Exception):
                        old.index.embedder.close()
            svc = self.service()
            if svc.index is None:
                return "", []
            model = svc.index.model_id
            stale = [(s.notebook_id, s.id, s.display) for s in svc.library.all_sources(status=[SourceStatus.READY])
                     if svc.library.count_unembedded(s.id, model)]
            return model, stale

        first = not reopen  # the window's call as it opens (index_opened)

        def found(result: object) -> None:
            if first:
                self.index_opened.emit(True)
            self._on_stale_found(result)

        def failed(exc: object) -> None:
            if first:
                self.index_opened.emit(False)
            self._on_stale_failed(exc)

        BackgroundOp(self, find, lanes=self.lanes, lane="store", context=True, on_success=found,
                     on_failure=failed, label="Re-indexing").run()

    @Slot(object)
    def _on_stale_found(self, result: object) -> None:
        model, stale = result  # type: ignore[misc]
        if not stale or self._closed:
            return
        name = model.split(":")[1] if model.count(":") >= 2 else model
        n = len(stale)
        self.notice.emit(f"Re-indexing {n} source{'s' if n != 1 else ''} for the embedding model {name} in the "
                         "background; keyword search finds them meanwhile, and nothing is lost if you close the app.")
        touched = set()
        for nb_id, sid, label in stale:
            self.process(nb_id, sid, label)
            touched.add(nb_id)
        for nb_id in touched:
            self.sources_changed.emit(nb_id)

    @Slot(object)
    def _on_stale_failed(self, exc: object) -> None:
        if not isinstance(exc, Cancelled):
            log.warning("could not check for sources to re-embed: %s", exc)
            self.notice.emit(f"The search index could not be opened: {exc}")

    # -- shutdown ---------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Drop the queue and cancel the running source (the window then drains the lanes)."""
        self._closed = True
        self._queue.clear()
        if self._current is not None and self._current.op is not None:
            self._current.op.cancel()

    def close_service(self) -> None:
        """Close the service's database connection (after the lanes are drained)."""
        if self._svc is not None:
            self._svc.library.close()
