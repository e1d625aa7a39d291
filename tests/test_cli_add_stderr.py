"""``add`` reports failures and skipped inputs on stderr and only what was added on stdout (issue 18), so
``add ... > added.txt`` keeps a clean list and errors reach the terminal. Real subprocesses, lexical-only."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import cli_exe


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_exe(), *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})})


def test_add_failures_go_to_stderr(tmp_path: Path) -> None:
    assert run("notebook", "create", "Rocks").returncode == 0
    good = tmp_path / "basalt.txt"
    good.write_text("Basalt forms when lava cools quickly at the surface.", encoding="utf-8")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    out = run("add", str(good), str(tmp_path / "photo.jpg"), str(tmp_path / "missing.txt"), "-n", "Rocks",
              "--lexical-only")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "added: basalt (text, 1 chunks)", out.stdout
    assert "failed:" not in out.stdout and "unsupported file type .jpg" in out.stderr
    assert "failed: " in out.stderr and "missing.txt" in out.stderr

    # a YouTube failure (no network: the proxy refuses at once) is an error on stderr, exit status 1
    refused = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
    yt = run("add", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "-n", "Rocks", "--lexical-only", env=refused)
    assert yt.returncode == 1
    assert yt.stdout.strip() == "", yt.stdout
    assert "failed: https://www.youtube.com/watch?v=dQw4w9WgXcQ:" in yt.stderr, yt.stderr
