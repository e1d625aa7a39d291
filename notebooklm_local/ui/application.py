"""Create the QApplication and the main window, run the event loop."""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from notebooklm_local import APP_DISPLAY_NAME, APP_NAME, __version__
from notebooklm_local.core.context import AppContext
from notebooklm_local.core.paths import resources_dir
from notebooklm_local.ui.main_window import MainWindow
from notebooklm_local.ui.theme import apply_theme

__all__ = ["create_application", "freeze_startup_heap", "run_gui"]


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
    """Collect once, then move everything alive (Qt wrappers, imported modules, the settings) to the
    collector's permanent generation: later full collections then walk only what the session allocates,
    so a collection triggered while a worker indexes stays short instead of pausing every thread for
    the whole start-up heap."""
    gc.collect()
    gc.freeze()


def run_gui(ctx: AppContext, *, quit_after_ms: int | None = None) -> int:
    """Show the main window and run until it closes. ``quit_after_ms`` is for smoke tests."""
    app = create_application()
    apply_theme(app, ctx.settings.ui.theme)
    window = MainWindow(ctx)
    window.show()
    QTimer.singleShot(2000, freeze_startup_heap)  # once the window is painted and the library loaded
    if quit_after_ms is not None:
        QTimer.singleShot(quit_after_ms, window.close)
    return app.exec()
