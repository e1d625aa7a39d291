"""Make a PDF page's extracted text searchable: ligatures, glyph names, missing spaces, real titles.

Everything here works on plain strings so that it can run before the page text becomes blocks: the
stored text is built from the cleaned text, so chunk and citation spans stay exact against it.

- :func:`clean_page_text` expands the Latin ligatures U+FB00–FB06 (NFKC on those characters only),
  maps leaked glyph names ("/zero.alt", "/f_f_i") to characters and removes PDFium's line-break marks.
- :func:`looks_glued` / :func:`better_spaced` detect pages whose words lost their spaces (words
  positioned by the PDF, not separated by space glyphs) and choose a re-extraction that has them.
- :func:`is_junk_title` rejects placeholder and file-name-like metadata titles; :func:`title_from_fragments`
  picks the largest-font line(s) near the top of page 1.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "clean_page_text",
    "looks_glued",
    "better_spaced",
    "is_junk_title",
    "is_placeholder_title",
    "title_from_fragments",
    "TextFragment",
    "glued_share",
]

# U+FB00..FB06: ff fi fl ffi ffl ſt st -> their NFKC letters (only these: NFKC on the whole text would also
# fold superscripts, fractions, full-width forms and more that the text legitimately contains).
_LIGATURES = {cp: unicodedata.normalize("NFKC", chr(cp)) for cp in range(0xFB00, 0xFB07)}
# PDFium marks a hyphen that ends a line with U+0002 (or U+FFFE); make it a hyphen so the line join undoes it.
_PDFIUM_MARKS = {0x02: "-", 0xFFFE: "-"}
_TRANSLATE = {**_LIGATURES, **_PDFIUM_MARKS}

# Glyph-name suffixes fonts use for variants (OpenType feature tags and common foundry suffixes).
_SUFFIXES = (
    "taboldstyle|oldstyle|tosf|osf|lining|tlf|lf|tnum|pnum|tab|alt|salt|sc|smcp|c2sc|swash|swsh|sups|sinf|subs|"
    "numr|dnom|case|cap|ss\\d\\d|cv\\d\\d|fitted|ital|init|fina|medi|isol|short|long|narrow|wide|ts1|hist|dlig|"
    "liga|ornm|superior|inferior|numerator|denominator|small|big|var|t1|ot1"
)
# "/f_f_i", "/T_h": a ligature of single letters; "/zero.alt", "/a.sc.ss01": a named glyph with a variant suffix.
_GLYPH_NAME = re.compile(
    rf"/(?:([A-Za-z](?:_[A-Za-z])+)|([A-Za-z][A-Za-z0-9]*)(?=\.))((?:\.(?:{_SUFFIXES})\d{{0,2}})*)"
)


def _agl() -> dict[str, str]:
    try:
        from pypdf._codecs import adobe_glyphs  # the Adobe Glyph List pypdf already ships

        return dict(adobe_glyphs)
    except Exception:  # noqa: BLE001 - a private pypdf module: fall back to the digits and letters
        names = "zero one two three four five six seven eight nine".split()
        table = {f"/{n}": str(i) for i, n in enumerate(names)}
        table.update({f"/{c}": c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"})
        return table


_AGL: dict[str, str] | None = None


def _glyph_to_text(name: str) -> str | None:
    global _AGL
    if _AGL is None:
        _AGL = _agl()
    hit = _AGL.get("/" + name)
    if hit is not None:
        return "".join(_LIGATURES.get(ord(c), c) for c in hit)
    m = re.fullmatch(r"uni((?:[0-9A-F]{4})+)|u([0-9A-F]{4,6})", name)
    if m:
        hexes = m.group(1) or m.group(2)
        step = 4 if m.group(1) else len(hexes)
        try:
            return "".join(chr(int(hexes[i : i + step], 16)) for i in range(0, len(hexes), step))
        except ValueError:
            return None
    return None


def _map_glyph_name(m: re.Match[str]) -> str:
    ligature, named, suffix = m.group(1), m.group(2), m.group(3)
    if named is not None and not suffix:
        return m.group(0)  # "/a.out", "/etc.d": a dotted word that is not a known variant suffix
    out = [_glyph_to_text(p) for p in (ligature.split("_") if ligature else [named])]
    if any(o is None for o in out):
        return m.group(0)
    return "".join(o for o in out if o)


# TeX's OT1 fonts put the ligatures ff fi fl ffi ffl at codes 11-15; without a ToUnicode map pypdf
# returns those control codes ("Identi\x0ccation"), which text normalization would then delete.
# \x0c and \x0d are also form feed and carriage return: only taken for fi/fl right before a lower-case letter.
_OT1_LIGATURE = re.compile(r"(?<=[^\W\d_])[\x0b\x0e\x0f]|[\x0b\x0e\x0f](?=[^\W\d_])|[\x0c\x0d](?=[a-z\u00df-\u00ff])")
_OT1 = {"\x0b": "ff", "\x0c": "fi", "\x0d": "fl", "\x0e": "ffi", "\x0f": "ffl"}


def clean_page_text(text: str) -> str:
    """Ligatures expanded (Unicode U+FB00-FB06 and TeX OT1 codes), leaked glyph names mapped, PDFium's
    hyphen marks and CRLFs normalized."""
    text = _OT1_LIGATURE.sub(lambda m: _OT1[m.group()], text.replace("\r\n", "\n"))
    text = text.replace("\r", "\n").translate(_TRANSLATE)
    if "/" in text:
        text = _GLYPH_NAME.sub(_map_glyph_name, text)
    return text


# -- missing spaces ---------------------------------------------------------------------------------------

def _word_stats(text: str) -> tuple[int, int]:
    """(tokens that contain letters, letters) of a text."""
    tokens = [t for t in text.split() if any(c.isalpha() for c in t)]
    return len(tokens), sum(c.isalpha() for c in text)


def looks_glued(text: str, *, min_letters: int = 40, mean_len: float = 7.0) -> bool:
    """Whether a page's text may have lost its inter-word spaces (long runs of letters).

    Prose has about 5-6 characters per token; a glued page has whole lines as one token. Code-heavy
    pages also score high, so this only decides whether to try a second extractor: :func:`better_spaced`
    decides whether its text is really better.
    """
    tokens, letters = _word_stats(text)
    if letters < min_letters or tokens == 0:
        return False
    return letters / tokens > mean_len


def better_spaced(current: str, candidate: str) -> bool:
    """Whether ``candidate`` is the same text as ``current`` with clearly more word boundaries."""
    t_a, l_a = _word_stats(current)
    t_b, l_b = _word_stats(candidate)
    if l_a == 0:
        return l_b > 0
    same_text = 0.9 * l_a <= l_b <= 1.15 * l_a
    return same_text and t_b >= 1.2 * t_a


def glued_share(text: str, vocabulary: set[str] | None = None, *, min_len: int = 16) -> float:
    """Share of letters in suspiciously long letter runs (a measure for benches; 0 for empty text).

    With a reference ``vocabulary`` (e.g. pdftotext's words), a long run counts only when it is not a
    word of the reference (identifiers like ``\\babeladjust`` are real words there).
    """
    runs = re.findall(r"[^\W\d_]+", text)
    total = sum(map(len, runs))
    if not total:
        return 0.0
    long = [r for r in runs if len(r) >= min_len and (vocabulary is None or r.lower() not in vocabulary)]
    return sum(map(len, long)) / total


# -- titles -----------------------------------------------------------------------------------------------

_JUNK_TITLE = re.compile(
    r"""^(?:
        untitled(?:\s+(?:document|page))?(?:[\s_-]*\d+)? | no\s+title(?:\s+given)? | title | document\d* | doc\d* | new\s+document |
        microsoft\s+word\s*-.* | microsoft\s+powerpoint\s*-.* | slide\s*\d* | page\s*\d* | print | pdf | none | null |
        unknown | \(?anonymous\)? | template | draft | blank | \W*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
_FILE_LIKE = re.compile(
    r"(?:^|[\\/])[^\s\\/]*\.(?:dvi|tex|ltx|pdf|ps|eps|doc|docx|odt|rtf|wpd|indd|qxd|qxp|pm\d?|fm|txt|html?|xml|"
    r"ppt|pptx|xls|xlsx|cdr|ai|pages|key|dot|dotx|sxw|svg|jpg|png|tif|tiff)\)?$",
    re.IGNORECASE,
)
_JOURNAL_HEADER = re.compile(
    r"\b(?:vol(?:ume)?\.?\s*\d+|no\.\s*\d+|pp\.\s*\d+|issn\b|isbn\b|doi:|copyright\b|©|\(\d{4}\)\s*\d+|\d+\s*[-–]\s*\d+\s*\(\d{4}\))",
    re.IGNORECASE,
)


def is_junk_title(title: str, file_name: str = "") -> bool:
    """A metadata title not worth showing: placeholder, a file name, a journal header or the file's stem."""
    t = " ".join(title.split())
    if len(t) < 3 or sum(c.isalpha() for c in t) < 2:
        return True
    if _JUNK_TITLE.match(t) or _FILE_LIKE.search(t):
        return True
    if _JOURNAL_HEADER.search(t):
        return True
    if file_name:
        stem = Path(file_name).stem
        norm = re.sub(r"[\W_]+", "", t).lower()
        if norm and norm == re.sub(r"[\W_]+", "", stem).lower():
            return True
    # identifiers like "ms2019-04_final" or "paper_v3": no space and an underscore or digit run
    return " " not in t and bool(re.search(r"_|\d{3,}", t))


class TextFragment(NamedTuple):
    """A piece of text drawn on a page: effective font size in points, baseline y from the page's top."""

    text: str
    size: float
    y: float


_SECTION_NUMBER = re.compile(r"^\d{1,2}(?:\.\d{1,2})*\.?\s+(?=[A-Z])")  # "1 The English language"


def is_placeholder_title(title: str) -> bool:
    """A title that names nothing: "Untitled", "Document1", "index.html", "Microsoft Word - x.docx", ...

    (:func:`is_junk_title` also rejects journal headers and identifiers; for PDFs.)"""
    t = " ".join(title.split())
    return len(t) < 2 or not any(c.isalnum() for c in t) or bool(_JUNK_TITLE.match(t) or _FILE_LIKE.search(t))


def title_from_fragments(fragments: Sequence[TextFragment], page_height: float) -> str:
    """The largest-font line(s) in the top half of a page, when that font clearly stands out.

    The title must be set at least 15 % larger than the page's body text (the size carrying most of
    its letters), have a few letters, and its lines must follow each other (a second title line).
    """
    frags = [f for f in fragments if f.text.strip() and f.size > 0]
    if not frags:
        return ""
    weight: dict[float, int] = {}
    for f in frags:
        key = round(f.size, 1)
        weight[key] = weight.get(key, 0) + sum(c.isalpha() for c in f.text)
    body = max(weight, key=lambda k: weight[k])
    top = [f for f in frags if f.y <= page_height * 0.55]
    if not top:
        return ""
    biggest = max(f.size for f in top)
    if biggest < body * 1.15:
        return ""
    chosen = sorted((f for f in top if f.size >= biggest * 0.9), key=lambda f: f.y)
    lines: list[str] = []
    last_y: float | None = None
    for f in chosen:
        if last_y is not None and f.y - last_y > biggest * 2.2:
            break  # another big-font element further down (a section heading), not the title's next line
        if last_y is not None and abs(f.y - last_y) < biggest * 0.3 and lines:
            lines[-1] = f"{lines[-1]} {f.text.strip()}"
        else:
            lines.append(f.text.strip())
        last_y = f.y
    title = " ".join(" ".join(lines).split())
    title = _SECTION_NUMBER.sub("", clean_page_text(title))
    if sum(c.isalpha() for c in title) < 4 or len(title) > 300:
        return ""
    return title
