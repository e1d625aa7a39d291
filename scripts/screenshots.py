"""Take screenshots of the real app window under X (run through scripts/screenshots.sh / xvfb-run).

Writes PNGs to docs/screenshots/. Uses a throw-away data dir unless NOTEBOOKLM_LOCAL_HOME is set.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("SCREENSHOT_DIR", REPO / "docs" / "screenshots"))


def main() -> int:
    os.environ.setdefault("NOTEBOOKLM_LOCAL_HOME", tempfile.mkdtemp(prefix="nbl-shots-"))
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from notebooklm_local.core.context import AppContext
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import load_settings
    from notebooklm_local.extensions.runtime import open_library
    from notebooklm_local.extensions.sample import ensure_sample_notebook
    from notebooklm_local.services.models import ensure_default_model
    from notebooklm_local.ui.application import create_application
    from notebooklm_local.ui.main_window import MainWindow

    app = create_application()
    paths = app_paths().ensure()
    settings = load_settings(paths.settings_file)
    ensure_default_model(paths)
    lib = open_library(paths, settings)
    ensure_sample_notebook(lib)
    lib.library.close()
    ctx = AppContext(paths, settings)
    win = MainWindow(ctx)
    win.resize(1280, 800)
    win.move(0, 0)
    win.show()
    OUT.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []

    def grab(name: str) -> None:
        screen = QApplication.primaryScreen()
        pix = screen.grabWindow(0, 0, 0, 1280, 800)  # the X screen itself: what a user sees
        target = OUT / name
        pix.save(str(target))
        shots.append(target)

    def shoot() -> None:
        grab("main-window.png")
        panel = win.chat_pane
        panel.input.setPlainText("What does Q4_K_M quantization trade off?")
        panel.answer_finished.connect(lambda _r: QTimer.singleShot(500, after_answer))
        panel.send()

    def after_answer() -> None:
        grab("chat-answer.png")
        res = win.chat_pane.last_result
        if res is not None and res.answer.citations:
            win.chat_pane.citation_activated.emit(res.answer.citations[0])
            QTimer.singleShot(800, after_viewer)
        else:
            win.close()

    def after_viewer() -> None:
        viewer = getattr(win, "source_viewer", None)
        if viewer is not None:
            viewer.move(260, 90)
            QTimer.singleShot(300, lambda: (grab("source-viewer.png"), viewer.close(), win.close()))
        else:
            win.close()

    def wait_for_backend(tries: int = 100) -> None:
        if win.backend_label.text() == "Backend: …" and tries > 0:
            QTimer.singleShot(100, lambda: wait_for_backend(tries - 1))
        else:
            QTimer.singleShot(300, shoot)

    QTimer.singleShot(200, wait_for_backend)
    app.exec()
    for s in shots:
        print(s)
    return 0 if shots else 1


if __name__ == "__main__":
    sys.exit(main())
