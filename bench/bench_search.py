"""Search latency of LibraryService.search at 10k and 100k chunks (hybrid, dense, lexical).

Embedding 100k chunks with a real model is too slow here, so the index is built synthetically:
chunk rows go straight into the library (add_source + store_extraction + replace_chunks, status
ready) with texts made of corpus sentences, and Chroma gets seeded random unit vectors (dim 384)
through ChromaIndex.add, then mark_embedded. Queries (200 corpus-derived phrases per mode) use a
fake embedder whose embed() returns a random unit vector, so search timings EXCLUDE query
embedding; the real MiniLM query-embedding time is measured separately and added per query for
the end-to-end hybrid figure.

Baseline for ratios: the dense-only Chroma query (chroma_raw: collection.query, 40 nearest, no
filter) on the same collection. Also timed, on --diag-queries queries: hybrid_half_sources and
hybrid_tenth_sources (search with half / a tenth of the sources selected), chroma_half_sources (the
Chroma query with the metadata filter for half the sources, ChromaIndex.query(source_ids=...)) and
fts_only (Library.lexical_search over the notebook). Goal: hybrid p95 <= 50 ms (end to end, with
the real query embedding), with all sources and with half selected.

All notebooks (--notebooks N, N > 1): the same chunks and sources split round-robin over N notebooks
(each its own Chroma collection, as the app keeps them); the single-notebook rows then search notebook
"B" (1/N of the chunks) and all_hybrid / all_dense / all_lexical search every notebook
(LibraryService.search(None, ...)): compare all_hybrid with the hybrid row of a one-notebook run of the
same size (same speed goal per chunk).

    .venv/bin/python bench/bench_search.py                     # 10k and 100k chunks
    .venv/bin/python bench/bench_search.py --sizes 10000       # quicker
    .venv/bin/python bench/bench_search.py --workdir /tmp/bs   # keep the built indexes, reuse them next run
    .venv/bin/python bench/bench_search.py --notebooks 5       # the same chunks in 5 notebooks: the all-notebooks rows
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

DIM = 384
MODES = ("hybrid", "dense", "lexical")


class FakeEmbedder:
    """Random unit vectors; model_id matches the synthetic collection."""

    model_id = "bench:random-unit-384"
    path = None

    def __init__(self, seed: int) -> None:
        import numpy as np

        self.rng = np.random.default_rng(seed)

    def vectors(self, n: int) -> Any:
        import numpy as np

        v = self.rng.standard_normal((n, DIM)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def embed(self, texts: Any) -> list[list[float]]:
        return self.vectors(len(texts)).tolist()


def corpus_sentences() -> list[str]:
    out: list[str] = []
    for f in C.corpus_files():
        text = f.read_text(encoding="utf-8")
        for para in re.split(r"\n\s*\n", text):
            flat = " ".join(para.split())
            out += [s for s in re.split(r"(?<=[.!?])\s+", flat) if len(s) >= 20]
    return out


def make_queries(sentences: list[str], n: int, rng: random.Random) -> list[str]:
    qs: list[str] = []
    while len(qs) < n:
        words = re.findall(r"[A-Za-z][A-Za-z0-9'-]+", rng.choice(sentences))
        if len(words) < 5:
            continue
        k = rng.randint(3, min(8, len(words)))
        i = rng.randint(0, len(words) - k)
        qs.append(" ".join(words[i : i + k]))
    return qs


def open_service(workdir: Path, seed: int) -> tuple[Any, FakeEmbedder]:
    from notebooklm_local.core.library import Library
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.extensions.builtins import builtin_registry
    from notebooklm_local.services.index import ChromaIndex
    from notebooklm_local.services.library_service import LibraryService

    fake = FakeEmbedder(seed)
    paths = app_paths(workdir).ensure()
    index = ChromaIndex.persistent(paths.index / "chroma", fake)
    library = Library(paths.data / "library.db")
    return LibraryService(paths.data, library, builtin_registry().source_loaders.items(), index), fake


def build(workdir: Path, n_chunks: int, n_sources: int, sentences: list[str], seed: int,
          notebooks: int = 1) -> tuple[Any, dict[str, float]]:
    from notebooklm_local.core.chunking import Chunk, estimate_tokens
    from notebooklm_local.core.library import SourceStatus

    rng = random.Random(seed)
    lib, fake = open_service(workdir, seed)
    library, index = lib.library, lib.index
    nbs = [lib.create_notebook("B" if i == 0 else f"B{i + 1}") for i in range(notebooks)]
    nb = nbs[0]
    t: dict[str, float] = {"sqlite_s": 0.0, "chroma_s": 0.0, "mark_s": 0.0}
    per_source = [n_chunks // n_sources + (1 if i < n_chunks % n_sources else 0) for i in range(n_sources)]
    done = 0
    for si, count in enumerate(per_source):
        a = time.perf_counter()
        home = nbs[si % notebooks]  # round-robin: every notebook gets its share of sources and chunks
        src = library.add_source(home.id, {"path": f"/synthetic/source-{si}.txt"}, title=f"Synthetic source {si}")
        chunks, pos, parts = [], 0, []
        for o in range(count):
            target = rng.randint(300, 800)
            j = rng.randrange(len(sentences))
            words: list[str] = []
            while sum(len(w) + 1 for w in words) < target:
                words.append(sentences[j % len(sentences)])
                j += 1
            text = " ".join(words)
            chunks.append(Chunk(o, text, pos, pos + len(text), None, None, (), None, None, estimate_tokens(text)))
            parts.append(text)
            pos += len(text) + 2
        full = "\n\n".join(parts)
        library.store_extraction(src.id, kind="text", title=src.title, sha256=f"synthetic-{seed}-{si}", blob=None,
                                 text=full, blocks=[], flags=[], meta={})
        library.replace_chunks(src.id, chunks)
        ids = [r[0] for r in library.query("SELECT id FROM chunks WHERE source_id = ? ORDER BY ordinal", (src.id,))]
        t["sqlite_s"] += time.perf_counter() - a
        a = time.perf_counter()
        for i in range(0, len(ids), 5000):
            part = ids[i : i + 5000]
            index.add(home.id, [(cid, src.id, {"ordinal": o}) for o, cid in enumerate(part, start=i)],
                      fake.vectors(len(part)).tolist())
        t["chroma_s"] += time.perf_counter() - a
        a = time.perf_counter()
        library.mark_embedded(ids, index.model_id)
        library.update_source(src.id, status=SourceStatus.READY)
        t["mark_s"] += time.perf_counter() - a
        done += count
    assert sum(index.collection(x.id).count() for x in nbs) == n_chunks, "vector count mismatch"
    return (lib, nb, fake), t


def real_query_embed_ms(queries: list[str]) -> list[float] | None:
    if not C.MODEL.is_file():
        return None
    emb = C.load_embedder()
    out = []
    for q in queries:
        a = time.perf_counter()
        emb.embed([q])
        out.append((time.perf_counter() - a) * 1000)
    emb.close()
    return out


DIAGNOSTICS = ("hybrid_half_sources", "hybrid_tenth_sources", "chroma_half_sources", "fts_only")  # timed on --diag-queries queries
ALL_MODES = tuple(f"all_{m}" for m in MODES)  # LibraryService.search(None, ...): every notebook


def measure(lib: Any, nb: Any, fake: FakeEmbedder, queries: list[str], warmup: int,
            diag_queries: int) -> dict[str, list[float]]:
    col = lib.index.collection(nb.id)
    sources = [s.id for s in lib.sources("B")]
    half = sources[: max(1, len(sources) // 2)]
    tenth = sources[: max(1, len(sources) // 10)]

    def chroma_raw(q: str) -> None:
        col.query(query_embeddings=fake.vectors(1).tolist(), n_results=40, include=["distances"])

    def chroma_half(q: str) -> None:  # the dense query when the user narrowed the selection to half the sources
        lib.index.query(nb.id, fake.vectors(1)[0].tolist(), 40, half)

    def fts(q: str) -> None:  # the BM25 query of search() over the whole notebook
        lib.library.lexical_search(nb.id, q, limit=40)

    fns: dict[str, Any] = {m: (lambda q, m=m: lib.search("B", q, k=8, mode=m)) for m in MODES}
    fns["chroma_raw"] = chroma_raw
    fns["hybrid_half_sources"] = lambda q: lib.search("B", q, k=8, mode="hybrid", source_ids=half)
    fns["hybrid_tenth_sources"] = lambda q: lib.search("B", q, k=8, mode="hybrid", source_ids=tenth)
    fns["chroma_half_sources"] = chroma_half
    fns["fts_only"] = fts
    if len(lib.library.notebooks()) > 1:
        for m in MODES:
            fns[f"all_{m}"] = lambda q, m=m: lib.search(None, q, k=8, mode=m)
    names = list(fns)
    for q in queries[:warmup]:
        for n in names:
            fns[n](q)
    ms: dict[str, list[float]] = {n: [] for n in names}
    for i, q in enumerate(queries):  # interleave implementations (noise hits all alike); rotate the order
        for n in names[i % len(names):] + names[: i % len(names)]:
            if n in DIAGNOSTICS and i >= diag_queries:
                continue
            a = time.perf_counter()
            fns[n](q)
            ms[n].append((time.perf_counter() - a) * 1000)
    return ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="comma list of chunk counts (default 10000,100000)")
    ap.add_argument("--sources", type=int, default=50, help="sources in the library (default 50)")
    ap.add_argument("--notebooks", type=int, default=1,
                    help="split the sources round-robin over this many notebooks; > 1 adds the all-notebooks rows")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--diag-queries", type=int, default=50,
                    help="queries for the component timings chroma_filtered / fts_only (default 50)")
    ap.add_argument("--workdir", default=None,
                    help="keep the built indexes under this folder and reuse them on later runs with the same "
                         "size, sources and seed (default: a temporary folder, removed)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    C.corpus_files()
    C.start("bench_search")
    sentences = corpus_sentences()
    queries = make_queries(sentences, args.queries, random.Random(args.seed))
    t_start = time.perf_counter()

    embed_ms = real_query_embed_ms(queries)
    if embed_ms is None:
        print(f"NOTE: {C.MODEL} not found: real query-embedding time not measured (search figures still are).")
    else:
        print(f"real MiniLM query embedding: p50 {C.pct(embed_ms, 50):.1f} ms, p95 {C.pct(embed_ms, 95):.1f} ms")

    results: list[dict[str, Any]] = []
    for size in sizes:
        n_src = min(args.sources, size)
        keep = args.workdir is not None
        layout = f"{size}-{n_src}-{args.seed}" + (f"-nb{args.notebooks}" if args.notebooks > 1 else "")
        base = (Path(args.workdir) / layout) if keep else Path(
            tempfile.mkdtemp(prefix=f"bench-search-{size}-"))
        marker = base / "built.json"
        try:
            a = time.perf_counter()
            if keep and marker.is_file():  # reuse an index built by an earlier run with the same options
                lib, fake = open_service(base, args.seed)
                nb = lib.library.notebook("B")
                saved = json.loads(marker.read_text())
                bt, build_s = saved["build_breakdown_s"], saved["build_s"]
                print(f"reusing the index in {base} (opened in {time.perf_counter() - a:.1f} s)")
            else:
                if keep:
                    shutil.rmtree(base, ignore_errors=True)
                (lib, nb, fake), bt = build(base, size, n_src, sentences, args.seed, args.notebooks)
                build_s = time.perf_counter() - a
                if keep:
                    marker.write_text(json.dumps({"build_s": build_s, "build_breakdown_s": bt}))
            db_mb = (base / "data" / "library.db").stat().st_size / 1e6 if (base / "data" / "library.db").exists() else None
            print(f"\n== {size:,} chunks in {min(args.sources, size)} sources, {args.notebooks} notebook(s): "
                  f"built in {build_s:.1f} s "
                  f"(sqlite+fts {bt['sqlite_s']:.1f} s, chroma {bt['chroma_s']:.1f} s, mark {bt['mark_s']:.1f} s)")
            ms = measure(lib, nb, fake, queries, warmup=10, diag_queries=args.diag_queries)
            base_p50, base_p95 = C.pct(ms["chroma_raw"], 50), C.pct(ms["chroma_raw"], 95)
            rows, entry = [], {"chunks": size, "sources": min(args.sources, size), "notebooks": args.notebooks,
                               "build_s": build_s,
                               "build_breakdown_s": bt, "library_db_mb": db_mb, "latency_ms": {}}
            for name, vals in ms.items():
                p50, p95 = C.pct(vals, 50), C.pct(vals, 95)
                entry["latency_ms"][name] = {"p50": p50, "p95": p95, "mean": sum(vals) / len(vals), "n": len(vals)}
                rows.append([name, p50, p95, p50 / base_p50, p95 / base_p95])
            if embed_ms is not None:
                e2e = [s + e for s, e in zip(ms["hybrid"], embed_ms, strict=True)]
                p50, p95 = C.pct(e2e, 50), C.pct(e2e, 95)
                entry["latency_ms"]["hybrid+real_query_embed"] = {"p50": p50, "p95": p95, "n": len(e2e)}
                rows.append(["hybrid + real embed", p50, p95, p50 / base_p50, p95 / base_p95])
                if "all_hybrid" in ms:
                    e2e = [s + e for s, e in zip(ms["all_hybrid"], embed_ms, strict=True)]
                    p50, p95 = C.pct(e2e, 50), C.pct(e2e, 95)
                    entry["latency_ms"]["all_hybrid+real_query_embed"] = {"p50": p50, "p95": p95, "n": len(e2e)}
                    rows.append(["all_hybrid + real embed", p50, p95, p50 / base_p50, p95 / base_p95])
            print(C.table(rows, ["", "p50 ms", "p95 ms", "p50 / chroma_raw", "p95 / chroma_raw"]))
            h = entry["latency_ms"]
            entry["ratio_hybrid_over_dense_chroma_p50"] = h["hybrid"]["p50"] / base_p50
            entry["ratio_hybrid_over_dense_chroma_p95"] = h["hybrid"]["p95"] / base_p95
            if "all_hybrid" in h:
                print(f"all {args.notebooks} notebooks ({size:,} chunks): hybrid p95 "
                      f"{h.get('all_hybrid+real_query_embed', h['all_hybrid'])['p95']:.1f} ms "
                      f"{'with' if embed_ms else 'WITHOUT'} real query embedding; one notebook "
                      f"({size // args.notebooks:,} chunks) {h['hybrid']['p95']:.1f} ms without")
            goal = h.get("hybrid+real_query_embed", h["hybrid"])["p95"]
            print(f"hybrid / dense-Chroma p95 = {entry['ratio_hybrid_over_dense_chroma_p95']:.2f}x; "
                  f"hybrid p95 {'with' if embed_ms else 'WITHOUT'} real query embedding = {goal:.1f} ms "
                  f"(goal <= 50 ms: {'met' if goal <= 50 else 'NOT met'})")
            results.append(entry)
            lib.library.close()
        finally:
            try:
                from chromadb.api.client import SharedSystemClient

                SharedSystemClient.clear_system_cache()
            except Exception:  # noqa: BLE001
                pass
            if not keep:
                shutil.rmtree(base, ignore_errors=True)
    print(f"\ntotal benchmark wall time {time.perf_counter() - t_start:.0f} s")
    C.write_results("bench_search" if args.notebooks == 1 else f"bench_search_nb{args.notebooks}", {
        "args": vars(args), "dim": DIM, "queries_sample": queries[:5],
        "real_query_embed_ms": None if embed_ms is None else {"p50": C.pct(embed_ms, 50), "p95": C.pct(embed_ms, 95)},
        "results": results})


if __name__ == "__main__":
    main()
