"""``notebooklm-local notebook export NAME -o FILE.zip`` and ``notebook import FILE.zip [--into NAME]``: notebook
bundles (``services/bundle.py``), the CLI side of the GUI's Notebook ▸ Export notebook… / Import notebook….

cli/main.py registers these on its ``notebook`` sub-parsers with ``add_bundle_parsers(nbs)`` and runs them like its
own commands (NotebookError -> "error: ..." and exit 1; Cancelled (Ctrl-C) -> exit 130, nothing imported).
Export only reads (no lock, no model); import holds the data-dir lock and embeds the new sources.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from notebooklm_local.cli.common import TerminalProgress, locked, sigint_cancels, workspace
from notebooklm_local.core.jobs import CancelToken

__all__ = ["add_bundle_parsers"]


def add_bundle_parsers(nbs: Any) -> None:
    """Register ``export`` and ``import`` on the ``notebook`` command's sub-parsers."""
    ex = nbs.add_parser("export", help="write a notebook (sources, notes, studio outputs, chats) to one .zip bundle")
    ex.add_argument("name", metavar="NAME", help="the notebook's name (or id)")
    ex.add_argument("-o", "--output", required=True, metavar="FILE.zip", help="the bundle to write")
    ex.add_argument("--force", action="store_true", help="replace FILE.zip when it exists")
    ex.add_argument("--json", action="store_true", help="print the report as JSON")
    ex.set_defaults(func=cmd_notebook_export)

    im = nbs.add_parser("import", help="import a notebook bundle (.zip) as a new notebook, or into an existing one")
    im.add_argument("file", metavar="FILE.zip")
    im.add_argument("--into", metavar="NAME", help="add to this notebook (sources it already has are skipped)")
    im.add_argument("--no-templates", action="store_true", help="do not install the bundle's edited templates")
    im.add_argument("--lexical-only", action="store_true",
                    help="keyword search only for now (no embedding; `resume` embeds later)")
    im.add_argument("--json", action="store_true", help="print the report as JSON")
    im.set_defaults(func=cmd_notebook_import)


def cmd_notebook_export(args: argparse.Namespace) -> int:
    from notebooklm_local.services.bundle import export_notebook

    ws = workspace(args)
    token = CancelToken()
    progress = TerminalProgress()
    library = ws.library()
    try:
        with sigint_cancels(token):
            rep = export_notebook(library, ws.paths.data, args.name, Path(args.output), templates=ws.template_store(),
                                  settings=ws.settings, overwrite=args.force, cancel=token, progress=progress)
    finally:
        progress.close()
        ws.close()
    if args.json:
        print(json.dumps({"path": str(rep.path), "notebook": rep.notebook, "bytes": rep.size, "sources": rep.sources,
                          "notes": rep.notes, "studio_outputs": rep.outputs, "chats": rep.chats,
                          "templates": rep.templates, "left_out": [{"what": w, "why": y} for w, y in rep.left_out]},
                         indent=2, ensure_ascii=False))
    else:
        lines = rep.lines()
        print(lines[0])
        for line in lines[1:]:
            print(line, file=sys.stderr)
    return 0


def cmd_notebook_import(args: argparse.Namespace) -> int:
    from notebooklm_local.services.bundle import import_bundle

    ws = workspace(args)
    token = CancelToken()
    progress = TerminalProgress()
    with locked(ws.paths):
        lib = ws.library_service(with_index=not args.lexical_only)
        try:
            with sigint_cancels(token):
                rep = import_bundle(lib, Path(args.file).expanduser(), into=args.into,
                                    templates=None if args.no_templates else ws.template_store(),
                                    cancel=token, progress=progress)
        finally:
            progress.close()
    if args.json:
        print(json.dumps(rep.to_json(), indent=2, ensure_ascii=False))
        return 0
    for line in rep.lines():  # what was skipped, and warnings, on stderr: stdout says what was imported
        print(line, file=sys.stderr if line.startswith(("skipped: ", "warning: ")) else sys.stdout)
    return 0
