"""Audio overview formats (issue 15, item 3): deep dive, brief, critique, debate; lengths; focus; the podcast
language per notebook; one segment written again; the per-line audio cache (a re-voice after a one-line
change speaks exactly one line). A scripted engine writes good output; the tone engine counts syntheses."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.errors import NotebookError, StudioError
from notebooklm_local.core.podcast_script import PODCAST_FORMATS, budget, normalize_length, podcast_format
from notebooklm_local.core.tts import Utterance
from notebooklm_local.services.tts.render import LineAudioCache, render_dialogue
from tests.core.test_tts import ToneEngine
from tests.services.test_studio_scripted import World, _seg, assert_citations_resolve, pid_of, prompt_passages
from tests.services.test_studio_scripted import world as world  # the fixture

PHRASES = {"quant": "Quantization stores the weights of a language model", "chunks": "Documents are cut into chunks",
           "hybrid": "Hybrid retrieval runs both", "chroma": "Chroma stores these vectors"}


def _ids(world: World) -> dict[str, int]:
    ps = world.passages("Mixed")
    return {k: pid_of(ps, phrase) for k, phrase in PHRASES.items()}


def _outline(ids: dict[str, int], n: int, title: str = "Small models at home") -> dict[str, Any]:
    topics = [("Why quantization matters", [ids["quant"]]), ("Finding the right passages", [ids["chunks"], ids["hybrid"]]),
              ("Everything offline", [ids["chroma"]]), ("Quality and size", [ids["quant"]])]
    return {"title": title, "segments": [{"topic": t, "passages": p} for t, p in topics[:n]]}


# -- the formats ------------------------------------------------------------------------------------


def test_the_formats_and_lengths() -> None:
    assert list(PODCAST_FORMATS) == ["deep-dive", "brief", "critique", "debate"]
    assert podcast_format(None).name == "deep-dive" and podcast_format("Deep dive").name == "deep-dive"
    assert podcast_format("brief").speakers == 1 and all(
        PODCAST_FORMATS[f].speakers == 2 for f in ("deep-dive", "critique", "debate"))
    assert normalize_length("medium") == "default"
    for f in PODCAST_FORMATS.values():
        sizes = [budget(f, n) for n in ("short", "default", "long")]
        assert sizes[0][0] * sizes[0][1] < sizes[1][0] * sizes[1][1] < sizes[2][0] * sizes[2][1], f.name
    # a brief is one or two minutes: at ~7 s a line, 8 to 18 lines
    assert [budget("brief", n)[0] * budget("brief", n)[1] for n in ("short", "default", "long")] == [8, 12, 18]
    with pytest.raises(NotebookError, match="format must be one of"):
        podcast_format("radio play")
    with pytest.raises(NotebookError, match="length must be one of"):
        normalize_length("forever")


def test_brief_has_one_speaker_and_every_line_cited(world: World) -> None:
    ids = _ids(world)
    segs = [_seg(("Nova", "Quantization stores the weights of a language model in fewer bits.", [1]),
                 ("Nova", "Q4_K_M keeps most of the quality at roughly a quarter of the size.", [1])),
            _seg(("Nova", "Documents are cut into chunks of a few hundred tokens.", [1]),
                 ("Nova", "Hybrid retrieval runs both searches and fuses the rankings.", [2]))]
    studio, engine = world.studio([_outline(ids, 2), *segs], tts=[ToneEngine()])
    r = studio.podcast_script("Mixed", format="brief", length="short", host_a="Nova", host_b="Ignored",
                              focus="how it runs on a laptop")
    s = r.script
    assert s.format == "brief" and [h.name for h in s.hosts] == ["Nova"]
    assert {ln.speaker for ln in s.lines} == {"Nova"} and all(ln.citations and ln.supported for ln in s.lines)
    assert r.output.template == "podcast_brief_outline+podcast_brief" and r.output.options["format"] == "brief"
    # the outline asked for the brief's short budget (2 key points), the dialogue grammar for one speaker
    assert engine.calls[0].json_schema["properties"]["segments"]["minItems"] == 2
    assert "speaking alone" in engine.calls[0].prompt and "how it runs on a laptop" in engine.calls[0].prompt
    assert engine.calls[1].json_schema["properties"]["lines"]["items"]["properties"]["speaker"]["enum"] == ["Nova"]
    assert "About 4 short sentences" in engine.calls[1].prompt
    assert "*Presented by Nova.*" in s.to_markdown()
    assert_citations_resolve(world, s.citations, world.passages("Mixed"))
    # one voice for the one speaker
    res = studio.podcast_audio(r.output.id, world.lib.data_dir / "brief.wav")
    assert set(res.voices) == {"Nova"} and {seg.speaker for seg in res.segments} == {"Nova"}


def test_brief_lines_that_cite_nothing_are_retried(world: World) -> None:
    ids = _ids(world)
    chatty = _seg(("Nova", "Hello and welcome to the show.", []), ("Nova", "Let us begin right away.", []),
                  ("Nova", "Quantization stores the weights of a language model in fewer bits.", [1]))
    good = _seg(("Nova", "Quantization stores the weights of a language model in fewer bits.", [1]),
                ("Nova", "Q4_K_M keeps most of the quality at roughly a quarter of the size.", [1]))
    good2 = _seg(("Nova", "Documents are cut into chunks of a few hundred tokens.", [1]),
                 ("Nova", "Hybrid retrieval runs both searches and fuses the rankings.", [2]))
    studio, engine = world.studio([_outline(ids, 2), chatty, good, good2])
    stages: list[Any] = []
    r = studio.podcast_script("Mixed", format="brief", length="short", host_a="Nova", on_stage=stages.append)
    assert r.output.payload["stats"]["failed_attempts"] == 1 and len(engine.calls) == 4
    assert any("2 of 3 lines cite no passage" in str(s.rejected) for s in stages)
    assert all(ln.citations for ln in r.script.lines)


def test_critique_cites_the_passage_each_line_questions(world: World) -> None:
    ids = _ids(world)
    segs = [_seg(("Alex", "The notes say Q4_K_M keeps most of the quality at roughly a quarter of the size.", [1]),
                 ("Sam", "Quantization stores the weights of a language model in fewer bits.", [1]),
                 ("Alex", "So how much quality is lost?", []),
                 ("Sam", "The passage says most of the quality is kept but gives no measurement for it.", [1])),
            _seg(("Alex", "Documents are cut into chunks of a few hundred tokens.", [1]),
                 ("Sam", "Hybrid retrieval runs both searches and fuses the rankings.", [2])),
            _seg(("Sam", "Chroma stores these vectors on disk.", [1]),
                 ("Alex", "That is what the sources establish. Goodbye!", [1]))]
    studio, engine = world.studio([_outline(ids, 3, "How far to trust small models"), *segs])
    r = studio.podcast_script("Mixed", format="critique", length="short")
    s = r.script
    assert s.format == "critique" and r.output.template == "podcast_critique_outline+podcast_critique"
    assert "reviewer" in s.hosts[1].persona and "a claim they do not back up" in engine.calls[0].prompt
    assert 'Weakness "Why quantization matters"' in engine.calls[1].prompt
    cited = [ln for ln in s.lines if not ln.text.endswith("?")]
    assert cited and all(ln.citations for ln in cited)
    assert s.lines[0].citations == [ids["quant"]]
    assert_citations_resolve(world, s.citations, world.passages("Mixed"))


def test_debate_lines_alternate_positions(world: World) -> None:
    ids = _ids(world)
    not_alternating = _seg(("Alex", "Quantization stores the weights of a language model in fewer bits.", [1]),
                           ("Alex", "Q4_K_M keeps most of the quality at roughly a quarter of the size.", [1]),
                           ("Sam", "Quantization stores the weights in fewer bits, so quality can suffer.", [1]))
    seg1 = _seg(("Alex", "Q4_K_M keeps most of the quality at roughly a quarter of the size.", [1]),
                ("Sam", "Quantization stores the weights of a language model in fewer bits.", [1]),
                ("Alex", "Keeping most of the quality at a quarter of the size is a good trade.", [1]),
                ("Sam", "Fewer bits for the weights of a language model is still a loss.", [1]))
    seg2 = _seg(("Alex", "Hybrid retrieval runs both searches and fuses the rankings.", [2]),
                ("Sam", "Documents are cut into chunks of a few hundred tokens first.", [1]))
    studio, engine = world.studio([_outline(ids, 2, "Four bits or eight?"), not_alternating, seg1, seg2])
    stages: list[Any] = []
    r = studio.podcast_script("Mixed", format="debate", length="short", on_stage=stages.append)
    s = r.script
    assert s.format == "debate" and r.output.template == "podcast_debate_outline+podcast_debate"
    assert "FOR" in s.hosts[0].persona and "AGAINST" in s.hosts[1].persona
    for seg in range(len(s.segments)):
        speakers = [ln.speaker for ln in s.lines if ln.segment == seg]
        assert all(a != b for a, b in zip(speakers, speakers[1:], strict=False)), speakers
        assert speakers[0] == "Alex"
    assert all(ln.citations for ln in s.lines)
    attempts = r.output.payload["stats"]
    assert attempts["failed_attempts"] == 1
    assert len(engine.calls) == 4 and any("do not take turns" in str(st.rejected) for st in stages)


def test_lengths_change_the_budgets(world: World) -> None:
    ids = _ids(world)
    seen = {}
    for length in ("short", "default", "long"):
        n, per = budget("deep-dive", length)
        studio, engine = world.studio([_outline(ids, 2)], fallback="{}")
        with pytest.raises(StudioError):  # the scripted outputs end after the outline: budgets are what we check
            studio.podcast_script("Mixed", length=length, format="deep-dive")
        schema = engine.calls[0].json_schema["properties"]["segments"]
        seen[length] = (schema["minItems"], per)
        assert schema["minItems"] == schema["maxItems"] == n
    assert seen["short"] < seen["default"] < seen["long"]


def test_the_language_is_kept_per_notebook(world: World) -> None:
    ids = _ids(world)
    segs = [_seg(("Nova", "Quantization stores the weights of a language model in fewer bits.", [1]),
                 ("Nova", "Q4_K_M keeps most of the quality at roughly a quarter of the size.", [1])),
            _seg(("Nova", "Documents are cut into chunks of a few hundred tokens.", [1]),
                 ("Nova", "Hybrid retrieval runs both searches and fuses the rankings.", [2]))]
    studio, engine = world.studio([_outline(ids, 2), *segs, _outline(ids, 2), *segs])
    r = studio.podcast_script("Mixed", format="brief", length="short", host_a="Nova", language="German",
                              focus="laptops")
    assert r.script.language == "German" and "in German" in engine.calls[0].prompt
    assert studio.podcast_prefs("Mixed") == {"format": "brief", "length": "short", "language": "German",
                                             "focus": "laptops"}
    assert studio.podcast_prefs("Local")["language"] == ""  # another notebook: its own
    # no language given: the notebook's
    r2 = studio.podcast_script("Mixed", format="brief", length="short", host_a="Nova")
    assert r2.script.language == "German" and "in German" in engine.calls[3].prompt
    # a hostile stored value is ignored, never used as is
    world.lib.library.update_notebook_settings(world.lib.notebook("Mixed").id,
                                               podcast={"format": "opera", "length": 7, "language": ["x"]})
    assert studio.podcast_prefs("Mixed") == {"format": "deep-dive", "length": "", "language": "", "focus": ""}


def test_unknown_format_or_one_host_is_a_clear_error(world: World) -> None:
    studio, engine = world.studio()
    with pytest.raises(NotebookError, match="format must be one of"):
        studio.podcast_script("Mixed", format="opera")
    with pytest.raises(NotebookError, match="two hosts with different names"):
        studio.podcast_script("Mixed", format="debate", host_a="Sam", host_b="sam")
    assert engine.calls == []


# -- one segment again, and re-voicing ----------------------------------------------------------------


@pytest.fixture
def episode(world: World) -> Any:
    ids = _ids(world)
    outline = _outline(ids, 3)
    d1 = _seg(("Alex", "Welcome! Today: running language models on a laptop.", []),
              ("Sam", "Quantization stores the weights of a language model in fewer bits.", [1]),
              ("Alex", "Which format do people use most?", []),
              ("Sam", "Q4_K_M keeps most of the quality at roughly a quarter of the size.", [1]))
    d2 = _seg(("Alex", "How does the system find the passages?", []),
              ("Sam", "Documents are cut into chunks of a few hundred tokens.", [1]),
              ("Alex", "Hybrid retrieval runs both searches and fuses the rankings.", [2]))
    d3 = _seg(("Sam", "Chroma stores these vectors on disk and SQLite FTS5 adds keyword search.", [1]),
              ("Alex", "So the whole pipeline runs offline. Thanks for listening!", [1]))
    new2 = _seg(("Alex", "Where do the passages come from?", []),
                ("Alex", "Hybrid retrieval runs both searches and fuses the rankings.", [2]),
                ("Sam", "Documents are split before anything else happens.", []),
                ("Alex", "And before that, documents are cut into chunks of a few hundred tokens.", [1]))
    tone = ToneEngine()
    studio, engine = world.studio([outline, d1, d2, d3, new2], tts=[tone])
    r = studio.podcast_script("Mixed", length="short")
    return studio, engine, tone, r.output.id, ids


def test_regenerate_one_segment_keeps_the_others(world: World, episode: Any) -> None:
    studio, engine, _tone, oid, ids = episode
    before = studio.script_of(oid)
    calls = len(engine.calls)
    after = studio.regenerate_segment(oid, 1)
    assert len(engine.calls) == calls + 1  # one segment's dialogue, no outline
    prompt = engine.calls[-1].prompt
    assert 'Segment "Finding the right passages"' in prompt
    assert {t for _, _, t in prompt_passages(engine.calls[-1].messages)} >= {
        p.text for p in world.passages("Mixed") if p.pid in (ids["chunks"], ids["hybrid"])}
    keep = [(ln.speaker, ln.text) for ln in before.lines if ln.segment != 1]
    assert [(ln.speaker, ln.text) for ln in after.lines if ln.segment != 1] == keep
    seg = [ln for ln in after.lines if ln.segment == 1]
    assert seg[0].text == "Where do the passages come from?" and seg[1].citations == [ids["hybrid"]]
    assert [ln.segment for ln in after.lines] == sorted(ln.segment for ln in after.lines)
    assert studio.script_of(oid) == after and "Segment 2 was regenerated." in studio.store.get(oid).payload["notes"]
    with pytest.raises(NotebookError, match="segment from 1 to 3"):
        studio.regenerate_segment(oid, 3)


def test_a_failed_segment_keeps_the_old_one(world: World, episode: Any) -> None:
    studio, engine, _tone, oid, _ids_ = episode
    engine.outputs[:] = ["{}", "{}", "{}", "{}"]
    before = studio.store.get(oid)
    with pytest.raises(StudioError, match="dialogue for segment 1"):
        studio.regenerate_segment(oid, 0)
    assert studio.store.get(oid).payload == before.payload


def test_revoice_after_one_changed_line_synthesises_exactly_one_line(world: World, episode: Any) -> None:
    studio, _engine, tone, oid, ids = episode
    with pytest.raises(NotebookError, match="no audio yet"):
        studio.revoice(oid)
    res = studio.podcast_audio(oid, world.lib.data_dir / "podcasts" / "ep.wav")
    n = len(res.segments)
    assert res.spoken == n == len(tone.calls) == 9
    md = studio.script_of(oid).to_markdown().replace("Which format do people use most?",
                                                     "Which format do most people pick?")
    studio.update_script(oid, md)
    again = studio.revoice(oid)
    assert again.spoken == 1 and len(tone.calls) == n + 1 and tone.calls[-1][0] == "Which format do most people pick?"
    assert again.path == res.path and len(again.segments) == n and again.voices == res.voices
    # the file is assembled from the cached lines: the same length, give or take the changed line
    assert abs(again.duration_s - res.duration_s) < 0.5
    # a regenerated segment: only its new lines are spoken
    studio.regenerate_segment(oid, 1)
    third = studio.revoice(oid)
    new_lines = [ln for ln in studio.script_of(oid).lines if ln.segment == 1]
    assert third.spoken == 3 == len(new_lines) - 1  # its "Hybrid retrieval ..." line was spoken before
    assert len(tone.calls) == n + 1 + 3


def test_line_cache_unit(tmp_path: Path) -> None:
    tone = ToneEngine()
    cache = LineAudioCache(tmp_path / "cache")
    lines = [Utterance("A", "One line here."), Utterance("B", "Two lines here."), Utterance("A", "Three.")]
    r1 = render_dialogue(tone, lines, tmp_path / "a.wav", cache=cache)
    assert r1.spoken == 3 and len(tone.calls) == 3
    r2 = render_dialogue(tone, lines, tmp_path / "b.wav", cache=cache)
    assert r2.spoken == 0 and len(tone.calls) == 3
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    # another voice or rate is another entry; a damaged entry is spoken again, not an error
    render_dialogue(tone, lines, tmp_path / "c.wav", cache=cache, rate_wpm=200)
    assert len(tone.calls) == 6
    for f in (tmp_path / "cache").glob("*.wav"):
        f.write_bytes(b"RIFF junk")
    r4 = render_dialogue(tone, lines, tmp_path / "d.wav", cache=cache)
    assert r4.spoken == 3
    # bounded: the oldest entries go
    small = LineAudioCache(tmp_path / "cache", max_bytes=1)
    small.prune()
    assert list((tmp_path / "cache").glob("*.wav")) == []


needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (sudo apt install espeak-ng)")


@needs_espeak
def test_espeak_brief_is_one_voice(world: World) -> None:
    import numpy as np

    from notebooklm_local.services.tts.espeak import EspeakEngine
    from tests.services.test_tts_espeak import f0_median, read_wav

    ids = _ids(world)
    segs = [_seg(("Nova", "Quantization stores the weights of a language model in fewer bits.", [1]),
                 ("Nova", "Q4_K_M keeps most of the quality at roughly a quarter of the size.", [1])),
            _seg(("Nova", "Documents are cut into chunks of a few hundred tokens.", [1]),
                 ("Nova", "Hybrid retrieval runs both searches and fuses the rankings.", [2]))]
    espeak = EspeakEngine()
    studio, _ = world.studio([_outline(ids, 2), *segs], tts=[espeak])
    r = studio.podcast_script("Mixed", format="brief", length="short", host_a="Nova")
    res = studio.podcast_audio(r.output.id, world.lib.data_dir / "brief.wav")
    assert res.engine == "espeak-ng" and len(set(res.voices.values())) == 1 and len(res.segments) == 4
    x, sr = read_wav(res.path)
    f0 = [f0_median(x[int(s.start_s * sr): int(s.end_s * sr)], sr) for s in res.segments]
    assert max(f0) / min(f0) < 1.15, f0  # one voice throughout (two hosts differ by ~2x)
    assert 5 < res.duration_s < 120 and float(np.sqrt(np.mean(x ** 2))) > 0.01
    # re-voicing the unchanged brief speaks nothing again and gives the same file
    data = res.path.read_bytes()
    again = studio.revoice(r.output.id)
    assert again.spoken == 0 and again.path.read_bytes() == data
