"""What the studio tabs share: the tab base class (its pane, the output it shows, a job bar whose Cancel
cancels the tab's job, the stats line and the provenance button) and small text helpers."""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from notebooklm_local.core.studio_store import StudioOutput
from notebooklm_local.ui.studio.widgets import JobBar, _button
from notebooklm_local.ui.theme import css

__all__ = ["StudioTab", "notes_html", "stats_text"]

log = logging.getLogger(__name__)


def stats_text(stats: dict[str, Any] | None, model: str = "") -> str:
    if not stats:
        return model
    parts = [f"{stats.get('calls', 0)} model call(s)", f"{stats.get('completion_tokens', 0)} tokens generated"]
    if stats.get("failed_attempts"):
        parts.append(f"{stats['failed_attempts']} attempt(s) rejected")
    parts.append(f"{float(stats.get('wall_s', 0.0)):.1f} s")
    if model:
        parts.append(model)
    return " \u00b7 ".join(parts)


def notes_html(notes: Sequence[str]) -> str:
    return "".join(f'<div style="color:{css("muted")};font-size:small">{html.escape(n)}</div>' for n in notes)


class StudioTab(QWidget):
    """The skeleton every studio tab repeats: its pane, the output it shows, a job bar whose Cancel cancels the
    tab's job (one job per tab, run by the pane), a stats line and a "How it was made…" button.

    A tab implements ``set_busy(busy)`` (the pane calls it when the tab's job starts or ends) and ``clear()``
    (another notebook was opened); a tab that shows outputs also implements ``show_output(out)``.
    """

    def __init__(self, pane: Any) -> None:
        super().__init__()
        self.pane = pane
        self.output: StudioOutput | None = None

    def job_bar(self, name: str) -> JobBar:
        bar = JobBar(name)
        bar.cancel_button.clicked.connect(self.cancel)
        return bar

    def add_generate_controls(self, layout: QVBoxLayout, text: str, name: str, tip: str) -> QHBoxLayout:
        """The tab's Generate button (``self.generate_button``, calling ``self.generate``) in a row of its own,
        then the job bar (``self.bar``) under it; returns the row (for more buttons beside Generate)."""
        row = QHBoxLayout()
        self.generate_button = _button(text, f"{name}-generate", self.generate, tip)
        row.addWidget(self.generate_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.bar = self.job_bar(name)
        layout.addWidget(self.bar)
        return row

    def stats_label(self, name: str) -> QLabel:
        label = QLabel("")
        label.setObjectName(name)
        label.setStyleSheet(f"color:{css('muted')}")
        return label

    def make_provenance_button(self, name: str, tip: str = "") -> QPushButton:
        return _button("How it was made…", name, lambda: self.pane.show_provenance(self), tip)

    @Slot()
    def cancel(self) -> None:
        self.pane.cancel(self)

    def set_busy(self, busy: bool) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError
