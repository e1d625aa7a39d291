"""Issue 20 in the window: the size question before long embedding (continue / keyword search only / cancel,
asked on the GUI thread while the store lane waits), a full disk and a damaged library shown as clear
errors, and the template fallback notice.

The size question is forced by lowering ``LibraryService.large_embed_s`` to 0 s, so a source of more than
one embedding batch (16 chunks) asks after its first batch, with the real built-in embedder.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from notebooklm_local.core.context import AppContext
from notebooklm_local.core.library import Library, SourceStatus
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings
from notebooklm_local.ui.errors import ErrorDialog
from tests.ui.helpers import open_window

pytestmark = pytest.mark.gui


@pytest.fixture
def ctx(app_home: Path) -> AppContext:
    return AppContext(app_paths().ensure(), Settings())




def _long_file(tmp_path: Path) -> Path:
    long = tmp_path / "canals.md"
    long.write_text("# Canals\n\n" + "\n\n".join(
        f"## Part {i}\n\n" + f"Paragraph {i} is about the history of canal number {i}. " * 14 for i in range(40)),
        encoding="utf-8")
    return long


def _start_large(qtbot: Any, ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    from notebooklm_local.services.library_service import LibraryService

    monkeypatch.setattr(LibraryService, "large_embed_s", 0.0)
    lib = Library(ctx.paths.data / "library.db")
    lib.create_notebook("Reading")
    lib.close()
    win = open_window(qtbot, ctx)
    qtbot.waitUntil(lambda: win.sources_pane.notebook_id is not None, timeout=10000)
    win.sources_pane.add_items([str(_long_file(tmp_path))])
    qtbot.waitUntil(lambda: bool(win._large_questions), timeout=120000)
    (sid, box), = win._large_questions.items()
    return win, (sid, box)


def _button(box: QMessageBox, name: str) -> Any:
    return next(b for b in box.buttons() if b.objectName() == name)


def test_large_source_asks_and_keyword_only_skips_embedding(
    qtbot: Any, ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    win, (sid, box) = _start_large(qtbot, ctx, tmp_path, monkeypatch)
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert "“Canals” has 40 passages" in box.text() and "passages" in box.text() and "on this computer" in box.text()
    assert {b.text() for b in box.buttons()} == {"Continue", "Keyword search only", "Cancel"}
    # the GUI thread is free while the store lane waits for the answer: events are processed, the lane waits
    assert win.ingest.pending_question(sid) is not None
    t0 = time.monotonic()
    QApplication.processEvents()
    assert time.monotonic() - t0 < 0.5
    assert win.ingest.live(sid).text.startswith("Large source: waiting")
    qtbot.mouseClick(_button(box, "large-lexical"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not win.ingest.busy, timeout=60000)
    src = win.library.source(sid)
    assert src.status == SourceStatus.READY
    svc = win.ingest.opened_service
    assert svc is not None and svc.index is not None
    total = svc.library.query("SELECT count(*) FROM chunks WHERE source_id = ?", (sid,))[0][0]
    left = svc.library.count_unembedded(sid, svc.index.model_id)
    assert total > 16 and 0 < left < total  # the first batch was embedded, the rest was skipped
    win.close()


def test_large_source_cancel_removes_it_and_continue_embeds_all(
    qtbot: Any, ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    win, (sid, box) = _start_large(qtbot, ctx, tmp_path, monkeypatch)
    qtbot.mouseClick(_button(box, "large-cancel"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not win.ingest.busy, timeout=60000)
    nb = win.sources_pane.notebook_id
    assert win.library.sources(nb) == []  # cancelled: not added
    assert "1 cancelled" in win.statusBar().currentMessage()
    # the same file again, answered Continue: every chunk is embedded
    win.sources_pane.add_items([str(tmp_path / "canals.md")])
    qtbot.waitUntil(lambda: bool(win._large_questions), timeout=120000)
    (sid2, box2), = win._large_questions.items()
    qtbot.mouseClick(_button(box2, "large-continue"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not win.ingest.busy, timeout=180000)
    svc = win.ingest.opened_service
    assert win.library.source(sid2).status == SourceStatus.READY
    assert svc.library.count_unembedded(sid2, svc.index.model_id) == 0
    win.close()


def test_stopping_a_source_while_its_size_question_is_open_ends_the_wait(
    qtbot: Any, ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    win, (sid, box) = _start_large(qtbot, ctx, tmp_path, monkeypatch)
    assert win.ingest.cancel(sid)
    qtbot.waitUntil(lambda: not win.ingest.busy, timeout=10000)
    assert sid not in win._large_questions and not (shiboken6.isValid(box) and box.isVisible())
    assert win.library.source(sid).status != SourceStatus.READY  # stopped where it was: resume finishes it
    win.close()


def test_closing_the_window_while_the_size_question_is_open_does_not_hang(
    qtbot: Any, ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    win, _ = _start_large(qtbot, ctx, tmp_path, monkeypatch)
    t0 = time.monotonic()
    win.close()
    assert time.monotonic() - t0 < 3.5
    qtbot.waitUntil(lambda: not win.ingest.busy, timeout=10000)


def test_disk_full_while_adding_is_an_error_dialog_and_a_status_message(
    qtbot: Any, ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import notebooklm_local.ui.ingest as ingest_mod

    lib = Library(ctx.paths.data / "library.db")
    lib.create_notebook("Reading")
    lib.close()
    win = open_window(qtbot, ctx)
    qtbot.waitUntil(lambda: win.sources_pane.notebook_id is not None, timeout=10000)
    monkeypatch.setattr(ingest_mod, "free_space", lambda _p: 1_000_000)  # 1 MB free: below the floor
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nA short note.", encoding="utf-8")
    win.sources_pane.add_items([str(note)])
    qtbot.waitUntil(lambda: getattr(win, "error_dialog", None) is not None and win.error_dialog.isVisible(),
                    timeout=30000)
    assert win.error_dialog.windowTitle() == "The disk is full"
    assert win.error_dialog.message.startswith("The disk is full: ") and "MB free" in win.error_dialog.message
    assert "Traceback" not in win.error_dialog.message
    assert "disk is full" in win.statusBar().currentMessage()
    assert win.library.sources(win.sources_pane.notebook_id) == []
    win.error_dialog.close()
    win.close()


def test_disk_full_during_indexing_stops_the_queue_with_one_dialog(
    qtbot: Any, ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notebooklm_local.core.library_care import disk_full_error
    from notebooklm_local.services.library_service import LibraryService

    real = LibraryService.process

    def full(self: Any, source_id: str, **kw: Any) -> Any:
        raise disk_full_error(self.data_dir, OSError(28, "No space left on device"))

    monkeypatch.setattr(LibraryService, "process", full)
    lib = Library(ctx.paths.data / "library.db")
    lib.create_notebook("Reading")
    lib.close()
    win = open_window(qtbot, ctx)
    qtbot.waitUntil(lambda: win.sources_pane.notebook_id is not None, timeout=10000)
    files = []
    for i in range(3):
        f = tmp_path / f"note{i}.md"
        f.write_text(f"# Note {i}\n\nA short note number {i}.", encoding="utf-8")
        files.append(str(f))
    finished: list[tuple[str, str]] = []
    win.ingest.source_finished.connect(lambda sid, outcome, _m: finished.append((sid, outcome)))
    win.sources_pane.add_items(files)
    qtbot.waitUntil(lambda: not win.ingest.busy and len(finished) == 3, timeout=30000)
    assert sorted(o for _s, o in finished) == ["failed", "stopped", "stopped"]  # the queue stopped after one
    dialogs = [w for w in win.findChildren(ErrorDialog) if w.isVisible()]
    assert len(dialogs) == 1 and dialogs[0].windowTitle() == "The disk is full"
    assert "Nothing was lost" in dialogs[0].message
    monkeypatch.setattr(LibraryService, "process", real)
    dialogs[0].close()
    win.close()


def test_a_damaged_library_is_a_clear_error_at_start(qtbot: Any, ctx: AppContext) -> None:
    db = ctx.paths.data / "library.db"
    lib = Library(db)
    lib.create_notebook("Reading")
    lib.close()
    data = bytearray(db.read_bytes())
    data[:16] = b"not a database!!"
    db.write_bytes(bytes(data))
    from notebooklm_local.ui.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: getattr(win, "error_dialog", None) is not None and win.error_dialog.isVisible(),
                    timeout=10000)
    assert win.library is None
    assert win.error_dialog.windowTitle() == "The library is damaged"
    assert "notebooklm-local repair" in win.error_dialog.message and "Traceback" not in win.error_dialog.message
    assert "damaged" in win.statusBar().currentMessage()
    assert list(db.parent.glob("library.db.damaged-*"))  # kept aside
    win.error_dialog.close()
    win.close()


def test_a_replaced_user_template_is_shown_in_the_chat_panel_and_status_bar(
    qtbot: Any, ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken edited chat template: the answer still comes (the default is used) and the window says so."""
    from notebooklm_local.services.chat import ChatService
    from notebooklm_local.ui.main_window import MainWindow
    from notebooklm_local.workspace import template_store
    from tests.helpers.studio_world import make_world
    from tests.ui.test_chat_panel import ANSWER

    ctx.paths.templates.mkdir(parents=True, exist_ok=True)
    for name in ("chat_answer", "chat_answer_structured"):
        (ctx.paths.templates / f"{name}.toml").write_text(
            f'name = "{name}"\nsystem = "You answer."\nuser = "{{{{ question "\n', encoding="utf-8")
    world = make_world(tmp_path / "docs")
    chat = ChatService(world.lib, world.engine, template_store(ctx.paths), world.settings.chat)
    monkeypatch.setattr(MainWindow, "_make_chat", lambda self: chat)
    win = open_window(qtbot, ctx)
    win.chat_pane.set_mode("generate")
    win.chat_pane.set_notebook(world.notebook_id, [world.source_id])
    world.engine.outputs = [ANSWER]
    win.chat_pane.input.setPlainText("How many bits does Q4_K_M use?")
    with qtbot.waitSignal(win.chat_pane.answer_finished, timeout=20000) as done:
        win.chat_pane.send()
    assert done.args[0].answer.citations  # the answer went through, on the default template
    qtbot.waitUntil(lambda: win.chat_pane.send_button.isEnabled(), timeout=5000)
    shown = win.chat_pane.status.text()
    assert shown.startswith("⚠ Your edited template 'chat_answer") and "using the default" in shown
    assert "Prompt templates" in shown
    assert "was not used" in win.statusBar().currentMessage()
    # said once: the next answer does not repeat it
    world.engine.outputs = [ANSWER]
    win.chat_pane.input.setPlainText("And again?")
    with qtbot.waitSignal(win.chat_pane.answer_finished, timeout=20000):
        win.chat_pane.send()
    qtbot.waitUntil(lambda: win.chat_pane.send_button.isEnabled(), timeout=5000)
    assert not win.chat_pane.status.text().startswith("⚠")
    win.close()


@pytest.mark.model
def test_a_chat_citation_chip_opens_the_cited_pdf_page_highlighted(
    qtbot: Any, ctx: AppContext, installed_model: Path
) -> None:
    """Through the real window: ask the sample notebook in Quotes mode, click the chip of the PDF citation in
    the transcript, and the source viewer shows that PDF at the cited page with the passage highlighted."""
    from notebooklm_local.extensions.sample import SAMPLE_NOTEBOOK, ensure_sample_notebook
    from notebooklm_local.workspace import open_library
    from tests.ui.helpers import click_link, link_hrefs

    lib = open_library(ctx.paths, ctx.settings)
    ensure_sample_notebook(lib)
    lib.library.close()
    win = open_window(qtbot, ctx)
    qtbot.waitUntil(lambda: win.notebook_box.currentText() == SAMPLE_NOTEBOOK, timeout=10000)
    win.chat_pane.set_mode("quotes")
    win.chat_pane.input.setPlainText("What happens to a marker such as [7] when only five passages were provided?")
    with qtbot.waitSignal(win.chat_pane.answer_finished, timeout=120000) as done:
        win.chat_pane.send()
    result = done.args[0]
    assert result.mode == "quotes"
    pdf = [c for c in result.answer.citations if "only five passages were provided" in c.quote]
    assert pdf, [c.quote for c in result.answer.citations]
    cit = pdf[0]
    assert cit.source_title and cit.page == 2
    href = f"cite:1:{cit.passage_id}"
    qtbot.waitUntil(lambda: href in link_hrefs(win.chat_pane.transcript), timeout=5000)
    with qtbot.waitSignal(win.chat_pane.citation_activated, timeout=5000):
        click_link(qtbot, win.chat_pane.transcript, href)
    qtbot.waitUntil(lambda: getattr(win, "source_viewer", None) is not None and win.source_viewer.isVisible(),
                    timeout=10000)
    viewer = win.source_viewer
    view = viewer.pdf_view
    assert view is not None and viewer.tabs.currentWidget() is view  # the page view, not the extracted text
    qtbot.waitUntil(lambda: view.pageNavigator().currentPage() == 1, timeout=10000)  # 0-based: page 2
    assert viewer.page_label.text() == "Page 2 of 4" and viewer.notice_text == ""
    assert viewer.search_model.resultsOnPage(1) and viewer.pdf_match  # the passage is marked on page 2
    assert not viewer.search_model.resultsOnPage(0) and not viewer.search_model.resultsOnPage(3)
    assert " ".join(viewer.highlighted.split()) == " ".join(cit.quote.split())
    assert "p. 2" in viewer.windowTitle()
    viewer.close()
    win.close()
