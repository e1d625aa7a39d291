"""The plugin API facade (version 1): the only module plugins may import.

A plugin's ``register(api)`` receives a :class:`PluginApi` and adds its contributions through it:
source loaders, exporters, text-to-speech engines, prompt templates and actions. Everything a plugin
registers is recorded under its id, so disabling the plugin (or a failure in ``register``) removes it
all again. Built-in loaders, the Markdown exporter and the espeak-ng engine register through this same
facade (``extensions/builtins.py``), so the API is exercised by the app itself.

Version 1 may grow (new methods, new re-exported names); nothing in it is removed or changed
incompatibly without a new API version. Plugins get no Qt objects.
"""

from __future__ import annotations

import logging
import os
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from notebooklm_local import __version__ as APP_VERSION
from notebooklm_local.core.documents import Block, LoadedDocument, SourceLoader, SourceRef, normalize_text
from notebooklm_local.core.errors import Cancelled, NotebookError, SourceLoadError, TemplateError
from notebooklm_local.core.exporters import Exporter, ExportSource
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.note_export import (
    ExportError,
    ExportExists,
    _write_all,
    render_markdown,
    safe_filename,
    yaml_quote,
)
from notebooklm_local.core.notes import Note
from notebooklm_local.core.templates import PromptTemplate, parse_template
from notebooklm_local.core.tts import TTSEngine, TTSError, TTSUnavailable, Voice, parse_wav
from notebooklm_local.extensions.points import Registry
from notebooklm_local.services.loaders.files import read_file_bytes
from notebooklm_local.services.tts.process import run_process

__all__ = [
    "API_VERSION",
    "APP_VERSION",
    "SUPPORTED_API_VERSIONS",
    "NOTIFY_LEVELS",
    "PluginApi",
    "PluginSettings",
    "Action",
    "ActionContext",
    # sources
    "Block",
    "LoadedDocument",
    "SourceLoader",
    "SourceRef",
    "normalize_text",
    "read_file_bytes",
    "FileLoader",
    # export
    "Exporter",
    "ExportSource",
    "ExportError",
    "ExportExists",
    "Note",
    "render_markdown",
    "safe_filename",
    "yaml_quote",
    "write_files",
    # speech
    "TTSEngine",
    "TTSError",
    "TTSUnavailable",
    "Voice",
    "parse_wav",
    "run_process",
    # templates
    "PromptTemplate",
    # jobs and errors
    "CancelToken",
    "Cancelled",
    "NotebookError",
    "SourceLoadError",
    "TemplateError",
]

API_VERSION = "1"
SUPPORTED_API_VERSIONS = frozenset({"1"})
NOTIFY_LEVELS = ("info", "warning", "error")

Notifier = Callable[[str, str, str], None]  # (plugin id, level, message)


def write_files(files: Mapping[Path, str], *, force: bool = False) -> None:
    """Write text files (UTF-8) all or nothing, the way the notes export does.

    Every destination is checked first: when one exists and ``force`` is false, ``ExportExists`` is
    raised and nothing is written. Files go to temporary names first and are renamed into place at the
    end; folders are created as needed (and removed again when the export fails).
    """
    _write_all(files, force=force)


class FileLoader:
    """A base for loaders of one kind of file: set ``name``, ``extensions`` (lower case, with the dot) and
    ``max_bytes``, and implement :meth:`parse`. Reading the file (missing, unreadable, too large: clear
    errors) and the first cancellation check are done here. Long work can report progress with
    ``cancel.report(done, total, message)`` (shown in the sources pane; a no-op where nobody listens).

    Example::

        class NoteLoader(FileLoader):
            name, extensions = "note", (".note",)

            def parse(self, data, filename, cancel):
                return LoadedDocument.from_blocks("note", filename, [Block(data.decode())])
    """

    name: str = ""
    extensions: tuple[str, ...] = ()
    max_bytes: int = 200_000_000

    def can_load(self, ref: SourceRef) -> bool:
        return ref.path is not None and ref.path.suffix.lower() in self.extensions

    def load(self, ref: SourceRef, cancel: CancelToken) -> LoadedDocument:
        if ref.path is None:
            raise SourceLoadError(f"The {self.name} loader reads files; {ref.display} is not one.")
        data = read_file_bytes(ref.path, self.max_bytes)
        cancel.raise_if_set()
        return self.parse(data, ref.path.name, cancel)

    def parse(self, data: bytes, filename: str, cancel: CancelToken) -> LoadedDocument:
        raise NotImplementedError


@dataclass
class ActionContext:
    """What an action's callable receives: where the user was when they ran it."""

    notebook_id: str = ""
    notebook_name: str = ""
    source_ids: list[str] = field(default_factory=list)  # the selected sources
    note_ids: list[str] = field(default_factory=list)  # the selected notes
    cancel: CancelToken = field(default_factory=CancelToken)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    """A menu item a plugin offers: ``run(context)`` is called on a worker thread, never the GUI thread.

    Whatever ``run`` returns that is a string is shown to the user as a notice; exceptions are caught
    and shown as a failure of the plugin.
    """

    id: str
    label: str
    run: Callable[[ActionContext], Any]
    description: str = ""
    plugin_id: str = ""

    @property
    def key(self) -> str:
        return f"{self.plugin_id}:{self.id}"


class PluginSettings(dict):
    """A plugin's own settings: a dict of TOML-compatible values; ``save()`` writes it (atomically)."""

    def __init__(self, path: Path | None, values: Mapping[str, Any] | None = None) -> None:
        super().__init__(values or {})
        self.path = path

    @classmethod
    def load(cls, path: Path | None) -> PluginSettings:
        """The settings stored at ``path`` ({} when there are none, or they are unreadable: logged)."""
        if path is None:
            return cls(None)
        try:
            return cls(path, tomllib.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return cls(path)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            logging.getLogger(__name__).warning("plugin settings %s unreadable (%s); using defaults", path, e)
            return cls(path)

    def save(self) -> None:
        if self.path is None:
            raise NotebookError("These plugin settings are not stored anywhere.")
        try:
            data = tomli_w.dumps(dict(self))
        except (TypeError, ValueError) as e:
            raise NotebookError(f"Plugin settings must be TOML values (text, numbers, lists, tables): {e}") from e
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}-", suffix=".toml", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _default_notifier(plugin_id: str, level: str, message: str) -> None:
    logging.getLogger(f"notebooklm_local.plugins.{plugin_id}").log(
        {"warning": logging.WARNING, "error": logging.ERROR}.get(level, logging.INFO), "%s", message)


class PluginApi:
    """What a plugin's ``register(api)`` receives.

    Attributes:
        plugin_id: the plugin's id (from its manifest).
        log: a logger named ``notebooklm_local.plugins.<id>``.
        settings: the plugin's own settings (a dict; ``api.settings.save()`` stores changes).
        data_dir: ``<data>/plugin-data/<id>``, created on first use: the plugin's place for files.
    """

    api_version = API_VERSION
    app_version = APP_VERSION

    def __init__(self, registry: Registry, plugin_id: str, *, data_dir: Path | None = None,
                 settings: PluginSettings | None = None, notify: Notifier | None = None,
                 builtin_templates: Callable[[str], bool] | None = None) -> None:
        self._registry = registry
        self.plugin_id = plugin_id
        self.log = logging.getLogger(f"notebooklm_local.plugins.{plugin_id}")
        self.settings = settings if settings is not None else PluginSettings(None)
        self._data_dir = data_dir
        self._notify = notify or _default_notifier
        self._is_builtin_template = builtin_templates or (lambda _name: False)

    # -- where things go -----------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        if self._data_dir is None:
            from notebooklm_local.core.paths import app_paths

            self._data_dir = app_paths().data / "plugin-data" / self.plugin_id
        self._data_dir.mkdir(parents=True, exist_ok=True)
        return self._data_dir

    def notify(self, message: str, level: str = "info") -> None:
        """Tell the user something (status bar / stderr). ``level``: info, warning or error."""
        if level not in NOTIFY_LEVELS:
            raise ValueError(f"notify level must be one of {', '.join(NOTIFY_LEVELS)}, not {level!r}")
        self._notify(self.plugin_id, level, " ".join(str(message).split())[:500])

    # -- contributions ---------------------------------------------------------------------------
    def register_source_loader(self, loader: SourceLoader) -> None:
        """Add a source loader (checked against the SourceLoader protocol)."""
        if not isinstance(loader, SourceLoader):
            raise TypeError(f"{loader!r} does not implement SourceLoader (name, extensions, can_load, load)")
        exts = tuple(loader.extensions)
        bad = [e for e in exts if not (isinstance(e, str) and e.startswith(".") and e == e.lower())]
        if bad:
            raise ValueError(f"loader {loader.name!r}: extensions must be lower-case and start with '.', not {bad}")
        self._registry.source_loaders.register(self.plugin_id, loader)

    def register_exporter(self, exporter: Exporter) -> None:
        """Add an exporter (checked against the Exporter protocol; names are unique)."""
        if not isinstance(exporter, Exporter) or not isinstance(getattr(exporter, "name", None), str):
            raise TypeError(f"{exporter!r} does not implement Exporter (name, description, export)")
        if not exporter.name.strip():
            raise ValueError("an exporter needs a name")
        taken = {e.name.casefold(): owner for owner, e in self._registry.exporters.owned()}
        if exporter.name.casefold() in taken:
            raise ValueError(f"an exporter named {exporter.name!r} is already registered (by {taken[exporter.name.casefold()]})")
        self._registry.exporters.register(self.plugin_id, exporter)

    def register_tts_engine(self, engine: TTSEngine) -> None:
        """Add a text-to-speech engine (checked against the TTSEngine protocol; names are unique)."""
        if not isinstance(engine, TTSEngine) or not isinstance(getattr(engine, "name", None), str):
            raise TypeError(f"{engine!r} does not implement TTSEngine "
                            "(name, unavailable_reason, voices, default_voices, synthesize)")
        taken = {e.name.casefold(): owner for owner, e in self._registry.tts_engines.owned()}
        if engine.name.casefold() in taken:
            raise ValueError(f"a TTS engine named {engine.name!r} is already registered (by {taken[engine.name.casefold()]})")
        self._registry.tts_engines.register(self.plugin_id, engine)

    def register_prompt_template(self, text: str) -> PromptTemplate:
        """Add a prompt template from the text of a template file (validated like a user's edit).

        Raises:
            TemplateError: the template does not parse or render, or its name is taken.
        """
        tpl = parse_template(text, origin=f"plugin:{self.plugin_id}")
        tpl.preview()
        if self._is_builtin_template(tpl.name):
            raise TemplateError(f"a built-in template is named '{tpl.name}'; plugin templates need their own names")
        for owner, other in self._registry.prompt_templates.owned():
            if other.name == tpl.name:
                raise TemplateError(f"a template named '{tpl.name}' is already registered (by {owner})")
        self._registry.prompt_templates.register(self.plugin_id, tpl)
        return tpl

    def register_action(self, id: str, label: str, run: Callable[[ActionContext], Any], *,  # noqa: A002 - plugin API keyword
                        description: str = "") -> Action:
        """Add an action: a menu item whose ``run(context)`` the app calls on a worker thread."""
        if not isinstance(id, str) or not id.strip() or not isinstance(label, str) or not label.strip():
            raise ValueError("an action needs an id and a label")
        if not callable(run):
            raise TypeError(f"action {id!r}: run must be callable")
        action = Action(id.strip(), " ".join(label.split()), run, description, self.plugin_id)
        if any(a.key == action.key for a in self._registry.actions):
            raise ValueError(f"action {id!r} is already registered")
        self._registry.actions.register(self.plugin_id, action)
        return action
