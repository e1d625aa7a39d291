"""The cold-start probe (NOTEBOOKLM_LOCAL_STARTUP_REPORT, used by bench/bench_cold_start.py) and the
serialized import of numpy-based packages that keeps numpy off the GUI thread at start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from notebooklm_local.services.native_imports import import_serialized
from tests.conftest import cli_exe

pytestmark = [pytest.mark.gui]


def test_the_app_reports_its_start_marks_in_order_and_quits(app_home: Path, tmp_path: Path) -> None:
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.workspace import open_library

    notes = tmp_path / "notes.md"
    notes.write_text("# Canals\n\nThe lock keeper opened the gates at dawn.\n", encoding="utf-8")
    lib = open_library(app_paths().ensure(), Settings(), with_index=False)
    lib.create_notebook("Canals")
    lib.add("Canals", [str(notes)])
    lib.library.close()
    out = tmp_path / "startup.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NOTEBOOKLM_LOCAL_STARTUP_REPORT": str(out)}
    t0 = time.time()
    proc = subprocess.run(cli_exe(), env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    m = report["marks"]
    order = ["run_gui", "window_built", "window_shown", "first_paint", "interactive"]
    assert [k for k in order if k in m] == order
    assert t0 < m["run_gui"] and all(m[a] <= m[b] for a, b in zip(order, order[1:], strict=False))
    assert report["rss_kb"] and report["rss_kb"] > 10_000
    assert "requests" not in report["modules"]  # YouTube's HTTP stack is imported on first use only


def test_import_serialized_gives_every_thread_the_fully_initialised_module(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A module that takes a while to initialise, imported from 4 threads at once: each gets it complete."""
    (tmp_path / "slow_native_mod.py").write_text("import time\ntime.sleep(0.2)\nREADY = True\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("slow_native_mod", None)
    got: list[bool] = []

    def load() -> None:
        got.append(getattr(import_serialized("slow_native_mod"), "READY", False))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert got == [True] * 4
    assert import_serialized("json") is json
