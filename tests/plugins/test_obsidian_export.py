"""The bundled Obsidian exporter: a vault with notes, a Sources folder and wiki-links; safe names; no overwrite."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.exporters import ExportSource, export_sources, find_exporter
from notebooklm_local.core.note_export import ExportError, ExportExists
from notebooklm_local.core.notes import Note, NoteStore
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings
from notebooklm_local.services.library_service import LibraryService
from notebooklm_local.workspace import open_library
from tests.conftest import cli_exe
from tests.plugins.helpers import bundled

World = tuple[LibraryService, Any, list[Note], list[ExportSource]]


def cite(pid: int, src: ExportSource | None, title: str, quote: str, **kw: object) -> dict[str, object]:
    return {"passage_id": pid, "chunk_id": pid, "source_id": src.id if src else "gone", "source_title": title,
            "page": kw.get("page"), "t_start": None, "start": 0, "end": 5, "quote": quote,
            "location": kw.get("location", ""), "url": kw.get("url")}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A notebook with two sources (one with an awkward title) and two notes citing them."""
    paths = app_paths().ensure()
    lib = open_library(paths, Settings(), with_index=False)
    lib.create_notebook("Garden")
    (tmp_path / "roses.md").write_text("# Roses\n\nPrune roses in late winter.", encoding="utf-8")
    (tmp_path / "odd.txt").write_text("Compost <b>improves</b> drainage.", encoding="utf-8")
    report = lib.add("Garden", [str(tmp_path / "roses.md"), str(tmp_path / "odd.txt")])
    assert not report.failed
    odd = next(s for s in report.added if s.title == "odd")
    lib.library.update_source(odd.id, title="Soil [care] | tips: #1?")
    nb = lib.library.notebook("Garden")
    sources = export_sources(lib.library, nb.id)
    roses = next(s for s in sources if s.title == "Roses")
    soil = next(s for s in sources if s.title.startswith("Soil"))
    store = NoteStore(lib.library)
    n1 = store.add(nb.id, "Pruning: when?", "Prune in late winter [1]. Add compost [2]. Old fact [3].", tags=["roses"],
                   citations=[cite(1, roses, "Roses", "Prune roses", page=None),
                              cite(2, soil, soil.title, "Compost improves"),
                              cite(3, None, "A removed source", "gone")])
    n2 = store.add(nb.id, "Pruning: when?", "Same title, different note [1].", citations=[cite(1, roses, "Roses", "x")])
    yield lib, nb, [n1, n2], sources
    lib.library.close()


def exporter() -> Any:
    _mod, m = bundled("obsidian-export")
    return find_exporter(m.exporters(), "obsidian")


def test_a_vault_with_notes_sources_and_wiki_links(world: World, tmp_path: Path) -> None:
    _lib, _nb, notes, sources = world
    vault = tmp_path / "vault"
    written = exporter().export(notes, vault, notebook_name="Garden", sources=sources, force=False)
    rel = sorted(str(p.relative_to(vault)) for p in written)
    assert rel == ["Pruning - when (2).md", "Pruning - when.md", "Sources/Roses.md", "Sources/Soil (care) - tips - 1.md"]
    note = (vault / "Pruning - when.md").read_text(encoding="utf-8")
    assert note.startswith("---\ntitle: \"Pruning: when?\"\nnotebook: \"Garden\"\n")
    assert 'sources:\n  - "[[Sources/Roses]]"\n  - "[[Sources/Soil (care) - tips - 1]]"\n  - "A removed source"' in note
    assert "Prune in late winter [^1]. Add compost [^2]. Old fact [^3]." in note
    assert "[^1]: [[Sources/Roses]] \u2014 \u201cPrune roses\u201d" in note
    assert "[^2]: [[Sources/Soil (care) - tips - 1|Soil (care) - tips: #1?]] \u2014" in note
    assert "[^3]: A removed source \u2014 \u201cgone\u201d" in note
    assert "NBLSRCLINK" not in note
    src = (vault / "Sources" / "Roses.md").read_text(encoding="utf-8")
    assert src.startswith('---\ntitle: "Roses"\nkind: "markdown"\npath: "') and 'notebook: "Garden"' in src
    assert "# Roses\n" in src and "## Text\n\nRoses\n\nPrune roses in late winter." in src
    soil = (vault / "Sources" / "Soil (care) - tips - 1.md").read_text(encoding="utf-8")
    assert "# Soil \\[care\\] \\| tips: \\#1?" in soil and "Compost &lt;b>improves&lt;/b> drainage." in soil


def test_never_overwrites_without_force(world: World, tmp_path: Path) -> None:
    _lib, _nb, notes, sources = world
    vault = tmp_path / "vault"
    ex = exporter()
    ex.export(notes, vault, notebook_name="Garden", sources=sources, force=False)
    (vault / "Sources" / "Roses.md").write_text("my edits", encoding="utf-8")
    with pytest.raises(ExportExists, match="Nothing was written"):
        ex.export(notes, vault, notebook_name="Garden", sources=sources, force=False)
    assert (vault / "Sources" / "Roses.md").read_text(encoding="utf-8") == "my edits"
    ex.export(notes, vault, notebook_name="Garden", sources=sources, force=True)
    assert (vault / "Sources" / "Roses.md").read_text(encoding="utf-8").startswith("---")


def test_bad_destinations(world: World, tmp_path: Path) -> None:
    _lib, _nb, notes, sources = world
    (tmp_path / "file").write_text("x", encoding="utf-8")
    ex = exporter()
    with pytest.raises(ExportError, match="it is a file, not a folder"):
        ex.export(notes, tmp_path / "file", notebook_name="Garden", sources=sources, force=False)
    with pytest.raises(ExportError, match="contains '..'"):
        ex.export(notes, Path(f"{tmp_path}/a/../b"), notebook_name="Garden", sources=sources, force=False)
    with pytest.raises(ExportError, match="no notes"):
        ex.export([], tmp_path / "v", notebook_name="Garden", sources=sources, force=False)


def test_a_long_source_text_is_cut(tmp_path: Path) -> None:
    mod, _m = bundled("obsidian-export")
    src = ExportSource("s1", "Big", "text", text="word " * 100_000)
    text = mod.source_markdown(src)
    assert len(text) < 210_000 and "more characters are in notebooklm-local" in text
    empty = mod.source_markdown(ExportSource("s2", "", "web", url="https://example.org/a"))
    assert "No extracted text" in empty and "<https://example.org/a>" in empty and 'title: "Untitled source"' in empty


def test_notes_of_several_notebooks(tmp_path: Path) -> None:
    ex = exporter()
    notes = [Note("a", "nb1", "One", "x"), Note("b", "nb2", "Two", "y")]
    ex.export(notes, tmp_path / "v", notebook_name={"nb1": "First", "nb2": "Second"}, sources=[], force=False)
    assert 'notebook: "Second"' in (tmp_path / "v" / "Two.md").read_text(encoding="utf-8")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_exe(), *args], capture_output=True, text=True, timeout=300, env=os.environ.copy())


def test_notes_export_exporter_obsidian_from_the_cli(tmp_path: Path) -> None:
    (tmp_path / "roses.md").write_text("# Roses\n\nPrune roses in late winter.", encoding="utf-8")
    assert run("notebook", "create", "G").returncode == 0
    assert run("add", str(tmp_path / "roses.md"), "-n", "G", "--lexical-only").returncode == 0
    assert run("notes", "add", "-n", "G", "--title", "My note", "--body", "Roses need pruning.").returncode == 0
    out = run("notes", "export", "-n", "G", "--exporter", "obsidian", "-o", str(tmp_path / "vault"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "vault" / "My note.md").is_file() and (tmp_path / "vault" / "Sources" / "Roses.md").is_file()
    again = run("notes", "export", "-n", "G", "--exporter", "obsidian", "-o", str(tmp_path / "vault"))
    assert again.returncode == 1 and "Pass --force" in again.stderr
    unknown = run("notes", "export", "-n", "G", "--exporter", "nope", "-o", str(tmp_path / "v2"))
    assert unknown.returncode == 1 and "No exporter named 'nope'" in unknown.stderr and "obsidian" in unknown.stderr
    safe = run("--safe-mode", "notes", "export", "-n", "G", "--exporter", "obsidian", "-o", str(tmp_path / "v3"))
    assert safe.returncode == 1 and "Known exporters: markdown." in safe.stderr
    md = run("notes", "export", "-n", "G", "-o", str(tmp_path / "md"))
    assert md.returncode == 0 and json.dumps(str(tmp_path / "md" / "My note.md"))[1:-1] in md.stdout
