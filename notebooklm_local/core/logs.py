"""Logging set-up: a rotating log file in the logs dir, warnings to stderr."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

__all__ = ["setup_logging"]

_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"
_HANDLER_NAME = "notebooklm-local"  # ours: replaced when logging is set up again


def setup_logging(log_file: Path, *, verbose: bool = False, console: bool = True) -> logging.Logger:
    """Configure the ``notebooklm_local`` logger (idempotent).

    Args:
        log_file: the rotating log file (1 MB x 5 files).
        verbose: also show INFO/DEBUG on stderr.
        console: attach a stderr handler at all.
    """
    root = logging.getLogger("notebooklm_local")
    for h in list(root.handlers):
        if h.get_name() == _HANDLER_NAME:
            root.removeHandler(h)
            h.close()
    root.setLevel(logging.DEBUG)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    fh = logging.handlers.RotatingFileHandler(log_file, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
    fh.setFormatter(logging.Formatter(_FORMAT))
    fh.setLevel(logging.DEBUG)
    fh.set_name(_HANDLER_NAME)
    root.addHandler(fh)
    if console:
        sh = logging.StreamHandler()
        sh.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        sh.setLevel(logging.DEBUG if verbose else logging.WARNING)
        sh.set_name(_HANDLER_NAME)
        root.addHandler(sh)
    return root
