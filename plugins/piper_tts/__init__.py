"""Piper text-to-speech engine (https://github.com/rhasspy/piper), as a plugin.

Piper itself is not a dependency of the app: the engine uses the ``piper`` program when it is on PATH
(or configured), else the ``piper-tts`` Python package when it is installed (``python -m piper``).
Voices are Piper voice files, a ``<name>.onnx`` model with its ``<name>.onnx.json`` config, found in
``<data>/plugin-data/piper_tts/voices`` and in the folder the plugin setting ``voices_dir`` names
(``<config>/plugin-settings/piper_tts.toml``: ``voices_dir = "/path/to/voices"``, ``binary = "/path/to/piper"``).

Until both are there, ``unavailable_reason()`` says what is missing and how to fix it, and the
studio falls back to another engine (espeak-ng). Text goes to Piper on stdin; the raw 16-bit mono
audio comes back on stdout (``--output-raw``) at the voice's sample rate.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

from notebooklm_local.extensions.api import (
    CancelToken,
    PluginApi,
    TTSError,
    TTSUnavailable,
    Voice,
    run_process,
)

INSTALL_HINT = ("install Piper: the piper program from https://github.com/rhasspy/piper/releases "
                "(put it on PATH), or `pip install piper-tts`")
VOICES_HINT = "get voices from https://huggingface.co/rhasspy/piper-voices, both files of each"
_TIMEOUT_S = 120.0


class _VoiceFile:
    def __init__(self, model: Path, config: dict[str, Any]) -> None:
        self.model = model
        self.config = config
        self.stem = model.name[: -len(".onnx")]
        audio = config.get("audio") if isinstance(config.get("audio"), dict) else {}
        try:
            self.sample_rate = int(audio.get("sample_rate", 22050))
        except (TypeError, ValueError):
            self.sample_rate = 22050
        lang = config.get("language") if isinstance(config.get("language"), dict) else {}
        self.language = str(lang.get("code") or self.stem.split("-")[0]).replace("_", "-")
        speakers = config.get("speaker_id_map") if isinstance(config.get("speaker_id_map"), dict) else {}
        self.speakers = {str(k): int(v) for k, v in speakers.items() if isinstance(v, int)}


def _norm_lang(code: str) -> str:
    return code.strip().lower().replace("_", "-")


class PiperEngine:
    """Piper through its command line. Thread-safe; one process per line spoken."""

    name = "piper"
    max_parallel = 1  # each process loads the model: one at a time keeps memory in check

    def __init__(self, voice_dirs: list[Path], binary: str = "") -> None:
        self.voice_dirs = voice_dirs
        self.binary = binary
        self._lock = threading.Lock()

    # -- what is installed -------------------------------------------------------------------------
    def _command(self) -> list[str] | None:
        if self.binary:
            found = shutil.which(self.binary) or (self.binary if Path(self.binary).is_file() else None)
            return [found] if found else None
        found = shutil.which("piper")
        if found:
            return [found]
        if not getattr(sys, "frozen", False) and importlib.util.find_spec("piper") is not None:
            return [sys.executable, "-m", "piper"]
        return None

    def _voice_files(self) -> list[_VoiceFile]:
        out: list[_VoiceFile] = []
        seen: set[str] = set()
        for d in self.voice_dirs:
            try:
                models = sorted(d.glob("*.onnx"))
            except OSError:
                continue
            for model in models:
                cfg_path = model.with_name(model.name + ".json")
                if model.stem in seen or not cfg_path.is_file():
                    continue
                try:
                    config = json.loads(cfg_path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, ValueError):
                    continue
                if isinstance(config, dict):
                    seen.add(model.stem)
                    out.append(_VoiceFile(model, config))
        return out

    def unavailable_reason(self) -> str | None:
        if not self._voice_files():
            where = " or ".join(str(d) for d in self.voice_dirs) or "the voices folder"
            reason = f"no Piper voice installed: put a voice (.onnx + .onnx.json) in {where}; {VOICES_HINT}"
            if self._command() is None:
                reason += f"; and {INSTALL_HINT}"
            return reason + "."
        if self._command() is None:
            return f"Piper is not installed: {INSTALL_HINT}."
        return None

    # -- voices ------------------------------------------------------------------------------------
    def voices(self, language: str = "") -> list[Voice]:
        want = _norm_lang(language)
        out = []
        for vf in self._voice_files():
            lang = _norm_lang(vf.language)
            if want and not (lang == want or lang.startswith(want + "-") or want.startswith(lang + "-")
                             or lang.split("-")[0] == want.split("-")[0]):
                continue
            name = str(vf.config.get("dataset") or vf.stem)
            if vf.speakers:
                out += [Voice(f"{vf.stem}#{spk}", f"{name} ({spk})", vf.language) for spk in vf.speakers]
            else:
                out.append(Voice(vf.stem, name, vf.language))
        return out

    def default_voices(self, language: str = "") -> tuple[str, str]:
        found = self.voices(language) or self.voices()
        if not found:
            raise TTSUnavailable(self.unavailable_reason() or "No Piper voice installed.")
        return found[0].id, found[1 % len(found)].id

    # -- speaking ----------------------------------------------------------------------------------
    def synthesize(self, text: str, voice: str, *, rate_wpm: int = 165,
                   cancel: CancelToken | None = None) -> tuple[bytes, int]:
        cmd = self._command()
        if cmd is None:
            raise TTSUnavailable(f"Piper is not installed: {INSTALL_HINT}.")
        stem, _, speaker = voice.partition("#")
        vf = next((v for v in self._voice_files() if v.stem == stem), None)
        if vf is None:
            raise TTSError(f"No Piper voice '{voice}'. Installed: {', '.join(v.id for v in self.voices()) or 'none'}.")
        args = [*cmd, "--model", str(vf.model), "--output-raw",
                "--length-scale", f"{max(0.3, min(3.0, 165 / max(40, rate_wpm))):.3f}"]
        if speaker:
            if speaker not in vf.speakers:
                raise TTSError(f"Piper voice '{stem}' has no speaker '{speaker}'.")
            args += ["--speaker", str(vf.speakers[speaker])]
        rc, out, err = run_process(args, input=text.encode("utf-8"), timeout=_TIMEOUT_S, cancel=cancel, what="piper")
        if rc != 0:
            detail = err.decode("utf-8", "replace").strip().splitlines()
            raise TTSError(f"piper failed (exit code {rc}): {detail[-1] if detail else 'no message'}")
        if not out:
            raise TTSError("piper returned no audio.")
        return out[: len(out) - len(out) % 2], vf.sample_rate


def register(api: PluginApi) -> None:
    dirs = [api.data_dir / "voices"]
    try:
        dirs[0].mkdir(exist_ok=True)  # there for the user to drop voices into
    except OSError as e:
        api.log.warning("cannot create %s: %s", dirs[0], e)
    configured = api.settings.get("voices_dir")
    if isinstance(configured, str) and configured.strip():
        dirs.insert(0, Path(configured).expanduser())
    binary = api.settings.get("binary")
    api.register_tts_engine(PiperEngine(dirs, binary if isinstance(binary, str) else ""))
