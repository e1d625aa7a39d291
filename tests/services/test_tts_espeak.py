"""Podcast audio: render_dialogue with a fake tone engine, then the real espeak-ng, analysed with numpy.

The real tests skip only when the espeak-ng binary is absent (``sudo apt install espeak-ng``);
MP3/OGG tests also need an encoder (ffmpeg, or ``lame`` / ``oggenc``).
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from notebooklm_local.core.errors import Cancelled
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.tts import RenderResult, TTSEngine, TTSError, TTSUnavailable, Utterance
from notebooklm_local.services.tts import render as render_mod
from notebooklm_local.services.tts.espeak import EspeakEngine
from notebooklm_local.services.tts.render import SPEAKER_CHANGE_PAUSE, available_formats, render_dialogue
from tests.core.test_tts import ToneEngine

DIALOGUE = [
    Utterance("A", "Welcome back to the show. Today we are talking about running language models on a laptop."),
    Utterance("B", "Thanks for having me. The short version is that quantization makes it possible."),
    Utterance("A", "So what does a four bit model actually give up compared to the full one?"),
    Utterance("B", "Surprisingly little for everyday questions, and it needs about a quarter of the memory."),
]


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0, w.getframerate()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- with the fake tone engine ----------------------------------------------------------------

def test_render_segments_voices_and_pauses(tmp_path: Path) -> None:
    eng = ToneEngine()
    lines = [Utterance("A", "one two"), Utterance("A", "three"), Utterance("B", "four five six"),
             Utterance("A", "seven")]
    seen: list[tuple[int, int, str]] = []
    res = render_dialogue(eng, lines, tmp_path / "pod.wav", pause_s=0.3, progress=lambda *a: seen.append(a))
    assert isinstance(res, RenderResult)
    assert (res.format, res.sample_rate, res.engine, res.path) == ("wav", 16000, "tone", tmp_path / "pod.wav")
    assert res.voices == {"A": "low", "B": "high"}
    assert [v for _, v, _ in eng.calls] == ["low", "low", "high", "low"]
    assert [s.speaker for s in res.segments] == ["A", "A", "B", "A"]
    # each segment is the tone trimmed of the engine's padding (+ 20 ms margins); gaps are exact
    for s, u in zip(res.segments, lines, strict=True):
        assert s.end_s - s.start_s == pytest.approx(0.04 * len(u.text) + 0.04, abs=0.01)
    gaps = [b.start_s - a.end_s for a, b in zip(res.segments, res.segments[1:], strict=False)]
    assert gaps == pytest.approx([0.3, 0.3 * SPEAKER_CHANGE_PAUSE, 0.3 * SPEAKER_CHANGE_PAUSE], abs=1e-3)
    assert gaps[1] >= 0.3 * 1.2  # a change of speaker pauses audibly longer (not just "what the constant says")
    x, sr = read_wav(res.path)
    assert len(x) / sr == pytest.approx(res.duration_s, abs=1e-3) == pytest.approx(res.segments[-1].end_s, abs=1e-3)
    for a, b in zip(res.segments, res.segments[1:], strict=False):
        assert not np.any(x[int(a.end_s * sr) + 1: int(b.start_s * sr) - 1])
    assert seen[0] == (0, 4, "Speaking line 1 of 4 (A)") and seen[-1] == (4, 4, "Done")
    assert [d for d, _, _ in seen] == [0, 1, 2, 3, 4]
    assert res.render_s > 0 and res.realtime_factor > 1
    assert oct(stat.S_IMODE(res.path.stat().st_mode)) == "0o644"
    assert leftovers(tmp_path) == []


def test_render_given_voices_rate_and_skipped_lines(tmp_path: Path) -> None:
    eng = ToneEngine()
    lines = [Utterance("Ana", "  "), Utterance("Ben", "Hello <b>there</b> [1]"), Utterance("Ana", "***"),
             Utterance("Ana", "Hi\x1b[0m Ben")]
    res = render_dialogue(eng, lines, tmp_path / "x.wav", voices={"Ana": "mid"}, rate_wpm=200)
    assert res.voices == {"Ben": "low", "Ana": "mid"}
    assert eng.calls == [("Hello there", "low", 200), ("Hi[0m Ben", "mid", 200)]
    assert [s.text for s in res.segments] == ["Hello there", "Hi[0m Ben"]


@pytest.mark.parametrize("lines", [[], [Utterance("A", "")], [Utterance("A", " \n"), Utterance("B", "<br/> ** [2]")]])
def test_render_nothing_to_say(tmp_path: Path, lines: list[Utterance]) -> None:
    eng = ToneEngine()
    with pytest.raises(TTSError, match="nothing to say"):
        render_dialogue(eng, lines, tmp_path / "x.wav")
    assert eng.calls == [] and list(tmp_path.iterdir()) == []


def test_render_cancel_between_lines(tmp_path: Path) -> None:
    eng = ToneEngine()
    token = CancelToken()

    def progress(done: int, total: int, message: str) -> None:
        if done == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        render_dialogue(eng, DIALOGUE, tmp_path / "x.wav", progress=progress, cancel=token)
    assert len(eng.calls) == 2
    assert list(tmp_path.iterdir()) == []  # no half file, no temp file


def test_render_cancel_during_synthesis(tmp_path: Path) -> None:
    eng = ToneEngine()
    eng.block = threading.Event()
    token = CancelToken()
    threading.Timer(0.1, token.cancel).start()
    with pytest.raises(Cancelled):
        render_dialogue(eng, DIALOGUE, tmp_path / "x.wav", cancel=token)
    assert list(tmp_path.iterdir()) == []


def test_render_failure_keeps_the_previous_file(tmp_path: Path) -> None:
    out = tmp_path / "pod.wav"
    out.write_bytes(b"previous podcast")
    eng = ToneEngine()
    eng.fail_on = "four bit"
    with pytest.raises(TTSError, match="tone engine failed"):
        render_dialogue(eng, DIALOGUE, out)
    assert out.read_bytes() == b"previous podcast"
    assert leftovers(tmp_path) == []
    eng.fail_on = None
    render_dialogue(eng, DIALOGUE, out)  # a good render replaces it
    assert out.read_bytes()[:4] == b"RIFF"


def test_render_creates_missing_folders(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "pod.wav"
    assert render_dialogue(ToneEngine(), DIALOGUE[:1], out).path == out and out.is_file()


def test_render_refuses_a_folder_as_target(tmp_path: Path) -> None:
    target = tmp_path / "pod.wav"
    target.mkdir()
    with pytest.raises(TTSError, match="is a folder"):
        render_dialogue(ToneEngine(), DIALOGUE, target)
    assert target.is_dir() and list(target.iterdir()) == []


def test_render_below_a_file_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(TTSError, match="Cannot create the folder"):
        render_dialogue(ToneEngine(), DIALOGUE, tmp_path / "file" / "pod.wav")


def test_render_read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):  # root ignores permissions: make mkstemp fail as it would for a user
            def denied(*a: object, **kw: object) -> None:
                raise PermissionError(13, "Permission denied", str(ro))

            monkeypatch.setattr(render_mod.tempfile, "mkstemp", denied)
        eng = ToneEngine()
        with pytest.raises(TTSError, match="permission denied") as e:
            render_dialogue(eng, DIALOGUE, ro / "pod.wav")
        assert str(ro) in str(e.value)
        assert not (ro / "pod.wav").exists()
    finally:
        ro.chmod(0o755)


def test_render_unknown_format(tmp_path: Path) -> None:
    eng = ToneEngine()
    with pytest.raises(TTSError, match="Unknown audio format"):
        render_dialogue(eng, DIALOGUE, tmp_path / "pod.flac")
    with pytest.raises(TTSError, match="Unknown audio format"):
        render_dialogue(eng, DIALOGUE, tmp_path / "pod.wav", fmt="aac")
    assert eng.calls == []


@pytest.mark.parametrize(("suffix", "package"), [(".mp3", "lame"), (".ogg", "vorbis-tools")])
def test_render_without_an_encoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str,
                                   package: str) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert available_formats() == ["wav"]
    eng = ToneEngine()
    with pytest.raises(TTSError, match=f"install ffmpeg or .*sudo apt install {package}.*or save it as WAV"):
        render_dialogue(eng, DIALOGUE, tmp_path / f"pod{suffix}")
    assert eng.calls == []  # failed before any synthesis
    assert not (tmp_path / f"pod{suffix}").exists()


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


@pytest.mark.skipif(sys.platform == "win32", reason="shell-script stand-ins for the encoders")
def test_render_mp3_falls_back_from_a_broken_ffmpeg_to_lame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    _script(bin_ / "ffmpeg", 'echo "Unknown encoder libmp3lame" >&2; exit 1')
    # lame --quiet -V 5 SRC DST: write a fake MP3 that records its input's header
    _script(bin_ / "lame", 'printf ID3 > "$5"; head -c 4 "$4" >> "$5"')
    monkeypatch.setattr(render_mod, "encoder_for",
                        lambda fmt: [("ffmpeg", str(bin_ / "ffmpeg")), ("lame", str(bin_ / "lame"))])
    out = tmp_path / "out" / "pod.mp3"
    res = render_dialogue(ToneEngine(), DIALOGUE, out)
    assert res.format == "mp3" and out.read_bytes() == b"ID3RIFF"
    assert leftovers(out.parent) == []


@pytest.mark.skipif(sys.platform == "win32", reason="shell-script stand-ins for the encoders")
def test_render_reports_when_every_encoder_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    _script(bin_ / "oggenc", 'echo "oggenc: cannot open output" >&2; exit 3')
    monkeypatch.setattr(render_mod, "encoder_for", lambda fmt: [("oggenc", str(bin_ / "oggenc"))])
    with pytest.raises(TTSError, match="Could not encode the podcast audio as OGG: oggenc: .*cannot open output"):
        render_dialogue(ToneEngine(), DIALOGUE, tmp_path / "pod.ogg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]


def test_render_in_parallel_gives_the_same_file(tmp_path: Path) -> None:
    serial, parallel = ToneEngine(), ToneEngine()
    parallel.max_parallel = 3  # type: ignore[attr-defined]
    a = render_dialogue(serial, DIALOGUE * 2, tmp_path / "a.wav")
    b = render_dialogue(parallel, DIALOGUE * 2, tmp_path / "b.wav")
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.segments == b.segments
    assert sorted(parallel.calls) == sorted(serial.calls)


def test_render_in_parallel_failure_stops_the_rest(tmp_path: Path) -> None:
    eng = ToneEngine()
    eng.max_parallel = 4  # type: ignore[attr-defined]
    eng.fail_on = "Thanks for having me"
    with pytest.raises(TTSError, match="tone engine failed"):
        render_dialogue(eng, DIALOGUE * 3, tmp_path / "x.wav")
    assert len(eng.calls) <= 5  # line 2 failed: at most the look-ahead was started
    assert list(tmp_path.iterdir()) == []


def test_render_in_parallel_cancel(tmp_path: Path) -> None:
    eng = ToneEngine()
    eng.max_parallel = 3  # type: ignore[attr-defined]
    eng.block = threading.Event()
    token = CancelToken()
    threading.Timer(0.1, token.cancel).start()
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        render_dialogue(eng, DIALOGUE, tmp_path / "x.wav", cancel=token)
    assert time.perf_counter() - t0 < 2
    assert len(eng.calls) == 3 and list(tmp_path.iterdir()) == []


def test_render_with_an_unavailable_engine(tmp_path: Path) -> None:
    with pytest.raises(TTSUnavailable, match="not installed"):
        render_dialogue(ToneEngine(reason="tone is not installed"), DIALOGUE, tmp_path / "x.wav")


# --- espeak-ng without the binary ---------------------------------------------------------------

def test_missing_binary_explains_how_to_install() -> None:
    eng = EspeakEngine("no-such-espeak-ng-binary")
    assert isinstance(eng, TTSEngine)
    reason = eng.unavailable_reason()
    assert reason and "not installed" in reason and "sudo apt install espeak-ng" in reason
    with pytest.raises(TTSUnavailable):
        eng.synthesize("hello", "en-us")


@pytest.mark.skipif(sys.platform == "win32", reason="a shell-script stand-in for espeak-ng")
def test_broken_binary_is_reported(tmp_path: Path) -> None:
    fake = tmp_path / "espeak-ng"
    _script(fake, 'echo "error while loading shared libraries: libespeak-ng.so.1" >&2; exit 127')
    reason = EspeakEngine(str(fake)).unavailable_reason()
    assert reason and "does not run" in reason and "libespeak-ng.so.1" in reason


@pytest.mark.skipif(sys.platform == "win32", reason="a shell-script stand-in for espeak-ng")
def test_doctor_lists_espeak_only_when_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from notebooklm_local.extensions.builtins import builtin_registry
    from notebooklm_local.services.diagnostics import tts_engines

    _script(tmp_path / "espeak-ng", "exit 1")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "espeak-ng" not in tts_engines()
    (engine,) = builtin_registry().tts_engines.items()  # registered anyway: it explains itself
    assert "does not run" in (engine.unavailable_reason() or "")


# --- the real espeak-ng -----------------------------------------------------------------------

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (sudo apt install espeak-ng)")


@pytest.fixture(scope="module")
def espeak() -> EspeakEngine:
    eng = EspeakEngine()
    if eng.unavailable_reason():
        pytest.skip(f"espeak-ng unusable: {eng.unavailable_reason()}")
    return eng


@pytest.fixture(scope="module")
def rendered(espeak: EspeakEngine, tmp_path_factory: pytest.TempPathFactory) -> tuple[RenderResult, np.ndarray, int]:
    res = render_dialogue(espeak, DIALOGUE, tmp_path_factory.mktemp("pod") / "dialogue.wav", pause_s=0.45)
    x, sr = read_wav(res.path)
    return res, x, sr


def f0_median(x: np.ndarray, sr: int) -> float:
    """Median fundamental frequency over voiced 40 ms frames (autocorrelation, 60-400 Hz)."""
    n = int(0.04 * sr)
    lo, hi = int(sr / 400), int(sr / 60)
    found = []
    for i in range(0, len(x) - n, n // 2):
        frame = x[i: i + n] - x[i: i + n].mean()
        if np.sqrt(np.mean(frame ** 2)) < 0.02:
            continue
        ac = np.correlate(frame, frame, "full")[n - 1:]
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.5 * ac[0]:  # clearly periodic: a voiced frame
            found.append(sr / k)
    assert len(found) >= 10, "too few voiced frames to estimate F0"
    return float(np.median(found))


@needs_espeak
def test_espeak_dialogue_holds_speech(rendered: tuple[RenderResult, np.ndarray, int]) -> None:
    res, x, sr = rendered
    assert res.engine == "espeak-ng" and res.format == "wav" and sr == res.sample_rate == 22050
    assert res.voices == {"A": "en-us+m3", "B": "en-us+f3"}
    assert len(res.segments) == 4 and len(x) / sr == pytest.approx(res.duration_s, abs=1e-3)
    assert res.duration_s > 10
    for seg in res.segments:
        part = x[int(seg.start_s * sr): int(seg.end_s * sr)]
        assert seg.end_s - seg.start_s > 2.0
        assert np.sqrt(np.mean(part ** 2)) > 0.03, seg  # speech, far above silence


@needs_espeak
def test_espeak_dialogue_pauses_between_turns(rendered: tuple[RenderResult, np.ndarray, int]) -> None:
    res, x, sr = rendered
    quiet = np.abs(x) < 0.002
    # runs of near-silence, found from the audio alone: (start, end) in samples
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.astype(np.int8), [0]))))
    runs = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if (b - a) / sr >= 0.45 * 0.8]
    for a, b in zip(res.segments, res.segments[1:], strict=False):
        boundary = (a.end_s + b.start_s) / 2 * sr
        assert any(s <= boundary <= e for s, e in runs), f"no pause between {a.speaker} and {b.speaker}"
        assert b.start_s - a.end_s >= 0.45
    assert len(runs) >= 3


@needs_espeak
def test_espeak_dialogue_has_two_distinct_voices(rendered: tuple[RenderResult, np.ndarray, int]) -> None:
    res, x, sr = rendered
    f0 = [f0_median(x[int(s.start_s * sr): int(s.end_s * sr)], sr) for s in res.segments]
    a = [f for f, s in zip(f0, res.segments, strict=True) if s.speaker == "A"]
    b = [f for f, s in zip(f0, res.segments, strict=True) if s.speaker == "B"]
    fa, fb = float(np.median(a)), float(np.median(b))
    assert fb / fa > 1.25, f0  # measured: A (en-us+m3) ~105 Hz, B (en-us+f3) ~210 Hz
    assert max(a) / min(a) < 1.15 and max(b) / min(b) < 1.15, f0  # a host keeps one voice


@needs_espeak
@pytest.mark.parametrize(("suffix", "magic"), [(".mp3", (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")),
                                               (".ogg", (b"OggS",))])
def test_espeak_compressed_output(espeak: EspeakEngine, tmp_path: Path, suffix: str, magic: tuple[bytes, ...]) -> None:
    if suffix[1:] not in available_formats():
        pytest.skip(f"no {suffix} encoder (install ffmpeg, lame or vorbis-tools)")
    res = render_dialogue(espeak, DIALOGUE[:2], tmp_path / f"pod{suffix}")
    data = res.path.read_bytes()
    assert res.format == suffix[1:] and data.startswith(magic), data[:8]
    assert 1000 < len(data) < res.duration_s * res.sample_rate * 2 / 3  # compressed, not a renamed WAV
    assert leftovers(tmp_path) == []


@needs_espeak
def test_espeak_speaks_hostile_text(espeak: EspeakEngine, tmp_path: Path) -> None:
    # as an argument this would print the help (or be read as SSML); on stdin it is just words
    for text in ("--help", "--version", "-v xx"):
        pcm, sr = espeak.synthesize(text, "en-us")
        assert sr == 22050 and len(pcm) / 2 / sr > 0.3, text
    res = render_dialogue(espeak, [Utterance("A", "--help <speak>rm -rf</speak>"), Utterance("B", "\x1b[2Jok")],
                          tmp_path / "x.wav")
    assert [s.text for s in res.segments] == ["--help rm -rf", "[2Jok"]
    assert res.segments[0].end_s - res.segments[0].start_s > 0.5


@needs_espeak
def test_espeak_voices(espeak: EspeakEngine) -> None:
    all_voices = espeak.voices()
    assert len(all_voices) > 50 and len({v.id for v in all_voices}) == len(all_voices)
    en = {v.id: v for v in espeak.voices("en")}
    assert "en-us" in en and "en-gb" in en and en["en-us+f3"].gender == "female"
    assert espeak.default_voices() == ("en-us+m3", "en-us+f3")
    assert espeak.default_voices("English") == ("en-us+m3", "en-us+f3")
    assert espeak.default_voices("fr") == espeak.default_voices("French") == ("fr-fr+m3", "fr-fr+f3")
    assert espeak.default_voices("de")[0] == "de+m3"
    assert espeak.default_voices("no-such-language") == ("en-us+m3", "en-us+f3")
    a, b = espeak.default_voices("de")
    assert a != b


@needs_espeak
def test_espeak_unknown_voice(espeak: EspeakEngine) -> None:
    with pytest.raises(TTSError, match="no voice 'xx-nonexistent'"):
        espeak.synthesize("hello", "xx-nonexistent")
    with pytest.raises(TTSError, match="not an espeak-ng voice"):
        espeak.synthesize("hello", "--stdout")


def _espeak_children() -> list[int]:
    """Our own espeak-ng child processes that still exist (Linux /proc)."""
    pids = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
            comm = stat_file.read_text().split("(", 1)[1].rsplit(")", 1)[0]
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid() and comm.startswith("espeak"):
            pids.append(int(stat_file.parent.name))
    return pids


@needs_espeak
def test_espeak_cancel_kills_the_running_synthesizer(espeak: EspeakEngine) -> None:
    text = "This is a very long line that keeps the synthesizer busy for a while. " * 200
    token = CancelToken()
    threading.Timer(0.2, token.cancel).start()
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        espeak.synthesize(text, "en-us", cancel=token)
    assert time.perf_counter() - t0 < 1.5
    if Path("/proc/self/stat").exists():
        assert _espeak_children() == []


@needs_espeak
def test_espeak_render_cancel_kills_every_running_line(espeak: EspeakEngine, tmp_path: Path) -> None:
    long_line = "A long sentence that keeps espeak busy for quite a while, on purpose. " * 150
    lines = [Utterance("A" if i % 2 else "B", long_line) for i in range(6)]
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        render_dialogue(espeak, lines, tmp_path / "x.mp3", cancel=token)
    assert time.perf_counter() - t0 < 2
    assert list(tmp_path.iterdir()) == []
    if Path("/proc/self/stat").exists():
        assert _espeak_children() == []


@needs_espeak
def test_espeak_is_the_builtin_engine_and_in_doctor() -> None:
    from notebooklm_local.extensions.builtins import BUILTIN_ID, builtin_registry
    from notebooklm_local.services.diagnostics import tts_engines

    owned = builtin_registry().tts_engines.owned()
    assert [(o, type(e).__name__, e.name) for o, e in owned] == [(BUILTIN_ID, "EspeakEngine", "espeak-ng")]
    assert "espeak-ng" in tts_engines()
