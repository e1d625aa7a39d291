"""Notebook bundles: export and import time, model time (re-embedding) vs our overhead.

A notebook of the sample sources (PDF, Markdown, text, WebVTT) plus the shared corpus's text files, with
model-free studio outputs (summary, quotes, mind map) and a note, is ingested keyword-only (the export
ships no vectors, so the exporting side needs none), exported, then imported into a fresh data dir:

* with the built-in embedder (MiniLM-L6-v2 GGUF, converted once; load and warm-up excluded): total import
  time, of which the embedder's own time (model time) and the rest (our overhead: checks, checksums,
  staging, the transaction, Chroma writes);
* keyword-only (no embedder): the import without any model time.

    .venv/bin/python bench/bench_bundle.py                # the sample + the shared corpus
    .venv/bin/python bench/bench_bundle.py --no-corpus    # the sample notebook only
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as C


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-corpus", action="store_true", help="the sample notebook only")
    args = ap.parse_args()
    C.start("bench_bundle")
    from notebooklm_local.core.library import Library
    from notebooklm_local.core.paths import AppPaths
    from notebooklm_local.extensions.builtins import builtin_registry
    from notebooklm_local.services.bundle import export_notebook, import_bundle
    from notebooklm_local.services.index import ChromaIndex
    from notebooklm_local.services.library_service import LibraryService
    from notebooklm_local.services.llama_runtime import LlamaCppEmbedder
    from notebooklm_local.services.models import ensure_default_embedder
    from notebooklm_local.services.studio.extractive import ExtractiveStudio

    base = Path(tempfile.mkdtemp(prefix="bench-bundle-"))
    try:
        def paths(name: str) -> AppPaths:
            return AppPaths(base / name / "config", base / name / "data", base / name / "cache", base / name / "logs").ensure()

        def service(p: AppPaths, embedder: Any) -> LibraryService:
            index = ChromaIndex.persistent(p.index / "chroma", embedder) if embedder is not None else None
            return LibraryService(p.data, Library(p.data / "library.db"), builtin_registry().source_loaders.items(), index)

        model = ensure_default_embedder(paths("models"))
        inner = LlamaCppEmbedder(model)
        inner.load()
        inner.embed(["warm-up sentence"] * 4)
        emb = C.TimedEmbedder(inner)

        src = service(paths("src"), None)
        src.create_notebook("Bench")
        inputs = sorted((C.REPO / "resources" / "sample").iterdir())
        if not args.no_corpus:
            inputs += sorted(C.CORPUS.glob("*.txt"))
        t0 = time.perf_counter()
        rep = src.add("Bench", [str(p) for p in inputs])
        ingest_s = time.perf_counter() - t0
        studio = ExtractiveStudio(src)
        studio.summary("Bench", length="short")
        studio.quotes("Bench", count=3)
        mm = studio.mindmap("Bench")
        assert mm.output is not None
        studio.save_note(mm.output.id)
        chunks = sum(s.n_chunks for s in src.sources("Bench"))
        print(f"notebook: {len(rep.added)} sources, {chunks} chunks (keyword-only ingest {ingest_s:.1f} s)")

        out = base / "bench.zip"
        t0 = time.perf_counter()
        ex = export_notebook(src.library, src.data_dir, "Bench", out)
        export_s = time.perf_counter() - t0

        rows = []
        results: dict[str, Any] = {"sources": len(rep.added), "chunks": chunks, "bundle_bytes": ex.size,
                                   "export_s": export_s}
        for label, embedder in (("keyword-only", None), ("MiniLM", emb)):
            emb.reset()
            dst = service(paths(f"dst-{label}"), embedder)
            t0 = time.perf_counter()
            im = import_bundle(dst, out)
            total = time.perf_counter() - t0
            model_s = emb.seconds if embedder is not None else 0.0
            assert len(im.sources) == len(rep.added)
            results[f"import_{label}"] = {"total_s": total, "model_s": model_s, "overhead_s": total - model_s,
                                          "texts_embedded": emb.texts if embedder is not None else 0}
            rows.append((f"import ({label})", total, model_s, total - model_s,
                         1000 * (total - model_s) / max(1, chunks)))
            dst.library.close()
        rows.insert(0, ("export", export_s, 0.0, export_s, 1000 * export_s / max(1, chunks)))
        print(f"bundle: {ex.size / 1e6:.2f} MB")
        print(C.table([(r[0], f"{r[1]:.2f}", f"{r[2]:.2f}", f"{r[3]:.2f}", f"{r[4]:.2f}") for r in rows],
                      ["step", "total s", "model s", "overhead s", "overhead ms/chunk"]))
        C.write_results("bench_bundle", results)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
