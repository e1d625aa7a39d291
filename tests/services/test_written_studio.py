"""The generative mind map, flashcards and quiz (``services/studio/mindmap_gen.py``, ``cards_gen.py``) through
``StudioService.written``: a scripted engine that writes good output (JSON -> checked items -> stored output ->
exports; every shown citation resolves to a real span of its source), one that writes bad output (unsupported
answers regenerated once then dropped, a distractor equal to the answer rejected, unsupported concepts dropped),
garbage (a clear error, nothing stored), bad input (no sources selected), and the real tiny model once per
feature (it fails the checks: a clear refusal, nothing fake)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.cards import find_spans
from notebooklm_local.core.citations import Citation
from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.errors import NotebookError, StudioError
from notebooklm_local.core.llm import ChatMessage
from notebooklm_local.core.studio_store import StudioStore
from notebooklm_local.core.templates import TemplateStore
from notebooklm_local.core.textutil import split_sentences
from notebooklm_local.services.library_service import LibraryService
from notebooklm_local.services.studio.extractive import ExtractiveStudio
from notebooklm_local.services.studio.service import StudioService
from tests.helpers.scripted_engine import ScriptedEngine
from tests.services.test_library import make_service
from tests.services.test_studio_scripted import prompt_passages

TEA = ("Green tea leaves are steamed within hours of picking to stop oxidation. A cup of green tea holds about "
       "30 mg of caffeine.\n\n"
       "Black tea is fully oxidised before drying. Assam in India grows more than 600 million kg of tea a year.\n\n"
       "The Camellia sinensis plant can live for over 100 years. Darjeeling tea is picked in four flushes from March "
       "to November.")
QUANT = ("Quantization stores model weights in fewer bits. A 7B model quantized to 4 bits needs about 4 GB of "
         "memory.\n\n"
         "The GGUF format replaced GGML in August 2023. Georgi Gerganov published llama.cpp in March 2023.")


@pytest.fixture
def lib() -> LibraryService:
    svc = make_service(None)
    svc.create_notebook("Tea")
    assert not svc.add("Tea", [SourceRef(text=TEA, title="Tea"), SourceRef(text=QUANT, title="Quant")]).failed
    return svc


def _studio(lib: LibraryService, engine: Any, tmp_path: Path) -> StudioService:
    from notebooklm_local.workspace import resources_dir

    return StudioService(lib, engine, TemplateStore(resources_dir() / "templates", tmp_path / "tpl"))


def _resolves(lib: LibraryService, citations: Sequence[Citation]) -> None:
    assert citations
    for c in citations:
        text, _ = lib.library.source_text(c.source_id)
        assert c.quote.strip() and text[c.start : c.end] == c.quote, (c.quote, text[c.start : c.end])


# -- scripted "models" ------------------------------------------------------------------------------


def _facts(messages: Sequence[ChatMessage]) -> list[tuple[int, str, Any]]:
    """(passage id, sentence, a number or name span in it) for every sentence of the prompt's passages."""
    out = []
    for pid, _src, text in prompt_passages(messages):
        for a, b in split_sentences(text):
            sent = text[a:b].strip()
            spans = [s for s in find_spans(sent) if s.type in ("number", "entity", "acronym", "year")]
            if spans:
                out.append((pid, sent, spans[0]))
    return out


def good_cards(messages: Sequence[ChatMessage], schema: dict[str, Any] | None) -> dict[str, Any]:
    assert schema is not None
    key = "cards" if "cards" in schema["properties"] else "questions"
    cap = schema["properties"][key]["maxItems"]
    items = []
    facts = _facts(messages)
    for pid, sent, sp in facts:
        q = sent[: sp.start] + "___" + sent[sp.end :]
        item: dict[str, Any] = {"question": f"Which completes it: \u201c{q}\u201d", "answer": sp.text, "passage": pid}
        if key == "questions":  # other answers of the same kind from the passages, then fillers
            others = [o.text for _p, _s, o in facts if o.type == sp.type and o.text.casefold() != sp.text.casefold()]
            item["distractors"] = list(dict.fromkeys(others + ["seventeen", "Paris", "none of it"]))[:3]
            item["explanation"] = sent
        items.append(item)
    return {key: items[:cap]}


def good_map(messages: Sequence[ChatMessage], schema: dict[str, Any] | None) -> dict[str, Any]:
    assert schema is not None and "concepts" in schema["properties"]
    concepts = []
    for pid, _src, text in prompt_passages(messages):
        spans = [s.text for s in find_spans(text) if s.type in ("entity", "acronym", "term")]
        spans = list(dict.fromkeys(spans))
        if spans:
            concepts.append({"label": spans[0], "passages": [pid],
                             "children": [{"label": x, "passages": [pid]} for x in spans[1:3]]})
    return {"topic": "Green tea", "concepts": concepts[:6]}


# -- good output: the whole path ----------------------------------------------------------------------


def test_written_quiz_checked_stored_exported_and_cited(lib: LibraryService, tmp_path: Path) -> None:
    engine = ScriptedEngine(fallback=good_cards)
    stages: list[str] = []
    r = _studio(lib, engine, tmp_path).written("quiz", "Tea", count=4, difficulty="hard",
                                              progress=lambda _d, _t, m: stages.append(m))
    quiz = r.result
    assert engine.calls and engine.calls[0].json_schema is not None and stages
    assert "hard difficulty" in engine.calls[0].prompt
    assert quiz.generated and quiz.model == "scripted-model.gguf" and 1 <= len(quiz.questions) <= 4
    for q in quiz.questions:
        assert len(q.options) == 4 and q.options[q.correct] == q.answer
        assert sum(o == q.answer for o in q.options) == 1
        assert q.answer.casefold() in q.citation.quote.casefold()  # the cited sentence states the answer
        assert q.card.difficulty == "hard" and q.explanation
    _resolves(lib, quiz.citations)
    out = StudioStore(lib.library).get(r.output.id)
    assert out.kind == "quiz" and out.model == "scripted-model.gguf" and out.template == "quiz_gen"
    assert out.options["generated"] and out.payload["provenance"]["templates"][0]["name"] == "quiz_gen"
    back = ExtractiveStudio(lib).load(out.id).result
    assert back.generated and [q.stem for q in back.questions] == [q.stem for q in quiz.questions]
    assert back.to_markdown() == quiz.to_markdown() and "checked against its passage" in quiz.to_markdown()
    _resolves(lib, back.citations)
    rows = list(csv.DictReader(io.StringIO(ExtractiveStudio.render(back, "csv"))))
    assert len(rows) == len(quiz.questions) and rows[0]["question"] == quiz.questions[0].stem
    apkg = ExtractiveStudio.export(back, "apkg", tmp_path / "quiz.apkg")
    assert apkg.stat().st_size > 1000
    note = ExtractiveStudio(lib).save_note(out.id)
    assert "nothing generated" not in note.body and "Written by the model" in note.body


def test_written_flashcards(lib: LibraryService, tmp_path: Path) -> None:
    r = _studio(lib, ScriptedEngine(fallback=good_cards), tmp_path).written("flashcards", "Tea", count=5,
                                                                            difficulty="easy")
    deck = r.result
    assert deck.generated and 1 <= len(deck.cards) <= 5
    for c in deck.cards:
        assert c.front == c.question and c.back == c.answer and c.answer in c.sentence.text
    _resolves(lib, deck.citations)
    md = ExtractiveStudio.render(deck, "md")
    assert deck.cards[0].question.split()[0] in md and "**Answer:**" in md
    assert ExtractiveStudio.export(deck, "apkg", tmp_path / "cards.apkg").exists()
    rows = list(csv.DictReader(io.StringIO(ExtractiveStudio.render(deck, "csv"))))
    assert rows[0]["front"] == deck.cards[0].question and rows[0]["back"] == deck.cards[0].answer


def test_written_mindmap(lib: LibraryService, tmp_path: Path) -> None:
    engine = ScriptedEngine(fallback=good_map)
    r = _studio(lib, engine, tmp_path).written("mindmap", "Tea")
    mm = r.result
    assert mm.generated and mm.root.label == "Green tea" and mm.root.children
    concepts = [n for n in mm.nodes if n.kind == "concept"]
    assert concepts and all(n.refs for n in concepts)
    _resolves(lib, mm.citations)
    for n in concepts:  # every node's label stands in its passages
        texts = [lib.library.source_text(ref.source_id)[0][ref.start : ref.end] for ref in n.refs]
        assert any(n.label.casefold() in t.casefold() for t in texts)
    out = StudioStore(lib.library).get(r.output.id)
    assert out.kind == "mindmap" and out.template == "mindmap_gen"
    back = ExtractiveStudio(lib).load(out.id).result
    assert back.generated and back.to_markdown() == mm.to_markdown() and "checked against its passages" in \
        back.to_markdown()
    opml = ET.fromstring(ExtractiveStudio.render(back, "opml").split("\n", 1)[1])
    assert len(opml.findall(".//outline")) == len(mm.nodes)


# -- bad output -----------------------------------------------------------------------------------------


def test_unsupported_answers_are_regenerated_once_then_dropped(lib: LibraryService, tmp_path: Path) -> None:
    def bad(messages: Sequence[ChatMessage], schema: dict[str, Any] | None) -> dict[str, Any]:
        good = good_cards(messages, schema)["questions"]
        pid = good[0]["passage"]
        return {"questions": [
            good[0],
            {"question": "Who planted the first tea garden in Paris?", "answer": "Napoleon Bonaparte",
             "distractors": ["Louis XIV", "Marie Curie", "Victor Hugo"],
             "explanation": "Napoleon founded it in 1871.", "passage": pid},
            {**good[1], "distractors": [good[1]["answer"], "Paris", "seventeen"]} if len(good) > 1 else good[0],
            {**good[0], "question": "How much caffeine does a cup of green tea hold in the passage?",
             "answer": "90 mg of caffeine", "explanation": "A cup of green tea holds 90 mg of caffeine."}]}

    engine = ScriptedEngine(fallback=bad)
    r = _studio(lib, engine, tmp_path).written("quiz", "Tea", count=4, store=False)
    replacement_calls = [c for c in engine.calls if "were rejected" in c.prompt]
    assert replacement_calls and len(replacement_calls) <= len(engine.calls) // 2 + 1  # once per part at most
    answers = [q.answer for q in r.result.questions]
    assert "Napoleon Bonaparte" not in answers and "90 mg of caffeine" not in answers
    for q in r.result.questions:
        assert len({o.casefold() for o in q.options}) == 4
    assert any("distractor equal to its answer" in d for d in r.dropped)
    assert any("Napoleon" in d for d in r.dropped) and any("90" in d for d in r.dropped)
    assert any("dropped" in n for n in r.notes)
    _resolves(lib, r.result.citations)


def test_unsupported_concepts_are_dropped(lib: LibraryService, tmp_path: Path) -> None:
    def bad(messages: Sequence[ChatMessage], schema: dict[str, Any] | None) -> dict[str, Any]:
        d = good_map(messages, schema)
        d["concepts"].append({"label": "Roman aqueducts", "passages": [1],
                              "children": [{"label": "Green tea", "passages": [1]}]})
        d["concepts"].append({"label": "Napoleon", "passages": [99], "children": []})
        return d

    r = _studio(lib, ScriptedEngine(fallback=bad), tmp_path).written("mindmap", "Tea", store=False)
    labels = [n.label for n in r.result.nodes]
    assert "Roman aqueducts" not in labels and "Napoleon" not in labels
    assert any("Roman aqueducts" in d for d in r.dropped) and any("dropped" in n for n in r.notes)
    _resolves(lib, r.result.citations)


def test_garbage_is_refused_with_nothing_stored(lib: LibraryService, tmp_path: Path) -> None:
    nb = lib.library.notebook("Tea").id
    garbage = ["Sure! Here is a quiz.", {"questions": []},
               {"questions": [{"question": "What is it?", "answer": "It", "distractors": ["It", "it", "IT"],
                               "explanation": "", "passage": 1}]}]
    for what, out in (("quiz", garbage), ("flashcards", ["no", {"cards": [{"question": "a b c d?", "answer": "zebra "
                                                                           "migration", "passage": 1}]}]),
                      ("mindmap", ["{", {"topic": "x", "concepts": [{"label": "Zebra migration", "passages": [1],
                                                                      "children": []}]}])):
        engine = ScriptedEngine(fallback=lambda m, s, _o=out: _o[len(engine.calls) % len(_o)])  # noqa: B023
        with pytest.raises(StudioError, match="no usable|no concept|passed the checks") as e:
            _studio(lib, engine, tmp_path).written(what, "Tea", count=3)
        assert "larger model" in str(e.value) or "usable" in str(e.value)
    assert StudioStore(lib.library).list(nb) == []


# -- bad input -------------------------------------------------------------------------------------------


def test_no_sources_selected_is_a_clear_error_before_any_call(lib: LibraryService, tmp_path: Path) -> None:
    nb = lib.library.notebook("Tea")
    for s in lib.library.sources(nb.id):
        lib.library.update_source(s.id, selected=0)
    engine = ScriptedEngine()
    for what in ("mindmap", "flashcards", "quiz"):
        with pytest.raises(NotebookError, match="No sources are selected"):
            _studio(lib, engine, tmp_path).written(what, "Tea")
    assert not engine.calls
    with pytest.raises(NotebookError, match="Difficulty"):
        _studio(lib, engine, tmp_path).written("quiz", "Tea", difficulty="brutal")
    with pytest.raises(NotebookError, match="count"):
        _studio(lib, engine, tmp_path).written("flashcards", "Tea", count=0)


# -- the real tiny model (a base model: the checks refuse what it writes) ---------------------------------


def _real(lib: LibraryService, tiny_model_path: Path, tmp_path: Path, what: str) -> str:
    from notebooklm_local.services.llama_runtime import LlamaCppEngine

    engine = LlamaCppEngine(tiny_model_path, n_ctx=2048)
    studio = _studio(lib, engine, tmp_path)
    studio.settings.studio.retries = 0
    nb = lib.library.notebook("Tea").id
    before = len(StudioStore(lib.library).list(nb))
    try:
        r = studio.written(what, "Tea", count=2)
    except StudioError as e:
        assert "no usable" in str(e) and "attempt 1:" in str(e) and "larger model" in str(e)
        assert len(StudioStore(lib.library).list(nb)) == before
        return "refused: " + str(e)[:200]
    finally:
        engine.close()
    items = r.result.nodes[1:] if what == "mindmap" else (r.result.questions if what == "quiz" else r.result.cards)
    assert items and r.stats.calls >= 1 and r.stats.generation_s > 0
    _resolves(lib, r.result.citations)
    shown = [getattr(x, "label", None) or getattr(x, "stem", "") for x in items]
    return f"{len(items)} item(s) passed the checks: {shown}"


@pytest.mark.model
@pytest.mark.slow
def test_real_tiny_model_quiz(lib: LibraryService, tiny_model_path: Path, tmp_path: Path) -> None:
    print("tiny model quiz:", _real(lib, tiny_model_path, tmp_path, "quiz"))


@pytest.mark.model
@pytest.mark.slow
def test_real_tiny_model_mindmap(lib: LibraryService, tiny_model_path: Path, tmp_path: Path) -> None:
    print("tiny model mind map:", _real(lib, tiny_model_path, tmp_path, "mindmap"))


def test_same_answer_rules() -> None:
    from notebooklm_local.services.studio.cards_gen import same_answer

    assert same_answer("About 2 million", "2 million") and same_answer("The GGUF format.", "gguf format")
    assert not same_answer("2 million", "20 million") and not same_answer("Queen", "Drones")


# -- command line ----------------------------------------------------------------------------------------


def test_cli_extract_generate_quiz_cards_and_map(app_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from notebooklm_local import cli, workspace
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import Settings

    svc = workspace.open_library(app_paths().ensure(), Settings())
    svc.create_notebook("Tea")
    assert not svc.add("Tea", [SourceRef(text=TEA, title="Tea"), SourceRef(text=QUANT, title="Quant")]).failed
    svc.library.close()
    engine = ScriptedEngine(fallback=lambda m, s: good_map(m, s) if "concepts" in s["properties"] else good_cards(m, s))
    monkeypatch.setattr(workspace, "open_engine", lambda *_a, **_k: engine)
    capsys.readouterr()
    assert cli.main(["extract", "quiz", "-n", "Tea", "--generate", "--count", "3", "--difficulty", "easy",
                     "--format", "json"]) == 0
    out, err = capsys.readouterr()
    d = json.loads(out)
    assert d["kind"] == "quiz" and d["generated"] and 1 <= len(d["questions"]) <= 3 and "dropped by the checks" in err
    assert "easy difficulty" in engine.calls[-1].prompt
    target = tmp_path / "cards.apkg"
    assert cli.main(["extract", "flashcards", "-n", "Tea", "--generate", "--count", "2", "-o", str(target)]) == 0
    assert target.stat().st_size > 1000
    assert cli.main(["extract", "mindmap", "-n", "Tea", "--generate", "--format", "opml"]) == 0
    assert "<outline" in capsys.readouterr().out
    assert cli.main(["studio", "list", "-n", "Tea", "--kind", "quiz", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 1 and listed[0]["model"] == "scripted-model.gguf"
    assert cli.main(["studio", "show", listed[0]["id"]]) == 0
    assert "Written by the model" in capsys.readouterr().out
    assert cli.main(["extract", "quotes", "-n", "Tea", "--generate"]) != 0
    assert "need no model" in capsys.readouterr().err


def nice_map(messages: Sequence[ChatMessage], schema: dict[str, Any] | None) -> dict[str, Any]:
    """A faithful map with readable labels (for the screenshots): per passage its first name or two-word term,
    under it the next ones, each a span of that passage."""
    assert schema is not None
    concepts: list[dict[str, Any]] = []
    used: set[str] = set()
    for pid, _src, text in prompt_passages(messages):
        found = find_spans(text)
        spans = [s.text for s in found if s.type == "acronym" or (s.type == "entity" and " " in s.text)]
        spans += [s.text for s in found if s.type == "term" and " " in s.text]
        spans = [x for x in dict.fromkeys(spans) if x.casefold() not in used and len(x) > 2]
        if len(spans) < 2:
            continue
        used.update(x.casefold() for x in spans[:4])
        concepts.append({"label": spans[0], "passages": [pid],
                         "children": [{"label": x, "passages": [pid]} for x in spans[1:4]]})
    return {"topic": "Local language models", "concepts": concepts[:6]}
