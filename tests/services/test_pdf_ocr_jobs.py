"""OCR of scanned PDF pages as a job (issue 18): progress per page, cancel, the [index] ocr setting, and
OCR'd text marked as such in citations. A fake engine stands in for Tesseract (the real one is tested in
test_loader_pdf_defects.py), so these run fast and without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.citations import Passage, is_ocr_location, mark_ocr, ocr_pages_in
from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.errors import Cancelled
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings
from notebooklm_local.core.settings_check import parse_value, set_setting, validate_settings
from notebooklm_local.services.library_service import Hit
from notebooklm_local.services.loaders import pdf as pdf_module
from notebooklm_local.services.loaders.pdf import PdfLoader
from notebooklm_local.workspace import open_library
from tests.helpers.pdf_defects import DEJAVU_SERIF, scanned_pdf

pytestmark = pytest.mark.skipif(not DEJAVU_SERIF.exists(), reason="fonts-dejavu-core is not installed")


class FakeEngine:
    name = "Tesseract"
    languages = "eng"

    def __init__(self, on_page=None) -> None:
        self.calls = 0
        self.on_page = on_page

    def read_png(self, png: bytes) -> str:
        self.calls += 1
        if self.on_page is not None:
            self.on_page(self.calls)
        return f"Recognized words of scanned page number {self.calls}."


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr(pdf_module, "find_ocr_engine", lambda: fake)
    return fake


def three_scans(tmp_path: Path) -> Path:
    return scanned_pdf(tmp_path / "scans.pdf", [["first"], "A typed page.", ["second"], ["third"]])


def test_ocr_reports_each_page_on_the_token(tmp_path: Path, engine: FakeEngine) -> None:
    seen: list[tuple[int, int, str]] = []
    doc = PdfLoader().load(SourceRef(path=three_scans(tmp_path)), CancelToken(lambda d, t, m: seen.append((d, t, m))))
    assert engine.calls == 3 and doc.metadata["ocr_pages"] == [1, 3, 4]
    assert [(d, t) for d, t, _ in seen] == [(0, 3), (1, 3), (2, 3)]
    assert seen[0][2] == "scans.pdf: OCR page 1/3 (page 1 of 4)"
    assert seen[2][2] == "scans.pdf: OCR page 3/3 (page 4 of 4)"
    # a token without a progress callback (plugins, older callers) works as before
    assert PdfLoader().load(SourceRef(path=three_scans(tmp_path)), CancelToken()).metadata["ocr_pages"] == [1, 3, 4]


def test_a_failing_progress_callback_does_not_stop_ocr(tmp_path: Path, engine: FakeEngine) -> None:
    def broken(_d: int, _t: int, _m: str) -> None:
        raise BrokenPipeError

    doc = PdfLoader().load(SourceRef(path=three_scans(tmp_path)), CancelToken(broken))
    assert doc.metadata["ocr_pages"] == [1, 3, 4]


def test_a_cancelled_token_reports_nothing() -> None:
    seen: list[str] = []
    token = CancelToken(lambda _d, _t, m: seen.append(m))
    token.report(0, 2, "one")
    token.cancel()
    token.report(1, 2, "two")  # a timed-out loader thread left running must not move the progress bar
    assert seen == ["one"]


def test_ocr_stops_between_pages_when_cancelled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = CancelToken()
    fake = FakeEngine(on_page=lambda n: token.cancel() if n == 1 else None)
    monkeypatch.setattr(pdf_module, "find_ocr_engine", lambda: fake)
    with pytest.raises(Cancelled):
        PdfLoader().load(SourceRef(path=three_scans(tmp_path)), token)
    assert fake.calls == 1


def test_a_ref_can_ask_for_no_ocr(tmp_path: Path, engine: FakeEngine) -> None:
    doc = PdfLoader().load(SourceRef(path=three_scans(tmp_path), ocr=False), CancelToken())
    assert engine.calls == 0 and "ocr_pages" not in doc.metadata
    assert doc.flags == ["3 pages of 4 scanned without a text layer (1, 3, 4); OCR is turned off"]


def test_ocr_setting_is_validated_and_settable() -> None:
    s = Settings()
    assert s.index.ocr is True and validate_settings(s) == []
    set_setting(s, "index.ocr", parse_value("index.ocr", "false"))
    assert s.index.ocr is False and validate_settings(s) == []
    s.index.ocr = "maybe"  # type: ignore[assignment]
    assert [tab for tab, _ in validate_settings(s)] == ["retrieval"]


def _service(tmp_path: Path, ocr: bool):
    paths = app_paths(tmp_path / "home").ensure()
    settings = Settings()
    settings.index.ocr = ocr
    lib = open_library(paths, settings, with_index=False)
    lib.create_notebook("NB")
    return lib


def test_library_service_honours_the_setting_and_relays_ocr_progress(tmp_path: Path, engine: FakeEngine) -> None:
    f = three_scans(tmp_path)
    off = _service(tmp_path / "off", ocr=False)
    report = off.add("NB", [str(f)])
    assert engine.calls == 0 and "OCR is turned off" in report.added[0].flags[0]
    off.library.close()

    on = _service(tmp_path / "on", ocr=True)
    messages: list[str] = []
    report = on.add("NB", [str(f)], progress=lambda _d, _t, m: messages.append(m))
    assert engine.calls == 3
    assert "scans.pdf: OCR page 2/3 (page 3 of 4)" in messages
    src = report.added[0]
    assert ocr_pages_in(src.meta) == (1, 3, 4)
    chunks = on.library.source_chunks(src.id)
    by_page = {c.page: Hit(c, src, 1.0) for c in chunks}
    assert by_page[1].location == "p. 1 (OCR)" and by_page[1].to_json()["ocr"] is True
    assert by_page[2].location == "p. 2" and by_page[2].to_json()["ocr"] is False
    on.library.close()


def test_ocr_mark_on_locations() -> None:
    assert mark_ocr("p. 3", 3, None, [3]) == "p. 3 (OCR)"
    assert mark_ocr("pp. 2-4", 2, 4, [4]) == "pp. 2-4 (OCR)"
    assert mark_ocr("p. 2", 2, None, [3]) == "p. 2"
    assert mark_ocr("p. 3 (OCR)", 3, None, [3]) == "p. 3 (OCR)"
    assert mark_ocr("0:42", None, None, [1]) == "0:42"
    p = Passage(1, 1, "s", "Scan", "text", 0, 4, page=3, ocr_pages=(3,))
    assert p.location == "p. 3 (OCR)" and is_ocr_location(p.location)
    assert Passage(1, 1, "s", "Typed", "text", 0, 4, page=3).location == "p. 3"
    assert ocr_pages_in({"ocr_pages": [1, 2]}) == (1, 2) and ocr_pages_in({}) == () and ocr_pages_in(None) == ()


@pytest.mark.gui
def test_chip_tooltip_and_viewer_say_the_page_was_ocrd(qtbot: Any) -> None:
    from notebooklm_local.core.citations import Citation
    from notebooklm_local.ui.rich_text import OCR_TOOLTIP_NOTE, citation_tooltip
    from notebooklm_local.ui.source_viewer import SourceViewer

    cit = Citation(1, 1, "s", "Scan", 2, None, 6, 11, "world", "p. 2 (OCR)", None)
    assert OCR_TOOLTIP_NOTE in citation_tooltip(cit) and "p. 2 (OCR)" in citation_tooltip(cit)
    cit.location = "p. 2"
    assert OCR_TOOLTIP_NOTE not in citation_tooltip(cit)

    blocks = [{"start": 0, "end": 18, "page": 2, "kind": "paragraph"}]
    viewer = SourceViewer("Scan", "Hello world, again", cit, None, blocks=blocks, kind="pdf", ocr_pages=[2])
    qtbot.addWidget(viewer)
    assert viewer.location == "p. 2 (OCR)" and viewer.windowTitle() == "Scan \u2014 p. 2 (OCR)"
    assert viewer.header.toolTip() == OCR_TOOLTIP_NOTE
    assert viewer.text.toPlainText().startswith("[p. 2, OCR] Hello world")  # the text view's page marker
    assert viewer.highlighted == "world"  # the longer marker keeps the cited span in place
    plain = SourceViewer("Typed", "Hello world, again", cit, None, blocks=blocks, kind="pdf")
    qtbot.addWidget(plain)
    assert plain.location == "p. 2" and plain.header.toolTip() == ""
    assert plain.text.toPlainText().startswith("[p. 2] Hello world")


@pytest.mark.gui
def test_sources_pane_state_shows_the_ocr_page(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from notebooklm_local.ui.ingest import IngestController
    from notebooklm_local.ui.workers import Lanes

    paths = app_paths(tmp_path / "home").ensure()
    release = threading.Event()
    fake = FakeEngine(on_page=lambda n: release.wait(20) if n == 2 else None)
    monkeypatch.setattr(pdf_module, "find_ocr_engine", lambda: fake)
    lanes = Lanes()
    ingest = IngestController(lanes, lambda: open_library(paths, Settings(), with_index=False))
    setup = open_library(paths, Settings(), with_index=False)
    nb = setup.create_notebook("Scans")
    setup.library.close()
    seen: list[str] = []

    def on_state(sid: str) -> None:
        live = ingest.live(sid)
        if live is not None:
            seen.append(live.text)

    ingest.state_changed.connect(on_state)
    try:
        ingest.add(nb.id, [str(three_scans(tmp_path))])

        def on_page_two() -> None:
            assert "OCR page 2/3" in seen, seen

        qtbot.waitUntil(on_page_two, timeout=20000)
        release.set()
        qtbot.waitUntil(lambda: not ingest.busy, timeout=20000)
        assert fake.calls == 3
    finally:
        release.set()
        ingest.shutdown()
        lanes.shutdown(5000)
        ingest.close_service()
