"""The source viewer: PDFs open at the cited page with the passage highlighted (or a clear fallback to the
extracted text), transcripts show timestamps and a YouTube link at the cited time, find works in both views,
and a 5 MB text opens quickly. Real PDFs (fpdf2) ingested into a lexical-only library; QtPdf offscreen."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from notebooklm_local.core.citations import Citation, format_location
from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.library import Source
from notebooklm_local.services.library_service import LibraryService
from tests.helpers.docs import make_pdf
from tests.services.test_library import make_service

pytestmark = [pytest.mark.gui]

SENTENCE = "The glacier retreated forty metres in the survey year, according to the field team."
PAGES = [
    "Page one is about the method. We walked the moraine twice every summer and logged each marker stone.",
    "Results. " + SENTENCE + " The rest of the page discusses the error bars of those measurements.",
    "Page three lists the references and thanks the hut wardens for the hospitality over ten seasons.",
]
REPO = Path(__file__).resolve().parents[2]
SAMPLE_VTT = REPO / "resources" / "sample" / "talk-local-first-software.vtt"


@pytest.fixture
def service() -> Any:
    svc = make_service(None)
    svc.create_notebook("Field work")
    yield svc
    svc.library.close()


def add(svc: LibraryService, ref: str | SourceRef) -> Source:
    report = svc.add("Field work", [ref])
    assert not report.failed, report.lines()
    return report.added[0]


def citation_for(svc: LibraryService, src: Source, quote: str, *, url: str | None = None) -> Citation:
    """A citation of ``quote`` as the chat would build it: span in the source text, page / time of its chunk."""
    text, _blocks = svc.library.source_text(src.id)
    start = text.index(quote)
    chunk = next(c for c in svc.library.source_chunks(src.id) if c.char_start <= start < c.char_end)
    loc = format_location(chunk.page, chunk.page_end, chunk.t_start, chunk.heading)
    return Citation(1, chunk.id, src.id, src.title, chunk.page, chunk.t_start, start, start + len(quote), quote,
                    loc, url)


def open_viewer(qtbot: Any, svc: LibraryService, src: Source, cit: Citation | None) -> Any:
    from notebooklm_local.ui.source_viewer import SourceViewer

    viewer = SourceViewer.for_source(svc.library, src, cit)
    qtbot.addWidget(viewer)
    viewer.show()
    qtbot.waitExposed(viewer)
    return viewer


def test_pdf_citation_opens_the_cited_page_with_the_passage_highlighted(qtbot: Any, service: Any,
                                                                        tmp_path: Path) -> None:
    src = add(service, str(make_pdf(tmp_path / "glacier.pdf", PAGES)))
    cit = citation_for(service, src, SENTENCE)
    assert cit.page == 2
    viewer = open_viewer(qtbot, service, src, cit)
    view = viewer.pdf_view
    assert view is not None and viewer.tabs.currentWidget() is view
    qtbot.waitUntil(lambda: view.pageNavigator().currentPage() == 1, timeout=5000)
    assert viewer.pdf_page == 1 and viewer.notice_text == "" and viewer.page_label.text() == "Page 2 of 3"
    # the quote was found in page 2's text layer: the search model has it there, with real geometry
    results = viewer.search_model.resultsOnPage(1)
    assert results and viewer.pdf_match and all(r.width() > 0 and r.height() > 0 for r in viewer.pdf_match)
    assert not viewer.search_model.resultsOnPage(0) and not viewer.search_model.resultsOnPage(2)
    qtbot.waitUntil(lambda: view.currentSearchResultIndex() == 0, timeout=5000)  # framed as the current result
    # the highlighted rectangle is inside the visible part of the page view
    def match_top() -> float:
        return view.page_top(1) + viewer.pdf_match[0].top() * view.page_scale(1) - view.verticalScrollBar().value()

    assert 0 <= match_top() < view.viewport().height()
    viewer.resize(520, 420)  # fitting the new width changes page heights: the passage stays in view
    qtbot.waitUntil(lambda: view.viewport().width() < 500, timeout=3000)
    assert 0 <= match_top() < view.viewport().height() and view.pageNavigator().currentPage() == 1
    # the layout arithmetic matches QPdfView's own (page tops after a navigator jump)
    view.pageNavigator().jump(2, view.pageNavigator().currentLocation(), view.zoomFactor())
    assert view.verticalScrollBar().value() == min(view.page_top(2), view.verticalScrollBar().maximum())
    # title, location and the extracted-text tab, highlighted too
    assert "glacier" in viewer.windowTitle() and "p. 2" in viewer.windowTitle()
    assert viewer.highlighted == SENTENCE
    assert viewer.text.extraSelections()[0].cursor.selectedText() == SENTENCE
    assert "[p. 2] Results." in viewer.text.toPlainText()
    assert viewer.page_label.text() == "Page 3 of 3"


def test_pdf_page_keys_move_by_page(qtbot: Any, service: Any, tmp_path: Path) -> None:
    src = add(service, str(make_pdf(tmp_path / "glacier.pdf", PAGES)))
    viewer = open_viewer(qtbot, service, src, None)  # the whole source: page 1, no highlight
    view = viewer.pdf_view
    assert view is not None and viewer.highlighted == "" and viewer.windowTitle() == "glacier"
    qtbot.waitUntil(lambda: viewer.page_label.text() == "Page 1 of 3", timeout=3000)  # the document is laid out
    assert view.pageNavigator().currentPage() == 0
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: view.pageNavigator().currentPage() == 1, timeout=3000)
    assert viewer.page_label.text() == "Page 2 of 3"
    qtbot.keyClick(view, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: view.pageNavigator().currentPage() == 2, timeout=3000)
    qtbot.keyClick(view, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: view.pageNavigator().currentPage() == 1, timeout=3000)
    qtbot.keyClick(view, Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: view.pageNavigator().currentPage() == 0, timeout=3000)


def test_quote_missing_from_the_text_layer_falls_back_to_the_extracted_text(qtbot: Any, service: Any,
                                                                            tmp_path: Path) -> None:
    from notebooklm_local.ui.source_viewer import NOT_IN_TEXT_LAYER

    src = add(service, str(make_pdf(tmp_path / "glacier.pdf", PAGES)))
    cit = citation_for(service, src, SENTENCE)
    cit.quote = "Words the page never printed anywhere at all, not even close."
    text, _ = service.library.source_text(src.id)
    cit.start, cit.end = 0, 0  # a span that is no quote either: the viewer has only the made-up quote
    viewer = open_viewer(qtbot, service, src, cit)
    assert viewer.pdf_view is not None and viewer.pdf_match == []
    assert viewer.notice_text == NOT_IN_TEXT_LAYER and viewer.notice.isVisible()
    assert viewer.tabs.currentWidget() is viewer.text
    qtbot.waitUntil(lambda: viewer.pdf_view.pageNavigator().currentPage() == 1, timeout=5000)  # still at the page
    # the usual case: the span is in the extracted text but (say, a scan with OCR'd text) not in the text layer
    cit2 = citation_for(service, src, SENTENCE)
    cit2.start = text.index("Page three")
    cit2.end = cit2.start + len("Page three lists the references")
    viewer2 = viewer_with_text_not_in_pdf(qtbot, service, src, cit2, quote_override="Zebra quagga okapi gnu tapir")
    assert viewer2.notice_text == NOT_IN_TEXT_LAYER
    assert viewer2.text.extraSelections()[0].cursor.selectedText() == "Zebra quagga okapi gnu tapir"
    viewer2.tabs.setCurrentWidget(viewer2.pdf_view)  # the page view is one click away
    assert viewer2.tabs.currentWidget() is viewer2.pdf_view


def viewer_with_text_not_in_pdf(qtbot: Any, svc: LibraryService, src: Source, cit: Citation, *,
                                quote_override: str) -> Any:
    """A viewer whose extracted text holds ``quote_override`` at the cited span, while the PDF does not."""
    from notebooklm_local.ui.source_viewer import SourceViewer

    text, blocks = svc.library.source_text(src.id)
    text = text[: cit.start] + quote_override + text[cit.start + len(quote_override):]
    cit.end = cit.start + len(quote_override)
    stored = Path(svc.library.path).parent / str(src.blob)
    viewer = SourceViewer(src.title, text, cit, None, blocks=blocks, kind="pdf", pdf_path=stored)
    qtbot.addWidget(viewer)
    viewer.show()
    return viewer


@pytest.mark.parametrize("damage", ["missing", "corrupt", "encrypted"])
def test_unreadable_pdf_falls_back_to_the_text_with_a_message(qtbot: Any, service: Any, tmp_path: Path,
                                                               damage: str) -> None:
    src = add(service, str(make_pdf(tmp_path / "glacier.pdf", PAGES)))
    cit = citation_for(service, src, SENTENCE)
    blob = Path(service.library.path).parent / str(src.blob)
    if damage == "missing":
        blob.unlink()
    elif damage == "corrupt":
        blob.write_bytes(b"%PDF-1.4\n" + b"\x00garbage" * 200)
    else:
        make_pdf(blob, PAGES, user_password="secret")
    viewer = open_viewer(qtbot, service, src, cit)
    assert viewer.pdf_view is None and viewer.tabs.currentWidget() is viewer.text
    assert viewer.notice.isVisible() and "showing the extracted text" in viewer.notice_text
    expected = {"missing": "missing", "corrupt": "damaged", "encrypted": "password"}[damage]
    assert expected in viewer.notice_text
    assert viewer.highlighted == SENTENCE
    assert viewer.text.extraSelections()[0].cursor.selectedText() == SENTENCE


def test_local_transcript_shows_timestamps_and_the_cited_time(qtbot: Any, service: Any) -> None:
    src = add(service, str(SAMPLE_VTT))
    quote = "That changed with quantized models."
    cit = citation_for(service, src, quote)
    viewer = open_viewer(qtbot, service, src, cit)
    assert viewer.pdf_view is None and viewer.tabs.tabBar().isHidden()
    shown = viewer.text.toPlainText()
    assert "[0:00] Welcome everyone." in shown
    assert viewer.highlighted == quote
    assert viewer.text.extraSelections()[0].cursor.selectedText() == quote
    block = next(b for b in service.library.source_text(src.id)[1] if b["start"] <= cit.start < b["end"])
    when = format_location(None, None, block["t_start"])
    assert f"At {when} in the recording" in viewer.links.text()
    assert viewer.video_link is None and when in viewer.windowTitle()
    # the cited span is scrolled into view
    sel = viewer.text.extraSelections()[0]
    cursor = sel.cursor
    rect = viewer.text.cursorRect(cursor)
    assert viewer.text.viewport().rect().intersects(rect)


def test_youtube_citation_links_to_the_video_at_the_cited_time(qtbot: Any, service: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from notebooklm_local.services.library_service import _block_json
    from notebooklm_local.services.loaders.transcripts import cues_to_document, parse_vtt
    from notebooklm_local.ui import source_viewer

    lib = service.library
    nb = service.notebook("Field work")
    url = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    src = lib.add_source(nb.id, {"url": url})
    doc = cues_to_document(parse_vtt(SAMPLE_VTT.read_text(encoding="utf-8")), kind="youtube", title="Local-first talk")
    lib.store_extraction(src.id, kind="youtube", title=doc.title, sha256="0" * 64, blob=None, text=doc.text,
                         blocks=[_block_json(b) for b in doc.blocks], flags=[], meta={"url": url})
    src = lib.source(src.id)
    quote = "A four-bit model of a few billion parameters now runs on a laptop."
    text, blocks = lib.source_text(src.id)
    start = text.index(quote)
    block = next(b for b in blocks if b["start"] <= start < b["end"])
    cit = Citation(1, 1, src.id, src.title, None, blocks[0]["t_start"], start, start + len(quote), quote, "0:00", url)
    opened: list[str] = []
    monkeypatch.setattr(source_viewer.QDesktopServices, "openUrl", lambda u: opened.append(u.toString()) or True)
    viewer = open_viewer(qtbot, service, src, cit)
    seconds = int(block["t_start"])
    assert seconds > 0  # the block's time, more precise than the chunk's
    assert viewer.video_link == f"{url}&t={seconds}s"
    when = format_location(None, None, block["t_start"])
    assert f">Open the video at {when}</a>" in viewer.links.text() and when in viewer.windowTitle()
    assert f"[{when}]" in viewer.text.toPlainText()
    with qtbot.waitSignal(viewer.link_opened) as blocker:
        viewer.links.linkActivated.emit(viewer.video_link)
    assert blocker.args == [viewer.video_link] and opened == [viewer.video_link]


def test_youtube_link() -> None:
    from notebooklm_local.ui.source_viewer import youtube_link

    assert youtube_link("https://www.youtube.com/watch?v=abc", 754.9) == "https://www.youtube.com/watch?v=abc&t=754s"
    assert youtube_link("https://youtu.be/abc", 5) == "https://youtu.be/abc?t=5s"
    assert youtube_link("https://youtu.be/abc?t=99", 5) == "https://youtu.be/abc?t=5s"
    assert youtube_link("https://m.youtube.com/watch?v=abc&t=1s", 60) == "https://m.youtube.com/watch?v=abc&t=60s"
    assert youtube_link("https://example.com/watch?v=abc", 5) is None
    assert youtube_link("https://notyoutube.com/x", 5) is None
    assert youtube_link("https://www.youtube.com/watch?v=abc", None) is None


def test_web_source_highlights_the_span_and_offers_the_original(qtbot: Any, service: Any, tmp_path: Path) -> None:
    doc = tmp_path / "notes.md"
    doc.write_text("# Notes\n\nEmoji \U0001f600 before the span. The cited span is here. After it.\n", encoding="utf-8")
    src = add(service, str(doc))
    cit = citation_for(service, src, "The cited span is here.")
    viewer = open_viewer(qtbot, service, src, cit)
    assert viewer.text.extraSelections()[0].cursor.selectedText() == "The cited span is here."  # UTF-16 aware
    assert viewer.original_link is not None and viewer.original_link.startswith("file://")
    assert viewer.original_link.endswith("notes.md") and "Open original" in viewer.links.text()


def test_plain_constructor_still_works(qtbot: Any) -> None:
    from notebooklm_local.ui.source_viewer import SourceViewer

    cit = Citation(1, 1, "s", "Doc", None, None, 6, 11, "world", "", None)
    viewer = SourceViewer("Doc", "Hello world, again", cit, None)
    qtbot.addWidget(viewer)
    assert viewer.highlighted == "world" and viewer.pdf_view is None and viewer.windowTitle() == "Doc"


def test_find_bar_finds_and_cycles_in_the_text(qtbot: Any, service: Any) -> None:
    src = add(service, str(SAMPLE_VTT))
    cit = citation_for(service, src, "Local-first means your data lives on your own machine first.")
    viewer = open_viewer(qtbot, service, src, cit)
    assert viewer.find("model") == 3  # "big models", "quantized models", "A four-bit model"
    assert viewer.find_bar.isVisible() and viewer.find_bar.status.text() == "1 of 3"
    positions = []
    for _ in range(3):
        cursor = viewer.text.textCursor()
        positions.append(cursor.position())
        viewer.find_next()
    assert len(set(positions)) == 3 and viewer.find_bar.status.text() == "1 of 3"  # wrapped around
    viewer.find_previous()
    assert viewer.find_bar.status.text() == "3 of 3"
    assert viewer.text.textCursor().position() == positions[2]
    # Enter in the field goes on; Esc closes the bar and keeps the viewer open with the citation highlighted
    qtbot.keyClick(viewer.find_bar.edit, Qt.Key.Key_Return)
    assert viewer.find_bar.status.text() == "1 of 3"
    qtbot.keyClick(viewer.find_bar.edit, Qt.Key.Key_Escape)
    assert not viewer.find_bar.isVisible() and viewer.isVisible()
    assert len(viewer.text.extraSelections()) == 1
    assert viewer.find("no such words") == 0 and viewer.find_bar.status.text() == "No matches"
    viewer.hide_find_bar()
    viewer.show_find_bar()  # Ctrl+F
    assert viewer.find_bar.isVisible() and viewer.find_bar.edit.text() == "no such words"


def test_find_in_the_pdf_page_view(qtbot: Any, service: Any, tmp_path: Path) -> None:
    src = add(service, str(make_pdf(tmp_path / "glacier.pdf", PAGES)))
    viewer = open_viewer(qtbot, service, src, None)
    view = viewer.pdf_view
    assert view is not None
    viewer.find("page")  # once on each page
    qtbot.waitUntil(lambda: viewer.find_bar.status.text() == "1 of 3", timeout=5000)
    assert viewer.search_model.searchString() == "page" and view.currentSearchResultIndex() == 0
    seen = []
    for _ in range(3):
        viewer.find_next()
        seen.append((view.currentSearchResultIndex(), view.pageNavigator().currentPage()))
    assert seen == [(1, 1), (2, 2), (0, 0)] and viewer.find_bar.status.text() == "1 of 3"
    viewer.find_previous()
    assert view.currentSearchResultIndex() == 2 and viewer.find_bar.status.text() == "3 of 3"
    viewer.hide_find_bar()
    assert viewer.search_model.searchString() == ""  # no citation: nothing stays highlighted


def test_find_restores_the_cited_highlight_in_the_pdf(qtbot: Any, service: Any, tmp_path: Path) -> None:
    src = add(service, str(make_pdf(tmp_path / "glacier.pdf", PAGES)))
    viewer = open_viewer(qtbot, service, src, citation_for(service, src, SENTENCE))
    cited = viewer.search_model.searchString()
    assert cited
    viewer.find("moraine")
    qtbot.waitUntil(lambda: viewer.find_bar.status.text() == "1 of 1", timeout=5000)
    viewer.hide_find_bar()
    assert viewer.search_model.searchString() == cited
    qtbot.waitUntil(lambda: viewer.pdf_view.currentSearchResultIndex() == 0, timeout=5000)


def test_a_five_megabyte_text_opens_quickly(qtbot: Any) -> None:
    from notebooklm_local.ui.source_viewer import SourceViewer

    para = "Quantization trades a little accuracy for a much smaller model file and faster inference. " * 8
    text = "\n\n".join(f"{i}. {para}" for i in range(7000))
    assert len(text) >= 5_000_000
    start = text.index("6500. ")
    cit = Citation(1, 1, "s", "Big", None, None, start, start + 40, text[start:start + 40], "", None)
    t0 = time.perf_counter()
    viewer = SourceViewer("Big", text, cit, None)
    qtbot.addWidget(viewer)
    viewer.show()
    qtbot.waitExposed(viewer)
    elapsed = time.perf_counter() - t0
    print(f"5 MB text: constructed and shown in {elapsed * 1000:.0f} ms "
          f"(text set in {viewer.text_load_seconds * 1000:.0f} ms)")
    assert elapsed < 3.0  # generous: ~0.2 s on the 2-core build machine
    assert viewer.highlighted == text[start:start + 40]
    t0 = time.perf_counter()
    n = viewer.find("6999. ")
    assert n == 1 and time.perf_counter() - t0 < 2.0


def test_a_300_page_pdf_opens_at_a_late_page_without_blocking(qtbot: Any, service: Any, tmp_path: Path) -> None:
    pages = [f"Section {i}. Field log entry number {i} for the glacier survey, written at the hut." for i in range(1, 301)]
    pages[249] = "Section 250. " + SENTENCE
    src = add(service, str(make_pdf(tmp_path / "log.pdf", pages)))
    cit = citation_for(service, src, SENTENCE)
    assert cit.page == 250
    t0 = time.perf_counter()
    viewer = open_viewer(qtbot, service, src, cit)
    elapsed = time.perf_counter() - t0
    print(f"300-page PDF: viewer constructed and shown in {elapsed * 1000:.0f} ms")
    assert elapsed < 2.0  # generous: ~0.1 s here (QtPdf loads pages lazily; only the cited page is searched)
    view = viewer.pdf_view
    assert view is not None and viewer.pdf_match
    qtbot.waitUntil(lambda: view.pageNavigator().currentPage() == 249, timeout=5000)
    # the result's global index needs every earlier page searched: done in slices, then the result is framed
    qtbot.waitUntil(lambda: view.currentSearchResultIndex() == 0, timeout=20000)
    qtbot.waitUntil(lambda: viewer._scan.done, timeout=20000)
    assert viewer._scan.total() == 1


def test_keyboard_ctrl_f_f3_and_escape(qtbot: Any) -> None:
    from notebooklm_local.ui.source_viewer import SourceViewer

    cit = Citation(1, 1, "s", "Doc", None, None, 6, 11, "world", "", None)
    viewer = SourceViewer("Doc", "Hello world, again and again the world", cit, None)
    qtbot.addWidget(viewer)
    viewer.show()
    with qtbot.waitActive(viewer, timeout=3000):
        viewer.activateWindow()
    qtbot.keyClick(viewer.text, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert viewer.find_bar.isVisible() and viewer.find_bar.edit.hasFocus()
    qtbot.keyClicks(viewer.find_bar.edit, "world")
    qtbot.waitUntil(lambda: viewer.find_bar.status.text() == "1 of 2", timeout=3000)  # typed: searched after a pause
    qtbot.keyClick(viewer.text, Qt.Key.Key_F3)
    assert viewer.find_bar.status.text() == "2 of 2"
    qtbot.keyClick(viewer.text, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert viewer.find_bar.status.text() == "1 of 2"
    qtbot.keyClick(viewer.find_bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert viewer.find_bar.status.text() == "2 of 2"
    qtbot.keyClick(viewer.text, Qt.Key.Key_Return)  # Enter never closes the viewer
    assert viewer.isVisible()
    qtbot.keyClick(viewer.text, Qt.Key.Key_Escape)  # Esc closes the find bar first...
    assert not viewer.find_bar.isVisible() and viewer.isVisible()
    qtbot.keyClick(viewer.text, Qt.Key.Key_Escape)  # ...then the viewer
    assert not viewer.isVisible()


def test_accessible_names(qtbot: Any, service: Any, tmp_path: Path) -> None:
    src = add(service, str(make_pdf(tmp_path / "glacier.pdf", PAGES)))
    viewer = open_viewer(qtbot, service, src, citation_for(service, src, SENTENCE))
    names = {viewer.text.accessibleName(), viewer.pdf_view.accessibleName(), viewer.find_bar.edit.accessibleName(),
             viewer.find_bar.next_button.accessibleName(), viewer.find_bar.prev_button.accessibleName(),
             viewer.find_bar.close_button.accessibleName()}
    assert names == {"Source text", "Source pages", "Find in source", "Next match", "Previous match",
                     "Close find bar"}
    assert [viewer.tabs.tabText(i) for i in range(viewer.tabs.count())] == ["Page view", "Extracted text"]
