"""Model-free outputs (core/extractive.py, core/cards.py, core/mindmap.py): every item is a verbatim source
sentence whose citation resolves to its exact span; blanks, distractors, mind-map links and exports are
checked; edge cases and a 100k-sentence source stay bounded. Texts are generated here."""

from __future__ import annotations

import csv
import io
import random
import re
import time
import xml.etree.ElementTree as ET

import pytest

from notebooklm_local.core.cards import BLANK, cloze_cards, find_spans, multiple_choice
from notebooklm_local.core.chunking import chunk_document
from notebooklm_local.core.citations import Passage
from notebooklm_local.core.documents import Block, LoadedDocument
from notebooklm_local.core.extractive import (
    LABEL,
    Corpus,
    Extract,
    SourceMaterial,
    extractive_summary,
    key_quotes,
    sentence_spans,
)
from notebooklm_local.core.extractive_json import result_from_json
from notebooklm_local.core.mindmap import mind_map

_ids = iter(range(1, 10_000_000))


def material(source_id: str, blocks: list[Block], *, kind: str = "text", title: str = "") -> SourceMaterial:
    doc = LoadedDocument.from_blocks(kind, title or source_id, blocks)
    chunks = chunk_document(doc)
    ps = [Passage(i + 1, next(_ids), source_id, doc.title, c.text, c.start, c.end, c.page, c.page_end, c.t_start,
                  " \u203a ".join(c.heading_path)) for i, c in enumerate(chunks)]
    bl = [{"start": b.start, "end": b.end, "kind": b.kind, "page": b.page, "heading_path": list(b.heading_path),
           "t_start": b.t_start} for b in doc.blocks]
    return SourceMaterial(source_id, doc.title, doc.text, ps, bl, kind)


def paragraphs(text: str) -> list[Block]:
    return [Block(p) for p in re.split(r"\n\s*\n", text) if p.strip()]


QUANT = """Quantization stores model weights in fewer bits. A model with 7 billion parameters needs about 14 GB in 16-bit floats.
At 4 bits per weight the same model needs about 4 GB, which fits a laptop.

The GGUF file format used by llama.cpp records the quantization type of every tensor. Common types are Q4_K_M and Q8_0.
K-quants group weights into blocks of 256 and store one scale per block, which keeps the error small.

Offloading puts some transformer layers on the GPU while the others stay on the CPU. Prompt evaluation is much faster on a GPU because it processes many tokens in parallel.
Token generation is limited by memory bandwidth rather than by compute. A laptop with 16 GB of memory can run an 8 GB model.

Georgi Gerganov started llama.cpp in 2023. The project now supports CUDA, Metal and Vulkan backends for GPU offloading.
Many users run Mistral models and Llama models with 8 bits per weight when quality matters more than speed."""

RAG_BLOCKS = [
    Block("Retrieval primer", "heading", heading_path=("Retrieval primer",)),
    Block("Why retrieval", "heading", heading_path=("Retrieval primer", "Why retrieval")),
    Block("A language model only knows its training data and cannot say where a claim came from. Retrieval "
          "augmented generation searches trusted documents and puts the best passages into the prompt. "
          "The model then answers only from those passages and cites them.",
          heading_path=("Retrieval primer", "Why retrieval")),
    Block("Chunking", "heading", heading_path=("Retrieval primer", "Chunking")),
    Block("Documents are cut into chunks of a few hundred tokens. Good chunkers follow the structure of the "
          "document, such as pages, sections and transcript cues. Each chunk keeps an anchor back to its source "
          "so that a citation can open the exact passage.", heading_path=("Retrieval primer", "Chunking")),
    Block("Hybrid search", "heading", heading_path=("Retrieval primer", "Hybrid search")),
    Block("Dense retrieval embeds the question and every chunk as vectors and ranks chunks by cosine similarity. "
          "Lexical retrieval with BM25 ranks chunks by the terms they share with the question. Reciprocal rank "
          "fusion (RRF) combines both rankings with a constant of about 60.",
          heading_path=("Retrieval primer", "Hybrid search")),
]

TALK_CUES = [
    Block("Welcome everyone. Today we talk about local-first software and why it matters for research tools.",
          "cue", t_start=0.0, t_end=6.5),
    Block("Local-first means your data lives on your own machine first. The cloud is only a copy.", "cue",
          t_start=6.5, t_end=14.0),
    Block("There are three benefits. Privacy means your notes never leave your computer unless you decide so.",
          "cue", t_start=14.0, t_end=22.0),
    Block("Speed means nothing waits for a server. Longevity means the app keeps working when a company shuts "
          "down a service.", "cue", t_start=22.0, t_end=30.5),
    Block("Quantized models changed everything. A four-bit model of a few billion parameters now runs on a "
          "laptop with 8 GB of memory.", "cue", t_start=30.5, t_end=40.0),
]


@pytest.fixture
def corpus() -> Corpus:
    return Corpus([
        material("quant", paragraphs(QUANT), title="Quantization notes"),
        material("rag", RAG_BLOCKS, kind="markdown", title="Retrieval primer"),
        material("talk", TALK_CUES, kind="transcript", title="Local-first talk"),
    ])


def resolves(corpus: Corpus, x: Extract) -> None:
    """The citation points at the sentence: source text at its span, chunk text at its chunk span."""
    c = x.citation
    src = next(s for s in corpus.sources if s.source_id == c.source_id)
    assert src.text[c.start : c.end] == x.text
    passage = next(p for p in src.passages if p.chunk_id == c.chunk_id)
    a, b = x.chunk_span
    assert passage.start + a == c.start
    assert passage.text[a:b] == x.text[: b - a] and b - a == len(x.text)  # (all test sentences fit one chunk)
    assert c.quote == " ".join(x.text.split())


# ---------------------------------------------------------------------------------------------
# Sentences


def test_sentence_spans_are_exact() -> None:
    text = ("Dr. Smith measured 3.5 GB, e.g. on a laptop. It worked!  Did it? Yes [1].\n\n"
            "- A bullet item without an end\n- Another item.\n\n## Heading\n\n\u6a21\u578b\u5f88\u5c0f\u3002"
            "\u5b83\u8dd1\u5f97\u5f88\u5feb\u3002")
    spans = sentence_spans(text)
    got = [text[a:b] for a, b in spans]
    assert got == ["Dr. Smith measured 3.5 GB, e.g. on a laptop.", "It worked!", "Did it?", "Yes [1].",
                   "A bullet item without an end", "Another item.", "Heading", "\u6a21\u578b\u5f88\u5c0f\u3002",
                   "\u5b83\u8dd1\u5f97\u5f88\u5feb\u3002"]


def test_sentence_spans_are_linear() -> None:
    one_paragraph = " ".join(f"Sentence number {i} talks about topic {i % 97}." for i in range(100_000))
    t0 = time.perf_counter()
    spans = sentence_spans(one_paragraph)
    assert len(spans) == 100_000
    assert time.perf_counter() - t0 < 5


# ---------------------------------------------------------------------------------------------
# Summary and quotes


def test_summary_cites_every_sentence_and_covers_sections(corpus: Corpus) -> None:
    s = extractive_summary(corpus, "medium")
    assert s.label == LABEL and s.items
    for x in s.items:
        resolves(corpus, x)
    # document order inside each source, every source represented, within the budget
    for src in s.sources:
        starts = [x.citation.start for x in src.items]
        assert starts == sorted(starts)
    assert {src.source_id for src in s.sources} == {"quant", "rag", "talk"}
    assert s.words <= s.budget_words * 1.15
    # the Markdown document's sections are its headings (the shared title heading left out)
    rag = next(src for src in s.sources if src.source_id == "rag")
    titles = [sec.title for sec in rag.sections]
    assert set(titles) <= {"Why retrieval", "Chunking", "Hybrid search"} and len(titles) >= 2
    # headings themselves are never extracted
    assert not any(x.display in ("Why retrieval", "Chunking", "Hybrid search") for x in s.items)
    # transcript sentences carry their cue's timestamp
    talk = next(src for src in s.sources if src.source_id == "talk")
    assert all(x.citation.t_start is not None for x in talk.items)
    for x in talk.items:
        cue = next(b for b in TALK_CUES if x.display in b.text)
        assert x.citation.t_start == cue.t_start


def test_summary_lengths_grow(corpus: Corpus) -> None:
    short, long_ = extractive_summary(corpus, "short"), extractive_summary(corpus, "long")
    assert 0 < short.words <= long_.words
    assert len({x.citation.passage_id for x in long_.items}) == len(long_.items)


def test_key_quotes_are_complete_sentences(corpus: Corpus) -> None:
    q = key_quotes(corpus, 3)
    assert len(q.groups) == 3
    for g in q.groups:
        assert 1 <= len(g.quotes) <= 3
        for x in g.quotes:
            resolves(corpus, x)
            assert x.display[0].isupper() and x.display[-1] in ".!?"
            assert len(x.display.split()) >= 6


# ---------------------------------------------------------------------------------------------
# Cards and quiz


def test_find_spans_types() -> None:
    text = "Georgi Gerganov started llama.cpp in 2023 and GGUF files need about 14 GB at 16 bits."
    spans = {(s.type, s.text) for s in find_spans(text)}
    assert ("entity", "Georgi Gerganov") in spans
    assert ("year", "2023") in spans and ("acronym", "GGUF") in spans
    assert ("number", "14 GB") in spans and ("number", "16 bits") in spans
    for s in find_spans(text):
        assert text[s.start : s.end] == s.text


def test_cloze_cards(corpus: Corpus) -> None:
    deck = cloze_cards(corpus, 8)
    assert 1 <= len(deck.cards) <= 8
    answers = [c.answer.casefold() for c in deck.cards]
    assert len(set(answers)) == len(answers)
    assert len({c.id for c in deck.cards}) == len(deck.cards)
    for c in deck.cards:
        resolves(corpus, c.sentence)
        a, b = c.answer_span
        assert c.sentence.text[a:b] == c.answer  # the blank really is in the sentence
        assert BLANK in c.front and c.answer not in c.front.replace(BLANK, "", 1) or c.answer in c.front
        assert c.front.replace(BLANK, c.answer, 1) == c.sentence.display
        assert "{{c1::" + c.answer + "}}" in c.cloze
    rows = list(csv.reader(io.StringIO(deck.to_csv())))
    assert rows[0][:4] == ["front", "back", "source", "location"]
    assert len(rows) == len(deck.cards) + 1
    assert all(r[1] == c.answer and r[2] == c.citation.source_title for r, c in zip(rows[1:], deck.cards,
                                                                                       strict=True))


def test_quiz_distractors_same_type_and_deterministic(corpus: Corpus) -> None:
    quiz = multiple_choice(corpus, 6, seed=3)
    assert quiz.questions
    for q in quiz.questions:
        resolves(corpus, q.card.sentence)
        assert len(q.options) == 4 and len({o.casefold() for o in q.options}) == 4
        assert q.options[q.correct] == q.answer
        assert q.explanation == q.card.sentence.display
        for ref, opt in zip(q.distractor_refs, [o for k, o in enumerate(q.options) if k != q.correct], strict=False):
            del opt
            src = next(s for s in corpus.sources if s.source_id == ref["source_id"])
            assert src.text[ref["start"] : ref["end"]] == ref["text"]  # taken from the sources
        for k, o in enumerate(q.options):
            if k == q.correct:
                continue
            assert o.casefold() != q.answer.casefold()
            assert not re.search(r"(?<!\w)" + re.escape(o) + r"(?!\w)", q.card.sentence.text, re.IGNORECASE)
            kinds = {s.type for s in find_spans(o + " x")} | ({"term"} if o.islower() else set())
            if q.card.answer_type == "number":
                assert any(s.type == "number" and s.unit == q.card.unit for s in find_spans(o))
            elif q.card.answer_type == "year":
                assert re.fullmatch(r"\d{4}", o)
            elif q.card.answer_type == "acronym":
                assert sum(ch.isupper() for ch in o) >= 2
            elif q.card.answer_type == "entity":
                assert o[0].isupper()
            else:
                assert "term" in kinds
    again = multiple_choice(corpus, 6, seed=3)
    assert [q.options for q in again.questions] == [q.options for q in quiz.questions]
    rows = list(csv.reader(io.StringIO(quiz.to_csv())))
    assert len(rows) == len(quiz.questions) + 1 and rows[0][0] == "question"


def test_quiz_numbers_get_numbers_with_the_same_unit() -> None:
    text = " ".join(f"The {name} server has {n} GB of memory and runs {m} services every day."
                    for name, n, m in [("alpha", 16, 12), ("beta", 32, 14), ("gamma", 64, 18), ("delta", 128, 22),
                                       ("omega", 256, 30)])
    c = Corpus([material("servers", paragraphs(text))])
    quiz = multiple_choice(c, 5)
    nums = [q for q in quiz.questions if q.card.answer_type == "number"]
    assert nums
    for q in nums:
        units = {s.unit for o in q.options for s in find_spans(o) if s.type == "number"}
        assert len(units) == 1


# ---------------------------------------------------------------------------------------------
# Mind map


def test_mind_map_headings_and_clusters(corpus: Corpus) -> None:
    mm = mind_map(corpus, title="My notebook")
    root = mm.root
    assert root.kind == "notebook" and root.label == "My notebook"
    assert [c.kind for c in root.children] == ["source", "source", "source"]
    chunk_ids = {p.chunk_id for s in corpus.sources for p in s.passages}
    for n in mm.nodes:
        for r in n.refs:
            assert r.chunk_id in chunk_ids
        if n.kind == "point":
            assert n.citation is not None and n.citation.chunk_id in chunk_ids
            src = next(s for s in corpus.sources if s.source_id == n.citation.source_id)
            assert " ".join(src.text[n.citation.start : n.citation.end].split()) == n.label
    rag = next(c for c in root.children if c.label == "Retrieval primer")
    labels = [n.label for n in rag.walk() if n.kind == "heading"]
    assert {"Why retrieval", "Chunking", "Hybrid search"} <= set(labels)
    heading_nodes = [n for n in rag.walk() if n.kind == "heading" and n.label == "Chunking"]
    assert heading_nodes[0].refs  # linked to its passages
    # OPML and Markdown outline
    opml = ET.fromstring(mm.to_opml().split("\n", 1)[1])
    assert opml.tag == "opml" and opml.find("head/title").text == "My notebook"
    texts = [o.get("text") for o in opml.iter("outline")]
    assert "Chunking" in texts and len(texts) == len(mm.nodes)
    md = mm.to_markdown()
    refs = set(re.findall(r"\[\^(\d+)\](?!:)", md))
    defs = set(re.findall(r"^\[\^(\d+)\]:", md, re.MULTILINE))
    assert refs == defs and refs


def test_mind_map_clusters_without_headings() -> None:
    rng = random.Random(1)
    topics = {"roses": "roses prune bud thorn petal garden bloom", "engines": "engine piston fuel cylinder torque",
              "stars": "star galaxy orbit telescope nebula planet"}
    paras = []
    for _ in range(12):
        for _name, vocab in topics.items():
            w = vocab.split()
            paras.append(" ".join(f"The {rng.choice(w)} and the {rng.choice(w)} need a {rng.choice(w)} near the "
                                  f"{rng.choice(w)}." for _ in range(12)))
    c = Corpus([material("mixed", paragraphs("\n\n".join(paras)))])
    mm = mind_map(c, points=1)
    assert mm.root.kind == "source"  # one source: it is the root
    clusters = [n for n in mm.root.children if n.kind == "cluster"]
    assert len(clusters) >= 2 and all(n.phrases and n.refs for n in clusters)
    assert all(len(n.label) > 0 for n in clusters)


def test_mind_map_with_injected_vectors(corpus: Corpus) -> None:
    def vectors(ids: list[int]) -> list[list[float]]:
        return [[float(i % 3 == 0), float(i % 3 == 1), float(i % 3 == 2)] for i in ids]

    mm = mind_map(Corpus([corpus.sources[0]]), vectors=vectors)
    assert mm.nodes


# ---------------------------------------------------------------------------------------------
# Exports and JSON


def test_markdown_footnotes_resolve(corpus: Corpus) -> None:
    for result in (extractive_summary(corpus), key_quotes(corpus), cloze_cards(corpus, 5),
                   multiple_choice(corpus, 4)):
        md = result.to_markdown()
        assert LABEL in md
        refs = set(re.findall(r"\[\^(\d+)\](?!:)", md))
        defs = set(re.findall(r"^\[\^(\d+)\]:", md, re.MULTILINE))
        assert refs == defs and refs, type(result).__name__


def test_json_round_trip(corpus: Corpus) -> None:
    for result in (extractive_summary(corpus), key_quotes(corpus), cloze_cards(corpus, 5),
                   multiple_choice(corpus, 4), mind_map(corpus)):
        d = result.to_json()
        back = result_from_json(d["kind"], d)
        assert back.to_json() == d


# ---------------------------------------------------------------------------------------------
# Edge cases and bounds


def test_empty_and_tiny_sources() -> None:
    empty = SourceMaterial("empty", "Empty", "", [])
    blank = SourceMaterial("blank", "Blank", "   \n\n  ", [Passage(1, 1, "blank", "Blank", "   ", 0, 3)])
    c = Corpus([empty, blank])
    assert c.empty
    for result in (extractive_summary(c), key_quotes(c), cloze_cards(c, 5), multiple_choice(c, 5), mind_map(c)):
        assert result.to_markdown()
        assert not result.citations
    one = Corpus([material("one", [Block("Quantization stores weights of large models in fewer bits.")])])
    s = extractive_summary(one, "short")
    assert len(s.items) == 1
    resolves(one, s.items[0])
    assert len(key_quotes(one, 5).items) == 1
    assert len(cloze_cards(one, 5).cards) <= 1
    assert multiple_choice(one, 5).questions == []  # no distractors of the same kind exist
    assert mind_map(one).nodes


def test_non_english_sources() -> None:
    fr = ("La quantification stocke les poids du modèle avec moins de bits. Un modèle de sept milliards de "
          "paramètres occupe environ 4 Go en quatre bits. Le format GGUF enregistre le type de chaque tenseur. "
          "Les couches du modèle peuvent être déchargées sur le processeur graphique. " * 3)
    zh = "量化使用更少的比特存储模型权重。一个七十亿参数的模型在四比特下大约需要四GB内存。GGUF格式记录每个张量的类型。" * 3
    c = Corpus([material("fr", paragraphs(fr)), material("zh", paragraphs(zh))])
    s = extractive_summary(c, "short")
    assert {x.citation.source_id for x in s.items} == {"fr", "zh"}
    for x in s.items + key_quotes(c, 2).items:
        resolves(c, x)
    for card in cloze_cards(c, 5).cards:
        a, b = card.answer_span
        assert card.sentence.text[a:b] == card.answer
    assert mind_map(c).nodes


def _huge_source(n_sentences: int) -> SourceMaterial:
    rng = random.Random(7)
    vocab = [f"term{i}" for i in range(3000)]
    names = ["Alpha Labs", "Beta Corp", "Gamma Institute", "Delta Group"]
    parts = []
    for i in range(n_sentences):
        ws = " ".join(rng.choice(vocab) for _ in range(rng.randint(6, 14)))
        parts.append(f"{rng.choice(names)} reported {rng.randint(2, 900)} GB of {ws} in {1990 + i % 30}.")
        if i % 8 == 7:
            parts.append("\n\n")
    text = " ".join(parts)
    passages, start, pid = [], 0, 0
    while start < len(text):
        end = min(len(text), start + 800)
        if end < len(text):
            end = text.rfind(". ", start, end) + 1 or end
        pid += 1
        passages.append(Passage(pid, 900_000 + pid, "huge", "Huge", text[start:end], start, end))
        start = end
    return SourceMaterial("huge", "Huge", text, passages)


@pytest.mark.slow
def test_bounded_on_a_100k_sentence_source() -> None:
    src = _huge_source(100_000)
    t0 = time.perf_counter()
    c = Corpus([src])
    outputs = [extractive_summary(c, "long"), key_quotes(c, 5), cloze_cards(c, 20), multiple_choice(c, 10),
               mind_map(c)]
    elapsed = time.perf_counter() - t0
    assert c.n_spans >= 100_000 and len(c.sentences) <= 3000
    assert elapsed < 60, elapsed  # measured ~10 s on one core; generous for a loaded CI machine
    for o in outputs[:2]:
        for x in o.items:
            assert src.text[x.citation.start : x.citation.end] == x.text
    assert len(outputs[2].cards) == 20 and outputs[3].questions
