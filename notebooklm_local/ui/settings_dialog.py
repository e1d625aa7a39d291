"""The Settings dialog: models (list, add, download, remove), performance, retrieval, output, audio, data.

The dialog edits a copy of the settings. OK checks the values (:func:`validate_settings`, in
``core/settings_check.py``: ``notebooklm-local config set`` runs the same checks), writes
``settings.toml`` atomically with ``save_settings`` (the file the app loads at start), copies the values
into the ``Settings`` object it was given (so services holding a section see them) and emits
``settings_changed``. Cancel changes nothing in the settings; files downloaded or deleted on the Model
tab stay downloaded or deleted.

The Model tab (:mod:`notebooklm_local.ui.model_manager_page`) uses :class:`ModelManager`, the same code as ``notebooklm-local models ...``. Everything
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
import shutil
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSize, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

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
from notebooklm_local.services.model_manager import ModelInfo
from notebooklm_local.ui.errors import ErrorDialog, exception_details, guard_none_refcount, show_error
from notebooklm_local.ui.model_manager_page import DEMO_MODEL, RECOMMENDED_CHAT, RECOMMENDED_ID, ModelManagerPage
from notebooklm_local.ui.ops import BackgroundOp
from notebooklm_local.ui.theme import css
from notebooklm_local.ui.workers import Lanes

__all__ = ["SettingsDialog", "TtsEngines", "validate_settings", "reload_reasons", "apply_settings", "AUDIENCES",
           "AUDIO_FORMATS", "CHOICES", "LENGTHS", "MAX_CTX", "MAX_WPM", "MIN_CTX", "MIN_WPM", "THEMES", "DEMO_MODEL",
           "RECOMMENDED_CHAT", "RECOMMENDED_ID"]

log = logging.getLogger(__name__)

TtsEngines = Callable[[], list[tuple[str, str | None]]]  # (engine name, why it is unavailable or None)

TABS = ("model", "performance", "retrieval", "output", "audio", "data")
LANGUAGES = ("English", "French", "German", "Spanish", "Italian", "Portuguese", "Dutch", "Polish", "Russian",
             "Ukrainian", "Turkish", "Arabic", "Hindi", "Chinese", "Japanese", "Korean")

# Settings that take effect when the chat model is loaded again, and what to call them.
_RELOAD = {("model", "path"): "chat model", ("model", "n_ctx"): "context size",
           ("model", "n_gpu_layers"): "GPU layers", ("model", "n_threads"): "threads",
           ("model", "flash_attn"): "flash attention", ("model", "chat_format"): "chat format"}


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


class _WrappedNote(QLabel):
    """A word-wrapped note as tall as its text at the width it has: a wrapped QLabel's size hint is a narrow,
    tall box, and the form gave it that height (blank lines above and below the Retrieval page's note)."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        hint = super().sizeHint()
        if self.width() > hint.width():
            return QSize(hint.width(), self.heightForWidth(self.width()))
        return hint

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self.sizeHint().height() != self.height():
            self.updateGeometry()


class SettingsDialog(ModelManagerPage, QDialog):
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
        self.download_op: BackgroundOp | None = None
        self._busy: set[BackgroundOp] = set()
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
        self.embedding_why = _WrappedNote()
        self.embedding_why.setObjectName("settings-embedding-why")
        self.embedding_why.setStyleSheet(f"color:{css('muted')}")
        self.embedding_why.setTextFormat(Qt.TextFormat.RichText)
        self.embedding_why.linkActivated.connect(self._on_embedding_why_link)  # "Model page": switch to it
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
            # the label belongs to the row, not the field: a screen reader would read the path unnamed
            edit.setAccessibleName(label.rstrip(":"))
            row.addWidget(edit, 1)
            button = QPushButton("Open")
            button.setAccessibleName(f"Open the {label.rstrip(':').lower()} folder")
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

    # -- background work (model files, downloads, the speech engines) --------------------------------

    def _submit(self, fn: Callable[..., Any], ok: Callable[[Any], None], failed: Callable[[BaseException], None],
                *, context: bool = False, on_progress: Callable[[int, int, str], None] | None = None,
                on_finished: Callable[[], None] | None = None) -> BackgroundOp:
        """Run ``fn`` on the io lane; ``ok`` / ``failed`` / ``on_progress`` / ``on_finished`` on the GUI thread."""
        def finished() -> None:
            self._busy = {op for op in self._busy if not op.done}
            if on_finished is not None:
                on_finished()

        op = BackgroundOp(self, fn, lanes=self.lanes, lane="io", context=context, on_success=ok, on_failure=failed,
                          on_progress=on_progress, on_finished=finished, label="Settings")
        self._busy.add(op)
        return op.run()

    @property
    def busy(self) -> bool:
        return any(not op.done for op in self._busy)


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
