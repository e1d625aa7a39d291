"""End to end on a real X server with a window manager (Xvfb + openbox), driven by xdotool like a user.

A data dir prepared by `init` (sample notebook, built-in models), the app started as a process on that
display (the xcb platform, not offscreen). The user presses Ctrl+K, types the sample question and
Ctrl+Enter; the answer that reaches the chat store must be a Quotes answer holding the answer, with
citations whose quotes are the source's own text. Then Ctrl+Q closes the app cleanly.

Needs Xvfb, openbox and xdotool (scripts/system-deps.sh installs them); skipped without them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import cli_exe

pytestmark = [pytest.mark.gui, pytest.mark.model, pytest.mark.slow]

NEEDED = ("Xvfb", "openbox", "xdotool")
QUESTION = "How much memory does a 7B model need at 4 bits?"


def _free_display() -> int:
    for n in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    pytest.skip("no free X display number")


def _xdotool(env: dict[str, str], *args: str, timeout: float = 20) -> str:
    out = subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=timeout)
    return out.stdout.strip()


@pytest.fixture
def display() -> dict[str, str]:
    missing = [t for t in NEEDED if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (scripts/system-deps.sh)")
    n = _free_display()
    xvfb = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {**os.environ, "DISPLAY": f":{n}", "QT_QPA_PLATFORM": "xcb"}
    deadline = time.monotonic() + 20
    while not Path(f"/tmp/.X11-unix/X{n}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    wm = subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        yield env
    finally:
        for p in (wm, xvfb):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def _assistant_messages(db: Path) -> list[tuple[str, dict]]:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            rows = con.execute("SELECT content, payload FROM chat_messages WHERE role = 'assistant' ORDER BY id").fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return []
    return [(c, json.loads(p or "{}")) for c, p in rows]


def test_first_question_typed_in_the_real_window_gets_a_quotes_answer(display: dict[str, str], app_home: Path,
                                                                        installed_model: Path, tmp_path: Path) -> None:
    env = {**display, "NOTEBOOKLM_LOCAL_HOME": str(app_home), "NOTEBOOKLM_LOCAL_NO_FIRST_RUN": "1"}
    init = subprocess.run([*cli_exe(), "init"], env=env, capture_output=True, text=True, timeout=300)
    assert init.returncode == 0, init.stderr
    assert "sample notebook" in init.stdout and "default embedder" in init.stdout
    app = subprocess.Popen(cli_exe(), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shot = tmp_path / "after-answer.png"
    try:
        win = _xdotool(env, "search", "--sync", "--onlyvisible", "--name", "Sample notebook", timeout=90)
        assert win, "the main window did not appear"
        wid = win.splitlines()[0]
        _xdotool(env, "windowactivate", "--sync", wid)
        time.sleep(1.0)  # let the window settle (the library loads off the GUI thread)
        _xdotool(env, "key", "--window", wid, "ctrl+k")
        _xdotool(env, "type", "--delay", "20", QUESTION)
        _xdotool(env, "key", "ctrl+Return")
        db = app_home / "data" / "library.db"
        deadline = time.monotonic() + 120
        answers: list[tuple[str, dict]] = []
        while time.monotonic() < deadline and not answers:
            time.sleep(0.5)
            answers = _assistant_messages(db)
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
        _xdotool(env, "key", "--window", wid, "ctrl+q")
        assert app.wait(30) == 0
    finally:
        if app.poll() is None:
            app.send_signal(signal.SIGTERM)
            try:
                app.wait(15)
            except subprocess.TimeoutExpired:
                app.kill()
