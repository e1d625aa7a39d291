"""`summarize`, `cod`, `podcast` and `studio ...` through the console entry point (subprocesses).

The model steps run on the real tiny model: they must end in a stored, cited output (exit 0) or a clear
"no usable ..." error (exit 1) — never a traceback. The podcast's audio path runs on a stored script
with the real espeak-ng.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from notebooklm_local.core.library import Library
from notebooklm_local.core.podcast_script import Host, PodcastLine, PodcastScript
from notebooklm_local.core.studio_store import StudioStore
from tests.conftest import cli_exe

pytestmark = [pytest.mark.model, pytest.mark.slow]


def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_exe(), *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy())


def _no_traceback(out: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in out.stderr, out.stderr


@pytest.fixture
def garden(tmp_path: Path, app_home: Path, installed_model: Path) -> str:
    cfg = app_home / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "settings.toml").write_text("schema_version = 2\n[model]\nn_ctx = 2048\n[studio]\nretries = 1\n",
                                       encoding="utf-8")
    (tmp_path / "roses.md").write_text(
        "# Roses\n\nPrune roses in late winter, above an outward-facing bud. Remove dead wood first. "
        "The Royal Horticultural Society recommends cutting David Austin roses by one third.\n\n"
        "# Soil\n\nClay soil holds water; add compost to improve drainage.", encoding="utf-8")
    assert run("notebook", "create", "Garden").returncode == 0
    out = run("add", str(tmp_path / "roses.md"), "-n", "Garden")
    assert out.returncode == 0, out.stderr
    return "Garden"


def _stored_podcast(app_home: Path, extra: tuple[PodcastLine, ...] = ()) -> str:
    lib = Library(app_home / "data" / "library.db")
    try:
        nb = lib.notebook("Garden")
        src = lib.sources(nb.id)[0]
        text, _ = lib.source_text(src.id)
        chunk = lib.source_chunks(src.id)[0]
        passage = {"pid": 1, "chunk_id": chunk.id, "source_id": src.id, "source_title": src.display,
                   "text": chunk.text, "start": chunk.char_start, "end": chunk.char_end, "page": None,
                   "page_end": None, "t_start": None, "heading": chunk.heading, "url": None}
        script = PodcastScript("Roses in winter", [Host("Ada"), Host("Grace")], ["Pruning"], [
            PodcastLine("Ada", "When do we prune roses?", [], 0),
            PodcastLine("Grace", "Prune roses in late winter, above an outward-facing bud [1].", [1], 0),
            *extra,
        ])
        out = StudioStore(lib).add(nb.id, "podcast", script.title, source_ids=[src.id], options={},
                                   model="hand-written", template="", payload={"script": script.to_json(),
                                                                               "passages": [passage]})
        return out.id
    finally:
        lib.close()


def test_summarize_ends_in_a_cited_output_or_a_clear_error(garden: str) -> None:
    out = run("summarize", "-n", garden, "--length", "short", "--json")
    _no_traceback(out)
    if out.returncode == 0:
        data = json.loads(out.stdout)
        assert data["kind"] == "summary" and data["model"].endswith(".gguf") and data["template"] == "summary"
        assert data["stats"]["prompt_eval_s"] > 0 and data["stats"]["generation_s"] > 0
        for c in data["answer"]["citations"]:
            assert c["source_title"] == "Roses" and c["quote"]
        listed = run("studio", "list", "-n", garden)
        assert data["id"][:8] in listed.stdout
    else:
        assert out.returncode == 1 and "error: The model gave no usable summary" in out.stderr
        assert "attempt 1:" in out.stderr and "larger model" in out.stderr


def test_summarize_success_branch_prints_and_stores_resolving_citations(
    garden: str, app_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The success branch the tiny model seldom reaches, through the same command (in process) with a scripted
    faithful engine: the stored summary's citations are checked one by one (and there are some)."""
    from notebooklm_local import cli, workspace
    from tests.helpers.scripted_engine import ScriptedEngine
    from tests.services.test_studio_scripted import echo_summary

    engine = ScriptedEngine(fallback=echo_summary)
    monkeypatch.setattr(workspace, "open_engine", lambda *_a, **_k: engine)
    capsys.readouterr()
    assert cli.main(["summarize", "-n", garden, "--length", "short", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "summary" and engine.calls
    lib = Library(app_home / "data" / "library.db")
    try:
        src = lib.sources(lib.notebook(garden).id)[0]
        text, _ = lib.source_text(src.id)
    finally:
        lib.close()
    checked = 0
    for c in data["answer"]["citations"]:
        assert c["source_title"] == "Roses" and c["quote"]
        assert " ".join(text[c["start"]:c["end"]].split()) == " ".join(c["quote"].split())
        checked += 1
    assert checked >= 1
    assert data["id"][:8] in cli_list(garden)


def cli_list(garden: str) -> str:
    return run("studio", "list", "-n", garden).stdout


def test_cod_ends_in_steps_or_a_clear_error(garden: str) -> None:
    out = run("cod", "-n", garden, "--steps", "2", "--words", "30")
    _no_traceback(out)
    assert out.returncode in (0, 1)
    if out.returncode == 1:
        assert "error:" in out.stderr and "chain-of-density step" in out.stderr
    if "Step 1" in out.stdout:
        assert "density" in out.stdout


def test_podcast_script_edit_and_audio_from_a_stored_output(garden: str, app_home: Path, tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/system-deps.sh installs it)")
    oid = _stored_podcast(app_home)
    md = tmp_path / "script.md"
    out = run("podcast", "--from-output", oid[:8], "--script-out", str(md))
    assert out.returncode == 0, out.stderr
    text = md.read_text(encoding="utf-8")
    assert "**Ada:** When do we prune roses?" in text and "[1]" in text
    # the user edits the script: a new line whose claim the passage does not support
    md.write_text(text.split("## Sources")[0] + "\n**Ada:** Roses also need 40 litres of water a day [1].\n",
                  encoding="utf-8")
    wav = tmp_path / "out" / "episode.wav"
    out = run("podcast", "--from-output", oid[:8], "--script", str(md), "--audio", str(wav))
    assert out.returncode == 0, out.stderr
    assert "3 lines, 1 flagged" in out.stderr
    assert "\u26a0" in out.stdout  # the unsupported line is marked in the script
    with wave.open(str(wav)) as w:
        assert w.getnframes() / w.getframerate() > 2.0
    again = run("podcast", "--from-output", oid[:8], "--audio", str(wav))
    assert again.returncode == 1 and "exists; use --force" in again.stderr
    assert run("podcast", "--from-output", oid[:8], "--audio", str(wav), "--force").returncode == 0
    sneaky = run("podcast", "--from-output", oid[:8], "--audio", str(tmp_path / "a" / ".." / "b.wav"))
    assert sneaky.returncode == 1 and "'..'" in sneaky.stderr
    shown = run("studio", "show", oid[:8], "--markdown")
    assert shown.returncode == 0 and "40 litres" in shown.stdout
    note = run("studio", "note", oid[:8], "--tag", "podcast")
    assert note.returncode == 0 and "Saved as note" in note.stdout
    export = run("notes", "export", "-n", garden, "--all", "--out", str(tmp_path / "notes"))
    assert export.returncode == 0, export.stderr
    exported = list((tmp_path / "notes").glob("*.md"))
    assert len(exported) == 1 and "[^1]" in exported[0].read_text(encoding="utf-8")
    assert run("studio", "delete", oid[:8]).returncode == 0
    assert run("studio", "show", oid[:8]).returncode == 1


HOSTILE = ('Prune them <img src="https://track.example/p.gif" onerror="alert(1)"> in winter '
           '<script>fetch("https://track.example")</script> ![x](https://track.example/i.png) [1].')


def test_podcast_markdown_exports_neutralise_model_html_and_read_back(garden: str, app_home: Path,
                                                                      tmp_path: Path) -> None:
    """Issue 20: a model steered by a web page into writing HTML: --script-out, the podcast command's output and
    `studio show --markdown` carry no live HTML or image; the exported file still reads back for editing."""
    oid = _stored_podcast(app_home, (PodcastLine("Ada", HOSTILE, [1], 0),))
    md = tmp_path / "script.md"
    out = run("podcast", "--from-output", oid[:8], "--script-out", str(md))
    assert out.returncode == 0, out.stderr
    for text in (md.read_text(encoding="utf-8"), out.stdout, run("studio", "show", oid[:8], "--markdown").stdout):
        assert "**Ada:** Prune them &lt;img" in text, text
        assert "<img" not in text and "<script" not in text and "](https://track.example/i.png)" in text
        assert not re.search(r"(?<!\\)!\[", text) and "\\![x]" in text  # an image is a plain link: nothing fetched
    # read back for editing (the user adds a line): speakers, citations and the model's own text come back
    md.write_text(md.read_text(encoding="utf-8").split("## Sources")[0]
                  + "\n**Grace:** Cut above an outward-facing bud [1].\n", encoding="utf-8")
    back = run("podcast", "--from-output", oid[:8], "--script", str(md), "--json")
    assert back.returncode == 0, back.stderr
    lines = json.loads(back.stdout)["script"]["lines"]
    assert [ln["speaker"] for ln in lines] == ["Ada", "Grace", "Ada", "Grace"]
    assert lines[2]["text"] == HOSTILE and lines[2]["citations"] == [1]
    assert lines[3]["text"] == "Cut above an outward-facing bud [1]."
    assert "<img" not in run("studio", "show", oid[:8], "--markdown").stdout


def test_studio_bad_inputs(garden: str, tmp_path: Path) -> None:
    cases = [
        (("summarize", "-n", "Nope"), "No notebook named 'Nope'"),
        (("summarize", "-n", garden, "--sources", "zzzzzz"), "matches 0 sources"),
        (("podcast",), "Give a notebook"),
        (("podcast", "-n", garden, "--script", str(tmp_path / "x.md")), "Cannot read"),  # a hand-written script
        (("podcast", "--draft", str(tmp_path / "d.md")), "Give a notebook"),
        (("podcast", "-n", garden, "--hosts", "OnlyOne"), "two names"),
        (("cod", "-n", garden, "--steps", "50"), "1 to 10 steps"),
        (("studio", "show", "doesnotexist"), "No studio output"),
        (("studio", "note", "doesnotexist"), "No studio output"),
    ]
    for args, message in cases:
        out = run(*args)
        _no_traceback(out)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert message in out.stderr, (args, out.stderr)


def test_studio_regenerate_one_line(garden: str, app_home: Path) -> None:
    """Issue 14: one flagged item is written again on its own; the old one stays unless the new one passes."""
    oid = _stored_podcast(app_home)
    for args, message in [(("--line", "9"), "Choose a line from 1 to 2"), (("--sentence", "1"), "not a summary"),
                          (("--step", "1"), "not a chain of density")]:
        out = run("studio", "regenerate", oid[:8], *args)
        _no_traceback(out)
        assert out.returncode == 1 and message in out.stderr, (args, out.stderr)
    out = run("studio", "regenerate", oid[:8], "--line", "2")  # the tiny model: replaced, or kept with a reason
    _no_traceback(out)
    assert (out.returncode == 0 and "Replaced:" in out.stdout) or (
        out.returncode == 1 and "old one is kept" in out.stderr), (out.stdout, out.stderr)


def test_summarize_prints_its_stages_on_stderr_with_progress_and_keeps_stdout_clean(
    garden: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from notebooklm_local import cli, workspace
    from tests.helpers.scripted_engine import ScriptedEngine
    from tests.services.test_studio_scripted import echo_summary

    engine = ScriptedEngine(["not JSON at all"], fallback=echo_summary)  # the first attempt is rejected
    monkeypatch.setattr(workspace, "open_engine", lambda *_a, **_k: engine)
    capsys.readouterr()
    assert cli.main(["summarize", "-n", garden, "--length", "short", "--progress"]) == 0
    out = capsys.readouterr()
    lines = out.err.splitlines()
    assert any(ln.startswith("Writing \u00b7 attempt 1/2") for ln in lines), out.err
    retry = [ln for ln in lines if ln.startswith("Writing \u00b7 attempt 2/2")]
    assert retry and "attempt 1 rejected:" in retry[0], out.err
    assert "Done" in lines
    assert "attempt" not in out.out and out.out.startswith("# Summary: Roses")
    # not a terminal and no --progress: no stage lines (the result and the closing report only)
    engine.outputs = ["not JSON at all"]
    assert cli.main(["summarize", "-n", garden, "--length", "short"]) == 0
    quiet = capsys.readouterr()
    assert "attempt 1/2" not in quiet.err and "Saved as studio output" in quiet.err


def test_a_podcast_by_hand_draft_then_script_then_audio_without_a_model(garden: str, tmp_path: Path) -> None:
    draft = tmp_path / "draft.md"
    out = run("podcast", "-n", garden, "--draft", str(draft), "--hosts", "Ada,Grace")
    _no_traceback(out)
    assert out.returncode == 0, out.stderr
    text = draft.read_text(encoding="utf-8")
    assert "**Ada:**" in text and "**Grace:**" in text and "## Sources" in text
    again = run("podcast", "-n", garden, "--draft", str(draft))
    assert again.returncode == 1 and "exists; use --force" in again.stderr
    draft.write_text(text.replace("## Sources", "**Grace:** Roses also grow on the moon.\n\n## Sources"),
                     encoding="utf-8")
    wav = tmp_path / "hand.wav"
    out = run("podcast", "-n", garden, "--script", str(draft), "--hosts", "Ada,Grace", "--audio", str(wav), "--json")
    _no_traceback(out)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["kind"] == "podcast" and data["manual"] and data["options"]["hosts"] == ["Ada", "Grace"]
    lines = data["script"]["lines"]
    flagged = [ln for ln in lines if not ln["supported"]]
    assert [ln["text"] for ln in flagged] == ["Roses also grow on the moon."] and flagged[0]["flag"] == "no citation"
    assert all(ln["citations"] for ln in lines if ln["supported"])
    assert "Stored the script as podcast" in out.stderr and f"{len(lines)} lines, 1 flagged" in out.stderr
    with wave.open(str(wav), "rb") as w:
        assert w.getnframes() > 0


def test_podcast_formats_on_the_tiny_model_and_bad_format_or_length(garden: str) -> None:
    """Issue 15: ``podcast --format brief --length short --focus --language``: a one-speaker cited script, or a
    clear error naming the stage (the tiny model); an unknown format or length is refused before any work."""
    out = run("podcast", "-n", garden, "--format", "brief", "--length", "short", "--focus", "pruning",
              "--language", "English", "--json")
    _no_traceback(out)
    if out.returncode == 0:
        data = json.loads(out.stdout)
        assert data["options"]["format"] == "brief" and data["options"]["language"] == "English"
        assert len({ln["speaker"] for ln in data["script"]["lines"]}) == 1
        assert data["template"] == "podcast_brief_outline+podcast_brief"
    else:
        assert out.returncode == 1 and "error:" in out.stderr
        assert "podcast outline" in out.stderr or "dialogue for segment" in out.stderr
    for args in (("--format", "opera"), ("--length", "forever")):
        bad = run("podcast", "-n", garden, *args)
        _no_traceback(bad)
        assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_podcast_revoice_speaks_only_the_changed_line(garden: str, app_home: Path, tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/system-deps.sh installs it)")
    oid = _stored_podcast(app_home, (PodcastLine("Ada", "And what do we cut first?", [], 0),
                                     PodcastLine("Grace", "Remove dead wood first [1].", [1], 0)))
    nothing = run("podcast", "--revoice", oid[:8])
    assert nothing.returncode == 1 and "no audio yet" in nothing.stderr
    wav = tmp_path / "ep.wav"
    assert run("podcast", "--from-output", oid[:8], "--audio", str(wav)).returncode == 0
    md = tmp_path / "s.md"
    assert run("podcast", "--from-output", oid[:8], "--script-out", str(md)).returncode == 0
    md.write_text(md.read_text(encoding="utf-8").replace("And what do we cut first?", "What goes first?"),
                  encoding="utf-8")
    assert run("podcast", "--from-output", oid[:8], "--script", str(md)).returncode == 0
    out = run("podcast", "--revoice", oid[:8], "--json")
    _no_traceback(out)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["spoken"] == 1 and data["lines"] == 4 and data["path"] == str(wav)
    assert "1 of 4 lines spoken again" in out.stderr
    with wave.open(str(wav), "rb") as w:
        assert w.getnframes() / w.getframerate() > 3.0


def test_studio_regenerate_one_segment(garden: str, app_home: Path) -> None:
    oid = _stored_podcast(app_home)
    bad = run("studio", "regenerate", oid[:8], "--segment", "4")
    _no_traceback(bad)
    assert bad.returncode == 1 and "Choose a segment from 1 to 1" in bad.stderr
    out = run("studio", "regenerate", oid[:8], "--segment", "1")  # the tiny model: rewritten, or a clear error
    _no_traceback(out)
    assert (out.returncode == 0 and "Segment 1 rewritten" in out.stdout and "--revoice" in out.stderr) or (
        out.returncode == 1 and "dialogue for segment 1" in out.stderr), (out.stdout, out.stderr)


def test_podcast_brief_through_the_cli_with_a_faithful_engine(
    garden: str, app_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The success path the tiny model does not reach: ``podcast --format brief --hosts Nova --language``: one
    narrator, every line cited; the language is kept as the notebook's and used when none is given."""
    from notebooklm_local import cli, workspace
    from tests.helpers.scripted_engine import ScriptedEngine

    outline = {"title": "Roses through the year", "segments": [{"topic": "When to prune", "passages": [1]},
                                                              {"topic": "What to cut", "passages": [1]}]}

    def seg(*texts: str) -> dict[str, object]:
        return {"lines": [{"speaker": "Nova", "text": t, "citations": [1]} for t in texts]}

    one = seg("Prune roses in late winter, above an outward-facing bud.", "Remove dead wood first.")
    two = seg("Remove dead wood first.", "Prune roses in late winter.")
    engine = ScriptedEngine([outline, one, two, outline, one, two])
    monkeypatch.setattr(workspace, "open_engine", lambda *_a, **_k: engine)
    capsys.readouterr()
    assert cli.main(["podcast", "-n", garden, "--format", "brief", "--hosts", "Nova", "--length", "short",
                     "--language", "English", "--focus", "pruning", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["options"]["format"] == "brief" and data["options"]["hosts"] == ["Nova"]
    assert {ln["speaker"] for ln in data["script"]["lines"]} == {"Nova"}
    assert all(ln["citations"] and ln["supported"] for ln in data["script"]["lines"])
    assert "English" in engine.calls[0].prompt and "pruning" in engine.calls[0].prompt
    assert cli.main(["podcast", "-n", garden, "--format", "brief", "--hosts", "Nova", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["options"]["language"] == "English" and "in English" in engine.calls[3].prompt
