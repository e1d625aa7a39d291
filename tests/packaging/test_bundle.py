"""Build the PyInstaller one-folder bundle and run the frozen binary: --version, doctor, init and a
headless cited `ask` on the embedded tiny model (slow: a full build, ~1-3 minutes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from notebooklm_local import __version__
from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.packaging, pytest.mark.model]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle")
    env = {**os.environ, "NOTEBOOKLM_VENV": str(Path(sys.executable).parent.parent), "NOTEBOOKLM_DIST": str(out / "dist"),
           "NOTEBOOKLM_BUILD": str(out / "build")}
    build = subprocess.run([str(REPO / "packaging" / "build.sh")], capture_output=True, text=True, env=env, timeout=1500)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    exe = out / "dist" / "notebooklm-local" / "notebooklm-local"
    assert exe.is_file() and os.access(exe, os.X_OK)
    return exe


def frozen(exe: Path, *args: str, home: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["NOTEBOOKLM_LOCAL_HOME"] = str(home)
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_the_bundle_runs_version_doctor_and_a_cited_ask(bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    v = frozen(bundle, "--version", home=home)
    assert v.returncode == 0 and __version__ in v.stdout
    d = frozen(bundle, "doctor", "--json", home=home)
    assert d.returncode == 0, d.stderr
    report = json.loads(d.stdout)
    assert report["llama_cpp"]["llama_cpp_python"] and report["pyside6"] and report["chromadb"]
    assert str(report["data_dir"]).startswith(str(home))
    init = frozen(bundle, "init", home=home)
    assert init.returncode == 0, init.stderr
    assert "sample notebook" in init.stdout
    ask = frozen(bundle, "ask", "What does quantization do?", "-n", "Sample notebook", "--json", "--mode", "generate",
                 home=home)
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert answer["model"]["name"] == "gemma-3-270m-q4_k_m.gguf"
    assert answer["answer"] and (answer["not_found"] or answer["sentences"])
    # the tiny model rarely cites: the bundle's model-free Quotes path does, and its citations are checked
    quotes = frozen(bundle, "ask", "What does quantization do?", "-n", "Sample notebook", "--json", "--mode", "quotes",
                    home=home)
    assert quotes.returncode == 0, quotes.stderr
    quoted = json.loads(quotes.stdout)
    assert quoted["mode"] == "quotes" and quoted["citations"]
    checked = 0
    for c in answer["citations"] + quoted["citations"]:
        assert c["quote"] and c["source_title"]
        checked += 1
    assert checked >= len(quoted["citations"]) >= 1
    # the bundled resources and plugins are found inside the bundle
    t = frozen(bundle, "templates", "list", home=home)
    assert t.returncode == 0 and "chat_answer" in t.stdout and "cod_step" in t.stdout
    pl = frozen(bundle, "plugins", "list", "--json", home=home)
    assert pl.returncode == 0, pl.stderr
    states = {p["id"]: p["state"] for p in json.loads(pl.stdout)["plugins"]}
    assert {"docx-loader", "epub-loader", "obsidian-export", "piper_tts"} <= set(states), states
    assert "error" not in states.values(), states
    # a bundled plugin's loader works inside the bundle: a Word file (python-docx) becomes a source
    import docx

    doc = docx.Document()
    doc.add_heading("Harbour log", 1)
    doc.add_paragraph("The ferry to the island leaves at seven and returns at noon.")
    word = tmp_path / "harbour.docx"
    doc.save(str(word))
    add = frozen(bundle, "add", str(word), "-n", "Sample notebook", home=home)
    assert add.returncode == 0, add.stderr + add.stdout
    srcs = frozen(bundle, "sources", "-n", "Sample notebook", "--json", home=home)
    rows = json.loads(srcs.stdout)
    rows = rows["sources"] if isinstance(rows, dict) else rows
    assert any(r.get("kind") == "docx" and r.get("status") == "ready" for r in rows), rows


def test_the_bundled_gui_starts_and_quits(bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env_extra = {"QT_QPA_PLATFORM": "offscreen", "NOTEBOOKLM_LOCAL_QUIT_AFTER_MS": "3000"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(env_extra, NOTEBOOKLM_LOCAL_HOME=str(home))
    r = subprocess.run([str(bundle)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
