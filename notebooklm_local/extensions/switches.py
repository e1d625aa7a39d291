"""Process-wide plugin switches: safe mode (no plugins) and strict mode (plugin failures re-raise).

A module of its own, without imports, so that the CLI can set the ``--safe-mode`` flag for every
command at no import cost.
"""

from __future__ import annotations

import os

__all__ = ["NO_PLUGINS_ENV", "STRICT_ENV", "safe_mode_reason", "set_safe_mode", "strict_mode"]

NO_PLUGINS_ENV = "NOTEBOOKLM_LOCAL_NO_PLUGINS"
STRICT_ENV = "NOTEBOOKLM_LOCAL_STRICT_PLUGINS"

_safe_mode_flag = False


def set_safe_mode(on: bool) -> None:
    """The ``--safe-mode`` flag, for the whole process (the CLI sets it from each command's arguments)."""
    global _safe_mode_flag
    _safe_mode_flag = bool(on)


def _env_on(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def safe_mode_reason(explicit: bool | None = None) -> str:
    """Why plugins are not loaded: '--safe-mode', 'NOTEBOOKLM_LOCAL_NO_PLUGINS=1', or '' (they are).

    ``explicit``: True/False from the caller, or None for the process-wide flag.
    """
    if explicit or (explicit is None and _safe_mode_flag):
        return "--safe-mode"
    if _env_on(NO_PLUGINS_ENV):
        return f"{NO_PLUGINS_ENV}={os.environ[NO_PLUGINS_ENV]}"
    return ""


def strict_mode() -> bool:
    """``NOTEBOOKLM_LOCAL_STRICT_PLUGINS=1``: plugin failures re-raise (for plugin developers)."""
    return _env_on(STRICT_ENV)
