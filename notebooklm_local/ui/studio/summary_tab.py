"""The Summary tab (and briefing / study guide / FAQ): a cited document, streamed as it is written."""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QVBoxLayout,
)

from notebooklm_local.core.studio_store import StudioOutput
from notebooklm_local.services.studio.summaries import AUDIENCES, DOCUMENT_TEMPLATES, LENGTHS
from notebooklm_local.ui.chat_panel import citation_html
from notebooklm_local.ui.errors import NO_NOTEBOOK
from notebooklm_local.ui.rich_text import CitationBrowser, answer_from_json
from notebooklm_local.ui.studio.stream import JsonStream
from notebooklm_local.ui.studio.tab_base import StudioTab, notes_html, stats_text
from notebooklm_local.ui.studio.widgets import _button, _combo
from notebooklm_local.ui.theme import css

__all__ = ["SummaryTab"]

log = logging.getLogger(__name__)


class SummaryTab(StudioTab):
    def __init__(self, pane: Any) -> None:
        super().__init__(pane)
        st = pane.settings.studio
        self.answer: Any = None
        self.stream = JsonStream()
        self.renders = 0
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.kind_box = _combo("summary-kind", [(label, t) for t, (_task, label) in DOCUMENT_TEMPLATES.items()],
                               "summary")
        self.length_box = _combo("summary-length", [(n.capitalize() + f" (~{w} words)", n)
                                                    for n, (w, _s) in LENGTHS.items()], st.summary_length)
        self.audience_box = _combo("summary-audience", [(a.capitalize(), a) for a in AUDIENCES], st.audience)
        self.kind_box.setAccessibleName("Kind of document")
        self.length_box.setAccessibleName("Length")
        self.audience_box.setAccessibleName("Audience")
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
        self.add_generate_controls(layout, "Generate", "summary", "Write a cited document from the selected sources")
        self.view = CitationBrowser()
        self.view.setObjectName("summary-result")
        self.view.setAccessibleName("Summary")
        self.view.setPlaceholderText("Press Generate. Every sentence will cite its passages.")
        self.view.citation_activated.connect(pane.citation_activated)
        layout.addWidget(self.view, 1)
        foot = QHBoxLayout()
        self.stats = self.stats_label("summary-stats")
        foot.addWidget(self.stats, 1)
        self.provenance_button = self.make_provenance_button(
            "summary-provenance", "Model, quantization, templates, sources and settings behind this output")
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

        def run(studio: Any, cancel: Any, progress: Any, relay: Any) -> Any:
            return studio.summarize(notebook, sources, template=template, length=length, audience=audience,
                                    focus=focus, language=language, progress=progress, cancel=cancel,
                                    on_token=relay.token.emit, on_stage=relay.stage.emit)

        self.stream = JsonStream()
        self.output, self.answer = None, None
        self.stats.clear()
        self.view.clear_content()
        p.submit(self, self.bar, run, on_success=self._on_result, on_tokens=self._on_tokens,
                 message="Waiting for the model…")

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
        self.view.set_content(head + body + notes_html([n for n in notes if n not in self.answer.notes]), cites)
        self.stats.setText(stats_text(stats if stats is not None else p.get("stats"), out.model))
        self.save_button.setEnabled(not self.pane.tab_busy(self))

    @Slot()
    def save_note(self) -> None:
        if self.output is not None:
            self.pane.save_note(self, self.bar, self.output.id)
