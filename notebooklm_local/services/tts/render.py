"""Speak a dialogue into one audio file: a voice per speaker, pauses between turns, WAV/MP3/OGG.

The WAV is written with the stdlib ``wave`` module into a temporary file beside the target and
renamed into place at the end, so a cancelled or failed render never leaves a half file. MP3 and
OGG are encoded from that WAV by ffmpeg when it is on PATH, else by ``lame`` / ``oggenc``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import time
import wave
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from notebooklm_local.core.errors import Cancelled
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.tts import (
    AudioSegment,
    RenderResult,
    TTSEngine,
    TTSError,
    TTSUnavailable,
    Utterance,
    assign_voices,
    audio_format,
    clean_text,
    pcm_duration,
    silence,
    speakable,
    trim_silence,
)
from notebooklm_local.services.tts.process import run_process

__all__ = ["available_formats", "encoder_for", "render_dialogue", "LineAudioCache", "SPEAKER_CHANGE_PAUSE"]

log = logging.getLogger(__name__)

SPEAKER_CHANGE_PAUSE = 1.25  # a turn to the other host pauses a little longer than a host's own next line

# format -> (encoder programs in order of preference, the Debian package that provides the fallback)
_ENCODERS = {"mp3": (("ffmpeg", "lame"), "lame"), "ogg": (("ffmpeg", "oggenc"), "vorbis-tools")}


class _LinkedToken(CancelToken):
    """Set when cancelled itself or when the caller's token is set."""

    def __init__(self, parent: CancelToken | None) -> None:
        super().__init__()
        self._parent = parent

    def is_set(self) -> bool:
        return super().is_set() or (self._parent is not None and self._parent.is_set())

    def raise_if_set(self) -> None:
        if self.is_set():
            raise Cancelled()


class LineAudioCache:
    """Each spoken line's audio, kept as a small WAV keyed by engine, voice, speaking rate and text: after one
    line of a script is edited or regenerated, a re-voice speaks only that line and re-assembles the file
    from the others. Oldest files go first when the folder grows past ``max_bytes``. A damaged or unreadable
    entry is a miss (the line is spoken again), never an error."""

    def __init__(self, folder: Path, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes

    @staticmethod
    def key(engine: str, voice: str, rate_wpm: int, text: str) -> str:
        return hashlib.sha256(f"{engine}\x00{voice}\x00{rate_wpm}\x00{text}".encode()).hexdigest()[:40]

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.wav"

    def get(self, key: str) -> tuple[bytes, int] | None:
        path = self._path(key)
        try:
            with wave.open(str(path), "rb") as w:
                if w.getnchannels() != 1 or w.getsampwidth() != 2:
                    return None
                pcm, rate = w.readframes(w.getnframes()), w.getframerate()
            os.utime(path)  # recently used: pruned last
        except (OSError, EOFError, wave.Error):
            return None
        return (pcm, rate) if pcm else None

    def put(self, key: str, pcm: bytes, rate: int) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = _temp(self.folder, key, ".part.wav")
            try:
                with wave.open(str(tmp), "wb") as w:
                    w.setnchannels(1)
                    w.setsampwidth(2)
                    w.setframerate(rate)
                    w.writeframes(pcm)
                os.replace(tmp, self._path(key))
            finally:
                tmp.unlink(missing_ok=True)
        except (OSError, TTSError, wave.Error) as e:
            log.warning("could not keep a line's audio in %s: %s", self.folder, e)

    def prune(self) -> None:
        try:
            files = [(p.stat().st_mtime, p.stat().st_size, p) for p in self.folder.glob("*.wav")]
        except OSError:
            return
        total = sum(size for _, size, _ in files)
        for _, size, p in sorted(files):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                p.unlink()
                total -= size


def _encode_cmd(tool: str, path: str, fmt: str, src: Path, dst: Path) -> list[str]:
    if tool == "ffmpeg":
        codec = {"mp3": ["-codec:a", "libmp3lame", "-q:a", "5"], "ogg": ["-codec:a", "libvorbis", "-q:a", "4"]}[fmt]
        return [path, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), *codec,
                "-f", fmt, str(dst)]
    if tool == "lame":
        return [path, "--quiet", "-V", "5", str(src), str(dst)]
    return [path, "--quiet", "-q", "4", "-o", str(dst), str(src)]  # oggenc


def encoder_for(fmt: str) -> list[tuple[str, str]]:
    """The encoders on PATH for ``fmt``, best first: [(tool, executable)]; empty for WAV or none."""
    if fmt not in _ENCODERS:
        return []
    return [(tool, p) for tool in _ENCODERS[fmt][0] if (p := shutil.which(tool))]


def available_formats() -> list[str]:
    """The formats podcast audio can be saved in on this machine (WAV always)."""
    return ["wav", *(f for f in _ENCODERS if encoder_for(f))]


def _no_encoder(fmt: str) -> TTSError:
    tools, package = _ENCODERS[fmt]
    return TTSError(f"Saving podcast audio as {fmt.upper()} needs an audio encoder: install ffmpeg or {tools[1]} "
                    f"(sudo apt install {package}), or save it as WAV.")


def _encode(fmt: str, src: Path, dst: Path, duration_s: float, cancel: CancelToken | None) -> None:
    encoders = encoder_for(fmt)
    if not encoders:
        raise _no_encoder(fmt)
    errors = []
    for tool, path in encoders:
        rc, _out, err = run_process(_encode_cmd(tool, path, fmt, src, dst), timeout=120 + duration_s,
                                    cancel=cancel, what=f"the {fmt.upper()} encoder ({tool})")
        if rc == 0 and dst.is_file() and dst.stat().st_size > 0:
            return
        # e.g. an ffmpeg built without libmp3lame: try the next encoder
        errors.append(f"{tool}: {err.decode('utf-8', 'replace').strip() or f'exit code {rc}'}")
        log.warning("%s encoding with %s failed: %s", fmt, tool, errors[-1])
    raise TTSError(f"Could not encode the podcast audio as {fmt.upper()}: " + "; ".join(errors))


def _temp(parent: Path, name: str, suffix: str) -> Path:
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{name}.", suffix=suffix)
    except PermissionError as e:
        raise TTSError(f"Cannot write the podcast audio into {parent}: permission denied.") from e
    except OSError as e:
        raise TTSError(f"Cannot write the podcast audio into {parent}: {e.strerror or e}.") from e
    os.close(fd)
    return Path(tmp)


def _prepare_target(out_path: Path) -> Path:
    if out_path.is_dir():
        raise TTSError(f"Cannot save the podcast audio as {out_path}: that is a folder.")
    parent = out_path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TTSError(f"Cannot create the folder {parent} for the podcast audio: {e.strerror or e}.") from e
    if not parent.is_dir():
        raise TTSError(f"Cannot save the podcast audio into {parent}: it is not a folder.")
    return parent


def render_dialogue(engine: TTSEngine, lines: Sequence[Utterance], out_path: Path, *,
                    voices: dict[str, str] | None = None, rate_wpm: int = 165, pause_s: float = 0.45,
                    fmt: str | None = None, progress: Callable[[int, int, str], None] | None = None,
                    cancel: CancelToken | None = None, language: str = "",
                    cache: LineAudioCache | None = None) -> RenderResult:
    """Speak ``lines`` with one voice per speaker into ``out_path``.

    Args:
        engine: the TTS engine (one engine, one sample rate per render).
        lines: the script; blank or markup-only lines are skipped.
        out_path: the audio file to write (replaced atomically; its folder is created).
        voices: speaker -> voice id; speakers without one get ``engine.default_voices(language)``
            in order of first appearance.
        rate_wpm: speaking rate in words per minute.
        pause_s: silence between lines; a change of speaker pauses 1.25 times as long.
        fmt: "wav", "mp3" or "ogg"; None takes it from the suffix of ``out_path``.
        progress: called as (lines done, lines in all, message) before each line and at the end.
        cancel: checked between lines; a running synthesizer or encoder is killed when it is set.
            Engines with a ``max_parallel`` attribute > 1 speak that many lines at once.
        language: the language for the default voices ("" = the engine's default, English).
        cache: per-line audio kept between renders: a line whose engine, voice, rate and text are in it is
            not spoken again (``RenderResult.spoken`` counts the lines that were).

    Returns:
        What was written: file, format, sample rate, duration, render time, segments, voices.

    Raises:
        Cancelled: ``cancel`` was set (nothing is written).
        TTSUnavailable: the engine cannot speak.
        TTSError: nothing to say, unknown format, no encoder, or the file cannot be written.
    """
    t0 = time.perf_counter()
    out_path = Path(out_path)
    fmt = audio_format(out_path, fmt)
    if pause_s < 0:
        raise TTSError("The pause between turns cannot be negative.")
    items = [(u.speaker, text) for u in lines if speakable(text := clean_text(u.text))]
    if not items:
        raise TTSError("There is nothing to say: the podcast script has no spoken lines.")
    if fmt != "wav" and not encoder_for(fmt):
        raise _no_encoder(fmt)  # before minutes of synthesis, not after
    reason = engine.unavailable_reason()
    if reason:
        raise TTSUnavailable(reason)
    speakers = [s for s, _ in items]
    need_defaults = any(not (voices or {}).get(s, "").strip() for s in speakers)
    voice_map = assign_voices(speakers, voices, engine.default_voices(language) if need_defaults else None)
    parent = _prepare_target(out_path)
    report = progress or (lambda done, total, message: None)
    total = len(items)

    tmp_wav = _temp(parent, out_path.name, ".part.wav")
    tmp_out: Path | None = None
    segments: list[AudioSegment] = []
    wav: wave.Wave_write | None = None
    rate = 0
    written = 0  # bytes of PCM
    # engines that allow it (espeak-ng: one process per call) speak the next lines while this one is
    # written; results are taken strictly in order, so the file is the same as with one worker
    workers = max(1, min(total, int(getattr(engine, "max_parallel", 1) or 1)))
    token = _LinkedToken(cancel)  # stops the other in-flight lines when one fails or the user cancels
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tts")
    pending: dict[int, Future[tuple[bytes, int]]] = {}
    ready: dict[int, tuple[bytes, int]] = {}  # lines found in the cache
    keys = [LineAudioCache.key(engine.name, voice_map[s], rate_wpm, t) for s, t in items] if cache else []
    spoken = 0
    try:
        prev: str | None = None
        for i, (speaker, text) in enumerate(items):
            report(i, total, f"Speaking line {i + 1} of {total} ({speaker})")
            token.raise_if_set()
            for j in range(i, min(total, i + workers)):
                if j not in pending and j not in ready:
                    if cache is not None and (hit := cache.get(keys[j])) is not None:
                        ready[j] = hit
                        continue
                    s_j, t_j = items[j]
                    pending[j] = pool.submit(engine.synthesize, t_j, voice_map[s_j], rate_wpm=rate_wpm, cancel=token)
            if i in ready:
                pcm, sr = ready.pop(i)
            else:
                pcm, sr = pending.pop(i).result()
                spoken += 1
                pcm = trim_silence(pcm, sr)
                if cache is not None and pcm:
                    cache.put(keys[i], pcm, sr)
            if not pcm:
                log.warning("%s produced no sound for line %d (%r)", engine.name, i + 1, text[:60])
                continue
            if wav is None:
                rate = sr
                wav = wave.open(str(tmp_wav), "wb")  # noqa: SIM115 - closed in finally
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(rate)
            elif sr != rate:
                raise TTSError(f"{engine.name} changed its sample rate mid-render ({rate} Hz, then {sr} Hz).")
            if prev is not None:
                gap = silence(pause_s * (SPEAKER_CHANGE_PAUSE if speaker != prev else 1.0), rate)
                wav.writeframes(gap)
                written += len(gap)
            start = pcm_duration(written, rate)
            wav.writeframes(pcm)
            written += len(pcm)
            segments.append(AudioSegment(speaker, text, round(start, 4), round(pcm_duration(written, rate), 4)))
            prev = speaker
        pool.shutdown()
        if wav is None:
            raise TTSError(f"{engine.name} produced no sound for any line of the script.")
        wav.close()
        wav = None
        token.raise_if_set()
        duration = pcm_duration(written, rate)
        if fmt == "wav":
            final = tmp_wav
        else:
            report(total, total, f"Encoding {fmt.upper()}")
            tmp_out = _temp(parent, out_path.name, f".part.{fmt}")
            _encode(fmt, tmp_wav, tmp_out, duration, token)
            final = tmp_out
        with contextlib.suppress(OSError):
            os.chmod(final, 0o644)  # mkstemp makes 0600 files; audio is for sharing
        try:
            os.replace(final, out_path)
        except OSError as e:
            raise TTSError(f"Cannot save the podcast audio as {out_path}: {e.strerror or e}.") from e
    except OSError as e:  # disk full, folder removed under us, ...
        raise TTSError(f"Cannot write the podcast audio into {parent}: {e.strerror or e}.") from e
    finally:
        if pending:  # failed or cancelled mid-way: stop the lines still being spoken, and wait for them
            token.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        if wav is not None:
            with contextlib.suppress(Exception):
                wav.close()
        for tmp in (tmp_wav, tmp_out):
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)
    if cache is not None:
        cache.prune()
    report(total, total, "Done")
    return RenderResult(out_path, fmt, rate, round(duration, 4), time.perf_counter() - t0, segments,
                        engine.name, dict(voice_map), spoken)
