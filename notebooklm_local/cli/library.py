"""Library commands: ``doctor``, ``init``, ``notebook create|list|rename|delete|health`` (and, through
``cli/bundle.py``, ``notebook export|import``), ``add``, ``sources``, ``remove``, ``rename``, ``reindex``,
``search``, ``resume`` and ``repair``.

``cli/main.py`` registers these with ``add_library_parsers(sub)`` and runs them like every command
(``args.func(args)``, NotebookError -> "error: ..." and exit 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from notebooklm_local.cli.common import TerminalProgress as _TerminalProgress
from notebooklm_local.cli.common import check_scope as _check_scope
from notebooklm_local.cli.common import context as _context
from notebooklm_local.cli.common import locked as _locked
from notebooklm_local.cli.common import resolve_sources as _resolve_sources
from notebooklm_local.cli.common import sigint_cancels as _sigint_cancels
from notebooklm_local.core.errors import Cancelled, NotebookError
from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import Settings, save_settings
from notebooklm_local.core.textutil import format_duration

__all__ = ["add_library_parsers", "SOURCE_TITLE_MAX"]

SOURCE_TITLE_MAX = 300  # as the sources pane's Rename


def add_library_parsers(sub: Any) -> None:
    """Register the library commands on the top-level sub-parsers ``sub``."""

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
    from notebooklm_local.cli.bundle import add_bundle_parsers

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
        from notebooklm_local.workspace import Workspace

        with _locked(paths), Workspace(paths, settings) as ws:
            name, report = ws.ensure_sample_notebook()
            print(f"sample notebook: {name}" + (f" ({len(report.added)} sources added)" if report else " (exists)"))
    return 0


def _reading(_paths: AppPaths) -> Any:
    """Read-only commands on SQLite only (sources, notebook list, lexical search) take no lock: WAL lets
    them read while another process (the app, an `add`) writes."""
    import contextlib

    return contextlib.nullcontext()


def _open(paths: AppPaths, settings: Settings, *, with_index: bool = True) -> Any:
    """The command's library service, from a workspace of its own (see ``notebooklm_local.workspace``)."""
    from notebooklm_local.workspace import Workspace

    return Workspace(paths, settings).library_service(with_index=with_index)


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
