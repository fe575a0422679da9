"""Sources that survive the real web: every failure mode served by a real server on 127.0.0.1.

Each test runs a failing source next to a healthy one (on its own host, so robots.txt,
Retry-After and per-host politeness of the failing host cannot touch it) and asserts what a
user sees: the one-line error of the run report, the `source_status` row, and that the healthy
source still stored its items. Normal HTTP answers come from pytest-httpserver; streaming,
truncation, hanging and trickling answers come from `LocalSite`, a small threaded
`http.server` whose routes may write raw bytes.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.config import Settings, load_settings
from monitor.fetch import Fetcher
from monitor.models import RunReport, SourceReport
from monitor.pipeline import run_once
from monitor.report import format_run
from monitor.store import Store
from tests.conftest import ROOT, free_port, write_config

NOW = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)
MAX_BYTES = 100_000
BIG = 20_000_000  # 20 MB streamed by the "huge body" routes
FAKE_DNS_HOST = "news.thaigov.invalid"  # never resolved: socket.getaddrinfo is patched


# ---------------------------------------------------------------- local servers


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        site: LocalSite = self.server.site  # type: ignore[attr-defined]
        site.log.append((self.path, time.monotonic(), dict(self.headers)))
        route = site.routes.get(self.path.split("?")[0])
        if route is None:
            self.reply(404, b"not found")
        elif callable(route):
            route(self)
        else:
            status, headers, body = route
            self.reply(status, body, headers)

    def reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": "text/html; charset=utf-8", **(headers or {})}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client hung up on purpose (cap, timeout): not a test failure


Route = tuple[int, dict[str, str], bytes] | Callable[[_Handler], None]


class LocalSite:
    """A threaded HTTP server on 127.0.0.1 with a route table; its own host (port)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[tuple[str, float, dict[str, str]]] = []
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.site = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def requested(self, path: str) -> int:
        return sum(1 for p, _, _ in self.log if p == path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sites() -> Iterator[Callable[[], LocalSite]]:
    made: list[LocalSite] = []

    def make() -> LocalSite:
        made.append(LocalSite())
        return made[-1]

    yield make
    for site in made:
        site.close()


# ---------------------------------------------------------------- pages and configs


def listing_html(prefix: str, count: int) -> str:
    links = "".join(
        f'<li><a class="news" href="{prefix}/{n}">ข่าว {prefix} ที่ {n}</a></li>'
        for n in range(1, count + 1)
    )
    return f"<html><head><title>ข่าว</title></head><body><ul>{links}</ul></body></html>"


def article_html(title: str, date: str = "5 มกราคม 2569", body: str = "") -> str:
    body = body or f"เนื้อหาข่าว {title} การประชุมความร่วมมืออาเซียน"
    return (
        f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"
        f'<p class="date">{date}</p><div class="body"><p>{body}</p></div></body></html>'
    )


def html_source(name: str, url: str, **extra: object) -> str:
    own = "".join(f"{key} = {json.dumps(value)}\n" for key, value in extra.items())
    return f"""
[sources.{name}]
kind = "html"
url = "{url}"
{own}
[sources.{name}.listing]
links = "a.news"

[sources.{name}.article]
title = "h1"
date = "p.date"
body = "div.body"
"""


def rss_source(name: str, url: str) -> str:
    return f'\n[sources.{name}]\nkind = "rss"\nurl = "{url}"\nfetch_articles = false\n'


def serve_listing(site: LocalSite, prefix: str, count: int = 2, encoding: str = "utf-8") -> str:
    """Serve a listing of `count` articles under `prefix` on `site`; return the listing URL."""
    content_type = "text/html" if encoding != "utf-8" else "text/html; charset=utf-8"
    headers = {"Content-Type": content_type}
    site.routes[f"{prefix}/list"] = (200, headers, listing_html(prefix, count).encode(encoding))
    for n in range(1, count + 1):
        page = article_html(f"ข่าว {prefix} ที่ {n}").encode(encoding)
        site.routes[f"{prefix}/{n}"] = (200, headers, page)
    return site.url(f"{prefix}/list")


@pytest.fixture
def good(sites: Callable[[], LocalSite]) -> str:
    """TOML of a healthy two-article source on a host of its own."""
    return html_source("good", serve_listing(sites(), "/good"))


def write_settings(
    tmp_path: Path,
    sources: str,
    timeout: float = 5,
    max_bytes: int = MAX_BYTES,
    max_workers: int = 4,
    extra_fetch: str = "",
) -> Settings:
    """A config through tests.conftest.write_config, with the [fetch] keys a failure test needs."""
    fetch = (
        f'user_agent = "thai-news-monitor-tests/1"\ntimeout_seconds = {timeout}\n'
        f"max_bytes = {max_bytes}\nmax_workers = {max_workers}\n{extra_fetch}"
    )
    return load_settings(write_config(tmp_path, sources, fetch=fetch))


def run(
    settings: Settings, now: datetime = NOW, fetcher: Fetcher | None = None, force: bool = False
) -> tuple[RunReport, dict[str, SourceReport], dict[str, dict]]:
    store = Store(settings.db_path)
    try:
        report = run_once(settings, store, fetcher, now=now, force=force)
        status = {row["source"]: row for row in store.source_status()}
    finally:
        store.close()
    return report, {s.source: s for s in report.sources}, status


def assert_good_ran(by_name: dict[str, SourceReport], status: dict[str, dict]) -> None:
    good = by_name["good"]
    assert not good.error and not good.skipped and good.new == 2, good
    assert status["good"]["consecutive_failures"] == 0
    assert status["good"]["last_success_at"]


def assert_failed_once(
    report: RunReport, by_name: dict[str, SourceReport], status: dict[str, dict], expected: str
) -> str:
    """The source `bad` failed with a one-line reason holding `expected`, seen everywhere."""
    error = by_name["bad"].error
    assert expected in error, error
    assert "\n" not in error
    row = status["bad"]
    assert row["last_error"] == error
    assert row["consecutive_failures"] == 1
    assert row["last_success_at"] is None
    assert row["items_last_run"] == 0
    assert row["last_error_at"] == "2026-01-10T03:00:00Z"
    assert expected in format_run(report)
    assert by_name["bad"] in report.failed_sources
    return error


def local(server: HTTPServer, path: str) -> str:
    """A URL on the pytest-httpserver by address: no name is ever resolved."""
    return f"http://127.0.0.1:{server.port}{path}"


def no_robots(server: HTTPServer) -> None:
    server.expect_request("/robots.txt").respond_with_data("", status=404)


# ---------------------------------------------------------------- HTTP answers (pytest-httpserver)


def _cloudflare(status: int) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        body = (
            "<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
            '<body><div id="challenge-platform"></div></body></html>'
        )
        return Response(
            body, status=status, headers={"cf-mitigated": "challenge", "Server": "cloudflare"},
            content_type="text/html; charset=UTF-8",
        )  # fmt: skip

    return handler


HTTP_CASES = {
    "404": (lambda s: s.respond_with_data("gone", status=404), "HTTP 404 NOT FOUND"),
    "410": (lambda s: s.respond_with_data("gone", status=410), "HTTP 410"),
    "500": (lambda s: s.respond_with_data("oops", status=500), "HTTP 500 INTERNAL SERVER ERROR"),
    "502": (lambda s: s.respond_with_data("bad gateway", status=502), "HTTP 502"),
    "cloudflare-403": (lambda s: s.respond_with_handler(_cloudflare(403)), "bot check"),
    "cloudflare-503": (lambda s: s.respond_with_handler(_cloudflare(503)), "bot check"),
    "redirect-other-host": (
        lambda s: s.respond_with_data(
            "", status=301, headers={"Location": "http://www.example.invalid/news"}
        ),
        "redirected to another host: http://www.example.invalid/news",
    ),
    "redirect-loop": (
        lambda s: s.respond_with_data("", status=302, headers={"Location": "/bad/list?x=1"}),
        "redirect loop",
    ),
    "png-listing": (
        lambda s: s.respond_with_data(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, content_type="image/png"),
        "unexpected content type 'image/png'",
    ),
    "binary-garbage-as-html": (
        lambda s: s.respond_with_data(
            random.Random(874).randbytes(50_000), content_type="text/html"
        ),
        "listing yielded no links (check the listing selectors)",
    ),
}


@pytest.mark.parametrize("case", list(HTTP_CASES))
def test_http_failure_is_recorded_and_the_other_source_runs(
    tmp_path: Path, httpserver: HTTPServer, good: str, case: str
):
    respond, expected = HTTP_CASES[case]
    no_robots(httpserver)
    respond(httpserver.expect_request("/bad/list"))
    settings = write_settings(tmp_path, html_source("bad", local(httpserver, "/bad/list")) + good)

    report, by_name, status = run(settings)

    error = assert_failed_once(report, by_name, status, expected)
    assert error.startswith(local(httpserver, "/bad/list") + ": "), "the line names the URL"
    assert_good_ran(by_name, status)


def test_redirect_loop_stops_after_a_few_requests(
    tmp_path: Path, httpserver: HTTPServer, good: str
):
    no_robots(httpserver)
    hop = iter(range(1000))
    httpserver.expect_request("/bad/list").respond_with_handler(
        lambda r: Response("", status=302, headers={"Location": f"/bad/list?hop={next(hop)}"})
    )
    settings = write_settings(tmp_path, html_source("bad", local(httpserver, "/bad/list")) + good)

    report, by_name, status = run(settings)

    assert_failed_once(report, by_name, status, "redirect loop (too many redirects)")
    assert sum(1 for r, _ in httpserver.log if r.path == "/bad/list") <= 7
    assert_good_ran(by_name, status)


def test_retry_after_429_fails_now_and_refuses_the_host_without_a_request(
    tmp_path: Path, httpserver: HTTPServer, good: str
):
    no_robots(httpserver)
    httpserver.expect_request("/bad/list").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "120"}
    )
    httpserver.expect_request("/other/list").respond_with_data(listing_html("/other", 1))
    sources = (
        html_source("bad", local(httpserver, "/bad/list"))
        + html_source("other", local(httpserver, "/other/list"))
        + good
    )
    settings = write_settings(tmp_path, sources, max_workers=1)  # bad runs before other
    fetcher = Fetcher(settings.fetch)

    report, by_name, status = run(settings, fetcher=fetcher)

    assert_failed_once(report, by_name, status, "HTTP 429 TOO MANY REQUESTS; retry after 120 s")
    other = by_name["other"].error
    assert "host asked us to wait (Retry-After)" in other and " s left" in other
    assert status["other"]["consecutive_failures"] == 1
    assert not [r for r, _ in httpserver.log if r.path == "/other/list"], "no request was made"
    assert_good_ran(by_name, status)

    # Next run, still inside the window (the service shares its Fetcher): no request at all.
    asked = len(httpserver.log)
    _, by_name, status = run(settings, now=NOW + timedelta(minutes=1), fetcher=fetcher)
    assert "host asked us to wait (Retry-After)" in by_name["bad"].error
    assert status["bad"]["consecutive_failures"] == 2
    assert len(httpserver.log) == asked


def test_robots_txt_disallowing_the_listing_is_a_source_error(
    tmp_path: Path, httpserver: HTTPServer, good: str
):
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /bad/\n", content_type="text/plain"
    )
    httpserver.expect_request("/bad/list").respond_with_data(listing_html("/bad", 1))
    settings = write_settings(tmp_path, html_source("bad", local(httpserver, "/bad/list")) + good)

    report, by_name, status = run(settings)

    assert_failed_once(report, by_name, status, "disallowed by robots.txt")
    assert [r.path for r, _ in httpserver.log] == ["/robots.txt"], "the listing was not fetched"
    assert_good_ran(by_name, status)


def test_robots_txt_answering_500_means_disallow_all(
    tmp_path: Path, httpserver: HTTPServer, good: str
):
    httpserver.expect_request("/robots.txt").respond_with_data("oops", status=500)
    httpserver.expect_request("/bad/list").respond_with_data(listing_html("/bad", 1))
    settings = write_settings(tmp_path, html_source("bad", local(httpserver, "/bad/list")) + good)

    report, by_name, status = run(settings)

    error = assert_failed_once(report, by_name, status, "robots.txt unreachable")
    assert "HTTP 500" in error and "RFC 9309" in error
    assert [r.path for r, _ in httpserver.log] == ["/robots.txt"], "the listing was not fetched"
    assert_good_ran(by_name, status)


def test_robots_txt_error_is_retried_on_the_next_run(tmp_path: Path, httpserver: HTTPServer):
    state = {"robots_status": 500}
    httpserver.expect_request("/robots.txt").respond_with_handler(
        lambda r: Response("", status=state["robots_status"])
    )
    httpserver.expect_request("/bad/list").respond_with_data(listing_html("/bad", 1))
    httpserver.expect_request("/bad/1").respond_with_data(article_html("ข่าว robots 1"))
    settings = write_settings(tmp_path, html_source("bad", local(httpserver, "/bad/list")))
    fetcher = Fetcher(settings.fetch)  # the service's shared fetcher
    _, by_name, _ = run(settings, fetcher=fetcher)
    assert "robots.txt unreachable" in by_name["bad"].error

    state["robots_status"] = 404  # the site recovered: no robots.txt, everything allowed
    _, by_name, status = run(settings, now=NOW + timedelta(minutes=30), fetcher=fetcher)

    assert not by_name["bad"].error, by_name["bad"].error
    assert status["bad"]["consecutive_failures"] == 0


def test_not_modified_listing_is_not_parsed_again(
    tmp_path: Path, httpserver: HTTPServer, good: str
):
    no_robots(httpserver)

    def listing(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(listing_html("/bad", 2), headers={"ETag": '"v1"'}, content_type="text/html")

    httpserver.expect_request("/bad/list").respond_with_handler(listing)
    for n in (1, 2):
        httpserver.expect_request(f"/bad/{n}").respond_with_data(
            article_html(f"ข่าว etag {n}"), content_type="text/html; charset=utf-8"
        )
    settings = write_settings(tmp_path, html_source("bad", local(httpserver, "/bad/list")) + good)
    first, by_name, _ = run(settings)
    assert by_name["bad"].new == 2 and not by_name["bad"].not_modified
    asked = len(httpserver.log)

    report, by_name, status = run(settings, now=NOW + timedelta(minutes=30))

    bad = by_name["bad"]
    assert bad.not_modified and bad.found == 0 and bad.new == 0 and not bad.error
    later = [r.path for r, _ in httpserver.log[asked:] if r.path != "/robots.txt"]
    assert later == ["/bad/list"], "no article page fetched"
    assert httpserver.log[-1][0].headers["If-None-Match"] == '"v1"'
    assert status["bad"]["consecutive_failures"] == 0
    assert status["bad"]["last_success_at"] == "2026-01-10T03:30:00Z"
    assert "not modified" in format_run(report)


def test_feed_that_is_not_xml_is_a_source_error(tmp_path: Path, httpserver: HTTPServer, good: str):
    no_robots(httpserver)
    httpserver.expect_request("/feed").respond_with_data(
        "this is not a feed <<<", content_type="application/rss+xml"
    )
    settings = write_settings(tmp_path, rss_source("bad", local(httpserver, "/feed")) + good)

    report, by_name, status = run(settings)

    assert_failed_once(report, by_name, status, "not a readable feed")
    assert_good_ran(by_name, status)


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>ข่าว</title><link>http://127.0.0.1/</link>
<description>ข่าว</description>{items}</channel></rss>"""


def rss_item(n: int, title: str, pub_date: str = "Mon, 05 Jan 2026 09:30:00 +0700") -> str:
    return (
        f"<item><title>{title}</title><link>http://127.0.0.1/feed/{n}</link>"
        f"<pubDate>{pub_date}</pubDate>"
        f"<description>เนื้อหาข่าวหมายเลข {n} เรื่องความร่วมมือด้านไซเบอร์</description></item>"
    )


def test_empty_feed_is_a_success_with_nothing_found(
    tmp_path: Path, httpserver: HTTPServer, good: str
):
    no_robots(httpserver)
    httpserver.expect_request("/feed").respond_with_data(
        RSS.format(items=""), content_type="application/rss+xml"
    )
    settings = write_settings(tmp_path, rss_source("bad", local(httpserver, "/feed")) + good)

    _, by_name, status = run(settings)

    assert not by_name["bad"].error and by_name["bad"].found == 0
    assert status["bad"]["consecutive_failures"] == 0 and status["bad"]["items_last_run"] == 0
    assert_good_ran(by_name, status)


@pytest.mark.parametrize(
    "body",
    [b"", b"<html><head><title>Please log in</title></head><body>login</body></html>"],
    ids=["zero-bytes", "html-page"],
)
def test_feed_url_answering_something_that_is_not_a_feed_is_an_error(
    tmp_path: Path, httpserver: HTTPServer, body: bytes
):
    no_robots(httpserver)
    httpserver.expect_request("/feed").respond_with_data(body, content_type="text/html")
    settings = write_settings(tmp_path, rss_source("bad", local(httpserver, "/feed")))

    _, by_name, status = run(settings)

    assert "not a readable feed" in by_name["bad"].error
    assert status["bad"]["consecutive_failures"] == 1


def test_feed_entries_with_bad_dates_and_empty_titles_are_problems_not_failures(
    tmp_path: Path, httpserver: HTTPServer, good: str
):
    no_robots(httpserver)
    items = (
        rss_item(1, "ข่าวปกติ")
        + rss_item(2, "ข่าวจากอนาคต", "Fri, 01 Jan 2100 09:00:00 +0700")
        + rss_item(3, "ข่าววันที่ไม่มีจริง", "Tue, 31 Feb 2026 10:00:00 +0700")
        + rss_item(4, "   ")
        + rss_item(5, "")
    )
    httpserver.expect_request("/feed").respond_with_data(
        RSS.format(items=items), content_type="application/rss+xml; charset=utf-8"
    )
    settings = write_settings(tmp_path, rss_source("bad", local(httpserver, "/feed")) + good)

    report, by_name, status = run(settings)

    bad = by_name["bad"]
    assert not bad.error and bad.found == 5 and bad.new == 3
    problems = "\n".join(bad.problems)
    assert "http://127.0.0.1/feed/2: date in the future ignored: 2100-01-01" in problems
    assert "http://127.0.0.1/feed/3: unreadable date: 'Tue, 31 Feb 2026" in problems
    assert "http://127.0.0.1/feed/4: feed entry without a title" in problems
    assert "http://127.0.0.1/feed/5: feed entry without a title" in problems
    assert status["bad"]["consecutive_failures"] == 0
    text = format_run(report)
    assert "bad: http://127.0.0.1/feed/2: date in the future ignored" in text
    store = Store(settings.db_path)
    dates = {r["url"]: r["published_at"] for r in store.db.query("SELECT * FROM items")}
    store.close()
    assert dates["http://127.0.0.1/feed/1"] == "2026-01-05T02:30:00Z"
    assert dates["http://127.0.0.1/feed/2"] is None and dates["http://127.0.0.1/feed/3"] is None
    assert_good_ran(by_name, status)


# ---------------------------------------------------------------- listings and articles


def test_listing_that_stops_yielding_links_says_layout_changed(
    tmp_path: Path, sites: Callable[[], LocalSite], good: str
):
    site = sites()
    settings = write_settings(tmp_path, html_source("bad", serve_listing(site, "/bad")) + good)
    _, by_name, status = run(settings)
    assert by_name["bad"].new == 2 and status["bad"]["items_last_run"] == 2

    site.routes["/bad/list"] = (
        200,
        {},
        b"<html><body><div class='v2'>redesign</div></body></html>",
    )
    report, by_name, status = run(settings, now=NOW + timedelta(minutes=30))

    error = by_name["bad"].error
    assert error == (
        f"{site.url('/bad/list')}: listing yielded no links (it gave 2 last run: layout changed?)"
    )
    assert "layout changed?" in format_run(report)
    row = status["bad"]
    assert row["last_error"] == error and row["consecutive_failures"] == 1
    assert row["last_success_at"] == "2026-01-10T03:00:00Z"
    assert not by_name["good"].error and status["good"]["consecutive_failures"] == 0


def test_layout_change_after_a_not_modified_run_still_says_layout_changed(
    tmp_path: Path, httpserver: HTTPServer
):
    no_robots(httpserver)
    state = {"layout": "old"}

    def listing(request: Request) -> Response:
        if state["layout"] == "new":
            return Response("<html><body>redesigned</body></html>", content_type="text/html")
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(listing_html("/bad", 1), headers={"ETag": '"v1"'}, content_type="text/html")

    httpserver.expect_request("/bad/list").respond_with_handler(listing)
    httpserver.expect_request("/bad/1").respond_with_data(article_html("ข่าว 304"))
    settings = write_settings(tmp_path, html_source("bad", local(httpserver, "/bad/list")))
    assert run(settings)[1]["bad"].new == 1
    assert run(settings, now=NOW + timedelta(minutes=30))[1]["bad"].not_modified
    state["layout"] = "new"

    _, by_name, _ = run(settings, now=NOW + timedelta(minutes=60))

    assert "layout changed?" in by_name["bad"].error, by_name["bad"].error


def test_article_without_title_is_a_problem_and_the_other_articles_are_stored(
    tmp_path: Path, sites: Callable[[], LocalSite], good: str
):
    site = sites()
    url = serve_listing(site, "/bad", count=3)
    # Link 2 has no text (an image link) and its page has neither <title> nor <h1>.
    site.routes["/bad/list"] = (
        200,
        {},
        listing_html("/bad", 3).replace("ข่าว /bad ที่ 2", '<img src="/thumb.jpg" alt="">').encode(),
    )
    site.routes["/bad/2"] = (
        200,
        {},
        b'<html><body><div class="body">text only</div></body></html>',
    )
    settings = write_settings(tmp_path, html_source("bad", url) + good)

    report, by_name, status = run(settings)

    bad = by_name["bad"]
    assert not bad.error and bad.new == 2 and bad.found == 3
    assert bad.problems == (f"{site.url('/bad/2')}: article page without a title",)
    assert f"bad: {site.url('/bad/2')}: article page without a title" in format_run(report)
    assert status["bad"]["consecutive_failures"] == 0
    assert_good_ran(by_name, status)


def test_article_page_without_title_is_recorded_even_when_link_text_is_used(
    tmp_path: Path, sites: Callable[[], LocalSite]
):
    site = sites()
    url = serve_listing(site, "/bad", count=1)
    site.routes["/bad/1"] = (
        200,
        {},
        b'<html><body><div class="body">text only</div></body></html>',
    )
    settings = write_settings(tmp_path, html_source("bad", url))

    _, by_name, _ = run(settings)

    assert by_name["bad"].new == 1
    assert any("title" in p for p in by_name["bad"].problems), by_name["bad"].problems


def test_windows_874_pages_without_any_charset_declaration(
    tmp_path: Path, sites: Callable[[], LocalSite], good: str
):
    site = sites()
    url = serve_listing(site, "/bad", count=2, encoding="cp874")
    settings = write_settings(tmp_path, html_source("bad", url) + good)

    _, by_name, status = run(settings)

    assert not by_name["bad"].error and by_name["bad"].new == 2
    store = Store(settings.db_path)
    titles = {r["title"] for r in store.items_overview()}
    hits = store.search("อาเซียน")
    store.close()
    assert {"ข่าว /bad ที่ 1", "ข่าว /bad ที่ 2"} <= titles
    assert len(hits) == 4, "Thai text of the windows-874 pages is searchable"
    assert_good_ran(by_name, status)


def test_malformed_and_truncated_html_is_read_as_far_as_it_goes(
    tmp_path: Path, sites: Callable[[], LocalSite], good: str
):
    site = sites()
    url = site.url("/bad/list")
    site.routes["/bad/list"] = (
        200,
        {},
        b'<html><body><ul><li><a class="news" href="/bad/1">one<li><a class=news href=/bad/2>tw',
    )
    site.routes["/bad/1"] = (
        200,
        {},
        "<html><h1>ข่าวแท็กไม่ปิด<p class=date>5 มกราคม 2569<div class=body><p>เนื้อหา <b>ตัวหนา"
        "<p>ย่อหน้าสอง</i></table>".encode(),
    )
    site.routes["/bad/2"] = (200, {}, "<h1>ข่าวตัดท้าย</h1><div class=body>ครึ่ง".encode())
    settings = write_settings(tmp_path, html_source("bad", url) + good)

    _, by_name, status = run(settings)

    assert not by_name["bad"].error and by_name["bad"].new == 2
    store = Store(settings.db_path)
    rows = {r["title"]: r for r in store.db.query("SELECT * FROM items")}
    store.close()
    assert "ย่อหน้าสอง" in rows["ข่าวแท็กไม่ปิด"]["body"]
    assert rows["ข่าวแท็กไม่ปิด"]["published_at"] == "2026-01-04T17:00:00Z"
    assert "ครึ่ง" in rows["ข่าวตัดท้าย"]["body"]
    assert_good_ran(by_name, status)


def test_invalid_thai_date_on_an_article_is_a_problem(
    tmp_path: Path, sites: Callable[[], LocalSite], good: str
):
    site = sites()
    url = serve_listing(site, "/bad", count=2)
    site.routes["/bad/1"] = (200, {}, article_html("ข่าว 31 ก.พ.", "31 กุมภาพันธ์ 2569").encode())
    site.routes["/bad/2"] = (200, {}, article_html("ข่าวปี 2600", "5 มกราคม 2600").encode())
    settings = write_settings(tmp_path, html_source("bad", url) + good)

    _, by_name, status = run(settings)

    bad = by_name["bad"]
    assert not bad.error and bad.new == 2
    assert f"{site.url('/bad/1')}: unreadable date: '31 กุมภาพันธ์ 2569'" in bad.problems
    assert f"{site.url('/bad/2')}: date in the future ignored: 2057-01-04" in bad.problems
    assert_good_ran(by_name, status)


# ---------------------------------------------------------------- network-level failures


def test_connection_refused(tmp_path: Path, good: str):
    settings = write_settings(
        tmp_path, html_source("bad", f"http://127.0.0.1:{free_port()}/bad/list") + good
    )

    report, by_name, status = run(settings)

    error = assert_failed_once(report, by_name, status, "Connection refused")
    assert "connection failed" in error
    assert_good_ran(by_name, status)


def _fake_dns(monkeypatch: pytest.MonkeyPatch, errno: int, message: str) -> list[str]:
    """Make FAKE_DNS_HOST fail to resolve in this process; every other name resolves as usual."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, *args, **kwargs):  # noqa: ANN001, ANN202
        if isinstance(host, bytes):
            host = host.decode()
        if host == FAKE_DNS_HOST:
            asked.append(host)
            raise socket.gaierror(errno, message)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_dns_failure_names_the_host(tmp_path: Path, good: str, monkeypatch: pytest.MonkeyPatch):
    asked = _fake_dns(monkeypatch, socket.EAI_NONAME, "Name or service not known")
    settings = write_settings(tmp_path, html_source("bad", f"http://{FAKE_DNS_HOST}/list") + good)

    report, by_name, status = run(settings)

    assert_failed_once(report, by_name, status, f"DNS lookup failed for {FAKE_DNS_HOST}")
    assert asked, "the patched resolver was used (no real DNS query)"
    assert_good_ran(by_name, status)


def test_temporary_dns_failure_is_also_called_a_dns_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _fake_dns(monkeypatch, socket.EAI_AGAIN, "Temporary failure in name resolution")
    settings = write_settings(tmp_path, html_source("bad", f"http://{FAKE_DNS_HOST}/list"))

    _, by_name, _ = run(settings)

    assert f"DNS lookup failed for {FAKE_DNS_HOST}" in by_name["bad"].error


def _sleep_then_answer(seconds: float, body: bytes = b"late") -> Callable[[_Handler], None]:
    def route(handler: _Handler) -> None:
        time.sleep(seconds)
        handler.close_connection = True
        handler.reply(200, body)

    return route


def test_timeout(tmp_path: Path, sites: Callable[[], LocalSite], good: str):
    site = sites()
    site.routes["/bad/list"] = _sleep_then_answer(3)
    settings = write_settings(tmp_path, html_source("bad", site.url("/bad/list")) + good, timeout=1)

    started = time.monotonic()
    report, by_name, status = run(settings)

    assert time.monotonic() - started < 2.5, "the request was given up after 1 s"
    assert_failed_once(report, by_name, status, "timed out after 1 s")
    assert_good_ran(by_name, status)


def _huge(content_length: bool, chunked: bool = False) -> Callable[[_Handler], None]:
    """Stream 20 MB of HTML; stop quietly when the client hangs up."""

    def route(handler: _Handler) -> None:
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        if content_length:
            handler.send_header("Content-Length", str(BIG))
        elif chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>\n"
        try:
            for _ in range(BIG // len(chunk)):
                if chunked:
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                else:
                    handler.wfile.write(chunk)
        except OSError:
            pass

    return route


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        (_huge(True), f"body of {BIG} bytes is over the {MAX_BYTES}-byte cap"),
        (_huge(False), f"body is over the {MAX_BYTES}-byte cap"),
        (_huge(False, chunked=True), f"body is over the {MAX_BYTES}-byte cap"),
    ],
    ids=["content-length", "no-length-close", "chunked"],
)
def test_body_over_the_size_cap(
    tmp_path: Path, sites: Callable[[], LocalSite], good: str, route, expected: str
):
    site = sites()
    site.routes["/bad/list"] = route
    settings = write_settings(tmp_path, html_source("bad", site.url("/bad/list")) + good)

    started = time.monotonic()
    report, by_name, status = run(settings)

    assert time.monotonic() - started < 3, "20 MB were not downloaded"
    assert_failed_once(report, by_name, status, expected)
    assert_good_ran(by_name, status)


def test_truncated_body(tmp_path: Path, sites: Callable[[], LocalSite], good: str):
    site = sites()

    def truncated(handler: _Handler) -> None:
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", "50000")
        handler.end_headers()
        handler.wfile.write(listing_html("/bad", 2).encode()[:200])
        handler.wfile.flush()
        handler.connection.shutdown(socket.SHUT_RDWR)

    site.routes["/bad/list"] = truncated
    settings = write_settings(tmp_path, html_source("bad", site.url("/bad/list")) + good)

    report, by_name, status = run(settings)

    assert_failed_once(report, by_name, status, "truncated body")
    assert_good_ran(by_name, status)


def test_trickling_server_is_cut_off_by_the_timeout(tmp_path: Path, sites: Callable[[], LocalSite]):
    site = sites()

    def trickle(handler: _Handler) -> None:
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Connection", "close")
        handler.end_headers()
        try:
            for _ in range(12):  # 3.6 s in all
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.3)
        except OSError:
            pass

    site.routes["/bad/list"] = trickle
    settings = write_settings(tmp_path, html_source("bad", site.url("/bad/list")), timeout=1)

    started = time.monotonic()
    _, by_name, _ = run(settings)

    assert time.monotonic() - started < 2.5
    assert "timed out" in by_name["bad"].error


def test_a_hanging_source_does_not_slow_the_others(tmp_path: Path, sites: Callable[[], LocalSite]):
    first, middle, last = sites(), sites(), sites()
    sources = html_source("first", serve_listing(first, "/first"))
    middle.routes["/hang/list"] = _sleep_then_answer(4)
    sources += html_source("middle", middle.url("/hang/list"))
    sources += html_source("last", serve_listing(last, "/last"))
    settings = write_settings(tmp_path, sources, timeout=2, max_workers=3)

    started = time.monotonic()
    report, by_name, status = run(settings)
    elapsed = time.monotonic() - started

    assert elapsed < 3.0, f"the run took {elapsed:.1f} s"
    assert "timed out after 2 s" in by_name["middle"].error
    assert by_name["first"].new == 2 and by_name["last"].new == 2
    assert not by_name["first"].error and not by_name["last"].error
    # The last source's pages were served while the middle one was still hanging.
    assert max(t for _, t, _ in last.log) - started < 1.5
    assert by_name["first"].seconds < 1.5 and by_name["last"].seconds < 1.5
    assert status["middle"]["consecutive_failures"] == 1
    assert [s.source for s in report.failed_sources] == ["middle"]


# ---------------------------------------------------------------- failures across runs


def _status_cli(settings: Settings) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "status", "--json", "--config", str(settings.path)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout)


def test_consecutive_failures_backoff_and_recovery(
    tmp_path: Path, httpserver: HTTPServer, good: str
):
    no_robots(httpserver)
    state = {"up": False}

    def listing(request: Request) -> Response:
        if not state["up"]:
            return Response("maintenance", status=503)
        return Response(listing_html("/bad", 1), content_type="text/html; charset=utf-8")

    httpserver.expect_request("/bad/list").respond_with_handler(listing)
    httpserver.expect_request("/bad/1").respond_with_data(
        article_html("ข่าวหลังซ่อม"), content_type="text/html; charset=utf-8"
    )
    bad = html_source("bad", local(httpserver, "/bad/list"), interval_minutes=30)
    settings = write_settings(tmp_path, bad + good)

    def listing_requests() -> int:
        return sum(1 for r, _ in httpserver.log if r.path == "/bad/list")

    _, by_name, status = run(settings, NOW)
    assert status["bad"]["consecutive_failures"] == 1
    _, by_name, status = run(settings, NOW + timedelta(minutes=1))  # no backoff after one
    assert "HTTP 503" in by_name["bad"].error
    assert status["bad"]["consecutive_failures"] == 2
    assert listing_requests() == 2

    # Two failures: wait 30 x (2^1 - 1) = 30 minutes after the last error (03:01 UTC).
    report, by_name, status = run(settings, NOW + timedelta(minutes=10))
    skipped = by_name["bad"].skipped
    assert skipped.startswith("backing off after 2 failures until "), skipped
    assert "10:31" in skipped, "the end of the wait, Bangkok time"
    assert "last error: " in skipped and "HTTP 503" in skipped
    assert listing_requests() == 2, "no request while backing off"
    assert status["bad"]["consecutive_failures"] == 2, "a skip is not a failure"
    assert by_name["bad"] in report.failed_sources
    assert not by_name["good"].error and status["good"]["consecutive_failures"] == 0

    code, data = _status_cli(settings)
    assert code == 1, "a failing source needs attention"
    row = {s["source"]: s for s in data["sources"]}["bad"]
    assert row["consecutive_failures"] == 2
    assert "HTTP 503" in row["last_error"] and "\n" not in row["last_error"]
    assert row["last_success_at"] is None and row["items_last_run"] == 0
    assert {s["source"]: s for s in data["sources"]}["good"]["items_last_run"] == 2

    _, by_name, status = run(settings, NOW + timedelta(minutes=32))  # the wait is over
    assert status["bad"]["consecutive_failures"] == 3 and listing_requests() == 3
    # Three failures: 30 x (2^2 - 1) = 90 minutes.
    _, by_name, _ = run(settings, NOW + timedelta(minutes=110))
    assert by_name["bad"].skipped.startswith("backing off after 3 failures")

    state["up"] = True
    _, by_name, status = run(settings, NOW + timedelta(minutes=111), force=True)
    assert not by_name["bad"].error and by_name["bad"].new == 1
    assert status["bad"]["consecutive_failures"] == 0
    assert status["bad"]["last_success_at"] == "2026-01-10T04:51:00Z"
    assert status["bad"]["items_last_run"] == 1

    code, data = _status_cli(settings)
    assert code == 0, data
    assert all(s["consecutive_failures"] == 0 for s in data["sources"])


def test_run_report_shows_a_backing_off_source_as_backing_off(
    tmp_path: Path, httpserver: HTTPServer
):
    no_robots(httpserver)
    httpserver.expect_request("/bad/list").respond_with_data("gone", status=404)
    settings = write_settings(tmp_path, html_source("bad", local(httpserver, "/bad/list")))
    run(settings, NOW)
    run(settings, NOW + timedelta(minutes=1))

    report, by_name, _ = run(settings, NOW + timedelta(minutes=2))

    assert by_name["bad"].skipped
    line = next(line for line in format_run(report).splitlines() if line.startswith("bad"))
    assert "backing off" in line, line
