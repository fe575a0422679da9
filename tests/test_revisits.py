# ruff: noqa: F811 (the `sites` fixture is imported from test_failures)
"""Edits are seen: recent pages are fetched again on a schedule, a changed listed title
sends the monitor back to the page, and a feed's summary never replaces a stored page.

Runs go through `run_once` with an injected clock against loopback sites whose pages
change between runs; assertions are what a user sees: the item's text, its revisions,
the run report, and the requests the site received.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from monitor.store import Store
from tests.test_failures import (
    NOW,
    LocalSite,
    _Handler,
    article_html,
    html_source,
    listing_html,
    rss_source,
    run,
    sites,  # noqa: F401 (fixture)
    write_settings,
)

FIRST = "ประกาศรายชื่อหน่วยงานที่ได้รับการรับรองมาตรฐานความมั่นคงปลอดภัยไซเบอร์ จำนวน 12 แห่ง"
CORRECTED = "ประกาศรายชื่อหน่วยงานที่ได้รับการรับรองมาตรฐานความมั่นคงปลอดภัยไซเบอร์ จำนวน 15 แห่ง"


class Page:
    """An article whose body can be changed, served with an ETag and answering 304."""

    def __init__(self, title: str, body: str) -> None:
        self.title, self.body, self.requests, self.not_modified = title, body, 0, 0

    def etag(self) -> str:
        return f'"{abs(hash(self.body))}"'

    def __call__(self, handler: _Handler) -> None:
        self.requests += 1
        if handler.headers.get("If-None-Match") == self.etag():
            self.not_modified += 1
            handler.send_response(304)
            handler.send_header("ETag", self.etag())
            handler.end_headers()
            return
        html = article_html(self.title, body=self.body).encode()
        handler.reply(200, html, {"ETag": self.etag()})


def _site(sites: Callable[[], LocalSite], page: Page, **extra: object) -> tuple[LocalSite, str]:
    site = sites()
    site.routes["/news/list"] = (200, {}, listing_html("/news", 1).encode())
    site.routes["/news/1"] = page
    return site, html_source("news", site.url("/news/list"), **extra)


def _item(settings_path: Path) -> dict:
    store = Store(settings_path)
    try:
        [overview] = store.items_overview()
        return store.item(overview["id"])
    finally:
        store.close()


def _revised_bodies(settings_path: Path) -> list[str]:
    store = Store(settings_path)
    try:
        return [r["body"] for r in store.db.query("SELECT body FROM item_revisions")]
    finally:
        store.close()


def test_a_corrected_paragraph_becomes_a_revision_within_the_window(
    tmp_path: Path, sites: Callable[[], LocalSite]
) -> None:
    page = Page("ข่าว /news ที่ 1", FIRST)
    site, source = _site(sites, page)
    settings = write_settings(tmp_path, source)
    run(settings, NOW)
    page.body = CORRECTED

    _, early, _ = run(settings, NOW + timedelta(minutes=30))  # not due yet
    assert (early["news"].revised, page.requests) == (0, 1)
    _, due, _ = run(settings, NOW + timedelta(minutes=65))
    assert due["news"].revised == 1

    item = _item(settings.db_path)
    assert "15 แห่ง" in item["body"]
    assert ["12 แห่ง" in body for body in _revised_bodies(settings.db_path)] == [True]
    _, again, _ = run(settings, NOW + timedelta(hours=3))  # unchanged since: a 304
    assert (again["news"].revised, page.not_modified) == (0, 1)


def test_an_edit_after_the_window_is_not_looked_for(
    tmp_path: Path, sites: Callable[[], LocalSite]
) -> None:
    page = Page("ข่าว /news ที่ 1", FIRST)
    site, source = _site(sites, page, revisit_hours=6)
    settings = write_settings(tmp_path, source)
    run(settings, NOW)
    for hours in (1, 2, 4):  # checks at 1, 2 and 4 hours: nothing changed
        run(settings, NOW + timedelta(hours=hours, minutes=1))
    checks = page.requests
    page.body = CORRECTED

    for hours in (7, 12, 30):
        _, by_name, _ = run(settings, NOW + timedelta(hours=hours))
        assert by_name["news"].revised == 0
    assert page.requests == checks
    assert "12 แห่ง" in _item(settings.db_path)["body"]


def test_a_title_marked_as_corrected_on_the_listing_is_fetched_at_once(
    tmp_path: Path, sites: Callable[[], LocalSite]
) -> None:
    page = Page("ข่าว /news ที่ 1", FIRST)
    site, source = _site(sites, page, revisit_hours=0)
    settings = write_settings(tmp_path, source)
    run(settings, NOW)
    page.title, page.body = "ข่าว /news ที่ 1 (แก้ไข)", CORRECTED
    listing = listing_html("/news", 1).replace("ที่ 1</a>", "ที่ 1 (แก้ไข)</a>")
    site.routes["/news/list"] = (200, {}, listing.encode())

    _, by_name, _ = run(settings, NOW + timedelta(minutes=5))

    assert by_name["news"].revised == 1
    assert _item(settings.db_path)["title"] == "ข่าว /news ที่ 1 (แก้ไข)"


def test_a_feed_summary_never_replaces_a_page_another_source_stored(
    tmp_path: Path, sites: Callable[[], LocalSite]
) -> None:
    body = FIRST + " " + "รายละเอียดของแต่ละหน่วยงานและเกณฑ์การประเมินตามมาตรฐาน " * 15
    page = Page("ข่าว /news ที่ 1", body)
    site, source = _site(sites, page)
    settings = write_settings(tmp_path, source)
    run(settings, NOW)
    link = site.url("/news/1/?utm_source=feed").replace("127.0.0.1", "127.0.0.1", 1)
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>'
        f"<item><title>ข่าว /news ที่ 1</title><link>{link}</link>"
        f"<description>{FIRST[:60]}…</description></item></channel></rss>"
    )
    site.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, feed.encode())
    settings = write_settings(tmp_path, source + rss_source("feed", site.url("/feed.xml")))

    _, by_name, _ = run(settings, NOW + timedelta(minutes=10))

    assert (by_name["feed"].new, by_name["feed"].revised) == (0, 0)
    item = _item(settings.db_path)
    assert item["body"].startswith(FIRST) and len(item["body"]) > 500
    assert item["revisions"] == []
