"""The Chain of density tab: a sparse summary made denser step by step, with its chart and slider."""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QSpinBox,
    QVBoxLayout,
)

from notebooklm_local.core.density import CoDStep
from notebooklm_local.core.studio_store import StudioOutput
from notebooklm_local.ui.chat_panel import citation_html
from notebooklm_local.ui.errors import NO_NOTEBOOK
from notebooklm_local.ui.rich_text import CitationBrowser, answer_from_json
from notebooklm_local.ui.studio.chart import DensityChart
from notebooklm_local.ui.studio.tab_base import StudioTab, notes_html, stats_text
from notebooklm_local.ui.studio.widgets import _button
from notebooklm_local.ui.theme import css

__all__ = ["CoDTab"]

log = logging.getLogger(__name__)


class CoDTab(StudioTab):
    def __init__(self, pane: Any) -> None:
        super().__init__(pane)
        st = pane.settings.studio
        self.steps: list[CoDStep] = []
        self.failure = ""
        layout = QVBoxLayout(self)
        form = QFormLayout()
        row = QHBoxLayout()
        self.steps_box = QSpinBox()
        self.steps_box.setObjectName("cod-steps")
        self.steps_box.setRange(1, 10)
        self.steps_box.setValue(max(1, min(10, st.cod_steps)))
        self.steps_box.setSuffix(" steps")
        self.steps_box.setAccessibleName("Chain-of-density steps")
        self.words_box = QSpinBox()
        self.words_box.setObjectName("cod-words")
        self.words_box.setRange(20, 400)
        self.words_box.setSingleStep(10)
        self.words_box.setValue(max(20, min(400, st.cod_words)))
        self.words_box.setSuffix(" words")
        self.words_box.setAccessibleName("Words per step")
        row.addWidget(self.steps_box)
        row.addWidget(self.words_box)
        self.language_edit = QLineEdit()
        self.language_edit.setObjectName("cod-language")
        self.language_edit.setPlaceholderText("Language (default from Settings)")
        self.language_edit.setAccessibleName("Language")
        row.addWidget(self.language_edit, 1)
        form.addRow("Chain", row)
        layout.addLayout(form)
        self.add_generate_controls(layout, "Generate", "cod", "Write a sparse summary, then make it denser step by step")
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
        self.stats = self.stats_label("cod-stats")
        foot.addWidget(self.stats, 1)
        self.provenance_button = self.make_provenance_button(
            "cod-provenance", "Model, quantization, templates, sources and settings behind this chain")
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

        def run(studio: Any, cancel: Any, _progress: Any, _relay: Any) -> Any:
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

        def run(studio: Any, cancel: Any, progress: Any, relay: Any) -> Any:
            return studio.chain_of_density(notebook, sources, steps=steps, words=words, language=language,
                                           progress=progress, cancel=cancel, on_step=relay.step.emit,
                                           on_stage=relay.stage.emit)

        self.clear()
        p.submit(self, self.bar, run, on_success=self._on_result, on_step=self._on_step,
                 on_failure=self._on_failure, message="Waiting for the model…")

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
        self.stats.setText(stats_text(stats if stats is not None else p.get("stats"), out.model))
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
        parts.append(notes_html(s.notes))
        self.view.set_content("".join(parts), cites)

    @Slot()
    def save_note(self) -> None:
        if self.output is not None and self.steps:
            self.pane.save_note(self, self.bar, self.output.id, step=self.current)
