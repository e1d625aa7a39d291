"""The studio's Extract tab: outputs made of the sources' own sentences, no model needed.

Extracted summary, key quotes, cloze flashcards (flip through, reveal), a multiple-choice quiz (answer,
check, score) and an outline mind map (zoomable tree; click a node to open its passage, right-click to ask
about it in chat). Every item cites its exact span, and everything is labelled "Extracted from your
sources — nothing generated". The work is ``services.studio.extractive.ExtractiveStudio`` (the code of
``notebooklm-local extract``); it runs on the io lane over the library service the window shares with
indexing, so it never waits for the chat model.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.core.citations import Citation
from notebooklm_local.core.extractive import LABEL as EXTRACT_LABEL
from notebooklm_local.core.studio_store import StudioOutput
from notebooklm_local.ui.errors import NO_NOTEBOOK
from notebooklm_local.ui.mindmap_view import MindMapView
from notebooklm_local.ui.quiz_view import QuizView
from notebooklm_local.ui.rich_text import CitationBrowser, chip
from notebooklm_local.ui.theme import css, good_color
from notebooklm_local.ui.timeline_view import TimelineTableView

__all__ = ["ExtractTab", "KIND_LABELS"]

log = logging.getLogger(__name__)

# the stored kinds (ExtractiveStudio's FORMATS keys, which ``make`` also accepts) and the menu's labels
KIND_LABELS = {"extract_summary": "Summary (extracted)", "key_quotes": "Key quotes", "flashcards": "Flashcards",
               "quiz": "Quiz", "mindmap": "Mind map", "timeline": "Timeline", "data_table": "Data table"}
TABLE_KINDS = ("timeline", "data_table")  # shown in the table view; the model may write them (Write with the model)
WRITTEN_KINDS = ("mindmap", "flashcards", "quiz")  # the model may write these too (StudioService.written)
DIFFICULTY_KINDS = ("flashcards", "quiz")
EXPORT_FILTERS = {"md": "Markdown (*.md)", "csv": "CSV (*.csv)", "apkg": "Anki package (*.apkg)",
                  "opml": "OPML outline (*.opml)", "json": "JSON (*.json)", "png": "PNG image (*.png)"}


def save_map_png(view: Any, path: Path) -> Path:
    """The mind map as drawn (folds included) as a PNG, written next to ``path`` and renamed into place. On the
    GUI thread (it paints the view's scene); at most 8000 px a side."""
    import os
    import uuid

    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QImage, QPainter

    scene = view.scene()
    rect = scene.itemsBoundingRect().adjusted(-24, -24, 24, 24)
    scale = min(2.0, 8000 / max(rect.width(), rect.height(), 1.0))
    img = QImage(max(1, int(rect.width() * scale)), max(1, int(rect.height() * scale)), QImage.Format.Format_ARGB32)
    img.fill(view.palette().base().color())
    painter = QPainter(img)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    scene.render(painter, QRectF(img.rect()), rect)
    painter.end()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp.png")
    try:
        if not img.save(str(tmp), "PNG"):
            raise OSError(f"Cannot write {path}")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _ref_citation(node: Any, pid: int = 1) -> Citation | None:
    """A node's passage as a Citation the source viewer can open (a point's own, else its first ref)."""
    if getattr(node, "citation", None) is not None:
        return node.citation
    refs = list(getattr(node, "refs", []) or [])
    if not refs:
        return None
    r = refs[0]
    title = getattr(node, "source_title", "") or ""
    return Citation(pid, int(r.chunk_id), str(r.source_id), title, r.page, r.t_start, int(r.start), int(r.end),
                    "", getattr(r, "location", "") or "")


def _a(noun: str) -> str:
    """``"a quiz"``, ``"an extracted summary"``; plurals as they are (``"key quotes"``, ``"flashcards"``)."""
    if noun.endswith("s") and not noun.endswith("ss"):
        return noun
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _count(n: int, noun: str) -> str:
    """``"1 row"``, ``"12 rows"`` (the output's size in the stats line)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


class _CardsView(QWidget):
    """Flip through cloze cards: the blanked sentence, Reveal, the answer with its citation."""

    def __init__(self, tab: ExtractTab) -> None:
        super().__init__()
        self.tab = tab
        self.cards: list[Any] = []
        self.i = 0
        self.revealed = False
        layout = QVBoxLayout(self)
        self.counter = QLabel("")
        self.counter.setObjectName("cards-counter")
        layout.addWidget(self.counter)
        self.view = CitationBrowser()
        self.view.setObjectName("cards-view")
        self.view.setAccessibleName("Flashcard")
        self.view.citation_activated.connect(tab.citation_activated)
        layout.addWidget(self.view, 1)
        row = QHBoxLayout()
        self.prev_button = QPushButton("\u25c0 Previous")
        self.prev_button.setObjectName("cards-prev")
        self.prev_button.setAccessibleName("Previous card")  # the arrow is read as "black left-pointing triangle"
        self.prev_button.clicked.connect(lambda: self.show_card(self.i - 1))
        self.reveal_button = QPushButton("Reveal")
        self.reveal_button.setObjectName("cards-reveal")
        self.reveal_button.setShortcut("Space")
        self.reveal_button.clicked.connect(self.toggle)
        self.next_button = QPushButton("Next \u25b6")
        self.next_button.setObjectName("cards-next")
        self.next_button.setAccessibleName("Next card")
        self.next_button.clicked.connect(lambda: self.show_card(self.i + 1))
        for b in (self.prev_button, self.reveal_button, self.next_button):
            row.addWidget(b)
        layout.addLayout(row)

    def set_cards(self, cards: Sequence[Any]) -> None:
        self.cards = list(cards)
        self.show_card(0)

    def show_card(self, i: int) -> None:
        self.revealed = False
        if not self.cards:
            self.i = 0
            self.counter.setText("")
            self.view.set_content("<p><i>No sentence in the selected sources makes a good card.</i></p>", {})
        else:
            self.i = max(0, min(i, len(self.cards) - 1))
            self.counter.setText(f"Card {self.i + 1} of {len(self.cards)}")
            self._paint()
        self.prev_button.setEnabled(self.i > 0)
        self.next_button.setEnabled(self.i + 1 < len(self.cards))
        self.reveal_button.setEnabled(bool(self.cards))
        self.reveal_button.setText("Reveal")

    @Slot()
    def reveal(self) -> None:
        if self.cards:
            self.revealed = True
            self._paint()
            self.reveal_button.setText("Hide")  # the button turns the answer over and back (Space)

    @Slot()
    def toggle(self) -> None:
        if self.revealed:
            self.revealed = False
            self._paint()
            self.reveal_button.setText("Reveal")
        else:
            self.reveal()

    def _paint(self) -> None:
        card = self.cards[self.i]
        key = self.tab.pane.next_key()
        link = f"cite:{key}:{card.citation.passage_id}"
        body = f'<p style="font-size:large">{html.escape(card.front)}</p>'
        if self.revealed:
            body += (f'<p style="font-size:large"><b>{html.escape(card.back)}</b></p>'
                     f'<p style="color:{css("muted")}">\u201c{html.escape(card.sentence.display)}\u201d{chip(link, "source")}</p>')
        else:
            body += f'<p style="color:{css("muted")}">Press Reveal (Space) to see the answer.</p>'
        self.view.set_content(body, {link: card.citation})


class ExtractTab(QWidget):
    """Studio tab: model-free outputs of the selected sources, each item cited.

    ``library_service`` returns the window's LibraryService (call it on a lane: it may open the index).
    """

    citation_activated = Signal(object)
    ask_requested = Signal(str)  # "ask about this in chat" (a mind-map node's title)

    def __init__(self, pane: Any, library_service: Callable[[], Any] | None) -> None:
        super().__init__()
        from notebooklm_local.ui.studio.widgets import JobBar, _button, _combo

        self.pane = pane
        self.library_service = library_service
        self.citation_activated.connect(pane.citation_activated)
        self._studio: Any = None
        self.output: StudioOutput | None = None
        self.result: Any = None
        self.shown_kind: str | None = None  # the kind of what is on screen (None: the "press Make" state)
        # the last output of each kind made or opened here for this notebook: switching the kind shows it again
        self._last: dict[str, tuple[Any, StudioOutput | None, dict[str, Any] | None]] = {}
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.kind_box = _combo("extract-kind", [(label, kind) for kind, label in KIND_LABELS.items()], "extract_summary")
        self.kind_box.setAccessibleName("What to make")
        self.kind_box.currentIndexChanged.connect(self._on_kind_changed)
        self.length_box = _combo("extract-length", [("Short (~120 words a source)", "short"),
                                                    ("Medium (~280 words)", "medium"), ("Long (~600 words)", "long")],
                                 "medium")
        self.length_box.setAccessibleName("Length")
        self.count_box = QSpinBox()
        self.count_box.setObjectName("extract-count")
        self.count_box.setAccessibleName("How many")
        self.count_box.setRange(1, 200)
        self.count_box.setValue(20)
        self.count_label = QLabel("Count")
        for box in (self.kind_box, self.length_box):  # narrow panes: the combos shrink, not the window grows
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(15)
        # the kind and Make on one row, Make after a stretch (it never moves); the kind's options on a row of
        # their own, in a box as large as the largest set of them, so showing and hiding them moves nothing
        # (no row grows, so the pane's minimum width and the window's dividers stay put)
        row.addWidget(self.kind_box)
        self.options = QWidget()
        self.options.setObjectName("extract-options")
        opts = QHBoxLayout(self.options)
        opts.setContentsMargins(0, 0, 0, 0)
        opts.addWidget(self.length_box)
        opts.addWidget(self.count_label)
        opts.addWidget(self.count_box)
        self.generate_box = QCheckBox("Write with the model")
        self.generate_box.setObjectName("extract-generate")
        self.generate_box.setToolTip("The chat model writes it (needs an instruct model); every row, answer or concept "
                                     "is checked against its passage: a timeline row that fails is flagged \u26a0, a "
                                     "card, question or concept that fails is dropped")
        self.generate_box.toggled.connect(self._on_kind_changed)
        opts.addWidget(self.generate_box)
        self.difficulty_box = _combo("extract-difficulty", [("Easy", "easy"), ("Medium", "medium"), ("Hard", "hard")],
                                     "medium")
        self.difficulty_box.setAccessibleName("Difficulty")
        self.difficulty_box.setToolTip("How hard the model's questions are")
        opts.addWidget(self.difficulty_box)
        opts.addStretch(1)
        self.make_button = _button("Make", "extract-make", self.make,
                                   "Make it from the selected sources (no model: their own sentences, cited)")
        row.addStretch(1)
        row.addWidget(self.make_button)
        layout.addLayout(row)
        layout.addWidget(self.options)
        self.label = QLabel(f"\u275d {EXTRACT_LABEL}")
        self.label.setObjectName("extract-label")
        self.label.setStyleSheet(f"color:{good_color()};font-weight:bold")
        layout.addWidget(self.label)
        self.bar = JobBar("extract")
        layout.addWidget(self.bar)
        self.stack = QStackedWidget()
        self.text_view = CitationBrowser()
        self.text_view.setObjectName("extract-result")
        self.text_view.setAccessibleName("Extracted output")
        self.text_view.citation_activated.connect(self.citation_activated)
        self.cards_view = _CardsView(self)
        self.quiz_view = QuizView(pane.next_key)
        self.quiz_view.citation_activated.connect(self.citation_activated)
        self.map_page = QWidget()
        mp = QVBoxLayout(self.map_page)
        mp.setContentsMargins(0, 0, 0, 0)
        zoom = QHBoxLayout()
        self.map_view = MindMapView()
        self.map_view.node_activated.connect(self._on_node_activated)
        self.map_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.map_view.customContextMenuRequested.connect(self._map_menu)
        for text, name, slot in (("\u2212", "map-zoom-out", lambda: self.map_view.zoom_by(1 / 1.25)),
                                 ("+", "map-zoom-in", lambda: self.map_view.zoom_by(1.25)),
                                 ("Fit", "map-fit", self.map_view.fit)):
            b = QPushButton(text)
            b.setObjectName(name)
            b.setAccessibleName({"map-zoom-out": "Zoom out", "map-zoom-in": "Zoom in", "map-fit": "Fit"}[name])
            b.setMaximumWidth(48)
            b.clicked.connect(slot)
            zoom.addWidget(b)
        hint = QLabel("Click a node: its passage. Double-click: fold. Right-click: ask in chat. Ctrl+wheel: zoom.")
        hint.setStyleSheet(f"color:{css('muted')}")
        hint.setWordWrap(True)
        hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        zoom.addWidget(hint, 1)
        mp.addLayout(zoom)
        mp.addWidget(self.map_view, 1)
        self.table_view = TimelineTableView()
        self.table_view.citation_activated.connect(self.citation_activated)
        for w in (self.text_view, self.cards_view, self.quiz_view, self.map_page, self.table_view):
            self.stack.addWidget(w)
        layout.addWidget(self.stack, 1)
        foot = QHBoxLayout()
        self.stats = QLabel("")
        self.stats.setObjectName("extract-stats")
        self.stats.setStyleSheet(f"color:{css('muted')}")
        foot.addWidget(self.stats, 1)
        self.export_button = _button("Export…", "extract-export", self.export, "Save as a file")
        self.save_button = _button("Save to note", "extract-save-note", self.save_note,
                                   "Save it, with its citations, as a note")
        for b in (self.export_button, self.save_button):
            b.setEnabled(False)
            foot.addWidget(b)
        layout.addLayout(foot)
        self._reserve_options_space()
        self._on_kind_changed()

    # -- the tab protocol the pane uses ------------------------------------------------------------
    def set_busy(self, busy: bool) -> None:
        self.make_button.setEnabled(not busy)
        self.export_button.setEnabled(not busy and self.result is not None)
        self.save_button.setEnabled(not busy and self.output is not None)

    def clear(self) -> None:
        self._last.clear()
        self._show_empty()
        self.bar.clear_notice()
        self.set_busy(False)

    def forget(self, output_id: str) -> None:
        """An output was deleted (History): not shown again when its kind is chosen."""
        self._last = {k: v for k, v in self._last.items() if v[1] is None or v[1].id != output_id}

    def _show_empty(self) -> None:
        """Nothing made of the chosen kind yet: say how to make one (and where earlier ones are)."""
        self.output, self.result, self.shown_kind = None, None, None
        what = KIND_LABELS.get(self.kind, self.kind).split(" (")[0].lower()
        self.empty_text = (f"Press Make to create {_a(what)} from the selected sources. "
                           "Earlier ones are in the History tab.")
        self.stack.setCurrentWidget(self.text_view)
        self.label.setText(f"\u275d {EXTRACT_LABEL}")
        # as text, not the placeholder: a placeholder does not wrap in a narrow pane
        self.text_view.set_content(f'<p style="color:{css("muted")}"><i>{html.escape(self.empty_text)}</i></p>', {})
        self.cards_view.set_cards([])
        self.quiz_view.set_questions([])
        self.map_view.set_tree(None)
        self.table_view.clear()
        self.stats.clear()
        self.export_button.setEnabled(False)  # nothing to export or save
        self.save_button.setEnabled(False)

    def show_output(self, out: StudioOutput) -> None:
        from notebooklm_local.core.extractive_json import result_from_json

        self.kind_box.setCurrentIndex(max(0, self.kind_box.findData(out.kind)))
        result = result_from_json(out.kind, out.payload)
        self.generate_box.setChecked(bool(getattr(result, "generated", False)))  # Make again makes the same kind
        self._show(out.kind, result, out, out.payload.get("stats"))

    # -- making ------------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return str(self.kind_box.currentData())

    def _option_widgets(self) -> tuple[QWidget, ...]:
        return (self.length_box, self.count_label, self.count_box, self.generate_box, self.difficulty_box)

    def _reserve_options_space(self) -> None:
        """Fix the options row at the largest size any kind's options take, so switching moves nothing."""
        lay = self.options.layout()
        kind, generated = self.kind_box.currentIndex(), self.generate_box.isChecked()
        self.kind_box.blockSignals(True)
        self.generate_box.blockSignals(True)
        w = h = 0
        for i in range(self.kind_box.count()):
            for gen in (False, True):
                self.kind_box.setCurrentIndex(i)
                self.generate_box.setChecked(gen)
                self._on_kind_changed(show=False)
                lay.invalidate()
                size = lay.minimumSize()
                w, h = max(w, size.width()), max(h, size.height())
        h = max([h] + [b.sizeHint().height() for b in self._option_widgets()])
        self.kind_box.setCurrentIndex(kind)
        self.generate_box.setChecked(generated)
        self.kind_box.blockSignals(False)
        self.generate_box.blockSignals(False)
        self.options.setMinimumWidth(w)
        self.options.setFixedHeight(h)

    @Slot()
    def _on_kind_changed(self, _i: int = 0, *, show: bool = True) -> None:
        kind = self.kind
        self.length_box.setVisible(kind == "extract_summary")
        counted = kind in ("key_quotes", "flashcards", "quiz")
        self.count_label.setVisible(counted)
        self.count_box.setVisible(counted)
        self.count_label.setText("Per source" if kind == "key_quotes" else "Count")
        self.generate_box.setVisible(kind in TABLE_KINDS or kind in WRITTEN_KINDS)
        self.difficulty_box.setVisible(kind in DIFFICULTY_KINDS and self.generate_box.isChecked())
        if kind in DIFFICULTY_KINDS and self.generate_box.isChecked():
            self.count_box.setMaximum(50)
        else:
            self.count_box.setMaximum(200)
        self.count_box.setValue({"key_quotes": 5, "flashcards": 20, "quiz": 10}.get(kind, self.count_box.value()))
        if show and kind != self.shown_kind:  # what is on screen is of another kind: this kind's last, or none
            busy = self.pane.tab_busy(self)
            if not busy:
                self.bar.clear_notice()  # "Exported to …" and the like were about the other output
            last = self._last.get(kind)
            if last is not None:
                self._show(kind, *last)
            else:
                self._show_empty()

    def _extractive(self) -> Any:
        """The ExtractiveStudio over the window's library service (built on a lane, once)."""
        from notebooklm_local.services.studio.extractive import ExtractiveStudio

        if self._studio is None:
            svc = self.library_service() if self.library_service is not None else self.pane._ensure_studio(  # noqa: SLF001
                lambda *_: None).library
            self._studio = ExtractiveStudio(svc)
        return self._studio

    @Slot()
    def make(self) -> None:
        p = self.pane
        if not p.notebook_id:
            self.bar.show_error(NO_NOTEBOOK)
            return
        what = self.kind
        kwargs: dict[str, Any] = {}
        if self.kind == "extract_summary":
            kwargs["length"] = self.length_box.currentData()
        elif self.kind in ("key_quotes", "flashcards", "quiz"):
            kwargs["count"] = self.count_box.value()
        notebook, sources = p.notebook_id, p.source_ids
        if what in TABLE_KINDS and self.generate_box.isChecked():
            self._make_generated(what, notebook, sources)
            return
        if what in WRITTEN_KINDS and self.generate_box.isChecked():
            self._make_written(what, notebook, sources, self.count_box.value(),
                               str(self.difficulty_box.currentData()))
            return

        def run(_studio: Any, cancel: Any, progress: Any, _relay: Any) -> Any:
            progress(0, 0, "Reading the sources…")
            studio = self._extractive()
            cancel.raise_if_set()
            return studio.make(what, notebook, sources, **kwargs)

        p.submit(self, self.bar, run, on_success=self._on_made, lane="io", needs_studio=False,
                 message="Picking sentences from your sources…")

    def _make_generated(self, kind: str, notebook: str, sources: Any) -> None:
        """The timeline / data table written by the chat model (on the llm lane), every row checked."""
        from notebooklm_local.services.grounding import similarity_for
        from notebooklm_local.services.studio.timeline_gen import generate

        def run(studio: Any, cancel: Any, progress: Any, _relay: Any) -> Any:
            return generate(studio.engine, studio.library, notebook, sources, what=kind,
                            similarity=similarity_for(studio.library), retries=studio.settings.studio.retries,
                            progress=progress, cancel=cancel)

        self.pane.submit(self, self.bar, run, on_success=self._on_made, lane="llm", needs_studio=True,
                         message="The model is reading the passages…")

    def _make_written(self, kind: str, notebook: str, sources: Any, count: int, difficulty: str) -> None:
        """The mind map / flashcards / quiz written by the chat model (llm lane; stages, Stop), every item checked:
        with the built-in demo model this ends in the honest refusal the checks give."""

        def run(studio: Any, cancel: Any, progress: Any, relay: Any) -> Any:
            return studio.written(kind, notebook, sources, count=count, difficulty=difficulty, progress=progress,
                                  cancel=cancel, on_stage=relay.stage.emit)

        self.pane.submit(self, self.bar, run, on_success=self._on_made, lane="llm", needs_studio=True,
                         message="The model is reading the passages\u2026")

    def _on_made(self, made: Any) -> None:
        self._last[made.kind] = (made.result, made.output, {"wall_s": made.seconds})
        if made.kind != self.kind:  # the kind was switched while it was made: show it under its own kind
            self.kind_box.setCurrentIndex(max(0, self.kind_box.findData(made.kind)))
        self._show(made.kind, made.result, made.output, {"wall_s": made.seconds})
        if made.output is not None:
            self.pane.output_stored.emit(made.output.id)

    def _show(self, kind: str, result: Any, out: StudioOutput | None, stats: dict[str, Any] | None) -> None:
        self.output, self.result, self.shown_kind = out, result, kind
        self._last[kind] = (result, out, stats)
        key = self.pane.next_key()
        n = 0
        if kind in ("extract_summary", "key_quotes"):
            body, cites = self._text_html(kind, result, key)
            self.text_view.set_content(body, cites)
            self.stack.setCurrentWidget(self.text_view)
            n = len(cites)
            what = _count(n, "sentence")
        elif kind == "flashcards":
            self.cards_view.set_cards(result.cards)
            self.stack.setCurrentWidget(self.cards_view)
            what = _count(len(result.cards), "card")
        elif kind == "quiz":
            self.quiz_view.set_questions(result.questions)
            self.stack.setCurrentWidget(self.quiz_view)
            what = _count(len(result.questions), "question")
        elif kind in TABLE_KINDS:
            self.table_view.set_result(kind, result)
            self.stack.setCurrentWidget(self.table_view)
            rows = result.events if kind == "timeline" else result.rows
            flagged = sum(1 for r in rows if not r.supported)
            what = _count(len(rows), "dated event" if kind == "timeline" else "row") + (
                f" ({flagged} flagged \u26a0)" if flagged else "")
        else:
            self.map_view.set_tree(result.root)
            self.stack.setCurrentWidget(self.map_page)
            what = _count(len(result.nodes), "node")
        secs = float((stats or {}).get("wall_s", 0.0))
        notes = list(getattr(result, "notes", []) or [])
        generated = bool(getattr(result, "generated", False))
        what_checked = {"mindmap": "every concept", "flashcards": "every answer", "quiz": "every answer"}.get(kind,
                                                                                                            "every row")
        used = f"written by {result.model}, {what_checked} checked" if generated else "no model used"
        self.label.setText(f"\u275d {getattr(result, 'label', EXTRACT_LABEL) if generated else EXTRACT_LABEL}")
        self.stats.setText(" \u00b7 ".join([what, f"{secs * 1000:.0f} ms", used, *notes[:2]]))
        self.set_busy(self.pane.tab_busy(self))

    @staticmethod
    def _text_html(kind: str, result: Any, key: int) -> tuple[str, dict[str, Any]]:
        cites: dict[str, Any] = {}
        parts = [f'<h3 style="margin-bottom:2px">{html.escape(result.title)}</h3>']
        groups = result.sources if kind == "extract_summary" else result.groups
        for g in groups:
            parts.append(f"<h4 style='margin-bottom:0px'>{html.escape(g.title)}</h4>")
            sections = g.sections if kind == "extract_summary" else [None]
            for sec in sections:
                items = sec.items if sec is not None else g.quotes
                if sec is not None and sec.title:
                    parts.append(f'<div style="color:{css("muted")};font-size:small">{html.escape(sec.title)}</div>')
                lines = []
                for x in items:
                    link = f"cite:{key}:{x.citation.passage_id}"
                    cites[link] = x.citation
                    text = html.escape(x.display)
                    lines.append(f"{text}{chip(link, str(x.citation.passage_id))}" if kind == "extract_summary"
                                 else f"<li>\u201c{text}\u201d{chip(link, str(x.citation.passage_id))}</li>")
                parts.append(f"<p>{' '.join(lines)}</p>" if kind == "extract_summary" else f"<ul>{''.join(lines)}</ul>")
        if not cites:
            parts.append("<p><i>The selected sources have no sentences to extract.</i></p>")
        parts += [f'<div style="color:{css("muted")};font-size:small">{html.escape(n)}</div>' for n in result.notes]
        return "".join(parts), cites

    # -- mind map ----------------------------------------------------------------------------------
    @Slot(object)
    def _on_node_activated(self, node: Any) -> None:
        c = _ref_citation(node)
        if c is not None:
            self.citation_activated.emit(c)

    def _map_menu(self, pos: Any) -> None:
        item = self.map_view.itemAt(pos)
        while item is not None and not hasattr(item, "node"):
            item = item.parentItem()
        if item is None:
            return
        node = item.node
        menu = QMenu(self)
        ask = menu.addAction("Ask about this in chat")
        open_ = menu.addAction("Open its passage")
        open_.setEnabled(_ref_citation(node) is not None)
        chosen = menu.exec(self.map_view.viewport().mapToGlobal(pos))
        if chosen is ask:
            self.ask_requested.emit(f"What do my sources say about {node.title}?")
        elif chosen is open_:
            self._on_node_activated(node)

    # -- export and notes --------------------------------------------------------------------------
    @Slot()
    def export(self) -> None:
        from notebooklm_local.services.studio.extractive import FORMATS, ExtractiveStudio

        if self.result is None:
            return
        kind = self.output.kind if self.output is not None else self.kind
        formats = FORMATS.get(kind, ("md",)) + (("png",) if kind == "mindmap" else ())
        filters = ";;".join(EXPORT_FILTERS[f] for f in formats)
        name = "".join(ch if ch.isalnum() or ch in " -_" else "_" for ch in self.result.title)[:60].strip() or "export"
        path = self.pane._ask_save_path("Export", f"{name}.{formats[0]}", filters)  # noqa: SLF001
        if not path:
            return
        fmt = Path(path).suffix.lower().lstrip(".")
        if fmt not in formats:
            self.bar.show_error(f"Choose one of: {', '.join('.' + f for f in formats)}.")
            return
        result = self.result
        if fmt == "png":  # painted from the view, on this thread (fast: one scene render)
            try:
                self.bar.show_info(f"Exported to {save_map_png(self.map_view, Path(path))}.")
            except OSError as e:
                self.bar.show_error(str(e))
            return

        def run(_studio: Any, _cancel: Any, _progress: Any, _relay: Any) -> Any:
            return ExtractiveStudio.export(result, fmt, Path(path))

        self.pane.submit(self, self.bar, run, on_success=lambda p: self.bar.show_info(f"Exported to {p}."),
                         lane="io", needs_studio=False, message="Exporting…")

    @Slot()
    def save_note(self) -> None:
        if self.output is None:
            return
        oid = self.output.id

        def run(_studio: Any, _cancel: Any, _progress: Any, _relay: Any) -> Any:
            return self._extractive().save_note(oid)

        self.pane.submit(self, self.bar, run, on_success=lambda note: self.pane._on_note_saved(self.bar, note),  # noqa: SLF001
                         lane="io", needs_studio=False, message="Saving the note…")
