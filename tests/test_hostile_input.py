# ruff: noqa: F811 (the `sites` fixture is imported from test_failures)
"""Hostile and broken input never stops a run nor hides a dead source.

Each test runs a hostile source first, with one worker, next to a healthy source on
another host, and asserts what the user sees: the hostile source's recorded error or
problem, the healthy source's items, and the run's exit status (`failed_sources`).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor import extract
from monitor.store import Store
from tests.conftest import ROOT
from tests.test_failures import (
    LocalSite,
    article_html,
    assert_good_ran,
    html_source,
    listing_html,
    rss_source,
    run,
    sites,  # noqa: F401 (fixture)
    write_settings,
)

YEAR_ONE = {
    "date element": lambda: article_html("ข่าวปีที่หนึ่ง", date="1 มกราคม 0001"),
    "body's first line": lambda: (
        "<html><head><title>ข่าวปีที่หนึ่ง</title></head><body><h1>ข่าวปีที่หนึ่ง</h1>"
        '<div class="body"><p>01/01/0001</p><p>เนื้อหาข่าวการประชุมอาเซียน</p></div></body></html>'
    ),
}


def _stored(settings_path: Path, source: str) -> list[dict]:
    store = Store(settings_path)
    try:
        return [r for r in store.db.query("SELECT * FROM items") if r["source"] == source]
    finally:
        store.close()


@pytest.fixture
def good(sites: Callable[[], LocalSite]) -> str:
    site = sites()
    site.routes["/good/list"] = (200, {}, listing_html("/good", 2).encode())
    for n in (1, 2):
        site.routes[f"/good/{n}"] = (200, {}, article_html(f"ข่าว /good ที่ {n}").encode())
    return html_source("good", site.url("/good/list"))


@pytest.mark.parametrize("where", YEAR_ONE)
def test_a_year_one_date_on_a_page_is_a_problem_not_a_crash(
    where: str,
    tmp_path: Path,
    sites: Callable[[], LocalSite],
    good: str,
) -> None:
    site = sites()
    site.routes["/bad/list"] = (200, {}, listing_html("/bad", 1).encode())
    site.routes["/bad/1"] = (200, {}, YEAR_ONE[where]().encode())
    settings = write_settings(tmp_path, html_source("bad", site.url("/bad/list")) + good,
                              max_workers=1)  # fmt: skip
    report, by_name, status = run(settings)
    assert_good_ran(by_name, status)
    assert not by_name["bad"].error and by_name["bad"].new == 1
    assert status["bad"]["consecutive_failures"] == 0
    [item] = _stored(settings.db_path, "bad")
    assert item["published_at"] is None
    if where == "date element":
        assert "unreadable date: '1 มกราคม 0001'" in item["problems"]


def test_year_one_in_a_feed_and_a_sitemap_is_read_as_no_date(
    tmp_path: Path,
    sites: Callable[[], LocalSite],
    good: str,
) -> None:
    site = sites()
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>'
        f"<item><title>ข่าวฟีดปีหนึ่ง</title><link>{site.url('/feed/1')}</link>"
        "<description>ประชุมอาเซียนด้านไซเบอร์</description>"
        "<pubDate>Sat, 01 Jan 0001 00:00:00 +1400</pubDate></item></channel></rss>"
    )
    sitemap = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.url('/map/1')}</loc><lastmod>0001-01-01T00:00:00+01:00</lastmod></url>"
        f"<url><loc>{site.url('/map/2')}</loc><lastmod>2026-01-05</lastmod></url></urlset>"
    )
    site.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, feed.encode())
    site.routes["/sitemap.xml"] = (200, {"Content-Type": "application/xml"}, sitemap.encode())
    for n in (1, 2):
        site.routes[f"/map/{n}"] = (200, {}, article_html(f"ข่าวแผนผัง {n}").encode())
    sitemap_source = (
        f'\n[sources.map]\nkind = "sitemap"\nurl = "{site.url("/sitemap.xml")}"\n'
        '[sources.map.article]\ntitle = "h1"\ndate = "p.date"\nbody = "div.body"\n'
    )
    sources = rss_source("feed", site.url("/feed.xml")) + sitemap_source + good
    settings = write_settings(tmp_path, sources, max_workers=1)
    report, by_name, status = run(settings)
    assert_good_ran(by_name, status)
    assert not by_name["feed"].error and by_name["feed"].new == 1
    assert not by_name["map"].error and by_name["map"].new == 2
    [item] = _stored(settings.db_path, "feed")
    assert item["published_at"] is None and "unreadable date" in item["problems"]


def test_any_exception_in_a_source_is_its_recorded_error_and_the_run_goes_on(
    tmp_path: Path,
    sites: Callable[[], LocalSite],
    good: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug met on one source's input (here a parser raising what no rule foresaw) is
    that source's error: recorded, counted for backoff, shown, and the others run."""
    site = sites()
    bad_url = site.url("/bad/list")
    site.routes["/bad/list"] = (200, {}, listing_html("/bad", 1).encode())
    parse_page = extract.parse_page

    def buggy(fetched, source):  # type: ignore[no-untyped-def]
        if source.name == "bad":
            raise RecursionError("maximum recursion depth exceeded")
        return parse_page(fetched, source)

    monkeypatch.setattr(extract, "parse_page", buggy)
    settings = write_settings(tmp_path, html_source("bad", bad_url) + good, max_workers=1)
    report, by_name, status = run(settings)
    assert_good_ran(by_name, status)
    error = by_name["bad"].error
    assert error.startswith(f"{bad_url}: internal error RecursionError: maximum recursion")
    assert status["bad"]["last_error"] == error
    assert status["bad"]["consecutive_failures"] == 1
    assert [s.source for s in report.failed_sources] == ["bad"]


def test_an_article_that_cannot_be_read_fails_the_run_and_shows_in_status(
    tmp_path: Path,
    sites: Callable[[], LocalSite],
    good: str,
) -> None:
    """A refused article (over the size cap) leaves its source running, but not "healthy":
    the run exits 1 and the status row counts the page and says why."""
    site = sites()
    site.routes["/bad/list"] = (200, {}, listing_html("/bad", 2).encode())
    site.routes["/bad/1"] = (200, {}, article_html("ข่าวปกติ").encode())
    site.routes["/bad/2"] = (200, {}, article_html("ข่าวใหญ่", body="ก" * 200_000).encode())
    settings = write_settings(tmp_path, html_source("bad", site.url("/bad/list")) + good)
    report, by_name, status = run(settings)
    assert_good_ran(by_name, status)
    bad = by_name["bad"]
    assert (bad.new, bad.failed, bad.error) == (1, 1, "")
    assert [s.source for s in report.failed_sources] == ["bad"]
    assert status["bad"]["failed_last_run"] == 1
    assert "/bad/2: body of" in status["bad"]["last_problem"]
    assert "byte cap" in status["bad"]["last_problem"]
    shown = _monitor(tmp_path / "monitor.toml", "status")
    assert shown.returncode == 1
    assert "1 pages failed: body of" in shown.stdout and "/bad/2)" in shown.stdout


def test_script_and_data_links_and_terminal_escapes_never_reach_the_archive(
    tmp_path: Path,
    sites: Callable[[], LocalSite],
    good: str,
) -> None:
    """A feed naming `javascript:`/`data:` links and a page whose canonical link is one
    store nothing under them; escapes and control characters are dropped at extraction."""
    site = sites()
    hostile_title = "ข่าว\x1b]0;pwned\x07\x1b[2J ไซเบอร์\x00\u202e"
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>'
        "<item><title>สคริปต์</title><link>javascript:alert(1)</link><description>x</description></item>"
        "<item><title>ข้อมูล</title><link>data:text/html,hi</link><description>x</description></item>"
        f"<item><title>{hostile_title}</title><link>{site.url('/feed/1')}</link>"
        "<description>เนื้อหา\x1b[31mแดง\x1b[0m</description></item></channel></rss>"
    )
    site.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, feed.encode())
    page = article_html("ข่าวลิงก์").replace(
        "<head>", '<head><link rel="canonical" href="javascript:alert(document.cookie)">'
    )
    site.routes["/bad/list"] = (200, {}, listing_html("/bad", 1).encode())
    site.routes["/bad/1"] = (200, {}, page.encode())
    sources = rss_source("feed", site.url("/feed.xml")) + html_source(
        "bad", site.url("/bad/list")
    ) + good  # fmt: skip
    settings = write_settings(tmp_path, sources)
    report, by_name, status = run(settings)
    assert_good_ran(by_name, status)
    store = Store(settings.db_path)
    try:
        urls = [r["url"] for r in store.db.query("SELECT url FROM item_urls")]
        items = list(store.db.query("SELECT url, title, body FROM items"))
    finally:
        store.close()
    assert urls and all(u.startswith("http://127.0.0.1:") for u in urls), urls
    assert site.url("/bad/1") in [i["url"] for i in items]
    feed_item = next(i for i in items if i["url"] == site.url("/feed/1"))
    assert feed_item["title"] == "ข่าว ไซเบอร์"
    assert feed_item["body"] == "เนื้อหาแดง"


def test_credentials_in_a_source_url_are_not_shown(
    tmp_path: Path,
    sites: Callable[[], LocalSite],
    good: str,
) -> None:
    site = sites()
    port = site.server.server_address[1]
    url = f"http://reader:hunter2@127.0.0.1:{port}/private/list"
    settings = write_settings(tmp_path, html_source("bad", url) + good)
    report, by_name, status = run(settings)
    assert "HTTP 404" in by_name["bad"].error
    assert "hunter2" not in by_name["bad"].error
    assert "hunter2" not in status["bad"]["last_error"]
    assert f"http://***@127.0.0.1:{port}/private/list" in status["bad"]["last_error"]


def _monitor(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args, "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "250"},  # a wide terminal: no cell is cut
    )  # fmt: skip


def _overwrite_pages(db: Path, table: str) -> None:
    """Overwrite the pages of `table` and its indexes as a disk fault would (the schema
    survives, so the file opens)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = [r[0] for r in conn.execute(
        "SELECT pageno FROM dbstat WHERE name IN (SELECT name FROM sqlite_master "
        "WHERE tbl_name = ?)", [table],
    )]  # fmt: skip
    conn.close()
    data = bytearray(db.read_bytes())
    for page in pages:
        data[(page - 1) * size : page * size] = b"\xa5" * size
    db.write_bytes(bytes(data))


def test_a_damaged_database_is_one_line_naming_the_file(tmp_path: Path, good: str) -> None:
    """Pages of the archive overwritten (a disk fault), or a file that is no database at
    all: every command says which file and how to recover it, never a traceback."""
    settings = write_settings(tmp_path, good)
    run(settings)
    config, db = tmp_path / "monitor.toml", settings.db_path
    _overwrite_pages(db, "items")
    expected = f"error: {db} is damaged or not a monitor database ("
    for args in (("status",), ("search", "ข่าว"), ("show", "1"), ("run", "--once")):
        result = _monitor(config, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        line = result.stderr.strip().splitlines()[-1]
        assert line.startswith(expected) and line.endswith(f"then try `sqlite3 {db} .recover`")
    db.write_bytes(b"this is not a database" * 100)
    result = _monitor(config, "status")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"{expected}file is not a database); keep a copy, then try `sqlite3 {db} .recover`"
    )


def test_search_since_year_one_is_refused_in_one_line(tmp_path: Path, good: str) -> None:
    config = tmp_path / "monitor.toml"
    write_settings(tmp_path, good)
    for since in ("1 ม.ค. 0001", "0001-01-01"):
        result = _monitor(config, "search", "--since", since)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert f"'{since}' is not a date" in result.stderr


def _sitemap(site: LocalSite, path: str, body: str, index: bool = False) -> None:
    tag = "sitemapindex" if index else "urlset"
    xml = f'<?xml version="1.0"?><{tag} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    site.routes[path] = (200, {"Content-Type": "application/xml"}, f"{xml}{body}</{tag}>".encode())


def test_a_sitemap_index_with_one_page_a_run_reads_its_newest_sitemap(
    tmp_path: Path, sites: Callable[[], LocalSite], good: str
) -> None:
    """The index is not one of the `max_pages` (default 1): a run reads the index and
    its newest sitemap, and keeps no queue of the hundreds it will never reach."""
    site = sites()
    children = "".join(
        f"<sitemap><loc>{site.url(f'/map-{m}.xml')}</loc><lastmod>2026-0{m}-01</lastmod></sitemap>"
        for m in range(1, 6)
    )
    _sitemap(site, "/index.xml", children, index=True)
    for m in range(1, 6):
        urls = "".join(f"<url><loc>{site.url(f'/a/{m}-{n}')}</loc></url>" for n in (1, 2))
        _sitemap(site, f"/map-{m}.xml", urls)
        for n in (1, 2):
            site.routes[f"/a/{m}-{n}"] = (200, {}, article_html(f"ข่าวเดือน {m} ที่ {n}").encode())
    source = (
        f'\n[sources.map]\nkind = "sitemap"\nurl = "{site.url("/index.xml")}"\n'
        '[sources.map.article]\ntitle = "h1"\ndate = "p.date"\nbody = "div.body"\n'
    )
    settings = write_settings(tmp_path, source + good)
    report, by_name, status = run(settings)
    assert (by_name["map"].found, by_name["map"].new, by_name["map"].error) == (2, 2, "")
    assert sorted(i["title"] for i in _stored(settings.db_path, "map")) == [
        "ข่าวเดือน 5 ที่ 1", "ข่าวเดือน 5 ที่ 2",
    ]  # fmt: skip
    assert site.requested("/map-4.xml") == 0
    store = Store(settings.db_path)
    try:
        assert store.walk_cursor("map") == []
    finally:
        store.close()


def test_links_to_another_local_port_are_never_fetched(
    tmp_path: Path, sites: Callable[[], LocalSite], good: str
) -> None:
    """A listing, a feed and a sitemap on one port link an admin page on another: nothing
    is requested there, the entry is a problem naming the URL, the rest is stored."""
    site, admin = sites(), sites()
    secret = admin.url("/secret-admin")
    admin.routes["/secret-admin"] = (200, {}, article_html("ความลับ ไซเบอร์ อาเซียน").encode())
    listing = listing_html("/bad", 1).replace(
        "</ul>", f'<li><a class="news" href="{secret}">x</a></li></ul>'
    )
    site.routes["/bad/list"] = (200, {}, listing.encode())
    site.routes["/bad/1"] = (200, {}, article_html("ข่าวปกติ").encode())
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>'
        f"<item><title>ลิงก์ลับ</title><link>{secret}</link><description>x</description></item>"
        "</channel></rss>"
    )
    site.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, feed.encode())
    _sitemap(site, "/sitemap.xml", f"<url><loc>{secret}</loc></url>")
    sources = (
        html_source("bad", site.url("/bad/list"))
        + rss_source("feed", site.url("/feed.xml")).replace("false", "true")
        + f'\n[sources.map]\nkind = "sitemap"\nurl = "{site.url("/sitemap.xml")}"\n'
        + good
    )
    settings = write_settings(tmp_path, sources)
    report, by_name, status = run(settings)
    assert_good_ran(by_name, status)
    assert admin.requested("/secret-admin") == 0
    assert by_name["bad"].new == 1
    for name in ("bad", "feed", "map"):
        assert by_name[name].failed == 1, by_name[name]
        assert status[name]["last_problem"] == (
            f"{secret}: outside the source's reach: port {admin.server.server_address[1]} "
            f"is not the site's ({site.server.server_address[1]})"
        )
    titles = [i["title"] for i in _stored(settings.db_path, "bad")]
    assert titles == ["ข่าวปกติ"]


@pytest.mark.parametrize("charset", ["rot13", "base64", "zlib", "idna", "punycode", "undefined"])
def test_a_page_in_a_charset_that_is_no_text_encoding_is_read(
    charset: str, tmp_path: Path, sites: Callable[[], LocalSite], good: str
) -> None:
    site = sites()
    hostile = {"Content-Type": f"text/html; charset={charset}"}
    site.routes["/bad/list"] = (200, hostile, listing_html("/bad", 1).encode())
    site.routes["/bad/1"] = (200, hostile, article_html("ข่าวรหัสแปลก").encode())
    settings = write_settings(tmp_path, html_source("bad", site.url("/bad/list")) + good,
                              max_workers=1)  # fmt: skip
    report, by_name, status = run(settings)
    assert_good_ran(by_name, status)
    assert (by_name["bad"].new, by_name["bad"].error) == (1, "")
    [item] = _stored(settings.db_path, "bad")
    assert item["title"] == "ข่าวรหัสแปลก"
    assert f"charset '{charset}' is not a text encoding; read as utf-8" in item["problems"]
