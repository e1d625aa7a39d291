"""Citation health of a notebook (issue 14): over its stored chat answers and studio outputs, the share of
sentences supported, the flags by kind, and the citations whose span no longer matches the source text
(after a re-index or an edit of the source). Pure Python; ``services``/the CLI feed it stored records."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from notebooklm_local.core.textutil import normalize_for_match

__all__ = ["HealthReport", "citation_health", "flag_kind"]


def flag_kind(sentence: dict[str, Any]) -> str:
    """The check that flagged a stored sentence (its ``check``; older records: read from the flag text)."""
    if sentence.get("check"):
        return str(sentence["check"])
    flag = str(sentence.get("flag", ""))
    for kind, pattern in (("citation", r"^no citation|names no passage"), ("number", r"number\(s\)"),
                          ("unit", r"another unit"), ("quote", r"quote"), ("entity", r"does not occur|do not occur"),
                          ("negation", r"where the source does not|leaves out the source"),
                          ("direction", r"where the source says|reverses the comparison")):
        if re.search(pattern, flag):
            return kind
    return "support"


@dataclass
class HealthReport:
    answers: int = 0  # chat answers looked at
    outputs: int = 0  # studio outputs looked at
    sentences: int = 0  # sentences that claim something
    supported: int = 0
    flags: Counter[str] = field(default_factory=Counter)
    citations: int = 0
    stale: list[dict[str, Any]] = field(default_factory=list)  # citations whose span no longer matches
    missing_sources: int = 0  # citations of sources that are gone

    @property
    def supported_share(self) -> float:
        return self.supported / self.sentences if self.sentences else 1.0

    def to_json(self) -> dict[str, Any]:
        return {"answers": self.answers, "outputs": self.outputs, "sentences": self.sentences,
                "supported": self.supported, "supported_share": round(self.supported_share, 4),
                "flags": dict(self.flags.most_common()), "citations": self.citations,
                "stale_citations": self.stale, "missing_sources": self.missing_sources}


def _sentences_and_citations(kind: str, payload: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if kind == "answer":
        return list(payload.get("sentences", [])), list(payload.get("citations", []))
    if kind == "summary":
        a = payload.get("answer", {})
        return list(a.get("sentences", [])), list(a.get("citations", []))
    if kind == "cod":
        sents: list[dict[str, Any]] = []
        cits: list[dict[str, Any]] = []
        for s in payload.get("steps", []):
            c = s.get("citations", {}) or {}
            sents += c.get("sentences", [])
            cits += c.get("citations", [])
        return sents, cits
    if kind == "podcast":
        script = payload.get("script", {})
        lines = [{"text": ln.get("text", ""), "supported": ln.get("supported", True), "flag": ln.get("flag", ""),
                  "citations": ln.get("citations", [])} for ln in script.get("lines", [])]
        return lines, list(script.get("citations", []))
    if kind in ("timeline", "data_table") and payload.get("generated"):  # rows the model wrote, each checked
        rows = payload.get("events" if kind == "timeline" else "rows", [])
        items = [{"text": r.get("event") or f"{r.get('subject', '')} {r.get('quantity', '')}",
                  "supported": r.get("supported", False), "flag": r.get("flag", ""),
                  "citations": [r.get("citation", {}).get("passage_id", 0)]} for r in rows]
        return items, [r.get("citation", {}) for r in rows]
    return [], []


def citation_health(records: Iterable[tuple[str, dict[str, Any]]],
                    source_text: Callable[[str], str | None]) -> HealthReport:
    """``records``: (kind, payload) with kind "answer" (a chat answer's payload) or a studio kind (summary,
    cod, podcast, a generated timeline or data table; others are skipped). ``source_text(source_id)``: the source's current text, None if gone."""
    rep = HealthReport()
    texts: dict[str, str | None] = {}
    for kind, payload in records:
        sents, cits = _sentences_and_citations(kind, payload or {})
        if kind == "answer":
            if payload.get("not_found"):
                continue
            rep.answers += 1
        elif kind in ("summary", "cod", "podcast") or (kind in ("timeline", "data_table") and sents):
            rep.outputs += 1
        else:
            continue
        for s in sents:
            if not re.search(r"\w\w", str(s.get("text", ""))):
                continue
            if not s.get("citations") and s.get("supported", False):
                continue  # "Here is what I found:", a host's question: claims nothing
            rep.sentences += 1
            if s.get("supported"):
                rep.supported += 1
            else:
                rep.flags[flag_kind(s)] += 1
        for c in cits:
            sid = str(c.get("source_id", ""))
            if not sid:
                continue
            rep.citations += 1
            if sid not in texts:
                texts[sid] = source_text(sid)
            text = texts[sid]
            if text is None:
                rep.missing_sources += 1
                continue
            a, b = int(c.get("start", 0)), int(c.get("end", 0))
            quote = str(c.get("quote", ""))
            if not quote or normalize_for_match(text[a:b]) != normalize_for_match(quote):
                if normalize_for_match(quote) and normalize_for_match(quote) in normalize_for_match(text[a:b]):
                    continue  # the span holds the quote (a quote trimmed of surrounding space)
                rep.stale.append({"source_id": sid, "source_title": c.get("source_title", ""), "start": a, "end": b,
                                  "quote": quote[:200], "kind": kind})
    return rep
