"""`search --all` and `ask --all` through the console entry point (subprocesses, the real embedder and Chroma)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import cli_exe

pytestmark = [pytest.mark.slow]

QUESTION = "When did the Kilauea volcano erupt?"


def run(*args: str, timeout: int = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_exe(), *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy())


@pytest.fixture
def two_notebooks(tmp_path: Path, installed_model: Path) -> None:
    (tmp_path / "volcanoes.md").write_text(
        "# Volcanoes\n\nThe Kilauea volcano in Hawaii erupted almost continuously from 1983 to 2018. Its lava lake "
        "was about 300 metres across.\n", encoding="utf-8")
    (tmp_path / "bakery.txt").write_text(
        "Sourdough bread needs a starter made of flour and water. Bakers feed the starter every day.\n",
        encoding="utf-8")
    for nb, f in (("Geology", "volcanoes.md"), ("Baking", "bakery.txt")):
        assert run("notebook", "create", nb).returncode == 0
        out = run("add", str(tmp_path / f), "-n", nb)
        assert out.returncode == 0, out.stderr


def test_search_and_ask_across_notebooks(two_notebooks: None) -> None:
    hits = json.loads(run("search", QUESTION, "--all", "--json").stdout)
    assert hits[0]["notebook"] == "Geology" and "Kilauea" in hits[0]["snippet"]
    assert {h["notebook"] for h in hits} <= {"Geology", "Baking"}
    inside = json.loads(run("search", QUESTION, "-n", "Baking", "--json").stdout)
    assert all(h["notebook"] == "Baking" and "Kilauea" not in h["snippet"] for h in inside)
    text = run("search", QUESTION, "--all")
    assert text.returncode == 0 and "1. Geology \u203a Volcanoes" in text.stdout

    every = run("ask", QUESTION, "-n", "Baking", "--all", "--mode", "quotes", "--json")
    assert every.returncode == 0, every.stderr
    data = json.loads(every.stdout)
    assert data["scope"] == "all" and data["citations"]
    assert data["citations"][0]["source_title"] == "Geology \u203a Volcanoes"
    assert "1983" in data["citations"][0]["quote"]
    assert data["sources"][0]["title"] == "Geology \u203a Volcanoes"
    without = json.loads(run("ask", QUESTION, "-n", "Baking", "--mode", "quotes", "--json").stdout)
    assert without["scope"] == "notebook" and not any("Kilauea" in c["quote"] for c in without["citations"])
    streamed = run("ask", QUESTION, "-n", "Baking", "--all", "--mode", "quotes")
    assert streamed.returncode == 0 and "Geology \u203a Volcanoes" in streamed.stdout


def test_scope_arguments_are_checked(installed_model: Path) -> None:
    out = run("search", "anything")
    assert out.returncode == 1 and "--all" in out.stderr and "Traceback" not in out.stderr
    out = run("ask", "anything", "-n", "X", "--all", "--sources", "a")
    assert out.returncode == 1 and "leave out --sources" in out.stderr
