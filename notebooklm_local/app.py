"""Entry point: parse arguments, set up paths, logging and crash logs, then start the GUI (over a
``Workspace``, the composition root of the services) or a command (each builds its own workspace)."""

from __future__ import annotations

import faulthandler
import gc
import logging
import os
import sys
import time
from collections.abc import Sequence

from notebooklm_local import cli
from notebooklm_local.core.context import AppContext
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.instance import InstanceLock
from notebooklm_local.core.logs import setup_logging
from notebooklm_local.core.paths import AppPaths, app_paths
from notebooklm_local.core.settings import load_settings, save_settings

__all__ = ["main"]

log = logging.getLogger(__name__)

_crash_file = None  # kept open for faulthandler for the life of the process


def _install_crash_log(paths: AppPaths) -> list[str]:
    """Write native crashes (llama.cpp, Qt) to crash.log; report one left by the previous run."""
    global _crash_file
    notices = []
    crash = paths.logs / "crash.log"
    if crash.exists() and crash.stat().st_size > 0:
        kept = paths.logs / f"crash-{time.strftime('%Y%m%d-%H%M%S')}.log"
        os.replace(crash, kept)
        notices.append(f"The previous session crashed; its crash log is {kept}")
        log.warning("previous session crashed; see %s", kept)
    _crash_file = open(crash, "w", encoding="utf-8")  # noqa: SIM115 - must stay open
    faulthandler.enable(_crash_file)
    return notices


def _run_gui(args: object) -> int:
    # No cyclic garbage collection while the app starts: start-up makes little garbage but crosses the
    # collector's thresholds 3-4 times, each a full pass over the growing heap (45-75 ms, on whichever
    # thread allocates: the window stalls). ui.application.freeze_heap_when_settled collects once, freezes
    # what is alive and turns the collector back on when the start-up work is over.
    gc.disable()
    paths = app_paths(getattr(args, "basedir", None)).ensure()
    setup_logging(paths.log_file, verbose=getattr(args, "verbose", False))
    lock = InstanceLock(paths.lock_file)
    try:
        lock.acquire()
    except NotebookError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        notices = _install_crash_log(paths)
        settings = load_settings(paths.settings_file)
        if not paths.settings_file.exists():
            save_settings(settings, paths.settings_file)
        ctx = AppContext(paths, settings, safe_mode=getattr(args, "safe_mode", False), notices=notices)
        from notebooklm_local.ui.application import run_gui
        from notebooklm_local.workspace import Workspace

        workspace = Workspace(paths, settings, safe_mode=ctx.safe_mode)  # the services, opened on first use
        if os.environ.get("NOTEBOOKLM_E2E_PROBE"):  # the end-to-end GUI test's view inside (ui/e2e_probe.py)
            from notebooklm_local.ui.e2e_probe import install_probe

            install_probe(os.environ["NOTEBOOKLM_E2E_PROBE"])
        quit_after = os.environ.get("NOTEBOOKLM_LOCAL_QUIT_AFTER_MS")
        # the window closes the workspace once its lanes are drained (a model still decoding is not freed)
        return run_gui(ctx, workspace=workspace, quit_after_ms=int(quit_after) if quit_after else None)
    finally:
        faulthandler.disable()
        if _crash_file is not None:
            _crash_file.close()
            if os.path.getsize(_crash_file.name) == 0:
                os.unlink(_crash_file.name)
        lock.release()


def main(argv: Sequence[str] | None = None) -> int:
    """``notebooklm-local``: the desktop app; ``notebooklm-local COMMAND``: headless use."""
    args = cli.build_parser().parse_args(argv)
    if args.command is None:
        return _run_gui(args)
    try:
        return cli.run(args)
    except BrokenPipeError:  # `notebooklm-local sources --json | head`: the reader left; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python flushes stdout at exit: let that go nowhere
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
