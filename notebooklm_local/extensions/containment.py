"""Failure containment for plugin contributions: every call from the app into a plugin goes through here.

A plugin runs in the app's process, so it cannot be isolated, only contained: each wrapper catches
what a plugin's loader, exporter, TTS engine or action raises, logs the traceback under the plugin's
id, records the failure with the manager (``on_failure``) and turns it into the app's own clear error
(``SourceLoadError``, ``ExportError``, ``TTSError``, ``NotebookError``) naming the plugin, so the app
keeps going. ``Cancelled`` and the app's own errors pass through unchanged. In strict mode
(``NOTEBOOKLM_LOCAL_STRICT_PLUGINS=1``, for plugin developers) the original exception is re-raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from notebooklm_local.core.documents import LoadedDocument, SourceRef
from notebooklm_local.core.errors import Cancelled, NotebookError, SourceLoadError
from notebooklm_local.core.exporters import ExportSource
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.note_export import ExportError, safe_for_export
from notebooklm_local.core.notes import Note
from notebooklm_local.core.tts import TTSError, Voice

__all__ = ["ContainedLoader", "ContainedExporter", "ContainedTTSEngine", "describe", "run_contained"]

FailureHook = Callable[[str, str], None]  # (plugin id, one-line message)


def describe(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line, shortened: what the user is shown of a plugin's exception."""
    text = " ".join(str(exc).split())
    out = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return out if len(out) <= limit else out[: limit - 1] + "\u2026"


def _noop(_plugin_id: str, _message: str) -> None:
    pass


class _Contained:
    def __init__(self, plugin_id: str, inner: Any, *, strict: bool = False, on_failure: FailureHook | None = None) -> None:
        self.plugin_id = plugin_id
        self.inner = inner
        self.strict = strict
        self._on_failure = on_failure or _noop
        self._log = logging.getLogger(f"notebooklm_local.plugins.{plugin_id}")

    def failed(self, what: str, exc: BaseException) -> str:
        message = f"The '{self.plugin_id}' plugin failed {what}: {describe(exc)}"
        self._log.error("%s", message, exc_info=exc)
        self._on_failure(self.plugin_id, message)
        return message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.plugin_id!r}, {self.inner!r})"


def run_contained(plugin_id: str, what: str, func: Callable[[], Any], *, error: type[NotebookError] = NotebookError,
                  strict: bool = False, on_failure: FailureHook | None = None) -> Any:
    """Call ``func()``; a plugin's unexpected exception becomes ``error`` naming the plugin."""
    c = _Contained(plugin_id, func, strict=strict, on_failure=on_failure)
    try:
        return func()
    except (Cancelled, NotebookError, KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as e:  # SystemExit too: a plugin must not end the app
        message = c.failed(what, e)
        if strict:
            raise
        raise error(message) from e


class ContainedLoader(_Contained):
    """A plugin's SourceLoader: ``can_load`` errors mean "no", ``load`` errors a SourceLoadError."""

    def __init__(self, plugin_id: str, inner: Any, **kw: Any) -> None:
        super().__init__(plugin_id, inner, **kw)
        self.name = str(inner.name)
        self.extensions = tuple(inner.extensions)

    def can_load(self, ref: SourceRef) -> bool:
        try:
            return bool(self.inner.can_load(ref))
        except (KeyboardInterrupt, GeneratorExit):
            raise
        except BaseException as e:  # SystemExit too: a plugin must not end the app
            self.failed(f"in loader '{self.name}' (can_load {ref.display})", e)
            if self.strict:
                raise
            return False

    def load(self, ref: SourceRef, cancel: CancelToken) -> LoadedDocument:
        try:
            doc = self.inner.load(ref, cancel)
        except (Cancelled, NotebookError, KeyboardInterrupt, GeneratorExit):
            raise
        except BaseException as e:  # SystemExit too: a plugin must not end the app
            message = self.failed(f"to read {ref.display} (loader '{self.name}')", e)
            if self.strict:
                raise
            raise SourceLoadError(message) from e
        if not isinstance(doc, LoadedDocument):
            raise SourceLoadError(f"The '{self.plugin_id}' plugin's loader '{self.name}' returned "
                                  f"{type(doc).__name__}, not a document.")
        return doc


class ContainedExporter(_Contained):
    """A plugin's Exporter: unexpected errors become an ExportError naming the plugin."""

    def __init__(self, plugin_id: str, inner: Any, **kw: Any) -> None:
        super().__init__(plugin_id, inner, **kw)
        self.name = str(inner.name)
        self.description = str(getattr(inner, "description", "") or "")

    def export(self, notes: Sequence[Note], target: Path, *, notebook_name: str | Mapping[str, str],
               sources: Sequence[ExportSource] = (), force: bool = False) -> list[Path]:
        try:
            written = self.inner.export(safe_for_export(notes), target, notebook_name=notebook_name, sources=sources, force=force)
        except (Cancelled, NotebookError, KeyboardInterrupt, GeneratorExit):
            raise
        except BaseException as e:  # SystemExit too: a plugin must not end the app
            message = self.failed(f"to export (exporter '{self.name}')", e)
            if self.strict:
                raise
            raise ExportError(message) from e
        return [Path(p) for p in written or []]


class ContainedTTSEngine(_Contained):
    """A plugin's TTS engine: a broken ``unavailable_reason`` makes it unavailable; other errors a TTSError."""

    def __init__(self, plugin_id: str, inner: Any, **kw: Any) -> None:
        super().__init__(plugin_id, inner, **kw)
        self.name = str(inner.name)

    @property
    def max_parallel(self) -> int:
        try:
            n = int(getattr(self.inner, "max_parallel", 1))
        except Exception:  # noqa: BLE001 - a broken attribute means "one at a time"
            return 1
        return max(1, n)

    def unavailable_reason(self) -> str | None:
        try:
            reason = self.inner.unavailable_reason()
        except BaseException as e:  # SystemExit too: a plugin must not end the app
            message = self.failed(f"in TTS engine '{self.name}' (checking whether it can speak)", e)
            if self.strict:
                raise
            return message
        return None if reason is None else str(reason)

    def _call(self, what: str, func: Callable[[], Any]) -> Any:
        try:
            return func()
        except (Cancelled, NotebookError, KeyboardInterrupt, GeneratorExit):
            raise
        except BaseException as e:  # SystemExit too: a plugin must not end the app
            message = self.failed(f"in TTS engine '{self.name}' ({what})", e)
            if self.strict:
                raise
            raise TTSError(message) from e

    def voices(self, language: str = "") -> list[Voice]:
        return list(self._call("listing voices", lambda: self.inner.voices(language)))

    def default_voices(self, language: str = "") -> tuple[str, str]:
        a, b = self._call("choosing voices", lambda: self.inner.default_voices(language))
        return str(a), str(b)

    def synthesize(self, text: str, voice: str, *, rate_wpm: int = 165,
                   cancel: CancelToken | None = None) -> tuple[bytes, int]:
        pcm, rate = self._call("speaking", lambda: self.inner.synthesize(text, voice, rate_wpm=rate_wpm,
                                                                          cancel=cancel))
        return bytes(pcm), int(rate)
