"""The plugin manager: discovery, manifests, enable/disable, contained loading.

Plugins are folders with a ``plugin.toml`` manifest and an entry module (``__init__.py``) that defines
``register(api)``. They are found in two roots: the bundled ``plugins/`` folder (next to ``resources/``,
also in a PyInstaller bundle: ``core.paths.bundled_plugins_dir``) and the user's ``<data>/plugins/``.

* **Discovery** reads manifests only; no plugin code runs. So the Plugins dialog and ``plugins list``
  can show broken, disabled and incompatible plugins safely.
* **States** (:class:`PluginState`): DISCOVERED (found, not loaded: safe mode), INCOMPATIBLE (wrong
  API version or too old an app), LOADED (imported, ``register`` not yet called), ENABLED (registered),
  ERROR (bad manifest, duplicate id, import or ``register`` failed), DISABLED (switched off by the user,
  or off by default and not switched on).
* **Loading** imports the entry file with ``importlib.util.spec_from_file_location`` as
  ``notebooklm_local_plugins.<id>`` (no ``sys.path`` change) and calls ``register(api)`` with a
  :class:`~notebooklm_local.extensions.api.PluginApi`. Any exception marks the plugin ERROR (the
  traceback is logged under ``notebooklm_local.plugins.<id>``, the user gets a one-line reason) and
  whatever it registered is removed again. ``NOTEBOOKLM_LOCAL_STRICT_PLUGINS=1`` re-raises instead.
* **Safe mode** (``--safe-mode``, ``NOTEBOOKLM_LOCAL_NO_PLUGINS=1``) loads no plugin at all.
* **Enable/disable** persist in settings (``disabled_plugins``); plugins whose manifest says
  ``enabled_by_default = false`` are off until switched on (remembered in ``<config>/plugins.toml``).
"""

from __future__ import annotations

import enum
import importlib.util
import logging
import os
import re
import stat
import sys
import threading
import tomllib
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from notebooklm_local import __version__
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.paths import AppPaths, bundled_plugins_dir, resources_dir
from notebooklm_local.core.settings import Settings, save_settings
from notebooklm_local.core.templates import PromptTemplate
from notebooklm_local.extensions import builtins
from notebooklm_local.extensions.api import (
    SUPPORTED_API_VERSIONS,
    Action,
    ActionContext,
    PluginApi,
    PluginSettings,
)
from notebooklm_local.extensions.containment import (
    ContainedExporter,
    ContainedLoader,
    ContainedTTSEngine,
    describe,
    run_contained,
)
from notebooklm_local.extensions.points import Registry
from notebooklm_local.extensions.switches import (
    NO_PLUGINS_ENV,
    STRICT_ENV,
    safe_mode_reason,
    set_safe_mode,
    strict_mode,
)

__all__ = [
    "MANIFEST_NAME",
    "MODULE_PREFIX",
    "NO_PLUGINS_ENV",
    "STRICT_ENV",
    "Manifest",
    "ManifestError",
    "PluginInfo",
    "PluginManager",
    "PluginState",
    "module_name",
    "parse_manifest",
    "parse_manifest_text",
    "safe_mode_reason",
    "set_safe_mode",
    "strict_mode",
]

log = logging.getLogger(__name__)

MANIFEST_NAME = "plugin.toml"
MODULE_PREFIX = "notebooklm_local_plugins"
MAX_MANIFEST_BYTES = 64 * 1024
MAX_DESCRIPTION_CHARS = 1000
MAX_RUNTIME_ERRORS = 20  # failures kept per plugin (the newest)
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_VERSION = re.compile(r"\d+(?:\.\d+){0,3}")
_RESERVED_IDS = {builtins.BUILTIN_ID, "app", "core", "notebooklm-local", "notebooklm_local"}
_SKIPPED_FILES = {".md", ".txt", ".rst", ".json", ".toml", ".pyc"}


def module_name(plugin_id: str) -> str:
    """The module a plugin is imported as: ``notebooklm_local_plugins.<id with - as _>``."""
    return f"{MODULE_PREFIX}.{plugin_id.replace('-', '_')}"


# ---------------------------------------------------------------------------------------------
# Manifests


class ManifestError(NotebookError):
    """A plugin.toml that is missing, unreadable or invalid (the message says what to fix)."""


class PluginState(enum.Enum):
    DISCOVERED = "discovered"
    INCOMPATIBLE = "incompatible"
    LOADED = "loaded"
    ENABLED = "enabled"
    ERROR = "error"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Manifest:
    """A parsed, validated ``plugin.toml``."""

    id: str
    name: str
    version: str
    api: tuple[str, ...]
    description: str = ""
    min_app_version: str = ""
    entry: str = "__init__.py"
    enabled_by_default: bool = True
    author: str = ""
    homepage: str = ""
    folder: Path = Path()

    @property
    def entry_path(self) -> Path:
        return self.folder / self.entry


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def parse_manifest_text(text: str, folder: Path = Path()) -> Manifest:
    """Validate a manifest's text. Raises ManifestError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ManifestError(f"{MANIFEST_NAME} is not valid TOML: {e}") from None
    problems: list[str] = []

    def text_field(key: str, *, required: bool, limit: int) -> str:
        v = data.get(key)
        if v is None:
            if required:
                problems.append(f"'{key}' is missing")
            return ""
        if not isinstance(v, str):
            problems.append(f"'{key}' must be text (in quotes), not {type(v).__name__} {v!r}"[:200])
            return ""
        v = " ".join(v.split())
        if required and not v:
            problems.append(f"'{key}' is empty")
        if len(v) > limit:
            problems.append(f"'{key}' is longer than {limit} characters")
        return v

    pid = text_field("id", required=True, limit=64)
    if pid and not _ID.fullmatch(pid):
        problems.append(f"'id' {pid!r} may only use a-z, 0-9, '-' and '_' (and start with a letter or digit)")
    elif pid in _RESERVED_IDS:
        problems.append(f"'id' {pid!r} is reserved")
    name = text_field("name", required=True, limit=100)
    version = text_field("version", required=True, limit=64)
    description = text_field("description", required=False, limit=1_000_000)
    if len(description) > MAX_DESCRIPTION_CHARS:
        description = description[: MAX_DESCRIPTION_CHARS - 1] + "\u2026"
    min_app = text_field("min_app_version", required=False, limit=32)
    if min_app and not _VERSION.fullmatch(min_app):
        problems.append(f"'min_app_version' {min_app!r} must look like \"0.3\" or \"1.2.0\"")
    author = text_field("author", required=False, limit=200)
    homepage = text_field("homepage", required=False, limit=500)
    entry = text_field("entry", required=False, limit=200) or "__init__.py"
    parts = re.split(r"[\\/]", entry)
    if not entry.endswith(".py") or entry.startswith(("/", "\\")) or ".." in parts or ":" in entry:
        problems.append(f"'entry' {entry!r} must be a .py file inside the plugin folder")
    api = data.get("api")
    apis: tuple[str, ...] = ()
    if api is None:
        problems.append("'api' is missing (the plugin API versions it supports, e.g. api = [\"1\"])")
    elif not isinstance(api, list) or not api or not all(isinstance(a, str) and a.strip() for a in api):
        problems.append(f"'api' must be a list of API versions in quotes, e.g. api = [\"1\"] (got {api!r})"[:200])
    elif len(api) > 16:
        problems.append("'api' lists more than 16 versions")
    else:
        apis = tuple(a.strip() for a in api)
    enabled = data.get("enabled_by_default", True)
    if not isinstance(enabled, bool):
        problems.append("'enabled_by_default' must be true or false")
        enabled = True
    if problems:
        raise ManifestError(f"invalid {MANIFEST_NAME}: " + "; ".join(problems))
    return Manifest(pid, name, version, apis, description, min_app, entry, enabled, author, homepage, folder)


def parse_manifest(folder: Path) -> Manifest:
    """Read and validate ``folder/plugin.toml`` (at most 64 KiB; no plugin code runs)."""
    path = folder / MANIFEST_NAME
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ManifestError(f"{MANIFEST_NAME} is not a file")
        if st.st_size > MAX_MANIFEST_BYTES:
            raise ManifestError(f"{MANIFEST_NAME} is {st.st_size:,} bytes; a manifest may have at most "
                                f"{MAX_MANIFEST_BYTES // 1024} KiB")
        with open(path, "rb") as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise ManifestError(f"no {MANIFEST_NAME} in the folder (a plugin is a folder with {MANIFEST_NAME} "
                            "and __init__.py)") from None
    except OSError as e:
        raise ManifestError(f"cannot read {MANIFEST_NAME}: {e.strerror or e}") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{MANIFEST_NAME} is larger than {MAX_MANIFEST_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ManifestError(f"{MANIFEST_NAME} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    return parse_manifest_text(text, folder)


# ---------------------------------------------------------------------------------------------
# What the manager knows about each plugin


@dataclass
class PluginInfo:
    """One plugin folder as the manager sees it (what the Plugins dialog and ``plugins list`` show)."""

    id: str  # the manifest's id (the folder name when the manifest is unusable)
    path: Path  # the plugin's folder
    source: str  # "bundled" or "user"
    state: PluginState = PluginState.DISCOVERED
    reason: str = ""  # one line for the user: why it is not enabled (or its last failure)
    manifest: Manifest | None = None
    traceback: str = ""  # of the import/register failure (for "Details" / "Copy debug info")
    contributions: dict[str, list[str]] = field(default_factory=dict)  # extension point -> item names
    runtime_errors: list[str] = field(default_factory=list)  # failures of its loaders/exporters/... since load
    module: types.ModuleType | None = field(default=None, repr=False)
    counts: bool = True  # False for a refused duplicate: it never loads

    @property
    def name(self) -> str:
        return self.manifest.name if self.manifest else self.path.name

    @property
    def version(self) -> str:
        return self.manifest.version if self.manifest else ""

    @property
    def description(self) -> str:
        return self.manifest.description if self.manifest else ""

    @property
    def api(self) -> tuple[str, ...]:
        return self.manifest.api if self.manifest else ()

    @property
    def can_toggle(self) -> bool:
        """Whether enable/disable means anything (a manifest is readable and it is not a refused duplicate)."""
        return self.manifest is not None and self.counts

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "version": self.version, "state": self.state.value,
            "source": self.source, "path": str(self.path), "reason": self.reason, "api": list(self.api),
            "description": self.description,
            "min_app_version": self.manifest.min_app_version if self.manifest else "",
            "enabled_by_default": self.manifest.enabled_by_default if self.manifest else True,
            "contributions": self.contributions, "runtime_errors": list(self.runtime_errors),
            "error_details": self.traceback,
        }


def _is_broken_link(p: Path) -> bool:
    return p.is_symlink() and not p.exists()


# ---------------------------------------------------------------------------------------------
# The manager


class PluginManager:
    """Finds, loads, enables and disables plugins for one app instance; owns the extension registry.

    Typical use (``extensions.runtime.load_plugins`` does this)::

        manager = PluginManager(paths, settings, safe_mode=args.safe_mode)
        manager.load_all()           # built-ins, then every enabled, compatible plugin
        manager.registry             # what open_library / open_studio use
        manager.plugins()            # PluginInfo for the Plugins dialog
    """

    def __init__(
        self, paths: AppPaths, settings: Settings, *, safe_mode: bool | None = None,
        bundled_dir: Path | None = None, user_dir: Path | None = None, persist: bool = True,
        notify: Callable[[str, str, str], None] | None = None,
    ) -> None:
        """
        Args:
            safe_mode: True/False, or None: the process-wide ``--safe-mode`` flag / ``$NOTEBOOKLM_LOCAL_NO_PLUGINS``.
            bundled_dir, user_dir: the two roots (default: the bundled ``plugins/`` and ``<data>/plugins``).
            persist: whether enable/disable write the settings file (off for throw-away managers in tests).
            notify: ``(plugin id, level, message)`` for ``api.notify`` (default: logged and kept in ``notices``).
        """
        self.paths = paths
        self.settings = settings
        self.safe_mode = safe_mode_reason(safe_mode)  # '' when plugins load
        self.strict = strict_mode()
        self.roots = [(bundled_dir if bundled_dir is not None else bundled_plugins_dir(), "bundled"),
                      (user_dir if user_dir is not None else paths.plugins, "user")]
        self.persist = persist
        self.registry = Registry()
        self.notices: list[str] = []  # start-up notices and plugins' notify() messages, for the UI
        self._notify_hook = notify
        self._infos: list[PluginInfo] = []
        self._lock = threading.RLock()
        self._builtins_loaded = False

    # -- state files ---------------------------------------------------------------------------
    @property
    def optins_file(self) -> Path:
        """Plugins that are off by default and that the user switched on."""
        return self.paths.config / "plugins.toml"

    def optins(self) -> set[str]:
        try:
            data = tomllib.loads(self.optins_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return set()
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            log.warning("%s unreadable (%s); default-off plugins stay off", self.optins_file, e)
            return set()
        enabled = data.get("enabled", [])
        return {e for e in enabled if isinstance(e, str)} if isinstance(enabled, list) else set()

    def _save_optins(self, ids: set[str]) -> None:
        if not self.persist:
            return
        self.optins_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.optins_file.with_name(f".{self.optins_file.name}.tmp")
        tmp.write_text("# plugins that are off by default and were switched on (notebooklm-local plugins enable)\n"
                       + tomli_w.dumps({"enabled": sorted(ids)}), encoding="utf-8")
        os.replace(tmp, self.optins_file)

    def settings_file(self, plugin_id: str) -> Path:
        """Where a plugin's own settings (``api.settings``) are kept."""
        return self.paths.config / "plugin-settings" / f"{plugin_id}.toml"

    def data_dir(self, plugin_id: str) -> Path:
        return self.paths.data / "plugin-data" / plugin_id

    def wants_enabled(self, manifest: Manifest) -> bool:
        """The user's choice (settings), or the manifest's default."""
        if manifest.id in self.settings.disabled_plugins:
            return False
        return manifest.enabled_by_default or manifest.id in self.optins()

    # -- discovery -----------------------------------------------------------------------------
    def _entries(self, root: Path) -> Iterator[Path]:
        try:
            names = sorted(os.listdir(root))
        except FileNotFoundError:
            return
        except OSError as e:
            log.warning("cannot list plugins in %s: %s", root, e.strerror or e)
            self.notices.append(f"Cannot list the plugins in {root}: {e.strerror or e}")
            return
        for n in names:
            if n.startswith((".", "_")):
                continue  # hidden files, __pycache__
            yield root / n

    def discover(self) -> list[PluginInfo]:
        """Read every manifest in both roots (no code runs); duplicates are refused. Replaces the list."""
        infos: list[PluginInfo] = []
        seen: dict[str, PluginInfo] = {}
        for root, source in self.roots:
            for p in self._entries(root):
                info = PluginInfo(id=p.name, path=p, source=source)
                if _is_broken_link(p):
                    info.state, info.reason = PluginState.ERROR, "a broken link (its target does not exist)"
                elif not p.is_dir():
                    if p.suffix.lower() in _SKIPPED_FILES:
                        continue  # README.md and the like next to the plugins
                    info.state = PluginState.ERROR
                    info.reason = (f"'{p.name}' is a file, not a plugin folder (a plugin is a folder with "
                                   f"{MANIFEST_NAME} and __init__.py; unpack archives first)")
                else:
                    try:
                        info.manifest = parse_manifest(p)
                        info.id = info.manifest.id
                    except ManifestError as e:
                        info.state, info.reason = PluginState.ERROR, str(e)
                if info.manifest is not None:
                    key = info.id.replace("-", "_")
                    first = seen.get(key)
                    if first is not None:
                        info.counts = False
                        info.state = PluginState.ERROR
                        info.reason = (f"duplicate plugin id '{info.id}': the {first.source} plugin in {first.path} "
                                       "already uses it; this one is not loaded")
                    else:
                        seen[key] = info
                        self._classify(info)
                if info.state is PluginState.ERROR:
                    log.warning("plugin %s (%s): %s", info.id, info.path, info.reason)
                infos.append(info)
        with self._lock:
            self._infos = infos
        return list(infos)

    def _classify(self, info: PluginInfo) -> None:
        """DISCOVERED, INCOMPATIBLE or DISABLED from the manifest and settings (before any loading)."""
        m = info.manifest
        assert m is not None
        if not set(m.api) & SUPPORTED_API_VERSIONS:
            info.state = PluginState.INCOMPATIBLE
            info.reason = (f"needs plugin API {', '.join(m.api)}; this notebooklm-local supports "
                           f"{', '.join(sorted(SUPPORTED_API_VERSIONS))}")
        elif m.min_app_version and _version_tuple(__version__.split("+")[0].split("-")[0]) < _version_tuple(
                m.min_app_version):
            info.state = PluginState.INCOMPATIBLE
            info.reason = f"needs notebooklm-local {m.min_app_version} or newer (this is {__version__})"
        elif not m.entry_path.is_file():
            info.state, info.reason = PluginState.ERROR, f"its entry file {m.entry} is missing"
        elif not self.wants_enabled(m):
            info.state = PluginState.DISABLED
            info.reason = ("off by default; enable it to use it" if not m.enabled_by_default
                           and m.id not in self.settings.disabled_plugins else "disabled")
        else:
            info.state, info.reason = PluginState.DISCOVERED, ""

    # -- loading -------------------------------------------------------------------------------
    def _notify(self, plugin_id: str, level: str, message: str) -> None:
        shown = f"{plugin_id}: {message}"
        logging.getLogger(f"notebooklm_local.plugins.{plugin_id}").log(
            {"warning": logging.WARNING, "error": logging.ERROR}.get(level, logging.INFO), "%s", message)
        with self._lock:
            self.notices.append(shown)
        if self._notify_hook is not None:
            try:
                self._notify_hook(plugin_id, level, message)
            except Exception:  # a broken UI hook must not break the plugin
                log.exception("notify hook failed")

    def _is_builtin_template(self, name: str) -> bool:
        return (resources_dir() / "templates" / f"{name}.toml").is_file()

    def api_for(self, plugin_id: str) -> PluginApi:
        """The PluginApi a plugin's ``register`` gets (also handy for testing a plugin)."""
        return PluginApi(self.registry, plugin_id, data_dir=self.data_dir(plugin_id),
                         settings=PluginSettings.load(self.settings_file(plugin_id)), notify=self._notify,
                         builtin_templates=self._is_builtin_template)

    def load_builtins(self) -> None:
        if not self._builtins_loaded:
            builtins.register(PluginApi(self.registry, builtins.BUILTIN_ID, data_dir=self.data_dir(builtins.BUILTIN_ID),
                                        notify=self._notify, builtin_templates=self._is_builtin_template))
            self._builtins_loaded = True

    def load_all(self) -> list[PluginInfo]:
        """Built-ins, then discovery, then every enabled compatible plugin (none in safe mode)."""
        self.load_builtins()
        infos = self.discover()
        if self.safe_mode:
            for info in infos:
                if info.state is PluginState.DISCOVERED:
                    info.reason = f"not loaded: safe mode ({self.safe_mode})"
            message = (f"Safe mode ({self.safe_mode}): no plugins loaded"
                       + (f" ({len(infos)} found)." if infos else "."))
            log.info("%s", message)
            self.notices.append(message)
            return infos
        for info in infos:
            if info.state is PluginState.DISCOVERED:
                self._load(info)
        failed = [i for i in infos if i.state is PluginState.ERROR]
        if failed:
            self.notices.append(f"{len(failed)} plugin{'s' if len(failed) != 1 else ''} could not be loaded: "
                                + ", ".join(f"{i.id} ({i.reason})" for i in failed))
        return infos

    def _fail(self, info: PluginInfo, stage: str, exc: BaseException) -> None:
        info.state = PluginState.ERROR
        info.reason = f"{stage} failed: {describe(exc, 240)}"
        info.traceback = "".join(traceback.format_exception(exc))
        logging.getLogger(f"notebooklm_local.plugins.{info.id}").error(
            "plugin %s (%s): %s\n%s", info.id, info.path, info.reason, info.traceback.rstrip())

    def _drop_modules(self, name: str) -> None:
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            sys.modules.pop(mod, None)

    def _load(self, info: PluginInfo) -> None:
        m = info.manifest
        assert m is not None
        name = module_name(m.id)
        if MODULE_PREFIX not in sys.modules:
            pkg = types.ModuleType(MODULE_PREFIX, "Namespace of the loaded notebooklm-local plugins.")
            pkg.__path__ = []  # a package with no folder of its own: nothing is found through it
            sys.modules[MODULE_PREFIX] = pkg
        self._drop_modules(name)  # a fresh import (another manager may have loaded an older copy)
        try:
            is_package = Path(m.entry).name == "__init__.py"
            spec = importlib.util.spec_from_file_location(
                name, m.entry_path, submodule_search_locations=[str(m.entry_path.parent)] if is_package else None)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {m.entry_path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as e:
            self._drop_modules(name)
            self._fail(info, "import", e)
            if self.strict:
                raise
            return
        info.module, info.state = module, PluginState.LOADED
        register = getattr(module, "register", None)
        if not callable(register):
            self._drop_modules(name)
            info.module = None
            info.state, info.reason = PluginState.ERROR, f"{m.entry} has no register(api) function"
            log.warning("plugin %s: %s", info.id, info.reason)
            return
        try:
            register(self.api_for(m.id))
        except (Exception, SystemExit) as e:
            self.registry.unregister_owner(m.id)
            self._drop_modules(name)
            info.module = None
            self._fail(info, "register()", e)
            if self.strict:
                raise
            return
        info.state, info.reason = PluginState.ENABLED, ""
        info.contributions = self.registry.contributions(m.id)
        log.info("plugin %s %s enabled (%s): %s", m.id, m.version, info.source,
                 "; ".join(f"{k}: {', '.join(v)}" for k, v in info.contributions.items()) or "nothing registered")

    def _unload(self, info: PluginInfo) -> None:
        module = info.module
        unregister = getattr(module, "unregister", None) if module is not None else None
        if callable(unregister):
            try:
                unregister()
            except Exception as e:  # contained: the plugin is going away anyway
                logging.getLogger(f"notebooklm_local.plugins.{info.id}").error(
                    "unregister() failed: %s", describe(e), exc_info=e)
        self.registry.unregister_owner(info.id)
        self._drop_modules(module_name(info.id))
        info.module = None
        info.contributions = {}

    # -- queries -------------------------------------------------------------------------------
    def plugins(self) -> list[PluginInfo]:
        """Every plugin folder found by the last ``discover``/``load_all``, bundled first, in folder order."""
        with self._lock:
            return list(self._infos)

    def get(self, plugin_id: str) -> PluginInfo:
        """The plugin with this id (the one that counts, for a duplicated id). Raises NotebookError."""
        with self._lock:
            infos = list(self._infos)
        matches = [i for i in infos if i.id == plugin_id]
        if not matches:
            known = ", ".join(sorted({i.id for i in infos})) or "none"
            raise NotebookError(f"No plugin with id '{plugin_id}'. Known plugins: {known}.")
        return next((i for i in matches if i.counts), matches[0])

    def errors(self) -> list[PluginInfo]:
        """The plugins in ERROR (for the one aggregated start-up dialog)."""
        return [i for i in self.plugins() if i.state is PluginState.ERROR]

    def debug_info(self) -> str:
        """One line per plugin, for "Copy debug info"."""
        lines = [f"plugins: {'safe mode (' + self.safe_mode + ')' if self.safe_mode else 'loaded'}"]
        for i in self.plugins():
            lines.append(f"  {i.id} {i.version or '?'} [{i.source}] {i.state.value}"
                         + (f": {i.reason}" if i.reason else ""))
        return "\n".join(lines)

    def record_failure(self, plugin_id: str, message: str) -> None:
        """A contained call into the plugin failed (kept for the Plugins dialog and ``plugins info``)."""
        with self._lock:
            for info in self._infos:
                if info.id == plugin_id and info.counts:
                    info.runtime_errors = [*info.runtime_errors, message][-MAX_RUNTIME_ERRORS:]

    # -- contained views of the registry ---------------------------------------------------------
    def _wrap(self, cls: type, owner: str, item: Any) -> Any:
        if owner == builtins.BUILTIN_ID:
            return item
        return cls(owner, item, strict=self.strict, on_failure=self.record_failure)

    def source_loaders(self) -> list[Any]:
        """Every source loader, plugin ones wrapped so their failures are contained."""
        return [self._wrap(ContainedLoader, o, ld) for o, ld in self.registry.source_loaders.owned()]

    def exporters(self) -> list[Any]:
        return [self._wrap(ContainedExporter, o, e) for o, e in self.registry.exporters.owned()]

    def tts_engines(self) -> list[Any]:
        return [self._wrap(ContainedTTSEngine, o, e) for o, e in self.registry.tts_engines.owned()]

    def prompt_templates(self) -> list[PromptTemplate]:
        return self.registry.prompt_templates.items()

    def actions(self) -> list[Action]:
        return self.registry.actions.items()

    def run_action(self, action: Action, context: ActionContext | None = None) -> str:
        """Run a plugin action (call this on a worker thread); its failure becomes a NotebookError."""
        ctx = context or ActionContext()
        result = run_contained(action.plugin_id, f"in action '{action.label}'", lambda: action.run(ctx),
                               strict=self.strict, on_failure=self.record_failure)
        return result if isinstance(result, str) else ""

    # -- enable / disable ------------------------------------------------------------------------
    def _save_settings(self) -> None:
        if self.persist:
            save_settings(self.settings, self.paths.settings_file)

    def enable(self, plugin_id: str) -> PluginInfo:
        """Switch a plugin on (persisted) and load it now (unless in safe mode). Returns its new state."""
        info = self.get(plugin_id)
        if not info.can_toggle:
            raise NotebookError(f"Plugin '{plugin_id}' cannot be enabled: {info.reason}")
        assert info.manifest is not None
        with self._lock:
            if plugin_id in self.settings.disabled_plugins:
                self.settings.disabled_plugins = [p for p in self.settings.disabled_plugins if p != plugin_id]
                self._save_settings()
            if not info.manifest.enabled_by_default:
                optins = self.optins()
                if plugin_id not in optins:
                    self._save_optins(optins | {plugin_id})
            if info.state in (PluginState.ENABLED, PluginState.LOADED):
                return info
            self._classify(info)
            if info.state is PluginState.DISCOVERED:
                if self.safe_mode:
                    info.reason = f"enabled; not loaded: safe mode ({self.safe_mode})"
                else:
                    info.traceback, info.runtime_errors = "", []
                    self._load(info)
            return info

    def disable(self, plugin_id: str) -> PluginInfo:
        """Switch a plugin off (persisted): its ``unregister()`` runs and its contributions go."""
        info = self.get(plugin_id)
        if not info.can_toggle:
            raise NotebookError(f"Plugin '{plugin_id}' cannot be disabled: {info.reason}")
        assert info.manifest is not None
        with self._lock:
            if plugin_id not in self.settings.disabled_plugins:
                self.settings.disabled_plugins = [*self.settings.disabled_plugins, plugin_id]
                self._save_settings()
            optins = self.optins()
            if plugin_id in optins:
                self._save_optins(optins - {plugin_id})
            if info.module is not None or info.state in (PluginState.ENABLED, PluginState.LOADED):
                self._unload(info)
            if info.state is not PluginState.INCOMPATIBLE:
                info.state, info.reason = PluginState.DISABLED, "disabled"
            return info
