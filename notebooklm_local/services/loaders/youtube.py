"""YouTube videos (URLs or bare video IDs) as documents built from their captions via youtube-transcript-api."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from notebooklm_local.core.documents import LoadedDocument, SourceRef
from notebooklm_local.core.errors import Cancelled, SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.loaders.transcripts import Cue, cues_to_document

if TYPE_CHECKING:  # requests is imported when a video is fetched, not at start (cold start: ~0.1 s)
    import requests

__all__ = ["YouTubeLoader", "parse_video_id", "canonical_url"]

log = logging.getLogger(__name__)

_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_YOUTUBE_HOSTS = frozenset(
    {
        "youtube.com",
        "m.youtube.com",
        "music.youtube.com",
        "gaming.youtube.com",
        "youtube-nocookie.com",
    }
)
_PATH_PREFIXES = frozenset({"shorts", "embed", "live", "v", "e"})
DEFAULT_TIMEOUT_S = 20.0
IMPORT_HINT = "You can download the video's captions as a .vtt or .srt file and import that file instead."


def parse_video_id(s: str) -> str | None:
    """Extract the 11-character video ID from a YouTube URL or a bare ID.

    Accepts watch URLs (``youtube.com/watch?v=ID&t=42s``, also on ``m.``/``music.`` hosts and with ``v``
    anywhere in the query), ``youtu.be/ID``, ``/shorts/ID``, ``/embed/ID``, ``/live/ID``, ``/v/ID``,
    ``youtube-nocookie.com/embed/ID``, with or without scheme and ``www.``.

    Args:
        s: What the user typed or pasted.

    Returns:
        The video ID, or None when ``s`` is not a YouTube video reference.
    """
    s = s.strip()
    if _VIDEO_ID.fullmatch(s):
        return s
    if not s or any(ch.isspace() for ch in s):
        return None
    if not _SCHEME.match(s):
        s = "https://" + s.lstrip("/")
    try:
        parts = urlsplit(s)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    if host.startswith("www."):
        host = host[4:]
    segments = [p for p in parts.path.split("/") if p]
    candidate: str | None = None
    if host == "youtu.be":
        candidate = segments[0] if segments else None
    elif host in _YOUTUBE_HOSTS:
        if segments[:1] == ["watch"]:
            values = parse_qs(parts.query).get("v")
            candidate = values[0] if values else (segments[1] if len(segments) > 1 else None)
        elif len(segments) >= 2 and segments[0] in _PATH_PREFIXES:
            candidate = segments[1]
    if candidate is not None and _VIDEO_ID.fullmatch(candidate):
        return candidate
    return None


def canonical_url(video_id: str, seconds: float | None = None) -> str:
    """The watch URL of a video, optionally starting at ``seconds``."""
    url = f"https://www.youtube.com/watch?v={video_id}"
    return url if seconds is None else f"{url}&t={int(seconds)}s"


def _default_session() -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter

    class _TimeoutAdapter(HTTPAdapter):
        """An adapter that applies a default timeout, since youtube-transcript-api sets none."""

        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = DEFAULT_TIMEOUT_S
            return super().send(request, **kwargs)

    session = requests.Session()
    adapter = _TimeoutAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class _TitleCatcher:
    """A response hook that keeps the watch page and player responses, to read the title from them."""

    _TITLE_META = re.compile(r'<meta\s+(?:name="title"|property="og:title")\s+content="([^"]*)"')
    _TITLE_TAG = re.compile(r"<title>([^<]*?)(?:\s+-\s+YouTube)?</title>")

    def __init__(self) -> None:
        self.player: requests.Response | None = None
        self.watch: requests.Response | None = None

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        path = urlsplit(response.request.url or "").path
        if path.endswith("/youtubei/v1/player"):
            self.player = response
        elif path.endswith("/watch"):
            self.watch = response

    def title(self) -> str | None:
        try:
            if self.player is not None and self.player.ok:
                title = (self.player.json().get("videoDetails") or {}).get("title")
                if isinstance(title, str) and title.strip():
                    return title.strip()
            if self.watch is not None and self.watch.ok:
                page = self.watch.text
                m = self._TITLE_META.search(page) or self._TITLE_TAG.search(page)
                if m and m.group(1).strip() and m.group(1).strip() != "YouTube":
                    return html.unescape(m.group(1)).strip()
        except Exception:  # the title is a nicety; never fail a load over it
            log.debug("could not read the video title", exc_info=True)
        return None


def _primary(code: str) -> str:
    return code.lower().replace("_", "-").split("-", 1)[0]


class YouTubeLoader:
    """Loads a YouTube video's captions (manual preferred over auto-generated) as timestamped blocks."""

    name = "youtube"
    extensions: tuple[str, ...] = ()

    def __init__(self, languages: Sequence[str] = ("en",), http_client: requests.Session | None = None) -> None:
        """Create the loader.

        Args:
            languages: Preferred caption language codes, most preferred first ("en" also matches "en-GB").
            http_client: The requests session to use (tests route it to a local server); a fresh session
                with a default timeout per load when None.
        """
        self.languages = tuple(languages) or ("en",)
        self._http_client = http_client

    def can_load(self, ref: SourceRef) -> bool:
        """True when ``ref.url`` is a YouTube video URL or a bare video ID."""
        return ref.url is not None and ref.path is None and parse_video_id(ref.url) is not None

    def load(self, ref: SourceRef, cancel: CancelToken) -> LoadedDocument:
        """Fetch the captions and build a "youtube" document.

        Args:
            ref: The source; ``ref.url`` is the video URL or ID.
            cancel: Checked before each network step.

        Returns:
            The document; every block has ``t_start``/``t_end`` and the metadata has ``video_id``, ``url``,
            ``language``, ``language_name``, ``is_generated``, ``duration`` and ``cues``.

        Raises:
            SourceLoadError: Not a YouTube video, no captions, blocked, offline, or any other failure.
            Cancelled: ``cancel`` was set.
        """
        video_id = parse_video_id(ref.url or "")
        if video_id is None:
            raise SourceLoadError(f'"{ref.display}" is not a YouTube video link or video ID.')
        cancel.raise_if_set()
        session = self._http_client if self._http_client is not None else _default_session()
        catcher = _TitleCatcher()
        session.hooks.setdefault("response", []).append(catcher)
        try:
            from youtube_transcript_api import YouTubeTranscriptApi

            api = YouTubeTranscriptApi(http_client=session)
            transcripts = list(api.list(video_id))
            cancel.raise_if_set()
            transcript, fell_back = self._choose(transcripts, video_id)
            fetched = transcript.fetch()
            cancel.raise_if_set()
        except (Cancelled, SourceLoadError):
            raise
        except Exception as exc:  # every failure becomes a clear SourceLoadError
            log.info("YouTube captions for %s failed: %s", video_id, scrub(f"{type(exc).__name__}: {exc}"))
            raise SourceLoadError(_message(exc, video_id)) from exc
        finally:
            try:
                session.hooks["response"].remove(catcher)
            except ValueError:
                pass
            if self._http_client is None:
                session.close()

        title = catcher.title() or f"YouTube video {video_id}"
        cues = [Cue(s.start, s.start + max(s.duration, 0.0), s.text) for s in fetched.snippets]
        flags: list[str] = []
        label = f"{transcript.language} ({transcript.language_code})"
        if fell_back:
            flags.append(f"No captions in {', '.join(self.languages)}; used {label} captions instead.")
        if transcript.is_generated:
            flags.append("These captions were generated automatically by YouTube and may contain errors.")
        original = json.dumps(
            {
                "video_id": video_id,
                "title": title,
                "language": transcript.language_code,
                "language_name": transcript.language,
                "is_generated": transcript.is_generated,
                "snippets": fetched.to_raw_data(),
            },
            ensure_ascii=False,
            indent=1,
        ).encode("utf-8")
        if not any(c.text.strip() for c in cues):
            raise SourceLoadError(f"The {label} captions of YouTube video {video_id} are empty. {IMPORT_HINT}")
        return cues_to_document(
            cues,
            kind="youtube",
            title=title,
            metadata={
                "video_id": video_id,
                "url": canonical_url(video_id),
                "language": transcript.language_code,
                "language_name": transcript.language,
                "is_generated": transcript.is_generated,
            },
            flags=flags,
            original=original,
            original_suffix=".json",
            cancel=cancel,
        )

    def _choose(self, transcripts: Sequence[Any], video_id: str) -> tuple[Any, bool]:
        """Pick manual captions in a preferred language, else auto-generated ones, else any (fell_back=True)."""
        if not transcripts:
            raise SourceLoadError(f"YouTube video {video_id} has no captions. {IMPORT_HINT}")
        for generated in (False, True):
            for lang in self.languages:
                pool = [t for t in transcripts if t.is_generated == generated]
                exact = [t for t in pool if t.language_code.lower() == lang.lower()]
                similar = [t for t in pool if _primary(t.language_code) == _primary(lang)]
                if exact or similar:
                    return (exact or similar)[0], False
        return transcripts[0], True


_URL = re.compile(r"(?:for url:\s*)?https?://\S+", re.IGNORECASE)
_SECRET = re.compile(r"((?:key|api_?key|token|signature|sig)=)[^&\s]+", re.IGNORECASE)


def scrub(text: str) -> str:
    """A message or log line without URLs (which can carry YouTube's API key) or key/token values."""
    return " ".join(_URL.sub("", _SECRET.sub(r"\1…", text)).split()).rstrip(" :;,")


def _message(exc: BaseException, video_id: str) -> str:
    """The user-facing message for a failure while fetching captions: plain words by failure kind, no
    exception class names, no URLs, and the caption-file hint only where importing a file can help."""
    import xml.etree.ElementTree as ET

    import requests
    from youtube_transcript_api import (
        AgeRestricted,
        FailedToCreateConsentCookie,
        InvalidVideoId,
        IpBlocked,
        NoTranscriptFound,
        PoTokenRequired,
        RequestBlocked,
        TranscriptsDisabled,
        VideoUnavailable,
        VideoUnplayable,
        YouTubeDataUnparsable,
        YouTubeRequestFailed,
        YouTubeTranscriptApiException,
    )

    reason: str
    hint = True
    if isinstance(exc, TranscriptsDisabled):
        reason = "captions are turned off for this video, so there are none to read"
        hint = False
    elif isinstance(exc, NoTranscriptFound):
        reason = "the video has no captions"
        hint = False
    elif isinstance(exc, VideoUnavailable | InvalidVideoId):
        reason = "the video is unavailable (it may be private or deleted, or the link is wrong)"
        hint = False
    elif isinstance(exc, AgeRestricted):
        reason = "the video is age-restricted and YouTube only shows its captions to signed-in users"
    elif isinstance(exc, VideoUnplayable):
        details = scrub("; ".join(x for x in [exc.reason or "", *exc.sub_reasons] if x))
        reason = "YouTube says the video cannot be played" + (f" ({details})" if details else "")
    elif isinstance(exc, IpBlocked | RequestBlocked):
        reason = (
            "YouTube is blocking requests from this network (too many requests, or a VPN/cloud address); "
            "try again later"
        )
    elif isinstance(exc, PoTokenRequired):
        reason = "YouTube requires a browser token for this video's captions, which this app cannot provide"
    elif isinstance(exc, FailedToCreateConsentCookie):
        reason = "YouTube's cookie consent page could not be passed"
    elif isinstance(exc, YouTubeRequestFailed):
        reason = f"YouTube answered with an error ({scrub(str(exc.reason))})"
    elif isinstance(exc, YouTubeDataUnparsable):
        reason = "YouTube's page could not be understood (YouTube may have changed; an app update may help)"
    elif isinstance(exc, ET.ParseError):
        reason = ("YouTube's response could not be understood: the captions came back empty or cut off "
                  "(this happens for a while after many requests; try again later)")
    elif isinstance(exc, requests.JSONDecodeError):
        reason = "YouTube's response could not be understood (it was not the expected data)"
    elif isinstance(exc, requests.Timeout):
        reason = "YouTube did not answer in time (you may be offline, or the connection is too slow)"
    elif isinstance(exc, requests.ConnectionError):
        reason = "YouTube could not be reached; you appear to be offline"
    elif isinstance(exc, requests.HTTPError) and exc.response is not None:
        reason = f"YouTube answered with an error (HTTP {exc.response.status_code})"
    elif isinstance(exc, requests.RequestException):
        reason = "a network error occurred"
    elif isinstance(exc, YouTubeTranscriptApiException):
        reason = "the captions could not be retrieved"
    else:  # KeyError, IndexError, ...: data in a shape the caption library did not expect
        reason = "YouTube's response could not be understood (it was not the expected data)"
    message = f"Could not get captions for YouTube video {video_id}: {reason}."
    return f"{message} {IMPORT_HINT}" if hint else message
