"""Time per generative Extract feature (issue 15: mind map, flashcards, quiz written by the model) on the tiny
built-in model, split into the model's own time (llama.cpp prompt evaluation + generation, summed over the
calls) and ours (everything else: material, prompt rendering, JSON repair, grounding checks, storing).

Each feature runs through ``StudioService.written`` on the sample notebook (4 short sources) with the tiny
Gemma 3 270M *base* model (CPU, n_ctx 2048, one retry) and, for the overhead alone, with a scripted engine
writing faithful JSON (no model time at all). The tiny model is expected to fail the checks: the run then
ends in a refusal, and its time is still measured (a timing proxy around the engine records every call).

    .venv/bin/python bench/bench_generative_studio.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import machine, start, table, write_results


class Timed:
    """Engine proxy: sums llama.cpp's own prompt-eval and generation seconds over every call (a scripted engine's
    made-up timings count as none)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.real = type(inner).__name__ != "ScriptedEngine"
        self.model_s = 0.0
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def stream_chat(self, messages: Any, **kw: Any) -> Any:
        from notebooklm_local.core.llm import Generation

        inner = self.inner.stream_chat(messages, **kw)

        def counted() -> Any:
            yield from inner
            self.calls += 1
            g = inner.result()
            if self.real:
                self.model_s += g.prompt_eval_s + g.generation_s
            return g

        return Generation(counted())


def run(engine: Any, what: str, studio_for: Any) -> dict[str, Any]:
    from notebooklm_local.core.errors import StudioError

    timed = Timed(engine)
    studio, nb = studio_for(timed)
    t0 = time.perf_counter()
    try:
        r = studio.written(what, nb, count=4, difficulty="medium", store=True)
        n = len(r.result.nodes) - 1 if what == "mindmap" else len(
            r.result.questions if what == "quiz" else r.result.cards)
        outcome = f"made: {n} item(s) passed, {len(r.dropped)} dropped"
    except StudioError as e:
        outcome = "refused: " + str(e).split("(attempt 1: ", 1)[-1][:90]
    wall = time.perf_counter() - t0
    return {"feature": what, "outcome": outcome, "calls": timed.calls, "wall_s": round(wall, 3),
            "model_s": round(timed.model_s, 3), "ours_s": round(max(0.0, wall - timed.model_s), 3)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    start("bench_generative_studio")
    os.environ["NOTEBOOKLM_LOCAL_HOME"] = tempfile.mkdtemp(prefix="nbl-bench-gen-")
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.core.templates import TemplateStore
    from notebooklm_local.extensions.sample import ensure_sample_notebook
    from notebooklm_local.services.llama_runtime import LlamaCppEngine
    from notebooklm_local.services.models import ensure_default_model
    from notebooklm_local.services.studio.service import StudioService
    from notebooklm_local.workspace import open_library, resources_dir
    from tests.helpers.scripted_engine import ScriptedEngine
    from tests.services.test_written_studio import good_cards, nice_map

    paths = app_paths().ensure()
    lib = open_library(paths, Settings(), with_index=False)
    ensure_sample_notebook(lib)
    nb = lib.library.notebooks()[0].id
    settings = Settings()
    settings.studio.retries = 1

    def studio_for(engine: Any) -> tuple[Any, str]:
        return StudioService(lib, engine, TemplateStore(resources_dir() / "templates", Path(paths.data) / "tpl"),
                             settings), nb

    tiny = LlamaCppEngine(ensure_default_model(paths), n_ctx=2048)
    tiny.info()  # load the model before the clocks start
    scripted = ScriptedEngine(fallback=lambda m, s: nice_map(m, s) if "concepts" in s["properties"] else
                              good_cards(m, s))
    rows: list[dict[str, Any]] = []
    for rep in range(args.repeat):
        for what in ("mindmap", "flashcards", "quiz"):
            for name, engine in (("tiny model", tiny), ("scripted (overhead only)", scripted)):
                r = run(engine, what, studio_for)
                r.update(engine=name, repeat=rep)
                rows.append(r)
                print(f"{what:10} {name:26} wall {r['wall_s']:7.2f}s model {r['model_s']:7.2f}s ours "
                      f"{r['ours_s']:6.3f}s calls {r['calls']}  {r['outcome']}")
    tiny.close()
    print()
    print(table([[r["feature"], r["engine"], r["calls"], r["wall_s"], r["model_s"], r["ours_s"], r["outcome"]]
                 for r in rows], ["feature", "engine", "calls", "wall s", "model s", "ours s", "outcome"]))
    path = write_results("generative_studio", {"machine": machine(), "rows": rows})
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
