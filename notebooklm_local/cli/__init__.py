"""The command line: ``notebooklm-local COMMAND`` (every GUI action has a command, tests/test_cli_parity.py).

``main.py`` holds the parser and the runner; one module per group of commands registers its sub-parsers
(``library``, ``chat``, ``models``, ``notes``, ``studio``, ``plugins``, ``config``, ``goals``, and ``bundle``
under ``notebook``); ``common.py`` holds what they share. Commands get their services from a
``notebooklm_local.workspace.Workspace``, as the window does.
"""

from notebooklm_local.cli.library import _confirm_large
from notebooklm_local.cli.main import build_parser, main, run

__all__ = ["build_parser", "run", "main", "_confirm_large"]
