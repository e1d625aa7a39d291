"""Grounding checks on the calibration set (issue 14): the old checker vs the new one, per claim kind.

bench/data/grounding_calibration.json holds hand-written claims, each with the passage(s) it cites,
labelled supported (faithful paraphrase, two passages combined) or unsupported (swapped entity,
swapped number/unit, negation, reversed comparison, wrong attribution, unrelated). This prints a
confusion table per kind for

* **old**: the checker as of commit be0943a (content-word overlap >= 0.5, numbers must occur; a frozen
  copy is below, ``old_verdict``);
* **new, lexical**: ``core/grounding.py`` without an embedder (names/acronyms, numbers with units,
  polarity, direction, overlap);
* **new + MiniLM**: the same with the built-in embedder's semantic signal (what the app runs).

Targets (issue 14): flag >= 95% of swapped entities, numbers and negations; accept >= 90% of faithful
paraphrases. ``-v`` lists every wrong verdict with its flag. ``--sweep`` prints the semantic threshold
sweep the constant in core/grounding.py was chosen from.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as C
from notebooklm_local.core import grounding as G
from notebooklm_local.core.citations import Passage, verify_sentences
from notebooklm_local.core.textutil import content_words, split_sentences

DATA = Path(__file__).resolve().parent / "data" / "grounding_calibration.json"
KINDS = [("para", "faithful paraphrase"), ("comb", "two passages combined"), ("ent", "swapped entity"),
         ("num", "swapped number / unit"), ("neg", "negation / polarity"), ("cmp", "reversed comparison"),
         ("attr", "wrong attribution"), ("unrel", "unrelated")]
SUPPORTED = {"para", "comb"}


# ---------------------------------------------------------------------------------------------
# The old checker, frozen (notebooklm_local/core/citations.py at be0943a: _best_quote, _numbers and the
# non-quote branch of _check), so the comparison stays valid while the real one changes.

def _old_numbers(text: str) -> set[str]:
    import re

    return {n.replace(",", "") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}


def _old_best_quote(claim: str, passage: str) -> float:
    claim_words = set(content_words(claim))
    best = 0.0
    if not claim_words:
        return best
    for a, b in split_sentences(passage) or [(0, len(passage))]:
        sw = set(content_words(passage[a:b]))
        best = max(best, len(claim_words & sw) / len(claim_words))
    return best


def old_verdict(claim: str, passages: Sequence[str]) -> tuple[bool, str]:
    claim_words = set(content_words(claim))
    best = 0.0
    for p in passages:
        whole = len(claim_words & set(content_words(p))) / len(claim_words) if claim_words else 1.0
        best = max(best, _old_best_quote(claim, p), whole * 0.9)
    cited = " ".join(passages)
    if claim_words and len(passages) > 1:
        best = max(best, len(claim_words & set(content_words(cited))) / len(claim_words) * 0.9)
    missing = _old_numbers(claim) - _old_numbers(cited)
    if missing:
        return False, f"the number(s) {', '.join(sorted(missing))} do not occur in the cited passage"
    return (best >= 0.5), ("" if best >= 0.5 else "the cited passage does not support it")


# ---------------------------------------------------------------------------------------------

def new_verdict(claim: str, passages: Sequence[str], similarity: G.Similarity | None) -> tuple[bool, str, str]:
    ps = [Passage(i + 1, i, f"s{i}", f"p{i}", t, 0, len(t)) for i, t in enumerate(passages)]
    s = verify_sentences([(claim, [p.pid for p in ps])], ps, similarity)[0][0]
    return s.supported, s.flag, s.check


def table(rows: list[dict[str, Any]], key: str) -> list[list[Any]]:
    out = []
    for kind, label in KINDS:
        rs = [r for r in rows if r["kind"] == kind]
        if not rs:
            continue
        passed = sum(1 for r in rs if r[key])
        flagged = len(rs) - passed
        if kind in SUPPORTED:
            out.append([f"{label} (supported)", len(rs), passed, flagged, f"{passed / len(rs):.0%} accepted"])
        else:
            out.append([f"{label} (unsupported)", len(rs), passed, flagged, f"{flagged / len(rs):.0%} flagged"])
    sup = [r for r in rows if r["kind"] in SUPPORTED]
    uns = [r for r in rows if r["kind"] not in SUPPORTED]
    acc = (sum(1 for r in sup if r[key]) + sum(1 for r in uns if not r[key])) / len(rows)
    out.append(["all", len(rows), sum(1 for r in rows if r[key]), sum(1 for r in rows if not r[key]),
                f"{acc:.1%} right"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-v", "--verbose", action="store_true", help="list every wrong verdict with its flag")
    ap.add_argument("--no-embedder", action="store_true", help="lexical checks only (no MiniLM)")
    ap.add_argument("--sweep", action="store_true", help="print the semantic threshold sweep")
    args = ap.parse_args()
    data = json.loads(DATA.read_text(encoding="utf-8"))
    passages = {k: v["text"] for k, v in data["passages"].items()}
    claims = data["claims"]
    C.start("bench_grounding")
    sim = None
    if not args.no_embedder:
        from notebooklm_local.services.grounding import embedder_similarity

        if C.MODEL.is_file():
            sim = embedder_similarity(C.load_embedder())
        else:
            print(f"(no MiniLM at {C.MODEL}: lexical checks only)")
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for c in claims:
        texts = [passages[p] for p in c["passages"]]
        old_ok, old_flag = old_verdict(c["claim"], texts)
        lex_ok, lex_flag, lex_check = new_verdict(c["claim"], texts, None)
        row = {**c, "old": old_ok, "old_flag": old_flag, "lex": lex_ok, "lex_flag": lex_flag, "lex_check": lex_check}
        if sim is not None:
            sem_ok, sem_flag, sem_check = new_verdict(c["claim"], texts, sim)
            sents = [s for t in texts for a, b in split_sentences(t) for s in [t[a:b]]]
            row.update(sem=sem_ok, sem_flag=sem_flag, sem_check=sem_check,
                       cos=max(sim(c["claim"], sents), default=0.0))
        rows.append(row)
    dt = time.perf_counter() - t0
    print(f"{len(claims)} claims over {len(passages)} passages; checked in {dt:.2f} s "
          f"({dt / len(claims) * 1000:.1f} ms a claim, all three checkers)\n")
    header = ["kind", "n", "passed", "flagged", "rate"]
    for key, title in [("old", "OLD checker (be0943a: overlap >= 0.5 + numbers)"),
                       ("lex", "NEW checker, lexical only (no embedder)")] + (
            [("sem", f"NEW checker + MiniLM semantic signal (cos >= {G.SEMANTIC_THRESHOLD})")] if sim else []):
        print(title)
        print(C.table(table(rows, key), header))
        print()
    key = "sem" if sim else "lex"
    by = {k: [r for r in rows if r["kind"] == k] for k, _ in KINDS}
    checks: dict[str, int] = {}
    for r in rows:
        if not r[key]:
            checks[r[f"{key}_check"]] = checks.get(r[f"{key}_check"], 0) + 1
    print("flags by check (new):", ", ".join(f"{k or 'none'} {v}" for k, v in sorted(checks.items())))
    targets = [("ent", False, 0.95), ("num", False, 0.95), ("neg", False, 0.95), ("para", True, 0.90)]
    for k, want_pass, target in targets:
        rs = by[k]
        rate = sum(1 for r in rs if r[key] == want_pass) / len(rs)
        print(f"target {k}: {'accept' if want_pass else 'flag'} >= {target:.0%}: {rate:.1%} "
              f"{'MET' if rate >= target else 'NOT MET'}")
    if args.sweep and sim:
        print("\nsemantic threshold sweep (claims whose verdict hinges on it: lexical support below 0.5)")
        for t in [0.5, 0.55, 0.58, 0.6, 0.62, 0.65, 0.7, 0.75]:
            saved = G.SEMANTIC_THRESHOLD
            G.SEMANTIC_THRESHOLD = t
            try:
                res = {k: new_verdict_rate(by[k], passages, sim) for k, _ in KINDS}
            finally:
                G.SEMANTIC_THRESHOLD = saved
            print(f"  {t:.2f}: " + ", ".join(f"{k} {v:.0%}" for k, v in res.items()))
    if args.verbose:
        print("\nwrong verdicts (new):")
        for r in rows:
            want = r["kind"] in SUPPORTED
            if r[key] != want:
                cos = f" cos={r['cos']:.2f}" if "cos" in r else ""
                print(f"  {r['id']} [{r['kind']}] {'flagged' if want else 'passed'}{cos}: {r['claim']}"
                      + (f"\n      flag: {r[f'{key}_flag']}" if r[f"{key}_flag"] else ""))
    C.write_results("bench_grounding", {
        "claims": len(rows),
        "tables": {k: table(rows, k) for k in (["old", "lex", "sem"] if sim else ["old", "lex"])},
        "rows": [{k: v for k, v in r.items() if k != "claim"} for r in rows],
        "semantic_threshold": G.SEMANTIC_THRESHOLD, "semantic_floor": G.SEMANTIC_FLOOR,
    })


def new_verdict_rate(rows: list[dict[str, Any]], passages: dict[str, str], sim: G.Similarity) -> float:
    """Share of ``rows`` with the right verdict (accepted when supported, flagged when not)."""
    right = 0
    for r in rows:
        ok = new_verdict(r["claim"], [passages[p] for p in r["passages"]], sim)[0]
        right += ok == (r["kind"] in SUPPORTED)
    return right / len(rows) if rows else 0.0


if __name__ == "__main__":
    main()
