"""YouTube loader: video-ID parsing, and the real youtube-transcript-api flow against recorded responses on 127.0.0.1."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

from notebooklm_local.core.documents import SourceLoader, SourceRef
from notebooklm_local.core.errors import Cancelled, SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.loaders.youtube import YouTubeLoader, canonical_url, parse_video_id

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "youtube"
API_KEY = "AIzaSyD-fixtureKey_0123456789abcdefghijk"
YOUTUBE_HOSTS = {"www.youtube.com", "youtube.com", "m.youtube.com"}

# video id -> the innertube player response the fake YouTube serves for it
VIDEOS = {
    "Wd9tK3manEN": "player_manual_en.json",
    "Au7oGenOnly": "player_auto_only.json",
    "Ml4ngDeEnGB": "player_de_asr_en_gb.json",
    "NoCapt10nsX": "player_captions_disabled.json",
    "AgeR3strict": "player_age_restricted.json",
    "BotCheck123": "player_bot_check.json",
    "Unplayable1": "player_unplayable.json",
    "PoT0kenReqd": "player_po_token.json",
}
# (lang, kind) of a timedtext request -> the transcript XML
TIMEDTEXT = {
    ("en", ""): "timedtext_en.xml",
    ("en", "asr"): "timedtext_en_asr.xml",
    ("de", "asr"): "timedtext_de_asr.xml",
    ("en-GB", ""): "timedtext_en.xml",
}


# --------------------------------------------------------------------------------------------- parse_video_id

ID = "dQw4w9WgXcQ"


@pytest.mark.parametrize(
    "text",
    [
        ID,
        f"  {ID}\n",
        f"https://www.youtube.com/watch?v={ID}",
        f"https://www.youtube.com/watch?v={ID}&t=42s",
        f"https://www.youtube.com/watch?feature=share&v={ID}",
        f"youtube.com/watch?feature=share&v={ID}",
        f"www.youtube.com/watch?v={ID}&list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG&index=3",
        f"http://youtube.com/watch?v={ID}#t=1m",
        f"https://m.youtube.com/watch?v={ID}",
        f"https://music.youtube.com/watch?v={ID}&si=AbCdEf",
        f"https://youtu.be/{ID}",
        f"https://youtu.be/{ID}?si=Xz12_ab-CD34efGh",
        f"youtu.be/{ID}?t=10",
        f"https://www.youtube.com/shorts/{ID}",
        f"youtube.com/shorts/{ID}?feature=share",
        f"https://www.youtube.com/embed/{ID}?start=30",
        f"https://www.youtube.com/live/{ID}?si=abc",
        f"https://www.youtube.com/v/{ID}",
        f"https://www.youtube-nocookie.com/embed/{ID}",
        f"youtube-nocookie.com/embed/{ID}",
        f"HTTPS://WWW.YOUTUBE.COM/watch?v={ID}",
    ],
)
def test_parse_video_id_accepts_every_url_form(text: str) -> None:
    assert parse_video_id(text) == ID


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello world",
        "dQw4w9WgXc",  # 10 characters
        "dQw4w9WgXcQQ",  # 12 characters
        "dQw4w9WgX!Q",
        "https://example.com/watch?v=dQw4w9WgXcQ",
        "https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com/",
        "https://www.youtube.com/watch",
        "https://www.youtube.com/watch?v=short",
        "https://www.youtube.com/channel/UCuAXFkgsw1L7xaCfnd5JJOw",
        "https://www.youtube.com/playlist?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG",
        "ftp://youtube.com/watch?v=dQw4w9WgXcQ",
        "https://vimeo.com/76979871",
        "/home/me/notes/lecture.srt",
    ],
)
def test_parse_video_id_rejects_non_youtube_input(text: str) -> None:
    assert parse_video_id(text) is None


def test_can_load_and_protocol(tmp_path: Path) -> None:
    loader = YouTubeLoader()
    assert isinstance(loader, SourceLoader)
    assert loader.name == "youtube" and loader.extensions == ()
    assert loader.can_load(SourceRef(url=f"https://youtu.be/{ID}"))
    assert loader.can_load(SourceRef(url=ID))
    assert not loader.can_load(SourceRef(url="https://example.com/article"))
    assert not loader.can_load(SourceRef(path=tmp_path / "talk.vtt"))
    assert not loader.can_load(SourceRef(text="some pasted text"))
    assert canonical_url(ID) == f"https://www.youtube.com/watch?v={ID}"
    assert canonical_url(ID, 75.9) == f"https://www.youtube.com/watch?v={ID}&t=75s"


def test_not_a_video_is_a_clear_error() -> None:
    with pytest.raises(SourceLoadError, match="not a YouTube video"):
        YouTubeLoader().load(SourceRef(url="https://example.com/x"), CancelToken())


# --------------------------------------------------------------------------------------------- fake YouTube


@dataclass
class FakeYouTube:
    """A local HTTP server answering like www.youtube.com with the recorded fixtures."""

    port: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path?query)
    overrides: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)  # path -> (status, type, body)

    def respond(self, method: str, target: str, body: bytes) -> tuple[int, str, bytes]:
        self.requests.append((method, target))
        url = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path in self.overrides:
            return self.overrides[url.path]
        if method == "GET" and url.path == "/watch":
            return 200, "text/html; charset=utf-8", (FIXTURES / "watch.html").read_bytes()
        if method == "POST" and url.path == "/youtubei/v1/player":
            if query.get("key") != API_KEY:
                return 400, "application/json", b'{"error": {"code": 400, "message": "API key not valid."}}'
            video_id = json.loads(body)["videoId"]
            name = VIDEOS.get(video_id, "player_unavailable.json")
            return 200, "application/json; charset=UTF-8", (FIXTURES / name).read_bytes()
        if method == "GET" and url.path == "/api/timedtext":
            name = TIMEDTEXT.get((query.get("lang", ""), query.get("kind", "")))
            if name is None or "fmt" in query:
                return 404, "text/html", b"<html><body>Not Found</body></html>"
            return 200, "text/xml; charset=UTF-8", (FIXTURES / name).read_bytes()
        return 404, "text/html", b"<html><body>Not Found</body></html>"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, ctype, payload = self.server.fake.respond(method, self.path, body)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # http.server's naming
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the request log
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeYouTube


class RedirectAdapter(HTTPAdapter):
    """Sends every request for a YouTube host to 127.0.0.1:<port> instead; anything else is refused."""

    def __init__(self, port: int) -> None:
        super().__init__(max_retries=0)
        self.port = port

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = urlsplit(request.url or "")
        if url.hostname not in YOUTUBE_HOSTS:
            raise AssertionError(f"test tried to reach {url.hostname}")
        request.url = urlunsplit(("http", f"127.0.0.1:{self.port}", url.path, url.query, ""))
        kwargs["timeout"] = 5
        return super().send(request, **kwargs)


def _session(port: int) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment, even for 127.0.0.1
    adapter = RedirectAdapter(port)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@pytest.fixture
def fake_youtube() -> Iterator[FakeYouTube]:
    fake = FakeYouTube()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def session(fake_youtube: FakeYouTube) -> Iterator[requests.Session]:
    s = _session(fake_youtube.port)
    yield s
    s.close()


def _load(session: requests.Session, url: str, languages: tuple[str, ...] = ("en",)) -> Any:
    return YouTubeLoader(languages=languages, http_client=session).load(SourceRef(url=url), CancelToken())


def _assert_blocks_consistent(doc: Any) -> None:
    assert doc.blocks
    for b in doc.blocks:
        assert b.kind == "cue"
        assert doc.text[b.start : b.end] == b.text
        assert b.t_start is not None and b.t_end is not None and b.t_start <= b.t_end


# --------------------------------------------------------------------------------------------- success paths


def test_manual_english_captions(session: requests.Session, fake_youtube: FakeYouTube) -> None:
    doc = _load(session, "https://www.youtube.com/watch?v=Wd9tK3manEN&t=42s")

    assert doc.kind == "youtube"
    assert doc.title == "How Widgets Are Made | Factory Tour"
    assert [b.text for b in doc.blocks] == [
        "Welcome to the factory, where every widget starts as a sheet of steel. "
        "First, the press cuts the blanks & stamps the logo. "
        "Then the blanks go into the oven, where they're hardened at 800 °C.",
        "After cooling, each widget is checked by hand.",
        'Finally, the widgets are packed and shipped. Thanks for watching "How Widgets Are Made"!',
    ]
    assert [(b.t_start, b.t_end) for b in doc.blocks] == [(0.48, 9.64), (12.24, 16.25), (52.5, 60.25)]
    _assert_blocks_consistent(doc)
    assert doc.metadata["video_id"] == "Wd9tK3manEN"
    assert doc.metadata["url"] == "https://www.youtube.com/watch?v=Wd9tK3manEN"
    assert doc.metadata["language"] == "en"
    assert doc.metadata["language_name"] == "English"
    assert doc.metadata["is_generated"] is False
    assert doc.metadata["duration"] == pytest.approx(60.25)
    assert doc.metadata["cues"] == 6
    assert doc.flags == []

    assert doc.original_suffix == ".json"
    saved = json.loads(doc.original.decode("utf-8"))
    assert saved["video_id"] == "Wd9tK3manEN" and saved["language"] == "en" and saved["is_generated"] is False
    assert saved["snippets"][0] == {
        "text": "Welcome to the factory, where every\nwidget starts as a sheet of steel.",
        "start": 0.48,
        "duration": 3.12,
    }
    # The real library flow ran against the fake: watch page, innertube player, then the manual track.
    paths = [(m, urlsplit(t).path) for m, t in fake_youtube.requests]
    assert paths == [("GET", "/watch"), ("POST", "/youtubei/v1/player"), ("GET", "/api/timedtext")]
    assert "kind=asr" not in fake_youtube.requests[-1][1]


def test_bare_video_id_and_short_link(session: requests.Session) -> None:
    assert _load(session, "Wd9tK3manEN").metadata["video_id"] == "Wd9tK3manEN"
    assert _load(session, "https://youtu.be/Wd9tK3manEN?si=abc").title == "How Widgets Are Made | Factory Tour"


def test_only_auto_generated_captions(session: requests.Session) -> None:
    doc = _load(session, "https://youtu.be/Au7oGenOnly")

    assert doc.metadata["is_generated"] is True
    assert doc.metadata["language"] == "en"
    assert doc.title == "YouTube video Au7oGenOnly"  # the player response carried no title
    assert doc.text == (
        "[Music] so today we're going to look at how widgets get made in the factory "
        "um the first step is the press which cuts the blanks"
    )
    assert [(b.t_start, b.t_end) for b in doc.blocks] == [(0.16, 12.56)]
    assert any("generated automatically" in f for f in doc.flags)
    _assert_blocks_consistent(doc)


def test_preferred_german_falls_back_to_english(session: requests.Session) -> None:
    doc = _load(session, "https://www.youtube.com/watch?v=Wd9tK3manEN", languages=("de",))

    assert doc.metadata["language"] == "en"
    assert doc.metadata["is_generated"] is False  # the manual track is the first available one
    assert doc.flags == ["No captions in de; used English (en) captions instead."]
    assert doc.text.startswith("Welcome to the factory")


def test_preferred_german_auto_captions_are_used(session: requests.Session) -> None:
    doc = _load(session, "https://www.youtube.com/watch?v=Ml4ngDeEnGB", languages=("de", "en"))

    # No manual track in de or en, but English (United Kingdom) matches "en": manual beats auto-generated.
    assert doc.metadata["language"] == "en-GB"
    assert doc.metadata["is_generated"] is False

    doc = _load(session, "https://www.youtube.com/watch?v=Ml4ngDeEnGB", languages=("de",))
    assert doc.metadata["language"] == "de"
    assert doc.metadata["is_generated"] is True
    assert doc.title == "Widget-Werk: Rundgang"
    assert doc.text == (
        "willkommen im Widget-Werk heute sehen wir uns die Presse an und danach den Ofen für die Härtung"
    )


def test_cancelled_before_any_request(session: requests.Session, fake_youtube: FakeYouTube) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        YouTubeLoader(http_client=session).load(SourceRef(url="Wd9tK3manEN"), token)
    assert fake_youtube.requests == []


# --------------------------------------------------------------------------------------------- failures


def _error(session: requests.Session, url: str, *, hint: bool = True) -> str:
    with pytest.raises(SourceLoadError) as info:
        _load(session, url)
    msg = str(info.value)
    # issue 18: the caption-file hint only where importing a file can help
    assert (".vtt" in msg and ".srt" in msg) == hint, msg
    assert "Traceback" not in msg and "github.com" not in msg, msg
    assert "http://" not in msg and "https://" not in msg and "key=" not in msg, msg
    assert not re.search(r"\b[A-Z][a-z]+(?:Error|Exception)\b|KeyError|ParseError", msg), msg  # no class names
    return msg


def test_captions_disabled_says_so_without_a_useless_hint(session: requests.Session) -> None:
    msg = _error(session, "https://www.youtube.com/watch?v=NoCapt10nsX", hint=False)
    assert "NoCapt10nsX" in msg
    assert "captions are turned off" in msg


def test_video_unavailable(session: requests.Session) -> None:
    msg = _error(session, "https://youtu.be/Gone0000000", hint=False)
    assert "Gone0000000" in msg and "unavailable" in msg


@pytest.mark.parametrize(
    ("video_id", "expected"),
    [
        ("AgeR3strict", "age-restricted"),
        ("BotCheck123", "blocking requests from this network"),
        ("Unplayable1", "cannot be played (Video unavailable; The uploader has not made this video available"),
        ("PoT0kenReqd", "requires a browser token"),
    ],
)
def test_other_caption_failures(session: requests.Session, video_id: str, expected: str) -> None:
    assert expected in _error(session, f"https://www.youtube.com/watch?v={video_id}")


def test_server_unreachable_is_reported_as_offline() -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = _session(port)
    try:
        msg = _error(closed, "https://www.youtube.com/watch?v=Wd9tK3manEN")
    finally:
        closed.close()
    assert "could not be reached" in msg and "offline" in msg


def test_too_many_requests_429(session: requests.Session, fake_youtube: FakeYouTube) -> None:
    fake_youtube.overrides["/watch"] = (429, "text/html", (FIXTURES / "blocked.html").read_bytes())
    msg = _error(session, "https://www.youtube.com/watch?v=Wd9tK3manEN")
    assert "blocking requests" in msg and "try again later" in msg


def test_recaptcha_block_page(session: requests.Session, fake_youtube: FakeYouTube) -> None:
    fake_youtube.overrides["/watch"] = (200, "text/html", (FIXTURES / "blocked.html").read_bytes())
    assert "blocking requests" in _error(session, "https://www.youtube.com/watch?v=Wd9tK3manEN")


def test_server_error_on_the_transcript(session: requests.Session, fake_youtube: FakeYouTube) -> None:
    fake_youtube.overrides["/api/timedtext"] = (503, "text/html", b"<html>Service Unavailable</html>")
    msg = _error(session, "https://www.youtube.com/watch?v=Wd9tK3manEN")
    assert "YouTube answered with an error (503" in msg


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/timedtext", b"<transcript><text start='0' dur='1'>unclosed"),
        ("/youtubei/v1/player", b"<html>not json</html>"),
        ("/watch", b"<html><body>a page without the api key</body></html>"),
    ],
)
def test_garbled_responses_never_leak_raw_exceptions(
    session: requests.Session, fake_youtube: FakeYouTube, path: str, body: bytes
) -> None:
    fake_youtube.overrides[path] = (200, "text/html", body)
    msg = _error(session, "https://www.youtube.com/watch?v=Wd9tK3manEN")
    assert "could not be understood" in msg
