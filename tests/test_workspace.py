"""The Workspace (notebooklm_local/workspace.py): the one composition root of the CLI and the window.

Real SQLite and a real Chroma index over a hash embedder (tests/helpers/embedders.py); the engine is a
scripted one (no model is loaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from notebooklm_local import workspace as ws_module
from notebooklm_local.core.paths import AppPaths, app_paths
from notebooklm_local.core.settings import Settings
from notebooklm_local.services.index import ChromaIndex
from notebooklm_local.workspace import Workspace
from tests.helpers.embedders import HashEmbedder
from tests.helpers.scripted_engine import ScriptedEngine


@pytest.fixture
def paths(app_home: Path) -> AppPaths:
    return app_paths().ensure()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Count what the workspace opens; the index over a hash embedder, engines scripted."""
    made: dict[str, list[Any]] = {"index": [], "engine": []}

    def open_index(paths: AppPaths, _settings: Settings) -> ChromaIndex:
        index = ChromaIndex.persistent(paths.index / "chroma", HashEmbedder())  # type: ignore[arg-type]
        made["index"].append(index)
        return index

    def open_engine(_paths: AppPaths, _settings: Settings) -> ScriptedEngine:
        engine = ScriptedEngine([])
        made["engine"].append(engine)
        return engine

    monkeypatch.setattr(ws_module, "open_index", open_index)
    monkeypatch.setattr(ws_module, "open_engine", open_engine)
    return made


def test_nothing_is_opened_until_asked_for(paths: AppPaths, counted: dict[str, list[Any]]) -> None:
    ws = Workspace(paths, Settings())
    assert ws.opened_library is None and ws.opened_service is None and ws.opened_engine is None
    assert not (paths.data / "library.db").exists()
    lib = ws.library()
    assert ws.library() is lib and (paths.data / "library.db").exists()
    assert counted == {"index": [], "engine": []}  # the library alone opens no index and no model
    ws.close()


def test_one_library_service_shared_by_chat_studio_and_the_stores(paths: AppPaths,
                                                                  counted: dict[str, list[Any]]) -> None:
    ws = Workspace(paths, Settings())
    svc = ws.library_service()
    assert svc.library is ws.library() and svc.index is counted["index"][0]
    chat, studio = ws.chat(), ws.studio()
    assert ws.chat() is chat and ws.studio() is studio
    assert chat.library is svc and studio.library is svc
    assert chat.engine is studio.engine is ws.engine() is counted["engine"][0]
    for store in (ws.chat_store(), ws.note_store(), ws.studio_store()):
        assert store.library is ws.library()
    assert len(counted["index"]) == 1 and len(counted["engine"]) == 1
    nb = svc.create_notebook("Garden")
    note = ws.note_store().add(nb.id, "Roses", "Prune in late winter.")
    assert [n.id for n in ws.note_store().list(nb.id)] == [note.id]
    ws.close()


def test_the_index_comes_later_to_the_same_service(paths: AppPaths, counted: dict[str, list[Any]]) -> None:
    ws = Workspace(paths, Settings())
    lexical = ws.library_service(with_index=False)
    assert lexical.index is None and counted["index"] == []
    assert ws.library_service() is lexical and lexical.index is counted["index"][0]
    assert ws.library_service(with_index=False) is lexical and lexical.index is counted["index"][0]
    ws.release_index()  # the embedding model changed: the next use opens the index anew, on the same service
    assert ws.library_service() is lexical and lexical.index is counted["index"][1]
    ws.close()


def test_engine_released_and_reopened(paths: AppPaths, counted: dict[str, list[Any]]) -> None:
    ws = Workspace(paths, Settings())
    first, chat, studio = ws.engine(), ws.chat(), ws.studio()
    assert ws.release_engine() is first and first.closed
    assert ws.opened_engine is None
    second = ws.engine()
    assert second is not first and ws.chat() is not chat and ws.studio() is not studio
    assert ws.chat().engine is second and ws.chat().library is chat.library  # the library stays open
    kept = ws.release_engine(close=False)  # the window closes it itself, on its llm lane
    assert kept is second and not second.closed
    assert ws.release_engine() is None  # nothing to release
    ws.close()


def test_close_is_idempotent_and_closes_engine_and_library(paths: AppPaths, counted: dict[str, list[Any]]) -> None:
    ws = Workspace(paths, Settings())
    engine, lib = ws.engine(), ws.library()
    ws.close()
    assert ws.closed and engine.closed
    with pytest.raises(Exception, match="closed"):
        lib.notebooks()  # the SQLite connection is closed
    ws.close()  # again: nothing happens
    with pytest.raises(RuntimeError, match="closed"):
        ws.library()
    with Workspace(paths, Settings()) as other:
        assert other.library().notebooks() == []
    assert other.closed


def test_plugins_templates_tts_and_exporters_come_from_one_manager(paths: AppPaths) -> None:
    ws = Workspace(paths, Settings())
    manager = ws.plugins
    assert ws.plugins is manager and ws.registry is manager.registry
    assert ".docx" in ws.library_service(with_index=False).file_extensions  # the bundled DOCX loader plugin
    assert "chat_answer" in ws.template_store().names()
    assert ws.tts_engines() and ws.exporters()
    notices: list[tuple[str, str, str]] = []
    ws.notify = lambda *a: notices.append(a)
    assert ws.load_plugins() is ws.plugins is not manager  # loaded anew (the window does at start)
    safe = Workspace(paths, Settings(), safe_mode=True)
    assert safe.plugins.safe_mode and ".docx" not in safe.library_service(with_index=False).file_extensions
    ws.close()
    safe.close()


def test_the_cli_gets_its_services_from_a_workspace(paths: AppPaths, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from notebooklm_local import cli

    made: list[Workspace] = []
    real_init = Workspace.__init__

    def init(self: Workspace, *a: Any, **k: Any) -> None:
        real_init(self, *a, **k)
        made.append(self)

    monkeypatch.setattr(Workspace, "__init__", init)
    assert cli.main(["notebook", "create", "Garden"]) == 0
    assert cli.main(["notes", "list", "-n", "Garden"]) == 0
    assert cli.main(["templates", "list"]) == 0
    assert len(made) >= 2 and all(w.paths.data == paths.data for w in made)
    assert "created notebook 'Garden'" in capsys.readouterr().out


def test_the_window_builds_its_services_through_the_workspace(paths: AppPaths, qtbot: Any,
                                                              counted: dict[str, list[Any]]) -> None:
    from notebooklm_local.core.context import AppContext
    from notebooklm_local.ui.main_window import MainWindow

    ws = Workspace(paths, Settings())
    win = MainWindow(AppContext(paths, ws.settings), workspace=ws)
    qtbot.addWidget(win)
    win.confirm_close = lambda _work: True
    assert win.workspace is ws
    qtbot.waitUntil(lambda: win.library is not None, timeout=20000)
    assert win.library is ws.library()  # one SQLite library: the window's, the ingest's and the chat's
    chat = win._make_chat()
    assert chat is ws.chat() and chat.library.library is ws.library()
    assert win._make_studio() is ws.studio()
    assert win.ingest.service() is ws.library_service()
    win.close()
    qtbot.waitUntil(lambda: ws.closed, timeout=10000)
