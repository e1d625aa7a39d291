"""Transcript file loader (.vtt, .srt): parsing, encodings, rolling captions, grouping, bad input, big files."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from notebooklm_local.core.documents import LoadedDocument, SourceLoader, SourceRef
from notebooklm_local.core.errors import Cancelled, SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.loaders.transcripts import (
    Cue,
    TranscriptFileLoader,
    collapse_rolling_cues,
    cues_to_document,
    parse_srt,
    parse_vtt,
    title_from_file_stem,
)

SRT = """1
00:00:01,000 --> 00:00:03,500
Hello and welcome to
<i>the lecture</i> on rivers.

2
00:00:03,600 --> 00:00:06,000
Today we cover <b>deltas</b> &amp; estuaries.

3
00:00:45,000 --> 00:00:48,250
{\\an8}After the break: sediment transport.
"""

VTT = """WEBVTT - lecture captions
Kind: captions
Language: en

STYLE
::cue {
  color: yellow;
}

REGION
id:fred
width:40%

NOTE This is a comment
that spans two lines --> with an arrow

intro
00:00.500 --> 00:02.000 align:start position:10% line:0
<v Roger Bingham>We are in New York City</v>

00:00:02.000 --> 00:00:04.000
<v.loud Neil>And we&#39;re <c.yellow>actually</c> at the
Lucern Hotel&nbsp;&lt;just&gt; down the street

3
01:00:04.000 --> 01:00:05.500
x < y and <00:00:04.500>z > w
"""

YOUTUBE_VTT = """WEBVTT
Kind: captions
Language: en

00:00:00.000 --> 00:00:02.350 align:start position:0%
\x20
hello<00:00:00.320><c> everyone</c><00:00:00.640><c> and</c><00:00:01.200><c> welcome</c>

00:00:02.350 --> 00:00:02.360 align:start position:0%
hello everyone and welcome
\x20

00:00:02.360 --> 00:00:05.070 align:start position:0%
hello everyone and welcome
to<00:00:02.480><c> the</c><00:00:02.720><c> river</c><00:00:03.100><c> channel</c>

00:00:05.070 --> 00:00:05.080 align:start position:0%
to the river channel
\x20

00:00:05.080 --> 00:00:07.990 align:start position:0%
to the river channel
today<00:00:05.500><c> we</c><00:00:05.900><c> look</c><00:00:06.300><c> at</c><00:00:06.700><c> deltas</c>

00:00:07.990 --> 00:00:08.000 align:start position:0%
today we look at deltas
\x20
"""


def _write(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def _load(path: Path, cancel: CancelToken | None = None) -> LoadedDocument:
    return TranscriptFileLoader().load(SourceRef(path=path), cancel or CancelToken())


def _assert_consistent(doc: LoadedDocument) -> None:
    assert doc.blocks
    assert doc.text == "\n\n".join(b.text for b in doc.blocks)
    for b in doc.blocks:
        assert b.kind == "cue"
        assert doc.text[b.start : b.end] == b.text
        assert b.t_start is not None and b.t_end is not None
        assert b.t_end >= b.t_start


# --------------------------------------------------------------------------------------------- protocol


def test_protocol_and_can_load(tmp_path: Path) -> None:
    loader = TranscriptFileLoader()
    assert isinstance(loader, SourceLoader)
    assert loader.name == "transcript"
    assert loader.extensions == (".vtt", ".srt", ".sbv")
    assert loader.can_load(SourceRef(path=tmp_path / "studio.SBV"))
    assert loader.can_load(SourceRef(path=tmp_path / "a.vtt"))
    assert loader.can_load(SourceRef(path=tmp_path / "B.SRT"))
    assert loader.can_load(SourceRef(path=tmp_path / "c.Vtt"))
    assert not loader.can_load(SourceRef(path=tmp_path / "c.txt"))
    assert not loader.can_load(SourceRef(path=tmp_path / "srt"))
    assert not loader.can_load(SourceRef(url="https://example.com/a.vtt"))
    assert not loader.can_load(SourceRef(text="00:00:01,000 --> 00:00:02,000"))


# --------------------------------------------------------------------------------------------- normal files


def test_srt_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "River Lecture.srt", SRT)
    doc = _load(path)

    assert doc.kind == "transcript"
    assert doc.title == "River Lecture"
    assert [(b.text, b.t_start, b.t_end) for b in doc.blocks] == [
        ("Hello and welcome to the lecture on rivers. Today we cover deltas & estuaries.", 1.0, 6.0),
        ("After the break: sediment transport.", 45.0, 48.25),  # a 39 s pause starts a new block
    ]
    _assert_consistent(doc)
    assert doc.metadata == {"duration": 48.25, "cues": 3}
    assert doc.flags == []
    assert doc.original == path.read_bytes()
    assert doc.original_suffix == ".srt"


def test_vtt_file(tmp_path: Path) -> None:
    doc = _load(_write(tmp_path, "hotel.VTT", VTT))

    assert doc.title == "hotel"
    assert doc.original_suffix == ".vtt"
    assert doc.text == (
        "We are in New York City And we're actually at the Lucern Hotel <just> down the street\n\nx < y and z > w"
    )
    assert [(b.t_start, b.t_end) for b in doc.blocks] == [(0.5, 4.0), (3604.0, 3605.5)]
    _assert_consistent(doc)
    assert doc.metadata == {"duration": 3605.5, "cues": 3}
    assert doc.flags == []


def test_parse_functions_return_cues() -> None:
    assert parse_srt(SRT) == [
        Cue(1.0, 3.5, "Hello and welcome to the lecture on rivers."),
        Cue(3.6, 6.0, "Today we cover deltas & estuaries."),
        Cue(45.0, 48.25, "After the break: sediment transport."),
    ]
    cues = parse_vtt(VTT)
    assert [(c.start, c.end) for c in cues] == [(0.5, 2.0), (2.0, 4.0), (3604.0, 3605.5)]
    assert cues[0].text == "We are in New York City"
    # Long hours, one-digit fractions and a dot in .srt timings are tolerated.
    assert parse_srt("1\n123:04:05.5 --> 123:04:06,25\nlate\n") == [Cue(443_045.5, 443_046.25, "late")]


def test_youtube_rolling_auto_captions(tmp_path: Path) -> None:
    assert parse_vtt(YOUTUBE_VTT) == [
        Cue(0.0, 2.36, "hello everyone and welcome"),
        Cue(2.36, 5.08, "to the river channel"),
        Cue(5.08, 8.0, "today we look at deltas"),
    ]
    doc = _load(_write(tmp_path, "auto.en.vtt", YOUTUBE_VTT))
    assert doc.text == "hello everyone and welcome to the river channel today we look at deltas"
    assert [(b.t_start, b.t_end) for b in doc.blocks] == [(0.0, 8.0)]
    assert doc.metadata["cues"] == 3
    _assert_consistent(doc)


def test_rolling_srt_that_extends_the_previous_line() -> None:
    srt = (
        "1\n00:00:00,000 --> 00:00:01,000\nthe delta\n\n"
        "2\n00:00:01,000 --> 00:00:02,000\nthe delta grows\n\n"
        "3\n00:00:02,000 --> 00:00:03,000\nthe delta grows every year\n\n"
        "4\n00:00:10,000 --> 00:00:11,000\nthe delta grows every year and more\n"  # 7 s later: not rolling
    )
    assert [c.text for c in parse_srt(srt)] == [
        "the delta",
        "grows",
        "every year",
        "the delta grows every year and more",
    ]
    assert collapse_rolling_cues([Cue(0, 1, "a b"), Cue(1, 2, "a b\nc d"), Cue(2, 2.01, "c d")]) == [
        Cue(0, 1, "a b"),
        Cue(1, 2.01, "c d"),
    ]


def test_blank_line_inside_an_srt_cue_and_crlf(tmp_path: Path) -> None:
    srt = "1\r\n00:00:01,000 --> 00:00:02,000\r\nfirst part\r\n\r\nsecond part\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\nnext\r\n"
    doc = _load(_write(tmp_path, "crlf.srt", srt))
    assert doc.text == "first part second part next"
    assert doc.flags == []


def test_backwards_timestamps_are_tolerated(tmp_path: Path) -> None:
    srt = (
        "1\n00:01:00,000 --> 00:01:02,000\nOne.\n\n"
        "2\n00:00:10,000 --> 00:00:12,000\nTwo.\n\n"
        "3\n00:00:20,000 --> 00:00:15,000\nThree.\n"  # ends before it starts
    )
    doc = _load(_write(tmp_path, "backwards.srt", srt))
    assert doc.text == "One. Two. Three."
    assert [(b.t_start, b.t_end) for b in doc.blocks] == [(60.0, 62.0)]
    assert doc.metadata == {"duration": 62.0, "cues": 3}
    assert parse_srt(srt)[2] == Cue(20.0, 20.0, "Three.")
    _assert_consistent(doc)


# --------------------------------------------------------------------------------------------- grouping


def test_blocks_are_paragraph_sized() -> None:
    # 30 cues of 5 words, no punctuation, contiguous: blocks of at most 60 words.
    cues = [Cue(i * 2.0, i * 2.0 + 2.0, f"word{i} alpha beta gamma delta") for i in range(30)]
    doc = cues_to_document(cues, kind="transcript", title="t", metadata={"source": "x"})
    assert [len(b.text.split()) for b in doc.blocks] == [60, 60, 30]
    assert [(b.t_start, b.t_end) for b in doc.blocks] == [(0.0, 24.0), (24.0, 48.0), (48.0, 60.0)]
    assert doc.metadata == {"duration": 60.0, "cues": 30, "source": "x"}
    _assert_consistent(doc)


def test_blocks_end_at_a_sentence_once_long_enough() -> None:
    short = [Cue(0, 1, "Short one."), Cue(1, 2, "Another short one.")]
    assert len(cues_to_document(short, kind="transcript", title="t").blocks) == 1
    sentence = "this sentence has exactly ten words in it right here."
    cues = [Cue(i, i + 1, sentence) for i in range(4)]  # 10 words each; break once a block has >= 25 words
    assert [len(b.text.split()) for b in cues_to_document(cues, kind="transcript", title="t").blocks] == [30, 10]


def test_cues_to_document_without_text_is_an_error() -> None:
    with pytest.raises(SourceLoadError, match="no caption text"):
        cues_to_document([Cue(0, 1, "  ")], kind="youtube", title="Silent")


# --------------------------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_byte_order_marks(tmp_path: Path, encoding: str) -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\nÜber den Fluß — 北京 ✓\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    doc = _load(_write(tmp_path, "bom.srt", data))
    assert doc.text == "Über den Fluß — 北京 ✓"
    assert doc.original == data


def test_cp1252_file(tmp_path: Path) -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:04,000\nLe café coûte 3 € à l’entrée, n’est-ce pas ?\n\n"
        "2\n00:00:04,500 --> 00:00:07,000\nÇa dépend… « Voilà » dit l’élève.\n"
    )
    doc = _load(_write(tmp_path, "french.srt", text, encoding="cp1252"))
    assert doc.text == "Le café coûte 3 € à l’entrée, n’est-ce pas ? Ça dépend… « Voilà » dit l’élève."


# --------------------------------------------------------------------------------------------- bad input


def test_zero_byte_file(tmp_path: Path) -> None:
    with pytest.raises(SourceLoadError, match=r'"empty\.srt" is empty'):
        _load(_write(tmp_path, "empty.srt", b""))


def test_whitespace_only_file(tmp_path: Path) -> None:
    with pytest.raises(SourceLoadError, match=r'"blank\.vtt" is empty'):
        _load(_write(tmp_path, "blank.vtt", "\ufeff \n\n \n"))


def test_binary_garbage(tmp_path: Path) -> None:
    data = random.Random(7).randbytes(4096)
    with pytest.raises(SourceLoadError, match=r'"movie\.srt" is not a text subtitle file'):
        _load(_write(tmp_path, "movie.srt", data))
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    with pytest.raises(SourceLoadError, match=r"image\.vtt"):
        _load(_write(tmp_path, "image.vtt", png))


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceLoadError, match=r'File not found: "nope\.srt"'):
        _load(tmp_path / "nope.srt")
    (tmp_path / "dir.vtt").mkdir()
    with pytest.raises(SourceLoadError, match=r'"dir\.vtt" is a folder'):
        _load(tmp_path / "dir.vtt")


def test_no_valid_timestamps_at_all(tmp_path: Path) -> None:
    srt = "1\n00:00:01 -> 00:00:02\nbroken arrow\n\n2\nnot a timestamp\nmore text\n"
    with pytest.raises(SourceLoadError, match=r'"broken\.srt" contains no valid subtitle timestamps'):
        _load(_write(tmp_path, "broken.srt", srt))
    with pytest.raises(SourceLoadError, match=r'"notes\.srt" contains no valid subtitle timestamps'):
        _load(_write(tmp_path, "notes.srt", "Just some notes.\n\nNot subtitles at all.\n"))


def test_timestamps_without_text(tmp_path: Path) -> None:
    srt = "1\n00:00:01,000 --> 00:00:02,000\n\n2\n00:00:03,000 --> 00:00:04,000\n<i></i>\n"
    with pytest.raises(SourceLoadError, match=r'"silent\.srt" has subtitle timestamps but no caption text'):
        _load(_write(tmp_path, "silent.srt", srt))


def test_some_malformed_cues_are_skipped_and_flagged(tmp_path: Path) -> None:
    srt = (
        "1\n00:00:01,000 --> 00:00:02,000\nGood one.\n\n"
        "2\n00:00:02,000 --> 00:00:0X,000\nBad seconds.\n\n"
        "3\n00:00:03,000 -- 00:00:04,000\nNo arrow.\n\n"
        "4\n00:00:04,000 --> 00:00:05,000\nGood two.\n\n"
        "5\n00:61:00,000 --> 00:62:00,000\nMinutes out of range.\n\n"
        "6\n00:00:06,000 --> 00:00:07,000\nGood three.\n"
    )
    doc = _load(_write(tmp_path, "partly.srt", srt))
    assert doc.text == "Good one. Good two. Good three."
    assert doc.flags == ["skipped 3 malformed cues"]
    assert doc.metadata["cues"] == 3
    _assert_consistent(doc)

    one_bad = "1\n00:00:01,000 --> 00:00:02,000\nGood.\n\n2\n00:00:02,000 --> nope\nBad.\n"
    assert _load(_write(tmp_path, "one.srt", one_bad)).flags == ["skipped 1 malformed cue"]


def test_srt_content_in_a_vtt_file_and_vtt_content_in_an_srt_file(tmp_path: Path) -> None:
    assert _load(_write(tmp_path, "really-srt.vtt", SRT)).text.startswith("Hello and welcome")
    assert _load(_write(tmp_path, "really-vtt.srt", VTT)).text.startswith("We are in New York City")


# --------------------------------------------------------------------------------------------- size, cancel


def _huge_vtt(n: int) -> str:
    parts = ["WEBVTT\n"]
    for i in range(n):
        s = i * 2
        parts.append(
            f"\n{i + 1}\n{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000 --> "
            f"{(s + 2) // 3600:02d}:{(s + 2) // 60 % 60:02d}:{(s + 2) % 60:02d}.000\n"
            f"<v Speaker>cue number {i} says something short.</v>\n"
        )
    return "".join(parts)


def test_huge_file_loads_in_linear_time(tmp_path: Path) -> None:
    """50k cues load completely, in time that grows linearly with the cue count (not an absolute bound:
    the CI cores are shared). Best of 2 at 10k and at 50k: linear gives ~5x, quadratic ~25x."""
    small = _write(tmp_path, "small.vtt", _huge_vtt(10_000))
    path = _write(tmp_path, "huge.vtt", _huge_vtt(50_000))

    def best(p: Path) -> float:
        times = []
        for _ in range(2):
            started = time.perf_counter()
            _load(p)
            times.append(time.perf_counter() - started)
        return min(times)

    ratio = best(path) / best(small)
    assert ratio < 12, f"50k cues took {ratio:.1f}x as long as 10k (linear: ~5x)"
    doc = _load(path)
    assert doc.metadata == {"duration": 100_000.0, "cues": 50_000}
    assert doc.blocks[0].text.startswith("cue number 0 says something short. cue number 1 says")
    assert doc.blocks[-1].text.endswith("cue number 49999 says something short.")
    assert doc.blocks[-1].t_end == 100_000.0
    assert all(len(b.text.split()) <= 60 for b in doc.blocks)
    for b in doc.blocks[:: max(1, len(doc.blocks) // 200)]:
        assert doc.text[b.start : b.end] == b.text and b.t_start is not None and b.t_end is not None
    assert os.path.getsize(path) == len(doc.original or b"")


def test_cancel_is_honoured(tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        _load(_write(tmp_path, "c.vtt", _huge_vtt(10)), token)

    class CancelLater(CancelToken):
        """Requests cancellation after a few checks, as a user clicking Cancel mid-parse would."""

        def __init__(self) -> None:
            super().__init__()
            self.checks = 0

        def raise_if_set(self) -> None:
            self.checks += 1
            if self.checks == 4:
                self.cancel()
            super().raise_if_set()

    with pytest.raises(Cancelled):
        _load(_write(tmp_path, "big.vtt", _huge_vtt(20_000)), CancelLater())


# --------------------------------------------------------------------------------------------- titles (issue 18)

CUE = "\n\n00:00:01.000 --> 00:00:03.000\nA line of the talk.\n"


@pytest.mark.parametrize(("header", "title"), [
    ("WEBVTT - Local-first software, a talk", "Local-first software, a talk"),
    ("WEBVTT\nKind: captions\nLanguage: en\nTitle: Rivers &amp; deltas", "Rivers & deltas"),
    ("WEBVTT\n\nNOTE\nTitle: The estuary lecture\nRecorded 2024", "The estuary lecture"),
    ("WEBVTT\n\nNOTE Title: Inline note title", "Inline note title"),
])
def test_a_vtt_title_stated_in_the_file_is_used(tmp_path: Path, header: str, title: str) -> None:
    doc = _load(_write(tmp_path, "captions_file.en.vtt", header + CUE))
    assert doc.title == title and doc.metadata["title_source"] == "file header"


@pytest.mark.parametrize("header", ["WEBVTT", "WEBVTT - English captions", "WEBVTT Subtitles by a volunteer",
                                    "WEBVTT\nKind: captions\nLanguage: en", "WEBVTT\n\nNOTE recorded live"])
def test_without_a_stated_title_the_cleaned_file_name_is_used(tmp_path: Path, header: str) -> None:
    doc = _load(_write(tmp_path, "my_river_talk.en.vtt", header + CUE))
    assert doc.title == "my river talk" and "title_source" not in doc.metadata


@pytest.mark.parametrize(("stem", "title"), [
    ("my_talk_2019.en", "my talk 2019"),
    ("Local-first software [dQw4w9WgXcQ].en", "Local-first software"),
    ("The.Great.Talk.2019.1080p.WEBRip.x264.eng", "The Great Talk 2019"),
    ("Keynote [1080p]", "Keynote"),
    ("Conference Talk (720p).fr", "Conference Talk"),
    ("lecture_03_intro.en-US.forced", "lecture 03 intro"),
    ("ep_12.pt_BR", "ep 12"),
    ("Python.3.12.release.talk", "Python 3.12 release talk"),
    ("Part.II", "Part.II"),  # not a language code: kept
    ("talk.v2", "talk.v2"),
    ("River Lecture", "River Lecture"),
    ("en", "en"),  # nothing would be left: the stem stays
])
def test_title_from_file_stem(stem: str, title: str) -> None:
    assert title_from_file_stem(stem) == title


def test_srt_title_from_its_file_name(tmp_path: Path) -> None:
    doc = _load(_write(tmp_path, "river_lecture_[1080p].en.srt", SRT))
    assert doc.title == "river lecture"
