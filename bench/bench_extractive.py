"""Model-free studio outputs: seconds and counts for every output over the shared notes corpus and the sample
notebook, each ingested lexical-only (these outputs need no embeddings or model) into a temporary library.

    .venv/bin/python bench/bench_extractive.py [--repeat 3]

Prints one line per (notebook, output): median seconds (corpus analysis included, first run from a cold
cache), and what was made. Also the sentence analysis of a synthetic 100k-sentence source.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import CORPUS, REPO, start
from notebooklm_local.core.citations import Passage
from notebooklm_local.core.extractive import Corpus, SourceMaterial, extractive_summary
from notebooklm_local.core.library import Library
from notebooklm_local.core.paths import app_paths
from notebooklm_local.extensions.builtins import builtin_registry
from notebooklm_local.services.library_service import LibraryService
from notebooklm_local.services.studio.extractive import EXTRACT_KINDS, ExtractiveStudio

OPTIONS = {"summary": {"length": "medium"}, "quotes": {"count": 5}, "flashcards": {"count": 20},
           "quiz": {"count": 10}, "mindmap": {"points": 2}}


def _count(r) -> str:
    d = r.result.to_json()
    if "cards" in d:
        return f"{len(d['cards'])} cards"
    if "questions" in d:
        return f"{len(d['questions'])} questions"
    if "root" in d:
        nodes = r.result.nodes
        return (f"{len(nodes)} nodes ({sum(n.kind == 'heading' for n in nodes)} headings, "
                f"{sum(n.kind == 'cluster' for n in nodes)} clusters, {sum(n.kind == 'point' for n in nodes)} points)")
    words = sum(len(c["quote"].split()) for c in d["citations"])
    return f"{len(d['citations'])} sentences, {words} words"


def bench_notebook(name: str, files: list[Path], repeat: int) -> list[str]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = app_paths(Path(tmp)).ensure()
        lib = LibraryService(paths.data, Library(paths.data / "library.db"),
                             builtin_registry().source_loaders.items(), None)
        lib.create_notebook(name)
        t0 = time.perf_counter()
        lib.add(name, [str(f) for f in files])
        ingest = time.perf_counter() - t0
        nb = lib.notebook(name)
        n_chunks = sum(s.n_chunks for s in lib.library.sources(nb.id))
        size = sum(len(lib.library.source_text(s.id)[0]) for s in lib.library.sources(nb.id))
        print(f"\n{name}: {len(files)} sources, {size / 1000:.0f} k chars, {n_chunks} chunks "
              f"(lexical-only ingest {ingest:.1f}s)")
        cold = ExtractiveStudio(lib)
        t0 = time.perf_counter()
        _, _, corpus = cold.corpus(name)
        analysis = time.perf_counter() - t0
        print(f"  corpus analysis: {analysis:.3f}s ({corpus.n_spans} sentences found, {len(corpus.sentences)} "
              "candidates)")
        rows.append(f"| {name} | corpus analysis | {analysis:.3f} | {corpus.n_spans} sentences, "
                    f"{len(corpus.sentences)} candidates |")
        for what in EXTRACT_KINDS:
            times = []
            for _ in range(repeat):
                studio = ExtractiveStudio(lib)  # cold: the analysis is in every figure
                r = studio.make(what, name, store=False, **OPTIONS.get(what, {}))
                times.append(r.seconds)
            med = statistics.median(times)
            print(f"  {what:<10} {med:7.3f}s  {_count(r)}")
            rows.append(f"| {name} | {what} | {med:.3f} | {_count(r)} |")
        lib.library.close()
    return rows


def bench_huge(n: int) -> str:
    rng = random.Random(7)
    vocab = [f"term{i}" for i in range(3000)]
    parts = [f"Alpha Labs reported {rng.randint(2, 900)} GB of " + " ".join(rng.choice(vocab) for _ in range(10))
             + "." + ("\n\n" if i % 8 == 7 else "") for i in range(n)]
    text = " ".join(parts)
    ps, s, k = [], 0, 0
    while s < len(text):
        e = min(len(text), s + 800)
        k += 1
        ps.append(Passage(k, k, "huge", "Huge", text[s:e], s, e))
        s = e
    t0 = time.perf_counter()
    c = Corpus([SourceMaterial("huge", "Huge", text, ps)])
    t1 = time.perf_counter()
    extractive_summary(c, "long")
    t2 = time.perf_counter()
    print(f"\nsynthetic {n} sentences ({len(text) / 1e6:.1f} M chars): analysis {t1 - t0:.2f}s, "
          f"long summary {t2 - t1:.3f}s ({len(c.sentences)} candidates scored)")
    return (f"| synthetic, {n // 1000}k sentences ({len(text) / 1e6:.1f} M chars) | analysis + long summary | "
            f"{t2 - t0:.2f} | {len(c.sentences)} candidates scored |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    start("bench_extractive")
    rows = []
    corpus_files = sorted(CORPUS.glob("0*.txt")) if CORPUS.is_dir() else []
    if corpus_files:
        rows += bench_notebook("Notes corpus", corpus_files, args.repeat)
    else:
        print(f"(no shared corpus at {CORPUS}: skipped)")
    rows += bench_notebook("Sample", sorted((REPO / "resources" / "sample").iterdir()), args.repeat)
    rows.append(bench_huge(100_000))
    print("\n| notebook | output | seconds (median) | made |\n|---|---|---:|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
