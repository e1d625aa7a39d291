"""The user loop, end to end, on a real X server with a window manager (Xvfb + openbox), driven like a user.

The app is started as a process (the xcb platform, not offscreen) on an EMPTY data dir: only the built-in
embedder and the tiny demo chat model are in its models folder, as bootstrap leaves them; no ``init``.
xdotool then does what a user does, and the test checks what the user would see:

1. the first start: the welcome dialog, closed with "Continue with the demo model"; the app has made the
   Sample notebook by itself;
2. Sources ▸ Add files (Ctrl+O): Qt's file dialog, the PDF's full path typed into its file name field;
3. the PDF becomes ready (``sources.status`` in the library);
4. Ctrl+K, a question about the PDF, Ctrl+Enter: a Quotes answer citing the PDF's page 2 is stored;
5. the mouse hovers its citation chip (a tooltip with the quote shows) and clicks it: the source viewer
   opens the PDF at page 2 with the passage highlighted;
6. the answer's "Save to note" link, then Notes ▸ Export ▸ this note to a Markdown file (file dialog,
   path typed): the file has the answer with footnote citations;
7. Settings (Ctrl+,) ▸ Output ▸ Theme: Dark, OK: the palette and the pixels on the screen turn dark;
8. answer mode "Generated", a long question, and Alt+F4 (openbox closes the window) while the model
   works on the answer (the demo model reads the passages for 10-20 s, then writes a few tokens): "Close while working?" is confirmed with Enter when it shows; the process exits
   with code 0 within a few seconds and no cut-off answer is stored as a normal one.

What the test cannot see from outside (widget rectangles, the chat's links, the tooltip, the viewer's page,
the palette) the app writes to a JSON file when ``NOTEBOOKLM_E2E_PROBE`` is set (notebooklm_local/ui/e2e_probe.py).
Screenshots of each step are in the test's tmp dir (``shots/``) and in ``$NOTEBOOKLM_E2E_SHOTS`` when set.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli_exe
from tests.helpers.docs import make_pdf

pytestmark = [pytest.mark.gui, pytest.mark.model, pytest.mark.slow]

PAGES = [
    "Notes on small research reactors.\n\nThis report describes the licensing history of three research sites "
    "and the way their operating permits were renewed between 1990 and 2010. Each permit lists the staff, the "
    "inspections and the emergency drills of the site.",
    "Cooling.\n\nThe Zephyr reactor uses liquid sodium as its coolant. The sodium enters the core at 380 degrees "
    "Celsius and leaves it at 550 degrees Celsius. Two pumps move the sodium through the heat exchanger.",
    "Spent fuel.\n\nSpent fuel rods are stored in a water pool for seven years before they move to dry casks. "
    "The casks are checked for leaks every month by the site's inspectors.",
]
QUESTION = "Which coolant does the Zephyr reactor use?"
LONG_QUESTION = ("Explain in detail, step by step and with every number the sources give, how the Zephyr reactor "
                 "is cooled, how hot the sodium gets, what the pumps do, how spent fuel is stored and checked, and "
                 "how the research sites renewed their operating permits over the years")


class Loop:
    """The running app, its probe file and library, and the user's hands (``x11``)."""

    def __init__(self, x11: Any, home: Path, tmp: Path, rows: Callable[..., list[tuple[Any, ...]]]) -> None:
        self.x11 = x11
        self.home = home
        self.db = home / "data" / "library.db"
        self.rows = rows
        self.probe_file = tmp / "probe.json"
        self.log_file = tmp / "app-output.txt"
        self.proc: subprocess.Popen[bytes] | None = None
        self.shot_no = 0
        self.timings: dict[str, Any] = {}

    # -- the process -----------------------------------------------------------------------------------

    def start(self, env: dict[str, str]) -> None:
        self._log = open(self.log_file, "wb")  # noqa: SIM115 - open for the life of the process
        self.proc = subprocess.Popen(cli_exe(), env={**env, "NOTEBOOKLM_E2E_PROBE": str(self.probe_file)},
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if getattr(self, "_log", None) is not None:
            self._log.close()

    # -- what the app shows -------------------------------------------------------------------------------

    def probe(self) -> dict[str, Any]:
        try:
            return json.loads(self.probe_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def shot(self, name: str) -> str:
        self.shot_no += 1
        path = self.x11.screenshot(f"{self.shot_no:02d}-{name}")
        return str(path) if path else "(no screenshot tool)"

    def fail(self, what: str) -> None:
        shot = self.shot("FAILED-" + "".join(c if c.isalnum() else "-" for c in what)[:40])
        tail = self.output()[-3000:]
        pytest.fail(f"{what}\nscreenshot: {shot}\nprobe: {json.dumps(self.probe())[:1500]}\napp output:\n{tail}")

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 60, every: float = 0.25) -> Any:
        """Poll ``check`` until it returns something true (returned); fail with a screenshot on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            got = check()
            if got:
                return got
            if self.proc is not None and self.proc.poll() is not None:
                self.fail(f"the app exited (code {self.proc.returncode}) while waiting for: {what}")
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout:.0f} s waiting for: {what}")
            time.sleep(every)

    def widget(self, name: str) -> dict[str, Any] | None:
        return self.probe().get("widgets", {}).get(name)

    def window_titled(self, title: str) -> dict[str, Any] | None:
        return next((w for w in self.probe().get("windows", []) if title in w.get("title", "")), None)

    def click_widget(self, name: str, *, enabled: bool = True) -> dict[str, Any]:
        w = self.wait(f"the widget {name!r}" + (" (enabled)" if enabled else ""),
                      lambda: (lambda x: x if x and (x["enabled"] or not enabled) else None)(self.widget(name)))
        self.x11.click_rect(w["rect"])
        return w

    def click_button(self, text: str, window: str = "") -> None:
        def find() -> dict[str, Any] | None:
            return next((b for b in self.probe().get("buttons", []) if b["text"].replace("&", "") == text
                         and window in b["window"] and b["enabled"]), None)

        self.x11.click_rect(self.wait(f"the button {text!r}", find)["rect"])

    def click_menu_item(self, *texts: str) -> str:
        """Click the first enabled item of the open menu among ``texts`` (in that order of preference)."""
        def find() -> dict[str, Any] | None:
            items = {m["text"].replace("&", ""): m for m in self.probe().get("menus", []) if m["enabled"]}
            return next((items[t] for t in texts if t in items), None)

        item = self.wait(f"a menu item among {texts}", find, timeout=20)
        self.x11.click_rect(item["rect"])
        return str(item["text"])

    def type_into_file_dialog(self, title: str, path: Path) -> None:
        """In Qt's file dialog titled ``title``: the full path into the file name field, then Enter."""
        self.wait(f"the file dialog {title!r}", lambda: self.window_titled(title), timeout=30)
        self.wait("the file dialog's file name field to have the focus",
                  lambda: self.probe().get("focus") == "fileNameEdit", timeout=15)
        self.shot("file-dialog")
        self.x11.key("ctrl+a")
        self.x11.type(str(path))
        for _ in range(3):  # the first Enter may only take the completer's suggestion
            time.sleep(0.4)
            self.x11.key("Return")
            try:
                self.wait(f"the file dialog {title!r} to close", lambda: not self.window_titled(title), timeout=5)
                return
            except pytest.fail.Exception:
                continue
        self.fail(f"the file dialog {title!r} did not take the typed path {path}")

    def anchors(self, prefix: str) -> list[dict[str, Any]]:
        return [a for a in self.probe().get("anchors", []) if a["href"].startswith(prefix)]

    def focus_main(self) -> None:
        wid = self.x11.window("Sample notebook", timeout=5)
        if wid:
            self.x11.xdotool("windowactivate", "--sync", wid)

    # -- the library ---------------------------------------------------------------------------------------

    def messages(self) -> list[tuple[int, str, str, dict[str, Any]]]:
        return [(i, r, c, json.loads(p or "{}")) for i, r, c, p in
                self.rows(self.db, "SELECT id, role, content, payload FROM chat_messages ORDER BY id")]


def test_user_loop_from_an_empty_data_dir(x11: Any, app_home: Path, installed_model: Path, tmp_path: Path,
                                          library_rows: Callable[..., list[tuple[Any, ...]]]) -> None:
    t_start = time.monotonic()
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "docs").mkdir()
    pdf = make_pdf(tmp_path / "docs" / "zephyr-reactor.pdf", PAGES, title="Zephyr reactor notes")
    export_dir = tmp_path / "export"
    export_dir.mkdir()
    assert not (app_home / "data" / "library.db").exists(), "the data dir must start empty (no init)"
    env = {k: v for k, v in x11.env.items() if k != "NOTEBOOKLM_LOCAL_NO_FIRST_RUN"}  # a real first start
    env.update({"NOTEBOOKLM_LOCAL_HOME": str(app_home), "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")})
    app = Loop(x11, app_home, tmp_path, library_rows)
    app.start(env)
    try:
        _run_loop(app, pdf, export_dir, t_start)
    finally:
        app.stop()
    print("timings (s since start):", json.dumps(app.timings))  # shown with -s / on failure


def _mark(app: Loop, name: str, t0: float) -> None:
    app.timings[name] = round(time.monotonic() - t0, 1)


def _run_loop(app: Loop, pdf: Path, export_dir: Path, t0: float) -> None:
    x11 = app.x11
    # 1. first start: the welcome dialog over the main window; the app makes the Sample notebook itself
    app.wait("the welcome dialog", lambda: app.window_titled("Welcome"), timeout=90)
    _mark(app, "welcome", t0)
    app.shot("first-start-welcome")
    doubled = x11.xdotool("search", "--onlyvisible", "--name", "NotebookLM Local.*NotebookLM Local")
    assert not doubled, "a window title names the app twice: " + ", ".join(
        x11.xdotool("getwindowname", w) for w in doubled.split())
    app.click_widget("first-run-demo")
    app.wait("the welcome dialog to close", lambda: not app.window_titled("Welcome"), timeout=15)
    app.wait("the Sample notebook (made by the app on first start)",
             lambda: app.rows(app.db, "SELECT id FROM notebooks WHERE name = 'Sample notebook'"), timeout=30)
    main = app.wait("the main window titled with the Sample notebook", lambda: app.window_titled("Sample notebook"))
    assert main["rect"][2] <= 1280 and main["rect"][3] <= 800, f"the window is larger than the screen: {main}"
    # the collector, paused while the app starts, is back on with the start-up heap frozen (no full pass over it)
    app.wait("the garbage collector on again, the start-up heap frozen",
             lambda: (g := app.probe().get("gc", {})).get("enabled") and g.get("frozen", 0) > 100_000, timeout=30)
    app.shot("first-start-main-window")

    # 2. Sources ▸ Add files (Ctrl+O): Qt's own file dialog; the path typed into its file name field
    app.focus_main()
    x11.key("ctrl+o")
    app.type_into_file_dialog("Add files", pdf)
    _mark(app, "pdf_added", t0)

    # 3. the PDF is read and indexed
    def pdf_state() -> tuple[str, str] | None:
        got = app.rows(app.db, "SELECT status, coalesce(error, '') FROM sources WHERE ref LIKE ?", (f"%{pdf.name}%",))
        if got and got[0][0] == "failed":
            app.fail(f"the PDF failed to index: {got[0][1]}")
        return got[0] if got and got[0][0] == "ready" else None

    app.wait("the PDF to be ready (sources.status)", pdf_state, timeout=180, every=0.5)
    _mark(app, "pdf_ready", t0)
    app.shot("pdf-ready")
    (pdf_title,) = app.rows(app.db, "SELECT title FROM sources WHERE ref LIKE ?", (f"%{pdf.name}%",))[0]

    # 4. Ctrl+K, the question, Ctrl+Enter: a Quotes answer citing page 2 of the PDF
    app.focus_main()
    x11.key("ctrl+k")
    app.wait("the chat input to have the focus", lambda: app.probe().get("focus") == "chat-input", timeout=10)
    x11.type(QUESTION)
    x11.key("ctrl+Return")

    def answered() -> dict[str, Any] | None:
        answers = [m for m in app.messages() if m[1] == "assistant"]
        return answers[-1][3] if answers else None

    payload = app.wait("the answer in the chat store", answered, timeout=120, every=0.5)
    _mark(app, "answered", t0)
    assert payload.get("mode") == "quotes", payload
    assert "sodium" in json.dumps(payload).lower(), payload
    cited = [c for c in payload.get("citations", []) if c.get("source_title") == pdf_title]
    on_page_2 = [c for c in cited if c.get("page") == 2]
    assert on_page_2, f"no citation of page 2 of the PDF: {payload.get('citations')}"
    citation = on_page_2[0]
    chips = app.wait("the answer's citation chips in the chat transcript", lambda: app.anchors("cite:"), timeout=20)
    key = max(int(a["href"].split(":")[1]) for a in chips)
    chip = app.wait(f"the chip of passage {citation['passage_id']}",
                    lambda: next((a for a in app.anchors(f"cite:{key}:{citation['passage_id']}")
                                  if a["text"].strip()), None), timeout=10)
    app.shot("answer")

    # 5. hover the chip: a tooltip with the quote; click it: the viewer at page 2, the passage highlighted
    x, y, w, h = chip["rect"]
    x11.move(x + w // 2, y + h + 40)
    time.sleep(0.3)
    x11.move(x + w // 2, y + h // 2)
    x11.move(x + w // 2 + 1, y + h // 2)  # a second motion event over the link (Qt shows tooltips on motion)
    tip = app.wait("a tooltip over the citation chip", lambda: app.probe().get("tooltip", {}).get("text"), timeout=10)
    words = " ".join(citation["quote"].split()[:4])
    assert pdf_title in tip and words in " ".join(tip.split()), f"the tooltip does not show the quote: {tip!r}"
    app.shot("chip-hover-tooltip")
    x11.xdotool("click", "1")
    viewer = app.wait("the source viewer", lambda: (app.probe().get("viewers") or [None])[0], timeout=30)
    viewer = app.wait("the viewer at its page", lambda: (lambda v: v if v and v.get("page_label") else None)(
        (app.probe().get("viewers") or [None])[0]), timeout=15)
    app.shot("source-viewer")
    assert viewer["pdf_page"] == 2 and viewer["cited_page"] == 2, viewer
    assert viewer["page_label"].startswith("Page 2 of 3"), viewer
    assert viewer["current_tab"] == "Page view" and not viewer["notice"], viewer
    assert viewer["pdf_match_rects"] > 0, f"the passage is not highlighted on the page: {viewer}"
    assert "sodium" in viewer["highlighted"].lower(), viewer
    x11.key("Escape")
    app.wait("the source viewer to close", lambda: not app.probe().get("viewers"), timeout=10)

    # 6. "Save to note", then Notes ▸ Export ▸ this note to a Markdown file
    note_link = app.wait("the answer's Save to note link", lambda: app.anchors(f"note:{key}"), timeout=10)[0]
    x11.click_rect(note_link["rect"])
    notes = app.wait("the note in the library", lambda: app.rows(app.db, "SELECT title, body FROM notes"), timeout=30)
    assert notes[0][0] == QUESTION, f"the note is titled {notes[0][0]!r}"
    app.focus_main()
    x11.key("ctrl+2")
    app.wait("the note in the notes list", lambda: (app.widget("notes-list") or {}).get("text") is not None
             and (app.widget("notes-export") or {}).get("enabled"), timeout=20)
    app.click_widget("notes-export")
    chosen = app.click_menu_item("This note to a Markdown file…", "All notes to one Markdown file…")
    target = export_dir / "zephyr-answer.md"
    app.type_into_file_dialog("Export notes to a Markdown file", target)
    app.wait(f"the exported file {target}", target.exists, timeout=30)
    _mark(app, "exported", t0)
    md = target.read_text(encoding="utf-8")
    assert "[^1]" in md and "\n[^1]: " in md, f"no footnote citations in the export ({chosen}):\n{md}"
    assert pdf_title in md and "sodium" in md.lower(), md
    app.shot("note-exported")

    # 7. Settings ▸ Output ▸ Theme: Dark; the palette and the pixels turn dark
    before = app.probe()["palette"]
    assert not before["dark"], before
    main = app.window_titled("Sample notebook")
    shot_light = x11.screenshot(f"{app.shot_no + 1:02d}-theme-before")
    app.shot_no += 1
    app.focus_main()
    x11.key("ctrl+comma")
    app.wait("the Settings dialog", lambda: app.widget("settings-tabs"), timeout=20)
    tab = app.wait("the Output tab", lambda: next((t for t in app.probe()["tabs"] if t["text"].replace("&", "")
                                                   == "Output"), None))
    x11.click_rect(tab["rect"])
    app.click_widget("settings-theme")
    time.sleep(0.5)  # the list pops up
    x11.key("End")
    x11.key("Return")
    app.wait("Dark chosen in the theme box", lambda: (app.widget("settings-theme") or {}).get("text") == "Dark",
             timeout=10)
    app.shot("settings-theme-dark")
    app.click_button("OK", window="Settings")
    after = app.wait("a dark palette", lambda: (lambda p: p if p.get("dark") else None)(app.probe().get("palette", {})),
                     timeout=20)
    assert after["window"] != before["window"], (before, after)
    time.sleep(0.5)  # repainted
    shot_dark = app.shot("theme-dark")
    if shot_light is not None and main is not None:
        x0, y0, w0, h0 = main["rect"]
        area = [x0 + 10, y0 + 40, max(10, w0 - 20), max(10, h0 - 80)]
        light, dark = x11.mean_gray(shot_light, area), x11.mean_gray(Path(shot_dark), area)
        if light is not None and dark is not None:
            assert dark < light - 0.2, f"the window did not turn dark on the screen: brightness {light:.2f} -> {dark:.2f}"

    # 8. a generated answer, and the window closed (Alt+F4, the window manager) while it is written
    app.focus_main()
    app.click_widget("chat-mode")
    time.sleep(0.5)
    x11.key("Down")
    x11.key("Return")
    app.wait("the answer mode 'Generated'",
             lambda: (app.widget("chat-mode") or {}).get("text") == "Generated", timeout=10)
    n_before = len(app.messages())
    app.focus_main()
    x11.key("ctrl+k")
    app.wait("the chat input to have the focus", lambda: app.probe().get("focus") == "chat-input", timeout=10)
    x11.type(LONG_QUESTION, delay_ms=5)
    x11.key("ctrl+Return")

    def working() -> str | None:
        """The model works on the answer: it reads the passages (prompt evaluation) or writes (streamed text).

        The demo model spends ~10-20 s on CPU reading the passages and then writes only a few tokens, so
        the close lands while the passages are read unless the text already streams. On a machine fast
        enough to answer between two looks (a GPU), the window is closed after the answer instead (said in a
        warning): closing must then ask nothing."""
        if len(app.messages()) > n_before + 1:
            return "done"
        chat = app.probe().get("chat") or {}
        status = (app.widget("chat-status") or {}).get("text", "")
        if chat.get("busy") and (chat.get("streamed", 0) > 0 or status.startswith(("Reading", "Writing"))):
            return status or "streaming"
        return None

    stage = app.wait("the model working on the answer (reading the passages or writing)", working, timeout=120,
                     every=0.2)
    during = stage != "done"
    if during:
        time.sleep(0.3)  # inside the model's work
    else:
        warnings.warn("the answer was made too fast to close the window while it was made; closed after it",
                      stacklevel=1)
    app.timings["closed_during"] = stage
    _mark(app, "working", t0)
    app.shot("answer-being-made")
    app.focus_main()
    x11.key("alt+F4")
    t_close = time.monotonic()
    asked = False
    deadline = t_close + 5
    while time.monotonic() < deadline and app.proc is not None and app.proc.poll() is None:
        if app.window_titled("Close while working?"):
            asked = True
            app.shot("close-while-working")
            x11.key("Return")  # "Stop and close" is the default
            t_close = time.monotonic()
            break
        time.sleep(0.1)
    assert app.proc is not None
    try:
        code = app.proc.wait(15)
    except subprocess.TimeoutExpired:
        app.fail("the app did not exit within 15 s of closing its window during an answer")
    took = time.monotonic() - t_close
    _mark(app, "exited", t0)
    app.timings["exit_after_close_s"] = round(took, 1)
    app.timings["asked_before_closing"] = float(asked)
    assert code == 0, f"exit code {code}\n{app.output()[-3000:]}"
    # Stop takes effect within one 128-token prompt slice (~2 s on 2 free cores), and the window waits at most 3 s
    # for background work before it exits anyway; 10 s leaves room for a machine busy with other tests
    assert took < 10, f"the app took {took:.1f} s to exit after the close was confirmed"
    if not during:
        assert not asked, "closing asked about work although nothing was running"
    later = app.messages()[n_before:]
    users = [m for m in later if m[1] == "user"]
    assert all(m[2] == LONG_QUESTION for m in users), later
    for _id, role, content, payload in later:
        if role == "assistant" and during:  # a cut-off answer may be kept, marked stopped, never as a normal one
            assert payload.get("cancelled") is True or payload.get("stopped") is True, (content, payload)
    out = app.output()
    assert "Traceback" not in out, f"the app printed a traceback:\n{out[-4000:]}"
