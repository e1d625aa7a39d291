"""The Sources pane on the real stack: adding (files, folders, web pages, pasted text) reaches ready with the
real embedder; bad input gets a message, a failed source a Retry; remove asks; rename and selection persist;
a running source can be cancelled.

One library, ingest controller and embedder are shared by the module (the model loads once); each test
works in its own notebook.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from notebooklm_local.core.library import Library
from notebooklm_local.core.paths import AppPaths, resources_dir
from notebooklm_local.core.settings import Settings
from tests.helpers.static_site import serve_pages

pytestmark = [pytest.mark.gui, pytest.mark.model]

SAMPLE = resources_dir() / "sample"
PAGE = (b"<html><head><title>Balcony herbs</title></head><body><article><h1>Balcony herbs</h1>"
        b"<p>Basil, thyme and rosemary grow well in pots on a sunny balcony. Water them in the morning and "
        b"pinch the basil flowers off so that the leaves stay tender all summer long.</p></article></body></html>")


# ---------------------------------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """A web site on 127.0.0.1 (the web loader fetches loopback; nothing leaves the machine)."""
    with serve_pages({"/herbs": PAGE}) as url:
        yield url


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(autouse=True)
def _no_error_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Nothing may log an error (an exception a slot swallowed, a crash in a worker)."""
    caplog.set_level(logging.WARNING, logger="notebooklm_local")
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("notebooklm_local")]
    assert not errors, [r.getMessage() for r in errors]


@pytest.fixture(scope="module")
def world(qapp: Any, tmp_path_factory: pytest.TempPathFactory, tiny_model_path: Path) -> Iterator[SimpleNamespace]:
    from notebooklm_local.ui.ingest import IngestController
    from notebooklm_local.ui.workers import Lanes
    from notebooklm_local.workspace import open_library

    root = tmp_path_factory.mktemp("sources-pane")
    paths = AppPaths(root / "config", root / "data", root / "cache", root / "logs").ensure()
    model = paths.data / "models" / tiny_model_path.name
    model.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(tiny_model_path, model)
    except OSError:
        shutil.copyfile(tiny_model_path, model)
    settings = Settings()
    lanes = Lanes()
    ingest = IngestController(lanes, lambda: open_library(paths, settings))
    library = Library(paths.data / "library.db")
    yield SimpleNamespace(paths=paths, settings=settings, lanes=lanes, ingest=ingest, library=library)
    ingest.shutdown()
    lanes.shutdown(5000)
    ingest.close_service()
    library.close()


@pytest.fixture
def pane(qtbot: Any, world: SimpleNamespace, request: pytest.FixtureRequest) -> Any:
    """A shown Sources pane on a fresh notebook of the shared library."""
    from notebooklm_local.ui.sources_pane import SourcesPane

    nb = world.library.create_notebook(request.node.name[:150])
    p = SourcesPane(ingest=world.ingest)
    qtbot.addWidget(p)
    p.resize(380, 700)
    p.set_sources(world.library, [], nb.id)
    p.show()
    qtbot.waitExposed(p)
    p.nb = nb
    return p


def _sources(world: SimpleNamespace, pane: Any) -> list[Any]:
    return world.library.sources(pane.nb.id)


def _wait_idle(qtbot: Any, world: SimpleNamespace, timeout: int = 60000) -> None:
    qtbot.waitUntil(lambda: not world.ingest.busy, timeout=timeout)


def _wait_status(qtbot: Any, world: SimpleNamespace, pane: Any, expected: dict[str, str], timeout: int = 60000) -> None:
    """Wait until the sources titled like the keys have the statuses given (and the pane shows them)."""

    def check() -> None:
        got = {s.title or Path(s.ref.get("path", "")).name or s.ref.get("url"): s.status for s in _sources(world, pane)}
        for k, v in expected.items():
            assert got.get(k) == v, got
        assert not world.ingest.busy

    qtbot.waitUntil(check, timeout=timeout)


def _click(qtbot: Any, pane: Any, pos: QPoint) -> None:
    qtbot.mouseClick(pane.list.viewport(), Qt.MouseButton.LeftButton, pos=pos)


@pytest.fixture(autouse=True)
def _no_modal_boxes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Errors are shown in the pane, never in a storm of message boxes: any unexpected box fails the test."""
    shown: list[str] = []

    def fail(*args: Any, **kwargs: Any) -> Any:
        shown.append(str(args[2] if len(args) > 2 else args))
        raise AssertionError(f"unexpected message box: {shown[-1]}")

    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(fail))
    return shown


# ---------------------------------------------------------------------------------------------------------------------
# adding
# ---------------------------------------------------------------------------------------------------------------------


def test_files_and_a_folder_reach_ready_and_are_selected(qtbot: Any, world: SimpleNamespace, pane: Any,
                                                         tmp_path: Path) -> None:
    md = tmp_path / "garden.md"
    md.write_text("# Garden\n\nCompost needs air, water and a mix of green and brown material.", encoding="utf-8")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("Apples keep for months in a cool cellar.", encoding="utf-8")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.md").write_text("# Bees\n\nBees need water near the hive.", encoding="utf-8")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    with qtbot.waitSignal(pane.selection_changed, timeout=60000, check_params_cb=lambda ids: len(ids) == 4):
        assert pane.add_items([str(SAMPLE / "quantization-notes.txt"), str(md), str(folder)])
    _wait_status(qtbot, world, pane, {"quantization-notes": "ready", "Garden": "ready", "a": "ready", "Bees": "ready"})
    assert pane.list.count() == 4
    assert sorted(pane.selected_ids()) == sorted(s.id for s in _sources(world, pane))
    for s in _sources(world, pane):
        state, detail, action = pane.row_state(s.id)
        assert state == "ready" and "passage" in detail and action is None  # text: passages (PDFs say pages)
        assert s.selected
    assert any("Skipped 1 file" in n and ".jpg" in n for n in pane.notices())
    assert "4 sources, 4 ready, 4 selected" in pane.summary.text()
    svc = world.ingest.opened_service  # every chunk has its vector in the index
    assert len(svc.index.ids(pane.nb.id)) == sum(s.n_chunks for s in _sources(world, pane)) >= 4
    hits = svc.search(pane.nb.id, "apples in a cool cellar")
    assert hits and hits[0].source.title == "a"


def test_web_page_from_the_url_dialog_reaches_ready(qtbot: Any, world: SimpleNamespace, pane: Any, site: str) -> None:
    pane.add_url_dialog()
    dlg = pane.url_dialog
    assert dlg is not None and dlg.isVisible()
    dlg.edit.setPlainText("this is not a link")
    assert not dlg.ok_button.isEnabled() and "not a web address" in dlg.message.text()
    dlg.edit.setPlainText(f"{site}/herbs")
    assert dlg.ok_button.isEnabled()
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    _wait_status(qtbot, world, pane, {"Balcony herbs": "ready"})
    (src,) = _sources(world, pane)
    assert src.kind == "web" and src.ref["url"] == f"{site}/herbs"
    assert pane.row_state(src.id)[0] == "ready"


def test_pasted_text_from_the_dialog_reaches_ready(qtbot: Any, world: SimpleNamespace, pane: Any) -> None:
    pane.paste_text_dialog()
    dlg = pane.paste_dialog
    assert dlg is not None and not dlg.ok_button.isEnabled()
    dlg.title_edit.setText("Meeting notes")
    dlg.text_edit.setPlainText("We agreed to move the release to Friday and to write the changelog first.")
    assert dlg.ok_button.isEnabled() and "words" in dlg.counter.text()
    dlg.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    _wait_status(qtbot, world, pane, {"Meeting notes": "ready"})
    (src,) = _sources(world, pane)
    assert src.kind == "paste"
    text, _ = world.library.source_text(src.id)
    assert "changelog" in text


def test_rejected_inputs_get_a_message_each_and_nothing_crashes(qtbot: Any, world: SimpleNamespace, pane: Any,
                                                                tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "empty.md").write_bytes(b"")
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    (nothing / "x.exe").write_bytes(b"MZ")
    with socket.socket() as s:  # a port nobody listens on: connection refused at once
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/page"
    messages: list[str] = []
    pane.notice_posted.connect(messages.append)
    pane.add_items([str(tmp_path / "photo.jpg"), str(tmp_path / "empty.md"), str(nothing), dead])
    assert not pane.handle_drop(_text_mime("just some words, no link"))
    _wait_status(qtbot, world, pane, {"empty.md": "failed", dead: "failed"})
    notices = "\n".join(pane.notices())
    assert "photo.jpg" in notices and "unsupported file type .jpg" in notices
    assert "nothing" in notices and "no files that can be added" in notices
    assert "“just some words, no link” is not a web address, file or folder" in notices
    by_title = {s.title or Path(s.ref.get("path", "")).name or s.ref["url"]: s for s in _sources(world, pane)}
    assert set(by_title) == {"empty.md", dead}  # the rejected ones never became sources
    state, detail, action = pane.row_state(by_title["empty.md"].id)
    assert state == "failed" and "empty (0 bytes)" in detail and action == "retry"
    state, detail, action = pane.row_state(by_title[dead].id)
    assert state == "failed" and "unreachable" in detail and action == "retry"
    assert any("empty (0 bytes)" in m for m in messages)  # failures reach the status bar too
    assert pane.notice_frame.isVisible()
    pane.notice_close.click()
    assert not pane.notice_frame.isVisible() and pane.notices() == []


def test_failed_file_shows_its_error_and_retry_after_fixing_it_makes_it_ready(
    qtbot: Any, world: SimpleNamespace, pane: Any, tmp_path: Path
) -> None:
    bad = tmp_path / "draft.md"
    bad.write_bytes(b"")
    pane.add_items([str(bad)])
    _wait_status(qtbot, world, pane, {"draft.md": "failed"})
    (src,) = _sources(world, pane)
    assert "empty (0 bytes)" in (src.error or "")
    item = pane.list.item(0)
    assert item.text().startswith("⚠") and "failed" in item.text()
    assert "empty (0 bytes)" in item.toolTip()
    bad.write_text("# Draft\n\nThe draft now has text about tidal energy.", encoding="utf-8")
    rect = pane.button_rect(src.id)
    assert rect.isValid()
    _click(qtbot, pane, rect.center())  # the row's Retry button
    _wait_status(qtbot, world, pane, {"Draft": "ready"})
    assert pane.row_state(src.id)[0] == "ready"
    assert world.library.source(src.id).error is None


def test_duplicates_are_reported_like_the_library_service_does(qtbot: Any, world: SimpleNamespace, pane: Any) -> None:
    notes = str(SAMPLE / "quantization-notes.txt")
    pane.add_items([notes])
    _wait_status(qtbot, world, pane, {"quantization-notes": "ready"})
    pane.add_items([notes])
    qtbot.waitUntil(lambda: any("already in the notebook" in n for n in pane.notices()), timeout=60000)
    _wait_idle(qtbot, world)
    assert len(_sources(world, pane)) == 1 and pane.list.count() == 1
    assert "quantization-notes.txt is already in the notebook as “quantization-notes”" in pane.notices()[-1]


# ---------------------------------------------------------------------------------------------------------------------
# per-source actions
# ---------------------------------------------------------------------------------------------------------------------


def _add_two(qtbot: Any, world: SimpleNamespace, pane: Any, tmp_path: Path) -> list[Any]:
    (tmp_path / "one.md").write_text("# One\n\nThe first note is about rivers.", encoding="utf-8")
    (tmp_path / "two.md").write_text("# Two\n\nThe second note is about mountains.", encoding="utf-8")
    pane.add_items([str(tmp_path / "one.md"), str(tmp_path / "two.md")])
    _wait_status(qtbot, world, pane, {"One": "ready", "Two": "ready"})
    return _sources(world, pane)


def test_remove_asks_first_and_removes_several_at_once(qtbot: Any, world: SimpleNamespace, pane: Any,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one, two = _add_two(qtbot, world, pane, tmp_path)
    asked: list[str] = []
    answer = [QMessageBox.StandardButton.Cancel]

    def question(parent: Any, title: str, text: str, *args: Any) -> Any:
        asked.append(text)
        return answer[0]

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    pane.list.item(0).setSelected(True)
    pane.list.item(1).setSelected(True)
    pane.remove_highlighted()
    assert asked and "Remove 2 sources" in asked[-1]
    assert len(_sources(world, pane)) == 2 and pane.list.count() == 2  # cancelled: nothing removed
    answer[0] = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(world.ingest.sources_changed, timeout=30000):
        pane.remove_highlighted()
    assert pane.list.count() == 0
    assert _sources(world, pane) == []
    svc = world.ingest.opened_service
    assert not (svc.index.ids(pane.nb.id))  # the vectors are gone too
    pane.remove([one.id, two.id])  # already gone: nothing to ask, nothing breaks
    assert len(asked) == 2


def test_rename_persists_and_the_context_menu_offers_the_actions(
    qtbot: Any, world: SimpleNamespace, pane: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, _two = _add_two(qtbot, world, pane, tmp_path)
    menu = pane.context_menu(one.id)
    texts = [a.text().replace("&", "") for a in menu.actions() if a.text()]
    assert texts[:2] == ["Open", "Show file"]
    assert "Rename…" in texts and "Re-index" in texts and "Remove…" in texts
    opened: list[str] = []
    pane.open_requested.connect(opened.append)
    menu.actions()[0].trigger()
    assert opened == [one.id]
    shown: list[QUrl] = []
    monkeypatch.setattr("notebooklm_local.ui.sources_pane.QDesktopServices.openUrl", lambda url: shown.append(url) or True)
    assert pane.show_file(one.id)
    assert shown and shown[0].toLocalFile() == str(tmp_path)
    monkeypatch.setattr("notebooklm_local.ui.sources_pane.ask_text", lambda *a, **k: ("Rivers of Europe", True))
    pane.list.setCurrentRow(0)
    pane.rename_current()
    assert world.library.source(one.id).title == "Rivers of Europe"
    assert pane.list.item(0).text().startswith("Rivers of Europe")
    fresh = Library(world.paths.data / "library.db")  # persisted, not just shown
    try:
        assert fresh.source(one.id).title == "Rivers of Europe"
    finally:
        fresh.close()


def test_checkboxes_persist_and_emit_and_select_all_none(qtbot: Any, world: SimpleNamespace, pane: Any,
                                                         tmp_path: Path) -> None:
    one, two = _add_two(qtbot, world, pane, tmp_path)
    with qtbot.waitSignal(pane.selection_changed) as sig:
        _click(qtbot, pane, pane.check_rect(one.id).center())
    assert sig.args[0] == [two.id]
    assert world.library.source(one.id).selected is False
    with qtbot.waitSignal(pane.selection_changed) as sig:
        pane.select_none_button.click()
    assert sig.args[0] == []
    assert not any(s.selected for s in _sources(world, pane))
    with qtbot.waitSignal(pane.selection_changed) as sig:
        pane.select_all()
    assert sorted(sig.args[0]) == sorted([one.id, two.id])
    assert all(s.selected for s in _sources(world, pane))
    assert "2 selected" in pane.summary.text()


def test_cancel_a_running_source_then_resume_it(qtbot: Any, world: SimpleNamespace, pane: Any, tmp_path: Path) -> None:
    long = tmp_path / "long.md"
    paragraphs = [f"## Part {i}\n\n" + f"Paragraph {i} is about the history of canal number {i}. " * 12
                  for i in range(240)]  # ~240 chunks: the built-in MiniLM needs seconds, time enough to cancel
    long.write_text("# Canals\n\n" + "\n\n".join(paragraphs), encoding="utf-8")
    pane.add_items([str(long)])
    qtbot.waitUntil(lambda: bool(_sources(world, pane)) and world.ingest.live(_sources(world, pane)[0].id) is not None
                    and world.ingest.live(_sources(world, pane)[0].id).text.startswith("Embedding"), timeout=60000)
    (src,) = _sources(world, pane)
    state, detail, action = pane.row_state(src.id)
    assert state == "running" and action == "cancel" and "chunks" in detail
    t0 = time.monotonic()
    with qtbot.waitSignal(world.ingest.source_finished, timeout=10000) as sig:
        _click(qtbot, pane, pane.button_rect(src.id).center())  # the row's Cancel button
    assert time.monotonic() - t0 < 3
    assert sig.args[1] == "stopped"
    _wait_idle(qtbot, world)
    qtbot.waitUntil(lambda: pane.row_state(src.id)[0] == "unfinished")
    assert world.library.source(src.id).status != "ready"
    assert pane.row_state(src.id)[2] == "resume"
    pane.resume_unfinished()
    _wait_status(qtbot, world, pane, {"Canals": "ready"}, timeout=180000)
    svc = world.ingest.opened_service
    assert svc.library.count_unembedded(src.id, svc.index.model_id) == 0


def test_reindex_reads_the_file_again(qtbot: Any, world: SimpleNamespace, pane: Any, tmp_path: Path) -> None:
    one, _two = _add_two(qtbot, world, pane, tmp_path)
    (tmp_path / "one.md").write_text("# One\n\nThe first note is now about lakes.", encoding="utf-8")
    pane.reindex([one.id])
    qtbot.waitUntil(lambda: "lakes" in world.library.source_text(one.id)[0], timeout=60000)
    _wait_status(qtbot, world, pane, {"One": "ready"})
    svc = world.ingest.opened_service
    hits = svc.search(pane.nb.id, "lakes", k=1)
    assert hits and hits[0].source.id == one.id
    assert len(svc.index.ids(pane.nb.id)) == sum(s.n_chunks for s in _sources(world, pane))  # no stale vectors


# ---------------------------------------------------------------------------------------------------------------------
# pure helpers (no model needed, but cheap)
# ---------------------------------------------------------------------------------------------------------------------


def _text_mime(text: str) -> QMimeData:
    m = QMimeData()
    m.setText(text)
    return m


def test_items_from_dropped_text(tmp_path: Path) -> None:
    from notebooklm_local.ui.sources_pane import items_from_mime, items_from_text

    f = tmp_path / "a b.md"
    f.write_text("x", encoding="utf-8")
    assert items_from_text("hello world") == []
    assert items_from_text("see https://example.com/a?b=1, and www.example.org.") == [
        "https://example.com/a?b=1", "https://www.example.org"]
    assert items_from_text(f"{f}\nfile://{f}\n'{f}'") == [str(f)]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f)), QUrl("https://example.com/x"), QUrl("mailto:someone@example.com")])
    assert items_from_mime(mime) == [str(f), "https://example.com/x"]
    assert items_from_mime(_text_mime(f"https://example.com/x\n{tmp_path}")) == ["https://example.com/x", str(tmp_path)]


def test_url_dialogs_check_what_is_typed(qtbot: Any) -> None:
    from notebooklm_local.ui.add_source_dialogs import AddUrlDialog

    web = AddUrlDialog("web")
    qtbot.addWidget(web)
    web.edit.setPlainText("example.com/article\nftp://example.com/file")
    assert not web.ok_button.isEnabled() and "Line 2" in web.message.text()
    web.edit.setPlainText("example.com/article\n\nhttp://127.0.0.1:8000/x\nexample.com/article")
    assert web.ok_button.isEnabled()
    assert web.urls() == ["https://example.com/article", "http://127.0.0.1:8000/x"]
    yt = AddUrlDialog("youtube")
    qtbot.addWidget(yt)
    yt.edit.setPlainText("https://example.com/watch?v=abc")
    assert not yt.ok_button.isEnabled() and "not a YouTube video link" in yt.message.text()
    yt.edit.setPlainText("https://youtu.be/dQw4w9WgXcQ\ndQw4w9WgXcQ")
    assert yt.ok_button.isEnabled() and len(yt.urls()) == 2


def test_a_ready_row_says_pages_for_a_pdf_and_duration_for_a_transcript() -> None:
    from notebooklm_local.ui.sources_pane import _size_of

    class S:  # the fields _size_of reads
        def __init__(self, meta: dict, n_chunks: int = 3) -> None:
            self.meta, self.n_chunks = meta, n_chunks

    assert _size_of(S({"pages": 12})) == "12 pages" and _size_of(S({"pages": 1})) == "1 page"
    assert _size_of(S({"duration": 754.2})) == "12:34" and _size_of(S({"duration": 3725})) == "1:02:05"
    assert _size_of(S({})) == "3 passages" and _size_of(S({}, 1)) == "1 passage"


def test_extensionless_text_files_are_added_and_binary_ones_skipped(qtbot: Any, world: SimpleNamespace, pane: Any,
                                                                     tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "NEWS").write_text("Version 2 adds folders.\n\nVersion 1 was the first release.\n", encoding="utf-8")
    (folder / "prog").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    single = tmp_path / "README"
    single.write_text("Read me first: the notebook keeps its sources on this computer.\n", encoding="utf-8")
    pane.add_items([str(single), str(folder)])
    _wait_status(qtbot, world, pane, {"README": "ready", "NEWS": "ready"})
    notices = "\n".join(pane.notices())
    assert "Skipped 1 file" in notices and "no extension" in notices
    assert {s.kind for s in _sources(world, pane)} == {"text"}
    assert "README" in pane._file_filter().split(";;")[0]
