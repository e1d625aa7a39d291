"""A small studio world for GUI tests and screenshots: a lexical-only library with one source, a scripted
engine (optionally slow, so streaming, steps and cancel can be watched), outputs that pass the studio's
checks, and a fake text-to-speech engine."""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebooklm_local.core.errors import Cancelled
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.library import Library
from notebooklm_local.core.llm import Generation, GenerationResult
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings
from notebooklm_local.core.tts import Voice
from notebooklm_local.extensions.builtins import builtin_registry
from notebooklm_local.services.library_service import LibraryService
from notebooklm_local.services.studio.service import StudioService
from notebooklm_local.workspace import template_store
from tests.helpers.scripted_engine import ScriptedEngine

TEXT = """# Quantization

Quantization stores model weights in fewer bits. The Q4_K_M format in llama.cpp uses about 4.8 bits per weight.
Gemma 3 270M is a small model released by Google in 2025. It runs on a laptop CPU with 2 cores.
Smaller files load faster, but quality drops a little compared with FP16 weights.
The GGUF file format keeps the weights and the tokenizer in one file.
"""

SUMMARY = {"sentences": [
    {"text": "Quantization stores model weights in fewer bits.", "citations": [1]},
    {"text": "The Q4_K_M format in llama.cpp uses about 4.8 bits per weight.", "citations": [1]},
    {"text": "Bananas are yellow fruit grown in the tropics.", "citations": [1]},
]}

COD_STEPS = [
    {"missing_entities": ["Quantization"], "denser_summary": (
        "This article discusses quantization, which stores model weights in fewer bits so that a model becomes "
        "smaller, and it explains how files load and how the quality of the weights may change a little in the end.")},
    {"missing_entities": ["Q4_K_M"], "denser_summary": (
        "Quantization stores model weights in fewer bits. The article then discusses the Q4_K_M format, so that "
        "smaller files load faster, while the quality of the weights drops a little in the end.")},
    {"missing_entities": ["llama.cpp", "4.8 bits"], "denser_summary": (
        "Quantization stores model weights in fewer bits. The Q4_K_M format in llama.cpp uses about 4.8 bits per "
        "weight. Smaller files load faster, but quality drops a little compared with other weights.")},
    {"missing_entities": ["FP16"], "denser_summary": (
        "Quantization stores weights in fewer bits: Q4_K_M in llama.cpp uses about 4.8 bits per weight. Smaller "
        "files load faster, but quality drops a little compared with FP16 weights.")},
    {"missing_entities": ["GGUF"], "denser_summary": (
        "Quantization stores weights in fewer bits: Q4_K_M in llama.cpp uses about 4.8 bits per weight, not FP16. "
        "The GGUF file format keeps the weights and the tokenizer in one file.")},
]

OUTLINE = {"title": "Small models, fewer bits", "segments": [
    {"topic": "What quantization does", "passages": [1]},
    {"topic": "The Q4_K_M format", "passages": [1]},
    {"topic": "Gemma on a laptop", "passages": [1]},
]}


def _dialogue(a: str, b: str, c: str, d: str) -> dict[str, Any]:
    return {"lines": [{"speaker": "Alex", "text": a, "citations": [1]}, {"speaker": "Sam", "text": b, "citations": [1]},
                      {"speaker": "Alex", "text": c, "citations": []}, {"speaker": "Sam", "text": d, "citations": [1]}]}


PODCAST = [
    OUTLINE,
    _dialogue("So what does quantization actually do?", "Quantization stores model weights in fewer bits.",
              "Interesting, and why would I care?",
              "Smaller files load faster, but quality drops a little compared with FP16 weights."),
    _dialogue("Tell me about Q4_K_M.", "The Q4_K_M format in llama.cpp uses about 4.8 bits per weight.",
              "That sounds compact.", "The GGUF file format keeps the weights and the tokenizer in one file."),
    _dialogue("Which model did you try?", "Gemma 3 270M is a small model released by Google in 2025.",
              "Does it need a GPU?", "No, and bananas grow on the moon every Tuesday."),
]


@dataclass
class SlowEngine(ScriptedEngine):
    """A ScriptedEngine that waits ``delay`` seconds per streamed piece (7 characters)."""

    delay: float = 0.0

    def stream_chat(self, messages: Sequence[Any], **kw: Any) -> Generation:
        return Generation(self._slowly(super().stream_chat(messages, **kw)))

    def _slowly(self, inner: Generation) -> Generator[str, None, GenerationResult]:
        for piece in inner:
            if self.delay:
                time.sleep(self.delay)
            yield piece
        return inner.result()


@dataclass
class FakeTTS:
    """A text-to-speech engine that "speaks" a tone per line (16 kHz mono), ``delay`` seconds per line."""

    name: str = "fake-tts"
    reason: str | None = None
    delay: float = 0.0
    max_parallel: int = 1
    spoken: list[tuple[str, str]] = field(default_factory=list)

    def unavailable_reason(self) -> str | None:
        return self.reason

    def voices(self, language: str = "") -> list[Voice]:
        return [Voice("low", "Low"), Voice("high", "High")]

    def default_voices(self, language: str = "") -> tuple[str, str]:
        return "low", "high"

    def synthesize(self, text: str, voice: str, *, rate_wpm: int = 165,
                   cancel: CancelToken | None = None) -> tuple[bytes, int]:
        end = time.monotonic() + self.delay
        while time.monotonic() < end:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            time.sleep(0.01)
        self.spoken.append((voice, text))
        rate, freq = 16000, 220 if voice == "low" else 440
        n = int(rate * min(1.0, 0.02 * len(text)))
        return b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(n)), rate


@dataclass
class World:
    lib: LibraryService
    notebook_id: str
    source_id: str
    engine: SlowEngine
    studio: StudioService
    settings: Settings
    tts: list[Any]

    @property
    def library(self) -> Library:
        return self.lib.library

    def source_text(self) -> str:
        return self.lib.library.source_text(self.source_id)[0]


def make_world(folder: Path, *, retries: int = 0, delay: float = 0.0, tts: list[Any] | None = None,
               home: Path | None = None) -> World:
    """A lexical-only library (no embedder) with the notebook "Quantization notes" and one source."""
    paths = app_paths(home).ensure()
    lib = LibraryService(paths.data, Library(paths.data / "library.db"), builtin_registry().source_loaders.items(),
                         None)
    lib.create_notebook("Quantization notes")
    folder.mkdir(parents=True, exist_ok=True)
    doc = folder / "quantization.md"
    doc.write_text(TEXT, encoding="utf-8")
    lib.add("Quantization notes", [str(doc)])
    nb = lib.notebook("Quantization notes")
    src = lib.sources(nb.id)[0]
    settings = Settings()
    settings.studio.retries = retries
    settings.tts.engine = "fake-tts"
    engine = SlowEngine(delay=delay)
    engines = tts if tts is not None else [FakeTTS()]
    studio = StudioService(lib, engine, template_store(paths), settings, tts_engines=lambda: engines)
    return World(lib, nb.id, src.id, engine, studio, settings, engines)
