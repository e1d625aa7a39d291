"""Chain of density without a model: entities, entity density, trimming, and every check a step must pass.

``SOURCE`` and ``CHAIN`` (a realistic article and five scripted steps whose entity density rises) are
shared with the service tests in ``tests/services/test_studio_scripted.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from notebooklm_local.core.density import (
    CoDStep,
    StepRejected,
    check_step,
    cod_step_schema,
    contains_entity,
    count_tokens,
    degenerate_reason,
    entity_density,
    extract_entities,
    trim_to_words,
)
from notebooklm_local.services.studio.cod import SourceMatcher

SOURCE = """Running language models on a laptop

Quantization stores the weights of a language model in fewer bits. The llama.cpp project, started by Georgi \
Gerganov in March 2023, made this practical on ordinary computers. Its GGUF file format keeps the weights and the \
tokenizer in one file.

The most popular format is Q4_K_M, which stores most weights in about 4.8 bits. According to the llama.cpp \
perplexity tables, Q4_K_M keeps most of the quality of the 16-bit model at roughly a quarter of the size. Smaller \
formats such as Q2_K lose noticeably more quality.

Small models benefit the most. Gemma 3 270M, released by Google DeepMind, runs on two CPU cores at about 35 tokens \
per second when quantized to Q8_0. Larger models such as Llama 3.1 8B need about 5 GB of memory in Q4_K_M.

For retrieval, an embedding model such as all-MiniLM-L6-v2 turns each passage into a vector of 384 numbers. Chroma \
stores these vectors on disk, and SQLite FTS5 adds keyword search, so the whole pipeline runs offline.
"""

CHAIN_WORDS = 45
# What a good model writes, step by step: same length, more entities each time (Adams et al. 2023).
CHAIN: list[dict[str, Any]] = [
    {"missing_entities": ["llama.cpp"],
     "denser_summary": "This article discusses how language models can be run on ordinary computers. It explains "
                       "that the weights of a model can be stored in fewer bits, and that the llama.cpp project made "
                       "this practical. It also covers formats, quality and memory."},
    {"missing_entities": ["Q4_K_M", "Gemma 3 270M"],
     "denser_summary": "The article explains that quantization stores model weights in fewer bits, and that "
                       "llama.cpp made running models on ordinary computers practical. The Q4_K_M format keeps most "
                       "quality at a quarter of the size, and Gemma 3 270M runs on CPU cores."},
    {"missing_entities": ["Georgi Gerganov", "GGUF"],
     "denser_summary": "Quantization stores model weights in fewer bits; llama.cpp, started by Georgi Gerganov, made "
                       "it practical with the GGUF file format. Q4_K_M keeps most quality at a quarter of the size, "
                       "and Gemma 3 270M runs on two CPU cores quickly."},
    {"missing_entities": ["Google DeepMind", "35 tokens per second"],
     "denser_summary": "Quantization stores weights in fewer bits; llama.cpp by Georgi Gerganov made it practical "
                       "with GGUF files. Q4_K_M keeps most quality at a quarter of the size; Gemma 3 270M from Google "
                       "DeepMind runs on two CPU cores at 35 tokens per second."},
    {"missing_entities": ["Chroma", "SQLite FTS5"],
     "denser_summary": "Quantization stores weights in fewer bits; llama.cpp by Georgi Gerganov enables it with GGUF. "
                       "Q4_K_M keeps most quality at quarter size; Google DeepMind's Gemma 3 270M runs on two CPU "
                       "cores at 35 tokens per second; Chroma and SQLite FTS5 add offline retrieval."},
]


def _check(data: Any, *, index: int = 1, previous: CoDStep | None = None, budget: int = CHAIN_WORDS,
           accepted_before: tuple[str, ...] = ()) -> CoDStep:
    return check_step(data, index=index, previous=previous, budget_words=budget,
                      find_in_source=SourceMatcher(SOURCE).find, reference=SOURCE, accepted_before=accepted_before)


def _step(summary: str, entities: list[str], **kw: Any) -> dict[str, Any]:
    return {"missing_entities": entities, "denser_summary": summary, **kw}


@pytest.fixture
def first() -> CoDStep:
    return _check(CHAIN[0])


def _norm_set(items: list[str]) -> set[str]:
    return {i.casefold() for i in items}


# -- entities --------------------------------------------------------------------------------------


def test_entities_are_proper_noun_runs_acronyms_numbers_and_identifiers() -> None:
    text = ("Georgi Gerganov started llama.cpp in March 2023 with NASA engineers. The European Space Agency "
            "tested Q4_K_M and all-MiniLM-L6-v2 on 384 vectors; 95% of runs used GGUF.")
    ents = extract_entities(text)
    for want in ("Georgi Gerganov", "llama.cpp", "March 2023", "NASA", "European Space Agency", "Q4_K_M",
                 "all-MiniLM-L6-v2", "384", "95%", "GGUF"):
        assert want in ents, (want, ents)
    # the leading "The" of a run is not part of the entity, and ordinary lower-case words are none
    assert "The European Space Agency" not in ents
    assert not _norm_set(ents) & {"engineers", "vectors", "runs", "tested", "the"}


def test_entities_keep_first_occurrence_order_and_are_deduplicated_case_insensitively() -> None:
    ents = extract_entities("Chroma stores vectors. We like chroma. CHROMA is fast and Chroma is local.")
    assert [e for e in ents if e.casefold() == "chroma"] == ["Chroma"]


def test_a_sentence_initial_ordinary_word_is_not_an_entity() -> None:
    assert extract_entities("Quantization stores weights in fewer bits. Weights are numbers.") == []
    # ... unless the text (or the reference, e.g. the source) has it capitalised mid-sentence
    assert "Quantization" in extract_entities("Quantization helps. We study Quantization here.")
    assert "Quantization" in extract_entities("Quantization helps.", reference="We study Quantization here.")
    assert extract_entities("Quantization helps.", reference="Quantization helps a lot.") == []
    # an acronym or a multi-word name at a sentence start is an entity anyway
    assert extract_entities("NASA flies. Google DeepMind trains.") == ["NASA", "Google DeepMind"]
    # after a list bullet or a heading mark a word starts a sentence too
    assert extract_entities("- Quantization saves memory\n# Overview of it") == []


def test_generic_capitalised_words_are_not_entities() -> None:
    ents = extract_entities("However, this works. Overall the Summary is short. In Paris it rains.")
    assert ents == ["Paris"]


def test_lists_and_possessives_give_separate_entities() -> None:
    ents = extract_entities("It uses Chroma and SQLite FTS5 with Google DeepMind's Gemma 3 and Alice's notes.")
    assert {"Chroma", "SQLite FTS5", "Google DeepMind", "Gemma 3"} <= set(ents), ents
    assert not [e for e in ents if " and " in e or "'s" in e], ents
    # names that are joined by "of" / "von" stay one entity
    assert "Bank of England" in extract_entities("We asked the Bank of England and Ludwig von Mises about it.")
    assert "Ludwig von Mises" in extract_entities("We asked the Bank of England and Ludwig von Mises about it.")


def test_a_number_with_a_unit_is_one_entity_never_a_bare_number() -> None:
    ents = extract_entities("The files take 4.8GB and 270M parameters, at 35 tokens and 1,000 steps.")
    assert {"4.8GB", "270M", "35", "1,000"} <= set(ents), ents
    assert "270" not in ents and "4.8" not in ents
    # Gemma 3 270M counts once: its parts are inside the longer entity
    names, _, _ = entity_density("Gemma 3 270M is small.")
    assert names == ["Gemma 3 270M"]


def test_count_tokens_counts_identifiers_as_one_word() -> None:
    assert count_tokens("llama.cpp runs Q4_K_M and all-MiniLM-L6-v2, doesn't it?") == 7
    assert count_tokens("") == 0


def test_contains_entity_whole_words_ignoring_case_and_punctuation() -> None:
    assert contains_entity("We used LLAMA.CPP today", "llama.cpp")
    assert contains_entity("Gemma-3 is small", "Gemma 3")
    assert not contains_entity("Gemma 30 is big", "Gemma 3")
    assert not contains_entity("anything", "  ")
    assert contains_entity("about 95 % of it", "95 %")


def test_entity_density_is_entities_over_tokens() -> None:
    text = "Georgi Gerganov wrote llama.cpp in 2023 for ordinary laptops."
    ents, tokens, density = entity_density(text)
    assert set(ents) == {"Georgi Gerganov", "llama.cpp", "2023"}
    assert tokens == 9 and density == pytest.approx(3 / 9)
    # an accepted missing entity the extractor cannot see counts when the text uses it
    ents2, _, d2 = entity_density(text, ["ordinary laptops", "not in the text"])
    assert "ordinary laptops" in ents2 and "not in the text" not in ents2 and d2 == pytest.approx(4 / 9)
    assert entity_density("") == ([], 0, 0.0)


# -- trimming and degeneration ---------------------------------------------------------------------


def test_trim_to_words_keeps_short_text() -> None:
    assert trim_to_words("  One two three.  ", 5) == ("One two three.", False)


def test_trim_to_words_cuts_at_a_sentence_end() -> None:
    text = "One two three four. Five six seven eight. Nine ten eleven twelve."
    out, cut = trim_to_words(text, 9)
    assert cut and out == "One two three four. Five six seven eight."
    assert count_tokens(out) <= 9


def test_trim_to_words_cuts_at_a_word_when_no_sentence_end_is_near() -> None:
    out, cut = trim_to_words("One two three four five six seven eight nine ten, eleven twelve", 10)
    assert cut and out == "One two three four five six seven eight nine ten\u2026"
    # a first sentence far below the budget is not enough: the cut falls at the word
    out, cut = trim_to_words("Short one. " + " ".join(f"w{i}" for i in range(40)), 20)
    assert cut and out.endswith("\u2026") and count_tokens(out) == 20


def test_degenerate_reason() -> None:
    assert "repeats itself" in (degenerate_reason("the model is good " * 5) or "")
    assert degenerate_reason(("alpha beta gamma delta " * 4) + "epsilon") is not None
    assert degenerate_reason(" ".join(["data", "model", "bits", "model", "data", "bits"] * 3)) is not None
    assert degenerate_reason(CHAIN[4]["denser_summary"]) is None
    assert degenerate_reason("ok ok ok") is None  # too short to judge


# -- check_step: the step as a whole ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (["not", "an", "object"], "not a JSON object"),
        ("a string", "not a JSON object"),
        ({"missing_entities": ["llama.cpp"]}, "the summary is empty"),
        ({"missing_entities": [], "denser_summary": "   "}, "the summary is empty"),
        ({"missing_entities": [], "denser_summary": 42}, "the summary is empty"),
        ({"missing_entities": 7, "denser_summary": CHAIN[0]["denser_summary"]}, "'missing_entities' is not a list"),
        (_step("Quantization stores weights in fewer bits. " * 6, ["Quantization"]), "repeats itself"),
        (_step("Quantization stores weights in few bits with llama.cpp.", ["llama.cpp"]), "too short"),
        (_step("Honey bees visit about two million flowers to make one pound of honey, and a colony keeps its hive "
               "warm while worker bees live about six weeks in summer, carrying nectar and pollen home every day.",
               []), "not about the source"),
    ],
)
def test_check_step_rejects_unusable_output(data: Any, reason: str) -> None:
    with pytest.raises(StepRejected, match=reason):
        _check(data)


def test_a_step_with_the_same_summary_as_the_previous_is_rejected(first: CoDStep) -> None:
    same = dict(CHAIN[0], denser_summary=CHAIN[0]["denser_summary"].replace("It also", "it also"),
                missing_entities=["GGUF"])
    with pytest.raises(StepRejected, match="repeats the previous step"):
        _check(same, index=2, previous=first)


def test_a_later_step_must_add_an_entity(first: CoDStep) -> None:
    with pytest.raises(StepRejected, match="added no new entity"):
        _check(dict(CHAIN[1], missing_entities=[]), index=2, previous=first)
    # the reasons of the rejected ones are part of the message
    with pytest.raises(StepRejected, match=r"added no new entity.*Mistral 7B.*does not occur in the source"):
        _check(dict(CHAIN[1], missing_entities=["Mistral 7B"]), index=2, previous=first)


def test_the_first_step_may_name_no_entity() -> None:
    step = _check(dict(CHAIN[0], missing_entities=[]))
    assert step.missing_entities == [] and step.index == 1 and step.density > 0


def test_a_later_step_whose_density_does_not_rise_is_rejected(first: CoDStep) -> None:
    # adds one entity but is longer and loses the entity it had: density falls
    thinner = _step("This article discusses at length how language models can be run on ordinary home computers, "
                    "and it explains in general terms that the weights of a model can be stored in fewer bits, using "
                    "formats such as Q4_K_M, and what that means for quality.", ["Q4_K_M"])
    with pytest.raises(StepRejected, match="entity density did not rise"):
        _check(thinner, index=2, previous=first)


def test_a_summary_over_the_budget_is_cut_at_a_sentence_end_with_a_note() -> None:
    long = CHAIN[1]["denser_summary"] + " It adds that the GGUF format keeps the weights and the tokenizer in one file."
    step = _check(dict(CHAIN[1], denser_summary=long), budget=45)
    assert step.summary == CHAIN[1]["denser_summary"]
    assert any("cut from 56 to 41 words (the budget is 45)" in n for n in step.notes)
    # within 10% over the budget is left alone
    assert _check(CHAIN[1], budget=38).summary == CHAIN[1]["denser_summary"]


# -- check_step: each missing entity ---------------------------------------------------------------


def test_missing_entities_are_checked_one_by_one(first: CoDStep) -> None:
    data = dict(CHAIN[1], missing_entities=[
        "Q4_K_M",  # good
        "Mistral 7B",  # invented
        "the most popular quantization format of llama.cpp",  # not an entity: too long
        "llama.cpp",  # already in step 1
        "SQLite FTS5",  # in the source, but the new summary does not use it
        "Gemma 3 270M",  # good
    ])
    step = _check(data, index=2, previous=first, accepted_before=tuple(first.missing_entities))
    assert step.missing_entities == ["Q4_K_M", "Gemma 3 270M"]
    reasons = {r["entity"]: r["reason"] for r in step.rejected_entities}
    assert reasons == {
        "Mistral 7B": "does not occur in the source",
        "the most popular quantization format of llama.cpp": "longer than 5 words",
        "llama.cpp": "already in the previous summary",
        "SQLite FTS5": "not used in the new summary",
    }
    assert step.density > first.density


def test_near_miss_spellings_take_the_sources_spelling(first: CoDStep) -> None:
    summary = ("Quantization stores model weights in fewer bits, and llama.cpp made it practical on ordinary "
               "computers. The GGUF format keeps weights and tokenizer together; Gemma 3 from Google DeepMind runs "
               "on two CPU cores.")
    data = _step(summary, ["gguf", "Gemma-3", "google deepmind"])
    step = _check(data, index=2, previous=first)
    assert step.missing_entities == ["GGUF", "Gemma 3", "Google DeepMind"]
    assert any("\u201cGemma-3\u201d matched the source's \u201cGemma 3\u201d" in n for n in step.notes)


def test_a_punctuation_miss_is_repaired_to_the_sources_identifier() -> None:
    summary = ("This article explains how language models run on ordinary computers with fewer bits for their "
               "weights, and that the llama.cpp project made this practical for everybody.")
    step = _check(_step(summary, ["Llama cpp"]))
    assert step.missing_entities == ["llama.cpp"]


def test_a_near_but_wrong_entity_is_rejected(first: CoDStep) -> None:
    summary = CHAIN[1]["denser_summary"].replace("Gemma 3 270M", "Gemma 4")
    data = _step(summary, ["Gemma 4", "Q4_K_M"])
    step = _check(data, index=2, previous=first)
    assert step.missing_entities == ["Q4_K_M"]
    assert {"entity": "Gemma 4", "reason": "does not occur in the source"} in step.rejected_entities


def test_at_most_three_entities_are_accepted_and_a_string_list_is_read() -> None:
    summary = CHAIN[3]["denser_summary"]
    step = _check(_step(summary, "GGUF; Q4_K_M; Georgi Gerganov; Google DeepMind"))
    assert step.missing_entities == ["GGUF", "Q4_K_M", "Georgi Gerganov"]
    dup = _check(_step(summary, ["GGUF", "gguf", "\u201cGGUF\u201d"]))
    assert dup.missing_entities == ["GGUF"]


def test_source_matcher() -> None:
    m = SourceMatcher(SOURCE)
    assert m.find("Llama cpp") == "llama.cpp"
    assert m.find("LLAMA.CPP") == "llama.cpp"
    assert m.find("Gemma-3") == "Gemma 3"
    assert m.find("q4_k_m") == "Q4_K_M"
    assert m.find("Georgi Gerganow") == "Georgi Gerganov"  # a typo, fuzzily (not "by Georgi Gerganov")
    assert m.find("google deepmnd") == "Google DeepMind"
    assert m.find("sqlite fts 5") == "SQLite FTS5"
    assert m.find("quantisation") == "Quantization"
    for wrong in ("Gemma 4", "Mistral 7B", "", "   ", "x" * 200, "Q9"):
        assert m.find(wrong) is None, wrong


# -- the whole chain -------------------------------------------------------------------------------


def test_a_five_step_chain_with_rising_density_passes_every_check() -> None:
    steps: list[CoDStep] = []
    accepted: list[str] = []
    for i, data in enumerate(CHAIN, 1):
        step = _check(data, index=i, previous=steps[-1] if steps else None, accepted_before=tuple(accepted))
        assert step.rejected_entities == [], (i, step.rejected_entities)
        assert step.dropped == [], (i, step.dropped)
        accepted += step.missing_entities
        steps.append(step)
    densities = [s.density for s in steps]
    assert densities == sorted(densities) and len(set(densities)) == 5
    assert all(abs(s.tokens - CHAIN_WORDS) <= 5 for s in steps)
    assert set(accepted) == {"llama.cpp", "Q4_K_M", "Gemma 3 270M", "Georgi Gerganov", "GGUF", "Google DeepMind",
                             "35 tokens per second", "Chroma", "SQLite FTS5"}
    assert {"Chroma", "SQLite FTS5", "Google DeepMind", "Gemma 3 270M"} <= set(steps[-1].entities)
    # every accepted entity is in the source as spelled
    assert all(contains_entity(SOURCE, e) for e in accepted)


def test_dropped_entities_are_noted() -> None:
    first = _check(CHAIN[2])  # has Georgi Gerganov, GGUF, Q4_K_M, Gemma 3 270M, llama.cpp, CPU
    later = _step("Quantization stores weights in fewer bits with GGUF; Q4_K_M keeps most quality at a quarter of "
                  "the size; Gemma 3 270M from Google DeepMind runs on two CPU cores at 35 tokens per second, and "
                  "Chroma plus SQLite FTS5 search offline.", ["Google DeepMind", "Chroma", "SQLite FTS5"])
    step = _check(later, index=2, previous=first)
    assert set(step.dropped) == {"Georgi Gerganov", "llama.cpp"}
    assert any(n.startswith("dropped from the previous step:") for n in step.notes)


def test_cod_step_json_round_trip_and_schema() -> None:
    step = _check(CHAIN[0])
    step.citations = {"answer": "x", "citations": []}
    again = CoDStep.from_json(step.to_json())
    assert again.to_json() == step.to_json() and again.density == pytest.approx(step.density, abs=1e-4)
    assert step.to_json()["words"] == count_tokens(step.summary)
    schema = cod_step_schema(80)
    assert schema["required"] == ["missing_entities", "denser_summary"]
    assert schema["properties"]["missing_entities"]["maxItems"] == 3
    assert schema["properties"]["denser_summary"]["maxLength"] == 720
