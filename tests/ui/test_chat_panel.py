"""The chat side panel: on the real stack, ask streams and finishes, citations open the source viewer;
with a scripted engine, an answer is saved as a note (with its citations) and copied as Markdown."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.context import AppContext
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings

pytestmark = [pytest.mark.gui]


@pytest.fixture
def ctx(app_home: Path, installed_model: Path) -> AppContext:
    from notebooklm_local.extensions.sample import ensure_sample_notebook
    from notebooklm_local.workspace import open_library

    paths = app_paths().ensure()
    settings = Settings()
    settings.model.n_ctx = 2048
    settings.chat.answer_tokens = 40
    settings.chat.mode = "generate"  # these tests are about generated answers (the demo model would quote)
    lib = open_library(paths, settings)
    ensure_sample_notebook(lib)
    lib.library.close()
    return AppContext(paths, settings)


@pytest.mark.model
@pytest.mark.slow
def test_ask_in_the_panel_streams_finishes_and_citation_opens_viewer(qtbot: Any, ctx: AppContext) -> None:
    from notebooklm_local.ui.main_window import MainWindow
    from notebooklm_local.ui.source_viewer import SourceViewer
    from tests.ui.helpers import click_link, link_hrefs

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    panel = win.chat_pane
    qtbot.waitUntil(lambda: panel.notebook_id is not None, timeout=20000)
    panel.input.setPlainText("What does Q4_K_M quantization trade off?")
    with qtbot.waitSignal(panel.answer_finished, timeout=240000) as blocker:
        panel.send()
        assert panel.busy and panel.stop_button.isEnabled() and not panel.send_button.isEnabled()
    result = blocker.args[0]
    assert result.generation is not None and result.generation.completion_tokens > 0
    qtbot.waitUntil(lambda: panel.send_button.isEnabled(), timeout=5000)
    html_text = panel.transcript.toHtml()
    assert "What does Q4_K_M quantization trade off?" in panel.transcript.toPlainText()
    for c in result.answer.citations:
        assert f"cite:1:{c.passage_id}" in html_text
    flagged = [s for s in result.answer.sentences if not s.supported]
    if flagged:
        assert "\u26a0" in panel.transcript.toPlainText()
    # streamed tokens were painted in batches, not one repaint per token
    assert panel.repaints <= max(1, result.generation.completion_tokens)
    # the tiny model seldom cites (the loop above may check nothing): the same question in Quotes mode cites
    # for sure; each of its chips is in the transcript, and clicking one (a real mouse click on the link)
    # opens the source at the passage, highlighted
    panel.set_mode("quotes")
    panel.input.setPlainText("What does Q4_K_M quantization trade off?")
    with qtbot.waitSignal(panel.answer_finished, timeout=60000) as quoted:
        panel.send()
    cited = quoted.args[0].answer.citations
    assert quoted.args[0].mode == "quotes" and cited
    qtbot.waitUntil(lambda: panel.send_button.isEnabled(), timeout=5000)
    hrefs = link_hrefs(panel.transcript)
    assert all(f"cite:2:{c.passage_id}" in hrefs for c in cited)
    cit = cited[0]
    text, _ = win.library.source_text(cit.source_id)
    click_link(qtbot, panel.transcript, f"cite:2:{cit.passage_id}")
    qtbot.waitUntil(lambda: isinstance(getattr(win, "source_viewer", None), SourceViewer), timeout=10000)
    viewer = win.source_viewer
    assert viewer.isVisible()
    assert " ".join(viewer.highlighted.split()) == " ".join(text[cit.start:cit.end].split())
    viewer.close()
    win.close()


@pytest.mark.model
@pytest.mark.slow
def test_stop_in_the_panel_cancels_the_answer(qtbot: Any, ctx: AppContext) -> None:
    from notebooklm_local.ui.main_window import MainWindow

    ctx.settings.chat.structured = "off"  # free text streams from the first token
    ctx.settings.chat.answer_tokens = 200

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    panel = win.chat_pane
    qtbot.waitUntil(lambda: panel.notebook_id is not None, timeout=20000)
    panel.input.setPlainText("Explain local-first software in detail.")
    panel.send()
    qtbot.waitUntil(lambda: bool(panel._streamed or panel._pending), timeout=240000)  # tokens are arriving
    panel.stop()
    qtbot.waitUntil(lambda: panel.send_button.isEnabled(), timeout=10000)
    assert panel.last_result is not None and panel.last_result.cancelled
    win.close()


# -- Save to note and Copy (scripted engine over a lexical-only library) --------------------------

ANSWER = {"answerable": True, "sentences": [
    {"text": "Q4_K_M uses about 4.8 bits per weight.", "citations": [1],
     "quote": "The Q4_K_M format in llama.cpp uses about 4.8 bits per weight."}]}


def test_save_answer_to_note_and_copy_as_markdown(qtbot: Any, tmp_path: Path) -> None:
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QGuiApplication

    from notebooklm_local.core.notes import NoteStore
    from notebooklm_local.services.chat import ChatService
    from notebooklm_local.ui.chat_panel import ChatPanel
    from notebooklm_local.ui.workers import Lanes
    from notebooklm_local.workspace import template_store
    from tests.helpers.studio_world import make_world
    from tests.ui.helpers import click_link, link_hrefs

    world = make_world(tmp_path / "docs")
    chat = ChatService(world.lib, world.engine, template_store(app_paths()), world.settings.chat)
    lanes = Lanes()
    panel = ChatPanel(lanes, lambda: chat)
    panel.set_mode("generate")  # a scripted answer (the scripted engine looks like a base model)
    qtbot.addWidget(panel)
    panel.resize(600, 700)
    panel.show()
    panel.set_notebook(world.notebook_id, [world.source_id])
    try:
        world.engine.outputs = [ANSWER]
        panel.input.setPlainText("How many bits does Q4_K_M use?")
        with qtbot.waitSignal(panel.answer_finished, timeout=20000) as done:
            panel.send()
        result = done.args[0]
        qtbot.waitUntil(lambda: panel.send_button.isEnabled(), timeout=5000)
        # the panel said what was happening, stage by stage (never a silent "Thinking…")
        stages = panel.stages
        assert "Searching your sources…" in stages and "Writing the answer…" in stages
        assert any(s.startswith("Reading 1 passage") and "tokens" in s for s in stages), stages
        assert {"note:1", "copy:1", "cite:1:1"} <= set(link_hrefs(panel.transcript))
        assert "Save to note" in panel.transcript.toPlainText()
        # hovering a chip shows its quote (Qt hands the handler a QUrl, as in the real app)
        from PySide6.QtWidgets import QToolTip

        panel.transcript.highlighted.emit(QUrl("cite:1:1"))
        qtbot.waitUntil(lambda: "4.8 bits per weight" in QToolTip.text(), timeout=3000)
        panel.transcript.highlighted.emit(QUrl(""))

        with qtbot.waitSignal(panel.note_saved, timeout=10000) as saved:
            click_link(qtbot, panel.transcript, "note:1")
        note = NoteStore(world.library).get(saved.args[0])
        assert note.notebook_id == world.notebook_id and note.body == result.answer.text
        assert note.origin_kind == "chat" and note.origin_id == result.session_id
        assert note.title == "How many bits does Q4_K_M use?"  # the question, not the answer's first words
        assert note.citations == [c.to_json() for c in result.answer.citations]
        assert note.citations[0]["quote"] == "The Q4_K_M format in llama.cpp uses about 4.8 bits per weight."
        assert "Saved as the note" in panel.status.text()

        panel._on_anchor_clicked(QUrl("copy:1"))
        copied = QGuiApplication.clipboard().text()
        assert copied.startswith("Q4_K_M uses about 4.8 bits per weight. [^1]")
        assert "[^1]: Quantization" in copied and "\u201cThe Q4\\_K\\_M format in llama.cpp" in copied
        assert "---" not in copied and "# Answer" not in copied
        assert panel.status.text() == "Answer copied as Markdown."

        # a new chat forgets the old answers: their links do nothing
        panel.new_session()
        assert not panel.save_to_note(1) and panel.copy_answer(1) == ""
    finally:
        lanes.shutdown(5000)


# -- Stop: the cut-off answer is shown and stored as stopped, and shown so again ----------------------------------

STOPPED_ANSWER = ("The Q4_K_M format in llama.cpp uses about 4.8 bits per weight [1]. "
                  "Quantization stores model weights in fewer bits and so the files are much smaller on disk and "
                  "load faster than the original ones [1].")


def test_stop_shows_and_stores_the_answer_as_stopped_without_contradicting_flags(qtbot: Any, tmp_path: Path) -> None:
    from notebooklm_local.core.chat_store import ChatStore
    from notebooklm_local.services.chat import STOPPED_NOTE, ChatService
    from notebooklm_local.ui.chat_panel import ChatPanel
    from notebooklm_local.ui.workers import Lanes
    from notebooklm_local.workspace import template_store
    from tests.helpers.studio_world import make_world
    from tests.ui.helpers import link_hrefs

    world = make_world(tmp_path / "docs", delay=0.03)
    world.settings.chat.structured = "off"
    chat = ChatService(world.lib, world.engine, template_store(app_paths()), world.settings.chat)
    lanes = Lanes()
    panel = ChatPanel(lanes, lambda: chat, library_getter=lambda: world.library)
    panel.set_mode("generate")
    qtbot.addWidget(panel)
    panel.show()
    panel.set_notebook(world.notebook_id, [world.source_id])
    try:
        world.engine.outputs = [STOPPED_ANSWER]
        panel.input.setPlainText("How many bits does Q4_K_M use?")
        panel.send()
        qtbot.waitUntil(lambda: "files are" in panel._streamed, timeout=20000)  # into the second sentence
        with qtbot.waitSignal(panel.answer_finished, timeout=10000) as done:
            panel.stop_button.click()
        result = done.args[0]
        qtbot.waitUntil(lambda: panel.send_button.isEnabled(), timeout=5000)
        assert result.cancelled and result.cut_off.startswith("Quantization stores model weights")

        def check(text: str, hrefs: list[str]) -> None:
            assert text.count(STOPPED_NOTE) == 1
            assert "The Q4_K_M format in llama.cpp uses about 4.8 bits per weight." in text
            assert "Quantization stores model weights in fewer bits and so the files" in text  # the cut one, shown
            assert "\u26a0" not in text and "not supported" not in text  # no flag on half a sentence
            assert "don't contain an answer" not in text and "returned no answer" not in text
            assert "cite:1:1" in hrefs

        text = panel.transcript.toPlainText()
        check(text, link_hrefs(panel.transcript))
        assert "stopped" in panel.status.text()
        assert "copy:1" in link_hrefs(panel.transcript) and "note:1" not in link_hrefs(panel.transcript)
        assert not panel.save_to_note(1)  # like `ask --save-note`: a stopped answer is not made a note
        # stored once, as stopped
        messages = ChatStore(world.library).messages(result.session_id)
        assert [m.role for m in messages] == ["user", "assistant"] and messages[1].payload["cancelled"] is True
        # reloading the chat shows it as stopped again
        again = ChatPanel(lanes, lambda: chat, library_getter=lambda: world.library)
        qtbot.addWidget(again)
        again.set_notebook(world.notebook_id, [world.source_id])
        qtbot.waitUntil(lambda: again.session_id == result.session_id, timeout=5000)
        check(again.transcript.toPlainText(), link_hrefs(again.transcript))
    finally:
        lanes.shutdown(5000)


# -- history per notebook (scripted engine, real library and chat store) -------------------------


def test_a_notebooks_last_chat_is_shown_again_and_earlier_ones_are_in_history(qtbot: Any, tmp_path: Path) -> None:
    from notebooklm_local.core.chat_store import ChatStore
    from notebooklm_local.core.library import Library
    from notebooklm_local.ui.chat_panel import ChatPanel
    from notebooklm_local.ui.workers import Lanes

    lib = Library(tmp_path / "library.db")
    nb = lib.create_notebook("Ferries")
    other = lib.create_notebook("Empty")
    store = ChatStore(lib)
    old = store.create_session(nb.id, "Timetable")
    store.add_message(old.id, "user", "When does the ferry leave?")
    store.add_message(old.id, "assistant", "At seven.", {"text": "At seven.", "sentences": [], "citations": []})
    time.sleep(0.01)
    new = store.create_session(nb.id, "Prices")
    store.add_message(new.id, "user", "What does a ticket cost?")
    store.add_message(new.id, "assistant", "Twelve euros.", {})
    panel = ChatPanel(Lanes(), lambda: None, library_getter=lambda: lib)
    qtbot.addWidget(panel)
    panel.set_notebook(nb.id, [])
    qtbot.waitUntil(lambda: panel.session_id == new.id, timeout=5000)
    text = panel.transcript.toPlainText()
    assert "What does a ticket cost?" in text and "Twelve euros." in text and "ferry" not in text
    assert [s.id for s in panel.sessions] == [new.id, old.id]
    panel.history_menu.aboutToShow.emit()
    actions = [a for a in panel.history_menu.actions() if a.data()]
    assert [a.data() for a in actions] == [new.id, old.id] and actions[0].isChecked()
    panel.history_menu.triggered.emit(actions[1])
    qtbot.waitUntil(lambda: panel.session_id == old.id, timeout=5000)
    assert "When does the ferry leave?" in panel.transcript.toPlainText()
    panel.set_notebook(other.id, [])  # a notebook without chats: an empty panel, a fresh session
    qtbot.waitUntil(lambda: panel.sessions == [], timeout=5000)  # its (empty) history was loaded
    assert panel.session_id is None and "ferry" not in panel.transcript.toPlainText()
    panel.history_menu.aboutToShow.emit()
    assert not [a for a in panel.history_menu.actions() if a.isEnabled()]
    lib.close()


def test_an_empty_answer_is_a_notice_not_a_flagged_sentence() -> None:
    """When the model writes nothing, the chat shows the app's notice: no ⚠ sentence, no "1 sentence is not
    supported" line (there was no claim), and no Save to note."""
    from notebooklm_local.core.citations import NO_ANSWER_TEXT, build_answer, is_no_answer
    from notebooklm_local.ui.chat_panel import citation_html

    empty = build_answer("   ", [])
    assert is_no_answer(empty)
    html_ = citation_html(empty)
    assert NO_ANSWER_TEXT in html_ and "\u26a0" not in html_ and "not supported" not in html_
    real = build_answer("The barge carried coal.", [])
    assert not is_no_answer(real)
