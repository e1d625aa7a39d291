"""User-facing error hierarchy: ``str(exc)`` of a NotebookError is shown to the user as is."""

from __future__ import annotations

__all__ = [
    "NotebookError",
    "ConfigError",
    "DataDirLockedError",
    "ModelLoadError",
    "SourceLoadError",
    "IndexingError",
    "TemplateError",
    "StudioError",
    "Cancelled",
]


class NotebookError(Exception):
    """An error whose message is meant for the user (clear, actionable, no traceback)."""


class ConfigError(NotebookError):
    """The settings file or a setting is invalid."""


class DataDirLockedError(NotebookError):
    """Another notebooklm-local process holds the data directory."""


class ModelLoadError(NotebookError):
    """A GGUF model could not be found or loaded."""


class SourceLoadError(NotebookError):
    """A source (file, URL, transcript) could not be read."""


class IndexingError(NotebookError):
    """Chunking, embedding or storing a source failed."""


class TemplateError(NotebookError):
    """A prompt template is invalid or could not be rendered."""


class StudioError(NotebookError):
    """A summary, chain-of-density or podcast step produced no usable output (after its retries).

    ``attempts``: what the model wrote each time, with why it was rejected, as (text, reason) pairs, so
    the user can see it (marked rejected, never passed off as a result).
    """

    def __init__(self, message: str, attempts: tuple[tuple[str, str], ...] | list[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.attempts = [(str(t), str(r)) for t, r in attempts]


class Cancelled(Exception):  # the name reads as an event, like Anki's Interrupted
    """The user cancelled the operation. Never shown as an error."""
