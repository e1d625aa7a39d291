"""The studio pane: summaries (and briefing / study guide / FAQ), chain of density, podcast, history.

Every job runs ``StudioService`` (the same code as the CLI's ``studio`` commands) off the GUI thread:
generation on the ``llm`` lane, speech on the ``io`` lane, small database work on the ``store`` lane.
``studio_factory`` is called once, on the llm lane, the first time the pane needs the service.
The jobs run through ``ui.ops.BackgroundOp`` (one per tab, :mod:`.jobs`); the tabs are in their own modules
(:mod:`.summary_tab`, :mod:`.cod_tab`, :mod:`.podcast_tab`, :mod:`.history_tab`, :mod:`.extract`) on a shared
base (:mod:`.tab_base`). Workers only emit signals; progress messages and streamed tokens are painted by a
50 ms timer (not one repaint per token). Long jobs report their stage (``services.studio.stages``: part i/n,
attempt a/m, tokens, time left); the bar repaints it with the GUI's clock, so the elapsed seconds and the time left move even
while the model reads a long prompt and says nothing (at most ~10 repaints a second). Each tab shows its
job's progress with a Cancel button, and its last error inline:
a ``StudioError`` / ``NotebookError`` message as is (on the tiny demo model a structured output that
fails its checks is the normal case), anything unexpected also through ``ui.errors.show_exception``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.core.errors import Cancelled, NotebookError
from notebooklm_local.core.settings import Settings
from notebooklm_local.core.studio_store import StudioOutput
from notebooklm_local.ui.errors import guard_none_refcount, show_exception
from notebooklm_local.ui.studio.cod_tab import CoDTab
from notebooklm_local.ui.studio.history_tab import HistoryTab
from notebooklm_local.ui.studio.jobs import StudioJob
from notebooklm_local.ui.studio.podcast_tab import PodcastTab
from notebooklm_local.ui.studio.summary_tab import SummaryTab
from notebooklm_local.ui.studio.widgets import JobBar
from notebooklm_local.ui.workers import Lanes

__all__ = ["StudioPane"]

log = logging.getLogger(__name__)


FLUSH_MS = 50  # batched repaint of progress and streamed tokens


class StudioPane(QWidget):
    """Summaries, chain of density, podcast and history for the current notebook.

    Args:
        lanes: the app's lanes (llm for generation, io for speech, store for database work).
        studio_factory: builds the StudioService; called once, on the llm lane, when first needed.
        settings: defaults for the forms (lengths, audience, steps, hosts, TTS engine); the defaults when None.
        tts_engines: the registered TTS engines (as the studio's); default ``extensions.runtime.tts_engines``.
        library_getter: the open Library, so the History tab can list outputs without building the studio.

    Signals:
        citation_activated(object): a Citation was clicked (open the source at the passage).
        note_saved(str): an output was saved as a note (its id), e.g. to refresh the notes pane.
        busy_changed(bool): a job started (True) or the last one finished (False).
        output_stored(str): an output was made or changed (its id).
    """

    citation_activated = Signal(object)
    note_saved = Signal(str)
    busy_changed = Signal(bool)
    output_stored = Signal(str)

    def __init__(self, lanes: Lanes, studio_factory: Callable[[], Any], parent: QWidget | None = None, *,
                 settings: Settings | None = None, tts_engines: Callable[[], Sequence[Any]] | None = None,
                 library_getter: Callable[[], Any] | None = None,
                 library_service: Callable[[], Any] | None = None) -> None:
        guard_none_refcount()
        super().__init__(parent)
        self.setObjectName("studio-pane")
        self.setAccessibleName("Studio")
        self.lanes = lanes
        self.studio_factory = studio_factory
        self.settings = settings or Settings()
        if tts_engines is None:
            from notebooklm_local.extensions.runtime import tts_engines as registered

            tts_engines = registered
        self.tts_engines = tts_engines
        self.library_getter = library_getter
        self.studio: Any = None
        self._studio_lock = threading.Lock()
        self.notebook_id: str | None = None
        self.source_ids: list[str] | None = None
        self.jobs: dict[Any, StudioJob] = {}  # id(tab) (or a side job's key) -> its running job
        self._key = 0

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        title = QLabel("<b>Studio</b>")
        title.setObjectName("studio-pane-title")
        layout.addWidget(title)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("studio-tabs")
        from notebooklm_local.ui.studio.extract import ExtractTab

        self.extract_tab = ExtractTab(self, library_service)
        self.summary_tab = SummaryTab(self)
        self.cod_tab = CoDTab(self)
        self.podcast_tab = PodcastTab(self)
        self.history_tab = HistoryTab(self)
        self.tabs.addTab(self.extract_tab, "Extract")
        self.tabs.setTabToolTip(0, "Summaries, key quotes, flashcards, quizzes and a mind map made of your sources' "
                                   "own sentences: no model needed, every line cited")
        self.tabs.addTab(self.summary_tab, "Summary")
        self.tabs.addTab(self.cod_tab, "Chain of density")
        self.tabs.addTab(self.podcast_tab, "Podcast")
        self.tabs.addTab(self.history_tab, "History")
        self.tabs.currentChanged.connect(self._on_tab_changed)
        layout.addWidget(self.tabs, 1)
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self._flush)

    # -- public ---------------------------------------------------------------------------------
    def set_notebook(self, notebook_id: str | None, source_ids: list[str] | None = None) -> None:
        """Show ``notebook_id``'s studio (None: none); ``source_ids`` are the sources to work from."""
        changed = notebook_id != self.notebook_id
        self.notebook_id = notebook_id
        self.source_ids = list(source_ids) if source_ids is not None else None
        if changed:
            for tab in (self.extract_tab, self.summary_tab, self.cod_tab, self.podcast_tab, self.history_tab):
                if not self.tab_busy(tab):
                    tab.clear()
            self.podcast_tab.load_prefs()
            if self.tabs.currentWidget() is self.history_tab:
                self.history_tab.refresh()

    def set_sources(self, source_ids: list[str]) -> None:
        self.source_ids = list(source_ids)

    @property
    def busy(self) -> bool:
        return bool(self.jobs)

    def reset_studio(self) -> None:
        """Forget the studio service (the model settings changed): the next job builds a new one."""
        with self._studio_lock:
            self.studio = None

    def tab_busy(self, tab: Any) -> bool:
        return id(tab) in self.jobs

    def open_output(self, out: StudioOutput) -> None:
        """Show a stored output again in its tab."""
        from notebooklm_local.ui.studio.extract import KIND_LABELS

        tabs: dict[str, Any] = {"summary": self.summary_tab, "cod": self.cod_tab, "podcast": self.podcast_tab}
        tabs.update(dict.fromkeys(KIND_LABELS, self.extract_tab))
        tab: Any = tabs.get(out.kind)
        if tab is None:
            return
        if self.tab_busy(tab):
            self.history_tab.bar.show_error(f"The {self.tabs.tabText(self.tabs.indexOf(tab))} tab is busy; "
                                            "open it again when its job is done.")
            return
        tab.bar.clear_notice()
        tab.show_output(out)
        self.tabs.setCurrentWidget(tab)

    def show_provenance(self, tab: Any) -> None:
        """The shown output's provenance card: model, quantization, templates, sources, settings, time."""
        from notebooklm_local.ui.provenance import InfoDialog, provenance_html

        out = getattr(tab, "output", None)
        if out is None:
            tab.bar.show_info("Make or open an output first.")
            return
        self.provenance_dialog = InfoDialog("How it was made", provenance_html(
            out.payload.get("provenance"), kind=out.kind, title=out.title), self, name="provenance")
        self.provenance_dialog.open()

    def regenerate_link(self, tab: Any, link: str) -> None:
        """A ``regen:<key>:<n>`` link of a flagged summary sentence or podcast line: write that one item again
        (the model, from the passages it cites); it replaces the old one only when the checks pass."""
        if not link.startswith("regen:") or tab.output is None:
            return
        try:
            index = int(link.rsplit(":", 1)[1])
        except ValueError:
            return
        oid, kind = tab.output.id, tab.output.kind

        def run(studio: Any, cancel: Any, _progress: Any, _relay: Any) -> Any:
            fn = studio.regenerate_sentence if kind == "summary" else studio.regenerate_line
            done = fn(oid, index, cancel=cancel)
            return done, studio.store.get(oid)

        def shown(result: Any) -> None:
            done, out = result
            tab.show_output(out)
            self.output_stored.emit(out.id)
            if done.replaced:
                tab.bar.show_info("Rewritten: the new text is supported by its passages.")
            else:
                tab.bar.show_error(f"Kept the old text: {done.flag or 'no supported rewrite was made'}.")

        what = "sentence" if kind == "summary" else "line"
        self.submit(tab, tab.bar, run, on_success=shown, message=f"Rewriting the flagged {what}…")

    def stop(self) -> None:
        """Cancel every running job (e.g. when the window closes)."""
        for job in list(self.jobs.values()):
            job.cancel()

    # -- jobs -----------------------------------------------------------------------------------
    def next_key(self) -> int:
        self._key += 1
        return self._key

    def submit(self, tab: Any, bar: JobBar, fn: Callable[..., Any], *, on_success: Callable[[Any], None],
               on_failure: Callable[[BaseException], None] | None = None,
               on_tokens: Callable[[str], None] | None = None, on_step: Callable[[Any], None] | None = None,
               lane: str = "llm", needs_studio: bool = True, message: str = "Working…",
               quiet: bool = False, key: Any = None) -> bool:
        """Run ``fn(studio, cancel, progress, relay)`` for ``tab`` (one job per tab, or per ``key`` for side
        jobs such as finding the voices). Returns False when that slot is busy."""
        slot = id(tab) if key is None else key
        if slot in self.jobs:
            bar.show_error("Wait for the current job to finish (or cancel it).")
            return False
        job = StudioJob(self, tab, bar, on_success=on_success, on_failure=on_failure, on_tokens=on_tokens,
                        on_step=on_step)
        job.slot = slot
        job.quiet = quiet
        relay = job.relay
        if needs_studio and self.studio is None:
            lane = "llm"  # the factory runs on the llm lane only

        def run(cancel: Any, progress: Any) -> Any:
            cancel.raise_if_set()
            studio = self._ensure_studio(progress) if needs_studio else self.studio
            cancel.raise_if_set()
            return fn(studio, cancel, progress, relay)

        was_busy = bool(self.jobs)
        self.jobs[slot] = job
        if not quiet:
            bar.begin(message)
        tab.set_busy(self.tab_busy(tab))
        if not self._timer.isActive():
            self._timer.start()
        job.start(run, lane=lane)
        if not was_busy:
            self.busy_changed.emit(True)
        return True

    def _ensure_studio(self, progress: Callable[[int, int, str], None]) -> Any:
        with self._studio_lock:
            if self.studio is None:
                progress(0, 0, "Loading the model…")
                self.studio = self.studio_factory()
            return self.studio

    def cancel(self, tab: Any) -> None:
        job = self.jobs.get(id(tab))
        if job is not None:
            job.cancel()
            job.bar.hold("Cancelling…")
            job.bar.cancel_button.setEnabled(False)

    def save_note(self, tab: Any, bar: JobBar, output_id: str, *, step: int | None = None) -> None:
        def run(studio: Any, _cancel: Any, _progress: Any, _relay: Any) -> Any:
            return studio.save_note(output_id, step=step)

        self.submit(tab, bar, run, on_success=lambda note: self._on_note_saved(bar, note), lane="store",
                    message="Saving the note…")

    def _on_note_saved(self, bar: JobBar, note: Any) -> None:
        bar.show_info(f"Saved as the note \u201c{note.title}\u201d.")
        self.note_saved.emit(note.id)

    def output_deleted(self, oid: str) -> None:
        self.extract_tab.forget(oid)  # not shown again when its kind is chosen
        for tab in (self.extract_tab, self.summary_tab, self.cod_tab, self.podcast_tab):
            if tab.output is not None and tab.output.id == oid and not self.tab_busy(tab):
                tab.clear()

    def _report_failure(self, bar: JobBar, exc: object) -> None:
        if isinstance(exc, Cancelled):
            bar.show_info("Cancelled.")
        elif isinstance(exc, NotebookError):
            log.info("studio job failed: %s", exc)
            bar.show_error(str(exc), getattr(exc, "attempts", ()))
        else:
            log.warning("studio job failed unexpectedly: %r", exc)
            bar.show_error(f"Unexpected error: {type(exc).__name__}: {exc}")
            if isinstance(exc, BaseException):
                show_exception(self, "Studio", exc)

    def _job_finished(self, job: StudioJob) -> None:
        job.flush()
        if self.jobs.get(job.slot) is job:
            del self.jobs[job.slot]
        job.tab.set_busy(self.tab_busy(job.tab))
        if not self.jobs:
            self._timer.stop()
            self.busy_changed.emit(False)
        if job.tab is not self.history_tab and self.tabs.currentWidget() is self.history_tab:
            self.history_tab.refresh()

    @Slot()
    def _flush(self) -> None:
        for job in list(self.jobs.values()):
            job.flush()

    @Slot(int)
    def _on_tab_changed(self, _index: int) -> None:
        if self.tabs.currentWidget() is self.history_tab and not self.tab_busy(self.history_tab):
            self.history_tab.refresh()

    # -- dialogs (tests replace these) ------------------------------------------------------------
    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Ok
                                      | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Ok

    def _ask_save_path(self, title: str, name: str, filters: str) -> str:
        path, _filter = QFileDialog.getSaveFileName(self, title, str(Path.home() / name), filters)
        return path
