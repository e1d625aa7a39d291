"""Headless commands. Everything the GUI does is reachable from here too."""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from notebooklm_local import APP_NAME, __version__
from notebooklm_local.cli_common import TerminalProgress as _TerminalProgress
from notebooklm_local.cli_common import context as _context
from notebooklm_local.cli_common import locked as _locked
from notebooklm_local.cli_common import resolve_sources as _resolve_sources
from notebooklm_local.cli_common import sigint_cancels as _sigint_cancels
from notebooklm_local.core.errors import Cancelled, NotebookError
from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import Settings, save_settings
from notebooklm_local.core.textutil import format_duration

__all__ = ["build_parser", "run"]

log = logging.getLogger(__name__)

SOURCE_TITLE_MAX = 300  # as the sources pane's Rename


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
    i.add_argument("--no-sample", action="store_true", help="do not create the sample notebook")
    i.set_defaults(func=cmd_init)

    nb = sub.add_parser("notebook", help="create, list, rename, delete, export or import notebooks")
    nbs = nb.add_subparsers(dest="nb_command", metavar="ACTION", required=True)
    c = nbs.add_parser("create", help="create a notebook")
    c.add_argument("name")
    c.set_defaults(func=cmd_notebook_create)
    ls = nbs.add_parser("list", help="list notebooks")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_notebook_list)
    mv = nbs.add_parser("rename", help="give a notebook a new name")
    mv.add_argument("old", metavar="OLD", help="the notebook's name (or id)")
    mv.add_argument("new", metavar="NEW", help="the new name")
    mv.set_defaults(func=cmd_notebook_rename)
    rm = nbs.add_parser("delete", help="delete a notebook with its sources and index")
    rm.add_argument("name")
    rm.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rm.set_defaults(func=cmd_notebook_delete)
    hl = nbs.add_parser("health", help="citation health over the stored answers and studio outputs")
    hl.add_argument("name")
    hl.add_argument("--json", action="store_true")
    hl.set_defaults(func=cmd_notebook_health)
    from notebooklm_local.cli_bundle import add_bundle_parsers

    add_bundle_parsers(nbs)  # notebook export / import (bundles)

    a = sub.add_parser("add", help="add files, folders, web/YouTube URLs (or - for text on stdin) to a notebook")
    a.add_argument("items", nargs="+", metavar="PATH_OR_URL")
    a.add_argument("--notebook", "-n", required=True)
    a.add_argument("--title", help="title for text read from stdin")
    a.add_argument("--password", help="password for encrypted PDFs")
    a.add_argument("--lexical-only", action="store_true", help="index for keyword search only (no embedding)")
    a.set_defaults(func=cmd_add)

    so = sub.add_parser("sources", help="list a notebook's sources with their state")
    so.add_argument("--notebook", "-n", required=True)
    so.add_argument("--json", action="store_true")
    so.set_defaults(func=cmd_sources)

    rs = sub.add_parser("remove", help="remove a source from its notebook (by id or title)")
    rs.add_argument("source")
    rs.add_argument("--notebook", "-n", required=True)
    rs.set_defaults(func=cmd_remove)

    rn = sub.add_parser("rename", help="give a source a new title (source by id or title)")
    rn.add_argument("source")
    rn.add_argument("title", help=f"the new title (at most {SOURCE_TITLE_MAX} characters)")
    rn.add_argument("--notebook", "-n", required=True)
    rn.set_defaults(func=cmd_rename)

    ri = sub.add_parser("reindex", help="read sources again from their originals and rebuild their index")
    ri.add_argument("sources", nargs="+", metavar="SOURCE", help="ids or titles")
    ri.add_argument("--notebook", "-n", required=True)
    ri.add_argument("--lexical-only", action="store_true", help="index for keyword search only (no embedding)")
    ri.set_defaults(func=cmd_reindex)

    se = sub.add_parser("search", help="hybrid (dense + BM25) search in a notebook (--all: in every notebook)")
    se.add_argument("query")
    se.add_argument("--notebook", "-n", help="the notebook to search (not needed with --all)")
    se.add_argument("--all", dest="all_notebooks", action="store_true",
                    help="search every notebook's ready sources; each hit names its notebook")
    se.add_argument("-k", type=int, default=8, help="number of hits (default 8)")
    se.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid")
    se.add_argument("--sources", nargs="+", metavar="SOURCE", help="restrict to these sources (ids or titles)")
    se.add_argument("--json", action="store_true")
    se.set_defaults(func=cmd_search)

    re_ = sub.add_parser("resume", help="finish interrupted ingestion and reconcile the index")
    re_.set_defaults(func=cmd_resume)

    rp = sub.add_parser("repair", help="salvage a damaged library database into a new one (the old one is kept)")
    rp.add_argument("--force", action="store_true", help="rebuild even when the database passes its check")
    rp.set_defaults(func=cmd_repair)

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

    from notebooklm_local.cli_models import add_models_parser

    add_models_parser(sub)
    from notebooklm_local.cli_notes import add_notes_parser

    add_notes_parser(sub)

    from notebooklm_local.cli_studio import add_studio_parsers

    add_studio_parsers(sub)
    from notebooklm_local.cli_plugins import add_plugins_parser

    add_plugins_parser(sub)
    from notebooklm_local.cli_config import add_config_parser

    add_config_parser(sub)
    from notebooklm_local.cli_goals import add_chat_goal_parser

    add_chat_goal_parser(sub)
    return p


def cmd_doctor(args: argparse.Namespace) -> int:
    from notebooklm_local.services.diagnostics import doctor_report, format_report

    paths, settings = _context(args)
    report = doctor_report(paths, settings)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from notebooklm_local.services.models import ensure_default_embedder, ensure_default_model

    paths, settings = _context(args)
    if not paths.settings_file.exists():
        save_settings(settings, paths.settings_file)
    model = ensure_default_model(paths)
    embedder = ensure_default_embedder(paths)
    print(f"settings: {paths.settings_file}")
    print(f"default model: {model}")
    print(f"default embedder: {embedder}")
    if not args.no_sample:
        from notebooklm_local.extensions.sample import ensure_sample_notebook

        with _locked(paths):
            lib = _open(paths, settings)
            name, report = ensure_sample_notebook(lib)
            print(f"sample notebook: {name}" + (f" ({len(report.added)} sources added)" if report else " (exists)"))
    return 0


def _reading(_paths: AppPaths) -> Any:
    """Read-only commands on SQLite only (sources, notebook list, lexical search) take no lock: WAL lets
    them read while another process (the app, an `add`) writes."""
    import contextlib

    return contextlib.nullcontext()


def _open(paths: AppPaths, settings: Settings, *, with_index: bool = True) -> Any:
    from notebooklm_local.extensions.runtime import open_library

    return open_library(paths, settings, with_index=with_index)


def cmd_notebook_create(args: argparse.Namespace) -> int:
    paths, settings = _context(args)
    with _locked(paths):
        nb = _open(paths, settings, with_index=False).create_notebook(args.name)
    print(f"created notebook '{nb.name}'")
    return 0


def cmd_notebook_list(args: argparse.Namespace) -> int:
    paths, settings = _context(args)
    with _reading(paths):
        lib = _open(paths, settings, with_index=False)
        rows = [(nb, lib.library.sources(nb.id)) for nb in lib.notebooks()]
    if args.json:
        print(json.dumps([{"id": nb.id, "name": nb.name, "sources": len(s)} for nb, s in rows], indent=2))
    elif not rows:
        print("no notebooks yet — create one with: notebooklm-local notebook create NAME")
    for nb, srcs in rows if not args.json else []:
        print(f"{nb.name}\t{len(srcs)} sources")
    return 0


def cmd_notebook_rename(args: argparse.Namespace) -> int:
    paths, settings = _context(args)
    with _locked(paths):
        lib = _open(paths, settings, with_index=False)
        old = lib.notebook(args.old)
        nb = lib.library.rename_notebook(old.id, args.new)
    print(f"renamed notebook '{old.name}' to '{nb.name}'")
    return 0


def cmd_notebook_health(args: argparse.Namespace) -> int:
    from notebooklm_local.services.health import notebook_health

    paths, settings = _context(args)
    with _reading(paths):
        lib = _open(paths, settings, with_index=False)
        nb = lib.notebook(args.name)
        rep = notebook_health(lib.library, nb.id)
    if args.json:
        print(json.dumps(rep.to_json(), indent=2, ensure_ascii=False))
        return 0
    print(f"Citation health of '{nb.name}': {rep.answers} answer(s), {rep.outputs} studio output(s)")
    print(f"  sentences supported: {rep.supported} of {rep.sentences} ({rep.supported_share:.0%})")
    if rep.flags:
        print("  flags by kind: " + ", ".join(f"{k} {n}" for k, n in rep.flags.most_common()))
    print(f"  citations: {rep.citations}; span no longer matching the source: {len(rep.stale)}"
          + (f"; source removed: {rep.missing_sources}" if rep.missing_sources else ""))
    for c in rep.stale[:10]:
        print(f"    ! {c['source_title']} [{c['start']}:{c['end']}] \u201c{c['quote'][:80]}\u201d ({c['kind']})")
    return 0


def cmd_notebook_delete(args: argparse.Namespace) -> int:
    paths, settings = _context(args)
    with _locked(paths):
        lib = _open(paths, settings)
        nb = lib.notebook(args.name)
        if not args.yes:
            if not sys.stdin.isatty():
                raise NotebookError("Refusing to delete without confirmation; pass --yes.")
            answer = input(f"Delete notebook '{nb.name}' and its {len(lib.library.sources(nb.id))} sources? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("kept")
                return 1
        lib.delete_notebook(nb.id)
    print(f"deleted notebook '{nb.name}'")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from notebooklm_local.core.documents import SourceRef

    paths, settings = _context(args)
    items: list[Any] = []
    for item in args.items:
        if item == "-":
            items.append(SourceRef(text=sys.stdin.read(), title=args.title or "Pasted text"))
        elif args.password and item.lower().endswith(".pdf"):
            items.append(SourceRef(path=Path(item).expanduser().resolve(), password=args.password))
        else:
            items.append(item)
    progress = _TerminalProgress()
    with _locked(paths):
        lib = _open(paths, settings, with_index=not args.lexical_only)
        lib.confirm_large = _confirm_large(progress)
        try:
            report = lib.add(args.notebook, items, progress=progress)
        finally:
            progress.close()
    problems = set(report.problem_lines())
    for line in report.lines():  # failures and skipped inputs on stderr, so stdout holds only what was added
        print(line, file=sys.stderr if line in problems else sys.stdout)
    if not (report.added or report.failed or report.duplicates):
        skipped = f" ({len(report.skipped)} file(s) skipped, see above)" if report.skipped else ""
        print(f"nothing to add: no supported files in {', '.join(map(str, args.items))}{skipped}", file=sys.stderr)
        return 1
    return 1 if report.failed and not report.added else 0


def _confirm_large(progress: Any, *, adding: bool = True) -> Callable[[Any, int, float], str]:
    """Before long embedding: the size and time, up front; on a terminal, continue / lexical-only / cancel
    (cancel only when adding: a source being resumed or re-indexed is not removed)."""

    def ask(src: Any, chunks: int, seconds: float) -> str:
        msg = (f"{src.title or src.display}: {chunks:,} chunks to embed, about {format_duration(seconds)} on this "
               "machine.")
        try:
            interactive = sys.stdin.isatty() and sys.stderr.isatty()
        except (OSError, ValueError):
            interactive = False
        try:
            if not interactive:
                print(f"note: {msg} Continuing (Ctrl-C stops; `resume` finishes later; --lexical-only skips "
                      "embedding).", file=sys.stderr, flush=True)
                return "continue"
            progress.close()
            choices = ", or [x] cancel this source" if adding else ""
            answer = input(f"{msg}\n[c]ontinue, [l]exical-only (keyword search now; `resume` embeds later)"
                           f"{choices}? [c] ").strip().lower()
        except (OSError, EOFError, ValueError):
            return "continue"
        mapping = {"l": "lexical", "x": "cancel", "n": "cancel"} if adding else {"l": "lexical"}
        return mapping.get(answer[:1], "continue")

    return ask


def _source_json(s: Any) -> dict[str, Any]:
    return {"id": s.id, "title": s.title, "kind": s.kind, "status": s.status, "error": s.error, "flags": s.flags,
            "chunks": s.n_chunks, "selected": s.selected, **{k: v for k, v in s.ref.items() if k in ("path", "url")}}


def cmd_sources(args: argparse.Namespace) -> int:
    paths, settings = _context(args)
    with _reading(paths):
        srcs = _open(paths, settings, with_index=False).sources(args.notebook)
    if args.json:
        print(json.dumps([_source_json(s) for s in srcs], indent=2))
        return 0
    if not srcs:
        print("no sources yet — add some with: notebooklm-local add PATH_OR_URL --notebook NAME")
    for s in srcs:
        extra = f" — {s.error}" if s.error else (f" — {'; '.join(s.flags)}" if s.flags else "")
        print(f"{s.id[:8]}  {s.status:<9} {s.kind:<10} {s.n_chunks:>5} chunks  {s.title}{extra}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    paths, settings = _context(args)
    with _locked(paths):
        lib = _open(paths, settings)
        (sid,) = _resolve_sources(lib, args.notebook, [args.source])
        src = lib.remove_source(sid)
    print(f"removed '{src.title}'")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    title = args.title.strip()
    if not title:
        raise NotebookError("A source needs a title.")
    if len(title) > SOURCE_TITLE_MAX:
        raise NotebookError(f"Source titles are limited to {SOURCE_TITLE_MAX} characters (this one has {len(title)}).")
    paths, settings = _context(args)
    with _locked(paths):
        lib = _open(paths, settings, with_index=False)
        (sid,) = _resolve_sources(lib, args.notebook, [args.source])
        old = lib.library.source(sid)
        if title != old.title:
            lib.library.update_source(sid, title=title)
    print(f"renamed '{old.title}' to '{title}'" if title != old.title else f"'{title}' unchanged")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    """Like the sources pane's Re-index: drop the source's vectors, read its original again, chunk, embed."""
    from notebooklm_local.core.jobs import CancelToken
    from notebooklm_local.core.library import SourceStatus

    paths, settings = _context(args)
    token = CancelToken()
    progress = _TerminalProgress()
    failed = 0
    with _locked(paths):
        lib = _open(paths, settings, with_index=not args.lexical_only)
        lib.confirm_large = _confirm_large(progress, adding=False)
        ids = list(dict.fromkeys(_resolve_sources(lib, args.notebook, args.sources)))
        try:
            with _sigint_cancels(token):
                for n, sid in enumerate(ids):
                    token.raise_if_set()
                    src = lib.library.source(sid)
                    progress(n, len(ids), f"re-indexing {src.title}")
                    if lib.index is not None:
                        lib.index.delete_source(src.notebook_id, sid)
                    lib.library.update_source(sid, status=SourceStatus.QUEUED, error=None)
                    try:
                        done = lib.process(sid, cancel=token,
                                           progress=lambda d, t, m, n=n: progress(n, len(ids), m))
                    except Cancelled:
                        raise
                    except NotebookError as e:
                        progress.close()
                        print(f"failed: {src.title}: {e}", file=sys.stderr)
                        failed += 1
                        continue
                    progress.close()
                    print(f"re-indexed: {done.title} ({done.n_chunks} chunks)")
        except Cancelled:
            progress.close()
            print("Stopped. Run `notebooklm-local resume` to finish, or re-index again.", file=sys.stderr)
            raise
        finally:
            progress.close()
    return 1 if failed else 0


def _check_scope(args: argparse.Namespace, *, notebook_needed: bool) -> None:
    """--all and --notebook/--sources: search needs one of --notebook and --all; --all takes no --sources."""
    if getattr(args, "all_notebooks", False) and args.sources:
        raise NotebookError("--all searches every ready source of every notebook: leave out --sources.")
    if notebook_needed and not args.notebook:
        raise NotebookError("name a notebook with --notebook NAME, or search every notebook with --all.")


def cmd_search(args: argparse.Namespace) -> int:
    _check_scope(args, notebook_needed=not args.all_notebooks)
    paths, settings = _context(args)
    with _locked(paths) if args.mode != "lexical" else _reading(paths):  # Chroma: one process at a time
        lib = _open(paths, settings, with_index=args.mode != "lexical")
        ids = _resolve_sources(lib, args.notebook, args.sources) if args.sources else None
        hits = lib.search(None if args.all_notebooks else args.notebook, args.query, k=args.k, source_ids=ids,
                          mode=args.mode)
    if args.json:
        print(json.dumps([h.to_json() for h in hits], indent=2, ensure_ascii=False))
        return 0
    if not hits:
        print("no matching passages")
    for n, h in enumerate(hits, 1):
        loc = f", {h.location}" if h.location else ""
        snippet = " ".join(h.chunk.text.split())[:240]
        title = f"{h.notebook} \u203a {h.source.title}" if args.all_notebooks else h.source.title
        print(f"{n}. {title}{loc}  (score {h.score:.4f})\n   {snippet}")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    paths, settings = _context(args)
    progress = _TerminalProgress()
    with _locked(paths):
        lib = _open(paths, settings)
        lib.confirm_large = _confirm_large(progress, adding=False)
        try:
            messages = lib.resume(progress=progress)
        finally:
            progress.close()
    for m in messages or ["nothing to resume"]:
        print(m)
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    from notebooklm_local.core.library import Library
    from notebooklm_local.core.library_care import LibraryDamagedError
    from notebooklm_local.services.repair import repair_library

    paths, settings = _context(args)
    db = paths.data / "library.db"
    with _locked(paths):
        try:
            Library(db, backup=False).close()
            damaged = None
        except LibraryDamagedError as e:
            damaged = str(e)
        if damaged is None and not args.force:
            print(f"{db} passed its check (PRAGMA quick_check): nothing to repair (--force rebuilds it anyway)")
            return 0

        def reconcile(_lib: Any) -> dict[str, int]:
            svc = _open(paths, settings)
            try:
                return svc.reconcile()
            finally:
                svc.library.close()

        result = repair_library(db, reconcile)
    for line in result.lines():
        print(line)
    print("repaired: run `notebooklm-local resume` to finish sources that were queued again")
    return 0


def _templates(args: argparse.Namespace) -> Any:
    from notebooklm_local.extensions.runtime import template_store

    paths, _settings = _context(args)
    return template_store(paths)


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
    from notebooklm_local.extensions.runtime import open_chat

    question = sys.stdin.read() if args.question == "-" else args.question
    _check_scope(args, notebook_needed=True)
    paths, settings = _context(args)
    with _locked(paths):
        chat = open_chat(paths, settings)
        try:
            result = _ask_once(chat, args, question, new_session=not (args.session or args.continue_),
                               session=args.session)
            if args.save_note and not result.cancelled:
                from notebooklm_local.core.notes import NoteStore

                nb = chat.library.library.notebook(args.notebook)
                note = NoteStore(chat.library.library).add(
                    nb.id, " ".join(question.split())[:200], result.answer.text,
                    citations=[c.to_json() for c in result.answer.citations], tags=args.tag, origin_kind="chat",
                    origin_id=result.session_id)
                print(f"Saved as note {note.id[:8]}: {note.title}", file=sys.stderr)
        finally:
            chat.engine.close()
            _template_notices(chat)
    return 130 if result.cancelled else 0


def cmd_chat(args: argparse.Namespace) -> int:
    from notebooklm_local.extensions.runtime import open_chat

    _check_scope(args, notebook_needed=True)
    paths, settings = _context(args)
    tty = sys.stdin.isatty()
    with _locked(paths):
        chat = open_chat(paths, settings)
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
