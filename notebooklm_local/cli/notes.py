"""``notebooklm-local notes ...``: list, show, add, edit, delete and export a notebook's notes.

cli/main.py registers these with ``add_notes_parser(sub)`` and runs them like its own commands
(``args.func(args)``, NotebookError -> "error: ..." and exit 1). Like cli/models.py, this module does not
import cli/main.py (cli/main.py imports it). Notes live in the library database only, so these commands open only
the workspace's library (no index, no model). Commands that change notes hold the data-dir lock; reading and exporting
do not (SQLite in WAL mode reads safely while the app runs).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from notebooklm_local.cli.common import workspace
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.instance import InstanceLock
from notebooklm_local.core.note_export import ExportExists, export_notes, render_markdown
from notebooklm_local.core.notes import MAX_BODY_BYTES, Note, NoteStore, normalize_tag, normalize_tags
from notebooklm_local.core.paths import app_paths

__all__ = ["add_notes_parser"]


def add_notes_parser(sub: Any) -> None:
    """Register ``notes`` and its actions on the sub-parsers object of the main parser."""
    n = sub.add_parser("notes", help="list, show, add, edit, delete or export a notebook's notes (Markdown)")
    ns = n.add_subparsers(dest="notes_command", metavar="ACTION", required=True)

    ls = ns.add_parser("list", help="a notebook's notes, most recently changed first")
    ls.add_argument("--notebook", "-n", required=True)
    ls.add_argument("--tag", help="only notes with this tag")
    ls.add_argument("--query", "-q", help="only notes containing every word of this text")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=cmd_notes_list)

    sh = ns.add_parser("show", help="print a note (ID: the id or its first 6+ characters)")
    sh.add_argument("id", metavar="ID")
    sh.add_argument("--notebook", "-n", help="look for ID in this notebook only")
    fmt = sh.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the note as JSON, with its citations")
    fmt.add_argument("--markdown", action="store_true", help="the note as exported (front matter, footnotes)")
    sh.set_defaults(func=cmd_notes_show)

    a = ns.add_parser("add", help="add a note (text from --body, --from-file FILE, or - for stdin)")
    a.add_argument("--notebook", "-n", required=True)
    a.add_argument("--title", default="", help="the title (default: the text's first line)")
    a.add_argument("--tag", action="append", default=[], metavar="TAG", help="a tag (repeat for several)")
    _text_args(a)
    a.add_argument("--json", action="store_true", help="print the new note as JSON")
    a.set_defaults(func=cmd_notes_add)

    e = ns.add_parser("edit", help="change a note's title, text or tags")
    e.add_argument("id", metavar="ID")
    e.add_argument("--notebook", "-n", help="look for ID in this notebook only")
    e.add_argument("--title", help="the new title ('' derives it from the text)")
    _text_args(e)
    e.add_argument("--add-tag", action="append", default=[], metavar="TAG")
    e.add_argument("--remove-tag", action="append", default=[], metavar="TAG")
    e.set_defaults(func=cmd_notes_edit)

    d = ns.add_parser("delete", help="delete a note")
    d.add_argument("id", metavar="ID")
    d.add_argument("--notebook", "-n", help="look for ID in this notebook only")
    d.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    d.set_defaults(func=cmd_notes_delete)

    x = ns.add_parser("export", help="write notes as Markdown files (Obsidian-compatible: front matter, "
                      "tags, footnote citations)")
    x.add_argument("ids", nargs="*", metavar="ID", help="the notes to export (default with -n: all of them)")
    x.add_argument("--notebook", "-n", help="export this notebook's notes")
    x.add_argument("--all", action="store_true", help="every note of the notebook (the default without IDs)")
    x.add_argument("--tag", help="only notes with this tag")
    x.add_argument("--out", "-o", required=True, metavar="PATH",
                   help="a folder (one .md per note), or a .md file (all notes in one file)")
    x.add_argument("--single-file", action="store_true", help="write one combined file even if PATH has no .md")
    x.add_argument("--force", action="store_true", help="replace files that exist already")
    x.add_argument("--exporter", default="markdown", metavar="NAME",
                   help="markdown (default) or a plugin's exporter, e.g. obsidian (a vault folder with its sources)")
    x.set_defaults(func=cmd_notes_export)


def _text_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--body", metavar="TEXT", help="the note's Markdown text ('-' reads stdin)")
    g.add_argument("--from-file", metavar="FILE", help="read the text from FILE ('-' reads stdin)")


@contextlib.contextmanager
def _notes(args: argparse.Namespace, *, write: bool) -> Iterator[NoteStore]:
    """The workspace's note store (only its database is opened: no index, no plugins, no model)."""
    ws = workspace(args)
    with InstanceLock(ws.paths.lock_file) if write else contextlib.nullcontext():
        try:
            yield ws.note_store()
        finally:
            ws.close()


def _decode(data: bytes, where: str) -> str:
    if len(data) > MAX_BODY_BYTES:
        raise NotebookError(f"{where} is larger than {MAX_BODY_BYTES // 1024 // 1024} MB; notes are limited to that.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise NotebookError(f"{where} is not UTF-8 text ({e.reason} at byte {e.start}).") from None


def _read_text(args: argparse.Namespace) -> str | None:
    """The text given by --body / --from-file (None when neither was given)."""
    if args.body is not None and args.body != "-":
        return str(args.body)
    source = "-" if args.body == "-" else args.from_file
    if source is None:
        return None
    if source == "-":
        return _decode(sys.stdin.buffer.read(MAX_BODY_BYTES + 1), "The text on stdin")
    path = Path(source).expanduser()
    try:
        if path.stat().st_size > MAX_BODY_BYTES:
            raise NotebookError(f"{path} is larger than {MAX_BODY_BYTES // 1024 // 1024} MB; notes are limited "
                                "to that.")
        return _decode(path.read_bytes(), str(path))
    except OSError as e:
        raise NotebookError(f"Cannot read {path}: {e.strerror or e}.") from None


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _summary(note: Note) -> dict[str, Any]:
    d = note.to_json()
    d.pop("body")
    d["citations"] = len(note.citations)
    d["chars"] = len(note.body)
    return d


def _notebook_names(store: NoteStore) -> dict[str, str]:
    return {nb.id: nb.name for nb in store.library.notebooks()}


def _notebook_id(store: NoteStore, name: str | None) -> str | None:
    return store.library.notebook(name).id if name else None


def cmd_notes_list(args: argparse.Namespace) -> int:
    with _notes(args, write=False) as store:
        nb = store.library.notebook(args.notebook)
        notes = store.list(nb.id, tag=args.tag, query=args.query)
    if args.json:
        print(json.dumps([_summary(n) for n in notes], indent=2, ensure_ascii=False))
        return 0
    if not notes:
        if args.tag or args.query:
            print("no matching notes")
        else:
            print(f"no notes yet — add one with: notebooklm-local notes add -n \"{nb.name}\" --title TITLE --body TEXT")
    for n in notes:
        tags = "  " + " ".join(f"#{t}" for t in n.tags) if n.tags else ""
        print(f"{n.id[:8]}  {_date(n.updated)}  {n.title}{tags}")
    return 0


def cmd_notes_show(args: argparse.Namespace) -> int:
    with _notes(args, write=False) as store:
        note = store.get(args.id, notebook_id=_notebook_id(store, args.notebook))
        nb_name = _notebook_names(store).get(note.notebook_id, note.notebook_id)
    if args.json:
        print(json.dumps({**note.to_json(), "notebook": nb_name}, indent=2, ensure_ascii=False))
    elif args.markdown:
        print(render_markdown(note, notebook_name=nb_name), end="")
    else:
        print(note.title)
        meta = [f"id {note.id}", f"notebook '{nb_name}'", f"updated {_date(note.updated)}"]
        if note.origin_kind != "manual":
            meta.append(f"from {note.origin_kind}")
        if note.tags:
            meta.append(" ".join(f"#{t}" for t in note.tags))
        print(" · ".join(meta))
        print()
        print(note.body.rstrip("\n"))
        if note.citations:
            print("\nCitations:")
            for c in note.citations:
                loc = f", {c.get('location')}" if c.get("location") else ""
                quote = " ".join(str(c.get("quote") or "").split())
                quote = quote if len(quote) <= 200 else quote[:199] + "\u2026"
                print(f"  [{c.get('passage_id')}] {c.get('source_title') or 'Source'}{loc} — \u201c{quote}\u201d")
    return 0


def cmd_notes_add(args: argparse.Namespace) -> int:
    body = _read_text(args)
    if body is None:
        raise NotebookError("Give the note's text with --body TEXT, --from-file FILE, or --from-file - (stdin).")
    with _notes(args, write=True) as store:
        nb = store.library.notebook(args.notebook)
        note = store.add(nb.id, args.title, body, tags=args.tag)
    if args.json:
        print(json.dumps(note.to_json(), indent=2, ensure_ascii=False))
    else:
        print(f"added note {note.id[:8]} '{note.title}' to '{nb.name}'")
    return 0


def cmd_notes_edit(args: argparse.Namespace) -> int:
    body = _read_text(args)
    if body is None and args.title is None and not args.add_tag and not args.remove_tag:
        raise NotebookError("Nothing to change: give --title, --body, --from-file, --add-tag or --remove-tag.")
    with _notes(args, write=True) as store:
        note = store.get(args.id, notebook_id=_notebook_id(store, args.notebook))
        tags = None
        if args.add_tag or args.remove_tag:
            drop = {t.casefold() for t in normalize_tags(args.remove_tag)}
            tags = [t for t in [*note.tags, *normalize_tags(args.add_tag)] if t.casefold() not in drop]
        note = store.update(note.id, title=args.title, body=body, tags=tags)
    print(f"updated note {note.id[:8]} '{note.title}'")
    return 0


def cmd_notes_delete(args: argparse.Namespace) -> int:
    with _notes(args, write=True) as store:
        note = store.get(args.id, notebook_id=_notebook_id(store, args.notebook))
        if not args.yes:
            if not sys.stdin.isatty():
                raise NotebookError("Refusing to delete without confirmation; pass --yes.")
            answer = input(f"Delete note '{note.title}'? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("kept")
                return 1
        store.delete(note.id)
    print(f"deleted note {note.id[:8]} '{note.title}'")
    return 0


def _plugin_exporter(args: argparse.Namespace, store: NoteStore, notes: list[Note]) -> tuple[Any, list[Any]]:
    """(exporter, the notes' notebooks' sources) for ``--exporter NAME``; (None, []) for the built-in markdown."""
    if args.exporter.strip().casefold() == "markdown":
        return None, []
    if args.single_file:
        raise NotebookError("--single-file is an option of the markdown exporter only.")
    from notebooklm_local.core.exporters import export_sources, find_exporter
    from notebooklm_local.core.settings import load_settings
    from notebooklm_local.extensions.manager import PluginManager

    paths = app_paths(args.basedir)
    manager = PluginManager(paths, load_settings(paths.settings_file), safe_mode=getattr(args, "safe_mode", False))
    manager.load_all()
    exporter = find_exporter(manager.exporters(), args.exporter)
    return exporter, export_sources(store.library, [n.notebook_id for n in notes])


def cmd_notes_export(args: argparse.Namespace) -> int:
    if not args.ids and not args.notebook:
        raise NotebookError("Say what to export: -n NOTEBOOK (all its notes) or note IDs.")
    if args.ids and args.all:
        raise NotebookError("Give either note IDs or --all, not both.")
    with _notes(args, write=False) as store:
        nb_id = _notebook_id(store, args.notebook)
        if nb_id is not None and not args.ids:
            notes = store.list(nb_id, tag=args.tag)
            notes.reverse()  # oldest first reads better in a combined file
        else:
            notes = list({n.id: n for n in (store.get(i, notebook_id=nb_id) for i in args.ids)}.values())
            if args.tag:
                want = normalize_tag(args.tag).casefold()
                notes = [n for n in notes if any(t.casefold() == want for t in n.tags)]
        names = _notebook_names(store)
        exporter, sources = _plugin_exporter(args, store, notes)
    if not notes:
        where = f" in '{args.notebook}'" if args.notebook else ""
        raise NotebookError(f"No notes{where}{f' tagged {args.tag}' if args.tag else ''} to export.")
    try:
        if exporter is None:
            written = export_notes(notes, args.out, notebook_name=names, force=args.force,
                                   single_file=args.single_file)
        else:
            written = exporter.export(notes, Path(args.out), notebook_name=names, sources=sources, force=args.force)
    except ExportExists as e:
        raise NotebookError(f"{e} Pass --force to replace.") from None
    print(f"exported {len(notes)} note{'s' if len(notes) != 1 else ''}:")
    for p in written:
        print(f"  {p}")
    return 0
