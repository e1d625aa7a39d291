"""The desktop app starts offscreen, shows its main window, reports the backend and closes cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from notebooklm_local.core.context import AppContext
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings
from tests.conftest import cli_exe

pytestmark = pytest.mark.gui


@pytest.fixture
def ctx(app_home: Path) -> AppContext:
    return AppContext(app_paths().ensure(), Settings())


def test_main_window_shows_three_panes_and_backend(qtbot, ctx: AppContext) -> None:
    from notebooklm_local.ui.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.isVisible()
    assert [win.splitter.widget(i).objectName() for i in range(3)] == ["sources-pane", "studio-pane", "chat-pane"]
    qtbot.waitUntil(lambda: win.backend_label.text() != "Backend: …", timeout=10000)
    assert win.backend_label.text() in {"Backend: CPU", "Backend: CUDA", "Backend: Metal", "Backend: Vulkan"}
    assert win.backend_label.toolTip()
    win.toggle_chat_action.setChecked(False)
    assert not win.chat_pane.isVisible()
    win.close()
    assert not win.isVisible()
    assert (ctx.paths.config / "window.ini").is_file()


def test_app_process_starts_and_exits_cleanly(app_home: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NOTEBOOKLM_LOCAL_QUIT_AFTER_MS": "1500"}
    out = subprocess.run(cli_exe(), env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert not (app_home / "logs" / "crash.log").exists(), "a clean exit leaves no crash log"
    assert not (app_home / "data" / ".lock.pid").exists()


def test_second_instance_is_refused_while_the_first_runs(app_home: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NOTEBOOKLM_LOCAL_QUIT_AFTER_MS": "20000"}
    first = subprocess.Popen(cli_exe(), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pid_file = app_home / "data" / ".lock.pid"
        for _ in range(300):
            if pid_file.exists():
                break
            try:
                first.wait(0.1)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"first instance exited early: {first.stderr.read() if first.stderr else ''}")
        second = subprocess.run(cli_exe(), env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "Another notebooklm-local is using" in second.stderr
    finally:
        first.terminate()
        first.wait(30)


def test_previous_crash_is_reported_on_next_start(app_home: Path) -> None:
    logs = app_home / "logs"
    logs.mkdir(parents=True)
    (logs / "crash.log").write_text("Fatal Python error: Segmentation fault\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NOTEBOOKLM_LOCAL_QUIT_AFTER_MS": "500"}
    out = subprocess.run([sys.executable, "-m", "notebooklm_local"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    kept = list(logs.glob("crash-*.log"))
    assert len(kept) == 1 and "Segmentation fault" in kept[0].read_text()
    assert "previous session crashed" in out.stderr


def test_sources_pane_lists_the_notebook_and_persists_selection(qtbot, ctx: AppContext, tmp_path: Path) -> None:
    from notebooklm_local.extensions.runtime import open_library
    from notebooklm_local.ui.main_window import MainWindow

    (tmp_path / "a.md").write_text("# Alpha\n\nFirst source.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Second source.", encoding="utf-8")
    lib = open_library(ctx.paths, ctx.settings, with_index=False)
    lib.create_notebook("Reading")
    lib.add("Reading", [str(tmp_path / "a.md"), str(tmp_path / "b.txt"), str(tmp_path / "missing.pdf")])
    lib.library.close()

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.sources_pane.list.count() == 3, timeout=10000)
    assert win.notebook_box.currentText() == "Reading"
    texts = [win.sources_pane.list.item(i).text() for i in range(3)]
    assert texts[0].startswith("Alpha") and "Markdown" in texts[0]
    assert texts[2].startswith("⚠") and "failed" in texts[2]
    assert "File not found" in win.sources_pane.list.item(2).toolTip()
    with qtbot.waitSignal(win.sources_pane.selection_changed) as sig:
        win.sources_pane.list.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert len(sig.args[0]) == 2
    assert win.library is not None
    b_id = win.sources_pane.list.item(1).data(Qt.ItemDataRole.UserRole)
    assert win.library.source(b_id).selected is False
    win.close()
