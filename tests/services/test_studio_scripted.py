"""The studio with a scripted model (``ScriptedEngine``): summaries, chain of density, podcast, notes, audio.

Real notebooks (lexical-only LibraryService, real chunks), prepared model outputs, and every check and
retry path around the model. The same features run on the real model in ``test_studio_real.py``.
"""

from __future__ import annotations

import re
import wave
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.citations import Passage
from notebooklm_local.core.density import contains_entity
from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.errors import Cancelled, NotebookError, StudioError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.library import Source
from notebooklm_local.core.llm import ChatMessage, Generation, GenerationResult
from notebooklm_local.core.settings import Settings
from notebooklm_local.core.templates import TemplateStore
from notebooklm_local.core.textutil import split_sentences
from notebooklm_local.core.tts import NO_ENGINE_MESSAGE, TTSUnavailable
from notebooklm_local.services.library_service import LibraryService
from notebooklm_local.services.studio.common import RunStats, generate_structured, load_material
from notebooklm_local.services.studio.service import StudioService
from notebooklm_local.workspace import resources_dir
from tests.core.test_density import CHAIN, CHAIN_WORDS, SOURCE
from tests.core.test_tts import ToneEngine
from tests.helpers.scripted_engine import ScriptedEngine
from tests.services.test_library import make_service

SAMPLES = resources_dir() / "sample"
_PASSAGE = re.compile(r'<passage id="(\d+)" source="([^"]*)"[^>]*>\n(.*?)\n</passage>', re.S)


# -- scripted "models" -----------------------------------------------------------------------------


def prompt_passages(messages: Sequence[ChatMessage]) -> list[tuple[int, str, str]]:
    """(id, source attribute, text) of every passage in the user message."""
    return [(int(i), s, t) for i, s, t in _PASSAGE.findall(messages[-1].content)]


def longest_sentence(text: str) -> str:
    return max((text[a:b] for a, b in split_sentences(text)), key=lambda s: len(s.split()))


def echo_summary(messages: Sequence[ChatMessage], schema: dict[str, Any] | None) -> dict[str, Any]:
    """A faithful summariser: the longest sentence of every passage (or note), citing it."""
    assert schema is not None
    cap = schema["properties"]["sentences"]["maxItems"]
    items = [{"text": longest_sentence(t), "citations": [i]} for i, _, t in prompt_passages(messages)]
    return {"sentences": items[:cap]}


GARBAGE = [
    "Sure! Here is a summary of the sources.",  # not JSON
    "",  # nothing
    {"sentences": [{"text": "...", "citations": [1]}, {"text": "-", "citations": []}]},  # copied placeholders
    {"sentences": [{"text": "Quantization stores weights in fewer bits and more bits and bits.", "citations": [1]}]
     * 2 + [{"text": "the model the model the model the model the model the model", "citations": [1]}]},  # repeats
]


def is_cod(schema: dict[str, Any] | None) -> bool:
    return bool(schema) and "denser_summary" in schema["properties"]  # type: ignore[index]


@dataclass
class Dispatch:
    """Summary calls are echoed; chain-of-density steps come from ``steps`` in order."""

    steps: list[Any] = field(default_factory=list)
    articles: list[str] = field(default_factory=list)

    def __call__(self, messages: Sequence[ChatMessage], schema: dict[str, Any] | None) -> Any:
        if is_cod(schema):
            m = re.search(r"<article>\n(.*?)\n</article>", messages[-1].content, re.S)
            self.articles.append(m.group(1) if m else "")
            return self.steps.pop(0)
        return echo_summary(messages, schema)


# -- the notebooks ---------------------------------------------------------------------------------


@dataclass
class World:
    lib: LibraryService
    templates: TemplateStore
    sources: dict[str, Source]

    def studio(self, outputs: Sequence[Any] = (), *, n_ctx: int = 4096, fallback: Any = None,
               retries: int | None = None, tts: Sequence[Any] | None = None) -> tuple[StudioService, ScriptedEngine]:
        engine = ScriptedEngine(list(outputs), n_ctx=n_ctx, fallback=fallback)
        settings = Settings()
        if retries is not None:
            settings.studio.retries = retries
        studio = StudioService(self.lib, engine, self.templates, settings,
                               tts_engines=(lambda: list(tts)) if tts is not None else None)
        return studio, engine

    def passages(self, notebook: str, source_ids: Sequence[str] | None = None) -> list[Passage]:
        return load_material(self.lib.library, self.lib.notebook(notebook).id, source_ids)[1]

    def text(self, source_id: str) -> str:
        return self.lib.library.source_text(source_id)[0]


@pytest.fixture
def world(tmp_path: Path) -> World:
    lib = make_service(None)
    for nb in ("Local", "Mixed", "Empty"):
        lib.create_notebook(nb)
    assert not lib.add("Local", [SourceRef(text=SOURCE, title="Local LLMs")]).failed
    report = lib.add("Mixed", [SourceRef(text=SOURCE, title="Local LLMs"), str(SAMPLES / "quantization-notes.txt"),
                               str(SAMPLES / "retrieval-augmented-generation.md")])
    assert not report.failed, report.lines()
    sources = {f"Mixed/{s.title}": s for s in lib.sources("Mixed")}
    sources["Local"] = lib.sources("Local")[0]
    return World(lib, TemplateStore(resources_dir() / "templates", tmp_path / "user-templates"), sources)


def pid_of(passages: Sequence[Passage], phrase: str) -> int:
    return next(p.pid for p in passages if phrase in p.text)


def assert_citations_resolve(world: World, citations: Sequence[dict[str, Any]], passages: Sequence[Passage]) -> None:
    """Each citation opens real source text: its source, a span inside its passage, the quote at that span."""
    by_pid = {p.pid: p for p in passages}
    assert citations
    for c in citations:
        p = by_pid[c["passage_id"]]
        assert c["source_id"] == p.source_id and c["chunk_id"] == p.chunk_id and c["chunk_id"] > 0
        assert p.start <= c["start"] < c["end"] <= p.end
        assert world.text(c["source_id"])[c["start"]:c["end"]].strip() == c["quote"]


# -- generate_structured ---------------------------------------------------------------------------


def _check_sentences(data: Any) -> list[str]:
    if not isinstance(data, dict) or not isinstance(data.get("sentences"), list):
        raise ValueError("the output has no list of sentences")
    texts = [str(s.get("text", "")) for s in data["sentences"] if isinstance(s, dict)]
    texts = [t for t in texts if re.search(r"\w\w", t)]
    if not texts:
        raise ValueError("the output has no sentences")
    if len(set(texts)) < len(texts):
        raise ValueError("it repeats the same sentences")
    return texts


def _generate(engine: ScriptedEngine, retries: int, stats: RunStats | None = None,
              cancel: CancelToken | None = None) -> tuple[list[str], list[Any]]:
    return generate_structured(engine, [ChatMessage("user", "Summarise.")], {"type": "object"}, _check_sentences,
                               what="summary", max_tokens=100, retries=retries, stats=stats or RunStats(),
                               temperature=0.3, cancel=cancel)


def test_garbage_is_retried_warmer_then_fails_naming_every_reason() -> None:
    engine = ScriptedEngine(list(GARBAGE))
    stats = RunStats()
    with pytest.raises(StudioError) as e:
        _generate(engine, retries=3, stats=stats)
    msg = str(e.value)
    assert "no usable summary in 4 attempts" in msg
    assert "attempt 1: no JSON object in the output" in msg
    assert "attempt 2: empty output" in msg
    assert "attempt 3: the output has no sentences" in msg
    assert "attempt 4: it repeats the same sentences" in msg
    assert [c.temperature for c in engine.calls] == pytest.approx([0.3, 0.65, 1.0, 1.0])
    assert stats.calls == 4 and stats.attempts_failed == 4
    assert all(c.json_schema == {"type": "object"} for c in engine.calls)
    # what the model wrote is kept on the error, each with its reason (shown to the user as rejected)
    assert [r for _t, r in e.value.attempts] == ["no JSON object in the output", "empty output",
                                                  *[r for _t, r in e.value.attempts][2:]]
    assert len(e.value.attempts) == 4 and e.value.attempts[0][0] == GARBAGE[0]


def test_a_later_valid_attempt_is_accepted() -> None:
    engine = ScriptedEngine(["not json", {"sentences": [{"text": "Bits are saved."}]}])
    value, attempts = _generate(engine, retries=2)
    assert value == ["Bits are saved."]
    assert [a.error for a in attempts] == ["no JSON object in the output", ""]
    assert len(engine.calls) == 2 and engine.calls[1].temperature > engine.calls[0].temperature


class LengthCutEngine(ScriptedEngine):
    """Every generation stops at its token limit."""

    def stream_chat(self, messages: Sequence[ChatMessage], **kw: Any) -> Generation:
        inner = super().stream_chat(messages, **kw)

        def cut() -> Generator[str, None, GenerationResult]:
            yield from inner
            result = inner.result()
            result.finish_reason = "length"
            return result

        return Generation(cut())


def test_a_cut_json_output_is_repaired_and_a_length_cut_is_named() -> None:
    value, _ = _generate(LengthCutEngine(['{"sentences": [{"text": "Bits are saved.", "citat']), retries=0)
    assert value == ["Bits are saved."]
    with pytest.raises(StudioError, match=r"attempt 1: the output has no sentences \(the output reached its length "
                                          r"limit\)"):
        _generate(LengthCutEngine(['{"sentences": [{"te']), retries=0)


def test_cancel_mid_run_raises_cancelled() -> None:
    engine = ScriptedEngine(["not json", "again not json", {"sentences": [{"text": "fine"}]}], cancel_after_calls=2)
    stats = RunStats()
    with pytest.raises(Cancelled):
        _generate(engine, retries=2, stats=stats, cancel=CancelToken())
    assert len(engine.calls) == 2 and stats.attempts_failed == 1
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        _generate(ScriptedEngine(), retries=2, cancel=cancel)


# -- summaries -------------------------------------------------------------------------------------


def test_single_batch_summary_cites_the_original_passages(world: World) -> None:
    passages = world.passages("Local")
    quant, chroma = pid_of(passages, "Quantization stores"), pid_of(passages, "Chroma stores")
    out = {"sentences": [
        {"text": "Quantization stores the weights of a language model in fewer bits.", "citations": [quant]},
        {"text": "Q4_K_M keeps most of the quality at roughly a quarter of the size.", "citations": [quant]},
        {"text": "Chroma stores the vectors on disk and SQLite FTS5 adds keyword search.", "citations": [chroma]},
        {"text": "It was invented on the Moon in 1850.", "citations": [chroma, 99]},
    ]}
    studio, engine = world.studio([out])
    progress: list[tuple[int, int, str]] = []
    tokens: list[str] = []
    r = studio.summarize("Local", length="short", audience="expert", focus="  memory   use ", progress=lambda *a:
                         progress.append(a), on_token=tokens.append)
    assert len(engine.calls) == 1 and r.parts == 1
    prompt = engine.calls[0].prompt
    assert "Quantization stores the weights" in prompt and "Focus on: memory use" in prompt
    assert "".join(tokens) and progress[-1] == (1, 1, "Done")
    assert [s.supported for s in r.answer.sentences] == [True, True, True, False]
    assert "1850" in r.answer.sentences[3].flag and r.answer.removed_markers == []
    cits = [c.to_json() for c in r.answer.citations]
    assert {c["passage_id"] for c in cits} == {quant, chroma}
    assert {c["source_id"] for c in cits} == {world.sources["Local"].id}
    assert_citations_resolve(world, cits, passages)
    # stored, with how it was made
    o = studio.store.get(r.output.id)
    assert o.kind == "summary" and o.title == "Summary: Local LLMs" and o.template == "summary"
    assert o.model == "scripted-model.gguf" and o.source_ids == [world.sources["Local"].id]
    assert o.options == {"template": "summary", "length": "short", "audience": "expert", "focus": "memory use",
                         "language": ""}
    assert o.payload["answer"]["citations"] == cits and o.payload["text"] == r.answer.text
    stats = o.payload["stats"]
    assert stats["calls"] == 1 and stats["prompt_eval_s"] > 0 and stats["generation_s"] > 0
    assert stats["prompt_tokens"] > 0 and "wall_s" in stats


@pytest.mark.parametrize("template", ["briefing", "study_guide", "faq"])
def test_the_other_document_kinds(world: World, template: str) -> None:
    studio, engine = world.studio(fallback=echo_summary)
    r = studio.summarize("Local", template=template)
    assert r.output.template == template and r.output.options["template"] == template
    assert r.answer.citations and all(s.supported for s in r.answer.sentences)
    assert len(engine.calls) == 1


def test_garbage_summary_outputs_are_retried_then_fail_with_every_reason(world: World) -> None:
    studio, engine = world.studio(list(GARBAGE), retries=3)
    with pytest.raises(StudioError, match="no usable summary in 4 attempts") as e:
        studio.summarize("Local")
    for reason in ("no JSON object", "empty output", "the output has no sentences", "repeats"):
        assert reason in str(e.value)
    assert [c.temperature for c in engine.calls] == pytest.approx([0.3, 0.65, 1.0, 1.0])
    assert studio.store.list(world.lib.notebook("Local").id) == []


def test_a_summary_whose_citations_support_nothing_is_retried(world: World) -> None:
    passages = world.passages("Local")
    chroma = pid_of(passages, "Chroma stores")
    wrong = {"sentences": [{"text": "Quantization stores the weights of a model in fewer bits.",
                            "citations": [chroma]}]}
    studio, engine = world.studio([wrong, wrong, wrong])
    with pytest.raises(StudioError, match="none of its sentences is supported by the passages it cites"):
        studio.summarize("Local")
    assert len(engine.calls) == 3


def test_map_reduce_cites_original_passages_not_notes(world: World) -> None:
    studio, engine = world.studio(n_ctx=900, fallback=echo_summary)
    r = studio.summarize("Mixed", length="short")
    passages = world.passages("Mixed")
    assert r.parts > 1 and len(engine.calls) > r.parts
    assert r.notes[0].startswith(f"The sources were read in {r.parts} parts and combined")
    maps, reduces = engine.calls[: r.parts], engine.calls[r.parts:]
    # the reduce calls see the parts' sentences as notes, not the passages
    map_sentences = [" ".join(longest_sentence(t).split()) for c in maps for _, _, t in prompt_passages(c.messages)]
    first_reduce = prompt_passages(reduces[0].messages)
    assert all(src.startswith("part ") for _, src, _ in first_reduce)
    notes = [t for _, _, t in first_reduce]
    assert notes and all(n in map_sentences for n in notes)
    assert not any("<passage" in n for n in notes)
    assert "Combined (JSON)" in reduces[-1].prompt
    # the final citations open original passages of real sources, and every sentence was checked against them
    cits = [c.to_json() for c in r.answer.citations]
    real = {s.id for s in world.lib.sources("Mixed")}
    assert {c["source_id"] for c in cits} <= real
    assert_citations_resolve(world, cits, passages)
    assert r.answer.sentences and all(s.supported and s.citations for s in r.answer.sentences)
    for s in r.answer.sentences:
        cited = " ".join(" ".join(p.text.split()) for p in passages if p.pid in s.citations)
        assert re.sub(r"\s*\[\d+\]", "", s.text).rstrip(".") in cited
    stats = r.output.payload["stats"]
    assert stats["calls"] == len(engine.calls) and r.output.payload["parts"] == r.parts


def test_map_reduce_over_many_parts_converges(world: World) -> None:
    """An intermediate combining round must shrink the notes, or long collections never fit."""
    more = [SourceRef(text=SOURCE.replace("laptop", f"laptop, part {i}").replace("Chroma", f"Chroma {i}"),
                      title=f"Copy {i}") for i in range(4)]
    world.lib.add("Mixed", [*more, str(SAMPLES / "talk-local-first-software.vtt")])
    studio, engine = world.studio(n_ctx=900, fallback=echo_summary)
    r = studio.summarize("Mixed", length="short")
    assert r.parts >= 8
    assert r.answer.citations and all(s.supported for s in r.answer.sentences)
    assert_citations_resolve(world, [c.to_json() for c in r.answer.citations], world.passages("Mixed"))


def test_a_failing_part_is_left_out_with_a_note(world: World) -> None:
    def model(messages: Sequence[ChatMessage], schema: dict[str, Any] | None) -> Any:
        srcs = {s for _, s, _ in prompt_passages(messages)}
        return "I cannot help with that." if srcs == {"Local LLMs"} else echo_summary(messages, schema)

    studio, engine = world.studio(n_ctx=900, fallback=model)
    r = studio.summarize("Mixed", length="short")
    left_out = [n for n in r.notes if "gave no usable summary and was left out" in n]
    assert left_out and r.output.payload["notes"] == r.notes
    local = world.sources["Mixed/Local LLMs"].id
    assert local not in {c.source_id for c in r.answer.citations}
    assert r.output.payload["stats"]["failed_attempts"] == 3 * len(left_out)


def test_every_part_failing_is_an_error(world: World) -> None:
    studio, engine = world.studio(n_ctx=900, fallback="not JSON at all")
    with pytest.raises(StudioError, match="No part of the sources gave a usable summary"):
        studio.summarize("Mixed", length="short")
    assert studio.store.list(world.lib.notebook("Mixed").id) == []


def test_summary_options_are_checked(world: World) -> None:
    studio, engine = world.studio()
    with pytest.raises(NotebookError, match="Length must be one of: short, medium, long"):
        studio.summarize("Local", length="epic")
    with pytest.raises(NotebookError, match="Audience must be one of"):
        studio.summarize("Local", audience="children")
    with pytest.raises(NotebookError, match="Unknown document kind 'poem'"):
        studio.summarize("Local", template="poem")
    with pytest.raises(NotebookError, match="No notebook named 'Nope'"):
        studio.summarize("Nope")
    with pytest.raises(NotebookError, match="too small"):
        world.studio(n_ctx=400)[0].summarize("Local")
    assert engine.calls == []


def test_sources_without_text_are_a_clear_error(world: World, tmp_path: Path) -> None:
    studio, engine = world.studio()
    with pytest.raises(NotebookError, match="No sources are selected"):
        studio.summarize("Empty")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert world.lib.add("Empty", [str(empty)]).failed
    with pytest.raises(NotebookError, match=r"None of the chosen sources is ready: .*empty.txt \(failed: .*empty"):
        studio.summarize("Empty")
    with pytest.raises(NotebookError, match="None of the chosen sources is ready"):
        studio.chain_of_density("Empty")
    with pytest.raises(NotebookError, match="None of the chosen sources is ready"):
        studio.podcast_script("Empty")
    # a "ready" source without chunks (e.g. a scanned PDF before OCR)
    lib = world.lib.library
    nb = lib.notebook("Empty").id
    blank = lib.add_source(nb, {"title": "scan"}, title="scan.pdf")
    lib.update_source(blank.id, status="ready")
    with pytest.raises(NotebookError, match=r"no text to work from \(scan.pdf\).*OCR"):
        studio.summarize("Empty", [blank.id])
    with pytest.raises(NotebookError, match="Not a source of this notebook"):
        studio.summarize("Empty", [world.sources["Local"].id])
    assert engine.calls == []


def test_cancel_during_a_summary_stores_nothing(world: World) -> None:
    studio, engine = world.studio(n_ctx=900, fallback=echo_summary)
    engine.cancel_after_calls = 2
    with pytest.raises(Cancelled):
        studio.summarize("Mixed", length="short", cancel=CancelToken())
    assert len(engine.calls) == 2
    assert studio.store.list(world.lib.notebook("Mixed").id) == []


# -- chain of density ------------------------------------------------------------------------------


def test_chain_of_density_keeps_all_five_steps(world: World) -> None:
    studio, engine = world.studio(list(CHAIN))
    seen: list[int] = []
    r = studio.chain_of_density("Local", steps=5, words=CHAIN_WORDS, on_step=lambda s: seen.append(s.index))
    assert r.failure == "" and seen == [1, 2, 3, 4, 5] and len(engine.calls) == 5
    densities = [s.density for s in r.steps]
    assert densities == sorted(densities) and len(set(densities)) == 5
    assert all(s.attempts == 1 and not s.rejected_entities for s in r.steps)
    # each step's prompt holds the article and the previous summary
    assert "<article>" in engine.calls[0].prompt and "Previous summary" not in engine.calls[0].prompt
    for i in range(1, 5):
        assert f"Previous summary: {CHAIN[i - 1]['denser_summary']}" in engine.calls[i].prompt
    # every step is cited against the real passages
    passages = world.passages("Local")
    for s in r.steps:
        assert any(x["citations"] for x in s.citations["sentences"]), s.index
        assert_citations_resolve(world, s.citations["citations"], passages)
    o = studio.store.get(r.output.id)
    assert o.kind == "cod" and o.template == "cod_step" and o.model == "scripted-model.gguf"
    assert o.options == {"steps": 5, "words": CHAIN_WORDS, "language": ""}
    assert [s["index"] for s in o.payload["steps"]] == [1, 2, 3, 4, 5]
    assert o.payload["failure"] == "" and o.payload["sections"] == 0
    assert o.payload["text"] == r.steps[-1].summary and o.payload["stats"]["calls"] == 5


def test_a_step_that_fails_every_attempt_ends_the_chain_but_keeps_the_earlier_steps(world: World) -> None:
    garbage = ["{not json", {"missing_entities": [], "denser_summary": ""},
               {"missing_entities": ["Mistral 7B"], "denser_summary": CHAIN[2]["denser_summary"]}]
    studio, engine = world.studio([CHAIN[0], CHAIN[1], *garbage])
    r = studio.chain_of_density("Local", steps=5, words=CHAIN_WORDS)
    assert [s.index for s in r.steps] == [1, 2]
    assert r.failure.startswith("Stopped after step 2: The model gave no usable chain-of-density step 3 in 3 attempts")
    assert "attempt 1: the output is not valid JSON" in r.failure or "attempt 1: no JSON" in r.failure
    assert "attempt 2: the summary is empty" in r.failure
    assert "attempt 3: it added no new entity from the source (\u201cMistral 7B\u201d does not occur" in r.failure
    assert [c.temperature for c in engine.calls[2:]] == pytest.approx([0.4, 0.75, 1.0])
    o = studio.store.get(r.output.id)
    assert o.payload["failure"] == r.failure and len(o.payload["steps"]) == 2
    assert o.payload["text"] == CHAIN[1]["denser_summary"]


def test_a_retried_step_records_its_attempts(world: World) -> None:
    studio, engine = world.studio([CHAIN[0], "nonsense", CHAIN[1]])
    r = studio.chain_of_density("Local", steps=2, words=CHAIN_WORDS)
    assert [s.attempts for s in r.steps] == [1, 2] and r.output.payload["stats"]["failed_attempts"] == 1


def test_a_first_step_that_fails_is_an_error(world: World) -> None:
    studio, engine = world.studio(["no", "no", "no"])
    with pytest.raises(StudioError, match="chain-of-density step 1 in 3 attempts"):
        studio.chain_of_density("Local", steps=3, words=CHAIN_WORDS)
    assert studio.store.list(world.lib.notebook("Local").id) == []


def test_cancel_during_a_chain_stores_nothing(world: World) -> None:
    studio, engine = world.studio(list(CHAIN))
    engine.cancel_after_calls = 3
    with pytest.raises(Cancelled):
        studio.chain_of_density("Local", steps=5, words=CHAIN_WORDS, cancel=CancelToken())
    assert len(engine.calls) == 3 and studio.store.list(world.lib.notebook("Local").id) == []


def test_chain_of_density_options_are_checked(world: World) -> None:
    studio, engine = world.studio()
    with pytest.raises(NotebookError, match="1 to 10 steps"):
        studio.chain_of_density("Local", steps=11)
    with pytest.raises(NotebookError, match="between 20 and 400 words"):
        studio.chain_of_density("Local", words=10)
    with pytest.raises(NotebookError, match="too small for chain of density"):
        world.studio(n_ctx=500)[0].chain_of_density("Local", words=80)
    assert engine.calls == []


@pytest.mark.parametrize("n_ctx", [1024, 1536])
def test_a_long_source_is_summarised_by_section_first(world: World, n_ctx: int) -> None:
    long_text = "\n\n".join([SOURCE, (SAMPLES / "quantization-notes.txt").read_text(encoding="utf-8"),
                             (SAMPLES / "retrieval-augmented-generation.md").read_text(encoding="utf-8")])
    world.lib.create_notebook("Long")
    world.lib.add("Long", [SourceRef(text=long_text, title="Long notes")])
    step3 = dict(CHAIN[2], missing_entities=["Georgi Gerganov", "GGUF", "Mistral 7B"])
    model = Dispatch(steps=[CHAIN[0], CHAIN[1], step3])
    studio, engine = world.studio(n_ctx=n_ctx, fallback=model)
    r = studio.chain_of_density("Long", steps=3, words=80)
    assert r.failure == "" and len(r.steps) == 3
    assert r.output.payload["sections"] > 0
    assert any("summarised in" in n and "section(s) first" in n for n in r.notes)
    # the steps densify the section summary, not the source ...
    article = model.articles[0]
    assert article and len(article) < len(long_text) and "Gerganov" not in article
    assert engine.count_tokens(long_text) > engine.count_tokens(article)
    # ... but entities are checked against the full source
    assert r.steps[2].missing_entities == ["Georgi Gerganov", "GGUF"]
    assert {"entity": "Mistral 7B", "reason": "does not occur in the source"} in r.steps[2].rejected_entities
    assert all(contains_entity(long_text, e) for s in r.steps for e in s.missing_entities)
    passages = world.passages("Long")
    for s in r.steps:
        if s.citations["citations"]:
            assert_citations_resolve(world, s.citations["citations"], passages)


def test_every_dense_sentence_that_one_passage_supports_is_cited(world: World) -> None:
    studio, engine = world.studio(list(CHAIN))
    r = studio.chain_of_density("Local", steps=5, words=CHAIN_WORDS)
    for s in r.steps[1:]:
        assert all(x["citations"] for x in s.citations["sentences"]), s.citations["sentences"]


# -- podcast ---------------------------------------------------------------------------------------


def _seg(*lines: tuple[str, str, list[int]]) -> dict[str, Any]:
    return {"lines": [{"speaker": s, "text": t, "citations": c} for s, t, c in lines]}


@pytest.fixture
def pod(world: World) -> dict[str, Any]:
    """A scripted episode over the Mixed notebook: an outline, then three segments (local passage ids)."""
    ps = world.passages("Mixed")
    ids = {k: pid_of(ps, phrase) for k, phrase in {
        "quant": "Quantization stores the weights of a language model", "chunks": "Documents are cut into chunks",
        "hybrid": "Hybrid retrieval runs both", "chroma": "Chroma stores these vectors"}.items()}
    outline = {"title": "Small models at home", "segments": [
        {"topic": "Why quantization matters", "passages": [ids["quant"]]},
        {"topic": "Finding the right passages", "passages": [ids["chunks"], ids["hybrid"]]},
        {"topic": "Everything offline", "passages": [ids["chroma"]]}]}
    d1 = _seg(("Alex", "Welcome! Today: running language models on a laptop.", []),
              ("Sam", "Quantization stores the weights of a language model in fewer bits.", [1]),
              ("Alex", "Which format do people use most?", []),
              ("Sam", "Q4_K_M keeps most of the quality at roughly a quarter of the size.", [1]))
    d2 = _seg(("Alex", "How does the system find the passages?", []),
              ("Sam", "Documents are cut into chunks of a few hundred tokens.", [1]),
              ("Alex", "Hybrid retrieval runs both searches and fuses the rankings.", [2]),
              ("Sam", "And it runs on the Moon with 900 GPUs.", [2]))
    d3 = _seg(("Sam", "Chroma stores these vectors on disk and SQLite FTS5 adds keyword search.", [1]),
              ("Alex", "So the whole pipeline runs offline. Thanks for listening!", [1]))
    return {"ids": ids, "outline": outline, "segments": [d1, d2, d3], "passages": ps}


def test_podcast_script_from_outline_and_dialogue(world: World, pod: dict[str, Any]) -> None:
    studio, engine = world.studio([pod["outline"], *pod["segments"]])
    r = studio.podcast_script("Mixed", length="short", focus="  offline  use ")
    s, ids = r.script, pod["ids"]
    assert len(engine.calls) == 4
    assert [c.temperature for c in engine.calls] == pytest.approx([0.5, 0.6, 0.6, 0.6])
    assert s.title == "Small models at home" and [h.name for h in s.hosts] == ["Alex", "Sam"]
    assert s.segments == ["Why quantization matters", "Finding the right passages", "Everything offline"]
    assert [ln.segment for ln in s.lines] == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    # the dialogue prompt of segment 2 holds its two passages, renumbered 1 and 2
    seg2 = prompt_passages(engine.calls[2].messages)
    assert [i for i, _, _ in seg2] == [1, 2] and "Documents are cut into chunks" in seg2[0][2]
    assert 'Segment "Finding the right passages"' in engine.calls[2].prompt
    # local ids became the passages' notebook-wide ids
    assert s.lines[1].citations == [ids["quant"]] and s.lines[1].text.endswith(f"[{ids['quant']}]")
    assert s.lines[5].citations == [ids["chunks"]] and s.lines[6].citations == [ids["hybrid"]]
    assert s.lines[8].citations == [ids["chroma"]]
    # unsupported lines are flagged, questions need no citation
    flagged = {ln.text.split(" [")[0]: ln.flag for ln in s.unsupported}
    assert "900" in flagged["And it runs on the Moon with 900 GPUs."]
    assert flagged["Welcome! Today: running language models on a laptop."] == "no citation"
    assert s.lines[2].supported and s.lines[4].supported
    assert any("not supported by the passages they cite" in n for n in r.notes)
    assert_citations_resolve(world, s.citations, pod["passages"])
    # stored: the script, its passages and its Markdown
    o = studio.store.get(r.output.id)
    assert o.kind == "podcast" and o.template == "podcast_outline+podcast_dialogue"
    assert o.options["hosts"] == ["Alex", "Sam"] and o.options["length"] == "short"
    assert studio.script_of(o.id[:8]) == s
    assert o.payload["text"] == s.to_markdown() and "\u26a0" in o.payload["text"]
    assert {p["pid"] for p in o.payload["passages"]} == {p.pid for p in pod["passages"]}


def test_bad_outlines_are_retried(world: World, pod: dict[str, Any]) -> None:
    dup = {"title": "T", "segments": [{"topic": "Quantization", "passages": [1]},
                                      {"topic": "  quantization ", "passages": [2]}, {"topic": "", "passages": [3]}]}
    studio, engine = world.studio(["{}", dup, pod["outline"], *pod["segments"]])
    r = studio.podcast_script("Mixed")
    assert len(r.script.segments) == 3 and len(engine.calls) == 6
    assert [c.temperature for c in engine.calls[:3]] == pytest.approx([0.5, 0.85, 1.0])
    assert r.output.payload["stats"]["failed_attempts"] == 2


def test_an_outline_segment_without_passages_uses_the_closest(world: World, pod: dict[str, Any]) -> None:
    outline = dict(pod["outline"], segments=[dict(pod["outline"]["segments"][0], passages=[]),
                                             *pod["outline"]["segments"][1:]])
    studio, engine = world.studio([outline, *pod["segments"]])
    r = studio.podcast_script("Mixed")
    assert any("named no passage" in n for n in r.notes)
    assert "Quantization stores the weights" in engine.calls[1].prompt


def test_bad_dialogue_is_retried_then_fails_naming_the_reasons(world: World, pod: dict[str, Any]) -> None:
    one_host = _seg(("Alex", "Quantization stores weights in fewer bits.", [1]),
                    ("Alex", "Q4_K_M keeps most of the quality.", [1]))
    repeats = _seg(*[("Alex" if i % 2 else "Sam", "Quantization stores weights in fewer bits.", [1])
                     for i in range(4)])
    unknown = _seg(("Mallory", "Quantization stores weights in fewer bits.", [1]),
                   ("Sam", "Q4_K_M keeps most of the quality at a quarter of the size.", [1]))
    studio, engine = world.studio([pod["outline"], one_host, repeats, pod["segments"][0], *pod["segments"][1:]])
    r = studio.podcast_script("Mixed")
    assert len(r.script.lines) == 10 and len(engine.calls) == 6
    assert r.output.payload["stats"]["failed_attempts"] == 2
    studio.store.delete(r.output.id)
    studio, engine = world.studio([pod["outline"], one_host, repeats, unknown])
    with pytest.raises(StudioError, match="dialogue for segment 1 in 3 attempts") as e:
        studio.podcast_script("Mixed")
    msg = str(e.value)
    assert "attempt 1: only one host speaks" in msg
    assert "attempt 2: the hosts repeat the same lines" in msg
    assert "attempt 3: the segment has fewer than two lines" in msg
    assert studio.store.list(world.lib.notebook("Mixed").id) == []


def test_podcast_options_are_checked(world: World) -> None:
    studio, engine = world.studio()
    with pytest.raises(NotebookError, match="two hosts with different names"):
        studio.podcast_script("Mixed", host_a="Sam", host_b=" sam ")
    with pytest.raises(NotebookError, match="Podcast length must be one of"):
        studio.podcast_script("Mixed", length="forever")
    assert engine.calls == []


@pytest.fixture
def stored_podcast(world: World, pod: dict[str, Any]) -> tuple[StudioService, str, dict[str, Any]]:
    studio, _ = world.studio([pod["outline"], *pod["segments"]], tts=[ToneEngine()])
    r = studio.podcast_script("Mixed")
    return studio, r.output.id, pod


def test_update_script_rechecks_the_edited_citations(stored_podcast: Any) -> None:
    studio, oid, pod = stored_podcast
    ids = pod["ids"]
    md = studio.script_of(oid).to_markdown()
    line = f"**Sam:** Quantization stores the weights of a language model in fewer bits. [{ids['quant']}]"
    assert line in md
    edited = (md.replace("# Small models at home", "# Edited episode")
                .replace(line, f"**Sam:** Quantization stores the weights of a language model in fewer bits. "
                               f"[{ids['chroma']}]")
                .replace("**Alex:** Which format do people use most?",
                         f"**Jo:** I'm a guest: Q4_K_M keeps most of the quality at roughly a quarter of the size. "
                         f"[{ids['quant']}]"))
    new = studio.update_script(oid, edited)
    assert new.title == "Edited episode"
    moved = next(ln for ln in new.lines if ln.text.startswith("Quantization stores"))
    assert moved.citations == [ids["chroma"]] and not moved.supported
    assert "does not support it" in moved.flag
    guest = next(ln for ln in new.lines if ln.speaker == "Jo")
    assert guest.supported and guest.citations == [ids["quant"]]
    assert [h.name for h in new.hosts] == ["Alex", "Sam", "Jo"]
    # stored, and the stored citations follow the edit
    o = studio.store.get(oid)
    assert o.title == "Edited episode" and o.payload["edited"] is True
    assert studio.script_of(oid) == new
    assert o.payload["text"] == new.to_markdown()
    assert {c["passage_id"] for c in new.citations} >= {ids["chroma"], ids["quant"]}


def test_an_unchanged_script_survives_the_markdown_round_trip(stored_podcast: Any) -> None:
    studio, oid, _ = stored_podcast
    before = studio.script_of(oid)
    after = studio.update_script(oid, before.to_markdown())
    assert after.title == before.title and after.segments == before.segments and after.hosts == before.hosts
    assert [(ln.speaker, ln.text, ln.citations, ln.segment, ln.supported, ln.flag) for ln in after.lines] == [
        (ln.speaker, ln.text, ln.citations, ln.segment, ln.supported, ln.flag) for ln in before.lines]
    assert after.citations == before.citations


def test_update_script_with_a_marker_naming_no_passage(stored_podcast: Any) -> None:
    studio, oid, pod = stored_podcast
    md = "**Alex:** Quantization stores the weights of a language model in fewer bits. [999]\n**Sam:** Right?\n"
    new = studio.update_script(oid, md)
    assert new.lines[0].citations == [] and not new.lines[0].supported
    assert all(c["passage_id"] != 999 for c in new.citations)


@pytest.mark.parametrize("md", ["", "# Only a title\n\n## A heading\n\n## Another\n", "plain prose " * 90_000,
                                "**" + " " * 500_000])
def test_update_script_with_hostile_markdown_is_a_clear_error(stored_podcast: Any, md: str) -> None:
    studio, oid, _ = stored_podcast
    before = studio.store.get(oid)
    with pytest.raises(NotebookError, match="No dialogue found"):
        studio.update_script(oid, md)
    assert studio.store.get(oid) == before


def test_update_script_of_a_megabyte_of_dialogue(stored_podcast: Any) -> None:
    studio, oid, pod = stored_podcast
    md = "**Alex:** Hi there. [1]\n" + "**Sam:** Documents are cut into chunks of tokens.\n" * 20_000
    new = studio.update_script(oid, md)
    assert len(new.lines) == 20_001


def test_update_script_and_script_of_need_a_podcast(world: World) -> None:
    studio, _ = world.studio(fallback=echo_summary)
    r = studio.summarize("Local")
    with pytest.raises(NotebookError, match="is a summary, not a podcast"):
        studio.update_script(r.output.id, "**A:** x\n**B:** y")
    with pytest.raises(NotebookError, match="is a summary, not a podcast"):
        studio.script_of(r.output.id)


def test_podcast_audio_with_a_fake_engine(stored_podcast: Any, tmp_path: Path) -> None:
    studio, oid, _ = stored_podcast
    target = tmp_path / "out" / "episode.wav"
    result = studio.podcast_audio(oid[:8], target)
    assert result.path == target and target.is_file()
    with wave.open(str(target), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == 16000
        assert w.getnframes() / w.getframerate() == pytest.approx(result.duration_s, abs=0.01)
    script = studio.script_of(oid)
    assert [seg.speaker for seg in result.segments] == [sp for sp, _ in script.utterances()]
    assert result.voices == {"Alex": "low", "Sam": "high"}
    assert all("[" not in seg.text and "\u26a0" not in seg.text for seg in result.segments)
    assert studio.store.get(oid).payload["audio"] == str(target)


def test_podcast_audio_without_a_usable_engine(stored_podcast: Any, world: World, tmp_path: Path) -> None:
    studio, oid, _ = stored_podcast
    none, _ = world.studio(tts=[])
    with pytest.raises(TTSUnavailable, match=re.escape(NO_ENGINE_MESSAGE)) as e:
        none.podcast_audio(oid, tmp_path / "a.wav")
    assert isinstance(e.value, NotebookError)
    broken, _ = world.studio(tts=[ToneEngine("espeak-ng", reason="espeak-ng is not installed")])
    with pytest.raises(TTSUnavailable, match="espeak-ng: espeak-ng is not installed"):
        broken.podcast_audio(oid, tmp_path / "a.wav")
    assert not (tmp_path / "a.wav").exists() and "audio" not in studio.store.get(oid).payload


# -- notes -----------------------------------------------------------------------------------------


def test_save_a_summary_as_a_note(world: World) -> None:
    studio, _ = world.studio(fallback=echo_summary)
    r = studio.summarize("Local")
    note = studio.save_note(r.output.id[:8], tags=["studio", "llm"])
    assert note.origin_kind == "summary" and note.origin_id == r.output.id
    assert note.body == r.answer.text and note.title == r.output.title
    assert note.citations == [c.to_json() for c in r.answer.citations] and note.tags == ["studio", "llm"]
    assert studio.notes.get(note.id) == note
    assert re.findall(r"\[(\d+)\]", note.body) and {int(x) for x in re.findall(r"\[(\d+)\]", note.body)} <= {
        c["passage_id"] for c in note.citations}


def test_save_a_chain_of_density_step_as_a_note(world: World) -> None:
    studio, _ = world.studio(list(CHAIN[:3]))
    r = studio.chain_of_density("Local", steps=3, words=CHAIN_WORDS)
    last = studio.save_note(r.output.id)
    assert last.title.endswith("\u2014 step 3") and last.origin_kind == "cod" and last.origin_id == r.output.id
    assert last.body == r.steps[2].citations["answer"]
    second = studio.save_note(r.output.id, step=2, title="My step")
    assert second.title == "My step" and second.citations == r.steps[1].citations["citations"]
    for bad in (0, 4, -1):
        with pytest.raises(NotebookError, match="Choose a step from 1 to 3"):
            studio.save_note(r.output.id, step=bad)


def test_save_a_podcast_as_a_note(stored_podcast: Any) -> None:
    studio, oid, _ = stored_podcast
    script = studio.script_of(oid)
    note = studio.save_note(oid)
    assert note.origin_kind == "podcast" and note.origin_id == oid
    assert note.body == script.to_markdown(with_sources=False) and "## Sources" not in note.body
    assert note.citations == script.citations and note.title == script.title
    with pytest.raises(NotebookError, match="No studio output"):
        studio.save_note("0" * 32)


def test_an_edited_line_citing_no_passage_is_flagged_and_the_title_kept(world: World) -> None:
    from notebooklm_local.core.podcast_script import Host, PodcastLine, PodcastScript

    studio, _engine = world.studio([])
    nb = studio.library.library.notebook("Local")
    script = PodcastScript("Kept title", [Host("Ada"), Host("Grace")], ["One"], [
        PodcastLine("Ada", "What is it?", [], 0), PodcastLine("Grace", "Something.", [], 0)])
    out = studio.store.add(nb.id, "podcast", script.title, source_ids=[], options={}, model="m", template="",
                           payload={"script": script.to_json(), "passages": []})
    new = studio.update_script(out.id, "**Ada:** What is it?\n\n**Grace:** It is 42 [999].\n")
    assert new.title == "Kept title"
    grace = new.lines[1]
    assert not grace.supported and "[999], which names no passage" in grace.flag


def test_a_note_from_a_studio_output_exports_its_provenance_in_the_front_matter(world: World) -> None:
    from notebooklm_local.core.note_export import render_markdown

    studio, _ = world.studio(fallback=echo_summary)
    r = studio.summarize("Local")
    note = studio.save_note(r.output.id)
    prov = r.output.payload["provenance"]
    assert note.provenance == prov and studio.notes.get(note.id).provenance == prov
    md = render_markdown(note, notebook_name="Local")
    front = md.split("\n---\n", 1)[0]
    assert f'model: "{prov["model"]}"' in front and "templates:" in front and "generated:" in front
    assert "summary (default)" in front
    manual = studio.notes.add(note.notebook_id, "Mine", "My own words.")
    assert manual.provenance == {} and "model:" not in render_markdown(manual, notebook_name="Local")
