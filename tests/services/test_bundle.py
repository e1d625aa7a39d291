"""Notebook bundles through the real stack: the sample notebook (PDF, Markdown, text, WebVTT) read by the
real loaders, model-free studio outputs, a note saved from one, a cited chat answer; exported, imported
into another data dir (Chroma + a stand-in embedder), and every citation resolved to the same text."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.bundle import BundleError, Limits
from notebooklm_local.core.chat_goals import notebook_goal, set_notebook_goal
from notebooklm_local.core.chat_store import ChatStore
from notebooklm_local.core.citations import Citation
from notebooklm_local.core.errors import Cancelled, NotebookError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.library import Library
from notebooklm_local.core.notes import NoteStore
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings
from notebooklm_local.core.studio_store import StudioStore
from notebooklm_local.core.templates import TemplateStore
from notebooklm_local.core.textutil import normalize_for_match
from notebooklm_local.extensions.builtins import builtin_registry
from notebooklm_local.services.bundle import export_notebook, import_bundle, settings_diff
from notebooklm_local.services.index import ChromaIndex
from notebooklm_local.services.library_service import LibraryService
from notebooklm_local.services.studio.extractive import ExtractiveStudio
from tests.conftest import REPO
from tests.helpers.embedders import HashEmbedder

SAMPLE = REPO / "resources" / "sample"
TEMPLATES = REPO / "resources" / "templates"


def service(home: Path, embedder: Any = None) -> LibraryService:
    paths = app_paths(home).ensure()
    index = ChromaIndex.persistent(paths.index / "chroma", embedder) if embedder is not None else None
    return LibraryService(paths.data, Library(paths.data / "library.db"), builtin_registry().source_loaders.items(),
                          index)


def templates(home: Path) -> TemplateStore:
    return TemplateStore(TEMPLATES, app_paths(home).templates)


def chat_answer(lib: LibraryService, nb: str, question: str) -> None:
    """A cited answer as the chat stores it: each citation a real span of a real chunk."""
    hits = lib.search(nb, question, k=2, mode="lexical")
    assert hits
    cits, sents = [], []
    for i, h in enumerate(hits, 1):
        c = h.chunk
        text, _ = lib.library.source_text(h.source.id)
        end = min(c.char_end, c.char_start + 60)
        cits.append(Citation(i, c.id, h.source.id, h.source.title, c.page, c.t_start, c.char_start, end,
                             text[c.char_start:end], h.location).to_json())
        sents.append({"text": f"Claim {i}.", "citations": [i], "supported": True})
    chats = ChatStore(lib.library)
    sess = chats.create_session(lib.notebook(nb).id)
    chats.add_message(sess.id, "user", question)
    chats.add_message(sess.id, "assistant", " ".join(s["text"] for s in sents),
                      {"citations": cits, "sentences": sents, "passages_given": [
                          {"id": c["passage_id"], "chunk_id": c["chunk_id"]} for c in cits]})


def citations_in(obj: Any) -> list[dict[str, Any]]:
    """Every dict in JSON data that names a chunk (citations, mind-map refs, passages given), in order."""
    out: list[dict[str, Any]] = []
    if isinstance(obj, dict):
        if "chunk_id" in obj:
            out.append(obj)
        for v in obj.values():
            out += citations_in(v)
    elif isinstance(obj, list):
        for v in obj:
            out += citations_in(v)
    return out


def resolved(lib: Library, nb_id: str, obj: Any) -> list[tuple[str, str, str]]:
    """(source title, chunk text, cited span text) of every citation, each checked to resolve in ``lib``."""
    out = []
    titles = {s.id: s.title for s in lib.sources(nb_id)}
    for c in citations_in(obj):
        chunk = lib.chunks([c["chunk_id"]]).get(c["chunk_id"])
        assert chunk is not None, f"chunk {c['chunk_id']} does not resolve"
        sid = c.get("source_id", chunk.source_id)
        assert chunk.source_id == sid and sid in titles, "the chunk is not the cited source's"
        span = ""
        if "start" in c and "end" in c:
            text, _ = lib.source_text(sid)
            span = text[c["start"]:c["end"]]
            if c.get("quote"):
                assert normalize_for_match(c["quote"]) in normalize_for_match(span) or \
                    normalize_for_match(span) in normalize_for_match(c["quote"])
        out.append((titles[sid], chunk.text, span))
    return out


def everything(lib: Library, nb_id: str) -> dict[str, Any]:
    """What a user sees of a notebook, without ids: sources with text, notes, outputs, chats, and citations."""
    srcs = {s.title: (s.kind, s.sha256, lib.source_text(s.id)[0], s.n_chunks, s.selected) for s in lib.sources(nb_id)}
    notes = sorted((n.title, n.body, tuple(n.tags), n.origin_kind) for n in NoteStore(lib).list(nb_id))
    outs = sorted((o.kind, o.title) for o in StudioStore(lib).list(nb_id))
    chats = ChatStore(lib)
    msgs = sorted((s.title, tuple((m.role, m.content) for m in chats.messages(s.id))) for s in chats.sessions(nb_id))
    cites: list[Any] = []
    for n in sorted(NoteStore(lib).list(nb_id), key=lambda n: n.title):
        cites += resolved(lib, nb_id, n.citations)
    for o in sorted(StudioStore(lib).list(nb_id), key=lambda o: (o.kind, o.title)):
        cites += resolved(lib, nb_id, o.payload)
        assert set(o.source_ids) <= {s.id for s in lib.sources(nb_id)}
    for s in sorted(chats.sessions(nb_id), key=lambda s: s.title):
        for m in chats.messages(s.id):
            cites += resolved(lib, nb_id, m.payload)
    return {"sources": srcs, "notes": notes, "outputs": outs, "chats": msgs, "citations": cites}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    """The sample notebook with outputs, a note, an answer and an edited template, exported once."""
    home = tmp_path_factory.mktemp("source-home")
    lib = service(home, HashEmbedder())
    lib.create_notebook("Sample")
    report = lib.add("Sample", [str(p) for p in sorted(SAMPLE.iterdir())])
    assert len(report.added) == 4, report.lines()
    studio = ExtractiveStudio(lib)
    studio.summary("Sample", length="short")
    studio.quotes("Sample", count=2)
    mm = studio.mindmap("Sample")
    assert mm.output is not None
    studio.save_note(mm.output.id, tags=["maps"])
    NoteStore(lib.library).add(lib.notebook("Sample").id, "Plain note", "No citations here.", tags=["todo"])
    chat_answer(lib, "Sample", "citations quantization chunks")
    lib.library.update_source(lib.sources("Sample")[0].id, selected=False)
    set_notebook_goal(lib.library, "Sample", "learning", None, "longer")
    store = templates(home)
    name = sorted(store.names())[0]
    text = store.default(name).path.read_text(encoding="utf-8")  # type: ignore[union-attr]
    store.save(name, text.replace("\n", "\n# edited for the bundle test\n", 1))
    settings = Settings()
    settings.chat.top_k = 12
    settings.model.path = "/home/someone/model.gguf"  # machine-specific: never exported
    out = home / "sample.zip"
    rep = export_notebook(lib.library, lib.data_dir, "Sample", out, templates=store, settings=settings)
    assert rep.sources == 4 and rep.notes == 2 and rep.outputs == 3 and rep.chats == 1 and rep.templates == [name]
    before = everything(lib.library, lib.notebook("Sample").id)
    lib.library.close()
    return home, out, before


def test_bundle_contents(exported: tuple[Path, Path, dict[str, Any]]) -> None:
    _home, out, _before = exported
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
        names = set(z.namelist())
        assert manifest["format_version"] == 1 and manifest["embedder"] == "test:hash-embedder:v1"
        assert manifest["counts"] == {"sources": 4, "notes": 2, "studio_outputs": 3, "chats": 1, "messages": 2}
        listed = {f["path"]: f for f in manifest["files"]}
        assert set(listed) == names - {"manifest.json"}
        for name, f in listed.items():
            data = z.read(name)
            assert len(data) == f["size"] and hashlib.sha256(data).hexdigest() == f["sha256"]
        originals = [n for n in names if n.startswith("originals/")]
        assert len(originals) == 4 and any(n.endswith(".pdf") for n in originals)
        assert json.loads(z.read("settings.json")) == {"chat.top_k": 12}
        assert [n for n in names if n.startswith("templates/")] and not [n for n in names if "chroma" in n]


def test_round_trip_into_an_empty_data_dir(exported: tuple[Path, Path, dict[str, Any]], tmp_path: Path) -> None:
    _home, out, before = exported
    target = service(tmp_path / "other", HashEmbedder("test:other-embedder:v2"))
    # another notebook first, so the imported chunks get other ids than in the exporting library
    target.create_notebook("Other")
    (tmp_path / "x.md").write_text("# X\n\n" + "Unrelated words about harbours. " * 80, encoding="utf-8")
    target.add("Other", [str(tmp_path / "x.md")])
    store = templates(tmp_path / "other")
    steps: list[str] = []
    rep = import_bundle(target, out, templates=store, progress=lambda d, t, m: steps.append(m))
    assert rep.new_notebook and rep.notebook == "Sample" and len(rep.sources) == 4
    assert (rep.notes, rep.outputs, rep.chats, rep.messages) == (2, 3, 1, 2)
    assert rep.embedder_from == "test:hash-embedder:v1" and rep.embedder_to == "test:other-embedder:v2"
    assert any("bundle was made with test:hash-embedder:v1" in ln for ln in rep.lines())
    assert rep.settings == {"chat.top_k": 12} and len(rep.templates) == 1 and not rep.skipped
    assert any(s.startswith("indexing") or "embedding" in s for s in steps)
    nb = target.notebook("Sample")
    after = everything(target.library, nb.id)
    assert after == before  # same sources (text identical), notes, outputs, chats, and citations resolving alike
    assert notebook_goal(target.library, nb.id).label == "Learning guide \u00b7 longer"  # the notebook's settings
    assert len(after["citations"]) >= 10
    # ids were remapped: the imported chunks are new rows, and every citation names one of them
    new_chunks = target.library.chunk_ids(nb.id)
    for n in NoteStore(target.library).list(nb.id):
        assert {c["chunk_id"] for c in citations_in(n.citations)} <= new_chunks
    assert all(s.status == "ready" for s in target.sources("Sample"))
    assert target.library.chunk_ids(nb.id, model_id="test:other-embedder:v2") == new_chunks  # re-embedded
    assert target.index is not None and target.index.ids(nb.id) == new_chunks
    hits = target.search("Sample", "quantization", k=3)  # dense + lexical search work on the imported notebook
    assert hits and hits[0].source.notebook_id == nb.id
    # selection, originals kept in the store, re-indexing reads the kept original
    assert [s.selected for s in target.sources("Sample")].count(False) == 1
    for s in target.sources("Sample"):
        assert s.blob and (target.data_dir / s.blob).is_file()
        assert hashlib.sha256((target.data_dir / s.blob).read_bytes()).hexdigest() == s.sha256
    assert not (target.data_dir / "tmp").exists()
    # a second import of the same bundle: a new notebook "Sample (2)"
    rep2 = import_bundle(target, out)
    assert rep2.notebook == "Sample (2)" and len(rep2.sources) == 4
    assert everything(target.library, target.notebook("Sample (2)").id) == before


def test_import_into_an_existing_notebook_skips_same_content(exported: tuple[Path, Path, dict[str, Any]],
                                                             tmp_path: Path) -> None:
    _home, out, before = exported
    target = service(tmp_path / "other", None)  # keyword-only library: no embedder
    target.create_notebook("Mine")
    pdf = next(p for p in SAMPLE.iterdir() if p.suffix == ".pdf")
    (mine,) = target.add("Mine", [str(pdf)]).added
    rep = import_bundle(target, out, into="Mine")
    assert not rep.new_notebook and rep.notebook == "Mine"
    assert len(rep.sources) == 3 and rep.skipped == [(mine.title, "already in the notebook (same content)")]
    assert any("keyword search only" in ln for ln in rep.lines())
    srcs = target.sources("Mine")
    assert len(srcs) == 4 and len({s.sha256 for s in srcs}) == 4  # no duplicate source
    after = everything(target.library, target.notebook("Mine").id)
    assert after["citations"] == before["citations"]  # citations of the skipped source point at the one there
    assert after["notes"] == before["notes"] and after["outputs"] == before["outputs"]
    # again: everything is already there
    rep2 = import_bundle(target, out, into="Mine")
    assert rep2.sources == [] and len(rep2.skipped) == 4 and len(target.sources("Mine")) == 4


def _counts(lib: Library) -> tuple[int, ...]:
    return tuple(lib.query(f"SELECT count(*) FROM {t}")[0][0]
                 for t in ("notebooks", "sources", "chunks", "notes", "studio_outputs", "chat_sessions", "chat_messages"))


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "chroma" not in p.parts}


def test_failure_while_embedding_undoes_everything(exported: tuple[Path, Path, dict[str, Any]], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _home, out, _before = exported
    target = service(tmp_path / "other", HashEmbedder())
    target.create_notebook("Mine")
    before, files = _counts(target.library), _files(target.data_dir)
    calls = {"n": 0}
    real = LibraryService.process

    def failing(self: LibraryService, *a: Any, **k: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise NotebookError("the embedder crashed")
        return real(self, *a, **k)

    monkeypatch.setattr(LibraryService, "process", failing)
    for into in (None, "Mine"):
        calls["n"] = 0
        with pytest.raises(NotebookError, match="the embedder crashed"):
            import_bundle(target, out, into=into)
        assert _counts(target.library) == before and _files(target.data_dir) == files
        assert target.index is not None and not target.index.ids(target.notebook("Mine").id)


def test_cancel_undoes_everything(exported: tuple[Path, Path, dict[str, Any]], tmp_path: Path) -> None:
    _home, out, _before = exported
    target = service(tmp_path / "other", HashEmbedder())
    before, files = _counts(target.library), _files(target.data_dir)
    token = CancelToken()

    def progress(done: int, total: int, message: str) -> None:
        if message.startswith("indexing") and "(2/" in message:
            token.cancel()

    with pytest.raises(Cancelled):
        import_bundle(target, out, cancel=token, progress=progress)
    assert _counts(target.library) == before and _files(target.data_dir) == files


def test_templates_the_user_edited_are_kept(exported: tuple[Path, Path, dict[str, Any]], tmp_path: Path) -> None:
    _home, out, _before = exported
    target = service(tmp_path / "other", None)
    store = templates(tmp_path / "other")
    with zipfile.ZipFile(out) as z:
        (name,) = [n[len("templates/"):-len(".toml")] for n in z.namelist() if n.startswith("templates/")]
    mine = store.default(name).path.read_text(encoding="utf-8").replace("\n", "\n# mine\n", 1)  # type: ignore[union-attr]
    store.save(name, mine)
    rep = import_bundle(target, out, templates=store)
    assert rep.templates == [] and (f"template {name}", "you have your own edited version (kept)") in rep.skipped
    assert (store.user_dir / f"{name}.toml").read_text(encoding="utf-8") == mine


def test_export_refuses_to_overwrite_and_writes_whole_files(exported: tuple[Path, Path, dict[str, Any]],
                                                            tmp_path: Path) -> None:
    home, out, _before = exported
    lib = service(home)
    with pytest.raises(BundleError, match="already exists"):
        export_notebook(lib.library, lib.data_dir, "Sample", out)
    token = CancelToken()

    def progress(done: int, total: int, message: str) -> None:
        if "source" in message:
            token.cancel()

    with pytest.raises(Cancelled):
        export_notebook(lib.library, lib.data_dir, "Sample", tmp_path / "b.zip", cancel=token, progress=progress)
    assert list(tmp_path.iterdir()) == []  # no partial file left behind
    rep = export_notebook(lib.library, lib.data_dir, "Sample", tmp_path / "c")
    assert rep.path == tmp_path / "c.zip" and rep.path.is_file()
    lib.library.close()


def test_import_guards_before_writing(exported: tuple[Path, Path, dict[str, Any]], tmp_path: Path) -> None:
    """A bundle over the size cap, or with a changed original, imports nothing and leaves no temporary files."""
    _home, out, _before = exported
    target = service(tmp_path / "other", None)
    before, files = _counts(target.library), _files(target.data_dir)
    with pytest.raises(BundleError, match="more than"):
        import_bundle(target, out, limits=Limits(max_total_bytes=10_000))
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("originals/") and info.filename.endswith(".pdf"):
                data = data[:-10] + b"0123456789"  # same size, other bytes
            dst.writestr(info, data)
    with pytest.raises(BundleError, match="checksum .* does not match"):
        import_bundle(target, bad)
    assert _counts(target.library) == before and _files(target.data_dir) == files


def test_settings_diff_leaves_machine_settings_out() -> None:
    s = Settings()
    s.model.path, s.model.n_threads, s.ui.theme = "/x.gguf", 3, "dark"
    s.studio.host_a, s.output_language = "Ada", "de"
    assert settings_diff(s) == {"studio.host_a": "Ada", "output_language": "de"}


def _slip(src: Path, dst: Path) -> Path:
    from tests.core.test_bundle import listed, rewrite

    info = zipfile.ZipInfo("../../evil.txt")
    return rewrite(src, dst, add=[(info, b"owned")], manifest=listed(info, b"owned"))


def _newer(src: Path, dst: Path) -> Path:
    from tests.core.test_bundle import rewrite

    return rewrite(src, dst, manifest=lambda m: m.update(format_version=99))


def _truncated(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes()[: src.stat().st_size * 2 // 3])
    return dst


def _changed_text(src: Path, dst: Path) -> Path:
    from tests.core.test_bundle import rewrite

    return rewrite(src, dst, edit=lambda n, d: d[:-1] + b"!" if n.endswith("text.txt") else d, fix_checksums=False)


@pytest.mark.parametrize("make, message", [
    (_slip, "could write outside"), (_newer, "bundle format 99"), (_truncated, "not a complete .zip"),
    (_changed_text, "checksum of .* does not match"),
])
def test_bad_bundles_import_nothing(exported: tuple[Path, Path, dict[str, Any]], tmp_path: Path, make: Any,
                                    message: str) -> None:
    _home, out, _before = exported
    bad = make(out, tmp_path / "bad.zip")
    target = service(tmp_path / "home", None)
    target.create_notebook("Mine")
    before, files = _counts(target.library), _files(tmp_path)
    for into in (None, "Mine"):
        with pytest.raises(BundleError, match=message):
            import_bundle(target, bad, into=into, templates=templates(tmp_path / "home"))
        assert _counts(target.library) == before and _files(tmp_path) == files  # nothing written, anywhere
    assert not (tmp_path.parent / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
