"""Text-to-speech: the engine interface, voice assignment, and pure helpers for podcast audio.

An engine turns one line of text into mono 16-bit PCM. ``services/tts`` holds the engines
(espeak-ng built in, Piper through a plugin) and ``render_dialogue``, which speaks a two-host
script into one audio file. Everything here is pure Python: PCM is handled as bytes with the
stdlib ``array`` module, so the core needs neither numpy nor an audio library.
"""

from __future__ import annotations

import logging
import re
import struct
import sys
import unicodedata
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.jobs import CancelToken

__all__ = [
    "AUDIO_FORMATS",
    "NO_ENGINE_MESSAGE",
    "AudioSegment",
    "RenderResult",
    "TTSEngine",
    "TTSError",
    "TTSUnavailable",
    "Utterance",
    "Voice",
    "assign_voices",
    "audio_format",
    "clean_text",
    "parse_wav",
    "pcm_duration",
    "pick_engine",
    "silence",
    "speakable",
    "trim_silence",
]

log = logging.getLogger(__name__)

AUDIO_FORMATS = ("wav", "mp3", "ogg")
SAMPLE_WIDTH = 2  # bytes: every engine hands back 16-bit signed little-endian mono PCM

NO_ENGINE_MESSAGE = ("No text-to-speech engine is installed: install espeak-ng (sudo apt install espeak-ng) "
                     "or enable the Piper plugin with a voice.")


class TTSError(NotebookError):
    """Speech could not be made or saved (the message says what to do)."""


class TTSUnavailable(TTSError):
    """No usable text-to-speech engine (not installed, or broken)."""


@dataclass(frozen=True)
class Voice:
    """One voice an engine offers; ``id`` is what ``synthesize`` takes."""

    id: str
    name: str
    language: str = ""
    gender: str = ""  # "male", "female" or ""


@dataclass(frozen=True)
class Utterance:
    """One line of a script: who says it (a host key such as "A", or a host name) and what."""

    speaker: str
    text: str


@dataclass
class AudioSegment:
    """Where one spoken line sits in the rendered audio (pauses excluded)."""

    speaker: str
    text: str
    start_s: float
    end_s: float


@dataclass
class RenderResult:
    """A rendered dialogue: the file, its length, how long it took, and who spoke when."""

    path: Path
    format: str
    sample_rate: int
    duration_s: float
    render_s: float
    segments: list[AudioSegment] = field(default_factory=list)
    engine: str = ""
    voices: dict[str, str] = field(default_factory=dict)  # speaker -> voice id
    spoken: int = -1  # lines synthesised (the others came from a per-line cache); -1: not counted

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio made per second of wall time (higher is faster)."""
        return self.duration_s / self.render_s if self.render_s > 0 else float("inf")


@runtime_checkable
class TTSEngine(Protocol):
    """A text-to-speech engine. Implementations must be safe to call from a worker thread.

    An engine may also have ``max_parallel: int``: how many ``synthesize`` calls may run at the same
    time (render_dialogue speaks that many lines at once; 1 when the attribute is absent).
    """

    name: str

    def unavailable_reason(self) -> str | None:
        """None when the engine can speak; otherwise a user-facing reason (and how to fix it)."""
        ...

    def voices(self, language: str = "") -> list[Voice]:
        """The voices for ``language`` (a code such as "en" or "fr-fr", or a name); all when empty."""
        ...

    def default_voices(self, language: str = "") -> tuple[str, str]:
        """Two clearly distinct voice ids for the two podcast hosts."""
        ...

    def synthesize(self, text: str, voice: str, *, rate_wpm: int = 165,
                   cancel: CancelToken | None = None) -> tuple[bytes, int]:
        """Speak ``text``: (mono 16-bit little-endian PCM, sample rate). Raises Cancelled or TTSError."""
        ...


def pick_engine(engines: Sequence[TTSEngine], wanted: str) -> TTSEngine:
    """The engine named ``wanted`` if it is usable, else the first usable one.

    Raises:
        TTSUnavailable: no engine is usable; the message lists each engine's reason.
    """
    reasons: dict[str, str] = {}
    usable: list[TTSEngine] = []
    for engine in engines:
        reason = engine.unavailable_reason()
        if reason is None:
            usable.append(engine)
        else:
            reasons[engine.name] = reason
    key = (wanted or "").strip().casefold()
    for engine in usable:
        if engine.name.casefold() == key:
            return engine
    if usable:
        if key:
            why = next((r for name, r in reasons.items() if name.casefold() == key), "not registered")
            log.warning("TTS engine %r is not usable (%s); using %s", wanted, why, usable[0].name)
        return usable[0]
    details = "; ".join(f"{name}: {reason}" for name, reason in reasons.items())
    raise TTSUnavailable(NO_ENGINE_MESSAGE + (f" ({details})" if details else ""))


def assign_voices(speakers: Iterable[str], given: Mapping[str, str] | None,
                  defaults: tuple[str, str] | None) -> dict[str, str]:
    """Speaker -> voice id: the given voice, else the defaults in order of first appearance.

    The first distinct speaker without a given voice gets ``defaults[0]``, the second
    ``defaults[1]``; any further speakers alternate. Empty given voices count as not given.
    """
    out: dict[str, str] = {}
    given = {k: v.strip() for k, v in (given or {}).items() if v and v.strip()}
    n = 0
    for speaker in speakers:
        if speaker in out:
            continue
        if speaker in given:
            out[speaker] = given[speaker]
            continue
        if defaults is None:
            raise TTSError(f"No voice for speaker {speaker!r}.")
        out[speaker] = defaults[n % 2]
        n += 1
    return out


def audio_format(path: Path, fmt: str | None = None) -> str:
    """The output format: ``fmt`` when given, else from the file suffix (.wav, .mp3, .ogg)."""
    f = (fmt or Path(path).suffix).strip().lower().lstrip(".")
    if f == "oga":
        f = "ogg"
    if f not in AUDIO_FORMATS:
        shown = fmt or Path(path).suffix or "(no file extension)"
        raise TTSError(f"Unknown audio format {shown!r}: save podcast audio as .wav, .mp3 or .ogg.")
    return f


# --- text -------------------------------------------------------------------------------------

_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")  # HTML/SSML-like tags: never markup, just dropped
_CITATION = re.compile(r"\[\d+(?:\s*[,;\-–]\s*\d+)*\]")  # [1], [2, 3], [4-6]
_MARKDOWN = re.compile(r"[*_#`~|]+|^\s*>+")  # emphasis, headings, code, tables; a leading quote mark
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """What is safe and sensible to speak from one script line.

    Control and format characters (escape sequences, zero-width and bidi marks) go, as do
    markup-like tags, citation markers and Markdown punctuation. Engines read the result as
    plain text from stdin, never as options, markup or phoneme codes.
    """
    chars = []
    for ch in text or "":
        cat = unicodedata.category(ch)
        if ch in "\t\n\r\v\f":
            chars.append(" ")
        elif cat in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        else:
            chars.append(ch)
    s = "".join(chars)
    s = _TAG.sub(" ", s)
    s = _CITATION.sub("", s)
    s = _MARKDOWN.sub(" ", s)
    # espeak reads [[...]] as phoneme codes; break the brackets apart so they stay text
    s = s.replace("[[", "[ [").replace("]]", "] ]")
    s = _SPACE.sub(" ", s).strip()
    return re.sub(r"\s+([,.;:!?])", r"\1", s)


def speakable(text: str) -> bool:
    """True when ``text`` has something to say (a letter or a digit)."""
    return any(ch.isalnum() for ch in text)


# --- PCM --------------------------------------------------------------------------------------

def silence(seconds: float, sample_rate: int) -> bytes:
    """``seconds`` of 16-bit mono silence."""
    return bytes(max(0, round(seconds * sample_rate)) * SAMPLE_WIDTH)


def pcm_duration(pcm: bytes | int, sample_rate: int) -> float:
    """Seconds of 16-bit mono PCM (``pcm`` as bytes or a byte count)."""
    n = pcm if isinstance(pcm, int) else len(pcm)
    return n / SAMPLE_WIDTH / sample_rate if sample_rate > 0 else 0.0


def _samples(pcm: bytes) -> array:
    a = array("h")
    a.frombytes(pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH])
    if sys.byteorder == "big":
        a.byteswap()
    return a


def trim_silence(pcm: bytes, sample_rate: int, *, threshold: int = 64, keep_s: float = 0.02) -> bytes:
    """Drop leading and trailing near-silence (|sample| <= threshold), keeping ``keep_s`` of margin.

    Engines pad their output differently (espeak adds a sentence pause at the end); trimming makes
    the pauses between turns exactly what the renderer asks for. All-silent input returns b"".
    """
    a = _samples(pcm)
    n = len(a)
    start = 0
    while start < n and -threshold <= a[start] <= threshold:
        start += 1
    if start == n:
        return b""
    end = n
    while end > start and -threshold <= a[end - 1] <= threshold:
        end -= 1
    keep = round(keep_s * sample_rate)
    start = max(0, start - keep)
    end = min(n, end + keep)
    return pcm[start * SAMPLE_WIDTH: end * SAMPLE_WIDTH]


def parse_wav(data: bytes) -> tuple[bytes, int]:
    """(PCM, sample rate) from a 16-bit mono PCM WAV held in memory.

    Tolerates streaming headers: espeak-ng writing to a pipe cannot seek back, so its RIFF and data
    sizes are placeholders (0x7ffff024 / 0x7ffff000); the data then runs to the end of the bytes.

    Raises:
        TTSError: not a WAV, or not 16-bit mono PCM.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TTSError("The speech engine did not return WAV audio.")
    pos = 12
    rate = channels = bits = fmt_tag = 0
    while pos + 8 <= len(data):
        chunk, size = data[pos: pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise TTSError("The speech engine returned a damaged WAV header.")
            fmt_tag, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", data, body)
            if fmt_tag == 0xFFFE and size >= 40:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's first 2 bytes
                fmt_tag = struct.unpack_from("<H", data, body + 24)[0]
        elif chunk == b"data":
            if not rate:
                raise TTSError("The speech engine returned WAV data before its format.")
            if fmt_tag != 1 or bits != 16 or channels != 1:
                raise TTSError(f"The speech engine returned unsupported audio ({channels} channel(s), {bits}-bit, "
                               f"format {fmt_tag}); 16-bit mono PCM is needed.")
            end = len(data) if size in (0, 0xFFFFFFFF) or body + size > len(data) else body + size
            pcm = data[body:end]
            return pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH], rate
        pos = body + size + (size & 1)
    raise TTSError("The speech engine returned a WAV without audio data.")
