"""``notebooklm-local models ...``: in-process through cli.run, and Ctrl-C + resume in a real subprocess.

Downloads go to a local fake hub only (see tests/helpers/fake_hub.py); name lookups other than the loopback
fail the test.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from notebooklm_local import cli
from notebooklm_local.cli.models import add_models_parser
from notebooklm_local.core.paths import AppPaths, app_paths
from notebooklm_local.core.settings import load_settings
from tests.conftest import cli_exe
from tests.helpers.fake_hub import FakeHub, guard_loopback_only
from tests.helpers.gguf_files import write_gguf

REPO = Path(__file__).resolve().parent.parent


def parser() -> argparse.ArgumentParser:
    """cli/main.py's parser, with ``models`` registered should cli.build_parser not do it."""
    p = cli.build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    if "models" not in sub.choices:
        add_models_parser(sub)
    return p


def main(*argv: str) -> int:
    return cli.run(parser().parse_args(argv))


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch):
    blocked = guard_loopback_only(monkeypatch)
    yield
    assert not blocked, f"tried to reach {blocked}"


@pytest.fixture
def paths(app_home: Path) -> AppPaths:
    return app_paths().ensure()


@pytest.fixture
def hub():
    h = FakeHub().start()
    yield h
    h.stop()


def test_add_then_list_shows_the_metadata(tmp_path: Path, paths: AppPaths, capsys: pytest.CaptureFixture[str]) -> None:
    write_gguf(paths.models / "in-data-dir.gguf", arch="bert", embedding=True, chat_template=None, context_length=512)
    model = write_gguf(tmp_path / "elsewhere" / "tiny-chat.gguf", arch="qwen2", context_length=32768)
    assert main("models", "add", str(model)) == 0
    assert f"added {model}" in capsys.readouterr().out
    assert load_settings(paths.settings_file).model.extra_paths == [str(model)]

    assert main("models", "list", "--json") == 0
    rows = {r["file_name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["tiny-chat.gguf"].items() >= {"architecture": "qwen2", "quantization": "Q4_K_M", "context_length": 32768,
                                              "source": "added", "kind": "chat", "has_chat_template": True,
                                              "error": None, "path": str(model)}.items()
    assert rows["in-data-dir.gguf"]["kind"] == "embedding" and rows["in-data-dir.gguf"]["source"] == "data dir"
    assert "chat_template" not in rows["tiny-chat.gguf"]

    assert main("models", "list") == 0
    text = capsys.readouterr().out
    assert "tiny-chat.gguf" in text and "qwen2" in text and "Q4_K_M" in text and "ctx 32768" in text


def test_add_refuses_bad_files_with_one_clear_line(tmp_path: Path, paths: AppPaths,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    good = write_gguf(tmp_path / "good.gguf")
    assert main("models", "add", str(good)) == 0
    before = paths.settings_file.read_bytes()
    (tmp_path / "page.gguf").write_text("<html>not a model</html>")
    (tmp_path / "half.gguf").write_bytes(good.read_bytes()[:30_000])
    capsys.readouterr()
    for bad, message in [("page.gguf", "is not a GGUF model"), ("half.gguf", "is truncated"),
                         ("missing.gguf", "Model file not found")]:
        assert main("models", "add", str(tmp_path / bad)) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert paths.settings_file.read_bytes() == before


def test_download_list_and_remove(hub: FakeHub, paths: AppPaths, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_gguf(paths.cache / "src.gguf", data_bytes=2 << 20).read_bytes()
    hub.add("someone/Tiny-GGUF", "tiny-q4_k_m.gguf", data)
    assert main("models", "download", "someone/Tiny-GGUF", "tiny-q4_k_m.gguf", "--endpoint", hub.url) == 0
    out, err = capsys.readouterr()
    dest = paths.models / "tiny-q4_k_m.gguf"
    assert f"downloaded {dest}" in out and "use it: notebooklm-local config set model.path" in out and dest.read_bytes() == data
    assert "100% tiny-q4_k_m.gguf" in err

    assert main("models", "remove", "tiny-q4_k_m") == 1  # stdin is not a terminal: no silent deletion
    assert "pass --yes" in capsys.readouterr().err and dest.exists()
    assert main("models", "remove", "tiny-q4_k_m", "--yes") == 0
    assert f"deleted {dest}" in capsys.readouterr().out and not dest.exists()


def test_remove_guards_the_model_in_use(tmp_path: Path, paths: AppPaths, capsys: pytest.CaptureFixture[str]) -> None:
    model = write_gguf(tmp_path / "chat.gguf")
    assert main("models", "add", str(model)) == 0
    settings = load_settings(paths.settings_file)
    settings.model.path = str(model)
    from notebooklm_local.core.settings import save_settings

    save_settings(settings, paths.settings_file)
    capsys.readouterr()
    assert main("models", "remove", "chat.gguf") == 1
    assert "chat model in the settings" in capsys.readouterr().err
    assert main("models", "remove", "chat.gguf", "--force") == 0
    assert "forgot" in capsys.readouterr().out and model.exists()
    after = load_settings(paths.settings_file).model
    assert after.path == "" and after.extra_paths == []


def test_download_errors_and_catalog(hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert main("models", "download", "no-such-model") == 1
    assert "is not in the catalog" in capsys.readouterr().err
    assert main("models", "download", "o/missing", "x.gguf", "--endpoint", hub.url) == 1
    assert capsys.readouterr().err.startswith("error: No repository o/missing")
    assert main("models", "catalog", "--json") == 0
    names = {e["name"] for e in json.loads(capsys.readouterr().out)}
    assert {"qwen2.5-0.5b-instruct", "nomic-embed-text-v1.5", "bge-m3"} <= names
    assert main("models", "list", "--catalog") == 0
    assert "Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf" in capsys.readouterr().out


def test_ctrl_c_stops_the_download_and_the_next_run_resumes(hub: FakeHub, paths: AppPaths) -> None:
    data = write_gguf(paths.cache / "src.gguf", data_bytes=4 << 20).read_bytes()
    hub.add("o/r", "big.gguf", data)
    hub.chunk, hub.delay = 64 * 1024, 0.08  # ~5 s for the whole file: time to press Ctrl-C
    cmd = [*cli_exe(), "models", "download", "o/r", "big.gguf", "--endpoint", hub.url]
    env = os.environ | {"HF_HUB_DISABLE_TELEMETRY": "1", "HF_ENDPOINT": hub.url}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size for p in paths.models.glob(".big.gguf.*.part")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Download cancelled; run the same command again to resume." in err and "Traceback" not in err
    (part,) = paths.models.glob(".big.gguf.*.part")
    have = part.stat().st_size
    assert 0 < have < len(data) and not (paths.models / "big.gguf").exists()

    hub.delay = 0
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert hub.gets()[-1].range == f"bytes={have}-"
    assert (paths.models / "big.gguf").read_bytes() == data and not part.exists()
