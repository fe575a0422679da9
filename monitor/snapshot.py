"""Serve a recorded snapshot of sites on 127.0.0.1, for the demo and the tests.

A snapshot folder holds `manifest.json` (`routes`: "/path?query" -> file and
content type) and the files. Answers carry an ETag and honour If-None-Match, as
real feeds and listings do. Loopback only.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    # Without this, keep-alive responses wait ~40 ms for delayed ACKs (Nagle).
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    routes: dict[str, dict[str, Any]] = {}
    root: Path = Path()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        route = self.routes.get(self.path)
        if route is None:
            self._answer(404, b"not found", "text/plain")
            return
        body = (self.root / route["file"]).read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._answer(200, body, route["content_type"], etag)

    def _answer(self, status: int, body: bytes, content_type: str, etag: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Stay quiet: the demo prints its own summary."""


class SnapshotServer:
    """A threaded HTTP server for one snapshot folder; use as a context manager."""

    def __init__(self, folder: Path, port: int = 0) -> None:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        handler = type("Handler", (_Handler,), {"routes": manifest["routes"], "root": folder})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> SnapshotServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
