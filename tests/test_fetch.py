"""Fetching over real loopback HTTP: decoding, conditional GET, and every failure as one line."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.config import FetchSettings, proxies_from
from monitor.errors import FetchError
from monitor.fetch import Session, fetch, proxy_for

SETTINGS = FetchSettings(user_agent="test-agent/1", timeout_seconds=1, max_bytes=100_000)
THAI = "ความมั่นคงปลอดภัยไซเบอร์ อาเซียน"


def _get(server: HTTPServer, path: str = "/p", **kwargs):
    return fetch(Session(SETTINGS), server.url_for(path), SETTINGS, **kwargs)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (f"<html>{THAI}</html>".encode(), "text/html; charset=utf-8"),
        (f"<html>{THAI}</html>".encode("cp874"), "text/html; charset=windows-874"),
        (f"<html>{THAI}</html>".encode("cp874"), "text/html; charset=TIS-620"),
        (
            f'<html><head><meta charset="tis-620"></head>{THAI}</html>'.encode("cp874"),
            "text/html",
        ),
        (
            b'<meta http-equiv="Content-Type" content="text/html; charset=windows-874">'
            + THAI.encode("cp874"),
            "text/html",
        ),
        (f"<html>{THAI}</html>".encode("cp874"), "text/html"),  # declared nowhere
        (f"<html>{THAI}</html>".encode(), "text/html"),  # declared nowhere, UTF-8
    ],
    ids=[
        "utf8",
        "header-874",
        "header-tis620",
        "meta-tis620",
        "meta-874",
        "undeclared-874",
        "undeclared-utf8",
    ],  # fmt: skip
)
def test_thai_text_is_decoded_right(httpserver: HTTPServer, body: bytes, content_type: str):
    httpserver.expect_request("/p").respond_with_data(body, content_type=content_type)

    assert THAI in _get(httpserver).text


def test_user_agent_is_sent(httpserver: HTTPServer):
    httpserver.expect_request("/p", headers={"User-Agent": "test-agent/1"}).respond_with_data("ok")

    assert _get(httpserver).status == 200


def test_a_login_in_the_url_is_sent_as_basic_auth(httpserver: HTTPServer):
    """`https://user:pass@host/` as in requests: urllib3 alone would drop the login."""
    expected = {"Authorization": "Basic cmVhZGVyOnBAc3M="}  # reader:p@ss
    httpserver.expect_request("/p", headers=expected).respond_with_data("ok")
    url = httpserver.url_for("/p").replace("://", "://reader:p%40ss@")

    assert fetch(Session(SETTINGS), url, SETTINGS).text == "ok"


def test_conditional_get_returns_not_modified(httpserver: HTTPServer):
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response("<html>x</html>", headers={"ETag": '"v1"'}, content_type="text/html")

    httpserver.expect_request("/p").respond_with_handler(handler)

    first = _get(httpserver)
    second = _get(httpserver, etag=first.etag)

    assert first.etag == '"v1"' and not first.not_modified
    assert second.not_modified and second.text == ""


def _slow(request: Request) -> Response:
    time.sleep(2)
    return Response("late")


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda s: s.expect_request("/p").respond_with_data("x", status=500), "HTTP 500"),
        (lambda s: s.expect_request("/p").respond_with_data("x", status=404), "HTTP 404"),
        (lambda s: s.expect_request("/p").respond_with_handler(_slow), "timed out"),
        (
            lambda s: s.expect_request("/p").respond_with_data(
                "x", status=302, headers={"Location": "/p"}
            ),
            "redirect loop",
        ),
        (
            lambda s: s.expect_request("/p").respond_with_data(
                "x", status=302, headers={"Location": "http://example.invalid/"}
            ),
            "another host",
        ),
        (lambda s: s.expect_request("/p").respond_with_data(b"x" * 200_000), "cap"),
        (
            lambda s: s.expect_request("/p").respond_with_data(
                "<html><title>Just a moment...</title></html>", status=403
            ),
            "bot check",
        ),
        (
            lambda s: s.expect_request("/p").respond_with_data(
                b"\x89PNG", content_type="image/png"
            ),
            "content type",
        ),
    ],
    ids=["500", "404", "timeout", "redirect-loop", "other-host", "too-big", "challenge", "png"],
)
def test_failures_raise_one_clear_line(httpserver: HTTPServer, setup, reason: str):
    setup(httpserver)

    with pytest.raises(FetchError) as caught:
        _get(httpserver)

    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_connection_refused_is_a_fetch_error():
    with pytest.raises(FetchError, match="connection failed"):
        fetch(Session(SETTINGS), "http://127.0.0.1:9/", SETTINGS)


class _KeepAlive(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive: 304 for the current ETag, else the page; logs client ports."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    ports: list[int] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.ports.append(self.client_address[1])
        if self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.send_header("ETag", '"v1"')
            self.end_headers()
            return
        body = b"<html>x</html>"
        self.send_response(200)
        self.send_header("ETag", '"v1"')
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def keep_alive_server() -> Iterator[tuple[str, list[int]]]:
    handler = type("Handler", (_KeepAlive,), {"ports": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/p", handler.ports
    finally:
        server.shutdown()
        server.server_close()


def test_one_connection_serves_a_page_and_the_304s_after_it(keep_alive_server):
    url, ports = keep_alive_server
    session = Session(SETTINGS)

    first = fetch(session, url, SETTINGS)
    again = [fetch(session, url, SETTINGS, etag=first.etag) for _ in range(3)]

    assert all(page.not_modified for page in again)
    assert len(ports) == 4 and len(set(ports)) == 1, "an unchanged cycle does not reconnect"


def test_proxy_from_the_environment_is_used(httpserver: HTTPServer):
    settings = replace(SETTINGS, proxies=proxies_from({"HTTP_PROXY": httpserver.url_for("/")}))
    httpserver.expect_request("/news/1").respond_with_data("<html>via proxy</html>")

    page = fetch(Session(settings), "http://news.example/news/1", settings)

    assert page.text == "<html>via proxy</html>"
    assert httpserver.log[0][0].headers["Host"] == "news.example"


def test_no_proxy_goes_direct(httpserver: HTTPServer):
    env = {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "localhost,127.0.0.1"}  # 9: closed
    settings = replace(SETTINGS, proxies=proxies_from(env))
    httpserver.expect_request("/p").respond_with_data("direct")

    assert fetch(Session(settings), httpserver.url_for("/p"), settings).text == "direct"


@pytest.mark.parametrize(
    ("env", "url", "proxy"),
    [
        ({"HTTPS_PROXY": "http://p:3128"}, "https://www.thaigov.go.th/news", "http://p:3128"),
        ({"HTTPS_PROXY": "http://p:3128"}, "http://www.thaigov.go.th/news", ""),
        ({"ALL_PROXY": "socks5://p:1080"}, "http://mdes.go.th/", "socks5://p:1080"),
        (
            {"HTTP_PROXY": "http://upper", "http_proxy": "http://lower"},
            "http://a.th/",
            "http://lower",
        ),
        ({"HTTP_PROXY": "http://p", "NO_PROXY": ".go.th"}, "http://www.thaigov.go.th/", ""),
        ({"HTTP_PROXY": "http://p", "NO_PROXY": "go.th"}, "http://www.thaigov.go.th/", ""),
        ({"HTTP_PROXY": "http://p", "NO_PROXY": "*"}, "http://a.th/", ""),
        ({"HTTP_PROXY": "http://p", "NO_PROXY": "b.th"}, "http://a.th/", "http://p"),
        ({"HTTP_PROXY": ""}, "http://a.th/", ""),
    ],
)
def test_proxy_is_chosen_per_host_as_curl_and_urllib_choose(env, url, proxy):
    assert proxy_for(url, dict(proxies_from(env))) == proxy
