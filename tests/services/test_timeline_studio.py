"""The timeline and data table as studio outputs: model-free (``ExtractiveStudio``) and generated
(``services/studio/timeline_gen.py``) with a scripted engine (a faithful one, one that invents, garbage) and
once through the real tiny model. Every shown citation resolves to its source's text; an unsupported row is
flagged, never shown as supported; garbage ends in a clear error with nothing stored."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.citations import Citation
from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.errors import NotebookError, StudioError
from notebooklm_local.core.llm import ChatMessage
from notebooklm_local.core.studio_store import StudioStore
from notebooklm_local.core.textutil import split_sentences
from notebooklm_local.core.timeline import NO_DATES, find_dates, find_quantities
from notebooklm_local.services.library_service import LibraryService
from notebooklm_local.services.studio.extractive import ExtractiveStudio
from notebooklm_local.services.studio.timeline_gen import generate
from tests.core.test_timeline import HISTORY
from tests.helpers.scripted_engine import ScriptedEngine
from tests.services.test_library import make_service
from tests.services.test_studio_scripted import prompt_passages

FACTS = ("GPT-3 has 175B parameters and was trained on 300 billion tokens.\n\n"
         "Mistral 7B needs about 14 GB of memory in 16-bit floats.\n\n"
         "Twitter was acquired for $44 billion in 2022.")
UNDATED = "Roses like sun and water. Prune them in the cold months so they grow strong again."


@pytest.fixture
def lib() -> LibraryService:
    svc = make_service(None)
    for nb in ("Dated", "Undated"):
        svc.create_notebook(nb)
    assert not svc.add("Dated", [SourceRef(text=HISTORY, title="History"), SourceRef(text=FACTS, title="Facts")]).failed
    assert not svc.add("Undated", [SourceRef(text=UNDATED, title="Roses")]).failed
    return svc


def _resolves(lib: LibraryService, citations: Sequence[Citation]) -> None:
    assert citations
    for c in citations:
        text, _ = lib.library.source_text(c.source_id)
        assert c.quote.strip() and " ".join(text[c.start : c.end].split()) == " ".join(c.quote.split())


# -- model-free ----------------------------------------------------------------------------------


def test_extracted_timeline_is_stored_exported_and_saved(lib: LibraryService, tmp_path: Path) -> None:
    studio = ExtractiveStudio(lib)
    r = studio.make("timeline", "Dated")
    tl = r.result
    assert r.kind == "timeline" and r.output is not None and len(tl.events) >= 8
    _resolves(lib, tl.citations)
    assert [e.date.key for e in tl.events] == sorted(e.date.key for e in tl.events)
    back = studio.load(r.output.id)
    assert back.result.to_markdown() == tl.to_markdown()
    rows = list(csv.DictReader(io.StringIO(ExtractiveStudio.render(tl, "csv"))))
    assert rows[0]["source"] == "History" and rows[0]["quote"]
    md = ExtractiveStudio.export(tl, "md", tmp_path / "t.md").read_text(encoding="utf-8")
    assert "| Date | Event | Source |" in md and "[^1]: History" in md
    with pytest.raises(NotebookError):
        ExtractiveStudio.render(tl, "opml")
    note = studio.save_note(r.output.id)
    assert "nothing generated" in note.body and note.citations


def test_extracted_table_rows_resolve(lib: LibraryService) -> None:
    r = ExtractiveStudio(lib).make("table", "Dated")
    rows = {(x.subject, x.quantity) for x in r.result.rows}
    assert ("GPT-3", "175B parameters") in rows and ("Twitter", "$44 billion") in rows
    _resolves(lib, r.result.citations)


def test_sources_without_dates_say_so(lib: LibraryService) -> None:
    r = ExtractiveStudio(lib).make("timeline", "Undated")
    assert r.result.events == [] and NO_DATES in r.result.to_markdown()


def test_no_sources_selected_is_a_clear_error(lib: LibraryService) -> None:
    nb = lib.library.notebook("Dated")
    for s in lib.library.sources(nb.id):
        lib.library.update_source(s.id, selected=0)
    with pytest.raises(NotebookError, match="No sources are selected"):
        ExtractiveStudio(lib).make("timeline", "Dated")
    with pytest.raises(NotebookError, match="No sources are selected"):
        generate(ScriptedEngine(), lib, "Dated")


# -- generated (scripted engine) -----------------------------------------------------------------


def faithful_timeline(messages: Sequence[ChatMessage], schema: dict[str, Any] | None) -> dict[str, Any]:
    """A faithful model: for each passage, its first dated sentence, the date as written there."""
    assert schema is not None and "events" in schema["properties"]
    events = []
    for pid, _src, text in prompt_passages(messages):
        for a, b in split_sentences(text):
            ds = find_dates(text[a:b])
            if ds:
                events.append({"date": ds[0].text, "event": text[a:b], "passage": pid})
    return {"events": events[:12]}


def faithful_table(messages: Sequence[ChatMessage], schema: dict[str, Any] | None) -> dict[str, Any]:
    assert schema is not None and "rows" in schema["properties"]
    rows = []
    for pid, _src, text in prompt_passages(messages):
        for a, b in split_sentences(text):
            sent = text[a:b]
            qs = find_quantities(sent)
            m = re.match(r"(GPT-3|Mistral 7B|Twitter)", sent)
            if qs and m:
                rows.append({"subject": m.group(1), "attribute": "size", "value": qs[0].text, "passage": pid})
    return {"rows": rows[:12]}


def test_generated_timeline_rows_are_checked_and_cited(lib: LibraryService) -> None:
    engine = ScriptedEngine(fallback=faithful_timeline)
    seen: list[str] = []
    r = generate(engine, lib, "Dated", what="timeline", progress=lambda _d, _t, m: seen.append(m))
    tl = r.result
    assert engine.calls and engine.calls[0].json_schema is not None and seen
    assert tl.generated and tl.model == "scripted-model.gguf" and tl.events
    assert all(e.supported and e.generated for e in tl.events)
    _resolves(lib, tl.citations)
    for e in tl.events:  # the date is one of the cited passage's own dates
        text, _ = lib.library.source_text(e.citation.source_id)
        assert e.date.text in text[e.date_span[0] : e.date_span[1] + 1]
        assert e.citation.start <= e.date_span[0] < e.citation.end  # the cited sentence is the one with the date
    assert [e.date.key for e in tl.events] == sorted(e.date.key for e in tl.events)
    stored = StudioStore(lib.library).get(r.output.id)
    assert stored.kind == "timeline" and stored.model == "scripted-model.gguf"
    back = ExtractiveStudio(lib).load(r.output.id)
    assert back.result.generated and "checked against its passage" in back.result.to_markdown()
    note = ExtractiveStudio(lib).save_note(r.output.id)
    assert "nothing generated" not in note.body and "Written by the model" in note.body


def test_an_invented_row_is_flagged_never_supported(lib: LibraryService) -> None:
    def mixed(messages: Sequence[ChatMessage], schema: dict[str, Any] | None) -> dict[str, Any]:
        good = faithful_timeline(messages, schema)["events"]
        pid = good[0]["passage"]
        bad = [{"date": "1871", "event": "The company was founded by Napoleon in Paris.", "passage": pid},
               {"date": "7 July 1492", "event": good[0]["event"], "passage": pid},  # a date the passage lacks
               {"date": "soon", "event": "Something will happen.", "passage": pid},  # no date: dropped
               {"date": "2004", "event": "Went public after a long delay.", "passage": 99}]  # not given: dropped
        return {"events": good + bad}

    r = generate(ScriptedEngine(fallback=mixed), lib, "Dated", what="timeline")
    flagged = [e for e in r.result.events if not e.supported]
    assert {e.date.label for e in flagged} >= {"1871", "1492-07-07"}
    assert all(e.flag for e in flagged) and any("not a date of the cited passage" in e.flag for e in flagged)
    assert any("Napoleon" in e.flag or "1871" in e.flag for e in flagged)
    assert not any("Something will happen" in e.text for e in r.result.events)
    md = r.result.to_markdown()
    assert sum("\u26a0" in line for line in md.splitlines() if line.startswith("| ")) == len(flagged)
    assert any("flagged" in n for n in r.result.notes)
    rows = list(csv.DictReader(io.StringIO(r.result.to_csv())))
    assert sum(1 for x in rows if x["supported"] == "no") == len(flagged)
    _resolves(lib, r.result.citations)
    from notebooklm_local.services.health import notebook_health

    health = notebook_health(lib.library, lib.library.notebook("Dated").id)  # generated rows count, checked
    assert health.outputs == 1 and health.sentences == len(r.result.events) and not health.stale
    assert health.sentences - health.supported == len(flagged)


def test_garbage_is_retried_then_refused_with_nothing_stored(lib: LibraryService) -> None:
    garbage = ["Sure! Here is a timeline.", {"events": []},
               {"events": [{"date": "1066", "event": "The Normans invaded England at Hastings.", "passage": 1}]}]
    engine = ScriptedEngine(fallback=lambda m, s: garbage[len(engine.calls) % 3])
    n_before = len(StudioStore(lib.library).list(lib.library.notebook("Dated").id))
    with pytest.raises(StudioError, match="no usable timeline") as e:
        generate(engine, lib, "Dated", what="timeline", retries=2)
    assert "attempt 1" in str(e.value) and "larger model" in str(e.value)
    assert len(StudioStore(lib.library).list(lib.library.notebook("Dated").id)) == n_before


def test_generated_table(lib: LibraryService) -> None:
    r = generate(ScriptedEngine(fallback=faithful_table), lib, "Dated", what="table")
    rows = {(x.subject, x.quantity) for x in r.result.rows if x.supported}
    assert ("GPT-3", "175B parameters") in rows and ("Twitter", "$44 billion") in rows
    _resolves(lib, r.result.citations)
    for x in r.result.rows:  # the cited sentence is the one that holds the number
        assert re.search(r"\d+", x.quantity).group() in x.citation.quote and x.sentence == x.citation.quote
    wrong = generate(ScriptedEngine(fallback=lambda m, s: {"rows": [
        *faithful_table(m, s)["rows"], {"subject": "GPT-3", "attribute": "parameters", "value": "900B",
                                        "passage": 1}]}), lib, "Dated", what="table", store=False)
    bad = [x for x in wrong.result.rows if x.quantity == "900B"]
    assert bad and not bad[0].supported and "900" in bad[0].flag


def test_no_dates_needs_no_model_call(lib: LibraryService) -> None:
    engine = ScriptedEngine()
    r = generate(engine, lib, "Undated", what="timeline")
    assert not engine.calls and r.result.events == [] and NO_DATES in r.result.to_markdown()


# -- the real tiny model ---------------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.slow
def test_real_tiny_model_gives_checked_rows_or_a_clear_error(lib: LibraryService, tiny_model_path: Path) -> None:
    from notebooklm_local.services.llama_runtime import LlamaCppEngine

    engine = LlamaCppEngine(tiny_model_path, n_ctx=2048)
    outcomes: list[str] = []
    try:
        for what in ("timeline", "table"):
            n_before = len(StudioStore(lib.library).list(lib.library.notebook("Dated").id))
            try:
                r = generate(engine, lib, "Dated", what=what, retries=0, max_tokens=120)
            except StudioError as e:
                outcomes.append(f"{what}: refused")
                assert "no usable" in str(e) and "attempt 1:" in str(e) and "larger model" in str(e)
                assert len(StudioStore(lib.library).list(lib.library.notebook("Dated").id)) == n_before
                continue
            rows = r.result.events if what == "timeline" else r.result.rows
            assert any(x.supported for x in rows)
            for x in rows:
                assert x.supported or x.flag
            _resolves(lib, r.result.citations)
            assert r.stats.calls >= 1 and r.stats.generation_s > 0
            outcomes.append(f"{what}: {sum(x.supported for x in rows)} supported, {sum(not x.supported for x in rows)} "
                            "flagged")
        assert len(outcomes) == 2
        print("tiny model:", "; ".join(outcomes))
    finally:
        engine.close()


# -- command line ----------------------------------------------------------------------------------


def test_cli_extract_timeline_and_table(app_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from notebooklm_local import cli, workspace
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.core.settings import Settings

    svc = workspace.open_library(app_paths().ensure(), Settings())
    svc.create_notebook("Dated")
    svc.create_notebook("Undated")
    assert not svc.add("Dated", [SourceRef(text=HISTORY + "\n\n" + FACTS, title="History")]).failed
    assert not svc.add("Undated", [SourceRef(text=UNDATED, title="Roses")]).failed
    svc.library.close()
    capsys.readouterr()
    assert cli.main(["extract", "timeline", "-n", "Dated", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) >= 8 and rows[0]["source"] == "History" and rows[0]["quote"] and "dated event" in err
    assert cli.main(["extract", "table", "-n", "Dated", "--format", "json", "--no-store"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "data_table" and d["rows"] and d["rows"][0]["citation"]["quote"]
    assert cli.main(["extract", "timeline", "-n", "Undated"]) == 0
    assert NO_DATES in capsys.readouterr().out
    target = tmp_path / "t.md"
    assert cli.main(["extract", "timeline", "-n", "Dated", "-o", str(target)]) == 0
    assert "| Date | Event | Source |" in target.read_text(encoding="utf-8")
    assert cli.main(["studio", "list", "-n", "Dated", "--kind", "timeline", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 2
    assert cli.main(["studio", "show", listed[0]["id"]]) == 0
    assert "| Date | Event | Source |" in capsys.readouterr().out
    # written by the model (scripted), every row checked
    engine = ScriptedEngine(fallback=faithful_timeline)
    monkeypatch.setattr(workspace, "open_engine", lambda *_a, **_k: engine)
    assert cli.main(["extract", "timeline", "-n", "Dated", "--generate", "--format", "md"]) == 0
    out, err = capsys.readouterr()
    assert engine.calls and "Written by the model" in out and "0 flagged" in err
    assert cli.main(["extract", "summary", "-n", "Dated", "--generate"]) != 0
    assert "need no model" in capsys.readouterr().err
