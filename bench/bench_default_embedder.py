"""Out-of-box ingest and retrieval: the new default embedder (all-MiniLM-L6-v2, converted by `init`) vs the
old one (Gemma 3 270M base in mean-pooling mode), measured in one run.

Each (embedder, input) ingest runs in a child process of its own (fresh data dir, the app's own
`open_library` path with default settings except the embedder), so peak RSS is that process's own
(`ru_maxrss`). Inputs: (a) the generated PDF of `bench_ingest.py` (`--pages`, default 100) and (b) the
corpus folder (5 .txt files). Then retrieval quality on the corpus library each embedder built: hit@5
and MRR (hybrid and dense-only) over `data/retrieval_qa.json` (+ the answerable questions of
`data/quotes_qa.json` when present).

    .venv/bin/python bench/bench_default_embedder.py            # ~15 min: the old default is slow
    .venv/bin/python bench/bench_default_embedder.py --quick    # 20 pages + the 3 small corpus files
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

DATA = Path(__file__).resolve().parent / "data"
EMBEDDERS = ("minilm", "gemma")
LABEL = {"minilm": "new default: all-MiniLM-L6-v2 (f16 GGUF, 384-d)", "gemma": "old default: Gemma 3 270M base (640-d)"}


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def questions() -> list[dict[str, Any]]:
    qs = json.loads((DATA / "retrieval_qa.json").read_text(encoding="utf-8"))["questions"]
    extra = DATA / "quotes_qa.json"
    if extra.is_file():
        seen = {q["question"] for q in qs}
        for q in json.loads(extra.read_text(encoding="utf-8")).get("questions", []):
            if q.get("file") and q.get("needle") and q["question"] not in seen:
                qs.append(q)
    return qs


# -- child: one ingest (+ retrieval) in a process of its own ----------------------------------------------

def child(args: argparse.Namespace) -> None:
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.services.models import ensure_default_embedder, ensure_default_model
    from notebooklm_local.workspace import open_library

    paths = app_paths(Path(args.workdir)).ensure()
    settings = Settings()
    model = ensure_default_embedder(paths) if args.embedder == "minilm" else ensure_default_model(paths)
    settings.model.embedding_path = str(model)
    lib = open_library(paths, settings)
    t0 = time.perf_counter()
    lib.index.embedder.load()
    load_s = time.perf_counter() - t0
    lib.create_notebook("B")
    inputs = args.inputs.split(os.pathsep)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    report = lib.add("B", inputs)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    if report.failed:
        raise SystemExit(f"ingest failed: {report.lines()}")
    n_chunks = lib.library.query("SELECT count(*) FROM chunks")[0][0]
    out: dict[str, Any] = {"embedder": args.embedder, "model": str(model), "load_s": load_s, "ingest_s": wall,
                           "cpu_s": cpu, "chunks": n_chunks}
    if args.retrieval:
        per: dict[str, list[int | None]] = {"hybrid": [], "dense": []}
        for q in questions():
            needle = norm(q["needle"])
            for mode in per:
                rank = None
                for r, h in enumerate(lib.search("B", q["question"], k=5, mode=mode), start=1):
                    if Path(h.source.ref.get("path", "")).name == q["file"] and needle in norm(h.chunk.text):
                        rank = r
                        break
                per[mode].append(rank)
        out["retrieval"] = {m: {"hit_at_5": sum(1 for x in v if x) / len(v), "mrr": sum(1 / x for x in v if x) / len(v),
                                "n": len(v)} for m, v in per.items()}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lib.library.close()
    print("RESULT " + json.dumps(out))


def run_child(embedder: str, inputs: list[Path], retrieval: bool) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-defemb-{embedder}-"))
    try:
        cmd = [sys.executable, __file__, "--child", "--embedder", embedder, "--workdir", str(workdir),
               "--inputs", os.pathsep.join(map(str, inputs))] + (["--retrieval"] if retrieval else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if proc.returncode != 0 or line is None:
            raise SystemExit(f"{embedder} child failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        return json.loads(line[len("RESULT "):])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="20 pages and the three small corpus files")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--embedder", choices=EMBEDDERS, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--inputs", help=argparse.SUPPRESS)
    ap.add_argument("--retrieval", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    files = C.corpus_files()
    C.start("bench_default_embedder")
    import bench_ingest

    tmp = Path(tempfile.mkdtemp(prefix="bench-defemb-in-"))
    try:
        pages = 20 if args.quick else args.pages
        pdf = tmp / f"generated-{pages}-pages.pdf"
        chars = bench_ingest.make_pdf(pdf, pages)
        txt = sorted(files, key=lambda p: p.stat().st_size)[:3] if args.quick else files
        print(f"inputs: {pages}-page PDF ({chars:,} chars); {len(txt)} corpus files "
              f"({sum(p.stat().st_size for p in txt):,} bytes)")
        res: dict[str, dict[str, Any]] = {}
        for name, inputs, retrieval in (("pdf", [pdf], False), ("corpus", txt, not args.quick)):
            for emb in EMBEDDERS:  # same order each time; each run is a fresh process and data dir
                r = run_child(emb, inputs, retrieval)
                res[f"{emb}/{name}"] = r
                print(f"  {name:6s} {emb:6s}: {r['ingest_s']:7.1f} s, {r['chunks']} chunks, "
                      f"{r['chunks'] / r['ingest_s']:.1f} chunks/s, CPU {r['cpu_s']:.1f} s, "
                      f"peak RSS {r['peak_rss_mb']:.0f} MB (model load {r['load_s']:.2f} s)")
        rows = []
        for name in ("pdf", "corpus"):
            new, old = res[f"minilm/{name}"], res[f"gemma/{name}"]
            rows.append([name, f"{new['ingest_s']:.1f}", f"{old['ingest_s']:.1f}",
                         f"{old['ingest_s'] / new['ingest_s']:.1f}x", f"{old['cpu_s'] / max(new['cpu_s'], 1e-9):.1f}x",
                         f"{new['peak_rss_mb']:.0f} / {old['peak_rss_mb']:.0f}"])
        print()
        print(C.table(rows, ["input", "new s", "old s", "speed-up (wall)", "speed-up (CPU)", "peak RSS MB new / old"]))
        if "retrieval" in res["minilm/corpus"]:
            print()
            rrows = []
            for emb in EMBEDDERS:
                rt = res[f"{emb}/corpus"]["retrieval"]
                for mode in ("hybrid", "dense"):
                    rrows.append([LABEL[emb], mode, f"{rt[mode]['hit_at_5']:.3f}", f"{rt[mode]['mrr']:.3f}", rt[mode]["n"]])
            print(C.table(rrows, ["embedder", "mode", "hit@5", "MRR", "questions"]))
        C.write_results("bench_default_embedder", {"args": vars(args), "results": res})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
