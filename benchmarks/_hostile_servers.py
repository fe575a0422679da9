"""Loopback servers and a process runner for `hostile.py`.

- `Site`: a threaded HTTP server on 127.0.0.1 answering fixed routes (status, headers,
  body) or a callable that writes raw bytes itself; it counts every request by path and
  keeps the bodies of POSTs (the Apprise `json://` receiver).
- `Mailbox`: a real SMTP server (aiosmtpd) that keeps every message, and advertises
  AUTH without TLS so a client that logs in over plain text is caught with the password.
- `Proc`: one `python -m monitor ...` child, reaped with `os.wait4` so its own peak RSS
  is known exactly, killed after a deadline or above a memory ceiling.
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

Answer = tuple[int, dict[str, str], bytes]
Route = Answer | Callable[[BaseHTTPRequestHandler], None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the harness prints its own table."""

    def do_GET(self) -> None:  # noqa: N802
        self.server.site.answer(self, head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self.server.site.answer(self, head=True)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.server.site.record_post(self.path, self.rfile.read(length))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: Site

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a killed monitor) is expected here."""


class Site:
    """An HTTP server on 127.0.0.1 with fixed routes; use as a context manager."""

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.hits: Counter[str] = Counter()
        self.posts: list[bytes] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.site = self
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, handler: BaseHTTPRequestHandler, head: bool) -> None:
        with self._lock:
            self.hits[handler.path] += 1
        route = self.routes.get(handler.path)
        if route is None:
            route = (404, {"Content-Type": "text/plain"}, b"not found\n")
        if callable(route):
            route(handler)
            return
        status, headers, body = route
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if not head:
            handler.wfile.write(body)

    def record_post(self, path: str, body: bytes) -> None:
        with self._lock:
            self.hits[path] += 1
            self.posts.append(body)

    def requests_to(self, path: str) -> int:
        with self._lock:
            return self.hits[path]

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def trickle(stopping: threading.Event, seconds: int = 120) -> Callable[[Any], None]:
    """A route that sends a status line, then one header byte per second, never ending it."""

    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        try:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
            handler.wfile.flush()
            for _ in range(seconds):
                if stopping.wait(1):
                    return
                handler.wfile.write(b"X")
                handler.wfile.flush()
        except OSError:  # the client gave up: what the attack hopes for
            return

    return send


class _MailHandler:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.logins: list[tuple[str, str, str]] = []  # (mechanism, login, password)
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = message.get_body(("plain",))  # type: ignore[attr-defined]
        text = str(part.get_content()) if part is not None else ""
        with self.lock:
            self.messages.append((str(message["Subject"] or ""), text))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        login = getattr(auth_data, "login", b"") or b""
        password = getattr(auth_data, "password", b"") or b""
        with self.lock:
            self.logins.append(
                (mechanism, login.decode(errors="replace"), password.decode(errors="replace"))
            )
        return AuthResult(success=True)


class Mailbox:
    """aiosmtpd on 127.0.0.1, AUTH offered without TLS; use as a context manager."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _MailHandler()
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self.handler.authenticate,
            auth_require_tls=False,
        )

    @property
    def messages(self) -> list[tuple[str, str]]:
        with self.handler.lock:
            return list(self.handler.messages)

    @property
    def logins(self) -> list[tuple[str, str, str]]:
        with self.handler.lock:
            return list(self.handler.logins)

    def __enter__(self) -> Mailbox:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def vm_mb(pid: int, key: str = "VmHWM") -> float:
    """VmHWM (peak) or VmRSS of a live process in MB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Proc:
    """One child process, its output in temporary files, reaped with its own rusage."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        # Files, not pipes: a child that writes a lot never blocks on a full pipe.
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err
        )
        self.code: int | None = None
        self.seconds = 0.0
        self.peak_mb = 0.0
        self.timed_out = False
        self.killed_for_memory = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> bool:
        """Whether it has exited (reaping it the first time)."""
        if self.code is not None:
            return True
        pid, status, usage = os.wait4(self.pid, os.WNOHANG)
        if pid == 0:
            self.peak_mb = max(self.peak_mb, vm_mb(self.pid))
            return False
        self._reaped(status, usage)
        return True

    def _reaped(self, status: int, usage: Any) -> None:
        self.code = os.waitstatus_to_exitcode(status)
        self.popen.returncode = self.code
        self.seconds = time.perf_counter() - self.started
        self.peak_mb = max(self.peak_mb, usage.ru_maxrss / 1024)  # kB on Linux

    def wait(self, timeout: float, max_mb: float = 0) -> bool:
        """Wait up to `timeout` seconds; kill it above `max_mb` of RSS; whether it exited."""
        deadline = time.monotonic() + timeout
        while not self.poll():
            if max_mb and vm_mb(self.pid, "VmRSS") > max_mb:
                self.killed_for_memory = True
                self.stop(grace=0)
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self, grace: float = 5) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; reaped either way."""
        if self.poll():
            return
        self.seconds = time.perf_counter() - self.started
        if grace:
            self.popen.send_signal(signal.SIGTERM)
            if self.wait(grace):
                return
        self.popen.send_signal(signal.SIGKILL)
        _, status, usage = os.wait4(self.pid, 0)
        seconds = time.perf_counter() - self.started
        self._reaped(status, usage)
        self.seconds = seconds

    def finish(self, timeout: float, max_mb: float = 0) -> Proc:
        """Wait for the exit; past `timeout` kill it and mark it timed out."""
        if not self.wait(timeout, max_mb):
            self.timed_out = True
            self.stop(grace=0)
            self.seconds = timeout
        return self

    def _read(self, f: Any) -> bytes:
        f.seek(0)
        return bytes(f.read())

    @property
    def stdout_bytes(self) -> bytes:
        return self._read(self._out)

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self._read(self._err).decode("utf-8", errors="replace")

    def close(self) -> None:
        self._out.close()
        self._err.close()
