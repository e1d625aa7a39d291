"""The first-run dialog: say that the built-in model is a tiny demo, and offer a real one.

Three ways on: use a GGUF file already on disk (checked on the io lane by ``ModelManager.add``, the code
of ``notebooklm-local models add``), download a recommended model (the Settings dialog opens on its Model
tab), or continue with the demo. Closing the dialog, however it is closed, sets
``settings.ui.first_run_done`` and saves the settings, so it is shown once.
"""

from __future__ import annotations

import copy
import html
import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCommandLinkButton,
    QDialog,
    QFileDialog,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local import APP_DISPLAY_NAME
from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import Settings, save_settings
from notebooklm_local.services.model_manager import ModelInfo, ModelManager
from notebooklm_local.ui.errors import ErrorDialog, guard_none_refcount, show_error, show_exception
from notebooklm_local.ui.ops import BackgroundOp
from notebooklm_local.ui.settings_dialog import RECOMMENDED_CHAT, SettingsDialog, TtsEngines
from notebooklm_local.ui.theme import css
from notebooklm_local.ui.workers import Lanes

__all__ = ["FirstRunDialog", "should_show_first_run"]

log = logging.getLogger(__name__)


def should_show_first_run(settings: Settings) -> bool:
    """Shown until it was closed once, and only while the chat model is the built-in demo."""
    return not settings.ui.first_run_done and not settings.model.path and not settings.server.enabled


class FirstRunDialog(QDialog):
    """Welcome: the demo model's limits, and how to get a real model.

    Args:
        ctx_paths: the app's directories.
        settings: the app's settings; changed in place and saved (chat model, ``ui.first_run_done``).
        lanes: the app's lanes (model checks and downloads run on ``lanes.io``).
        parent: parent widget.
        tts_engines: passed on to the Settings dialog.

    Signals:
        settings_changed(object): the settings changed (a model was chosen); the object given.
    """

    settings_changed = Signal(object)

    def __init__(self, ctx_paths: AppPaths, settings: Settings, lanes: Lanes, parent: QWidget | None = None, *,
                 tts_engines: TtsEngines | None = None) -> None:
        guard_none_refcount()
        super().__init__(parent)
        self.setObjectName("first-run")
        self.setWindowTitle(f"Welcome to {APP_DISPLAY_NAME}")
        self.paths = ctx_paths
        self.settings = settings
        self.lanes = lanes
        self.tts_engines = tts_engines
        self.last_error: ErrorDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self._op: BackgroundOp | None = None

        layout = QVBoxLayout(self)
        title = QLabel(f"<h2>Welcome to {APP_DISPLAY_NAME}</h2>")
        layout.addWidget(title)
        intro = QLabel(
            "Everything runs on this computer: your sources, the search index and the language model.<br><br>"
            "<b>Works now, with nothing to download:</b> drop papers, web pages, notes or transcripts; search them "
            "(all-MiniLM-L6-v2 finds passages by meaning, and keywords too); ask a question in the chat and get "
            "<b>Quotes</b> — the sentences of your sources that answer it, each with a citation you can click. "
            "The Studio's <b>Extract</b> tab makes summaries, key quotes, flashcards, quizzes and a mind map from "
            "your sources' own sentences. Nothing is generated, so nothing is made up. Try the "
            "<i>Sample notebook</i>: ask “How much memory does a 7B model need at 4 bits?”.<br><br>"
            "<b>The built-in language model is a tiny demo.</b> Gemma 3 270M (a base model) cannot write answers "
            "or summaries. For written answers, chain-of-density summaries and podcasts add an instruction-tuned "
            f"model of 1–3 billion parameters (a 1–2 GB download; {RECOMMENDED_CHAT} is a good start, and speaks "
            "29 languages).")
        intro.setWordWrap(True)
        intro.setObjectName("first-run-intro")
        intro.setMinimumWidth(520)
        layout.addWidget(intro)

        self.pick_button = QCommandLinkButton("Use a GGUF model file on this computer…",
                                              "A .gguf file you already have; it stays where it is.")
        self.pick_button.setObjectName("first-run-pick")
        self.pick_button.clicked.connect(self._on_pick_clicked)
        self.download_button = QCommandLinkButton("Download a recommended model…",
                                                  "Opens Settings › Model: choose a model from the list, with "
                                                  "progress and cancel.")
        self.download_button.setObjectName("first-run-download")
        self.download_button.clicked.connect(self._on_download_clicked)
        self.demo_button = QCommandLinkButton("Continue with the demo model",
                                              "You can change the model later in Settings (Ctrl+,).")
        self.demo_button.setObjectName("first-run-demo")
        self.demo_button.clicked.connect(self.accept)
        for b in (self.pick_button, self.download_button, self.demo_button):
            layout.addWidget(b)
        self.status = QLabel()
        self.status.setObjectName("first-run-status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.status)
        self._show_model()

    # -- model choice -------------------------------------------------------------------------------

    def _choose_model_file(self) -> str:
        path, _filter = QFileDialog.getOpenFileName(self, "Choose a GGUF model", str(Path.home()),
                                                    "GGUF models (*.gguf);;All files (*)")
        return path

    @Slot()
    def _on_pick_clicked(self) -> None:
        path = self._choose_model_file()
        if path:
            self.use_model_file(path)

    def use_model_file(self, path: str) -> None:
        """Check the file on the io lane; a chat model becomes the chat model (saved)."""
        if self._op is not None and not self._op.done:
            return
        manager = ModelManager(self.paths, copy.deepcopy(self.settings))
        self.status.setText(f"Checking {html.escape(Path(path).name)}…")
        self.pick_button.setEnabled(False)
        self._op = BackgroundOp(self, lambda: manager.add(path), lanes=self.lanes, lane="io",
                                on_success=self._on_model_checked, on_failure=self._on_model_failed,
                                label="Model file").run()

    @Slot(object)
    def _on_model_checked(self, info: object) -> None:
        assert isinstance(info, ModelInfo)
        self.pick_button.setEnabled(True)
        if info.is_embedding:
            self.status.setText("")
            self.last_error = show_error(self, "Not a chat model",
                                         f"{info.file_name} is an embedding model ({info.architecture}): it turns "
                                         "text into vectors for search and cannot write answers. Choose a chat "
                                         "(instruct) model.")
            return
        m = self.settings.model
        if info.source == "added" and str(info.path) not in m.extra_paths:
            m.extra_paths.append(str(info.path))
        m.path = "" if info.default else str(info.path)
        if not self._save():
            return
        self.settings_changed.emit(self.settings)
        self._show_model(f"✔ Now using {info.file_name} ({info.architecture or '?'}, {info.size_label or '?'}, "
                         f"{info.quantization or '?'}).")
        self.demo_button.setText("Continue")
        self.demo_button.setDescription("Start using the app with this model.")

    @Slot(object)
    def _on_model_failed(self, exc: object) -> None:
        assert isinstance(exc, BaseException)
        self.pick_button.setEnabled(True)
        self.status.setText(f"<span style='color:{css('error')}'>{html.escape(str(exc))}</span>")
        self.last_error = show_exception(self, "This file cannot be used as a model", exc)

    @Slot()
    def _on_download_clicked(self) -> None:
        dialog = SettingsDialog(self.paths, self.settings, self.lanes, self, tts_engines=self.tts_engines,
                                initial_tab="model")
        dialog.settings_changed.connect(self._on_settings_changed)
        self.settings_dialog = dialog
        dialog.open()

    @Slot(object)
    def _on_settings_changed(self, settings: object) -> None:
        self._show_model()
        self.settings_changed.emit(settings)

    def _show_model(self, message: str = "") -> None:
        m = self.settings.model
        name = Path(m.path).name if m.path else "Gemma 3 270M (built-in demo)"
        text = html.escape(message) + ("<br>" if message else "") + f"Chat model: <b>{html.escape(name)}</b>"
        self.status.setText(text)

    # -- closing --------------------------------------------------------------------------------------

    def _save(self) -> bool:
        try:
            save_settings(self.settings, self.paths.settings_file)
        except OSError as e:
            self.last_error = show_error(self, "Settings not saved",
                                         f"Could not write {self.paths.settings_file}: {e.strerror or e}")
            return False
        return True

    def done(self, result: int) -> None:
        """However it is closed, the dialog is not shown again."""
        if not self.settings.ui.first_run_done:
            self.settings.ui.first_run_done = True
            self._save()
        super().done(result)
