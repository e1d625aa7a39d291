"""CLI counterparts of GUI actions: rename a notebook, rename a source, re-index sources (keyword-only
library here, so no model is loaded; tests/test_cli_library.py re-indexes with the real embedder)."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.app import main


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def sources(capsys: pytest.CaptureFixture[str], notebook: str) -> dict[str, dict]:
    rc, out, err = cli(capsys, "sources", "-n", notebook, "--json")
    assert rc == 0, err
    return {s["title"]: s for s in json.loads(out)}


def test_notebook_rename(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "notebook", "create", "Garden")[0] == 0
    assert cli(capsys, "notebook", "create", "Kitchen")[0] == 0
    rc, out, _ = cli(capsys, "notebook", "rename", "garden", "Yard")
    assert rc == 0 and out.strip() == "renamed notebook 'Garden' to 'Yard'"
    rc, out, _ = cli(capsys, "notebook", "list", "--json")
    assert sorted(nb["name"] for nb in json.loads(out)) == ["Kitchen", "Yard"]

    rc, _out, err = cli(capsys, "notebook", "rename", "Yard", "kitchen")
    assert rc == 1 and err.strip() == "error: A notebook named 'kitchen' already exists."
    rc, _out, err = cli(capsys, "notebook", "rename", "Yard", "   ")
    assert rc == 1 and err.strip() == "error: A notebook needs a name."
    rc, _out, err = cli(capsys, "notebook", "rename", "Garden", "Park")
    assert rc == 1 and err.startswith("error: No notebook named 'Garden'")
    rc, out, _ = cli(capsys, "notebook", "list", "--json")
    assert sorted(nb["name"] for nb in json.loads(out)) == ["Kitchen", "Yard"]


def test_source_rename(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "roses.md").write_text("# Roses\n\nPrune roses in late winter.", encoding="utf-8")
    cli(capsys, "notebook", "create", "Garden")
    assert cli(capsys, "add", str(tmp_path / "roses.md"), "-n", "Garden", "--lexical-only")[0] == 0
    sid = sources(capsys, "Garden")["Roses"]["id"]

    rc, out, _ = cli(capsys, "rename", "roses", "  Rose care  ", "-n", "Garden")
    assert rc == 0 and out.strip() == "renamed 'Roses' to 'Rose care'"
    assert sources(capsys, "Garden")["Rose care"]["id"] == sid
    rc, out, _ = cli(capsys, "rename", sid[:8], "Pruning", "-n", "Garden")
    assert rc == 0 and out.strip() == "renamed 'Rose care' to 'Pruning'"

    rc, _out, err = cli(capsys, "rename", "Pruning", " ", "-n", "Garden")
    assert rc == 1 and err.strip() == "error: A source needs a title."
    rc, _out, err = cli(capsys, "rename", "Pruning", "x" * 301, "-n", "Garden")
    assert rc == 1 and "limited to 300 characters" in err
    rc, _out, err = cli(capsys, "rename", "Tulips", "New", "-n", "Garden")
    assert rc == 1 and "'Tulips' matches 0 sources" in err
    assert list(sources(capsys, "Garden")) == ["Pruning"]
    assert cli(capsys, "rename", "Pruning", "y" * 300, "-n", "Garden")[0] == 0


def test_reindex_reads_the_original_again(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Clay soil holds water.", encoding="utf-8")
    cli(capsys, "notebook", "create", "Garden")
    cli(capsys, "add", str(notes), "-n", "Garden", "--lexical-only")
    srcs = sources(capsys, "Garden")
    before = srcs["notes"]
    assert before["status"] == "ready"

    cli(capsys, "rename", "notes", "Soil notes", "-n", "Garden")
    notes.write_text("Clay soil holds water; add compost to improve drainage.", encoding="utf-8")
    rc, out, err = cli(capsys, "reindex", "Soil notes", "-n", "Garden", "--lexical-only")
    assert rc == 0, err
    assert out.strip() == f"re-indexed: Soil notes ({before['chunks']} chunks)"
    assert "re-indexing Soil notes" in err and "reading" in err  # progress on the terminal
    after = sources(capsys, "Garden")["Soil notes"]  # the title the user gave is kept
    assert after["id"] == before["id"] and after["status"] == "ready" and after["chunks"] == before["chunks"]
    rc, out, _ = cli(capsys, "search", "compost", "-n", "Garden", "--mode", "lexical", "--json")
    assert rc == 0 and json.loads(out)[0]["source"] == "Soil notes"  # the new text is what is indexed

    notes.unlink()
    rc, out, err = cli(capsys, "reindex", "Soil notes", "-n", "Garden", "--lexical-only")
    assert rc == 1 and "failed: Soil notes: File not found" in err and "failed" not in out
    assert sources(capsys, "Garden")["Soil notes"]["status"] == "failed"
    rc, _out, err = cli(capsys, "reindex", "Nope", "-n", "Garden", "--lexical-only")
    assert rc == 1 and "'Nope' matches 0 sources" in err


def test_reindex_ctrl_c_cancels(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from notebooklm_local.services.library_service import LibraryService

    (tmp_path / "a.txt").write_text("Alpha text.", encoding="utf-8")
    cli(capsys, "notebook", "create", "Garden")
    cli(capsys, "add", str(tmp_path / "a.txt"), "-n", "Garden", "--lexical-only")
    process = LibraryService.process

    def interrupted(self: LibraryService, *args: Any, **kwargs: Any) -> Any:
        signal.raise_signal(signal.SIGINT)  # Ctrl-C while the source is being read
        return process(self, *args, **kwargs)

    monkeypatch.setattr(LibraryService, "process", interrupted)
    rc, _out, err = cli(capsys, "reindex", "a", "-n", "Garden", "--lexical-only")
    assert rc == 130 and "Stopped" in err and err.rstrip().endswith("cancelled")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
