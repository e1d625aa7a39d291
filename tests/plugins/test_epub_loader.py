"""The bundled EPUB loader on books built in the test (zipfile), and on bad input."""

from __future__ import annotations

import io
import types
import zipfile
from pathlib import Path

import pytest

from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.errors import SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from tests.plugins.helpers import bundled

CONTAINER = ('<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
             '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
             '</rootfiles></container>')

OPF = '''<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:uuid:1</dc:identifier>
    <dc:title>A Year in the Garden</dc:title>
    <dc:creator>Ann Gardener</dc:creator>
    <dc:creator>Bob Digger</dc:creator>
    <dc:language>en</dc:language>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="c1" href="text/spring.xhtml" media-type="application/xhtml+xml"/>
    <item id="c2" href="text/summer.xhtml" media-type="application/xhtml+xml"/>
    <item id="css" href="style.css" media-type="text/css"/>
  </manifest>
  <spine>
    <itemref idref="nav" linear="no"/>
    <itemref idref="c2"/>
    <itemref idref="c1"/>
  </spine>
</package>'''

NAV = ('<html xmlns="http://www.w3.org/1999/xhtml"><body><nav epub:type="toc"><ol>'
       '<li><a href="text/summer.xhtml">Summer Work</a></li><li><a href="text/spring.xhtml#top">Spring</a></li>'
       '</ol></nav></body></html>')

SPRING = ('<html xmlns="http://www.w3.org/1999/xhtml"><head><title>ignored</title><style>p {}</style></head><body>'
          '<h1>Spring</h1><p>Sow peas &amp; beans early.</p><h2>Roses</h2><p>Prune roses<br/>in March.</p>'
          '<table><tr><th>Plant</th><th>Month</th></tr><tr><td>Rose</td><td>March</td></tr></table>'
          '<script>alert(1)</script></body></html>')

SUMMER = '<html xmlns="http://www.w3.org/1999/xhtml"><body><p>Water in the morning.</p><ul><li>Tomatoes</li></ul></body></html>'


def epub(entries: dict[str, str | bytes] | None = None, drop: tuple[str, ...] = ()) -> bytes:
    files: dict[str, str | bytes] = {"mimetype": "application/epub+zip", "META-INF/container.xml": CONTAINER,
                                     "OEBPS/content.opf": OPF, "OEBPS/nav.xhtml": NAV,
                                     "OEBPS/text/spring.xhtml": SPRING, "OEBPS/text/summer.xhtml": SUMMER,
                                     "OEBPS/style.css": "p {}"}
    files.update(entries or {})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            if name not in drop:
                z.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def mod() -> types.ModuleType:
    return bundled("epub-loader")[0]


def load(mod, tmp_path: Path, data: bytes, name: str = "book.epub"):
    (tmp_path / name).write_bytes(data)
    return mod.EpubLoader().load(SourceRef(path=tmp_path / name), CancelToken())


def test_chapters_in_reading_order_become_headings(mod: types.ModuleType, tmp_path: Path) -> None:
    doc = load(mod, tmp_path, epub())
    assert doc.kind == "epub" and doc.title == "A Year in the Garden"
    assert doc.metadata["author"] == "Ann Gardener, Bob Digger" and doc.metadata["language"] == "en"
    assert doc.metadata["chapters"] == 2 and doc.original_suffix == ".epub"
    assert [(b.kind, b.heading_path, b.text) for b in doc.blocks] == [
        ("heading", ("Summer Work",), "Summer Work"),  # no heading of its own: the table of contents names it
        ("paragraph", ("Summer Work",), "Water in the morning."),
        ("paragraph", ("Summer Work",), "Tomatoes"),
        ("heading", ("Spring",), "Spring"),
        ("paragraph", ("Spring",), "Sow peas & beans early."),
        ("heading", ("Spring", "Roses"), "Roses"),
        ("paragraph", ("Spring", "Roses"), "Prune roses"),
        ("paragraph", ("Spring", "Roses"), "in March."),
        ("paragraph", ("Spring", "Roses"), "Plant | Month"),
        ("paragraph", ("Spring", "Roses"), "Rose | March"),
    ]
    assert "alert" not in doc.text and "ignored" not in doc.text


def test_epub2_ncx_table_of_contents(mod: types.ModuleType, tmp_path: Path) -> None:
    opf = OPF.replace('<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>',
                      '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>')
    opf = opf.replace("<spine>", '<spine toc="ncx">').replace('<itemref idref="nav" linear="no"/>', "")
    ncx = ('<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/"><navMap><navPoint id="a"><navLabel><text>High Summer'
           '</text></navLabel><content src="text/summer.xhtml"/></navPoint></navMap></ncx>')
    doc = load(mod, tmp_path, epub({"OEBPS/content.opf": opf, "OEBPS/toc.ncx": ncx}))
    assert doc.blocks[0].text == "High Summer"


@pytest.mark.parametrize(("data", "message"), [
    (b"not a zip at all", "not an EPUB e-book"),
    (b"PK\x03\x04garbage", "damaged"),
    (epub(drop=("META-INF/container.xml",)), "a ZIP archive, not an EPUB"),
    (epub({"word/document.xml": "<w/>"}, drop=("META-INF/container.xml",)), "a Word document, not an EPUB"),
    (epub({"META-INF/encryption.xml": '<encryption><EncryptedData><CipherReference URI="OEBPS/text/spring.xhtml"/>'
                                      '</EncryptedData></encryption>'}), "protected by DRM"),
    (epub(drop=("OEBPS/text/spring.xhtml",)), "spring.xhtml is missing"),
    (epub({"OEBPS/content.opf": "<package><metadata>"}), "not valid XML"),
    (epub({"OEBPS/content.opf": OPF.replace('<itemref idref="c2"/>', "").replace('<itemref idref="c1"/>', "")}),
     "lists no chapters"),
    (epub({"OEBPS/text/spring.xhtml": "<html><body><img src='a.png'/></body></html>",
           "OEBPS/text/summer.xhtml": "<html><body> </body></html>"}), "contains no text"),
])
def test_bad_input_is_a_clear_source_load_error(mod: types.ModuleType, tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(SourceLoadError) as e:
        load(mod, tmp_path, data)
    assert message in str(e.value) and "book.epub" in str(e.value)


def test_font_obfuscation_is_not_drm(mod: types.ModuleType, tmp_path: Path) -> None:
    enc = ('<encryption><EncryptedData><EncryptionMethod Algorithm="http://www.idpf.org/2008/embedding"/>'
           '<CipherReference URI="OEBPS/font.otf"/></EncryptedData></encryption>')
    assert load(mod, tmp_path, epub({"META-INF/encryption.xml": enc})).title == "A Year in the Garden"
