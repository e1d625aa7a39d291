"""Markdown export of notes: YAML front matter, footnote citations, safe file names, careful writing."""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import markdown
import pytest
import yaml

from notebooklm_local.core import note_export
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.note_export import (
    MAX_FILENAME_BYTES,
    MAX_QUOTE_CHARS,
    ExportError,
    ExportExists,
    export_notes,
    render_combined,
    render_markdown,
    safe_filename,
    yaml_quote,
    youtube_at,
)
from notebooklm_local.core.notes import Note

NOTE_FIELDS = {"title", "notebook", "tags", "created", "updated", "origin", "sources"}
T0 = 1_700_000_000.0


def cite(pid: int, title: str = "Roses", **kw: Any) -> dict[str, Any]:
    c = {"passage_id": pid, "chunk_id": pid * 10, "source_id": f"s{pid}", "source_title": title, "page": pid,
         "t_start": None, "start": 0, "end": 10, "quote": f"quote {pid}", "location": f"p. {pid}", "url": None}
    c.update(kw)
    return c


def note(title: str = "Roses", body: str = "Prune in winter [1].", citations: list[dict[str, Any]] | None = None,
         tags: list[str] | None = None, **kw: Any) -> Note:
    return Note(id=kw.pop("id", "a" * 32), notebook_id=kw.pop("notebook_id", "nb1"), title=title, body=body,
                tags=tags if tags is not None else ["garden"],
                citations=citations if citations is not None else [cite(1)],
                origin_kind=kw.pop("origin_kind", "chat"), origin_id="m1", created=T0, updated=T0 + 60)


def split_md(md: str) -> tuple[dict[str, Any], str]:
    """(parsed front matter, the Markdown after it)."""
    assert md.startswith("---\n")
    fm, sep, rest = md[4:].partition("\n---\n")
    assert sep, "front matter is not closed"
    data = yaml.safe_load(fm)
    assert isinstance(data, dict)
    return data, rest


def outside_code(md: str) -> str:
    """The Markdown without fenced blocks and code spans (where footnote syntax is not syntax)."""
    md = re.sub(r"^([ \t>]*)(`{3,}|~{3,}).*?^[ \t>]*\2[ \t]*$", "", md, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"(`+)(?!`).+?(?<!`)\1(?!`)", "", md, flags=re.DOTALL)


def footnotes(md: str) -> tuple[set[str], set[str]]:
    text = outside_code(md)
    defs = set(re.findall(r"^\[\^([^\]\s]+)\]:", text, flags=re.MULTILINE))
    refs = set(re.findall(r"(?<!\\)\[\^([^\]\s\\]+)\](?!:)", text))
    return refs, defs


def assert_footnotes_resolve(md: str) -> None:
    refs, defs = footnotes(md)
    assert refs == defs, (refs, defs)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        d = dict(attrs)
        if d.get("id"):
            self.ids.add(str(d["id"]))
        if d.get("href", "") and str(d["href"]).startswith("#"):
            self.hrefs.append(str(d["href"])[1:])


def to_html(md: str) -> _Anchors:
    _, body = split_md(md)
    html = markdown.markdown(body, extensions=["footnotes", "fenced_code"])
    p = _Anchors()
    p.feed(html)
    assert p.hrefs, "no footnote links at all"
    missing = [h for h in p.hrefs if h not in p.ids]
    assert not missing, f"footnote links without a target: {missing}\n{html}"
    return p


# ---------------------------------------------------------------------------------------------
# Front matter


HOSTILE = [
    "Roses / Tulips \\ Lilies",
    "\U0001f339 Roses \U0001f468\u200d\U0001f469\u200d\U0001f467 family",
    "Q: why? A: because: yes",
    'She said "hi" and \'bye\'',
    "line one\nline two\r\nthree",
    "---",
    "--- \n...\n---",
    "- leading dash",
    "# hash [^1] `code` *stars*",
    "x" * 500,
    "null",
    "yes",
    "1.5e3",
    "&anchor *alias !tag %dir @at",
    "{a: 1, b: [2]}",
    "tab\there\u2028sep\u0085nel\ufeffbom\x07bell",
    "back\\slash \\\" \\n",
]


@pytest.mark.parametrize("title", HOSTILE)
def test_front_matter_is_valid_yaml_with_exactly_the_note_fields(title: str) -> None:
    md = render_markdown(note(title=title, tags=["garden", "to-do"]), notebook_name=title)
    data, rest = split_md(md)
    assert set(data) == NOTE_FIELDS
    one_line = " ".join("".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
                                for c in title).split())
    assert data["title"] == one_line and data["notebook"] == one_line
    assert data["tags"] == ["garden", "to-do"]
    assert data["origin"] == "chat"
    assert data["sources"] == ["Roses"]
    assert isinstance(data["created"], datetime) and data["created"].timestamp() == T0
    assert data["updated"].timestamp() == T0 + 60
    heading = rest.lstrip("\n").splitlines()[0]
    assert heading.startswith("# ") and "\n" not in heading
    assert_footnotes_resolve(md)
    to_html(md)


def test_yaml_quote_round_trips_any_string() -> None:
    for s in [*HOSTILE, "", "\x00\x1f\x7f\x9f", "\ud800 lone", "\U0001f600"]:
        expected = s.replace("\ud800", "\ufffd")
        assert yaml.safe_load(f"v: {yaml_quote(s)}")["v"] == expected


def test_empty_lists_and_distinct_sources() -> None:
    n = note(tags=[], citations=[cite(1, "A"), cite(2, "B"), cite(3, "A"), cite(4, "  multi\nline  ")],
             body="x [1][2][3][4]")
    data, _ = split_md(render_markdown(n, notebook_name="NB"))
    assert data["tags"] == [] and data["sources"] == ["A", "B", "multi line"]
    manual = note(tags=[], citations=[], body="plain", origin_kind="manual")
    data, rest = split_md(render_markdown(manual, notebook_name="NB"))
    assert data["sources"] == [] and data["origin"] == "manual"
    assert "[^" not in rest


# ---------------------------------------------------------------------------------------------
# Citations as footnotes


def test_markers_become_footnotes_and_every_footnote_resolves() -> None:
    body = "One [1]. Two [1, 2]. Range [1-3]. Unknown [7]. Mixed [2, 9]. Spaced [ 3 ]."
    md = render_markdown(note(body=body, citations=[cite(1), cite(2), cite(3)]), notebook_name="NB")
    assert "One [^1]." in md
    assert "Two [^1][^2]." in md
    assert "Range [^1][^2][^3]." in md
    assert "Unknown [7]." in md  # no citation 7: plain text
    assert "Mixed [^2][9]." in md
    assert "Spaced [^3]." in md
    assert md.count("\n[^1]: ") == 1
    assert_footnotes_resolve(md)
    html = to_html(md)
    assert {"fn:1", "fn:2", "fn:3"} <= html.ids


def test_definitions_show_source_location_quote_and_link() -> None:
    cits = [
        cite(1, "Roses: a guide", quote="Prune in late winter."),
        cite(2, "Talk", page=None, location="", t_start=123.9, quote="hello",
             url="https://www.youtube.com/watch?v=abc123&t=5"),
        cite(3, "Short link", page=None, location="", t_start=3725.0, quote="", url="https://youtu.be/abc"),
        cite(4, "", page=None, location="", quote="q", url="javascript:alert(1)"),
        cite(5, "Web", page=None, location="Intro", quote="q", url="https://example.com/a b<c>"),
    ]
    md = render_markdown(note(body="a [1] b [2] c [3] d [4] e [5]", citations=cits), notebook_name="NB")
    lines = {m.group(1): m.group(2) for m in re.finditer(r"^\[\^(\d+)\]: (.*)$", md, flags=re.MULTILINE)}
    assert lines["1"] == "Roses: a guide, p. 1 \u2014 \u201cPrune in late winter.\u201d"
    assert lines["2"] == "Talk, 2:03 \u2014 \u201chello\u201d <https://www.youtube.com/watch?v=abc123&t=123s>"
    assert lines["3"] == "Short link, 1:02:05 <https://youtu.be/abc?t=3725s>"
    assert lines["4"] == "Source \u2014 \u201cq\u201d"  # no title: "Source"; no javascript: link
    assert lines["5"] == "Web, Intro \u2014 \u201cq\u201d <https://example.com/a%20b%3Cc%3E>"
    to_html(md)


def test_youtube_at() -> None:
    assert youtube_at("https://www.youtube.com/watch?v=x", 61.7) == "https://www.youtube.com/watch?v=x&t=61s"
    assert youtube_at("https://m.youtube.com/watch?v=x&t=9s&start=3", 5) == "https://m.youtube.com/watch?v=x&t=5s"
    assert youtube_at("https://youtu.be/x", 0) == "https://youtu.be/x?t=0s"
    assert youtube_at("https://example.com/v?x=1", 5) == "https://example.com/v?x=1"
    assert youtube_at("https://www.youtube.com/watch?v=x", None) == "https://www.youtube.com/watch?v=x"


def test_quotes_cannot_break_their_footnote() -> None:
    hostile = ("Line one\n\n[^2]: fake def\nwith ] bracket, *stars*, _under_, `tick`, <script>x</script>, "
               "$math$, ~~strike~~, ==mark==, #tag, &amp; | pipe \\ backslash [link](http://evil)")
    md = render_markdown(note(body="claim [1]", citations=[cite(1, "Src *bold* [x]", quote=hostile)]),
                         notebook_name="NB")
    defs = [line for line in md.splitlines() if line.startswith("[^")]
    assert len(defs) == 1 and defs[0].startswith("[^1]: ")
    assert_footnotes_resolve(md)
    _, body = split_md(md)
    html = markdown.markdown(body, extensions=["footnotes", "fenced_code"])
    assert "<script" not in html and "<em>" not in html and "<strong>" not in html and "<code>" not in html
    assert 'href="http://evil"' not in html
    assert "fn:2" not in html
    to_html(md)


def test_long_quotes_are_shortened_to_one_line() -> None:
    q = "word " * 200
    md = render_markdown(note(body="x [1]", citations=[cite(1, quote=q)]), notebook_name="NB")
    (d,) = [line for line in md.splitlines() if line.startswith("[^1]: ")]
    quoted = d.split("\u201c", 1)[1].rsplit("\u201d", 1)[0]
    assert len(quoted) <= MAX_QUOTE_CHARS and quoted.endswith("\u2026") and "  " not in quoted


def test_code_links_and_existing_footnotes_are_left_alone() -> None:
    body = (
        "Claim [1] with my own aside[^1] and [^note].\n\n"
        "```python\nitems[1] = x  # [2]\n```\n\n"
        "~~~\n[1]\n~~~\n\n"
        "Inline `a[1]` and ``b [2] ` c``.\n\n"
        "A link [1](https://example.com) and an image ![2](pic.png) and escaped \\[1].\n\n"
        "Reference [see][3] and [3][] and [3] and [text][2].\n\n"
        "[3]: https://example.com/three\n\n"
        "[^1]: My own footnote.\n"
        "[^note]: Another.\n"
    )
    md = render_markdown(note(body=body, citations=[cite(1), cite(2), cite(3)], origin_kind="manual"),
                         notebook_name="NB")  # typed by the user: images stay (model text: tests/reliability)
    assert "Claim [^c1] with my own aside[^1] and [^note]." in md  # citation label moved aside
    assert "```python\nitems[1] = x  # [2]\n```" in md
    assert "~~~\n[1]\n~~~" in md
    assert "Inline `a[1]` and ``b [2] ` c``." in md
    assert "A link [1](https://example.com) and an image ![2](pic.png) and escaped \\[1]." in md
    assert "Reference [see][3] and [3][] and [3] and [text][^2]." in md  # [3] is a link label in this note
    assert "[^1]: My own footnote." in md and "[^c1]: Roses, p. 1" in md
    assert "[^3]:" not in md  # never referenced outside code
    assert_footnotes_resolve(md)
    to_html(md)
    model = render_markdown(note(body=body, citations=[cite(1), cite(2), cite(3)]), notebook_name="NB")
    assert "an image \\![2](pic.png)" in model  # model-written: a plain link, nothing a viewer fetches


def test_an_unclosed_code_block_does_not_swallow_the_footnotes() -> None:
    md = render_markdown(note(body="Claim [1].\n\n```\ncode [1]\n", citations=[cite(1)]), notebook_name="NB")
    assert "```\ncode [1]\n```\n" in md
    html = to_html(md)
    assert "fn:1" in html.ids


def test_combined_file_numbers_footnotes_uniquely() -> None:
    a = note(title="A", body="a [1] b [2] mine[^1]\n\n[^1]: own", citations=[cite(1), cite(2)], id="1" * 32)
    b = note(title="B", body="c [2] d [1] e [1] mine[^1]\n\n[^1]: own too", citations=[cite(1, "X"), cite(2, "Y")],
             id="2" * 32, tags=["Garden", "veg"])
    md = render_combined([a, b], notebook_name="Garden")
    data, rest = split_md(md)
    assert set(data) == {"title", "notebook", "tags", "exported", "notes", "sources"}
    assert data["notebook"] == "Garden" and data["notes"] == 2 and data["tags"] == ["garden", "veg"]
    assert data["sources"] == ["Roses", "X", "Y"]
    assert "a [^1] b [^2] mine[^n1-1]" in rest and "c [^3] d [^4] e [^4] mine[^n2-1]" in rest
    assert "[^n1-1]: own" in rest and "[^n2-1]: own too" in rest
    assert re.search(r"^\[\^3\]: Y, p\. 2", rest, flags=re.MULTILINE)
    assert rest.index("## A") < rest.index("## B")
    assert_footnotes_resolve(md)
    to_html(md)


def test_combined_file_across_notebooks() -> None:
    a, b = note(title="A", notebook_id="n1"), note(title="B", notebook_id="n2", id="b" * 32)
    data, rest = split_md(render_combined([a, b], notebook_name={"n1": "One", "n2": "Two: 2"}))
    assert data["notebook"] == ["One", "Two: 2"]
    assert "Notebook: Two: 2" in rest


# ---------------------------------------------------------------------------------------------
# File names


@pytest.mark.parametrize("title", [*HOSTILE, "a/../../etc/passwd", "..", ".hidden", "trailing. . .", "C:\\x",
                                   "\u202egnp.exe", "zero\u200bwidth", "CON", "con.txt", "Nul", "COM1", "lpt9 ",
                                   "AUX.md", "\U0001f339" * 50, "e\u0301" * 100, ""])
def test_safe_filename_is_safe_everywhere(title: str) -> None:
    name = safe_filename(title)
    assert name and name == name.strip() and not name.startswith((".", "-")) and not name.endswith(".")
    assert not set(name) & set('/\\:*?"<>|#^[]')
    assert not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in name)
    assert "\u202e" not in name and "\u200b" not in name
    assert len(name.encode("utf-8")) <= MAX_FILENAME_BYTES
    assert unicodedata.is_normalized("NFC", name)
    assert name.split(".")[0].strip().upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT9"}


def test_safe_filename_examples() -> None:
    assert safe_filename("Roses / Tulips: a guide?") == "Roses - Tulips - a guide"
    assert safe_filename("12:30 meeting") == "12-30 meeting"
    assert safe_filename("CON") == "_CON" and safe_filename("nul.txt") == "_nul.txt"
    assert safe_filename("...") == "untitled" and safe_filename("") == "untitled"
    assert safe_filename("\U0001f339 Roses") == "\U0001f339 Roses"
    assert safe_filename("cafe\u0301") == "caf\u00e9"


def test_long_names_are_cut_between_characters() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji of 5 code points, 18 bytes
    name = safe_filename(family * 20)
    assert len(name.encode()) <= MAX_FILENAME_BYTES and len(name) % 5 == 0 and name.startswith(family)
    flags = safe_filename("\U0001f1eb\U0001f1f7" * 40)
    assert len(flags) % 2 == 0 and len(flags.encode()) <= MAX_FILENAME_BYTES
    accents = safe_filename("e\u0301" * 100)  # NFC: one character each
    assert accents == "\u00e9" * 60
    no_nfc = safe_filename("q\u0307" * 100)  # no precomposed form: never split a letter from its mark
    assert not unicodedata.combining(no_nfc[0]) and len(no_nfc) % 2 == 0


# ---------------------------------------------------------------------------------------------
# Writing files


def test_export_to_a_folder_one_file_per_note(tmp_path: Path) -> None:
    notes = [note(title="Roses", id="1" * 32), note(title="Roses", id="2" * 32), note(title="roses", id="3" * 32),
             note(title="CON", id="4" * 32), note(title="a/b: c", id="5" * 32)]
    out = tmp_path / "export"
    written = export_notes(notes, out, notebook_name="Garden")
    assert [p.name for p in written] == ["Roses.md", "Roses (2).md", "roses (3).md", "_CON.md", "a-b - c.md"]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)  # no temp files left
    for n, p in zip(notes, written, strict=True):
        assert p.read_bytes() == render_markdown(n, notebook_name="Garden").encode("utf-8")


def test_export_never_overwrites_without_force(tmp_path: Path) -> None:
    out = tmp_path / "export"
    out.mkdir()
    existing = out / "Roses.md"
    existing.write_bytes(b"my precious edits\r\n\x00")
    notes = [note(title="Tulips", id="1" * 32), note(title="Roses", id="2" * 32)]
    with pytest.raises(ExportExists) as exc:
        export_notes(notes, out, notebook_name="Garden")
    assert isinstance(exc.value, NotebookError) and exc.value.paths == [existing]
    assert "Roses.md" in str(exc.value) and "Nothing was written" in str(exc.value)
    assert existing.read_bytes() == b"my precious edits\r\n\x00"
    assert sorted(p.name for p in out.iterdir()) == ["Roses.md"]  # Tulips.md not written either

    written = export_notes(notes, out, notebook_name="Garden", force=True)
    assert existing.read_text(encoding="utf-8").startswith("---\ntitle: \"Roses\"")
    assert sorted(p.name for p in out.iterdir()) == ["Roses.md", "Tulips.md"] and len(written) == 2


def test_single_file_export(tmp_path: Path) -> None:
    notes = [note(title="A", id="1" * 32), note(title="B", id="2" * 32)]
    (p,) = export_notes(notes, tmp_path / "sub" / "All.MD", notebook_name="Garden")
    assert p == tmp_path / "sub" / "All.MD"
    assert p.read_text(encoding="utf-8").count("\n## ") == 2
    (q,) = export_notes(notes, tmp_path / "combined", notebook_name="Garden", single_file=True)
    assert q == tmp_path / "combined.md" and q.is_file()
    (one,) = export_notes(notes[:1], tmp_path / "one.md", notebook_name="Garden")
    assert split_md(one.read_text(encoding="utf-8"))[0]["title"] == "A"  # a single note keeps its own format
    with pytest.raises(ExportExists):
        export_notes(notes, tmp_path / "sub" / "All.MD", notebook_name="Garden")
    (tmp_path / "dir.md").mkdir()
    assert export_notes(notes, tmp_path / "dir.md", notebook_name="Garden")[0].parent == tmp_path / "dir.md"


@pytest.mark.parametrize("target", ["a/../b", "../escape", "x/..", "a\\..\\b"])
def test_parent_steps_are_rejected(tmp_path: Path, target: str) -> None:
    with pytest.raises(ExportError, match=r"contains '\.\.'"):
        export_notes([note()], str(tmp_path) + "/" + target, notebook_name="NB")
    assert list(tmp_path.iterdir()) == []


def test_bad_destinations_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no notes"):
        export_notes([], tmp_path / "out", notebook_name="NB")
    f = tmp_path / "file.txt"
    f.write_text("x", encoding="utf-8")
    with pytest.raises(ExportError, match="is a file, not a folder"):
        export_notes([note()], f, notebook_name="NB")
    (tmp_path / "out" / "Roses.md").mkdir(parents=True)
    with pytest.raises(ExportError, match="a folder of that name exists"):
        export_notes([note()], tmp_path / "out", notebook_name="NB", force=True)


def _probe_writable(folder: Path) -> bool:
    try:
        (folder / ".probe").write_bytes(b"")
    except OSError:
        return False
    (folder / ".probe").unlink()
    return True


def test_read_only_folder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)  # 0o500
    try:
        if _probe_writable(ro):  # root: chmod does not stop it, so the OS's refusal is simulated
            real_open, real_mkdir = open, Path.mkdir

            def refuse(path: Any) -> None:
                if Path(path) == ro or ro in Path(path).parents:
                    raise PermissionError(13, "Permission denied", str(path))

            def fake_open(path: Any, *a: Any, **k: Any) -> Any:
                refuse(path)
                return real_open(path, *a, **k)

            def fake_mkdir(self: Path, *a: Any, **k: Any) -> None:
                if not self.exists():
                    refuse(self)
                real_mkdir(self, *a, **k)

            monkeypatch.setattr(note_export, "open", fake_open, raising=False)
            monkeypatch.setattr(Path, "mkdir", fake_mkdir)
        with pytest.raises(ExportError, match=re.escape(str(ro))):
            export_notes([note()], ro, notebook_name="NB")
        with pytest.raises(ExportError, match=re.escape(str(ro))):
            export_notes([note()], ro / "sub", notebook_name="NB")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_unwritable_destination_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    """Works as root too: nothing can create a folder inside a regular file."""
    f = tmp_path / "file.txt"
    f.write_text("x", encoding="utf-8")
    for target, single in ((f / "export", False), (f / "all.md", False), (f / "deeper" / "x", True)):
        with pytest.raises(ExportError, match=re.escape(str(f))) as exc:
            export_notes([note(), note(title="B", id="b" * 32)], target, notebook_name="NB", single_file=single)
        assert "Cannot create the folder" in str(exc.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"] and f.read_text(encoding="utf-8") == "x"


def test_a_failure_while_writing_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def failing_replace(src: Any, dst: Any) -> None:
        calls.append(dst)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(note_export.os, "replace", failing_replace)
    out = tmp_path / "new" / "folder"
    with pytest.raises(ExportError, match="No space left on device") as exc:
        export_notes([note(), note(title="B", id="b" * 32)], out, notebook_name="NB")
    assert "Roses.md" in str(exc.value) and calls
    assert list(tmp_path.iterdir()) == []  # temp files removed, and the folders this export created


def test_written_files_have_normal_permissions(tmp_path: Path) -> None:
    (p,) = export_notes([note()], tmp_path, notebook_name="NB")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask
