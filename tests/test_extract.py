"""Golden extraction: every article page of the snapshot against its expected fields."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from html import escape

import pytest

from monitor import extract
from monitor.config import load_settings
from monitor.extract import extract_article, parse_listing
from monitor.fetch import decode
from monitor.models import ArticleRules, Entry, Fetched, ListingRules
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


# ---- the next listing page: the configured selector, else common pager shapes


def _ci_pager(current: int, last: int, rel: bool = False, active: bool = True) -> str:
    """A CodeIgniter pager as SOURCES.md reports thaigov's: `?per_page=<offset>`,
    `data-ci-pagination-page`, the next link's text `&gt;`, `rel="next"` only sometimes."""
    items = []
    for n in range(1, last + 1):
        mark = " class='active'" if n == current and active else ""
        href = f"/list?per_page={(n - 1) * 10}" if n > 1 else "/list"
        items.append(f"<li{mark}><a href='{href}' data-ci-pagination-page='{n}'>{n}</a></li>")
    if current < last:
        rel_next = " rel='next'" if rel else ""
        items.append(
            f"<li><a href='/list?per_page={current * 10}' data-ci-pagination-page='{current + 1}'"
            f"{rel_next}>&gt;</a></li>"
            f"<li><a href='/list?per_page={(last - 1) * 10}' data-ci-pagination-page='{last}'>"
            "Last &rsaquo;</a></li>"
        )
    return f"<ul class='pagination color2 pagination-sm'>{''.join(items)}</ul>"


PAGERS = {
    "codeigniter-no-rel": ("/list", _ci_pager(1, 5), "/list?per_page=10", "pager text"),
    "codeigniter-rel": ("/list", _ci_pager(1, 5, rel=True), "/list?per_page=10", "rel=next"),
    "codeigniter-page-3": ("/list?per_page=20", _ci_pager(3, 5), "/list?per_page=30", "pager text"),
    "codeigniter-last": ("/list?per_page=40", _ci_pager(5, 5), "", ""),
    "codeigniter-last-unmarked": ("/list?per_page=40", _ci_pager(5, 5, active=False), "", ""),
    "codeigniter-strong-current": (
        "/list?per_page=10",
        "<div class='pagination'><a href='/list'>1</a><strong>2</strong>"
        "<a href='/list?per_page=20'>3</a><a href='/list?per_page=990'>Last ›</a></div>",
        "/list?per_page=20",
        "page number",
    ),
    "link-rel-next-in-head": (
        "/list",
        "<link rel='next' href='/list?page=2'>",
        "/list?page=2",
        "rel=next",
    ),  # fmt: skip
    "thai-next-text": (
        "/list?page=4",
        "<div class='pager'><a href='?page=3'>ก่อนหน้า</a> <a href='?page=5'>หน้าถัดไป</a></div>",
        "/list?page=5",
        "pager text",
    ),
    "next-label-only": (
        "/list",
        "<nav aria-label='Pagination'><a href='/list?page=2' aria-label='Next page'>"
        "<i class='icon'></i></a></nav>",
        "/list?page=2",
        "pager text",
    ),
    "raquo-is-last-page": (
        "/list?page=2",
        "<nav aria-label='Page navigation'><a href='?page=1'>1</a><span class='current'>2</span>"
        "<a href='?page=3'>3</a><a href='?page=9'>»</a></nav>",
        "/list?page=3",
        "page number",
    ),
    "wordpress": (
        "/news/page/2/",
        "<nav class='navigation pagination'><div class='nav-links'>"
        "<a class='prev page-numbers' href='/news/'>«</a>"
        "<a class='page-numbers' href='/news/'>1</a>"
        "<span aria-current='page' class='page-numbers current'>2</span>"
        "<a class='page-numbers' href='/news/page/3/'>3</a>"
        "<a class='next page-numbers' href='/news/page/3/'>Next</a></div></nav>",
        "/news/page/3/",
        "pager text",
    ),
    "wordpress-last": (
        "/news/page/3/",
        "<nav class='navigation pagination'><div class='nav-links'>"
        "<a class='prev page-numbers' href='/news/page/2/'>«</a>"
        "<a class='page-numbers' href='/news/'>1</a>"
        "<a class='page-numbers' href='/news/page/2/'>2</a>"
        "<span aria-current='page' class='page-numbers current'>3</span></div></nav>",
        "",
        "",
    ),
    "numbers-only": (
        "/th/page/x?menu=ab&p=1",
        "<div class='Paginationstyled__Wrapper'><a href='?menu=ab&amp;p=1'>1</a>"
        "<a href='?menu=ab&amp;p=2'>2</a></div>",
        "/th/page/x?menu=ab&p=2",
        "page number",
    ),
    "disabled-next-on-last": (
        "/list?page=3",
        "<ul class='pagination'><li><a href='?page=2'>ถัดไป</a></li>"
        "<li class='disabled'><a href='#'>ถัดไป</a></li></ul>",
        "",
        "",
    ),
    "next-to-itself-on-last": (
        "/list?page=3",
        "<ul class='pagination'><li><a href='?page=2'>‹</a></li><li class='active'>"
        "<a href='?page=3'>3</a></li><li><a href='?page=3'>›</a></li></ul>",
        "",
        "",
    ),
    "next-text-pointing-back": (
        "/list?page=3",
        "<div class='pager'><a href='?page=2'>Next</a></div>",
        "",
        "",
    ),
    "offset-only": (
        "/list?start=20",
        "<div class='paging'><a href='?start=0'>‹</a><a href='?start=10'>‹</a>"
        "<a href='?start=30'>›</a></div>",
        "/list?start=30",
        "pager text",
    ),
    "no-pager": ("/list", "<p><a href='/about'>เกี่ยวกับเรา</a> <a href='/list'>ข่าว</a></p>", "", ""),
}


@pytest.mark.parametrize("case", list(PAGERS))
def test_next_page_is_found_from_common_pager_shapes(case: str):
    path, pager, want, rule = PAGERS[case]
    url = "http://x" + path
    html = f"<html><body><div><a class='news' href='/news/1'>ข่าว</a></div>{pager}</body></html>"
    page = Fetched(url=url, final_url=url, status=200, text=html)

    entries, next_page = extract.read_listing(page, ListingRules(links="a.news"))

    assert [e.url for e in entries] == ["http://x/news/1"]
    assert next_page == extract.NextPage("http://x" + want if want else "", rule)


def test_configured_next_page_that_finds_nothing_falls_back():
    url = "http://x/list"
    html = f"<a class='news' href='/news/1'>ข่าว</a>{_ci_pager(1, 3)}"
    page = Fetched(url=url, final_url=url, status=200, text=html)

    rules = ListingRules(links="a.news", next_page="a.no-such-link")
    assert extract.read_listing(page, rules)[1] == ("http://x/list?per_page=10", "pager text")
    rules = ListingRules(links="a.news", next_page="li:nth-child(3) a")
    assert extract.read_listing(page, rules)[1] == ("http://x/list?per_page=20",
                                                    "next_page selector")  # fmt: skip


def test_a_page_without_entries_gets_no_guessed_next_page():
    """A listing whose links are no longer found must stay an error, not a walk on."""
    url = "http://x/list"
    page = Fetched(url=url, final_url=url, status=200, text=_ci_pager(1, 3))

    assert parse_listing(page, ListingRules(links="a.news")) == ([], "")


@pytest.mark.parametrize("rel", [True, False], ids=["rel-next", "no-rel"])
def test_thaigov_legacy_preset_reads_the_reported_pager(rel: bool, monkeypatch):
    url = "http://x/news/contents/category/1?per_page=10"
    html = "<div class='panel-body'><a href='/news/contents/details/1'>ข่าว</a></div>" + _ci_pager(
        2, 4, rel=rel
    ).replace("/list", "/news/contents/category/1")
    page = Fetched(url=url, final_url=url, status=200, text=html)

    fast = extract.read_listing(page, SOURCE.listing)
    _with_soup_only(monkeypatch)
    slow = extract.read_listing(page, SOURCE.listing)

    assert fast == slow
    assert fast[1] == ("http://x/news/contents/category/1?per_page=20", "next_page selector")


# ---- one entry per page: http and https, tracking parameters


def test_listing_gives_one_entry_per_page_whatever_the_scheme():
    html = (
        "<a class='news' href='http://x/news/1'></a>"
        "<a class='news' href='https://x/news/1/?utm_source=fb'>ข่าว หนึ่ง</a>"
        "<a class='news' href='https://x/news/2'>ข่าว สอง</a><a class='news' href='http://x/news/2'>"
    )
    page = Fetched(url="http://x/l", final_url="http://x/l", status=200, text=html)

    entries, _ = parse_listing(page, ListingRules(links="a.news"))

    assert entries == [Entry("http://x/news/1", "ข่าว หนึ่ง"), Entry("https://x/news/2", "ข่าว สอง")]


def test_feed_and_sitemap_give_one_entry_per_page_whatever_the_scheme():
    feed = (
        "<rss version='2.0'><channel><title>f</title>"
        "<item><title>หนึ่ง</title><link>https://x/news/1</link></item>"
        "<item><title>หนึ่ง อีกครั้ง</title><link>http://x/news/1/</link></item>"
        "<item><title>สอง</title><link>http://x/news/2</link></item></channel></rss>"
    )
    sitemap = (
        "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        "<url><loc>http://x/news/1</loc><lastmod>2026-01-02</lastmod></url>"
        "<url><loc>https://x/news/1</loc><lastmod>2026-01-01</lastmod></url></urlset>"
    )

    entries = extract.parse_feed(Fetched("http://x/f", "http://x/f", 200, feed))
    mapped, _ = extract.parse_sitemap(Fetched("http://x/s", "http://x/s", 200, sitemap))

    assert [(e.url, e.title) for e in entries] == [("https://x/news/1", "หนึ่ง"),
                                                   ("http://x/news/2", "สอง")]  # fmt: skip
    assert [(e.url, e.date_text) for e in mapped] == [("http://x/news/1", "2026-01-02")]


# Feeds: fastfeedparser reads what it reads as feedparser would; feedparser the rest.

_FEED_FILES = sorted((CONFIG.parent / "tests" / "data" / "presets").glob("*/feed.xml"))
_SNAPSHOT_FEED = (SNAPSHOT / ROUTES["/rss/dla-asean.xml"]["file"]).read_text(encoding="utf-8")
_RSS = '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
_DATE = "<pubDate>Mon, 07 Oct 2019 10:00:00 +0700</pubDate>"
_CRAFTED = {
    "rss: what feedparser's sanitiser drops": _RSS + "<item><title>ไซเบอร์ ASEAN</title>"
    f"<link>/news/1</link>{_DATE}<description><![CDATA[<p>ย่อหน้า &amp; หนึ่ง<o:p></o:p>ต่อ</p>"
    "<script>x()</script><p>สอง<br/>สาม<wbr>สี่<iframe src=x>ห้า</iframe></p>]]>"
    "</description></item></channel></rss>",
    "rss content:encoded, GMT, guid": _RSS + "<item><title>t</title><guid>https://a.example/g"
    "</guid><pubDate>Mon, 07 Oct 2019 10:00:00 GMT</pubDate><description>short</description>"
    "<content:encoded><![CDATA[<div>long <i>text</i></div>]]></content:encoded></item>"
    "<item><title>u</title><link>https://a.example/u</link><pubDate>7 Oct 19 10:00 +0000"
    "</pubDate></item></channel></rss>",
    "atom html content": '<feed xmlns="http://www.w3.org/2005/Atom"><title>f</title><entry>'
    '<title type="html">A B</title><id>tag:x</id><link rel="alternate" '
    'href="https://a.example/e"/><published>2019-10-07T10:00:00+07:00</published><updated>'
    '2019-10-08T00:00:00Z</updated><summary>s</summary><content type="html">&lt;p&gt;full'
    "&lt;/p&gt;&lt;style&gt;p{}&lt;/style&gt;</content></entry></feed>",
    "rss 1.0": '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http:'
    '//purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel rdf:about="x">'
    '<title>c</title></channel><item rdf:about="https://a.example/r"><title>r</title><link>'
    "https://a.example/r</link><dc:date>2019-10-07T10:00:00.5+07:00</dc:date><description>"
    "d</description></item></rdf:RDF>",
}
# Read by feedparser: what fastfeedparser reads otherwise, or text feedparser changes.
_FEEDPARSER_ONLY = {
    "title with markup": f"{_RSS}<item><title>A &lt;b&gt;B&lt;/b&gt;</title><link>https://a.e"
    f"xample/1</link>{_DATE}</item></channel></rss>",
    "title with &": f"{_RSS}<item><title>A &amp; B</title><link>https://a.example/1</link>"
    f"{_DATE}</item></channel></rss>",
    "bare < in the body": f"{_RSS}<item><title>t</title><link>https://a.example/1</link>"
    f"{_DATE}<description><![CDATA[a < b <p>c</p>]]></description></item></channel></rss>",
    "windows-1252 quote": f"{_RSS}<item><title>t\x93q\x94</title><link>https://a.example/1"
    f"</link>{_DATE}</item></channel></rss>",
    "UTF-8 read as latin-1": f"{_RSS}<item><title>caf\xc3\xa9</title><link>https://a.example"
    f"/1</link>{_DATE}</item></channel></rss>",
    "atom plain text": '<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="html">'
    't</title><id>x</id><link href="https://a.example/e"/><updated>2019-10-07T00:00:00Z'
    "</updated><content>a &lt;script&gt;x&lt;/script&gt; b</content></entry></feed>",
    "an undated entry": f"{_RSS}<item><title>t</title><link>https://a.example/1</link></item>"
    "</channel></rss>",
}


def _feed(text: str) -> Fetched:
    url = "https://feeds.example/feed"
    return Fetched(url=url, final_url=url, status=200, text=text)


def _by_feedparser(text: str) -> list[Entry]:
    fetched = _feed(text)
    return extract._entries(extract._feedparser_rows(fetched), fetched)


@pytest.mark.parametrize(
    "text",
    [f.read_text(encoding="utf-8") for f in _FEED_FILES] + [_SNAPSHOT_FEED, *_CRAFTED.values()],
    ids=[f.parent.name for f in _FEED_FILES] + ["dla-asean snapshot", *_CRAFTED],
)
def test_feed_read_fast_gives_the_entries_feedparser_gives(text: str):
    fast = extract._fast_rows(text)

    assert fast is not None  # read by fastfeedparser, not handed to feedparser
    assert extract._entries(fast, _feed(text)) == _by_feedparser(text)


@pytest.mark.parametrize("text", _FEEDPARSER_ONLY.values(), ids=_FEEDPARSER_ONLY)
def test_feeds_read_otherwise_by_fastfeedparser_are_left_to_feedparser(text: str):
    assert extract._fast_rows(text) is None
    assert extract.parse_feed(_feed(text)) == _by_feedparser(text)


_PIECES = (
    "&amp;", "&nbsp;", "&#3652;", "<b>", "</b>", "<br/>", "<p>", "</p>", "<!-- c -->",
    "<script>x()</script>", "<style>p{}</style>", "<o:p></o:p>", "<wbr>", "<st1:x>s</st1:x>",
    "<iframe src=x>i</iframe>", "<object>o</object>", "<embed src=x>", "<marquee>m</marquee>",
    "<img src=x alt=a>", '<a href="/rel">ลิงก์</a>', "<ul><li>หนึ่ง</li><li>สอง</li></ul>",
    "<table>t<tr><td>ก</td></tr></table>", "<h1><p>h</p></h1>", "<b><i>x</b></i>", "</div>",
    "<svg><title>t</title></svg>", "<math><mi>x</mi></math>", "<applet>a</applet>", "\u200b",
    "\xa0", "😀", "\t", "\n\n", "&lt;tag&gt;", "&bogus;", "<pre>p  re</pre>", "<textarea>t",
)  # fmt: skip


def test_feeds_read_fast_store_the_text_feedparser_gave_whatever_the_markup():
    """Bodies cut from the demo feed with markup dropped in at random (a fixed seed): the
    items are the same, read by either parser, or the feed is left to feedparser."""
    chooser = random.Random(16)
    texts = [e.body for e in _by_feedparser(_SNAPSHOT_FEED)]
    fast = 0
    for n in range(300):
        body = list(chooser.choice(texts)[:400])
        for _ in range(chooser.randint(0, 6)):
            body.insert(chooser.randint(0, len(body)), chooser.choice(_PIECES))
        html = "".join(body)
        cdata = chooser.random() < 0.5 and "]]>" not in html
        value = f"<![CDATA[{html}]]>" if cdata else escape(html, quote=False)
        text = (
            f"{_RSS}<item><title>ข่าว {n}</title><link>https://a.example/{n}</link>{_DATE}"
            f"<description>{value}</description></item></channel></rss>"
        )
        rows = extract._fast_rows(text)
        if rows is not None:
            fast += 1
            (entry,) = extract._entries(rows, _feed(text))
            (expected,) = _by_feedparser(text)
            as_stored = extract.item_from_entry(entry, "s", ArticleRules(), NOW)
            assert as_stored == extract.item_from_entry(expected, "s", ArticleRules(), NOW)
    assert fast > 200  # most of them take the fast path


@pytest.mark.parametrize(
    ("date", "published"),
    [
        ("07/10/2562 13:41", "2019-10-07T06:41:00Z"),  # DD/MM/B.E.: 10 July to fastfeedparser
        ("7 ต.ค. 2562", "2019-10-06T17:00:00Z"),
        ("Mon, 07 Oct 2019 10:00:00", "2019-10-07T03:00:00Z"),  # no zone: Bangkok time
    ],
)
def test_feed_dates_fastfeedparser_reads_otherwise_are_read_as_before(date, published):
    text = (
        _RSS + "<item><title>t</title><link>https://a.example/1</link><pubDate>Mon, 07 Oct 2019 "
        "10:00:00 +0700</pubDate></item><item><title>u</title><link>https://a.example/2</link>"
        f"<pubDate>{date}</pubDate></item></channel></rss>"
    )

    entries = extract.parse_feed(_feed(text))
    item = extract.item_from_entry(entries[1], "s", ArticleRules(), NOW)

    assert entries[1].date_text == date
    assert item.published_at == published
    assert entries[0].date_text == "2019-10-07T03:00:00+00:00"


@pytest.mark.parametrize(
    ("text", "url", "title"),
    [
        (
            '<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://b.example/dir/"><entry>'
            '<title>t</title><id>x</id><link href="page1"/><updated>2019-10-07T00:00:00Z'
            "</updated></entry></feed>",
            "https://b.example/dir/page1",
            "t",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY co "บริษัท">]>' + _RSS + "<item><title>"
            "A &co; B</title><link>https://a.example/1</link><pubDate>Mon, 07 Oct 2019 10:00:00"
            " +0700</pubDate></item></channel></rss>",
            "https://a.example/1",
            "A บริษัท B",
        ),
    ],
    ids=["xml:base", "entity declared"],
)
def test_feeds_with_a_base_or_entities_are_read_as_declared(text, url, title):
    (entry,) = extract.parse_feed(_feed(text))

    assert (entry.url, entry.title) == (url, title)


def test_a_feed_body_naming_a_url_or_a_file_is_never_read(httpserver, tmp_path):
    """feedparser fetches a text that is a URL and opens one that is a path."""
    httpserver.expect_request("/secret").respond_with_data(_CRAFTED["rss 1.0"])
    local = tmp_path / "secret.xml"
    local.write_text(_CRAFTED["rss 1.0"], encoding="utf-8")

    for body in (httpserver.url_for("/secret"), str(local), local.as_uri()):
        with pytest.raises(extract.ExtractError, match="not a readable feed"):
            extract.parse_feed(_feed(body))
    assert httpserver.log == []
