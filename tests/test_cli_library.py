"""The library commands through the console entry point (subprocesses, real stack)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from notebooklm_local.core.instance import InstanceLock
from notebooklm_local.core.paths import app_paths
from tests.conftest import cli_exe

pytestmark = pytest.mark.model


def run(*args: str, stdin: str | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_exe(), *args], capture_output=True, text=True, input=stdin, timeout=timeout,
                          env=os.environ.copy())


def test_notebook_add_sources_search_delete(tmp_path: Path, installed_model: Path) -> None:
    assert run("notebook", "list").stdout.startswith("no notebooks yet")
    assert run("notebook", "create", "Garden").returncode == 0
    dup = run("notebook", "create", "garden")
    assert dup.returncode == 1 and "already exists" in dup.stderr
    (tmp_path / "roses.md").write_text("# Roses\n\nPrune roses in late winter, above an outward bud.", encoding="utf-8")
    (tmp_path / "soil.txt").write_text("Clay soil holds water; add compost to improve drainage.", encoding="utf-8")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    out = run("add", str(tmp_path / "roses.md"), str(tmp_path / "soil.txt"), str(tmp_path / "photo.jpg"),
              "-n", "Garden")
    assert out.returncode == 0, out.stderr
    assert "added: Roses (markdown" in out.stdout and "added: soil (text" in out.stdout
    assert "failed:" in out.stderr and "unsupported file type .jpg" in out.stderr and "failed:" not in out.stdout
    pasted = run("add", "-", "-n", "Garden", "--title", "Watering notes", stdin="Water tomatoes at the base, not the leaves.")
    assert "added: Watering notes (paste" in pasted.stdout

    srcs = json.loads(run("sources", "-n", "Garden", "--json").stdout)
    by_title = {s["title"]: s for s in srcs}
    assert by_title["Roses"]["status"] == "ready" and by_title["Roses"]["chunks"] == 1
    assert any(s["status"] == "failed" and "unsupported" in s["error"] for s in srcs)

    hits = json.loads(run("search", "when should I prune roses", "-n", "Garden", "--json").stdout)
    assert hits[0]["source"] == "Roses" and hits[0]["snippet"].startswith("Roses")
    assert {"source", "page", "timestamp", "score", "snippet", "char_start", "char_end"} <= set(hits[0])
    only = json.loads(run("search", "roses", "-n", "Garden", "--sources", "soil", "--json").stdout)
    assert {h["source"] for h in only} <= {"soil"}
    text = run("search", "compost drainage", "-n", "Garden", "--mode", "lexical")
    assert text.returncode == 0 and text.stdout.startswith("1. soil")

    assert run("search", "x", "-n", "Nope").stderr.startswith("error: No notebook named 'Nope'")
    assert "empty" in run("search", "  ", "-n", "Garden").stderr
    refused = run("notebook", "delete", "Garden")
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert run("notebook", "delete", "Garden", "--yes").returncode == 0
    assert run("notebook", "list").stdout.startswith("no notebooks yet")


def test_cli_refuses_while_another_process_holds_the_data_dir(app_home: Path) -> None:
    paths = app_paths().ensure()
    with InstanceLock(paths.lock_file):
        out = run("notebook", "create", "Garden")  # writers wait; readers (`notebook list`, `sources`) may read
        listed = run("notebook", "list")
    assert out.returncode == 1 and "Another notebooklm-local is using" in out.stderr
    assert listed.returncode == 0 and "no notebooks yet" in listed.stdout


def test_init_creates_the_sample_notebook_once(installed_model: Path) -> None:
    first = run("init")
    assert first.returncode == 0 and "Sample notebook (4 sources added)" in first.stdout
    assert "(exists)" in run("init").stdout
    srcs = json.loads(run("sources", "-n", "Sample notebook", "--json").stdout)
    assert sorted(s["kind"] for s in srcs) == ["markdown", "pdf", "text", "transcript"]
    assert all(s["status"] == "ready" for s in srcs)


def test_rename_and_reindex_with_the_real_embedder(tmp_path: Path, installed_model: Path) -> None:
    doc = tmp_path / "roses.md"
    doc.write_text("# Roses\n\nPrune roses in late winter, above an outward bud.\n\n" + "Feed roses in spring. " * 60,
                   encoding="utf-8")
    assert run("notebook", "create", "Garden").returncode == 0
    assert run("add", str(doc), "-n", "Garden").returncode == 0
    renamed = run("notebook", "rename", "Garden", "Rose garden")
    assert renamed.returncode == 0 and renamed.stdout.strip() == "renamed notebook 'Garden' to 'Rose garden'"
    out = run("rename", "Roses", "Pruning roses", "-n", "Rose garden")
    assert out.returncode == 0 and out.stdout.strip() == "renamed 'Roses' to 'Pruning roses'"
    (before,) = json.loads(run("sources", "-n", "Rose garden", "--json").stdout)
    assert before["status"] == "ready" and before["chunks"] > 1

    again = run("reindex", "Pruning roses", "-n", "Rose garden")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"re-indexed: Pruning roses ({before['chunks']} chunks)"
    assert "embedding Pruning roses" in again.stderr
    (after,) = json.loads(run("sources", "-n", "Rose garden", "--json").stdout)
    assert (after["id"], after["status"], after["chunks"]) == (before["id"], "ready", before["chunks"])
    hits = json.loads(run("search", "when should I prune roses", "-n", "Rose garden", "--mode", "dense",
                          "--json").stdout)
    assert hits and hits[0]["source"] == "Pruning roses"
    ids = [h["chunk_id"] for h in hits]
    assert len(ids) == len(set(ids)) <= after["chunks"]  # the old vectors are gone, not doubled
