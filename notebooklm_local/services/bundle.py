"""Export a notebook to one ``.zip`` bundle and import one (``core/bundle.py`` has the format and checks).

Export reads the library (no lock needed, no model) and writes the zip next to its target under a
temporary name, renamed into place only when complete. Import is all or nothing:

1. the bundle is opened and checked (zip structure, member names, sizes, manifest, format version);
2. every member is read and verified against its SHA-256; originals go to a temporary folder inside the
   data dir (``tmp/import-*``), never anywhere a member name says;
3. originals move into the content-addressed store, then one SQLite transaction writes the notebook,
   sources (with their extracted text and passages as they were: no re-extraction), notes, studio
   outputs and chats, with ids remapped so that citations resolve;
4. the new sources are embedded with this machine's embedder (vectors are never shipped).

A failure or Cancel at any step undoes what was done (the new notebook, or the rows and originals added
to an existing one) and removes the temporary folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebooklm_local import __version__
from notebooklm_local.core.bundle import (
    BundleError,
    BundleReader,
    BundleWriter,
    Limits,
    NotebookData,
    SourceData,
    collect_notebook,
    commit_import,
    embedder_of,
    manifest_for,
    parse_bundle,
    plan_import,
    write_notebook,
)
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.jobs import CancelToken, ProgressCallback, no_progress
from notebooklm_local.core.library import Library
from notebooklm_local.core.library_care import free_space
from notebooklm_local.core.settings import Settings
from notebooklm_local.core.templates import TemplateStore

__all__ = ["ExportReport", "ImportReport", "export_notebook", "import_bundle", "BundleError", "Limits", "settings_diff",
           "edited_templates"]

log = logging.getLogger(__name__)

# settings that describe this machine, not how the notebook's outputs were made: never exported
_MACHINE_KEYS = ("model.path", "model.embedding_path", "model.extra_paths", "model.hub_endpoint", "model.n_threads",
                 "model.n_gpu_layers", "server.", "index.host", "index.port", "index.backend", "ui.",
                 "disabled_plugins", "schema_version")


@dataclass
class ExportReport:
    path: Path
    notebook: str
    size: int
    sources: int
    notes: int
    outputs: int
    chats: int
    templates: list[str] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"exported '{self.notebook}' to {self.path} ({self.size / 1e6:.1f} MB): {self.sources} sources, "
               f"{self.notes} notes, {self.outputs} studio outputs, {self.chats} chats"
               + (f", templates: {', '.join(self.templates)}" if self.templates else "")]
        out += [f"left out: {w}: {why}" for w, why in self.left_out]
        return out


@dataclass
class ImportReport:
    notebook: str = ""
    notebook_id: str = ""
    new_notebook: bool = True
    sources: list[str] = field(default_factory=list)  # titles imported
    notes: int = 0
    outputs: int = 0
    chats: int = 0
    messages: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    templates: list[str] = field(default_factory=list)  # installed
    settings: dict[str, Any] = field(default_factory=dict)  # in the bundle, not applied
    embedder_from: str = ""
    embedder_to: str = ""
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        where = f"new notebook '{self.notebook}'" if self.new_notebook else f"notebook '{self.notebook}'"
        out = [f"imported into {where}: {len(self.sources)} sources, {self.notes} notes, {self.outputs} studio "
               f"outputs, {self.chats} chats ({self.messages} messages)"]
        if self.embedder_to:
            same = self.embedder_from == self.embedder_to
            out.append(f"embedded with {self.embedder_to}" + ("" if same or not self.embedder_from else
                                                               f" (the bundle was made with {self.embedder_from})"))
        else:
            out.append("keyword search only for now (no embedder): `notebooklm-local resume` embeds the sources")
        out += [f"template installed: {t} (undo with `notebooklm-local templates reset {t}`)" for t in self.templates]
        if self.settings:
            out.append("settings in the bundle, not applied (this machine's settings are kept): "
                       + ", ".join(f"{k}={v!r}" for k, v in self.settings.items()))
        out += [f"skipped: {w}: {why}" for w, why in self.skipped]
        out += [f"warning: {w}" for w in self.warnings]
        return out

    def to_json(self) -> dict[str, Any]:
        return {"notebook": self.notebook, "notebook_id": self.notebook_id, "new_notebook": self.new_notebook,
                "sources": self.sources, "notes": self.notes, "studio_outputs": self.outputs, "chats": self.chats,
                "messages": self.messages, "skipped": [{"what": w, "why": y} for w, y in self.skipped],
                "templates": self.templates, "settings_not_applied": self.settings,
                "embedder_from": self.embedder_from, "embedder_to": self.embedder_to, "warnings": self.warnings}


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def settings_diff(settings: Settings) -> dict[str, Any]:
    """The settings that differ from the defaults, except those that only describe this machine."""
    mine, default = _flat(settings.to_dict()), _flat(Settings().to_dict())
    return {k: v for k, v in mine.items()
            if v != default.get(k) and not any(k == m or (m.endswith(".") and k.startswith(m)) for m in _MACHINE_KEYS)}


def edited_templates(store: TemplateStore) -> dict[str, str]:
    """The user's templates whose text differs from the shipped default."""
    out: dict[str, str] = {}
    for name in store.names():
        if not store.is_overridden(name):
            continue
        try:
            text = (store.user_dir / f"{name}.toml").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        default = store.default_dir / f"{name}.toml"
        try:
            if default.is_file() and default.read_text(encoding="utf-8") == text:
                continue
        except OSError:
            pass
        out[name] = text
    return out


def _checker(cancel: CancelToken) -> Callable[[], None]:
    return cancel.raise_if_set


# -- export -----------------------------------------------------------------------------------------------

def export_notebook(
    library: Library, data_dir: Path, notebook: str, out: Path, *, templates: TemplateStore | None = None,
    settings: Settings | None = None, overwrite: bool = False, cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> ExportReport:
    """Write ``notebook`` (name or id) to the bundle ``out``; the file appears only once it is complete."""
    cancel = cancel or CancelToken()
    nb = library.notebook(notebook)
    out = out.expanduser()
    if out.suffix.lower() != ".zip":
        out = out.with_name(out.name + ".zip")
    if out.exists() and not overwrite:
        raise BundleError(f"{out} already exists (choose another name, or pass --force to replace it).")
    if not out.parent.is_dir():
        raise BundleError(f"The folder {out.parent} does not exist.")
    progress(0, 1, f"reading '{nb.name}'")
    data = collect_notebook(library, nb.id, data_dir)
    tpls = edited_templates(templates) if templates is not None else {}
    sets = settings_diff(settings) if settings is not None else {}
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.part")
    try:
        with tmp.open("wb") as f:
            writer = BundleWriter(f)
            try:
                write_notebook(writer, data, cancel=_checker(cancel),
                               progress=lambda d, t, m: progress(d, t + 1, f"writing {m}"))
                for name, text in sorted(tpls.items()):
                    writer.write_bytes(f"templates/{name}.toml", text.encode("utf-8"))
                writer.write_json("settings.json", sets)
                writer.finish(manifest_for(data, app_version=__version__, embedder=embedder_of(library, nb.id),
                                           extra={"templates": sorted(tpls)}))
            except BaseException:
                writer.abort()
                raise
        os.replace(tmp, out)
    except OSError as e:
        raise BundleError(f"The bundle could not be written to {out}: {e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    progress(1, 1, "done")
    return ExportReport(out, nb.name, out.stat().st_size, len(data.sources), len(data.notes), len(data.outputs),
                        len(data.chats), sorted(tpls), list(data.skipped))


# -- import -----------------------------------------------------------------------------------------------

def _temp_area(data_dir: Path) -> Path:
    area = data_dir / "tmp" / f"import-{uuid.uuid4().hex}"
    area.mkdir(parents=True)
    return area


def _stage_originals(reader: BundleReader, data: NotebookData, area: Path, cancel: CancelToken,
                     progress: ProgressCallback) -> None:
    """Copy (and verify) each source's original into the temporary area; names come from checksums only."""
    staged: dict[str, Path] = {}
    todo = [sd for sd in data.sources if sd.record.get("original")]
    for n, sd in enumerate(todo):
        cancel.raise_if_set()
        member = str(sd.record["original"])
        if member not in staged:
            progress(n, len(todo), f"checking the original of {sd.title}")
            target = area / f"{n:06d}.orig"  # never a name taken from the bundle
            with target.open("wb") as f:
                reader.copy_member(member, f, _checker(cancel))
            staged[member] = target
        sd.blob_path = staged[member]


def _place_blob(data_dir: Path, sd: SourceData, created: list[Path]) -> str | None:
    """Move a staged original into the content-addressed store (``blobs/ab/<sha><suffix>``)."""
    if sd.blob_path is None:
        return None
    member = str(sd.record["original"])
    rel = Path("blobs") / member[len("originals/"):][:2] / member[len("originals/"):]
    target = data_dir / rel
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        if sd.blob_path.exists():
            os.replace(sd.blob_path, target)
        else:  # the same original serves two sources: already moved
            return str(rel) if target.exists() else None
        created.append(target)
    return str(rel)


def import_bundle(
    service: Any, path: Path, *, into: str | None = None, templates: TemplateStore | None = None,
    limits: Limits | None = None, cancel: CancelToken | None = None, progress: ProgressCallback = no_progress,
) -> ImportReport:
    """Import the bundle at ``path`` as a new notebook (or ``into`` an existing one); all or nothing.

    ``service``: the :class:`~notebooklm_local.services.library_service.LibraryService` (its index, when it
    has one, embeds the new sources). ``templates``: where to install the bundle's edited templates (those
    this machine has no edited version of); None: templates are not installed.

    Raises:
        BundleError: the bundle is damaged, unsafe, too large or from a newer format (nothing imported).
        Cancelled: the user stopped it (nothing imported).
    """
    cancel = cancel or CancelToken()
    library: Library = service.library
    data_dir: Path = service.data_dir
    report = ImportReport()
    if into is not None:
        library.notebook(into)  # a clear error before any work
    progress(0, 4, f"checking {path.name}")
    with BundleReader(path, limits) as reader:
        free = free_space(data_dir)
        if free is not None and free < reader.total_bytes * 2 + 20_000_000:
            raise BundleError(f"Not enough free disk space to import {path.name}: it needs about "
                              f"{(reader.total_bytes * 2) / 1e6:.0f} MB, {free / 1e6:.0f} MB are free.")
        area = _temp_area(data_dir)
        created_blobs: list[Path] = []
        new_nb: str | None = None
        result = None
        try:
            data = parse_bundle(reader, _checker(cancel))
            _stage_originals(reader, data, area, cancel, progress)
            bundle_templates = {}
            for name in reader.names("templates/"):
                stem = name[len("templates/"):]
                if stem.endswith(".toml") and "/" not in stem:
                    bundle_templates[stem[:-5]] = reader.read_text(name)
            bundle_settings = reader.read_json("settings.json") if reader.has("settings.json") else {}
            cancel.raise_if_set()
            progress(1, 4, "writing the notebook")
            plan = plan_import(library, data, into)
            for sd, _existing in plan.duplicates:
                report.skipped.append((sd.title, "already in the notebook (same content)"))
            report.skipped += plan.skipped
            blobs = {sd.id: _place_blob(data_dir, sd, created_blobs) for sd in plan.sources}
            result = commit_import(library, plan, data, blob_of=lambda sd: blobs.get(sd.id))
            new_nb = plan.notebook_id if plan.new_notebook else None
            report.notebook, report.notebook_id, report.new_notebook = plan.notebook_name, plan.notebook_id, plan.new_notebook
            report.sources = [sd.title for sd in plan.sources]
            report.notes, report.outputs = len(result.notes), len(result.outputs)
            report.chats, report.messages = len(result.sessions), result.messages
            report.warnings += result.warnings
            report.embedder_from = str(reader.manifest.get("embedder") or "")
            report.embedder_to = service.index.model_id if service.index is not None else ""
            # embedding: the only slow step; each source's vectors from this machine's embedder
            for n, sid in enumerate(result.new_sources):
                cancel.raise_if_set()
                title = report.sources[n]
                progress(2, 4, f"indexing {title} ({n + 1}/{len(result.new_sources)})")
                service.process(sid, cancel=cancel,
                                progress=lambda d, t, m, title=title: progress(2, 4, m or f"indexing {title}"))
        except BaseException as e:
            _undo(service, new_nb, result, created_blobs)
            if isinstance(e, OSError) and not isinstance(e, NotebookError):
                raise BundleError(f"The bundle could not be imported (nothing was imported): {e}") from e
            raise
        finally:
            shutil.rmtree(area, ignore_errors=True)
            with contextlib.suppress(OSError):
                area.parent.rmdir()  # tmp/ when empty
    progress(3, 4, "templates")
    if templates is not None:
        _install_templates(templates, bundle_templates, report)
    if isinstance(bundle_settings, dict):
        mine = _flat(Settings().to_dict())
        report.settings = {k: v for k, v in bundle_settings.items() if isinstance(k, str) and k in mine}
    progress(4, 4, "done")
    return report


def _install_templates(store: TemplateStore, bundle: dict[str, str], report: ImportReport) -> None:
    for name, text in sorted(bundle.items()):
        if store.is_overridden(name):
            try:
                mine = (store.user_dir / f"{name}.toml").read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                mine = None
            if mine != text:
                report.skipped.append((f"template {name}", "you have your own edited version (kept)"))
            continue
        try:
            store.save(name, text)
        except NotebookError as e:
            report.skipped.append((f"template {name}", f"not valid here: {e}"))
            continue
        report.templates.append(name)


def _undo(service: Any, new_nb: str | None, result: Any, created_blobs: list[Path]) -> None:
    """Take back a partly done import (after its transaction committed): the new notebook, or the rows
    added to an existing one, with their vectors; then originals this import put in the store."""
    library: Library = service.library
    try:
        if new_nb is not None:
            service.delete_notebook(new_nb)
        elif result is not None:
            for sid in result.new_sources:
                with contextlib.suppress(NotebookError):
                    service.remove_source(sid)
            with library.transaction() as db:
                for nid in result.notes:
                    db.execute("DELETE FROM notes WHERE id = ?", (nid,))
                for oid in result.outputs:
                    db.execute("DELETE FROM studio_outputs WHERE id = ?", (oid,))
                for sid in result.sessions:
                    db.execute("DELETE FROM chat_sessions WHERE id = ?", (sid,))
    except Exception:  # the original error is what the user sees
        log.exception("could not fully undo a failed import")
    for p in created_blobs:
        rel = str(p.relative_to(service.data_dir))
        if not library.query("SELECT 1 FROM sources WHERE blob = ? LIMIT 1", (rel,)):
            p.unlink(missing_ok=True)

