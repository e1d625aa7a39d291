"""Shared helpers for the benchmark scripts (not part of the application).

Paths of the shared model/corpus (beside development checkouts only), result files, statistics,
and a timing proxy around an embedder.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SHARED = Path(os.environ.get("NOTEBOOKLM_BENCH_SHARED", REPO.parent / "shared"))
# NOTEBOOKLM_BENCH_MODEL: another embedder GGUF (e.g. a Q8_0 quantization made by bench_embed.py --q8)
MODEL = Path(os.environ.get("NOTEBOOKLM_BENCH_MODEL") or SHARED / "models" / "all-minilm-l6-v2-f16.gguf")
CORPUS = SHARED / "corpus"
RESULTS = Path(__file__).resolve().parent / "results"
GIT_AT_START: dict[str, Any] = {}


def start(name: str) -> None:
    """Record and print the commit the run starts on."""
    GIT_AT_START.update(git_state())
    g = GIT_AT_START
    print(f"{name}: code at {g['commit']} ({g['subject'][:70]})"
          + (f"; uncommitted changes in {', '.join(g['dirty_outside_bench'])}" if g["dirty_outside_bench"] else ""))


def require_model() -> Path:
    """The MiniLM GGUF, or a clean exit (it only sits beside development checkouts)."""
    if not MODEL.is_file():
        print(f"SKIP: benchmark embedder not found at {MODEL} (it sits beside development checkouts "
              "only; set NOTEBOOKLM_BENCH_SHARED to the folder holding models/ and corpus/).")
        sys.exit(0)
    return MODEL


def corpus_files() -> list[Path]:
    files = sorted(CORPUS.glob("*.txt"))
    if not files:
        print(f"SKIP: sample corpus not found at {CORPUS}.")
        sys.exit(0)
    return files


def load_embedder(n_ctx: int | None = None, **kw: Any) -> Any:
    """One warm LlamaCppEmbedder (model load and first-call warm-up excluded from timings).

    ``n_ctx`` None keeps the class default, which is what the application uses (open_library passes
    no n_ctx). ``kw``: other LlamaCppEmbedder arguments (``contexts=1, flash_attn=False``: the plain
    single-context path, llama-cpp-python's defaults).
    """
    from notebooklm_local.services.llama_runtime import LlamaCppEmbedder

    if n_ctx is not None:
        kw["n_ctx"] = n_ctx
    emb = LlamaCppEmbedder(kw.pop("path", None) or require_model(), **kw)
    t0 = time.perf_counter()
    emb.load()
    emb.embed(["warm-up sentence for the benchmark embedder"] * 4)
    print(f"embedder loaded and warmed in {time.perf_counter() - t0:.2f} s ({emb.model_id}, n_ctx={emb.n_ctx}, "
          f"{emb.contexts} context(s), flash_attn={emb.flash_attn})")
    return emb


def git_state() -> dict[str, Any]:
    """The commit the benchmark ran on (the code changes; figures belong to a commit)."""
    import subprocess

    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = [ln.split(maxsplit=1)[-1] for ln in git("status", "--porcelain").splitlines() if ln.strip()]
    dirty = [p for p in changed if not p.startswith("bench/")]
    return {"commit": git("rev-parse", "--short", "HEAD"), "subject": git("log", "-1", "--format=%s"),
            "dirty_outside_bench": dirty}


class TimedEmbedder:
    """Wraps an embedder; accumulates seconds, calls, texts and characters embedded."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.path = getattr(inner, "path", None)
        self.reset()

    def reset(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self.texts = 0
        self.chars = 0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        t0 = time.perf_counter()
        out = self.inner.embed(texts)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        self.texts += len(texts)
        self.chars += sum(len(t) for t in texts)
        return out

    @property
    def supports_stream(self) -> bool:
        return bool(getattr(self.inner, "supports_stream", False))

    def embed_stream(self, texts: Any, cancel: Any = None, **kw: Any) -> Any:
        """The inner stream; ``seconds`` counts only the time the caller waits for vectors (a pipeline
        stores while the next texts decode: that overlap is not embedding time)."""
        import contextlib

        def counted() -> Any:
            for t in texts:
                self.texts += 1
                self.chars += len(t)
                yield t

        self.calls += 1
        with contextlib.closing(self.inner.embed_stream(counted(), cancel=cancel, **kw)) as stream:
            while True:
                t0 = time.perf_counter()
                try:
                    vec = next(stream)
                except StopIteration:
                    return
                finally:
                    self.seconds += time.perf_counter() - t0
                yield vec


def pct(values: Sequence[float], p: float) -> float:
    """Percentile with linear interpolation (p in 0..100)."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                            "cpus": os.cpu_count(), "git": GIT_AT_START}
    try:
        info["loadavg_at_start"] = os.getloadavg()
    except OSError:
        pass
    try:
        import llama_cpp

        info["llama_cpp_python"] = llama_cpp.__version__
    except Exception:  # noqa: BLE001
        pass
    try:
        import chromadb

        info["chromadb"] = chromadb.__version__
    except Exception:  # noqa: BLE001
        pass
    return info


def fetch_debs(dest: Path, packages: Sequence[str]) -> None:
    """``apt-get download`` Debian packages into DEST/debs and unpack them under DEST/root (regression sets
    of real documents, kept out of the repository)."""
    import subprocess

    debs = dest / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *packages], cwd=debs, check=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(dest / "root")], check=True)


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), **data}
    out.write_text(json.dumps(payload, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"results written to {out}")
    return out


def fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if x != x:
            return "nan"
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [[str(h) for h in header]] + [[fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
