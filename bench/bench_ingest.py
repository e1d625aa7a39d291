"""Ingest throughput: our pipeline vs a peer pipeline built the common (LangChain-style) way.

Ours:  LibraryService.add -> PdfLoader/TextLoader (paragraph rebuild, blobs, SQLite + FTS5),
       structure-aware chunker (200 tokens ~ 800 chars, 30-token overlap), LlamaCppEmbedder with the
       application's defaults (on the CPU: one llama.cpp context per core, 1 thread each, flash
       attention auto) streaming vectors while the previous batch of EMBED_BATCH is stored
       (ChromaIndex upserts, resumable state persisted at every step).
Peer:  pypdf page loader (one document per page, page.extract_text()) or plain file read,
       a recursive character splitter in the LangChain style (1000 chars, 200 overlap),
       vector-only Chroma (PersistentClient, documents + metadatas + explicit embeddings), and the
       SAME MODEL FILE embedded the common way: ONE plain llama.cpp context with llama-cpp-python's
       defaults (LlamaCppEmbedder(contexts=1, flash_attn=False): a single Llama(embedding=True,
       pooling MEAN, n_ctx 512), n_threads_batch = all cores, no flash attention), one text per
       decode, in batches of 32 (--peer-embedder single, the default).

Both use the same machine, warm embedders (model load excluded), fresh directories per run. Inputs: (a) a PDF of --pages pages (~2,000 characters each) rendered from the sample corpus;
(b) the corpus folder of .txt files. Ratio = peer_time / our_time (> 1 means
ours is faster). Defaults: the 200-page PDF and the whole corpus folder, 1 run of each pipeline
(about 2.5 minutes on the shared 2-core machine; --repeats 2 takes 5); --quick: 30 pages and 80k
characters of .txt.

--peer-embedder shared gives the peer our embedder instance (its contexts too): the ratio is then
the pipeline alone (fewer tokens, overlap of storing and embedding). --peer-embedder raw gives the
peer what a LangChain LlamaCppEmbeddings user gets: llama_cpp.Llama(n_ctx=2048, n_batch=2048,
n_ubatch=2048).embed(batch of 32) (packed batches, slower still).

    .venv/bin/python bench/bench_ingest.py                 # 200-page PDF + corpus folder
    .venv/bin/python bench/bench_ingest.py --quick --repeats 3
    .venv/bin/python bench/bench_ingest.py --inputs pdf --pages 100 --peer-embedder raw
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

PAGE_CHARS = 2000
PEER_BATCH = 32
# core PDF fonts are latin-1: keep common typography readable instead of "?"
_LATIN1_FRIENDLY = str.maketrans({"\u2022": "-", "\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'",
                                  "\u201c": '"', "\u201d": '"', "\u2026": "...", "\u2192": "->"})


# --------------------------------------------------------------------------------------------------
# input generation
# --------------------------------------------------------------------------------------------------
def corpus_text() -> str:
    return "\n\n".join(p.read_text(encoding="utf-8") for p in C.corpus_files())


def make_pdf(path: Path, pages: int) -> int:
    """Render the corpus (cycled if needed) into `pages` pages of ~PAGE_CHARS characters each."""
    from fpdf import FPDF

    lines = [ln.rstrip() for ln in corpus_text().split("\n")]
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(15, 15, 15)
    pdf.set_font("Helvetica", size=10)
    i, total_chars, pending = 0, 0, ""
    for _ in range(pages):
        page: list[str] = []
        chars, rendered = 0, 0
        while chars < PAGE_CHARS - 40 and rendered < 50:
            if pending:
                line, pending = pending, ""
            else:
                line = lines[i % len(lines)]
                i += 1
            room = PAGE_CHARS - chars
            if len(line) > room:  # cut at a space; the rest opens the next page
                sp = line.rfind(" ", 0, room)
                cut = sp if sp > room // 2 else room
                line, pending = line[:cut], line[cut:].lstrip()
            if not line.strip() and (not page or not page[-1].strip()):
                continue  # at most one blank line in a row, none at the top of a page
            page.append(line)
            chars += len(line) + 1
            rendered += max(1, math.ceil(len(line) / 95))
        text = "\n".join(page).strip()
        total_chars += len(text)
        pdf.add_page()
        pdf.multi_cell(0, 5, text.translate(_LATIN1_FRIENDLY).encode("latin-1", "replace").decode("latin-1"))
    pdf.output(str(path))
    return total_chars


def txt_inputs(base: Path, max_chars: int) -> list[Path]:
    """The corpus .txt files, or copies cut so that together they hold at most max_chars characters."""
    files = C.corpus_files()
    if max_chars <= 0:
        return files
    texts = [f.read_text(encoding="utf-8") for f in files]
    total = sum(len(t) for t in texts)
    if total <= max_chars:
        return files
    share = max_chars / total
    out_dir = base / "corpus-subset"
    out_dir.mkdir()
    out = []
    for f, t in zip(files, texts, strict=True):
        n = int(len(t) * share)
        cut = t.rfind("\n\n", 0, n)
        cut = cut if cut > n // 2 else t.rfind("\n", 0, n) if t.rfind("\n", 0, n) > n // 2 else n
        (out_dir / f.name).write_text(t[:cut], encoding="utf-8")
        out.append(out_dir / f.name)
    return out


# --------------------------------------------------------------------------------------------------
# the peer pipeline (written here the way a LangChain tutorial would do it)
# --------------------------------------------------------------------------------------------------
class PeerRecursiveCharacterTextSplitter:
    """THE PEER'S SPLITTER: LangChain's RecursiveCharacterTextSplitter algorithm (keep_separator=True,
    i.e. separators stay at the start of the following piece; whitespace stripped), re-implemented."""

    def __init__(self, chunk_size: int = 1000, chunk_overlap: int = 200,
                 separators: tuple[str, ...] = ("\n\n", "\n", " ", "")) -> None:
        self.size, self.overlap, self.separators = chunk_size, chunk_overlap, list(separators)

    def split_text(self, text: str) -> list[str]:
        return self._split(text, self.separators)

    def _split(self, text: str, separators: list[str]) -> list[str]:
        separator, rest = separators[-1], []
        for i, s in enumerate(separators):
            if s == "" or s in text:
                separator, rest = s, separators[i + 1:]
                break
        if separator:
            parts = re.split(f"({re.escape(separator)})", text)
            splits = [parts[0]] + [parts[j] + parts[j + 1] for j in range(1, len(parts) - 1, 2)]
        else:
            splits = list(text)
        out, good = [], []
        for s in (s for s in splits if s):
            if len(s) < self.size:
                good.append(s)
                continue
            if good:
                out += self._merge(good)
                good = []
            out += self._split(s, rest) if rest else [s]
        return out + (self._merge(good) if good else [])

    def _merge(self, splits: list[str]) -> list[str]:
        docs, cur, total = [], [], 0
        for d in splits:
            if total + len(d) > self.size and cur:
                if (doc := "".join(cur).strip()):
                    docs.append(doc)
                while total > self.overlap or (total + len(d) > self.size and total > 0):
                    total -= len(cur.pop(0))
            cur.append(d)
            total += len(d)
        if (doc := "".join(cur).strip()):
            docs.append(doc)
        return docs


def peer_ingest(inputs: list[Path], workdir: Path, embedder: C.TimedEmbedder) -> dict[str, Any]:
    import chromadb
    from chromadb.config import Settings

    t: dict[str, float] = {"extract": 0.0, "split": 0.0, "embed": 0.0, "store": 0.0}
    t0 = time.perf_counter()
    client = chromadb.PersistentClient(path=str(workdir / "chroma"), settings=Settings(anonymized_telemetry=False))
    col = client.get_or_create_collection("peer", embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
    # 1. load: one document per PDF page (PyPDFLoader) or per text file (TextLoader)
    a = time.perf_counter()
    docs: list[tuple[str, dict[str, Any]]] = []
    pages = 0
    for path in inputs:
        if path.suffix.lower() == ".pdf":
            from pypdf import PdfReader

            reader = PdfReader(str(path))
            for n, page in enumerate(reader.pages):
                docs.append((page.extract_text() or "", {"source": str(path), "page": n}))
            pages += len(reader.pages)
        else:
            docs.append((path.read_text(encoding="utf-8"), {"source": str(path)}))
    t["extract"] = time.perf_counter() - a
    # 2. split each document
    a = time.perf_counter()
    splitter = PeerRecursiveCharacterTextSplitter(1000, 200)
    texts, metas = [], []
    for text, meta in docs:
        for piece in splitter.split_text(text):
            texts.append(piece)
            metas.append(meta)
    t["split"] = time.perf_counter() - a
    # 3. embed in batches of 32 (embed_documents), 4. add to Chroma in max-size batches
    a = time.perf_counter()
    vectors: list[list[float]] = []
    for i in range(0, len(texts), PEER_BATCH):
        vectors += embedder.embed(texts[i : i + PEER_BATCH])
    t["embed"] = time.perf_counter() - a
    a = time.perf_counter()
    ids = [uuid.uuid4().hex for _ in texts]
    step = client.get_max_batch_size()
    for i in range(0, len(texts), step):
        col.upsert(ids=ids[i : i + step], embeddings=vectors[i : i + step], documents=texts[i : i + step],
                   metadatas=metas[i : i + step])
    t["store"] = time.perf_counter() - a
    total = time.perf_counter() - t0
    t["other"] = total - sum(t.values())
    assert col.count() == len(texts)
    return {"seconds": total, "chunks": len(texts), "chunk_chars": [len(x) for x in texts], "pages": pages,
            "breakdown": t, "texts": texts}


# --------------------------------------------------------------------------------------------------
# our pipeline
# --------------------------------------------------------------------------------------------------
class _TimedLoader:
    def __init__(self, inner: Any, acc: dict[str, float]) -> None:
        self.inner, self.acc = inner, acc
        self.name, self.extensions = inner.name, inner.extensions

    def can_load(self, ref: Any) -> bool:
        return self.inner.can_load(ref)

    def load(self, ref: Any, cancel: Any) -> Any:
        a = time.perf_counter()
        try:
            return self.inner.load(ref, cancel)
        finally:
            self.acc["extract"] += time.perf_counter() - a


def our_ingest(inputs: list[Path], workdir: Path, embedder: C.TimedEmbedder) -> dict[str, Any]:
    import notebooklm_local.services.library_service as ls
    from notebooklm_local.core.library import Library
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.extensions.builtins import builtin_registry
    from notebooklm_local.services.index import ChromaIndex

    t: dict[str, float] = {"extract": 0.0, "split": 0.0, "embed": 0.0, "store": 0.0}
    real_chunk = ls.chunk_document

    def timed_chunk(*a: Any, **k: Any) -> Any:
        s = time.perf_counter()
        try:
            return real_chunk(*a, **k)
        finally:
            t["split"] += time.perf_counter() - s

    ls.chunk_document = timed_chunk  # instrumentation in this process only
    try:
        t0 = time.perf_counter()
        paths = app_paths(workdir).ensure()
        index = ChromaIndex.persistent(paths.index / "chroma", embedder)
        real_add = index.add

        def timed_add(*a: Any, **k: Any) -> None:
            s = time.perf_counter()
            try:
                real_add(*a, **k)
            finally:
                t["store"] += time.perf_counter() - s

        index.add = timed_add  # type: ignore[method-assign]
        loaders = [_TimedLoader(ld, t) for ld in builtin_registry().source_loaders.items()]
        lib = ls.LibraryService(paths.data, Library(paths.data / "library.db"), loaders, index)
        lib.create_notebook("B")
        e0 = embedder.seconds
        report = lib.add("B", [str(p) for p in inputs])
        total = time.perf_counter() - t0
    finally:
        ls.chunk_document = real_chunk
    t["embed"] = embedder.seconds - e0
    t["other"] = total - sum(t.values())  # SQLite (texts, chunks, FTS5, state), blobs, hashing, client setup
    if report.failed or len(report.added) != len(inputs):
        raise SystemExit(f"our ingest failed: {report.lines()}")
    rows = lib.library.query("SELECT text FROM chunks")
    pages = sum(int(s.meta.get("pages", 0)) for s in report.added)
    lib.library.close()
    return {"seconds": total, "chunks": len(rows), "chunk_chars": [len(r[0]) for r in rows], "pages": pages,
            "breakdown": t, "texts": [r[0] for r in rows]}


# --------------------------------------------------------------------------------------------------
class RawPackedEmbedder:
    """--peer-embedder raw: llama-cpp-python's own batched embed(), as LangChain's LlamaCppEmbeddings uses it."""

    def __init__(self) -> None:
        import llama_cpp

        self.llm = llama_cpp.Llama(model_path=str(C.MODEL), embedding=True, n_ctx=2048, n_batch=2048, n_ubatch=2048,
                                   pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN, verbose=False)
        self.llm.embed(["warm-up"], normalize=True)
        self.model_id, self.max_tokens = "raw-llama-cpp", 2048

    def load(self) -> Any:
        return self.llm

    def embed(self, texts: Any) -> list[list[float]]:
        return self.llm.embed(list(texts), normalize=True)


def run_once(which: str, inputs: list[Path], base: Path, embedder: C.TimedEmbedder) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{which}-", dir=base))
    embedder.reset()
    cpu0 = time.process_time()
    res = (our_ingest if which == "ours" else peer_ingest)(inputs, workdir, embedder)
    res["cpu_seconds"] = time.process_time() - cpu0  # all threads of this process (llama.cpp, Chroma)
    res["embed_calls"], res["embedded_texts"], res["embedded_chars"] = embedder.calls, embedder.texts, embedder.chars
    try:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # noqa: BLE001
        pass
    shutil.rmtree(workdir, ignore_errors=True)
    return res


def count_tokens(embedder: Any, texts: list[str]) -> int:
    llm = embedder.load()
    return sum(min(len(llm.tokenize(x.encode("utf-8"))), embedder.max_tokens) for x in texts)


def summarize(name: str, runs: dict[str, list[dict[str, Any]]], pages: int, in_chars: int,
              embedder: Any, peer_embedder: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"input": name, "pages": pages, "input_chars": in_chars}
    for who in ("ours", "peer"):
        rs = runs[who]
        sec = C.median([r["seconds"] for r in rs])
        r0 = rs[0]
        chunks = r0["chunks"]
        out[who] = {
            "seconds_median": sec, "seconds_min": min(r["seconds"] for r in rs),
            "seconds_all": [r["seconds"] for r in rs],
            "cpu_seconds_median": C.median([r["cpu_seconds"] for r in rs]),
            "cpu_seconds_all": [r["cpu_seconds"] for r in rs],
            "chunks": chunks, "avg_chunk_chars": sum(r0["chunk_chars"]) / max(chunks, 1),
            "embedded_chars": r0["embedded_chars"], "embed_calls": r0["embed_calls"],
            "embedded_tokens": count_tokens(embedder if who == "ours" else peer_embedder, r0["texts"]),
            "pages_per_s": pages / sec if pages else None, "chunks_per_s": chunks / sec,
            "input_kb_per_s": in_chars / 1000 / sec,
            "breakdown_s": {k: C.median([r["breakdown"][k] for r in rs]) for k in r0["breakdown"]},
        }
        emb = out[who]["breakdown_s"]["embed"]
        out[who]["embed_tokens_per_s"] = out[who]["embedded_tokens"] / emb if emb else None
    out["ratio_peer_over_ours"] = out["peer"]["seconds_median"] / out["ours"]["seconds_median"]
    out["ratio_peer_over_ours_best_of_n"] = out["peer"]["seconds_min"] / out["ours"]["seconds_min"]
    out["ratio_peer_over_ours_cpu"] = out["peer"]["cpu_seconds_median"] / out["ours"]["cpu_seconds_median"]
    out["ratio_non_embed"] = ((out["peer"]["seconds_median"] - out["peer"]["breakdown_s"]["embed"])
                              / max(out["ours"]["seconds_median"] - out["ours"]["breakdown_s"]["embed"], 1e-9))
    return out


def print_summary(s: dict[str, Any]) -> None:
    o, p = s["ours"], s["peer"]
    rows = [
        ["end-to-end s (median)", o["seconds_median"], p["seconds_median"]],
        ["end-to-end s (best)", o["seconds_min"], p["seconds_min"]],
        ["process CPU s (median)", o["cpu_seconds_median"], p["cpu_seconds_median"]],
        ["pages/s", o["pages_per_s"], p["pages_per_s"]],
        ["input KB/s", o["input_kb_per_s"], p["input_kb_per_s"]],
        ["chunks", o["chunks"], p["chunks"]],
        ["chunks/s", o["chunks_per_s"], p["chunks_per_s"]],
        ["avg chunk chars", o["avg_chunk_chars"], p["avg_chunk_chars"]],
        ["embedded chars", o["embedded_chars"], p["embedded_chars"]],
        ["embedded tokens", o["embedded_tokens"], p["embedded_tokens"]],
        ["embed calls", o["embed_calls"], p["embed_calls"]],
        ["embed tokens/s", o["embed_tokens_per_s"], p["embed_tokens_per_s"]],
    ]
    rows += [[f"  {k} s", o["breakdown_s"][k], p["breakdown_s"][k]] for k in o["breakdown_s"]]
    print(f"\n== {s['input']}: {s['pages'] or '-'} pages, {s['input_chars']:,} chars ==")
    print(C.table(rows, ["", "ours", "peer"]))
    print(f"ratio peer_time / our_time = {s['ratio_peer_over_ours']:.2f}x median, "
          f"{s['ratio_peer_over_ours_best_of_n']:.2f}x best-of-{len(o['seconds_all'])}, "
          f"{s['ratio_peer_over_ours_cpu']:.2f}x in process CPU time  (goal >= 2x)")
    print(f"ratio excluding embedding time = {s['ratio_non_embed']:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=200, help="pages of the generated PDF (default 200)")
    ap.add_argument("--txt-max-chars", type=int, default=0,
                    help="cap on the corpus text ingested as .txt files (default 0 = the whole folder, about "
                         "500000 chars); files are cut at a paragraph end into a temp folder")
    ap.add_argument("--quick", action="store_true", help="a small run: --pages 30 --txt-max-chars 80000")
    ap.add_argument("--inputs", default="pdf,txt", help="comma list of pdf, txt (default both)")
    ap.add_argument("--repeats", type=int, default=1, help="runs per pipeline and input (default 1); order "
                    "alternates; medians are reported")
    ap.add_argument("--embedder-n-ctx", type=int, default=None,
                    help="LlamaCppEmbedder n_ctx for both pipelines (default: the class default, as the app)")
    ap.add_argument("--peer-embedder", choices=("single", "shared", "ours", "raw"), default="single",
                    help="single (default): the same model on one plain llama.cpp context (llama-cpp-python "
                         "defaults, one text per decode); shared (or ours): the peer shares our embedder "
                         "instance; raw: llama-cpp-python packed 2048-token batches, as LangChain's "
                         "LlamaCppEmbeddings")
    args = ap.parse_args()
    if args.quick:
        args.pages, args.txt_max_chars = 30, 80_000
    C.require_model()
    C.start("bench_ingest")
    embedder = C.TimedEmbedder(C.load_embedder(args.embedder_n_ctx))
    if args.peer_embedder in ("shared", "ours"):
        peer_embedder = embedder
    elif args.peer_embedder == "raw":
        peer_embedder = C.TimedEmbedder(RawPackedEmbedder())
    else:
        peer_embedder = C.TimedEmbedder(C.load_embedder(args.embedder_n_ctx, contexts=1, flash_attn=False))
    base = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    files = txt_inputs(base, args.txt_max_chars)
    summaries = []
    t_start = time.perf_counter()
    try:
        cases: list[tuple[str, list[Path], int]] = []
        if "pdf" in args.inputs:
            pdf = base / f"corpus-{args.pages}p.pdf"
            a = time.perf_counter()
            make_pdf(pdf, args.pages)
            from pypdf import PdfReader

            n = len(PdfReader(str(pdf)).pages)
            print(f"generated {pdf.name}: {n} pages, {pdf.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - a:.1f} s")
            cases.append((f"pdf ({n} pages)", [pdf], n))
        if "txt" in args.inputs:
            cases.append((f"txt folder ({len(files)} files{'' if args.txt_max_chars <= 0 else ', capped'})", files, 0))
        # warm-up (not timed): imports, Chroma/SQLite first-use costs, for both pipelines
        warm = base / "warm-up.pdf"
        make_pdf(warm, 1)
        for who in ("ours", "peer"):
            run_once(who, [warm], base, embedder if who == "ours" else peer_embedder)
        k = 0
        for name, inputs, pages in cases:
            in_chars = (sum(len(f.read_text(encoding="utf-8")) for f in inputs) if not pages
                        else sum(len(p.extract_text() or "") for p in __import__("pypdf").PdfReader(str(inputs[0])).pages))
            runs: dict[str, list[dict[str, Any]]] = {"ours": [], "peer": []}
            for _ in range(args.repeats):
                order = ("ours", "peer") if k % 2 == 0 else ("peer", "ours")
                k += 1
                for who in order:
                    print(f"  {name}: running {who} ...", flush=True)
                    r = run_once(who, inputs, base, embedder if who == "ours" else peer_embedder)
                    print(f"    {r['seconds']:.1f} s, {r['chunks']} chunks", flush=True)
                    runs[who].append(r)
            s = summarize(name, runs, pages, in_chars, embedder.inner, peer_embedder.inner)
            print_summary(s)
            summaries.append(s)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"\ntotal benchmark wall time {time.perf_counter() - t_start:.0f} s")
    from notebooklm_local.services.library_service import EMBED_BATCH

    name = "bench_ingest" + ("" if args.embedder_n_ctx is None else f"_nctx{args.embedder_n_ctx}") + (
        "_quick" if args.quick else "") + ("" if args.peer_embedder == "single" else f"_peer-{args.peer_embedder}")
    C.write_results(name, {"args": vars(args), "peer_batch": PEER_BATCH, "our_embed_batch": EMBED_BATCH,
                           "embedder_n_ctx": embedder.inner.n_ctx, "embedder_contexts": embedder.inner.contexts,
                           "peer_embedder": args.peer_embedder, "model": str(C.MODEL), "results": summaries})


if __name__ == "__main__":
    main()
