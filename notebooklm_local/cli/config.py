"""``notebooklm-local config ...``: list, get, set and reset settings by dotted key (the Settings dialog's
counterpart).

Keys are the fields of the dataclasses in ``core/settings.py`` (``model.n_ctx``, ``chat.top_k``,
``ui.theme``, ``tts.rate_wpm``, ``output_language``). ``set`` parses the value to the field's type and runs
the Settings dialog's own checks (``core.settings_check.validate_settings``) before anything is written;
the file is written atomically (``save_settings``) under the data-dir lock, so not while the app runs.

cli/main.py registers these with ``add_config_parser(sub)``; like cli/plugins.py, this module does not import
cli/main.py.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from typing import Any

from notebooklm_local.cli.common import context, locked
from notebooklm_local.core.errors import ConfigError
from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import load_settings, save_settings
from notebooklm_local.core.settings_check import (
    default_setting,
    format_value,
    get_setting,
    parse_value,
    set_setting,
    setting_keys,
    setting_type,
    validate_settings,
)

__all__ = ["add_config_parser"]

# What a change needs before it shows. (Chat-model settings need nothing: every command loads the model
# afresh, and the app cannot be running while `config set` holds the data-dir lock.)
_NOTES = {
    "model.embedding_path": "the sources' vectors are from the old embedding model: run `notebooklm-local resume` "
                            "to embed them again",
}


def add_config_parser(sub: Any) -> None:
    """Register ``config`` and its actions on the sub-parsers object of the main parser."""
    p = sub.add_parser("config", help="list, get, set or reset settings (the Settings dialog's values)")
    ps = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)

    ls = ps.add_parser("list", help="every setting with its value (and the default where it differs)")
    ls.add_argument("section", nargs="?", metavar="SECTION", help="only keys under this section (model, chat, ...)")
    ls.add_argument("--json", action="store_true", help="machine-readable output: {key: value}")
    ls.set_defaults(func=cmd_config_list)

    g = ps.add_parser("get", help="print one setting's value")
    g.add_argument("key", metavar="KEY", help="dotted key, e.g. model.n_ctx")
    g.set_defaults(func=cmd_config_get)

    s = ps.add_parser("set", help="change one setting (checked like the Settings dialog; nothing is written "
                                  "when the value is refused)")
    s.add_argument("key", metavar="KEY", help="dotted key, e.g. chat.top_k")
    s.add_argument("value", metavar="VALUE", help="int, float, true/false, text, or a list (a,b or a JSON array)")
    s.set_defaults(func=cmd_config_set)

    r = ps.add_parser("reset", help="put one setting back to its default")
    r.add_argument("key", metavar="KEY")
    r.set_defaults(func=cmd_config_reset)


def _keys(section: str | None) -> list[str]:
    keys = setting_keys()
    if not section:
        return keys
    prefix = section.rstrip(".")
    chosen = [k for k in keys if k == prefix or k.startswith(prefix + ".")]
    if not chosen:
        sections = sorted({k.split(".")[0] for k in keys if "." in k})
        raise ConfigError(f"No settings under '{section}' (sections: {', '.join(sections)}).")
    return chosen


def cmd_config_list(args: argparse.Namespace) -> int:
    _paths, settings = context(args)
    keys = _keys(args.section)
    if args.json:
        print(json.dumps({k: get_setting(settings, k) for k in keys}, indent=2, ensure_ascii=False))
        return 0
    for k in keys:
        value, default = get_setting(settings, k), default_setting(k)
        shown = json.dumps(value, ensure_ascii=False)
        note = f"  (default {json.dumps(default, ensure_ascii=False)})" if value != default else ""
        print(f"{k} = {shown}{note}")
    return 0


def cmd_config_get(args: argparse.Namespace) -> int:
    _paths, settings = context(args)
    print(format_value(get_setting(settings, args.key)))
    return 0


def _change(paths: AppPaths, key: str, value: Any) -> tuple[Any, Any]:
    """Set ``key`` and save, under the lock, if the Settings dialog's checks allow it; (old, new) value."""
    with locked(paths):
        current = load_settings(paths.settings_file)  # again, under the lock: the file may have changed
        new = copy.deepcopy(current)
        set_setting(new, key, value)
        before = {msg for _tab, msg in validate_settings(current)}
        problems = [msg for _tab, msg in validate_settings(new) if msg not in before]
        if problems:
            raise ConfigError(f"'{key}' not changed: " + " ".join(problems))
        old = get_setting(current, key)
        if old != value or not paths.settings_file.exists():
            save_settings(new, paths.settings_file)
        for msg in sorted(before):  # already wrong before this change: say so, do not block it
            print(f"warning: {msg}", file=sys.stderr)
    return old, value


def _report(key: str, old: Any, new: Any) -> None:
    if old == new:
        print(f"{key} = {format_value(new)} (unchanged)")
        return
    print(f"{key} = {format_value(new)} (was {format_value(old)})")
    if key in _NOTES:
        print(f"note: {_NOTES[key]}", file=sys.stderr)


def cmd_config_set(args: argparse.Namespace) -> int:
    paths, _settings = context(args)
    value = parse_value(args.key, args.value)
    old, new = _change(paths, args.key, value)
    _report(args.key, old, new)
    return 0


def cmd_config_reset(args: argparse.Namespace) -> int:
    paths, _settings = context(args)
    setting_type(args.key)  # unknown key: the error with suggestions
    old, new = _change(paths, args.key, copy.deepcopy(default_setting(args.key)))
    _report(args.key, old, new)
    return 0
