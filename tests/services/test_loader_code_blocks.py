"""Code is a ``code`` block: a fenced block of a Markdown file, a <pre> of a web page (both through
``markdown_to_blocks``) and of the fallback extraction. Its text stays in the document (indexed, searchable,
shown in the viewer); the extracted outputs skip it (tests/core/test_extractive_code.py)."""

from __future__ import annotations

from notebooklm_local.core.chunking import chunk_document
from notebooklm_local.services.loaders.markdown_blocks import markdown_to_blocks
from notebooklm_local.services.loaders.text import load_text_bytes
from notebooklm_local.services.loaders.web import _fallback_blocks, html_to_document

MD = """# Affinity

Each column has a type affinity.

```sql
SELECT b < 40 FROM t1; -- Numeric affinity is applied to 40.
```

~~~
# not a heading
~~~
"""

HTML = """<html><head><title>Datatypes In SQLite</title></head><body><main><h1>Datatypes In SQLite</h1>
<p>Most SQL database engines use static, rigid typing. SQLite uses a more general dynamic type system in which
the datatype of a value is associated with the value itself, not with its container.</p>
<p>Consider the following example, which shows how type affinity changes comparisons of stored values:</p>
<pre>
CREATE TABLE t1(a TEXT, b NUMERIC);
SELECT b &lt; 40 FROM t1; -- Numeric affinity is applied to operands
</pre>
<p>The results of a comparison depend on the storage classes of the operands, as described in the section
about comparison expressions that follows this example of how affinity is applied.</p>
</main></body></html>"""


def test_markdown_fences_are_code_blocks() -> None:
    blocks = markdown_to_blocks(MD)
    assert [b.kind for b in blocks] == ["heading", "paragraph", "code", "code"]
    assert blocks[2].text == "SELECT b < 40 FROM t1; -- Numeric affinity is applied to 40."
    assert blocks[3].text == "# not a heading" and blocks[3].heading_path == ("Affinity",)
    doc = load_text_bytes(MD.encode(), "a.md", markdown=True)
    assert "SELECT b < 40" in doc.text and any(b.kind == "code" for b in doc.blocks)
    assert any("SELECT b < 40" in c.text for c in chunk_document(doc))  # still indexed


def test_web_pre_is_a_code_block() -> None:
    doc = html_to_document(HTML.encode(), url=None, kind="html")
    code = [doc.block_text(b) for b in doc.blocks if b.kind == "code"]
    assert len(code) == 1 and "SELECT b < 40 FROM t1;" in code[0]
    assert all("SELECT" not in doc.block_text(b) for b in doc.blocks if b.kind != "code")
    assert any("SELECT b < 40" in c.text for c in chunk_document(doc))


def test_fallback_pre_is_a_code_block() -> None:
    blocks = _fallback_blocks(HTML)
    assert [b.kind for b in blocks] == ["heading", "paragraph", "paragraph", "code", "paragraph"]
    assert blocks[3].text.startswith("CREATE TABLE t1")
