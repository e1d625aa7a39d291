"""Tests for the web page / HTML file loaders against a local HTTP server (no real network)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from notebooklm_local.core.documents import LoadedDocument, SourceRef
from notebooklm_local.core.errors import Cancelled, SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.loaders.markdown_blocks import markdown_to_blocks
from notebooklm_local.services.loaders.web import (
    HtmlFileLoader,
    WebLoader,
    decode_html,
    html_to_document,
    is_youtube_url,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "web"
BLOG = (FIXTURES / "blog_article.html").read_bytes()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
BOILERPLATE = (
    "cookies",
    "Accept all",
    "seed catalogue",
    "About the team",
    "Copyright 2024",
    "Privacy policy",
    "newsletter",
    "Popular posts",
    "GreenThumb42",
    "cheap watches",
    "gtag",
    "dataLayer",
)


def _make_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Solar Panel Maintenance")
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(
        0, 8, "Page one explains how to clean photovoltaic panels with soft brushes and demineralised water."
    )
    pdf.add_page()
    pdf.multi_cell(0, 8, "Page two covers inverter diagnostics and reading the fault codes on the display.")
    return bytes(pdf.output())


# ---------------------------------------------------------------------------------------------------------------------
# The local server
# ---------------------------------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stop = threading.Event()
    pdf = b""

    def handle_error(self, request: object, client_address: object) -> None:  # no tracebacks for aborted downloads
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
        pass

    def _send(self, code: int, body: bytes, ctype: str | None = "text/html; charset=utf-8", **headers: str) -> None:
        self.send_response(code)
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # the stdlib's name
        path = urlsplit(self.path).path
        try:
            route = ROUTES.get(path)
            if route is not None:
                route(self)
            elif path.startswith("/r/"):
                n = int(path.removeprefix("/r/"))
                self._send(302, b"", None, Location=f"/r/{n - 1}" if n > 1 else "/blog/tomatoes")
            else:
                self._send(404, b"<html><body><h1>Not Found</h1></body></html>")
        except (BrokenPipeError, ConnectionResetError):
            pass


def _big_streamed(h: _Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.end_headers()  # no Content-Length: the body ends when the connection closes (HTTP/1.0)
    chunk = b"<p>" + b"filler text " * 5000 + b"</p>\n"
    for _ in range(100):  # ~6 MB unless the client hangs up first
        if h.server.stop.is_set():
            return
        h.wfile.write(chunk)


def _slow(h: _Handler) -> None:
    h.server.stop.wait(3)
    h._send(200, b"<html><body><p>finally</p></body></html>")


ROUTES: dict[str, Callable[[_Handler], None]] = {
    "/blog/tomatoes": lambda h: h._send(200, BLOG),
    "/loop": lambda h: h._send(302, b"", None, Location="/loop"),
    "/missing": lambda h: h._send(404, b"<html><body>gone</body></html>"),
    "/boom": lambda h: h._send(500, b"<html><body>Internal error</body></html>"),
    "/private": lambda h: h._send(403, b"<html><body>Forbidden</body></html>"),
    "/busy": lambda h: h._send(429, b"slow down", "text/plain"),
    "/spa": lambda h: h._send(200, (FIXTURES / "spa.html").read_bytes()),
    "/latin1": lambda h: h._send(200, (FIXTURES / "latin1.html").read_bytes(), "text/html"),
    "/untyped": lambda h: h._send(200, BLOG, None),
    "/docs/paper.pdf": lambda h: h._send(200, h.server.pdf, "application/pdf"),
    "/download": lambda h: h._send(200, h.server.pdf, "application/octet-stream"),
    "/notes.txt": lambda h: h._send(
        200, b"Shopping list\n\nBuy oat milk and rye bread.\n\nCall the plumber about the leak.", "text/plain"
    ),
    "/README.md": lambda h: h._send(
        200, b"# Project Falcon\n\nFalcon syncs notes.\n\n## Install\n\nRun the installer.", "text/plain; charset=utf-8"
    ),
    "/photo.png": lambda h: h._send(200, PNG, "image/png"),
    "/api/items": lambda h: h._send(200, b'{"items": [1, 2, 3]}', "application/json"),
    "/big-declared": lambda h: h._send(200, b"<p>" + b"x" * 200_000 + b"</p>"),
    "/big-streamed": _big_streamed,
    "/slow": _slow,
    "/untitled/page": lambda h: h._send(
        200,
        b"<html><body><div><p>This page has no title element and no heading at all, only a paragraph of text "
        b"about migrating birds that cross the Sahara every autumn.</p></div></body></html>",
    ),
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.stop = threading.Event()
    srv.pdf = _make_pdf()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.stop.set()
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def _fetch(url: str, loader: WebLoader | None = None, cancel: CancelToken | None = None) -> LoadedDocument:
    return (loader or WebLoader(timeout=5)).load(SourceRef(url=url), cancel or CancelToken())


def _fetch_error(url: str, loader: WebLoader | None = None) -> str:
    with pytest.raises(SourceLoadError) as info:
        _fetch(url, loader)
    return str(info.value)


# ---------------------------------------------------------------------------------------------------------------------
# Web pages
# ---------------------------------------------------------------------------------------------------------------------


def test_blog_article_main_content_headings_and_metadata(server: str) -> None:
    url = f"{server}/blog/tomatoes"
    doc = _fetch(url)
    assert doc.kind == "web"
    assert doc.title == "Growing Tomatoes on a Balcony"
    assert doc.metadata["url"] == url
    assert doc.metadata["author"] == "Maria Lindqvist"
    assert doc.metadata["date"] == "2024-03-15"
    assert doc.metadata["sitename"] == "The Urban Gardener"
    assert "containers on a small balcony" in doc.metadata["description"]
    assert "Tomatoes are one of the most rewarding crops" in doc.text
    assert "sturdy cane or trellis" in doc.text
    assert "Mix compost with a handful of perlite" in doc.text
    assert "guide to making compost" in doc.text  # link text kept ...
    assert "/guides/compost" not in doc.text  # ... its URL dropped
    assert "Compact determinate varieties" in doc.text  # no emphasis markers
    assert "*" not in doc.text and "#" not in doc.text
    for junk in BOILERPLATE:
        assert junk not in doc.text, junk
    headings = [b.text for b in doc.blocks if b.kind == "heading"]
    assert headings == [
        "Growing Tomatoes on a Balcony",
        "Choosing a variety",
        "Cherry or beefsteak?",
        "Containers and soil",
    ]
    by_text = {b.text[:20]: b for b in doc.blocks}
    assert by_text["Cherry tomatoes ripe"].heading_path == (
        "Growing Tomatoes on a Balcony",
        "Choosing a variety",
        "Cherry or beefsteak?",
    )
    lst = next(b for b in doc.blocks if "twenty litres or more" in b.text)
    assert lst.heading_path == ("Growing Tomatoes on a Balcony", "Containers and soil")
    assert "perlite" in lst.text and "potassium-rich" in lst.text  # the list stays one block
    for b in doc.blocks:
        assert doc.text[b.start : b.end] == b.text
    assert doc.original == BLOG and doc.original_suffix == ".html"
    assert doc.flags == ["comments on the page were left out (only the main content is used)"]  # issue 18


def test_redirect_chain_records_final_url(server: str) -> None:
    doc = _fetch(f"{server}/r/3")
    assert doc.metadata["url"] == f"{server}/blog/tomatoes"
    assert doc.metadata["requested_url"] == f"{server}/r/3"
    assert "rewarding crops" in doc.text


def test_redirect_loop_is_a_clear_error(server: str) -> None:
    msg = _fetch_error(f"{server}/loop")
    assert "too many" in msg and "redirects" in msg and "Nothing was added" in msg


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/missing", ("not found", "HTTP 404")),
        ("/boom", ("server", "error", "HTTP 500", "Try again later")),
        ("/private", ("needs a login or refused", "HTTP 403")),
        ("/busy", ("too many requests", "HTTP 429")),
    ],
)
def test_http_errors_name_the_status(server: str, path: str, words: tuple[str, ...]) -> None:
    msg = _fetch_error(f"{server}{path}")
    for w in words:
        assert w in msg
    assert "Nothing was added" in msg


def test_page_that_is_mostly_scripts(server: str) -> None:
    msg = _fetch_error(f"{server}/spa")
    assert "no readable text" in msg and "JavaScript" in msg and "Nothing was added" in msg


def test_latin1_page_declared_by_meta_charset(server: str) -> None:
    doc = _fetch(f"{server}/latin1")
    assert "La crème brûlée est un dessert" in doc.text
    assert "Grüße aus Zürich: Smørrebrød, façon, naïve, Ångström, señor." in doc.text
    assert doc.title == "Recettes d'hiver"
    assert "\ufffd" not in doc.text


def test_html_without_content_type_is_sniffed(server: str) -> None:
    doc = _fetch(f"{server}/untyped")
    assert doc.kind == "web" and "rewarding crops" in doc.text


def test_page_without_title_or_heading_is_named_after_the_url(server: str) -> None:
    doc = _fetch(f"{server}/untitled/page")
    assert "migrating birds" in doc.text
    assert doc.title == "127.0.0.1/untitled/page"


# ---------------------------------------------------------------------------------------------------------------------
# Other content types
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/docs/paper.pdf", "/download"])
def test_pdf_download(server: str, path: str) -> None:
    url = f"{server}{path}"
    doc = _fetch(url)
    assert doc.kind == "pdf"
    assert doc.metadata["url"] == url
    assert doc.original is not None and doc.original.startswith(b"%PDF-")
    assert doc.original_suffix == ".pdf"
    pages = {b.page: b.text for b in doc.blocks}
    assert "photovoltaic panels" in pages[1]
    assert "inverter diagnostics" in pages[2]
    assert "photovoltaic" not in pages[2]


def test_plain_text_download(server: str) -> None:
    doc = _fetch(f"{server}/notes.txt")
    assert doc.kind == "text"
    assert "Buy oat milk and rye bread." in doc.text
    assert doc.metadata["url"] == f"{server}/notes.txt"
    assert doc.original_suffix == ".txt"


def test_markdown_served_as_text_plain_is_markdown(server: str) -> None:
    doc = _fetch(f"{server}/README.md")
    assert doc.kind == "markdown"
    assert doc.original_suffix == ".md"
    assert "#" not in doc.text
    assert [b.text for b in doc.blocks if b.kind == "heading"] == ["Project Falcon", "Install"]
    assert next(b for b in doc.blocks if b.text == "Run the installer.").heading_path == ("Project Falcon", "Install")


@pytest.mark.parametrize(("path", "what"), [("/photo.png", "an image (image/png)"), ("/api/items", "JSON data")])
def test_unsupported_content_type(server: str, path: str, what: str) -> None:
    msg = _fetch_error(f"{server}{path}")
    assert what in msg
    assert "not a web page, PDF or text" in msg and "Nothing was added" in msg


# ---------------------------------------------------------------------------------------------------------------------
# Limits, network failures, invalid input, cancellation
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/big-declared", "/big-streamed"])
def test_download_larger_than_max_bytes(server: str, path: str) -> None:
    start = time.monotonic()
    msg = _fetch_error(f"{server}{path}", WebLoader(timeout=5, max_bytes=50_000))
    assert "too large" in msg and "50 KB" in msg and "Nothing was added" in msg
    assert time.monotonic() - start < 3


def test_slow_server_times_out(server: str) -> None:
    start = time.monotonic()
    msg = _fetch_error(f"{server}/slow", WebLoader(timeout=0.3))
    assert "unreachable" in msg and "timed out" in msg and "0.3 seconds" in msg
    assert "offline" in msg and "Nothing was added" in msg
    assert time.monotonic() - start < 2


def test_closed_port_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    msg = _fetch_error(f"http://127.0.0.1:{port}/article", WebLoader(timeout=2))
    assert f"127.0.0.1:{port} is unreachable" in msg
    assert "refused" in msg and "offline" in msg and "Nothing was added" in msg


def test_dns_failure_is_unreachable() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    msg = _fetch_error("https://no-such-host.example/page", WebLoader(transport=httpx.MockTransport(fail)))
    assert "no-such-host.example is unreachable" in msg and "DNS" in msg and "offline" in msg
    assert "Nothing was added" in msg


def test_other_transport_errors_never_escape_raw() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    msg = _fetch_error("https://flaky.example/page", WebLoader(transport=httpx.MockTransport(fail)))
    assert "flaky.example" in msg and "Nothing was added" in msg


@pytest.mark.parametrize(
    "url", ["http://", "htp:/x", "http://exa mple.com", "", "example.com/page", "http://[::1/x", "https://a..b/"]
)
def test_invalid_urls(url: str) -> None:
    msg = _fetch_error(url)
    assert "not a valid URL" in msg


def test_cancel_before_fetch(server: str) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        _fetch(f"{server}/blog/tomatoes", cancel=token)


class _CancelAfter(CancelToken):
    """Cancels itself after ``n`` checks (i.e. in the middle of a download)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def raise_if_set(self) -> None:
        self.left -= 1
        if self.left < 0:
            self.cancel()
        super().raise_if_set()


def test_cancel_during_download(server: str) -> None:
    start = time.monotonic()
    with pytest.raises(Cancelled):
        _fetch(f"{server}/big-streamed", cancel=_CancelAfter(3))
    assert time.monotonic() - start < 3


def test_can_load_http_urls_but_not_youtube() -> None:
    loader = WebLoader()
    assert loader.name == "web" and loader.extensions == ()
    assert loader.can_load(SourceRef(url="https://example.com/post"))
    assert loader.can_load(SourceRef(url="HTTP://Example.com"))
    for yt in (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ",
        "https://m.youtube.com/watch?v=x",
        "https://www.youtube-nocookie.com/embed/x",
    ):
        assert is_youtube_url(yt)
        assert not loader.can_load(SourceRef(url=yt))
    assert loader.can_load(SourceRef(url="https://notyoutube.com/x"))
    assert not loader.can_load(SourceRef(url="ftp://example.com/file"))
    assert not loader.can_load(SourceRef(path=Path("page.html")))


# ---------------------------------------------------------------------------------------------------------------------
# HTML files and helpers
# ---------------------------------------------------------------------------------------------------------------------


def test_html_file_loader(tmp_path: Path) -> None:
    path = tmp_path / "Saved Article.htm"
    shutil.copyfile(FIXTURES / "blog_article.html", path)
    loader = HtmlFileLoader()
    assert loader.can_load(SourceRef(path=path))
    assert loader.can_load(SourceRef(path=Path("x.XHTML")))
    assert not loader.can_load(SourceRef(path=Path("x.pdf")))
    assert not loader.can_load(SourceRef(url="https://example.com/x.html"))
    doc = loader.load(SourceRef(path=path), CancelToken())
    assert doc.kind == "html"
    assert doc.title == "Growing Tomatoes on a Balcony"
    assert doc.metadata["author"] == "Maria Lindqvist"
    assert doc.metadata["url"] == "https://urban-gardener.example/blog/tomatoes"  # the page's canonical link
    assert "Tumbling Tom or Balconi Red" in doc.text
    for junk in BOILERPLATE:
        assert junk not in doc.text, junk
    assert doc.original == BLOG and doc.original_suffix == ".htm"


def test_html_file_latin1_and_errors(tmp_path: Path) -> None:
    loader = HtmlFileLoader()
    doc = loader.load(SourceRef(path=FIXTURES / "latin1.html"), CancelToken())
    assert "Même à Noël, c'est très apprécié" in doc.text
    with pytest.raises(SourceLoadError, match=r'File not found: "gone\.html"'):
        loader.load(SourceRef(path=tmp_path / "gone.html"), CancelToken())
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    with pytest.raises(SourceLoadError, match="empty"):
        loader.load(SourceRef(path=empty), CancelToken())
    spa = tmp_path / "app.html"
    shutil.copyfile(FIXTURES / "spa.html", spa)
    with pytest.raises(SourceLoadError, match="no readable text.*JavaScript"):
        loader.load(SourceRef(path=spa), CancelToken())
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        loader.load(SourceRef(path=FIXTURES / "latin1.html"), token)


def test_html_file_title_falls_back_to_heading_then_file_name(tmp_path: Path) -> None:
    body = "<p>A short note on how the library reorganised its reading rooms after the spring renovation works.</p>"
    with_heading = tmp_path / "notes.html"
    with_heading.write_text(f"<html><body><article><h2>Reading rooms</h2>{body}</article></body></html>")
    assert HtmlFileLoader().load(SourceRef(path=with_heading), CancelToken()).title == "Reading rooms"
    bare = tmp_path / "library-notes.html"
    bare.write_text(f"<html><body>{body}</body></html>")
    doc = HtmlFileLoader().load(SourceRef(path=bare), CancelToken())
    assert doc.title == "library-notes"
    assert "reorganised its reading rooms" in doc.text


def test_fallback_when_no_main_content_found(monkeypatch: pytest.MonkeyPatch) -> None:
    import trafilatura

    monkeypatch.setattr(trafilatura, "extract", lambda *a, **k: None)
    html = (
        "<html><head><title>Fallback</title><style>p{color:red}</style></head><body>"
        "<script>var hidden = 'SCRIPT TEXT';</script><h1>Station log</h1><p>Wind speed was forty knots at dawn.</p>"
        "<h2>Evening</h2><div>The <b>barometer</b> rose again.</div></body></html>"
    )
    doc = html_to_document(html, url="https://weather.example/log", kind="web")
    assert "main content not recognized" in doc.flags[0]
    assert "SCRIPT TEXT" not in doc.text and "color:red" not in doc.text
    assert "The barometer rose again." in doc.text
    assert doc.blocks[-1].heading_path == ("Station log", "Evening")


def test_decode_html_precedence() -> None:
    text = "<html><head><meta charset='utf-8'></head><body>Café</body></html>"
    assert "Café" in decode_html(text.encode("utf-8"))
    assert "Café" in decode_html(b"\xef\xbb\xbf" + text.encode("utf-8"), "iso-8859-1")  # BOM wins
    assert "Café" in decode_html(text.encode("utf-8"), "iso-8859-1")  # a default latin-1 header loses to valid UTF-8
    assert "Café" in decode_html(text.replace("utf-8", "x").encode("cp1252"), "windows-1252")  # header wins


def test_markdown_to_blocks() -> None:
    md = (
        "Guide\n=====\n\nIntro with **bold**, _italic_, `code_span` and a [link](https://x.example/a).\n"
        "Soft wrapped line.\n\nSetup\n-----\n\n```bash\n# install it\npip install falcon\n```\n\n"
        "### Options\n\n- one\n- two\n\n# Appendix\n\nLast words.\n"
    )
    blocks = markdown_to_blocks(md)
    assert [(b.kind, b.text) for b in blocks] == [
        ("heading", "Guide"),
        ("paragraph", "Intro with bold, italic, code_span and a link. Soft wrapped line."),
        ("heading", "Setup"),
        ("code", "# install it\npip install falcon"),
        ("heading", "Options"),
        ("paragraph", "- one\n- two"),
        ("heading", "Appendix"),
        ("paragraph", "Last words."),
    ]
    paths = [b.heading_path for b in blocks]
    assert paths == [
        ("Guide",),
        ("Guide",),
        ("Guide", "Setup"),
        ("Guide", "Setup"),
        ("Guide", "Setup", "Options"),
        ("Guide", "Setup", "Options"),
        ("Appendix",),
        ("Appendix",),
    ]
    doc = LoadedDocument.from_blocks("markdown", "Guide", blocks)
    assert "pip install falcon" in doc.text


def test_markdown_to_blocks_edge_cases() -> None:
    md = "---\ntitle: Notes\n---\n#hashtag is text\n\n~~~\n## inside tilde fence\n~~~\n\n***\n\n## Closing ##\ntext"
    blocks = markdown_to_blocks(md)
    assert [(b.kind, b.text) for b in blocks] == [
        ("paragraph", "#hashtag is text"),
        ("code", "## inside tilde fence"),
        ("heading", "Closing"),
        ("paragraph", "text"),
    ]
    assert markdown_to_blocks("```\n# never closed\n") == [markdown_to_blocks("```\n# never closed\n")[0]]
    assert markdown_to_blocks("```\n# never closed\n")[0].kind == "code"
    assert markdown_to_blocks("") == []
