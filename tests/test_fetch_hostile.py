"""Hostile servers on loopback: what the caller sees is always one FetchError line.

Charsets that are no text encoding, requests that leave the source's reach (by URL,
by redirect, by DNS), and servers that trickle bytes to hold a fetch for ever.
"""

from __future__ import annotations

import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
from pytest_httpserver import HTTPServer

from monitor.config import FetchSettings, proxies_from
from monitor.errors import FetchError
from monitor.fetch import Fetcher, Session, decode, fetch
from monitor.reach import Reach, address_kind

SETTINGS = FetchSettings(
    user_agent="test-agent/1", timeout_seconds=1, max_bytes=100_000, obey_robots=False
)
THAI = "ความมั่นคงปลอดภัยไซเบอร์"
NOT_TEXT = ["rot13", "base64", "zlib", "hex", "uu", "bz2", "quopri", "idna", "punycode",
            "undefined", "raw_unicode_escape", "unicode_escape", "utf-7"]  # fmt: skip


def _at(server: HTTPServer, path: str = "/p") -> str:
    """The server's URL by its address: url_for names it "localhost"."""
    return f"http://127.0.0.1:{server.port}{path}"


def _refused(call: Callable[[], object]) -> FetchError:
    with pytest.raises(FetchError) as caught:
        call()
    assert "\n" not in str(caught.value)
    return caught.value


# 1. Charsets -------------------------------------------------------------------------


@pytest.mark.parametrize("charset", NOT_TEXT)
@pytest.mark.parametrize("route", ["header", "meta", "xml"])
@pytest.mark.parametrize("body_codec", ["utf-8", "cp874"])
def test_a_charset_that_is_no_text_encoding_falls_back_to_detection(
    httpserver: HTTPServer, charset: str, route: str, body_codec: str
):
    head = {
        "header": "",
        "meta": f'<meta charset="{charset}">',
        "xml": f'<?xml version="1.0" encoding="{charset}"?>',
    }[route]
    content_type = f"text/html; charset={charset}" if route == "header" else "text/html"
    body = f"{head}<html>{THAI}</html>".encode(body_codec)
    httpserver.expect_request("/p").respond_with_data(body, content_type=content_type)

    page = fetch(Session(SETTINGS), httpserver.url_for("/p"), SETTINGS)

    assert THAI in page.text
    assert page.encoding == body_codec, "the codec actually used, not the one declared"


def test_decode_never_raises_for_any_bytes_and_content_type():
    rng = random.Random(874)
    content_types = [f"text/html; charset={name}" for name in NOT_TEXT] + [
        "", ";;;", "charset=", "text/html; charset=\x00", "text/html; charset=utf-8\udcff",
        "text/html; charset=" + "x" * 5000, "text/html; charset=utf-16", "charset=utf_32",
        "text/html; charset='tis-620'", "text/html; charset=\"\"",
    ]  # fmt: skip
    for content_type in content_types:
        for size in (0, 1, 7, 300):
            content = bytes(rng.randrange(256) for _ in range(size))
            text, codec = decode(b'<meta charset="rot13">' + content, content_type)
            assert isinstance(text, str) and codec


# 2. Reach, by URL ---------------------------------------------------------------------

SITE = "http://www.mdes.go.th/news"


@pytest.mark.parametrize(
    ("url", "allowed", "why"),
    [
        ("https://www.mdes.go.th/news/1", (), ""),  # http -> https upgrade
        ("http://MDES.go.th:80/x", (), ""),  # www. and case ignored, default port named
        ("https://mdes.go.th:443/x", (), ""),
        ("http://user:pass@www.mdes.go.th/x", (), ""),  # userinfo ignored
        ("http://www.mdes.go.th@evil.example/", (), "evil.example is another host"),
        ("http://mdes.go.th.evil.example/", (), "another host"),
        ("http://www.mdes.go.th:8080/", (), "port 8080 is not the site's (80)"),
        ("http://www.mdes.go.th:99999/", (), "not a valid port"),
        ("javascript:alert(1)", (), "scheme 'javascript'"),
        ("data:text/html,<p>x</p>", (), "scheme 'data'"),
        ("file:///etc/passwd", (), "scheme 'file'"),
        ("ftp://www.mdes.go.th/x", (), "scheme 'ftp'"),
        ("//www.mdes.go.th/x", (), "scheme '(none)'"),
        ("https://img.cdn.go.th/a.png", ("cdn.go.th",), ""),  # subdomains of an allowed host
        ("https://cdn.go.th:8443/a.png", ("cdn.go.th",), "port 8443 is not allowed"),
        ("http://files.go.th:8443/a", ("files.go.th:8443",), ""),
        ("http://files.go.th/a", ("files.go.th:8443",), "port 80 is not allowed"),
        ("http://notcdn.go.th/a", ("cdn.go.th",), "another host"),
    ],
)
def test_reach_check_compares_scheme_host_and_port(url: str, allowed: tuple[str, ...], why: str):
    reach = Reach(SITE, allowed_hosts=allowed)
    if not why:
        reach.check(url)
        return
    error = _refused(lambda: reach.check(url))
    assert str(error).startswith("outside the source's reach: ")
    assert why in str(error) and error.url == url


def test_a_port_other_than_the_sites_is_refused_even_on_loopback():
    _refused(lambda: Reach("http://127.0.0.1:8000/").check("http://127.0.0.1:8001/"))
    Reach("http://127.0.0.1:8000/").check("https://127.0.0.1:8000/")  # same port, TLS


def test_fetcher_refuses_before_asking_for_robots_txt(httpserver: HTTPServer):
    fetcher = Fetcher(replace(SETTINGS, obey_robots=True))
    reach = Reach("http://news.example/")

    error = _refused(lambda: fetcher.get(_at(httpserver), reach=reach))

    assert "127.0.0.1 is another host" in str(error)
    assert httpserver.log == [], "not a byte was sent, not even for robots.txt"


# 2. Reach, by redirect ----------------------------------------------------------------


@pytest.fixture
def second_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.mark.parametrize("use_reach", [False, True])
@pytest.mark.parametrize(
    ("location", "why"),
    [
        ("file:///etc/passwd", "redirected outside the source's reach (scheme 'file'"),
        ("gopher://127.0.0.1/", "redirected outside the source's reach (scheme 'gopher'"),
        ("OTHER_PORT", "redirected outside the source's reach (port "),
        ("http://169.254.169.254/latest/meta-data/", "redirected to another host"),
    ],
)
def test_a_redirect_out_of_reach_is_refused(
    httpserver: HTTPServer, second_server: HTTPServer, location: str, why: str, use_reach: bool
):
    location = location.replace("OTHER_PORT", _at(second_server, "/"))
    httpserver.expect_request("/p").respond_with_data("", 302, {"Location": location})
    url = _at(httpserver)

    reach = Reach(url) if use_reach else None
    error = _refused(lambda: fetch(Session(SETTINGS), url, SETTINGS, reach=reach))

    assert why in str(error) and error.url == url
    assert second_server.log == []


def test_a_redirect_to_an_allowed_host_and_port_is_followed(
    httpserver: HTTPServer, second_server: HTTPServer
):
    httpserver.expect_request("/p").respond_with_data(
        "", 302, {"Location": f"http://localhost:{second_server.port}/q"}
    )
    second_server.expect_request("/q").respond_with_data("<html>moved</html>")
    reach = Reach(_at(httpserver, "/"), allowed_hosts=(f"localhost:{second_server.port}",))

    page = Fetcher(SETTINGS).get(_at(httpserver), reach=reach)

    assert page.text == "<html>moved</html>"
    assert page.final_url == f"http://localhost:{second_server.port}/q"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[trustme.CA, Path]]:
    authority = trustme.CA()
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    yield authority, bundle


def test_a_redirect_from_https_down_to_http_is_refused(httpserver: HTTPServer, ca):
    authority, bundle = ca
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    secure = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    secure.start()
    try:
        plain = f"http://127.0.0.1:{secure.port}/plain"  # same host and port: only the scheme
        secure.expect_request("/p").respond_with_data("", 301, {"Location": plain})
        secure.expect_request("/ok").respond_with_data("<html>tls</html>")
        settings = replace(SETTINGS, ca_bundle=str(bundle))
        url = f"https://127.0.0.1:{secure.port}/p"

        error = _refused(lambda: fetch(Session(settings), url, settings, reach=Reach(url)))
        page = fetch(Session(settings), url.replace("/p", "/ok"), settings, reach=Reach(url))
    finally:
        secure.clear()
        secure.stop()

    assert str(error) == f"redirected from https down to http: {plain}"
    assert page.text == "<html>tls</html>", "https itself is guarded too"


# 2. Reach, by address (after DNS) -----------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("169.254.169.254", "a link-local address"),
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:10.1.2.3", "a private address"),
        ("fe80::1%eth0", "a link-local address"),
        ("10.0.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd00::1", "a private address"),
        ("0.0.0.0", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "a non-public address"),
        ("8.8.8.8", ""),
        ("2001:4860:4860::8888", ""),
        ("not-an-ip", ""),
    ],
)
def test_address_kinds(ip: str, kind: str):
    assert address_kind(ip) == kind


def test_a_public_site_cannot_reach_a_loopback_address(httpserver: HTTPServer):
    httpserver.expect_request("/p").respond_with_data("secret")
    url = _at(httpserver)
    public = Reach("http://news.example/", allowed_hosts=(f"127.0.0.1:{httpserver.port}",))

    error = _refused(lambda: Fetcher(SETTINGS).get(url, reach=public))
    allowed = Fetcher(SETTINGS).get(url, reach=replace(public, allow_private=True))

    assert str(error) == "outside the source's reach: 127.0.0.1 is a loopback address"
    assert error.url == url
    assert allowed.text == "secret"
    assert len(httpserver.log) == 1, "the refused request sent nothing"


def test_dns_rebinding_is_caught_on_the_connected_socket(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
):
    """news.example resolves to a public address when asked about the site, and to
    127.0.0.1 when urllib3 connects: the socket's peer is what counts."""
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):  # noqa: ANN001, ANN202
        if host == "news.example":
            if port is None:  # the site's own verdict
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0))]
            host = "127.0.0.1"
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    httpserver.expect_request("/p").respond_with_data("secret")
    url = f"http://news.example:{httpserver.port}/p"

    error = _refused(lambda: fetch(Session(SETTINGS), url, SETTINGS))

    assert str(error) == "outside the source's reach: 127.0.0.1 is a loopback address"
    assert httpserver.log == []


def test_a_site_named_localhost_may_reach_loopback(httpserver: HTTPServer):
    httpserver.expect_request("/p").respond_with_data("demo")

    url = f"http://localhost:{httpserver.port}/p"

    assert fetch(Session(SETTINGS), url, SETTINGS).text == "demo"


class _KeepAlive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ports: list[int] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.ports.append(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_a_kept_alive_connection_is_checked_again_for_another_sources_reach():
    handler = type("Handler", (_KeepAlive,), {"ports": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/p"
    public = Reach("http://news.example/", allowed_hosts=(f"127.0.0.1:{server.server_address[1]}",))
    session = Session(SETTINGS)
    try:
        first = fetch(session, url, SETTINGS)  # a loopback site: allowed, kept alive
        error = _refused(lambda: fetch(session, url, SETTINGS, reach=public))
        again = fetch(session, url, SETTINGS)
    finally:
        server.shutdown()
        server.server_close()

    assert first.text == again.text == "ok"
    assert str(error) == "outside the source's reach: 127.0.0.1 is a loopback address"
    assert len(handler.ports) == 2, "the refused request sent nothing on the reused socket"


def test_through_a_proxy_the_peer_is_the_proxy_and_is_not_refused(httpserver: HTTPServer):
    settings = replace(SETTINGS, proxies=proxies_from({"HTTP_PROXY": httpserver.url_for("/")}))
    httpserver.expect_request("/news/1").respond_with_data("<html>via proxy</html>")

    page = fetch(Session(settings), "http://news.example/news/1", settings,
                 reach=Reach("http://news.example/"))  # fmt: skip

    assert page.text == "<html>via proxy</html>"


# 3. One deadline for the whole request ------------------------------------------------


class _RawServer:
    """A TCP server that runs `talk(connection)` for each client, on loopback."""

    def __init__(self, talk: Callable[[socket.socket], None]) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/p"
        self._talk = talk
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(client,), daemon=True).start()

    def _one(self, client: socket.socket) -> None:
        with client:
            try:
                client.recv(65536)
                self._talk(client)
            except OSError:
                pass  # the fetcher hung up: what we want

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], _RawServer]]:
    servers: list[_RawServer] = []

    def start(talk: Callable[[socket.socket], None]) -> _RawServer:
        servers.append(_RawServer(talk))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _header_trickle(client: socket.socket) -> None:
    client.sendall(b"HTTP/1.1 200 OK\r\n")
    while True:
        client.sendall(b"X")
        time.sleep(0.2)


def _body_trickle(client: socket.socket) -> None:
    client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n")
    while True:
        client.sendall(b"x")
        time.sleep(0.2)


def _silent_body(client: socket.socket) -> None:
    client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\nab")
    time.sleep(5)


@pytest.mark.parametrize(
    "talk", [_header_trickle, _body_trickle, _silent_body], ids=["header", "body", "silent-body"]
)
def test_a_trickling_server_cannot_hold_a_fetch_past_its_timeout(raw_server, talk):
    server = raw_server(talk)

    started = time.monotonic()
    error = _refused(lambda: fetch(Session(SETTINGS), server.url, SETTINGS))
    elapsed = time.monotonic() - started

    assert elapsed < 1.5, f"held for {elapsed:.1f} s"
    assert str(error).startswith("timed out after 1 s")
    assert error.url == server.url


def test_the_header_trickle_is_told_as_a_whole_request_timeout(raw_server):
    server = raw_server(_header_trickle)

    error = _refused(lambda: Fetcher(SETTINGS).get(server.url))

    assert str(error) == "timed out after 1 s (whole request)"


def test_redirect_hops_share_one_deadline(raw_server):
    def slow_redirect(client: socket.socket) -> None:
        time.sleep(0.4)
        client.sendall(b"HTTP/1.1 302 Found\r\nLocation: /p" + str(time.monotonic_ns()).encode()
                       + b"\r\nContent-Length: 0\r\n\r\n")  # fmt: skip

    server = raw_server(slow_redirect)

    started = time.monotonic()
    error = _refused(lambda: fetch(Session(SETTINGS), server.url, SETTINGS))

    assert time.monotonic() - started < 1.5
    assert "timed out after 1 s" in str(error)


def test_a_session_works_on_after_the_watchdog_shut_a_socket(raw_server, httpserver: HTTPServer):
    trickle = raw_server(_header_trickle)
    httpserver.expect_request("/p").respond_with_data("fine")
    session = Session(SETTINGS)

    _refused(lambda: fetch(session, trickle.url, SETTINGS))
    pages = [fetch(session, httpserver.url_for("/p"), SETTINGS) for _ in range(3)]
    time.sleep(1.2)  # past the old deadlines: nothing of theirs may touch live sockets
    pages.append(fetch(session, httpserver.url_for("/p"), SETTINGS))

    assert [page.text for page in pages] == ["fine"] * 4


def test_a_nearer_deadline_wakes_the_watchdog_sleeping_until_a_later_one(raw_server):
    """The watchdog sleeps until the earliest deadline in flight: a request starting
    with a nearer one than that must wake it, or it would be cut off 5 s late."""
    server = raw_server(_header_trickle)
    patient = replace(SETTINGS, timeout_seconds=5)
    first = threading.Thread(target=lambda: _refused(lambda: fetch(Session(patient), server.url,
                                                                   patient)))  # fmt: skip
    first.start()
    time.sleep(0.3)  # the first request is in flight; the watchdog sleeps until its deadline

    started = time.monotonic()
    error = _refused(lambda: fetch(Session(SETTINGS), server.url, SETTINGS))

    assert time.monotonic() - started < 2
    assert "timed out after 1 s" in str(error)
    first.join()
