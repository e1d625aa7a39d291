"""Hostile servers and files for the reliability suite (127.0.0.1 only, bounded in time)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def drip_server(*, headers: bytes | None = None, body_byte_every_s: float = 0.05,
                total_s: float = 30.0, drip_headers: bool = False) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that answers at once, then drips the body one byte at a time.

    Each connection is served for at most ``total_s``; the server stops when the block ends.
    """
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()
    head = headers if headers is not None else (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000000\r\n\r\n")

    def serve(conn: socket.socket) -> None:
        end = time.monotonic() + total_s
        try:
            conn.recv(65536)
            if drip_headers:  # the status line, then a header that never ends, a byte at a time
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not stop.is_set() and time.monotonic() < end:
                    conn.sendall(b"a")
                    time.sleep(body_byte_every_s)
                return
            conn.sendall(head)
            while not stop.is_set() and time.monotonic() < end:
                conn.sendall(b"<")
                time.sleep(body_byte_every_s)
        except OSError:
            pass
        finally:
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}/slow.html"
    finally:
        stop.set()
        t.join(2)
        srv.close()


def bounded(fn, timeout_s: float):  # type: ignore[no-untyped-def]
    """Run ``fn()`` in a thread; fail the test (instead of hanging the suite) when it takes longer."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t0 = time.monotonic()
    t.start()
    t.join(timeout_s)
    if t.is_alive():
        raise AssertionError(f"still running after {timeout_s} s: it hangs")
    box["elapsed"] = time.monotonic() - t0
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value"), box["elapsed"]
