"""``notebooklm-local plugins ...``: list, enable, disable and inspect plugins.

cli/main.py registers these with ``add_plugins_parser(sub)`` and runs them like its own commands
(``args.func(args)``, NotebookError -> "error: ..." and exit 1). Like cli/notes.py, this module does not
import cli/main.py. ``add_plugins_parser`` also gives ``doctor`` its plugin list
(``services.diagnostics.set_plugins_report``), since services cannot import the plugin manager.

``--safe-mode`` (or ``NOTEBOOKLM_LOCAL_NO_PLUGINS=1``) is honoured: plugins are listed but not loaded.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from notebooklm_local.cli.common import context, locked
from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import Settings
from notebooklm_local.extensions.manager import PluginInfo, PluginManager, PluginState

__all__ = ["add_plugins_parser", "plugins_report"]


def add_plugins_parser(sub: Any) -> None:
    """Register ``plugins`` and its actions on the sub-parsers object of the main parser."""
    p = sub.add_parser("plugins", help="list, enable, disable or inspect plugins (bundled and in <data>/plugins)")
    ps = p.add_subparsers(dest="plugins_command", metavar="ACTION", required=True)

    ls = ps.add_parser("list", help="every plugin found, with its state (enabled, disabled, error, ...)")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=cmd_plugins_list)

    en = ps.add_parser("enable", help="switch a plugin on (kept in the settings)")
    en.add_argument("id", metavar="ID")
    en.set_defaults(func=cmd_plugins_enable)

    di = ps.add_parser("disable", help="switch a plugin off (kept in the settings)")
    di.add_argument("id", metavar="ID")
    di.set_defaults(func=cmd_plugins_disable)

    inf = ps.add_parser("info", help="everything about one plugin: manifest, state, what it adds, its errors")
    inf.add_argument("id", metavar="ID")
    inf.add_argument("--json", action="store_true", help="machine-readable output")
    inf.set_defaults(func=cmd_plugins_info)

    from notebooklm_local.services.diagnostics import set_plugins_report

    set_plugins_report(plugins_report)


def plugins_report(paths: AppPaths, settings: Settings) -> list[dict[str, Any]]:
    """The plugins and their states after loading them (what ``doctor`` lists)."""
    manager = PluginManager(paths, settings, persist=False)
    manager.load_all()
    return [{k: v for k, v in i.to_json().items() if k in ("id", "name", "version", "state", "source", "reason")}
            for i in manager.plugins()]


def _manager(args: argparse.Namespace, *, load: bool) -> tuple[AppPaths, PluginManager]:
    paths, settings = context(args)
    manager = PluginManager(paths, settings)
    if load:
        manager.load_all()
    else:
        manager.discover()
    return paths, manager


def _safe_note(manager: PluginManager) -> str:
    return f"safe mode ({manager.safe_mode}): plugins are listed but not loaded" if manager.safe_mode else ""


def _line(i: PluginInfo) -> str:
    reason = f" \u2014 {i.reason}" if i.reason else ""
    return f"{i.id:<22} {i.state.value:<12} {i.version or '-':<9} {i.source:<8} {i.name}{reason}"


def cmd_plugins_list(args: argparse.Namespace) -> int:
    _paths, manager = _manager(args, load=True)
    infos = manager.plugins()
    if args.json:
        rows = [{k: v for k, v in i.to_json().items() if k != "error_details"} for i in infos]
        print(json.dumps({"safe_mode": manager.safe_mode, "plugins": rows}, indent=2, ensure_ascii=False))
        return 0
    if manager.safe_mode:
        print(_safe_note(manager))
    if not infos:
        print(f"no plugins found (bundled: {manager.roots[0][0]}; yours go in {manager.roots[1][0]})")
        return 0
    print(f"{'ID':<22} {'STATE':<12} {'VERSION':<9} {'SOURCE':<8} NAME")
    for i in infos:
        print(_line(i))
    return 0


def cmd_plugins_enable(args: argparse.Namespace) -> int:
    paths, manager = _manager(args, load=False)
    with locked(paths):
        info = manager.enable(args.id)
    if info.state is PluginState.ERROR:
        print(f"enabled '{info.id}', but it failed to load: {info.reason}")
        return 1
    if info.state is PluginState.INCOMPATIBLE:
        print(f"enabled '{info.id}', but it cannot run here: {info.reason}")
        return 1
    if manager.safe_mode:
        print(f"enabled '{info.id}' (not loaded now: {_safe_note(manager)})")
        return 0
    print(f"enabled '{info.id}' ({info.name} {info.version})")
    return 0


def cmd_plugins_disable(args: argparse.Namespace) -> int:
    paths, manager = _manager(args, load=False)
    with locked(paths):
        info = manager.disable(args.id)
    print(f"disabled '{info.id}' ({info.name})")
    return 0


def cmd_plugins_info(args: argparse.Namespace) -> int:
    _paths, manager = _manager(args, load=True)
    info = manager.get(args.id)
    data = info.to_json()
    data["settings_file"] = str(manager.settings_file(info.id))
    data["data_dir"] = str(manager.data_dir(info.id))
    data["safe_mode"] = manager.safe_mode
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    m = info.manifest
    rows = [("Plugin", f"{info.name} ({info.id})"), ("Version", info.version or "-"), ("State", info.state.value)]
    if info.reason:
        rows.append(("Reason", info.reason))
    rows += [("Source", f"{info.source} ({info.path})")]
    if m is not None:
        rows += [("API", ", ".join(m.api)), ("Description", m.description or "-")]
        if m.min_app_version:
            rows.append(("Needs app", f">= {m.min_app_version}"))
        if m.author:
            rows.append(("Author", m.author))
        if m.homepage:
            rows.append(("Homepage", m.homepage))
        if not m.enabled_by_default:
            rows.append(("Default", "off until enabled"))
    for point, names in info.contributions.items():
        rows.append((f"Adds {point.replace('_', ' ')}", ", ".join(names)))
    rows += [("Settings file", data["settings_file"]), ("Data folder", data["data_dir"])]
    if manager.safe_mode:
        rows.append(("Safe mode", _safe_note(manager)))
    for label, value in rows:
        print(f"{label + ':':<18} {value}")
    for err in info.runtime_errors:
        print(f"  ! {err}")
    if info.traceback:
        print("\n" + info.traceback.rstrip())
    return 0
