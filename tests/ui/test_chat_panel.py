"""The chat side panel on the real stack: ask streams and finishes, citations open the source viewer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.citations import Citation
from notebooklm_local.core.context import AppContext
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings

pytestmark = [pytest.mark.gui, pytest.mark.model, pytest.mark.slow]


@pytest.fixture
def ctx(app_home: Path, installed_model: Path) -> AppContext:
    from notebooklm_local.extensions.runtime import open_library
    from notebooklm_local.extensions.sample import ensure_sample_notebook

    paths = app_paths().ensure()
    settings = Settings()
    settings.model.n_ctx = 2048
    settings.chat.answer_tokens = 40
    lib = open_library(paths, settings)
    ensure_sample_notebook(lib)
    lib.library.close()
    return AppContext(paths, settings)


def test_ask_in_the_panel_streams_finishes_and_citation_opens_viewer(qtbot: Any, ctx: AppContext) -> None:
    from notebooklm_local.ui.main_window import MainWindow
    from notebooklm_local.ui.source_viewer import SourceViewer

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
    # a citation click opens the source at the passage, highlighted
    text, _ = win.library.source_text(result.passages[0].source_id)
    p = result.passages[0]
    cit = result.answer.citations[0] if result.answer.citations else Citation(
        p.pid, p.chunk_id, p.source_id, p.source_title, p.page, p.t_start, p.start, p.end, p.text, p.location)
    panel._citations[(1, cit.passage_id)] = cit
    panel._on_anchor_clicked(__import__("PySide6.QtCore", fromlist=["QUrl"]).QUrl(f"cite:1:{cit.passage_id}"))
    viewer = win.source_viewer
    assert isinstance(viewer, SourceViewer) and viewer.isVisible()
    assert " ".join(viewer.highlighted.split()) == " ".join(text[cit.start:cit.end].split())
    viewer.close()
    win.close()


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
