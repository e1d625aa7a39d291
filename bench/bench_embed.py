"""Embedding throughput: our LlamaCppEmbedder vs raw llama-cpp-python on the same texts.

Texts: the chunks our chunker makes from the sample corpus (an evenly spaced subset by default).
Ours:  LlamaCppEmbedder(path) with the application's defaults, .embed() called in batches of the
       library's EMBED_BATCH (as ingestion calls it).
Raw:   llama_cpp.Llama(path, embedding=True, pooling_type=MEAN, n_ctx=2048, n_batch=2048,
       n_ubatch=2048, verbose=False).embed(texts, normalize=True), all texts in one call (the
       baseline of the ratio; llama-cpp-python packs texts into 2048-token batches).
Both models are loaded and warmed before timing; each repeat runs every implementation, alternating
the order; medians are reported. Ratio = ours / raw throughput (goal >= 0.9).

Informative variants (on by default, quick; --no-variants skips them) show how the llama.cpp batch
shape alone changes throughput on this CPU:
  raw-per-text       the same 2048 context, one text per embed() call
  raw-ubatch512      Llama(..., n_ctx=512, n_batch=512, n_ubatch=512), all texts in one call
Ours / raw-per-text isolates our wrapper's overhead when both decode one text at a time.

    .venv/bin/python bench/bench_embed.py                  # 96 texts, 3 repeats
    .venv/bin/python bench/bench_embed.py --texts 0        # every chunk of the corpus (~700 texts)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def corpus_chunks() -> list[str]:
    from notebooklm_local.core.chunking import chunk_document
    from notebooklm_local.core.documents import SourceRef
    from notebooklm_local.core.jobs import CancelToken
    from notebooklm_local.services.loaders.text import TextLoader

    out: list[str] = []
    for f in C.corpus_files():
        doc = TextLoader().load(SourceRef(path=f), CancelToken())
        out += [c.text for c in chunk_document(doc)]
    return out


def spaced(items: list[str], n: int) -> list[str]:
    if n <= 0 or n >= len(items):
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def raw_llama(n_ctx: int) -> Any:
    import llama_cpp

    return llama_cpp.Llama(model_path=str(C.MODEL), embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                           n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, verbose=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", type=int, default=96, help="evenly spaced chunks of the corpus (0 = all; default 96)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-variants", dest="variants", action="store_false", help="skip the informative variants")
    args = ap.parse_args()
    C.require_model()
    from notebooklm_local.services.library_service import EMBED_BATCH
    C.start("bench_embed")
    all_chunks = corpus_chunks()
    texts = spaced(all_chunks, args.texts)
    ours = C.load_embedder()  # the application's defaults
    raw = raw_llama(2048)
    raw.embed(["warm-up"], normalize=True)
    tokens = sum(len(raw.tokenize(t.encode("utf-8"))) for t in texts)
    print(f"{len(texts)} of {len(all_chunks)} corpus chunks, {sum(map(len, texts)):,} chars, {tokens:,} tokens "
          f"(avg {tokens / len(texts):.0f} tokens/text); our batch = {EMBED_BATCH} texts per embed() call")

    def run_ours(emb: Any = ours) -> list[list[float]]:
        out: list[list[float]] = []
        for i in range(0, len(texts), EMBED_BATCH):
            out += emb.embed(texts[i : i + EMBED_BATCH])
        return out

    def run_raw() -> list[list[float]]:
        return raw.embed(texts, normalize=True)

    impls: dict[str, Any] = {"ours": run_ours, "raw": run_raw}
    if args.variants:
        raw512 = raw_llama(512)
        raw512.embed(["warm-up"], normalize=True)
        impls["raw-per-text"] = lambda: [raw.embed(t, normalize=True) for t in texts]
        impls["raw-ubatch512"] = lambda: raw512.embed(texts, normalize=True)

    times: dict[str, list[float]] = {k: [] for k in impls}
    vectors: dict[str, Any] = {}
    t_start = time.perf_counter()
    names = list(impls)
    for r in range(args.repeats):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            t0 = time.perf_counter()
            vectors[name] = impls[name]()
            dt = time.perf_counter() - t0
            times[name].append(dt)
            print(f"  repeat {r + 1}: {name:14s} {dt:7.2f} s  {tokens / dt:8.0f} tokens/s", flush=True)

    import numpy as np

    ref = np.asarray(vectors["raw"], dtype=np.float64)
    rows, results = [], {}
    base = C.median(times["raw"])
    for name in names:
        med = C.median(times[name])
        v = np.asarray(vectors[name], dtype=np.float64)
        cos_min = float(np.min(np.sum(v * ref, axis=1)))
        results[name] = {"seconds_median": med, "seconds_all": times[name], "texts_per_s": len(texts) / med,
                         "tokens_per_s": tokens / med, "ratio_vs_raw": base / med, "min_cosine_vs_raw": cos_min}
        rows.append([name, med, len(texts) / med, tokens / med, base / med, f"{cos_min:.5f}"])
    print()
    print(C.table(rows, ["implementation", "median s", "texts/s", "tokens/s", "x raw", "min cos vs raw"]))
    ratio = results["ours"]["ratio_vs_raw"]
    print(f"ours / raw throughput = {ratio:.3f}  (goal >= 0.9)")
    if "raw-per-text" in results:
        per_text = results["ours"]["tokens_per_s"] / results["raw-per-text"]["tokens_per_s"]
        print(f"ours / raw-per-text throughput = {per_text:.3f}  (our wrapper's overhead at equal batch shape)")
    print(f"total benchmark wall time {time.perf_counter() - t_start:.0f} s")
    C.write_results("bench_embed", {"args": vars(args), "embed_batch": EMBED_BATCH, "n_texts": len(texts),
                                    "n_chars": sum(map(len, texts)), "n_tokens": tokens, "results": results,
                                    "ratio_ours_over_raw": ratio,
                                    "embedder_n_ctx": ours.n_ctx})


if __name__ == "__main__":
    main()
