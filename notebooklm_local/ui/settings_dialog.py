"""The Settings dialog: models (list, add, download, remove), performance, retrieval, output, audio, data.

The dialog edits a copy of the settings. OK checks the values (:func:`validate_settings`, in
``core/settings_check.py``: ``notebooklm-local config set`` runs the same checks), writes
``settings.toml`` atomically with ``save_settings`` (the file the app loads at start), copies the values
into the ``Settings`` object it was given (so services holding a section see them) and emits
``settings_changed``. Cancel changes nothing in the settings; files downloaded or deleted on the Model
tab stay downloaded or deleted.

The Model tab uses :class:`ModelManager`, the same code as ``notebooklm-local models ...``. Everything
that reads model files (the list reads each GGUF header) or the network runs on the ``io`` lane; the
managers there work on a snapshot of the settings and the GUI thread applies what changed. A download
shows its progress, can be cancelled (the partial file is kept and the next download resumes it), and is
cancelled when the dialog closes.
"""

from __future__ import annotations

import copy
import dataclasses
import html
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.core.errors import Cancelled, NotebookError
from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import Settings, save_settings
from notebooklm_local.core.settings_check import (  # re-exported: they used to live here
    AUDIENCES,
    AUDIO_FORMATS,
    CHOICES,
    LENGTHS,
    MAX_CTX,
    MAX_WPM,
    MIN_CTX,
    MIN_WPM,
    THEMES,
    validate_settings,
)
from notebooklm_local.services.model_manager import CATALOG, CatalogEntry, ModelInfo, ModelManager
from notebooklm_local.services.models import default_embedder_path, embedder_choice
from notebooklm_local.ui.errors import ErrorDialog, exception_details, guard_none_refcount, show_error, show_exception
from notebooklm_local.ui.theme import color, css
from notebooklm_local.ui.workers import FunctionWorker, Lanes

__all__ = ["SettingsDialog", "TtsEngines", "validate_settings", "reload_reasons", "apply_settings", "AUDIENCES",
           "AUDIO_FORMATS", "CHOICES", "LENGTHS", "MAX_CTX", "MAX_WPM", "MIN_CTX", "MIN_WPM", "THEMES"]

log = logging.getLogger(__name__)

TtsEngines = Callable[[], list[tuple[str, str | None]]]  # (engine name, why it is unavailable or None)

TABS = ("model", "performance", "retrieval", "output", "audio", "data")
DEMO_MODEL = "Gemma 3 270M (built-in demo)"
LANGUAGES = ("English", "French", "German", "Spanish", "Italian", "Portuguese", "Dutch", "Polish", "Russian",
             "Ukrainian", "Turkish", "Arabic", "Hindi", "Chinese", "Japanese", "Korean")
_WHERE = {"default": "built in", "data dir": "models folder", "added": "added"}

# Settings that take effect when the chat model is loaded again, and what to call them.
_RELOAD = {("model", "path"): "chat model", ("model", "n_ctx"): "context size",
           ("model", "n_gpu_layers"): "GPU layers", ("model", "n_threads"): "threads",
           ("model", "flash_attn"): "flash attention", ("model", "chat_format"): "chat format"}


# what the welcome dialog recommends, preselected in the catalog: (catalog name, how people call it)
RECOMMENDED_ID, RECOMMENDED_CHAT = "qwen2.5-1.5b-instruct", "Qwen2.5 1.5B Instruct"


def reload_reasons(old: Settings, new: Settings) -> list[str]:
    """What changed that needs the chat model loaded again ('context size', ...), or the sources embedded
    again ('embedding model')."""
    out = [label for (section, name), label in _RELOAD.items()
           if getattr(getattr(old, section), name) != getattr(getattr(new, section), name)]
    if old.model.embedding_path != new.model.embedding_path:
        out.append("embedding model")
    return out


def apply_settings(target: Any, source: Any) -> None:
    """Copy every field of the dataclass ``source`` into ``target`` in place (sections too, recursively), so
    objects that hold a section of ``target`` see the new values."""
    for f in dataclasses.fields(source):
        value = getattr(source, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            apply_settings(getattr(target, f.name), value)
        else:
            setattr(target, f.name, copy.copy(value))


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def _combo(values: tuple[str, ...], labels: dict[str, str] | None = None) -> QComboBox:
    box = QComboBox()
    for v in values:
        box.addItem((labels or {}).get(v, v.capitalize()), v)
    return box


def _select(box: QComboBox, value: str) -> None:
    i = box.findData(value)
    if i < 0:
        box.addItem(value, value)
        i = box.count() - 1
    box.setCurrentIndex(i)


class SettingsDialog(QDialog):
    """Edit the settings; OK validates, saves and applies them.

    Args:
        ctx_paths: the app's directories (``ctx.paths``): settings file, models, data.
        settings: the app's settings (``ctx.settings``); updated in place when OK saves.
        lanes: the app's lanes; model files and downloads are handled on ``lanes.io``.
        parent: parent widget.
        tts_engines: returns the text-to-speech engines as (name, None) or (name, why it is unavailable);
            called on the io lane.
        initial_tab: one of ``TABS``.

    Signals:
        settings_changed(object): the Settings after OK (the object given, updated); ``reload_needed``
            then lists what needs the model reloaded.
    """

    settings_changed = Signal(object)

    def __init__(self, ctx_paths: AppPaths, settings: Settings, lanes: Lanes, parent: QWidget | None = None, *,
                 tts_engines: TtsEngines | None = None, initial_tab: str = "model") -> None:
        guard_none_refcount()
        super().__init__(parent)
        self.setObjectName("settings-dialog")
        self.setWindowTitle("Settings")
        self.resize(900, 620)
        self.paths = ctx_paths
        self.original = settings
        self.working = copy.deepcopy(settings)
        self.lanes = lanes
        self.tts_engines = tts_engines or (lambda: [])
        self.reload_needed: list[str] = []
        self.models: list[ModelInfo] = []  # as ModelManager.list() returned them
        self._rows: list[ModelInfo] = []  # shown: the models plus the built-in one when it is not on disk yet
        self.last_error: ErrorDialog | None = None
        self.download_worker: FunctionWorker | None = None
        self._busy: set[FunctionWorker] = set()
        self._select_after_list: str | None = None

        self.tabs = QTabWidget()
        self.tabs.setObjectName("settings-tabs")
        self.tabs.addTab(self._model_tab(), "Model")
        self.tabs.addTab(self._performance_tab(), "Performance")
        self.tabs.addTab(self._retrieval_tab(), "Retrieval")
        self.tabs.addTab(self._output_tab(), "Output")
        self.tabs.addTab(self._audio_tab(), "Audio")
        self.tabs.addTab(self._data_tab(), "Data")

        self.reload_note = QLabel()
        self.reload_note.setObjectName("settings-reload-note")
        self.reload_note.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setObjectName("settings-errors")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color:{css('error')}")
        self.error_label.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.reload_note)
        layout.addWidget(self.buttons)

        self._load_values(self.working)
        self._connect_changes()
        self._update_reload_note()
        self.show_tab(initial_tab)
        self.refresh_models()
        self._probe_tts()

    # -- tabs ---------------------------------------------------------------------------------------

    def _model_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        self.chat_model_label = QLabel()
        self.chat_model_label.setObjectName("settings-chat-model")
        self.chat_model_label.setWordWrap(True)
        lay.addWidget(self.chat_model_label)
        if self.working.server.enabled:
            server = QLabel(f"An OpenAI-compatible server answers the chat ({html.escape(self.working.server.base_url)}"
                            "; [server] in settings.toml): the chat model chosen here is used when it is off.")
            server.setWordWrap(True)
            server.setStyleSheet(f"color:{css('warning')}")
            lay.addWidget(server)
        self.model_tree = QTreeWidget()
        self.model_tree.setObjectName("settings-models")
        self.model_tree.setAccessibleName("Models")
        self.model_tree.setRootIsDecorated(False)
        self.model_tree.setHeaderLabels(["Model", "Kind", "Architecture", "Parameters", "Quantisation", "Context",
                                         "Size", "Where"])
        header = self.model_tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for i in range(1, 8):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.model_tree.currentItemChanged.connect(self._on_current_model_changed)
        self.model_tree.itemDoubleClicked.connect(self._on_model_double_clicked)
        lay.addWidget(self.model_tree, 1)
        row = QHBoxLayout()
        self.use_button = QPushButton("Use for chat")
        self.use_button.setObjectName("settings-use-model")
        self.use_button.setToolTip("Answer with the selected model (after OK)")
        self.use_button.clicked.connect(self._on_use_clicked)
        self.add_button = QPushButton("Add file…")
        self.add_button.setObjectName("settings-add-model")
        self.add_button.setToolTip("Use a GGUF model file from your disk (it stays where it is)")
        self.add_button.clicked.connect(self._on_add_clicked)
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setObjectName("settings-remove-model")
        self.remove_button.setToolTip("Forget an added model, or delete a downloaded one")
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_models)
        for b in (self.use_button, self.add_button, self.remove_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.refresh_button)
        lay.addLayout(row)
        self.model_status = QLabel()
        self.model_status.setObjectName("settings-model-status")
        self.model_status.setWordWrap(True)
        self.model_status.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.model_status)

        box = QGroupBox("Download a recommended model")
        form = QVBoxLayout(box)
        row = QHBoxLayout()
        self.catalog = QComboBox()
        self.catalog.setObjectName("settings-catalog")
        self.catalog.setAccessibleName("Model to download")
        for e in CATALOG:
            self.catalog.addItem(f"{e.name} — {e.kind}, ~{_size(e.size_mb * 1_000_000)}", e)
        self.catalog.addItem("Another GGUF on the hub…", None)
        self.catalog.currentIndexChanged.connect(self._on_catalog_changed)
        row.addWidget(self.catalog, 1)
        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("settings-download")
        self.download_button.clicked.connect(self.start_download)
        self.cancel_download_button = QPushButton("Cancel download")
        self.cancel_download_button.setObjectName("settings-cancel-download")
        self.cancel_download_button.setEnabled(False)
        self.cancel_download_button.clicked.connect(self.cancel_download)
        row.addWidget(self.download_button)
        row.addWidget(self.cancel_download_button)
        form.addLayout(row)
        self.catalog_info = QLabel()
        self.catalog_info.setWordWrap(True)
        self.catalog_info.setStyleSheet(f"color:{css('muted')}")
        form.addWidget(self.catalog_info)
        custom = QHBoxLayout()
        self.repo_edit = QLineEdit()
        self.repo_edit.setPlaceholderText("owner/repository")
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("file.gguf")
        custom.addWidget(QLabel("Repository:"))
        custom.addWidget(self.repo_edit, 1)
        custom.addWidget(QLabel("File:"))
        custom.addWidget(self.file_edit, 1)
        self.custom_row = QWidget()
        self.custom_row.setLayout(custom)
        form.addWidget(self.custom_row)
        self.progress = QProgressBar()
        self.progress.setObjectName("settings-download-progress")
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        form.addWidget(self.progress)
        self.download_status = QLabel()
        self.download_status.setObjectName("settings-download-status")
        self.download_status.setWordWrap(True)
        self.download_status.setTextFormat(Qt.TextFormat.RichText)
        form.addWidget(self.download_status)
        endpoint = QHBoxLayout()
        endpoint.addWidget(QLabel("Hub endpoint:"))
        self.endpoint_edit = QLineEdit()
        self.endpoint_edit.setObjectName("settings-hub-endpoint")
        self.endpoint_edit.setPlaceholderText("https://huggingface.co (or $HF_ENDPOINT)")
        self.endpoint_edit.setToolTip("A Hugging Face mirror to download from; empty: $HF_ENDPOINT, else the hub")
        endpoint.addWidget(self.endpoint_edit, 1)
        form.addLayout(endpoint)
        lay.addWidget(box)
        # preselect the model the welcome dialog recommends (the catalog's first entry is the smallest one)
        for i in range(self.catalog.count()):
            if getattr(self.catalog.itemData(i), "name", None) == RECOMMENDED_ID:
                self.catalog.setCurrentIndex(i)
        self._on_catalog_changed(self.catalog.currentIndex())
        return w

    def _performance_tab(self) -> QWidget:
        w = QWidget()
        form = QFormLayout(w)
        self.gpu_layers = QSpinBox()
        self.gpu_layers.setObjectName("settings-gpu-layers")
        self.gpu_layers.setRange(-1, 999)
        self.gpu_layers.setSpecialValueText("All layers (−1)")
        self.gpu_layers.setToolTip("Layers to offload to the GPU: −1 all, 0 none (CPU only). Without a GPU "
                                   "build of llama.cpp everything runs on the CPU anyway.")
        form.addRow("GPU layers:", self.gpu_layers)
        self.n_ctx = QSpinBox()
        self.n_ctx.setObjectName("settings-n-ctx")
        self.n_ctx.setRange(1, MAX_CTX)
        self.n_ctx.setSingleStep(512)
        self.n_ctx.setGroupSeparatorShown(True)
        self.n_ctx.setSuffix(" tokens")
        self.n_ctx.setToolTip("How much text the model sees at once (passages + question + answer). More needs "
                              "more memory and time; it cannot exceed what the model was trained for.")
        form.addRow("Context size:", self.n_ctx)
        self.n_threads = QSpinBox()
        self.n_threads.setObjectName("settings-threads")
        self.n_threads.setRange(0, 1024)
        self.n_threads.setSpecialValueText("Automatic")
        self.n_threads.setToolTip("CPU threads for llama.cpp; Automatic lets llama.cpp choose")
        form.addRow("Threads:", self.n_threads)
        self.flash_attn = _combo(CHOICES, {"auto": "Automatic (on with a GPU)", "on": "On", "off": "Off"})
        self.flash_attn.setObjectName("settings-flash-attn")
        form.addRow("Flash attention:", self.flash_attn)
        note = QLabel("These take effect when the model is loaded again.")
        note.setStyleSheet(f"color:{css('muted')}")
        form.addRow(note)
        return w

    def _retrieval_tab(self) -> QWidget:
        w = QWidget()
        form = QFormLayout(w)
        self.embedding = QComboBox()
        self.embedding.setObjectName("settings-embedding")
        self.embedding.setToolTip("The model that turns passages into vectors for search. Changing it embeds "
                                  "every source again.")
        form.addRow("Embedding model:", self.embedding)
        self.embedding_why = QLabel("")
        self.embedding_why.setObjectName("settings-embedding-why")
        self.embedding_why.setWordWrap(True)
        self.embedding_why.setStyleSheet(f"color:{css('muted')}")
        form.addRow("", self.embedding_why)
        self.embedding.currentIndexChanged.connect(self._update_embedding_why)
        self.top_k = QSpinBox()
        self.top_k.setObjectName("settings-top-k")
        self.top_k.setRange(1, 100)
        self.top_k.setToolTip("How many passages are retrieved for each question")
        form.addRow("Passages per question:", self.top_k)
        self.structured = _combo(CHOICES, {"auto": "Automatic (on for models without a chat template)",
                                           "on": "On", "off": "Off"})
        self.structured.setObjectName("settings-structured")
        self.structured.setToolTip("Structured answers: the model must answer in JSON sentences, each with its "
                                   "passage ids and a supporting quote (good for small models)")
        form.addRow("Structured answers:", self.structured)
        self.ocr = QCheckBox("Read scanned PDF pages with OCR (Tesseract)")
        self.ocr.setObjectName("settings-ocr")
        self.ocr.setToolTip("Pages that are only an image (a scan) are read with Tesseract OCR when it is "
                            "installed; their text is marked as OCR in citations. Off: such pages are "
                            "listed as scanned and not read. Applies to sources added or re-indexed later.")
        form.addRow("Scanned pages:", self.ocr)
        self.ocr_note = QLabel("")
        self.ocr_note.setObjectName("settings-ocr-note")
        self.ocr_note.setWordWrap(True)
        self.ocr_note.setStyleSheet(f"color:{css('muted')}")
        if shutil.which("tesseract") is None:
            from notebooklm_local.services.loaders.pdf_ocr import OCR_INSTALL_HINT

            self.ocr_note.setText(f"Tesseract is not installed: {OCR_INSTALL_HINT}.")
        self.ocr_note.setVisible(bool(self.ocr_note.text()))
        form.addRow("", self.ocr_note)
        return w

    def _output_tab(self) -> QWidget:
        w = QWidget()
        outer = QVBoxLayout(w)
        answers = QGroupBox("Answers and studio outputs")
        form = QFormLayout(answers)
        self.language = QComboBox()
        self.language.setObjectName("settings-language")
        self.language.setEditable(True)
        self.language.addItem("")
        self.language.addItems(LANGUAGES)
        self.language.lineEdit().setPlaceholderText("Same as the question")
        self.language.setToolTip("The language answers and studio outputs are written in; empty: the language "
                                 "of the question")
        form.addRow("Output language:", self.language)
        outer.addWidget(answers)
        looks = QGroupBox("Appearance")
        form = QFormLayout(looks)
        self.theme = _combo(THEMES,
                            {"system": "Follow the system", "light": "Light", "dark": "Dark"})
        self.theme.setObjectName("settings-theme")
        self.theme.setAccessibleName("Theme")
        self.theme.setToolTip("Light or dark; “Follow the system” switches with your desktop")
        form.addRow("Theme:", self.theme)
        outer.addWidget(looks)
        summaries = QGroupBox("Summaries")
        form = QFormLayout(summaries)
        self.summary_length = _combo(LENGTHS)
        self.summary_length.setObjectName("settings-summary-length")
        form.addRow("Summary length:", self.summary_length)
        self.audience = _combo(AUDIENCES)
        self.audience.setObjectName("settings-audience")
        form.addRow("Audience:", self.audience)
        self.cod_steps = QSpinBox()
        self.cod_steps.setObjectName("settings-cod-steps")
        self.cod_steps.setRange(1, 10)
        self.cod_steps.setToolTip("Chain of density: how many times the summary is made denser")
        form.addRow("Chain-of-density steps:", self.cod_steps)
        self.cod_words = QSpinBox()
        self.cod_words.setObjectName("settings-cod-words")
        self.cod_words.setRange(1, 1000)
        self.cod_words.setSuffix(" words")
        self.cod_words.setToolTip("Chain of density: the length every step keeps")
        form.addRow("Chain-of-density length:", self.cod_words)
        outer.addWidget(summaries)
        podcast = QGroupBox("Podcast")
        form = QFormLayout(podcast)
        self.host_a = QLineEdit()
        self.host_a.setObjectName("settings-host-a")
        self.host_b = QLineEdit()
        self.host_b.setObjectName("settings-host-b")
        form.addRow("Host A:", self.host_a)
        form.addRow("Host B:", self.host_b)
        self.podcast_length = _combo(LENGTHS)
        self.podcast_length.setObjectName("settings-podcast-length")
        form.addRow("Length:", self.podcast_length)
        outer.addWidget(podcast)
        outer.addStretch(1)
        return w

    def _audio_tab(self) -> QWidget:
        w = QWidget()
        form = QFormLayout(w)
        self.tts_engine = QComboBox()
        self.tts_engine.setObjectName("settings-tts-engine")
        self.tts_engine.setToolTip("The text-to-speech engine for podcast audio")
        form.addRow("Speech engine:", self.tts_engine)
        self.tts_status = QLabel("Looking for speech engines…")
        self.tts_status.setStyleSheet(f"color:{css('muted')}")
        self.tts_status.setWordWrap(True)
        form.addRow("", self.tts_status)
        voice_tip = ("The engine's voice name: for espeak-ng a voice such as 'en-us' or 'en-us+m3' "
                     "(`espeak-ng --voices` lists them); for Piper the path of a .onnx voice. Empty: the engine's "
                     "default voice for the output language.")
        self.voice_a = QLineEdit()
        self.voice_a.setObjectName("settings-voice-a")
        self.voice_a.setPlaceholderText("default voice")
        self.voice_a.setToolTip(voice_tip)
        self.voice_b = QLineEdit()
        self.voice_b.setObjectName("settings-voice-b")
        self.voice_b.setPlaceholderText("default voice")
        self.voice_b.setToolTip(voice_tip)
        form.addRow("Voice of host A:", self.voice_a)
        form.addRow("Voice of host B:", self.voice_b)
        self.rate = QSpinBox()
        self.rate.setObjectName("settings-rate")
        self.rate.setRange(1, 1000)
        self.rate.setSuffix(" words/min")
        form.addRow("Speaking rate:", self.rate)
        self.pause = QDoubleSpinBox()
        self.pause.setObjectName("settings-pause")
        self.pause.setRange(0, 10)
        self.pause.setSingleStep(0.05)
        self.pause.setDecimals(2)
        self.pause.setSuffix(" s")
        self.pause.setToolTip("Silence between turns (a change of speaker pauses a little longer)")
        form.addRow("Pause between turns:", self.pause)
        self.audio_format = _combo(AUDIO_FORMATS, {"wav": "WAV", "mp3": "MP3 (needs ffmpeg or lame)",
                                                   "ogg": "Ogg Vorbis (needs ffmpeg or oggenc)"})
        self.audio_format.setObjectName("settings-audio-format")
        form.addRow("File format:", self.audio_format)
        return w

    def _data_tab(self) -> QWidget:
        w = QWidget()
        form = QFormLayout(w)
        intro = QLabel("Where notebooklm-local keeps its files (set NOTEBOOKLM_LOCAL_HOME or --basedir to move "
                       "them all).")
        intro.setWordWrap(True)
        form.addRow(intro)
        self.data_rows: dict[str, QLineEdit] = {}
        for label, path in (("Data:", self.paths.data), ("Models:", self.paths.models),
                            ("Settings file:", self.paths.settings_file), ("Logs:", self.paths.logs)):
            row = QHBoxLayout()
            edit = QLineEdit(str(path))
            edit.setReadOnly(True)
            row.addWidget(edit, 1)
            button = QPushButton("Open")
            button.setProperty("path", str(path if path.is_dir() or not path.suffix else path.parent))
            button.clicked.connect(self._on_open_clicked)
            row.addWidget(button)
            self.data_rows[label.rstrip(":")] = edit
            form.addRow(label, row)
        return w

    # -- values -------------------------------------------------------------------------------------

    def _load_values(self, s: Settings) -> None:
        m = s.model
        self.gpu_layers.setValue(m.n_gpu_layers)
        self.n_ctx.setValue(m.n_ctx)
        self.n_threads.setValue(max(0, m.n_threads))
        _select(self.flash_attn, m.flash_attn)
        self.endpoint_edit.setText(m.hub_endpoint)
        self.top_k.setValue(s.chat.top_k)
        _select(self.structured, s.chat.structured)
        self.ocr.setChecked(s.index.ocr is not False)
        self.language.setCurrentText(s.output_language)
        _select(self.theme, s.ui.theme if s.ui.theme in THEMES else "system")
        st = s.studio
        _select(self.summary_length, st.summary_length)
        _select(self.audience, st.audience)
        self.cod_steps.setValue(st.cod_steps)
        self.cod_words.setValue(st.cod_words)
        self.host_a.setText(st.host_a)
        self.host_b.setText(st.host_b)
        _select(self.podcast_length, st.podcast_length)
        t = s.tts
        self._fill_tts([], probing=True)
        self.voice_a.setText(t.voice_a)
        self.voice_b.setText(t.voice_b)
        self.rate.setValue(t.rate_wpm)
        self.pause.setValue(t.pause_s)
        _select(self.audio_format, t.format)
        self._fill_embedding()
        self._update_chat_label()

    def collect(self) -> Settings:
        """The settings as the dialog shows them (a new object; nothing is saved)."""
        s = copy.deepcopy(self.working)
        m = s.model
        m.n_gpu_layers = self.gpu_layers.value()
        m.n_ctx = self.n_ctx.value()
        m.n_threads = self.n_threads.value()
        m.flash_attn = self.flash_attn.currentData()
        m.hub_endpoint = self.endpoint_edit.text().strip()
        m.embedding_path = self.embedding.currentData() or ""
        s.chat.top_k = self.top_k.value()
        s.chat.structured = self.structured.currentData()
        s.index.ocr = self.ocr.isChecked()
        s.output_language = self.language.currentText().strip()
        s.ui.theme = self.theme.currentData()
        st = s.studio
        st.summary_length = self.summary_length.currentData()
        st.audience = self.audience.currentData()
        st.cod_steps = self.cod_steps.value()
        st.cod_words = self.cod_words.value()
        st.host_a = self.host_a.text().strip()
        st.host_b = self.host_b.text().strip()
        st.podcast_length = self.podcast_length.currentData()
        t = s.tts
        t.engine = self.tts_engine.currentData() or ""
        t.voice_a = self.voice_a.text().strip()
        t.voice_b = self.voice_b.text().strip()
        t.rate_wpm = self.rate.value()
        t.pause_s = round(self.pause.value(), 2)
        t.format = self.audio_format.currentData()
        return s

    def _connect_changes(self) -> None:
        for spin in (self.gpu_layers, self.n_ctx, self.n_threads):
            spin.valueChanged.connect(self._on_value_changed)
        for box in (self.flash_attn, self.embedding):
            box.currentIndexChanged.connect(self._on_value_changed)

    @Slot()
    def _on_value_changed(self) -> None:
        self._update_reload_note()

    def _update_reload_note(self) -> None:
        reasons = reload_reasons(self.original, self.collect())
        model = [r for r in reasons if r != "embedding model"]
        parts = []
        if model:
            parts.append(f"Changed: {', '.join(model)} — the chat model is loaded again before the next answer.")
        if "embedding model" in reasons:
            parts.append("The embedding model changed: every source is embedded again (in the background).")
        text = " ".join(parts) or ("Changes to the chat model, GPU layers, context size, threads or flash attention "
                                   "take effect when the model is loaded again; the others apply to the next answer.")
        self.reload_note.setText(text)
        self.reload_note.setStyleSheet(f"color:{css('warning' if parts else 'muted')}")

    # -- OK / Cancel ----------------------------------------------------------------------------------

    def show_tab(self, name: str) -> None:
        if name in TABS:
            self.tabs.setCurrentIndex(TABS.index(name))

    def accept(self) -> None:
        """Validate, save atomically, apply in place, emit ``settings_changed``; on problems, say what."""
        new = self.collect()
        problems = validate_settings(new)
        if problems:
            self.error_label.setText("<br>".join(f"✖ {html.escape(msg)}" for _tab, msg in problems))
            self.error_label.setVisible(True)
            self.show_tab(problems[0][0])
            return
        self.error_label.setVisible(False)
        try:
            save_settings(new, self.paths.settings_file)
        except OSError as e:
            self.last_error = show_error(self, "Settings not saved",
                                         f"Could not write {self.paths.settings_file}: {e.strerror or e}",
                                         exception_details(e))
            return
        self.reload_needed = reload_reasons(self.original, new)
        apply_settings(self.original, new)
        self.working = new
        self.settings_changed.emit(self.original)
        super().accept()

    def done(self, result: int) -> None:
        """Closing (OK, Cancel, Escape, the close box) cancels a running download; its partial file is kept."""
        self.cancel_download()
        super().done(result)

    # -- model list -----------------------------------------------------------------------------------

    def _manager(self) -> ModelManager:
        """A manager over a snapshot of the working settings, for use on a pool thread."""
        snapshot = copy.deepcopy(self.working)
        snapshot.model.hub_endpoint = self.endpoint_edit.text().strip()
        return ModelManager(self.paths, snapshot)

    def _submit(self, fn: Callable[..., Any], ok: Callable[[object], None], failed: Callable[[object], None],
                *, context: bool = False) -> FunctionWorker:
        worker = FunctionWorker(fn, pass_context=context)
        worker.signals.succeeded.connect(ok)
        worker.signals.failed.connect(failed)
        worker.signals.finished.connect(self._on_worker_finished)
        self._busy.add(worker)
        self.lanes.submit(self.lanes.io, worker)
        return worker

    @Slot()
    def _on_worker_finished(self) -> None:
        self._busy = {w for w in self._busy if not w.done}

    @property
    def busy(self) -> bool:
        return any(not w.done for w in self._busy)

    @Slot()
    def refresh_models(self) -> None:
        """Read the model list (GGUF headers) on the io lane."""
        self.model_status.setText("Reading the models…")
        self._submit(self._manager().list, self._on_models_listed, self._on_models_failed)

    @Slot(object)
    def _on_models_listed(self, infos: object) -> None:
        assert isinstance(infos, list)
        self.models = infos
        keep = self._select_after_list or self._selected_path()
        self._select_after_list = None
        self.model_tree.clear()
        manager = ModelManager(self.paths, self.working)
        default = manager.default_path
        rows = list(infos)
        if not any(i.path == default for i in rows):
            rows.insert(0, ModelInfo(default, 0, architecture="gemma3", quantization="Q4_K_M", size_label="270M",
                                     context_length=32768, default=True, source="default"))
        chat = self._chat_path()
        emb = Path(self.working.model.embedding_path).expanduser().resolve() if self.working.model.embedding_path \
            else default_embedder_path(self.paths).resolve()
        for info in rows:
            name = DEMO_MODEL if info.default else (info.name or info.file_name)
            uses = [r for r, p in (("chat", chat), ("embedding", emb)) if p == info.path]
            label = name + (f"  ✓ {' + '.join(uses)}" if uses else "")
            if info.error:
                item = QTreeWidgetItem([label, "—", info.error, "", "", "", _size(info.size) if info.size else "",
                                        _WHERE.get(info.source, info.source)])
                item.setForeground(2, color("error"))
                item.setToolTip(2, info.error)
            else:
                item = QTreeWidgetItem([
                    label, info.kind, info.architecture or "?", info.size_label or "?", info.quantization or "?",
                    f"{info.context_length:,}" if info.context_length else "?",
                    _size(info.size) if info.size else "built in", _WHERE.get(info.source, info.source)])
            item.setData(0, Qt.ItemDataRole.UserRole, str(info.path))
            item.setToolTip(0, f"{info.file_name}\n{info.path}")
            item.setToolTip(7, str(info.path))
            if uses:
                font = item.font(0)
                font.setBold(True)
                item.setFont(0, font)
            self.model_tree.addTopLevelItem(item)
            if str(info.path) == keep:
                self.model_tree.setCurrentItem(item)
        self._rows = rows
        self._fill_embedding()
        self._update_chat_label()
        self._on_model_selected()
        if self.model_status.text() == "Reading the models…":
            self.model_status.setText(f"{len(infos)} model file{'s' if len(infos) != 1 else ''}.")

    @Slot(object)
    def _on_models_failed(self, exc: object) -> None:
        self.model_status.setText(f"<span style='color:{css('error')}'>Could not list the models: {html.escape(str(exc))}"
                                  "</span>")

    def _chat_path(self) -> Path:
        m = self.working.model
        return Path(m.path).expanduser().resolve() if m.path else ModelManager(self.paths, self.working).default_path

    def _update_chat_label(self) -> None:
        m = self.working.model
        name = Path(m.path).name if m.path else DEMO_MODEL
        changed = m.path != self.original.model.path
        self.chat_model_label.setText(f"<b>Chat model:</b> {html.escape(name)}"
                                      + (" <i>(used after OK)</i>" if changed else ""))

    def _fill_embedding(self) -> None:
        current = self.embedding.currentData() if self.embedding.count() else self.working.model.embedding_path
        self.embedding.blockSignals(True)
        self.embedding.clear()
        self.embedding.addItem("Built-in: all-MiniLM-L6-v2 (fast; English-centred)", "")
        builtin = default_embedder_path(self.paths).resolve()
        infos = [i for i in self._rows if not i.error and not i.default and i.path != builtin]
        for info in sorted(infos, key=lambda i: (not i.is_embedding, i.file_name.lower())):
            self.embedding.addItem(f"{info.file_name} ({info.kind})", str(info.path))
        if current:
            i = self.embedding.findData(current)
            if i < 0:
                self.embedding.addItem(Path(current).name, current)
                i = self.embedding.count() - 1
            self.embedding.setCurrentIndex(i)
        self.embedding.blockSignals(False)
        self._update_embedding_why()

    @Slot()
    def _update_embedding_why(self, _index: int = 0) -> None:
        """Which embedder is in use and why (what `doctor` says), and what choosing another one does."""
        chosen = self.embedding.currentData() or ""
        if chosen == self.original.model.embedding_path:
            path, why = embedder_choice(self.paths, self.original, ensure=False)
            text = f"In use: {path.name} \u2014 {why}."
        else:
            text = "Used after OK: every source is embedded again, in the background (keyword search meanwhile)."
        self.embedding_why.setText(text)

    def _selected_path(self) -> str | None:
        item = self.model_tree.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None

    def _selected_info(self) -> ModelInfo | None:
        path = self._selected_path()
        return next((i for i in self._rows if str(i.path) == path), None)

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_current_model_changed(self, _current: QTreeWidgetItem, _previous: QTreeWidgetItem) -> None:
        self._on_model_selected()

    def _on_model_selected(self) -> None:
        info = self._selected_info()
        self.use_button.setEnabled(info is not None and not info.error and not info.is_embedding
                                   and info.path != self._chat_path())
        self.remove_button.setEnabled(info is not None and (info.size > 0 or info.source == "added"))

    @Slot(QTreeWidgetItem, int)
    def _on_model_double_clicked(self, _item: QTreeWidgetItem, _column: int) -> None:
        if self.use_button.isEnabled():
            self._on_use_clicked()

    @Slot()
    def _on_use_clicked(self) -> None:
        info = self._selected_info()
        if info is None or info.error:
            return
        self._use_for_chat(info)

    def _use_for_chat(self, info: ModelInfo) -> None:
        self.working.model.path = "" if info.default else str(info.path)
        self.model_status.setText(f"{html.escape(DEMO_MODEL if info.default else info.file_name)} will answer "
                                  "the chat after you press OK.")
        self._select_after_list = str(info.path)
        self._on_models_listed(self.models)
        self._update_reload_note()

    # -- add / remove -------------------------------------------------------------------------------

    def _choose_model_file(self) -> str:
        path, _filter = QFileDialog.getOpenFileName(self, "Add a GGUF model", str(Path.home()),
                                                    "GGUF models (*.gguf);;All files (*)")
        return path

    @Slot()
    def _on_add_clicked(self) -> None:
        path = self._choose_model_file()
        if path:
            self.add_model_file(path)

    def add_model_file(self, path: str) -> None:
        """Check a GGUF on the io lane and add it (made the chat model when it is one)."""
        self.model_status.setText(f"Checking {html.escape(Path(path).name)}…")
        self.add_button.setEnabled(False)
        manager = self._manager()
        self._submit(lambda: manager.add(path), self._on_model_added, self._on_add_failed)

    @Slot(object)
    def _on_model_added(self, info: object) -> None:
        assert isinstance(info, ModelInfo)
        self.add_button.setEnabled(True)
        extra = self.working.model.extra_paths
        if info.source == "added" and str(info.path) not in extra:
            extra.append(str(info.path))
        if not info.is_embedding:
            self.working.model.path = "" if info.default else str(info.path)
            note = "it will answer the chat after you press OK"
        else:
            note = "it is an embedding model: choose it on the Retrieval tab to use it"
        self._select_after_list = str(info.path)
        self.refresh_models()
        self._update_reload_note()
        self.model_status.setText(f"Added {html.escape(info.file_name)} ({html.escape(info.architecture or '?')}, "
                                  f"{html.escape(info.quantization or '?')}); {note}.")

    @Slot(object)
    def _on_add_failed(self, exc: object) -> None:
        self.add_button.setEnabled(True)
        assert isinstance(exc, BaseException)
        self.model_status.setText(f"<span style='color:{css('error')}'>{html.escape(str(exc))}</span>")
        self.last_error = show_exception(self, "This file cannot be added as a model", exc)

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Ok
                                      | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Ok

    @Slot()
    def _on_remove_clicked(self) -> None:
        info = self._selected_info()
        if info is None:
            return
        roles = [r for r, v in (("chat", "path"), ("embedding", "embedding_path"))
                 for s in (self.working, self.original)
                 if (getattr(s.model, v) and Path(getattr(s.model, v)).expanduser().resolve() == info.path)
                 or (not getattr(s.model, v) and info.default)]
        if roles:
            self.model_status.setText(f"<span style='color:{css('error')}'>{html.escape(info.file_name)} is the "
                                      f"{' and '.join(sorted(set(roles)))} model: choose another one and press OK "
                                      "first.</span>")
            return
        deletes = info.source != "added"
        question = (f"Delete {info.path} ({_size(info.size)})?" if deletes else
                    f"Forget {info.file_name}? The file stays where it is:\n{info.path}")
        if not self._confirm("Remove model", question):
            return
        manager = self._manager()
        self.remove_button.setEnabled(False)
        self._submit(lambda: manager.remove(str(info.path)), self._on_model_removed, self._on_remove_failed)

    @Slot(object)
    def _on_model_removed(self, removed: object) -> None:
        info = removed.info  # type: ignore[attr-defined]
        if removed.forgot:  # type: ignore[attr-defined]
            self.working.model.extra_paths[:] = [
                p for p in self.working.model.extra_paths if Path(p).expanduser().resolve() != info.path]
        self.refresh_models()
        self.model_status.setText(html.escape(removed.message()))  # type: ignore[attr-defined]

    @Slot(object)
    def _on_remove_failed(self, exc: object) -> None:
        assert isinstance(exc, BaseException)
        self.model_status.setText(f"<span style='color:{css('error')}'>{html.escape(str(exc))}</span>")
        self.last_error = show_exception(self, "Could not remove the model", exc)
        self._on_model_selected()

    # -- download -------------------------------------------------------------------------------------

    @Slot(int)
    def _on_catalog_changed(self, _index: int) -> None:
        entry = self.catalog.currentData()
        self.custom_row.setVisible(entry is None)
        if isinstance(entry, CatalogEntry):
            lic = f" Licence: {entry.license}." if entry.license else ""
            self.catalog_info.setText(f"{entry.description}{lic} From {entry.repo_id}.")
        else:
            self.catalog_info.setText("A single-file .gguf from any Hugging Face repository (or mirror).")

    @Slot()
    def start_download(self) -> None:
        """Download the chosen model on the io lane, with progress; Cancel stops it (resumable)."""
        if self.download_worker is not None and not self.download_worker.done:
            return
        entry = self.catalog.currentData()
        if isinstance(entry, CatalogEntry):
            spec, filename, label = entry, None, entry.name
        else:
            spec, filename = self.repo_edit.text().strip(), self.file_edit.text().strip()
            if not spec or not filename:
                self.download_status.setText(f"<span style='color:{css('error')}'>Give the repository (owner/name) and the "
                                             ".gguf file to download.</span>")
                return
            label = filename
        endpoint = self.endpoint_edit.text().strip()
        if endpoint and not re.match(r"^https?://[^\s/]+", endpoint):
            self.download_status.setText(f"<span style='color:{css('error')}'>The hub endpoint must be an http:// or "
                                         "https:// address.</span>")
            return
        manager = self._manager()

        def run(cancel: Any, progress: Any) -> ModelInfo:
            return manager.download(spec, filename, progress=progress, cancel=cancel, endpoint=endpoint or None)

        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.progress.setFormat(f"{label}: starting…")
        self.download_status.setText(f"Downloading {html.escape(label)}…")
        self.download_button.setEnabled(False)
        self.cancel_download_button.setEnabled(True)
        worker = self._submit(run, self._on_downloaded, self._on_download_failed, context=True)
        worker.signals.progress.connect(self._on_download_progress)
        worker.signals.finished.connect(self._on_download_finished)
        self.download_worker = worker

    @Slot()
    def cancel_download(self) -> None:
        if self.download_worker is not None and not self.download_worker.done:
            self.download_worker.cancel_token.cancel()
            self.download_status.setText("Cancelling…")

    @Slot(int, int, str)
    def _on_download_progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.progress.setValue(min(1000, int(1000 * done / total)))
        name, _, status = message.partition(": ")
        self.progress.setFormat(f"{name}: {status or '%p%'}" if status else "%p%")

    @Slot(object)
    def _on_downloaded(self, info: object) -> None:
        assert isinstance(info, ModelInfo)
        note = ""
        if not info.is_embedding and not self.working.model.path:
            self.working.model.path = str(info.path)
            note = " It will answer the chat after you press OK."
        elif info.is_embedding:
            note = " Choose it on the Retrieval tab to use it for search."
        self.progress.setValue(1000)
        self.progress.setFormat("Done")
        self.download_status.setText(f"<span style='color:{css('success')}'>✔ Downloaded {html.escape(info.file_name)} "
                                     f"({_size(info.size)}).</span>{html.escape(note)}")
        self._select_after_list = str(info.path)
        self.refresh_models()
        self._update_reload_note()

    @Slot(object)
    def _on_download_failed(self, exc: object) -> None:
        assert isinstance(exc, BaseException)
        if isinstance(exc, Cancelled):
            self.download_status.setText("Download cancelled. The part already downloaded is kept: Download "
                                         "again to resume.")
            self.progress.setFormat("Cancelled")
            return
        message = str(exc) if isinstance(exc, NotebookError) else f"{type(exc).__name__}: {exc}"
        self.download_status.setText(f"<span style='color:{css('error')}'>✖ {html.escape(message)}</span>")
        self.progress.setFormat("Failed")
        if self.isVisible():
            self.last_error = show_exception(self, "The download failed", exc)

    @Slot()
    def _on_download_finished(self) -> None:
        self.download_button.setEnabled(True)
        self.cancel_download_button.setEnabled(False)

    # -- audio ----------------------------------------------------------------------------------------

    def _probe_tts(self) -> None:
        probe = self.tts_engines
        self._submit(lambda: list(probe()), self._on_tts_probed, self._on_tts_failed)

    @Slot(object)
    def _on_tts_probed(self, engines: object) -> None:
        assert isinstance(engines, list)
        self._fill_tts(engines)

    @Slot(object)
    def _on_tts_failed(self, exc: object) -> None:
        log.warning("speech engine probe failed: %s", exc)
        self._fill_tts([])
        self.tts_status.setText(f"Could not look for speech engines: {exc}")

    def _fill_tts(self, engines: list[tuple[str, str | None]], *, probing: bool = False) -> None:
        current = self.tts_engine.currentData() if self.tts_engine.count() else self.working.tts.engine
        self.tts_engine.clear()
        model = self.tts_engine.model()
        for name, reason in engines:
            self.tts_engine.addItem(name if reason is None else f"{name} — unavailable", name)
            if reason is not None and isinstance(model, QStandardItemModel):
                item = model.item(self.tts_engine.count() - 1)
                item.setEnabled(False)
                item.setToolTip(reason)
        if current and self.tts_engine.findData(current) < 0:
            self.tts_engine.addItem(current if probing else f"{current} — not found", current)
        _select(self.tts_engine, current)
        usable = [n for n, r in engines if r is None]
        if probing:
            self.tts_status.setText("Looking for speech engines…")
        elif usable:
            self.tts_status.setText(f"Found: {', '.join(usable)}.")
        else:
            self.tts_status.setText("No speech engine found: install espeak-ng (or a plugin's engine) for podcast "
                                    "audio. Scripts work without one.")
        unavailable = {n: r for n, r in engines if r is not None}
        if current in unavailable:
            self.tts_status.setText(f"{current} is unavailable: {unavailable[current]}")

    # -- data -----------------------------------------------------------------------------------------

    @Slot()
    def _on_open_clicked(self) -> None:
        button = self.sender()
        path = button.property("path") if button is not None else None
        if path:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
