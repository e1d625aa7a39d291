"""Headless commands. Everything the GUI does is reachable from here too."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

from notebooklm_local import APP_NAME, __version__
from notebooklm_local.core.errors import Cancelled, NotebookError
from notebooklm_local.core.logs import setup_logging
from notebooklm_local.core.paths import AppPaths, app_paths
from notebooklm_local.core.settings import Settings, load_settings, save_settings

__all__ = ["build_parser", "run"]

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=APP_NAME,
        description="A private, offline NotebookLM: cited answers from your own sources on a local model. "
        "Without a command, the desktop app starts.",
    )
    p.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    p.add_argument("--basedir", metavar="DIR", help="keep all data, settings and logs under DIR "
                   "(default: the platform's user dirs, or $NOTEBOOKLM_LOCAL_HOME)")
    p.add_argument("-v", "--verbose", action="store_true", help="log more to stderr")
    p.add_argument("--safe-mode", action="store_true", help="start without plugins")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("doctor", help="show version, llama.cpp backend, models, data dir, Chroma, TTS")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.set_defaults(func=cmd_doctor)

    i = sub.add_parser("init", help="prepare the data dir: settings and the embedded default model")
    i.set_defaults(func=cmd_init)
    return p


def _context(args: argparse.Namespace) -> tuple[AppPaths, Settings]:
    paths = app_paths(args.basedir).ensure()
    setup_logging(paths.log_file, verbose=args.verbose)
    return paths, load_settings(paths.settings_file)


def cmd_doctor(args: argparse.Namespace) -> int:
    from notebooklm_local.services.diagnostics import doctor_report, format_report

    paths, settings = _context(args)
    report = doctor_report(paths, settings)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from notebooklm_local.services.models import ensure_default_model

    paths, settings = _context(args)
    if not paths.settings_file.exists():
        save_settings(settings, paths.settings_file)
    model = ensure_default_model(paths)
    print(f"settings: {paths.settings_file}")
    print(f"default model: {model}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run a parsed sub-command; user errors print one clear line and exit 1."""
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except Cancelled:
        print("cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except NotebookError as e:
        log.debug("command failed", exc_info=True)
        print(f"error: {e}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    return run(args)
