"""Text-to-speech engines and dialogue rendering (podcast audio). GUI-free.

``espeak.EspeakEngine`` is the built-in engine; ``render.render_dialogue`` speaks a script into a
WAV/MP3/OGG file. This package module also holds ``run_process``, the one way these modules run an
external program: input on stdin, a bounded timeout, and the child killed at once on cancel.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from notebooklm_local.core.errors import Cancelled
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.tts import TTSError

if TYPE_CHECKING:
    from notebooklm_local.services.tts.espeak import EspeakEngine
    from notebooklm_local.services.tts.render import available_formats, render_dialogue

__all__ = ["EspeakEngine", "available_formats", "render_dialogue", "run_process"]

_POLL_S = 0.05  # how often a waiting call looks at the cancel token


def run_process(cmd: Sequence[str], *, input: bytes = b"", timeout: float, cancel: CancelToken | None = None,
                what: str = "") -> tuple[int, bytes, bytes]:
    """Run ``cmd`` with ``input`` on stdin; (return code, stdout, stderr).

    The child is killed (and reaped) when ``cancel`` is set, when ``timeout`` seconds pass, or when
    anything else interrupts the wait, so no half-finished encoder or synthesizer outlives a render.

    Raises:
        Cancelled: ``cancel`` was set.
        TTSError: the program could not be started, or ran past ``timeout``.
    """
    what = what or cmd[0]
    if cancel is not None:
        cancel.raise_if_set()
    try:
        proc = subprocess.Popen(list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise TTSError(f"Could not run {what} ({cmd[0]}): {e.strerror or e}") from e
    deadline = time.monotonic() + timeout
    pending: bytes | None = input
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            try:
                # communicate() keeps feeding the rest of the input when called again after a timeout
                out, err = proc.communicate(pending, timeout=_POLL_S)
                return proc.returncode, out, err
            except subprocess.TimeoutExpired:
                pending = None
                if time.monotonic() > deadline:
                    raise TTSError(f"{what} did not finish within {timeout:.0f} s and was stopped.") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            try:
                proc.communicate(timeout=5)
            except (subprocess.TimeoutExpired, OSError, ValueError):
                pass


def __getattr__(name: str) -> Any:
    # lazy re-exports: importing the package (for run_process) must not import its submodules,
    # which import this module back
    if name == "EspeakEngine":
        from notebooklm_local.services.tts.espeak import EspeakEngine

        return EspeakEngine
    if name in ("render_dialogue", "available_formats"):
        from notebooklm_local.services.tts import render

        return getattr(render, name)
    raise AttributeError(name)
