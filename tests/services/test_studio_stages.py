"""Studio jobs report their stage (part i/n, attempt a/m, tokens, time left) and never look hung; a podcast
script can be written by hand (no model) and spoken; an outline that copies the prompt's example title is
retried. Stage timing runs on a fake clock; the jobs on the scripted engine of ``test_studio_scripted``."""
# ruff: noqa: F811  (the imported fixtures are parameters of the tests below)

from __future__ import annotations

import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.llm import ChatMessage, GenerationResult
from notebooklm_local.core.podcast_script import parse_markdown
from notebooklm_local.services.studio.podcast import example_titles
from notebooklm_local.services.studio.stages import StageReport, StageReporter, format_left
from tests.core.test_density import CHAIN, CHAIN_WORDS, SOURCE
from tests.core.test_tts import ToneEngine
from tests.services.test_studio_scripted import (  # noqa: F401  (fixtures)
    SAMPLES,
    Dispatch,
    World,
    echo_summary,
    pod,
    world,
)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def tick(self, s: float) -> None:
        self.t += s


# -- time left (fake clock) --------------------------------------------------------------------------


def test_format_left() -> None:
    assert [format_left(s) for s in (0.4, 45, 59.6, 200, 1260, 3900)] == [
        "0 s", "45 s", "1 min 00 s", "3 min 20 s", "21 min", "1 h 05 min"]


def test_time_left_is_estimating_then_a_bound_from_tok_s_then_the_pace_of_the_parts() -> None:
    clock = FakeClock()
    seen: list[StageReport] = []
    progress: list[tuple[int, int, str]] = []
    r = StageReporter(lambda d, t, m: progress.append((d, t, m)), seen.append, clock=clock)
    r.unit(0, 4, "Reading part", part=1, parts=4)
    assert seen[-1].text(clock.t) == "Reading part 1/4 \u00b7 estimating\u2026"
    assert progress[-1] == (0, 4, "Reading part 1/4 \u00b7 estimating\u2026")
    r.attempt(1, 3, budget=100)
    clock.tick(3)  # the model reads the prompt: nothing is reported, the viewer's clock moves the text on
    assert seen[-1].text(clock.t) == ("Reading part 1/4 \u00b7 attempt 1/3 \u00b7 reading the prompt (3 s) "
                                      "\u00b7 estimating\u2026")
    for _ in range(21):  # 20 tok/s
        r.token()
        clock.tick(0.05)
    last = seen[-1]
    assert last.tokens >= 10 and last.tok_s == pytest.approx(20, rel=0.1) and last.eta_bound
    # an upper bound: the rest of this part's budget and three more parts of 100 tokens at 20 tok/s
    assert last.eta_s == pytest.approx((100 - last.tokens) / 20 + 3 * 5, rel=0.1)
    assert "\u2264 " in last.text(last.at) and "tokens (20 tok/s)" in last.text(last.at)
    # throttled: 21 tokens in ~1 s gave about ten reports, not 21
    assert 8 <= sum(1 for s in seen if s.tokens) <= 12
    r.call_done(GenerationResult("x", 10, 21, 0.5, 1.05, "stop"))
    clock.tick(10 - 4.05)  # the first part took 10 s
    r.unit(1, 4, "Reading part", part=2, parts=4)
    now = seen[-1]
    assert now.eta_s == pytest.approx(30) and not now.eta_bound  # 3 parts x 10 s
    assert now.text(now.at).endswith("30 s left") and now.fraction(now.at) == pytest.approx(0.25)
    clock.tick(4)  # the viewer counts down between reports
    assert now.text(clock.t).endswith("26 s left") and now.fraction(clock.t) == pytest.approx(14 / 40)
    r.attempt(1, 3, budget=100)
    clock.tick(2)
    r.attempt(2, 3, budget=100, rejected="the output has no sentences")
    text = seen[-1].text(clock.t)
    assert text.startswith("Reading part 2/4 \u00b7 attempt 2/3 \u00b7 reading the prompt")
    assert text.endswith("24 s left \u00b7 attempt 1 rejected: the output has no sentences")
    clock.tick(30)  # slower than the pace so far: never a negative time, the remaining parts still count
    r.token()
    assert seen[-1].eta_s == pytest.approx(20)
    r.finish()
    assert seen[-1].final and seen[-1].text() == "Done" and progress[-1] == (4, 4, "Done")


# -- the jobs report their stages ------------------------------------------------------------------


def _stages(seen: Sequence[StageReport]) -> list[str]:
    """The distinct stage/attempt steps, in order."""
    out: list[str] = []
    for s in seen:
        key = s.label + (f" \u00b7 attempt {s.attempt}/{s.attempts}" if s.attempt else "")
        if s.final:
            key = s.stage
        if not out or out[-1] != key:
            out.append(key)
    return out


def test_map_reduce_reports_each_part_attempt_tokens_and_a_rejected_attempt(world: World) -> None:
    calls = {"n": 0}

    def model(messages: Sequence[ChatMessage], schema: dict[str, Any] | None) -> Any:
        calls["n"] += 1
        return {"sentences": []} if calls["n"] == 2 else echo_summary(messages, schema)  # part 2 fails once

    studio, engine = world.studio(n_ctx=900, fallback=model)
    seen: list[StageReport] = []
    progress: list[tuple[int, int, str]] = []
    r = studio.summarize("Mixed", length="short", on_stage=seen.append,
                         progress=lambda d, t, m: progress.append((d, t, m)))
    n = r.parts
    assert n > 2
    expected = []
    for i in range(1, n + 1):
        expected.append(f"Reading part {i}/{n}")
        expected.append(f"Reading part {i}/{n} \u00b7 attempt 1/3")
        if i == 2:
            expected.append(f"Reading part {i}/{n} \u00b7 attempt 2/3")
    got = _stages(seen)
    assert got[: len(expected)] == expected
    # then combining: in rounds of groups while the notes do not fit one call, each call reported
    tail = got[len(expected):]
    assert tail[-3:] == ["Combining the parts (round 2)", "Combining the parts (round 2) \u00b7 attempt 1/3", "Done"]
    assert tail[:4] == ["Combining the parts (round 1), group 1/2",
                        "Combining the parts (round 1), group 1/2 \u00b7 attempt 1/3",
                        "Combining the parts (round 1), group 2/2",
                        "Combining the parts (round 1), group 2/2 \u00b7 attempt 1/3"]
    second = next(s for s in seen if s.part == 2 and s.attempt == 2)
    assert second.rejected == "the output has no sentences"
    assert "attempt 1 rejected: the output has no sentences" in second.text()
    # tokens counted live, the bar is determinate: parts + the combining call
    assert any(s.tokens > 0 for s in seen) and seen[-1].run_tokens >= sum(len(c.messages) for c in engine.calls)
    assert {s.total for s in seen if not s.final} == {n + 1}
    assert [s.done for s in seen if s.attempt == 1 and s.tokens == 0] == [*range(n), n, n, n]  # 3 combining calls
    # after the first part the time left is measured (a pace), not "estimating"
    assert all(s.eta_s is not None and not s.eta_bound for s in seen if s.done >= 1 and not s.final)
    # the plain progress callback gets the same text
    assert progress[-1] == (n + 1, n + 1, "Done")
    assert any(m.startswith("Reading part 2/") and "attempt 2/3" in m for _d, _t, m in progress)


def test_a_chain_of_density_reports_its_steps(world: World) -> None:
    studio, engine = world.studio(list(CHAIN))
    seen: list[StageReport] = []
    r = studio.chain_of_density("Local", steps=3, words=CHAIN_WORDS, on_stage=seen.append)
    assert len(r.steps) == 3
    assert _stages(seen) == ["Step 1/3", "Step 1/3 \u00b7 attempt 1/3", "Step 2/3", "Step 2/3 \u00b7 attempt 1/3",
                             "Step 3/3", "Step 3/3 \u00b7 attempt 1/3", "Done"]
    assert len(engine.calls) == 3


def test_a_long_source_reports_its_sections_before_the_steps(world: World) -> None:
    long_text = "\n\n".join([SOURCE, (SAMPLES / "quantization-notes.txt").read_text(encoding="utf-8"),
                             (SAMPLES / "retrieval-augmented-generation.md").read_text(encoding="utf-8")])
    world.lib.create_notebook("Long")
    world.lib.add("Long", [SourceRef(text=long_text, title="Long notes")])
    studio, _ = world.studio(n_ctx=1024, fallback=Dispatch(steps=[CHAIN[0], CHAIN[1]]))
    seen: list[StageReport] = []
    r = studio.chain_of_density("Long", steps=2, words=80, on_stage=seen.append)
    assert r.output.payload["sections"] > 1
    labels = _stages(seen)
    assert labels[0] == f"The source is long: summarising section 1/{r.output.payload['sections']}"
    assert any(x.startswith("Combining the section summaries") for x in labels) and labels[-3:] == ["Step 2/2", "Step 2/2 \u00b7 attempt 1/3",
                                                                            "Done"]
    totals = {s.total for s in seen if not s.final}
    assert totals == {r.output.payload["sections"] + 1 + 2}  # sections, combining, two steps: one bar


def test_a_podcast_reports_planning_and_each_segment(world: World, pod: dict[str, Any]) -> None:
    studio, _ = world.studio([pod["outline"], *pod["segments"]])
    seen: list[StageReport] = []
    studio.podcast_script("Mixed", length="short", on_stage=seen.append)
    topics = [s["topic"] for s in pod["outline"]["segments"]]
    assert _stages(seen) == [
        "Planning the episode", "Planning the episode \u00b7 attempt 1/3",
        *[x for i, t in enumerate(topics, 1) for x in (f"Writing segment {i}/3: {t}",
                                                         f"Writing segment {i}/3: {t} \u00b7 attempt 1/3")],
        "Done"]
    assert {s.total for s in seen if not s.final} == {4}


# -- the outline's example title -------------------------------------------------------------------


def test_the_outline_prompt_has_an_example_title_and_a_copied_one_is_retried(world: World,
                                                                              pod: dict[str, Any]) -> None:
    template = world.templates.get("podcast_outline")
    examples = example_titles(template)
    assert examples == ["Inside the hive"]
    copied = dict(pod["outline"], title=" inside  the HIVE ")
    studio, engine = world.studio([copied, pod["outline"], *pod["segments"]])
    seen: list[StageReport] = []
    r = studio.podcast_script("Mixed", on_stage=seen.append)
    assert r.script.title == "Small models at home" and len(engine.calls) == 5
    retry = next(s for s in seen if s.stage == "Planning the episode" and s.attempt == 2)
    assert "is the prompt's example" in retry.rejected
    assert r.output.payload["stats"]["failed_attempts"] == 1


# -- a script written by hand: the route to audio without a model ----------------------------------


def test_a_draft_and_a_hand_written_script_are_checked_stored_edited_and_spoken(world: World,
                                                                                  tmp_path: Path) -> None:
    studio, engine = world.studio(tts=[ToneEngine()])
    draft = studio.draft_script("Mixed", host_a="Ada", host_b="Grace")
    parsed = parse_markdown(draft)
    assert parsed.lines and {ln.speaker for ln in parsed.lines} == {"Ada", "Grace"}
    assert "## Sources" in draft and all(ln.citations for ln in parsed.lines)
    r = studio.new_script("Mixed", draft, host_a="Ada", host_b="Grace")
    assert engine.calls == []  # no model
    assert r.output.kind == "podcast" and r.output.payload["manual"]
    assert r.script.lines and not r.script.unsupported, [ln.flag for ln in r.script.unsupported]
    assert [h.name for h in r.script.hosts] == ["Ada", "Grace"] and r.script.citations
    # a pasted script: a line citing no passage (or a passage that does not exist) is flagged
    passages = world.passages("Mixed")
    quant = next(p for p in passages if "Quantization stores the weights" in p.text)
    pasted = (f"# My episode\n\n## 1. Bits\n\n**Ada:** Quantization stores the weights of a language model in "
              f"fewer bits. [{quant.pid}]\n\n**Grace:** And it makes coffee too.\n\n**Ada:** Really? [9999]\n")
    r2 = studio.new_script("Mixed", pasted, host_a="Ada", host_b="Grace")
    lines = r2.script.lines
    assert r2.script.title == "My episode" and r2.script.segments == ["Bits"]
    assert lines[0].supported and lines[0].citations == [quant.pid]
    assert not lines[1].supported and lines[1].flag == "no citation"
    assert not lines[2].supported and "names no passage" in lines[2].flag
    assert any("not supported" in n for n in r2.notes)
    # edited later: [n] still means passage n of the sources (not only the ones cited when it was made)
    chunks = next(p for p in passages if "Documents are cut into chunks" in p.text)
    edited = pasted.replace("And it makes coffee too.",
                            f"Documents are cut into chunks of a few hundred tokens. [{chunks.pid}]")
    new = studio.update_script(r2.output.id, edited)
    assert new.lines[1].supported and new.lines[1].citations == [chunks.pid]
    assert {p["pid"] for p in studio.store.get(r2.output.id).payload["passages"]} == {quant.pid, chunks.pid}
    # and spoken like a generated script
    target = tmp_path / "hand.wav"
    audio = studio.podcast_audio(r.output.id, target)
    with wave.open(str(target), "rb") as w:
        assert w.getnframes() > 0
    assert [seg.speaker for seg in audio.segments] == [sp for sp, _ in r.script.utterances()]


def test_a_hand_written_script_needs_dialogue_and_two_hosts(world: World) -> None:
    from notebooklm_local.core.errors import NotebookError

    studio, _ = world.studio()
    with pytest.raises(NotebookError, match="No dialogue found"):
        studio.new_script("Mixed", "# Title\n\njust prose")
    with pytest.raises(NotebookError, match="two hosts with different names"):
        studio.draft_script("Mixed", host_a="Sam", host_b="sam")


# -- the CLI's stage line (``cli.studio.StageLine``) -------------------------------------------------


class _Terminal:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if s:
            self.parts.append(s)
        return len(s)

    def flush(self) -> None:
        return None


def test_the_cli_stage_line_is_redrawn_in_place_and_moves_on_while_nothing_is_reported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import time

    from notebooklm_local.cli.studio import StageLine

    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    line = StageLine()
    assert line.enabled and line.tty
    reporter = StageReporter(on_stage=line)
    reporter.unit(0, 2, "Reading part", part=1, parts=2)
    reporter.attempt(1, 3, budget=50)
    assert term.parts[-1].startswith("\r\033[KReading part 1/2 \u00b7 attempt 1/3 \u00b7 reading the prompt (0 s)")
    time.sleep(2.3)  # the model reads the prompt: the ticker redraws with the seconds moving on
    drawn = "".join(term.parts)
    assert "reading the prompt (1 s)" in drawn and "reading the prompt (2 s)" in drawn
    reporter.finish()
    line.close()
    assert term.parts[-1] == "\r\033[K"  # the line is taken off before the result is printed
    assert all("\n" not in p for p in term.parts)


def test_the_cli_stage_line_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    from notebooklm_local.cli.studio import StageLine

    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    clock = FakeClock()
    quiet = StageLine()
    assert not quiet.enabled
    StageReporter(on_stage=quiet, clock=clock).unit(0, 1, "Writing")
    assert buf.getvalue() == ""
    line = StageLine(force=True)
    r = StageReporter(on_stage=line, clock=clock)
    r.unit(0, 1, "Writing")
    r.attempt(1, 2, budget=40)
    for _ in range(30):
        r.token()
        clock.tick(0.05)
    r.attempt(2, 2, budget=40, rejected="unusable output")
    r.finish()
    line.close()
    assert [ln.split(" \u00b7 ")[:2] for ln in buf.getvalue().splitlines()] == [
        ["Writing", "estimating\u2026"], ["Writing", "attempt 1/2"], ["Writing", "attempt 2/2"], ["Done"]]
