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
    from notebooklm_local.extensions.runtime import open_library
    from notebooklm_local.extensions.sample import ensure_sample_notebook

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
    cv.reveal()
    assert deck.cards[0].back in cv.view.toPlainText()
    cv.next_button.click()
    assert cv.i == (1 if len(deck.cards) > 1 else 0)
    _check_citations(win, deck.citations)

    quiz = _make(qtbot, tab, "quiz", 5)
    qv = tab.quiz_view
    assert quiz.questions and tab.stack.currentWidget() is qv
    q0 = quiz.questions[0]
    assert qv.stem.text() == q0.stem and [rb.text() for rb in qv.options] == q0.options
    qv.options[q0.correct].setChecked(True)
    qv.check()
    assert qv.right == 1 and "Right" in qv.feedback.toPlainText() and "Score: 1 / 1" in qv.score.text()
    if len(quiz.questions) > 1:
        qv.next_button.click()
        q1 = quiz.questions[1]
        qv.options[(q1.correct + 1) % len(q1.options)].setChecked(True)
        qv.check()
        assert "Not quite" in qv.feedback.toPlainText() and q1.answer in qv.feedback.toPlainText()
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
