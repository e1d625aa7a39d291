"""Quotes mode's core (core/quotes.py): verbatim sentence spans, scoring, MMR, abstention, bounds."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import pytest

from notebooklm_local.core import quotes as Q
from notebooklm_local.core.citations import Passage
from notebooklm_local.core.quotes import ABSTAIN_TEXT, quoted_answer, select_quotes, split_passage

SOURCE = """# Volcanoes

Magma rises through the crust and erupts as lava, e.g. at Mount Etna. Basalt forms when lava cools quickly,
within hours rather than the 3.5 million years granite can take. The Kilauea
volcano in Hawaii has erupted almost continuously since 1983.

## Links

https://example.org/volcanoes
- [USGS volcano hazards](https://www.usgs.gov/programs/VHP)
- Pumice floats on water because it is full of gas bubbles.
- Obsidian is volcanic glass.

Key facts:
  • Lava can reach temperatures of 1,200 degrees Celsius.
"""


def passage(text: str, pid: int = 1, *, source: str = "s1", start: int = 0, chunk: int | None = None) -> Passage:
    return Passage(pid, chunk if chunk is not None else pid, source, f"Source {source}", text, start,
                   start + len(text), page=None)


def test_sentences_are_exact_spans_without_markers_headings_or_links() -> None:
    spans = split_passage(SOURCE)
    sents = [SOURCE[a:b] for a, b in spans]
    for (a, b), s in zip(spans, sents, strict=True):
        assert SOURCE[a:b] == s == s.strip()
    joined = " ".join(" ".join(s.split()) for s in sents)
    assert "e.g. at Mount Etna." in joined  # "e.g." does not end a sentence
    assert "the 3.5 million years granite can take." in joined  # nor does a decimal; a wrapped line goes on
    assert any(s.startswith("The Kilauea\nvolcano in Hawaii") for s in sents)  # hard-wrapped: one sentence
    assert "Pumice floats on water because it is full of gas bubbles." in sents  # bullet marker left out
    assert not any(s.startswith(("#", "-", "\u2022", "http", "[")) for s in sents)  # headings, links, markers
    assert not any(s == "Volcanoes" or s == "Links" for s in sents)
    # a colon introduction is quoted with the item it introduces; a short sentence with the one before it
    assert any(s.startswith("Key facts:") and "1,200 degrees" in s for s in sents)
    assert "Pumice floats on water because it is full of gas bubbles." in sents


def test_every_quote_and_citation_is_the_source_text() -> None:
    text = "Intro line that says little at all here.\n\n" + SOURCE
    src_offset = 1000
    p = passage(text, start=src_offset)
    res = select_quotes("Why does pumice float on water?", [p], threshold=0.0)
    assert not res.abstained and res.quotes
    assert "Pumice floats on water" in res.quotes[0].text
    answer, cited = quoted_answer(res)
    assert len(answer.sentences) == len(answer.citations) == len(cited) == len(res.quotes)
    for i, (s, c, q) in enumerate(zip(answer.sentences, answer.citations, res.quotes, strict=True), start=1):
        assert s.citations == [i] and c.passage_id == i and s.supported
        assert text[q.start : q.end] == q.text == c.quote
        assert text[c.start - src_offset : c.end - src_offset] == c.quote  # offsets are in the source
        assert cited[i - 1].start <= c.start <= c.end <= cited[i - 1].end


def test_mmr_removes_near_duplicates_from_overlapping_chunks() -> None:
    s1 = "Basalt forms when lava cools quickly at the surface of the earth."
    s2 = "Basalt forms when the lava cools quickly at the surface of the planet."
    s3 = "Granite forms when magma cools slowly deep underground over millions of years."
    text_a, text_b = f"{s1} {s3}", f"{s2} {s1}"
    a = passage(text_a, 1, source="A")
    b = passage(text_b, 2, source="B")
    res = select_quotes("How does basalt form when lava cools?", [a, b], threshold=0.0, max_quotes=3)
    texts = [q.text for q in res.quotes]
    assert texts[0] in (s1, s2)
    assert not ({s1, s2} <= set(texts)), "near-duplicate sentences quoted twice"
    assert texts.count(s1) <= 1


def test_the_same_sentence_in_two_overlapping_chunks_is_one_candidate() -> None:
    text = "Alpha particles are helium nuclei. Beta particles are electrons. Gamma rays are photons of high energy."
    first = passage(text[:63], 1, start=500)
    second = passage(text[35:], 2, start=535)
    res = select_quotes("What are beta particles made of?", [first, second], threshold=0.0)
    assert len(res.passages) == 1  # the overlapping chunks were joined
    assert sum(1 for c in res.candidates if "Beta particles" in c.text) == 1
    answer, cited = quoted_answer(res)
    assert answer.citations[0].quote.startswith("Alpha particles are helium nuclei. Beta")  # (joined: too short)


def test_a_sentence_cut_by_the_chunk_boundary_is_completed_from_the_source() -> None:
    source = "Lead. Double quantization quantizes\nthe quantization constants themselves to save memory. Next one."
    cut = source.index("\nthe")
    p = passage(source[:cut], 1, start=0)

    def context(source_id: str, start: int, end: int) -> str | None:
        assert source_id == "s1"
        return source[max(0, start) : end]

    res = select_quotes("What does double quantization quantize?", [p], threshold=0.0, context=context)
    answer, cited = quoted_answer(res)
    assert "constants themselves to save memory." in answer.citations[0].quote
    c = answer.citations[0]
    assert source[c.start : c.end] == c.quote and cited[0].end >= c.end


def test_abstains_on_an_unrelated_question() -> None:
    p = passage(SOURCE)
    res = select_quotes("What is the best recipe for a chocolate cake with strawberries?", [p])
    assert res.abstained and not res.quotes
    answer, cited = quoted_answer(res)
    assert answer.not_found and answer.text == ABSTAIN_TEXT and not answer.citations and cited == []


def test_a_one_sentence_notebook() -> None:
    p = passage("The Eiffel Tower is 330 metres tall.")
    res = select_quotes("How tall is the Eiffel Tower?", [p])
    assert not res.abstained
    answer, _ = quoted_answer(res)
    assert answer.citations[0].quote == "The Eiffel Tower is 330 metres tall."
    assert answer.sentences[0].text == "The Eiffel Tower is 330 metres tall. [1]"


@pytest.mark.parametrize("text", ["", "   \n\n\t  ", "# Only a heading", "- \n- \n", "ok."])
def test_empty_whitespace_or_fragment_passages(text: str) -> None:
    res = select_quotes("What is in here?", [passage(text)], embed=lambda ts: [[1.0, 0.0] for _ in ts])
    assert res.abstained and res.quotes == []
    assert quoted_answer(res)[0].not_found
    assert select_quotes("anything", []).abstained


def test_a_huge_passage_is_bounded_in_time() -> None:
    sentence = "Sentence number {} talks about volcanoes and lava flows in some detail."
    huge = " ".join(sentence.format(i) for i in range(100_000))  # 100k sentences, ~7 MB
    t0 = time.perf_counter()
    res = select_quotes("Which sentence talks about lava flows?", [passage(huge)] * 3, threshold=0.0)
    assert time.perf_counter() - t0 < 2.0
    assert res.quotes and res.n_sentences <= Q.MAX_CANDIDATES


def test_non_english_question() -> None:
    p = passage("The Titanic wreckage lies at a depth of 3800 meters. Emperor penguins dive to 345 meters.")
    res = select_quotes("Quelle est la profondeur de l'épave du Titanic ?", [p], threshold=0.0)
    assert res.quotes and "Titanic" in res.quotes[0].text  # matched on the name and "de"/"la" ignored
    assert select_quotes("Wie backt man ein Roggenbrot mit Sauerteig?", [p]).abstained


def _bow(texts: Sequence[str]) -> list[list[float]]:
    """A tiny bag-of-words 'embedder' for the semantic path (deterministic, no model)."""
    vocab = ["lava", "basalt", "cool", "granite", "pumice", "float", "glass"]
    out = []
    for t in texts:
        v = [float(t.lower().count(w)) for w in vocab] + [0.1]
        n = math.sqrt(sum(x * x for x in v))
        out.append([x / n for x in v])
    return out


def test_semantic_scores_are_used_for_a_bounded_number_of_candidates() -> None:
    calls: list[int] = []

    def embed(texts: Sequence[str]) -> list[list[float]]:
        calls.append(len(texts))
        return _bow(texts)

    res = select_quotes("Why does pumice float?", [passage(SOURCE)], embed=embed, threshold=0.0, semantic_candidates=3)
    assert res.semantic and calls == [4]  # the question + 3 sentences, in one call
    assert sum(1 for c in res.candidates if c.semantic is not None) == 3
    assert "Pumice" in res.quotes[0].text
    assert set(res.to_json()) >= {"abstained", "confidence", "threshold", "quotes", "candidates", "timings"}

    def broken(texts: Sequence[str]) -> list[list[float]]:
        raise RuntimeError("embedder down")

    res2 = select_quotes("Why does pumice float?", [passage(SOURCE)], embed=broken, threshold=0.0)
    assert not res2.semantic and "Pumice" in res2.quotes[0].text  # falls back to lexical + retrieval


def test_the_passage_heading_as_a_plain_line_is_never_a_quote() -> None:
    # a chunk's text holds its heading as a plain line; a question repeating it must get the answer, not the title
    text = ("Maximum length of a string or BLOB\n\nThe maximum number of bytes in a string or BLOB is set by the "
            "macro SQLITE_MAX_LENGTH, one billion by default. Raising it is not wise in security-sensitive code.")
    p = Passage(1, 1, "s1", "Limits", text, 0, len(text), heading="Limits In SQLite \u203a Maximum length of a string or BLOB")
    res = select_quotes("What is the maximum length of a string or BLOB?", [p], threshold=0.0)
    assert res.quotes and res.quotes[0].text.startswith("The maximum number of bytes")
    assert all(q.text != "Maximum length of a string or BLOB" for q in res.quotes)
    without_heading = Passage(1, 1, "s1", "Limits", text, 0, len(text))
    assert select_quotes("What is the maximum length of a string or BLOB?", [without_heading], threshold=0.0).quotes


STORAGE = """Each value stored in the database has one of the following storage classes:

- NULL. The value is a NULL value.
- INTEGER. The value is a signed integer, stored in 0, 1, 2, 3, 4, 6, or 8 bytes depending on the magnitude.
- REAL. The value is a floating point value, stored as an 8-byte IEEE floating point number.
- TEXT. The value is a text string, stored using the database encoding.
"""


def test_a_list_under_its_lead_in_is_quoted_with_it_and_each_item_whole() -> None:
    sents = [STORAGE[a:b] for a, b in split_passage(STORAGE)]
    # the introduction with its first items, whole (not cut after the third sentence, "INTEGER.")
    assert sents[0].startswith("Each value stored") and sents[0].endswith("8-byte IEEE floating point number.")
    # and every item on its own, its label kept with what follows it
    assert "INTEGER. The value is a signed integer, stored in 0, 1, 2, 3, 4, 6, or 8 bytes depending on the magnitude." in sents
    assert "TEXT. The value is a text string, stored using the database encoding." in sents
    res = select_quotes("Which storage class holds a signed integer?", [passage(STORAGE)], threshold=0.0)
    assert "INTEGER. The value is a signed integer" in res.quotes[0].text
    # the introduction with its list and an item of it overlap: never both quoted (no text twice)
    assert all(not (q.start < r.end and r.start < q.end) for q in res.quotes for r in res.quotes if q is not r)


def test_a_passage_ending_with_a_lead_in_is_completed_with_what_it_introduces() -> None:
    source = ("WAL is faster in most cases. But there are also disadvantages:\n\n"
              "1. All processes using a database must be on the same host computer.\n"
              "2. WAL might be very slightly slower than the rollback journal.\n")
    cut = source.index("\n\n1.")
    p = passage(source[:cut], 1, start=0)
    res = select_quotes("What are the disadvantages of WAL?", [p], threshold=0.0,
                        context=lambda _sid, start, end: source[max(0, start) : end])
    answer, _ = quoted_answer(res)
    assert any("same host computer" in c.quote for c in answer.citations)
    c = answer.citations[0]
    assert source[c.start : c.end] == c.quote


def test_an_identifier_matches_the_words_it_is_made_of() -> None:
    assert {"last", "insert", "rowid"} <= set(Q._keys("There is a function named sqlite3_last_insert_rowid()."))
    text = ("Each table has a ROWID column unless it is declared WITHOUT ROWID in its definition. "
            "There is a function named sqlite3_last_insert_rowid() which returns the key of the most recent insert.")
    res = select_quotes("How do I get the rowid of the last inserted row?", [passage(text)], threshold=0.0)
    assert "sqlite3_last_insert_rowid" in res.quotes[0].text
