"""A local stand-in for the Hugging Face hub, enough for huggingface_hub's file downloads.

It answers the requests huggingface_hub 2.x makes for one file (read from its source:
``file_download.get_hf_file_metadata`` and ``http_get``):

* ``HEAD /{repo}/resolve/{revision}/{filename}`` like the hub does for LFS files: a 302 to a CDN URL on
  *another origin* (``localhost`` instead of ``127.0.0.1``, so the client does not follow it and keeps the
  metadata of this response), with ``X-Repo-Commit``, ``X-Linked-Etag`` (the sha256) and ``X-Linked-Size``.
* ``GET /cdn/{sha256}`` on the "CDN": the bytes, with ``Range`` support (206 + ``Content-Range``).
* With ``xet=True``, the Xet headers of Xet-backed repos; a client without hf_xet then GETs ``/resolve``
  and follows the redirect (no Xet server here: a client that tried Xet would fail).
* Errors the way the hub sends them: 404 + ``X-Error-Code: RepoNotFound`` / ``EntryNotFound``,
  401 + ``X-Error-Code: GatedRepo``.

Every request is recorded (method, path, Range header) so tests can assert what the client did.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def guard_loopback_only(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """Make every name lookup other than the loopback fail; returns the list of refused names.

    Also points ``$HF_ENDPOINT`` at a closed local port, so a code path that forgets the test's endpoint
    goes nowhere. Tests assert the returned list is empty at the end.
    """
    blocked: list[str] = []
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK:
            blocked.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"test guard: no network for {name}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    return blocked


@dataclass
class HubFile:
    data: bytes
    sha256: str = ""  # what the hub claims; defaults to the real digest (set another to test checksum checks)
    gated: bool = False
    fail: int = 0  # answer the metadata request with this HTTP status (no X-Error-Code)
    xet: bool = False  # announce Xet storage (X-Xet-Hash, X-Xet-Refresh-Route) like Xet-backed repos do

    def __post_init__(self) -> None:
        self.sha256 = self.sha256 or hashlib.sha256(self.data).hexdigest()


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    authorization: str | None


@dataclass
class FakeHub:
    """Register files with :meth:`add`; ``url`` is the endpoint to hand to the client."""

    files: dict[tuple[str, str], HubFile] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    chunk: int = 64 * 1024  # bytes per write when streaming a body
    delay: float = 0.0  # seconds to sleep between chunks (a slow network)
    server: ThreadingHTTPServer | None = None

    def add(self, repo_id: str, filename: str, data: bytes, **kw: object) -> HubFile:
        f = HubFile(data, **kw)  # type: ignore[arg-type]
        self.files[(repo_id, filename)] = f
        return f

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cdn(self) -> str:
        return f"http://localhost:{self.port}"

    def gets(self) -> list[Request]:
        return [r for r in self.requests if r.method == "GET"]

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_HEAD(self) -> None:  # http.server's naming
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                hub.requests.append(Request(self.command, self.path, self.headers.get("Range"),
                                            self.headers.get("Authorization")))
                try:
                    if self.path.startswith("/cdn/"):
                        self._cdn(self.path.removeprefix("/cdn/"), body)
                    elif "/resolve/" in self.path:
                        self._resolve(body)
                    else:
                        self._error(404, "RepoNotFound", "not a hub route")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away (a cancelled download)

            def _resolve(self, body: bool) -> None:
                repo_id, _, rest = self.path.lstrip("/").partition("/resolve/")
                _revision, _, filename = rest.partition("/")
                if not any(r == repo_id for r, _ in hub.files):
                    return self._error(404, "RepoNotFound", "Repository not found")
                f = hub.files.get((repo_id, filename))
                if f is None:
                    return self._error(404, "EntryNotFound", "Entry not found", commit=True)
                if f.fail:
                    return self._error(f.fail, None, f"HTTP {f.fail}")
                if f.gated:
                    return self._error(401, "GatedRepo", "Access to model is restricted. You must have access"
                                       " to it and be authenticated to access it. Please log in.")
                self.send_response(302)
                self.send_header("Location", f"{hub.cdn}/cdn/{f.sha256}")
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("X-Linked-Etag", f'"{f.sha256}"')
                self.send_header("X-Linked-Size", str(len(f.data)))
                self.send_header("ETag", '"not-the-file-etag"')
                if f.xet:
                    self.send_header("X-Xet-Hash", "ab" * 32)
                    self.send_header("X-Xet-Refresh-Route", f"/api/models/{repo_id}/xet-read-token/{COMMIT}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _cdn(self, sha: str, body: bool) -> None:
                f = next((f for f in hub.files.values() if f.sha256 == sha), None)
                if f is None:
                    return self._error(404, None, "no such blob")
                start, total = 0, len(f.data)
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes=") and rng.endswith("-"):
                    start = int(rng[6:-1])
                    if start >= total:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{total}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(total - start))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if not body:
                    return
                for i in range(start, total, hub.chunk):
                    self.wfile.write(f.data[i:i + hub.chunk])
                    self.wfile.flush()
                    if hub.delay:
                        time.sleep(hub.delay)

            def _error(self, status: int, code: str | None, message: str, commit: bool = False) -> None:
                payload = json.dumps({"error": message}).encode()
                self.send_response(status)
                if code:
                    self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
                if commit:
                    self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), name="fake-hub", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
