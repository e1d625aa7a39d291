"""Watched folders: how long a sync takes when nothing changed, when one file changed, and the first one.

A folder of N small Markdown notes (default 1,000, in 10 sub-folders) is watched by a notebook of a
throw-away library (keyword-only, so the figures are the sync's own work, not embedding). Timed:

* first sync (every file added: read, chunked, stored in SQLite/FTS5);
* a sync with nothing changed (median of 5): the folder is listed and each file stat'ed, nothing hashed;
* a sync after one file was edited and another only touched (same bytes, new mtime): both hashed, one
  re-indexed.

Baseline in the same run: the floor of any sync, ``os.walk`` + ``os.stat`` of the same folder (median of 5).

    .venv/bin/python bench/bench_watch.py [--files 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C


def walk_and_stat(folder: Path) -> int:
    n = 0
    for root, _dirs, files in os.walk(folder):
        for f in files:
            os.stat(os.path.join(root, f))
            n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=1000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nbl-bench-watch-"))
    os.environ["NOTEBOOKLM_LOCAL_HOME"] = str(tmp / "home")
    C.start("bench_watch")
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.workspace import open_library

    folder = tmp / "notes"
    for i in range(args.files):
        sub = folder / f"topic-{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"note-{i:05}.md").write_text(f"# Note {i}\n\nA note about canal {i % 37} and lock {i % 11}.\n",
                                             encoding="utf-8")
    lib = open_library(app_paths().ensure(), Settings(), with_index=False)
    lib.create_notebook("Notes")
    lib.watch_folder("Notes", folder)

    t0 = time.perf_counter()
    (first,) = lib.sync_folders("Notes")
    t_first = time.perf_counter() - t0
    assert len(first.added) == args.files, first.lines()[:5]

    unchanged, floor = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        (r,) = lib.sync_folders("Notes")
        unchanged.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        walk_and_stat(folder)
        floor.append(time.perf_counter() - t0)
        assert r.unchanged == args.files

    edited = folder / "topic-3" / "note-00003.md"
    edited.write_text("# Note 3\n\nRewritten: the towpath was rebuilt.\n", encoding="utf-8")
    touched = folder / "topic-4" / "note-00004.md"
    for p in (edited, touched):
        st = p.stat()
        os.utime(p, (st.st_atime, st.st_mtime + 5))
    t0 = time.perf_counter()
    (r,) = lib.sync_folders("Notes")
    t_one = time.perf_counter() - t0
    assert [Path(p).name for p in r.reindexed] == ["note-00003.md"], r.lines()
    lib.library.close()

    med, fl = statistics.median(unchanged), statistics.median(floor)
    print(C.table([["first sync (all added)", t_first * 1000, "—"],
                   ["nothing changed (median of 5)", med * 1000, med / fl],
                   ["one edited + one touched", t_one * 1000, t_one / fl],
                   ["baseline: os.walk + os.stat (median of 5)", fl * 1000, 1.0]],
                  ["sync of " + f"{args.files} files", "ms", "÷ baseline"]))
    C.write_results("bench_watch", {"files": args.files, "first_s": t_first, "unchanged_s": med, "one_changed_s": t_one,
                                    "walk_stat_s": fl})
    return 0


if __name__ == "__main__":
    sys.exit(main())
