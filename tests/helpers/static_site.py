"""A small web site on 127.0.0.1 for loader and GUI tests (the web loader fetches loopback; nothing leaves
the machine): HTML pages by path prefix, 404 for anything else."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["serve_pages"]


@contextmanager
def serve_pages(pages: Mapping[str, bytes]) -> Iterator[str]:
    """Serve ``pages`` (path prefix -> HTML body) until the block ends; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
            pass

        def do_GET(self) -> None:  # the stdlib's name
            body = next((b for prefix, b in pages.items() if self.path.startswith(prefix)), None)
            code = 200 if body is not None else 404
            body = body if body is not None else b"<html><body>gone</body></html>"
            self.send_response(code)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
