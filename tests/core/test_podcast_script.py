"""core.podcast_script: the script model, its Markdown form, and reading an edited (or hostile) Markdown back."""

from __future__ import annotations

import re
import time

import pytest

from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.podcast_script import DEFAULT_PERSONAS, Host, PodcastLine, PodcastScript, parse_markdown

CITES = [
    {"passage_id": 1, "chunk_id": 11, "source_id": "s1", "source_title": "Local LLMs", "page": None, "t_start": None,
     "start": 37, "end": 103, "quote": "Quantization stores the weights of a language model in fewer bits.",
     "location": "", "url": None},
    {"passage_id": 2, "chunk_id": 12, "source_id": "s2", "source_title": "RAG primer", "page": 3, "t_start": None,
     "start": 10, "end": 900, "quote": "Documents are cut into chunks.  " + "x" * 300, "location": "p. 3",
     "url": None},
]


def make_script() -> PodcastScript:
    return PodcastScript(
        "Small models at home",
        [Host("Alex", DEFAULT_PERSONAS[0]), Host("Sam", DEFAULT_PERSONAS[1])],
        ["Why quantization matters", "Finding passages"],
        [
            PodcastLine("Alex", "Welcome! What is quantization?", [], 0),
            PodcastLine("Sam", "It stores weights in fewer bits. [1]", [1], 0),
            PodcastLine("Alex", "How are documents split?", [], 1),
            PodcastLine("Sam", "Into chunks, and the model runs on 900 GPUs. [1] [2]", [1, 2], 1, False,
                        "the number(s) 900 do not occur in the cited passage"),
        ],
        CITES,
        "en",
    )


def test_to_markdown_layout() -> None:
    md = make_script().to_markdown()
    lines = md.splitlines()
    assert lines[0] == "# Small models at home"
    assert "*A conversation between Alex and Sam.*" in lines
    assert lines.index("## 1. Why quantization matters") < lines.index("**Sam:** It stores weights in fewer bits. [1]")
    assert lines.index("## 2. Finding passages") < lines.index("**Alex:** How are documents split?")
    # an unsupported line is marked, a supported one is not
    assert "**Sam:** Into chunks, and the model runs on 900 GPUs. [1] [2] \u26a0" in lines
    assert "**Alex:** Welcome! What is quantization?" in lines
    # the sources list: by passage id, with location and a quote cut to 200 characters
    src = lines[lines.index("## Sources") + 2:]
    assert src[0] == ("[1] Local LLMs \u2014 \u201cQuantization stores the weights of a language model in fewer "
                      "bits.\u201d")
    assert src[1].startswith("[2] RAG primer, p. 3 \u2014 \u201cDocuments are cut into chunks. xxx")
    assert src[1].endswith("\u2026\u201d") and len(src[1]) < 260
    assert md.endswith("\n") and not md.endswith("\n\n")
    assert "## Sources" not in make_script().to_markdown(with_sources=False)


def test_markdown_round_trip_keeps_speakers_segments_and_citations() -> None:
    script = make_script()
    back = parse_markdown(script.to_markdown())
    assert back.title == script.title
    assert back.segments == script.segments
    assert [h.name for h in back.hosts] == ["Alex", "Sam"]
    assert [(ln.speaker, ln.text, ln.citations, ln.segment) for ln in back.lines] == [
        (ln.speaker, ln.text, ln.citations, ln.segment) for ln in script.lines]
    # the warning sign is not part of the text read back; support is re-checked by the service
    assert all("\u26a0" not in ln.text for ln in back.lines)
    # and again: the Markdown is stable
    assert parse_markdown(back.to_markdown()).to_markdown() == back.to_markdown()


def test_export_markdown_neutralises_model_html_and_reads_back_as_written() -> None:
    script = make_script()
    script.title = "Pods <b>bold</b>"
    script.lines[0].text = 'Welcome <img src="https://t.example/p.gif" onerror="x()"> and ![i](https://t.example/i.png) `<kbd>`'
    md = script.export_markdown()
    assert "<img" not in md and "<b>" not in md and not re.search(r"(?<!\\)!\[", md)
    assert "&lt;img" in md and "\\![i](https://t.example/i.png)" in md and "`<kbd>`" in md  # code stays as written
    assert script.to_markdown() != md and "<img" in script.to_markdown()  # the stored text is not changed
    back = parse_markdown(md)
    assert back.title == script.title
    assert [(ln.speaker, ln.text, ln.citations) for ln in back.lines] == [
        (ln.speaker, ln.text, ln.citations) for ln in script.lines]
    assert parse_markdown(back.export_markdown()).export_markdown() == back.export_markdown()  # stable


def test_json_round_trip() -> None:
    script = make_script()
    again = PodcastScript.from_json(script.to_json())
    assert again == script
    assert [ln.supported for ln in again.unsupported] == [False]


def test_parse_markdown_accepts_the_ways_people_write_dialogue() -> None:
    md = """# Edited episode

Some intro prose before anything is ignored.

## Opening

**Alex**: Hi there [1].
- **Sam:** A list item line [2, 3]
* **Dr. Jo Smith:**   A third voice,
  continued on the next line [4].

## 2) Wrap-up

**Alex:** Bye!
"""
    s = parse_markdown(md, hosts=[Host("Alex"), Host("Sam")])
    assert s.title == "Edited episode"
    assert s.segments == ["Opening", "Wrap-up"]
    assert [(ln.speaker, ln.segment) for ln in s.lines] == [("Alex", 0), ("Sam", 0), ("Dr. Jo Smith", 0),
                                                            ("Alex", 1)]
    assert s.lines[0].citations == [1]
    assert s.lines[1].citations == [2, 3]
    assert s.lines[2].text == "A third voice, continued on the next line [4]."
    assert s.lines[2].citations == [4]
    assert [h.name for h in s.hosts] == ["Alex", "Sam"]  # the given hosts are kept
    # without hosts, the first two speakers become the hosts
    assert [h.name for h in parse_markdown(md).hosts] == ["Alex", "Sam"]


def test_the_sources_section_is_not_dialogue() -> None:
    md = make_script().to_markdown() + "\n**Mallory:** injected after the sources [9]\n"
    s = parse_markdown(md)
    assert "Mallory" not in {ln.speaker for ln in s.lines}
    assert all(9 not in ln.citations for ln in s.lines)


def test_utterances_are_clean_text_to_speak() -> None:
    s = make_script()
    s.lines.append(PodcastLine("Alex", "  **Great** _point_ [2] \u26a0", [2], 1))
    s.lines.append(PodcastLine("Sam", "[1]", [1], 1))  # nothing to say
    assert s.utterances() == [
        ("Alex", "Welcome! What is quantization?"),
        ("Sam", "It stores weights in fewer bits."),
        ("Alex", "How are documents split?"),
        ("Sam", "Into chunks, and the model runs on 900 GPUs."),
        ("Alex", "Great point"),
    ]


@pytest.mark.parametrize(
    "md",
    [
        "",
        "   \n\n",
        "# Only a title\n",
        "# Title\n\n## Segment one\n\n## Segment two\n### deeper\n",
        "Just prose, no speaker markup at all.\nAnother line.",
        "## Sources\n\n**Alex:** hidden in the sources\n",
        "**" + " " * 200_000,
        "## a" + " " * 200_000 + "b",
        "lorem ipsum " * 90_000,  # ~1 MB of prose
    ],
)
def test_markdown_without_dialogue_is_a_clear_error_and_fast(md: str) -> None:
    t0 = time.perf_counter()
    with pytest.raises(NotebookError, match=r"No dialogue found: write each line as \*\*Name:\*\*"):
        parse_markdown(md)
    assert time.perf_counter() - t0 < 2.0


def test_a_megabyte_of_dialogue_parses_in_linear_time() -> None:
    md = "**Alex:** start [1]\n" + "more words [2]\n" * 70_000 + "**Sam:** end \u26a0\n"
    assert len(md) > 1_000_000
    t0 = time.perf_counter()
    s = parse_markdown(md)
    assert time.perf_counter() - t0 < 3.0
    assert [ln.speaker for ln in s.lines] == ["Alex", "Sam"]
    assert s.lines[0].citations == [1, 2] and s.lines[1].text == "end"
    many = parse_markdown("**Alex:** hi [1]\n**Sam:** yo\n" * 30_000)
    assert len(many.lines) == 60_000
