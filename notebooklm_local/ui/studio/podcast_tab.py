"""The Podcast tab: formats, the script (generated, edited or written), export, voices and audio."""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.core.citations import strip_markers
from notebooklm_local.core.errors import Cancelled, NotebookError
from notebooklm_local.core.note_export import safe_filename
from notebooklm_local.core.podcast_script import (
    PODCAST_FORMATS,
    PODCAST_LENGTHS,
    PREFS_KEY,
    PodcastScript,
    checked_prefs,
    normalize_length,
    podcast_format,
)
from notebooklm_local.core.studio_store import StudioOutput
from notebooklm_local.services.studio.summaries import AUDIENCES
from notebooklm_local.ui.chat_panel import regenerate_link
from notebooklm_local.ui.errors import NO_NOTEBOOK
from notebooklm_local.ui.ops import BackgroundOp
from notebooklm_local.ui.rich_text import CitationBrowser, chip, citation_from_json
from notebooklm_local.ui.studio.tab_base import StudioTab, notes_html
from notebooklm_local.ui.studio.widgets import _button, _combo
from notebooklm_local.ui.theme import css

__all__ = ["PodcastTab", "multimedia_available"]

log = logging.getLogger(__name__)


def multimedia_available() -> tuple[bool, str]:
    """(True, "") when QtMultimedia can play here; else (False, why). Never raises."""
    try:
        from PySide6.QtMultimedia import QMediaDevices

        if not QMediaDevices.audioOutputs():
            return False, "no audio output device was found"
    except Exception as e:  # noqa: BLE001 - a missing or broken multimedia backend only disables playback
        return False, f"audio playback is not available ({e})"
    return True, ""


def _prefs_not_read(exc: BaseException) -> None:
    """The stored podcast choices could not be read: the controls keep what they show (as before: quietly)."""
    log.debug("podcast preferences not read: %r", exc)


class PodcastTab(StudioTab):
    def __init__(self, pane: Any) -> None:
        super().__init__(pane)
        st = pane.settings.studio
        self.script: PodcastScript | None = None
        self.notes: list[str] = []
        self.audio_path: Path | None = None
        self.player: Any = None
        self.audio_output: Any = None
        self.player_problem = ""
        self.engines: list[tuple[str, str | None]] = []
        self._engines_loaded = False
        layout = QVBoxLayout(self)
        form = QFormLayout()
        # the format on a row of its own, its description wrapped under it: the pane stays narrow
        self.format_box = _combo("podcast-format", [(f.label, f.name) for f in PODCAST_FORMATS.values()],
                                 "deep-dive")
        self.format_box.setAccessibleName("Audio overview format")
        self.format_box.setToolTip("\n".join(f"{f.label}: {f.description}" for f in PODCAST_FORMATS.values()))
        form.addRow("Format", self.format_box)
        self.format_note = QLabel("")
        self.format_note.setObjectName("podcast-format-description")
        self.format_note.setWordWrap(True)
        self.format_note.setStyleSheet(f"color:{css('muted')};font-size:small")
        form.addRow("", self.format_note)
        hosts = QHBoxLayout()
        self.host_a = QLineEdit(st.host_a)
        self.host_a.setObjectName("podcast-host-a")
        self.host_a.setAccessibleName("First host's name")
        self.host_a.setPlaceholderText("First host")
        self.host_b = QLineEdit(st.host_b)
        self.host_b.setObjectName("podcast-host-b")
        self.host_b.setAccessibleName("Second host's name")
        self.host_b.setPlaceholderText("Second host")
        hosts.addWidget(self.host_a)
        hosts.addWidget(self.host_b)
        form.addRow("Hosts", hosts)
        personas = QHBoxLayout()
        self.persona_a = QLineEdit()
        self.persona_a.setObjectName("podcast-persona-a")
        self.persona_a.setAccessibleName("First host's persona")
        self.persona_a.setPlaceholderText("Persona (default: curious, asks)")
        self.persona_b = QLineEdit()
        self.persona_b.setObjectName("podcast-persona-b")
        self.persona_b.setAccessibleName("Second host's persona")
        self.persona_b.setPlaceholderText("Persona (default: explains)")
        personas.addWidget(self.persona_a)
        personas.addWidget(self.persona_b)
        form.addRow("Personas", personas)
        opts = QHBoxLayout()
        self.audience_box = _combo("podcast-audience", [(a.capitalize(), a) for a in AUDIENCES], st.audience)
        try:
            length = normalize_length(st.podcast_length)
        except NotebookError:
            length = "default"
        self.length_box = _combo("podcast-length", [(n.capitalize(), n) for n in PODCAST_LENGTHS], length)
        self.audience_box.setAccessibleName("Audience")
        self.length_box.setAccessibleName("Episode length")
        self.language_edit = QLineEdit()
        self.language_edit.setObjectName("podcast-language")
        self.language_edit.setPlaceholderText("Language (notebook's)")
        self.language_edit.setAccessibleName("Podcast language")
        self.language_edit.setToolTip("The podcast's language; kept per notebook. Empty: the notebook's podcast "
                                      "language, else the output language in Settings")
        opts.addWidget(self.audience_box)
        opts.addWidget(self.length_box)
        opts.addWidget(self.language_edit, 1)
        form.addRow("Episode", opts)
        self.focus_edit = QLineEdit()
        self.focus_edit.setObjectName("podcast-focus")
        self.focus_edit.setPlaceholderText("Optional: a topic to focus on")
        form.addRow("Focus", self.focus_edit)
        layout.addLayout(form)
        self.hosts_label = form.labelForField(hosts)
        self.personas_label = form.labelForField(personas)
        self.format_box.currentIndexChanged.connect(self._on_format_changed)
        self._on_format_changed()
        self.add_generate_controls(layout, "Generate script", "podcast",
                                   "Plan the episode, then write each segment's dialogue with citations")
        self.view = CitationBrowser()
        self.view.setObjectName("podcast-script")
        self.view.setAccessibleName("Podcast script")
        self.view.setPlaceholderText("The script appears here: each line cites its passages; lines the sources do "
                                     "not support are marked \u26a0. You can edit it, export it or turn it into audio. "
                                     "Or write or paste your own script (Write script\u2026), no model needed.")
        self.view.citation_activated.connect(pane.citation_activated)
        self.view.anchorClicked.connect(self._on_anchor)
        layout.addWidget(self.view, 1)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("podcast-editor")
        self.editor.setAccessibleName("Script (Markdown)")
        self.editor.setVisible(False)
        layout.addWidget(self.editor, 1)
        actions = QHBoxLayout()
        self.edit_button = _button("Edit script", "podcast-edit", self.edit,
                                   "Edit the script as Markdown (**Name:** line [n])")
        self.save_script_button = _button("Save script", "podcast-save-script", self.save_script,
                                          "Store the edited script; its citations are checked again")
        self.discard_button = _button("Discard edits", "podcast-discard", self.discard_edits)
        self.export_button = _button("Export Markdown…", "podcast-export", self.export_markdown)
        self.save_note_button = _button("Save as note", "podcast-save-note", self.save_note)
        self.provenance_button = self.make_provenance_button("podcast-provenance")
        # two rows (editing the script; what to do with it): in one row the six buttons forced the studio
        # pane, and so the window, wider than a 1024-px screen
        for b in (self.edit_button, self.save_script_button, self.discard_button):
            actions.addWidget(b)
        actions.addStretch(1)
        layout.addLayout(actions)
        outputs = QHBoxLayout()
        for b in (self.export_button, self.save_note_button, self.provenance_button):
            outputs.addWidget(b)
        outputs.addStretch(1)
        layout.addLayout(outputs)
        audio = QHBoxLayout()
        audio.addWidget(QLabel("Voice engine"))
        self.engine_box = QComboBox()
        self.engine_box.setObjectName("podcast-tts-engine")
        self.engine_box.setAccessibleName("Text-to-speech engine")
        self.engine_box.currentIndexChanged.connect(self._on_engine_changed)
        audio.addWidget(self.engine_box)
        self.audio_button = _button("Generate audio", "podcast-audio", self.generate_audio,
                                    "Speak the script with two voices into an audio file")
        audio.addWidget(self.audio_button)
        audio.addStretch(1)
        layout.addLayout(audio)
        self.engine_note = QLabel("")
        self.engine_note.setObjectName("podcast-tts-note")
        self.engine_note.setWordWrap(True)
        self.engine_note.setStyleSheet(f"color:{css('warning')};font-size:small")
        self.engine_note.setVisible(False)
        layout.addWidget(self.engine_note)
        self.player_row = QWidget()
        prow = QHBoxLayout(self.player_row)
        prow.setContentsMargins(0, 0, 0, 0)
        self.play_button = _button("Play", "podcast-play", self.toggle_play)
        self.position_slider = QSlider(Qt.Orientation.Horizontal)
        self.position_slider.setObjectName("podcast-position")
        self.position_slider.setAccessibleName("Position")
        self.position_slider.setRange(0, 0)
        self.position_slider.sliderMoved.connect(self._on_seek)
        self.time_label = QLabel("0:00 / 0:00")
        self.time_label.setObjectName("podcast-time")
        prow.addWidget(self.play_button)
        prow.addWidget(self.position_slider, 1)
        prow.addWidget(self.time_label)
        self.player_row.setVisible(False)
        layout.addWidget(self.player_row)
        saved = QHBoxLayout()
        self.audio_label = QLabel("")
        self.audio_label.setObjectName("podcast-audio-saved")
        self.audio_label.setWordWrap(True)
        self.audio_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_folder_button = _button("Open folder", "podcast-open-folder", self.open_folder)
        self.revoice_button = _button("Re-voice", "podcast-revoice", self.revoice,
                                      "Speak the script again after edits: only the changed lines are synthesised, "
                                      "the others are reused")
        saved.addWidget(self.audio_label, 1)
        saved.addWidget(self.revoice_button)
        saved.addWidget(self.open_folder_button)
        self.saved_row = QWidget()
        self.saved_row.setLayout(saved)
        saved.setContentsMargins(0, 0, 0, 0)
        self.saved_row.setVisible(False)
        layout.addWidget(self.saved_row)
        self._editing = False
        self.set_busy(False)

    # -- state ----------------------------------------------------------------------------------
    def set_busy(self, busy: bool) -> None:
        has = self.output is not None and self.script is not None
        self.generate_button.setEnabled(not busy and not self._editing)
        # with no script (none made yet, or the model's failed its checks) the user can write or paste one
        self.edit_button.setEnabled(not busy and not self._editing and (has or bool(self.pane.notebook_id)))
        self.edit_button.setText("Edit script" if has else "Write script\u2026")
        self.edit_button.setToolTip("Edit the script as Markdown (**Name:** line [n])" if has else
                                    "Write or paste a script (**Name:** line [n]); it is checked against the "
                                    "sources when saved, then it can be spoken")
        self.save_script_button.setVisible(self._editing)
        self.discard_button.setVisible(self._editing)
        self.save_script_button.setEnabled(not busy)
        self.discard_button.setEnabled(not busy)
        self.export_button.setEnabled(not busy and has)
        self.save_note_button.setEnabled(not busy and has and not self._editing)
        usable = any(reason is None for _n, reason in self.engines)
        self.audio_button.setEnabled(not busy and has and not self._editing and usable)
        self.revoice_button.setEnabled(not busy and has and not self._editing and self.audio_path is not None)
        self.engine_box.setEnabled(not busy and bool(self.engines))

    def _refresh(self) -> None:
        self.set_busy(self.pane.tab_busy(self))

    def clear(self) -> None:
        self.output, self.script, self.notes = None, None, []
        self._editing = False
        self.editor.setVisible(False)
        self.view.setVisible(True)
        self.view.clear_content()
        self.bar.clear_notice()
        self._set_audio(None)
        self._refresh()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._engines_loaded:
            self.load_engines()

    @Slot()
    def _on_format_changed(self) -> None:
        """A brief has one speaker: the second host's fields go; each format says what it makes."""
        f = podcast_format(self.format_box.currentData())
        self.format_note.setText(f.description)
        two = f.speakers > 1
        self.host_b.setVisible(two)
        self.persona_b.setVisible(two)
        if isinstance(self.hosts_label, QLabel):
            self.hosts_label.setText("Hosts" if two else "Narrator")
        if isinstance(self.personas_label, QLabel):
            self.personas_label.setText("Personas" if two else "Persona")
        for edit, persona in zip((self.persona_a, self.persona_b), f.personas, strict=False):
            short = persona if len(persona) <= 38 else persona[:37].rsplit(" ", 1)[0] + "\u2026"
            edit.setPlaceholderText(f"Default: {short}")
            edit.setToolTip(f"Empty: {persona}")

    def load_prefs(self) -> None:
        """Read the notebook's last podcast choices (store lane) into the controls: the format, length, focus,
        and the notebook's podcast language. A notebook with none stored leaves the controls as they are."""
        getter = self.pane.library_getter
        library = getter() if getter is not None else None
        notebook = self.pane.notebook_id
        if library is None or not notebook:
            return

        def load() -> Any:
            raw = library.notebook_settings(notebook).get(PREFS_KEY)
            return notebook, (checked_prefs(raw) if isinstance(raw, dict) and raw else None)

        BackgroundOp(self, load, lanes=self.pane.lanes, lane="store", on_success=self._on_prefs,
                     on_failure=_prefs_not_read).run()

    @Slot(object)
    def _on_prefs(self, got: Any) -> None:
        notebook, prefs = got
        if prefs is None or notebook != self.pane.notebook_id or self.pane.tab_busy(self):
            return
        self.format_box.setCurrentIndex(max(0, self.format_box.findData(prefs["format"])))
        if prefs["length"]:
            self.length_box.setCurrentIndex(max(0, self.length_box.findData(prefs["length"])))
        self.language_edit.setText(prefs["language"])
        self.focus_edit.setText(prefs["focus"])

    def _on_anchor(self, url: QUrl) -> None:
        link = url.toString()
        if link.startswith("regenseg:"):
            self.regenerate_segment(link)
        else:
            self.pane.regenerate_link(self, link)

    def regenerate_segment(self, link: str) -> None:
        """A ``regenseg:<key>:<n>`` link beside a segment heading: write that segment again (the model, in the
        podcast's format, from its passages); the rest of the script stays. Re-voice then speaks only it."""
        if self.output is None:
            return
        try:
            seg = int(link.rsplit(":", 1)[1])
        except ValueError:
            return
        oid = self.output.id

        def run(studio: Any, cancel: Any, progress: Any, _relay: Any) -> Any:
            studio.regenerate_segment(oid, seg, cancel=cancel, progress=progress)
            return studio.store.get(oid)

        self.pane.submit(self, self.bar, run, on_success=self._on_segment_done,
                         message=f"Writing segment {seg + 1} again…")

    def _on_segment_done(self, out: StudioOutput) -> None:
        self.show_output(out)
        self.pane.output_stored.emit(out.id)
        self.bar.show_info("Segment rewritten; the rest of the script is unchanged."
                           + (" Re-voice speaks only its lines." if self.audio_path is not None else ""))

    # -- script ---------------------------------------------------------------------------------
    @Slot()
    def generate(self) -> None:
        p = self.pane
        if not p.notebook_id:
            self.bar.show_error(NO_NOTEBOOK)
            return
        fmt = podcast_format(self.format_box.currentData())
        a, b = self.host_a.text().strip(), self.host_b.text().strip()
        if fmt.speakers == 1:
            if not a:
                self.bar.show_error("A brief needs a narrator's name.")
                return
        elif not a or not b or a.casefold() == b.casefold():
            self.bar.show_error("A podcast needs two hosts with different names.")
            return
        kw = {"host_a": a, "host_b": b or None, "persona_a": self.persona_a.text(),
              "persona_b": self.persona_b.text() if fmt.speakers > 1 else "",
              "audience": self.audience_box.currentData(), "length": self.length_box.currentData(),
              "language": self.language_edit.text().strip() or None, "focus": self.focus_edit.text(),
              "format": fmt.name}
        notebook, sources = p.notebook_id, p.source_ids

        def run(studio: Any, cancel: Any, progress: Any, relay: Any) -> Any:
            return studio.podcast_script(notebook, sources, progress=progress, cancel=cancel,
                                         on_stage=relay.stage.emit, **kw)

        self.clear()
        p.submit(self, self.bar, run, on_success=self._on_result, on_failure=self._on_failure,
                 message="Waiting for the model…")

    def _on_failure(self, exc: BaseException) -> None:
        """No script was made: say that one can be written or pasted (and then spoken) instead."""
        if self.script is None and self.bar.kind == "error" and not isinstance(exc, Cancelled):
            self.bar.show_error(f"{self.bar.text} You can write or paste a script instead: "
                                f"{self.edit_button.text()}", self.bar.attempts)

    def _on_result(self, result: Any) -> None:
        self.show_output(result.output, result.script, result.notes)
        self.pane.output_stored.emit(result.output.id)

    def show_output(self, out: StudioOutput, script: PodcastScript | None = None,
                    notes: Sequence[str] | None = None) -> None:
        p = out.payload
        self.output = out
        self.script = script if script is not None else PodcastScript.from_json(p.get("script", {}))
        self.notes = list(p.get("notes", []) if notes is None else notes)
        self._editing = False
        self.editor.setVisible(False)
        self.view.setVisible(True)
        self.render_script()
        audio = p.get("audio")
        self._set_audio(Path(audio) if audio and Path(audio).is_file() else None)
        self._refresh()
        if not self._engines_loaded:
            self.load_engines()

    def render_script(self) -> None:
        s = self.script
        if s is None:
            self.view.clear_content()
            return
        key = self.pane.next_key()
        by_pid = {int(c.get("passage_id", 0)): citation_from_json(c) for c in s.citations}
        parts = [f'<h3 style="margin-bottom:2px">{html.escape(s.title or "Podcast")}</h3>']
        names = " and ".join(h.name for h in s.hosts)
        if names:
            fmt = PODCAST_FORMATS.get(s.format)
            what = "Presented by" if len(s.hosts) == 1 else "A conversation between"
            label = html.escape(fmt.label) + " \u00b7 " if fmt and fmt.name != "deep-dive" else ""
            parts.append(f'<div style="color:{css("muted")};font-size:small"><i>{label}{what} '
                         f'{html.escape(names)}.</i></div>')
        seg = None
        for i, ln in enumerate(s.lines):
            if ln.segment != seg and 0 <= ln.segment < len(s.segments):
                seg = ln.segment
                regen = ("" if self.output is None or self.output.payload.get("manual") else
                         f' <a href="regenseg:{key}:{seg}" style="font-size:small;font-weight:normal" '
                         f'title="Write this segment again; the rest stays">\u21bb Regenerate segment</a>')
                parts.append(f'<h4 style="margin-bottom:0">{seg + 1}. {html.escape(s.segments[seg])}{regen}</h4>')
            text = html.escape(strip_markers(ln.text))
            chips = "".join(chip(f"cite:{key}:{pid}", str(pid)) for pid in ln.citations if pid in by_pid)
            if ln.supported:
                parts.append(f"<p><b>{html.escape(ln.speaker)}:</b> {text}{chips}</p>")
            else:
                parts.append(f'<p><b>{html.escape(ln.speaker)}:</b> <span style="background:{css("flagged_bg")};color:{css("flagged_fg")}" '
                             f'title="{html.escape(ln.flag or "not supported by the cited passages")}">'
                             f"\u26a0 {text}</span>{chips}{regenerate_link(key, i)}</p>")
        if s.unsupported:
            n = len(s.unsupported)
            parts.append(f'<div style="color:{css("warning")};font-size:small">\u26a0 {n} of {len(s.lines)} lines '
                         f'{"are" if n > 1 else "is"} not supported by the passages '
                         f'{"they cite" if n > 1 else "it cites"}.</div>')
        parts.append(notes_html([n for n in self.notes if "not supported" not in n]))
        if by_pid:
            parts.append(f'<div style="font-size:small;color:{css("secondary")}">Sources: ' + "; ".join(
                f'<a href="cite:{key}:{pid}">[{pid}] {html.escape(c.source_title)}'
                f'{", " + html.escape(c.location) if c.location else ""}</a>' for pid, c in sorted(by_pid.items()))
                + "</div>")
        self.view.set_content("".join(parts), {f"cite:{key}:{pid}": c for pid, c in by_pid.items()})

    @Slot()
    def edit(self) -> None:
        if self.script is None:
            self.write_new()
            return
        self._open_editor(self.script.to_markdown(with_sources=False))

    def write_new(self) -> None:
        """Open the editor on a draft to write from (key source sentences, cited, and the passages to cite):
        no model needed. Saving stores it as a new podcast output (``StudioService.new_script``)."""
        p = self.pane
        if not p.notebook_id:
            self.bar.show_error(NO_NOTEBOOK)
            return
        a, b = self.host_a.text().strip(), self.host_b.text().strip()
        notebook, sources = p.notebook_id, p.source_ids

        def run(studio: Any, _cancel: Any, progress: Any, _relay: Any) -> Any:
            progress(0, 0, "Preparing a script to start from…")
            return studio.draft_script(notebook, sources, host_a=a or None, host_b=b or None)

        p.submit(self, self.bar, run, on_success=self._open_editor, lane="store",
                 message="Preparing a script to start from…")

    def _open_editor(self, markdown: str) -> None:
        self.editor.setPlainText(markdown)
        self._editing = True
        self.view.setVisible(False)
        self.editor.setVisible(True)
        self.editor.setFocus()
        self._refresh()

    @Slot()
    def discard_edits(self) -> None:
        self._editing = False
        self.editor.setVisible(False)
        self.view.setVisible(True)
        self._refresh()

    @Slot()
    def save_script(self) -> None:
        if self.output is None:
            self._save_new_script()
            return
        oid, markdown = self.output.id, self.editor.toPlainText()

        def run(studio: Any, _cancel: Any, progress: Any, _relay: Any) -> Any:
            progress(0, 0, "Checking the edited script…")
            script = studio.update_script(oid, markdown)
            return script, studio.store.get(oid)

        self.pane.submit(self, self.bar, run, on_success=self._on_script_saved, lane="store",
                         message="Saving the script…")

    def _save_new_script(self) -> None:
        p = self.pane
        if not p.notebook_id:
            self.bar.show_error(NO_NOTEBOOK)
            return
        markdown, notebook, sources = self.editor.toPlainText(), p.notebook_id, p.source_ids
        a, b = self.host_a.text().strip() or None, self.host_b.text().strip() or None
        language = self.language_edit.text().strip() or None

        def run(studio: Any, _cancel: Any, progress: Any, _relay: Any) -> Any:
            progress(0, 0, "Checking the script against the sources…")
            return studio.new_script(notebook, markdown, sources, host_a=a, host_b=b, language=language)

        p.submit(self, self.bar, run, on_success=self._on_new_script, lane="store", message="Saving the script…")

    def _on_new_script(self, result: Any) -> None:
        self.show_output(result.output, result.script, result.notes)
        script = result.script
        bad = len(script.unsupported)
        self.bar.show_info(f"Script saved: {len(script.lines)} lines, checked against the sources"
                           + (f"; {bad} not supported (\u26a0)." if bad else "; all supported.")
                           + " It can be spoken now (Generate audio).")
        self.pane.output_stored.emit(result.output.id)

    def _on_script_saved(self, result: Any) -> None:
        script, out = result
        self.output, self.script = out, script
        self._editing = False
        self.editor.setVisible(False)
        self.view.setVisible(True)
        self.render_script()
        bad = len(script.unsupported)
        self.bar.show_info(f"Script saved: {len(script.lines)} lines; citations checked again"
                           + (f", {bad} not supported (\u26a0)." if bad else ", all supported."))
        self._refresh()
        self.pane.output_stored.emit(out.id)

    @Slot()
    def export_markdown(self) -> None:
        if self.script is None:
            return
        path = self.pane._ask_save_path("Export the script as Markdown",  # noqa: SLF001
                                        safe_filename(self.script.title or "podcast") + ".md",
                                        "Markdown (*.md);;All files (*)")
        if not path:
            return
        target = Path(path)
        if target.suffix.lower() != ".md":
            target = target.with_name(target.name + ".md")
        text = self.script.export_markdown()  # model-written: HTML made inert

        def run(_studio: Any, _cancel: Any, _progress: Any, _relay: Any) -> Any:
            try:
                target.write_text(text, encoding="utf-8")
            except OSError as e:
                raise NotebookError(f"Cannot write {target}: {e.strerror or e}.") from e
            return target

        self.pane.submit(self, self.bar, run, on_success=self._on_exported, lane="io", needs_studio=False,
                         message="Writing…")

    def _on_exported(self, path: Path) -> None:
        self.bar.show_info(f"Script exported to {path}")

    @Slot()
    def save_note(self) -> None:
        if self.output is not None:
            self.pane.save_note(self, self.bar, self.output.id)

    # -- audio ----------------------------------------------------------------------------------
    def load_engines(self) -> None:
        self._engines_loaded = True
        get = self.pane.tts_engines

        def run(_studio: Any, _cancel: Any, _progress: Any, _relay: Any) -> Any:
            out = []
            for e in get():
                try:
                    reason = e.unavailable_reason()
                except Exception as exc:  # noqa: BLE001 - a broken engine is reported, not fatal
                    reason = f"it failed to start ({exc})"
                out.append((str(e.name), reason))
            return out

        self.pane.submit(self, self.bar, run, on_success=self._on_engines, lane="io", needs_studio=False,
                         message="Looking for voices…", quiet=True, key="tts-engines")

    def _on_engines(self, engines: list[tuple[str, str | None]]) -> None:
        self.engines = engines
        wanted = self.pane.settings.tts.engine
        self.engine_box.blockSignals(True)
        self.engine_box.clear()
        for name, reason in engines:
            self.engine_box.addItem(name if reason is None else f"{name} (unavailable)", name)
            item = self.engine_box.model().item(self.engine_box.count() - 1)  # type: ignore[attr-defined]
            if reason is not None:
                item.setEnabled(False)
                item.setToolTip(reason)
        usable = [n for n, r in engines if r is None]
        pick = wanted if wanted in usable else (usable[0] if usable else (engines[0][0] if engines else ""))
        self.engine_box.setCurrentIndex(max(0, self.engine_box.findData(pick)))
        self.engine_box.blockSignals(False)
        self._on_engine_changed()
        self._refresh()

    @Slot()
    def _on_engine_changed(self) -> None:
        if not self.engines:
            self.engine_note.setText("No text-to-speech engine is registered.")
            self.engine_note.setVisible(True)
            return
        missing = [(n, r) for n, r in self.engines if r is not None]
        if not any(r is None for _n, r in self.engines):
            text = "No voice engine can speak here: " + "; ".join(f"{n}: {r}" for n, r in missing)
        else:
            text = ""  # one engine works: the others' reasons are in their (disabled) list entries' tooltips
        self.engine_note.setText(text)
        self.engine_note.setVisible(bool(text))

    @Slot()
    def generate_audio(self) -> None:
        if self.output is None or self.script is None:
            return
        oid, name = self.output.id, self.engine_box.currentData() or None
        stem = safe_filename(self.script.title or "podcast", max_bytes=60) + f"-{oid[:8]}"

        def run(studio: Any, cancel: Any, progress: Any, _relay: Any) -> Any:
            fmt = (studio.settings.tts.format or "wav").lower()
            out = Path(studio.library.data_dir) / "podcasts" / f"{stem}.{fmt}"
            return studio.podcast_audio(oid, out, engine=name, progress=progress, cancel=cancel)

        self._set_audio(None)
        self.pane.submit(self, self.bar, run, on_success=self._on_audio, lane="io", message="Preparing the voices…")

    def _on_audio(self, result: Any) -> None:
        reused = len(result.segments) - result.spoken if result.spoken >= 0 else 0
        self.bar.show_info(f"Audio made: {result.duration_s:.1f} s of speech with {result.engine} "
                           f"in {result.render_s:.1f} s" + (f" ({result.spoken} spoken again, {reused} of "
                                                            f"{len(result.segments)} lines reused)."
                                                            if reused > 0 else "."))
        self._set_audio(Path(result.path))
        self._refresh()

    @Slot()
    def revoice(self) -> None:
        """Speak the (edited) script again into the same file: only changed lines are synthesised."""
        if self.output is None or self.audio_path is None:
            return
        oid, name, path = self.output.id, self.engine_box.currentData() or None, self.audio_path

        def run(studio: Any, cancel: Any, progress: Any, _relay: Any) -> Any:
            return studio.revoice(oid, path, engine=name, progress=progress, cancel=cancel)

        self._set_audio(None)  # the player lets go of the file before it is replaced
        self.pane.submit(self, self.bar, run, on_success=self._on_audio, lane="io", message="Re-voicing…")

    def _set_audio(self, path: Path | None) -> None:
        self.audio_path = path
        if self.player is not None:
            self.player.stop()
        if path is None:
            self.saved_row.setVisible(False)
            self.player_row.setVisible(False)
            return
        self.saved_row.setVisible(True)
        if self._ensure_player():
            self.player.setSource(QUrl.fromLocalFile(str(path)))
            self.player_row.setVisible(True)
            self.audio_label.setText(f"Audio saved to {path}")
        else:
            self.player_row.setVisible(False)
            self.audio_label.setText(f"Audio saved to {path} (it cannot be played here: {self.player_problem}).")

    def _ensure_player(self) -> bool:
        if self.player is not None:
            return True
        if self.player_problem:
            return False
        ok, why = multimedia_available()
        if ok:
            try:
                from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

                self.player = QMediaPlayer(self)
                self.audio_output = QAudioOutput(self)
                self.player.setAudioOutput(self.audio_output)
                self.player.durationChanged.connect(self._on_duration)
                self.player.positionChanged.connect(self._on_position)
                self.player.playbackStateChanged.connect(self._on_state)
                self.player.errorOccurred.connect(self._on_player_error)
                return True
            except Exception as e:  # noqa: BLE001 - playback is optional; the file is saved either way
                log.warning("audio playback unavailable: %s", e)
                self.player, self.audio_output = None, None
                why = f"audio playback could not start ({e})"
        self.player_problem = why
        return False

    @Slot()
    def toggle_play(self) -> None:
        if self.player is None:
            return
        from PySide6.QtMultimedia import QMediaPlayer

        if self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState:
            self.player.pause()
        else:
            self.player.play()

    @Slot(int)
    def _on_seek(self, ms: int) -> None:
        if self.player is not None:
            self.player.setPosition(ms)

    def _on_duration(self, ms: int) -> None:
        self.position_slider.setRange(0, int(ms))
        self._update_time()

    def _on_position(self, ms: int) -> None:
        if not self.position_slider.isSliderDown():
            self.position_slider.setValue(int(ms))
        self._update_time()

    def _on_state(self, state: Any) -> None:
        from PySide6.QtMultimedia import QMediaPlayer

        self.play_button.setText("Pause" if state == QMediaPlayer.PlaybackState.PlayingState else "Play")

    def _on_player_error(self, _error: Any, message: str) -> None:
        if message:
            self.audio_label.setText(f"Audio saved to {self.audio_path} (playback failed: {message}).")

    def _update_time(self) -> None:
        def fmt(ms: int) -> str:
            s = max(0, ms) // 1000
            return f"{s // 60}:{s % 60:02d}"

        if self.player is not None:
            self.time_label.setText(f"{fmt(self.player.position())} / {fmt(self.player.duration())}")

    @Slot()
    def open_folder(self) -> None:
        if self.audio_path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.audio_path.parent)))
