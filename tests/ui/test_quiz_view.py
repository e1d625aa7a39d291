"""Quiz mode (ui/quiz_view.py) and the Extract tab's *Write with the model* for the mind map, flashcards and
quiz with a scripted engine: answer by clicking, reveal (correct / incorrect, explanation, citation chip that
opens the passage), the score at the end, restart; the generated quiz and map shown in the same views; no
sources selected gives a clear message and calls no model; Stop cancels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.documents import SourceRef

pytestmark = [pytest.mark.gui]


def _quiz(n: int = 3) -> Any:
    from notebooklm_local.core.cards import Card, QuizQuestion
    from notebooklm_local.core.citations import Citation
    from notebooklm_local.core.extractive import Extract

    qs = []
    for i in range(n):
        sent = f"Fact number {i} says the answer is option{i}."
        c = Citation(i + 1, 1, "src", "Source", None, None, 0, len(sent), sent, "")
        card = Card(f"id{i}", Extract(sent, c, (0, len(sent))), f"option{i}", (0, 0), "written",
                    question=f"Which option is fact {i}?", explanation=f"Fact {i} names option{i}.", difficulty="easy")
        qs.append(QuizQuestion(card, [f"option{i}", "wrong a", "wrong b", "wrong c"], 0))
    return qs


def test_quiz_mode_answer_reveal_score_restart(qtbot: Any) -> None:
    from notebooklm_local.ui.quiz_view import QuizView

    view = QuizView()
    qtbot.addWidget(view)
    view.show()
    qs = _quiz(3)
    view.set_questions(qs)
    assert view.counter.text().startswith("Question 1 of 3") and "easy" in view.counter.text()
    assert view.stem.text() == qs[0].stem and not view.next_button.isEnabled()
    assert "Click an option" in view.feedback.toPlainText()
    from PySide6.QtCore import Qt

    qtbot.mouseClick(view.options[0], Qt.MouseButton.LeftButton)
    text = view.feedback.toPlainText()
    assert "Correct" in text and "Fact 0 names option0." in text and view.score.text() == "Score: 1 / 1 answered of 3"
    assert view.options[0].text().startswith("\u2714")
    assert list(view.feedback.citations.values())[0] is qs[0].citation  # the chip opens the cited passage
    with qtbot.waitSignal(view.citation_activated, timeout=2000) as sig:
        view.feedback.citation_activated.emit(qs[0].citation)
    assert sig.args[0] is qs[0].citation
    view.options[1].click()  # answered: a second click changes nothing
    assert view.answers == {0: 0}
    view.next_button.click()
    view.options[2].click()  # wrong
    text = view.feedback.toPlainText()
    assert "Incorrect" in text and "option1" in text and view.options[2].text().startswith("\u2718")
    assert view.options[0].text().startswith("\u2714")  # the right one is shown
    view.next_button.click()
    view.answer(0)
    assert view.next_button.text() == "See the score"
    with qtbot.waitSignal(view.finished, timeout=2000) as fin:
        view.next_button.click()
    assert fin.args == [2, 3] and view.done
    assert "You got 2 of 3 right (67 %)" in view.stem.text() and not any(b.isVisible() for b in view.options)
    assert view.feedback.toPlainText().count("\u2714") == 2 and "\u2718" in view.feedback.toPlainText()
    view.restart_button.click()
    assert view.answers == {} and view.i == 0 and not view.done and view.options[0].isVisible()
    assert view.options[0].isEnabled() and view.score.text() == ""
    view.set_questions([])
    assert "No question" in view.stem.text() and not view.next_button.isEnabled()


@pytest.fixture
def pane_with(qtbot: Any, tmp_path: Path) -> Any:
    from notebooklm_local.core.templates import TemplateStore
    from notebooklm_local.services.studio.service import StudioService
    from notebooklm_local.ui.studio.pane import StudioPane
    from notebooklm_local.ui.workers import Lanes
    from notebooklm_local.workspace import resources_dir
    from tests.services.test_library import make_service
    from tests.services.test_written_studio import QUANT, TEA

    def make(engine: Any) -> Any:
        lib = make_service(None)
        lib.create_notebook("Tea")
        assert not lib.add("Tea", [SourceRef(text=TEA, title="Tea"), SourceRef(text=QUANT, title="Quant")]).failed
        nb = lib.library.notebook("Tea")
        studio = StudioService(lib, engine, TemplateStore(resources_dir() / "templates", tmp_path / "tpl"))
        pane = StudioPane(Lanes(), lambda: studio, library_getter=lambda: lib.library, library_service=lambda: lib)
        qtbot.addWidget(pane)
        pane.show()
        pane.set_notebook(nb.id, None)
        return pane, lib

    return make


def _make(qtbot: Any, tab: Any, kind: str, count: int | None = None) -> None:
    tab.kind_box.setCurrentIndex(tab.kind_box.findData(kind))
    tab.generate_box.setChecked(True)
    if count is not None:
        tab.count_box.setValue(count)
    tab.make()
    qtbot.waitUntil(lambda: not tab.pane.tab_busy(tab), timeout=60000)


def test_written_quiz_and_map_in_the_extract_tab(qtbot: Any, pane_with: Any, tmp_path: Path) -> None:
    from tests.helpers.scripted_engine import ScriptedEngine
    from tests.services.test_written_studio import good_cards, good_map

    engine = ScriptedEngine(fallback=lambda m, s: good_map(m, s) if "concepts" in s["properties"] else good_cards(m, s))
    pane, lib = pane_with(engine)
    tab = pane.extract_tab
    tab.kind_box.setCurrentIndex(tab.kind_box.findData("quiz"))
    assert tab.generate_box.isVisible() and not tab.difficulty_box.isVisible()
    tab.generate_box.setChecked(True)
    assert tab.difficulty_box.isVisible()
    tab.difficulty_box.setCurrentIndex(tab.difficulty_box.findData("hard"))
    _make(qtbot, tab, "quiz", 3)
    quiz = tab.result
    assert quiz is not None and quiz.generated and tab.stack.currentWidget() is tab.quiz_view, tab.bar.notice.text()
    assert "hard difficulty" in engine.calls[0].prompt
    assert "Written by the model" in tab.label.text() and "every answer checked" in tab.stats.text()
    qv = tab.quiz_view
    q0 = quiz.questions[0]
    qv.options[q0.correct].click()
    assert "Correct" in qv.feedback.toPlainText() and q0.explanation in qv.feedback.toPlainText()
    for c in quiz.citations:  # every shown citation is a real span of its source
        text, _ = lib.library.source_text(c.source_id)
        assert text[c.start : c.end] == c.quote
    _make(qtbot, tab, "mindmap")
    mm = tab.result
    assert mm.generated and tab.stack.currentWidget() is tab.map_page and tab.map_view.node_items
    assert "every concept checked" in tab.stats.text()
    concept = next(n for n in mm.nodes if n.kind == "concept")
    with qtbot.waitSignal(tab.citation_activated, timeout=5000) as sig:
        tab.map_view.node_activated.emit(concept)
    assert sig.args[0] is concept.citation
    target = tmp_path / "map.png"  # the same exports as the outline map, PNG included
    pane._ask_save_path = lambda *_a: str(target)
    tab.export()
    from PySide6.QtGui import QImage

    img = QImage(str(target))
    assert not img.isNull() and img.width() > 200 and img.height() > 100
    for fmt in ("md", "opml"):
        out = tmp_path / f"map.{fmt}"
        pane._ask_save_path = lambda *_a, _o=out: str(_o)
        tab.export()
        qtbot.waitUntil(lambda _o=out: _o.exists() and not pane.tab_busy(tab), timeout=10000)
    assert concept.label in (tmp_path / "map.md").read_text(encoding="utf-8")
    # the model-free quiz in the same quiz mode
    tab.kind_box.setCurrentIndex(tab.kind_box.findData("quiz"))
    tab.generate_box.setChecked(False)
    assert not tab.difficulty_box.isVisible()
    tab.make()
    qtbot.waitUntil(lambda: not pane.tab_busy(tab), timeout=60000)
    assert "nothing generated" in tab.label.text()


def test_no_sources_selected_says_so_and_calls_no_model(qtbot: Any, pane_with: Any) -> None:
    from tests.helpers.scripted_engine import ScriptedEngine

    engine = ScriptedEngine()
    pane, lib = pane_with(engine)
    pane.set_notebook(pane.notebook_id, [])
    tab = pane.extract_tab
    _make(qtbot, tab, "flashcards", 3)
    assert tab.result is None and not engine.calls
    assert "No sources are selected" in tab.bar.notice.text()


def test_stop_cancels_a_written_quiz(qtbot: Any, pane_with: Any) -> None:
    from tests.helpers.scripted_engine import ScriptedEngine
    from tests.services.test_written_studio import good_cards

    engine = ScriptedEngine(fallback=good_cards, cancel_after_calls=1)
    pane, _lib = pane_with(engine)
    tab = pane.extract_tab
    _make(qtbot, tab, "quiz", 3)
    assert tab.result is None and len(engine.calls) == 1
