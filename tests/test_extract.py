"""Golden extraction: every article page of the snapshot against its expected fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from monitor import extract
from monitor.config import load_settings
from monitor.extract import extract_article, parse_listing
from monitor.fetch import decode
from monitor.models import ArticleRules, Entry, Fetched
from monitor.thai import clean_spaces, parse_thai_date
from tests.conftest import CONFIG, SNAPSHOT

NOW = datetime(2026, 11, 26, tzinfo=UTC)
EXPECTED = json.loads((SNAPSHOT / "expected.json").read_text(encoding="utf-8"))
ROUTES = json.loads((SNAPSHOT / "manifest.json").read_text(encoding="utf-8"))["routes"]
SOURCE = load_settings(CONFIG / "demo.toml").source("thaigov")


def _page(route: str) -> Fetched:
    spec = ROUTES[route]
    text, encoding = decode((SNAPSHOT / spec["file"]).read_bytes(), spec["content_type"])
    url = "http://127.0.0.1" + route
    return Fetched(url=url, final_url=url, status=200, text=text, encoding=encoding)


@pytest.mark.parametrize("expected", EXPECTED["articles"], ids=lambda e: e["route"])
def test_article_page_extracts_as_expected(expected: dict):
    page = _page(expected["route"])

    item = extract_article(page, Entry(page.url), "thaigov", SOURCE.article, NOW)

    assert item.title == expected["title"]
    assert item.category == expected["category"]
    assert item.published_at == parse_thai_date(expected["date_text"]).isoformat().replace(
        "+00:00", "Z"
    )
    assert item.body.startswith(clean_spaces(expected["first_paragraph_start"]))
    assert item.body.endswith(clean_spaces(expected["last_paragraph_end"]))
    assert "\u00a0" not in item.body, "non-breaking-space indentation removed"
    lines = item.body.splitlines()
    assert not any(set(line) == {"*"} for line in lines), "row of stars removed"
    assert "พิมพ์" not in lines, "print link removed"
    assert not any(line.isdigit() for line in lines), "view counter removed"
    assert item.problems == ()


def test_windows_874_page_comes_out_as_thai():
    page = _page(EXPECTED["cp874_route"])

    assert page.encoding == "cp874"
    item = extract_article(page, Entry(page.url), "thaigov", SOURCE.article, NOW)
    assert "\ufffd" not in item.title + item.body
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in item.title)


def test_listing_gives_ten_news_links_in_order_and_the_next_page():
    page = _page("/news/contents/category/1")

    entries, next_url = parse_listing(page, SOURCE.listing)

    assert [e.url.removeprefix("http://127.0.0.1") for e in entries] == EXPECTED["listing_order"][
        :10
    ]
    assert next_url.endswith("/news/contents/category/1?per_page=10")


def test_page_without_expected_markup_still_gives_an_item_with_problems():
    html = "<html><head><title>ข่าว ทดสอบ</title></head><body><p>เนื้อหา ไม่มีวันที่</p></body></html>"
    page = Fetched(url="http://x/a", final_url="http://x/a", status=200, text=html)

    item = extract_article(page, Entry("http://x/a"), "s", ArticleRules(body="div.none"), NOW)

    assert item.title == "ข่าว ทดสอบ" and "เนื้อหา" in item.body
    assert "body selector found nothing; generic extraction used" in item.problems
    assert "no date found" in item.problems


def test_future_date_is_refused_with_a_problem():
    html = "<html><title>t</title><body><div id=d>1 มกราคม 2600</div><p>x</p></body></html>"
    page = Fetched(url="http://x/a", final_url="http://x/a", status=200, text=html)

    item = extract_article(page, Entry("http://x/a"), "s", ArticleRules(date="#d"), NOW)

    assert item.published_at is None
    assert any("future" in p for p in item.problems)


# ---- lxml + cssselect reads pages as BeautifulSoup + soupsieve did

ODD_PAGES = [
    "<title> A\u00a0 <!--x--> B </title><div class=content> x<script>bad()</script> y "
    "<style>.z{}</style><p>\u00a0</p><p>one<br>two</p><ruby>漢<rt>kan</rt></ruby></div>",
    "<html><title>t</title><div class=meta>7 ต.ค. 2562<script>1 ม.ค. 2500</script></div>"
    "<div class=content><p>unclosed <b>bold <i>it</div></body>",
    "<title>T</title><h1 class=title>H<div class=content><table><tr><td>a</td></tr>stray</table>",
    "<title>T</title><header><a class=cat>in header</a></header><div class=content><form>f</form>"
    "<nav>n</nav>text</div><noscript><p>ns</p></noscript>",
    "<title>T</title><div class=meta>\n\n   \n<b> </b>6 ก.ย. 69</div><div class=content>a<p>b<li>c",
    "",
]
ODD_RULES = [
    ArticleRules(title="h1.title", date="div.meta", body="div.content", category="a.cat"),
    ArticleRules(title="title", date="body", body="div.missing", category="header a"),
]


def _with_soup_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "_parse", lambda html, *selectors: extract._Soup(html))


@pytest.mark.parametrize("html", ODD_PAGES + [(SNAPSHOT / "details/22746.html").read_text()])
@pytest.mark.parametrize("rules", ODD_RULES + [SOURCE.article], ids=["odd", "generic", "thaigov"])
def test_lxml_reads_a_page_as_beautifulsoup_did(html: str, rules, monkeypatch):
    page = Fetched(url="http://x/a", final_url="http://x/a", status=200, text=html)
    entry = Entry("http://x/a", title="from the listing")

    fast = extract_article(page, entry, "s", rules, NOW)
    _with_soup_only(monkeypatch)
    slow = extract_article(page, entry, "s", rules, NOW)

    assert fast == slow


def test_lxml_reads_a_listing_as_beautifulsoup_did(monkeypatch):
    html = (
        "<div class=panel-body><a href>empty</a><a href='#top'>anchor</a><a href='/n/1'><img></a>"
        "<a href='/n/1'> One </a><a>no href</a></div><div class=panel-body><a href='/n/2'>2</a>"
        "</div><ul class='  pagination   color1 '><a rel='next' href='?page=2'>next</a></ul>"
    )
    page = Fetched(url="http://x/l", final_url="http://x/l", status=200, text=html)

    fast = parse_listing(page, SOURCE.listing)
    _with_soup_only(monkeypatch)
    slow = parse_listing(page, SOURCE.listing)

    assert fast == slow
    assert fast[1] == "http://x/l?page=2", "class words are compared as soupsieve joins them"


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        (":-soup-contains-own('วันที่ :')", "2016-12-31T17:00:00Z"),  # own text: the span's
        ("p:-soup-contains-own(วันที่)", "2026-09-07T06:41:00Z"),
        (":-soup-contains-own('ลงวันที่', 'วันที่ :')", "2016-12-31T17:00:00Z"),  # soupsieve's
    ],
)
def test_soupsieve_text_selectors_read_as_soupsieve_reads_them(date, expected, monkeypatch):
    html = (
        "<html><title>t</title><body><div>หัวข้อ <span>วันที่ : 1 ม.ค. 2560</span></div>"
        "<p>ลงวันที่ : 07/09/2569 13:41<b>x</b></p></body></html>"
    )
    page = Fetched(url="http://x/a", final_url="http://x/a", status=200, text=html)
    rules = ArticleRules(date=date, body="body")

    fast = extract_article(page, Entry("http://x/a"), "s", rules, NOW)
    _with_soup_only(monkeypatch)
    slow = extract_article(page, Entry("http://x/a"), "s", rules, NOW)

    assert fast == slow
    assert fast.published_at == expected
