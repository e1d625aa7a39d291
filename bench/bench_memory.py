"""Memory: resident set size idle, and its peak while indexing a large PDF and a large text file.

Each scenario runs in a fresh Python process (this script with --child), so every peak is its own:
the figure is the kernel's high-water mark of the process (VmHWM in /proc/self/status), plus a
sampler thread (every 20 ms) that records the largest VmRSS seen in each stage (the library
service's progress messages: reading, chunking/storing, embedding).

Scenarios (the library is opened as the application opens it: SQLite + FTS5, Chroma persistent
client, the LlamaCppEmbedder with its defaults):
  idle       after opening the library (model not loaded yet), then after loading the embedder
  pdf        adding a generated PDF of --pdf-pages pages (default 1000, ~2,000 chars each, rendered
             from the corpus with fpdf2 as bench_ingest.py does), embedded completely
  answer     answering on the Sample notebook as a user does: `notebooklm-local init` into a fresh
             data dir, then `ask --mode quotes` (no generative model: search + quoted sentences) and
             `ask --mode generate` (the embedded default model, Gemma 3 270M, loaded and generating),
             each in its own process: the peak RSS of each `ask` process (ru_maxrss from wait4)
  txt        adding a generated --txt-mb MB .txt file (default 200; the corpus repeated, paragraphs
             numbered so that none repeats exactly): read, extracted, stored, chunked, FTS-indexed; the
             user answers the "this will take long" question with "keyword search only" after the first
             batch of chunks is embedded (embedding 200 MB on 2 cores would take hours)

    .venv/bin/python bench/bench_memory.py                       # ~4-8 min on 2 busy cores
    .venv/bin/python bench/bench_memory.py --pdf-pages 200 --txt-mb 50
    .venv/bin/python bench/bench_memory.py --scenarios txt
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

MB = 1024 * 1024


def status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Sampler:
    """The largest VmRSS seen per stage (the stage is set from the progress messages)."""

    def __init__(self) -> None:
        self.stage = "start"
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.note()

    def note(self) -> None:
        rss = status_kb("VmRSS")
        if rss > self.peaks.get(self.stage, 0):
            self.peaks[self.stage] = rss

    def set(self, stage: str) -> None:
        self.note()
        self.stage = stage
        self.note()

    def start(self) -> Sampler:
        self._t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._t.join()
        self.note()


def make_text(path: Path, mb: int) -> int:
    """About ``mb`` MB of text: the corpus paragraphs over and over, each numbered (no exact repeats)."""
    paras = [p.strip() for f in C.corpus_files() for p in f.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    target, n, size = mb * 1_000_000, 0, 0  # at most this (the text loader's limit is 200,000,000 bytes)
    with open(path, "w", encoding="utf-8") as out:
        while True:
            piece = f"[{n}] {paras[n % len(paras)]}\n\n"
            if size + len(piece.encode("utf-8")) > target:
                return size
            out.write(piece)
            size += len(piece.encode("utf-8"))
            n += 1


def open_service(workdir: Path) -> Any:
    from notebooklm_local.core.library import Library
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.extensions.builtins import builtin_registry
    from notebooklm_local.services.index import ChromaIndex
    from notebooklm_local.services.library_service import LibraryService
    from notebooklm_local.services.llama_runtime import LlamaCppEmbedder

    paths = app_paths(workdir).ensure()
    index = ChromaIndex.persistent(paths.index / "chroma", LlamaCppEmbedder(C.MODEL))
    lib = LibraryService(paths.data, Library(paths.data / "library.db"),
                         list(builtin_registry().source_loaders.items()), index)
    lib.create_notebook("M")
    return lib


def child(scenario: str, input_path: str | None, workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"scenario": scenario, "rss_start_kb": status_kb("VmRSS")}
    sampler = Sampler().start()
    t0 = time.perf_counter()
    lib = open_service(workdir)
    out["rss_open_kb"] = status_kb("VmRSS")
    if scenario == "idle":
        lib.index.embedder.load()
        lib.index.embedder.embed(["warm-up"])
        out["rss_embedder_loaded_kb"] = status_kb("VmRSS")
    else:
        assert input_path is not None
        lib.index.embedder.load()
        sampler.set("opened")

        def progress(done: int, total: int, message: str = "") -> None:
            stage = message.split(" ", 1)[0] if message else "?"
            if stage != sampler.stage:
                sampler.set(stage)

        chosen: list[str] = []

        def confirm_large(src: Any, total: int, seconds: float) -> str:
            chosen.append(f"{total} chunks, ~{seconds:.0f} s: keyword search only")
            return "lexical"

        if scenario == "txt":
            lib.confirm_large = confirm_large
        real_chunk = lib.library.replace_chunks

        def replace_chunks(*a: Any, **k: Any) -> Any:  # the stage between extraction and embedding
            sampler.set("chunking+storing")
            return real_chunk(*a, **k)

        lib.library.replace_chunks = replace_chunks  # type: ignore[method-assign]
        real_store = lib.library.store_extraction

        def store_extraction(*a: Any, **k: Any) -> Any:  # the extracted text and its blocks into SQLite
            sampler.set("storing-text")
            return real_store(*a, **k)

        lib.library.store_extraction = store_extraction  # type: ignore[method-assign]
        report = lib.add("M", [input_path], progress=progress)
        if report.failed:
            raise SystemExit(f"ingest failed: {report.lines()}")
        src = report.added[0]
        out["chunks"] = src.n_chunks
        out["embedded"] = lib.library.query("SELECT count(*) FROM chunks WHERE embedded_model IS NOT NULL")[0][0]
        out["confirm_large"] = chosen
        out["input_bytes"] = os.path.getsize(input_path)
    out["seconds"] = time.perf_counter() - t0
    sampler.stop()
    out["stage_peaks_kb"] = sampler.peaks
    out["vmhwm_kb"] = status_kb("VmHWM")
    out["rss_end_kb"] = status_kb("VmRSS")
    return out


QUESTION = "What is retrieval-augmented generation?"


def run_answer(base: Path) -> dict[str, Any]:
    """Peak RSS of `ask` processes on the Sample notebook (quotes, then the default model generating)."""
    workdir = Path(tempfile.mkdtemp(prefix="mem-answer-", dir=base))
    exe = [sys.executable, "-m", "notebooklm_local", "--basedir", str(workdir)]
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}

    def measured(argv: list[str]) -> tuple[float, float, str]:
        a = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                cwd=str(C.REPO))
        out = proc.stdout.read() if proc.stdout is not None else ""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv[3:])} failed ({proc.returncode}):\n{out[-3000:]}")
        return usage.ru_maxrss / 1024, time.perf_counter() - a, out

    print("  answer: init + two asks, each in a fresh process ...", flush=True)
    try:
        init_mb, init_s, _ = measured([*exe, "init"])
        quotes_mb, quotes_s, _ = measured([*exe, "ask", "-n", "Sample notebook", "--mode", "quotes", QUESTION])
        gen_mb, gen_s, gen_out = measured([*exe, "ask", "-n", "Sample notebook", "--mode", "generate", QUESTION])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"scenario": "answer", "init_peak_mb": init_mb, "init_s": init_s, "quotes_peak_mb": quotes_mb,
            "quotes_s": quotes_s, "generate_peak_mb": gen_mb, "generate_s": gen_s, "generate_tail": gen_out[-400:]}


def run_child(scenario: str, input_path: Path | None, base: Path) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"mem-{scenario}-", dir=base))
    cmd = [sys.executable, __file__, "--child", scenario, "--workdir", str(workdir)]
    if input_path is not None:
        cmd += ["--input", str(input_path)]
    print(f"  {scenario}: running in a fresh process ...", flush=True)
    res = subprocess.run(cmd, capture_output=True, text=True)
    shutil.rmtree(workdir, ignore_errors=True)
    if res.returncode != 0:
        raise SystemExit(f"{scenario} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", default="idle,answer,pdf,txt")
    ap.add_argument("--pdf-pages", type=int, default=1000)
    ap.add_argument("--txt-mb", type=int, default=200)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        import logging

        logging.disable(logging.WARNING)
        print(json.dumps(child(args.child, args.input, Path(args.workdir))))
        return
    C.require_model()
    C.start("bench_memory")
    base = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    results: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    try:
        for scenario in args.scenarios.split(","):
            if scenario == "answer":
                r = run_answer(base)
                answers.append(r)
                print(f"    init {r['init_s']:.0f} s (peak {r['init_peak_mb']:.0f} MB); ask --mode quotes peak RSS "
                      f"{r['quotes_peak_mb']:.0f} MB ({r['quotes_s']:.1f} s); ask --mode generate peak RSS "
                      f"{r['generate_peak_mb']:.0f} MB ({r['generate_s']:.1f} s)", flush=True)
                continue
            input_path = None
            if scenario == "pdf":
                from bench_ingest import make_pdf

                input_path = base / f"corpus-{args.pdf_pages}p.pdf"
                a = time.perf_counter()
                make_pdf(input_path, args.pdf_pages)
                print(f"generated {input_path.name}: {input_path.stat().st_size / 1e6:.1f} MB in "
                      f"{time.perf_counter() - a:.0f} s", flush=True)
            elif scenario == "txt":
                input_path = base / f"big-{args.txt_mb}mb.txt"
                a = time.perf_counter()
                size = make_text(input_path, args.txt_mb)
                print(f"generated {input_path.name}: {size / 1e6:.0f} MB in {time.perf_counter() - a:.0f} s", flush=True)
            r = run_child(scenario, input_path, base)
            if input_path is not None:
                input_path.unlink()
            results.append(r)
            mbs = {k: round(v / 1024, 1) for k, v in r.items() if k.endswith("_kb") and isinstance(v, int)}
            peaks = {k: round(v / 1024) for k, v in r.get("stage_peaks_kb", {}).items()}
            extra = f", {r['chunks']} chunks ({r['embedded']} embedded)" if "chunks" in r else ""
            print(f"    {r['seconds']:.0f} s{extra}; MB: {mbs}; peak RSS per stage (MB): {peaks}", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rows = []
    for r in results:
        rows.append([r["scenario"], r["rss_open_kb"] / 1024, r.get("rss_embedder_loaded_kb", 0) / 1024 or None,
                     r["vmhwm_kb"] / 1024, (r["vmhwm_kb"] - r["rss_open_kb"]) / 1024,
                     r.get("input_bytes", 0) / 1e6 or None, r.get("chunks"), r["seconds"]])
    print()
    for r in answers:
        print(f"answering (Sample notebook, fresh processes): quotes peak RSS {r['quotes_peak_mb']:.0f} MB, "
              f"generate (default model) peak RSS {r['generate_peak_mb']:.0f} MB")
    print(C.table(rows, ["scenario", "RSS opened MB", "+ embedder MB", "peak RSS MB", "peak - opened MB",
                         "input MB", "chunks", "seconds"]))
    print(f"total benchmark wall time {time.perf_counter() - t_start:.0f} s")
    C.write_results("bench_memory", {"args": vars(args), "results": results, "answers": answers})


if __name__ == "__main__":
    main()
