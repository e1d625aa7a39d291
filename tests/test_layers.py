"""The layering rules are enforced: import-linter contracts, and a GUI-free core at run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_pass() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    out = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 3 kept, 0 broken." in out.stdout


def test_cli_and_core_do_not_load_qt_or_heavy_libraries() -> None:
    code = (
        "import sys, notebooklm_local.cli, notebooklm_local.core.settings, notebooklm_local.core.paths,"
        " notebooklm_local.core.instance, notebooklm_local.core.jobs, notebooklm_local.core.context;"
        "bad = [m for m in ('PySide6', 'llama_cpp', 'chromadb', 'pypdf') if m in sys.modules];"
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
