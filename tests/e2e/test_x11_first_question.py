"""End to end on a real X server with a window manager (Xvfb + openbox), driven by xdotool like a user.

A data dir prepared by `init` (sample notebook, built-in models), the app started as a process on that
display (the xcb platform, not offscreen). The user presses Ctrl+K, types the sample question and
Ctrl+Enter; the answer that reaches the chat store must be a Quotes answer holding the answer, with
citations whose quotes are the source's own text. Then Ctrl+Q closes the app cleanly.

Needs Xvfb, openbox and xdotool (scripts/system-deps.sh installs them); skipped without them (the display
fixtures are in conftest.py).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli_exe

pytestmark = [pytest.mark.gui, pytest.mark.model, pytest.mark.slow]

QUESTION = "How much memory does a 7B model need at 4 bits?"


def test_first_question_typed_in_the_real_window_gets_a_quotes_answer(
        x11: Any, app_home: Path, installed_model: Path, tmp_path: Path,
        chat_answers: Callable[[Path], list[tuple[str, dict[str, Any]]]]) -> None:
    env = {**x11.env, "NOTEBOOKLM_LOCAL_HOME": str(app_home), "NOTEBOOKLM_LOCAL_NO_FIRST_RUN": "1"}
    init = subprocess.run([*cli_exe(), "init"], env=env, capture_output=True, text=True, timeout=300)
    assert init.returncode == 0, init.stderr
    assert "sample notebook" in init.stdout and "default embedder" in init.stdout
    app = subprocess.Popen(cli_exe(), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shot = tmp_path / "after-answer.png"
    try:
        win = x11.xdotool("search", "--sync", "--onlyvisible", "--name", "Sample notebook", timeout=90)
        assert win, "the main window did not appear"
        wid = win.splitlines()[0]
        x11.xdotool("windowactivate", "--sync", wid)
        time.sleep(1.0)  # let the window settle (the library loads off the GUI thread)
        x11.xdotool("key", "--window", wid, "ctrl+k")
        x11.xdotool("type", "--delay", "20", QUESTION)
        x11.xdotool("key", "ctrl+Return")
        db = app_home / "data" / "library.db"
        deadline = time.monotonic() + 120
        answers: list[tuple[str, dict]] = []
        while time.monotonic() < deadline and not answers:
            time.sleep(0.5)
            answers = chat_answers(db)
            assert app.poll() is None, f"the app exited: {app.stderr.read() if app.stderr else ''}"
        if shutil.which("import"):
            subprocess.run(["import", "-window", "root", str(shot)], env=env, capture_output=True, timeout=30)
        assert answers, "no answer reached the chat store"
        content, payload = answers[-1]
        assert payload.get("mode") == "quotes", payload
        assert "4 GB" in content
        text = (Path(__file__).resolve().parents[2] / "resources" / "sample" / "quantization-notes.txt").read_text(
            encoding="utf-8")
        flat = " ".join(text.split())
        cits = payload.get("citations") or []
        assert cits and all(" ".join(c["quote"].split()) in flat for c in cits if c["source_title"] == "quantization-notes")
        # Ctrl+Q closes the window: the process ends by itself, cleanly
        x11.xdotool("key", "--window", wid, "ctrl+q")
        assert app.wait(30) == 0
    finally:
        if app.poll() is None:
            app.send_signal(signal.SIGTERM)
            try:
                app.wait(15)
            except subprocess.TimeoutExpired:
                app.kill()
