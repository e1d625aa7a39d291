"""Timeline and data table (model-free): precision of the dates found on a hand-labelled sample of the shared
notes corpus, what is not found, and the time to make both outputs.

    .venv/bin/python bench/bench_timeline.py [--repeat 3]

``bench/data/timeline_dates.json`` holds the labels as offsets into the corpus files (no corpus text): a
sample of 48 of the dates ``find_dates`` reports (is it a date? is it a dated event in prose?) and every
4-digit number 1600-2039 it leaves out (is it a date?). The script re-runs ``find_dates`` and checks that
each labelled span is still (or still not) reported, so a change of the rules shows up here.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import CORPUS, REPO
from notebooklm_local.core.timeline import find_dates

LABELS = REPO / "bench" / "data" / "timeline_dates.json"


def precision() -> None:
    data = json.loads(LABELS.read_text(encoding="utf-8"))
    found: dict[str, set[tuple[int, int]]] = {}
    years: dict[str, int] = {}
    for f in sorted(CORPUS.glob("0*.txt")):
        text = f.read_text(encoding="utf-8")
        ds = find_dates(text)
        found[f.name] = {(d.start, d.end) for d in ds}
        years[f.name] = len(re.findall(r"(?<![\w.])(?:1[6-9]\d\d|20[0-3]\d)(?![\w])", text))
        print(f"{f.name}: {len(ds)} dates found")
    sample = data["sample"]
    still = [r for r in sample if (r["start"], r["end"]) in found.get(r["file"], set())]
    dates = sum(r["is_date"] for r in still)
    events = sum(r["is_event"] for r in still)
    print(f"sample: {len(still)}/{len(sample)} labelled spans still found; precision (a real date) "
          f"{dates}/{len(still)} = {dates / max(1, len(still)):.1%}; dated events in prose {events}/{len(still)}")
    missed = data["not_found"]
    now_found = [r for r in missed if any(a <= r["start"] < b for a, b in found.get(r["file"], set()))]
    print(f"not found: {len(missed)} year-like numbers, {sum(r['is_date'] for r in missed)} of them dates "
          f"({len(now_found)} found now); 4-digit 1600-2039 numbers in the corpus: {sum(years.values())}")


def timing(repeat: int) -> None:
    from notebooklm_local.core.documents import SourceRef
    from notebooklm_local.core.library import Library
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.extensions.builtins import builtin_registry
    from notebooklm_local.services.library_service import LibraryService
    from notebooklm_local.services.studio.extractive import ExtractiveStudio

    with tempfile.TemporaryDirectory() as tmp:
        paths = app_paths(Path(tmp)).ensure()
        lib = LibraryService(paths.data, Library(paths.data / "library.db"), builtin_registry().source_loaders.items(),
                             None)
        lib.create_notebook("Corpus")
        files = sorted(CORPUS.glob("0*.txt"))
        lib.add("Corpus", [SourceRef(text=f.read_text(encoding="utf-8"), title=f.stem) for f in files])
        for what in ("timeline", "table"):
            secs, made = [], None
            for _ in range(repeat):
                studio = ExtractiveStudio(lib)  # cold: the corpus is read and split every time
                t0 = time.perf_counter()
                made = studio.make(what, "Corpus", store=False)
                secs.append(time.perf_counter() - t0)
            assert made is not None
            n = len(made.result.events) if what == "timeline" else len(made.result.rows)
            print(f"{what}: {statistics.median(secs):.3f} s (median of {repeat}), {n} "
                  f"{'events' if what == 'timeline' else 'rows'}")
        lib.library.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not CORPUS.is_dir():
        print(f"no corpus at {CORPUS}", file=sys.stderr)
        return 1
    precision()
    timing(args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
