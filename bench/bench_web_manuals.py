"""HTML manuals nobody here wrote: Quotes answers and headings on Debian's SQLite and Debian Reference pages.

The regression set is two Debian packages that ship HTML documentation (kept out of the repository):

    python bench/bench_web_manuals.py --fetch ~/.cache/notebooklm-local/web-regset   # apt-get download + dpkg-deb -x
    python bench/bench_web_manuals.py --root ~/.cache/notebooklm-local/web-regset

Two notebooks are built with the app's own pipeline (a throw-away home, default settings: the built-in
embedder), ``sqlite`` from 8 pages of sqlite3-doc (when to use, FAQ, datatypes, foreign keys, WAL,
AUTOINCREMENT, limits, quirks) and ``debref`` from the Debian Reference's HTML chapters. Each question of
``bench/data/web_manuals_qa.tsv`` (notebook, question, expected phrases separated by ``|``; written by
reading the pages) is asked the way the chat's Quotes mode answers it (``ChatService.ask(mode="quotes")``;
no model is loaded). Right: the first quote (``top``) or any quote (``any``) contains an expected phrase.
Also: the loader's heading blocks against the pages' <h1>-<h6> (bold item titles are headings too, so more
is possible), ingest and answer time.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

PACKAGES = ["sqlite3-doc", "debian-reference-en"]
SQLITE_PAGES = ["whentouse.html", "faq.html", "datatype3.html", "foreignkeys.html", "wal.html", "autoinc.html",
                "limits.html", "quirks.html"]
QA = Path(__file__).resolve().parent / "data" / "web_manuals_qa.tsv"


def fetch(dest: Path) -> None:
    C.fetch_debs(dest, PACKAGES)


def pages(root: Path) -> dict[str, list[Path]]:
    sqlite = {p.name: p for p in root.rglob("*.html") if "sqlite3" in str(p) and p.name in SQLITE_PAGES}
    debref = sorted(p for p in root.rglob("*.en.html") if "debian-reference" in str(p))
    missing = [n for n in SQLITE_PAGES if n not in sqlite]
    if missing or not debref:
        sys.exit(f"the regression set is not under {root} (missing: {missing or 'Debian Reference'}); "
                 f"run with --fetch first")
    return {"sqlite": [sqlite[n] for n in SQLITE_PAGES], "debref": debref}


def html_headings(path: Path) -> int:
    return len(re.findall(r"<h[1-6][\s>]", path.read_text(encoding="utf-8", errors="replace"), re.I))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fetch", type=Path, help="download and extract the Debian packages into this folder, then exit")
    ap.add_argument("--root", type=Path, default=Path.home() / ".cache" / "notebooklm-local" / "web-regset")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every question's first quote")
    args = ap.parse_args()
    if args.fetch:
        fetch(args.fetch)
        return 0
    sets = pages(args.root)
    home = Path(tempfile.mkdtemp(prefix="nbl-bench-web-"))
    os.environ["NOTEBOOKLM_LOCAL_HOME"] = str(home)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    C.start("bench_web_manuals")

    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.workspace import Workspace

    ws = Workspace(app_paths().ensure(), Settings())
    lib = ws.library_service()
    results: dict[str, object] = {"ingest": {}, "headings": {}}
    for nb, files in sets.items():
        lib.library.create_notebook(nb)
        t0 = time.perf_counter()
        report = lib.add(nb, [str(f) for f in files])
        took = time.perf_counter() - t0
        sources = lib.library.sources(lib.library.notebook(nb).id)
        ready = sum(s.status == "ready" for s in sources)
        chunks = sum(s.n_chunks or 0 for s in sources)
        print(f"{nb}: {len(files)} pages, {ready} ready, {chunks} chunks in {took:.1f} s"
              + (f"; failed: {report.failed}" if getattr(report, "failed", None) else ""))
        results["ingest"][nb] = {"pages": len(files), "ready": ready, "chunks": chunks, "s": took}  # type: ignore[index]
        kept = want = 0
        for s in sources:
            _, blocks = lib.library.source_text(s.id)
            path = Path(s.ref.get("path", ""))
            want += html_headings(path) if path.is_file() else 0
            kept += sum(1 for b in blocks if b.get("kind") == "heading")
        if want:
            results["headings"][nb] = {"kept": kept, "in_html": want}  # type: ignore[index]
            print(f"  heading blocks: {kept} (the pages have {want} <h1>-<h6>; bold item titles count as headings too)")

    chat = ws.chat()
    rows = [line.rstrip("\n").split("\t") for line in QA.read_text(encoding="utf-8").splitlines() if line.strip()]
    top = anyq = 0
    times: list[float] = []
    per: list[dict[str, object]] = []
    for nb, question, expected in rows:
        alts = [e.lower() for e in expected.split("|")]
        t0 = time.perf_counter()
        res = chat.ask(nb, question, mode="quotes", new_session=True)
        times.append(time.perf_counter() - t0)
        quotes = [s.text.lower() for s in res.answer.sentences] if not res.answer.not_found else []
        t = bool(quotes) and any(a in quotes[0] for a in alts)
        a = any(x in q for q in quotes for x in alts)
        top += t
        anyq += a
        per.append({"notebook": nb, "question": question, "top": t, "any": a,
                    "first": quotes[0][:200] if quotes else ""})
        if args.verbose or not a:
            print(f"  {'TOP ' if t else 'ANY ' if a else 'MISS'} {question[:64]:64} | {(quotes[0][:90] if quotes else '(abstained)')!r}")
    n = len(rows)
    print(f"\nQuotes answers on {n} questions: right first quote {top}/{n} ({top / n:.2f}), in any quote {anyq}/{n} "
          f"({anyq / n:.2f}); answer time p50 {statistics.median(times) * 1000:.0f} ms")
    results.update({"questions": n, "top": top, "any": anyq, "answer_p50_s": statistics.median(times), "per": per})
    C.write_results("bench_web_manuals", results)
    ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
