"""Take screenshots of the real app window under X (run through scripts/screenshots.sh / xvfb-run).

Writes PNGs to docs/screenshots/. Uses a throw-away data dir unless NOTEBOOKLM_LOCAL_HOME is set.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("SCREENSHOT_DIR", REPO / "docs" / "screenshots"))


def _settle(cond: Callable[[], bool] | None = None, timeout: float = 60.0, idle: float = 0.6) -> None:
    """Run the event loop until ``cond()`` holds (at most ``timeout`` s), or for ``idle`` s without one."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    end = time.monotonic() + (timeout if cond is not None else idle)
    while time.monotonic() < end and not (cond is not None and cond()):
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)  # type: ignore[union-attr]
        time.sleep(0.01)


def _grabber(shots: list[Path], suffix: str = "") -> Callable[[Any, str], None]:
    """``grab(widget, name)``: settle, save the widget as OUT/name (``suffix`` before ".png"), remember it in
    ``shots``."""

    def grab(widget: Any, name: str) -> None:
        _settle()
        target = OUT / name.replace(".png", f"{suffix}.png")
        widget.grab().save(str(target))
        shots.append(target)

    return grab


def main() -> int:
    os.environ.setdefault("NOTEBOOKLM_LOCAL_HOME", tempfile.mkdtemp(prefix="nbl-shots-"))
    sys.path.insert(0, str(REPO))  # this checkout's code, not the one the venv has installed
    os.environ.setdefault("NOTEBOOKLM_LOCAL_NO_FIRST_RUN", "1")  # first-run.png is taken by --dialogs
    from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent
    from PySide6.QtWidgets import QApplication

    from notebooklm_local.core.context import AppContext
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import load_settings
    from notebooklm_local.extensions.sample import ensure_sample_notebook
    from notebooklm_local.services.models import ensure_default_model
    from notebooklm_local.ui.application import create_application
    from notebooklm_local.ui.main_window import MainWindow
    from notebooklm_local.workspace import open_library

    app = create_application()
    paths = app_paths().ensure()
    settings = load_settings(paths.settings_file)
    ensure_default_model(paths)
    lib = open_library(paths, settings)
    ensure_sample_notebook(lib)
    lib.library.close()
    ctx = AppContext(paths, settings)
    win = MainWindow(ctx)  # its default size, fitted to the 1280x800 screen with the title bar (as users get it)
    win.move(0, 0)
    win.show()
    OUT.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []

    def grab(name: str) -> None:
        screen = QApplication.primaryScreen()
        pix = screen.grabWindow(0, 0, 0, 1280, 800)  # the X screen itself: what a user sees
        target = OUT / name
        pix.save(str(target))
        shots.append(target)

    def shoot() -> None:
        grab("main-window.png")
        panel = win.chat_pane
        panel.input.setPlainText("What does Q4_K_M quantization trade off?")
        panel.answer_finished.connect(lambda _r: QTimer.singleShot(500, after_answer))
        panel.send()

    def after_answer() -> None:
        grab("chat-answer.png")
        res = win.chat_pane.last_result
        if res is not None and res.answer.citations:
            win.chat_pane.citation_activated.emit(res.answer.citations[0])
            QTimer.singleShot(800, after_viewer)
        else:
            sources_shots()

    def after_viewer() -> None:
        viewer = getattr(win, "source_viewer", None)
        if viewer is not None:
            viewer.move(260, 90)
            QTimer.singleShot(300, lambda: (grab("source-viewer.png"), viewer.close(), sources_shots()))
        else:
            sources_shots()

    # -- the Sources pane: rows in every state, the add dialogs, the drop highlight --------------------
    files = Path(tempfile.mkdtemp(prefix="nbl-shot-files-"))

    def sources_shots() -> None:
        (files / "draft-notes.md").write_bytes(b"")  # fails: empty
        (files / "field-notes.md").write_text("# Field notes\n\n" + "\n\n".join(
            f"## Day {i}\n\n" + f"Day {i} of the survey: we counted birds along the canal and noted the weather. " * 12
            for i in range(1, 11)), encoding="utf-8")
        (files / "reading-list.md").write_text("# Reading list\n\nLocal-first software; quantization.", encoding="utf-8")
        win.sources_pane.add_items([str(files / "draft-notes.md"), "http://127.0.0.1:9/itinerary",
                                    str(files / "field-notes.md"), str(files / "reading-list.md")])
        wait_for_embedding()

    def wait_for_embedding(tries: int = 1200) -> None:
        cur = win.ingest._current
        if cur is not None and "left" in cur.state.text or tries <= 0:
            QTimer.singleShot(300, shoot_states)
        else:
            QTimer.singleShot(100, lambda: wait_for_embedding(tries - 1))

    def shoot_states() -> None:
        grab("sources-states.png")
        win.sources_pane.add_url_dialog()
        dlg = win.sources_pane.url_dialog
        if dlg is not None:
            dlg.edit.setPlainText("https://en.wikipedia.org/wiki/Night_train")
        QTimer.singleShot(500, shoot_url_dialog)

    def shoot_url_dialog() -> None:
        grab("add-url-dialog.png")
        if win.sources_pane.url_dialog is not None:
            win.sources_pane.url_dialog.reject()
        win.sources_pane.paste_text_dialog()
        dlg = win.sources_pane.paste_dialog
        if dlg is not None:
            dlg.title_edit.setText("Meeting notes, 12 March")
            dlg.text_edit.setPlainText(
                "Decisions\n\n- Ship the offline installer first; the podcast feature waits for 1.1.\n"
                "- Every answer must cite its sources; uncited sentences are flagged.\n\n"
                "Open questions\n\n- Which embedding model for long PDFs?\n- Do we keep chat history per notebook?")
        QTimer.singleShot(500, shoot_paste_dialog)

    def shoot_paste_dialog() -> None:
        grab("paste-text-dialog.png")
        if win.sources_pane.paste_dialog is not None:
            win.sources_pane.paste_dialog.reject()
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(files / "reading-list.md")), QUrl("https://example.com/article")])
        enter = QDragEnterEvent(QPoint(640, 400), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(win, enter)
        QTimer.singleShot(400, lambda: (grab("drop-overlay.png"), QApplication.sendEvent(win, QDragLeaveEvent()),
                                        win.close()))

    def wait_for_backend(tries: int = 100) -> None:
        if win.backend_label.text() == "Backend: …" and tries > 0:
            QTimer.singleShot(100, lambda: wait_for_backend(tries - 1))
        else:
            QTimer.singleShot(300, shoot)

    QTimer.singleShot(200, wait_for_backend)
    app.exec()
    for s in shots:
        print(s)
    return 0 if shots else 1


def studio_and_notes(theme: str = "light") -> int:
    """The studio pane (summary, chain of density, podcast) and the notes pane, standalone, populated from a
    scripted engine run (no model needed): studio-summary.png, studio-cod.png, studio-podcast.png, notes.png
    (``theme`` "dark": the same names with a -dark suffix).

    Run: scripts/screenshots.sh --studio [--dark]
    """
    os.environ.setdefault("NOTEBOOKLM_LOCAL_HOME", tempfile.mkdtemp(prefix="nbl-shots-"))

    from PySide6.QtWidgets import QApplication

    sys.path.insert(0, str(REPO))
    from notebooklm_local.ui.application import create_application
    from notebooklm_local.ui.notes_pane import NotesPane
    from notebooklm_local.ui.studio.pane import StudioPane
    from notebooklm_local.ui.theme import apply_theme
    from notebooklm_local.ui.workers import Lanes
    from tests.helpers.studio_world import COD_STEPS, PODCAST, SUMMARY, make_world

    _app = create_application()  # kept: the QApplication lives as long as this reference
    apply_theme(_app, theme)
    world = make_world(Path(tempfile.mkdtemp(prefix="nbl-shots-docs-")), delay=0.001)
    lanes = Lanes()
    OUT.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []

    settle = _settle

    grab = _grabber(shots, "" if theme == "light" else f"-{theme}")

    pane = StudioPane(lanes, lambda: world.studio, settings=world.settings, tts_engines=lambda: world.tts,
                      library_getter=lambda: world.library)
    pane.setWindowTitle("Studio \u2014 Quantization notes")
    pane.resize(760, 900)
    pane.move(0, 0)
    pane.show()
    pane.set_notebook(world.notebook_id, [world.source_id])
    idle = lambda: not pane.busy  # noqa: E731

    world.engine.outputs = [SUMMARY]
    pane.tabs.setCurrentWidget(pane.summary_tab)
    pane.summary_tab.focus_edit.setText("how quantization changes file size")
    pane.summary_tab.generate_button.click()
    settle(idle)
    grab(pane, "studio-summary.png")
    pane.summary_tab.provenance_button.click()  # the provenance card of that summary
    pane.provenance_dialog.move(40, 60)
    grab(pane.provenance_dialog, "studio-provenance.png")
    pane.provenance_dialog.close()

    pane.tabs.setCurrentWidget(pane.cod_tab)
    pane.cod_tab.steps_box.setValue(5)
    pane.cod_tab.words_box.setValue(40)
    world.engine.outputs = list(COD_STEPS)
    pane.cod_tab.generate_button.click()
    settle(idle)
    pane.cod_tab.slider.setValue(3)
    grab(pane, "studio-cod.png")

    pane.tabs.setCurrentWidget(pane.podcast_tab)
    world.engine.outputs = list(PODCAST)
    pane.podcast_tab.generate_button.click()
    settle(idle)
    settle(lambda: pane.podcast_tab.audio_button.isEnabled())
    pane.podcast_tab.audio_button.click()
    settle(idle)
    grab(pane, "studio-podcast.png")

    notes = NotesPane(lanes, lambda: world.library)
    notes.setWindowTitle("Notes \u2014 Quantization notes")
    notes.resize(1100, 640)
    notes.move(0, 0)
    pane.note_saved.connect(notes.show_note)
    notes.set_notebook(world.notebook_id, "Quantization notes")
    notes.show()
    pane.tabs.setCurrentWidget(pane.summary_tab)
    pane.summary_tab.save_button.click()
    settle(lambda: notes.current is not None)
    settle(lambda: not notes.busy)
    notes.tags_edit.setText("quantization, summary")
    notes.editor.appendPlainText("\n## My notes\n\n- Try **Q5_K_M** for a better quality/size balance.\n"
                                 "- Keep the GGUF next to its `tokenizer` settings.\n")
    notes.save()
    settle(lambda: not notes.busy and not notes.dirty)
    notes.render_preview()
    pane.hide()
    grab(notes, "notes.png")

    notes.close()
    pane.close()
    lanes.shutdown(5000)
    QApplication.processEvents()
    for s in shots:
        print(s)
    return 0 if len(shots) == 5 else 1  # summary, provenance, CoD, podcast, notes


def dialogs(theme: str = "light") -> int:
    """The template editor (valid, and with problems), every Settings tab (a download in progress from a local
    fake hub on the Model tab) and the first-run dialog, standalone: template-editor*.png, settings-*.png,
    first-run.png (``theme`` "dark": the same names with a -dark suffix).

    Run: scripts/screenshots.sh --dialogs [--dark]
    """
    os.environ.setdefault("NOTEBOOKLM_LOCAL_HOME", tempfile.mkdtemp(prefix="nbl-shots-"))

    from PySide6.QtWidgets import QApplication

    sys.path.insert(0, str(REPO))
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import load_settings
    from notebooklm_local.services.model_manager import CATALOG
    from notebooklm_local.services.models import ensure_default_model
    from notebooklm_local.ui.application import create_application
    from notebooklm_local.ui.first_run import FirstRunDialog
    from notebooklm_local.ui.settings_dialog import TABS, SettingsDialog
    from notebooklm_local.ui.template_editor import TemplateEditorDialog
    from notebooklm_local.ui.theme import apply_theme
    from notebooklm_local.ui.workers import Lanes
    from notebooklm_local.workspace import template_store
    from tests.helpers.fake_hub import FakeHub
    from tests.helpers.gguf_files import write_gguf

    _app = create_application()  # kept: the QApplication lives as long as this reference
    apply_theme(_app, theme)
    paths = app_paths().ensure()
    settings = load_settings(paths.settings_file)
    ensure_default_model(paths)
    lanes = Lanes()
    OUT.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []

    settle = _settle

    grab = _grabber(shots, "" if theme == "light" else f"-{theme}")

    editor = TemplateEditorDialog(template_store(paths), lanes=lanes)
    editor.move(0, 0)
    editor.show()
    editor.select("chat_answer")
    settle(lambda: editor._last is not None and editor._checking is None)
    editor.user_edit.setFocus()
    grab(editor, "template-editor.png")
    editor.user_edit.setPlainText("{{ passages }}\n\nQuestion: {{ questoin }}\n{% if language %}Answer in {{ language }}.")
    settle(lambda: editor.problems() != [])
    grab(editor, "template-editor-error.png")
    editor.tabs.setCurrentIndex(1)
    editor.revert()
    settle(lambda: editor.problems() == [] and editor._checking is None)
    grab(editor, "template-editor-preview.png")
    editor._ask_unsaved = lambda name: "discard"
    editor.close()

    hub = FakeHub().start()
    hub.chunk, hub.delay = 64 * 1024, 0.05
    entry = CATALOG[1]
    hub.add(entry.repo_id, entry.filename, write_gguf(paths.cache / "fake.gguf", arch="qwen2",
                                                      data_bytes=8 << 20).read_bytes())
    os.environ["HF_ENDPOINT"] = hub.url  # the local fake hub; the endpoint field keeps its placeholder
    engines = [("espeak-ng", None), ("piper", "the piper program is not installed")]
    dlg = SettingsDialog(paths, settings, lanes, tts_engines=lambda: engines)
    dlg.move(0, 0)
    dlg.show()
    settle(lambda: not dlg.busy)
    dlg.catalog.setCurrentIndex(1)
    dlg.start_download()
    settle(lambda: dlg.progress.value() >= 350)
    grab(dlg, "settings-model.png")
    dlg.cancel_download()
    settle(lambda: dlg.download_op is not None and dlg.download_op.done)
    for i, name in enumerate(TABS[1:], 1):
        dlg.tabs.setCurrentIndex(i)
        grab(dlg, f"settings-{name}.png")
    dlg.n_ctx.setValue(100)
    dlg.tabs.setCurrentIndex(TABS.index("performance"))
    dlg.accept()
    grab(dlg, "settings-invalid.png")
    dlg.reject()
    hub.stop()

    first = FirstRunDialog(paths, settings, lanes)
    first.move(0, 0)
    first.show()
    grab(first, "first-run.png")
    first.settings.ui.first_run_done = True  # keep the throw-away settings as they were
    first.reject()

    lanes.shutdown(5000)
    QApplication.processEvents()
    for s in shots:
        print(s)
    return 0 if len(shots) == 11 else 1


def source_viewer() -> int:
    """The source viewer, standalone over a lexical-only library holding the bundled samples: the PDF at a
    cited page with the passage highlighted (source-viewer-pdf.png) and the transcript with timestamps and the
    cited span (source-viewer-transcript.png).

    Run: scripts/screenshots.sh --source-viewer
    """
    os.environ.setdefault("NOTEBOOKLM_LOCAL_HOME", tempfile.mkdtemp(prefix="nbl-shots-"))

    from PySide6.QtWidgets import QApplication

    sys.path.insert(0, str(REPO))  # this checkout's code, not the one the venv has installed
    from notebooklm_local.core.citations import Citation, format_location
    from notebooklm_local.core.library import Library
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.extensions.builtins import builtin_registry
    from notebooklm_local.services.library_service import LibraryService
    from notebooklm_local.ui.application import create_application
    from notebooklm_local.ui.source_viewer import SourceViewer

    _app = create_application()  # kept: the QApplication lives as long as this reference
    paths = app_paths().ensure()
    lib = LibraryService(paths.data, Library(paths.data / "library.db"), builtin_registry().source_loaders.items())
    lib.create_notebook("Samples")
    sample = REPO / "resources" / "sample"
    report = lib.add("Samples", [str(sample / "citation-checking-guide.pdf"),
                                 str(sample / "talk-local-first-software.vtt")])
    OUT.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []

    settle = _settle

    grab = _grabber(shots)

    def cite(kind: str, quote: str) -> tuple[object, Citation]:
        src = next(s for s in report.added if s.kind == kind)
        text, _ = lib.library.source_text(src.id)
        start = text.index(quote)
        chunk = next(c for c in lib.library.source_chunks(src.id) if c.char_start <= start < c.char_end)
        loc = format_location(chunk.page, chunk.page_end, chunk.t_start, chunk.heading)
        return src, Citation(1, chunk.id, src.id, src.title, chunk.page, chunk.t_start, start, start + len(quote),
                             quote, loc, None)

    for kind, quote, name, size in (
        ("pdf", "For paraphrases, a lexical overlap score over content words gives a cheap signal.",
         "source-viewer-pdf.png", (860, 760)),
        ("transcript", "That changed with quantized models. A four-bit model of a few billion parameters now runs "
         "on a laptop.", "source-viewer-transcript.png", (760, 560)),
    ):
        src, citation = cite(kind, quote)
        viewer = SourceViewer.for_source(lib.library, src, citation)  # type: ignore[arg-type]
        viewer.resize(*size)
        viewer.move(0, 0)
        viewer.show()
        settle(lambda v=viewer: v.pdf_view is None or v.pdf_view.currentSearchResultIndex() >= 0)
        grab(viewer, name)
        viewer.close()

    lib.library.close()
    QApplication.processEvents()
    for s in shots:
        print(s)
    return 0 if len(shots) == 2 else 1


def _sample_window(theme: str) -> Any:
    """The real main window on the sample notebook (a throw-away data dir), in ``theme``, shown at 0,0."""
    os.environ.setdefault("NOTEBOOKLM_LOCAL_HOME", tempfile.mkdtemp(prefix="nbl-shots-"))
    os.environ.setdefault("NOTEBOOKLM_LOCAL_NO_FIRST_RUN", "1")
    sys.path.insert(0, str(REPO))
    from notebooklm_local.core.context import AppContext
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import load_settings
    from notebooklm_local.extensions.sample import ensure_sample_notebook
    from notebooklm_local.services.models import ensure_default_model
    from notebooklm_local.ui.application import create_application
    from notebooklm_local.ui.main_window import MainWindow
    from notebooklm_local.ui.theme import apply_theme
    from notebooklm_local.workspace import open_library

    app = create_application()
    paths = app_paths().ensure()
    settings = load_settings(paths.settings_file)
    settings.ui.theme = theme
    ensure_default_model(paths)
    lib = open_library(paths, settings)
    ensure_sample_notebook(lib)
    lib.library.close()
    apply_theme(app, theme)
    win = MainWindow(AppContext(paths, settings))
    # its default size, fitted to the 1280x800 screen with the title bar (as users get it)
    win.move(0, 0)
    win.show()
    return win


def chat_flagged(theme: str = "light") -> int:
    """A generated answer in the chat on the sample notebook, with its citation chips, the list of its sources
    (links) and a sentence the sources do not support marked: chat-flagged.png (``theme`` "dark":
    chat-flagged-dark.png). The built-in demo model writes no such answer, so a stored chat is reopened.

    Run: scripts/screenshots.sh --chat-flagged [--dark]
    """
    from PySide6.QtWidgets import QApplication

    from notebooklm_local.core.chat_store import ChatStore

    win = _sample_window(theme)
    _settle(lambda: win.chat_pane.notebook_id is not None and win.library is not None, timeout=60)
    panel = win.chat_pane
    cites = [{"passage_id": 1, "source_title": "quantization-notes", "quote": "Q4_K_M keeps about 4.8 bits per "
              "weight.", "location": "¶2"},
             {"passage_id": 2, "source_title": "A field guide to citation checking", "page": 2, "location": "p. 2",
              "quote": "A 7B model at 4 bits needs about 4 GB."}]
    sentences = [
        {"text": "A 7B model quantized to 4 bits needs about 4 GB of memory [2].", "citations": [2],
         "supported": True, "support": 0.9},
        {"text": "Q4_K_M keeps about 4.8 bits per weight [1].", "citations": [1], "supported": True, "support": 0.8},
        {"text": "It always runs ten times faster on a GPU [1].", "citations": [1], "supported": False,
         "support": 0.1, "flag": "\u201cten times\u201d is not in the cited passage"},
    ]
    store = ChatStore(win.library)
    session = store.create_session(panel.notebook_id, "Memory at 4 bits")
    store.add_message(session.id, "user", "How much memory does a 7B model need at 4 bits, and is it faster on a GPU?")
    store.add_message(session.id, "assistant", " ".join(x["text"] for x in sentences),
                      {"answer": " ".join(x["text"] for x in sentences), "sentences": sentences, "citations": cites,
                       "mode": "generate"})
    panel.load_session(session.id)
    _settle(lambda: panel.session_id == session.id, timeout=30)
    _settle(idle=1.0)
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / ("chat-flagged.png" if theme == "light" else f"chat-flagged-{theme}.png")
    ok = QApplication.primaryScreen().grabWindow(0, 0, 0, 1280, 800).save(str(target))
    win.close()
    print(target)
    return 0 if ok else 1


def dark_main_window() -> int:
    """The main window in the dark theme on the sample notebook: main-window-dark.png."""
    from PySide6.QtWidgets import QApplication

    win = _sample_window("dark")
    _settle(idle=4.0)
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / "main-window-dark.png"
    ok = QApplication.primaryScreen().grabWindow(0, 0, 0, 1280, 800).save(str(target))
    win.close()
    print(target)
    return 0 if ok else 1


def extract_and_quotes(theme: str = "light") -> int:
    """What a user gets with nothing downloaded, on the sample notebook in the real window: a Quotes answer in
    the chat (chat-quotes.png), and the studio's Extract tab: extracted summary, flashcards (revealed), quiz
    (checked), mind map and timeline (studio-extract-summary.png, studio-flashcards.png, studio-quiz.png,
    studio-mindmap.png, studio-timeline.png). ``theme`` "dark" writes the same names with a -dark suffix."""
    from PySide6.QtWidgets import QApplication

    win = _sample_window(theme)
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = "" if theme == "light" else f"-{theme}"
    shots: list[Path] = []

    def grab(name: str) -> None:
        _settle(idle=0.8)
        target = OUT / name.replace(".png", f"{suffix}.png")
        QApplication.primaryScreen().grabWindow(0, 0, 0, 1280, 800).save(str(target))
        shots.append(target)

    _settle(lambda: win.chat_pane.notebook_id is not None and win.library is not None, timeout=60)
    panel = win.chat_pane
    panel.set_mode("auto")
    panel.input.setPlainText("How much memory does a 7B model need at 4 bits?")
    panel.send()
    _settle(lambda: not panel.busy and panel.last_result is not None, timeout=120)
    grab("chat-quotes.png")
    tab = win.studio_pane.extract_tab
    win.studio_pane.tabs.setCurrentWidget(tab)

    def make(kind: str, count: int | None = None) -> None:
        tab.kind_box.setCurrentIndex(tab.kind_box.findData(kind))
        if count is not None:
            tab.count_box.setValue(count)
        tab.make()
        _settle(lambda: not win.studio_pane.tab_busy(tab), timeout=60)

    make("extract_summary")
    grab("studio-extract-summary.png")
    make("flashcards", 12)
    tab.cards_view.show_card(1)
    tab.cards_view.reveal()
    grab("studio-flashcards.png")
    make("quiz", 8)
    qv = tab.quiz_view
    if qv.questions:
        q = qv.questions[0]
        qv.options[q.correct].click()
    grab("studio-quiz.png")
    make("mindmap")
    # give the map room: collapse the chat panel for this shot
    win.toggle_chat_action.setChecked(False)
    _settle(idle=0.5)
    tab.map_view.fit()
    grab("studio-mindmap.png")
    # the timeline needs dated sources (the sample has none): a short dated note is pasted first
    from notebooklm_local.core.documents import SourceRef

    svc = tab.library_service()
    nb_name = svc.library.notebook(win.studio_pane.notebook_id).name
    svc.add(nb_name, [SourceRef(text=MILESTONES, title="Local LLM milestones")])
    win.sources_pane.reload()
    win.studio_pane.set_notebook(win.studio_pane.notebook_id, None)
    make("timeline")
    tab.table_view.table.selectRow(2)
    grab("studio-timeline.png")
    win.close()
    for t in shots:
        print(t)
    return 0 if len(shots) == 6 else 1


def written_studio(theme: str = "light") -> int:
    """The Extract tab's *Write with the model* outputs in the real window on the sample notebook: a quiz in
    progress (a question answered and revealed: studio-quiz-written.png) and a generated mind map
    (studio-mindmap-written.png). The built-in demo model writes nothing that passes the checks, so the outputs
    are made with a scripted engine that writes faithful JSON (tests/services/test_written_studio.py), checked
    and stored by the real code, then opened from the history as a user would.

    Run: scripts/screenshots.sh --written
    """
    from PySide6.QtWidgets import QApplication

    os.environ.setdefault("NOTEBOOKLM_LOCAL_HOME", tempfile.mkdtemp(prefix="nbl-shots-"))
    sys.path.insert(0, str(REPO))
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.core.templates import TemplateStore
    from notebooklm_local.extensions.sample import ensure_sample_notebook
    from notebooklm_local.services.studio.service import StudioService
    from notebooklm_local.workspace import open_library, resources_dir
    from tests.helpers.scripted_engine import ScriptedEngine
    from tests.services.test_written_studio import good_cards, nice_map

    paths = app_paths().ensure()
    lib = open_library(paths, Settings())
    ensure_sample_notebook(lib)
    nb = lib.library.notebooks()[0]
    engine = ScriptedEngine(fallback=lambda m, sc: nice_map(m, sc) if "concepts" in sc["properties"] else
                            good_cards(m, sc))
    studio = StudioService(lib, engine, TemplateStore(resources_dir() / "templates", paths.data / "tpl-shots"))
    quiz = studio.written("quiz", nb.id, count=6, difficulty="medium").output
    mind = studio.written("mindmap", nb.id).output
    lib.library.close()

    win = _sample_window(theme)
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = "" if theme == "light" else f"-{theme}"
    shots: list[Path] = []

    def grab(name: str) -> None:
        _settle(idle=0.8)
        target = OUT / name.replace(".png", f"{suffix}.png")
        QApplication.primaryScreen().grabWindow(0, 0, 0, 1280, 800).save(str(target))
        shots.append(target)

    pane = win.studio_pane
    tab = pane.extract_tab
    _settle(lambda: pane.notebook_id is not None and win.library is not None, timeout=60)
    pane.tabs.setCurrentWidget(tab)
    pane.open_output(quiz)
    qv = tab.quiz_view
    q0 = qv.questions[0]
    qv.answer(q0.correct)
    qv.next()
    q1 = qv.questions[1]
    qv.answer((q1.correct + 1) % len(q1.options))  # a wrong answer: the right one is shown, with its passage
    grab("studio-quiz-written.png")
    win.toggle_chat_action.setChecked(False)
    pane.open_output(mind)
    _settle(idle=0.5)
    tab.map_view.fit()
    grab("studio-mindmap-written.png")
    win.close()
    for t in shots:
        print(t)
    return 0 if len(shots) == 2 else 1


MILESTONES = """The Transformer architecture was introduced in June 2017 (Vaswani et al., 2017).

Google released BERT in October 2018. GPT-3, with 175B parameters, was described in May 2020.

Retrieval-augmented generation was proposed by Lewis et al. in 2020.

Georgi Gerganov published llama.cpp in March 2023, and the GGUF file format replaced GGML in August 2023.

Meta released Llama 2 in July 2023; Mistral 7B followed in September 2023.

Google published Gemma 3 on 12 March 2025, including a 270M model small enough for any laptop."""


def plugins_dialog_shot() -> int:
    """The Plugins dialog: the bundled plugins plus one broken user plugin (selected, its traceback shown):
    plugins-dialog.png.
    """
    os.environ.setdefault("NOTEBOOKLM_LOCAL_HOME", tempfile.mkdtemp(prefix="nbl-shots-"))
    import textwrap


    sys.path.insert(0, str(REPO))
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import load_settings
    from notebooklm_local.extensions.manager import PluginManager
    from notebooklm_local.ui.application import create_application
    from notebooklm_local.ui.plugins_dialog import PluginsDialog

    _app = create_application()  # kept: the QApplication lives as long as this reference
    paths = app_paths().ensure()
    settings = load_settings(paths.settings_file)
    broken = paths.plugins / "word_counter"
    broken.mkdir(parents=True, exist_ok=True)
    (broken / "plugin.toml").write_text(
        'id = "word-counter"\nname = "Word counter"\nversion = "0.2.0"\napi = ["1"]\n'
        'description = "Counts the words of every source (a user plugin with a bug)."\nauthor = "A. User"\n',
        encoding="utf-8")
    (broken / "__init__.py").write_text(textwrap.dedent('''
        def register(api):
            limits = api.settings.get("limits")
            api.register_action(limits["max_words"])
    '''), encoding="utf-8")
    manager = PluginManager(paths, settings, safe_mode=False)
    manager.load_all()
    dlg = PluginsDialog(manager)
    dlg.resize(1000, 600)
    dlg.move(0, 0)
    dlg.show()
    dlg.select("word-counter")
    _settle(idle=0.5)
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / "plugins-dialog.png"
    ok = dlg.grab().save(str(target))
    dlg.close()
    print(target)
    return 0 if ok else 1


if __name__ == "__main__":
    if "--chat-goal" in sys.argv[1:]:
        from screenshot_chat_goal import chat_goal

        sys.exit(chat_goal("dark" if "--dark" in sys.argv[1:] else "light"))
    THEME = "dark" if "--dark" in sys.argv[1:] else "light"
    if "--audio-formats" in sys.argv[1:]:
        from screenshot_audio_formats import audio_formats

        sys.exit(audio_formats(THEME))
    if "--chat-flagged" in sys.argv[1:]:
        sys.exit(chat_flagged(THEME))
    if "--studio" in sys.argv[1:] and THEME == "dark":
        sys.exit(studio_and_notes(THEME))
    if "--dialogs" in sys.argv[1:] and THEME == "dark":
        sys.exit(dialogs(THEME))
    if "--written" in sys.argv[1:]:
        sys.exit(written_studio(THEME))
    if "--extract" in sys.argv[1:]:
        sys.exit(extract_and_quotes("dark" if "--dark" in sys.argv[1:] else "light"))
    if "--dark" in sys.argv[1:]:
        sys.exit(dark_main_window())
    if "--plugins" in sys.argv[1:]:
        sys.exit(plugins_dialog_shot())
    if "--studio" in sys.argv[1:]:
        sys.exit(studio_and_notes())
    if "--dialogs" in sys.argv[1:]:
        sys.exit(dialogs())
    if "--source-viewer" in sys.argv[1:]:
        sys.exit(source_viewer())
    sys.exit(main())
