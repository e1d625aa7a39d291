"""Generation: our engine vs raw llama-cpp-python; question -> first token; KV prefix reuse.

1. tok/s  — the same prompt, greedy, the same n_ctx/threads, a fixed number of tokens (EOS ignored
   by a logit bias in both), generation phase only (first token excluded). Ours: LlamaCppEngine.stream
   (the path every chat answer takes: tokenize, cache prep, create_completion with a cancel
   criterion). Raw: llama_cpp.Llama.create_completion(stream=True). Repeats alternate the order;
   medians. Goal: ours / raw >= 0.98.
2. question -> first token, split into rewrite, retrieval (query embedding + hybrid search),
   prompt build (template, budgeting, tokenization) and prompt eval, through ChatService.ask on the
   sample notebook. Our overhead = first token - prompt eval. Goal <= 50 ms. The baseline in the
   same run: raw llama-cpp-python's time to first token for the same prompt text.
3. second turn — the prompt eval of a follow-up question with the system prompt's KV state restored
   (static prefix) vs evaluated from scratch.

Chat model: the embedded Gemma 3 270M (Q4_K_M). Embedder for retrieval: MiniLM from ../shared
(the realistic setup; without it the tiny model embeds).

    .venv/bin/python bench/bench_generate.py               # 9 repeats, 128 tokens
    .venv/bin/python bench/bench_generate.py --quick
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

PROMPT = (
    "Notes on running language models locally.\n\nQuantization stores model weights with fewer bits. "
    "A 7-billion-parameter model needs about 14 GB in 16-bit floats, but only about 4 GB at 4 bits per "
    "weight. The k-quant formats such as Q4_K_M keep most of the quality.\n\nWrite a long essay about "
    "quantization, memory bandwidth and speed:\n"
)


def tiny_model() -> Path:
    from notebooklm_local.core.paths import AppPaths
    from notebooklm_local.services.models import ensure_default_model

    root = Path(tempfile.gettempdir()) / "nbl-bench-model"
    return ensure_default_model(AppPaths(root / "c", root / "d", root / "ca", root / "l").ensure())


def bench_tokens_per_s(model: Path, n_tokens: int, repeats: int, n_ctx: int) -> dict[str, Any]:
    import llama_cpp

    from notebooklm_local.services.llama_runtime import LlamaCppEngine

    ours = LlamaCppEngine(model, n_ctx=n_ctx, n_gpu_layers=0)
    llm = ours.load()
    eos = llm.token_eos()
    raw = llama_cpp.Llama(model_path=str(model), n_ctx=n_ctx, n_gpu_layers=0, seed=0, verbose=False)
    bias = {eos: -1e9}  # both generate exactly n_tokens

    def run_raw() -> tuple[float, int]:
        raw.reset()
        raw._ctx.kv_cache_clear()
        t_first = None
        n = 0
        for _chunk in raw.create_completion(PROMPT, max_tokens=n_tokens, temperature=0.0, stream=True,
                                            logit_bias=bias):
            n += 1
            if t_first is None:
                t_first = time.perf_counter()
        return (time.perf_counter() - (t_first or 0)), n

    def run_ours() -> tuple[float, int]:
        # the engine's stream() with the same sampling; logit_bias passed through create_completion
        llm.reset()
        llm._ctx.kv_cache_clear()
        t_first = None
        n = 0
        orig = llm.create_completion

        def with_bias(*a: Any, **kw: Any) -> Any:
            return orig(*a, logit_bias=bias, **kw)

        llm.create_completion = with_bias  # type: ignore[method-assign]
        try:
            for _piece in ours.stream(PROMPT, max_tokens=n_tokens, temperature=0.0):
                n += 1
                if t_first is None:
                    t_first = time.perf_counter()
        finally:
            llm.create_completion = orig  # type: ignore[method-assign]
        return (time.perf_counter() - (t_first or 0)), n

    run_raw()
    run_ours()  # warm both
    times: dict[str, list[float]] = {"ours": [], "raw": []}
    for i in range(repeats):
        order = [("raw", run_raw), ("ours", run_ours)] if i % 2 == 0 else [("ours", run_ours), ("raw", run_raw)]
        for name, fn in order:
            dt, n = fn()
            times[name].append((n - 1) / dt if dt > 0 else 0.0)
    raw.close()
    ours.close()
    med = {k: C.median(v) for k, v in times.items()}
    # each repeat runs both back to back: the median of the per-repeat ratios cancels slow drift
    # (other processes, clock changes) that the ratio of two medians keeps
    paired = C.median([o / r for o, r in zip(times["ours"], times["raw"], strict=True) if r > 0])
    return {"tok_s": med, "all": times, "ratio": paired, "ratio_of_medians": med["ours"] / med["raw"]}


def bench_first_token(model: Path, repeats: int, n_ctx: int) -> dict[str, Any]:
    import llama_cpp

    from notebooklm_local.core.paths import AppPaths
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.extensions.sample import SAMPLE_NOTEBOOK, ensure_sample_notebook
    from notebooklm_local.workspace import open_chat, open_library

    root = Path(tempfile.mkdtemp(prefix="nbl-bench-chat-"))
    paths = AppPaths(root / "c", root / "d", root / "ca", root / "l").ensure()
    settings = Settings()
    settings.model.path = str(model)
    settings.model.n_ctx = n_ctx
    settings.model.n_gpu_layers = 0
    if C.MODEL.is_file():
        settings.model.embedding_path = str(C.MODEL)
    settings.chat.answer_tokens = 16
    settings.chat.mode = "generate"  # generation is what is timed (auto would quote with a base model)
    lib = open_library(paths, settings)
    ensure_sample_notebook(lib)
    chat = open_chat(paths, settings, library=lib)
    questions = ["What does Q4_K_M quantization trade off?", "How should citations be checked?",
                 "What is local-first software?", "What is retrieval-augmented generation?"]
    chat.ask(SAMPLE_NOTEBOOK, questions[0], new_session=True, structured=False)  # warm: load, embedder, caches
    rows = []
    raw = llama_cpp.Llama(model_path=str(model), n_ctx=n_ctx, n_gpu_layers=0, seed=0, verbose=False)
    raw_ttft = []
    seen: list[Any] = []
    real = chat.engine

    class Spy:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def stream_chat(self, messages: Any, **kw: Any) -> Any:
            seen.append(messages)
            kw["static_prefix"] = 0  # a cold prompt, as the raw baseline gets
            return real.stream_chat(messages, **kw)

    for i in range(repeats):
        q = questions[i % len(questions)]
        chat.engine = Spy()  # type: ignore[assignment]
        try:
            res = chat.ask(SAMPLE_NOTEBOOK, q, new_session=True, structured=False)
        finally:
            chat.engine = real
        t = res.timings
        g = res.generation
        rows.append({"rewrite": t["rewrite_s"], "retrieval": t["retrieval_s"], "prompt_build": t["prompt_build_s"],
                     "prompt_eval": g.prompt_eval_s, "first_token": t["first_token_s"], "prompt_tokens": g.prompt_tokens})
        prompt_text = real.format_chat(seen[-1])
        raw.reset()
        raw._ctx.kv_cache_clear()
        t0 = time.perf_counter()
        for _c in raw.create_completion(prompt_text, max_tokens=1, temperature=0.0, stream=True):
            break
        raw_ttft.append(time.perf_counter() - t0)
    raw.close()
    chat.engine.close()
    med = {k: C.median([r[k] for r in rows]) for k in rows[0]}
    overhead = C.median([r["first_token"] - r["prompt_eval"] for r in rows])
    return {"median": med, "overhead_s": overhead, "raw_ttft_s": C.median(raw_ttft), "rows": rows,
            "embedder": settings.model.embedding_path or "tiny model"}


def bench_second_turn(model: Path, repeats: int, n_ctx: int) -> dict[str, Any]:
    from notebooklm_local.core.citations import Passage, format_passages
    from notebooklm_local.core.llm import ChatMessage
    from notebooklm_local.core.paths import resources_dir
    from notebooklm_local.core.templates import TemplateStore
    from notebooklm_local.services.llama_runtime import LlamaCppEngine

    tpl = TemplateStore(resources_dir() / "templates", Path(tempfile.mkdtemp())).get("chat_answer")
    passages = [Passage(i + 1, i, "s", "Quantization notes", PROMPT * 2, 0, len(PROMPT) * 2) for i in range(3)]

    def messages(turn: int, tag: str) -> list[ChatMessage]:
        """Turn ``turn`` (1-based) of a chat: system, earlier Q/A turns, then passages + question."""
        r = tpl.render({"passages": format_passages(passages), "question": f"question {turn} {tag}", "language": ""})
        msgs = [ChatMessage("system", r.system)]
        for t in range(1, turn):
            msgs += [ChatMessage("user", f"Earlier question {t} about Q4_K_M and memory use?"),
                     ChatMessage("assistant", f"Answer {t}: a 4-bit format that needs about 4 GB for 7B weights [1].")]
        return [*msgs, ChatMessage("user", r.user)]

    eng = LlamaCppEngine(model, n_ctx=n_ctx, n_gpu_layers=0)
    out: dict[str, list[float]] = {f"turn{t}_{m}": [] for t in (2, 3) for m in ("reuse", "cold")}
    info: dict[str, Any] = {}
    for i in range(repeats):
        for mode in (("reuse", "cold") if i % 2 == 0 else ("cold", "reuse")):
            eng._snapshots = []
            for turn in (1, 2, 3):
                msgs = messages(turn, f"r{i}")
                sp = len(msgs) - 1 if mode == "reuse" else 0  # the chat service's static prefix
                res = eng.stream_chat(msgs, max_tokens=1, static_prefix=sp).result()
                if mode == "cold":
                    eng._snapshots = []
                    eng._llm.reset()
                if turn > 1:
                    out[f"turn{turn}_{mode}"].append(res.prompt_eval_s)
                    info[f"turn{turn}"] = {"prompt_tokens": res.prompt_tokens,
                                           "restored": res.cached_prompt_tokens if mode == "reuse" else
                                           info.get(f"turn{turn}", {}).get("restored", 0)}
    eng.close()
    med = {k: C.median(v) for k, v in out.items()}
    return {"median_s": med, "tokens": info,
            "speedup": {t: med[f"turn{t}_cold"] / med[f"turn{t}_reuse"] for t in (2, 3)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--quick", action="store_true", help="2 repeats, 48 tokens")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.tokens = 2, 48
    C.start("bench_generate")
    model = tiny_model()
    from notebooklm_local.services.llama_runtime import build_info

    info = build_info()
    print(f"model {model.name}; llama-cpp-python {info.version}, backend {info.backend}")

    g = bench_tokens_per_s(model, args.tokens, args.repeats, args.n_ctx)
    print(f"\n1. generation tok/s (median of {args.repeats}, {args.tokens} tokens)")
    print(C.table([["raw llama-cpp-python", g["tok_s"]["raw"], 1.0], ["ours (LlamaCppEngine)", g["tok_s"]["ours"],
                                                                      g["ratio"]]],
                  ["implementation", "tok/s", "x raw"]))
    print(f"   x raw = median of the per-repeat ratios (ratio of the medians: {g['ratio_of_medians']:.3f}); "
          f"goal >= 0.98: {'met' if g['ratio'] >= 0.98 else 'NOT met'}")

    f = bench_first_token(model, args.repeats, args.n_ctx)
    m = f["median"]
    print(f"\n2. question -> first token (median of {args.repeats}; embedder: {Path(f['embedder']).name})")
    print(C.table([[k, m[k] * 1000] for k in ("rewrite", "retrieval", "prompt_build", "prompt_eval", "first_token")],
                  ["phase", "ms"]))
    print(f"   prompt tokens: {m['prompt_tokens']:.0f}; raw llama-cpp-python time to first token on the same "
          f"prompt: {f['raw_ttft_s'] * 1000:.1f} ms")
    print(f"   our overhead (first token - prompt eval): {f['overhead_s'] * 1000:.1f} ms; goal <= 50 ms: "
          f"{'met' if f['overhead_s'] <= 0.05 else 'NOT met'}")

    s = bench_second_turn(model, args.repeats, args.n_ctx)
    print("\n3. prompt eval of later chat turns: KV prefix snapshots vs evaluating everything")
    rows = []
    for t in (2, 3):
        tk = s["tokens"][f"turn{t}"]
        rows.append([f"turn {t}, reuse ({tk['restored']} of {tk['prompt_tokens']} tokens restored)",
                     s["median_s"][f"turn{t}_reuse"] * 1000, s["speedup"][t]])
        rows.append([f"turn {t}, cold (baseline)", s["median_s"][f"turn{t}_cold"] * 1000, 1.0])
    print(C.table(rows, ["turn", "prompt eval ms", "x faster"]))
    C.write_results("bench_generate", {"args": vars(args), "tokens_per_s": g, "first_token": f, "second_turn": s})


if __name__ == "__main__":
    main()
