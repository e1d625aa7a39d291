"""The bundled plugins work in the desktop app: the DOCX loader from a drop, the Obsidian exporter from the
Notes pane's Export menu, Piper among the studio's voices with its clear "no voice" reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QFileDialog

from notebooklm_local.core.context import AppContext
from notebooklm_local.core.notes import NoteStore
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings
from tests.ui.test_drag_drop import _drop, _mime, _wait_ready

pytestmark = [pytest.mark.gui, pytest.mark.model]


@pytest.fixture
def win(qtbot: Any, app_home: Path, installed_model: Path) -> Any:
    from notebooklm_local.ui.main_window import MainWindow

    w = MainWindow(AppContext(app_paths().ensure(), Settings()))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.library is not None, timeout=20000)
    nb = w.library.create_notebook("Harbour")
    w.reload_notebooks(select=nb.id)
    yield w
    w.close()


def test_a_dropped_word_file_is_read_by_the_docx_plugin(qtbot: Any, win: Any, tmp_path: Path) -> None:
    import docx

    assert "*.docx" in win.sources_pane._file_filter() and "*.epub" in win.sources_pane._file_filter()
    doc = docx.Document()
    doc.add_heading("Harbour log", 1)
    doc.add_paragraph("The ferry to the island leaves at seven and returns at noon.")
    path = tmp_path / "harbour.docx"
    doc.save(str(path))
    _drop(win, _mime([QUrl.fromLocalFile(str(path))]))
    src = None

    def ready() -> bool:
        nonlocal src
        rows = win.library.sources(win.current_notebook_id())
        src = next((s for s in rows if s.kind == "docx"), None)
        return src is not None and src.status == "ready" and not win.ingest.busy

    qtbot.waitUntil(ready, timeout=120000)
    text, _ = win.library.source_text(src.id)
    assert "ferry to the island" in text


def test_notes_export_menu_offers_the_obsidian_vault(qtbot: Any, win: Any, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "tides.md"
    src.write_text("# Tides\n\nHigh tide in the harbour is at six in the evening this week.", encoding="utf-8")
    _drop(win, _mime([QUrl.fromLocalFile(str(src))]))
    _wait_ready(qtbot, win, {"Tides"}, timeout=120000)
    NoteStore(win.library).add(win.current_notebook_id(), "Evening tide", "High tide is at six.", tags=["sea"])
    pane = win.notes_pane
    pane.refresh()
    qtbot.waitUntil(lambda: len(pane.notes) == 1, timeout=10000)
    menu = pane.export_button.menu()
    menu.aboutToShow.emit()
    plugin_actions = [a for a in menu.actions() if isinstance(a.data(), str)]
    assert [a.data() for a in plugin_actions] == ["obsidian"]
    vault = tmp_path / "vault"
    vault.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(vault))
    plugin_actions[0].trigger()
    qtbot.waitUntil(lambda: "Exported" in pane.status.text(), timeout=20000)
    files = {p.relative_to(vault).as_posix() for p in vault.rglob("*.md")}
    assert any(f.endswith("Evening tide.md") for f in files), files
    assert any("Tides" in f and f != "Evening tide.md" for f in files), files
    # again: nothing is overwritten unless the user says so
    monkeypatch.setattr(pane, "_confirm", lambda *a: False)
    before = {p: p.read_bytes() for p in vault.rglob("*.md")}
    plugin_actions[0].trigger()
    qtbot.waitUntil(lambda: "nothing was written" in pane.status.text(), timeout=20000)
    assert {p: p.read_bytes() for p in vault.rglob("*.md")} == before


def test_piper_is_listed_with_its_reason(win: Any) -> None:
    states = dict(win._tts_engine_states())
    assert states.get("espeak-ng") is None or "espeak" in str(states.get("espeak-ng"))
    piper = next((v for k, v in states.items() if "piper" in k.lower()), "missing")
    assert piper != "missing" and piper and "no Piper voice installed" in piper
