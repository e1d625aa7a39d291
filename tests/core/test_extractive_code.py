"""Code (a fenced block or <pre>, a ``code`` block) is indexed and shown, but never a point of the extracted
outputs: summary, key quotes, flashcards, quiz, mind map, timeline and data table skip it (a QA pass on
SQLite's docs had "SELECT b < 40 ... -- Numeric affinity ..." as a summary sentence and a mind-map node)."""

from __future__ import annotations

from notebooklm_local.core.cards import cloze_cards, multiple_choice
from notebooklm_local.core.documents import Block
from notebooklm_local.core.extractive import Corpus, extractive_summary, key_quotes
from notebooklm_local.core.mindmap import mind_map
from notebooklm_local.core.timeline import data_table, timeline
from tests.core.test_extractive import material

SQL = ("CREATE TABLE t1(a INTEGER, b NUMERIC, c TEXT);\nINSERT INTO t1 VALUES(1, 30, 'In 2004 the Numeric affinity "
       "applies to column b which holds 40 rows.');\nSELECT b < 40, c > 'Numeric' FROM t1; -- Numeric affinity "
       "is applied to 40 here, since column b has numeric affinity and the comparison converts it first.")
PATH = ("SQLite", "Type affinity")
BLOCKS = [
    Block("SQLite", "heading", heading_path=PATH[:1]),
    Block("Type affinity", "heading", heading_path=PATH),
    Block("SQLite version 3 was released in June 2004 with a new storage format. Each column in a SQLite 3 "
          "database is assigned one of five type affinities. The affinity of a column is the recommended type "
          "for data stored in that column.", heading_path=PATH),
    Block(SQL, "code", heading_path=PATH),
    Block("A column with NUMERIC affinity can store values using all five storage classes. When text data is "
          "inserted into a NUMERIC column, the storage class of the text is converted to INTEGER or REAL. "
          "Version 3.8 of SQLite added 12 new functions for comparisons in 2013.", heading_path=PATH),
    Block("Comparison expressions", "heading", heading_path=("SQLite", "Comparison expressions")),
    Block("SQLite version 3 has the usual set of SQL comparison operators including equals and less than. "
          "Affinity is applied to the operands of a comparison operator prior to the comparison. The results "
          "of a comparison depend on the storage classes of the operands.",
          heading_path=("SQLite", "Comparison expressions")),
]


def _code_span(src) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    (b,) = [b for b in src.blocks if b["kind"] == "code"]
    return b["start"], b["end"]


def test_no_output_takes_a_sentence_of_code() -> None:
    src = material("sql", BLOCKS, kind="web")
    a, b = _code_span(src)
    assert any(p.start <= a and b <= p.end or a <= p.start < b for p in src.passages)  # indexed: in a chunk
    outside = lambda x: not a <= x < b  # noqa: E731
    corpus = Corpus([src])
    assert corpus.sentences and all(outside(s.start) for s in corpus.sentences)
    summary = extractive_summary(corpus, "long")
    cited = [it.citation for sec in summary.sources[0].sections for it in sec.items]
    assert cited and all(outside(c.start) for c in cited)
    quotes = key_quotes(corpus, 10)
    assert quotes.items and all(outside(c.start) for c in quotes.citations)
    for card in cloze_cards(corpus, 20).cards:
        assert outside(card.citation.start)
    for q in multiple_choice(corpus, 10).questions:
        assert outside(q.citation.start)
    mm = mind_map(corpus, points=5)
    md = mm.to_markdown()
    assert "SELECT" not in md and "CREATE TABLE" not in md
    tl = timeline([src])
    assert tl.events and all(outside(e.citation.start) for e in tl.events)
    assert all("SELECT" not in e.text and "INSERT" not in e.text for e in tl.events)
    table = data_table([src])
    assert all(outside(r.citation.start) for r in table.rows)


def test_the_same_text_as_a_paragraph_is_a_candidate() -> None:
    """(old libraries: blocks stored before the ``code`` kind read as paragraphs, as before)"""
    blocks = [Block(b.text, "paragraph", heading_path=b.heading_path) if b.kind == "code" else b for b in BLOCKS]
    src = material("sql", blocks, kind="web")
    a, b = src.text.index("CREATE TABLE"), src.text.index("numeric affinity and")
    assert any(a <= s.start < b for s in Corpus([src]).sentences)
