"""Quotes mode (answers quoted from the sources, nothing generated): answer@needle, abstention, latency.

The corpus .txt files are ingested with our pipeline (as in bench_retrieval.py: LibraryService.add, the
MiniLM GGUF embedder, default chunking). Each question of bench/data/quotes_qa.json is asked the way
``ChatService.ask(mode="quotes")`` answers it: hybrid retrieval (top_k from the default settings), the
relevance gate, then :func:`notebooklm_local.core.quotes.select_quotes` with the embedder.

* answerable questions name a corpus file and a short verbatim "needle" of the answering sentence: the
  answer is right when one quoted sentence (whitespace-normalised) contains the needle;
* unanswerable questions (near misses, wrong entity, other domains, other languages) should abstain.

The abstention threshold is a constant in core/quotes.py; this script prints the confusion table at that
constant and sweeps thresholds over the measured confidences (with and without the semantic score), so
the constant can be chosen from the data. Time "after retrieval" is select_quotes + building the cited
answer; retrieval time is reported separately. Finally every question is asked once more end to end
through ChatService.ask(mode="quotes") with an engine that fails if it is used.

    .venv/bin/python bench/bench_quotes.py [--workdir /tmp/qb] [-v]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C
from bench_retrieval import open_service

QA = Path(__file__).resolve().parent / "data" / "quotes_qa.json"
NB = "Q"


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


class NoEngine:
    """Fails the run if quotes mode touches the generative engine."""

    path = None

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"quotes mode used the engine ({name})")


def sweep(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Abstention figures for every threshold between the measured confidences."""
    confs = sorted({round(r[key], 4) for r in rows} | {0.0})
    out = []
    for t in confs:
        out.append(confusion(rows, key, t))
    return out


def confusion(rows: list[dict[str, Any]], key: str, t: float) -> dict[str, Any]:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    # "abstain" is the positive class: precision = abstentions that were right, recall = unanswerable caught
    tp = sum(1 for r in una if r["gated"] or r[key] < t)
    fp = sum(1 for r in ans if r["gated"] or r[key] < t)
    fn, tn = len(una) - tp, len(ans) - fp
    right = sum(1 for r in ans if not (r["gated"] or r[key] < t) and r[f"{key}_hit"])
    prec = tp / (tp + fp) if tp + fp else 1.0
    rec = tp / len(una) if una else 1.0
    return {"threshold": t, "answered_right": right / len(ans) if ans else 0.0, "abstain_precision": prec,
            "abstain_recall": rec, "abstained_answerable": fp, "answered_unanswerable": fn,
            "abstained_unanswerable": tp, "answered_answerable": tn,
            "balanced_accuracy": (tp / max(1, len(una)) + tn / max(1, len(ans))) / 2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", help="keep the ingested library here and reuse it when it is complete")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every question's quotes")
    args = ap.parse_args()
    C.require_model()
    files = C.corpus_files()
    qa = json.loads(QA.read_text(encoding="utf-8"))["questions"]
    bad = [q["id"] for q in qa if q["answerable"] and (
        not (C.CORPUS / q["file"]).is_file()
        or norm(q["needle"]) not in norm((C.CORPUS / q["file"]).read_text(encoding="utf-8")))]
    if bad:
        raise SystemExit(f"questions whose file/needle is not in the corpus: {bad}")

    from notebooklm_local.core import quotes as Q
    from notebooklm_local.core.errors import NotebookError
    from notebooklm_local.core.library import SourceStatus
    from notebooklm_local.core.settings import ChatSettings
    from notebooklm_local.core.templates import TemplateStore
    from notebooklm_local.services.chat import ChatService

    C.start("bench_quotes")
    embedder = C.load_embedder()
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-quotes-"))
    t_start = time.perf_counter()
    try:
        lib = open_service(workdir, embedder)
        try:
            ready = [s for s in lib.sources(NB) if s.status == SourceStatus.READY]
        except NotebookError:
            lib.create_notebook(NB)
            ready = []
        ingest_s = None
        if len(ready) != len(files):
            for s in lib.sources(NB):
                lib.remove_source(s.id)
            a = time.perf_counter()
            report = lib.add(NB, [str(f) for f in files])
            ingest_s = time.perf_counter() - a
            if report.failed:
                raise SystemExit(f"ingest failed: {report.lines()}")
        n_chunks = lib.library.query("SELECT count(*) FROM chunks")[0][0]
        print(f"library: {len(files)} corpus files, {n_chunks} chunks"
              + (f", ingested in {ingest_s:.1f} s" if ingest_s is not None else " (reused)"))
        settings = ChatSettings(mode="quotes")
        chat = ChatService(lib, NoEngine(), TemplateStore(workdir / "tpl-defaults", workdir / "tpl"), settings)  # type: ignore[arg-type]

        rows: list[dict[str, Any]] = []
        retrieval_ms: list[float] = []
        after_ms: list[float] = []
        after_lex_ms: list[float] = []
        for q in qa:
            a = time.perf_counter()
            hits = lib.search(NB, q["question"], k=settings.top_k)
            retrieval_ms.append((time.perf_counter() - a) * 1000)
            gated = not hits or not chat._relevant(hits)
            row: dict[str, Any] = {"id": q["id"], "answerable": q["answerable"], "gated": gated,
                                   "sem": 0.0, "lex": 0.0, "sem_hit": False, "lex_hit": False}
            if not gated:
                needle = norm(q.get("needle", "")) if q["answerable"] else None
                for key, use_embed in (("sem", True), ("lex", False)):
                    a = time.perf_counter()
                    if use_embed:
                        res = chat.quotes_for(q["question"], hits, threshold=0.0)
                    else:
                        from notebooklm_local.services.chat import _passage

                        passages = [_passage(i + 1, h) for i, h in enumerate(hits)]
                        res = Q.select_quotes(q["question"], passages, similarities=[h.similarity for h in hits],
                                              threshold=0.0)
                    Q.quoted_answer(res)
                    (after_ms if use_embed else after_lex_ms).append((time.perf_counter() - a) * 1000)
                    row[key] = res.confidence
                    texts = [norm(x.text) for x in res.quotes]
                    row[f"{key}_hit"] = bool(needle) and any(needle in t for t in texts)
                    row[f"{key}_first_hit"] = bool(needle) and bool(texts) and needle in texts[0]
                    row[f"{key}_quotes"] = [t[:160] for t in texts]
                    row[f"{key}_n"] = len(texts)
                    if key == "sem":
                        row["needle_retrieved"] = bool(needle) and any(needle in norm(h.chunk.text) for h in hits)
            rows.append(row)
            if args.verbose:
                flag = "ANS" if q["answerable"] else "UNA"
                print(f"{flag} {q['id']:28s} sem={row['sem']:.3f} hit={row['sem_hit']!s:5s} "
                      f"lex={row['lex']:.3f} hit={row['lex_hit']!s:5s} gated={gated}")
                if q["answerable"] and not row["sem_hit"]:
                    print(f"      Q: {q['question']}\n      needle: {q.get('needle')}  retrieved="
                          f"{row.get('needle_retrieved')}")
                    for t in row.get("sem_quotes", []):
                        print(f"      > {t}")

        ans = [r for r in rows if r["answerable"]]
        una = [r for r in rows if not r["answerable"]]
        print(f"\n{len(ans)} answerable, {len(una)} unanswerable questions; top_k={settings.top_k}, "
              f"max quotes {Q.MAX_QUOTES}, semantic candidates {Q.SEMANTIC_CANDIDATES}")
        ceiling = sum(1 for r in ans if r.get("needle_retrieved")) / len(ans)
        summary: dict[str, Any] = {"needle_retrieved": ceiling}
        for key, thr in (("sem", Q.ABSTAIN_THRESHOLD), ("lex", Q.ABSTAIN_THRESHOLD_LEXICAL)):
            no_abstain = sum(1 for r in ans if r[f"{key}_hit"]) / len(ans)
            first = sum(1 for r in ans if r.get(f"{key}_first_hit")) / len(ans)
            at = confusion(rows, key, thr)
            sw = sweep(rows, key)
            best = max(sw, key=lambda d: (d["balanced_accuracy"], d["answered_right"]))
            summary[key] = {"answer_at_needle_no_abstention": no_abstain, "first_quote_has_needle": first,
                            "at_constant": at, "best_balanced": best, "sweep": sw}
            name = "with semantic score" if key == "sem" else "lexical + retrieval only (no embedder)"
            print(f"\n== {name}")
            print(f"answer@needle without abstention: {no_abstain:.3f} (first quote: {first:.3f}; needle in the "
                  f"retrieved chunks: {ceiling:.3f})")
            print(f"at the threshold constant {thr}: answer@needle {at['answered_right']:.3f}, abstention precision "
                  f"{at['abstain_precision']:.3f}, recall {at['abstain_recall']:.3f}")
            print(C.table([["answerable", at["answered_answerable"], at["abstained_answerable"]],
                           ["unanswerable", at["answered_unanswerable"], at["abstained_unanswerable"]]],
                          ["", "answered", "abstained"]))
            print(f"best balanced accuracy {best['balanced_accuracy']:.3f} at threshold {best['threshold']} "
                  f"(answer@needle {best['answered_right']:.3f}, abstain P {best['abstain_precision']:.3f} "
                  f"R {best['abstain_recall']:.3f})")
            for d in sw:
                if args.verbose:
                    print(f"   t={d['threshold']:.4f} right={d['answered_right']:.3f} P={d['abstain_precision']:.3f} "
                          f"R={d['abstain_recall']:.3f} bal={d['balanced_accuracy']:.3f}")
        lat = {"retrieval_ms_p50": C.pct(retrieval_ms, 50), "retrieval_ms_p95": C.pct(retrieval_ms, 95),
               "after_retrieval_ms_p50": C.pct(after_ms, 50), "after_retrieval_ms_p95": C.pct(after_ms, 95),
               "after_retrieval_lexical_ms_p50": C.pct(after_lex_ms, 50),
               "after_retrieval_lexical_ms_p95": C.pct(after_lex_ms, 95)}
        print("\n" + C.table([["retrieval (hybrid search)", lat["retrieval_ms_p50"], lat["retrieval_ms_p95"]],
                              ["after retrieval (quotes, with embedder)", lat["after_retrieval_ms_p50"],
                               lat["after_retrieval_ms_p95"]],
                              ["after retrieval (quotes, lexical only)", lat["after_retrieval_lexical_ms_p50"],
                               lat["after_retrieval_lexical_ms_p95"]]], ["ms", "p50", "p95"]))

        # end to end through ChatService.ask (the engine must not be touched)
        e2e: list[float] = []
        agree = 0
        for q, r in zip(qa, rows, strict=True):
            res = chat.ask(NB, q["question"], mode="quotes", new_session=True)
            e2e.append((res.timings["total_s"] - res.timings["retrieval_s"]) * 1000)
            answered = not res.answer.not_found
            agree += answered == (not r["gated"] and r["sem"] >= Q.ABSTAIN_THRESHOLD)
            for c in res.answer.citations:
                text, _ = lib.library.source_text(c.source_id)
                assert text[c.start:c.end] == c.quote, (q["id"], c)
        print(f"\nend to end (ChatService.ask, mode=quotes): {agree}/{len(qa)} decisions as above; after retrieval "
              f"p50 {C.pct(e2e, 50):.1f} ms, p95 {C.pct(e2e, 95):.1f} ms; every citation's quote is the source text")
        lat["e2e_after_retrieval_ms_p50"] = C.pct(e2e, 50)
        lat["e2e_after_retrieval_ms_p95"] = C.pct(e2e, 95)
        print(f"\ntotal benchmark wall time {time.perf_counter() - t_start:.0f} s")
        for key in ("sem", "lex"):
            summary[key].pop("sweep") if not args.verbose else None
        C.write_results("bench_quotes", {"n_answerable": len(ans), "n_unanswerable": len(una), "n_chunks": n_chunks,
                                         "ingest_s": ingest_s, "summary": summary, "latency": lat,
                                         "per_question": rows})
        lib.library.close()
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
