"""Issue 18: YouTube failures in plain words: no exception class names, no URLs or keys, hints only where useful."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from youtube_transcript_api import VideoUnavailable, YouTubeRequestFailed

from notebooklm_local.services.loaders.youtube import _message, scrub

KEYED_URL = "https://www.youtube.com/youtubei/v1/player?key=AIzaSyFAKEKEY123&prettyPrint=false"


def _http_error(code: int) -> requests.HTTPError:
    resp = requests.Response()
    resp.status_code = code
    resp.url = KEYED_URL
    return requests.HTTPError(f"{code} Client Error: Forbidden for url: {KEYED_URL}", response=resp)


@pytest.mark.parametrize(
    ("exc", "expected", "hint"),
    [
        (ET.ParseError("no element found: line 1, column 0"), "captions came back empty", True),
        (KeyError("captions"), "could not be understood", True),
        (IndexError("list index out of range"), "could not be understood", True),
        (_http_error(403), "HTTP 403", True),
        (YouTubeRequestFailed("Wd9tK3manEN", _http_error(403)), "YouTube answered with an error (403", True),
        (VideoUnavailable("Gone0000000"), "private or deleted", False),
    ],
)
def test_messages_are_plain_words(exc: BaseException, expected: str, hint: bool) -> None:
    msg = _message(exc, "Wd9tK3manEN")
    assert expected in msg, msg
    for leak in ("ParseError", "KeyError", "IndexError", "HTTPError", "YouTubeRequestFailed", "http", "AIza", "key="):
        assert leak not in msg, (leak, msg)
    assert (".vtt" in msg) == hint, msg


def test_scrub_removes_urls_and_secrets() -> None:
    assert scrub(f"403 Client Error: Forbidden for url: {KEYED_URL}") == "403 Client Error: Forbidden"
    assert "SECRET" not in scrub("failed with api_key=SECRET&x=1 and token=SECRET")

