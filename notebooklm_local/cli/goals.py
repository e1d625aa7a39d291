"""``notebooklm-local chat-goal show|set NOTEBOOK``: a notebook's chat goal and response length.

The GUI's counterpart is the chat panel's *Goal* dialog (ui/chat_goal_dialog.py). The goal is stored in
the notebook's settings in the library database (core.chat_goals), so these commands open it directly
(no index, no model); ``ask`` and ``chat`` then answer with it. ``set`` holds the data-dir lock; ``show``
does not (SQLite in WAL mode reads safely while the app runs). cli/main.py registers these with
``add_chat_goal_parser(sub)`` and runs them like its own commands (NotebookError -> "error: ..." and exit 1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from notebooklm_local.cli.common import workspace
from notebooklm_local.core.chat_goals import (
    GOAL_LABELS,
    GOALS,
    LENGTHS,
    MAX_PERSONA_CHARS,
    ChatGoal,
    notebook_goal,
    set_notebook_goal,
)
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.instance import InstanceLock
from notebooklm_local.core.library import Library

__all__ = ["add_chat_goal_parser"]

_READ_LIMIT = 1_000_000  # bytes read from a persona file: enough to say exactly how long it is


def add_chat_goal_parser(sub: Any) -> None:
    """Register ``chat-goal`` and its actions on the sub-parsers object of the main parser."""
    g = sub.add_parser("chat-goal", help="show or set a notebook's chat goal (default, learning guide, custom "
                       "instructions) and response length")
    gs = g.add_subparsers(dest="goal_command", metavar="ACTION", required=True)

    sh = gs.add_parser("show", help="a notebook's chat goal, response length and custom instructions")
    sh.add_argument("notebook", metavar="NOTEBOOK", help="the notebook's name (or id)")
    sh.add_argument("--json", action="store_true", help="machine-readable output")
    sh.set_defaults(func=cmd_chat_goal_show)

    st = gs.add_parser("set", help="set a notebook's chat goal and/or response length (what is not given is kept)")
    st.add_argument("notebook", metavar="NOTEBOOK", help="the notebook's name (or id)")
    st.add_argument("--goal", choices=[*GOALS, "learning-guide"],
                    help="default (cited research assistant), learning (a learning guide: step by step, asks you "
                    "back) or custom (your instructions, from --persona-file or --persona)")
    p = st.add_mutually_exclusive_group()
    p.add_argument("--persona-file", metavar="FILE",
                   help=f"the custom instructions (UTF-8 text, at most {MAX_PERSONA_CHARS:,} characters; '-' reads "
                   "stdin). They change tone and focus only: answers are always cited")
    p.add_argument("--persona", metavar="TEXT", help="the custom instructions as an argument")
    st.add_argument("--length", choices=LENGTHS, help="response length: shorter, default or longer")
    st.add_argument("--json", action="store_true", help="print the stored goal as JSON")
    st.set_defaults(func=cmd_chat_goal_set)


@contextlib.contextmanager
def _library(args: argparse.Namespace, *, write: bool) -> Iterator[Library]:
    """The workspace's one library (no index, no plugins are opened: only the database)."""
    ws = workspace(args)
    with InstanceLock(ws.paths.lock_file) if write else contextlib.nullcontext():
        try:
            yield ws.library()
        finally:
            ws.close()


def _read_persona(args: argparse.Namespace) -> str | None:
    if args.persona is not None:
        return str(args.persona)
    if args.persona_file is None:
        return None
    where = "The text on stdin" if args.persona_file == "-" else str(args.persona_file)
    try:
        if args.persona_file == "-":
            data = sys.stdin.buffer.read(_READ_LIMIT + 1)
        else:
            with Path(args.persona_file).expanduser().open("rb") as f:
                data = f.read(_READ_LIMIT + 1)
    except OSError as e:
        raise NotebookError(f"Cannot read {where}: {e.strerror or e}.") from None
    if len(data) > _READ_LIMIT:
        raise NotebookError(f"{where} is far longer than the {MAX_PERSONA_CHARS:,} characters custom instructions "
                            "may have.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise NotebookError(f"{where} is not UTF-8 text ({e.reason} at byte {e.start}).") from None


def _describe(name: str, goal: ChatGoal) -> str:
    lines = [f"Notebook: {name}", f"Goal: {GOAL_LABELS[goal.goal]} ({goal.goal})", f"Response length: {goal.length}"]
    if goal.persona:
        kept = "" if goal.goal == "custom" else " (kept; used when the goal is custom)"
        lines.append(f"Custom instructions{kept}, {len(goal.persona):,} of {MAX_PERSONA_CHARS:,} characters:")
        lines += ["  " + line for line in goal.persona.splitlines()]
    return "\n".join(lines)


def _json(name: str, goal: ChatGoal) -> str:
    return json.dumps({"notebook": name, **goal.to_json(), "label": goal.label}, ensure_ascii=False, indent=2)


def cmd_chat_goal_show(args: argparse.Namespace) -> int:
    with _library(args, write=False) as library:
        nb = library.notebook(args.notebook)
        goal = notebook_goal(library, nb.id)
    print(_json(nb.name, goal) if args.json else _describe(nb.name, goal))
    return 0


def cmd_chat_goal_set(args: argparse.Namespace) -> int:
    persona = _read_persona(args)
    if args.goal is None and persona is None and args.length is None:
        raise NotebookError("Nothing to set: give --goal, --persona-file (or --persona) and/or --length.")
    goal = "learning" if args.goal == "learning-guide" else args.goal
    if persona is not None and goal is None:
        goal = "custom"  # instructions given: they are meant to be used
    with _library(args, write=True) as library:
        nb = library.notebook(args.notebook)
        stored = set_notebook_goal(library, nb.id, goal, persona, args.length)
    print(_json(nb.name, stored) if args.json else f"chat goal of '{nb.name}': {stored.label}")
    return 0
