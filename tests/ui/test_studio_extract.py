"""The studio's Extract tab in the real window on the sample notebook: summary, key quotes, flashcards,
quiz and mind map made with no model, every shown citation resolving to its source span; cards reveal,
the quiz scores, a mind-map node opens its passage, exports and notes work."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.context import AppContext
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings

pytestmark = [pytest.mark.gui]


@pytest.fixture
def ctx(app_home: Path) -> AppContext:
    from notebooklm_local.extensions.sample import ensure_sample_notebook
    from notebooklm_local.workspace import open_library

    paths = app_paths().ensure()
    settings = Settings()
    lib = open_library(paths, settings)
    ensure_sample_notebook(lib)
    lib.library.close()
    return AppContext(paths, settings)


def _make(qtbot: Any, tab: Any, kind: str, count: int | None = None) -> Any:
    tab.kind_box.setCurrentIndex(tab.kind_box.findData(kind))
    if count is not None:
        tab.count_box.setValue(count)
    tab.make()
    qtbot.waitUntil(lambda: not tab.pane.tab_busy(tab), timeout=60000)
    assert tab.result is not None, tab.bar.notice.text() if hasattr(tab.bar, "notice") else "no result"
    return tab.result


def _check_citations(win: Any, citations: list[Any]) -> None:
    assert citations
    for c in citations:
        text, _blocks = win.library.source_text(c.source_id)
        assert text[c.start:c.end].strip() and " ".join(text[c.start:c.end].split()) == " ".join(c.quote.split())


def test_extract_tab_makes_every_output_without_a_model(qtbot: Any, ctx: AppContext, tmp_path: Path) -> None:
    from notebooklm_local.ui.main_window import MainWindow
    from notebooklm_local.ui.source_viewer import SourceViewer

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    pane = win.studio_pane
    tab = pane.extract_tab
    assert pane.tabs.widget(0) is tab and pane.tabs.tabText(0) == "Extract"
    qtbot.waitUntil(lambda: pane.notebook_id is not None and win.library is not None, timeout=20000)

    summary = _make(qtbot, tab, "extract_summary")
    assert "Extracted from your sources" in tab.label.text() and tab.stack.currentWidget() is tab.text_view
    _check_citations(win, summary.citations)
    assert all("cite:" in link for link in tab.text_view.citations)
    assert tab.output is not None and tab.save_button.isEnabled() and tab.export_button.isEnabled()
    assert win.chat_pane.chat is None  # no model was loaded for any of this

    quotes = _make(qtbot, tab, "key_quotes", 3)
    _check_citations(win, quotes.citations)

    deck = _make(qtbot, tab, "flashcards", 8)
    assert deck.cards and tab.stack.currentWidget() is tab.cards_view
    cv = tab.cards_view
    assert deck.cards[0].front in cv.view.toPlainText() and deck.cards[0].back not in cv.view.toPlainText().replace(
        deck.cards[0].front, "")
    cv.reveal_button.click()
    assert deck.cards[0].back in cv.view.toPlainText() and cv.reveal_button.text() == "Hide"
    cv.reveal_button.click()  # and back: the answer hidden again
    assert not cv.revealed and cv.reveal_button.text() == "Reveal"
    assert deck.cards[0].back not in cv.view.toPlainText().replace(deck.cards[0].front, "")
    cv.reveal()
    assert deck.cards[0].back in cv.view.toPlainText()
    cv.next_button.click()
    assert cv.i == (1 if len(deck.cards) > 1 else 0) and cv.reveal_button.text() == "Reveal"
    _check_citations(win, deck.citations)

    quiz = _make(qtbot, tab, "quiz", 5)
    qv = tab.quiz_view
    assert quiz.questions and tab.stack.currentWidget() is qv
    q0 = quiz.questions[0]
    assert qv.stem.text() == q0.stem and [b.text().split(")  ", 1)[1] for b in qv.options] == q0.options
    qv.options[q0.correct].click()
    assert qv.right == 1 and "Correct" in qv.feedback.toPlainText() and "Score: 1 / 1" in qv.score.text()
    if len(quiz.questions) > 1:
        qv.next_button.click()
        q1 = quiz.questions[1]
        qv.options[(q1.correct + 1) % len(q1.options)].click()
        assert "Incorrect" in qv.feedback.toPlainText() and q1.answer in qv.feedback.toPlainText()
    _check_citations(win, quiz.citations)

    mm = _make(qtbot, tab, "mindmap")
    assert tab.stack.currentWidget() is tab.map_page and tab.map_view.node_items
    points = [n for n in mm.nodes if n.citation is not None]
    assert points
    _check_citations(win, [n.citation for n in points])
    tab.map_view.node_activated.emit(points[0])
    qtbot.waitUntil(lambda: isinstance(getattr(win, "source_viewer", None), SourceViewer)
                    and win.source_viewer.isVisible(), timeout=10000)
    win.source_viewer.close()
    before = tab.map_view.zoom
    tab.map_view.zoom_by(1.25)
    assert tab.map_view.zoom > before
    # exports through the tab (the file dialog replaced)
    for fmt in ("opml", "md"):
        target = tmp_path / f"map.{fmt}"
        pane._ask_save_path = lambda *_a, _t=target: str(_t)
        tab.export()
        qtbot.waitUntil(lambda _t=target: _t.exists() and not pane.tab_busy(tab), timeout=10000)
    ET.parse(tmp_path / "map.opml")
    _make(qtbot, tab, "flashcards", 5)
    target = tmp_path / "cards.csv"
    pane._ask_save_path = lambda *_a: str(target)
    tab.export()
    qtbot.waitUntil(lambda: target.exists() and not pane.tab_busy(tab), timeout=10000)
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) >= 2
    # save as a note
    with qtbot.waitSignal(pane.note_saved, timeout=10000):
        tab.save_note()
    # the history reopens an extracted output in this tab
    out = tab.output
    tab.clear()
    pane.open_output(out)
    assert tab.result is not None and pane.tabs.currentWidget() is tab
    win.close()


def _window(qtbot: Any, ctx: AppContext) -> Any:
    from notebooklm_local.ui.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.studio_pane.notebook_id is not None and win.library is not None, timeout=20000)
    win.studio_pane.tabs.setCurrentWidget(win.studio_pane.extract_tab)
    return win


def _choose(tab: Any, kind: str) -> None:
    tab.kind_box.setCurrentIndex(tab.kind_box.findData(kind))


def test_switching_the_kind_shows_its_last_output_or_how_to_make_one(qtbot: Any, ctx: AppContext) -> None:
    """A summary no longer stays on screen under "Quiz": a kind not made yet says to press Make (Export and
    Save to note off: nothing to export), a kind made before shows its last output again (and they are on)."""
    win = _window(qtbot, ctx)
    pane, tab = win.studio_pane, win.studio_pane.extract_tab
    assert "Press Make to create a summary" in tab.text_view.toPlainText()
    assert not tab.export_button.isEnabled() and not tab.save_button.isEnabled()
    summary = _make(qtbot, tab, "extract_summary")
    summary_out, summary_text = tab.output, tab.text_view.toPlainText()
    assert summary.title in summary_text and tab.export_button.isEnabled() and tab.save_button.isEnabled()

    _choose(tab, "quiz")
    assert tab.result is None and tab.output is None and tab.stack.currentWidget() is tab.text_view
    assert tab.text_view.toPlainText().startswith("Press Make to create a quiz from the selected sources")
    assert "History" in tab.text_view.toPlainText() and summary.title not in tab.text_view.toPlainText()
    assert not tab.export_button.isEnabled() and not tab.save_button.isEnabled() and not tab.stats.text()
    tab.generate_box.setChecked(True)  # an option of the same kind: still nothing shown, nothing lost
    tab.generate_box.setChecked(False)
    assert tab.result is None
    quiz = _make(qtbot, tab, "quiz", 4)
    assert tab.stack.currentWidget() is tab.quiz_view and tab.export_button.isEnabled()

    _choose(tab, "extract_summary")  # the summary again, as it was
    assert tab.result is summary and tab.output is summary_out and tab.text_view.toPlainText() == summary_text
    assert tab.export_button.isEnabled() and tab.save_button.isEnabled() and "sentence" in tab.stats.text()
    _choose(tab, "key_quotes")
    assert "Press Make to create key quotes" in tab.text_view.toPlainText()
    _choose(tab, "quiz")
    assert tab.result is quiz and tab.stack.currentWidget() is tab.quiz_view

    pane.output_deleted(summary_out.id)  # deleted in History: not shown again
    _choose(tab, "extract_summary")
    assert tab.result is None and "Press Make" in tab.text_view.toPlainText()
    win.studio_pane.set_notebook(None, [])  # another notebook: nothing of this one's
    _choose(tab, "quiz")
    assert tab.result is None and not tab.export_button.isEnabled()
    win.close()


def test_the_controls_row_does_not_move_when_the_kind_changes(qtbot: Any, ctx: AppContext) -> None:
    """Each kind shows other options (length, count, Write with the model, difficulty): Make, the output and
    the window's dividers stay where they are (they moved, and the studio pane widened, with the options)."""
    from PySide6.QtWidgets import QSplitter

    win = _window(qtbot, ctx)
    tab = win.studio_pane.extract_tab

    def where() -> tuple[Any, ...]:
        qtbot.wait(20)
        return (tab.make_button.mapTo(win, tab.make_button.rect().topLeft()), tab.make_button.size(),
                tab.stack.mapTo(win, tab.stack.rect().topLeft()), tab.minimumSizeHint(),
                [sp.sizes() for sp in win.findChildren(QSplitter)])

    first = where()
    seen = []
    for kind in KINDS:
        _choose(tab, kind)
        for gen in (False, True):
            tab.generate_box.setChecked(gen)
            seen.append((kind, gen, where()))
    assert all(w == first for _k, _g, w in seen), [s for s in seen if s[2] != first][:2]
    win.close()


KINDS = ("extract_summary", "key_quotes", "flashcards", "quiz", "mindmap", "timeline", "data_table")


# -- timeline and data table ------------------------------------------------------------------------


def test_timeline_and_table_in_the_extract_tab(qtbot: Any, ctx: AppContext, tmp_path: Path) -> None:
    """Sources without dates say so; a dated source gives a cited table whose row click opens the passage;
    Markdown and CSV exports carry the citations; the data table shows numeric facts."""
    from notebooklm_local.core.documents import SourceRef
    from notebooklm_local.core.timeline import NO_DATES
    from notebooklm_local.ui.main_window import MainWindow
    from notebooklm_local.ui.source_viewer import SourceViewer
    from notebooklm_local.workspace import open_library
    from tests.core.test_timeline import HISTORY
    from tests.services.test_timeline_studio import FACTS

    lib = open_library(ctx.paths, ctx.settings)
    nb = lib.library.notebooks()[0]
    undated = [s.id for s in lib.library.sources(nb.id)]
    assert not lib.add(nb.name, [SourceRef(text=HISTORY + "\n\n" + FACTS, title="History")]).failed
    lib.library.close()

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    pane = win.studio_pane
    tab = pane.extract_tab
    qtbot.waitUntil(lambda: pane.notebook_id is not None and win.library is not None, timeout=20000)
    every = pane.source_ids

    pane.set_notebook(pane.notebook_id, undated)  # the sample sources hold no dates
    tab.kind_box.setCurrentIndex(tab.kind_box.findData("timeline"))
    assert tab.generate_box.isVisible() and not tab.count_box.isVisible()
    empty = _make(qtbot, tab, "timeline")
    assert empty.events == [] and tab.stack.currentWidget() is tab.table_view
    assert NO_DATES in tab.table_view.empty.text() and not tab.table_view.table.isVisible()

    pane.set_notebook(pane.notebook_id, every)
    tl = _make(qtbot, tab, "timeline")
    table = tab.table_view.table
    assert len(tl.events) >= 8 and table.rowCount() == len(tl.events) and table.isVisible()
    assert [table.horizontalHeaderItem(j).text() for j in range(3)] == ["Date", "Event", "Source"]
    assert table.item(0, 0).text() == tl.events[0].date.label and table.item(0, 2).text().startswith("History")
    assert "dated events" in tab.stats.text() and "no model used" in tab.stats.text()
    _check_citations(win, tl.citations)
    with qtbot.waitSignal(tab.citation_activated, timeout=5000) as sig:
        table.cellClicked.emit(1, 1)
    assert sig.args[0] is tl.events[1].citation
    qtbot.waitUntil(lambda: isinstance(getattr(win, "source_viewer", None), SourceViewer)
                    and win.source_viewer.isVisible(), timeout=10000)
    win.source_viewer.close()
    for fmt in ("md", "csv"):
        target = tmp_path / f"timeline.{fmt}"
        pane._ask_save_path = lambda *_a, _t=target: str(_t)
        tab.export()
        qtbot.waitUntil(lambda _t=target: _t.exists() and not pane.tab_busy(tab), timeout=10000)
    assert "| Date | Event | Source |" in (tmp_path / "timeline.md").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "timeline.csv").read_text(encoding="utf-8"))))
    assert len(rows) == len(tl.events) and rows[0]["quote"] and rows[0]["source"] == "History"

    dt = _make(qtbot, tab, "data_table")
    assert dt.rows and tab.table_view.table.columnCount() == 4
    _check_citations(win, dt.citations)
    # the history reopens it in the table view
    out = tab.output
    tab.clear()
    pane.open_output(out)
    assert tab.result is not None and tab.stack.currentWidget() is tab.table_view
    win.close()


def test_generated_timeline_in_the_tab_flags_unsupported_rows(qtbot: Any, tmp_path: Path) -> None:
    """*Write with the model* with a scripted engine: supported rows as is, an invented one marked ⚠."""
    from notebooklm_local.core.documents import SourceRef
    from notebooklm_local.core.templates import TemplateStore
    from notebooklm_local.services.studio.service import StudioService
    from notebooklm_local.ui.studio.pane import StudioPane
    from notebooklm_local.ui.workers import Lanes
    from notebooklm_local.workspace import resources_dir
    from tests.core.test_timeline import HISTORY
    from tests.helpers.scripted_engine import ScriptedEngine
    from tests.services.test_library import make_service
    from tests.services.test_timeline_studio import faithful_timeline

    lib = make_service(None)
    lib.create_notebook("Dated")
    assert not lib.add("Dated", [SourceRef(text=HISTORY, title="History")]).failed
    nb = lib.library.notebook("Dated")

    def script(messages: Any, schema: Any) -> Any:
        d = faithful_timeline(messages, schema)
        d["events"].append({"date": "1871", "event": "The Normans invaded England at Hastings.", "passage": 1})
        return d

    engine = ScriptedEngine(fallback=script)
    studio = StudioService(lib, engine, TemplateStore(resources_dir() / "templates", tmp_path / "tpl"))
    pane = StudioPane(Lanes(), lambda: studio, library_getter=lambda: lib.library, library_service=lambda: lib)
    qtbot.addWidget(pane)
    pane.show()
    pane.set_notebook(nb.id, None)
    tab = pane.extract_tab
    tab.kind_box.setCurrentIndex(tab.kind_box.findData("timeline"))
    tab.generate_box.setChecked(True)
    tl = _make(qtbot, tab, "timeline")
    assert engine.calls and tl.generated
    table = tab.table_view.table
    texts = [table.item(i, 1).text() for i in range(table.rowCount())]
    bad = [t for t in texts if "Normans" in t]
    assert bad and bad[0].startswith("\u26a0") and sum(t.startswith("\u26a0") for t in texts) == 1
    assert "1 flagged" in tab.stats.text() and "scripted-model.gguf" in tab.stats.text()
    assert "Written by the model" in tab.label.text()
    tab.generate_box.setChecked(False)
    _make(qtbot, tab, "timeline")
    assert "nothing generated" in tab.label.text()
