"""``notebooklm-local models ...``: list, add, download and remove GGUF models.

cli/main.py registers these with ``add_models_parser(sub)`` and runs them like its own commands
(``args.func(args)``, NotebookError -> "error: ..." and exit 1). This module does not import cli/main.py (cli/main.py
imports it): it sits one layer below it and repeats cli/common.py's three-line ``context`` and its one-line
progress display, for bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from notebooklm_local.core.errors import Cancelled, NotebookError
from notebooklm_local.core.instance import InstanceLock
from notebooklm_local.core.logs import setup_logging
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import load_settings, save_settings

__all__ = ["add_models_parser"]


def add_models_parser(sub: Any) -> None:
    """Register ``models`` and its actions on the sub-parsers object of the main parser."""
    m = sub.add_parser("models", help="list, add, download or remove GGUF models")
    ms = m.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    ls = ms.add_parser("list", help="models known to the app, with their GGUF metadata")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.add_argument("--catalog", action="store_true", help="show the recommended downloads instead")
    ls.set_defaults(func=cmd_models_list)

    c = ms.add_parser("catalog", help="recommended models to download")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_models_catalog)

    a = ms.add_parser("add", help="use a GGUF file from elsewhere (it stays where it is)")
    a.add_argument("path", metavar="PATH")
    a.set_defaults(func=cmd_models_add)

    d = ms.add_parser("download", help="download a catalog model (NAME) or a GGUF from a Hugging Face repo "
                      "(REPO FILENAME); an interrupted download resumes when run again")
    d.add_argument("spec", metavar="NAME_OR_REPO")
    d.add_argument("filename", metavar="FILENAME", nargs="?", help="the .gguf file in REPO")
    d.add_argument("--endpoint", metavar="URL", help="hub or mirror to use (default: the hub endpoint setting, "
                   "else $HF_ENDPOINT, else https://huggingface.co)")
    d.add_argument("--revision", default="main", help="branch, tag or commit (default: main)")
    d.set_defaults(func=cmd_models_download)

    r = ms.add_parser("remove", help="forget an added model, or delete a model file from the data dir")
    r.add_argument("name", metavar="NAME", help="file name, path or catalog name (see `models list`)")
    r.add_argument("--delete-file", action="store_true", help="also delete the file of an added model")
    r.add_argument("--force", action="store_true", help="remove it even if the settings use it "
                   "(the embedded default takes its place)")
    r.add_argument("--yes", action="store_true", help="do not ask before deleting a file")
    r.set_defaults(func=cmd_models_remove)


def _manager(args: argparse.Namespace) -> Any:
    from notebooklm_local.services.model_manager import ModelManager

    paths = app_paths(args.basedir).ensure()  # as cli._context
    setup_logging(paths.log_file, verbose=args.verbose)
    settings = load_settings(paths.settings_file)
    return ModelManager(paths, settings, save=lambda s: save_settings(s, paths.settings_file))


def _mb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def _row(info: Any) -> str:
    flags = [info.source] + [f"in use: {'+'.join(info.in_use)}"] * bool(info.in_use)
    if info.error:
        return f"{info.file_name}  — {info.error}  [{', '.join(flags)}]\n    {info.path}"
    ctx = f"ctx {info.context_length}" if info.context_length else "ctx ?"
    template = "" if info.is_embedding else (", chat template" if info.has_chat_template else ", no chat template")
    return (f"{info.file_name}  {_mb(info.size)}  {info.architecture or '?'} {info.size_label or ''} "
            f"{info.quantization or '?'}  {ctx}  {info.kind}{template}  [{', '.join(flags)}]\n    {info.path}")


def cmd_models_list(args: argparse.Namespace) -> int:
    if args.catalog:
        return cmd_models_catalog(args)
    infos = _manager(args).list()
    if args.json:
        print(json.dumps([i.to_json() for i in infos], indent=2))
    elif not infos:
        print("no models yet — run `notebooklm-local init`, or `notebooklm-local models download NAME` "
              "(see `models catalog`)")
    for info in infos if not args.json else []:
        print(_row(info))
    return 0


def cmd_models_catalog(args: argparse.Namespace) -> int:
    from notebooklm_local.services.model_manager import CATALOG

    if args.json:
        print(json.dumps([e.to_json() for e in CATALOG], indent=2))
        return 0
    for e in CATALOG:
        lang = ", multilingual" if e.multilingual else ""
        print(f"{e.name:<24} {e.kind:<9} ~{e.size_mb:>5} MB{lang}\n    {e.description}\n    "
              f"{e.repo_id}/{e.filename}")
    return 0


def cmd_models_add(args: argparse.Namespace) -> int:
    manager = _manager(args)
    with InstanceLock(manager.paths.lock_file):  # settings change: not while the app runs
        info = manager.add(args.path)
    print(f"added {info.path}")
    print(_row(info))
    return 0


class _ByteProgress:
    """One updating status line on a terminal, plain throttled lines otherwise (like cli._TerminalProgress)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if now - self.last < (0.2 if self.tty else 2.0) and done < total:
            return
        self.last = now
        name, _, status = message.partition(": ")
        pct = f"{100 * done / total:3.0f}%" if total else "   ?"
        line = f"{pct} {name}  {_mb(done)} / {_mb(total)}" + (f"  ({status})" if "verifying" in status else "")
        if self.tty:
            print("\r\033[K" + line[:160], end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


def cmd_models_download(args: argparse.Namespace) -> int:
    manager = _manager(args)  # no data-dir lock: a download only adds a file (under a per-file lock)
    progress = _ByteProgress()
    try:
        try:
            info = manager.download(args.spec, args.filename, endpoint=args.endpoint, revision=args.revision,
                                    progress=progress)
        finally:
            progress.close()
    except (KeyboardInterrupt, Cancelled):  # Ctrl-C: the partial file stays for the next run
        print("Download cancelled; run the same command again to resume.", file=sys.stderr)
        return 130
    print(f"downloaded {info.path}")
    print(_row(info))
    if not any(info.in_use):
        role = "embedding_path" if info.is_embedding else "path"
        print(f"use it: notebooklm-local config set model.{role} \"{info.path}\" (or in Settings)")
    return 0


def cmd_models_remove(args: argparse.Namespace) -> int:
    manager = _manager(args)
    with InstanceLock(manager.paths.lock_file):
        info = manager.find(args.name)
        deletes = info.source != "added" or args.delete_file
        if deletes and not args.yes and info.path.exists():
            if not sys.stdin.isatty():
                raise NotebookError(f"Refusing to delete {info.path} without confirmation; pass --yes.")
            answer = input(f"Delete {info.path} ({_mb(info.size)})? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("kept")
                return 1
        removed = manager.remove(info.path, delete_file=args.delete_file, force=args.force)
    print(removed.message())
    return 0
