"""Run an external program for text-to-speech (a synthesizer, an encoder): input on stdin, a bounded
timeout, and the child killed at once on cancel. The one way the TTS modules and plugins run programs."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence

from notebooklm_local.core.errors import Cancelled
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.tts import TTSError

__all__ = ["run_process"]

_POLL_S = 0.05  # how often a waiting call looks at the cancel token


def run_process(cmd: Sequence[str], *, input: bytes = b"",  # noqa: A002 - subprocess's own name for it
                timeout: float, cancel: CancelToken | None = None, what: str = "") -> tuple[int, bytes, bytes]:
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
