"""A data dir indexed with another embedding model (the old default, Gemma) moves to the current one when
the window opens: re-embedded in the background, with a notice, and chat still finds the passage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.context import AppContext
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings

pytestmark = [pytest.mark.gui, pytest.mark.model, pytest.mark.slow]

TEXT = ("Local notebooks keep every source on the user's own disk. The index uses an embedding model to find "
        "passages by meaning. A lighthouse keeper counted exactly 4,312 ships passing in one winter.")


def test_sources_of_another_embedding_model_are_reembedded_at_start(qtbot: Any, installed_model: Path,
                                                                       tmp_path: Path) -> None:
    from notebooklm_local.services.models import default_embedder_path
    from notebooklm_local.ui.main_window import MainWindow
    from notebooklm_local.workspace import open_library

    paths = app_paths().ensure()
    old = Settings()
    old.model.embedding_path = str(installed_model)  # the old default: Gemma in mean-pooling mode
    lib = open_library(paths, old)
    lib.create_notebook("N")
    doc = tmp_path / "notes.txt"
    doc.write_text(TEXT, encoding="utf-8")
    assert not lib.add("N", [str(doc)]).failed
    (src,) = lib.sources("N")
    old_model = lib.index.model_id
    lib.library.close()

    win = MainWindow(AppContext(paths, Settings()))  # default settings: the built-in MiniLM embedder
    qtbot.addWidget(win)
    notices: list[str] = []
    win.sources_pane.notice_posted.connect(notices.append)
    win.show()
    qtbot.waitUntil(lambda: any("Re-indexing 1 source" in n for n in notices), timeout=30000)
    assert "all-minilm-l6-v2-f16.gguf" in notices[0] and "nothing is lost" in notices[0]
    svc = win.ingest.opened_service
    assert svc is not None and svc.index.model_id != old_model
    assert default_embedder_path(paths).name in svc.index.model_id
    qtbot.waitUntil(lambda: not win.ingest.busy and svc.library.count_unembedded(src.id, svc.index.model_id) == 0,
                    timeout=60000)
    # the new model's vectors find the passage by meaning; the old collection is gone
    hits = svc.search("N", "how many vessels went by the lighthouse", k=3, mode="dense")
    assert hits and "4,312 ships" in hits[0].chunk.text
    names = [c if isinstance(c, str) else c.name for c in svc.index.client.list_collections()]
    assert len([n for n in names if n.startswith(f"nb_{src.notebook_id}_")]) == 1
    win.close()
