"""Notebook bundles: one ``.zip`` with a notebook's sources, notes, studio outputs and chats (pure Python).

Layout (format version 1)::

    manifest.json                 format, versions, embedder, created, one entry per file (size, sha256)
    notebook.json                 name, times, the notebook's own settings
    sources.json                  one record per source (ref, kind, title, sha256, original, flags, meta, ...)
    sources/<id>/text.txt         the extracted text (what citations' spans index into)
    sources/<id>/blocks.json      its structure (pages, headings, timestamps)
    sources/<id>/chunks.json      its passages as indexed (ordinal, text, span, page, heading, time)
    originals/<sha256><suffix>    the content-addressed originals the library keeps
    notes.json, studio.json, chats.json
    templates/<name>.toml         the user's prompt templates that differ from the defaults
    settings.json                 app settings that differ from the defaults (informational)

Vectors are not shipped: an import re-embeds with the importing machine's embedder.

Reading is defensive (:class:`BundleReader`): a truncated or damaged zip, a bundle from a newer format,
member names that would escape a folder (``../``, absolute paths, drive letters, symlinks), members the
manifest does not list (or lists with another size), checksums that do not match, and sizes over the
limits (declared and actual: a zip bomb stops at the cap) are refused with a :class:`BundleError`
before anything is imported. :func:`commit_import` writes everything in one SQLite transaction, with
source, chunk, note, output and chat ids remapped so that citations resolve in the new library.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sqlite3
import stat
import time
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.library import Library, SourceStatus

__all__ = [
    "BUNDLE_FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "BundleError",
    "Limits",
    "BundleReader",
    "BundleWriter",
    "NotebookData",
    "SourceData",
    "collect_notebook",
    "parse_bundle",
    "plan_import",
    "commit_import",
    "remap_refs",
    "unique_name",
    "member_problem",
]

BUNDLE_FORMAT = "notebooklm-local-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SUFFIX = re.compile(r"(\.[A-Za-z0-9]{1,12})?")
_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_DRIVE = re.compile(r"^[A-Za-z]:")
_ORIGIN = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_STATUSES = {SourceStatus.EXTRACTED, SourceStatus.CHUNKED, SourceStatus.EMBEDDED, SourceStatus.READY}


class BundleError(NotebookError):
    """The bundle cannot be exported or imported; the message says why (nothing was imported)."""


@dataclass(frozen=True)
class Limits:
    """What an import accepts (the zip-bomb and sanity guards)."""

    max_members: int = 200_000
    max_member_bytes: int = 2 * 1024**3  # one uncompressed member
    max_total_bytes: int = 8 * 1024**3  # all members, uncompressed
    max_json_bytes: int = 512 * 1024**2  # one JSON member (read into memory)
    max_ratio: int = 400  # uncompressed : compressed, for members over 1 MiB (text ~3-20, zeros ~1000)


# -- member names ---------------------------------------------------------------------------------------

def member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member may not be extracted anywhere (None when its name and type are safe)."""
    name = info.filename
    if not name or "\x00" in name:
        return "an empty or NUL-containing name"
    if "\\" in name:
        return "a backslash in the name"
    if name.startswith("/") or _DRIVE.match(name):
        return "an absolute path"
    parts = name.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "a path that leaves its folder ('..' or an empty part)"
    mode = (info.external_attr >> 16) & 0xFFFF
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # many zips set permission bits only
        return "a special file (not a regular file)"
    return None


# -- reading --------------------------------------------------------------------------------------------

class BundleReader:
    """A bundle opened for import: structure, manifest and limits checked on opening; contents on reading.

    Every read goes through :meth:`open_member`, which stops at the manifest's size and checks the
    SHA-256 at the end, so a member is never used before it is verified.
    """

    def __init__(self, path: Path, limits: Limits | None = None) -> None:
        self.path = path
        self.limits = limits or Limits()
        try:
            self._zip = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise BundleError(f"No bundle at {path}.") from None
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise BundleError(f"{path.name} is not a complete .zip bundle (truncated or damaged: {e}).") from None
        try:
            self._check_structure()
            self.manifest = self._read_manifest()
            self._check_manifest()
        except BaseException:
            self._zip.close()
            raise

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> BundleReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # structure: names, types, sizes, duplicates
    def _check_structure(self) -> None:
        lim = self.limits
        infos = self._zip.infolist()
        if len(infos) > lim.max_members:
            raise BundleError(f"The bundle has {len(infos)} files; at most {lim.max_members} are accepted.")
        seen: set[str] = set()
        total = 0
        self._infos: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            why = member_problem(info)
            if why is not None:
                raise BundleError(f"The bundle is refused: the member {info.filename!r} has {why} "
                                  "(it could write outside the folder it is imported into).")
            if info.is_dir():
                continue
            key = info.filename.casefold()
            if key in seen:
                raise BundleError(f"The bundle is refused: {info.filename!r} appears twice.")
            seen.add(key)
            if info.file_size > lim.max_member_bytes:
                raise BundleError(f"The bundle is refused: {info.filename!r} would be {_size(info.file_size)} "
                                  f"uncompressed (limit {_size(lim.max_member_bytes)}).")
            if info.file_size > 1024**2 and info.file_size > lim.max_ratio * max(1, info.compress_size):
                raise BundleError(f"The bundle is refused: {info.filename!r} expands {info.file_size // max(1, info.compress_size)} "
                                  "times (a zip bomb?).")
            total += info.file_size
            if total > lim.max_total_bytes:
                raise BundleError(f"The bundle is refused: its files add up to more than {_size(lim.max_total_bytes)} "
                                  "uncompressed.")
            self._infos[info.filename] = info
        self.total_bytes = total

    def _read_manifest(self) -> dict[str, Any]:
        info = self._infos.get(MANIFEST)
        if info is None:
            raise BundleError(f"{self.path.name} is not a notebook bundle (it has no {MANIFEST}).")
        if info.file_size > 64 * 1024**2:
            raise BundleError(f"The bundle is refused: its {MANIFEST} is {_size(info.file_size)}.")
        data = self._read_capped(info, info.file_size)
        try:
            manifest = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise BundleError(f"The bundle's {MANIFEST} is not valid JSON: {e}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"{self.path.name} is not a notebooklm-local notebook bundle.")
        version = manifest.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise BundleError(f"The bundle's format version {version!r} is not valid.")
        if version > FORMAT_VERSION:
            made = manifest.get("app_version") or "a newer version"
            raise BundleError(f"This bundle was made by notebooklm-local {made} (bundle format {version}); this "
                              f"version reads bundle format {FORMAT_VERSION} and older. Update notebooklm-local "
                              "to import it.")
        return manifest

    def _check_manifest(self) -> None:
        files = self.manifest.get("files")
        if not isinstance(files, list):
            raise BundleError(f"The bundle's {MANIFEST} lists no files.")
        self.files: dict[str, tuple[int, str]] = {}
        for f in files:
            if not (isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("size"), int)
                    and isinstance(f.get("sha256"), str) and _HEX64.fullmatch(f["sha256"])):
                raise BundleError(f"The bundle's {MANIFEST} has a malformed file entry: {str(f)[:200]}")
            self.files[f["path"]] = (f["size"], f["sha256"])
        for name, info in self._infos.items():
            if name == MANIFEST:
                continue
            if name not in self.files:
                raise BundleError(f"The bundle is refused: {name!r} is not listed in its manifest.")
            if self.files[name][0] != info.file_size:
                raise BundleError(f"The bundle is damaged: {name!r} is {info.file_size} bytes, the manifest says "
                                  f"{self.files[name][0]}.")
        missing = [p for p in self.files if p not in self._infos]
        if missing:
            raise BundleError(f"The bundle is incomplete: {missing[0]!r} (and {len(missing) - 1} more) is listed "
                              "in the manifest but missing." if len(missing) > 1 else
                              f"The bundle is incomplete: {missing[0]!r} is listed in the manifest but missing.")

    def _read_capped(self, info: zipfile.ZipInfo, cap: int) -> bytes:
        buf = io.BytesIO()
        for block in self._blocks(info, cap):
            buf.write(block)
        return buf.getvalue()

    def _blocks(self, info: zipfile.ZipInfo, cap: int) -> Iterator[bytes]:
        """The member's bytes in blocks, stopping with an error past ``cap`` bytes (whatever the header says)."""
        n = 0
        try:
            with self._zip.open(info) as f:
                while True:
                    block = f.read(1024 * 1024)
                    if not block:
                        break
                    n += len(block)
                    if n > cap:
                        raise BundleError(f"The bundle is refused: {info.filename!r} is larger than it declares "
                                          "(a zip bomb?).")
                    yield block
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as e:
            raise BundleError(f"The bundle is damaged: {info.filename!r} cannot be read ({e}).") from None

    def names(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self.files if n.startswith(prefix))

    def has(self, name: str) -> bool:
        return name in self.files

    def copy_member(self, name: str, out: IO[bytes], cancel: Callable[[], None] | None = None) -> int:
        """Write a member to ``out``, checking its size and SHA-256 against the manifest; returns its size."""
        if name not in self.files:
            raise BundleError(f"The bundle has no {name!r}.")
        size, sha = self.files[name]
        h = hashlib.sha256()
        n = 0
        for block in self._blocks(self._infos[name], size):
            if cancel is not None:
                cancel()
            h.update(block)
            out.write(block)
            n += len(block)
        if n != size or h.hexdigest() != sha:
            raise BundleError(f"The bundle is damaged or was changed: the checksum of {name!r} does not match "
                              "its manifest.")
        return n

    def read_bytes(self, name: str) -> bytes:
        size = self.files.get(name, (0, ""))[0]
        if size > self.limits.max_json_bytes:
            raise BundleError(f"The bundle is refused: {name!r} is {_size(size)} (limit {_size(self.limits.max_json_bytes)}).")
        buf = io.BytesIO()
        self.copy_member(name, buf)
        return buf.getvalue()

    def read_text(self, name: str) -> str:
        try:
            return self.read_bytes(name).decode("utf-8")
        except UnicodeDecodeError:
            raise BundleError(f"The bundle is damaged: {name!r} is not UTF-8 text.") from None

    def read_json(self, name: str) -> Any:
        try:
            return json.loads(self.read_text(name))
        except ValueError as e:
            raise BundleError(f"The bundle is damaged: {name!r} is not valid JSON ({e}).") from None


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


# -- writing --------------------------------------------------------------------------------------------

class BundleWriter:
    """Write members (with their size and SHA-256 recorded), then the manifest (:meth:`finish`)."""

    def __init__(self, out: IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        self.files: list[dict[str, Any]] = []

    def write_bytes(self, name: str, data: bytes) -> None:
        self._zip.writestr(_info(name), data)
        self.files.append({"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})

    def write_json(self, name: str, obj: Any) -> None:
        self.write_bytes(name, json.dumps(obj, ensure_ascii=False, indent=1).encode("utf-8"))

    def write_file(self, name: str, path: Path, cancel: Callable[[], None] | None = None) -> None:
        h = hashlib.sha256()
        n = 0
        with path.open("rb") as src, self._zip.open(_info(name), "w", force_zip64=True) as dst:
            while block := src.read(1024 * 1024):
                if cancel is not None:
                    cancel()
                h.update(block)
                dst.write(block)
                n += len(block)
        self.files.append({"path": name, "size": n, "sha256": h.hexdigest()})

    def finish(self, manifest: dict[str, Any]) -> None:
        manifest = {**manifest, "files": self.files}
        self._zip.writestr(_info(MANIFEST), json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
        self._zip.close()

    def abort(self) -> None:
        try:
            self._zip.close()
        except Exception:  # noqa: BLE001, S110 - the file is discarded anyway
            pass


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    return info


# -- the data -------------------------------------------------------------------------------------------

@dataclass
class SourceData:
    record: dict[str, Any]  # id, ref, kind, title, sha256, original, status, flags, meta, selected, created
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)  # id, ordinal, text, start, end, page, ...
    blob_path: Path | None = None  # the original on disk (export) or in the import's temporary area

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def title(self) -> str:
        return str(self.record.get("title") or self.record.get("id"))


@dataclass
class NotebookData:
    notebook: dict[str, Any]  # name, created, updated, settings
    sources: list[SourceData] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    chats: list[dict[str, Any]] = field(default_factory=list)  # sessions, each with its messages
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why) left out of the bundle


_CHUNK_COLS = ("id", "ordinal", "text", "char_start", "char_end", "page", "page_end", "heading", "t_start", "t_end",
               "n_tokens")


def original_member(sha: str, blob: str) -> str:
    suffix = Path(blob).suffix
    return f"originals/{sha}{suffix if _SUFFIX.fullmatch(suffix) else ''}"


def collect_notebook(library: Library, notebook_id: str, data_dir: Path) -> NotebookData:
    """Everything a bundle holds about a notebook, read from the library (nothing is changed)."""
    nb_row = library.query("SELECT * FROM notebooks WHERE id = ?", (notebook_id,))
    if not nb_row:
        raise BundleError(f"No notebook with id {notebook_id}.")
    row = dict(nb_row[0])
    try:  # the notebook's own settings (migration 5: chat goal, ...), a JSON object
        settings = json.loads(row.get("settings") or "{}")
    except ValueError:
        settings = {}
    settings = settings if isinstance(settings, dict) else {}
    data = NotebookData({"name": row["name"], "created": row["created"], "updated": row["updated"],
                         "settings": settings})
    for s in library.sources(notebook_id):
        ref = {k: v for k, v in s.ref.items() if k != "path"}
        if s.ref.get("path"):  # the file's name only: where it lived on this machine stays here
            ref["file_name"] = Path(str(s.ref["path"])).name
        rec = {"id": s.id, "ref": ref, "kind": s.kind, "title": s.title, "sha256": s.sha256, "original": None,
               "status": s.status, "flags": s.flags, "meta": s.meta, "selected": s.selected,
               "created": s.created, "updated": s.updated}
        if s.status not in _STATUSES:
            data.skipped.append((s.display, f"not indexed ({s.status}{': ' + s.error if s.error else ''})"))
            continue
        try:
            text, blocks = library.source_text(s.id)
        except NotebookError:
            data.skipped.append((s.display, "its extracted text is not stored"))
            continue
        sd = SourceData(rec, text, blocks)
        if s.blob and s.sha256 and _HEX64.fullmatch(s.sha256):
            p = data_dir / s.blob
            if p.is_file():
                rec["original"] = original_member(s.sha256, s.blob)
                sd.blob_path = p
        rows = library.query(f"SELECT {', '.join(_CHUNK_COLS)} FROM chunks WHERE source_id = ? ORDER BY ordinal",  # noqa: S608 - fixed column names
                             (s.id,))
        sd.chunks = [dict(r) for r in rows]
        data.sources.append(sd)
    for r in library.query("SELECT * FROM notes WHERE notebook_id = ? ORDER BY created, id", (notebook_id,)):
        d = dict(r)
        data.notes.append({"id": d["id"], "title": d["title"], "body": d["body"], "tags": json.loads(d["tags"]),
                           "citations": json.loads(d["citations"]), "origin_kind": d["origin_kind"],
                           "origin_id": d["origin_id"], "created": d["created"], "updated": d["updated"]})
    for r in library.query("SELECT * FROM studio_outputs WHERE notebook_id = ? ORDER BY created, id", (notebook_id,)):
        d = dict(r)
        data.outputs.append({"id": d["id"], "kind": d["kind"], "title": d["title"],
                             "source_ids": json.loads(d["source_ids"]), "options": json.loads(d["options"]),
                             "model": d["model"], "template": d["template"], "payload": json.loads(d["payload"]),
                             "created": d["created"], "updated": d["updated"]})
    for r in library.query("SELECT * FROM chat_sessions WHERE notebook_id = ? ORDER BY created, id", (notebook_id,)):
        sess = dict(r)
        msgs = library.query("SELECT role, content, payload, created FROM chat_messages WHERE session_id = ? "
                             "ORDER BY id", (sess["id"],))
        data.chats.append({"id": sess["id"], "title": sess["title"], "created": sess["created"],
                           "updated": sess["updated"],
                           "messages": [{"role": m["role"], "content": m["content"], "payload": json.loads(m["payload"]),
                                         "created": m["created"]} for m in msgs]})
    return data


def embedder_of(library: Library, notebook_id: str) -> str:
    """The embedding model most of the notebook's chunks were embedded with ('' when none)."""
    rows = library.query(
        "SELECT c.embedded_model, count(*) AS n FROM chunks c JOIN sources s ON s.id = c.source_id "
        "WHERE s.notebook_id = ? AND c.embedded_model IS NOT NULL GROUP BY c.embedded_model ORDER BY n DESC LIMIT 1",
        (notebook_id,))
    return str(rows[0][0]) if rows else ""


def write_notebook(writer: BundleWriter, data: NotebookData, *, cancel: Callable[[], None] | None = None,
                   progress: Callable[[int, int, str], None] | None = None) -> None:
    """Write every member of ``data`` (not the manifest)."""
    total = len(data.sources) + 4
    step = 0

    def tick(what: str) -> None:
        nonlocal step
        if cancel is not None:
            cancel()
        if progress is not None:
            progress(step, total, what)
        step += 1

    tick("notebook")
    writer.write_json("notebook.json", data.notebook)
    written: set[str] = set()
    for sd in data.sources:
        tick(f"source {sd.title}")
        base = f"sources/{sd.id}/"
        writer.write_bytes(base + "text.txt", sd.text.encode("utf-8", "surrogatepass"))
        writer.write_json(base + "blocks.json", sd.blocks)
        writer.write_json(base + "chunks.json", sd.chunks)
        member = sd.record.get("original")
        if member and sd.blob_path is not None and member not in written:
            writer.write_file(member, sd.blob_path, cancel)
            written.add(member)
    writer.write_json("sources.json", [sd.record for sd in data.sources])
    tick("notes")
    writer.write_json("notes.json", data.notes)
    tick("studio outputs")
    writer.write_json("studio.json", data.outputs)
    tick("chats")
    writer.write_json("chats.json", data.chats)


def manifest_for(data: NotebookData, *, app_version: str, embedder: str, extra: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    now = time.time()
    return {
        "format": BUNDLE_FORMAT, "format_version": FORMAT_VERSION, "app_version": app_version,
        "embedder": embedder, "created": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        "created_ts": now, "notebook": data.notebook.get("name", ""),
        "counts": {"sources": len(data.sources), "notes": len(data.notes), "studio_outputs": len(data.outputs),
                   "chats": len(data.chats), "messages": sum(len(c["messages"]) for c in data.chats)},
        "left_out": [{"what": w, "why": y} for w, y in data.skipped],
        **(extra or {}),
    }


# -- parsing a bundle's data (types checked: nothing malformed reaches the database) ----------------------

def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise BundleError(f"The bundle is damaged: {where}: {what}.")


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _opt(v: Any, check: Callable[[Any], bool]) -> bool:
    return v is None or check(v)


def parse_bundle(reader: BundleReader, cancel: Callable[[], None] | None = None) -> NotebookData:
    """Read and check the bundle's JSON and texts (every read verified against the manifest)."""
    nb = reader.read_json("notebook.json")
    _need(isinstance(nb, dict) and isinstance(nb.get("name"), str) and nb["name"].strip() != "", "notebook.json",
          "no notebook name")
    _need(isinstance(nb.get("settings", {}), dict), "notebook.json", "settings must be an object")
    data = NotebookData({"name": nb["name"].strip()[:200], "created": nb.get("created") if _num(nb.get("created")) else time.time(),
                         "settings": nb.get("settings", {})})
    records = reader.read_json("sources.json")
    _need(isinstance(records, list), "sources.json", "not a list")
    seen: set[str] = set()
    for i, rec in enumerate(records):
        if cancel is not None:
            cancel()
        where = f"sources.json[{i}]"
        _need(isinstance(rec, dict), where, "not an object")
        sid = rec.get("id")
        _need(isinstance(sid, str) and bool(_ID.fullmatch(sid)) and sid not in seen, where, "bad or repeated id")
        seen.add(sid)
        _need(isinstance(rec.get("ref"), dict) and isinstance(rec.get("kind"), str) and isinstance(rec.get("title"), str),
              where, "ref, kind or title missing")
        _need(isinstance(rec.get("sha256"), str) and bool(_HEX64.fullmatch(rec["sha256"])), where, "bad sha256")
        _need(rec.get("status") in _STATUSES, where, f"unknown status {rec.get('status')!r}")
        _need(isinstance(rec.get("flags", []), list) and isinstance(rec.get("meta", {}), dict), where,
              "flags or meta malformed")
        orig = rec.get("original")
        if orig is not None:
            _need(isinstance(orig, str) and orig.startswith("originals/") and reader.has(orig), where,
                  "its original is not in the bundle")
            stem = orig[len("originals/"):]
            _need(stem[:64] == rec["sha256"] and bool(_SUFFIX.fullmatch(stem[64:])), where,
                  "its original is not named by its checksum")
        base = f"sources/{sid}/"
        text = reader.read_text(base + "text.txt")
        blocks = reader.read_json(base + "blocks.json")
        chunks = reader.read_json(base + "chunks.json")
        _need(isinstance(blocks, list) and all(isinstance(b, dict) and _int(b.get("start")) and _int(b.get("end"))
                                               and 0 <= b["start"] <= b["end"] <= len(text)
                                               and isinstance(b.get("kind"), str) for b in blocks),
              base + "blocks.json", "malformed blocks")
        _need(isinstance(chunks, list), base + "chunks.json", "not a list")
        ordinals: set[int] = set()
        for c in chunks:
            _need(isinstance(c, dict) and _int(c.get("id")) and _int(c.get("ordinal")) and isinstance(c.get("text"), str)
                  and _int(c.get("char_start")) and _int(c.get("char_end")) and _int(c.get("n_tokens"))
                  and 0 <= c["char_start"] <= c["char_end"] <= len(text) and c["ordinal"] not in ordinals
                  and isinstance(c.get("heading", ""), str)
                  and all(_opt(c.get(k), _int) for k in ("page", "page_end"))
                  and all(_opt(c.get(k), _num) for k in ("t_start", "t_end")),
                  base + "chunks.json", "malformed chunk")
            ordinals.add(c["ordinal"])
        if rec["status"] != SourceStatus.EXTRACTED:
            _need(bool(chunks), base + "chunks.json", "an indexed source without passages")
        data.sources.append(SourceData(dict(rec), text, blocks, chunks))
    notes = reader.read_json("notes.json")
    _need(isinstance(notes, list) and all(
        isinstance(n, dict) and isinstance(n.get("id"), str) and isinstance(n.get("title"), str)
        and isinstance(n.get("body"), str) and isinstance(n.get("tags", []), list)
        and isinstance(n.get("citations", []), list) and isinstance(n.get("origin_kind", "manual"), str)
        and isinstance(n.get("origin_id", ""), str) for n in notes), "notes.json", "malformed note")
    data.notes = notes
    outputs = reader.read_json("studio.json")
    _need(isinstance(outputs, list) and all(
        isinstance(o, dict) and isinstance(o.get("id"), str) and isinstance(o.get("kind"), str)
        and isinstance(o.get("title"), str) and isinstance(o.get("source_ids", []), list)
        and isinstance(o.get("options", {}), dict) and isinstance(o.get("payload", {}), dict)
        and isinstance(o.get("model", ""), str) and isinstance(o.get("template", ""), str) for o in outputs),
        "studio.json", "malformed studio output")
    data.outputs = outputs
    chats = reader.read_json("chats.json")
    _need(isinstance(chats, list) and all(
        isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("title", ""), str)
        and isinstance(c.get("messages"), list)
        and all(isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)
                and isinstance(m.get("payload", {}), dict) for m in c["messages"])
        for c in chats), "chats.json", "malformed chat")
    data.chats = chats
    return data


# -- importing ------------------------------------------------------------------------------------------

def unique_name(library: Library, name: str) -> str:
    """``name``, or "name (2)", "name (3)"... — the first no notebook has (case-insensitive)."""
    taken = {nb.name.casefold() for nb in library.notebooks()}
    base = name.strip()[:190] or "Imported notebook"
    if base.casefold() not in taken:
        return base
    n = 2
    while f"{base} ({n})".casefold() in taken:
        n += 1
    return f"{base} ({n})"


def remap_refs(obj: Any, sources: dict[str, str], chunks: dict[int, int]) -> Any:
    """A copy of JSON data with ``source_id``/``source_ids`` and ``chunk_id``/``chunk_ids`` remapped.

    A chunk id the bundle does not know (its source was removed before the export) becomes -1, so that it
    can never name an unrelated passage of the importing library.
    """
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if k == "chunk_id" and _int(v):
                out[k] = chunks.get(v, -1)
            elif k == "chunk_ids" and isinstance(v, list):
                out[k] = [chunks.get(x, -1) if _int(x) else x for x in v]
            elif k == "source_id" and isinstance(v, str):
                out[k] = sources.get(v, v)
            elif k == "source_ids" and isinstance(v, list):
                out[k] = [sources.get(x, x) if isinstance(x, str) else x for x in v]
            else:
                out[k] = remap_refs(v, sources, chunks)
        return out
    if isinstance(obj, list):
        return [remap_refs(v, sources, chunks) for v in obj]
    return obj


@dataclass
class ImportPlan:
    notebook_id: str  # the target notebook (new or existing)
    notebook_name: str
    new_notebook: bool
    sources: list[SourceData] = field(default_factory=list)  # to insert
    duplicates: list[tuple[SourceData, str]] = field(default_factory=list)  # (bundle source, existing id)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def plan_import(library: Library, data: NotebookData, into: str | None) -> ImportPlan:
    """Decide where the bundle goes and which of its sources the target notebook already has."""
    if into is None:
        plan = ImportPlan(uuid.uuid4().hex, unique_name(library, data.notebook["name"]), True)
        existing: dict[str, str] = {}
    else:
        nb = library.notebook(into)
        plan = ImportPlan(nb.id, nb.name, False)
        existing = {s.sha256: s.id for s in library.sources(nb.id) if s.sha256}
    seen: dict[str, str] = {}
    for sd in data.sources:
        sha = sd.record["sha256"]
        if sha in existing:
            plan.duplicates.append((sd, existing[sha]))
        elif sha in seen:  # the bundle holds the same content twice (cannot happen in one notebook; be safe)
            plan.skipped.append((sd.title, "the same content appears twice in the bundle"))
        else:
            seen[sha] = sd.id
            plan.sources.append(sd)
    return plan


@dataclass
class CommitResult:
    source_ids: dict[str, str]  # bundle source id -> new (or existing) source id
    chunk_ids: dict[int, int]  # bundle chunk id -> new (or existing) chunk id
    new_sources: list[str]
    notes: list[str]
    outputs: list[str]
    sessions: list[str]
    messages: int
    warnings: list[str] = field(default_factory=list)


def _existing_chunk_map(library: Library, sd: SourceData, existing_id: str) -> tuple[dict[int, int], bool]:
    """Bundle chunk id -> the matching chunk of the source already in the notebook (same ordinal and text,
    else the chunk whose span overlaps it most); and whether the two extracted texts are identical."""
    try:
        text = library.source_text(existing_id)[0]
    except NotebookError:
        text = None
    rows = library.query("SELECT id, ordinal, text, char_start, char_end FROM chunks WHERE source_id = ? "
                         "ORDER BY ordinal", (existing_id,))
    by_ord = {r["ordinal"]: r for r in rows}
    out: dict[int, int] = {}
    for c in sd.chunks:
        r = by_ord.get(c["ordinal"])
        if r is not None and r["text"] == c["text"]:
            out[c["id"]] = r["id"]
            continue
        best, overlap = None, 0
        for r in rows:
            ov = min(r["char_end"], c["char_end"]) - max(r["char_start"], c["char_start"])
            if ov > overlap:
                best, overlap = r["id"], ov
        if best is not None:
            out[c["id"]] = best
    return out, text == sd.text


def commit_import(library: Library, plan: ImportPlan, data: NotebookData, *,
                  blob_of: Callable[[SourceData], str | None]) -> CommitResult:
    """Write the plan in one transaction (all or nothing). ``blob_of``: a source's original, relative to
    the data dir (already in place), or None. Sources are stored ``chunked`` (``extracted`` when the bundle
    had no passages for them): embedding them is the caller's next step."""
    src_map: dict[str, str] = {}
    chunk_map: dict[int, int] = {}
    warnings: list[str] = []
    for sd, existing_id in plan.duplicates:
        src_map[sd.id] = existing_id
        m, same = _existing_chunk_map(library, sd, existing_id)
        chunk_map.update(m)
        if not same:
            warnings.append(f"'{sd.title}' was already in the notebook with a different extracted text; citations "
                            "to it may point at slightly different passages.")
    for sd in plan.sources:
        src_map[sd.id] = uuid.uuid4().hex
    result = CommitResult(src_map, chunk_map, [], [], [], [], 0, warnings)
    now = time.time()
    try:
        with library.transaction() as db:
            nb_id = plan.notebook_id
            if plan.new_notebook:
                db.execute("INSERT INTO notebooks (id, name, created, updated) VALUES (?,?,?,?)",
                           (nb_id, plan.notebook_name, float(data.notebook.get("created") or now), now))
                settings = checked_settings(data.notebook.get("settings"), warnings)
                cols = {r[1] for r in db.execute("PRAGMA table_info(notebooks)").fetchall()}
                if settings and "settings" in cols:
                    db.execute("UPDATE notebooks SET settings = ? WHERE id = ?",
                               (json.dumps(settings, ensure_ascii=False), nb_id))
            elif data.notebook.get("settings"):
                warnings.append(f"the bundle's notebook settings (chat goal, ...) were not applied: "
                                f"'{plan.notebook_name}' keeps its own.")
            for sd in plan.sources:
                rec, new_id = sd.record, src_map[sd.id]
                status = SourceStatus.CHUNKED if sd.chunks else SourceStatus.EXTRACTED
                blob = blob_of(sd)
                ref = dict(rec["ref"]) if isinstance(rec["ref"], dict) else {}
                meta = dict(rec.get("meta") or {})
                name = ref.pop("file_name", None) or (Path(str(ref["path"])).name if ref.get("path") else None)
                ref.pop("path", None)
                if isinstance(name, str) and name:  # a file: re-indexing here reads the kept original
                    meta["original_name"] = name[:255]
                    if blob is not None:
                        ref["path"] = str(library.path.parent / blob)
                db.execute(
                    "INSERT INTO sources (id, notebook_id, ref, kind, title, sha256, blob, status, error, flags, meta, "
                    "selected, n_chunks, created, updated) VALUES (?,?,?,?,?,?,?,?,NULL,?,?,?,?,?,?)",
                    (new_id, nb_id, json.dumps(ref), rec["kind"], rec["title"], rec["sha256"], blob, status,
                     json.dumps(rec.get("flags") or []), json.dumps(meta), 1 if rec.get("selected", True) else 0,
                     len(sd.chunks), float(rec.get("created") or now) if _num(rec.get("created")) else now, now))
                db.execute("INSERT INTO source_texts VALUES (?,?,?)", (new_id, sd.text, json.dumps(sd.blocks)))
                scope = f"nb{nb_id} src{new_id}"
                for c in sorted(sd.chunks, key=lambda c: c["ordinal"]):
                    cur = db.execute(
                        "INSERT INTO chunks (source_id, ordinal, text, char_start, char_end, page, page_end, heading, "
                        "t_start, t_end, n_tokens, scope) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (new_id, c["ordinal"], c["text"], c["char_start"], c["char_end"], c.get("page"),
                         c.get("page_end"), c.get("heading", ""), c.get("t_start"), c.get("t_end"), c["n_tokens"],
                         scope))
                    chunk_map[c["id"]] = int(cur.lastrowid)
                result.new_sources.append(new_id)
            # ids of outputs and chats first: notes name them as their origin
            out_map = {o["id"]: uuid.uuid4().hex for o in data.outputs}
            sess_map = {c["id"]: uuid.uuid4().hex for c in data.chats}
            for o in data.outputs:
                oid = out_map[o["id"]]
                db.execute(
                    "INSERT INTO studio_outputs (id, notebook_id, kind, title, source_ids, options, model, template, "
                    "payload, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (oid, nb_id, o["kind"], o["title"][:200], json.dumps([src_map.get(x, x) for x in o.get("source_ids", []) if isinstance(x, str)]),
                     json.dumps(remap_refs(o.get("options", {}), src_map, chunk_map), ensure_ascii=False),
                     o.get("model", ""), o.get("template", ""),
                     json.dumps(remap_refs(o.get("payload", {}), src_map, chunk_map), ensure_ascii=False),
                     _t(o.get("created"), now), _t(o.get("updated"), now)))
                result.outputs.append(oid)
            for c in data.chats:
                sid = sess_map[c["id"]]
                db.execute("INSERT INTO chat_sessions (id, notebook_id, title, created, updated) VALUES (?,?,?,?,?)",
                           (sid, nb_id, str(c.get("title", ""))[:200], _t(c.get("created"), now), _t(c.get("updated"), now)))
                for m in c["messages"]:
                    db.execute("INSERT INTO chat_messages (session_id, role, content, payload, created) VALUES (?,?,?,?,?)",
                               (sid, m["role"], m["content"],
                                json.dumps(remap_refs(m.get("payload", {}), src_map, chunk_map), ensure_ascii=False),
                                _t(m.get("created"), now)))
                    result.messages += 1
                result.sessions.append(sid)
            for n in data.notes:
                nid = uuid.uuid4().hex
                origin_kind = n.get("origin_kind") or "manual"
                origin_kind = origin_kind if _ORIGIN.fullmatch(origin_kind) else "manual"
                origin = n.get("origin_id") or ""
                origin = sess_map.get(origin) or out_map.get(origin) or ("" if origin else origin)
                db.execute(
                    "INSERT INTO notes (id, notebook_id, title, body, tags, citations, origin_kind, origin_id, created, "
                    "updated) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (nid, nb_id, n["title"][:200], n["body"], json.dumps([str(t) for t in n.get("tags", [])], ensure_ascii=False),
                     json.dumps(remap_refs(n.get("citations", []), src_map, chunk_map), ensure_ascii=False),
                     origin_kind, origin, _t(n.get("created"), now), _t(n.get("updated"), now)))
                result.notes.append(nid)
            if not plan.new_notebook:
                db.execute("UPDATE notebooks SET updated = ? WHERE id = ?", (now, nb_id))
    except sqlite3.IntegrityError as e:
        raise BundleError(f"The bundle could not be imported (nothing was changed): {e}") from None
    return result


MAX_SETTINGS_BYTES = 256 * 1024


def checked_settings(raw: Any, warnings: list[str]) -> dict[str, Any]:
    """A bundle's notebook settings as they may be stored: an object of bounded size, its chat goal checked
    like one the user sets (an unknown goal, or custom instructions that are empty or too long, are
    dropped with a warning: never stored unchecked)."""
    if not isinstance(raw, dict) or not raw:
        return {}
    out = dict(raw)
    if "chat_goal" in out:
        from notebooklm_local.core.chat_goals import validate_goal

        g = out["chat_goal"] if isinstance(out["chat_goal"], dict) else {}
        try:
            args = [g.get(k) for k in ("goal", "persona", "length")]
            if not all(a is None or isinstance(a, str) for a in args):
                raise NotebookError("malformed")
            out["chat_goal"] = validate_goal(*args).to_json()
        except NotebookError as e:
            out.pop("chat_goal")
            warnings.append(f"the notebook's chat goal was not imported ({e}); it uses the default goal.")
    if len(json.dumps(out, ensure_ascii=False).encode("utf-8")) > MAX_SETTINGS_BYTES:
        warnings.append("the notebook's settings were not imported: they are too large.")
        return {}
    return out


def _t(v: Any, default: float) -> float:
    return float(v) if _num(v) else default
