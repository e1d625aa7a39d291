"""Citation health (issue 14 part 7): supported share, flags by kind, citations whose span no longer
matches the source, over stored answers and studio outputs."""

from __future__ import annotations

from typing import Any

from notebooklm_local.core.health import citation_health, flag_kind

TEXT = "Paris is the capital of France. Berlin is the capital of Germany."


def _cit(sid: str, a: int, b: int) -> dict[str, Any]:
    return {"source_id": sid, "source_title": "Capitals", "start": a, "end": b, "quote": TEXT[a:b]}


ANSWER = {"sentences": [
    {"text": "Paris is the capital of France. [1]", "citations": [1], "supported": True, "flag": ""},
    {"text": "Here is what I found:", "citations": [], "supported": True, "flag": ""},
    {"text": "Madrid is the capital of France. [1]", "citations": [1], "supported": False,
     "flag": "\u201cMadrid\u201d does not occur in the cited passage", "check": "entity"},
    {"text": "Paris has 9 million people. [1]", "citations": [1], "supported": False,
     "flag": "the number(s) 9 million do not occur in the cited passage"},  # an older record: no "check"
], "citations": [_cit("s1", 0, 31)]}
SUMMARY = {"answer": {"sentences": [
    {"text": "Berlin is Germany's capital. [2]", "citations": [2], "supported": True, "flag": ""},
    {"text": "Bananas are blue.", "citations": [], "supported": False, "flag": "no citation"}],
    "citations": [_cit("s1", 32, 65), _cit("gone", 0, 5)]}}
PODCAST = {"script": {"lines": [
    {"speaker": "A", "text": "Which city?", "citations": [], "supported": True, "flag": ""},
    {"speaker": "B", "text": "Paris, in France [1].", "citations": [1], "supported": True, "flag": ""}],
    "citations": [_cit("s1", 0, 31)]}}


def test_health_counts_sentences_flags_and_stale_spans() -> None:
    def source_text(sid: str) -> str | None:
        return TEXT if sid == "s1" else None

    rep = citation_health([("answer", ANSWER), ("summary", SUMMARY), ("podcast", PODCAST),
                           ("flashcards", {"cards": []}), ("answer", {"not_found": True})], source_text)
    assert rep.answers == 1 and rep.outputs == 2
    assert rep.sentences == 6 and rep.supported == 3  # fillers and questions claim nothing
    assert dict(rep.flags) == {"entity": 1, "number": 1, "citation": 1}
    assert rep.citations == 4 and rep.missing_sources == 1 and rep.stale == []
    assert rep.to_json()["supported_share"] == 0.5

    # the source was edited and re-indexed: the stored spans now hold other text
    def edited(sid: str) -> str | None:
        return "Intro. " + TEXT if sid == "s1" else None

    rep = citation_health([("answer", ANSWER), ("summary", SUMMARY)], edited)
    assert len(rep.stale) == 2 and rep.stale[0]["quote"] == TEXT[0:31]


def test_flag_kind_reads_old_flag_texts() -> None:
    assert flag_kind({"flag": "it says \u201cnot\u201d where the source does not"}) == "negation"
    assert flag_kind({"flag": "it says \u201cmore\u201d where the source says \u201cless\u201d"}) == "direction"
    assert flag_kind({"flag": "its quote does not occur in the cited passage"}) == "quote"
    assert flag_kind({"flag": "the cited passage [1] does not support it"}) == "support"
    assert flag_kind({"flag": "x", "check": "unit"}) == "unit"
