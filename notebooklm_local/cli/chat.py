"""Answering commands: ``ask``, ``chat`` and ``templates list|show|edit|validate|reset``.

``cli/main.py`` registers these with ``add_chat_parsers(sub)`` and runs them like every command
(``args.func(args)``, NotebookError -> "error: ..." and exit 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from notebooklm_local.cli.common import check_scope as _check_scope
from notebooklm_local.cli.common import locked as _locked
from notebooklm_local.cli.common import resolve_sources as _resolve_sources
from notebooklm_local.cli.common import sigint_cancels as _sigint_cancels
from notebooklm_local.cli.common import workspace as _workspace
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.notes import answer_note_body

__all__ = ["add_chat_parsers"]


def add_chat_parsers(sub: Any) -> None:
    """Register ``ask``, ``chat`` and ``templates`` on the top-level sub-parsers ``sub``."""

    for name, helptext in (("ask", "answer a question from a notebook's sources, with citations"),
                           ("chat", "interactive cited chat with a notebook (/new starts a new session, /quit ends)")):
        q = sub.add_parser(name, help=helptext)
        if name == "ask":
            q.add_argument("question", help="the question ('-' reads it from stdin)")
        q.add_argument("--notebook", "-n", required=True)
        q.add_argument("--sources", nargs="+", metavar="SOURCE", help="use only these sources (ids or titles)")
        q.add_argument("--all", dest="all_notebooks", action="store_true",
                       help="answer from every notebook's ready sources (the selection does not apply; citations "
                            "name the notebook); the exchange is kept in --notebook's chat")
        q.add_argument("--session", metavar="ID", help="continue this chat session")
        if name == "ask":
            q.add_argument("--continue", dest="continue_", action="store_true",
                           help="continue the notebook's latest chat session (default: a new one)")
            q.add_argument("--save-note", action="store_true", help="save the answer as a note with its citations")
            q.add_argument("--tag", action="append", default=[], help="tag for the saved note (repeatable)")
        else:
            q.add_argument("--new-session", action="store_true", help="start a new session (default: the latest)")
        q.add_argument("--structured", action=argparse.BooleanOptionalAction, default=None,
                       help="JSON-schema answers (default: settings; on for base models)")
        q.add_argument("--language", default="", help="answer in this language")
        q.add_argument("--mode", choices=["auto", "generate", "quotes"], default=None,
                       help="generate: the model answers; quotes: the best source sentences, cited (no model); "
                            "auto: quotes for base models (default: settings' chat.mode)")
        q.add_argument("--json", action="store_true", help="print one JSON object per answer (no streaming)")
        q.set_defaults(func=cmd_ask if name == "ask" else cmd_chat)

    tp = sub.add_parser("templates", help="list, show, edit, validate or reset prompt templates")
    tps = tp.add_subparsers(dest="tpl_command", metavar="ACTION", required=True)
    t = tps.add_parser("list", help="templates with their origin (default or edited)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_templates_list)
    t = tps.add_parser("show", help="print a template's file (the edited one when it exists)")
    t.add_argument("name")
    t.add_argument("--default", action="store_true", help="show the shipped default")
    t.add_argument("--preview", action="store_true", help="render it with its sample values")
    t.set_defaults(func=cmd_templates_show)
    t = tps.add_parser("edit", help="open the template in $EDITOR; saved only if it validates")
    t.add_argument("name")
    t.add_argument("--from-file", metavar="FILE", help="take the new text from FILE instead of an editor")
    t.set_defaults(func=cmd_templates_edit)
    t = tps.add_parser("validate", help="check a template file (syntax, unknown or missing variables)")
    t.add_argument("name")
    t.add_argument("file", nargs="?", help="file to check (default: the current template)")
    t.set_defaults(func=cmd_templates_validate)
    t = tps.add_parser("reset", help="drop your edits; the default applies again")
    t.add_argument("name")
    t.set_defaults(func=cmd_templates_reset)



def _templates(args: argparse.Namespace) -> Any:
    return _workspace(args).template_store()


def cmd_templates_list(args: argparse.Namespace) -> int:
    store = _templates(args)
    rows = []
    for name in store.names():
        tpl = store.get(name)
        rows.append({"name": name, "origin": tpl.origin, "edited": store.is_overridden(name),
                     "description": tpl.description, "variables": sorted(tpl.variables),
                     "structured": tpl.schema is not None})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['name']:<26} {'edited' if r['edited'] else 'default':<8} {r['description']}")
    for note in store.notices:
        print(f"warning: {note}", file=sys.stderr)
    return 0


def cmd_templates_show(args: argparse.Namespace) -> int:
    store = _templates(args)
    tpl = store.default(args.name) if args.default else store.get(args.name)
    if args.preview:
        r = tpl.preview()
        print(f"--- system ---\n{r.system}\n--- user ---\n{r.user}")
    else:
        print(tpl.text or (tpl.path.read_text(encoding="utf-8") if tpl.path else ""), end="")
    for note in store.notices:
        print(f"warning: {note}", file=sys.stderr)
    return 0


def cmd_templates_edit(args: argparse.Namespace) -> int:
    import os
    import shlex
    import subprocess
    import tempfile

    store = _templates(args)
    current = store.get(args.name)
    if args.from_file:
        try:
            text = Path(args.from_file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise NotebookError(f"Cannot read {args.from_file}: {e}") from e
    else:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not editor:
            raise NotebookError("Set $EDITOR (or use --from-file FILE).")
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False, encoding="utf-8") as f:
            f.write(current.text)
        try:
            subprocess.run([*shlex.split(editor), f.name], check=False)
            text = Path(f.name).read_text(encoding="utf-8")
        finally:
            Path(f.name).unlink(missing_ok=True)
    if text == current.text:
        print("unchanged")
        return 0
    store.save(args.name, text)  # raises TemplateError (nothing saved) when invalid
    print(f"saved your version of '{args.name}' (reset with: notebooklm-local templates reset {args.name})")
    return 0


def cmd_templates_validate(args: argparse.Namespace) -> int:
    store = _templates(args)
    if args.file:
        try:
            text = Path(args.file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise NotebookError(f"Cannot read {args.file}: {e}") from e
        store.validate(args.name, text)
    else:
        store.get(args.name)
        if store.notices:
            raise NotebookError(store.notices[0])
    print("valid")
    return 0


def cmd_templates_reset(args: argparse.Namespace) -> int:
    store = _templates(args)
    was = store.is_overridden(args.name)
    store.reset(args.name)
    print(f"'{args.name}' reset to the default" if was else f"'{args.name}' already is the default")
    return 0


def _print_answer(result: Any, *, streamed: bool) -> None:
    ans = result.answer
    shown = " ".join(result.shown_text.split()) if streamed else ""
    if not streamed or " ".join(ans.text.split()) != shown:
        if streamed and shown:
            print("\nChecked answer:")
        print(ans.text)
    print()
    if ans.citations:
        print("Citations:")
        for c in ans.citations:
            loc = f", {c.location}" if c.location else ""
            quote = " ".join(c.quote.split())
            quote = quote if len(quote) <= 200 else quote[:199] + "\u2026"
            print(f"  [{c.passage_id}] {c.source_title}{loc} — \u201c{quote}\u201d")
    flagged = [s for s in ans.sentences if not s.supported]
    if flagged:
        print("Not supported by the sources (flagged):")
        for s_ in flagged:
            print(f"  ! {' '.join(s_.text.split())[:160]} — {s_.flag}")
    for m in ans.removed_markers:
        print(f"  ! removed citation {m}: no passage has that id")
    if result.sources:
        print("Sources: " + "; ".join(s["title"] for s in result.sources))
    for note in ans.notes:
        print(f"Note: {note}")
    goal = getattr(result, "goal", None)
    if goal is not None and not goal.is_default:  # the notebook's chat goal (`chat-goal show` / `set`)
        print(f"Chat goal: {goal.label}" + (" (quotes: the length only)" if result.extractive else ""),
              file=sys.stderr)
    g = result.generation
    if g is not None:
        e = result.engine
        print(
            f"[{e.model} · {e.backend}{f', {e.gpu_layers} layers on GPU' if e.gpu_layers else ''} · {e.chat_format} · "
            f"prompt {g.prompt_tokens} tok ({g.cached_prompt_tokens} cached) {g.prompt_eval_s:.2f}s · "
            f"{g.completion_tokens} tok at {g.tokens_per_s:.1f} tok/s]",
            file=sys.stderr,
        )


def _ask_once(chat: Any, args: argparse.Namespace, question: str, *, new_session: bool, session: str | None) -> Any:
    from notebooklm_local.core.jobs import CancelToken

    token = CancelToken()
    streamed = not args.json

    def on_token(piece: str) -> None:
        print(piece, end="", flush=True)

    ids = _resolve_sources(chat.library, args.notebook, args.sources) if args.sources else None
    if streamed and chat.resolve_mode(args.mode) == "quotes":  # (a GGUF header read at most: loads no model)
        from notebooklm_local.services.chat import QUOTES_LABEL

        print(f"[{QUOTES_LABEL}]")
    with _sigint_cancels(token):
        result = chat.ask(
            args.notebook, question, source_ids=ids, session_id=session, new_session=new_session,
            structured=args.structured, language=args.language, on_token=on_token if streamed else None,
            cancel=token, mode=args.mode, scope="all" if getattr(args, "all_notebooks", False) else "notebook",
        )
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print()
        _print_answer(result, streamed=True)
    return result


def _template_notices(chat: Any) -> None:
    """A bad edited template was replaced by the default: say so (the answer itself went through)."""
    for note in getattr(getattr(chat, "templates", None), "notices", []):
        print(f"warning: {note}", file=sys.stderr)


def cmd_ask(args: argparse.Namespace) -> int:
    question = sys.stdin.read() if args.question == "-" else args.question
    _check_scope(args, notebook_needed=True)
    ws = _workspace(args)
    with _locked(ws.paths):
        chat = ws.chat()
        try:
            result = _ask_once(chat, args, question, new_session=not (args.session or args.continue_),
                               session=args.session)
            if args.save_note and not result.cancelled:
                nb = chat.library.library.notebook(args.notebook)
                note = ws.note_store().add(
                    nb.id, " ".join(question.split())[:200], answer_note_body(result.answer, result.mode),
                    citations=[c.to_json() for c in result.answer.citations], tags=args.tag, origin_kind="chat",
                    origin_id=result.session_id)
                print(f"Saved as note {note.id[:8]}: {note.title}", file=sys.stderr)
        finally:
            chat.engine.close()
            _template_notices(chat)
    return 130 if result.cancelled else 0


def cmd_chat(args: argparse.Namespace) -> int:
    _check_scope(args, notebook_needed=True)
    ws = _workspace(args)
    tty = sys.stdin.isatty()
    with _locked(ws.paths):
        chat = ws.chat()
        session, new = args.session, args.new_session
        try:
            if tty:
                goal = chat.goal(args.notebook)
                shown_goal = "" if goal.is_default else f" (chat goal: {goal.label})"
                scope = " (answers from all notebooks)" if args.all_notebooks else ""
                print(f"Chatting with '{args.notebook}'{scope}{shown_goal}. /new starts a new session, /quit (or "
                      "Ctrl-D) ends.")
            while True:
                try:
                    line = input("> " if tty else "")
                except EOFError:
                    break
                line = line.strip()
                if not line:
                    continue
                if line in ("/quit", "/exit", "/q"):
                    break
                if line == "/new":
                    session, new = None, True
                    print("(new session)", file=sys.stderr)
                    continue
                try:
                    result = _ask_once(chat, args, line, new_session=new, session=session)
                except NotebookError as e:
                    print(f"error: {e}", file=sys.stderr)
                    continue
                session, new = result.session_id, False
        except KeyboardInterrupt:
            print()
        finally:
            chat.engine.close()
            _template_notices(chat)
    return 0
