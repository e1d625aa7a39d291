"""``notebooklm-local plugins ...``, doctor's plugin list, safe mode, and a broken plugin not breaking the CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from notebooklm_local.app import main
from notebooklm_local.core.settings import load_settings
from tests.conftest import cli_exe
from tests.extensions.helpers import loader_code, manifest, write_plugin


def run(*args: str, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_exe(), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture
def user_plugins(app_home: Path) -> Path:
    d = app_home / "data" / "plugins"
    d.mkdir(parents=True)
    return d


def broken_plugin(user_plugins: Path, marker: Path | None = None) -> None:
    ran = f"open({str(marker)!r}, 'w').close()\n" if marker else ""
    write_plugin(user_plugins, "broken", manifest("broken-one", name="Broken one"),
                 ran + "def register(api):\n    raise RuntimeError('kaput')\n")


def test_list_enable_disable_persist(capsys: pytest.CaptureFixture[str], app_home: Path) -> None:
    rc, out, _ = cli(capsys, "plugins", "list")
    assert rc == 0 and out.startswith("ID ")
    rows = {line.split()[0]: line.split()[1:4] for line in out.splitlines()[1:]}
    assert rows["docx-loader"] == ["enabled", "1.0.0", "bundled"]
    assert rows["example-plugin"][0] == "disabled" and "off by default" in out

    rc, out, _ = cli(capsys, "plugins", "disable", "docx-loader")
    assert rc == 0 and out.strip() == "disabled 'docx-loader' (Word documents (DOCX))"
    assert load_settings(app_home / "config" / "settings.toml").disabled_plugins == ["docx-loader"]
    rc, out, _ = cli(capsys, "plugins", "enable", "example-plugin")
    assert rc == 0 and out.strip() == "enabled 'example-plugin' (Example plugin 0.1.0)"

    rc, out, _ = cli(capsys, "plugins", "list", "--json")
    data = json.loads(out)
    states = {p["id"]: p["state"] for p in data["plugins"]}
    assert data["safe_mode"] == "" and states["docx-loader"] == "disabled" and states["example-plugin"] == "enabled"
    example = next(p for p in data["plugins"] if p["id"] == "example-plugin")
    assert example["contributions"]["prompt_templates"] == ["example_glossary"]

    rc, out, _ = cli(capsys, "plugins", "enable", "docx-loader")
    assert rc == 0 and load_settings(app_home / "config" / "settings.toml").disabled_plugins == []
    rc, out, _ = cli(capsys, "templates", "list")
    assert "example_glossary" in out  # a plugin's prompt template reaches the template commands

    rc, _out, err = cli(capsys, "plugins", "enable", "nope")
    assert rc == 1 and "No plugin with id 'nope'" in err


def test_info_shows_manifest_contributions_and_paths(capsys: pytest.CaptureFixture[str], app_home: Path) -> None:
    rc, out, _ = cli(capsys, "plugins", "info", "obsidian-export")
    assert rc == 0
    assert "State:             enabled" in out and "Adds exporters:    obsidian" in out
    assert f"{app_home / 'data' / 'plugin-data' / 'obsidian-export'}" in out
    rc, out, _ = cli(capsys, "plugins", "info", "piper_tts", "--json")
    data = json.loads(out)
    assert data["source"] == "bundled" and data["contributions"] == {"tts_engines": ["piper"]}
    assert data["settings_file"].endswith("config/plugin-settings/piper_tts.toml")


def test_a_broken_user_plugin_shows_error_and_the_cli_still_works(
        capsys: pytest.CaptureFixture[str], user_plugins: Path, tmp_path: Path) -> None:
    broken_plugin(user_plugins)
    write_plugin(user_plugins, "bad-loader", manifest("bad-loader"),
                 loader_code("bad", ".bad", body="raise ZeroDivisionError('in load')"))
    rc, out, _ = cli(capsys, "plugins", "list")
    line = next(x for x in out.splitlines() if x.startswith("broken-one"))
    assert "error" in line and "user" in line and "register() failed: RuntimeError: kaput" in line
    rc, out, _ = cli(capsys, "plugins", "info", "broken-one")
    assert "Reason:            register() failed: RuntimeError: kaput" in out and "Traceback" in out

    assert cli(capsys, "notebook", "create", "NB")[0] == 0
    (tmp_path / "notes.md").write_text("# Notes\n\nBroken plugins do not stop the app.", encoding="utf-8")
    (tmp_path / "x.bad").write_text("whatever", encoding="utf-8")
    rc, out, err = cli(capsys, "add", str(tmp_path / "notes.md"), str(tmp_path / "x.bad"), "-n", "NB", "--lexical-only")
    assert rc == 0 and "added: Notes (markdown" in out
    assert "'bad-loader' plugin failed to read" in err and "ZeroDivisionError: in load" in err  # failures: stderr
    rc, out, _ = cli(capsys, "sources", "-n", "NB", "--json")
    srcs = json.loads(out)
    assert sorted(s["status"] for s in srcs) == ["failed", "ready"]
    failed = next(s for s in srcs if s["status"] == "failed")
    assert failed["path"].endswith("x.bad") and "'bad-loader' plugin failed" in failed["error"]
    rc, out, _ = cli(capsys, "search", "broken plugins", "-n", "NB", "--mode", "lexical")
    assert rc == 0 and out.startswith("1. Notes")


def test_safe_mode_loads_no_plugin(capsys: pytest.CaptureFixture[str], user_plugins: Path, tmp_path: Path) -> None:
    marker = tmp_path / "plugin-code-ran"
    broken_plugin(user_plugins, marker)
    rc, out, _ = cli(capsys, "--safe-mode", "plugins", "list")
    assert rc == 0 and out.startswith("safe mode (--safe-mode): plugins are listed but not loaded")
    assert "not loaded: safe mode" in out and " enabled " not in out and not marker.exists()

    import docx

    d = docx.Document()
    d.add_paragraph("Safe mode has no DOCX loader.")
    d.save(str(tmp_path / "a.docx"))
    assert cli(capsys, "--safe-mode", "notebook", "create", "NB")[0] == 0
    rc, _out, err = cli(capsys, "--safe-mode", "add", str(tmp_path / "a.docx"), "-n", "NB", "--lexical-only")
    assert "skipped" in err or "unsupported file type .docx" in err
    assert not marker.exists()
    rc, out, _ = cli(capsys, "add", str(tmp_path / "a.docx"), "-n", "NB", "--lexical-only")
    assert rc == 0 and "added: a (docx" in out and marker.exists()

    env_run = run("plugins", "list", "--json", env={"NOTEBOOKLM_LOCAL_NO_PLUGINS": "1"})
    data = json.loads(env_run.stdout)
    assert data["safe_mode"] == "NOTEBOOKLM_LOCAL_NO_PLUGINS=1"
    assert all(p["state"] != "enabled" for p in data["plugins"])


def test_doctor_lists_plugins_and_their_states(user_plugins: Path) -> None:
    broken_plugin(user_plugins)
    out = run("doctor")
    assert out.returncode == 0, out.stderr
    assert "docx-loader 1.0.0 (enabled, bundled)" in out.stdout
    assert "broken-one 0.1.0 (error, user)" in out.stdout
    assert "  ! broken-one: register() failed: RuntimeError: kaput" in out.stdout
    report = json.loads(run("doctor", "--json").stdout)
    assert {"id": "example-plugin", "state": "disabled"}.items() <= next(
        p for p in report["plugins"] if p["id"] == "example-plugin").items()


@pytest.mark.model
@pytest.mark.slow
def test_ask_still_works_with_a_broken_plugin(user_plugins: Path, tmp_path: Path, installed_model: Path) -> None:
    broken_plugin(user_plugins)
    (tmp_path / "roses.md").write_text("# Roses\n\nPrune roses in late winter, above an outward-facing bud.",
                                       encoding="utf-8")
    assert run("notebook", "create", "Garden").returncode == 0
    added = run("add", str(tmp_path / "roses.md"), "-n", "Garden")
    assert added.returncode == 0, added.stderr
    out = run("ask", "When should roses be pruned?", "-n", "Garden", "--json", timeout=400)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["answer"]
