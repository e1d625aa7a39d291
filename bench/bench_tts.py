"""Podcast audio render speed: render_dialogue with espeak-ng vs raw espeak-ng on the same text.

Speed = seconds of audio made per second of wall time (the real-time factor, higher is faster).

- ours: ``render_dialogue`` on a 10-line, two-host dialogue to WAV (one espeak-ng process per line,
  voices en-us+m3 / en-us+f3, silence trimmed, 0.45 s pauses, atomic WAV write), with the engine's
  default ``max_parallel`` (cores + 1, at most 4) and with one line at a time.
- raw (the floor, same run): ``espeak-ng --stdin -v en-us+m3 -s 165 --stdout`` on the whole dialogue
  text concatenated, in ONE call; its WAV read from the pipe into memory, as ours does.
- raw per line (for reference): one plain espeak-ng call per line, the WAVs kept in memory.

Ours also adds silence (the pauses), which costs next to nothing, so the "speech only" column
leaves the pauses out of our audio seconds. MP3/OGG rows time the encoder step once each.

    .venv/bin/python bench/bench_tts.py               # 7 repeats
    .venv/bin/python bench/bench_tts.py --repeats 3
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

LINES = [
    ("A", "Welcome back to Local Notes, the show about software that runs on your own machine."),
    ("B", "Thanks for having me. Today we are looking at how a small laptop can run a language model."),
    ("A", "Let's start with the obvious question. How much memory does a seven billion parameter model need?"),
    ("B", "In sixteen bit floats, about fourteen gigabytes. At four bits per weight, roughly four."),
    ("A", "And the quality loss? People worry that quantization makes the answers noticeably worse."),
    ("B", "The k-quant formats such as Q4 K M keep most of it. For summaries and questions about your notes, "
          "the difference is small."),
    ("A", "What about speed? Memory bandwidth seems to matter more than raw compute."),
    ("B", "Exactly. Each generated token reads every weight once, so fewer bits per weight means more tokens "
          "per second."),
    ("A", "So the advice is: quantize, keep the context modest, and check the citations."),
    ("B", "That's it. And keep your sources close, because a local model only knows what you give it."),
]


def audio_seconds_of_wav(data: bytes) -> tuple[float, int]:
    from notebooklm_local.core.tts import parse_wav, pcm_duration

    pcm, rate = parse_wav(data)
    return pcm_duration(pcm, rate), rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    C.start("bench_tts")

    from notebooklm_local.core.tts import Utterance
    from notebooklm_local.services.tts.espeak import EspeakEngine
    from notebooklm_local.services.tts.render import available_formats, render_dialogue

    engine = EspeakEngine()
    reason = engine.unavailable_reason()
    if reason:
        print(f"SKIP: {reason}")
        sys.exit(0)
    exe = shutil.which("espeak-ng") or "espeak-ng"
    voice_a, voice_b = engine.default_voices("en")
    print(f"{engine.version}; voices {voice_a} / {voice_b}; {len(LINES)} lines, "
          f"{sum(len(t) for _, t in LINES)} characters")
    lines = [Utterance(s, t) for s, t in LINES]
    whole = " ".join(t for _, t in LINES)
    work = Path(tempfile.mkdtemp(prefix="nbl-bench-tts-"))

    parallel = engine.max_parallel
    serial = EspeakEngine()
    serial.max_parallel = 1
    serial.default_voices("en")

    def run_ours(eng: Any = engine) -> tuple[float, float, float]:
        t0 = time.perf_counter()
        res = render_dialogue(eng, lines, work / "ours.wav", rate_wpm=165, pause_s=0.45)
        wall = time.perf_counter() - t0
        speech = sum(s.end_s - s.start_s for s in res.segments)
        return wall, res.duration_s, speech

    def run_ours_serial() -> tuple[float, float, float]:
        return run_ours(serial)

    def run_raw() -> tuple[float, float, float]:
        t0 = time.perf_counter()
        out = subprocess.run([exe, "--stdin", "-v", voice_a, "-s", "165", "--stdout"], input=whole.encode(),
                             capture_output=True, check=True).stdout
        wall = time.perf_counter() - t0
        dur, _ = audio_seconds_of_wav(out)
        return wall, dur, dur

    def run_raw_per_line() -> tuple[float, float, float]:
        t0 = time.perf_counter()
        outs = [subprocess.run([exe, "--stdin", "-v", voice_a if s == "A" else voice_b, "-s", "165", "--stdout"],
                               input=t.encode(), capture_output=True, check=True).stdout for s, t in LINES]
        wall = time.perf_counter() - t0
        dur = sum(audio_seconds_of_wav(o)[0] for o in outs)
        return wall, dur, dur

    runs = {"ours": run_ours, "ours_serial": run_ours_serial, "raw": run_raw, "raw_per_line": run_raw_per_line}
    for fn in runs.values():
        fn()  # warm: page cache, espeak-ng data files
    results: dict[str, list[tuple[float, float, float]]] = {k: [] for k in runs}
    names = list(runs)
    for i in range(args.repeats):
        order = names[i % len(names):] + names[: i % len(names)]  # rotate who goes first
        for name in order:
            results[name].append(runs[name]())

    def rtf(name: str, col: int = 1) -> list[float]:
        return [r[col] / r[0] for r in results[name]]

    med: dict[str, Any] = {}
    for name in names:
        med[name] = {"wall_s": C.median([r[0] for r in results[name]]), "audio_s": results[name][0][1],
                     "speech_s": results[name][0][2], "rtf": C.median(rtf(name)), "rtf_speech": C.median(rtf(name, 2))}
    # each repeat runs all three back to back: the median of per-repeat ratios cancels slow drift
    paired = C.median([o / r for o, r in zip(rtf("ours"), rtf("raw"), strict=True)])
    paired_speech = C.median([o / r for o, r in zip(rtf("ours", 2), rtf("raw", 2), strict=True)])
    rows = [
        ["raw espeak-ng, whole text in one call (floor)", med["raw"]["audio_s"], med["raw"]["wall_s"] * 1000,
         med["raw"]["rtf"], med["raw"]["rtf_speech"], 1.0],
        ["raw espeak-ng, one call per line", med["raw_per_line"]["audio_s"], med["raw_per_line"]["wall_s"] * 1000,
         med["raw_per_line"]["rtf"], med["raw_per_line"]["rtf_speech"],
         C.median([o / r for o, r in zip(rtf("raw_per_line"), rtf("raw"), strict=True)])],
        ["ours: render_dialogue -> WAV, 1 line at a time", med["ours_serial"]["audio_s"],
         med["ours_serial"]["wall_s"] * 1000, med["ours_serial"]["rtf"], med["ours_serial"]["rtf_speech"],
         C.median([o / r for o, r in zip(rtf("ours_serial"), rtf("raw"), strict=True)])],
        [f"ours: render_dialogue -> WAV, {parallel} lines at once (default)", med["ours"]["audio_s"],
         med["ours"]["wall_s"] * 1000, med["ours"]["rtf"], med["ours"]["rtf_speech"], paired],
    ]
    print(f"\nrender speed (median of {args.repeats}; x realtime = audio seconds per wall second)")
    print(C.table(rows, ["run", "audio s", "wall ms", "x realtime", "x realtime speech only", "x raw"]))
    print(f"   ours / raw (paired medians): {paired:.2f} with pauses counted as audio, {paired_speech:.2f} "
          "speech only")

    enc: dict[str, Any] = {}
    for fmt in ("mp3", "ogg"):
        if fmt not in available_formats():
            print(f"   {fmt}: no encoder (install ffmpeg, lame or vorbis-tools)")
            continue
        t0 = time.perf_counter()
        res = render_dialogue(engine, lines, work / f"ours.{fmt}")
        wall = time.perf_counter() - t0
        size = res.path.stat().st_size
        enc[fmt] = {"wall_s": wall, "rtf": res.duration_s / wall, "bytes": size,
                    "encode_s": wall - med["ours"]["wall_s"]}
        print(f"   {fmt}: {wall * 1000:.0f} ms in all ({res.duration_s / wall:.0f}x realtime), "
              f"encoding ~{enc[fmt]['encode_s'] * 1000:.0f} ms, {size / 1024:.0f} KiB "
              f"({size * 8 / res.duration_s / 1000:.0f} kbit/s)")
    shutil.rmtree(work, ignore_errors=True)
    C.write_results("bench_tts", {"args": vars(args), "engine": engine.version, "voices": [voice_a, voice_b],
                                  "max_parallel": parallel,
                                  "median": med, "ratio_ours_raw": paired, "ratio_ours_raw_speech": paired_speech,
                                  "runs": results, "encoders": enc})


if __name__ == "__main__":
    main()
