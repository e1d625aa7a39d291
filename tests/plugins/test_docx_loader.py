"""The bundled DOCX loader on documents written by python-docx in the test, and on bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import types
import zipfile
from pathlib import Path

import pytest

from notebooklm_local.core.documents import LoadedDocument, SourceRef
from notebooklm_local.core.errors import SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from tests.conftest import cli_exe
from tests.plugins.helpers import bundled


@pytest.fixture
def docx_mod() -> types.ModuleType:
    return bundled("docx-loader")[0]


def make_docx(path: Path, *, title: str = "", author: str = "") -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = title
    d.core_properties.author = author
    d.add_heading("Garden Guide", 0)
    d.add_heading("Roses", 1)
    d.add_paragraph("Prune roses in late winter, above an outward-facing bud.")
    d.add_heading("Pests", 2)
    d.add_paragraph("Aphids", style="List Bullet")
    d.add_paragraph("Black spot", style="List Bullet")
    t = d.add_table(rows=3, cols=2)
    for r, (a, b) in enumerate([("Plant", "Water"), ("Rose", "Weekly"), ("Fern", "Daily")]):
        t.cell(r, 0).text, t.cell(r, 1).text = a, b
    d.add_heading("Soil", 1)
    d.add_paragraph("Clay soil holds water; add compost to improve drainage.")
    d.save(str(path))
    return path


def load(mod, path: Path) -> LoadedDocument:
    return mod.DocxLoader().load(SourceRef(path=path), CancelToken())


def test_headings_lists_tables_and_properties(docx_mod: types.ModuleType, tmp_path: Path) -> None:
    doc = load(docx_mod, make_docx(tmp_path / "guide.docx", title="The Garden Guide", author="Ann Gardener"))
    assert doc.kind == "docx" and doc.title == "The Garden Guide"
    assert doc.metadata["author"] == "Ann Gardener"
    assert doc.original == (tmp_path / "guide.docx").read_bytes() and doc.original_suffix == ".docx"
    got = [(b.kind, b.heading_path, b.text) for b in doc.blocks]
    assert got == [
        ("heading", ("Garden Guide",), "Garden Guide"),
        ("heading", ("Garden Guide", "Roses"), "Roses"),
        ("paragraph", ("Garden Guide", "Roses"), "Prune roses in late winter, above an outward-facing bud."),
        ("heading", ("Garden Guide", "Roses", "Pests"), "Pests"),
        ("paragraph", ("Garden Guide", "Roses", "Pests"), "- Aphids\n- Black spot"),
        ("paragraph", ("Garden Guide", "Roses", "Pests"), "Plant | Water\nRose | Weekly\nFern | Daily"),
        ("heading", ("Garden Guide", "Soil"), "Soil"),
        ("paragraph", ("Garden Guide", "Soil"), "Clay soil holds water; add compost to improve drainage."),
    ]
    for b in doc.blocks:
        assert doc.text[b.start:b.end] == b.text


def test_title_falls_back_to_the_title_paragraph_then_the_first_heading_then_the_file_name(docx_mod: types.ModuleType, tmp_path: Path) -> None:
    import docx

    assert load(docx_mod, make_docx(tmp_path / "g.docx")).title == "Garden Guide"
    d = docx.Document()
    d.add_paragraph("Just one line.")
    d.save(str(tmp_path / "plain name.docx"))
    assert load(docx_mod, tmp_path / "plain name.docx").title == "plain name"
    d = docx.Document()
    d.add_paragraph("A line before any heading.")
    d.add_heading("Harbour log", 1)
    d.add_heading("Ferries", 2)
    d.add_heading("Second chapter", 1)
    d.save(str(tmp_path / "h.docx"))
    assert load(docx_mod, tmp_path / "h.docx").title == "Harbour log"  # the first Heading 1


def test_merged_cells_appear_once(docx_mod: types.ModuleType, tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    t = d.add_table(rows=2, cols=3)
    merged = t.cell(0, 0).merge(t.cell(0, 2))
    merged.text = "Header across"
    t.cell(1, 0).text, t.cell(1, 1).text, t.cell(1, 2).text = "a", "b", "c"
    d.save(str(tmp_path / "m.docx"))
    assert load(docx_mod, tmp_path / "m.docx").text == "Header across\na | b | c"


def _zip(entries: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(("data", "message"), [
    (b"", "not a Word document"),
    (b"Just some text pretending to be a document.", "not a Word document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "encrypted (password-protected) or an old Word 97-2003"),
    (_zip({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"}), "an Excel workbook, not a Word"),
    (_zip({"ppt/presentation.xml": "<p/>"}), "a PowerPoint presentation"),
    (_zip({"notes.txt": "hello"}), "a ZIP archive, not a Word document"),
    (b"PK\x03\x04" + bytes(100), "is damaged"),
    (_zip({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document><w:body>"}), "damaged"),
])
def test_bad_input_is_a_clear_source_load_error(docx_mod: types.ModuleType, tmp_path: Path, data: bytes, message: str) -> None:
    (tmp_path / "bad.docx").write_bytes(data)
    with pytest.raises(SourceLoadError) as e:
        load(docx_mod, tmp_path / "bad.docx")
    assert message in str(e.value) and "bad.docx" in str(e.value)


def test_a_truncated_docx_is_damaged(docx_mod: types.ModuleType, tmp_path: Path) -> None:
    data = make_docx(tmp_path / "g.docx").read_bytes()
    (tmp_path / "cut.docx").write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceLoadError, match="damaged"):
        load(docx_mod, tmp_path / "cut.docx")


def test_an_empty_document(docx_mod: types.ModuleType, tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_paragraph("   ")
    d.save(str(tmp_path / "empty.docx"))
    with pytest.raises(SourceLoadError, match="empty.docx contains no text"):
        load(docx_mod, tmp_path / "empty.docx")


def test_fifty_megabytes_of_text_is_refused_quickly(docx_mod: types.ModuleType, tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_paragraph("seed")
    d.save(str(tmp_path / "seed.docx"))
    with zipfile.ZipFile(tmp_path / "seed.docx") as z:
        parts = {n: z.read(n) for n in z.namelist()}
    para = "<w:p><w:r><w:t>" + "lorem ipsum " * 10_000 + "</w:t></w:r></w:p>"  # 120 kB per paragraph
    xml = parts["word/document.xml"].decode()
    head, tail = xml.split("<w:body>", 1)
    parts["word/document.xml"] = (head + "<w:body>" + para * 420 + tail).encode()  # ~50 MB of text
    (tmp_path / "huge.docx").write_bytes(_zip(parts))  # type: ignore[arg-type]
    t = time.monotonic()
    with pytest.raises(SourceLoadError, match="huge.docx is too large.*Split it"):
        load(docx_mod, tmp_path / "huge.docx")
    assert time.monotonic() - t < 5


def test_cancel_stops_reading(docx_mod: types.ModuleType, tmp_path: Path) -> None:
    from notebooklm_local.core.errors import Cancelled

    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        docx_mod.DocxLoader().load(SourceRef(path=make_docx(tmp_path / "g.docx")), token)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_exe(), *args], capture_output=True, text=True, timeout=300, env=os.environ.copy())


def test_end_to_end_add_a_docx_through_the_cli_and_search_it(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "guide.docx", title="The Garden Guide", author="Ann")
    assert run("notebook", "create", "NB").returncode == 0
    out = run("add", str(path), "-n", "NB", "--lexical-only")
    assert out.returncode == 0, out.stderr
    assert "added: The Garden Guide (docx" in out.stdout
    (src,) = json.loads(run("sources", "-n", "NB", "--json").stdout)
    assert src["status"] == "ready" and src["kind"] == "docx" and src["chunks"] >= 1
    hits = json.loads(run("search", "compost drainage", "-n", "NB", "--mode", "lexical", "--json").stdout)
    assert hits and hits[0]["source"] == "The Garden Guide" and "compost" in hits[0]["snippet"]
