"""The library end to end on the real stack: loaders, SQLite/FTS5, Chroma, llama.cpp embeddings."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.library import Library
from notebooklm_local.core.paths import app_paths
from notebooklm_local.extensions.builtins import builtin_registry
from notebooklm_local.services.index import ChromaIndex
from notebooklm_local.services.library_service import LibraryService
from notebooklm_local.services.llama_runtime import LlamaCppEmbedder
from tests.conftest import cli_exe
from tests.helpers.docs import make_pdf
from tests.helpers.embedders import HashEmbedder  # another model id: tests the model-change path

# `model`: the tests that load the real GGUF (as embedder); the others run without one

TOPICS = {
    "volcano.md": "# Volcanoes\n\nMagma rises through the crust and erupts as lava. Basalt forms when lava cools quickly.",
    "bakery.txt": "Sourdough bread needs a starter of flour and water. Bakers proof the dough overnight.",
    "orbit.md": "# Orbits\n\nKepler's third law relates the orbital period of a planet to its distance from the sun.",
}




@pytest.fixture(scope="module")
def embedder(tiny_model_path: Path) -> Iterator[LlamaCppEmbedder]:
    e = LlamaCppEmbedder(tiny_model_path)
    yield e
    e.close()


def make_service(embedder: object | None, home: Path | None = None) -> LibraryService:
    paths = app_paths(home).ensure()
    index = ChromaIndex.persistent(paths.index / "chroma", embedder) if embedder is not None else None  # type: ignore[arg-type]
    return LibraryService(paths.data, Library(paths.data / "library.db"), builtin_registry().source_loaders.items(),
                          index)


def write_topics(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in TOPICS.items():
        (folder / name).write_text(text, encoding="utf-8")
        out.append(folder / name)
    return out


@pytest.mark.model
def test_add_search_and_anchors(tmp_path: Path, embedder: LlamaCppEmbedder) -> None:
    lib = make_service(embedder)
    lib.create_notebook("Science")
    write_topics(tmp_path / "docs")
    make_pdf(tmp_path / "docs" / "paper.pdf", ["Introduction to glaciers and ice sheets.",
                                                     "Glaciers carve U-shaped valleys over millennia."])
    vtt = tmp_path / "docs" / "talk.vtt"
    vtt.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:05.000\nToday we discuss coral reefs.\n\n"
                   "00:01:10.000 --> 00:01:15.000\nCoral bleaching follows marine heatwaves.\n", encoding="utf-8")
    (tmp_path / "docs" / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    report = lib.add("Science", [str(tmp_path / "docs"), SourceRef(text="Tea is brewed from leaves.", title="Tea")])
    assert not report.failed, report.lines()
    assert {s.title for s in report.added} >= {"Volcanoes", "bakery", "Orbits", "paper", "talk", "Tea"}
    assert [p for p, _ in report.skipped] == [str(tmp_path / "docs" / "image.png")]
    assert all(s.status == "ready" and s.n_chunks >= 1 for s in lib.sources("Science"))

    hits = lib.search("Science", "U-shaped valleys carved by glaciers", k=3)
    assert hits[0].source.title == "paper" and hits[0].chunk.page == 2 and hits[0].location == "p. 2"
    text, _ = lib.library.source_text(hits[0].source.id)
    assert text[hits[0].chunk.char_start : hits[0].chunk.char_end] == hits[0].chunk.text
    hits = lib.search("Science", "coral bleaching heatwaves", k=2)
    assert hits[0].source.kind == "transcript"
    assert (hits[0].chunk.t_start, hits[0].location) in {(1.0, "0:01"), (70.0, "1:10")}
    # the selected-sources filter
    bakery = next(s for s in lib.sources("Science") if s.title == "bakery")
    only = lib.search("Science", "lava basalt", source_ids=[bakery.id], k=5)
    assert only and {h.source.id for h in only} == {bakery.id}
    assert lib.search("Science", "lava basalt", source_ids=[], k=5) == []
    # dense-only and lexical-only modes both work
    assert lib.search("Science", "Kepler orbital period", mode="lexical")[0].source.title == "Orbits"
    assert lib.search("Science", "Kepler orbital period", mode="dense")
    with pytest.raises(NotebookError, match="empty"):
        lib.search("Science", "   ")


@pytest.mark.model
def test_duplicates_and_bad_inputs_lose_nothing(tmp_path: Path, embedder: LlamaCppEmbedder) -> None:
    lib = make_service(embedder)
    lib.create_notebook("NB")
    good = write_topics(tmp_path / "docs")[0]
    first = lib.add("NB", [str(good)])
    assert len(first.added) == 1
    copy = tmp_path / "copy-of-volcano.md"
    copy.write_bytes(good.read_bytes())
    dup = lib.add("NB", [str(good), str(copy)])
    assert len(dup.duplicates) == 2 and not dup.added
    assert "already in the notebook as 'Volcanoes'" in dup.lines()[0]

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "binary.txt").write_bytes(bytes(range(256)) * 50)
    (bad / "binary.pdf").write_bytes(os.urandom(5000))
    (bad / "truncated.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    (bad / "page.xyz").write_text("hello")
    items = [str(p) for p in sorted(bad.iterdir())] + [
        str(tmp_path / "missing.pdf"), "http://", "http://127.0.0.1:9/unreachable",
        str(make_pdf(tmp_path / "enc.pdf", ["secret"], user_password="pw")),
    ]
    report = lib.add("NB", items)
    reasons = dict(report.failed)
    assert not report.added
    assert "empty" in reasons[str(bad / "empty.txt")]
    assert "binary" in reasons[str(bad / "binary.txt")]
    assert "not a PDF" in reasons[str(bad / "binary.pdf")]
    assert "damaged or truncated" in reasons[str(bad / "truncated.pdf")] or "no pages" in reasons[str(bad / "truncated.pdf")]
    assert "unsupported file type .xyz" in reasons[str(bad / "page.xyz")]
    assert "File not found" in reasons[str(tmp_path / "missing.pdf")]
    assert "valid URL" in reasons["http://"]
    assert "unreachable" in reasons["http://127.0.0.1:9/unreachable"].lower()
    assert "password-protected" in reasons[str(tmp_path / "enc.pdf")]
    # failures are recorded per source with their reason, and the good source is untouched
    states = {s.title or s.ref.get("path") or s.ref.get("url"): s for s in lib.sources("NB")}
    assert states["Volcanoes"].status == "ready"
    failed = [s for s in lib.sources("NB") if s.status == "failed"]
    assert len(failed) == len(items) and all(s.error for s in failed)
    assert lib.search("NB", "magma crust")[0].source.title == "Volcanoes"


def test_lexical_only_without_embedder(tmp_path: Path) -> None:
    lib = make_service(None)
    lib.create_notebook("Lex")
    write_topics(tmp_path / "d")
    assert len(lib.add("Lex", [str(tmp_path / "d")]).added) == 3
    hits = lib.search("Lex", "sourdough starter")
    assert hits[0].source.title == "bakery" and hits[0].lexical_rank == 1 and hits[0].dense_rank is None


@pytest.mark.model
def test_changing_the_embedding_model_reembeds_without_mixing(tmp_path: Path, embedder: LlamaCppEmbedder) -> None:
    home = tmp_path / "home"
    lib = make_service(embedder, home)
    lib.create_notebook("NB")
    write_topics(tmp_path / "d")
    lib.add("NB", [str(tmp_path / "d")])
    n_chunks = len(lib.library.chunk_ids(lib.notebook("NB").id))
    lib2 = make_service(HashEmbedder(), home)
    # before re-embedding, dense search under the new model sees nothing (no mixed index); lexical still works
    assert lib2.search("NB", "sourdough", mode="dense") == []
    assert lib2.search("NB", "sourdough")[0].source.title == "bakery"
    lib2.resume()
    nb_id = lib2.notebook("NB").id
    assert lib2.index is not None and len(lib2.index.ids(nb_id)) == n_chunks
    names = [c.name if hasattr(c, "name") else c for c in lib2.index.client.list_collections()]
    assert names == [lib2.index._name(nb_id)], "the old model's collection is dropped after re-embedding"
    assert lib2.search("NB", "sourdough", mode="dense")


@pytest.mark.model
def test_delete_source_and_notebook_clean_index_and_blobs(tmp_path: Path, embedder: LlamaCppEmbedder) -> None:
    lib = make_service(embedder)
    lib.create_notebook("NB")
    write_topics(tmp_path / "d")
    lib.add("NB", [str(tmp_path / "d")])
    nb = lib.notebook("NB")
    src = lib.sources("NB")[0]
    lib.remove_source(src.id)
    assert lib.index is not None
    assert lib.index.ids(nb.id) == lib.library.chunk_ids(nb.id)
    assert src.blob and not (lib.data_dir / src.blob).exists()
    lib.delete_notebook("NB")
    assert lib.notebooks() == []
    assert not list((lib.data_dir / "blobs").rglob("*.*"))
    with pytest.raises(NotebookError, match="No notebook named"):
        lib.sources("NB")


def test_notebook_names(tmp_path: Path) -> None:
    lib = make_service(None)
    lib.create_notebook("Research")
    with pytest.raises(NotebookError, match="already exists"):
        lib.create_notebook("research")
    with pytest.raises(NotebookError, match="needs a name"):
        lib.create_notebook("  ")
    with pytest.raises(NotebookError, match="200"):
        lib.create_notebook("x" * 201)
    lib.create_notebook("Émojis 📚 / slashes")
    assert [n.name for n in lib.notebooks()] == ["Émojis 📚 / slashes", "Research"]


def _big_text(path: Path, paragraphs: int) -> Path:
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    with path.open("w", encoding="utf-8") as f:
        for i in range(paragraphs):
            f.write(f"Paragraph {i}: " + " ".join(words[(i + j) % len(words)] for j in range(120)) + ".\n\n")
    return path


@pytest.mark.model
def test_kill_minus_nine_during_ingestion_then_resume(tmp_path: Path, app_home: Path, installed_model: Path) -> None:
    """Kill the CLI while it embeds; the next run resumes: no duplicates, no orphan vectors."""
    env = {**os.environ, "NOTEBOOKLM_LOCAL_HOME": str(app_home)}
    subprocess.run([*cli_exe(), "notebook", "create", "Big"], env=env, check=True, capture_output=True, timeout=60)
    doc = _big_text(tmp_path / "big.txt", 400)  # the built-in MiniLM embeds ~30 chunks/s: enough to catch it midway
    proc = subprocess.Popen([*cli_exe(), "add", str(doc), "-n", "Big"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    db = app_home / "data" / "library.db"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if proc.poll() is not None:
                pytest.fail(f"ingestion finished before it could be killed: {proc.stderr.read()!r}")
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
                n = con.execute("SELECT count(*) FROM chunks WHERE embedded_model IS NOT NULL").fetchone()[0]
                con.close()
            except sqlite3.Error:
                continue
            if n >= 8:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = subprocess.run([*cli_exe(), "sources", "-n", "Big", "--json"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert '"status": "chunked"' in out.stdout or '"status": "extracted"' in out.stdout
    out = subprocess.run([*cli_exe(), "resume"], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "resumed: big" in out.stdout

    paths = app_paths(app_home)
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.services.models import embedding_model_path

    lib = make_service(LlamaCppEmbedder(embedding_model_path(paths, Settings())), app_home)  # what the CLI used
    srcs = lib.sources("Big")
    assert len(srcs) == 1 and srcs[0].status == "ready"
    nb = lib.notebook("Big")
    assert lib.index is not None
    chunk_ids = lib.library.chunk_ids(nb.id)
    assert len(chunk_ids) == srcs[0].n_chunks
    assert lib.index.ids(nb.id) == chunk_ids, "index and database disagree after resume"
    assert lib.reconcile() == {"orphan_vectors": 0, "missing_vectors": 0}
    assert paths.data.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    chroma = Path(sys.executable).parent / "chroma"
    port = _free_port()
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server-db"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("chroma server did not start")
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.model
def test_against_a_real_chroma_server(tmp_path: Path, embedder: LlamaCppEmbedder, chroma_server: int) -> None:
    paths = app_paths().ensure()
    index = ChromaIndex.http("127.0.0.1", chroma_server, embedder)
    lib = LibraryService(paths.data, Library(paths.data / "library.db"), builtin_registry().source_loaders.items(),
                         index)
    lib.create_notebook("Remote")
    write_topics(tmp_path / "d")
    assert len(lib.add("Remote", [str(tmp_path / "d")]).added) == 3
    assert lib.search("Remote", "Kepler's law of orbital periods")[0].source.title == "Orbits"
    nb = lib.notebook("Remote")
    assert index.ids(nb.id) == lib.library.chunk_ids(nb.id)
    with pytest.raises(Exception, match="Cannot reach the Chroma server"):
        ChromaIndex.http("127.0.0.1", _free_port(), embedder)
