"""Issue 18: subtitle files as they come: legacy encodings, stray timing lines, .sbv, hidden cues."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.loaders.text import decode_text, fits_cp1252
from notebooklm_local.services.loaders.transcripts import (
    Cue,
    TranscriptFileLoader,
    decode_subtitle_bytes,
    parse_sbv,
    parse_srt,
    parse_vtt,
)


def _srt(*lines: str) -> str:
    return "".join(f"{i}\n00:00:{2 * i:02d},000 --> 00:00:{2 * i + 1:02d},500\n{line}\n\n" for i, line in enumerate(lines, 1))


ENCODED = [
    ("fr-short", "cp1252", _srt("Où est la télé ?", "À côté du café.")),
    ("fr", "cp1252", _srt("Où est la télé ? À côté du café.", "Ça coûte 3 € — c'est très cher !", "Le cœur a ses raisons.")),
    ("es", "cp1252", _srt("¿Dónde está el niño?", "¡Aquí, señor! Mañana será otro día.")),
    ("de", "cp1252", _srt("Über den Fluß, schöne Grüße.")),
    ("pl", "cp1250", _srt("Zażółć gęślą jaźń.", "Wątek się skończył, pójdźmy dalej.")),
    ("cs", "cp1250", _srt("Příliš žluťoučký kůň úpěl ďábelské ódy.")),
    ("cs-short", "cp1250", _srt("Děkuji, mám se dobře.")),  # fits cp1252 byte by byte ("Dìkuji ... dobøe")
    ("pl-short", "cp1250", _srt("Dziękuję bardzo za pomoc.")),  # "Dziêkujê"
    ("ru", "cp1251", _srt("Привет, как дела? Всё хорошо, спасибо большое.", "Мы идём домой сегодня вечером.")),
    ("el", "cp1253", _srt("Καλημέρα σας, τι κάνετε σήμερα; Όλα καλά, ευχαριστώ πολύ.")),
    ("el-short", "cp1253", _srt("Τι κάνετε σήμερα;")),  # detection says mac_greek: the Windows page wins
    ("tr", "cp1254", _srt("İstanbul'da güzel bir gün geçirdik, çok teşekkürler.", "Şimdi eve dönüyoruz.")),
    ("tr-short", "cp1254", _srt("Çok teşekkürler.")),  # detection says big5hkscs ("よk te𤦷kk僡ler")
    ("tr-short2", "cp1254", _srt("Ağaçlar yeşil.")),  # detection says cp1250 ("Ađaçlar yeţil")
    ("ja", "shift_jis", _srt("こんにちは、元気ですか？今日はいい天気ですね。")),
    ("utf-16", "utf-16", _srt("Où est la télé ? 北京 ✓")),
    ("utf-8-sig", "utf-8-sig", _srt("Où est la télé ?")),
]


@pytest.mark.parametrize(("label", "encoding", "text"), ENCODED, ids=[e[0] for e in ENCODED])
def test_subtitle_encodings_are_decoded_right(label: str, encoding: str, text: str, tmp_path: Path) -> None:
    data = text.encode(encoding)
    assert decode_subtitle_bytes(data) == text
    f = tmp_path / f"{label}.srt"
    f.write_bytes(data)
    doc = TranscriptFileLoader().load(SourceRef(path=f), CancelToken())
    assert doc.text.split()[0] == text.split("\n")[2].split()[0]


def test_cp1252_is_preferred_only_when_the_text_fits_it() -> None:
    assert fits_cp1252("Où est la télé ? À côté.".encode("cp1252"))
    assert not fits_cp1252("Zażółć gęślą jaźń".encode("cp1250"))  # "¿" and "³" inside words
    assert not fits_cp1252("Привет, как дела?".encode("cp1251"))  # all letters accented: another script
    assert not fits_cp1252(b"plain ascii")
    assert decode_text("Où est la télé ?".encode("cp1252"), "a.txt") == ("Où est la télé ?", "cp1252")


def test_a_stray_timing_line_inside_a_cue_starts_the_next_cue() -> None:
    srt = ("1\n00:00:01,000 --> 00:00:03,000\nHello there\n00:00:03,000 --> 00:00:05,000\nGeneral Kenobi\n\n"
           "2\n00:00:05,000 --> 00:00:06,000\nYou are a bold one\n3\n00:00:06,000 --> 00:00:07,000\nKill him\n")
    assert parse_srt(srt) == [Cue(1.0, 3.0, "Hello there"), Cue(3.0, 5.0, "General Kenobi"),
                              Cue(5.0, 6.0, "You are a bold one"), Cue(6.0, 7.0, "Kill him")]
    vtt = "WEBVTT\n\n00:01.000 --> 00:02.000\nfirst\n00:99.000 --> broken\nnot indexed\n\n00:03.000 --> 00:04.000\nthird\n"
    cues = parse_vtt(vtt)
    assert [c.text for c in cues] == ["first", "third"]
    assert not any("-->" in c.text for c in cues)


def test_zero_duration_cues_are_not_indexed(tmp_path: Path) -> None:
    vtt = ("WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nvisible one\n\n"
           "00:00:03.000 --> 00:00:03.000\nhidden cue text\n\n00:00:04.000 --> 00:00:05.000\nvisible two\n")
    assert [c.text for c in parse_vtt(vtt)] == ["visible one", "visible two"]
    f = tmp_path / "hidden.vtt"
    f.write_text(vtt)
    doc = TranscriptFileLoader().load(SourceRef(path=f), CancelToken())
    assert "hidden" not in doc.text and doc.metadata["cues"] == 2


SBV = """0:00:00.599,0:00:04.160
>> ALICE: Hi, my name is Alice Miller and this is John Brown

0:00:04.160,0:00:06.770
>> JOHN: and we're the owners of Miller Bakery.

0:00:06.770,0:00:10.880
>> ALICE: Today we'll be teaching you how to make
our famous chocolate chip cookies!
"""


def test_sbv_files_are_accepted(tmp_path: Path) -> None:
    cues = parse_sbv(SBV)
    assert cues[0] == Cue(0.599, 4.16, ">> ALICE: Hi, my name is Alice Miller and this is John Brown")
    assert cues[-1].text.endswith("our famous chocolate chip cookies!") and cues[-1].end == 10.88
    f = tmp_path / "captions.sbv"
    f.write_text(SBV)
    loader = TranscriptFileLoader()
    assert loader.can_load(SourceRef(path=f))
    doc = loader.load(SourceRef(path=f), CancelToken())
    assert doc.kind == "transcript" and doc.metadata["duration"] == 10.88
    assert doc.blocks[0].t_start == 0.599 and "Miller Bakery" in doc.text
