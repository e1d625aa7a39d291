"""The studio pane over a scripted engine: summary with citations, chain of density step by step,
podcast script (edit, export, note) and audio with a fake voice engine, cancel, failures, history;
and once through the real tiny model."""

from __future__ import annotations

import wave
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QPlainTextEdit

from notebooklm_local.core.llm import Generation, Report
from notebooklm_local.core.notes import NoteStore
from tests.helpers.studio_world import COD_STEPS, PODCAST, SUMMARY, FakeTTS, World, make_world
from tests.ui.helpers import click_link, link_hrefs

pytestmark = [pytest.mark.gui]

WAIT = 20000


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path / "docs", tts=[FakeTTS(), FakeTTS("broken-tts", reason="not installed (test)")])


@pytest.fixture
def pane(qtbot: Any, world: World) -> Iterator[Any]:
    from notebooklm_local.ui.studio.pane import StudioPane
    from notebooklm_local.ui.workers import Lanes

    lanes = Lanes()
    calls: list[int] = []

    def factory() -> Any:
        calls.append(1)
        return world.studio

    p = StudioPane(lanes, factory, settings=world.settings, tts_engines=lambda: world.tts,
                   library_getter=lambda: world.library)
    p.factory_calls = calls
    qtbot.addWidget(p)
    p.resize(900, 900)
    p.show()
    p.set_notebook(world.notebook_id, [world.source_id])
    p.tabs.setCurrentWidget(p.summary_tab)  # these tests drive the model-made outputs (Extract is the first tab)
    yield p
    p.stop()
    lanes.shutdown(5000)


def wait_idle(qtbot: Any, pane: Any, timeout: int = WAIT) -> None:
    qtbot.waitUntil(lambda: not pane.busy, timeout=timeout)


# -- summary ------------------------------------------------------------------------------------


def test_summary_streams_then_shows_clickable_citations_and_saves_a_note(qtbot: Any, pane: Any,
                                                                         world: World) -> None:
    tab = pane.summary_tab
    world.engine.outputs = [SUMMARY]
    world.engine.delay = 0.01  # slow enough for the 50 ms painter to show the text arriving
    with qtbot.waitSignal(pane.output_stored, timeout=WAIT):
        tab.generate_button.click()
        assert pane.busy and not tab.generate_button.isEnabled() and tab.bar.cancel_button.isEnabled()
    wait_idle(qtbot, pane)
    assert pane.factory_calls == [1]
    # streamed text was painted in batches, not once per token
    pieces = -(-len(__import__("json").dumps(SUMMARY)) // 7)
    assert 1 <= tab.renders < pieces
    text = tab.view.toPlainText()
    assert "Quantization stores model weights in fewer bits." in text
    assert "\u26a0 Bananas are yellow fruit" in text and "not supported" in text  # the flagged sentence
    assert "1 model call(s)" in tab.stats.text()
    assert tab.generate_button.isEnabled() and tab.save_button.isEnabled() and not tab.bar.row.isVisible()

    # hover and click a citation chip: the signal carries the source and the span of the quote
    hrefs = [h for h in link_hrefs(tab.view) if h.startswith("cite:")]
    assert hrefs
    with qtbot.waitSignal(pane.citation_activated, timeout=5000) as blocker:
        click_link(qtbot, tab.view, hrefs[0])
    c = blocker.args[0]
    src = world.source_text()
    assert c.source_id == world.source_id and c.source_title == "Quantization"
    assert src[c.start:c.end] == c.quote and "fewer bits" in c.quote
    for attr in ("page", "t_start", "location", "url"):
        assert hasattr(c, attr)

    with qtbot.waitSignal(pane.note_saved, timeout=WAIT) as saved:
        tab.save_button.click()
    note = NoteStore(world.library).get(saved.args[0])
    assert note.origin_kind == "summary" and note.citations and "[1]" in note.body
    assert "Saved as the note" in tab.bar.text


def test_a_failed_summary_shows_the_message_and_the_pane_stays_usable(qtbot: Any, pane: Any, world: World) -> None:
    tab = pane.summary_tab
    world.engine.outputs = [{"sentences": []}]
    tab.generate_button.click()
    wait_idle(qtbot, pane)
    assert tab.bar.kind == "error"
    assert "no usable summary" in tab.bar.text and "larger model" in tab.bar.text
    assert tab.generate_button.isEnabled() and not tab.bar.row.isVisible() and not tab.save_button.isEnabled()
    # what the model wrote can be looked at, marked rejected, never shown as the result
    assert tab.bar.attempts_button.isVisible() and tab.bar.attempts
    tab.bar.attempts_button.click()
    dialog = tab.bar.attempts_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=3000)
    text = dialog.findChild(QPlainTextEdit, "studio-attempts-text").toPlainText()
    assert "Attempt 1, rejected: the output has no sentences" in text and '"sentences": []' in text
    dialog.close()
    assert tab.output is None
    # and again, successfully
    world.engine.outputs = [SUMMARY]
    tab.generate_button.click()
    wait_idle(qtbot, pane)
    assert tab.bar.text == "" and "fewer bits" in tab.view.toPlainText() and not tab.bar.attempts_button.isVisible()


def test_no_sources_and_no_notebook_are_explained(qtbot: Any, pane: Any) -> None:
    tab = pane.summary_tab
    pane.set_sources([])
    tab.generate_button.click()
    wait_idle(qtbot, pane)
    assert "No sources are selected" in tab.bar.text
    pane.set_notebook(None, None)
    tab.generate_button.click()
    assert tab.bar.text.startswith("No notebook is open") and not pane.busy


def test_unexpected_errors_go_through_the_error_dialog(qtbot: Any, world: World) -> None:
    from notebooklm_local.ui.studio.pane import StudioPane
    from notebooklm_local.ui.workers import Lanes

    lanes = Lanes()
    attempts: list[int] = []

    def factory() -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("the model file vanished")
        return world.studio

    p = StudioPane(lanes, factory, settings=world.settings, tts_engines=lambda: world.tts)
    qtbot.addWidget(p)
    p.set_notebook(world.notebook_id, [world.source_id])
    try:
        p.summary_tab.generate_button.click()
        wait_idle(qtbot, p)
        assert p.summary_tab.bar.text == "Unexpected error: RuntimeError: the model file vanished"
        dialogs = [w for w in QApplication.topLevelWidgets() if w.objectName() == "error-dialog" and w.isVisible()]
        assert dialogs and "the model file vanished" in dialogs[0].details + dialogs[0].message
        for d in dialogs:
            d.close()
        world.engine.outputs = [SUMMARY]
        p.summary_tab.generate_button.click()  # the factory is tried again, and works
        wait_idle(qtbot, p)
        assert "fewer bits" in p.summary_tab.view.toPlainText() and len(attempts) == 2
    finally:
        lanes.shutdown(5000)


def test_cancel_stops_the_job(qtbot: Any, pane: Any, world: World) -> None:
    tab = pane.summary_tab
    world.engine.outputs = [SUMMARY]
    world.engine.delay = 0.05
    tab.generate_button.click()
    qtbot.waitUntil(lambda: tab.renders > 0, timeout=WAIT)  # tokens are arriving
    tab.bar.cancel_button.click()
    wait_idle(qtbot, pane)
    assert tab.bar.text == "Cancelled." and tab.bar.kind == "info"
    assert tab.generate_button.isEnabled() and tab.output is None
    assert world.studio.store.list(world.notebook_id) == []


# -- chain of density ----------------------------------------------------------------------------


def test_chain_of_density_steps_arrive_one_by_one_and_the_slider_shows_each(qtbot: Any, pane: Any,
                                                                           world: World) -> None:
    tab = pane.cod_tab
    pane.tabs.setCurrentWidget(tab)
    tab.steps_box.setValue(5)
    tab.words_box.setValue(40)
    world.engine.outputs = list(COD_STEPS)
    world.engine.delay = 0.005
    seen: list[tuple[int, bool]] = []
    tab.generate_button.click()
    for n in range(1, 6):
        qtbot.waitUntil(lambda n=n: len(tab.steps) >= n, timeout=WAIT)
        seen.append((len(tab.steps), pane.busy))
        assert tab.step_label.text() == f"Step {len(tab.steps)} of {len(tab.steps)}"
    wait_idle(qtbot, pane)
    assert [s for s, _ in seen] == [1, 2, 3, 4, 5]
    assert seen[0][1] and seen[1][1], "the first steps were shown while the chain was still running"
    assert tab.slider.maximum() == 5 and tab.slider.isEnabled() and tab.output is not None
    densities = [s.density for s in tab.steps]
    assert densities == sorted(densities)
    for k in range(1, 6):
        tab.slider.setValue(k)
        step = tab.steps[k - 1]
        text = tab.view.toPlainText()
        assert tab.step_label.text() == f"Step {k} of 5"
        assert f"density {step.density:.3f}" in text
        assert "Added: " + ", ".join(step.missing_entities) in text
        assert tab.chart.selected == k and tab.chart.densities == densities
    tab.slider.setValue(3)
    assert "Added: llama.cpp, 4.8 bits" in tab.view.toPlainText()
    assert "cite:" in " ".join(link_hrefs(tab.view))  # the step's sentences cite the passages they come from
    # a click on the chart's first bar chooses step 1
    bar = tab.chart._bars()[0]
    qtbot.mouseClick(tab.chart, __import__("PySide6.QtCore", fromlist=["Qt"]).Qt.MouseButton.LeftButton,
                     pos=bar.center().toPoint())
    assert tab.slider.value() == 1
    tab.slider.setValue(4)
    with qtbot.waitSignal(pane.note_saved, timeout=WAIT) as saved:
        tab.save_button.click()
    note = NoteStore(world.library).get(saved.args[0])
    assert note.title.endswith("step 4") and note.origin_kind == "cod"


def test_a_chain_that_fails_after_some_steps_keeps_them_visible(qtbot: Any, pane: Any, world: World) -> None:
    tab = pane.cod_tab
    tab.steps_box.setValue(5)
    tab.words_box.setValue(40)
    world.engine.outputs = [*COD_STEPS[:3], COD_STEPS[2]]  # step 4 repeats step 3
    tab.generate_button.click()
    wait_idle(qtbot, pane)
    assert len(tab.steps) == 3 and tab.slider.maximum() == 3
    assert tab.bar.kind == "error" and "Stopped after step 3" in tab.bar.text
    assert "repeats the previous step" in tab.bar.text
    tab.slider.setValue(2)
    assert "Step 2 of 3" in tab.view.toPlainText()
    assert tab.generate_button.isEnabled() and tab.save_button.isEnabled()
    stored = world.studio.store.get(tab.output.id)
    assert len(stored.payload["steps"]) == 3


def test_cancelling_a_chain_keeps_the_steps_made(qtbot: Any, pane: Any, world: World) -> None:
    tab = pane.cod_tab
    tab.steps_box.setValue(5)
    tab.words_box.setValue(40)
    world.engine.outputs = list(COD_STEPS)
    world.engine.delay = 0.02
    tab.generate_button.click()
    qtbot.waitUntil(lambda: len(tab.steps) >= 1, timeout=WAIT)
    tab.bar.cancel_button.click()
    wait_idle(qtbot, pane)
    assert 1 <= len(tab.steps) < 5
    assert tab.bar.text.startswith("Cancelled.") and "shown below (not stored)" in tab.bar.text
    assert not tab.save_button.isEnabled() and tab.generate_button.isEnabled()


# -- podcast --------------------------------------------------------------------------------------


def make_script(qtbot: Any, pane: Any, world: World) -> Any:
    tab = pane.podcast_tab
    pane.tabs.setCurrentWidget(tab)
    world.engine.outputs = list(PODCAST)
    tab.generate_button.click()
    wait_idle(qtbot, pane)
    assert tab.script is not None, tab.bar.text
    return tab


def test_podcast_script_is_shown_edited_saved_exported_and_noted(qtbot: Any, pane: Any, world: World,
                                                                   tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tab = make_script(qtbot, pane, world)
    text = tab.view.toPlainText()
    assert "Small models, fewer bits" in text and "1. What quantization does" in text
    assert "Sam: Quantization stores model weights in fewer bits." in text
    assert "\u26a0 That sounds compact." in text  # an uncited statement is marked
    assert "\u26a0 No, and bananas grow on the moon every Tuesday." in text  # so is an unsupported one
    assert "2 of 12 lines are not supported" in text
    assert any(h.startswith("cite:") for h in link_hrefs(tab.view))
    with qtbot.waitSignal(pane.citation_activated, timeout=5000) as blocker:
        click_link(qtbot, tab.view, next(h for h in link_hrefs(tab.view) if h.startswith("cite:")))
    assert blocker.args[0].source_id == world.source_id

    # edit: drop the moon claim, cite the quiet line; save -> stored, checked again
    tab.edit_button.click()
    assert tab.editor.isVisible() and not tab.view.isVisible() and tab.save_script_button.isVisible()
    md = tab.editor.toPlainText()
    assert "**Sam:** Quantization stores model weights in fewer bits. [1]" in md
    md = md.replace("No, and bananas grow on the moon every Tuesday.", "No: it runs on a laptop CPU with 2 cores.")
    md = md.replace("**Alex:** That sounds compact.", "**Alex:** So the GGUF file format keeps the tokenizer too? [1]")
    tab.editor.setPlainText(md)
    tab.save_script_button.click()
    wait_idle(qtbot, pane)
    assert "Script saved" in tab.bar.text, tab.bar.text
    assert tab.view.isVisible() and not tab.editor.isVisible()
    assert "moon" not in tab.view.toPlainText() and "\u26a0" not in tab.view.toPlainText()
    stored = world.studio.store.get(tab.output.id)
    assert stored.payload.get("edited") and "moon" not in stored.payload["text"]
    lines = {ln.text: ln for ln in tab.script.lines}
    assert lines["No: it runs on a laptop CPU with 2 cores. [1]"].supported
    assert "all supported" in tab.bar.text

    # an edit without dialogue is refused, the text stays in the editor
    tab.edit_button.click()
    tab.editor.setPlainText("# Nothing here\n\njust prose")
    tab.save_script_button.click()
    wait_idle(qtbot, pane)
    assert tab.bar.kind == "error" and "No dialogue found" in tab.bar.text
    assert tab.editor.isVisible() and tab.editor.toPlainText().startswith("# Nothing here")
    tab.discard_button.click()
    assert tab.view.isVisible()

    target = tmp_path / "out" / "episode"
    target.parent.mkdir()
    monkeypatch.setattr(pane, "_ask_save_path", lambda *_a: str(target))
    tab.script.lines[0].text += ' <img src="https://t.example/p.gif"> ![i](https://t.example/i.png)'  # model HTML
    tab.export_button.click()
    wait_idle(qtbot, pane)
    written = target.with_name("episode.md")
    assert written.is_file() and "## Sources" in written.read_text() and "exported to" in tab.bar.text
    exported = written.read_text()
    assert "<img" not in exported and "&lt;img" in exported and "\\![i](https://t.example/i.png)" in exported
    from notebooklm_local.core.podcast_script import parse_markdown

    assert parse_markdown(exported).lines[0].text == tab.script.lines[0].text  # reads back as the model wrote it

    with qtbot.waitSignal(pane.note_saved, timeout=WAIT) as saved:
        tab.save_note_button.click()
    note = NoteStore(world.library).get(saved.args[0])
    assert note.origin_kind == "podcast" and "**Sam:**" in note.body and note.citations


def test_podcast_audio_with_a_fake_voice_engine(qtbot: Any, pane: Any, world: World,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import notebooklm_local.ui.studio.podcast_tab as sp

    tab = make_script(qtbot, pane, world)
    qtbot.waitUntil(lambda: tab.engine_box.count() == 2, timeout=WAIT)
    assert tab.engine_box.currentData() == "fake-tts"
    broken = tab.engine_box.model().item(1)
    assert not broken.isEnabled() and broken.toolTip() == "not installed (test)"
    assert not tab.engine_note.isVisible()  # a working engine: no standing paragraph about the broken one
    assert tab.audio_button.isEnabled()

    # no audio device here: the file is saved and the pane says where (no player, no crash)
    monkeypatch.setattr(sp, "multimedia_available", lambda: (False, "no audio output device was found"))
    tab.audio_button.click()
    wait_idle(qtbot, pane)
    assert tab.audio_path is not None and tab.audio_path.is_file(), tab.bar.text
    with wave.open(str(tab.audio_path)) as w:
        assert w.getnframes() > 0 and w.getframerate() == 16000
    assert tab.audio_path.parent == Path(world.lib.data_dir) / "podcasts"
    assert "Audio made" in tab.bar.text
    assert tab.saved_row.isVisible() and not tab.player_row.isVisible()
    assert "cannot be played here: no audio output device" in tab.audio_label.text()
    assert str(tab.audio_path) in tab.audio_label.text() and tab.open_folder_button.isVisible()
    assert world.studio.store.get(tab.output.id).payload["audio"] == str(tab.audio_path)

    # where QtMultimedia can play: the player loads the file; play/pause; the slider spans the audio
    tab.player_problem = ""
    monkeypatch.setattr(sp, "multimedia_available", lambda: (True, ""))
    tab._set_audio(tab.audio_path)
    assert tab.player is not None and tab.player_row.isVisible()
    qtbot.waitUntil(lambda: tab.position_slider.maximum() > 1000, timeout=WAIT)
    tab.play_button.click()
    qtbot.waitUntil(lambda: tab.play_button.text() == "Pause", timeout=WAIT)
    tab.play_button.click()
    qtbot.waitUntil(lambda: tab.play_button.text() == "Play", timeout=WAIT)

    # opened again from the history, the audio comes back with the script
    tab.clear()
    assert not tab.saved_row.isVisible()
    pane.open_output(world.studio.store.get(world.studio.store.list(world.notebook_id)[0].id))
    assert tab.audio_path is not None and tab.saved_row.isVisible()


def test_cancelling_audio_writes_nothing(qtbot: Any, pane: Any, world: World) -> None:
    world.tts[0].delay = 0.2
    tab = make_script(qtbot, pane, world)
    qtbot.waitUntil(lambda: tab.audio_button.isEnabled(), timeout=WAIT)
    tab.audio_button.click()
    qtbot.waitUntil(lambda: len(world.tts[0].spoken) >= 1, timeout=WAIT)
    tab.bar.cancel_button.click()
    wait_idle(qtbot, pane)
    assert tab.bar.text == "Cancelled." and tab.audio_path is None
    folder = Path(world.lib.data_dir) / "podcasts"
    assert not any(folder.glob("*")) if folder.exists() else True


def test_no_usable_voice_engine_is_explained(qtbot: Any, world: World, pane: Any) -> None:
    world.tts[:] = [FakeTTS("broken-tts", reason="not installed (test)")]
    tab = make_script(qtbot, pane, world)
    qtbot.waitUntil(lambda: tab.engine_box.count() == 1, timeout=WAIT)
    assert not tab.audio_button.isEnabled()
    assert "No voice engine can speak here: broken-tts: not installed (test)" in tab.engine_note.text()


# -- history --------------------------------------------------------------------------------------


def test_history_lists_opens_and_deletes(qtbot: Any, pane: Any, world: World,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    world.engine.outputs = [SUMMARY]
    pane.summary_tab.generate_button.click()
    wait_idle(qtbot, pane)
    make_script(qtbot, pane, world)
    hist = pane.history_tab
    pane.tabs.setCurrentWidget(hist)
    qtbot.waitUntil(lambda: hist.tree.topLevelItemCount() == 2, timeout=WAIT)
    kinds = [hist.tree.topLevelItem(i).text(0) for i in range(2)]
    assert kinds == ["Podcast", "Summary"]
    pane.summary_tab.clear()
    hist.tree.topLevelItem(1).setSelected(True)
    hist.open_button.click()
    assert pane.tabs.currentWidget() is pane.summary_tab
    assert "fewer bits" in pane.summary_tab.view.toPlainText() and pane.summary_tab.save_button.isEnabled()
    assert any(h.startswith("cite:") for h in link_hrefs(pane.summary_tab.view))

    pane.tabs.setCurrentWidget(hist)
    wait_idle(qtbot, pane)
    asked: list[str] = []
    monkeypatch.setattr(pane, "_confirm", lambda _t, text: asked.append(text) or False)
    hist.tree.clearSelection()
    hist.tree.topLevelItem(0).setSelected(True)
    hist.delete_button.click()
    assert asked and "Small models, fewer bits" in asked[0]
    assert len(world.studio.store.list(world.notebook_id)) == 2  # refused: nothing deleted
    monkeypatch.setattr(pane, "_confirm", lambda *_a: True)
    hist.delete_button.click()
    wait_idle(qtbot, pane)
    qtbot.waitUntil(lambda: hist.tree.topLevelItemCount() == 1, timeout=WAIT)
    assert [o.kind for o in world.studio.store.list(world.notebook_id)] == ["summary"]
    assert pane.podcast_tab.script is None  # the deleted output is no longer shown


def test_history_without_a_library_getter_builds_the_studio_on_the_llm_lane(qtbot: Any, world: World) -> None:
    from notebooklm_local.ui.studio.pane import StudioPane
    from notebooklm_local.ui.workers import Lanes

    lanes = Lanes()
    p = StudioPane(lanes, lambda: world.studio, tts_engines=lambda: world.tts)
    qtbot.addWidget(p)
    try:
        world.studio.store.add(world.notebook_id, "summary", "Old summary", source_ids=[], options={}, model="m",
                               template="summary", payload={"answer": {"answer": "x", "sentences": [],
                                                                       "citations": []}})
        p.set_notebook(world.notebook_id, [world.source_id])
        p.tabs.setCurrentWidget(p.history_tab)
        qtbot.waitUntil(lambda: p.history_tab.tree.topLevelItemCount() == 1, timeout=WAIT)
        assert p.studio is world.studio
    finally:
        lanes.shutdown(5000)


# -- the real tiny model --------------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.slow
def test_summary_through_the_real_model_ends_in_a_result_or_a_clear_message(qtbot: Any, tmp_path: Path,
                                                                           tiny_model_path: Path) -> None:
    from notebooklm_local.core.paths import AppPaths
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.extensions.sample import ensure_sample_notebook
    from notebooklm_local.ui.studio.pane import StudioPane
    from notebooklm_local.ui.workers import Lanes
    from notebooklm_local.workspace import open_library, open_studio

    root = tmp_path / "real"
    paths = AppPaths(root / "config", root / "data", root / "cache", root / "logs").ensure()
    settings = Settings()
    settings.model.path = str(tiny_model_path)
    settings.model.embedding_path = str(tiny_model_path)
    settings.model.n_ctx = 2048
    settings.studio.retries = 1
    lib = open_library(paths, settings)
    name, _ = ensure_sample_notebook(lib)
    nb = lib.library.notebook(name)
    text_source = next(s.id for s in lib.library.sources(nb.id) if s.kind == "text")
    made: list[Any] = []

    def factory() -> Any:
        made.append(open_studio(paths, settings, library=lib))
        return made[-1]

    lanes = Lanes()
    p = StudioPane(lanes, factory, settings=settings, library_getter=lambda: lib.library)
    qtbot.addWidget(p)
    p.show()
    p.set_notebook(nb.id, [text_source])
    tab = p.summary_tab
    tab.length_box.setCurrentIndex(tab.length_box.findData("short"))
    try:
        tab.generate_button.click()
        wait_idle(qtbot, p, timeout=540000)
        assert not tab.bar.row.isVisible() and tab.generate_button.isEnabled()
        if tab.output is not None:
            assert tab.view.toPlainText().strip() and tab.bar.kind != "error"
            assert all(h.startswith("cite:") for h in link_hrefs(tab.view) if h)
        else:
            assert tab.bar.kind == "error", tab.bar.text
            assert "no usable summary" in tab.bar.text and "larger model" in tab.bar.text
    finally:
        lanes.shutdown(10000)
        for s in made:
            s.engine.close()
        lib.library.close()


def test_answer_from_json_roundtrip() -> None:
    from notebooklm_local.core.citations import AnswerSentence, Citation, CitedAnswer
    from notebooklm_local.ui.rich_text import answer_from_json

    c = Citation(2, 7, "s", "Doc", 3, None, 10, 20, "the quote", "p. 3", None)
    a = CitedAnswer("A [2].", [AnswerSentence("A [2].", [2], True, 0.9)], [c], ["[9]"], False, ["n"])
    b = answer_from_json(a.to_json())
    assert b.citations == [c] and b.sentences[0].citations == [2] and b.removed_markers == ["[9]"]


def test_many_signal_emits_do_not_wear_out_true(qtbot: Any, pane: Any) -> None:
    """PySide6 6.12 on CPython 3.11 drops a reference to True on every emit (ui.errors guards it): a long
    stream of tokens must not crash the app."""
    import gc
    import sys

    before = sys.getrefcount(True)
    for _ in range(20000):
        pane.busy_changed.emit(False)
    gc.collect()
    assert sys.getrefcount(True) > 1000 or sys.getrefcount(True) >= before


def test_a_flagged_sentence_is_rewritten_from_its_link_and_the_provenance_card_shows(qtbot: Any, pane: Any,
                                                                                       world: World) -> None:
    tab = pane.summary_tab
    fixed = {"sentences": [{"text": "Quantization makes the weights of a model smaller.", "citations": [1]}]}
    world.engine.outputs = [SUMMARY, fixed]
    with qtbot.waitSignal(pane.output_stored, timeout=WAIT):
        tab.generate_button.click()
    wait_idle(qtbot, pane)
    regen = [h for h in link_hrefs(tab.view) if h.startswith("regen:")]
    assert len(regen) == 1 and regen[0].endswith(":2")  # only the flagged (third) sentence has one
    with qtbot.waitSignal(pane.output_stored, timeout=WAIT):
        click_link(qtbot, tab.view, regen[0])
    wait_idle(qtbot, pane)
    text = tab.view.toPlainText()
    assert "Bananas" not in text and "Quantization makes the weights of a model smaller." in text
    assert "Rewritten" in tab.bar.text and not [h for h in link_hrefs(tab.view) if h.startswith("regen:")]
    # provenance: model, templates with their hashes, the sources with their versions
    tab.provenance_button.click()
    dlg = pane.provenance_dialog
    assert dlg.isVisible()
    card = dlg.view.toPlainText()
    for part in ("Model", "Temperature", "Prompt templates", "summary", "Sources", "Checked by"):
        assert part in card
    dlg.close()


def test_the_notebooks_citation_health_opens_from_the_tools_menu(qtbot: Any, tmp_path: Path) -> None:
    from notebooklm_local.core.context import AppContext
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.extensions.sample import ensure_sample_notebook
    from notebooklm_local.ui.main_window import MainWindow
    from notebooklm_local.workspace import open_library

    paths = app_paths().ensure()
    lib = open_library(paths, Settings())
    ensure_sample_notebook(lib)
    lib.library.close()
    win = MainWindow(AppContext(paths, Settings()))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.current_notebook_id() is not None, timeout=20000)
    win.chat_pane.input.setPlainText("How much memory does a 7B model need at 4 bits?")
    with qtbot.waitSignal(win.chat_pane.answer_finished, timeout=60000):
        win.chat_pane.send()
    win.health_action.trigger()
    qtbot.waitUntil(lambda: getattr(win, "health_dialog", None) is not None and win.health_dialog.isVisible(),
                    timeout=20000)
    text = win.health_dialog.view.toPlainText()
    assert "Citation health" in text and "1 chat answers" in text and "100%" in text
    win.close()


def test_one_chain_of_density_step_is_rewritten_from_the_tab(qtbot: Any, pane: Any, world: World) -> None:
    tab = pane.cod_tab
    pane.tabs.setCurrentWidget(tab)
    tab.steps_box.setValue(5)
    tab.words_box.setValue(40)
    again = dict(COD_STEPS[2], denser_summary=COD_STEPS[2]["denser_summary"].replace("faster", "more quickly"))
    world.engine.outputs = [*COD_STEPS, again]
    with qtbot.waitSignal(pane.output_stored, timeout=WAIT):
        tab.generate_button.click()
    wait_idle(qtbot, pane)
    assert tab.output is not None and tab.rewrite_button.isEnabled()
    tab.slider.setValue(3)
    before = [s.summary for s in tab.steps]
    with qtbot.waitSignal(pane.output_stored, timeout=WAIT):
        tab.rewrite_button.click()
    wait_idle(qtbot, pane)
    after = [s.summary for s in tab.steps]
    assert tab.slider.value() == 3 and len(after) == 5
    assert "Step 3 rewritten" in tab.bar.text and "more quickly" in after[2] and "faster" in before[2]
    assert [s for k, s in enumerate(after) if k != 2] == [s for k, s in enumerate(before) if k != 2]


# -- stages: a long job never looks hung (issue 19) ------------------------------------------------


def test_a_podcast_shows_stage_attempts_tokens_and_time_left_and_never_sits_silent(qtbot: Any, pane: Any,
                                                                                   world: World) -> None:
    import time

    from notebooklm_local.services.studio.stages import UNIT_STEPS
    from tests.helpers.studio_world import SlowEngine

    class PromptPause(SlowEngine):
        """Waits before the first token of every call, as a model reading a long prompt does (nothing streams)."""

        def stream_chat(self, messages: Any, **kw: Any) -> Generation:
            inner = super().stream_chat(messages, **kw)

            def paused() -> Generator[str, None, Report]:
                time.sleep(1.2)
                return (yield from inner)

            return Generation(paused())

    engine = PromptPause(outputs=["{}", *PODCAST], delay=0.01)  # the first outline is rejected
    world.studio.engine = engine
    world.settings.studio.retries = 2
    tab = pane.podcast_tab
    pane.tabs.setCurrentWidget(tab)
    samples: list[tuple[float, str, int, int]] = []

    def sample() -> bool:
        if tab.bar.row.isVisible():
            samples.append((time.monotonic(), tab.bar.message.text(), tab.bar.progress.maximum(),
                            tab.bar.progress.value()))
        return not pane.busy

    tab.generate_button.click()
    started = time.monotonic()
    qtbot.waitUntil(sample, timeout=60000)
    took = time.monotonic() - started
    assert tab.script is not None, tab.bar.text
    texts = [t for _, t, _, _ in samples]
    joined = "\n".join(dict.fromkeys(texts))
    assert "Planning the episode \u00b7 attempt 1/3 \u00b7 reading the prompt (1 s)" in joined
    assert "Planning the episode \u00b7 attempt 1/3 \u00b7 estimating\u2026" not in joined  # reading shows first
    assert any(t.startswith("Planning the episode \u00b7 attempt 1/3") and "estimating\u2026" in t for t in texts)
    retry = [t for t in texts if "attempt 2/3" in t]
    assert retry and all("attempt 1 rejected: the plan has no list of segments" in t for t in retry), retry[:3]
    assert any(t.startswith("Writing segment 2/3: The Q4_K_M format") for t in texts)
    assert any(" tokens" in t for t in texts)  # a token counter ticks while the model writes
    assert any(t.endswith(" s left") for t in texts if t.startswith("Writing segment 3/3"))  # a measured pace
    # a determinate bar: planning + three segments, filling up
    busy = [(m, v) for _, _, m, v in samples if m > 0]
    assert busy and {m for m, _ in busy} == {4 * UNIT_STEPS}
    values = [v for _, v in busy]
    assert values[-1] > values[0] and values[-1] >= 3 * UNIT_STEPS
    # never silent: the line changes at least every ~1 s, also while a prompt is read and nothing streams
    changes = [t0 for (t0, text), (_, before) in zip([(s[0], s[1]) for s in samples[1:]],
                                                      [(s[0], s[1]) for s in samples[:-1]], strict=True)
               if text != before]
    gaps = [b - a for a, b in zip([samples[0][0], *changes], [*changes, samples[-1][0]], strict=True)]
    assert max(gaps) < 1.8, max(gaps)
    # and repainted in batches: at most ~10 a second
    assert tab.bar.updates <= took * 10 + 5, (tab.bar.updates, took)


def test_a_failed_script_leaves_a_route_to_audio_write_check_save_and_speak(qtbot: Any, pane: Any, world: World,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import notebooklm_local.ui.studio.podcast_tab as sp

    monkeypatch.setattr(sp, "multimedia_available", lambda: (False, "no audio output device was found"))
    tab = pane.podcast_tab
    pane.tabs.setCurrentWidget(tab)
    world.engine.outputs = ["{}"]  # the model's outline fails its checks (no retries in this world)
    tab.generate_button.click()
    wait_idle(qtbot, pane)
    assert tab.script is None and tab.bar.kind == "error"
    assert "no usable podcast outline" in tab.bar.text
    assert "You can write or paste a script instead: Write script\u2026" in tab.bar.text
    assert tab.bar.attempts_button.isVisible()  # what the model wrote is still there to look at
    assert tab.edit_button.isEnabled() and tab.edit_button.text() == "Write script\u2026"
    assert not tab.audio_button.isEnabled()

    # a draft to start from: key source sentences, cited, and the passages to cite
    tab.edit_button.click()
    wait_idle(qtbot, pane)
    assert tab.editor.isVisible() and not tab.view.isVisible()
    draft = tab.editor.toPlainText()
    assert "**Alex:**" in draft and "**Sam:**" in draft and "## Sources" in draft and "[1]" in draft
    # the user pastes their own script instead, one line citing nothing
    tab.editor.setPlainText("# Bits and bytes\n\n## 1. Smaller weights\n\n"
                            "**Alex:** What does quantization do? \n\n"
                            "**Sam:** Quantization stores model weights in fewer bits. [1]\n\n"
                            "**Alex:** And bananas grow on the moon.\n")
    tab.save_script_button.click()
    wait_idle(qtbot, pane)
    assert "Script saved: 3 lines" in tab.bar.text and "1 not supported" in tab.bar.text, tab.bar.text
    assert tab.output is not None and tab.script is not None and tab.view.isVisible()
    text = tab.view.toPlainText()
    assert "Bits and bytes" in text and "\u26a0 And bananas grow on the moon." in text
    stored = world.studio.store.get(tab.output.id)
    assert stored.kind == "podcast" and stored.payload["manual"]
    assert tab.edit_button.text() == "Edit script" and tab.save_note_button.isEnabled()

    # and spoken
    qtbot.waitUntil(lambda: tab.audio_button.isEnabled(), timeout=WAIT)
    tab.audio_button.click()
    wait_idle(qtbot, pane)
    assert tab.audio_path is not None and tab.audio_path.is_file(), tab.bar.text
    with wave.open(str(tab.audio_path)) as w:
        assert w.getnframes() > 0
    assert [t for _v, t in world.tts[0].spoken] == ["What does quantization do?",
                                                   "Quantization stores model weights in fewer bits.",
                                                   "And bananas grow on the moon."]


# -- audio overview formats (issue 15) ------------------------------------------------------------------


BRIEF = [
    {"title": "Small models in a minute", "segments": [{"topic": "Fewer bits", "passages": [1]},
                                                     {"topic": "Running on a laptop", "passages": [1]}]},
    {"lines": [{"speaker": "Alex", "text": "Quantization stores model weights in fewer bits.", "citations": [1]},
               {"speaker": "Alex", "text": "The Q4_K_M format in llama.cpp uses about 4.8 bits per weight.",
                "citations": [1]}]},
    {"lines": [{"speaker": "Alex", "text": "Gemma 3 270M is a small model released by Google in 2025.",
                "citations": [1]},
               {"speaker": "Alex", "text": "It runs on a laptop CPU with 2 cores.", "citations": [1]}]},
]


def test_the_format_panel_brief_regenerate_a_segment_and_revoice(qtbot: Any, pane: Any, world: World,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import notebooklm_local.ui.studio.podcast_tab as sp

    tab = pane.podcast_tab
    pane.tabs.setCurrentWidget(tab)
    assert [tab.format_box.itemData(i) for i in range(tab.format_box.count())] == [
        "deep-dive", "brief", "critique", "debate"]
    assert [tab.length_box.itemData(i) for i in range(tab.length_box.count())] == ["short", "default", "long"]
    assert tab.host_b.isVisible() and "ask" in tab.format_note.text()
    tab.format_box.setCurrentIndex(tab.format_box.findData("debate"))
    assert "opposite positions" in tab.format_note.text() and "AGAINST" in tab.persona_b.placeholderText()
    tab.format_box.setCurrentIndex(tab.format_box.findData("brief"))
    assert "One voice" in tab.format_note.text()
    assert not tab.host_b.isVisible() and not tab.persona_b.isVisible() and tab.hosts_label.text() == "Narrator"
    # the pane stays narrow: the format's description wraps instead of widening the tab
    assert tab.minimumSizeHint().width() <= 470, tab.minimumSizeHint().width()

    tab.length_box.setCurrentIndex(tab.length_box.findData("short"))
    tab.language_edit.setText("German")
    tab.focus_edit.setText("laptops")
    world.engine.outputs = list(BRIEF)
    tab.generate_button.click()
    wait_idle(qtbot, pane)
    assert tab.script is not None, tab.bar.text
    assert tab.script.format == "brief" and [h.name for h in tab.script.hosts] == ["Alex"]
    assert tab.output.options["format"] == "brief" and tab.output.options["length"] == "short"
    assert world.studio.podcast_prefs(world.notebook_id)["language"] == "German"
    assert "Brief \u00b7 Presented by Alex." in tab.view.toPlainText()
    # the notebook's choices come back when it is opened again
    pane.set_notebook(None)
    tab.format_box.setCurrentIndex(0)
    tab.language_edit.clear()
    tab.focus_edit.clear()
    pane.set_notebook(world.notebook_id, [world.source_id])
    qtbot.waitUntil(lambda: tab.format_box.currentData() == "brief", timeout=WAIT)
    assert tab.language_edit.text() == "German" and tab.focus_edit.text() == "laptops"
    assert tab.length_box.currentData() == "short"
    world.engine.outputs = list(BRIEF)
    tab.generate_button.click()
    wait_idle(qtbot, pane)
    assert tab.script is not None and tab.script.language == "German", tab.bar.text
    regens = [h for h in link_hrefs(tab.view) if h.startswith("regenseg:")]
    assert len(regens) == 2 and "Regenerate segment" in tab.view.toPlainText()

    # audio, then one segment written again, then Re-voice speaks only its changed line
    monkeypatch.setattr(sp, "multimedia_available", lambda: (False, "no audio output device was found"))
    qtbot.waitUntil(lambda: tab.audio_button.isEnabled(), timeout=WAIT)
    tab.audio_button.click()
    wait_idle(qtbot, pane)
    assert tab.audio_path is not None and tab.revoice_button.isVisible() and tab.revoice_button.isEnabled()
    spoken = len(world.tts[0].spoken)
    assert spoken == 4
    world.engine.outputs = [{"lines": [
        {"speaker": "Alex", "text": "Gemma 3 270M is a small model released by Google in 2025.", "citations": [1]},
        {"speaker": "Alex", "text": "It runs on a laptop CPU with 2 cores, with no GPU.", "citations": [1]}]}]
    click_link(qtbot, tab.view, regens[1])
    wait_idle(qtbot, pane)
    assert "Segment rewritten" in tab.bar.text, tab.bar.text
    assert [ln.text for ln in tab.script.lines if ln.segment == 0] == [
        "Quantization stores model weights in fewer bits. [1]",
        "The Q4_K_M format in llama.cpp uses about 4.8 bits per weight. [1]"]
    assert "with no GPU" in tab.view.toPlainText()
    tab.revoice_button.click()
    wait_idle(qtbot, pane)
    assert len(world.tts[0].spoken) == spoken + 1 and "with no GPU" in world.tts[0].spoken[-1][1]
    assert "1 spoken again, 3 of 4 lines reused" in tab.bar.text, tab.bar.text
    assert tab.audio_path is not None and tab.audio_path.is_file()
