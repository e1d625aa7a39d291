"""Helpers the CLI's command modules share (every other module of ``cli/`` sits above this one): opening the
app's paths and settings, the data-dir lock, terminal progress, Ctrl-C as cancel, source and scope checks."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.instance import InstanceLock
from notebooklm_local.core.logs import setup_logging
from notebooklm_local.core.paths import AppPaths, app_paths
from notebooklm_local.core.settings import Settings, load_settings
from notebooklm_local.extensions.switches import set_safe_mode

if TYPE_CHECKING:
    from notebooklm_local.workspace import Workspace

__all__ = ["context", "workspace", "locked", "TerminalProgress", "sigint_cancels", "resolve_sources", "check_scope"]


def context(args: argparse.Namespace) -> tuple[AppPaths, Settings]:
    set_safe_mode(getattr(args, "safe_mode", False))  # --safe-mode: no plugins for this command
    paths = app_paths(args.basedir).ensure()
    setup_logging(paths.log_file, verbose=args.verbose)
    return paths, load_settings(paths.settings_file)


def workspace(args: argparse.Namespace) -> Workspace:
    """The command's workspace (paths and settings as :func:`context` opens them): its services are opened
    on first use."""
    from notebooklm_local.workspace import Workspace  # the services' modules: not for `--help`

    paths, settings = context(args)
    return Workspace(paths, settings)


@contextlib.contextmanager
def locked(paths: AppPaths) -> Iterator[None]:
    with InstanceLock(paths.lock_file):
        yield


class TerminalProgress:
    """One updating status line on a terminal; plain lines otherwise (throttled).

    Progress is cosmetic: when stderr is gone (``add ... 2>&1 | head -1`` closed the pipe, a full disk)
    it falls silent instead of failing the work it reports on.
    """

    def __init__(self) -> None:
        try:
            self.tty = sys.stderr.isatty()
        except (OSError, ValueError, AttributeError):
            self.tty = False
        self.last = 0.0
        self.last_message = ""
        self.broken = False

    def _write(self, text: str, end: str) -> None:
        if self.broken:
            return
        try:
            print(text, end=end, file=sys.stderr, flush=True)
        except (OSError, ValueError):  # BrokenPipeError, EIO, closed file
            self.broken = True

    def __call__(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and done < total and message == self.last_message:
            return
        self.last, self.last_message = now, message
        line = f"[{done}/{total}] {message}"[:160]
        if self.tty:
            self._write("\r\033[K" + line, "")
        else:
            self._write(line, "\n")

    def close(self) -> None:
        if self.tty:
            self._write("\r\033[K", "")


@contextlib.contextmanager
def sigint_cancels(token: Any) -> Iterator[None]:
    """Ctrl-C stops the running work at its next step (token) instead of killing the process."""
    import signal

    def handler(_sig: int, _frame: Any) -> None:
        token.cancel()

    try:
        old = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def resolve_sources(lib: Any, notebook: str, wanted: Sequence[str]) -> list[str]:
    """Source ids from id prefixes or exact titles; each must match exactly one source."""
    srcs = lib.sources(notebook)
    out = []
    for w in wanted:
        match = [s for s in srcs if s.id.startswith(w) or s.title.lower() == w.lower()]
        if len(match) != 1:
            raise NotebookError(f"'{w}' matches {len(match)} sources in '{notebook}'; use an id from `sources`.")
        out.append(match[0].id)
    return out


def check_scope(args: argparse.Namespace, *, notebook_needed: bool) -> None:
    """--all and --notebook/--sources: search needs one of --notebook and --all; --all takes no --sources."""
    if getattr(args, "all_notebooks", False) and args.sources:
        raise NotebookError("--all searches every ready source of every notebook: leave out --sources.")
    if notebook_needed and not args.notebook:
        raise NotebookError("name a notebook with --notebook NAME, or search every notebook with --all.")
