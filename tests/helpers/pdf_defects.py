"""Small generated PDFs that reproduce, each, a defect seen in real-world PDFs (issue 18).

- :func:`glued_words_pdf`: words positioned by TJ offsets with no space glyphs, in a font whose space
  glyph is much wider than the gaps (as LuaTeX/Type0 fonts often are): pypdf glues the words.
- :func:`ligature_pdf`: text drawn with the ligature characters U+FB00–FB06.
- :func:`glyph_name_pdf`: a font whose /Differences use glyph names outside the Adobe Glyph List
  ("/zero.alt", "/f_f_i"): pypdf leaks the names into the text.
- :func:`titled_pdf`: a large-font title on page 1 and any metadata title (junk ones included).
- :func:`scanned_pdf`: pages that are only an image of rendered text (the truth is known), blank pages.
"""

from __future__ import annotations

from pathlib import Path

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DEJAVU_SERIF = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")


def glued_words_pdf(path: Path, lines: list[str], *, gap: int = -260) -> Path:
    """Each line drawn as one TJ array of words separated only by kerning offsets (no space glyph)."""
    from fpdf import FPDF
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, ByteStringObject, ContentStream, FloatObject, NumberObject

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=str(DEJAVU))
    pdf.set_font("DejaVu", size=11)
    for k, line in enumerate(lines):
        pdf.text(20, 30 + 7 * k, "".join(line.split()))
    raw = path.with_suffix(".raw.pdf")
    pdf.output(str(raw))

    writer = PdfWriter(clone_from=str(raw))
    page = writer.pages[0]
    stream = ContentStream(page.get_contents(), writer)
    ops = []
    pending = iter(lines)
    for operands, op in stream.operations:
        if op == b"Tj":
            codes = str(operands[0]).encode("utf-16-be")  # 2-byte glyph codes (Identity-H)
            arr = ArrayObject()
            pos = 0
            for word in next(pending).split():
                n = 2 * len(word)
                arr.append(ByteStringObject(codes[pos : pos + n]))
                arr.append(FloatObject(gap))
                pos += n
            ops.append(([arr], b"TJ"))
        else:
            ops.append((operands, op))
    stream.operations = ops
    page.replace_contents(stream)
    for font in page["/Resources"]["/Font"].values():
        for desc in font.get_object().get("/DescendantFonts", []):
            widths = desc.get_object()["/W"]
            # fpdf2 writes the space glyph last as "32 32 w": make it 1 em wide (never drawn here)
            if len(widths) >= 3 and widths[-3] == 32 and widths[-2] == 32:
                widths[-1] = NumberObject(1000)
    writer.write(str(path))
    raw.unlink()
    return path


def ligature_pdf(path: Path, paragraphs: list[str]) -> Path:
    """Text in DejaVu Sans, which has the U+FB00–FB06 glyphs the paragraphs use."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=str(DEJAVU))
    pdf.set_font("DejaVu", size=11)
    for p in paragraphs:
        pdf.multi_cell(0, 6, p)
        pdf.ln(4)
    pdf.output(str(path))
    return path


GLYPH_DIFFERENCES = {
    48: "/zero.alt", 49: "/one.oldstyle", 50: "/two.taboldstyle", 51: "/three.lf", 52: "/four.osf",
    53: "/five.alt", 54: "/six.sc", 55: "/seven.alt", 56: "/eight.alt", 57: "/nine.alt",
    88: "/f_f_i",  # "X" draws the ffi ligature under a name pypdf does not know
}


def glyph_name_pdf(path: Path, text: str) -> Path:
    """Helvetica text whose font /Encoding /Differences name digits "/zero.alt" etc. and X "/f_f_i"."""
    from fpdf import FPDF
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, text)
    raw = path.with_suffix(".raw.pdf")
    pdf.output(str(raw))
    writer = PdfWriter(clone_from=str(raw))
    diffs = ArrayObject()
    for code, name in GLYPH_DIFFERENCES.items():
        diffs.extend([NumberObject(code), NameObject(name)])
    for font in writer.pages[0]["/Resources"]["/Font"].values():
        font = font.get_object()
        font[NameObject("/Encoding")] = DictionaryObject({
            NameObject("/Type"): NameObject("/Encoding"),
            NameObject("/BaseEncoding"): NameObject("/WinAnsiEncoding"),
            NameObject("/Differences"): diffs,
        })
    writer.write(str(path))
    raw.unlink()
    return path


def titled_pdf(path: Path, title_lines: list[str], body: list[str], *, meta_title: str = "",
               title_size: int = 20) -> Path:
    """Page 1 opens with ``title_lines`` set large, then body paragraphs at 11 pt."""
    from fpdf import FPDF

    pdf = FPDF()
    if meta_title:
        pdf.set_title(meta_title)
    pdf.add_page()
    pdf.set_font("Helvetica", size=8)
    pdf.cell(0, 5, "Preprint - submitted to the Journal of Applied Things, Vol. 3")
    pdf.ln(10)
    pdf.set_font("Helvetica", "B", size=title_size)
    for line in title_lines:
        pdf.cell(0, title_size * 0.5, line, align="C")
        pdf.ln(title_size * 0.5)
    pdf.ln(6)
    pdf.set_font("Helvetica", size=11)
    for p in body:
        pdf.multi_cell(0, 6, p)
        pdf.ln(3)
    pdf.output(str(path))
    return path


def page_image_png(lines: list[str], *, dpi: int = 200, size_pt: float = 12) -> bytes:
    """An A4 page image (PNG bytes) with ``lines`` rendered in DejaVu Serif: a "scan" whose text is known."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    w, h = int(8.27 * dpi), int(11.69 * dpi)
    px = int(size_pt * dpi / 72)
    font = ImageFont.truetype(str(DEJAVU_SERIF), px)
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    for k, line in enumerate(lines):
        draw.text((int(0.8 * dpi), int(0.8 * dpi) + int(k * px * 1.8)), line, font=font, fill=0)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def scanned_pdf(path: Path, pages: list[list[str] | str | None]) -> Path:
    """One page per entry: a list of lines -> an image of them (no text layer); a str -> a text page;
    None -> an intentionally blank page."""
    import io

    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for entry in pages:
        pdf.add_page()
        if entry is None:
            continue
        if isinstance(entry, str):
            pdf.multi_cell(0, 6, entry)
            continue
        pdf.image(io.BytesIO(page_image_png(entry)), x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.output(str(path))
    return path
