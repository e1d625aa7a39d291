"""The library database (SQLite, WAL): notebooks -> sources -> chunks, with FTS5 (BM25) over chunks.

Schema changes go through ``_MIGRATIONS`` (``PRAGMA user_version``). All writes run in transactions;
foreign keys cascade a notebook's deletion to its sources and chunks.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebooklm_local.core import lexical
from notebooklm_local.core.chunking import Chunk
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.watch import WatchedFolder

__all__ = ["Library", "Notebook", "Source", "StoredChunk", "SourceStatus"]


class SourceStatus:
    QUEUED = "queued"
    EXTRACTED = "extracted"
    CHUNKED = "chunked"
    EMBEDDED = "embedded"
    READY = "ready"
    FAILED = "failed"
    ORDER = (QUEUED, EXTRACTED, CHUNKED, EMBEDDED, READY)


_MIGRATIONS: list[str] = [
    # 1: initial schema
    """
    CREATE TABLE notebooks (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE TABLE sources (
        id TEXT PRIMARY KEY,
        notebook_id TEXT NOT NULL REFERENCES notebooks(id) ON DELETE CASCADE,
        ref TEXT NOT NULL,            -- JSON SourceRef: path / url / title (pasted text lives in the blob)
        kind TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        sha256 TEXT,
        blob TEXT,                    -- content-addressed original, relative to the data dir
        status TEXT NOT NULL,
        error TEXT,
        flags TEXT NOT NULL DEFAULT '[]',
        meta TEXT NOT NULL DEFAULT '{}',
        selected INTEGER NOT NULL DEFAULT 1,
        n_chunks INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        UNIQUE (notebook_id, sha256)
    );
    CREATE INDEX sources_notebook ON sources(notebook_id);
    CREATE TABLE source_texts (
        source_id TEXT PRIMARY KEY REFERENCES sources(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        blocks TEXT NOT NULL          -- JSON list of blocks with spans (structure for re-chunking)
    );
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY,
        source_id TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        text TEXT NOT NULL,
        char_start INTEGER NOT NULL,
        char_end INTEGER NOT NULL,
        page INTEGER,
        page_end INTEGER,
        heading TEXT NOT NULL DEFAULT '',
        t_start REAL,
        t_end REAL,
        n_tokens INTEGER NOT NULL,
        embedded_model TEXT          -- the embedding model whose vector for this chunk is in the index
    );
    CREATE INDEX chunks_source ON chunks(source_id, ordinal);
    CREATE INDEX chunks_unembedded ON chunks(source_id) WHERE embedded_model IS NULL;
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text, heading, content='chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text, heading) VALUES (new.id, new.text, new.heading);
    END;
    CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text, heading) VALUES ('delete', old.id, old.text, old.heading);
    END;
    """,
    # 2: a `scope` column ("nb<notebook> src<source>") in the FTS index, so that BM25 search is
    # restricted to a notebook or to selected sources by the index itself (posting-list
    # intersection) instead of joining every match against sources (measured: 180 ms at 100k chunks).
    """
    ALTER TABLE chunks ADD COLUMN scope TEXT NOT NULL DEFAULT '';
    DROP TRIGGER chunks_ai;
    DROP TRIGGER chunks_ad;
    DROP TABLE chunks_fts;
    UPDATE chunks SET scope = (SELECT 'nb' || s.notebook_id || ' src' || s.id FROM sources s WHERE s.id = chunks.source_id);
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text, heading, scope, content='chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    );
    INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('rank', 'bm25(1.0, 0.5, 0.0)');
    CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text, heading, scope) VALUES (new.id, new.text, new.heading, new.scope);
    END;
    CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text, heading, scope)
        VALUES ('delete', old.id, old.text, old.heading, old.scope);
    END;
    INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild');
    """,
    # 3: chat sessions per notebook; a message's payload holds citations, flags and timings as JSON
    """
    CREATE TABLE chat_sessions (
        id TEXT PRIMARY KEY,
        notebook_id TEXT NOT NULL REFERENCES notebooks(id) ON DELETE CASCADE,
        title TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE INDEX chat_sessions_nb ON chat_sessions(notebook_id, updated);
    CREATE TABLE chat_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL,
        payload TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL
    );
    CREATE INDEX chat_messages_session ON chat_messages(session_id, id);
    """,
    # 4: studio outputs (summaries, chain-of-density runs, podcast scripts) and notes. Both keep their
    # citations as JSON (core.citations.Citation.to_json), so they survive a source's removal.
    """
    CREATE TABLE studio_outputs (
        id TEXT PRIMARY KEY,
        notebook_id TEXT NOT NULL REFERENCES notebooks(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        source_ids TEXT NOT NULL DEFAULT '[]',
        options TEXT NOT NULL DEFAULT '{}',
        model TEXT NOT NULL DEFAULT '',
        template TEXT NOT NULL DEFAULT '',
        payload TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE INDEX studio_outputs_nb ON studio_outputs(notebook_id, kind, created);
    CREATE TABLE notes (
        id TEXT PRIMARY KEY,
        notebook_id TEXT NOT NULL REFERENCES notebooks(id) ON DELETE CASCADE,
        title TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL DEFAULT '',
        tags TEXT NOT NULL DEFAULT '[]',
        citations TEXT NOT NULL DEFAULT '[]',
        origin_kind TEXT NOT NULL DEFAULT 'manual',
        origin_id TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE INDEX notes_nb ON notes(notebook_id, updated);
    """,
    # 5: per-notebook settings as a JSON object (chat goal, persona and response length; see
    # core.chat_goals). A bundle carries it with the notebook (a column later migrations add).
    """
    ALTER TABLE notebooks ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
    """,
    # 6: watched folders (core.watch): a notebook follows local folders; sync adds, re-indexes, marks missing
    """
    CREATE TABLE notebook_folders (
        notebook_id TEXT NOT NULL REFERENCES notebooks(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        recursive INTEGER NOT NULL DEFAULT 1,
        added_at REAL NOT NULL,
        PRIMARY KEY (notebook_id, path)
    );
    """,
]

HEADING_SEP = " › "


@dataclass
class Notebook:
    id: str
    name: str
    created: float
    updated: float
    settings: dict[str, Any] = field(default_factory=dict)  # migration 5: chat goal, ...


def _notebook(row: sqlite3.Row) -> Notebook:
    d = dict(row)
    try:
        settings = json.loads(d.get("settings") or "{}")
    except ValueError:
        settings = {}
    return Notebook(d["id"], d["name"], d["created"], d["updated"], settings if isinstance(settings, dict) else {})


@dataclass
class Source:
    id: str
    notebook_id: str
    ref: dict[str, Any]
    kind: str
    title: str
    sha256: str | None
    blob: str | None
    status: str
    error: str | None
    flags: list[str]
    meta: dict[str, Any]
    selected: bool
    n_chunks: int
    created: float
    updated: float

    @property
    def display(self) -> str:
        return self.title or self.ref.get("path") or self.ref.get("url") or self.id


@dataclass
class StoredChunk:
    id: int
    source_id: str
    ordinal: int
    text: str
    char_start: int
    char_end: int
    page: int | None
    page_end: int | None
    heading: str
    t_start: float | None
    t_end: float | None
    n_tokens: int
    embedded_model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _source(row: sqlite3.Row) -> Source:
    return Source(
        id=row["id"], notebook_id=row["notebook_id"], ref=json.loads(row["ref"]), kind=row["kind"],
        title=row["title"], sha256=row["sha256"], blob=row["blob"], status=row["status"], error=row["error"],
        flags=json.loads(row["flags"]), meta=json.loads(row["meta"]), selected=bool(row["selected"]),
        n_chunks=row["n_chunks"], created=row["created"], updated=row["updated"],
    )


_CHUNK_FIELDS = frozenset(f for f in StoredChunk.__dataclass_fields__ if f != "extra")


def _chunk(row: sqlite3.Row) -> StoredChunk:
    return StoredChunk(**{k: row[k] for k in row.keys() if k in _CHUNK_FIELDS})  # noqa: SIM118 - sqlite3.Row


def fts_query(text: str) -> str:
    """Turn free text into a safe FTS5 query: quoted terms OR-ed (BM25 ranks documents matching more).

    Stop words are dropped unless the query has nothing else.
    """
    return " OR ".join(f'"{t}"' for t in lexical.query_terms(text))


def _sort_key(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


class Library:
    """Thread-safe access to the library database (one connection, one lock)."""

    def __init__(self, path: Path, *, check: bool = True, backup: bool = True) -> None:
        """Open (or create) the library at ``path``.

        ``check``: refuse a 0-byte file next to existing data and run ``PRAGMA quick_check``; a damaged
        file raises LibraryDamagedError (a copy kept aside; ``repair`` salvages it). ``backup``: a
        ``VACUUM INTO`` copy at most once a day and after migrations (see core.library_care).
        """
        from notebooklm_local.core import library_care as care

        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if check:
            care.check_file(path)
        existed = path.exists() and path.stat().st_size > 0
        self._lock = threading.RLock()
        self._fts_key: tuple[int, ...] | None = None  # the FTS averages record the term cache belongs to
        self._fts_dfs: dict[str, int] = {}  # document frequency per FTS token (core.lexical's plan)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=NORMAL")
            if check and existed:
                care.quick_check(self._db, path)
            migrated = self._migrate()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise care.damaged(path, e) from None
        except BaseException:
            self._db.close()
            raise
        if backup and existed:
            care.backup_if_due(self._db, path, force=migrated)

    # -- plumbing -------------------------------------------------------------------------------
    def _migrate(self) -> bool:
        """Apply pending schema migrations; True when an existing library was migrated."""
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(_MIGRATIONS):
                raise NotebookError(f"The library at {self.path} was written by a newer notebooklm-local.")
            for i in range(version, len(_MIGRATIONS)):
                with self.transaction() as db:
                    db.executescript_in_tx(_MIGRATIONS[i])
                    db.execute(f"PRAGMA user_version = {i + 1}")
            return 0 < version < len(_MIGRATIONS)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(self._db)
            except BaseException as e:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:  # SQLite may have rolled back already (disk full): the real error is e
                    pass
                if isinstance(e, sqlite3.OperationalError):
                    from notebooklm_local.core.library_care import disk_full_error, is_disk_full

                    if is_disk_full(e):
                        raise disk_full_error(self.path, e) from e
                raise
            else:
                try:
                    self._db.execute("COMMIT")
                except sqlite3.OperationalError as e:
                    from notebooklm_local.core.library_care import disk_full_error, is_disk_full

                    try:
                        self._db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                    if is_disk_full(e):
                        raise disk_full_error(self.path, e) from e
                    raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- notebooks ------------------------------------------------------------------------------
    def create_notebook(self, name: str) -> Notebook:
        name = name.strip()
        if not name:
            raise NotebookError("A notebook needs a name.")
        if len(name) > 200:
            raise NotebookError("Notebook names are limited to 200 characters.")
        now = time.time()
        nb = Notebook(uuid.uuid4().hex, name, now, now)
        try:
            with self.transaction() as db:
                db.execute("INSERT INTO notebooks (id, name, created, updated) VALUES (?,?,?,?)",
                           (nb.id, nb.name, now, now))
        except sqlite3.IntegrityError:
            raise NotebookError(f"A notebook named '{name}' already exists.") from None
        return nb

    def notebooks(self) -> list[Notebook]:
        """All notebooks, sorted by name as people expect (case- and accent-insensitive)."""
        nbs = [_notebook(r) for r in self.query("SELECT * FROM notebooks")]
        return sorted(nbs, key=lambda n: _sort_key(n.name))

    def notebook(self, name_or_id: str) -> Notebook:
        rows = self.query("SELECT * FROM notebooks WHERE id = ? OR name = ? COLLATE NOCASE", (name_or_id, name_or_id))
        if not rows:
            names = ", ".join(n.name for n in self.notebooks()) or "none yet"
            raise NotebookError(f"No notebook named '{name_or_id}' (notebooks: {names}).")
        return _notebook(rows[0])

    def notebook_settings(self, notebook_id: str) -> dict[str, Any]:
        """A notebook's own settings (a JSON object; {} when none are set)."""
        rows = self.query("SELECT settings FROM notebooks WHERE id = ?", (notebook_id,))
        if not rows:
            raise NotebookError(f"No notebook with id {notebook_id}.")
        try:
            data = json.loads(rows[0]["settings"] or "{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def update_notebook_settings(self, notebook_id: str, **values: Any) -> dict[str, Any]:
        """Merge ``values`` into a notebook's settings (a value of None removes its key); returns them."""
        with self.transaction() as db:
            rows = db.execute("SELECT settings FROM notebooks WHERE id = ?", (notebook_id,)).fetchall()
            if not rows:
                raise NotebookError(f"No notebook with id {notebook_id}.")
            try:
                data = json.loads(rows[0][0] or "{}")
            except ValueError:
                data = {}
            data = data if isinstance(data, dict) else {}
            for k, v in values.items():
                if v is None:
                    data.pop(k, None)
                else:
                    data[k] = v
            db.execute("UPDATE notebooks SET settings = ?, updated = ? WHERE id = ?",
                       (json.dumps(data, ensure_ascii=False), time.time(), notebook_id))
        return data

    def rename_notebook(self, notebook_id: str, name: str) -> Notebook:
        """Give a notebook a new name (same rules as :meth:`create_notebook`); returns the renamed notebook."""
        name = name.strip()
        if not name:
            raise NotebookError("A notebook needs a name.")
        if len(name) > 200:
            raise NotebookError("Notebook names are limited to 200 characters.")
        try:
            with self.transaction() as db:
                cur = db.execute("UPDATE notebooks SET name = ?, updated = ? WHERE id = ?",
                                 (name, time.time(), notebook_id))
                if cur.rowcount == 0:
                    raise NotebookError(f"No notebook with id {notebook_id}.")
        except sqlite3.IntegrityError:
            raise NotebookError(f"A notebook named '{name}' already exists.") from None
        return self.notebook(notebook_id)

    def delete_notebook(self, notebook_id: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM notebooks WHERE id = ?", (notebook_id,))

    # -- watched folders ------------------------------------------------------------------------
    def watch_folder(self, notebook_id: str, path: str, *, recursive: bool = True) -> WatchedFolder:
        """Link a folder (an absolute, resolved path) to a notebook; NotebookError when it already is."""
        now = time.time()
        try:
            with self.transaction() as db:
                db.execute("INSERT INTO notebook_folders (notebook_id, path, recursive, added_at) VALUES (?,?,?,?)",
                           (notebook_id, path, int(recursive), now))
        except sqlite3.IntegrityError:
            if self.query("SELECT 1 FROM notebook_folders WHERE notebook_id = ? AND path = ?", (notebook_id, path)):
                raise NotebookError(f"{path} is already watched by this notebook.") from None
            raise NotebookError(f"No notebook with id {notebook_id}.") from None
        return WatchedFolder(notebook_id, path, recursive, now)

    def unwatch_folder(self, notebook_id: str, path: str) -> bool:
        """Stop following a folder (its sources stay); False when it was not watched."""
        with self.transaction() as db:
            cur = db.execute("DELETE FROM notebook_folders WHERE notebook_id = ? AND path = ?", (notebook_id, path))
            return bool(cur.rowcount)

    def watched_folders(self, notebook_id: str | None = None) -> list[WatchedFolder]:
        """The folders a notebook (None: any notebook) follows, oldest first."""
        sql, params = "SELECT * FROM notebook_folders", []
        if notebook_id is not None:
            sql, params = sql + " WHERE notebook_id = ?", [notebook_id]
        return [WatchedFolder(r["notebook_id"], r["path"], bool(r["recursive"]), r["added_at"])
                for r in self.query(sql + " ORDER BY added_at, path", params)]

    # -- sources --------------------------------------------------------------------------------
    def add_source(self, notebook_id: str, ref: dict[str, Any], *, title: str = "") -> Source:
        now = time.time()
        sid = uuid.uuid4().hex
        with self.transaction() as db:
            db.execute(
                "INSERT INTO sources (id, notebook_id, ref, title, status, created, updated) VALUES (?,?,?,?,?,?,?)",
                (sid, notebook_id, json.dumps(ref), title, SourceStatus.QUEUED, now, now),
            )
        return self.source(sid)

    def source(self, source_id: str) -> Source:
        rows = self.query("SELECT * FROM sources WHERE id = ?", (source_id,))
        if not rows:
            raise NotebookError(f"No source with id {source_id}.")
        return _source(rows[0])

    def sources(self, notebook_id: str, *, status: Iterable[str] | None = None) -> list[Source]:
        sql, params = "SELECT * FROM sources WHERE notebook_id = ?", [notebook_id]
        if status is not None:
            st = list(status)
            sql += f" AND status IN ({','.join('?' * len(st))})"
            params += st
        return [_source(r) for r in self.query(sql + " ORDER BY created", params)]

    def all_sources(self, *, status: Iterable[str]) -> list[Source]:
        st = list(status)
        return [_source(r) for r in self.query(
            f"SELECT * FROM sources WHERE status IN ({','.join('?' * len(st))}) ORDER BY created", st)]  # noqa: S608 - placeholders and column names only; values bound

    def find_duplicate(self, notebook_id: str, sha256: str, exclude: str) -> Source | None:
        rows = self.query(
            "SELECT * FROM sources WHERE notebook_id = ? AND sha256 = ? AND id != ?", (notebook_id, sha256, exclude)
        )
        return _source(rows[0]) if rows else None

    def update_source(self, source_id: str, **fields: Any) -> None:
        if not fields:
            return
        for k in ("flags", "meta", "ref"):
            if k in fields:
                fields[k] = json.dumps(fields[k])
        fields["updated"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as db:
            db.execute(f"UPDATE sources SET {cols} WHERE id = ?", (*fields.values(), source_id))  # noqa: S608 - placeholders and column names only; values bound

    def store_extraction(
        self, source_id: str, *, kind: str, title: str, sha256: str, blob: str | None, text: str,
        blocks: list[dict[str, Any]], flags: list[str], meta: dict[str, Any],
    ) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO source_texts VALUES (?,?,?)", (source_id, text, json.dumps(blocks)))
            db.execute(
                "UPDATE sources SET kind=?, title=?, sha256=?, blob=?, flags=?, meta=?, status=?, error=NULL, "
                "updated=? WHERE id=?",
                (kind, title, sha256, blob, json.dumps(flags), json.dumps(meta), SourceStatus.EXTRACTED,
                 time.time(), source_id),
            )

    def source_text(self, source_id: str) -> tuple[str, list[dict[str, Any]]]:
        rows = self.query("SELECT text, blocks FROM source_texts WHERE source_id = ?", (source_id,))
        if not rows:
            raise NotebookError(f"The text of source {source_id} is not stored.")
        return rows[0]["text"], json.loads(rows[0]["blocks"])

    def delete_source(self, source_id: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM sources WHERE id = ?", (source_id,))

    # -- chunks ---------------------------------------------------------------------------------
    def replace_chunks(self, source_id: str, chunks: Sequence[Chunk]) -> None:
        with self.transaction() as db:
            notebook_id = db.execute("SELECT notebook_id FROM sources WHERE id = ?", (source_id,)).fetchone()[0]
            scope = f"nb{notebook_id} src{source_id}"
            db.execute("DELETE FROM chunks WHERE source_id = ?", (source_id,))
            db.executemany(
                "INSERT INTO chunks (source_id, ordinal, text, char_start, char_end, page, page_end, heading, "
                "t_start, t_end, n_tokens, scope) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (source_id, c.ordinal, c.text, c.start, c.end, c.page, c.page_end,
                     HEADING_SEP.join(c.heading_path), c.t_start, c.t_end, c.n_tokens, scope)
                    for c in chunks
                ],
            )
            db.execute(
                "UPDATE sources SET n_chunks = ?, status = ?, updated = ? WHERE id = ?",
                (len(chunks), SourceStatus.CHUNKED, time.time(), source_id),
            )

    def chunks_to_embed(self, source_id: str, model_id: str, limit: int) -> list[StoredChunk]:
        rows = self.query(
            "SELECT * FROM chunks WHERE source_id = ? AND (embedded_model IS NULL OR embedded_model != ?) "
            "ORDER BY ordinal LIMIT ?",
            (source_id, model_id, limit),
        )
        return [_chunk(r) for r in rows]

    def count_unembedded(self, source_id: str, model_id: str) -> int:
        return self.query(
            "SELECT count(*) FROM chunks WHERE source_id = ? AND (embedded_model IS NULL OR embedded_model != ?)",
            (source_id, model_id),
        )[0][0]

    def mark_embedded(self, chunk_ids: Sequence[int], model_id: str | None) -> None:
        with self.transaction() as db:
            db.executemany("UPDATE chunks SET embedded_model = ? WHERE id = ?", [(model_id, i) for i in chunk_ids])

    def chunk_ids(self, notebook_id: str, *, model_id: str | None = None) -> set[int]:
        sql = "SELECT c.id FROM chunks c JOIN sources s ON s.id = c.source_id WHERE s.notebook_id = ?"
        params: list[Any] = [notebook_id]
        if model_id is not None:
            sql += " AND c.embedded_model = ?"
            params.append(model_id)
        return {r[0] for r in self.query(sql, params)}

    def source_chunks(self, source_id: str) -> list[StoredChunk]:
        """All chunks of a source in reading order."""
        rows = self.query("SELECT * FROM chunks WHERE source_id = ? ORDER BY ordinal", (source_id,))
        return [_chunk(r) for r in rows]

    def chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        out: dict[int, StoredChunk] = {}
        for i in range(0, len(ids), 500):
            part = list(ids[i : i + 500])
            for r in self.query(f"SELECT * FROM chunks WHERE id IN ({','.join('?' * len(part))})", part):  # noqa: S608 - placeholders and column names only; values bound
                out[r["id"]] = _chunk(r)
        return out

    def lexical_search(
        self, notebook_id: str | None, query: str, *, source_ids: Sequence[str] | None = None, limit: int = 50
    ) -> list[tuple[int, float]]:
        """BM25 over FTS5; returns (chunk id, score) best first (higher is better).

        ``notebook_id`` None searches every notebook (the library-wide scope): the FTS index is one
        table, so scores (IDF is table-wide) are the same as a single notebook's for the same rows.

        The query is planned by core.lexical: frequent terms are scored on the rows the rarer terms
        select instead of selecting rows themselves, which bounds the rows FTS5 ranks (see there).
        """
        terms = lexical.query_terms(query)
        if not terms or (source_ids is not None and not source_ids):
            return []
        with self._lock:
            stats = self._fts_stats()
            if source_ids is not None:
                allowed = set(source_ids)
                ph = ",".join("?" * len(allowed))
                in_scope = self._db.execute(
                    f"SELECT coalesce(sum(n_chunks), 0) FROM sources WHERE id IN ({ph})", list(allowed)  # noqa: S608 - placeholders and column names only; values bound
                ).fetchone()[0]
                scope = "scope : (" + " OR ".join(f'"src{s}"' for s in source_ids) + ")"
            elif notebook_id is None:  # every notebook: a row's scope phrase names its notebook
                counts = dict(self._db.execute("SELECT id, n_chunks FROM sources").fetchall())
                allowed, in_scope = set(counts), sum(counts.values())
                nbs = [r[0] for r in self._db.execute("SELECT id FROM notebooks").fetchall()]
                if not nbs:
                    return []
                scope = "scope : (" + " OR ".join(f'"nb{n}"' for n in nbs) + ")"
            else:
                rows = self._db.execute("SELECT id, n_chunks FROM sources WHERE notebook_id = ?", (notebook_id,))
                counts = dict(rows.fetchall())
                allowed, in_scope = set(counts), sum(counts.values())
                scope = f'scope : "nb{notebook_id}"'
            share = in_scope / stats if stats else 0.0
            if stats is None:
                p = lexical.Plan(terms, [])
            else:
                tokens = {t: lexical.fts_tokens(t) for t in terms}
                df = {t: min((self._fts_df(k) for k in tokens[t]), default=0) for t in terms}
                p = lexical.plan(terms, df, [t for t in terms if len(tokens[t]) == 1])

            def expr(ts: Sequence[str], op: str = " OR ") -> str:
                return op.join(f'"{t}"' for t in ts)

            if p.exact:
                return self._fts_ranked(expr(terms), scope, allowed, share, limit)
            if p.conjunctive:
                got = self._fts_ranked(expr(terms, " AND "), scope, allowed, share, limit)
                return got if len(got) >= limit else self._fts_ranked(expr(terms), scope, allowed, share, limit)
            # rows with a selecting term; the frequent terms are in the expression (so bm25 scores them)
            # but cannot select a row by themselves: "OR scope" holds for every row in scope, and the
            # scope column's weight is 0
            match = f"({expr(p.match)}) AND ({expr(p.extra)} OR {scope})"
            return self._fts_ranked(match, scope, allowed, share, limit)

    def embedded_chunk_ids(self, source_ids: Sequence[str], model_id: str) -> list[int]:
        """The chunks of these sources that have a vector of ``model_id`` in the index."""
        out: list[int] = []
        for i in range(0, len(source_ids), 500):
            part = list(source_ids[i : i + 500])
            q = f"SELECT id FROM chunks WHERE source_id IN ({','.join('?' * len(part))}) AND embedded_model = ?"  # noqa: S608 - placeholders only
            out += [r[0] for r in self.query(q, [*part, model_id])]
        return out

    def _fts_stats(self) -> int | None:
        """Rows in the FTS index; resets the term cache when the index changed.

        Read from FTS5's averages record (rowid 1 of %_data: varints row count, tokens per column), a
        single-row read, so the cache follows every change of the index.
        """
        try:
            row = self._db.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()
        except sqlite3.Error:
            return None
        if row is None:
            return None
        v = lexical.varints(row[0])
        if not v or v[0] <= 0:
            return None
        key = tuple(v)
        if self._fts_key != key or len(self._fts_dfs) > 50_000:
            self._fts_key, self._fts_dfs = key, {}
        return v[0]

    def _fts_df(self, token: str) -> int:
        """Rows of the whole FTS index that contain ``token`` (cached until the index changes)."""
        got = self._fts_dfs.get(token)
        if got is None:
            try:
                row = self._db.execute("SELECT doc FROM temp.chunks_fts_vocab WHERE term = ?", (token,)).fetchone()
            except sqlite3.OperationalError:
                self._db.execute(
                    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_fts_vocab USING fts5vocab(main, chunks_fts, row)"
                )
                row = self._db.execute("SELECT doc FROM temp.chunks_fts_vocab WHERE term = ?", (token,)).fetchone()
            got = self._fts_dfs[token] = row[0] if row else 0
        return got

    def _fts_ranked(
        self, match: str, scope: str, allowed: set[str], share: float, n: int
    ) -> list[tuple[int, float]]:
        """The ``n`` best rows of ``match`` within the scope. When the scope holds most of the index,
        the query runs unscoped and the rows are filtered here: the scope phrase would cost bm25 a
        pass over all its rows (11 ms at 100k), and scores are the same (IDF is table-wide, the scope
        column's weight is 0). Falls back to the scoped query when too few rows pass."""
        sql = "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?"
        if share >= 0.25:
            over = min(int(n / share * 1.25) + 10, 4 * n + 10)
            rows = self._db.execute(sql, (match, over)).fetchall()
            src = self.chunk_sources([r[0] for r in rows])
            keep = [(r[0], -float(r[1])) for r in rows if src.get(r[0]) in allowed]
            if len(keep) >= n or len(rows) < over:
                return keep[:n]
        rows = self._db.execute(sql, (f"{scope} AND ({match})", n)).fetchall()
        return [(r[0], -float(r[1])) for r in rows]

    def chunk_sources(self, ids: Sequence[int]) -> dict[int, str]:
        """chunk id -> source id, for the ids that exist."""
        out: dict[int, str] = {}
        for i in range(0, len(ids), 500):
            part = list(ids[i : i + 500])
            q = f"SELECT id, source_id FROM chunks WHERE id IN ({','.join('?' * len(part))})"  # noqa: S608 - placeholders and column names only; values bound
            out.update(self._db.execute(q, part).fetchall())
        return out


class _Tx:
    """The connection inside a transaction (adds a script runner that does not COMMIT)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self._db.executemany(sql, rows)

    def executescript_in_tx(self, script: str) -> None:
        # sqlite3.executescript() would COMMIT first; run statement by statement instead.
        buf = ""
        for line in script.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                self._db.execute(buf)
                buf = ""
        if buf.strip():
            self._db.execute(buf)
