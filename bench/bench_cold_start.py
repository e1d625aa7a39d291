"""Cold start: process start → window painted → interactive (sample notebook listed), idle memory, and
the first answer on the sample notebook (issue #17 item 3).

A data dir is prepared once with ``init`` (built-in embedder, the Sample notebook indexed). Then the app is
started as a fresh process N times (``python -m notebooklm_local``, offscreen unless ``--xcb`` and a
``DISPLAY``), with ``NOTEBOOKLM_LOCAL_STARTUP_REPORT`` set: the app writes wall-clock marks (window built,
shown, first paint, interactive) and its RSS a second after becoming interactive, then quits. The first
run warms the disk cache and is not counted. Alternating with it, in the same run, the baseline: a bare
PySide6 process that shows an empty ``QMainWindow`` and quits after its first paint (the floor any Qt
app pays: interpreter + Qt start).

First answer: a fresh ``notebooklm-local ask`` process on the Sample notebook (the built-in embedder;
Quotes mode unless a generative model is configured), wall time to exit, median of 3.

    .venv/bin/python bench/bench_cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import start

PY = sys.executable
QUESTION = "How much memory does a 7B model need at 4 bits?"

BARE_QT = r"""
import json, sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1]); w = QMainWindow(); w.resize(1200, 800)
class F(QObject):
    def eventFilter(self, o, e):
        if e.type() == QEvent.Type.Paint:
            open(sys.argv[1], "w").write(json.dumps({"first_paint": time.time()})); QTimer.singleShot(0, app.quit)
        return False
f = F(); w.installEventFilter(f); w.show(); app.exec()
"""


def _env(home: Path, xcb: bool) -> dict[str, str]:
    env = {**os.environ, "NOTEBOOKLM_LOCAL_HOME": str(home), "ANONYMIZED_TELEMETRY": "False"}
    if not (xcb and os.environ.get("DISPLAY")):
        env["QT_QPA_PLATFORM"] = "offscreen"
    env.pop("NOTEBOOKLM_LOCAL_NO_FIRST_RUN", None)
    return env


def run_app(home: Path, xcb: bool) -> dict:
    with tempfile.TemporaryDirectory() as td:
        out = Path(td) / "startup.json"
        env = {**_env(home, xcb), "NOTEBOOKLM_LOCAL_STARTUP_REPORT": str(out)}
        t0 = time.time()
        proc = subprocess.run([PY, "-m", "notebooklm_local"], env=env, capture_output=True, text=True, timeout=120)
        t_exit = time.time()
        if not out.exists():
            raise SystemExit(f"the app wrote no startup report (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        rep = json.loads(out.read_text())
    m = rep["marks"]
    return {
        "window_built": m["window_built"] - t0, "shown": m["window_shown"] - t0, "first_paint": m["first_paint"] - t0,
        "interactive": m["interactive"] - t0, "imports_and_setup": m["run_gui"] - t0, "exit": t_exit - t0,
        "rss_mb": (rep.get("rss_kb") or 0) / 1024, "hwm_mb": (rep.get("hwm_kb") or 0) / 1024,
        "modules": rep.get("modules", []),
    }


def run_bare(home: Path, xcb: bool) -> float:
    with tempfile.TemporaryDirectory() as td:
        out = Path(td) / "bare.json"
        t0 = time.time()
        subprocess.run([PY, "-c", BARE_QT, str(out)], env=_env(home, xcb), capture_output=True, timeout=60, check=True)
        return json.loads(out.read_text())["first_paint"] - t0


def first_answer(home: Path) -> float:
    t0 = time.time()
    proc = subprocess.run([PY, "-m", "notebooklm_local", "ask", "--notebook", "Sample notebook", QUESTION],
                          env=_env(home, False), capture_output=True, text=True, timeout=300)
    took = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit(f"ask failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--answers", type=int, default=3)
    ap.add_argument("--xcb", action="store_true", help="use the X display in DISPLAY instead of offscreen")
    args = ap.parse_args()
    start("bench_cold_start")
    with tempfile.TemporaryDirectory(prefix="nbl-cold-") as td:
        home = Path(td) / "home"
        t0 = time.time()
        subprocess.run([PY, "-m", "notebooklm_local", "init"], env=_env(home, False), capture_output=True,
                       text=True, timeout=900, check=True)
        print(f"data dir prepared with init in {time.time() - t0:.1f} s")
        run_app(home, args.xcb)  # warm the disk cache (not counted)
        run_bare(home, args.xcb)
        apps, bares = [], []
        for _ in range(args.runs):
            apps.append(run_app(home, args.xcb))
            bares.append(run_bare(home, args.xcb))
        med = {k: statistics.median(r[k] for r in apps) for k in
               ("imports_and_setup", "window_built", "shown", "first_paint", "interactive", "exit", "rss_mb", "hwm_mb")}
        bare = statistics.median(bares)
        print(f"\ncold start, median of {args.runs} (warm disk cache), seconds from process start:")
        for k in ("imports_and_setup", "window_built", "shown", "first_paint", "interactive"):
            print(f"  {k:18s} {med[k]:6.3f}   (runs: {', '.join(f'{r[k]:.3f}' for r in apps)})")
        print(f"  bare PySide6 window first paint (baseline): {bare:.3f} s; ours/baseline to interactive: "
              f"{med['interactive'] / bare:.2f}x; goal interactive <= 1.5 s: {'met' if med['interactive'] <= 1.5 else 'NOT met'}")
        print(f"  idle RSS 1 s after interactive: {med['rss_mb']:.0f} MB (peak so far {med['hwm_mb']:.0f} MB)")
        print(f"  heavy modules loaded at that point: {', '.join(apps[-1]['modules']) or 'none'}")
        answers = [first_answer(home) for _ in range(args.answers)]
        print(f"\nfirst answer on the Sample notebook (fresh `ask` process, to exit): median "
              f"{statistics.median(answers):.2f} s (runs: {', '.join(f'{a:.2f}' for a in answers)})")


if __name__ == "__main__":
    main()
