"""`notebook export` / `notebook import` (in-process through cli.main): a notebook with sources, a studio
output saved as a note, moved to a second data dir and embedded there with the real default embedder."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from notebooklm_local.cli import main
from tests.conftest import _link_into


class Run:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> SimpleNamespace:
        self.capsys.readouterr()
        rc = main(list(args))
        out = self.capsys.readouterr()
        return SimpleNamespace(rc=rc, out=out.out, err=out.err)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Run:
    r = Run(capsys)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "roses.md").write_text("# Roses\n\nPrune roses in late winter, just above an outward-facing bud.",
                                   encoding="utf-8")
    (docs / "soil.txt").write_text("Clay soil holds water. Compost improves its drainage and structure.",
                                   encoding="utf-8")
    assert r("notebook", "create", "Garden").rc == 0
    assert r("add", str(docs), "-n", "Garden", "--lexical-only").rc == 0
    res = r("extract", "quotes", "-n", "Garden", "--save-note", "--tag", "garden")
    assert res.rc == 0, res.err
    return r


def test_export_then_import_elsewhere(run: Run, tmp_path: Path, default_embedder_files: list[Path]) -> None:
    bundle = tmp_path / "garden.zip"
    res = run("notebook", "export", "garden", "-o", str(bundle))
    assert res.rc == 0, res.err
    assert res.out.startswith(f"exported 'Garden' to {bundle} (") and "2 sources, 1 notes, 1 studio outputs" in res.out
    with zipfile.ZipFile(bundle) as z:
        assert "manifest.json" in z.namelist()

    other = tmp_path / "other-home"
    _link_into(default_embedder_files, other / "data" / "models")  # as `init` makes it there
    res = run("--basedir", str(other), "notebook", "import", str(bundle))
    assert res.rc == 0, res.err
    lines = res.out.splitlines()
    assert lines[0] == "imported into new notebook 'Garden': 2 sources, 1 notes, 1 studio outputs, 0 chats (0 messages)"
    assert lines[1].startswith("embedded with ")
    srcs = json.loads(run("--basedir", str(other), "sources", "-n", "Garden", "--json").out)
    assert sorted(s["title"] for s in srcs) == ["Roses", "soil"] and {s["status"] for s in srcs} == {"ready"}
    hits = json.loads(run("--basedir", str(other), "search", "when to prune roses", "-n", "Garden", "--json").out)
    assert hits[0]["source"] == "Roses" and hits[0]["dense_rank"] is not None  # embedded here
    notes = json.loads(run("--basedir", str(other), "notes", "list", "-n", "Garden", "--json").out)
    assert len(notes) == 1 and notes[0]["tags"] == ["garden"]

    # again, as JSON: a second notebook; into the first: both sources are already there
    res = run("--basedir", str(other), "notebook", "import", str(bundle), "--lexical-only", "--json")
    assert res.rc == 0 and json.loads(res.out)["notebook"] == "Garden (2)"
    res = run("--basedir", str(other), "notebook", "import", str(bundle), "--into", "Garden", "--lexical-only")
    assert res.rc == 0
    assert res.out.startswith("imported into notebook 'Garden': 0 sources, 1 notes")
    assert res.err.count("skipped: ") == 2 and "already in the notebook (same content)" in res.err
    assert len(json.loads(run("--basedir", str(other), "sources", "-n", "Garden", "--json").out)) == 2


def test_errors(run: Run, tmp_path: Path) -> None:
    bundle = tmp_path / "garden.zip"
    assert run("notebook", "export", "Garden", "-o", str(bundle)).rc == 0
    res = run("notebook", "export", "Garden", "-o", str(bundle))
    assert res.rc == 1 and "already exists" in res.err and "--force" in res.err
    assert run("notebook", "export", "Garden", "-o", str(bundle), "--force").rc == 0
    res = run("notebook", "export", "Nope", "-o", str(tmp_path / "n.zip"))
    assert res.rc == 1 and res.err.startswith("error: No notebook named 'Nope'")
    res = run("notebook", "import", str(tmp_path / "missing.zip"))
    assert res.rc == 1 and res.err.splitlines()[-1] == f"error: No bundle at {tmp_path / 'missing.zip'}."
    res = run("notebook", "import", str(bundle), "--into", "Nope", "--lexical-only")
    assert res.rc == 1 and "No notebook named 'Nope'" in res.err
    cut = tmp_path / "cut.zip"
    cut.write_bytes(bundle.read_bytes()[:-100])
    res = run("notebook", "import", str(cut), "--lexical-only")
    assert res.rc == 1 and "is not a complete .zip bundle" in res.err
    listing = json.loads(run("notebook", "list", "--json").out)
    assert [nb["name"] for nb in listing] == ["Garden"]  # nothing half-imported
