"""The notes pane: list, filter, edit with autosave, preview (footnote citations, hostile HTML inert,
no remote loads), delete, export with "Replace?"."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.notes import Note, NoteStore, answer_note_body
from tests.helpers.studio_world import World, make_world

pytestmark = [pytest.mark.gui]

WAIT = 10000
CITE = {"passage_id": 1, "chunk_id": 1, "source_id": "s1", "source_title": "Quantization guide", "page": 4,
        "t_start": None, "start": 0, "end": 20, "quote": "stores weights in fewer bits", "location": "p. 4",
        "url": None}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path / "docs")


@pytest.fixture
def notes(world: World) -> NoteStore:
    return NoteStore(world.library)


@pytest.fixture
def pane(qtbot: Any, world: World) -> Iterator[Any]:
    from notebooklm_local.ui.notes_pane import NotesPane
    from notebooklm_local.ui.workers import Lanes

    lanes = Lanes()
    p = NotesPane(lanes, lambda: world.library)
    qtbot.addWidget(p)
    p.resize(1000, 700)
    p.show()
    yield p
    lanes.shutdown(5000)


def idle(qtbot: Any, pane: Any) -> None:
    qtbot.waitUntil(lambda: not pane.busy, timeout=WAIT)


def open_notebook(qtbot: Any, pane: Any, world: World) -> None:
    pane.set_notebook(world.notebook_id, "Quantization notes")
    idle(qtbot, pane)


def titles(pane: Any) -> list[str]:
    return [pane.list.item(i).text().split("\n")[0] for i in range(pane.list.count())]


def test_new_note_edit_autosave_and_preview(qtbot: Any, pane: Any, world: World, notes: NoteStore) -> None:
    open_notebook(qtbot, pane, world)
    assert pane.list.count() == 0 and "No notes yet" in pane.status.text()
    with qtbot.waitSignal(pane.note_saved, timeout=WAIT) as created:
        pane.new_button.click()
    idle(qtbot, pane)
    nid = created.args[0]
    assert pane.current is not None and pane.current.id == nid and titles(pane) == ["Untitled note"]
    assert pane.title_edit.hasFocus() and pane.title_edit.selectedText() == "Untitled note"

    pane.title_edit.setText("")
    pane.title_edit.textEdited.emit("")
    pane.tags_edit.setText("quantization, to read")
    pane.tags_edit.textEdited.emit(pane.tags_edit.text())
    pane.editor.setPlainText("# Bits\n\nQ4_K_M keeps **4.8 bits** per weight.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert pane.dirty and pane.save_button.isEnabled() and pane.status.text() == "Unsaved changes…"
    pane.editor.setFocus()  # the empty title is filled in with the derived one when it has no focus
    before = pane.previews
    qtbot.waitUntil(lambda: pane.previews > before, timeout=WAIT)  # debounced preview
    html_text = pane.preview.toHtml()
    assert "4.8 bits" in pane.preview.toPlainText() and "<table" in html_text
    with qtbot.waitSignal(pane.note_saved, timeout=WAIT):  # autosave after typing stops
        pass
    idle(qtbot, pane)
    stored = notes.get(nid)
    assert stored.title == "Bits" and stored.tags == ["quantization", "to-read"] and "4.8 bits" in stored.body
    assert not pane.dirty and pane.status.text() == "Saved" and pane.title_edit.text() == "Bits"
    assert titles(pane) == ["Bits"]


def test_preview_renders_citations_as_footnotes(qtbot: Any, pane: Any, world: World, notes: NoteStore) -> None:
    n = notes.add(world.notebook_id, "From chat", "Quantization stores weights in fewer bits [1].", citations=[CITE],
                  tags=["chat"], origin_kind="chat")
    open_notebook(qtbot, pane, world)
    pane.show_note(n.id)
    assert pane.current is not None and pane.current.id == n.id
    text = pane.preview.toPlainText()
    assert "From chat" in text and "Quantization guide, p. 4" in text and "stores weights in fewer bits" in text
    assert "[1]" not in text  # the marker became a footnote reference
    from notebooklm_local.ui.notes_pane import note_preview_html

    raw = note_preview_html(n, "Quantization notes")
    assert 'class="footnote-ref"' in raw and 'id="fn:1"' in raw and "---" not in raw.split("<h1>")[0]
    assert "1 citation(s)" in pane.status.text() and "from chat" in pane.status.text()


def test_a_footnote_cited_several_times_has_one_backlink_with_numbered_jumps(
        qtbot: Any, pane: Any, world: World, notes: NoteStore) -> None:
    from tests.ui.helpers import link_hrefs

    other = {**CITE, "passage_id": 2, "chunk_id": 2, "page": 5, "location": "p. 5", "quote": "loads faster"}
    n = notes.add(world.notebook_id, "From chat", "Quantization stores weights in fewer bits [1]. It saves memory [1]. "
                  "Smaller files load faster [1][2].", citations=[CITE, other], origin_kind="chat")
    open_notebook(qtbot, pane, world)
    pane.show_note(n.id)
    text = pane.preview.toPlainText()
    assert text.count("\u21a9") == 2  # one per footnote (was four: one per reference)
    line = next(x for x in text.splitlines() if "Quantization guide, p. 4" in x)
    assert line.rstrip().endswith("\u21a9 1 2 3")  # "jump back to reference 1, 2 or 3"
    hrefs = link_hrefs(pane.preview)
    assert {"#fnref:1", "#fnref2:1", "#fnref3:1", "#fnref:2"} <= set(hrefs)


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Counter.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *_a: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Counter.hits = []
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Counter)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_hostile_html_is_escaped_and_nothing_remote_loads(qtbot: Any, pane: Any, world: World, notes: NoteStore,
                                                          server: str) -> None:
    from notebooklm_local.ui.notes_pane import note_preview_html

    body = (f'<script>window.x = 1; fetch("{server}/script")</script>\n\n'
            f'<img src="{server}/raw.png" onerror="alert(1)">\n\n'
            f"![tracker]({server}/md.png)\n\n"
            '<iframe src="https://example.com"></iframe> [click](javascript:alert(1)) <b>bold?</b>\n')
    hostile = dict(CITE, quote='<img src="http://127.0.0.1:9/q.png"> quoted', source_title="<script>t</script>")
    n = notes.add(world.notebook_id, "<i>Title</i>", body + "\nClaim [1].", citations=[hostile])
    raw = note_preview_html(n, "NB")
    for bad in ("<script", "<img", "<iframe", "<b>", "javascript:", "<i>"):
        assert bad not in raw, bad
    assert "&lt;script&gt;" in raw and "[image: tracker \u2014 not loaded]" in raw

    open_notebook(qtbot, pane, world)
    pane.show_note(n.id)
    text = pane.preview.toPlainText()
    assert "<script>window.x = 1;" in text and "<b>bold?</b>" in text  # shown as text, inert
    assert "<i>Title</i>" in text and f'<img src="{server}/raw.png"' in text
    # even HTML that reaches the browser itself loads nothing
    pane.preview.setHtml(f'<p>x</p><img src="{server}/direct.png"><link rel="stylesheet" href="{server}/s.css">')
    pane.preview.document().adjustSize()
    qtbot.waitUntil(lambda: any("/direct.png" in u for u in pane.preview.blocked), timeout=5000)
    assert _Counter.hits == []
    # clicking a javascript: link does nothing; an in-page footnote link scrolls, an http link opens outside only
    opened: list[str] = []
    pane.preview.open_external = False
    pane.preview.external_link_clicked.connect(lambda u: opened.append(u.toString()))
    from PySide6.QtCore import QUrl

    pane.preview.anchorClicked.emit(QUrl("javascript:alert(1)"))
    pane.preview.anchorClicked.emit(QUrl("file:///etc/passwd"))
    pane.preview.anchorClicked.emit(QUrl("#fn:1"))
    pane.preview.anchorClicked.emit(QUrl("https://example.com/page"))
    assert opened == ["https://example.com/page"]


def test_filter_by_tag_and_search(qtbot: Any, pane: Any, world: World, notes: NoteStore) -> None:
    notes.add(world.notebook_id, "Alpha", "about gemma", tags=["models"])
    notes.add(world.notebook_id, "Beta", "about bits", tags=["models", "bits"])
    notes.add(world.notebook_id, "Gamma", "about bananas")
    open_notebook(qtbot, pane, world)
    assert sorted(titles(pane)) == ["Alpha", "Beta", "Gamma"]
    labels = [pane.tag_box.itemText(i) for i in range(pane.tag_box.count())]
    assert labels == ["All tags", "#models (2)", "#bits (1)"]
    pane.tag_box.setCurrentIndex(1)
    pane.tag_box.activated.emit(1)
    idle(qtbot, pane)
    assert sorted(titles(pane)) == ["Alpha", "Beta"]
    pane.search_edit.setText("bits")
    qtbot.waitUntil(lambda: titles(pane) == ["Beta"], timeout=WAIT)
    assert "#models #bits" in pane.list.item(0).text()
    pane.search_edit.setText("nothing-like-this")
    qtbot.waitUntil(lambda: pane.list.count() == 0, timeout=WAIT)
    assert pane.status.text() == "No note matches."
    # show_note clears the filters that hide the note
    gamma = next(n for n in notes.list(world.notebook_id) if n.title == "Gamma")
    pane.show_note(gamma.id)
    idle(qtbot, pane)
    assert pane.current is not None and pane.current.id == gamma.id
    assert pane.search_edit.text() == "" and pane.tag_box.currentIndex() == 0 and pane.list.count() == 3


def test_switching_notes_saves_unsaved_edits_and_delete_asks(qtbot: Any, pane: Any, world: World,
                                                              notes: NoteStore,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    a = notes.add(world.notebook_id, "A", "first")
    b = notes.add(world.notebook_id, "B", "second")
    open_notebook(qtbot, pane, world)
    pane.show_note(a.id)
    pane.editor.setPlainText("first, edited")
    pane.show_note(b.id)  # before the autosave timer: saved at once
    idle(qtbot, pane)
    assert notes.get(a.id).body == "first, edited" and pane.current.id == b.id
    asked: list[str] = []
    monkeypatch.setattr(pane, "_confirm", lambda _t, text: asked.append(text) or False)
    pane.delete_button.click()
    assert asked and "\u201cB\u201d" in asked[0] and notes.count(world.notebook_id) == 2
    monkeypatch.setattr(pane, "_confirm", lambda *_a: True)
    with qtbot.waitSignal(pane.note_deleted, timeout=WAIT):
        pane.delete_button.click()
    idle(qtbot, pane)
    assert notes.count(world.notebook_id) == 1 and titles(pane) == ["A"] and pane.current is None


def test_save_errors_are_shown_and_keep_the_edits(qtbot: Any, pane: Any, world: World, notes: NoteStore) -> None:
    n = notes.add(world.notebook_id, "T", "text")
    open_notebook(qtbot, pane, world)
    pane.show_note(n.id)
    pane.title_edit.setText("x" * 300)
    pane.title_edit.textEdited.emit(pane.title_edit.text())
    pane.save_button.click()
    idle(qtbot, pane)
    assert pane.status.text().startswith("Not saved: Note titles are limited to 200 characters")
    assert pane.dirty and pane.save_button.isEnabled() and notes.get(n.id).title == "T"


def test_export_this_selected_and_all_refuses_overwrite_until_confirmed(qtbot: Any, pane: Any, world: World,
                                                                        notes: NoteStore, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    one = notes.add(world.notebook_id, "One", "first [1]", citations=[CITE])
    notes.add(world.notebook_id, "Two", "second")
    notes.add(world.notebook_id, "Three", "third")
    open_notebook(qtbot, pane, world)
    pane.show_note(one.id)

    # this note to a file
    target = tmp_path / "export" / "one.md"
    monkeypatch.setattr(pane, "_ask_file", lambda *_a: str(target))
    pane.export("current", single_file=True)
    idle(qtbot, pane)
    assert target.is_file() and "[^1]: Quantization guide, p. 4" in target.read_text()
    assert "Exported 1 file" in pane.status.text()

    # all notes to a folder
    folder = tmp_path / "all"
    monkeypatch.setattr(pane, "_ask_folder", lambda *_a: str(folder))
    pane.export("all", single_file=False)
    idle(qtbot, pane)
    assert sorted(p.name for p in folder.iterdir()) == ["One.md", "Three.md", "Two.md"]

    # again: "Replace?" -- no: nothing written
    (folder / "Two.md").write_text("mine", encoding="utf-8")
    asked: list[str] = []
    monkeypatch.setattr(pane, "_confirm", lambda title, text: asked.append(f"{title}: {text}") or False)
    pane.export("all", single_file=False)
    idle(qtbot, pane)
    assert asked and asked[0].startswith("Replace?: 3 files already exist")
    assert (folder / "Two.md").read_text() == "mine" and "nothing was written" in pane.status.text()
    # yes: replaced
    monkeypatch.setattr(pane, "_confirm", lambda *_a: True)
    pane.export("all", single_file=False)
    idle(qtbot, pane)
    assert "second" in (folder / "Two.md").read_text() and "Exported 3 files" in pane.status.text()

    # selected notes into one file
    pane.list.clearSelection()
    for i in range(pane.list.count()):
        if pane.list.item(i).text().startswith(("One", "Two")):
            pane.list.item(i).setSelected(True)
    assert len(pane.selected_ids()) == 2
    combined = tmp_path / "two-notes.md"
    monkeypatch.setattr(pane, "_ask_file", lambda *_a: str(combined))
    pane.export("selected", single_file=True)
    idle(qtbot, pane)
    text = combined.read_text()
    assert "## One" in text and "## Two" in text and "## Three" not in text

    # an unwritable destination is reported clearly
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setattr(pane, "_ask_folder", lambda *_a: str(blocker / "sub"))
    pane.export("all", single_file=False)
    idle(qtbot, pane)
    assert pane.status.text().startswith("Export failed: Cannot create the folder"), pane.status.text()
    if os.geteuid() != 0:
        ro = tmp_path / "read-only"
        ro.mkdir()
        ro.chmod(0o555)
        monkeypatch.setattr(pane, "_ask_folder", lambda *_a: str(ro))
        pane.export("all", single_file=False)
        idle(qtbot, pane)
        assert pane.status.text().startswith("Export failed: Cannot write"), pane.status.text()
        ro.chmod(0o755)


def test_no_library_and_notebook_switch(qtbot: Any, world: World, notes: NoteStore) -> None:
    from notebooklm_local.ui.notes_pane import NotesPane
    from notebooklm_local.ui.workers import Lanes

    lanes = Lanes()
    lib: list[Any] = [None]
    p = NotesPane(lanes, lambda: lib[0])
    qtbot.addWidget(p)
    try:
        p.set_notebook(world.notebook_id, "NB")
        assert p.status.text() == "No library is open."
        lib[0] = world.library
        notes.add(world.notebook_id, "Kept", "x")
        p.refresh()
        qtbot.waitUntil(lambda: p.list.count() == 1, timeout=WAIT)
        other = world.lib.create_notebook("Other")
        p.set_notebook(other.id, "Other")
        qtbot.waitUntil(lambda: not p.busy, timeout=WAIT)
        assert p.list.count() == 0 and p.current is None
    finally:
        lanes.shutdown(5000)


def test_note_model_roundtrip_in_preview_helper() -> None:
    from notebooklm_local.ui.rich_text import markdown_html, strip_front_matter

    assert strip_front_matter("---\ntitle: \"x\"\n---\n\n# T\n") == "# T\n"
    assert "<h1>T</h1>" in markdown_html("# T")
    assert Note("i", "n", "t", "b").title == "t"


@pytest.mark.model
@pytest.mark.slow
def test_a_real_answer_saved_from_chat_appears_in_the_notes_pane(qtbot: Any, app_home: Path,
                                                                 installed_model: Path) -> None:
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.extensions.sample import ensure_sample_notebook
    from notebooklm_local.ui.chat_panel import ChatPanel
    from notebooklm_local.ui.notes_pane import NotesPane
    from notebooklm_local.ui.workers import Lanes
    from notebooklm_local.workspace import open_chat, open_library

    paths = app_paths().ensure()
    settings = Settings()
    settings.model.n_ctx = 2048
    settings.chat.answer_tokens = 60
    lib = open_library(paths, settings)
    name, _ = ensure_sample_notebook(lib)
    nb = lib.library.notebook(name)
    chat = open_chat(paths, settings, library=lib)
    lanes = Lanes()
    panel = ChatPanel(lanes, lambda: chat)
    notes_pane = NotesPane(lanes, lambda: lib.library)
    panel.note_saved.connect(notes_pane.show_note)
    for w in (panel, notes_pane):
        qtbot.addWidget(w)
        w.show()
    panel.set_notebook(nb.id, [s.id for s in lib.library.sources(nb.id) if s.selected])
    notes_pane.set_notebook(nb.id, nb.name)
    try:
        panel.input.setPlainText("What does Q4_K_M quantization trade off?")
        with qtbot.waitSignal(panel.answer_finished, timeout=400000) as done:
            panel.send()
        answer = done.args[0].answer
        # the demo model's chat is the model-free Quotes path: it cites, so the footnote loop below runs
        assert done.args[0].mode == "quotes" and answer.citations
        qtbot.waitUntil(lambda: panel.send_button.isEnabled(), timeout=10000)
        with qtbot.waitSignal(panel.note_saved, timeout=20000) as saved:
            assert panel.save_to_note(1)
        qtbot.waitUntil(lambda: notes_pane.current is not None and notes_pane.current.id == saved.args[0],
                        timeout=20000)
        assert notes_pane.editor.toPlainText() == answer_note_body(answer, "quotes")  # a list of the quotations
        assert len(notes_pane.current.citations) == len(answer.citations)
        preview = notes_pane.preview.toPlainText()
        assert notes_pane.current.title in preview
        footnotes = 0
        for c in answer.citations:
            assert c.source_title in preview  # each citation is a footnote
            footnotes += 1
        assert footnotes == len(answer.citations) >= 1
        assert notes_pane.preview.blocked == []
    finally:
        lanes.shutdown(10000)
        chat.engine.close()
        lib.library.close()


def test_a_long_title_shows_its_start(qtbot: Any, pane: Any, world: World, notes: NoteStore) -> None:
    """A note saved from a long question: the title field shows the title's beginning (it showed its end,
    "…b pattern used for in the MIME database?", the cursor left at the end by setText)."""
    title = "What is a glob pattern used for in the MIME database, and how are conflicting globs resolved?"
    saved = notes.add(world.notebook_id, title, "The glob file is a simple list of lines.", tags=["mime", "globs"])
    open_notebook(qtbot, pane, world)
    pane.show_note(saved.id)
    idle(qtbot, pane)
    assert pane.title_edit.text() == title
    assert pane.title_edit.cursorPosition() == 0 and pane.tags_edit.cursorPosition() == 0
    assert pane.title_edit.cursorRect().left() < pane.title_edit.width() // 4  # the start is in view
