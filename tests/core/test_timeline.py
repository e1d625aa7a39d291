"""The model-free timeline and data table (``core/timeline.py``): dates found (and numbers that only look like
years refused), events cited to exact spans, deduplicated and sorted; numeric facts with a named subject;
Markdown / CSV / JSON exports; sources without dates say so."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from notebooklm_local.core.documents import Block
from notebooklm_local.core.extractive_json import result_from_json
from notebooklm_local.core.timeline import (
    NO_DATES,
    NO_FACTS,
    data_table,
    find_dates,
    find_quantities,
    timeline,
)
from tests.core.test_extractive import QUANT, material, paragraphs

HISTORY = """The company was founded in 1998 by two students. It went public on 12 March 2004 after a long delay.

Revenue doubled in Q3 2023, the best quarter so far. The first office opened in March 2001 in a garage.

Between 2005 and 2008 the team grew from ten to four hundred people. On 2024-03-12 the new model shipped.

In the 1990s the web grew quickly. The original adapter was introduced in 2019 (Houlsby et al., 2019).

Most variants of LLMs are decoder-only (Radford et al., 2019). GPT-3 was released in May 2020 with 175B parameters."""

NOT_YEARS = """The context holds 2048 tokens and each embedding has 1536 dimensions. A 2048-token window is small.
Run it on an RTX 2080 or an RTX 4090; see page 1999 of the manual. Version 2023.1 fixed the bug.
Batch sizes of 512, 1024, 2048 are common. The product was x = 2048 * 4 in the test.
It used 1000 tokens per request and cost $1999 in total. Chapter 1984 is fiction. Set top 2000 results.
The port 2019 is open. It took 1800 ms to load 1900 images."""


def test_explicit_dates_with_precision() -> None:
    got = [(d.text, d.label, d.precision) for d in find_dates(HISTORY)]
    assert ("1998", "1998", "year") in got
    assert ("12 March 2004", "2004-03-12", "day") in got
    assert ("Q3 2023", "Q3 2023", "quarter") in got
    assert ("March 2001", "Mar 2001", "month") in got
    assert ("Between 2005 and 2008", "2005\u20132008", "range") in got
    assert ("2024-03-12", "2024-03-12", "day") in got
    assert ("1990s", "1990s", "decade") in got
    assert ("May 2020", "May 2020", "month") in got
    assert sum(1 for t, _, _ in got if t == "2019") == 3  # "in 2019" and two author-year citations
    for d in find_dates(HISTORY):
        assert HISTORY[d.start : d.end] == d.text


@pytest.mark.parametrize("text", [
    "March 5, 2021 was a Friday.", "On 5 March 2021 it rained.", "the 3rd quarter of 2021 was slow",
    "the war lasted 1998\u20132001 in total", "from 1998 to 2001 we worked", "In 1776 it was signed.",
])
def test_more_date_forms(text: str) -> None:
    assert find_dates(text), text


def test_numbers_that_are_not_years_are_refused() -> None:
    assert find_dates(NOT_YEARS) == [], [d.text for d in find_dates(NOT_YEARS)]
    for text in ("The model may 2024 tokens", "Invalid 2024-02-30 date", "31 February 2020 is no day",
                 "1500 people came", "Gemma 3 has 1000 layers.", "It scored 2015.5 points."):
        assert not find_dates(text), text


def test_timeline_cites_exact_spans_sorted_and_deduplicated() -> None:
    src = material("hist", paragraphs(HISTORY), title="History")
    twin = material("copy", paragraphs(HISTORY.split("\n\n")[0]), title="Copy")  # the same passage again
    tl = timeline([src, twin], title="Timeline")
    keys = [e.date.key for e in tl.events]
    assert keys == sorted(keys) and tl.events
    for e in tl.events:
        s = src if e.citation.source_id == "hist" else twin
        assert s.text[e.citation.start : e.citation.end] == e.text
        assert e.date.start >= e.citation.start and e.date.end <= e.citation.end
        assert s.text[e.date_span[0] : e.date_span[1]] == e.date.text
        p = next(p for p in s.passages if p.chunk_id == e.citation.chunk_id)
        assert p.text[e.chunk_span[0] : e.chunk_span[1]] == e.text
    founded = [e for e in tl.events if e.date.label == "1998"]
    assert len(founded) == 1 and len(founded[0].also) == 1 and founded[0].also[0].source_id == "copy"
    assert tl.events[0].date.label == "1990s"
    labels = [e.date.label for e in tl.events]
    assert labels.index("1998") < labels.index("Mar 2001") < labels.index("2004-03-12") < labels.index("2024-03-12")
    # one sentence with one year twice ("in 2019 (Houlsby et al., 2019)") is one event
    assert sum(1 for e in tl.events if "Houlsby" in e.text) == 1
    one = timeline([material("m", [Block("The Transformer was introduced in June 2017 (Vaswani et al., 2017) "
                                         "and BERT in 2018.")])])
    assert [e.date.label for e in one.events] == ["Jun 2017", "2018"]  # the year 2017 adds nothing


def test_long_sentence_is_trimmed_around_its_date() -> None:
    text = ("word " * 150) + "and in 1987 the bridge opened to traffic " + ("more " * 150) + "end."
    tl = timeline([material("long", [Block(text)])])
    (e,) = tl.events
    assert len(e.text) <= 330 and "1987" in e.text and e.display.startswith("\u2026") and e.display.endswith("\u2026")
    assert text[e.citation.start : e.citation.end] == e.text


def test_sources_without_dates_say_so() -> None:
    tl = timeline([material("q", paragraphs(QUANT.replace("in 2023", "long ago")))])
    assert tl.events == [] and NO_DATES in tl.to_markdown() and tl.text == NO_DATES
    assert timeline([]).events == []
    assert list(csv.reader(io.StringIO(tl.to_csv())))[1:] == []


def test_timeline_exports(tmp_path: Path) -> None:
    src = material("hist", paragraphs(HISTORY), title="History | of =things")
    tl = timeline([src], title="Timeline \u2014 History")
    md = tl.to_markdown()
    assert "| Date | Event | Source |" in md and "[^1]" in md and "\n[^1]: History \\| of =things" in md
    rows = list(csv.DictReader(io.StringIO(tl.to_csv())))
    assert len(rows) == len(tl.events)
    assert rows[0]["source"] == "History | of =things" and rows[0]["quote"] and rows[0]["iso"]
    assert all(r["supported"] == "yes" for r in rows)
    back = result_from_json("timeline", json.loads(json.dumps(tl.to_json())))
    assert [e.to_json() for e in back.events] == [e.to_json() for e in tl.events]
    assert back.to_markdown() == md


def test_csv_cells_cannot_be_formulas() -> None:
    src = material("f", paragraphs("=HYPERLINK(\"x\") said in 1999 that the plan was good."), title="=cmd|' /C calc'!A0")
    rows = list(csv.reader(io.StringIO(timeline([src]).to_csv())))
    assert rows[1][4].startswith("'=") and rows[1][3].startswith("'=")


def test_quantities() -> None:
    got = [(q.text, q.unit) for q in find_quantities(
        "GPT-3 has 175B parameters, costs $4.6 million, uses 4.8 bits, 30% less and 14 GB; in the 1960s; Llama 2 models.")]
    assert ("175B parameters", "parameters") in got and ("$4.6 million", "USD") in got and ("4.8 bits", "bits") in got
    assert ("30%", "%") in got and ("14 GB", "GB") in got
    assert not any("1960" in t or t.startswith("2") for t, _ in got)


def test_data_table_rows_have_a_subject_and_a_quantity_in_one_sentence() -> None:
    text = ("GPT-3 has 175B parameters and was trained on 300 billion tokens. Mistral 7B needs about 14 GB of memory. "
            "It is about 30% faster. Twitter was acquired for $44 billion.")
    src = material("t", [Block(text)], title="Facts")
    dt = data_table([src])
    rows = {(r.subject, r.quantity) for r in dt.rows}
    assert ("GPT-3", "175B parameters") in rows and ("Twitter", "$44 billion") in rows
    assert any(r.subject.startswith("Mistral") and r.quantity == "14 GB" for r in dt.rows)
    assert not any(r.quantity == "30%" for r in dt.rows)  # "It" is no subject: no row
    for r in dt.rows:
        assert text[r.citation.start : r.citation.end] == r.sentence
        assert r.subject in r.sentence and r.quantity in r.sentence
    md = dt.to_markdown()
    assert "| Subject | Quantity | Context | Source |" in md and "[^1]:" in md
    csv_rows = list(csv.DictReader(io.StringIO(dt.to_csv())))
    assert csv_rows[0]["source"] == "Facts" and csv_rows[0]["quote"]
    back = result_from_json("data_table", dt.to_json())
    assert [r.to_json() for r in back.rows] == [r.to_json() for r in dt.rows]


def test_data_table_without_facts_says_so() -> None:
    dt = data_table([material("n", [Block("Nothing here has a number with a unit, only words and ideas.")])])
    assert dt.rows == [] and NO_FACTS in dt.to_markdown()


def test_timeline_is_fast_on_a_big_source() -> None:
    import time

    text = "\n\n".join(f"In {1900 + i % 120} the town built bridge number {i} with 40 workers." for i in range(6000))
    src = material("big", paragraphs(text))
    t0 = time.perf_counter()
    tl = timeline([src])
    assert time.perf_counter() - t0 < 5.0
    assert len(tl.events) == 1000 and tl.notes and "left out" in tl.notes[0]
