"""Issue 18: web text: trafilatura's recall mode only where it finds clearly more, comments reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebooklm_local.services.loaders import web
from notebooklm_local.services.loaders.web import html_to_document

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "web"


def _fake_extract(default: str, recall: str):
    def extract(_html: str, **kw: object) -> str:
        return recall if kw.get("favor_recall") else default

    return extract


@pytest.mark.parametrize(
    ("default", "recall", "chosen"),
    [
        ("Main article text. " * 20, "Main article text. " * 20 + "Related Subjects. Send us your feedback.", "default"),
        ("Release notes intro. " * 5, "Release notes intro. " * 5 + "- a listed change that matters\n" * 20, "recall"),
        ("", "Only recall finds text here.", "recall"),
    ],
)
def test_recall_mode_only_when_it_finds_clearly_more(monkeypatch: pytest.MonkeyPatch, default: str, recall: str,
                                                     chosen: str) -> None:
    import trafilatura

    monkeypatch.setattr(trafilatura, "extract", _fake_extract(default, recall))
    assert web._extract_main("<html></html>", None) == (default if chosen == "default" else recall)


def test_comments_left_out_are_reported_only_when_there_are_some() -> None:
    blog = html_to_document((FIXTURES / "blog_article.html").read_bytes(), url=None, kind="html")
    assert "comments on the page were left out (only the main content is used)" in blog.flags
    assert "zucchini" not in blog.text
    plain = html_to_document((FIXTURES / "latin1.html").read_bytes(), url=None, kind="html")
    assert not any("comments" in f for f in plain.flags)


def test_placeholder_page_titles_give_way_to_the_heading() -> None:
    def page(title: str) -> bytes:
        return (f"<html><head><title>{title}</title></head><body><article><h2>Tide tables for Brest</h2><p>"
                + "High water is at six in the morning and low water just after noon today. " * 8
                + "</p></article></body></html>").encode()

    doc = html_to_document(page("Untitled Document"), url=None, kind="html")
    assert doc.title == "Tide tables for Brest" and doc.metadata["page_title"] == "Untitled Document"
    assert html_to_document(page("index.html"), url=None, kind="html").title == "Tide tables for Brest"
    assert html_to_document(page("Brest tides"), url=None, kind="html").title == "Brest tides"
