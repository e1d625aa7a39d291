"""The chat panel's "Search all notebooks" toggle on the real stack (SQLite/FTS5, Chroma, the built-in MiniLM
embedder, quotes mode: no model): a question answered from another notebook, its citation naming that notebook,
and a click on its chip opening that source (in the viewer) at the passage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.context import AppContext
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings

pytestmark = [pytest.mark.gui]

QUESTION = "When did the Kilauea volcano erupt?"


@pytest.fixture
def ctx(app_home: Path, installed_model: Path, tmp_path: Path) -> AppContext:
    from notebooklm_local.extensions.sample import ensure_sample_notebook
    from notebooklm_local.workspace import open_library

    paths = app_paths().ensure()
    settings = Settings()
    settings.chat.mode = "quotes"
    lib = open_library(paths, settings)
    ensure_sample_notebook(lib)
    (tmp_path / "volcanoes.md").write_text(
        "# Volcanoes\n\nThe Kilauea volcano in Hawaii erupted almost continuously from 1983 to 2018. Its lava lake "
        "was about 300 metres across.\n", encoding="utf-8")
    lib.create_notebook("Geology")
    report = lib.add("Geology", [str(tmp_path / "volcanoes.md")])
    assert not report.failed, report.lines()
    lib.library.close()
    return AppContext(paths, settings)


def _ask(qtbot: Any, panel: Any, question: str) -> Any:
    panel.input.setPlainText(question)
    with qtbot.waitSignal(panel.answer_finished, timeout=120000) as got:
        panel.send()
    qtbot.waitUntil(lambda: panel.send_button.isEnabled(), timeout=5000)
    return got.args[0]


def test_search_all_notebooks_toggle_cites_and_opens_another_notebooks_source(qtbot: Any, ctx: AppContext) -> None:
    from notebooklm_local.extensions.sample import SAMPLE_NOTEBOOK
    from notebooklm_local.ui.main_window import MainWindow
    from notebooklm_local.ui.source_viewer import SourceViewer
    from tests.ui.helpers import click_link, link_hrefs

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    panel = win.chat_pane
    qtbot.waitUntil(lambda: win.library is not None and win.notebook_box.count() == 2, timeout=20000)
    win.notebook_box.setCurrentIndex(win.notebook_box.findText(SAMPLE_NOTEBOOK))
    sample_id = win.library.notebook(SAMPLE_NOTEBOOK).id
    qtbot.waitUntil(lambda: panel.notebook_id == sample_id, timeout=10000)
    width = panel.minimumSizeHint().width()

    inside = _ask(qtbot, panel, QUESTION)
    assert inside.scope == "notebook" and not any("Kilauea" in c.quote for c in inside.answer.citations)

    assert panel.scope == "notebook" and not panel.scope_button.isChecked()
    panel.scope_button.click()  # the checkable "All notebooks" button on the status line
    assert panel.scope == "all" and panel.scope_action.isChecked()
    assert "all notebooks" in panel.input.placeholderText()
    assert panel.minimumSizeHint().width() <= width  # the toggle does not widen the panel

    every = _ask(qtbot, panel, QUESTION)
    assert every.scope == "all" and every.answer.citations
    cit = every.answer.citations[0]
    assert cit.source_title == "Geology \u203a Volcanoes" and "1983" in cit.quote
    shown = panel.transcript.toPlainText()
    assert "From all notebooks" in shown and "Geology \u203a Volcanoes" in shown
    assert f"cite:2:{cit.passage_id}" in link_hrefs(panel.transcript)
    # the exchange is kept in the sample notebook's chat (the notebook asked from)
    assert win.library.query("SELECT notebook_id FROM chat_sessions WHERE id = ?",
                             (every.session_id,))[0][0] == sample_id

    geology_source = win.library.source(cit.source_id)
    assert geology_source.notebook_id == win.library.notebook("Geology").id
    text, _ = win.library.source_text(cit.source_id)
    click_link(qtbot, panel.transcript, f"cite:2:{cit.passage_id}")
    qtbot.waitUntil(lambda: isinstance(getattr(win, "source_viewer", None), SourceViewer), timeout=10000)
    viewer = win.source_viewer
    assert viewer.isVisible() and viewer.source_title == geology_source.title
    assert " ".join(viewer.highlighted.split()) == " ".join(text[cit.start:cit.end].split())
    viewer.close()

    panel.scope_button.click()  # back to this notebook
    assert panel.scope == "notebook"
    win.close()
