"""Create the QApplication and the main window, run the event loop."""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from notebooklm_local import APP_DISPLAY_NAME, APP_NAME, __version__
from notebooklm_local.core.context import AppContext
from notebooklm_local.core.paths import resources_dir
from notebooklm_local.ui.main_window import MainWindow
from notebooklm_local.ui.theme import apply_theme

if TYPE_CHECKING:
    from notebooklm_local.workspace import Workspace

__all__ = ["create_application", "freeze_heap_when_settled", "freeze_startup_heap", "run_gui"]


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_DISPLAY_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_NAME)
    icon = resources_dir() / "icons" / "notebooklm-local.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    return app


def freeze_startup_heap() -> None:
    """Move everything alive (Qt wrappers, imported modules, the settings) to the collector's permanent
    generation and turn the collector on (app.py pauses it while the app starts): later full collections
    walk only what the session allocates, so one triggered while a worker indexes stays short instead of
    pausing every thread for the whole start-up heap (~175k objects).

    No collection first: over that heap it holds the GIL for 85-105 ms, a stall of the window just after
    it appeared, to free ~3,200 objects of start-up garbage (measured), which stay frozen instead."""
    gc.freeze()
    gc.enable()


def freeze_heap_when_settled(window: MainWindow, fallback_ms: int = 20000) -> None:
    """Freeze the start-up heap (``freeze_startup_heap``) once ``window`` has settled: the library loaded,
    the index opened and the backend probed, so the modules those imported in the background (chromadb,
    llama_cpp, numpy: most of the heap) are frozen too. A blind timer froze before them on a slow start,
    and a first collection over them then paused the window for ~0.1 s while a first drop was read.
    ``fallback_ms``: freeze then anyway if the start never settles (a step hangs)."""
    done: list[bool] = []

    def freeze() -> None:
        if not done:
            done.append(True)
            freeze_startup_heap()

    if window.is_settled:
        freeze()
        return
    window.settled.connect(freeze)
    QTimer.singleShot(fallback_ms, window, freeze)


def _status_kb(field: str) -> int | None:
    """A ``/proc/self/status`` memory figure in kB (Linux), else None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


class StartupProbe(QObject):
    """``NOTEBOOKLM_LOCAL_STARTUP_REPORT=FILE`` (bench/bench_cold_start.py): write wall-clock marks of the
    start (window shown, first paint, interactive = library loaded and a notebook's sources listed) to FILE
    as JSON, then quit. Off unless the variable is set; costs nothing otherwise."""

    def __init__(self, window: MainWindow, out: Path, started: float) -> None:
        super().__init__(window)
        self.window, self.out = window, out
        self.marks: dict[str, float] = {"run_gui": started}
        window.installEventFilter(self)
        self._timer = QTimer(self)
        self._timer.setInterval(5)
        self._timer.timeout.connect(self._check)
        self._timer.start()

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, time.time())

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if obj is self.window and event.type() == QEvent.Type.Paint:
            self.mark("first_paint")
        return False

    def _check(self) -> None:
        w = self.window
        if "first_paint" in self.marks and w.library is not None and w.sources_pane.notebook_id is not None \
                and w.sources_pane.list.count() > 0:
            self.mark("interactive")
            self._timer.stop()
            QTimer.singleShot(1000, self._write)  # idle memory a second later (background loads settle)

    def _write(self) -> None:
        w = self.window
        report: dict[str, Any] = {"marks": self.marks, "rss_kb": _status_kb("VmRSS"), "hwm_kb": _status_kb("VmHWM"),
                                  "modules": sorted(m for m in ("chromadb", "llama_cpp", "trafilatura", "numpy",
                                                                "pypdf", "requests") if m in sys.modules)}
        self.out.write_text(json.dumps(report), encoding="utf-8")
        w.confirm_close = lambda _work: True  # a measuring run closes without asking (sample indexing may run)
        w.close()


def run_gui(ctx: AppContext, *, workspace: Workspace | None = None, quit_after_ms: int | None = None) -> int:
    """Show the main window over ``workspace`` (None: one over ``ctx``) and run until it closes.
    ``quit_after_ms`` is for smoke tests."""
    app = create_application()
    apply_theme(app, ctx.settings.ui.theme)
    t0 = time.time()
    window = MainWindow(ctx, workspace)
    report = os.environ.get("NOTEBOOKLM_LOCAL_STARTUP_REPORT")
    probe = StartupProbe(window, Path(report), t0) if report else None
    if probe is not None:
        probe.mark("window_built")
    window.show()
    if probe is not None:
        probe.mark("window_shown")
    freeze_heap_when_settled(window)
    if quit_after_ms is not None:
        window.confirm_close = lambda _work: True  # a smoke test's timed close asks nothing
        QTimer.singleShot(quit_after_ms, window.close)
    return app.exec()
