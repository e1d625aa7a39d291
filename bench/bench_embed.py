"""Embedding throughput: our LlamaCppEmbedder vs raw single-context llama-cpp-python on the same texts.

Texts: the chunks our chunker makes from the sample corpus (an evenly spaced subset by default).
Ours:      LlamaCppEmbedder(path) with the application's defaults (on the CPU: one llama.cpp context
           per core, 1 thread each, flash attention auto), all texts through embed_stream() as
           ingestion sends them (the next texts decode while earlier vectors are handed out).
Raw-plain: llama_cpp.Llama(path, embedding=True, pooling_type=MEAN, verbose=False) with
           llama-cpp-python's defaults (n_ctx 512, n_threads_batch = all cores, no flash attention),
           .embed(text, normalize=True) one text per call: a single plain context, the baseline of
           the ratio (ours / raw-plain tokens/s).
Ours-1ctx: LlamaCppEmbedder(contexts=1, flash_attn=False): our plain single-context path (the peer of
           bench_ingest.py); ours-1ctx / raw-plain is the wrapper's own overhead.
Both models are loaded and warmed before timing; each repeat runs every implementation, alternating
the order; medians are reported.

Informative variants (on by default; --no-variants skips them) split the gain:
  ours-batch16       ours, embed() in batches of EMBED_BATCH (every batch waits for its slowest text)
  ours-nofa          ours without flash attention (contexts only)
  ours-1ctx-fa       one context with all threads, flash attention on
  raw-packed2048     Llama(n_ctx=2048, n_batch=2048, n_ubatch=2048).embed(texts): llama-cpp-python's
                     packed batches, as LangChain's LlamaCppEmbeddings calls it
--q8 also quantizes the model to Q8_0 (llama_model_quantize, into a temporary file) and times ours
on it (ours-q8); retrieval quality of that file: NOTEBOOKLM_BENCH_MODEL=<file> bench_retrieval.py.

    .venv/bin/python bench/bench_embed.py                  # 96 texts, 3 repeats
    .venv/bin/python bench/bench_embed.py --texts 0        # every chunk of the corpus (~700 texts)
    .venv/bin/python bench/bench_embed.py --q8 --keep-q8 /tmp/minilm-q8_0.gguf
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C


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


def raw_llama(n_ctx: int | None = None) -> Any:
    import llama_cpp

    kw: dict[str, Any] = {} if n_ctx is None else {"n_ctx": n_ctx, "n_batch": n_ctx, "n_ubatch": n_ctx}
    return llama_cpp.Llama(model_path=str(C.MODEL), embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                           verbose=False, **kw)


def quantize_q8(src: Path, dst: Path) -> Path:
    """Q8_0 copy of a GGUF through llama.cpp's own quantizer (llama-cpp-python's low-level API)."""
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        raise SystemExit(f"quantizing {src} failed ({rc})")
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", type=int, default=96, help="evenly spaced chunks of the corpus (0 = all; default 96)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-variants", dest="variants", action="store_false", help="skip the informative variants")
    ap.add_argument("--q8", action="store_true", help="also time ours on a Q8_0 quantization of the model")
    ap.add_argument("--keep-q8", type=Path, default=None, help="where to write the Q8_0 file (default: a temp file)")
    args = ap.parse_args()
    C.require_model()
    from notebooklm_local.services.library_service import EMBED_BATCH
    C.start("bench_embed")
    all_chunks = corpus_chunks()
    texts = spaced(all_chunks, args.texts)
    ours = C.load_embedder()  # the application's defaults
    plain = C.load_embedder(contexts=1, flash_attn=False)
    raw = raw_llama()
    raw.embed(["warm-up"], normalize=True)
    tokens = sum(len(raw.tokenize(t.encode("utf-8"))) for t in texts)
    print(f"{len(texts)} of {len(all_chunks)} corpus chunks, {sum(map(len, texts)):,} chars, {tokens:,} tokens "
          f"(avg {tokens / len(texts):.0f} tokens/text); ours: {ours.contexts} contexts; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    def stream(emb: Any) -> Any:
        return lambda: list(emb.embed_stream(texts))

    def batched(emb: Any) -> Any:
        def run() -> list[list[float]]:
            out: list[list[float]] = []
            for i in range(0, len(texts), EMBED_BATCH):
                out += emb.embed(texts[i : i + EMBED_BATCH])
            return out
        return run

    impls: dict[str, Any] = {"ours": stream(ours), "raw-plain": lambda: [raw.embed(t, normalize=True) for t in texts],
                             "ours-1ctx": batched(plain)}
    if args.variants:
        nofa = C.load_embedder(flash_attn=False)
        onefa = C.load_embedder(contexts=1, flash_attn=True)
        raw2048 = raw_llama(2048)
        raw2048.embed(["warm-up"], normalize=True)
        impls["ours-batch16"] = batched(ours)
        impls["ours-nofa"] = stream(nofa)
        impls["ours-1ctx-fa"] = batched(onefa)
        impls["raw-packed2048"] = lambda: raw2048.embed(texts, normalize=True)
    q8_path = None
    if args.q8:
        import tempfile

        q8_path = args.keep_q8 or Path(tempfile.mkdtemp(prefix="bench-embed-")) / "embedder-q8_0.gguf"
        quantize_q8(C.MODEL, q8_path)
        print(f"Q8_0: {q8_path} ({q8_path.stat().st_size / 1e6:.1f} MB; f16 {C.MODEL.stat().st_size / 1e6:.1f} MB)")
        q8 = C.load_embedder(path=q8_path)
        impls["ours-q8"] = stream(q8)

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

    ref = np.asarray(vectors["raw-plain"], dtype=np.float64)
    rows, results = [], {}
    base = C.median(times["raw-plain"])
    for name in names:
        med = C.median(times[name])
        v = np.asarray(vectors[name], dtype=np.float64)
        cos_min = float(np.min(np.sum(v * ref, axis=1)))
        results[name] = {"seconds_median": med, "seconds_all": times[name], "texts_per_s": len(texts) / med,
                         "tokens_per_s": tokens / med, "ratio_vs_raw_plain": base / med, "min_cosine_vs_raw": cos_min}
        rows.append([name, med, len(texts) / med, tokens / med, base / med, f"{cos_min:.5f}"])
    print()
    print(C.table(rows, ["implementation", "median s", "texts/s", "tokens/s", "x raw-plain", "min cos vs raw"]))
    ratio = results["ours"]["ratio_vs_raw_plain"]
    per_repeat = [b / a for a, b in zip(times["ours"], times["raw-plain"], strict=True)]
    print(f"ours / raw single-context llama-cpp-python (raw-plain) tokens/s = {ratio:.2f}  "
          f"(per repeat: {', '.join(f'{x:.2f}' for x in per_repeat)})")
    print(f"ours-1ctx / raw-plain = {results['ours-1ctx']['ratio_vs_raw_plain']:.2f}  (the wrapper's overhead on one "
          "plain context)")
    print(f"total benchmark wall time {time.perf_counter() - t_start:.0f} s")
    C.write_results("bench_embed", {"args": {**vars(args), "keep_q8": str(args.keep_q8)}, "embed_batch": EMBED_BATCH,
                                    "n_texts": len(texts), "n_chars": sum(map(len, texts)), "n_tokens": tokens,
                                    "results": results, "ratio_ours_over_raw_plain": ratio,
                                    "ours_contexts": ours.contexts, "embedder_n_ctx": ours.n_ctx,
                                    "q8_path": str(q8_path) if q8_path else None,
                                    "loadavg_at_end": os.getloadavg()})


if __name__ == "__main__":
    main()
