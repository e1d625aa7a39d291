"""Watched folders: ``watch add|list|remove`` and ``sync`` (the Notebook menu's "Watch a folder…", "Stop
watching…" and the window's automatic sync; see services/watch.py)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from notebooklm_local.cli.common import TerminalProgress, context, locked, sigint_cancels

__all__ = ["add_watch_parsers"]


def add_watch_parsers(sub: Any) -> None:
    w = sub.add_parser("watch", help="link local folders to a notebook (`sync` adds, re-indexes, marks missing)")
    ws = w.add_subparsers(dest="watch_command", metavar="ACTION", required=True)
    a = ws.add_parser("add", help="watch a folder: its supported files follow it at each `sync`")
    a.add_argument("path", metavar="PATH")
    a.add_argument("--notebook", "-n", required=True)
    a.add_argument("--no-recursive", action="store_true", help="only the folder's own files, not its sub-folders'")
    a.add_argument("--sync", action="store_true", help="sync it right away")
    a.add_argument("--lexical-only", action="store_true", help="with --sync: index for keyword search only")
    a.set_defaults(func=cmd_watch_add)
    ls = ws.add_parser("list", help="the watched folders (of one notebook, or all)")
    ls.add_argument("--notebook", "-n")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_watch_list)
    rm = ws.add_parser("remove", help="stop watching a folder (its sources stay in the notebook)")
    rm.add_argument("path", metavar="PATH")
    rm.add_argument("--notebook", "-n", required=True)
    rm.set_defaults(func=cmd_watch_remove)

    s = sub.add_parser("sync", help="sync watched folders: add new files, re-index changed ones, mark missing ones")
    s.add_argument("--notebook", "-n", help="only this notebook's folders (default: every notebook's)")
    s.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    s.add_argument("--lexical-only", action="store_true", help="index for keyword search only (no embedding)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_sync)


def _open(paths: Any, settings: Any, *, with_index: bool) -> Any:
    from notebooklm_local.workspace import Workspace

    return Workspace(paths, settings).library_service(with_index=with_index)


def cmd_watch_add(args: argparse.Namespace) -> int:
    paths, settings = context(args)
    with locked(paths):
        lib = _open(paths, settings, with_index=args.sync and not args.lexical_only)
        w = lib.watch_folder(args.notebook, args.path, recursive=not args.no_recursive)
        nb = lib.notebook(args.notebook)
        print(f"watching {w.path} in '{nb.name}'" + ("" if w.recursive else " (not its sub-folders)"))
        if not args.sync:
            print(f"run `notebooklm-local sync --notebook \"{nb.name}\"` to add its files", file=sys.stderr)
            return 0
        return _run_sync(lib, args, nb.name, folder=w.path)


def cmd_watch_list(args: argparse.Namespace) -> int:
    paths, settings = context(args)
    lib = _open(paths, settings, with_index=False)  # reading only (WAL): no lock
    names = {nb.id: nb.name for nb in lib.notebooks()}
    folders = lib.watched_folders(args.notebook)
    if getattr(args, "json", False):
        print(json.dumps([{"notebook": names.get(w.notebook_id, ""), "notebook_id": w.notebook_id, "path": w.path,
                           "recursive": w.recursive, "added_at": w.added_at} for w in folders], indent=2))
        return 0
    if not folders:
        print("no watched folders — add one with: notebooklm-local watch add --notebook NAME PATH")
    for w in folders:
        print(f"{names.get(w.notebook_id, '?')}\t{w.path}{'' if w.recursive else '  (not recursive)'}")
    return 0


def cmd_watch_remove(args: argparse.Namespace) -> int:
    paths, settings = context(args)
    with locked(paths):
        lib = _open(paths, settings, with_index=False)
        w = lib.unwatch_folder(args.notebook, args.path)
    print(f"stopped watching {w.path} (its sources stay in the notebook)")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    paths, settings = context(args)
    with locked(paths):
        lib = _open(paths, settings, with_index=not (args.dry_run or args.lexical_only))
        return _run_sync(lib, args, args.notebook)


def _run_sync(lib: Any, args: argparse.Namespace, notebook: str | None, *, folder: str | None = None) -> int:
    from notebooklm_local.core.jobs import CancelToken

    names = {nb.id: nb.name for nb in lib.notebooks()}
    token = CancelToken()
    progress = TerminalProgress()
    try:
        with sigint_cancels(token):
            results = lib.sync_folders(notebook, folder=folder, dry_run=getattr(args, "dry_run", False),
                                       cancel=token, progress=progress)
    finally:
        progress.close()
    if getattr(args, "json", False):
        print(json.dumps([{"notebook": names.get(r.notebook_id, ""), **r.to_json()} for r in results], indent=2,
                         ensure_ascii=False))
    elif not results:
        print("no watched folders — add one with: notebooklm-local watch add --notebook NAME PATH")
    else:
        for r in results:
            for line in r.lines():
                problem = line.startswith(("failed: ", "skipped: ", "duplicate: "))
                print(f"  {line}", file=sys.stderr if problem else sys.stdout)
            print(f"{r.summary()} ('{names.get(r.notebook_id, '')}', {r.unchanged} unchanged)")
    return 1 if any(r.problems for r in results) else 0
