"""Turn fetched pages and feeds into entries and items. Pure and tolerant.

A listing gives links (and the next page: the source's `next_page` selector, else
the common pager shapes `find_next` reads, so a walk never depends on one guessed
selector); a feed gives entries, possibly with full text; an article page gives an
`Item`. Listings, feeds and sitemaps give one entry per page (`urls.url_key`: http
and https alike). Odd markup never raises: what can be
read is returned and what could not is recorded in `Item.problems`. Only a page
with no title at all is an `ExtractError`, because nothing useful can be stored.

Pages are parsed by lxml and queried with CSS selectors compiled to XPath
(cssselect): an article of 40 KB takes 0.5 ms where BeautifulSoup over the same
lxml parser took 7 ms, with the same tree and the same text (as `get_text`: text
nodes in document order, no comments, no text of `<script>`, `<style>`,
`<template>` or ruby annotations, blank strings made one space or newline).
soupsieve's `:-soup-contains-own("text")` (the thaigov-new preset's date) is
translated too. A selector that cssselect cannot read (`:contains`, which it reads
otherwise than soupsieve, or several texts to contain) has its page read by
BeautifulSoup, imported only then (2 MB of memory otherwise spared).
"""

from __future__ import annotations

import calendar
import io
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from html import unescape
from typing import Any, NamedTuple, Protocol
from urllib.parse import urljoin, urlsplit

from cssselect import ExpressionError, HTMLTranslator, SelectorError
from cssselect.parser import Function
from cssselect.xpath import XPathExpr
from lxml import etree

from monitor.errors import ExtractError
from monitor.models import ArticleRules, Entry, Fetched, Item, ListingRules, Source
from monitor.pager import find_next
from monitor.thai import clean_spaces, parse_thai_date, read_datetime
from monitor.urls import canonical_url, url_key

FUTURE_TOLERANCE = timedelta(days=2)
_GENERIC_BODY = ("article", "main", "[role=main]", "#content", ".content", "body")
_NOISE_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form")


_HIDDEN = ("script", "style", "template", "rt", "rp")
_VISIBLE_TEXT = etree.XPath(
    "descendant::text()[not(" + " or ".join(f"ancestor::{tag}" for tag in _HIDDEN) + ")]",
    smart_strings=False,
)
_ALL_TEXT = etree.XPath("descendant::text()", smart_strings=False)
_ASCII_SPACES = " \n\t\f\r"
# BeautifulSoup keeps these attributes as lists of words, so soupsieve compares their
# values with the words joined by one space.
_WORD_LISTS = {f"@{a}" for a in ("class", "rel", "rev", "accept-charset", "headers",
                                 "accesskey", "dropzone")}  # fmt: skip


class _Page(Protocol):
    """An HTML page queried with CSS selectors; nodes are the parser's own."""

    def one(self, selector: str, scope: Any = None) -> Any: ...
    def all(self, selector: str, scope: Any = None) -> list[Any]: ...
    def text(self, node: Any = None, separator: str = "", strip: bool = False) -> str: ...
    def attr(self, node: Any, name: str) -> str | None: ...
    def drop(self, tags: tuple[str, ...]) -> None: ...
    def inside(self, node: Any, tags: tuple[str, ...]) -> bool: ...


class _Translator(HTMLTranslator):
    """CSS to XPath, matching as soupsieve matches on BeautifulSoup's tree."""

    def _words(self, xpath: XPathExpr, name: str) -> tuple[XPathExpr, str]:
        if name not in _WORD_LISTS:
            return xpath, name
        return xpath.add_condition(name), f"normalize-space({name})"

    def xpath_attrib_equals(self, xpath: XPathExpr, name: str, value: str | None) -> XPathExpr:
        return super().xpath_attrib_equals(*self._words(xpath, name), value)

    def xpath_attrib_different(self, xpath: XPathExpr, name: str, value: str | None) -> XPathExpr:
        return super().xpath_attrib_different(xpath, self._words(xpath, name)[1], value)

    def xpath_attrib_dashmatch(self, xpath: XPathExpr, name: str, value: str | None) -> XPathExpr:
        return super().xpath_attrib_dashmatch(*self._words(xpath, name), value)

    def xpath_attrib_prefixmatch(self, xpath: XPathExpr, name: str, value: str | None) -> XPathExpr:
        return super().xpath_attrib_prefixmatch(*self._words(xpath, name), value)

    def xpath_attrib_suffixmatch(self, xpath: XPathExpr, name: str, value: str | None) -> XPathExpr:
        return super().xpath_attrib_suffixmatch(*self._words(xpath, name), value)

    def xpath_attrib_substringmatch(
        self, xpath: XPathExpr, name: str, value: str | None
    ) -> XPathExpr:
        return super().xpath_attrib_substringmatch(*self._words(xpath, name), value)

    def xpath__soup_contains_own_function(self, xpath: XPathExpr, function: Function) -> XPathExpr:
        """soupsieve's `:-soup-contains-own("text")`: one of the element's own text nodes
        (not its descendants') holds the text."""
        if function.argument_types() not in (["STRING"], ["IDENT"]):
            raise ExpressionError(f"one text expected in {function!r}")
        value = self.xpath_literal(function.arguments[0].value)
        return xpath.add_condition(f"text()[contains(., {value})]")


_TRANSLATOR = _Translator()


@lru_cache(maxsize=256)
def _compiled(selector: str) -> etree.XPath | None:
    """The selector as XPath; None when only soupsieve reads it (`:-soup-contains-own`,
    and `:contains`, which cssselect reads differently)."""
    if ":contains(" in selector:
        return None
    try:
        return etree.XPath(_TRANSLATOR.css_to_xpath(selector))
    except (SelectorError, etree.XPathError):
        return None


class _Lxml:
    """The tree BeautifulSoup(html, "lxml") builds (libxml2's), without BeautifulSoup."""

    def __init__(self, html: str) -> None:
        parser = etree.HTMLParser()
        parser.feed(html)  # as BeautifulSoup feeds it: one piece
        self.root = parser.close()
        if self.root is None:  # an empty page
            self.root = etree.Element("html")

    def one(self, selector: str, scope: Any = None) -> Any:
        found = self.all(selector, scope)
        return found[0] if found else None

    def all(self, selector: str, scope: Any = None) -> list[Any]:
        found = _compiled(selector)(self.root)  # type: ignore[misc]  # _parse checked it
        if scope is None:
            return list(found)
        inside = set(scope.iterdescendants())  # matched in the whole page, as soupsieve does
        return [node for node in found if node in inside]

    def text(self, node: Any = None, separator: str = "", strip: bool = False) -> str:
        node = self.root if node is None else node
        strings = (_ALL_TEXT if node.tag in _HIDDEN else _VISIBLE_TEXT)(node)
        if strip:
            return separator.join(text for s in strings if (text := s.strip()))
        # BeautifulSoup turns a string of ASCII spaces into one newline or one space.
        return separator.join(
            s if s.strip(_ASCII_SPACES) else "\n" if "\n" in s else " " for s in strings
        )

    def attr(self, node: Any, name: str) -> str | None:
        return node.get(name)  # type: ignore[no-any-return]

    def drop(self, tags: tuple[str, ...]) -> None:
        for node in list(self.root.iter(*tags)):
            # An empty comment in its place keeps the text before and after it two
            # strings, as BeautifulSoup's `decompose` does (no selector sees a comment).
            mark = etree.Comment()
            mark.tail, node.tail = node.tail, None
            node.getparent().replace(node, mark)

    def inside(self, node: Any, tags: tuple[str, ...]) -> bool:
        return any(parent.tag in tags for parent in node.iterancestors())


class _Soup:
    """A page parsed by BeautifulSoup, for selectors only soupsieve understands."""

    def __init__(self, html: str) -> None:
        from bs4 import BeautifulSoup  # seldom needed: imported on first use

        self.soup = BeautifulSoup(html, "lxml")

    def one(self, selector: str, scope: Any = None) -> Any:
        return (self.soup if scope is None else scope).select_one(selector)

    def all(self, selector: str, scope: Any = None) -> list[Any]:
        return list((self.soup if scope is None else scope).select(selector))

    def text(self, node: Any = None, separator: str = "", strip: bool = False) -> str:
        return str((self.soup if node is None else node).get_text(separator, strip=strip))

    def attr(self, node: Any, name: str) -> str | None:
        value = node.get(name)
        return value if isinstance(value, str) else None

    def drop(self, tags: tuple[str, ...]) -> None:
        for tag in self.soup(tags):
            tag.decompose()

    def inside(self, node: Any, tags: tuple[str, ...]) -> bool:
        return node.find_parent(tags) is not None


def _parse(html: str, *selectors: str) -> _Page:
    """Parse with lxml, or with BeautifulSoup when a selector needs soupsieve."""
    if all(_compiled(s) is not None for s in selectors if s):
        return _Lxml(html)
    return _Soup(html)


MAX_URL_CHARS = 2048  # the sitemap protocol's limit; longer links are not news pages


def _web_url(url: str) -> bool:
    """Whether a link may become an item: http(s) with a host, of sane length. A feed or
    listing can name `javascript:` or `data:` URLs; they must never reach an alert."""
    return (
        url.startswith(("http://", "https://"))
        and len(url) <= MAX_URL_CHARS
        and bool(urlsplit(url).hostname)
    )


class NextPage(NamedTuple):
    """The next listing page and the rule that found it ("" and "" when none did)."""

    url: str = ""
    rule: str = ""


def read_listing(fetched: Fetched, rules: ListingRules) -> tuple[list[Entry], NextPage]:
    """Article links of a listing page, in page order, and its next page with the rule
    that found it.

    Links naming the same page (http and https, tracking parameters, a trailing slash:
    `urls.url_key`) are one entry, under the first link's URL.
    """
    page = _parse(fetched.text, rules.container, rules.links, rules.next_page)
    if rules.container:
        scope = page.one(rules.container)
        links = page.all(rules.links, scope) if scope is not None else []
    else:
        links = page.all(rules.links)
    seen: dict[str, int] = {}
    entries: list[Entry] = []
    for link in links:
        href = page.attr(link, "href")
        if href is None or href.startswith("#"):
            continue
        if not _web_url(url := canonical_url(urljoin(fetched.final_url, href))):
            continue
        title = clean_spaces(page.text(link, " ", strip=True))
        if (key := url_key(url)) not in seen:
            seen[key] = len(entries)
            entries.append(Entry(url=url, title=title))
        elif title and not entries[seen[key]].title:  # a thumbnail link came first
            entries[seen[key]] = Entry(url=entries[seen[key]].url, title=title)
    return entries, _next_page(page, fetched, rules, bool(entries))


def parse_listing(fetched: Fetched, rules: ListingRules) -> tuple[list[Entry], str]:
    """Article links of a listing page, in page order, and the next page's URL ("" if none)."""
    entries, next_page = read_listing(fetched, rules)
    return entries, next_page.url


def _next_page(page: _Page, fetched: Fetched, rules: ListingRules, has_entries: bool) -> NextPage:
    """The configured `next_page` selector's first link to another page; else, on a page
    that gave entries, what `find_next` reads from its pager."""
    here = {url_key(fetched.url), url_key(fetched.final_url)}
    for node in page.all(rules.next_page) if rules.next_page else []:
        href = page.attr(node, "href")
        url = urljoin(fetched.final_url, href) if href is not None else ""
        if _web_url(url) and url_key(url) not in here:
            return NextPage(url, "next_page selector")
    if not has_entries:  # not a listing this source can read: no pager is guessed
        return NextPage()
    root = page.root if isinstance(page, _Lxml) else _Lxml(fetched.text).root
    url, rule = find_next(root, fetched.final_url, here)
    return NextPage(url, rule) if _web_url(url) else NextPage()


def parse_sitemap(fetched: Fetched, url_pattern: str = "") -> tuple[list[Entry], list[str]]:
    """Article URLs of a sitemap (newest first, one entry per page as `url_key` tells
    them apart) and child sitemaps of an index.

    Only `<loc>` and `<lastmod>` are read; entities are never resolved and the
    network is never used by the XML parser.
    """
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", fetched.text)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise ExtractError(f"not a readable sitemap: {exc}", url=fetched.url) from None
    if root is None:
        raise ExtractError("not a readable sitemap (empty)", url=fetched.url)
    pattern = re.compile(url_pattern) if url_pattern else None
    found: list[tuple[str, str]] = []
    for node in root:
        if not isinstance(node.tag, str):
            continue
        fields = {etree.QName(child).localname: (child.text or "").strip() for child in node
                  if isinstance(child.tag, str)}  # fmt: skip
        if fields.get("loc") and _web_url(url := urljoin(fetched.final_url, fields["loc"])):
            found.append((fields.get("lastmod", ""), url))
    found.sort(reverse=True)  # ISO dates sort as text; undated entries go last
    if etree.QName(root).localname == "sitemapindex":
        return [], [url for _, url in found]
    entries = [
        Entry(url=canonical_url(url), date_text=lastmod)
        for lastmod, url in found
        if pattern is None or pattern.search(url)
    ]
    return _one_per_page(entries), []


def parse_page(fetched: Fetched, source: Source) -> tuple[list[Entry], list[str]]:
    """Entries of one feed, listing or sitemap page, and the pages to walk next."""
    if source.kind == "sitemap":
        return parse_sitemap(fetched, source.url_pattern)
    if source.kind == "rss" or source.listing is None:
        return parse_feed(fetched), []
    entries, next_url = parse_listing(fetched, source.listing)
    return entries, [next_url] if next_url else []


def _html_to_text(html: str) -> str:
    return "\n".join(_lines(_parse(html).text(None, "\n"))) if "<" in html else unescape(html)


def _lines(text: str) -> list[str]:
    return [line for raw in clean_spaces(text).splitlines() if (line := raw.strip())]


def parse_feed(fetched: Fetched) -> list[Entry]:
    """Entries of an RSS/Atom feed, with full text when the feed carries it; one per page
    (`url_key`: http and https alike), the first in the feed.

    fastfeedparser (lxml and Rust), with feedparser's sanitiser on the bodies, reads a
    well-formed feed whose entries all have a standard date and plain text (0.12 ms
    an entry, against 0.32 for feedparser alone: `_fast_rows`); feedparser reads the
    rest: a date it cannot read is kept as text for `read_datetime` (Thai dates such
    as `7 ต.ค. 2562`), and it gives the reason a feed is unreadable. Both give an
    entry the same text, so its hash does not depend on which one read it.
    """
    rows = _fast_rows(fetched.text)
    return _entries(_feedparser_rows(fetched) if rows is None else rows, fetched)


_Row = tuple[str, str, str, str]  # link, title, date text, body HTML


def _entries(rows: list[_Row], fetched: Fetched) -> list[Entry]:
    entries = []
    for link, title, date_text, html in rows:
        url = canonical_url(urljoin(fetched.final_url, link))
        if _web_url(url):
            entries.append(
                Entry(
                    url=url,
                    title=clean_spaces(title).strip(),
                    date_text=date_text,
                    body=_html_to_text(html),
                )
            )
    return _one_per_page(entries)


# What feedparser reads its own way, so that such a feed is left to it: relative links
# against an xml:base, declared entities, base64 content, C1 characters (read as
# windows-1252).
_FEEDPARSER_ONLY = re.compile(r"xml:base|<!ENTITY|base64|[\x80-\x9f]")


def _fast_rows(text: str) -> list[_Row] | None:
    """The feed's rows read by fastfeedparser, or None when feedparser must read it: an
    entry without a plainly written date (`_countable_entries`) or whose text feedparser
    would read otherwise (`_fast_row`), what `_FEEDPARSER_ONLY` finds, anything
    fastfeedparser cannot parse."""
    if not text.startswith("<") or _FEEDPARSER_ONLY.search(text):
        return None  # (fastfeedparser fetches a text that starts with http://)
    import fastfeedparser  # imported on first use: 16 ms an unchanged cycle need not pay

    count = _countable_entries(text)
    try:
        feed = fastfeedparser.parse(text) if count else None
    except Exception:  # noqa: BLE001 - whatever it cannot read, feedparser reads or explains
        return None
    if feed is None or len(feed.entries) != count:
        return None
    rows = []
    for entry in feed.entries:
        if (row := _fast_row(entry)) is None:
            return None
        rows.append(row)
    return rows


def _fast_row(entry: Any) -> _Row | None:
    """An entry's row as feedparser gives it, its body cleaned by feedparser's own HTML
    sanitiser (which drops `<script>`, `<o:p>`, `<wbr>`, `<iframe>`...: the text around
    them stays one line), so an item's text and hash do not depend on which parser
    read it. None when feedparser reads the entry otherwise: a title with `<`, `>` or
    `&` (it guesses whether the title is HTML), a body with a bare `<` or a `<![`
    section, text in latin-1 alone (it repairs UTF-8 read as latin-1)."""
    import feedparser.sanitizer  # its cleaning, so the text is feedparser's (first feed)

    title = entry.get("title") or ""
    content = entry.get("content") or []
    html = (content[0].get("value") if content else entry.get("description")) or ""
    date_text = _iso_utc(entry.get("published") or entry.get("updated") or "")
    if not date_text or _MARKUP.search(title) or _ODD_MARKUP.search(html) or _latin1(title + html):
        return None
    body = feedparser.sanitizer._sanitize_html(html.strip(), "utf-8", "text/html")
    return entry.get("link") or entry.get("id") or "", title, date_text, body


_MARKUP = re.compile("[<>&]")
_BEYOND_LATIN1 = re.compile("[^\x00-\xff]")
_ODD_MARKUP = re.compile(r"<(?![A-Za-z/?!])|<!\[")  # a bare `<`, a CDATA section


def _latin1(text: str) -> bool:
    return not text.isascii() and _BEYOND_LATIN1.search(text) is None


_DATE_TAGS = frozenset({"pubDate", "published", "updated", "issued", "modified", "date"})
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# The two standard forms with their zone, which fastfeedparser and feedparser read alike
# (tests/test_extract.py). Others they read otherwise: `07/10/2562` is 10 July to
# fastfeedparser, and a date without a zone is UTC to it but left as text by feedparser,
# for `read_datetime` to read as Bangkok time.
_PLAIN_DATE = re.compile(
    rf"\s*(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{{1,2}} (?:{_MONTHS}) (?:\d\d)?\d\d "
    r"\d\d:\d\d(?::\d\d)? (?:[+-]\d{4}|GMT|UTC?)\s*"
    r"|\s*\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)\s*"
)
_ATOM = "http://www.w3.org/2005/Atom"
_STRICT_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _countable_entries(text: str) -> int:
    """How many entries (RSS items, Atom entries) the feed has when each of them has a
    date and all their dates are written in a standard form with a zone, and no Atom
    plain text holds `<`, `>` or `&` (fastfeedparser calls it HTML, feedparser does
    not clean it); else 0."""
    try:
        root = etree.fromstring(text.encode(), _STRICT_XML)
    except (etree.XMLSyntaxError, ValueError):
        return 0
    count = 0
    for entry in root.iter("{*}item", "{*}entry"):
        dates = [c.text or "" for c in entry if etree.QName(c).localname in _DATE_TAGS]
        if not dates or not all(_PLAIN_DATE.fullmatch(d) for d in dates):
            return 0
        count += 1
    texts = root.iter(f"{{{_ATOM}}}content", f"{{{_ATOM}}}summary")
    plain = (t for t in texts if t.get("type", "text") == "text")
    return 0 if any(_MARKUP.search(t.text or "") for t in plain) else count


def _iso_utc(when: str) -> str:
    """fastfeedparser's ISO date as `_feed_date` writes feedparser's ('' if unreadable)."""
    try:
        stamp = datetime.fromisoformat(when)
    except ValueError:
        return ""
    stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    return stamp.replace(microsecond=0).isoformat()


def _feedparser_rows(fetched: Fetched) -> list[_Row]:
    """The feed's rows read by feedparser. It is given a stream of the bytes it would make of
    the text: given the text, it fetches one that is a URL and reads one that names a
    local file, so a feed whose body is `file:///etc/passwd` or an internal address
    would be read past the fetcher's guard."""
    import feedparser  # the feeds fastfeedparser does not read: imported on first use

    feed = feedparser.parse(io.BytesIO(fetched.text.encode("utf-8")))
    if not feed.entries and (feed.bozo or not feed.get("version")):
        reason = feed.get("bozo_exception") or "no RSS or Atom root (an empty body or a web page?)"
        raise ExtractError(f"not a readable feed: {reason}", url=fetched.url)
    rows = []
    for e in feed.entries:
        content = e.get("content") or []
        html = content[0].get("value", "") if content else e.get("summary", "")
        link = e.get("link") or e.get("id") or ""
        rows.append((link, e.get("title", ""), _feed_date(e), html))
    return rows


def _one_per_page(entries: list[Entry]) -> list[Entry]:
    """The first entry of each page: links that differ only by scheme (http, https) or
    noise `canonical_url` drops name one page, fetched and stored once."""
    seen: set[str] = set()
    kept = []
    for entry in entries:
        if (key := url_key(entry.url)) not in seen:
            seen.add(key)
            kept.append(entry)
    return kept


def _feed_date(entry: Any) -> str:
    """An entry's date as ISO UTC when feedparser read it, else the feed's own text.

    feedparser reads `Sat, 01 Jan 0001 00:00:00 +1400` into a year-0 time that no
    datetime holds: that date is left as text, to be reported unreadable.
    """
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    if when:
        try:
            return datetime.fromtimestamp(calendar.timegm(when), UTC).isoformat()
        except (ValueError, OverflowError, OSError):
            pass
    return str(entry.get("published") or entry.get("updated") or "")


def _published(date_text: str, now: datetime, problems: list[str]) -> str | None:
    if not date_text:
        problems.append("no date found")
        return None
    when = read_datetime(date_text)
    if when is None:
        problems.append(f"unreadable date: {date_text[:60]!r}")
        return None
    if when > now + FUTURE_TOLERANCE:
        problems.append(f"date in the future ignored: {when.date().isoformat()}")
        return None
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _clean_body(lines: list[str], title: str, rules: ArticleRules) -> list[str]:
    """Drop noise lines, the repeated headline, a leading date line, and all from a footer on."""
    patterns = [re.compile(p) for p in rules.drop_lines]
    stops = [re.compile(p) for p in rules.stop_at]
    kept: list[str] = []
    for index, line in enumerate(lines):
        if any(p.search(line) for p in stops):
            break
        if any(p.search(line) for p in patterns) or line == title:
            continue
        if index < 3 and len(line) <= 60 and parse_thai_date(line) is not None:
            continue
        kept.append(line)
    return kept


def _generic_text(html: str, page: _Page) -> str:
    """Main text of a page with unknown layout: trafilatura, else the likeliest element."""
    import trafilatura  # imported on first use: ~0.3 s, only sources without selectors

    text = trafilatura.extract(html, include_comments=False, include_tables=True)
    if text:
        return text
    node = next((n for sel in _GENERIC_BODY if (n := page.one(sel)) is not None), None)
    return page.text(node, "\n")


def _canonical_link(page: _Page, page_url: str) -> str:
    """The page's own `<link rel=canonical>`, when it stays on the same host."""
    node = page.one("link[rel=canonical]")
    href = page.attr(node, "href") if node is not None else None
    if href is None:
        return ""
    url = canonical_url(urljoin(page_url, href))
    same_host = urlsplit(url).hostname == urlsplit(page_url).hostname
    return url if same_host and _web_url(url) else ""


def item_from_entry(entry: Entry, source: str, rules: ArticleRules, now: datetime) -> Item:
    """An item from a feed entry that carries the full text (no page fetch)."""
    problems: list[str] = []
    if not entry.title:
        raise ExtractError("feed entry without a title", url=entry.url)
    body = "\n".join(_clean_body(_lines(entry.body), entry.title, rules))
    return Item(
        url=entry.url,
        source=source,
        title=entry.title,
        body=body,
        published_at=_published(entry.date_text, now, problems),
        problems=tuple(problems),
    )


def extract_article(
    fetched: Fetched, entry: Entry, source: str, rules: ArticleRules, now: datetime
) -> Item:
    """An item from an article page, read with the source's selectors."""
    page = _parse(fetched.text, rules.title, rules.date, rules.body, rules.category)
    problems: list[str] = list(fetched.problems)
    title_node = page.one(rules.title) if rules.title else None
    title = clean_spaces(page.text(title_node, " ", strip=True)) if title_node is not None else ""
    title = title.removeprefix(rules.title_strip_prefix).strip()
    if not title and entry.title:
        problems.append("title selector found nothing; the listing's link text is used")
        title = entry.title
    if not title:
        raise ExtractError("article page without a title", url=fetched.url)
    date_node = page.one(rules.date) if rules.date else None
    date_text = page.text(date_node, "\n") if date_node is not None else entry.date_text
    category_node = page.one(rules.category) if rules.category else None
    if category_node is not None and page.inside(category_node, _NOISE_TAGS):
        category_node = None  # it goes with the noise, as it always did
    page.drop(_NOISE_TAGS)
    category = page.text(category_node, " ", strip=True) if category_node is not None else ""
    body_node = page.one(rules.body) if rules.body else None
    if body_node is not None:
        text = page.text(body_node, "\n")
    else:
        problems.append("body selector found nothing; generic extraction used")
        text = _generic_text(fetched.text, page)
    body = "\n".join(_clean_body(_lines(text), title, rules))
    if not body:
        problems.append("empty body")
    url = _canonical_link(page, fetched.final_url) or entry.url
    return Item(
        url=url,
        source=source,
        title=title,
        body=body,
        published_at=_published(clean_spaces(date_text).strip()[:400], now, problems),
        category=clean_spaces(category),
        problems=tuple(problems),
    )
