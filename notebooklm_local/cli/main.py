"""The command line's parser and runner: ``build_parser`` registers every command module's sub-commands,
``run`` runs a parsed one (user errors print one clear line and exit 1), ``main`` both.

Everything the GUI does is reachable from here too (tests/test_cli_parity.py).
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from notebooklm_local import APP_NAME, __version__
from notebooklm_local.cli.chat import add_chat_parsers
from notebooklm_local.cli.library import add_library_parsers
from notebooklm_local.core.errors import Cancelled, NotebookError

__all__ = ["build_parser", "run", "main"]

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

    add_library_parsers(sub)
    add_chat_parsers(sub)

    from notebooklm_local.cli.models import add_models_parser

    add_models_parser(sub)
    from notebooklm_local.cli.notes import add_notes_parser

    add_notes_parser(sub)

    from notebooklm_local.cli.studio import add_studio_parsers

    add_studio_parsers(sub)
    from notebooklm_local.cli.plugins import add_plugins_parser

    add_plugins_parser(sub)
    from notebooklm_local.cli.config import add_config_parser

    add_config_parser(sub)
    from notebooklm_local.cli.goals import add_chat_goal_parser

    add_chat_goal_parser(sub)
    from notebooklm_local.cli.watch import add_watch_parsers

    add_watch_parsers(sub)
    return p


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
    except (OSError, sqlite3.DatabaseError) as e:
        from notebooklm_local.core.library_care import damaged, disk_full_error, is_disk_full

        if isinstance(e, BrokenPipeError) or not (is_disk_full(e) or isinstance(e, sqlite3.DatabaseError)):
            raise
        log.debug("command failed", exc_info=True)
        data = _data_dir(args)
        err = disk_full_error(data, e) if is_disk_full(e) else damaged(data / "library.db", e)
        print(f"error: {err}", file=sys.stderr)
        return 1
    except NotebookError as e:
        log.debug("command failed", exc_info=True)
        print(f"error: {e}", file=sys.stderr)
        attempts = getattr(e, "attempts", None)
        if attempts:
            if getattr(args, "verbose", False):
                for n, (text, reason) in enumerate(attempts, 1):
                    print(f"--- attempt {n}, rejected: {reason}\n{text.strip() or '(empty)'}", file=sys.stderr)
            else:
                print("(-v shows what the model wrote, rejected)", file=sys.stderr)
        return 1


def _data_dir(args: argparse.Namespace) -> Path:
    from notebooklm_local.core.paths import app_paths

    return app_paths(getattr(args, "basedir", None)).data


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    return run(args)
