"""GUI test fixtures: a window closed during work closes without asking (its question has tests of its own).

``MainWindow.confirm_close`` (default: ``ask_before_closing``, the "Close while working?" dialog) decides
when an answer, indexing or a studio job is running. Many tests close windows during work; here the default
answers "Stop and close" for every window made in a test, except in tests marked ``real_close_dialog``
(the tests of that question).
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_close_dialog: MainWindow asks before closing during work (the real "
                                       "dialog, not the tests' always-yes answer)")


@pytest.fixture(autouse=True)
def close_without_asking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_close_dialog") is not None:
        return
    from notebooklm_local.ui.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "ask_before_closing", lambda self, work: True)
