"""Retrieval quality on the sample corpus: hit@5 and MRR of hybrid vs dense-only vs lexical-only search.

The corpus .txt files are ingested with our pipeline (LibraryService.add, MiniLM GGUF embedder,
default chunking). Each question in bench/data/retrieval_qa.json names the corpus file and a short
verbatim "needle" the relevant passage contains; a retrieved chunk is correct when it comes from
that file and its text contains the needle (whitespace-normalised). k = 5.

    .venv/bin/python bench/bench_retrieval.py
    .venv/bin/python bench/bench_retrieval.py --workdir /tmp/retr   # keep the ingested library; reused next run
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

QA = Path(__file__).resolve().parent / "data" / "retrieval_qa.json"
MODES = ("hybrid", "dense", "lexical")


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def open_service(workdir: Path, embedder: Any, chunking: Any = None) -> Any:
    from notebooklm_local.core.library import Library
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.extensions.builtins import builtin_registry
    from notebooklm_local.services.index import ChromaIndex
    from notebooklm_local.services.library_service import LibraryService

    paths = app_paths(workdir).ensure()
    index = ChromaIndex.persistent(paths.index / "chroma", embedder)
    return LibraryService(paths.data, Library(paths.data / "library.db"), builtin_registry().source_loaders.items(),
                          index, chunking=chunking)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--workdir", help="keep the ingested library here and reuse it when it is complete")
    ap.add_argument("--qa", action="append", help="question file(s) (default data/retrieval_qa.json; "
                    "data/quotes_qa.json adds 127 more; questions marked answerable: false are skipped)")
    ap.add_argument("--overlap", type=int, help="chunk overlap in tokens (default: the application's)")
    ap.add_argument("--max-tokens", type=int, help="chunk size in tokens (default: the application's)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every question's ranks")
    args = ap.parse_args()
    C.require_model()
    files = C.corpus_files()
    qa = [q for f in (args.qa or [str(QA)]) for q in json.loads(Path(f).read_text(encoding="utf-8"))["questions"]
          if q.get("answerable", True)]
    missing = [q["id"] for q in qa if not (C.CORPUS / q["file"]).is_file()
               or norm(q["needle"]) not in norm((C.CORPUS / q["file"]).read_text(encoding="utf-8"))]
    if missing:
        raise SystemExit(f"questions whose file/needle is not in the corpus: {missing}")

    from notebooklm_local.core.errors import NotebookError
    from notebooklm_local.core.library import SourceStatus

    C.start("bench_retrieval")
    embedder = C.load_embedder()
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    t_start = time.perf_counter()
    try:
        from notebooklm_local.core.chunking import ChunkingOptions

        defaults = ChunkingOptions()
        chunking = ChunkingOptions(
            max_tokens=args.max_tokens if args.max_tokens is not None else defaults.max_tokens,
            overlap_tokens=args.overlap if args.overlap is not None else defaults.overlap_tokens)
        print(f"chunking: {chunking.max_tokens} tokens, {chunking.overlap_tokens} overlap")
        lib = open_service(workdir, embedder, chunking)
        try:
            ready = [s for s in lib.sources("B") if s.status == SourceStatus.READY]
        except NotebookError:
            lib.create_notebook("B")
            ready = []
        ingest_s = None
        if len(ready) != len(files):
            for s in lib.sources("B"):
                lib.remove_source(s.id)
            a = time.perf_counter()
            report = lib.add("B", [str(f) for f in files])
            ingest_s = time.perf_counter() - a
            if report.failed:
                raise SystemExit(f"ingest failed: {report.lines()}")
        n_chunks = lib.library.query("SELECT count(*) FROM chunks")[0][0]
        print(f"library: {len(files)} corpus files, {n_chunks} chunks"
              + (f", ingested in {ingest_s:.1f} s" if ingest_s is not None else " (reused)"))

        per_q: list[dict[str, Any]] = []
        lat: dict[str, list[float]] = {m: [] for m in MODES}
        for q in qa:
            needle = norm(q["needle"])
            row: dict[str, Any] = {"id": q["id"], "file": q["file"]}
            for m in MODES:
                a = time.perf_counter()
                hits = lib.search("B", q["question"], k=args.k, mode=m)
                lat[m].append((time.perf_counter() - a) * 1000)
                rank = file_rank = None
                for r, h in enumerate(hits, start=1):
                    same_file = Path(h.source.ref.get("path", "")).name == q["file"]
                    if same_file and file_rank is None:
                        file_rank = r
                    if same_file and needle in norm(h.chunk.text):
                        rank = r
                        break
                row[m] = rank
                row[f"{m}_file"] = file_rank
            per_q.append(row)
            if args.verbose:
                print(f"  {q['id']:28s} " + "  ".join(f"{m}={row[m] or '-'}" for m in MODES))

        n = len(per_q)
        summary: dict[str, Any] = {}
        rows = []
        for m in MODES:
            ranks = [r[m] for r in per_q]
            hit = sum(1 for x in ranks if x) / n
            mrr = sum(1 / x for x in ranks if x) / n
            file_hit = sum(1 for r in per_q if r[f"{m}_file"]) / n
            summary[m] = {"hit_at_k": hit, "mrr": mrr, "file_hit_at_k": file_hit,
                          "search_ms_p50": C.pct(lat[m], 50), "search_ms_p95": C.pct(lat[m], 95)}
            rows.append([m, f"{hit:.3f}", f"{mrr:.3f}", f"{file_hit:.3f}", C.pct(lat[m], 50)])
        print(f"\n{n} questions, k={args.k}")
        print(C.table(rows, ["mode", f"hit@{args.k}", "MRR", f"right file@{args.k}", "search p50 ms"]))

        def rr(x: int | None) -> float:
            return 1 / x if x else 0.0

        diffs = {}
        for other in ("dense", "lexical"):
            better = sum(1 for r in per_q if rr(r["hybrid"]) > rr(r[other]))
            worse = sum(1 for r in per_q if rr(r["hybrid"]) < rr(r[other]))
            diffs[f"hybrid_vs_{other}"] = {
                "hit_at_k_diff": summary["hybrid"]["hit_at_k"] - summary[other]["hit_at_k"],
                "mrr_diff": summary["hybrid"]["mrr"] - summary[other]["mrr"],
                "questions_better": better, "questions_worse": worse,
            }
            d = diffs[f"hybrid_vs_{other}"]
            print(f"hybrid vs {other}: hit@{args.k} {d['hit_at_k_diff']:+.3f}, MRR {d['mrr_diff']:+.3f} "
                  f"(hybrid ranks the answer higher on {better}, lower on {worse} of {n} questions)")
        misses = {m: [r["id"] for r in per_q if not r[m]] for m in MODES}
        for m in MODES:
            print(f"missed by {m}: {', '.join(misses[m]) or 'none'}")
        print(f"\ntotal benchmark wall time {time.perf_counter() - t_start:.0f} s")
        C.write_results("bench_retrieval", {
            "args": vars(args), "n_questions": n, "n_chunks": n_chunks, "ingest_s": ingest_s,
            "summary": summary, "differences": diffs, "misses": misses, "per_question": per_q})
        lib.library.close()
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
