"""`notebook health` through the console entry point (issue 14 part 7)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import cli_exe


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_exe(), *args], capture_output=True, text=True, timeout=300, env=os.environ.copy())


def test_notebook_health_of_a_fresh_notebook(app_home: Path) -> None:
    assert run("notebook", "create", "Fresh").returncode == 0
    out = run("notebook", "health", "Fresh")
    assert out.returncode == 0, out.stderr
    assert "0 answer(s), 0 studio output(s)" in out.stdout and "0 of 0" in out.stdout
    data = json.loads(run("notebook", "health", "Fresh", "--json").stdout)
    assert data["sentences"] == 0 and data["stale_citations"] == [] and data["supported_share"] == 1.0
    missing = run("notebook", "health", "Nope")
    assert missing.returncode == 1 and "Nope" in missing.stderr and "Traceback" not in missing.stderr
