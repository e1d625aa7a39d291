"""`notes` commands: add, list, show, edit, delete, export (in-process through cli.main; no model)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from notebooklm_local.cli import main
from notebooklm_local.core.instance import InstanceLock
from notebooklm_local.core.paths import app_paths
from tests.conftest import cli_exe


class Run:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> SimpleNamespace:
        self.capsys.readouterr()
        rc = main(list(args))
        out = self.capsys.readouterr()
        return SimpleNamespace(rc=rc, out=out.out, err=out.err)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    r = Run(capsys)
    assert r("notebook", "create", "Garden").rc == 0
    return r


def _ids(run: Run, *extra: str) -> list[str]:
    res = run("notes", "list", "-n", "Garden", "--json", *extra)
    assert res.rc == 0, res.err
    return [n["id"] for n in json.loads(res.out)]


def test_add_list_show_export_force(run: Run, tmp_path: Path) -> None:
    assert run("notes", "list", "-n", "Garden").out.startswith("no notes yet")
    added = run("notes", "add", "-n", "Garden", "--title", "Roses: pruning / care", "--tag", "#Spring time",
                "--tag", "garden", "--body", "Prune in **late** winter.\n\n```\nx[1]\n```")
    assert added.rc == 0, added.err
    assert added.out.startswith("added note ") and "'Roses: pruning / care'" in added.out
    (nid,) = _ids(run)

    listed = run("notes", "list", "-n", "garden")
    assert listed.out.startswith(nid[:8]) and "Roses: pruning / care  #Spring-time #garden" in listed.out
    summary = json.loads(run("notes", "list", "-n", "Garden", "--json").out)[0]
    assert summary["title"] == "Roses: pruning / care" and summary["tags"] == ["Spring-time", "garden"]
    assert "body" not in summary and summary["citations"] == 0

    shown = run("notes", "show", nid[:6])
    assert shown.rc == 0 and shown.out.startswith("Roses: pruning / care\n") and "Prune in **late** winter." in shown.out
    full = json.loads(run("notes", "show", nid, "--json").out)
    assert full["id"] == nid and full["notebook"] == "Garden" and full["body"].startswith("Prune")
    md = run("notes", "show", nid[:8], "--markdown").out
    fm = yaml.safe_load(md[4:].split("\n---\n")[0])
    assert fm["title"] == "Roses: pruning / care" and fm["tags"] == ["Spring-time", "garden"]

    out_dir = tmp_path / "export"
    first = run("notes", "export", "-n", "Garden", "--out", str(out_dir))
    assert first.rc == 0, first.err
    target = out_dir / "Roses - pruning - care.md"
    assert "exported 1 note:" in first.out and str(target) in first.out
    assert target.read_text(encoding="utf-8") == md
    target.write_text("edited in Obsidian", encoding="utf-8")

    again = run("notes", "export", "-n", "Garden", "--out", str(out_dir))
    assert again.rc == 1
    assert again.err.startswith("error: Not overwriting") and "--force" in again.err and str(target) in again.err
    assert target.read_text(encoding="utf-8") == "edited in Obsidian"

    forced = run("notes", "export", "-n", "Garden", "--out", str(out_dir), "--force")
    assert forced.rc == 0, forced.err
    assert target.read_text(encoding="utf-8") == md


def test_text_from_file_and_stdin(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "note.md"
    f.write_bytes("\ufeff# From a file\n\nCaf\u00e9 text.\n".encode())
    assert run("notes", "add", "-n", "Garden", "--from-file", str(f)).rc == 0
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(b"Piped text\nline 2"),
                                                      isatty=lambda: False))
    assert run("notes", "add", "-n", "Garden", "--from-file", "-", "--title", "Piped").rc == 0
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(b"body dash"), isatty=lambda: False))
    assert run("notes", "add", "-n", "Garden", "--body", "-").rc == 0
    notes = {n["title"]: n for n in json.loads(run("notes", "list", "-n", "Garden", "--json").out)}
    assert set(notes) == {"From a file", "Piped", "body dash"}
    assert json.loads(run("notes", "show", notes["From a file"]["id"], "--json").out)["body"].startswith("# From")

    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\xff\xfe\x00bad")
    res = run("notes", "add", "-n", "Garden", "--from-file", str(bad))
    assert res.rc == 1 and "is not UTF-8 text" in res.err
    res = run("notes", "add", "-n", "Garden", "--from-file", str(tmp_path / "missing.md"))
    assert res.rc == 1 and res.err.startswith("error: Cannot read")
    res = run("notes", "add", "-n", "Garden", "--title", "t")
    assert res.rc == 1 and "--body TEXT" in res.err


def test_edit_delete_and_errors(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("notes", "add", "-n", "Garden", "--title", "Roses", "--tag", "a", "--tag", "b", "--body", "x").rc == 0
    (nid,) = _ids(run)
    res = run("notes", "edit", nid[:6], "--title", "Rose care", "--add-tag", "C", "--remove-tag", "#A",
              "--body", "new text")
    assert res.rc == 0 and "'Rose care'" in res.out
    full = json.loads(run("notes", "show", nid, "--json").out)
    assert full["title"] == "Rose care" and full["tags"] == ["b", "C"] and full["body"] == "new text"
    assert _ids(run, "--tag", "c") == [nid] and _ids(run, "--query", "NEW") == [nid] and _ids(run, "--tag", "a") == []

    assert "Nothing to change" in run("notes", "edit", nid).err
    assert "No notebook named 'Nope'" in run("notes", "list", "-n", "Nope").err
    assert "at least 6 characters" in run("notes", "show", "abc").err
    assert run("notes", "show", "ffffffff").err.startswith("error: No note")
    assert "-n NOTEBOOK" in run("notes", "export", "--out", "x").err
    assert "either note IDs or --all" in run("notes", "export", nid, "-n", "Garden", "--all", "--out", "x").err
    assert "No notes in 'Garden' tagged zzz" in run("notes", "export", "-n", "Garden", "--tag", "zzz", "--out", "x").err
    assert "contains '..'" in run("notes", "export", "-n", "Garden", "--out", "../x").err

    monkeypatch.setattr(sys, "stdin", SimpleNamespace(isatty=lambda: False))
    refused = run("notes", "delete", nid[:8])
    assert refused.rc == 1 and "--yes" in refused.err and _ids(run) == [nid]
    deleted = run("notes", "delete", nid[:8], "--yes")
    assert deleted.rc == 0 and "deleted note" in deleted.out and _ids(run) == []


def test_export_by_ids_single_file_and_tags(run: Run, tmp_path: Path) -> None:
    for title, tag in (("One", "keep"), ("Two", "keep"), ("Three", "drop")):
        assert run("notes", "add", "-n", "Garden", "--title", title, "--tag", tag, "--body", f"{title} text").rc == 0
    ids = _ids(run)
    res = run("notes", "export", "-n", "Garden", "--tag", "keep", "--out", str(tmp_path / "all.md"))
    assert res.rc == 0, res.err
    text = (tmp_path / "all.md").read_text(encoding="utf-8")
    assert text.index("## One") < text.index("## Two") and "## Three" not in text  # oldest first
    res = run("notes", "export", ids[0][:6], ids[1], "--out", str(tmp_path / "pick"), "--single-file")
    assert res.rc == 0 and (tmp_path / "pick.md").is_file()
    res = run("notes", "export", ids[0], "--out", str(tmp_path / "dir"))
    assert res.rc == 0 and [p.name for p in (tmp_path / "dir").iterdir()] == ["Three.md"]


def test_writes_need_the_data_dir_lock_reads_do_not(run: Run, tmp_path: Path) -> None:
    assert run("notes", "add", "-n", "Garden", "--title", "Roses", "--body", "x").rc == 0
    with InstanceLock(app_paths().lock_file):
        res = run("notes", "add", "-n", "Garden", "--title", "Blocked", "--body", "x")
        assert res.rc == 1 and "Another notebooklm-local is using" in res.err
        assert len(_ids(run)) == 1  # listing works while the app runs
        assert run("notes", "export", "-n", "Garden", "--out", str(tmp_path / "e")).rc == 0


def test_console_entry_point(run: Run) -> None:
    out = subprocess.run([*cli_exe(), "notes", "add", "-n", "Garden", "--from-file", "-"], input="From a pipe\n",
                         capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("added note ") and "'From a pipe'" in out.stdout
