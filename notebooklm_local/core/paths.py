"""Where notebooklm-local keeps its files.

Everything lives under four roots (config, data, cache, logs) taken from platformdirs, or under one
base directory when ``NOTEBOOKLM_LOCAL_HOME`` (or ``--basedir``) is given. Tests always set the
override; a guard refuses to fall back to the real user directories while pytest runs.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from notebooklm_local import APP_NAME

__all__ = ["AppPaths", "HOME_ENV", "app_paths", "resources_dir", "bundled_plugins_dir"]

HOME_ENV = "NOTEBOOKLM_LOCAL_HOME"
_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class AppPaths:
    """The directories of one installation (or one test)."""

    config: Path
    data: Path
    cache: Path
    logs: Path

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.toml"

    @property
    def lock_file(self) -> Path:
        return self.data / ".lock"

    @property
    def models(self) -> Path:
        return self.data / "models"

    @property
    def notebooks(self) -> Path:
        return self.data / "notebooks"

    @property
    def index(self) -> Path:
        return self.data / "index"

    @property
    def templates(self) -> Path:
        return self.data / "templates"

    @property
    def plugins(self) -> Path:
        return self.data / "plugins"

    @property
    def log_file(self) -> Path:
        return self.logs / f"{APP_NAME}.log"

    def ensure(self) -> AppPaths:
        """Create the directories (mode 0o700) and mark the cache dir; return self."""
        for d in (self.config, self.data, self.cache, self.logs, self.models):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
        tag = self.cache / "CACHEDIR.TAG"
        if not tag.exists():
            tag.write_text(
                "Signature: 8a477f597d28d172789f06886806bc55\n"
                f"# This file is a cache directory tag created by {APP_NAME}.\n",
                encoding="utf-8",
            )
        return self


def app_paths(basedir: str | os.PathLike[str] | None = None) -> AppPaths:
    """Return the application's directories.

    Args:
        basedir: explicit base directory (``--basedir``); else ``$NOTEBOOKLM_LOCAL_HOME``; else the
            platform's standard user directories.
    """
    base = basedir if basedir is not None else os.environ.get(HOME_ENV) or None
    if base is not None:
        root = Path(base).expanduser().resolve()
        return AppPaths(root / "config", root / "data", root / "cache", root / "logs")
    if "PYTEST_CURRENT_TEST" in os.environ:
        # qutebrowser's guard: a test that forgot the override must not touch the real home.
        raise AssertionError(f"tests must set {HOME_ENV}; refusing to use the user's real directories")
    import platformdirs

    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    return AppPaths(
        Path(dirs.user_config_dir),
        Path(dirs.user_data_dir),
        Path(dirs.user_cache_dir),
        Path(dirs.user_log_dir),
    )


def _first_existing(*candidates: Path) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[-1]


def resources_dir() -> Path:
    """The ``resources/`` folder: PyInstaller bundle, installed wheel, or source checkout."""
    meipass = getattr(sys, "_MEIPASS", None)
    candidates = [Path(meipass) / "resources"] if meipass else []
    candidates += [_PACKAGE_DIR / "_resources", _PACKAGE_DIR.parent / "resources"]
    return _first_existing(*candidates)


def bundled_plugins_dir() -> Path:
    """The bundled ``plugins/`` folder, resolved like :func:`resources_dir`."""
    meipass = getattr(sys, "_MEIPASS", None)
    candidates = [Path(meipass) / "plugins"] if meipass else []
    candidates += [_PACKAGE_DIR / "_plugins", _PACKAGE_DIR.parent / "plugins"]
    return _first_existing(*candidates)
