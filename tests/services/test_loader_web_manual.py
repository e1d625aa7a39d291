"""HTML manuals (SQLite's docs, the Debian Reference): trafilatura's default mode drops their headings, the
lists inside the text and the fences of bare ``<pre>`` code; the loader puts them back.

``manual_page.html`` is a hand-made page in the shape of SQLite's documentation (numbered ``<h1><span>``
headings, a table of contents and navigation around the article, a list after "Advantages include:", a shell
session in ``<pre>`` with an italic comment and a ``----`` rule under a column name, a ``<sup>``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from notebooklm_local.services.loaders import web
from notebooklm_local.services.loaders.web import html_to_document

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "web"


@pytest.fixture(scope="module")
def manual():
    return html_to_document((FIXTURES / "manual_page.html").read_bytes(), url=None, kind="html")


def test_headings_of_the_article_come_back_with_their_paths(manual) -> None:
    headings = [b.text for b in manual.blocks if b.kind == "heading"]
    assert headings == ["1. Overview", "2. How The Journal Works", "2.1. Checkpointing"]  # no TOC, no nav
    checkpoint = next(b for b in manual.blocks if b.text.startswith("A checkpoint copies"))
    assert checkpoint.heading_path == ("2. How The Journal Works", "2.1. Checkpointing")
    intro = next(b for b in manual.blocks if b.text.startswith("Tinydb normally keeps"))
    assert intro.heading_path == ("1. Overview",)


def test_a_list_inside_the_article_is_kept(manual) -> None:
    assert "Readers never block the single writer" in manual.text
    assert manual.text.index("Advantages include:") < manual.text.index("considerably faster") < manual.text.index(
        "But there are also disadvantages")


def test_bare_pre_is_one_code_block_never_a_heading(manual) -> None:
    code = [b for b in manual.blocks if "PRAGMA journal = WAL;" in b.text]
    assert len(code) == 1 and code[0].kind == "code"
    assert code[0].text.splitlines() == [
        "-- switch the journal on", "tinydb> PRAGMA journal = WAL;", "tinydb> SELECT mode FROM status;", "mode",
        "----", "wal"]
    assert not any("tinydb>" in b.text for b in manual.blocks if b.kind == "heading")


def test_superscript_is_not_left_as_a_tag(manual) -> None:
    assert "2^16 page entries" in manual.text and "<sup>" not in manual.text


def test_a_fence_opened_at_the_end_of_a_line_does_not_swallow_the_prose_after_it() -> None:
    md = "For example: ```\nSELECT first_name FROM t;\n```\nIn the query above the first\\_name column is used."
    blocks = web.markdown_to_blocks(web._inline_html(md))
    assert [b.text for b in blocks] == [
        "For example:", "SELECT first_name FROM t;", "In the query above the first_name column is used."]


@pytest.mark.parametrize(
    ("default", "recall", "chosen"),
    [
        # a list between two paragraphs the default mode kept: the article's own
        ("Intro of the page. " * 20 + "Advantages include:\n\nBut there are also disadvantages.",
         "Intro of the page. " * 20 + "Advantages include:\n\n1. It is faster in most scenarios.\n2. Readers do not block "
         "writers.\n\nBut there are also disadvantages.", "recall"),
        # a definition the default mode renders as one paragraph and recall as two list items is the same text
        ("Intro of the page. " * 20 + "\n\n`POSIX`\nA family of open system standards.\n\nThe shell does this:"
         "\n\nClosing paragraph of the section.",
         "Intro of the page. " * 20 + "\n\n- `POSIX`\n- A family of open system standards.\n\nThe shell does this:"
         "\n\n1. Reads its input from a file or a string.\n2. Breaks the input into words.\n\nClosing paragraph of "
         "the section.", "recall"),
        # list items the default mode rendered as paragraphs are the same text
        ("First term is defined here.\n\nSecond term is defined here.\n\nClosing words.",
         "- First term is defined here.\n- Second term is defined here.\n\nClosing words.", "default"),
        # links around the article (a sidebar list after it) stay out
        ("Main article text. " * 20 + "\n\nLast paragraph.",
         "Main article text. " * 20 + "\n\nLast paragraph.\n\n- Related subjects and other pages\n- Send us your "
         "feedback about this page", "default"),
    ],
)
def test_recall_mode_when_it_restores_a_list_inside_the_text(monkeypatch: pytest.MonkeyPatch, default: str,
                                                              recall: str, chosen: str) -> None:
    import trafilatura

    monkeypatch.setattr(trafilatura, "extract", lambda _h, **kw: recall if kw.get("favor_recall") else default)
    assert web._extract_main("<html></html>", None) == (recall if chosen == "recall" else default)


def test_a_heading_matching_far_down_the_page_does_not_lose_the_headings_before() -> None:
    from notebooklm_local.core.documents import Block

    html = ("<body><h1>User Manual</h1><p>Table of contents</p><h2>Cloning</h2><p>Cloning copies a repository.</p>"
            "<h2>Branches</h2><p>A branch is a line of work.</p><h2>Index</h2><p>Table of contents of the index</p>"
            "</body>")
    extracted = [Block("Cloning copies a repository."), Block("A branch is a line of work."),
                 Block("Table of contents of the index")]
    out = web._restore_headings(extracted, html)
    assert [(b.kind, b.text) for b in out] == [
        ("heading", "Cloning"), ("paragraph", "Cloning copies a repository."), ("heading", "Branches"),
        ("paragraph", "A branch is a line of work."), ("heading", "Index"), ("paragraph", "Table of contents of the index")]


def test_a_short_bold_title_paragraph_is_a_heading_under_the_current_one() -> None:
    body = "".join(
        f"<p><b>{title}</b></p><p>{text} " + "More words make this a real paragraph of the page. " * 4 + "</p>"
        for title, text in [("Maximum length of a string", "Strings hold at most a billion bytes."),
                            ("Maximum number of columns", "A table has at most two thousand columns.")])
    html = (f"<html><body><article><h1>Limits</h1><p>{'These limits apply to every database file. ' * 5}</p>"
            f"{body}<p><b>Strings are counted in bytes, not in characters.</b></p></article></body></html>")
    doc = html_to_document(html, url=None, kind="html")
    assert [b.text for b in doc.blocks if b.kind == "heading"] == [
        "Limits", "Maximum length of a string", "Maximum number of columns"]
    cols = next(b for b in doc.blocks if b.text.startswith("A table has at most"))
    assert cols.heading_path == ("Limits", "Maximum number of columns")
    assert any(b.kind == "paragraph" and b.text.startswith("Strings are counted") for b in doc.blocks)  # a sentence


def test_two_headings_before_the_same_paragraph_keep_their_order() -> None:
    from notebooklm_local.core.documents import Block

    html = "<body><h2>1.1. Console basics</h2><h3>1.1.1. The shell prompt</h3><p>After boot you see a prompt.</p></body>"
    out = web._restore_headings([Block("After boot you see a prompt.")], html)
    assert [b.text for b in out] == ["1.1. Console basics", "1.1.1. The shell prompt", "After boot you see a prompt."]
    assert out[-1].heading_path == ("1.1. Console basics", "1.1.1. The shell prompt")


def test_a_bold_title_over_a_list_item_text_is_a_heading_not_the_start_of_its_sentence() -> None:
    md = ("Intro paragraph.\n\n- **High-volume Websites**\nSQLite will normally work fine as a website's database.\n"
          "- **Very large datasets**\nA database is limited in size to 281 terabytes.\n\n- **Alpha**\n- **Beta**")
    blocks = web.markdown_to_blocks(web._inline_html(md))
    assert [(b.kind, b.text) for b in blocks] == [
        ("paragraph", "Intro paragraph."), ("heading", "High-volume Websites"),
        ("paragraph", "SQLite will normally work fine as a website's database."), ("heading", "Very large datasets"),
        ("paragraph", "A database is limited in size to 281 terabytes."), ("paragraph", "- Alpha\n- Beta")]
