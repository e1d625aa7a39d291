"""Studio wall times on the tiny model: a 5-step chain of density and a short podcast script, split into
prompt evaluation, generation and everything else; podcast audio render speed.

Each structured step runs under a JSON-schema grammar (one model call per CoD step; outline + one
call per podcast segment). The tiny Gemma 3 270M base model rarely passes the studio's checks, so
every workload runs twice:

* **checked** - the real service, with its checks and retries: what a user of the demo model gets
  (how many steps passed, how many attempts were rejected, the time it took);
* **unchecked** - the same pipeline with the checks made lenient (a rejected step is kept as is), so
  exactly 5 CoD calls / 1 + 3 podcast calls run: the wall time of the full workload at this model's speed.

Baseline in the same run: the model's own time (llama.cpp prompt evaluation + generation, summed over
the calls). "other" = wall - model time = our overhead (prompts, checks, citations, storage).
Audio: the unchecked script spoken by espeak-ng (seconds of audio per second of wall time) vs one raw
espeak-ng call on the same text (the floor).

    .venv/bin/python bench/bench_studio.py            # CoD 5 steps x 60 words, short podcast
    .venv/bin/python bench/bench_studio.py --quick    # 3 steps, no checked runs
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C


def setup(n_ctx: int, retries: int) -> tuple[Any, str, str]:
    from notebooklm_local.core.paths import AppPaths
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.extensions.sample import ensure_sample_notebook
    from notebooklm_local.services.models import ensure_default_model
    from notebooklm_local.workspace import open_library, open_studio

    root = Path(tempfile.mkdtemp(prefix="nbl-bench-studio-"))
    paths = AppPaths(root / "c", root / "d", root / "ca", root / "l").ensure()
    model_root = Path(tempfile.gettempdir()) / "nbl-bench-model"
    model = ensure_default_model(AppPaths(model_root / "c", model_root / "d", model_root / "ca",
                                          model_root / "l").ensure())
    settings = Settings()
    settings.model.path = str(model)
    settings.model.n_ctx = n_ctx
    settings.studio.retries = retries
    lib = open_library(paths, settings, with_index=False)  # lexical only: the studio reads chunks, not vectors
    name, _ = ensure_sample_notebook(lib)
    studio = open_studio(paths, settings, library=lib)
    t0 = time.perf_counter()
    info = studio.engine.info()
    print(f"model {info.model} loaded in {time.perf_counter() - t0:.2f}s ({info.backend}, n_ctx {info.n_ctx}, "
          f"format {info.chat_format})")
    nb = lib.library.notebook(name)
    source = next(s.id for s in lib.library.sources(nb.id) if s.kind == "text")
    return studio, name, source


def split(stats: dict[str, Any]) -> list[Any]:
    model = stats["prompt_eval_s"] + stats["generation_s"]
    return [stats["calls"], stats["failed_attempts"], stats["prompt_tokens"], stats["completion_tokens"],
            stats["prompt_eval_s"], stats["generation_s"], stats["other_s"], stats["wall_s"],
            stats["wall_s"] / model if model else float("nan")]


HEADER = ["run", "calls", "rejected", "prompt tok", "gen tok", "prompt eval s", "generation s", "other s", "wall s",
          "wall / model"]


class lenient:  # noqa: N801 - a context manager used like a function
    """Make the studio's checks keep whatever parses (the timing of the full workload, not its quality)."""

    def __enter__(self) -> lenient:
        from notebooklm_local.core import density
        from notebooklm_local.services.studio import cod, podcast

        self.saved = (cod.check_step, podcast._check_outline, podcast._check_dialogue)
        real_step, real_outline, real_dialogue = self.saved

        def step(data: Any, **kw: Any) -> Any:
            try:
                return real_step(data, **kw)
            except density.StepRejected:
                text = str(data.get("denser_summary", "")) if isinstance(data, dict) else ""
                ents, toks, dens = density.entity_density(text or "-")
                return density.CoDStep(kw["index"], text or "-", [], [], ents, toks, dens, notes=["unchecked"])

        def outline(data: Any, passages: Any, segments: int) -> Any:
            try:
                return real_outline(data, passages, segments)
            except ValueError:
                ids = [p.pid for p in passages][:2] or [1]
                return "Episode", [f"Segment {i + 1}" for i in range(segments)], [ids] * segments, ["unchecked"]

        def dialogue(data: Any, hosts: Any, passages: Any) -> Any:
            try:
                return real_dialogue(data, hosts, passages)
            except ValueError:
                items = data.get("lines", []) if isinstance(data, dict) else []
                out = [(str(i.get("speaker", hosts[0])), str(i.get("text", "")) or "...", []) for i in items
                       if isinstance(i, dict) and i.get("speaker") in hosts]
                return out or [(hosts[0], "...", []), (hosts[1], "...", [])]

        cod.check_step, podcast._check_outline, podcast._check_dialogue = step, outline, dialogue
        return self

    def __exit__(self, *exc: object) -> None:
        from notebooklm_local.services.studio import cod, podcast

        cod.check_step, podcast._check_outline, podcast._check_dialogue = self.saved


def run_cod(studio: Any, nb: str, source: str, steps: int, words: int) -> dict[str, Any]:
    from notebooklm_local.core.errors import StudioError

    t0 = time.perf_counter()
    try:
        r = studio.chain_of_density(nb, [source], steps=steps, words=words)
        return {"steps": len(r.steps), "failure": r.failure, "stats": r.stats.to_json(),
                "densities": [round(s.density, 3) for s in r.steps]}
    except StudioError as e:
        return {"steps": 0, "failure": str(e), "stats": None, "wall_s": time.perf_counter() - t0}


def run_podcast(studio: Any, nb: str) -> dict[str, Any]:
    from notebooklm_local.core.errors import StudioError

    t0 = time.perf_counter()
    try:
        r = studio.podcast_script(nb, length="short")
        return {"lines": len(r.script.lines), "flagged": len(r.script.unsupported), "stats": r.stats.to_json(),
                "script": r.script, "output": r.output.id}
    except StudioError as e:
        return {"lines": 0, "failure": str(e), "stats": None, "wall_s": time.perf_counter() - t0}


def bench_audio(studio: Any, script: Any) -> dict[str, Any] | None:
    if shutil.which("espeak-ng") is None:
        print("SKIP audio: espeak-ng is not installed")
        return None
    from notebooklm_local.core.podcast_script import Host, PodcastLine, PodcastScript

    lines = [ln for ln in script.utterances() if len(ln[1]) > 3]
    if len(lines) < 6:  # the tiny model's lines may be near-empty: speak a fixed 10-line dialogue instead
        base = ("Quantization stores weights in fewer bits, so a model needs less memory.",
                "How much quality does a four-bit model keep?",
                "Most of it: Q4_K_M keeps nearly all the quality at a quarter of the size.")
        script = PodcastScript("Fixed dialogue", [Host("Alex"), Host("Sam")], ["x"],
                               [PodcastLine(("Alex", "Sam")[i % 2], base[i % 3]) for i in range(10)])
    out = Path(tempfile.mkdtemp(prefix="nbl-bench-audio-")) / "episode.wav"
    res = studio.podcast_audio(script, out)
    text = " ".join(t for _, t in script.utterances())
    t0 = time.perf_counter()
    subprocess.run(["espeak-ng", "--stdin", "-w", str(out.with_name("raw.wav"))], input=text.encode(), check=True,
                   capture_output=True)
    raw_s = time.perf_counter() - t0
    import wave

    with wave.open(str(out.with_name("raw.wav"))) as w:
        raw_audio = w.getnframes() / w.getframerate()
    return {"lines": len(script.lines), "audio_s": res.duration_s, "render_s": res.render_s,
            "speed": res.duration_s / res.render_s, "raw_audio_s": raw_audio, "raw_s": raw_s,
            "raw_speed": raw_audio / raw_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--words", type=int, default=60)
    ap.add_argument("--n-ctx", type=int, default=4096)
    ap.add_argument("--retries", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="3 steps, unchecked runs only")
    args = ap.parse_args()
    if args.quick:
        args.steps = 3
    C.start("bench_studio")
    studio, nb, source = setup(args.n_ctx, args.retries)
    results: dict[str, Any] = {"args": vars(args)}
    rows = []
    with lenient():
        cod_u = run_cod(studio, nb, source, args.steps, args.words)
        pod_u = run_podcast(studio, nb)
    rows.append([f"CoD {args.steps} steps x {args.words} words, unchecked", *split(cod_u["stats"])[:]])
    rows.append(["podcast short (outline + 3 segments), unchecked", *split(pod_u["stats"])])
    results["cod_unchecked"] = cod_u
    results["podcast_unchecked"] = {k: v for k, v in pod_u.items() if k != "script"}
    if not args.quick:
        cod_c = run_cod(studio, nb, source, args.steps, args.words)
        pod_c = run_podcast(studio, nb)
        results["cod_checked"] = cod_c
        results["podcast_checked"] = {k: v for k, v in pod_c.items() if k != "script"}
        for label, r in ((f"CoD {args.steps} steps, checked", cod_c), ("podcast short, checked", pod_c)):
            if r["stats"] is not None:
                rows.append([label, *split(r["stats"])])
    print("\n1. studio workloads on the tiny model (model time = prompt eval + generation, measured by llama.cpp)")
    print(C.table(rows, HEADER))
    print(f"   CoD unchecked densities per step: {cod_u['densities']}")
    if not args.quick:
        c = results["cod_checked"]
        print(f"   CoD checked: {c['steps']} of {args.steps} steps passed"
              + (f"; stopped: {c['failure'][:300]}" if c["failure"] else ""))
        p = results["podcast_checked"]
        print(f"   podcast checked: {p['lines']} lines" + (f", {p['flagged']} flagged" if p.get("lines") else "")
              + (f"; failed: {p['failure'][:300]}" if p.get("failure") else ""))
    a = bench_audio(studio, pod_u["script"])
    if a is not None:
        print("\n2. podcast audio (espeak-ng): seconds of audio per second of wall time")
        print(C.table([["raw espeak-ng, whole text in one call (floor)", a["raw_audio_s"], a["raw_s"], a["raw_speed"], 1.0],
                       [f"ours, {a['lines']} lines, two voices, pauses", a["audio_s"], a["render_s"], a["speed"],
                        a["speed"] / a["raw_speed"]]],
                      ["run", "audio s", "wall s", "audio s / s", "x floor"]))
        results["audio"] = a
    studio.engine.close()
    C.write_results("bench_studio", results)


if __name__ == "__main__":
    main()
