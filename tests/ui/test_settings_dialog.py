"""The Settings dialog: values persist and load back, bad values are refused, models are added, downloaded
(from a local fake hub, with progress and cancel) and removed; the one error dialog."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, Slot

from notebooklm_local.core.paths import AppPaths, app_paths
from notebooklm_local.core.settings import Settings, load_settings, save_settings
from notebooklm_local.services.model_manager import CATALOG
from tests.helpers.fake_hub import FakeHub, guard_loopback_only
from tests.helpers.gguf_files import write_gguf

pytestmark = [pytest.mark.gui]


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch):
    blocked = guard_loopback_only(monkeypatch)
    yield
    assert not blocked, f"tried to reach {blocked}"


@pytest.fixture
def paths(app_home: Path) -> AppPaths:
    return app_paths().ensure()


@pytest.fixture
def lanes(qapp: Any):
    from notebooklm_local.ui.workers import Lanes

    lanes = Lanes()
    yield lanes
    assert lanes.shutdown(10000)


@pytest.fixture
def hub():
    h = FakeHub().start()
    yield h
    h.stop()


class Recorder(QObject):
    """Receives a worker's progress on the GUI thread (cross-thread signals go to bound slots, not lambdas)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, int, str]] = []

    @Slot(int, int, str)
    def record(self, done: int, total: int, message: str) -> None:
        self.calls.append((done, total, message))


def make(qtbot: Any, paths: AppPaths, settings: Settings, lanes: Any, **kw: Any) -> Any:
    from notebooklm_local.ui.settings_dialog import SettingsDialog

    dlg = SettingsDialog(paths, settings, lanes, **kw)
    dlg._confirm = lambda title, text: True
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: not dlg.busy, timeout=10000)  # the model list and the speech engines
    return dlg


def model_rows(dlg: Any) -> list[str]:
    return [dlg.model_tree.topLevelItem(i).data(0, 256) for i in range(dlg.model_tree.topLevelItemCount())]


def test_settings_persist_to_disk_and_load_back_equal(qtbot: Any, paths: AppPaths, lanes: Any) -> None:
    settings = Settings()
    studio_section = settings.studio  # a service holding a section sees the new values
    dlg = make(qtbot, paths, settings, lanes,
               tts_engines=lambda: [("espeak-ng", None), ("piper", "piper is not installed")])
    dlg.gpu_layers.setValue(0)
    dlg.n_ctx.setValue(8192)
    dlg.n_threads.setValue(4)
    dlg.flash_attn.setCurrentIndex(dlg.flash_attn.findData("off"))
    dlg.top_k.setValue(5)
    dlg.structured.setCurrentIndex(dlg.structured.findData("on"))
    dlg.language.setCurrentText("Français 🇫🇷")
    dlg.summary_length.setCurrentIndex(dlg.summary_length.findData("long"))
    dlg.audience.setCurrentIndex(dlg.audience.findData("expert"))
    dlg.cod_steps.setValue(3)
    dlg.cod_words.setValue(120)
    dlg.host_a.setText("Ada")
    dlg.host_b.setText("Grace")
    dlg.podcast_length.setCurrentIndex(dlg.podcast_length.findData("medium"))
    dlg.voice_a.setText("en-us+m3")
    dlg.rate.setValue(180)
    dlg.pause.setValue(0.6)
    dlg.audio_format.setCurrentIndex(dlg.audio_format.findData("mp3"))
    assert dlg.ocr.isChecked()
    dlg.ocr.setChecked(False)
    assert "context size" in dlg.reload_note.text() and "GPU layers" in dlg.reload_note.text()
    expected = dlg.collect()
    assert expected.index.ocr is False

    with qtbot.waitSignal(dlg.settings_changed, timeout=2000) as blocker:
        dlg.accept()
    assert blocker.args[0] is settings and not dlg.isVisible()
    assert settings == expected and studio_section.host_a == "Ada"
    assert load_settings(paths.settings_file) == expected
    assert set(dlg.reload_needed) == {"context size", "GPU layers", "threads", "flash attention"}
    assert expected.model.n_ctx == 8192 and expected.tts.format == "mp3" and expected.output_language == "Français 🇫🇷"

    again = make(qtbot, paths, load_settings(paths.settings_file), lanes)
    assert again.collect() == expected  # every widget shows what was saved


def test_invalid_values_are_refused_with_messages(qtbot: Any, paths: AppPaths, lanes: Any) -> None:
    save_settings(Settings(), paths.settings_file)
    before = paths.settings_file.read_bytes()
    settings = Settings()
    dlg = make(qtbot, paths, settings, lanes)
    dlg.n_ctx.setValue(100)
    dlg.host_a.setText("Sam")
    dlg.host_b.setText("sam")
    dlg.rate.setValue(20)
    dlg.endpoint_edit.setText("ftp://mirror")
    dlg.tabs.setCurrentIndex(5)
    dlg.accept()
    assert dlg.isVisible() and dlg.error_label.isVisible()
    text = dlg.error_label.text()
    for message in ("context size must be between 512", "different names", "speaking rate must be between 80",
                    "hub endpoint must be an http"):
        assert message in text, text
    assert dlg.tabs.currentIndex() == 0  # the tab of the first problem
    assert paths.settings_file.read_bytes() == before and settings == Settings()

    dlg.n_ctx.setValue(2048)
    dlg.host_b.setText("Alex")
    dlg.rate.setValue(165)
    dlg.endpoint_edit.setText("")
    dlg.accept()
    assert not dlg.isVisible() and load_settings(paths.settings_file).model.n_ctx == 2048


def test_a_bad_model_file_shows_a_clear_error(qtbot: Any, tmp_path: Path, paths: AppPaths, lanes: Any) -> None:
    settings = Settings()
    dlg = make(qtbot, paths, settings, lanes)
    page = tmp_path / "page.gguf"
    page.write_text("<html>not a model</html>")
    dlg._choose_model_file = lambda: str(page)
    dlg.add_button.click()
    qtbot.waitUntil(lambda: dlg.last_error is not None, timeout=10000)
    assert "is not a GGUF model" in dlg.last_error.message and "Traceback" not in dlg.last_error.message
    assert "Traceback" in dlg.last_error.details  # for "Copy details"
    assert "is not a GGUF model" in dlg.model_status.text() and dlg.add_button.isEnabled()
    assert dlg.working.model.extra_paths == [] and settings.model.extra_paths == []


def test_an_added_model_shows_its_metadata_and_becomes_the_chat_model(qtbot: Any, tmp_path: Path, paths: AppPaths,
                                                                      lanes: Any) -> None:
    model = write_gguf(tmp_path / "elsewhere" / "tiny-chat.gguf", arch="qwen2", context_length=32768)
    settings = Settings()
    dlg = make(qtbot, paths, settings, lanes)
    dlg.add_model_file(str(model))
    qtbot.waitUntil(lambda: str(model) in model_rows(dlg) and not dlg.busy, timeout=10000)
    item = dlg.model_tree.currentItem()
    assert [item.text(i) for i in range(1, 6)] == ["chat", "qwen2", item.text(3), "Q4_K_M", "32,768"]
    assert "✓ chat" in item.text(0) and "used after OK" in dlg.chat_model_label.text()
    assert "chat model" in dlg.reload_note.text()
    assert settings.model.path == ""  # nothing applied before OK
    dlg.accept()
    saved = load_settings(paths.settings_file)
    assert saved.model.path == str(model) and saved.model.extra_paths == [str(model)]


def test_download_from_the_hub_with_progress(qtbot: Any, hub: FakeHub, paths: AppPaths, lanes: Any) -> None:
    entry = CATALOG[0]
    data = write_gguf(paths.cache / "src.gguf", data_bytes=2 << 20).read_bytes()
    hub.add(entry.repo_id, entry.filename, data)
    settings = Settings()
    settings.model.hub_endpoint = hub.url
    dlg = make(qtbot, paths, settings, lanes)
    dlg.catalog.setCurrentIndex(0)
    seen = Recorder()
    dlg.start_download()
    dlg.download_op.worker.signals.progress.connect(seen.record)
    qtbot.waitUntil(lambda: dlg.download_op.done and dlg.download_button.isEnabled(), timeout=30000)
    dest = paths.models / entry.filename
    assert dest.read_bytes() == data
    assert "Downloaded" in dlg.download_status.text() and dlg.progress.value() == 1000
    assert seen.calls and seen.calls[-1][0] == seen.calls[-1][1] == len(data)
    qtbot.waitUntil(lambda: str(dest) in model_rows(dlg), timeout=10000)
    assert dlg.working.model.path == str(dest)  # the demo was in use: the download takes its place (after OK)


def test_download_errors_are_clear(qtbot: Any, hub: FakeHub, paths: AppPaths, lanes: Any) -> None:
    hub.add("someone/Tiny-GGUF", "tiny.gguf", b"x")
    settings = Settings()
    settings.model.hub_endpoint = hub.url
    dlg = make(qtbot, paths, settings, lanes)
    dlg.catalog.setCurrentIndex(dlg.catalog.count() - 1)  # another GGUF on the hub
    assert dlg.custom_row.isVisibleTo(dlg)
    dlg.repo_edit.setText("someone/Tiny-GGUF")
    dlg.file_edit.setText("missing.gguf")
    dlg.start_download()
    qtbot.waitUntil(lambda: dlg.last_error is not None, timeout=30000)
    assert "has no file named missing.gguf" in dlg.last_error.message
    assert "has no file named missing.gguf" in dlg.download_status.text()


def test_cancel_and_closing_stop_the_download_and_keep_the_part(qtbot: Any, hub: FakeHub, paths: AppPaths,
                                                                 lanes: Any) -> None:
    data = write_gguf(paths.cache / "src.gguf", data_bytes=4 << 20).read_bytes()
    hub.add("o/r", "big.gguf", data)
    hub.chunk, hub.delay = 64 * 1024, 0.05
    settings = Settings()
    settings.model.hub_endpoint = hub.url
    dlg = make(qtbot, paths, settings, lanes)
    dlg.catalog.setCurrentIndex(dlg.catalog.count() - 1)
    dlg.repo_edit.setText("o/r")
    dlg.file_edit.setText("big.gguf")

    dlg.start_download()
    assert dlg.cancel_download_button.isEnabled() and not dlg.download_button.isEnabled()
    qtbot.waitUntil(lambda: 0 < dlg.progress.value() < 1000, timeout=30000)
    dlg.cancel_download_button.click()
    qtbot.waitUntil(lambda: dlg.download_op.done and dlg.download_button.isEnabled(), timeout=30000)
    assert "cancelled" in dlg.download_status.text() and dlg.last_error is None
    (part,) = paths.models.glob(".big.gguf.*.part")
    have = part.stat().st_size
    assert 0 < have < len(data) and not (paths.models / "big.gguf").exists()

    dlg.start_download()  # resumes, then the dialog is closed: the download stops
    op = dlg.download_op
    qtbot.waitUntil(lambda: any(r.range for r in hub.gets()) and part.stat().st_size > have, timeout=30000)
    dlg.reject()
    qtbot.waitUntil(lambda: op.done, timeout=30000)
    assert not (paths.models / "big.gguf").exists() and part.exists()
    assert hub.gets()[-1].range == f"bytes={have}-"


def test_remove_forgets_or_deletes_but_not_the_model_in_use(qtbot: Any, tmp_path: Path, paths: AppPaths,
                                                             lanes: Any) -> None:
    downloaded = write_gguf(paths.models / "downloaded.gguf")
    added = write_gguf(tmp_path / "added.gguf")
    settings = Settings()
    settings.model.extra_paths = [str(added)]
    dlg = make(qtbot, paths, settings, lanes)
    qtbot.waitUntil(lambda: str(added) in model_rows(dlg), timeout=10000)

    def select(path: Path) -> None:
        for i in range(dlg.model_tree.topLevelItemCount()):
            item = dlg.model_tree.topLevelItem(i)
            if item.data(0, 256) == str(path.resolve()):
                dlg.model_tree.setCurrentItem(item)

    select(added)
    dlg.use_button.click()
    select(added)
    dlg.remove_button.click()
    assert "is the chat model" in dlg.model_status.text() and added.exists()

    dlg.working.model.path = ""
    select(added)
    dlg.remove_button.click()
    qtbot.waitUntil(lambda: str(added) not in model_rows(dlg), timeout=10000)
    assert added.exists() and dlg.working.model.extra_paths == []  # forgotten, the file stays

    select(downloaded)
    dlg.remove_button.click()
    qtbot.waitUntil(lambda: not downloaded.exists(), timeout=10000)


def test_speech_engines_come_from_the_callable(qtbot: Any, paths: AppPaths, lanes: Any) -> None:
    settings = Settings()
    settings.tts.engine = "piper"
    dlg = make(qtbot, paths, settings, lanes,
               tts_engines=lambda: [("espeak-ng", None), ("piper", "the piper program is not installed")])
    def names() -> list[str]:
        return [dlg.tts_engine.itemData(i) for i in range(dlg.tts_engine.count())]

    qtbot.waitUntil(lambda: names() == ["espeak-ng", "piper"], timeout=5000)  # probed off-thread (io lane)
    assert not dlg.tts_engine.model().item(1).isEnabled()
    assert "piper is unavailable: the piper program is not installed" in dlg.tts_status.text()
    assert dlg.collect().tts.engine == "piper"  # kept, not silently changed

    plain = make(qtbot, paths, copy.deepcopy(Settings()), lanes)  # no callable: just the configured engine
    assert plain.tts_engine.currentData() == "espeak-ng"
    qtbot.waitUntil(lambda: "No speech engine found" in plain.tts_status.text(), timeout=5000)  # probed off-thread


def test_show_error_copies_details_and_never_blocks(qtbot: Any) -> None:
    from PySide6.QtGui import QGuiApplication

    from notebooklm_local.core.errors import Cancelled, ModelLoadError
    from notebooklm_local.ui.errors import show_error, show_exception

    box = show_error(None, "Something failed", "A clear message.", "Traceback: line 1")
    qtbot.addWidget(box)
    assert box.isVisible() and not box.details_view.isVisible()
    box.toggle_button.click()
    assert box.details_view.isVisible()
    box.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert "Something failed" in copied and "A clear message." in copied and "Traceback: line 1" in copied
    assert "notebooklm-local" in copied and "PySide6" in copied
    box.close()

    assert show_exception(None, "x", Cancelled()) is None
    try:
        raise ModelLoadError("The model is broken.")
    except ModelLoadError as e:
        dlg = show_exception(None, "Model", e)
    assert dlg is not None
    qtbot.addWidget(dlg)
    assert dlg.message == "The model is broken." and "raise ModelLoadError" in dlg.details
    dlg.close()


def test_the_embedder_in_use_and_why_is_shown(qtbot: Any, tmp_path: Path, paths: AppPaths, lanes: Any) -> None:
    dlg = make(qtbot, paths, Settings(), lanes)
    qtbot.waitUntil(lambda: dlg.embedding.count() > 0, timeout=10000)
    assert dlg.embedding.currentData() == "" and "all-MiniLM-L6-v2" in dlg.embedding.currentText()
    why = dlg.embedding_why.text()
    assert "all-minilm-l6-v2-f16.gguf" in why and "built-in default" in why and "bge-m3" in why
    assert "in Settings" not in why and "Model page" in why  # the user is in Settings: it names the page
    from tests.helpers.gguf_files import write_gguf

    other = write_gguf(tmp_path / "nomic-embed.gguf", arch="nomic-bert")
    dlg.embedding.addItem(other.name, str(other))
    dlg.embedding.setCurrentIndex(dlg.embedding.count() - 1)
    assert "embedded again" in dlg.embedding_why.text()
    assert dlg.collect().model.embedding_path == str(other)


def test_the_retrieval_page_links_to_the_model_page_not_to_settings(qtbot: Any, paths: AppPaths,
                                                                      lanes: Any) -> None:
    """The built-in embedder's hint names the page where bge-m3 is downloaded, as a link that goes there with
    bge-m3 chosen in the download box; no settings page sends the user to "Settings"."""
    from PySide6.QtWidgets import QLabel

    from notebooklm_local.ui.model_manager_page import MODEL_PAGE_LINK
    from notebooklm_local.ui.settings_dialog import TABS

    dlg = make(qtbot, paths, Settings(), lanes, initial_tab="retrieval")
    qtbot.waitUntil(lambda: dlg.embedding.count() > 0, timeout=10000)
    assert f'href="{MODEL_PAGE_LINK}"' in dlg.embedding_why.text()
    why = dlg.embedding_why  # as tall as its lines (it had blank lines above and below)
    qtbot.waitUntil(lambda: why.width() > 300 and why.height() == why.heightForWidth(why.width()), timeout=5000)
    dlg.embedding_why.linkActivated.emit(MODEL_PAGE_LINK)
    assert dlg.tabs.currentIndex() == TABS.index("model")
    assert dlg.catalog.currentData().name == "bge-m3"
    for i in range(dlg.tabs.count()):
        for label in dlg.tabs.widget(i).findChildren(QLabel):
            assert "in Settings" not in label.text(), (TABS[i], label.text())
    chosen = paths.models / "my-embedder.gguf"
    write_gguf(chosen, arch="nomic-bert")
    settings = Settings()
    settings.model.embedding_path = str(chosen)
    dlg2 = make(qtbot, paths, settings, lanes, initial_tab="retrieval")
    qtbot.waitUntil(lambda: dlg2.embedding.count() > 0, timeout=10000)
    assert dlg2.embedding_why.text() == "In use: my-embedder.gguf (chosen above)."


def test_ocr_checkbox_says_when_tesseract_is_missing(qtbot: Any, paths: AppPaths, lanes: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from notebooklm_local.ui import settings_dialog

    monkeypatch.setattr(settings_dialog.shutil, "which", lambda _name: None)
    settings = Settings()
    settings.index.ocr = False
    dlg = make(qtbot, paths, settings, lanes)
    assert not dlg.ocr.isChecked()
    assert not dlg.ocr_note.isHidden() and "apt-get install tesseract-ocr" in dlg.ocr_note.text()
