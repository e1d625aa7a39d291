"""Fixtures of the end-to-end tests: a real X server (Xvfb) with a window manager (openbox), and a small
helper to drive it with xdotool and take screenshots.

Needs Xvfb, openbox and xdotool (scripts/system-deps.sh installs them); the tests are skipped without them.
Screenshots (ImageMagick's ``import``, else ``xwd``) go to the test's tmp dir, and are copied to
``$NOTEBOOKLM_E2E_SHOTS`` when that is set.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

NEEDED = ("Xvfb", "openbox", "xdotool")
SCREEN = (1280, 800)


def _free_display() -> int:
    for n in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    pytest.skip("no free X display number")


@pytest.fixture
def display() -> Iterator[dict[str, str]]:
    """An Xvfb display with openbox running on it; yields the environment to start programs on it."""
    missing = [t for t in NEEDED if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (scripts/system-deps.sh)")
    n = _free_display()
    xvfb = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
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


def xdotool(env: dict[str, str], *args: str, timeout: float = 20) -> str:
    out = subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=timeout)
    return out.stdout.strip()


class X11:
    """Drive the display like a user (keys, typing, the mouse) and take screenshots of it."""

    def __init__(self, env: dict[str, str], shots: Path) -> None:
        self.env = env
        self.shots = shots
        self.shots.mkdir(parents=True, exist_ok=True)
        self.copy_to = Path(os.environ["NOTEBOOKLM_E2E_SHOTS"]) if os.environ.get("NOTEBOOKLM_E2E_SHOTS") else None

    def xdotool(self, *args: str, timeout: float = 20) -> str:
        return xdotool(self.env, *args, timeout=timeout)

    def key(self, *keys: str) -> None:
        self.xdotool("key", "--clearmodifiers", *keys)

    def type(self, text: str, delay_ms: int = 15) -> None:
        self.xdotool("type", "--delay", str(delay_ms), text, timeout=30 + len(text) * delay_ms / 1000)

    def move(self, x: int, y: int) -> None:
        self.xdotool("mousemove", "--sync", str(x), str(y))

    def click(self, x: int, y: int, *, settle: float = 0.15) -> None:
        self.move(x, y)
        time.sleep(settle)
        self.xdotool("click", "1")

    def click_rect(self, rect: list[int]) -> None:
        x, y, w, h = rect
        self.click(x + w // 2, y + h // 2)

    def window(self, name: str, timeout: float = 90) -> str:
        """The id of the first visible window whose title matches ``name`` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.xdotool("search", "--onlyvisible", "--name", name)
            if found:
                return found.splitlines()[0]
            time.sleep(0.3)
        return ""

    def screenshot(self, name: str) -> Path | None:
        """The whole screen as ``<name>.png`` (or ``.xwd`` without ImageMagick); None when neither is installed."""
        if shutil.which("import"):
            path = self.shots / f"{name}.png"
            subprocess.run(["import", "-window", "root", str(path)], env=self.env, capture_output=True, timeout=30)
        elif shutil.which("xwd"):
            path = self.shots / f"{name}.xwd"
            subprocess.run(["xwd", "-root", "-silent", "-out", str(path)], env=self.env, capture_output=True,
                           timeout=30)
        else:
            return None
        if not path.exists():
            return None
        if self.copy_to is not None:
            self.copy_to.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, self.copy_to / path.name)
        return path

    @staticmethod
    def mean_gray(shot: Path, rect: list[int]) -> float | None:
        """The mean brightness (0..1) of ``rect`` of a screenshot (ImageMagick), None when it cannot be read."""
        if shutil.which("convert") is None or shot.suffix != ".png":
            return None
        x, y, w, h = rect
        out = subprocess.run(["convert", str(shot), "-crop", f"{w}x{h}+{x}+{y}", "-colorspace", "Gray",
                              "-format", "%[fx:mean]", "info:"], capture_output=True, text=True, timeout=30)
        try:
            return float(out.stdout.strip())
        except ValueError:
            return None


@pytest.fixture
def x11(display: dict[str, str], tmp_path: Path) -> X11:
    return X11(display, tmp_path / "shots")


def query(db: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a read-only query on the app's library (empty while the database cannot be read)."""
    if not db.exists():
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return []


@pytest.fixture
def library_rows() -> Callable[..., list[tuple[Any, ...]]]:
    """``library_rows(db, sql, args)``: rows of a read-only query on the app's ``library.db``."""
    return query


def assistant_messages(db: Path) -> list[tuple[str, dict[str, Any]]]:
    rows = query(db, "SELECT content, payload FROM chat_messages WHERE role = 'assistant' ORDER BY id")
    return [(c, json.loads(p or "{}")) for c, p in rows]


@pytest.fixture
def chat_answers() -> Callable[[Path], list[tuple[str, dict[str, Any]]]]:
    """``chat_answers(db)``: the stored assistant messages (content, payload), oldest first."""
    return assistant_messages
