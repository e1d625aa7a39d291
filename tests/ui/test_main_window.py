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
    assert [win.splitter.widget(i).objectName() for i in range(3)] == ["sources-pane", "center-tabs", "chat-pane"]
    qtbot.waitUntil(lambda: win.backend_label.text() != "Backend: …", timeout=10000)
    assert win.backend_label.text() in {"Backend: CPU", "Backend: CUDA", "Backend: Metal", "Backend: Vulkan"}
    assert win.backend_label.toolTip()
    win.toggle_chat_action.setChecked(False)
    assert not win.chat_pane.isVisible()
    win.close()
    assert not win.isVisible()
    assert (ctx.paths.config / "window.ini").is_file()


def test_the_window_settles_once_its_start_up_work_is_over(qtbot, ctx: AppContext) -> None:
    """``settled`` (the start-up heap is frozen then): backend probed, library loaded, index opened."""
    from notebooklm_local.ui.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    seen: list[bool] = []
    win.settled.connect(lambda: seen.append(True))
    assert not win.is_settled
    win.show()
    qtbot.waitUntil(lambda: bool(seen), timeout=60000)
    assert win.is_settled and seen == [True]
    assert win.library is not None and win.ingest.opened_service is not None
    assert win.backend_label.text() != "Backend: …"
    win.confirm_close = lambda _work: True
    win.close()


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
    from notebooklm_local.ui.main_window import MainWindow
    from notebooklm_local.workspace import open_library

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
    # added without an index, so the window embeds them on opening ("… Alpha / Starting…" while it runs)
    qtbot.waitUntil(lambda: win.sources_pane.list.item(0).text().startswith("Alpha"), timeout=20000)
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


# -- notebooks, indexing progress, shortcuts (issue #6) ----------------------------------------------------------------


def _window(qtbot, ctx: AppContext):  # a MainWindow
    from notebooklm_local.ui.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.library is not None, timeout=10000)
    return win


def test_new_notebook_dialog_is_wide_enough_for_its_title(qtbot, ctx: AppContext, installed_model: Path) -> None:
    """QInputDialog.getText made a ~200 px dialog, and the window manager cut its title ("New notebook —
    NotebookLM Local", the app's name appended by Qt) to "New n… Local": the dialog is as wide as the whole
    title drawn bold plus the title bar's icon and buttons, and a typed name still creates the notebook."""
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QFont, QFontMetrics
    from PySide6.QtWidgets import QApplication, QInputDialog

    from notebooklm_local import APP_DISPLAY_NAME
    from notebooklm_local.ui.prompts import TITLE_CHROME

    app = QApplication.instance()
    old_name = app.applicationDisplayName()
    app.setApplicationDisplayName(APP_DISPLAY_NAME)
    try:
        win = _window(qtbot, ctx)
        seen: list[tuple[str, int]] = []

        def answer() -> None:
            dlg = QApplication.activeModalWidget()
            if not isinstance(dlg, QInputDialog):
                QTimer.singleShot(20, answer)
                return
            seen.append((dlg.windowTitle(), dlg.width()))
            dlg.setTextValue("Rivers")
            dlg.accept()

        QTimer.singleShot(0, answer)
        win.new_notebook_action.trigger()
        assert win.notebook_box.currentText() == "Rivers"
        bold = QFont(QApplication.font())
        bold.setBold(True)
        title_px = QFontMetrics(bold).horizontalAdvance(f"New notebook \u2014 {APP_DISPLAY_NAME}")
        assert seen and seen[0][0] == "New notebook"
        assert seen[0][1] >= title_px + TITLE_CHROME, seen
    finally:
        app.setApplicationDisplayName(old_name)


def test_empty_state_offers_a_notebook_and_new_rename_delete_work(
    qtbot, ctx: AppContext, installed_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    from notebooklm_local.core.library import Library

    win = _window(qtbot, ctx)
    pane = win.sources_pane
    assert pane.create_button.isVisible() and pane.create_button.accessibleName() == "Create a notebook"
    assert "No notebooks yet" in pane.empty_label.text() and "notebooklm-local notebook create" not in pane.empty_label.text()
    assert not win.rename_notebook_action.isEnabled() and not win.delete_notebook_action.isEnabled()
    assert not pane.add_files_action.isEnabled()
    names = iter([("Rivers", True), ("Lakes", True), ("Rivers and lakes", True)])
    monkeypatch.setattr("notebooklm_local.ui.main_window.ask_text", lambda *a, **k: next(names))
    pane.create_button.click()
    assert win.notebook_box.currentText() == "Rivers" and pane.notebook_id == win.current_notebook_id()
    assert not pane.create_button.isVisible() and pane.add_files_action.isEnabled()
    win.new_notebook_action.trigger()
    assert [win.notebook_box.itemText(i) for i in range(win.notebook_box.count())] == ["Lakes", "Rivers"]
    assert win.notebook_box.currentText() == "Lakes"
    win.notebook_box.setCurrentIndex(1)
    assert win.chat_pane.notebook_id == win.current_notebook_id() and "Rivers" in win.windowTitle()
    win.rename_notebook_action.trigger()
    assert win.notebook_box.currentText() == "Rivers and lakes"
    fresh = Library(ctx.paths.data / "library.db")  # persisted
    try:
        assert sorted(n.name for n in fresh.notebooks()) == ["Lakes", "Rivers and lakes"]
    finally:
        fresh.close()
    asked: list[str] = []
    answers = iter([QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes])

    def question(parent, title, text, *args):
        asked.append(text)
        return next(answers)

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    win.delete_notebook_action.trigger()
    assert "Delete the notebook “Rivers and lakes” with its 0 sources" in asked[0]
    assert win.notebook_box.count() == 2  # cancelled
    with qtbot.waitSignal(win.ingest.notebook_deleted, timeout=30000):
        win.delete_notebook_action.trigger()
    qtbot.waitUntil(lambda: win.notebook_box.count() == 1)
    assert win.notebook_box.currentText() == "Lakes"
    assert [n.name for n in win.library.notebooks()] == ["Lakes"]
    win.close()


def test_shortcuts_open_the_add_dialogs(qtbot, ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtGui import QKeySequence
    from PySide6.QtWidgets import QFileDialog

    from notebooklm_local.workspace import open_library

    lib = open_library(ctx.paths, ctx.settings, with_index=False)
    lib.create_notebook("Reading")
    lib.library.close()
    calls: list[str] = []
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: (calls.append("files"), ([], ""))[1]))
    win = _window(qtbot, ctx)
    qtbot.waitUntil(lambda: win.sources_pane.notebook_id is not None, timeout=10000)
    pane = win.sources_pane
    assert pane.add_files_action.shortcut() == QKeySequence("Ctrl+O")
    assert pane.add_url_action.shortcut() == QKeySequence("Ctrl+L")
    menus = {a.text().replace("&", ""): a.menu() for a in win.menuBar().actions() if a.menu()}
    assert list(menus)[-1] == "Help" and "Notebook" in menus and "Sources" in menus
    assert pane.add_files_action in menus["Sources"].actions() and pane.add_url_action in menus["Sources"].actions()
    win.activateWindow()
    qtbot.waitActive(win)
    qtbot.keyClick(win, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert calls == ["files"]
    qtbot.keyClick(win, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: pane.url_dialog is not None and pane.url_dialog.isVisible())
    assert pane.url_dialog.kind == "web"
    for w in (pane.add_button, pane.select_all_button, pane.select_none_button, win.notebook_menu_button,
              win.new_notebook_button, win.indexing_bar, pane.list):
        assert w.accessibleName(), w.objectName()
    pane.url_dialog.reject()
    win.close()


def test_status_bar_shows_indexing_and_closing_cancels_within_3s(
    qtbot, ctx: AppContext, installed_model: Path, tmp_path: Path
) -> None:
    import time

    from notebooklm_local.workspace import open_library

    lib = open_library(ctx.paths, ctx.settings, with_index=False)
    lib.create_notebook("Reading")
    lib.library.close()
    long = tmp_path / "long.md"
    long.write_text("# Canals\n\n" + "\n\n".join(
        f"## Part {i}\n\n" + f"Paragraph {i} is about the history of canal number {i}. " * 12 for i in range(40)),
        encoding="utf-8")
    short = tmp_path / "short.md"
    short.write_text("# Short\n\nA short note.", encoding="utf-8")
    win = _window(qtbot, ctx)
    qtbot.waitUntil(lambda: win.sources_pane.notebook_id is not None, timeout=10000)
    win.sources_pane.add_items([str(short), str(long)])
    qtbot.waitUntil(lambda: win.indexing_label.isVisible() and "Indexing 1 source…" in win.indexing_label.text()
                    and win.ingest.live(win.sources_pane.list.item(1).data(Qt.ItemDataRole.UserRole)).text
                    .startswith("Embedding"), timeout=60000)
    assert win.indexing_label.text().endswith("%") and win.indexing_bar.isVisible()
    assert 50 <= win.indexing_bar.value() < 100  # the short one is done: at least half of the batch
    t0 = time.monotonic()
    win.close()
    assert time.monotonic() - t0 < 3.5
    assert not win.isVisible()
    qtbot.waitUntil(lambda: not win.ingest.busy, timeout=10000)  # the stopped source reported back


def test_a_saved_window_larger_than_the_screen_is_clamped_at_start(qtbot, ctx: AppContext) -> None:
    from PySide6.QtCore import QByteArray, QSettings
    from PySide6.QtWidgets import QApplication

    from notebooklm_local.ui.main_window import MainWindow

    area = QApplication.primaryScreen().availableGeometry()
    first = MainWindow(ctx)
    qtbot.addWidget(first)
    first.show()
    first.resize(area.width() + 900, area.height() + 400)  # e.g. saved on a bigger monitor
    first.move(area.right() - 50, area.top())
    first.close()  # saves the geometry
    saved = QSettings(str(ctx.paths.config / "window.ini"), QSettings.Format.IniFormat).value("geometry")
    assert isinstance(saved, QByteArray) and saved.size() > 0
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    floor = win.minimumSizeHint()  # (the offscreen screen is 800 px wide: below the layout's minimum)
    assert win.width() <= max(area.width(), floor.width()) and win.height() <= max(area.height(), floor.height())
    assert win.width() < area.width() + 900
    assert win.x() <= max(area.left(), area.right() - win.width() + 1)  # moved back onto the screen (was right - 50)
    assert win.minimumSizeHint().width() <= 1000  # the panes fit a 1024-px screen (no pane forces a wider window)
    win.close()


def test_the_window_and_its_frame_fit_the_screen(qtbot, ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default 1280x800 on a 1280x800 screen: the window manager's title bar pushed the status bar (model,
    backend) below the screen's edge. Until the frame is known, room for a title bar is kept."""
    from types import SimpleNamespace

    from PySide6.QtCore import QRect

    from notebooklm_local.ui.main_window import FRAME_ALLOWANCE, MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    area = QRect(0, 0, 2560, 1440)  # larger than the layout's minimum, so only the clamp decides
    monkeypatch.setattr(win, "screen", lambda: SimpleNamespace(availableGeometry=lambda: area))
    win.resize(2560, 1440)
    win.move(0, 0)
    win._clamp_to_screen()
    assert win.width() == 2560 and win.height() == 1440 - FRAME_ALLOWANCE
    win.resize(1280, 800)
    win.move(1500, 800)  # partly off the bottom right: moved back, frame included
    win._clamp_to_screen()
    assert (win.width(), win.height()) == (1280, 800)
    assert win.x() + win.width() <= area.right() + 1 and win.y() + win.height() + FRAME_ALLOWANCE <= area.bottom() + 1


def test_the_first_start_on_an_empty_data_dir_creates_and_indexes_the_sample_notebook(
        qtbot, ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    from notebooklm_local.extensions.sample import SAMPLE_NOTEBOOK
    from notebooklm_local.ui.main_window import MainWindow

    monkeypatch.delenv("NOTEBOOKLM_LOCAL_NO_FIRST_RUN", raising=False)  # a real first start
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: getattr(win, "first_run_dialog", None) is not None, timeout=10000)
    win.first_run_dialog.reject()
    qtbot.waitUntil(lambda: win.notebook_box.currentText() == SAMPLE_NOTEBOOK, timeout=20000)
    nb_id = win.current_notebook_id()
    qtbot.waitUntil(lambda: not win.ingest.busy and win.library.sources(nb_id)
                    and all(s.status == "ready" for s in win.library.sources(nb_id)), timeout=120000)
    assert len(win.library.sources(nb_id)) == 4
    win.close()
    # it happens once: a later start (the welcome dialog done) leaves an emptied library empty
    win2 = MainWindow(ctx)
    qtbot.addWidget(win2)
    assert not win2._first_start
    win2.close()


def test_the_status_bar_says_saved_or_reset_after_a_template_change(qtbot, ctx: AppContext) -> None:
    from notebooklm_local.ui.main_window import MainWindow
    from notebooklm_local.workspace import template_store

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    store = template_store(ctx.paths, win.plugins.registry)
    text = store.get("chat_answer").text.replace("Answer", "Please answer", 1)
    store.save("chat_answer", text)
    win._on_template_changed("chat_answer")
    assert "“chat_answer” saved" in win.statusBar().currentMessage()
    store.reset("chat_answer")
    win._on_template_changed("chat_answer")
    assert "reset to the default" in win.statusBar().currentMessage()
    win.close()


# -- closing during work asks first (issue #19) -------------------------------------------------------------------

LONG_ANSWER = " ".join(["Quantization stores model weights in fewer bits [1]."] * 40)


def _busy_window(qtbot, ctx: AppContext, tmp_path: Path):  # (window, world)
    """The main window over a small world whose chat answers slowly (a scripted engine, ~0.05 s per 7 chars),
    with an answer being written."""
    from notebooklm_local.services.chat import ChatService
    from notebooklm_local.workspace import template_store
    from tests.helpers.studio_world import make_world

    world = make_world(tmp_path / "docs", delay=0.05)
    world.engine.outputs = [LONG_ANSWER]
    world.settings.chat.structured = "off"  # free text: streamed from the first piece
    win = _window(qtbot, ctx)
    panel = win.chat_pane
    qtbot.waitUntil(lambda: panel.notebook_id == world.notebook_id, timeout=10000)
    panel.chat = ChatService(world.lib, world.engine, template_store(ctx.paths), world.settings.chat)
    panel.set_mode("generate")
    panel.input.setPlainText("What does quantization do?")
    panel.send()
    qtbot.waitUntil(lambda: len(panel._streamed) > 20, timeout=20000)  # the answer is being written
    assert panel.busy, panel.status.text()
    return win, world


def test_closing_during_an_answer_asks_and_keep_working_keeps_it_going(
        qtbot, ctx: AppContext, tmp_path: Path) -> None:
    import time

    from notebooklm_local.core.chat_store import ChatStore

    win, world = _busy_window(qtbot, ctx, tmp_path)
    asked: list[list[str]] = []
    win.confirm_close = lambda work: asked.append(work) or False  # "Keep working"
    assert not win.close()
    assert win.isVisible() and win.chat_pane.busy
    assert len(asked) == 1 and any(w.startswith("An answer is being written") and "discarded" in w
                                   for w in asked[0]), asked
    shown = len(win.chat_pane._streamed)
    qtbot.waitUntil(lambda: len(win.chat_pane._streamed) > shown + 20, timeout=10000)  # it goes on
    # "Stop and close": closed within 3 s, as without the question; the cut-off answer is not stored
    win.confirm_close = lambda work: asked.append(work) or True
    t0 = time.monotonic()
    assert win.close()
    assert time.monotonic() - t0 < 3.0 and not win.isVisible() and len(asked) == 2
    assert ChatStore(world.library).sessions(world.notebook_id) == []
    world.library.close()


def test_closing_with_nothing_running_asks_nothing(qtbot, ctx: AppContext) -> None:
    win = _window(qtbot, ctx)
    qtbot.waitUntil(lambda: not win.ingest.busy, timeout=10000)
    asked: list[list[str]] = []
    win.confirm_close = lambda work: asked.append(work) or False
    assert win.running_work() == []
    assert win.close() and asked == []


@pytest.mark.real_close_dialog
def test_the_close_while_working_dialog_says_what_runs_and_what_happens(
        qtbot, ctx: AppContext, tmp_path: Path) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from tests.helpers.studio_world import SUMMARY

    win, world = _busy_window(qtbot, ctx, tmp_path)
    # a studio job waits behind the answer (one model lane): it is named too
    world.engine.outputs.append(SUMMARY)
    win.studio_pane.studio = world.studio
    win.studio_pane.set_notebook(world.notebook_id, [world.source_id])
    win.studio_pane.summary_tab.generate_button.click()
    assert win.studio_pane.busy
    seen: list[dict[str, object]] = []

    def answer(button_text: str) -> None:
        boxes = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, QMessageBox) and w.isVisible() and w.windowTitle() == "Close while working?"]
        if not boxes:
            QTimer.singleShot(50, lambda: answer(button_text))
            return
        box = boxes[0]
        seen.append({"text": box.text(), "info": box.informativeText(), "default": box.defaultButton().text(),
                     "buttons": sorted(b.text() for b in box.buttons())})
        next(b for b in box.buttons() if b.text() == button_text).click()

    QTimer.singleShot(0, lambda: answer("Keep working"))
    assert not win.close()
    assert win.isVisible() and win.chat_pane.busy and win.studio_pane.busy
    got = seen[0]
    assert got["buttons"] == ["Keep working", "Stop and close"] and got["default"] == "Stop and close"
    info = str(got["info"])
    assert "An answer is being written: it is discarded" in info
    assert "The studio job (Summary) stops" in info
    assert "Don't ask again" not in info + str(got["text"])

    QTimer.singleShot(0, lambda: answer("Stop and close"))
    assert win.close()
    assert not win.isVisible() and len(seen) == 2
    world.library.close()


def test_the_dialog_names_indexing_and_says_what_happens_to_it(qtbot, ctx: AppContext, tmp_path: Path) -> None:
    win = _window(qtbot, ctx)
    qtbot.waitUntil(lambda: not win.ingest.busy, timeout=10000)
    win.ingest._preparing += 1  # a batch being checked and queued counts as indexing (no source queued yet)
    try:
        work = win.running_work()
    finally:
        win.ingest._preparing -= 1
    assert len(work) == 1 and work[0].startswith("Indexing the sources being added stops")
    assert "Resume" in work[0] and "next start" in work[0]
    win.close()
