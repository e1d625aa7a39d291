"""The first-run dialog: explains the demo model, offers a real one, and is shown once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.paths import AppPaths, app_paths
from notebooklm_local.core.settings import Settings, load_settings
from tests.helpers.gguf_files import write_gguf

pytestmark = [pytest.mark.gui]


@pytest.fixture
def paths(app_home: Path) -> AppPaths:
    return app_paths().ensure()


@pytest.fixture
def lanes(qapp: Any):
    from notebooklm_local.ui.workers import Lanes

    lanes = Lanes()
    yield lanes
    assert lanes.shutdown(10000)


def make(qtbot: Any, paths: AppPaths, settings: Settings, lanes: Any) -> Any:
    from notebooklm_local.ui.first_run import FirstRunDialog

    dlg = FirstRunDialog(paths, settings, lanes)
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def test_explains_the_demo_and_continuing_marks_it_done(qtbot: Any, paths: AppPaths, lanes: Any) -> None:
    from notebooklm_local.ui.first_run import should_show_first_run

    settings = Settings()
    assert should_show_first_run(settings)
    dlg = make(qtbot, paths, settings, lanes)
    intro = dlg.findChild(type(dlg.status), "first-run-intro").text()
    assert "Gemma 3 270M" in intro and "cannot write answers" in intro
    # what works with nothing downloaded is said first: quotes in chat, the Extract tab, a question to try
    assert intro.index("Works now") < intro.index("tiny demo") and "Quotes" in intro and "Extract" in intro
    assert "How much memory does a 7B model need at 4 bits?" in intro
    assert "built-in demo" in dlg.status.text()
    dlg.demo_button.click()
    assert not dlg.isVisible()
    assert settings.ui.first_run_done and load_settings(paths.settings_file).ui.first_run_done
    assert not should_show_first_run(settings)


def test_closing_any_way_marks_it_done(qtbot: Any, paths: AppPaths, lanes: Any) -> None:
    settings = Settings()
    dlg = make(qtbot, paths, settings, lanes)
    dlg.close()
    assert load_settings(paths.settings_file).ui.first_run_done


def test_picking_a_gguf_makes_it_the_chat_model(qtbot: Any, tmp_path: Path, paths: AppPaths, lanes: Any) -> None:
    model = write_gguf(tmp_path / "my-model.gguf", arch="llama")
    settings = Settings()
    dlg = make(qtbot, paths, settings, lanes)
    dlg._choose_model_file = lambda: str(model)
    with qtbot.waitSignal(dlg.settings_changed, timeout=10000) as blocker:
        dlg.pick_button.click()
    assert blocker.args[0] is settings
    assert settings.model.path == str(model) and settings.model.extra_paths == [str(model)]
    saved = load_settings(paths.settings_file)
    assert saved.model.path == str(model) and not saved.ui.first_run_done
    assert "Now using my-model.gguf" in dlg.status.text() and dlg.demo_button.text() == "Continue"
    dlg.demo_button.click()
    assert load_settings(paths.settings_file).ui.first_run_done


def test_a_bad_file_or_an_embedding_model_is_refused(qtbot: Any, tmp_path: Path, paths: AppPaths,
                                                      lanes: Any) -> None:
    settings = Settings()
    dlg = make(qtbot, paths, settings, lanes)
    bad = tmp_path / "notes.gguf"
    bad.write_bytes("😀 not a model".encode())
    dlg.use_model_file(str(bad))
    qtbot.waitUntil(lambda: dlg.last_error is not None, timeout=10000)
    assert "is not a GGUF model" in dlg.last_error.message and dlg.pick_button.isEnabled()

    dlg.last_error = None
    embedder = write_gguf(tmp_path / "embed.gguf", arch="bert", embedding=True, chat_template=None)
    dlg.use_model_file(str(embedder))
    qtbot.waitUntil(lambda: dlg.last_error is not None, timeout=10000)
    assert "embedding model" in dlg.last_error.message
    assert settings.model.path == "" and not paths.settings_file.exists()


def test_download_opens_the_settings_model_tab(qtbot: Any, paths: AppPaths, lanes: Any) -> None:
    settings = Settings()
    dlg = make(qtbot, paths, settings, lanes)
    dlg.download_button.click()
    sd = dlg.settings_dialog
    assert sd is not None and sd.isVisible() and sd.tabs.currentIndex() == 0
    qtbot.waitUntil(lambda: not sd.busy, timeout=10000)
    sd.n_ctx.setValue(2048)
    with qtbot.waitSignal(dlg.settings_changed, timeout=2000):
        sd.accept()
    assert settings.model.n_ctx == 2048
    dlg.demo_button.click()
    saved = load_settings(paths.settings_file)
    assert saved.model.n_ctx == 2048 and saved.ui.first_run_done


def test_the_model_the_welcome_recommends_is_the_one_preselected_for_download(qtbot: Any, paths: AppPaths,
                                                                             lanes: Any) -> None:
    from notebooklm_local.ui.settings_dialog import RECOMMENDED_CHAT, SettingsDialog

    dlg = make(qtbot, paths, Settings(), lanes)
    assert RECOMMENDED_CHAT in dlg.findChild(type(dlg.status), "first-run-intro").text()
    settings_dlg = SettingsDialog(paths, Settings(), lanes)
    qtbot.addWidget(settings_dlg)
    entry = settings_dlg.catalog.currentData()
    assert entry is not None and entry.description.startswith(RECOMMENDED_CHAT)
    settings_dlg.close()
