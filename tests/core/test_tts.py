"""core.tts: engine selection, voice assignment, text cleaning and the pure PCM/WAV helpers.

``ToneEngine`` (a sine-tone "voice" per speaker) is the fake engine the render and podcast tests use.
"""

from __future__ import annotations

import io
import math
import struct
import threading
import wave
from array import array
from pathlib import Path

import pytest

from notebooklm_local.core.errors import Cancelled, NotebookError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.tts import (
    NO_ENGINE_MESSAGE,
    RenderResult,
    TTSEngine,
    TTSError,
    TTSUnavailable,
    Utterance,
    Voice,
    assign_voices,
    audio_format,
    clean_text,
    parse_wav,
    pcm_duration,
    pick_engine,
    silence,
    speakable,
    trim_silence,
)


class ToneEngine:
    """A fake TTS engine: each voice is a sine tone, 0.04 s per character, with silent padding.

    ``block`` makes ``synthesize`` wait (honouring cancel) until the event is set, for cancel tests.
    """

    FREQS = {"low": 120.0, "high": 240.0, "mid": 180.0}

    def __init__(self, name: str = "tone", reason: str | None = None, sample_rate: int = 16000) -> None:
        self.name = name
        self.reason = reason
        self.sample_rate = sample_rate
        self.calls: list[tuple[str, str, int]] = []
        self.block: threading.Event | None = None
        self.fail_on: str | None = None

    def unavailable_reason(self) -> str | None:
        return self.reason

    def voices(self, language: str = "") -> list[Voice]:
        return [Voice(v, f"{v} tone", "en", "") for v in self.FREQS]

    def default_voices(self, language: str = "") -> tuple[str, str]:
        return "low", "high"

    def synthesize(self, text: str, voice: str, *, rate_wpm: int = 165,
                   cancel: CancelToken | None = None) -> tuple[bytes, int]:
        self.calls.append((text, voice, rate_wpm))
        if self.fail_on and self.fail_on in text:
            raise TTSError("tone engine failed")
        if self.block is not None:
            while not self.block.wait(0.01):
                if cancel is not None:
                    cancel.raise_if_set()
        if cancel is not None:
            cancel.raise_if_set()
        sr = self.sample_rate
        n = int(0.04 * len(text) * sr)
        f = self.FREQS.get(voice.split("+")[0], 300.0)
        tone = array("h", (int(8000 * math.sin(2 * math.pi * f * i / sr)) for i in range(n)))
        return silence(0.1, sr) + tone.tobytes() + silence(0.2, sr), sr


def test_tone_engine_is_a_tts_engine() -> None:
    assert isinstance(ToneEngine(), TTSEngine)


# --- pick_engine ------------------------------------------------------------------------------

def test_pick_engine_prefers_the_wanted_usable_engine() -> None:
    a, b = ToneEngine("espeak-ng"), ToneEngine("piper")
    assert pick_engine([a, b], "piper") is b
    assert pick_engine([a, b], "PIPER") is b
    assert pick_engine([a, b], "") is a


def test_pick_engine_falls_back_to_the_first_usable() -> None:
    broken = ToneEngine("piper", reason="no voice model configured")
    ok = ToneEngine("espeak-ng")
    assert pick_engine([broken, ok], "piper") is ok
    assert pick_engine([broken, ok], "unknown-engine") is ok


def test_pick_engine_lists_every_reason_when_none_is_usable() -> None:
    engines = [ToneEngine("espeak-ng", reason="espeak-ng is not installed"),
               ToneEngine("piper", reason="no voice model configured")]
    with pytest.raises(TTSUnavailable) as e:
        pick_engine(engines, "espeak-ng")
    msg = str(e.value)
    assert msg.startswith(NO_ENGINE_MESSAGE)
    assert "espeak-ng: espeak-ng is not installed" in msg and "piper: no voice model configured" in msg
    assert isinstance(e.value, NotebookError)


def test_pick_engine_with_no_engines() -> None:
    with pytest.raises(TTSUnavailable, match="install espeak-ng"):
        pick_engine([], "espeak-ng")


# --- voices, formats --------------------------------------------------------------------------

def test_assign_voices_in_order_of_first_appearance() -> None:
    assert assign_voices(["B", "A", "B", "A"], None, ("v1", "v2")) == {"B": "v1", "A": "v2"}


def test_assign_voices_given_and_partial() -> None:
    got = assign_voices(["A", "B", "C"], {"B": "custom", "A": "  "}, ("v1", "v2"))
    assert got == {"A": "v1", "B": "custom", "C": "v2"}
    assert assign_voices(["A", "B"], {"A": "x", "B": "y"}, None) == {"A": "x", "B": "y"}
    with pytest.raises(TTSError):
        assign_voices(["A"], {}, None)


def test_assign_voices_third_speaker_alternates() -> None:
    assert assign_voices(["A", "B", "C"], None, ("v1", "v2"))["C"] == "v1"


@pytest.mark.parametrize(("name", "fmt", "want"), [
    ("x.wav", None, "wav"), ("x.MP3", None, "mp3"), ("x.ogg", None, "ogg"), ("x.oga", None, "ogg"),
    ("x.wav", "mp3", "mp3"), ("x", "OGG", "ogg"), ("x.bin", ".wav", "wav"),
])
def test_audio_format(name: str, fmt: str | None, want: str) -> None:
    assert audio_format(Path(name), fmt) == want


@pytest.mark.parametrize(("name", "fmt"), [("x.flac", None), ("x", None), ("x.wav", "aac")])
def test_audio_format_unknown(name: str, fmt: str | None) -> None:
    with pytest.raises(TTSError, match=r"\.wav, \.mp3 or \.ogg"):
        audio_format(Path(name), fmt)


def test_utterance_and_voice_are_frozen() -> None:
    u = Utterance("A", "Hello")
    with pytest.raises(AttributeError):
        u.text = "changed"  # type: ignore[misc]
    assert Voice("en-us", "English").gender == ""


def test_realtime_factor() -> None:
    r = RenderResult(Path("x.wav"), "wav", 22050, 10.0, 0.5, [], "tone", {})
    assert r.realtime_factor == 20.0
    assert RenderResult(Path("x.wav"), "wav", 22050, 1.0, 0.0).realtime_factor == float("inf")


# --- text -------------------------------------------------------------------------------------

def test_clean_text_strips_control_and_format_characters() -> None:
    assert clean_text("a\x00b\x1b[31mc\u200bd\u202ee\x7f") == "ab[31mcde"
    assert clean_text("line one\nline\ttwo\r\n") == "line one line two"


def test_clean_text_drops_markup_citations_and_markdown() -> None:
    assert clean_text("--help <speak>rm -rf</speak>") == "--help rm -rf"
    assert clean_text("**Local** models are _fast_ [1], cheap [2, 3] and private [4-6].") == \
        "Local models are fast, cheap and private."
    assert clean_text("# Heading") == "Heading"
    assert clean_text("> quoted") == "quoted"
    assert clean_text("say [[h@'loU]]") == "say [ [h@'loU] ]"  # espeak phoneme input stays text
    assert clean_text("a < b and c > d") == "a < b and c > d"  # comparisons are not tags


def test_speakable() -> None:
    assert speakable(clean_text("Hi"))
    assert speakable("42")
    assert speakable("Ça va")
    for junk in ("", "   ", "***", "<br/>", "[1]", "---", "\x00\x01", "…!?"):
        assert not speakable(clean_text(junk)), junk


# --- PCM and WAV ------------------------------------------------------------------------------

def test_silence_and_duration() -> None:
    s = silence(0.5, 16000)
    assert len(s) == 16000 and not any(s)
    assert pcm_duration(s, 16000) == 0.5
    assert pcm_duration(32000, 16000) == 1.0
    assert silence(-1, 16000) == b""


def _pcm(values: list[int]) -> bytes:
    return struct.pack(f"<{len(values)}h", *values)


def test_trim_silence_keeps_a_margin() -> None:
    sr = 1000
    pcm = _pcm([0] * 100 + [5000, -5000] * 10 + [3] * 100)
    out = trim_silence(pcm, sr, keep_s=0.01)
    assert len(out) == (10 + 20 + 10) * 2
    assert trim_silence(_pcm([0, 10, -20]), sr) == b""
    assert trim_silence(b"", sr) == b""


def _wav_bytes(pcm: bytes, rate: int = 22050, channels: int = 1, width: int = 2) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


def test_parse_wav_plain() -> None:
    pcm = _pcm(list(range(-50, 50)))
    assert parse_wav(_wav_bytes(pcm, 16000)) == (pcm, 16000)


def test_parse_wav_streaming_header_with_placeholder_sizes() -> None:
    # what espeak-ng writes to a pipe: RIFF size 0x7ffff024, data size 0x7ffff000
    pcm = _pcm([1, 2, 3, 4, 5])
    data = bytearray(_wav_bytes(pcm, 22050))
    struct.pack_into("<I", data, 4, 0x7FFFF024)
    struct.pack_into("<I", data, 40, 0x7FFFF000)
    assert parse_wav(bytes(data)) == (pcm, 22050)
    assert parse_wav(bytes(data) + b"\x07") == (pcm, 22050)  # a stray odd byte is dropped


def test_parse_wav_skips_other_chunks() -> None:
    pcm = _pcm([7, 8])
    raw = _wav_bytes(pcm, 8000)
    extra = b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd size, padded
    data = raw[:36] + extra + raw[36:]
    assert parse_wav(data) == (pcm, 8000)


@pytest.mark.parametrize("bad", [b"", b"ID3\x03", b"RIFF\x00\x00\x00\x00WAVE", b"OggS" * 10])
def test_parse_wav_rejects_non_wav(bad: bytes) -> None:
    with pytest.raises(TTSError):
        parse_wav(bad)


def test_parse_wav_rejects_stereo_and_8_bit() -> None:
    with pytest.raises(TTSError, match="16-bit mono"):
        parse_wav(_wav_bytes(_pcm([0, 0]), channels=2))
    with pytest.raises(TTSError, match="16-bit mono"):
        parse_wav(_wav_bytes(b"\x80\x80", width=1))


def test_tone_engine_honours_cancel() -> None:
    eng = ToneEngine()
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        eng.synthesize("hello", "low", cancel=token)
