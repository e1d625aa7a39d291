"""The notes pane's "No notes yet" line goes away once the list has notes (found by the X11 user-loop e2e
test: after "Save to note" in the chat the Notes tab listed the note under "No notes yet: press New, …")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.notes import NoteStore
from tests.helpers.studio_world import World, make_world

pytestmark = [pytest.mark.gui]

WAIT = 10000


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path / "docs")


@pytest.fixture
def pane(qtbot: Any, world: World) -> Iterator[Any]:
    from notebooklm_local.ui.notes_pane import NotesPane
    from notebooklm_local.ui.workers import Lanes

    lanes = Lanes()
    p = NotesPane(lanes, lambda: world.library)
    qtbot.addWidget(p)
    p.show()
    yield p
    lanes.shutdown(5000)


def test_the_empty_message_goes_when_a_note_saved_elsewhere_is_listed(qtbot: Any, pane: Any, world: World) -> None:
    pane.set_notebook(world.notebook_id, "Quantization notes")
    qtbot.waitUntil(lambda: not pane.busy, timeout=WAIT)
    assert "No notes yet" in pane.status.text()
    NoteStore(world.library).add(world.notebook_id, "What is Q4_K_M?", "A 4-bit quantization [1].")  # the chat
    pane.refresh()  # what the main window does when the chat saved a note
    qtbot.waitUntil(lambda: pane.list.count() == 1 and not pane.busy, timeout=WAIT)
    assert "No notes yet" not in pane.status.text() and "No note matches" not in pane.status.text()


def test_editor_and_preview_stack_when_the_pane_is_narrow(qtbot: Any, pane: Any) -> None:
    """Side by side only with room: at 1280 px the pane's right side is ~450 px and each half was ~150 px
    wide (seen in the X11 user-loop test's screenshots)."""
    from PySide6.QtCore import Qt

    pane.resize(500, 600)
    qtbot.waitUntil(lambda: pane.body_split.orientation() == Qt.Orientation.Vertical, timeout=3000)
    qtbot.wait(50)
    assert pane.editor.width() == pane.preview.width() >= 240  # one above the other, each the full width
    pane.resize(1400, 700)
    qtbot.waitUntil(lambda: pane.body_split.orientation() == Qt.Orientation.Horizontal, timeout=3000)
