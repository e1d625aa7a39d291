"""The studio pane: summaries (and briefing / study guide / FAQ), chain of density, podcast, history.

Every job runs ``StudioService`` (the same code as the CLI's ``studio`` commands) off the GUI thread:
generation on the ``llm`` lane, speech on the ``io`` lane, small database work on the ``store`` lane.
``studio_factory`` is called once, on the llm lane, the first time the pane needs the service.
Workers only emit signals; progress messages and streamed tokens are painted by a 50 ms timer (not one
repaint per token). Long jobs report their stage (``services.studio.stages``: part i/n, attempt a/m, tokens,
time left); the bar repaints it with the GUI's clock, so the elapsed seconds and the time left move even
while the model reads a long prompt and says nothing (at most ~10 repaints a second). Each tab shows its job's progress with a Cancel button, and its last error inline:
a ``StudioError`` / ``NotebookError`` message as is (on the tiny demo model a structured output that
fails its checks is the normal case), anything unexpected also through ``ui.errors.show_exception``.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QFont, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.core.citations import repair_json, strip_markers
from notebooklm_local.core.density import CoDStep
from notebooklm_local.core.errors import Cancelled, NotebookError
from notebooklm_local.core.note_export import safe_filename
from notebooklm_local.core.podcast_script import (
    PODCAST_FORMATS,
    PODCAST_LENGTHS,
    PREFS_KEY,
    PodcastScript,
    checked_prefs,
    normalize_length,
    podcast_format,
)
from notebooklm_local.core.settings import Settings
from notebooklm_local.core.studio_store import StudioOutput, StudioStore
from notebooklm_local.services.studio.stages import StageReport
from notebooklm_local.services.studio.summaries import AUDIENCES, DOCUMENT_TEMPLATES, LENGTHS
from notebooklm_local.ui.chat_panel import citation_html, regenerate_link
from notebooklm_local.ui.errors import NO_NOTEBOOK, guard_none_refcount, show_exception
from notebooklm_local.ui.rich_text import CitationBrowser, answer_from_json, chip, citation_from_json
from notebooklm_local.ui.studio_widgets import JobBar, _button, _combo
from notebooklm_local.ui.theme import color, css
from notebooklm_local.ui.workers import FunctionWorker, Lanes

__all__ = ["StudioPane", "JobBar", "DensityChart", "multimedia_available"]

log = logging.getLogger(__name__)

FLUSH_MS = 50  # batched repaint of progress and streamed tokens

_KIND_LABELS = {"summary": "Summary", "cod": "Chain of density", "podcast": "Podcast"}


def multimedia_available() -> tuple[bool, str]:
    """(True, "") when QtMultimedia can play here; else (False, why). Never raises."""
    try:
        from PySide6.QtMultimedia import QMediaDevices

        if not QMediaDevices.audioOutputs():
            return False, "no audio output device was found"
    except Exception as e:  # noqa: BLE001 - a missing or broken multimedia backend only disables playback
        return False, f"audio playback is not available ({e})"
    return True, ""


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else ""


def _stats_text(stats: dict[str, Any] | None, model: str = "") -> str:
    if not stats:
        return model
    parts = [f"{stats.get('calls', 0)} model call(s)", f"{stats.get('completion_tokens', 0)} tokens generated"]
    if stats.get("failed_attempts"):
        parts.append(f"{stats['failed_attempts']} attempt(s) rejected")
    parts.append(f"{float(stats.get('wall_s', 0.0)):.1f} s")
    if model:
        parts.append(model)
    return " \u00b7 ".join(parts)


def _notes_html(notes: Sequence[str]) -> str:
    return "".join(f'<div style="color:{css("muted")};font-size:small">{html.escape(n)}</div>' for n in notes)


# ---------------------------------------------------------------------------------------------
# Job plumbing


class _Relay(QObject):
    """Carries tokens, chain-of-density steps and stage reports from the worker thread to the GUI thread
    (queued)."""

    token = Signal(str)
    step = Signal(object)
    stage = Signal(object)


class _Job(QObject):
    """One background job of a tab: receives the worker's queued signals on the GUI thread."""

    def __init__(self, pane: StudioPane, tab: Any, bar: JobBar, *, on_success: Callable[[Any], None],
                 on_failure: Callable[[BaseException], None] | None, on_tokens: Callable[[str], None] | None,
                 on_step: Callable[[Any], None] | None) -> None:
        super().__init__()
        self.pane, self.tab, self.bar = pane, tab, bar
        self.on_success, self.on_failure, self.on_tokens, self.on_step = on_success, on_failure, on_tokens, on_step
        self.notebook_id = pane.notebook_id
        self.slot: Any = None
        self.quiet = False
        self.worker: FunctionWorker | None = None
        self.tokens: list[str] = []
        self.relay = _Relay(self)
        self.relay.token.connect(self._on_token)
        self.relay.step.connect(self._on_step)
        self.relay.stage.connect(self._on_stage)

    def attach(self, worker: FunctionWorker) -> None:
        self.worker = worker
        worker.signals.progress.connect(self._on_progress)
        worker.signals.succeeded.connect(self._on_succeeded)
        worker.signals.failed.connect(self._on_failed)
        worker.signals.finished.connect(self._on_finished)

    def cancel(self) -> None:
        if self.worker is not None and not self.worker.done:
            self.worker.cancel_token.cancel()

    def flush(self) -> None:
        self.bar.flush()
        if self.tokens:
            text, self.tokens = "".join(self.tokens), []
            if self.on_tokens is not None:
                self.on_tokens(text)

    @property
    def stale(self) -> bool:
        """The notebook changed while the job ran: its result is not for what is shown now."""
        return self.notebook_id != self.pane.notebook_id

    @Slot(str)
    def _on_token(self, piece: str) -> None:
        self.tokens.append(piece)

    @Slot(object)
    def _on_step(self, step: object) -> None:
        if self.on_step is not None and not self.stale:
            self.on_step(step)

    @Slot(object)
    def _on_stage(self, report: object) -> None:
        if isinstance(report, StageReport):
            self.bar.queue_stage(report)

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.bar.queue(done, total, message)

    @Slot(object)
    def _on_succeeded(self, result: object) -> None:
        self.tokens = []
        if not self.stale:
            self.on_success(result)

    @Slot(object)
    def _on_failed(self, exc: object) -> None:
        self.tokens = []
        self.pane._report_failure(self.bar, exc)  # noqa: SLF001
        if self.on_failure is not None and not self.stale and isinstance(exc, BaseException):
            self.on_failure(exc)

    @Slot()
    def _on_finished(self) -> None:
        if not self.quiet:  # a quiet side job (finding the voices) shares the tab's bar: it must not hide a
            self.bar.end()  # running job's progress
        self.pane._job_finished(self)  # noqa: SLF001


class _JsonStream:
    """Readable text from a streamed structured output (``{"sentences": [{"text": ...}]}``) as it arrives.

    A new top-level ``{`` after a complete object is a retry: the text starts again.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.depth = 0
        self.in_str = self.esc = False
        self.attempts = 0

    def feed(self, text: str) -> None:
        for ch in text:
            if self.in_str:
                if self.esc:
                    self.esc = False
                elif ch == "\\":
                    self.esc = True
                elif ch == '"':
                    self.in_str = False
            elif ch == '"':
                self.in_str = True
            elif ch == "{":
                if self.depth == 0:
                    self.parts = []
                    self.attempts += 1
                self.depth += 1
            elif ch == "}":
                self.depth = max(0, self.depth - 1)
            self.parts.append(ch)

    def text(self) -> str:
        try:
            data = repair_json("".join(self.parts))
        except ValueError:
            return ""
        items = data.get("sentences") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return ""
        return " ".join(strip_markers(str(it["text"])).strip() for it in items
                        if isinstance(it, dict) and isinstance(it.get("text"), str))


# ---------------------------------------------------------------------------------------------
# Summary


class _SummaryTab(QWidget):
    def __init__(self, pane: StudioPane) -> None:
        super().__init__()
        self.pane = pane
        st = pane.settings.studio
        self.output: StudioOutput | None = None
        self.answer: Any = None
        self.stream = _JsonStream()
        self.renders = 0
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.kind_box = _combo("summary-kind", [(label, t) for t, (_task, label) in DOCUMENT_TEMPLATES.items()],
                               "summary")
        self.length_box = _combo("summary-length", [(n.capitalize() + f" (~{w} words)", n)
                                                    for n, (w, _s) in LENGTHS.items()], st.summary_length)
        self.audience_box = _combo("summary-audience", [(a.capitalize(), a) for a in AUDIENCES], st.audience)
        row = QHBoxLayout()
        for w in (self.kind_box, self.length_box, self.audience_box):
            row.addWidget(w)
        form.addRow("Make", row)
        self.focus_edit = QLineEdit()
        self.focus_edit.setObjectName("summary-focus")
        self.focus_edit.setPlaceholderText("Optional: a topic or question to focus on")
        form.addRow("Focus", self.focus_edit)
        self.language_edit = QLineEdit()
        self.language_edit.setObjectName("summary-language")
        self.language_edit.setPlaceholderText("Default (Settings); e.g. English, Deutsch")
        form.addRow("Language", self.language_edit)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        self.generate_button = _button("Generate", "summary-generate", self.generate,
                                       "Write a cited document from the selected sources")
        buttons.addWidget(self.generate_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.bar = JobBar("summary")
        self.bar.cancel_button.clicked.connect(self.cancel)
        layout.addWidget(self.bar)
        self.view = CitationBrowser()
        self.view.setObjectName("summary-result")
        self.view.setAccessibleName("Summary")
        self.view.setPlaceholderText("Press Generate. Every sentence will cite its passages.")
        self.view.citation_activated.connect(pane.citation_activated)
        layout.addWidget(self.view, 1)
        foot = QHBoxLayout()
        self.stats = QLabel("")
        self.stats.setObjectName("summary-stats")
        self.stats.setStyleSheet(f"color:{css('muted')}")
        foot.addWidget(self.stats, 1)
        self.provenance_button = _button("How it was made…", "summary-provenance", lambda: pane.show_provenance(self),
                                         "Model, quantization, templates, sources and settings behind this output")
        self.save_button = _button("Save to note", "summary-save-note", self.save_note,
                                   "Save this document, with its citations, as a note")
        self.save_button.setEnabled(False)
        foot.addWidget(self.provenance_button)
        foot.addWidget(self.save_button)
        layout.addLayout(foot)
        self.view.anchorClicked.connect(lambda url: pane.regenerate_link(self, url.toString()))

    def set_busy(self, busy: bool) -> None:
        self.generate_button.setEnabled(not busy)
        self.save_button.setEnabled(not busy and self.output is not None)

    def clear(self) -> None:
        self.output, self.answer = None, None
        self.view.clear_content()
        self.stats.clear()
        self.bar.clear_notice()
        self.save_button.setEnabled(False)

    @Slot()
    def generate(self) -> None:
        p = self.pane
        if not p.notebook_id:
            self.bar.show_error(NO_NOTEBOOK)
            return
        template = self.kind_box.currentData()
        length, audience = self.length_box.currentData(), self.audience_box.currentData()
        focus, language = self.focus_edit.text().strip(), self.language_edit.text().strip() or None
        notebook, sources = p.notebook_id, p.source_ids

        def run(studio: Any, cancel: Any, progress: Any, relay: _Relay) -> Any:
            return studio.summarize(notebook, sources, template=template, length=length, audience=audience,
                                    focus=focus, language=language, progress=progress, cancel=cancel,
                                    on_token=relay.token.emit, on_stage=relay.stage.emit)

        self.stream = _JsonStream()
        self.output, self.answer = None, None
        self.stats.clear()
        self.view.clear_content()
        p.submit(self, self.bar, run, on_success=self._on_result, on_tokens=self._on_tokens,
                 message="Waiting for the model…")

    @Slot()
    def cancel(self) -> None:
        self.pane.cancel(self)

    def _on_tokens(self, text: str) -> None:
        self.stream.feed(text)
        shown = self.stream.text()
        retry = (f'<div style="color:{css("warning")};font-size:small">Attempt {self.stream.attempts} (the previous output '
                 "was rejected)</div>") if self.stream.attempts > 1 else ""
        self.renders += 1
        self.view.set_content(f'{retry}<p style="color:{css("muted")}">{html.escape(shown)}\u2026</p>', {})

    def _on_result(self, result: Any) -> None:
        self.show_output(result.output, result.answer, result.notes, result.stats.to_json())
        self.pane.output_stored.emit(result.output.id)

    def show_output(self, out: StudioOutput, answer: Any = None, notes: Sequence[str] | None = None,
                    stats: dict[str, Any] | None = None) -> None:
        p = out.payload
        self.output = out
        self.answer = answer if answer is not None else answer_from_json(p.get("answer", {}))
        notes = list(p.get("notes", []) if notes is None else notes)
        key = self.pane.next_key()
        body = citation_html(self.answer, key, regenerate=True)
        label = DOCUMENT_TEMPLATES.get(out.options.get("template", "summary"), ("", "Summary"))[1]
        opts = " \u00b7 ".join(str(out.options.get(k)) for k in ("length", "audience") if out.options.get(k))
        head = (f'<h3 style="margin-bottom:2px">{html.escape(out.title)}</h3><div style="color:{css("muted")};font-size:small">'
                f'{html.escape(label)}{" · " + html.escape(opts) if opts else ""}'
                f'{" · focus: " + html.escape(out.options["focus"]) if out.options.get("focus") else ""}</div>')
        cites = {f"cite:{key}:{c.passage_id}": c for c in self.answer.citations}
        self.view.set_content(head + body + _notes_html([n for n in notes if n not in self.answer.notes]), cites)
        self.stats.setText(_stats_text(stats if stats is not None else p.get("stats"), out.model))
        self.save_button.setEnabled(not self.pane.tab_busy(self))

    @Slot()
    def save_note(self) -> None:
        if self.output is not None:
            self.pane.save_note(self, self.bar, self.output.id)


# ---------------------------------------------------------------------------------------------
# Chain of density


class DensityChart(QWidget):
    """Entity density per step as a row of bars; the chosen step is highlighted; click a bar to choose it."""

    step_clicked = Signal(int)  # 1-based

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cod-density-chart")
        self.setAccessibleName("Entity density per step")
        self.densities: list[float] = []
        self.selected = 0
        self.setMinimumHeight(96)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_steps(self, densities: Sequence[float], selected: int) -> None:
        self.densities = list(densities)
        self.selected = selected
        self.setToolTip("\n".join(f"Step {i}: density {d:.3f}" for i, d in enumerate(self.densities, 1)))
        self.update()

    def _bars(self) -> list[QRectF]:
        n = len(self.densities)
        if not n:
            return []
        top, bottom = 16.0, float(self.height() - 16)
        width = float(self.width() - 8)
        slot = width / max(n, 5)
        peak = max(self.densities) or 1.0
        out = []
        for i, d in enumerate(self.densities):
            h = max(2.0, (bottom - top) * d / peak)
            out.append(QRectF(4 + i * slot + slot * 0.15, bottom - h, slot * 0.7, h))
        return out

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), color("chart_bg"))
        font = QFont(self.font())
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        painter.setFont(font)
        if not self.densities:
            painter.setPen(color("muted"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Entity density per step")
            painter.end()
            return
        bottom = float(self.height() - 16)
        painter.setPen(QPen(color("chart_axis")))
        painter.drawLine(QPointF(2, bottom), QPointF(self.width() - 2, bottom))
        for i, (rect, d) in enumerate(zip(self._bars(), self.densities, strict=True), 1):
            chosen = i == self.selected
            painter.fillRect(rect, color("chart_bar_selected" if chosen else "chart_bar"))
            painter.setPen(color("chart_text_selected" if chosen else "chart_text"))
            painter.drawText(QRectF(rect.x() - 10, rect.y() - 15, rect.width() + 20, 14),
                             Qt.AlignmentFlag.AlignCenter, f"{d:.3f}")
            painter.drawText(QRectF(rect.x() - 10, bottom + 1, rect.width() + 20, 14), Qt.AlignmentFlag.AlignCenter,
                             str(i))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        x = event.position().x()
        for i, rect in enumerate(self._bars(), 1):
            if rect.left() - 4 <= x <= rect.right() + 4:
                self.step_clicked.emit(i)
                return
        super().mousePressEvent(event)


class _CoDTab(QWidget):
    def __init__(self, pane: StudioPane) -> None:
        super().__init__()
        self.pane = pane
        st = pane.settings.studio
        self.steps: list[CoDStep] = []
        self.output: StudioOutput | None = None
        self.failure = ""
        layout = QVBoxLayout(self)
        form = QFormLayout()
        row = QHBoxLayout()
        self.steps_box = QSpinBox()
        self.steps_box.setObjectName("cod-steps")
        self.steps_box.setRange(1, 10)
        self.steps_box.setValue(max(1, min(10, st.cod_steps)))
        self.steps_box.setSuffix(" steps")
        self.words_box = QSpinBox()
        self.words_box.setObjectName("cod-words")
        self.words_box.setRange(20, 400)
        self.words_box.setSingleStep(10)
        self.words_box.setValue(max(20, min(400, st.cod_words)))
        self.words_box.setSuffix(" words")
        row.addWidget(self.steps_box)
        row.addWidget(self.words_box)
        self.language_edit = QLineEdit()
        self.language_edit.setObjectName("cod-language")
        self.language_edit.setPlaceholderText("Language (default from Settings)")
        row.addWidget(self.language_edit, 1)
        form.addRow("Chain", row)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        self.generate_button = _button("Generate", "cod-generate", self.generate,
                                       "Write a sparse summary, then make it denser step by step")
        buttons.addWidget(self.generate_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.bar = JobBar("cod")
        self.bar.cancel_button.clicked.connect(self.cancel)
        layout.addWidget(self.bar)
        self.chart = DensityChart()
        self.chart.step_clicked.connect(self.select_step)
        layout.addWidget(self.chart)
        srow = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("cod-step-slider")
        self.slider.setAccessibleName("Step")
        self.slider.setRange(1, 1)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(1)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._on_slider)
        self.step_label = QLabel("No steps yet")
        self.step_label.setObjectName("cod-step-label")
        self.step_label.setMinimumWidth(90)
        srow.addWidget(self.slider, 1)
        srow.addWidget(self.step_label)
        layout.addLayout(srow)
        self.view = CitationBrowser()
        self.view.setObjectName("cod-step-view")
        self.view.setAccessibleName("Chosen step")
        self.view.setPlaceholderText("Each step appears here: its summary, density and the entities added.")
        self.view.citation_activated.connect(pane.citation_activated)
        layout.addWidget(self.view, 1)
        foot = QHBoxLayout()
        self.stats = QLabel("")
        self.stats.setObjectName("cod-stats")
        self.stats.setStyleSheet(f"color:{css('muted')}")
        foot.addWidget(self.stats, 1)
        self.provenance_button = _button("How it was made…", "cod-provenance", lambda: pane.show_provenance(self),
                                         "Model, quantization, templates, sources and settings behind this chain")
        self.rewrite_button = _button("Rewrite this step", "cod-rewrite", self.rewrite_step,
                                      "Make the chosen step again from the step before it, under the same checks "
                                      "(it replaces the old one only when it passes)")
        self.rewrite_button.setEnabled(False)
        foot.addWidget(self.rewrite_button)
        self.save_button = _button("Save step as note", "cod-save-note", self.save_note,
                                   "Save the chosen step's summary, with its citations, as a note")
        self.save_button.setEnabled(False)
        foot.addWidget(self.provenance_button)
        foot.addWidget(self.save_button)
        layout.addLayout(foot)

    @property
    def current(self) -> int:
        return self.slider.value() if self.steps else 0

    def set_busy(self, busy: bool) -> None:
        self.generate_button.setEnabled(not busy)
        self._update_save(busy)

    def _update_save(self, busy: bool | None = None) -> None:
        busy = self.pane.tab_busy(self) if busy is None else busy
        self.save_button.setEnabled(not busy and self.output is not None and bool(self.steps))
        self.rewrite_button.setEnabled(not busy and self.output is not None and bool(self.steps))

    @Slot()
    def rewrite_step(self) -> None:
        """Make the chosen step again on its own (``StudioService.regenerate_step``), then show the chain."""
        if self.output is None or not self.steps:
            return
        oid, step = self.output.id, self.current

        def run(studio: Any, cancel: Any, _progress: Any, _relay: _Relay) -> Any:
            return studio.regenerate_step(oid, step, cancel=cancel), studio.store.get(oid)

        def shown(result: Any) -> None:
            done, out = result
            self.show_output(out)
            self.slider.setValue(min(step, self.slider.maximum()))
            self.pane.output_stored.emit(out.id)
            if done.replaced:
                self.bar.show_info(f"Step {step} rewritten; it passed the checks.")
            else:
                self.bar.show_error(f"Kept step {step}: {done.flag or 'no new step passed the checks'}.")

        self.pane.submit(self, self.bar, run, on_success=shown, message=f"Rewriting step {step}…")

    def clear(self) -> None:
        self.steps, self.output, self.failure = [], None, ""
        self.bar.clear_notice()
        self.stats.clear()
        self._show_steps(0)

    @Slot()
    def generate(self) -> None:
        p = self.pane
        if not p.notebook_id:
            self.bar.show_error(NO_NOTEBOOK)
            return
        steps, words = self.steps_box.value(), self.words_box.value()
        language = self.language_edit.text().strip() or None
        notebook, sources = p.notebook_id, p.source_ids

        def run(studio: Any, cancel: Any, progress: Any, relay: _Relay) -> Any:
            return studio.chain_of_density(notebook, sources, steps=steps, words=words, language=language,
                                           progress=progress, cancel=cancel, on_step=relay.step.emit,
                                           on_stage=relay.stage.emit)

        self.clear()
        p.submit(self, self.bar, run, on_success=self._on_result, on_step=self._on_step,
                 on_failure=self._on_failure, message="Waiting for the model…")

    @Slot()
    def cancel(self) -> None:
        self.pane.cancel(self)

    def _on_step(self, step: CoDStep) -> None:
        self.steps.append(step)
        self._show_steps(len(self.steps))

    def _on_result(self, result: Any) -> None:
        self.show_output(result.output, result.steps, result.failure, result.stats.to_json())
        self.pane.output_stored.emit(result.output.id)

    def _on_failure(self, _exc: BaseException) -> None:
        if self.steps:
            n = len(self.steps)
            extra = (f"The {n} step{'s' if n > 1 else ''} made so far {'are' if n > 1 else 'is'} shown below "
                     "(not stored).")
            text = f"{self.bar.text} {extra}".strip()
            (self.bar.show_error if self.bar.kind == "error" else self.bar.show_info)(text)

    def show_output(self, out: StudioOutput, steps: Sequence[CoDStep] | None = None, failure: str | None = None,
                    stats: dict[str, Any] | None = None) -> None:
        p = out.payload
        self.output = out
        self.steps = list(steps) if steps is not None else [CoDStep.from_json(d) for d in p.get("steps", [])]
        self.failure = p.get("failure", "") if failure is None else failure
        if self.failure:
            self.bar.show_error(self.failure)
        self.stats.setText(_stats_text(stats if stats is not None else p.get("stats"), out.model))
        self._show_steps(len(self.steps))

    def _show_steps(self, chosen: int) -> None:
        n = len(self.steps)
        self.slider.blockSignals(True)
        self.slider.setRange(1, max(1, n))
        self.slider.setValue(max(1, chosen))
        self.slider.blockSignals(False)
        self.slider.setEnabled(n > 1)
        self.select_step(chosen)

    @Slot(int)
    def _on_slider(self, value: int) -> None:
        self.select_step(value)

    @Slot(int)
    def select_step(self, k: int) -> None:
        n = len(self.steps)
        if not n or not 1 <= k <= n:
            self.chart.set_steps([], 0)
            self.step_label.setText("No steps yet")
            self.view.clear_content()
            self._update_save()
            return
        if self.slider.value() != k:
            self.slider.blockSignals(True)
            self.slider.setValue(k)
            self.slider.blockSignals(False)
        self.chart.set_steps([s.density for s in self.steps], k)
        self.step_label.setText(f"Step {k} of {n}")
        self._render_step(self.steps[k - 1], n)
        self._update_save()

    def _render_step(self, s: CoDStep, n: int) -> None:
        key = self.pane.next_key()
        cites: dict[str, Any] = {}
        if s.citations.get("sentences"):
            answer = answer_from_json(s.citations)
            body = citation_html(answer, key)
            cites = {f"cite:{key}:{c.passage_id}": c for c in answer.citations}
        else:
            body = f"<div>{html.escape(s.summary)}</div>"
        parts = [f'<div style="font-size:small;color:{css("secondary")}"><b>Step {s.index} of {n}</b> \u00b7 density '
                 f'<b>{s.density:.3f}</b> ({len(s.entities)} entities in {s.tokens} words)'
                 f'{" · " + str(s.attempts) + " attempts" if s.attempts > 1 else ""}</div>', body]
        if s.missing_entities:
            parts.append(f'<div style="color:{css("success")};font-size:small">Added: '
                         + ", ".join(f"<b>{html.escape(e)}</b>" for e in s.missing_entities) + "</div>")
        if s.rejected_entities:
            parts.append(f'<div style="color:{css("warning")};font-size:small">Rejected: ' + "; ".join(
                f"\u201c{html.escape(str(r.get('entity', '')))}\u201d ({html.escape(str(r.get('reason', '')))})"
                for r in s.rejected_entities) + "</div>")
        if s.entities:
            parts.append(f'<div style="color:{css("muted")};font-size:small">Entities: '
                         + html.escape(", ".join(s.entities)) + "</div>")
        parts.append(_notes_html(s.notes))
        self.view.set_content("".join(parts), cites)

    @Slot()
    def save_note(self) -> None:
        if self.output is not None and self.steps:
            self.pane.save_note(self, self.bar, self.output.id, step=self.current)


# ---------------------------------------------------------------------------------------------
# Podcast


class _PodcastTab(QWidget):
    def __init__(self, pane: StudioPane) -> None:
        super().__init__()
        self.pane = pane
        st = pane.settings.studio
        self.output: StudioOutput | None = None
        self.script: PodcastScript | None = None
        self.notes: list[str] = []
        self.audio_path: Path | None = None
        self.player: Any = None
        self.audio_output: Any = None
        self.player_problem = ""
        self.engines: list[tuple[str, str | None]] = []
        self._engines_loaded = False
        layout = QVBoxLayout(self)
        form = QFormLayout()
        # the format on a row of its own, its description wrapped under it: the pane stays narrow
        self.format_box = _combo("podcast-format", [(f.label, f.name) for f in PODCAST_FORMATS.values()],
                                 "deep-dive")
        self.format_box.setAccessibleName("Audio overview format")
        self.format_box.setToolTip("\n".join(f"{f.label}: {f.description}" for f in PODCAST_FORMATS.values()))
        form.addRow("Format", self.format_box)
        self.format_note = QLabel("")
        self.format_note.setObjectName("podcast-format-description")
        self.format_note.setWordWrap(True)
        self.format_note.setStyleSheet(f"color:{css('muted')};font-size:small")
        form.addRow("", self.format_note)
        hosts = QHBoxLayout()
        self.host_a = QLineEdit(st.host_a)
        self.host_a.setObjectName("podcast-host-a")
        self.host_a.setPlaceholderText("First host")
        self.host_b = QLineEdit(st.host_b)
        self.host_b.setObjectName("podcast-host-b")
        self.host_b.setPlaceholderText("Second host")
        hosts.addWidget(self.host_a)
        hosts.addWidget(self.host_b)
        form.addRow("Hosts", hosts)
        personas = QHBoxLayout()
        self.persona_a = QLineEdit()
        self.persona_a.setObjectName("podcast-persona-a")
        self.persona_a.setPlaceholderText("Persona (default: curious, asks)")
        self.persona_b = QLineEdit()
        self.persona_b.setObjectName("podcast-persona-b")
        self.persona_b.setPlaceholderText("Persona (default: explains)")
        personas.addWidget(self.persona_a)
        personas.addWidget(self.persona_b)
        form.addRow("Personas", personas)
        opts = QHBoxLayout()
        self.audience_box = _combo("podcast-audience", [(a.capitalize(), a) for a in AUDIENCES], st.audience)
        try:
            length = normalize_length(st.podcast_length)
        except NotebookError:
            length = "default"
        self.length_box = _combo("podcast-length", [(n.capitalize(), n) for n in PODCAST_LENGTHS], length)
        self.language_edit = QLineEdit()
        self.language_edit.setObjectName("podcast-language")
        self.language_edit.setPlaceholderText("Language (notebook's)")
        self.language_edit.setToolTip("The podcast's language; kept per notebook. Empty: the notebook's podcast "
                                      "language, else the output language in Settings")
        opts.addWidget(self.audience_box)
        opts.addWidget(self.length_box)
        opts.addWidget(self.language_edit, 1)
        form.addRow("Episode", opts)
        self.focus_edit = QLineEdit()
        self.focus_edit.setObjectName("podcast-focus")
        self.focus_edit.setPlaceholderText("Optional: a topic to focus on")
        form.addRow("Focus", self.focus_edit)
        layout.addLayout(form)
        self.hosts_label = form.labelForField(hosts)
        self.personas_label = form.labelForField(personas)
        self.format_box.currentIndexChanged.connect(self._on_format_changed)
        self._on_format_changed()
        row = QHBoxLayout()
        self.generate_button = _button("Generate script", "podcast-generate", self.generate,
                                       "Plan the episode, then write each segment's dialogue with citations")
        row.addWidget(self.generate_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.bar = JobBar("podcast")
        self.bar.cancel_button.clicked.connect(self.cancel)
        layout.addWidget(self.bar)
        self.view = CitationBrowser()
        self.view.setObjectName("podcast-script")
        self.view.setAccessibleName("Podcast script")
        self.view.setPlaceholderText("The script appears here: each line cites its passages; lines the sources do "
                                     "not support are marked \u26a0. You can edit it, export it or turn it into audio. "
                                     "Or write or paste your own script (Write script\u2026), no model needed.")
        self.view.citation_activated.connect(pane.citation_activated)
        self.view.anchorClicked.connect(self._on_anchor)
        layout.addWidget(self.view, 1)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("podcast-editor")
        self.editor.setAccessibleName("Script (Markdown)")
        self.editor.setVisible(False)
        layout.addWidget(self.editor, 1)
        actions = QHBoxLayout()
        self.edit_button = _button("Edit script", "podcast-edit", self.edit,
                                   "Edit the script as Markdown (**Name:** line [n])")
        self.save_script_button = _button("Save script", "podcast-save-script", self.save_script,
                                          "Store the edited script; its citations are checked again")
        self.discard_button = _button("Discard edits", "podcast-discard", self.discard_edits)
        self.export_button = _button("Export Markdown…", "podcast-export", self.export_markdown)
        self.save_note_button = _button("Save as note", "podcast-save-note", self.save_note)
        self.provenance_button = _button("How it was made…", "podcast-provenance", lambda: pane.show_provenance(self))
        # two rows (editing the script; what to do with it): in one row the six buttons forced the studio
        # pane, and so the window, wider than a 1024-px screen
        for b in (self.edit_button, self.save_script_button, self.discard_button):
            actions.addWidget(b)
        actions.addStretch(1)
        layout.addLayout(actions)
        outputs = QHBoxLayout()
        for b in (self.export_button, self.save_note_button, self.provenance_button):
            outputs.addWidget(b)
        outputs.addStretch(1)
        layout.addLayout(outputs)
        audio = QHBoxLayout()
        audio.addWidget(QLabel("Voice engine"))
        self.engine_box = QComboBox()
        self.engine_box.setObjectName("podcast-tts-engine")
        self.engine_box.setAccessibleName("Text-to-speech engine")
        self.engine_box.currentIndexChanged.connect(self._on_engine_changed)
        audio.addWidget(self.engine_box)
        self.audio_button = _button("Generate audio", "podcast-audio", self.generate_audio,
                                    "Speak the script with two voices into an audio file")
        audio.addWidget(self.audio_button)
        audio.addStretch(1)
        layout.addLayout(audio)
        self.engine_note = QLabel("")
        self.engine_note.setObjectName("podcast-tts-note")
        self.engine_note.setWordWrap(True)
        self.engine_note.setStyleSheet(f"color:{css('warning')};font-size:small")
        self.engine_note.setVisible(False)
        layout.addWidget(self.engine_note)
        self.player_row = QWidget()
        prow = QHBoxLayout(self.player_row)
        prow.setContentsMargins(0, 0, 0, 0)
        self.play_button = _button("Play", "podcast-play", self.toggle_play)
        self.position_slider = QSlider(Qt.Orientation.Horizontal)
        self.position_slider.setObjectName("podcast-position")
        self.position_slider.setAccessibleName("Position")
        self.position_slider.setRange(0, 0)
        self.position_slider.sliderMoved.connect(self._on_seek)
        self.time_label = QLabel("0:00 / 0:00")
        self.time_label.setObjectName("podcast-time")
        prow.addWidget(self.play_button)
        prow.addWidget(self.position_slider, 1)
        prow.addWidget(self.time_label)
        self.player_row.setVisible(False)
        layout.addWidget(self.player_row)
        saved = QHBoxLayout()
        self.audio_label = QLabel("")
        self.audio_label.setObjectName("podcast-audio-saved")
        self.audio_label.setWordWrap(True)
        self.audio_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_folder_button = _button("Open folder", "podcast-open-folder", self.open_folder)
        self.revoice_button = _button("Re-voice", "podcast-revoice", self.revoice,
                                      "Speak the script again after edits: only the changed lines are synthesised, "
                                      "the others are reused")
        saved.addWidget(self.audio_label, 1)
        saved.addWidget(self.revoice_button)
        saved.addWidget(self.open_folder_button)
        self.saved_row = QWidget()
        self.saved_row.setLayout(saved)
        saved.setContentsMargins(0, 0, 0, 0)
        self.saved_row.setVisible(False)
        layout.addWidget(self.saved_row)
        self._editing = False
        self.set_busy(False)

    # -- state ----------------------------------------------------------------------------------
    def set_busy(self, busy: bool) -> None:
        has = self.output is not None and self.script is not None
        self.generate_button.setEnabled(not busy and not self._editing)
        # with no script (none made yet, or the model's failed its checks) the user can write or paste one
        self.edit_button.setEnabled(not busy and not self._editing and (has or bool(self.pane.notebook_id)))
        self.edit_button.setText("Edit script" if has else "Write script\u2026")
        self.edit_button.setToolTip("Edit the script as Markdown (**Name:** line [n])" if has else
                                    "Write or paste a script (**Name:** line [n]); it is checked against the "
                                    "sources when saved, then it can be spoken")
        self.save_script_button.setVisible(self._editing)
        self.discard_button.setVisible(self._editing)
        self.save_script_button.setEnabled(not busy)
        self.discard_button.setEnabled(not busy)
        self.export_button.setEnabled(not busy and has)
        self.save_note_button.setEnabled(not busy and has and not self._editing)
        usable = any(reason is None for _n, reason in self.engines)
        self.audio_button.setEnabled(not busy and has and not self._editing and usable)
        self.revoice_button.setEnabled(not busy and has and not self._editing and self.audio_path is not None)
        self.engine_box.setEnabled(not busy and bool(self.engines))

    def _refresh(self) -> None:
        self.set_busy(self.pane.tab_busy(self))

    def clear(self) -> None:
        self.output, self.script, self.notes = None, None, []
        self._editing = False
        self.editor.setVisible(False)
        self.view.setVisible(True)
        self.view.clear_content()
        self.bar.clear_notice()
        self._set_audio(None)
        self._refresh()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._engines_loaded:
            self.load_engines()

    @Slot()
    def _on_format_changed(self) -> None:
        """A brief has one speaker: the second host's fields go; each format says what it makes."""
        f = podcast_format(self.format_box.currentData())
        self.format_note.setText(f.description)
        two = f.speakers > 1
        self.host_b.setVisible(two)
        self.persona_b.setVisible(two)
        if isinstance(self.hosts_label, QLabel):
            self.hosts_label.setText("Hosts" if two else "Narrator")
        if isinstance(self.personas_label, QLabel):
            self.personas_label.setText("Personas" if two else "Persona")
        for edit, persona in zip((self.persona_a, self.persona_b), f.personas, strict=False):
            short = persona if len(persona) <= 38 else persona[:37].rsplit(" ", 1)[0] + "\u2026"
            edit.setPlaceholderText(f"Default: {short}")
            edit.setToolTip(f"Empty: {persona}")

    def load_prefs(self) -> None:
        """Read the notebook's last podcast choices (store lane) into the controls: the format, length, focus,
        and the notebook's podcast language. A notebook with none stored leaves the controls as they are."""
        getter = self.pane.library_getter
        library = getter() if getter is not None else None
        notebook = self.pane.notebook_id
        if library is None or not notebook:
            return

        def load() -> Any:
            raw = library.notebook_settings(notebook).get(PREFS_KEY)
            return notebook, (checked_prefs(raw) if isinstance(raw, dict) and raw else None)

        worker = FunctionWorker(load)
        worker.signals.succeeded.connect(self._on_prefs)
        self._prefs_workers = {w for w in getattr(self, "_prefs_workers", set()) if not w.done} | {worker}
        self.pane.lanes.submit(self.pane.lanes.store, worker)

    @Slot(object)
    def _on_prefs(self, got: Any) -> None:
        notebook, prefs = got
        if prefs is None or notebook != self.pane.notebook_id or self.pane.tab_busy(self):
            return
        self.format_box.setCurrentIndex(max(0, self.format_box.findData(prefs["format"])))
        if prefs["length"]:
            self.length_box.setCurrentIndex(max(0, self.length_box.findData(prefs["length"])))
        self.language_edit.setText(prefs["language"])
        self.focus_edit.setText(prefs["focus"])

    def _on_anchor(self, url: QUrl) -> None:
        link = url.toString()
        if link.startswith("regenseg:"):
            self.regenerate_segment(link)
        else:
            self.pane.regenerate_link(self, link)

    def regenerate_segment(self, link: str) -> None:
        """A ``regenseg:<key>:<n>`` link beside a segment heading: write that segment again (the model, in the
        podcast's format, from its passages); the rest of the script stays. Re-voice then speaks only it."""
        if self.output is None:
            return
        try:
            seg = int(link.rsplit(":", 1)[1])
        except ValueError:
            return
        oid = self.output.id

        def run(studio: Any, cancel: Any, progress: Any, _relay: _Relay) -> Any:
            studio.regenerate_segment(oid, seg, cancel=cancel, progress=progress)
            return studio.store.get(oid)

        self.pane.submit(self, self.bar, run, on_success=self._on_segment_done,
                         message=f"Writing segment {seg + 1} again…")

    def _on_segment_done(self, out: StudioOutput) -> None:
        self.show_output(out)
        self.pane.output_stored.emit(out.id)
        self.bar.show_info("Segment rewritten; the rest of the script is unchanged."
                           + (" Re-voice speaks only its lines." if self.audio_path is not None else ""))

    # -- script ---------------------------------------------------------------------------------
    @Slot()
    def generate(self) -> None:
        p = self.pane
        if not p.notebook_id:
            self.bar.show_error(NO_NOTEBOOK)
            return
        fmt = podcast_format(self.format_box.currentData())
        a, b = self.host_a.text().strip(), self.host_b.text().strip()
        if fmt.speakers == 1:
            if not a:
                self.bar.show_error("A brief needs a narrator's name.")
                return
        elif not a or not b or a.casefold() == b.casefold():
            self.bar.show_error("A podcast needs two hosts with different names.")
            return
        kw = {"host_a": a, "host_b": b or None, "persona_a": self.persona_a.text(),
              "persona_b": self.persona_b.text() if fmt.speakers > 1 else "",
              "audience": self.audience_box.currentData(), "length": self.length_box.currentData(),
              "language": self.language_edit.text().strip() or None, "focus": self.focus_edit.text(),
              "format": fmt.name}
        notebook, sources = p.notebook_id, p.source_ids

        def run(studio: Any, cancel: Any, progress: Any, relay: _Relay) -> Any:
            return studio.podcast_script(notebook, sources, progress=progress, cancel=cancel,
                                         on_stage=relay.stage.emit, **kw)

        self.clear()
        p.submit(self, self.bar, run, on_success=self._on_result, on_failure=self._on_failure,
                 message="Waiting for the model…")

    def _on_failure(self, exc: BaseException) -> None:
        """No script was made: say that one can be written or pasted (and then spoken) instead."""
        if self.script is None and self.bar.kind == "error" and not isinstance(exc, Cancelled):
            self.bar.show_error(f"{self.bar.text} You can write or paste a script instead: "
                                f"{self.edit_button.text()}", self.bar.attempts)

    @Slot()
    def cancel(self) -> None:
        self.pane.cancel(self)

    def _on_result(self, result: Any) -> None:
        self.show_output(result.output, result.script, result.notes)
        self.pane.output_stored.emit(result.output.id)

    def show_output(self, out: StudioOutput, script: PodcastScript | None = None,
                    notes: Sequence[str] | None = None) -> None:
        p = out.payload
        self.output = out
        self.script = script if script is not None else PodcastScript.from_json(p.get("script", {}))
        self.notes = list(p.get("notes", []) if notes is None else notes)
        self._editing = False
        self.editor.setVisible(False)
        self.view.setVisible(True)
        self.render_script()
        audio = p.get("audio")
        self._set_audio(Path(audio) if audio and Path(audio).is_file() else None)
        self._refresh()
        if not self._engines_loaded:
            self.load_engines()

    def render_script(self) -> None:
        s = self.script
        if s is None:
            self.view.clear_content()
            return
        key = self.pane.next_key()
        by_pid = {int(c.get("passage_id", 0)): citation_from_json(c) for c in s.citations}
        parts = [f'<h3 style="margin-bottom:2px">{html.escape(s.title or "Podcast")}</h3>']
        names = " and ".join(h.name for h in s.hosts)
        if names:
            fmt = PODCAST_FORMATS.get(s.format)
            what = "Presented by" if len(s.hosts) == 1 else "A conversation between"
            label = html.escape(fmt.label) + " \u00b7 " if fmt and fmt.name != "deep-dive" else ""
            parts.append(f'<div style="color:{css("muted")};font-size:small"><i>{label}{what} '
                         f'{html.escape(names)}.</i></div>')
        seg = None
        for i, ln in enumerate(s.lines):
            if ln.segment != seg and 0 <= ln.segment < len(s.segments):
                seg = ln.segment
                regen = ("" if self.output is None or self.output.payload.get("manual") else
                         f' <a href="regenseg:{key}:{seg}" style="font-size:small;font-weight:normal" '
                         f'title="Write this segment again; the rest stays">\u21bb Regenerate segment</a>')
                parts.append(f'<h4 style="margin-bottom:0">{seg + 1}. {html.escape(s.segments[seg])}{regen}</h4>')
            text = html.escape(strip_markers(ln.text))
            chips = "".join(chip(f"cite:{key}:{pid}", str(pid)) for pid in ln.citations if pid in by_pid)
            if ln.supported:
                parts.append(f"<p><b>{html.escape(ln.speaker)}:</b> {text}{chips}</p>")
            else:
                parts.append(f'<p><b>{html.escape(ln.speaker)}:</b> <span style="background:{css("flagged_bg")};color:{css("flagged_fg")}" '
                             f'title="{html.escape(ln.flag or "not supported by the cited passages")}">'
                             f"\u26a0 {text}</span>{chips}{regenerate_link(key, i)}</p>")
        if s.unsupported:
            n = len(s.unsupported)
            parts.append(f'<div style="color:{css("warning")};font-size:small">\u26a0 {n} of {len(s.lines)} lines '
                         f'{"are" if n > 1 else "is"} not supported by the passages '
                         f'{"they cite" if n > 1 else "it cites"}.</div>')
        parts.append(_notes_html([n for n in self.notes if "not supported" not in n]))
        if by_pid:
            parts.append(f'<div style="font-size:small;color:{css("secondary")}">Sources: ' + "; ".join(
                f'<a href="cite:{key}:{pid}">[{pid}] {html.escape(c.source_title)}'
                f'{", " + html.escape(c.location) if c.location else ""}</a>' for pid, c in sorted(by_pid.items()))
                + "</div>")
        self.view.set_content("".join(parts), {f"cite:{key}:{pid}": c for pid, c in by_pid.items()})

    @Slot()
    def edit(self) -> None:
        if self.script is None:
            self.write_new()
            return
        self._open_editor(self.script.to_markdown(with_sources=False))

    def write_new(self) -> None:
        """Open the editor on a draft to write from (key source sentences, cited, and the passages to cite):
        no model needed. Saving stores it as a new podcast output (``StudioService.new_script``)."""
        p = self.pane
        if not p.notebook_id:
            self.bar.show_error(NO_NOTEBOOK)
            return
        a, b = self.host_a.text().strip(), self.host_b.text().strip()
        notebook, sources = p.notebook_id, p.source_ids

        def run(studio: Any, _cancel: Any, progress: Any, _relay: _Relay) -> Any:
            progress(0, 0, "Preparing a script to start from…")
            return studio.draft_script(notebook, sources, host_a=a or None, host_b=b or None)

        p.submit(self, self.bar, run, on_success=self._open_editor, lane="store",
                 message="Preparing a script to start from…")

    def _open_editor(self, markdown: str) -> None:
        self.editor.setPlainText(markdown)
        self._editing = True
        self.view.setVisible(False)
        self.editor.setVisible(True)
        self.editor.setFocus()
        self._refresh()

    @Slot()
    def discard_edits(self) -> None:
        self._editing = False
        self.editor.setVisible(False)
        self.view.setVisible(True)
        self._refresh()

    @Slot()
    def save_script(self) -> None:
        if self.output is None:
            self._save_new_script()
            return
        oid, markdown = self.output.id, self.editor.toPlainText()

        def run(studio: Any, _cancel: Any, progress: Any, _relay: _Relay) -> Any:
            progress(0, 0, "Checking the edited script…")
            script = studio.update_script(oid, markdown)
            return script, studio.store.get(oid)

        self.pane.submit(self, self.bar, run, on_success=self._on_script_saved, lane="store",
                         message="Saving the script…")

    def _save_new_script(self) -> None:
        p = self.pane
        if not p.notebook_id:
            self.bar.show_error(NO_NOTEBOOK)
            return
        markdown, notebook, sources = self.editor.toPlainText(), p.notebook_id, p.source_ids
        a, b = self.host_a.text().strip() or None, self.host_b.text().strip() or None
        language = self.language_edit.text().strip() or None

        def run(studio: Any, _cancel: Any, progress: Any, _relay: _Relay) -> Any:
            progress(0, 0, "Checking the script against the sources…")
            return studio.new_script(notebook, markdown, sources, host_a=a, host_b=b, language=language)

        p.submit(self, self.bar, run, on_success=self._on_new_script, lane="store", message="Saving the script…")

    def _on_new_script(self, result: Any) -> None:
        self.show_output(result.output, result.script, result.notes)
        script = result.script
        bad = len(script.unsupported)
        self.bar.show_info(f"Script saved: {len(script.lines)} lines, checked against the sources"
                           + (f"; {bad} not supported (\u26a0)." if bad else "; all supported.")
                           + " It can be spoken now (Generate audio).")
        self.pane.output_stored.emit(result.output.id)

    def _on_script_saved(self, result: Any) -> None:
        script, out = result
        self.output, self.script = out, script
        self._editing = False
        self.editor.setVisible(False)
        self.view.setVisible(True)
        self.render_script()
        bad = len(script.unsupported)
        self.bar.show_info(f"Script saved: {len(script.lines)} lines; citations checked again"
                           + (f", {bad} not supported (\u26a0)." if bad else ", all supported."))
        self._refresh()
        self.pane.output_stored.emit(out.id)

    @Slot()
    def export_markdown(self) -> None:
        if self.script is None:
            return
        path = self.pane._ask_save_path("Export the script as Markdown",  # noqa: SLF001
                                        safe_filename(self.script.title or "podcast") + ".md",
                                        "Markdown (*.md);;All files (*)")
        if not path:
            return
        target = Path(path)
        if target.suffix.lower() != ".md":
            target = target.with_name(target.name + ".md")
        text = self.script.export_markdown()  # model-written: HTML made inert

        def run(_studio: Any, _cancel: Any, _progress: Any, _relay: _Relay) -> Any:
            try:
                target.write_text(text, encoding="utf-8")
            except OSError as e:
                raise NotebookError(f"Cannot write {target}: {e.strerror or e}.") from e
            return target

        self.pane.submit(self, self.bar, run, on_success=self._on_exported, lane="io", needs_studio=False,
                         message="Writing…")

    def _on_exported(self, path: Path) -> None:
        self.bar.show_info(f"Script exported to {path}")

    @Slot()
    def save_note(self) -> None:
        if self.output is not None:
            self.pane.save_note(self, self.bar, self.output.id)

    # -- audio ----------------------------------------------------------------------------------
    def load_engines(self) -> None:
        self._engines_loaded = True
        get = self.pane.tts_engines

        def run(_studio: Any, _cancel: Any, _progress: Any, _relay: _Relay) -> Any:
            out = []
            for e in get():
                try:
                    reason = e.unavailable_reason()
                except Exception as exc:  # noqa: BLE001 - a broken engine is reported, not fatal
                    reason = f"it failed to start ({exc})"
                out.append((str(e.name), reason))
            return out

        self.pane.submit(self, self.bar, run, on_success=self._on_engines, lane="io", needs_studio=False,
                         message="Looking for voices…", quiet=True, key="tts-engines")

    def _on_engines(self, engines: list[tuple[str, str | None]]) -> None:
        self.engines = engines
        wanted = self.pane.settings.tts.engine
        self.engine_box.blockSignals(True)
        self.engine_box.clear()
        for name, reason in engines:
            self.engine_box.addItem(name if reason is None else f"{name} (unavailable)", name)
            item = self.engine_box.model().item(self.engine_box.count() - 1)  # type: ignore[attr-defined]
            if reason is not None:
                item.setEnabled(False)
                item.setToolTip(reason)
        usable = [n for n, r in engines if r is None]
        pick = wanted if wanted in usable else (usable[0] if usable else (engines[0][0] if engines else ""))
        self.engine_box.setCurrentIndex(max(0, self.engine_box.findData(pick)))
        self.engine_box.blockSignals(False)
        self._on_engine_changed()
        self._refresh()

    @Slot()
    def _on_engine_changed(self) -> None:
        if not self.engines:
            self.engine_note.setText("No text-to-speech engine is registered.")
            self.engine_note.setVisible(True)
            return
        missing = [(n, r) for n, r in self.engines if r is not None]
        if not any(r is None for _n, r in self.engines):
            text = "No voice engine can speak here: " + "; ".join(f"{n}: {r}" for n, r in missing)
        else:
            text = ""  # one engine works: the others' reasons are in their (disabled) list entries' tooltips
        self.engine_note.setText(text)
        self.engine_note.setVisible(bool(text))

    @Slot()
    def generate_audio(self) -> None:
        if self.output is None or self.script is None:
            return
        oid, name = self.output.id, self.engine_box.currentData() or None
        stem = safe_filename(self.script.title or "podcast", max_bytes=60) + f"-{oid[:8]}"

        def run(studio: Any, cancel: Any, progress: Any, _relay: _Relay) -> Any:
            fmt = (studio.settings.tts.format or "wav").lower()
            out = Path(studio.library.data_dir) / "podcasts" / f"{stem}.{fmt}"
            return studio.podcast_audio(oid, out, engine=name, progress=progress, cancel=cancel)

        self._set_audio(None)
        self.pane.submit(self, self.bar, run, on_success=self._on_audio, lane="io", message="Preparing the voices…")

    def _on_audio(self, result: Any) -> None:
        reused = len(result.segments) - result.spoken if result.spoken >= 0 else 0
        self.bar.show_info(f"Audio made: {result.duration_s:.1f} s of speech with {result.engine} "
                           f"in {result.render_s:.1f} s" + (f" ({result.spoken} spoken again, {reused} of "
                                                            f"{len(result.segments)} lines reused)."
                                                            if reused > 0 else "."))
        self._set_audio(Path(result.path))
        self._refresh()

    @Slot()
    def revoice(self) -> None:
        """Speak the (edited) script again into the same file: only changed lines are synthesised."""
        if self.output is None or self.audio_path is None:
            return
        oid, name, path = self.output.id, self.engine_box.currentData() or None, self.audio_path

        def run(studio: Any, cancel: Any, progress: Any, _relay: _Relay) -> Any:
            return studio.revoice(oid, path, engine=name, progress=progress, cancel=cancel)

        self._set_audio(None)  # the player lets go of the file before it is replaced
        self.pane.submit(self, self.bar, run, on_success=self._on_audio, lane="io", message="Re-voicing…")

    def _set_audio(self, path: Path | None) -> None:
        self.audio_path = path
        if self.player is not None:
            self.player.stop()
        if path is None:
            self.saved_row.setVisible(False)
            self.player_row.setVisible(False)
            return
        self.saved_row.setVisible(True)
        if self._ensure_player():
            self.player.setSource(QUrl.fromLocalFile(str(path)))
            self.player_row.setVisible(True)
            self.audio_label.setText(f"Audio saved to {path}")
        else:
            self.player_row.setVisible(False)
            self.audio_label.setText(f"Audio saved to {path} (it cannot be played here: {self.player_problem}).")

    def _ensure_player(self) -> bool:
        if self.player is not None:
            return True
        if self.player_problem:
            return False
        ok, why = multimedia_available()
        if ok:
            try:
                from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

                self.player = QMediaPlayer(self)
                self.audio_output = QAudioOutput(self)
                self.player.setAudioOutput(self.audio_output)
                self.player.durationChanged.connect(self._on_duration)
                self.player.positionChanged.connect(self._on_position)
                self.player.playbackStateChanged.connect(self._on_state)
                self.player.errorOccurred.connect(self._on_player_error)
                return True
            except Exception as e:  # noqa: BLE001 - playback is optional; the file is saved either way
                log.warning("audio playback unavailable: %s", e)
                self.player, self.audio_output = None, None
                why = f"audio playback could not start ({e})"
        self.player_problem = why
        return False

    @Slot()
    def toggle_play(self) -> None:
        if self.player is None:
            return
        from PySide6.QtMultimedia import QMediaPlayer

        if self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState:
            self.player.pause()
        else:
            self.player.play()

    @Slot(int)
    def _on_seek(self, ms: int) -> None:
        if self.player is not None:
            self.player.setPosition(ms)

    def _on_duration(self, ms: int) -> None:
        self.position_slider.setRange(0, int(ms))
        self._update_time()

    def _on_position(self, ms: int) -> None:
        if not self.position_slider.isSliderDown():
            self.position_slider.setValue(int(ms))
        self._update_time()

    def _on_state(self, state: Any) -> None:
        from PySide6.QtMultimedia import QMediaPlayer

        self.play_button.setText("Pause" if state == QMediaPlayer.PlaybackState.PlayingState else "Play")

    def _on_player_error(self, _error: Any, message: str) -> None:
        if message:
            self.audio_label.setText(f"Audio saved to {self.audio_path} (playback failed: {message}).")

    def _update_time(self) -> None:
        def fmt(ms: int) -> str:
            s = max(0, ms) // 1000
            return f"{s // 60}:{s % 60:02d}"

        if self.player is not None:
            self.time_label.setText(f"{fmt(self.player.position())} / {fmt(self.player.duration())}")

    @Slot()
    def open_folder(self) -> None:
        if self.audio_path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.audio_path.parent)))


# ---------------------------------------------------------------------------------------------
# History


class _HistoryTab(QWidget):
    def __init__(self, pane: StudioPane) -> None:
        super().__init__()
        self.pane = pane
        self.outputs: list[StudioOutput] = []
        self._refresh_when_idle = False
        layout = QVBoxLayout(self)
        self.tree = QTreeWidget()
        self.tree.setObjectName("studio-history")
        self.tree.setAccessibleName("Studio outputs")
        self.tree.setHeaderLabels(["Kind", "Title", "Made", "Model"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.itemDoubleClicked.connect(self._on_double_clicked)
        self.tree.itemSelectionChanged.connect(self._on_selection)
        self.tree.setColumnWidth(0, 120)
        self.tree.setColumnWidth(1, 260)
        self.tree.setColumnWidth(2, 120)
        layout.addWidget(self.tree, 1)
        row = QHBoxLayout()
        self.open_button = _button("Open", "studio-history-open", self.open_selected, "Show it again in its tab")
        self.delete_button = _button("Delete…", "studio-history-delete", self.delete_selected)
        self.refresh_button = _button("Refresh", "studio-history-refresh", self.refresh)
        for b in (self.open_button, self.delete_button, self.refresh_button):
            row.addWidget(b)
        row.addStretch(1)
        layout.addLayout(row)
        self.bar = JobBar("history")
        self.bar.cancel_button.clicked.connect(self.cancel)
        layout.addWidget(self.bar)
        self._on_selection()

    def set_busy(self, busy: bool) -> None:
        self.refresh_button.setEnabled(not busy)
        self._on_selection(busy)
        if not busy and self._refresh_when_idle:
            self._refresh_when_idle = False
            self.refresh()

    @Slot()
    def _on_selection(self, busy: bool | None = None) -> None:
        busy = self.pane.tab_busy(self) if busy is None else busy
        has = self.selected() is not None
        self.open_button.setEnabled(has)
        self.delete_button.setEnabled(has and not busy)

    def selected(self) -> StudioOutput | None:
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def clear(self) -> None:
        self.outputs = []
        self.tree.clear()
        self.bar.clear_notice()

    @Slot()
    def cancel(self) -> None:
        self.pane.cancel(self)

    @Slot()
    def refresh(self) -> None:
        nb = self.pane.notebook_id
        if not nb:
            self.clear()
            return
        getter = self.pane.library_getter
        library = getter() if getter is not None else None

        def run(studio: Any, _cancel: Any, _progress: Any, _relay: _Relay) -> Any:
            store = studio.store if studio is not None else StudioStore(library)
            return store.list(nb)

        self.pane.submit(self, self.bar, run, on_success=self._on_list, lane="store",
                         needs_studio=library is None, message="Reading the history…", quiet=True)

    def _on_list(self, outputs: list[StudioOutput]) -> None:
        keep = self.selected()
        self.outputs = outputs
        self.tree.clear()
        for out in outputs:
            kind = _KIND_LABELS.get(out.kind, out.kind)
            if out.kind == "summary":
                kind = DOCUMENT_TEMPLATES.get(out.options.get("template", "summary"), ("", kind))[1]
            item = QTreeWidgetItem([kind, out.title, _when(out.created), out.model])
            item.setData(0, Qt.ItemDataRole.UserRole, out)
            item.setToolTip(1, out.title)
            self.tree.addTopLevelItem(item)
            if keep is not None and keep.id == out.id:
                item.setSelected(True)
        if not outputs:
            self.bar.show_info("Nothing made in this notebook yet.")
        self._on_selection()

    @Slot(QTreeWidgetItem, int)
    def _on_double_clicked(self, item: QTreeWidgetItem, _col: int) -> None:
        self.pane.open_output(item.data(0, Qt.ItemDataRole.UserRole))

    @Slot()
    def open_selected(self) -> None:
        out = self.selected()
        if out is not None:
            self.pane.open_output(out)

    @Slot()
    def delete_selected(self) -> None:
        out = self.selected()
        if out is None or not self.pane._confirm(  # noqa: SLF001
                "Delete studio output", f"Delete \u201c{out.title}\u201d? This cannot be undone. Notes saved "
                "from it are kept."):
            return
        getter = self.pane.library_getter
        library = getter() if getter is not None else None
        oid = out.id

        def run(studio: Any, _cancel: Any, _progress: Any, _relay: _Relay) -> Any:
            (studio.store if studio is not None else StudioStore(library)).delete(oid)
            return oid

        self.pane.submit(self, self.bar, run, on_success=self._on_deleted, lane="store",
                         needs_studio=library is None, message="Deleting…")

    def _on_deleted(self, oid: str) -> None:
        self.pane.output_deleted(oid)
        self._refresh_when_idle = True  # this job still holds the tab; list again when it has finished


# ---------------------------------------------------------------------------------------------
# The pane


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
        self.jobs: dict[Any, _Job] = {}  # id(tab) (or a side job's key) -> its running job
        self._finished_jobs: list[_Job] = []
        self._key = 0

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        title = QLabel("<b>Studio</b>")
        title.setObjectName("studio-pane-title")
        layout.addWidget(title)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("studio-tabs")
        from notebooklm_local.ui.studio_extract import ExtractTab

        self.extract_tab = ExtractTab(self, library_service)
        self.summary_tab = _SummaryTab(self)
        self.cod_tab = _CoDTab(self)
        self.podcast_tab = _PodcastTab(self)
        self.history_tab = _HistoryTab(self)
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
        from notebooklm_local.ui.studio_extract import KIND_LABELS

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
        self._finished_jobs.clear()
        job = _Job(self, tab, bar, on_success=on_success, on_failure=on_failure, on_tokens=on_tokens,
                   on_step=on_step)
        job.slot = slot
        job.quiet = quiet
        relay = job.relay
        pool = {"llm": self.lanes.llm, "io": self.lanes.io, "store": self.lanes.store}[lane]
        if needs_studio and self.studio is None:
            pool = self.lanes.llm  # the factory runs on the llm lane only

        def run(cancel: Any, progress: Any) -> Any:
            cancel.raise_if_set()
            studio = self._ensure_studio(progress) if needs_studio else self.studio
            cancel.raise_if_set()
            return fn(studio, cancel, progress, relay)

        worker = FunctionWorker(run, pass_context=True)
        job.attach(worker)
        was_busy = bool(self.jobs)
        self.jobs[slot] = job
        if not quiet:
            bar.begin(message)
        tab.set_busy(self.tab_busy(tab))
        if not self._timer.isActive():
            self._timer.start()
        self.lanes.submit(pool, worker)
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
        def run(studio: Any, _cancel: Any, _progress: Any, _relay: _Relay) -> Any:
            return studio.save_note(output_id, step=step)

        self.submit(tab, bar, run, on_success=lambda note: self._on_note_saved(bar, note), lane="store",
                    message="Saving the note…")

    def _on_note_saved(self, bar: JobBar, note: Any) -> None:
        bar.show_info(f"Saved as the note \u201c{note.title}\u201d.")
        self.note_saved.emit(note.id)

    def output_deleted(self, oid: str) -> None:
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

    def _job_finished(self, job: _Job) -> None:
        job.flush()
        if self.jobs.get(job.slot) is job:
            del self.jobs[job.slot]
        self._finished_jobs.append(job)  # not deleted inside its own slot; dropped at the next submit
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
