"""Model-free studio outputs through the real stack: the sample notebook (PDF, Markdown, text, WebVTT)
ingested by LibraryService (lexical only: these outputs need no embeddings), outputs made and stored by
ExtractiveStudio, every citation checked against the stored source text and chunks, Anki packages opened
with zipfile + sqlite3, and the ``extract`` command run as a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from notebooklm_local.core.library import Library
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.studio_store import StudioStore
from notebooklm_local.extensions.builtins import builtin_registry
from notebooklm_local.services.library_service import LibraryService
from notebooklm_local.services.studio.extractive import EXTRACT_KINDS, ExtractiveStudio
from tests.conftest import REPO, cli_exe

SAMPLE = REPO / "resources" / "sample"
CORPUS = REPO.parent / "shared" / "corpus"


def _library(home: Path | None = None) -> LibraryService:
    paths = app_paths(home).ensure()
    return LibraryService(paths.data, Library(paths.data / "library.db"), builtin_registry().source_loaders.items(),
                          None)


@pytest.fixture
def sample(app_home: Path) -> LibraryService:
    lib = _library()
    lib.create_notebook("Sample")
    report = lib.add("Sample", [str(p) for p in sorted(SAMPLE.iterdir())])
    assert len(report.added) == 4, report.failed
    return lib


def _check_citations(lib: LibraryService, payload: dict) -> int:
    """Every citation's span is the quoted sentence in the stored source text, inside its chunk."""
    n = 0
    chunks = lib.library.chunks([c["chunk_id"] for c in payload["citations"]])
    for c in payload["citations"]:
        text, _ = lib.library.source_text(c["source_id"])
        assert " ".join(text[c["start"] : c["end"]].split()) == c["quote"]
        chunk = chunks[c["chunk_id"]]
        assert chunk.source_id == c["source_id"]
        assert chunk.char_start <= c["start"] < chunk.char_end
        n += 1
    return n


def test_every_output_is_stored_and_cited(sample: LibraryService) -> None:
    studio = ExtractiveStudio(sample)
    for what, kind in EXTRACT_KINDS.items():
        r = studio.make(what, "Sample", count=6 if what != "quotes" else 2)
        assert r.kind == kind and r.output is not None and r.output.kind == kind
        d = r.to_json()
        assert d["label"].startswith("Extracted from your sources") and d["model"] == ""
        if kind in ("timeline", "data_table"):  # the sample holds no dates, nor a named subject with a quantity:
            assert not r.result.citations and "No " in r.to_markdown()  # it says so (test_timeline_studio.py)
            continue
        assert _check_citations(sample, d) > 0, what
        assert r.seconds < 10
    listed = StudioStore(sample.library).list(sample.notebook("Sample").id)
    assert {o.kind for o in listed} == set(EXTRACT_KINDS.values())
    # the PDF's sentences have pages, the transcript's timestamps
    summary = studio.make("summary", "Sample", length="long").result
    kinds = {s.source_id: sample.library.source(s.source_id).kind for s in summary.sources}
    for x in summary.items:
        if kinds[x.citation.source_id] == "pdf":
            assert x.citation.page is not None
        if kinds[x.citation.source_id] == "transcript":
            assert x.citation.t_start is not None
    # the cards' blanks are in their sentences
    deck = studio.make("flashcards", "Sample", count=10).result
    for card in deck.cards:
        a, b = card.answer_span
        assert card.sentence.text[a:b] == card.answer


def test_stored_outputs_load_export_and_become_notes(sample: LibraryService, tmp_path: Path) -> None:
    studio = ExtractiveStudio(sample)
    quiz = studio.quiz("Sample", count=4, seed=1)
    back = studio.load(quiz.output.id)
    assert back.result.to_json()["questions"] == quiz.result.to_json()["questions"]
    note = studio.save_note(quiz.output.id)
    assert note.citations and "[1]" in note.body and note.origin_kind == "quiz"
    mm = studio.mindmap("Sample")
    opml = ExtractiveStudio.export(studio.load(mm.output.id).result, "opml", tmp_path / "map.opml")
    root = ET.parse(opml).getroot()
    assert root.tag == "opml" and len(list(root.iter("outline"))) == len(mm.result.nodes)
    assert [o.get("text") for o in root.find("body")][0] == "Sample"
    cards = studio.flashcards("Sample", count=5)
    rows = list(csv.reader(io.StringIO(ExtractiveStudio.render(cards.result, "csv"))))
    assert rows[0][:4] == ["front", "back", "source", "location"] and len(rows) == len(cards.result.cards) + 1
    with pytest.raises(Exception, match="exports as"):
        ExtractiveStudio.render(mm.result, "csv")


def _apkg_notes(path: Path) -> list[tuple[str, list[str], str]]:
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert "collection.anki2" in names
        db_path = path.with_suffix(".anki2")
        db_path.write_bytes(z.read("collection.anki2"))
    con = sqlite3.connect(db_path)
    try:
        rows = con.execute("SELECT guid, flds, mid FROM notes").fetchall()
        models = json.loads(con.execute("SELECT models FROM col").fetchone()[0])
    finally:
        con.close()
    return [(g, f.split("\x1f"), models[str(m)]["name"]) for g, f, m in rows]


def test_markdown_exports_keep_html_in_quoted_sentences_inert(sample: LibraryService, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: the extractor skips most markup-laden sentences, but whatever a result's Markdown holds
    (a quoted sentence about HTML, a heading) is made inert in md exports, as for notes."""
    r = ExtractiveStudio(sample).summary("Sample", length="short")
    real = r.result.to_markdown()
    hostile = real + '\nA page writes <img src="https://t.example/p.gif"> and ![p](https://t.example/i.png).\n'
    monkeypatch.setattr(type(r.result), "to_markdown", lambda self: hostile)
    md = ExtractiveStudio.render(r.result, "md")
    path = ExtractiveStudio.export(r.result, "md", tmp_path / "summary.md")
    for out in (md, path.read_text(encoding="utf-8")):
        assert "&lt;img" in out and "<img" not in out and not re.search(r"(?<!\\)!\[", out)
        assert out.startswith(real.split("\n")[0]) and "[^1]" in out  # the summary itself is unchanged


def test_anki_packages(sample: LibraryService, tmp_path: Path) -> None:
    studio = ExtractiveStudio(sample)
    deck = studio.flashcards("Sample", count=6).result
    path = ExtractiveStudio.export(deck, "apkg", tmp_path / "cards.apkg")
    notes = _apkg_notes(path)
    assert len(notes) == len(deck.cards)
    for (_, fields, model), card in zip(sorted(notes, key=lambda n: n[1][0]), sorted(deck.cards, key=lambda c: c.cloze),
                                        strict=False):
        assert model == "NotebookLM Local cloze"
        assert re.search(r"\{\{c1::.+?\}\}", fields[0])
        assert card.citation.source_title.split()[0] in fields[2]
    answers = {re.search(r"\{\{c1::(.+?)\}\}", f[0]).group(1) for _, f, _ in notes}
    assert answers == {c.answer.replace("&", "&amp;").replace("<", "&lt;") for c in deck.cards}
    # same deck again: same note GUIDs (Anki updates instead of duplicating)
    again = _apkg_notes(ExtractiveStudio.export(deck, "apkg", tmp_path / "again.apkg"))
    assert sorted(g for g, _, _ in again) == sorted(g for g, _, _ in notes)
    quiz = studio.quiz("Sample", count=3).result
    qnotes = _apkg_notes(ExtractiveStudio.export(quiz, "apkg", tmp_path / "quiz.apkg"))
    assert len(qnotes) == len(quiz.questions)
    for _, fields, model in qnotes:
        assert model == "NotebookLM Local quiz"
        assert fields[0].count("<li>") == 4 and "<b>" in fields[1]
    assert not list(tmp_path.glob(".*.tmp"))


def test_no_model_is_loaded(sample: LibraryService, monkeypatch: pytest.MonkeyPatch) -> None:
    import notebooklm_local.services.llama_runtime as rt

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("a model was loaded")

    for name in dir(rt):
        obj = getattr(rt, name)
        if isinstance(obj, type) and hasattr(obj, "__init__") and name.startswith("Llama"):
            monkeypatch.setattr(obj, "__init__", boom)
    studio = ExtractiveStudio(sample)
    for what in EXTRACT_KINDS:
        studio.make(what, "Sample", store=False)


@pytest.mark.skipif(not CORPUS.is_dir() or not list(CORPUS.glob("0*.txt")), reason="shared corpus absent")
@pytest.mark.slow
def test_real_notes_corpus(app_home: Path) -> None:
    lib = _library()
    lib.create_notebook("Notes")
    lib.add("Notes", [str(p) for p in sorted(CORPUS.glob("0*.txt"))])
    studio = ExtractiveStudio(lib)
    for what in EXTRACT_KINDS:
        r = studio.make(what, "Notes")
        assert _check_citations(lib, r.to_json()) > 0
        assert r.seconds < 30


# ---------------------------------------------------------------------------------------------
# CLI


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_exe(), *args], capture_output=True, text=True, timeout=300, env=os.environ.copy())


def test_cli_extract(sample: LibraryService, tmp_path: Path) -> None:
    sample.library.close()
    out = run("extract", "summary", "-n", "Sample", "--length", "short")
    assert out.returncode == 0, out.stderr
    assert "Extracted from your sources" in out.stdout and "[^1]:" in out.stdout
    assert "no model" in out.stderr and "Traceback" not in out.stderr
    out = run("extract", "flashcards", "-n", "Sample", "--count", "4", "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert rows[0][0] == "front" and 1 < len(rows) <= 5
    apkg = tmp_path / "deck.apkg"
    out = run("extract", "quiz", "-n", "Sample", "--count", "3", "--out", str(apkg))
    assert out.returncode == 0, out.stderr
    assert zipfile.is_zipfile(apkg)
    out = run("extract", "quiz", "-n", "Sample", "--out", str(apkg))
    assert out.returncode != 0 and "exists" in out.stderr  # never overwritten without --force
    out = run("extract", "mindmap", "-n", "Sample", "--format", "opml", "--no-store")
    assert out.returncode == 0, out.stderr
    assert ET.fromstring(out.stdout.split("\n", 1)[1]).tag == "opml"
    out = run("extract", "mindmap", "-n", "Sample", "--format", "csv")
    assert out.returncode != 0 and "exports as" in out.stderr
    out = run("studio", "list", "-n", "Sample", "--kind", "flashcards", "--json")
    assert out.returncode == 0 and len(json.loads(out.stdout)) == 1
    listed = json.loads(run("studio", "list", "-n", "Sample", "--json").stdout)
    quiz_id = next(o["id"] for o in listed if o["kind"] == "quiz")
    shown = run("studio", "show", quiz_id)
    assert shown.returncode == 0 and "## Answers" in shown.stdout
    noted = run("studio", "note", quiz_id)
    assert noted.returncode == 0 and "Saved as note" in noted.stdout
    out = run("extract", "quotes", "-n", "Sample", "--sources", "quantization-notes", "--count", "2", "--format",
              "json", "--save-note")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["kind"] == "key_quotes" and len(d["groups"]) == 1 and len(d["groups"][0]["quotes"]) <= 2
