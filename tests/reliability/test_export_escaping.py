"""HTML and remote images in model-written text are neutralised on export; the user's own Markdown is kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.errors import SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.note_export import neutralise_html, render_combined, render_markdown
from notebooklm_local.core.notes import Note
from notebooklm_local.extensions.containment import ContainedExporter, ContainedLoader

HOSTILE = (
    "Quantization shrinks models [1]. <img src=https://tracker.example/p.png onerror=alert(1)>\n\n"
    "<script>fetch('https://tracker.example/x')</script> See ![pixel](https://tracker.example/pixel.png) "
    "and [click](javascript:alert(1)). <!-- hidden --> <iframe src=https://evil.example></iframe>\n\n"
    "Code stays: `<b>bold</b>`\n\n```html\n<div onclick=x>kept</div>\n```\n"
)
CITE = [{"passage_id": 1, "source_title": "Paper", "quote": "Quantization <i>shrinks</i> models", "page": 3}]


def note(origin: str, body: str = HOSTILE) -> Note:
    return Note(id="a" * 32, notebook_id="nb", title="Answer <b>x</b>", body=body, citations=CITE,
                origin_kind=origin, created=1.7e9, updated=1.7e9)


def _outside_code(md: str) -> str:
    md = re.sub(r"```.*?```", "", md, flags=re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", md)


def _assert_inert(md: str) -> None:
    prose = _outside_code(md)
    assert not re.search(r"<\s*(img|script|iframe|!--)", prose, re.IGNORECASE), prose
    assert not re.search(r"(?<!\\)!\[", prose), prose  # no image embeds: a viewer would fetch the URL
    assert "javascript:" not in prose.lower()


@pytest.mark.parametrize("origin", ["chat", "summary", "podcast", "cod"])
def test_model_written_note_is_inert_in_markdown(origin: str) -> None:
    md = render_markdown(note(origin), notebook_name="NB")
    _assert_inert(md)
    assert "`<b>bold</b>`" in md and "<div onclick=x>kept</div>" in md  # code is shown as code anyway
    assert "[^1]" in md and "Quantization" in md  # citations still become footnotes


def test_combined_export_is_inert_too() -> None:
    md = render_combined([note("chat"), note("summary")], notebook_name="NB")
    _assert_inert(md)


def test_users_own_markdown_stays_as_written() -> None:
    body = "My <mark>highlight</mark> and ![diagram](diagram.png)"
    md = render_markdown(note("manual", body), notebook_name="NB")
    assert body in md


def test_neutralise_is_idempotent() -> None:
    once = neutralise_html(HOSTILE)
    assert neutralise_html(once) == once


class RecordingExporter:
    name = "vault"
    description = "test"

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def export(self, notes, target, *, notebook_name, sources, force):  # type: ignore[no-untyped-def]
        self.bodies = [n.body for n in notes]
        return []


def test_plugin_exporters_receive_neutralised_model_text(tmp_path: Path) -> None:
    inner = RecordingExporter()
    ContainedExporter("p", inner).export([note("chat"), note("manual", "<u>mine</u>")], tmp_path,
                                         notebook_name="NB")
    _assert_inert(inner.bodies[0])
    assert inner.bodies[1] == "<u>mine</u>"


class ExitingLoader:
    name = "exit"
    extensions = (".x",)

    def can_load(self, ref: SourceRef) -> bool:
        raise SystemExit(3)

    def load(self, ref: SourceRef, cancel: CancelToken) -> object:
        raise SystemExit(2)


def test_a_plugin_raising_systemexit_is_contained() -> None:
    loader = ContainedLoader("p", ExitingLoader())
    assert loader.can_load(SourceRef(path=Path("a.x"))) is False
    with pytest.raises(SourceLoadError, match="SystemExit"):
        loader.load(SourceRef(path=Path("a.x")), CancelToken())
