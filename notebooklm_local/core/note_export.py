"""Notes as Markdown files: YAML front matter and footnote citations (Obsidian, Pandoc and GitHub style).

``render_markdown`` turns a note into text: front matter (quoted YAML strings, so any title is safe),
``# Title``, the body with its ``[n]`` citation markers as footnote references ``[^n]`` and one
footnote definition per cited passage (source, page or timestamp, the quote, a link). Fenced code,
inline code, links and the body's own footnotes are left as they are. ``export_notes`` writes one file
per note, or one combined file, and never overwrites anything unless told to: it checks every
destination first, writes temporary files next to them and renames those into place at the end.

Pure Python (no YAML or Markdown library at run time).
"""

from __future__ import annotations

import os
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from notebooklm_local.core.citations import format_location, parse_markers
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.notes import Note

__all__ = [
    "ExportError",
    "ExportExists",
    "render_markdown",
    "render_combined",
    "safe_filename",
    "export_notes",
    "youtube_at",
    "yaml_quote",
    "MAX_FILENAME_BYTES",
    "MAX_QUOTE_CHARS",
    "neutralise_html",
    "is_model_written",
    "safe_for_export",
]

MAX_FILENAME_BYTES = 120  # the name without ".md"; leaves room for " (12).md" under every FS's 255-byte limit
MAX_QUOTE_CHARS = 300


class ExportError(NotebookError):
    """Notes could not be exported (bad destination, no permission, disk full)."""


class ExportExists(ExportError):  # reads as the condition, like FileExists
    """Export destinations exist already and overwriting was not asked for. Nothing was written."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        shown = ", ".join(str(p) for p in self.paths[:5])
        more = f" and {len(self.paths) - 5} more" if len(self.paths) > 5 else ""
        noun = "file exists" if len(self.paths) == 1 else "files exist"
        super().__init__(f"Not overwriting: {len(self.paths)} {noun} already ({shown}{more}). Nothing was written.")


# ---------------------------------------------------------------------------------------------
# Text helpers


def _clean(text: str) -> str:
    """Valid UTF-8 text: lone surrogates become U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _one_line(text: str) -> str:
    t = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in _clean(str(text)))
    return " ".join(t.split())


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[int(limit * 0.7) :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-\u2014") + "\u2026"


_YAML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0"}


def yaml_quote(value: str) -> str:
    """A YAML double-quoted scalar for any string (escapes quotes, backslashes, control and odd characters)."""
    out = ['"']
    for ch in _clean(value):
        o = ord(ch)
        if ch in _YAML_ESCAPES:
            out.append(_YAML_ESCAPES[ch])
        elif o < 0x20 or 0x7F <= o <= 0x9F or o in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF):
            out.append(f"\\x{o:02x}" if o <= 0xFF else f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _front_matter(fields: Sequence[tuple[str, Any]]) -> str:
    lines = ["---"]
    for key, value in fields:
        if isinstance(value, (list, tuple)):
            lines += [f"{key}: []"] if not value else [f"{key}:", *(f"  - {yaml_quote(str(v))}" for v in value)]
        elif isinstance(value, datetime):
            lines.append(f"{key}: {value.isoformat(timespec='seconds')}")
        elif isinstance(value, int) and not isinstance(value, bool):
            lines.append(f"{key}: {value}")
        else:
            lines.append(f"{key}: {yaml_quote(str(value))}")
    lines.append("---")
    return "\n".join(lines)


def _when(ts: float) -> datetime:
    """A timestamp as local time with its UTC offset (YAML reads it as a timestamp; Obsidian as a date)."""
    return datetime.fromtimestamp(ts, UTC).astimezone()


_ENTITY = re.compile(r"&(?=#?\w+;)")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def _escape_inline(text: str) -> str:
    """Plain text that Markdown renderers show as is, inside one line (no emphasis, links, code, HTML, math)."""
    t = re.sub(r"([\\`*_\[\]$~#|])", r"\\\1", text)
    t = _ENTITY.sub("&amp;", t)  # entities rather than \< and \&: every renderer (Python-Markdown too) reads them
    t = _TAG_START.sub("&lt;", t)
    return t.replace("==", "\\=\\=")


# ---------------------------------------------------------------------------------------------
# Links

_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be",
                  "www.youtube-nocookie.com", "youtube-nocookie.com"}


def youtube_at(url: str, t_start: float | None) -> str:
    """A YouTube URL that starts playing at ``t_start`` seconds (``&t=123s``); other URLs unchanged."""
    if t_start is None:
        return url
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return url
    if host not in _YOUTUBE_HOSTS:
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("t", "start")]
    query.append(("t", f"{max(0, int(t_start))}s"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _autolink(url: Any, t_start: Any) -> str:
    """``<url>`` for an http(s) URL, percent-encoding what an autolink cannot hold; '' otherwise."""
    if not isinstance(url, str) or not re.match(r"(?i)https?://\S", url.strip()):
        return ""
    t = t_start if isinstance(t_start, (int, float)) and not isinstance(t_start, bool) else None
    safe = quote(youtube_at(_clean(url.strip()), t), safe=":/?#[]@!$&'()*+,;=%-._~")
    return f"<{safe}>"


# ---------------------------------------------------------------------------------------------
# Body: code regions, citation markers, footnotes

_FENCE = re.compile(r"^(?P<prefix>[ \t>]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_FENCE_CLOSE = re.compile(r"^[ \t>]*(?P<fence>`{3,}|~{3,})[ \t]*$")
_CODE_SPAN = re.compile(r"(?<![`\\])(?P<ticks>`+)(?!`)(?:[^\n]|\n(?![ \t]*\n))+?(?<!`)(?P=ticks)(?!`)")
_FOOTNOTE = re.compile(r"\[\^([^\]\s]+)\]")
_LINK_DEF = re.compile(r"^ {0,3}\[([^\]\n]+)\]:", re.MULTILINE)


def _segments(body: str) -> tuple[list[tuple[bool, str]], str]:
    """Split Markdown into (is_code, text) pieces: fenced blocks and inline code spans are code.

    Returns the pieces and the closing fence an unclosed block needs ('' when none), so that what
    follows the body is not swallowed by it.
    """
    pieces: list[tuple[bool, str]] = []
    prose: list[str] = []
    code: list[str] = []
    fence: tuple[str, int, str] | None = None  # (char, length, prefix) of the open block

    def flush_prose() -> None:
        if prose:
            text = "".join(prose)
            last = 0
            for m in _CODE_SPAN.finditer(text):
                pieces.append((False, text[last : m.start()]))
                pieces.append((True, m.group()))
                last = m.end()
            pieces.append((False, text[last:]))
            prose.clear()

    for line in body.splitlines(keepends=True):
        bare = line.rstrip("\n")
        if fence is None:
            m = _FENCE.match(bare)
            if m and not (m["fence"][0] == "`" and "`" in m["info"]):
                flush_prose()
                fence = (m["fence"][0], len(m["fence"]), m["prefix"])
                code.append(line)
            else:
                prose.append(line)
        else:
            code.append(line)
            c = _FENCE_CLOSE.match(bare)
            if c and c["fence"][0] == fence[0] and len(c["fence"]) >= fence[1]:
                pieces.append((True, "".join(code)))
                code.clear()
                fence = None
    flush_prose()
    closer = ""
    if code:
        pieces.append((True, "".join(code)))
    if fence is not None:
        closer = fence[2] + fence[0] * fence[1]
    return [p for p in pieces if p[1]], closer


# ---------------------------------------------------------------------------------------------
# Model-written text: no HTML, no remote images
#
# A web page can steer the model into writing ``<img src=https://tracker/... onerror=...>`` or
# ``![](https://tracker/pixel.png)``; Obsidian and most Markdown viewers would render it and fetch the
# URL. The app escapes everything; exports of model-written notes neutralise it: tags and comments
# become text (``&lt;``), images become plain links, script URLs lose their scheme. Code spans and
# fenced blocks are shown as code anyway and stay as they are. The user's own notes are left as typed.

_IMAGE = re.compile(r"(?<!\\)!(?=\[)")
_SCRIPT_LINK = re.compile(r"\]\(\s*<?\s*(?:javascript|vbscript|data|file):", re.IGNORECASE)


def _neutralise_prose(text: str) -> str:
    t = _TAG_START.sub("&lt;", text)
    t = _IMAGE.sub(r"\\!", t)
    return _SCRIPT_LINK.sub("](#blocked-link:", t)


def neutralise_html(markdown: str) -> str:
    """Markdown with raw HTML, images and script links made inert, outside code (idempotent)."""
    pieces, _closer = _segments(_clean(markdown))
    return "".join(t if is_code else _neutralise_prose(t) for is_code, t in pieces)


def is_model_written(note: Note) -> bool:
    """Whether a note's body came from a model (chat answers, studio outputs), not typed by the user."""
    return (note.origin_kind or "manual") != "manual"


def safe_for_export(notes: Iterable[Note]) -> list[Note]:
    """The notes as every exporter (plugins' too) receives them: model-written bodies neutralised."""
    import dataclasses

    return [dataclasses.replace(n, body=neutralise_html(n.body)) if is_model_written(n) else n for n in notes]


@dataclass
class _BodyResult:
    text: str
    used: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (label, citation) in order of use


def _citations_by_id(citations: Iterable[Any]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for c in citations:
        if not isinstance(c, Mapping):
            continue
        try:
            pid = int(c.get("passage_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        out.setdefault(pid, dict(c))
    return out


def _convert_body(
    body: str, cites: dict[int, dict[str, Any]], label_for: Callable[[int, set[str]], str],
    rename: Callable[[str], str] | None = None, *, neutralise: bool = False,
) -> _BodyResult:
    """Citation markers -> footnote references, outside code; the body's own footnotes kept (or renamed).

    ``neutralise``: the body is model-written; raw HTML, images and script links are made inert.
    """
    body = _clean(body).replace("\r\n", "\n").replace("\r", "\n")
    pieces, closer = _segments(body)
    if neutralise:
        pieces = [(is_code, t if is_code else _neutralise_prose(t)) for is_code, t in pieces]
    taken = {m.group(1) for is_code, t in pieces if not is_code for m in _FOOTNOTE.finditer(t)}
    link_labels = {" ".join(m.group(1).split()).casefold() for m in _LINK_DEF.finditer(
        "".join(t for is_code, t in pieces if not is_code))}
    result = _BodyResult("")
    labels: dict[int, str] = {}

    def ref(pid: int) -> str:
        if pid not in labels:
            labels[pid] = label_for(pid, taken)
            taken.add(labels[pid])
            result.used.append((labels[pid], cites[pid]))
        return f"[^{labels[pid]}]"

    out: list[str] = []
    for is_code, text in pieces:
        if is_code:
            out.append(text)
            continue
        if rename is not None:
            text = _FOOTNOTE.sub(lambda m: f"[^{rename(m.group(1))}]", text)
        markers = parse_markers(text)
        starts = {a for a, _, _ in markers}
        last = 0
        for a, b, ids in markers:
            inner = " ".join(text[a + 1 : b - 1].split()).casefold()
            after = text[b : b + 1]
            if (
                (a > 0 and text[a - 1] in "\\!")  # escaped, or an image
                or after == "("  # an inline link [1](url)
                or (after == "[" and b not in starts)  # a reference link [1][ref]
                or inner in link_labels  # [1] is the label of a link definition in the body
            ):
                continue
            wanted = list(dict.fromkeys(ids))
            cited = [i for i in wanted if i in cites]
            if not cited:
                continue  # no citation with that number: left as plain text
            rest = [i for i in wanted if i not in cites]
            out.append(text[last:a] + "".join(ref(i) for i in cited)
                       + (f"[{', '.join(map(str, rest))}]" if rest else ""))
            last = b
        out.append(text[last:])
    text = "".join(out)
    if closer:
        text = text.rstrip("\n") + "\n" + closer + "\n"
    result.text = text
    return result


def _definition(label: str, c: Mapping[str, Any]) -> str:
    title = _shorten(_one_line(str(c.get("source_title") or "")) or "Source", 200)
    loc = c.get("location") or ""
    if not loc:
        page, t = c.get("page"), c.get("t_start")
        loc = format_location(page if isinstance(page, int) else None, None,
                              t if isinstance(t, (int, float)) and not isinstance(t, bool) else None)
    text = _escape_inline(title) + (f", {_escape_inline(_one_line(str(loc)))}" if loc else "")
    q = _shorten(_one_line(str(c.get("quote") or "")), MAX_QUOTE_CHARS)
    if q:
        text += f" \u2014 \u201c{_escape_inline(q)}\u201d"
    link = _autolink(c.get("url"), c.get("t_start"))
    if link:
        text += f" {link}"
    return f"[^{label}]: {text}"


def _sources(notes: Iterable[Note]) -> list[str]:
    titles: dict[str, None] = {}
    for n in notes:
        for c in n.citations:
            if isinstance(c, Mapping):
                t = _one_line(str(c.get("source_title") or ""))
                if t:
                    titles.setdefault(t)
    return list(titles)


def _heading(title: str) -> str:
    return _escape_inline(_one_line(title)) or "Untitled note"


def _single_label(pid: int, taken: set[str]) -> str:
    """``[n]`` -> ``[^n]``, unless the body already uses that label for a footnote of its own."""
    label, k = str(pid), 1
    while label in taken:
        label = f"c{pid}" if k == 1 else f"c{pid}-{k}"
        k += 1
    return label


# ---------------------------------------------------------------------------------------------
# Rendering


def _provenance_fields(prov: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Front-matter fields saying how a studio output was made: model, quantization, templates, when."""
    if not prov:
        return []
    out: list[tuple[str, Any]] = [("model", _one_line(str(prov.get("model", ""))))]
    if prov.get("quantization"):
        out.append(("quantization", _one_line(str(prov["quantization"]))))
    for key in ("temperature", "n_ctx", "seed"):
        if prov.get(key) is not None:
            out.append((key, str(prov[key])))
    tpls = [f"{t.get('name', '')} ({t.get('origin', '')}) {t.get('sha256', '')}" for t in prov.get("templates", [])
            if isinstance(t, Mapping)]
    if tpls:
        out.append(("templates", [_one_line(t) for t in tpls]))
    if isinstance(prov.get("created"), (int, float)):
        out.append(("generated", _when(float(prov["created"]))))
    return out


def render_markdown(note: Note, *, notebook_name: str) -> str:
    """One note as a Markdown document with YAML front matter and footnote citations."""
    cites = _citations_by_id(note.citations)
    body = _convert_body(note.body, cites, _single_label, neutralise=is_model_written(note))
    fm = _front_matter([
        ("title", _one_line(note.title) or "Untitled note"),
        ("notebook", _one_line(notebook_name)),
        ("tags", [_one_line(t) for t in note.tags]),
        ("created", _when(note.created)),
        ("updated", _when(note.updated)),
        ("origin", _one_line(note.origin_kind) or "manual"),
        ("sources", _sources([note])),
        *_provenance_fields(note.provenance),
    ])
    parts = [fm, "", f"# {_heading(note.title)}", ""]
    if body.text.strip():
        parts += [body.text.strip("\n"), ""]
    if body.used:
        parts += [_definition(label, c) for label, c in body.used]
    return "\n".join(parts).rstrip("\n") + "\n"


def render_combined(notes: Sequence[Note], *, notebook_name: str | Mapping[str, str]) -> str:
    """Several notes in one document: notebook front matter, one section per note, footnotes numbered
    uniquely across the file (the bodies' own footnotes are renamed per note so they cannot clash)."""
    names = _names(notebook_name)
    nb_names = list(dict.fromkeys(names(n) for n in notes))
    nb_title = nb_names[0] if len(nb_names) == 1 else "Notes"
    counter = iter(range(1, 1_000_000))
    tags: dict[str, str] = {}
    for n in notes:
        for t in n.tags:
            tags.setdefault(t.casefold(), _one_line(t))
    fm = _front_matter([
        ("title", f"{nb_title} \u2014 notes"),
        ("notebook", nb_title if len(nb_names) == 1 else nb_names),
        ("tags", list(tags.values())),
        ("exported", _when(time.time())),
        ("notes", len(notes)),
        ("sources", _sources(notes)),
    ])
    parts = [fm, "", f"# {_heading(nb_title)}", ""]
    definitions: list[str] = []
    for i, n in enumerate(notes, 1):
        body = _convert_body(n.body, _citations_by_id(n.citations), lambda _pid, _taken: str(next(counter)),
                             rename=_renamer(i), neutralise=is_model_written(n))
        parts += [f"## {_heading(n.title)}", ""]
        meta = [f"Updated {_when(n.updated).strftime('%Y-%m-%d %H:%M')}"]
        if n.tags:
            meta.append("Tags: " + ", ".join(_escape_inline(_one_line(t)) for t in n.tags))
        if len(nb_names) > 1:
            meta.append(f"Notebook: {_escape_inline(_one_line(names(n)))}")
        parts += [" \u00b7 ".join(meta), ""]
        if body.text.strip():
            parts += [body.text.strip("\n"), ""]
        definitions += [_definition(label, c) for label, c in body.used]
    parts += definitions
    return "\n".join(parts).rstrip("\n") + "\n"


def _renamer(i: int) -> Callable[[str], str]:
    return lambda label: f"n{i}-{label}"


def _names(notebook_name: str | Mapping[str, str]) -> Callable[[Note], str]:
    if isinstance(notebook_name, str):
        return lambda _n: notebook_name
    return lambda n: notebook_name.get(n.notebook_id, n.notebook_id)


# ---------------------------------------------------------------------------------------------
# File names

_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$",
             *(f"{d}{i}" for d in ("COM", "LPT") for i in "0123456789\u00b9\u00b2\u00b3")}
# Windows forbids / \ : * ? " < > |; Obsidian's [[links]] also break on # ^ [ ]
_REPLACE = str.maketrans({"/": "-", "\\": "-", "*": "-", "?": "", '"': "'", "<": "(", ">": ")",
                          "|": "-", "[": "(", "]": ")", "#": "", "^": ""})


def _keep(ch: str) -> str:
    cat = unicodedata.category(ch)
    if cat in ("Cc", "Zl", "Zp", "Zs"):
        return " "
    if cat == "Cs" or (cat == "Cf" and ch != "\u200d" and not 0xE0020 <= ord(ch) <= 0xE007F):
        return ""  # bidi overrides, zero-width spaces: invisible, and used to disguise names
    return ch


def _extends(ch: str) -> bool:
    """``ch`` belongs to the character before it (combining marks, ZWJ, variation selectors, skin tones)."""
    o = ord(ch)
    return (unicodedata.category(ch) in ("Mn", "Me", "Mc") or ch == "\u200d" or 0xFE00 <= o <= 0xFE0F
            or 0x1F3FB <= o <= 0x1F3FF or 0xE0020 <= o <= 0xE007F)


def _truncate_utf8(text: str, limit: int) -> str:
    if len(text.encode("utf-8")) <= limit:
        return text
    size = cut = 0
    for i, ch in enumerate(text):
        size += len(ch.encode("utf-8"))
        if size > limit:
            break
        cut = i + 1
    while cut > 0 and (_extends(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1  # never split an accented letter or an emoji sequence
    run = 0
    while run < cut and 0x1F1E6 <= ord(text[cut - 1 - run]) <= 0x1F1FF:
        run += 1
    if run % 2:
        cut -= 1  # flags are pairs of regional indicators
    return text[:cut]


def safe_filename(title: str, *, max_bytes: int = MAX_FILENAME_BYTES) -> str:
    """A file name (without extension) that is valid on Windows, macOS and Linux and in Obsidian links.

    NFC, no path separators or reserved characters, no control or invisible formatting characters,
    no leading dots or dashes, no trailing dots or spaces, not a Windows device name (CON, NUL,
    COM1...), at most ``max_bytes`` UTF-8 bytes without splitting a character; emoji are kept.
    """
    t = unicodedata.normalize("NFC", _clean(str(title)))
    t = re.sub(r"\s*:\s+", " - ", "".join(_keep(c) for c in t)).replace(":", "-").translate(_REPLACE)
    t = " ".join(t.split())
    t = re.sub(r"-(?:\s*-)+", "-", t).lstrip(" .-").rstrip(" .")
    t = _truncate_utf8(t, max_bytes).rstrip(" .")
    if not t:
        return "untitled"
    if t.split(".")[0].rstrip(" ").upper() in _RESERVED:
        t = "_" + t
    return t


# ---------------------------------------------------------------------------------------------
# Writing files


def _check_target(target: str | os.PathLike[str]) -> Path:
    raw = os.fspath(target)
    if not str(raw).strip():
        raise ExportError("No export destination given.")
    if ".." in re.split(r"[\\/]", str(raw)):
        raise ExportError(f"The export destination {raw} contains '..'; give a path without parent-folder steps.")
    return Path(raw).expanduser()


def _unique_names(notes: Sequence[Note]) -> list[str]:
    used: set[str] = set()
    out = []
    for n in notes:
        stem = safe_filename(n.title)
        name, k = stem, 2
        while name.casefold() in used:  # case-insensitive: Windows and macOS file systems
            name, k = f"{stem} ({k})", k + 1
        used.add(name.casefold())
        out.append(name + ".md")
    return out


def export_notes(
    notes: Iterable[Note], target: str | os.PathLike[str], *, notebook_name: str | Mapping[str, str],
    force: bool = False, single_file: bool = False,
) -> list[Path]:
    """Write notes as Markdown: one file per note into the folder ``target``, or, with ``single_file`` or
    a ``target`` ending in ``.md``, all of them into that one file.

    Args:
        notebook_name: the notebook's name, or a mapping notebook id -> name for notes of several notebooks.
        force: replace existing files (otherwise nothing is written when one exists).

    Returns:
        The files written, in the order of ``notes``.

    Raises:
        ExportExists: a destination file exists and ``force`` is false (nothing was written).
        ExportError: the destination contains '..', is not a folder, or cannot be written.
    """
    notes = list(notes)
    if not notes:
        raise ExportError("There are no notes to export.")
    dest = _check_target(target)
    names = _names(notebook_name)
    files: dict[Path, str] = {}
    if single_file or (dest.suffix.lower() == ".md" and not dest.is_dir()):
        if dest.suffix.lower() != ".md":
            dest = dest.with_name(dest.name + ".md")
        if len(notes) == 1:  # one note keeps its own front matter
            files[dest] = render_markdown(notes[0], notebook_name=names(notes[0]))
        else:
            files[dest] = render_combined(notes, notebook_name=notebook_name)
    else:
        if dest.exists() and not dest.is_dir():
            raise ExportError(f"Cannot export into {dest}: it is a file, not a folder.")
        for n, name in zip(notes, _unique_names(notes), strict=True):
            files[dest / name] = render_markdown(n, notebook_name=names(n))
    _write_all(files, force=force)
    return list(files)


def _write_all(files: Mapping[Path, str], *, force: bool) -> None:
    folders = [p for p in files if p.is_dir()]
    if folders:
        raise ExportError(f"Cannot write {folders[0]}: a folder of that name exists.")
    existing = [p for p in files if p.exists() or p.is_symlink()]
    if existing and not force:
        raise ExportExists(existing)
    created: list[Path] = []
    temps: list[Path] = []
    action = "write the export"
    try:
        for parent in dict.fromkeys(p.parent for p in files):
            action = f"create the folder {parent}"
            missing = [d for d in (parent, *parent.parents) if not d.exists()]
            parent.mkdir(parents=True, exist_ok=True)
            created += missing
        for path, text in files.items():
            action = f"write {path}"
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
            with open(tmp, "xb") as f:  # normal permissions (umask), unlike mkstemp's 0600
                temps.append(tmp)
                f.write(text.encode("utf-8"))
        if not force:  # something may have appeared while we were writing
            late = [p for p in files if p.exists() or p.is_symlink()]
            if late:
                raise ExportExists(late)
        for tmp, path in zip(temps, files, strict=True):
            action = f"write {path}"
            os.replace(tmp, path)
    except BaseException as e:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        for d in created:  # deepest first: only the folders this export made, and only when still empty
            try:
                d.rmdir()
            except OSError:
                break
        if isinstance(e, OSError):
            raise ExportError(f"Cannot {action}: {e.strerror or e}.") from e
        raise
