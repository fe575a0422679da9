# ruff: noqa: F811 (the `sites` fixture is imported from test_failures)
"""Nothing missed: pages walked whatever the pager looks like, one fetch per page.

Local sites built like the legacy thaigov site as ../shared/SOURCES.md reports it: a
listing whose first `div.panel-body` holds ten links, a CodeIgniter pager
(`<ul class="pagination color2">`, `?per_page=<offset>`, `data-ci-pagination-page`, the
next link's text `&gt;`, `rel="next"` only sometimes) and article pages whose body
starts with the date line and a view counter written with a thousands separator. The
sources use the `thaigov-legacy` preset as a user would. Tests assert what a user sees:
the run report, the items stored, the requests each server answered, and what
`monitor backfill` prints.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import Settings, load_settings
from monitor.pipeline import Walk, backfill
from monitor.store import Store
from tests.conftest import ROOT, write_config
from tests.test_failures import NOW, LocalSite, run, sites  # noqa: F401 (fixture)

LISTING = "/news/contents/category/1"
PER_PAGE = 10
_TEXT = (
    "รัฐบาล นายกรัฐมนตรี กระทรวง การประชุม ความร่วมมือ เศรษฐกิจ ประชาชน โครงการ งบประมาณ "
    "จังหวัด เกษตรกร การลงทุน สาธารณสุข การศึกษา ท่องเที่ยว พลังงาน คมนาคม แรงงาน ดิจิทัล "
    "สิ่งแวดล้อม น้ำท่วม ภัยแล้ง ชุมชน ผู้สูงอายุ เยาวชน ตำรวจ ทหาร ศาล ภาษี ส่งออก นำเข้า "
    "ข้าว ยางพารา ถนน รถไฟ สนามบิน โรงพยาบาล วัคซีน มหาวิทยาลัย โรงเรียน ตลาด ราคา"
)
WORDS = tuple(_TEXT.split())


def _headline(n: int) -> str:
    return f"ข่าวทำเนียบรัฐบาลลำดับที่ {n} เรื่อง{WORDS[n % len(WORDS)]}"


def _article(n: int) -> str:
    """A legacy thaigov article: date line, view counter with a separator, headline,
    paragraphs of their own, the row of stars and the print link."""
    rng = random.Random(n)
    paragraphs = "".join(
        "<p>" + " ".join(rng.choice(WORDS) for _ in range(40)) + f" ({n}.{p})</p>" for p in range(3)
    )
    counter = f"{rng.randint(1, 9)},{rng.randint(0, 999):03d}"
    return (
        f"<html><head><title>รัฐบาลไทย-ข่าวทำเนียบรัฐบาล-{_headline(n)}</title></head><body>"
        "<span class='Circular headtitle-2 font_level6 color2 col-xs-9 remove-xs'>ด้านสังคม</span>"
        "<div class='border-normal clearfix'><div>วันจันทร์ที่ 5 มกราคม 2569</div>"
        f"<div>{counter}</div><h3>{_headline(n)}</h3>{paragraphs}"
        "<p>*****************</p><a href='#'>พิมพ์</a></div></body></html>"
    )


def _page_url(page: int) -> str:
    return LISTING if page == 1 else f"{LISTING}?per_page={(page - 1) * PER_PAGE}"


def _pager(page: int, pages: int, rel: bool) -> str:
    """CodeIgniter's pager as SOURCES.md reports it; no `>` link on the last page."""
    items = [
        f"<li{' class=active' if n == page else ''}><a href='{_page_url(n)}' "
        f"data-ci-pagination-page='{n}'>{n}</a></li>"
        for n in range(max(1, page - 2), min(pages, page + 2) + 1)
    ]
    if page < pages:
        items.append(
            f"<li><a href='{_page_url(page + 1)}' data-ci-pagination-page='{page + 1}'"
            f"{' rel=next' if rel else ''}>&gt;</a></li>"
            f"<li><a href='{_page_url(pages)}' data-ci-pagination-page='{pages}'>"
            "Last &rsaquo;</a></li>"
        )
    return f"<ul class='pagination color2 pagination-sm'>{''.join(items)}</ul>"


def _listing(page: int, pages: int, rel: bool, first_id: int) -> str:
    ids = range(first_id - (page - 1) * PER_PAGE, first_id - page * PER_PAGE, -1)
    links = "".join(
        f"<div class='row'><a href='/news/contents/details/{i}'>{_headline(i)}</a></div>"
        for i in ids
    )
    popular = "<a href='/news/contents/details/1'>ข่าวยอดนิยม</a>"  # a later panel: not news
    return (
        "<html><head><title>รัฐบาลไทย-ข่าวทำเนียบรัฐบาล-</title></head><body>"
        f"<div class='panel-body'>{links}</div><div class='panel-body'>{popular}</div>"
        f"{_pager(page, pages, rel)}</body></html>"
    )


def _legacy_site(site: LocalSite, pages: int, rel: bool, first_id: int = 1000) -> None:
    """Serve `pages` listing pages of ten articles each, newest (`first_id`) first."""

    def listing(handler) -> None:  # type: ignore[no-untyped-def]
        offset = int(handler.path.partition("per_page=")[2] or 0)
        page = offset // PER_PAGE + 1
        if page > pages:
            handler.reply(404, b"no such page")
        else:
            handler.reply(200, _listing(page, pages, rel, first_id).encode())

    site.routes[LISTING] = listing
    for n in range(first_id - pages * PER_PAGE + 1, first_id + 1):
        site.routes[f"/news/contents/details/{n}"] = (200, {}, _article(n).encode())


def _config(tmp_path: Path, site: LocalSite) -> Path:
    """A monitor.toml with one source on the `thaigov-legacy` preset (max_pages = 3)."""
    source = f'[sources.thaigov]\npreset = "thaigov-legacy"\nurl = "{site.url(LISTING)}"\n'
    fetch = 'user_agent = "thai-news-monitor-tests/1"\ntimeout_seconds = 5\nmax_workers = 1\n'
    return write_config(tmp_path, source, fetch=fetch)


def _items(settings: Settings) -> list[dict]:
    store = Store(settings.db_path)
    try:
        return list(store.db.query("SELECT url, title, body FROM items ORDER BY url"))
    finally:
        store.close()


def _listing_requests(site: LocalSite) -> list[str]:
    return [path for path, _, _ in site.log if path.startswith(LISTING)]


@pytest.mark.parametrize("rel", [True, False], ids=["rel-next", "no-rel"])
def test_a_run_walks_the_reported_pager_three_pages_deep(
    tmp_path: Path, sites: Callable[[], LocalSite], rel: bool
):
    site = sites()
    _legacy_site(site, pages=5, rel=rel)
    settings = load_settings(_config(tmp_path, site))
    assert settings.source("thaigov").max_pages == 3

    report, by_name, status = run(settings)

    thaigov = by_name["thaigov"]
    assert (thaigov.found, thaigov.new, thaigov.failed, thaigov.error) == (30, 30, 0, "")
    assert _listing_requests(site) == [_page_url(1), _page_url(2), _page_url(3)]
    items = _items(settings)
    assert sorted(int(i["url"].rsplit("/", 1)[1]) for i in items) == list(range(971, 1001))
    assert status["thaigov"]["items_last_run"] == 30
    assert not report.failed_sources


def test_the_view_counter_with_a_separator_is_not_stored(
    tmp_path: Path, sites: Callable[[], LocalSite]
):
    site = sites()
    _legacy_site(site, pages=1, rel=False)
    settings = load_settings(_config(tmp_path, site))

    run(settings)

    items = _items(settings)
    assert len(items) == 10
    for item in items:
        first = item["body"].splitlines()[0]
        assert first.startswith(tuple(WORDS)), item["body"][:80]
        assert "," not in item["body"], "the counter (4,023) stayed in the body"


def test_the_last_page_without_a_next_link_ends_the_walk(
    tmp_path: Path, sites: Callable[[], LocalSite]
):
    site = sites()
    _legacy_site(site, pages=2, rel=False)
    settings = load_settings(_config(tmp_path, site))

    report, by_name, _ = run(settings)

    thaigov = by_name["thaigov"]
    assert (thaigov.found, thaigov.new, thaigov.failed, thaigov.error) == (20, 20, 0, "")
    assert _listing_requests(site) == [_page_url(1), _page_url(2)], "no page 3 was invented"
    assert not report.failed_sources


def test_backfill_walks_on_with_the_pager_until_the_last_page(
    tmp_path: Path, sites: Callable[[], LocalSite]
):
    site = sites()
    _legacy_site(site, pages=5, rel=False)
    settings = load_settings(_config(tmp_path, site))
    source = settings.source("thaigov")
    run(settings)  # the regular run stores the three newest pages

    store = Store(settings.db_path)
    try:
        first = backfill(source, settings, store, Walk(3, alert=False), NOW)
        more_after_first = store.walk_cursor("backfill:thaigov")
        second = backfill(source, settings, store, Walk(3, alert=False), NOW)
        more_after_second = store.walk_cursor("backfill:thaigov")
    finally:
        store.close()

    assert (first.sources[0].found, first.sources[0].new) == (30, 0)  # pages 1-3: known
    assert more_after_first == [site.url(_page_url(4))], "more pages remain"
    assert (second.sources[0].found, second.sources[0].new) == (20, 20)  # pages 4 and 5
    assert more_after_second == [], "page 5 has no next link: the end of the history"
    assert len(_items(settings)) == 50
    assert _listing_requests(site).count(_page_url(5)) == 1
    assert _page_url(6) not in _listing_requests(site)


def _backfill_cli(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "backfill", "thaigov", "--pages", "3",
         "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_monitor_backfill_says_the_end_only_at_the_end(
    tmp_path: Path, sites: Callable[[], LocalSite]
):
    site = sites()
    _legacy_site(site, pages=4, rel=False)
    config = _config(tmp_path, site)

    first = _backfill_cli(config)
    second = _backfill_cli(config)

    assert first.returncode == 0, first.stderr
    assert "more pages remain" in first.stdout
    assert "reached the end of the history" not in first.stdout
    assert second.returncode == 0, second.stderr
    assert "reached the end of the history" in second.stdout
    assert len(_items(load_settings(config))) == 40


def test_a_page_linked_by_http_and_https_is_fetched_once(
    tmp_path: Path, sites: Callable[[], LocalSite]
):
    site = sites()
    port = site.server.server_address[1]
    http = f"http://127.0.0.1:{port}/news/contents/details"
    https = f"https://127.0.0.1:{port}/news/contents/details"  # no TLS here: a fetch would fail

    def listing(links: list[str]) -> tuple[int, dict[str, str], bytes]:
        anchors = "".join(
            f"<a href='{u}'>{_headline(int(u.rstrip('/').rsplit('/', 1)[1]))}</a>" for u in links
        )
        page = f"<html><body><div class='panel-body'>{anchors}</div></body></html>"
        return 200, {}, page.encode()

    for n in (1, 2, 3):
        site.routes[f"/news/contents/details/{n}"] = (200, {}, _article(n).encode())
    site.routes[LISTING] = listing([f"{http}/1", f"{https}/1", f"{http}/2", f"{https}/2/"])
    settings = load_settings(_config(tmp_path, site))

    report, by_name, _ = run(settings)

    thaigov = by_name["thaigov"]
    assert (thaigov.found, thaigov.new, thaigov.failed, thaigov.error) == (2, 2, 0, "")
    assert site.requested("/news/contents/details/1") == 1
    assert site.requested("/news/contents/details/2") == 1
    assert not report.failed_sources

    # Later the listing names the stored page by https only, next to a new page.
    site.routes[LISTING] = listing([f"{http}/3", f"{https}/1"])
    report, by_name, _ = run(settings, now=NOW + timedelta(days=10))

    thaigov = by_name["thaigov"]
    assert (thaigov.found, thaigov.new, thaigov.failed, thaigov.error) == (2, 1, 0, "")
    assert site.requested("/news/contents/details/1") == 1, "a stored page was fetched again"
    assert site.requested("/news/contents/details/3") == 1
    assert [i["url"] for i in _items(settings)] == [f"{http}/1", f"{http}/2", f"{http}/3"]
