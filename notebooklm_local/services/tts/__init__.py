"""Text-to-speech engines and dialogue rendering (podcast audio). GUI-free.

``espeak.EspeakEngine`` is the built-in engine; ``render.render_dialogue`` speaks a script into a
WAV/MP3/OGG file; ``process.run_process`` is the one way these modules (and TTS plugins, through the
plugin API) run an external program. Import from the submodules; the package imports none of them
except ``process`` (so no submodule imports the package back).
"""

from __future__ import annotations

from notebooklm_local.services.tts.process import run_process

__all__ = ["run_process"]
