"""The console entry point, headless: --version, init, doctor."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from notebooklm_local import __version__
from notebooklm_local.app import main
from tests.conftest import cli_exe


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"notebooklm-local {__version__}"


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.model
def test_init_is_idempotent_and_doctor_reports_the_real_backend(app_home: Path) -> None:
    for _ in range(2):
        out = subprocess.run([*cli_exe(), "init"], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
    model = app_home / "data" / "models" / "gemma-3-270m-q4_k_m.gguf"
    assert model.stat().st_size > 200_000_000
    embedder = app_home / "data" / "models" / "all-minilm-l6-v2-f16.gguf"
    assert f"default embedder: {embedder.resolve()}" in out.stdout
    assert embedder.stat().st_size > 40_000_000
    assert (app_home / "config" / "settings.toml").is_file()

    out = subprocess.run([*cli_exe(), "doctor", "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["version"] == __version__
    assert report["llama_cpp"]["backend"] in {"CPU", "CUDA", "Metal", "Vulkan"}
    assert report["llama_cpp"]["reason"]
    assert [m["name"] for m in report["models"]] == ["all-minilm-l6-v2-f16.gguf", "gemma-3-270m-q4_k_m.gguf"]
    assert report["embedder"]["path"] == str(embedder.resolve()) and report["embedder"]["status"] == "ready"
    assert report["embedder"]["reason"].startswith("built-in default: all-MiniLM-L6-v2")
    assert report["data_dir"] == str((app_home / "data").resolve())
    assert report["chromadb"][0].isdigit()

    text = subprocess.run([*cli_exe(), "doctor"], capture_output=True, text=True, timeout=120)
    assert text.returncode == 0
    for label in ("Backend", "Models found", "Embedding model  all-minilm-l6-v2-f16.gguf", "Data dir", "Chroma",
                  "TTS engines"):
        assert label in text.stdout
    assert (app_home / "logs" / "notebooklm-local.log").is_file()


def test_doctor_survives_a_corrupt_settings_file(app_home: Path) -> None:
    cfg = app_home / "config"
    cfg.mkdir(parents=True)
    (cfg / "settings.toml").write_text("[[[", encoding="utf-8")
    out = subprocess.run([*cli_exe(), "doctor"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "started from defaults" in out.stderr
    assert list(cfg.glob("settings.toml.bad-*"))


def test_templates_cli_list_show_edit_validate_reset(tmp_path: Path) -> None:
    def run(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli_exe(), "templates", *a], capture_output=True, text=True, timeout=120)

    listed = run("list", "--json")
    assert listed.returncode == 0
    names = {t["name"] for t in json.loads(listed.stdout)}
    assert {"chat_answer", "chat_answer_structured", "rewrite_query"} <= names
    original = run("show", "chat_answer").stdout
    assert "{{ passages }}" in original
    preview = run("show", "chat_answer", "--preview").stdout
    assert "--- system ---" in preview and "{{" not in preview
    bad = tmp_path / "bad.toml"
    bad.write_text(original.replace("{{ question }}", "{{ questoin }}"), encoding="utf-8")
    v = run("validate", "chat_answer", str(bad))
    assert v.returncode == 1 and "unknown variable(s): questoin" in v.stderr and "missing variable(s): question" in v.stderr
    e = run("edit", "chat_answer", "--from-file", str(bad))
    assert e.returncode == 1 and run("show", "chat_answer").stdout == original  # nothing saved
    good = tmp_path / "good.toml"
    good.write_text(original.replace("Be concise", "Be brief"), encoding="utf-8")
    assert run("edit", "chat_answer", "--from-file", str(good)).returncode == 0
    assert "Be brief" in run("show", "chat_answer").stdout
    assert any(t["edited"] for t in json.loads(run("list", "--json").stdout) if t["name"] == "chat_answer")
    assert run("reset", "chat_answer").returncode == 0
    assert run("show", "chat_answer").stdout == original
