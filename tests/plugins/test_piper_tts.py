"""The bundled Piper TTS plugin: its clear "no voice" reason, the fallback, and speaking through a stand-in piper."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.tts import TTSError, TTSUnavailable, Voice, pick_engine
from tests.plugins.helpers import bundled


class Fallback:
    name = "espeak-ng"

    def unavailable_reason(self) -> str | None:
        return None

    def voices(self, language: str = "") -> list[Voice]:
        return [Voice("en", "English")]

    def default_voices(self, language: str = "") -> tuple[str, str]:
        return ("en+m3", "en+f3")

    def synthesize(self, text: str, voice: str, *, rate_wpm: int = 165,
                   cancel: CancelToken | None = None) -> tuple[bytes, int]:
        return b"\0\0", 22050


def piper_engine() -> Any:
    _mod, m = bundled("piper_tts")
    return next(e for e in m.tts_engines() if e.name == "piper")


def voices_dir() -> Path:
    return app_paths().data / "plugin-data" / "piper_tts" / "voices"


def add_voice(folder: Path, stem: str = "en_US-test-medium", *, rate: int = 16000,
              speakers: dict[str, int] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.onnx").write_bytes(b"not really a model")
    config = {"audio": {"sample_rate": rate}, "language": {"code": stem.split("-")[0]}, "dataset": stem.split("-")[1]}
    if speakers:
        config["speaker_id_map"] = speakers
    (folder / f"{stem}.onnx.json").write_text(json.dumps(config), encoding="utf-8")


def fake_piper(bin_dir: Path, log: Path) -> None:
    """A stand-in piper: records its arguments and stdin, answers with 4 samples of raw PCM."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "piper"
    script.write_text(f"#!{sys.executable}\nimport sys, json\n"
                      f"text = sys.stdin.read()\n"
                      f"open({str(log)!r}, 'w').write(json.dumps({{'args': sys.argv[1:], 'text': text}}))\n"
                      "sys.stdout.buffer.write(b'\\x01\\x00\\x02\\x00\\x03\\x00\\x04\\x00\\x05')\n", encoding="utf-8")
    script.chmod(0o755)


def test_no_voice_installed_is_a_clear_unavailable_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no piper program either
    engine = piper_engine()
    reason = engine.unavailable_reason() or ""
    assert reason.startswith(f"no Piper voice installed: put a voice (.onnx + .onnx.json) in {voices_dir()}")
    assert voices_dir().is_dir()  # made for the user to drop voices into
    assert engine.voices() == []
    with pytest.raises(TTSUnavailable, match="no Piper voice installed"):
        engine.default_voices()


def test_pick_engine_falls_back_from_piper_and_reports_it(caplog: pytest.LogCaptureFixture) -> None:
    engine = piper_engine()
    with caplog.at_level(logging.WARNING, logger="notebooklm_local.core.tts"):
        chosen = pick_engine([Fallback(), engine], "piper")
    assert chosen.name == "espeak-ng"
    assert "TTS engine 'piper' is not usable (no Piper voice installed" in caplog.text
    with pytest.raises(TTSUnavailable) as e:
        pick_engine([engine], "piper")
    assert "piper: no Piper voice installed" in str(e.value)


def test_a_voice_without_piper_says_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    add_voice(voices_dir())
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    reason = piper_engine().unavailable_reason() or ""
    assert reason.startswith("Piper is not installed: install Piper")


@pytest.mark.skipif(sys.platform == "win32", reason="a script stand-in for piper")
def test_speaking_through_piper(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    add_voice(voices_dir(), "en_US-amy-medium", rate=16000)
    add_voice(voices_dir(), "de_DE-multi-low", rate=22050, speakers={"anna": 0, "bert": 1})
    (voices_dir() / "broken.onnx").write_bytes(b"")  # no config: ignored
    fake_piper(tmp_path / "bin", tmp_path / "call.json")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    engine = piper_engine()
    assert engine.unavailable_reason() is None
    assert [v.id for v in engine.voices()] == ["de_DE-multi-low#anna", "de_DE-multi-low#bert", "en_US-amy-medium"]
    assert [v.id for v in engine.voices("en")] == ["en_US-amy-medium"]
    assert engine.default_voices("de") == ("de_DE-multi-low#anna", "de_DE-multi-low#bert")
    pcm, rate = engine.synthesize("Hello there.", "en_US-amy-medium", rate_wpm=330)
    assert (pcm, rate) == (b"\x01\x00\x02\x00\x03\x00\x04\x00", 16000)
    call = json.loads((tmp_path / "call.json").read_text(encoding="utf-8"))
    assert call["text"] == "Hello there."
    assert call["args"][:3] == ["--model", str(voices_dir() / "en_US-amy-medium.onnx"), "--output-raw"]
    assert call["args"][3:] == ["--length-scale", "0.500"]
    _pcm, rate = engine.synthesize("Hallo.", "de_DE-multi-low#bert")
    assert rate == 22050 and json.loads((tmp_path / "call.json").read_text())["args"][-2:] == ["--speaker", "1"]
    with pytest.raises(TTSError, match="No Piper voice 'xx'"):
        engine.synthesize("Hi", "xx")


def test_a_configured_voices_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = app_paths().config / "plugin-settings" / "piper_tts.toml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(f'voices_dir = "{tmp_path / "my-voices"}"\n', encoding="utf-8")
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = piper_engine().unavailable_reason() or ""
    assert str(tmp_path / "my-voices") in reason and str(voices_dir()) in reason
    add_voice(tmp_path / "my-voices")
    assert [v.id for v in piper_engine().voices()] == ["en_US-test-medium"]
