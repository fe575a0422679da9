"""Turn fetched pages and feeds into entries and items. Pure and tolerant.

A listing gives links (and the next page); a feed gives entries, possibly with
full text; an article page gives an `Item`. Odd markup never raises: what can be
read is returned and what could not is recorded in `Item.problems`. Only a page
with no title at all is an `ExtractError`, because nothing useful can be stored.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import urljoin, urlsplit

import feedparser
from bs4 import BeautifulSoup
from lxml import etree

from monitor.errors import ExtractError
from monitor.models import ArticleRules, Entry, Fetched, Item, ListingRules, Source
from monitor.thai import clean_spaces, parse_thai_date
from monitor.urls import canonical_url

FUTURE_TOLERANCE = timedelta(days=2)
_GENERIC_BODY = ("article", "main", "[role=main]", "#content", ".content", "body")
_NOISE_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form")


def _soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "lxml")


def parse_listing(fetched: Fetched, rules: ListingRules) -> tuple[list[Entry], str]:
    """Article links of a listing page, in page order, and the next page's URL ("" if none)."""
    soup = _soup(fetched.text)
    scope = soup.select_one(rules.container) if rules.container else soup
    seen: dict[str, int] = {}
    entries: list[Entry] = []
    for link in scope.select(rules.links) if scope else []:
        href = link.get("href")
        if not isinstance(href, str) or href.startswith(("#", "javascript:", "mailto:")):
            continue
        url = canonical_url(urljoin(fetched.final_url, href))
        title = clean_spaces(link.get_text(" ", strip=True))
        if url not in seen:
            seen[url] = len(entries)
            entries.append(Entry(url=url, title=title))
        elif title and not entries[seen[url]].title:  # a thumbnail link came first
            entries[seen[url]] = Entry(url=url, title=title)
    next_url = ""
    if rules.next_page and (nxt := soup.select_one(rules.next_page)):
        href = nxt.get("href")
        if isinstance(href, str):
            next_url = urljoin(fetched.final_url, href)
    return entries, next_url


def parse_sitemap(fetched: Fetched, url_pattern: str = "") -> tuple[list[Entry], list[str]]:
    """Article URLs of a sitemap (newest first) and child sitemaps of an index.

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
        if fields.get("loc"):
            found.append((fields.get("lastmod", ""), urljoin(fetched.final_url, fields["loc"])))
    found.sort(reverse=True)  # ISO dates sort as text; undated entries go last
    if etree.QName(root).localname == "sitemapindex":
        return [], [url for _, url in found]
    entries = [
        Entry(url=canonical_url(url), date_text=lastmod)
        for lastmod, url in found
        if pattern is None or pattern.search(url)
    ]
    return entries, []


def parse_page(fetched: Fetched, source: Source) -> tuple[list[Entry], list[str]]:
    """Entries of one feed, listing or sitemap page, and the pages to walk next."""
    if source.kind == "sitemap":
        return parse_sitemap(fetched, source.url_pattern)
    if source.kind == "rss" or source.listing is None:
        return parse_feed(fetched), []
    entries, next_url = parse_listing(fetched, source.listing)
    return entries, [next_url] if next_url else []


def _html_to_text(html: str) -> str:
    return "\n".join(_lines(_soup(html).get_text("\n"))) if "<" in html else unescape(html)


def _lines(text: str) -> list[str]:
    return [line for raw in clean_spaces(text).splitlines() if (line := raw.strip())]


def parse_feed(fetched: Fetched) -> list[Entry]:
    """Entries of an RSS/Atom feed, with full text when the feed carries it."""
    feed = feedparser.parse(fetched.text)
    if not feed.entries and (feed.bozo or not feed.get("version")):
        reason = feed.get("bozo_exception") or "no RSS or Atom root (an empty body or a web page?)"
        raise ExtractError(f"not a readable feed: {reason}", url=fetched.url)
    entries = []
    for e in feed.entries:
        link = e.get("link") or e.get("id") or ""
        if not link:
            continue
        content = e.get("content") or []
        body = content[0].get("value", "") if content else e.get("summary", "")
        when = e.get("published_parsed") or e.get("updated_parsed")
        date_text = (
            datetime.fromtimestamp(calendar.timegm(when), UTC).isoformat() if when
            else e.get("published", "")
        )  # fmt: skip
        entries.append(
            Entry(
                url=canonical_url(urljoin(fetched.final_url, link)),
                title=clean_spaces(e.get("title", "")).strip(),
                date_text=date_text,
                body=_html_to_text(body),
            )
        )
    return entries


def _published(date_text: str, now: datetime, problems: list[str]) -> str | None:
    if not date_text:
        problems.append("no date found")
        return None
    try:
        when: datetime | None = datetime.fromisoformat(date_text)
    except ValueError:
        when = parse_thai_date(date_text)
    if when is None:
        problems.append(f"unreadable date: {date_text[:60]!r}")
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
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


def _generic_text(html: str, soup: BeautifulSoup) -> str:
    """Main text of a page with unknown layout: trafilatura, else the likeliest element."""
    import trafilatura  # imported on first use: ~0.3 s, only sources without selectors

    text = trafilatura.extract(html, include_comments=False, include_tables=True)
    if text:
        return text
    node = next((n for sel in _GENERIC_BODY if (n := soup.select_one(sel))), soup)
    return node.get_text("\n")


def _canonical_link(soup: BeautifulSoup, page_url: str) -> str:
    """The page's own `<link rel=canonical>`, when it stays on the same host."""
    node = soup.select_one("link[rel=canonical]")
    href = node.get("href") if node else None
    if not isinstance(href, str):
        return ""
    url = canonical_url(urljoin(page_url, href))
    same_host = urlsplit(url).hostname == urlsplit(page_url).hostname
    return url if same_host else ""


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
    soup = _soup(fetched.text)
    problems: list[str] = []
    title_node = soup.select_one(rules.title) if rules.title else None
    title = clean_spaces(title_node.get_text(" ", strip=True)) if title_node else ""
    title = title.removeprefix(rules.title_strip_prefix).strip()
    if not title and entry.title:
        problems.append("title selector found nothing; the listing's link text is used")
        title = entry.title
    if not title:
        raise ExtractError("article page without a title", url=fetched.url)
    date_node = soup.select_one(rules.date) if rules.date else None
    date_text = date_node.get_text("\n") if date_node else entry.date_text
    category_node = soup.select_one(rules.category) if rules.category else None
    for tag in soup(_NOISE_TAGS):
        tag.decompose()
    body_node = soup.select_one(rules.body) if rules.body else None
    if body_node is not None:
        text = body_node.get_text("\n")
    else:
        problems.append("body selector found nothing; generic extraction used")
        text = _generic_text(fetched.text, soup)
    body = "\n".join(_clean_body(_lines(text), title, rules))
    if not body:
        problems.append("empty body")
    url = _canonical_link(soup, fetched.final_url) or entry.url
    return Item(
        url=url,
        source=source,
        title=title,
        body=body,
        published_at=_published(clean_spaces(date_text).strip()[:400], now, problems),
        category=clean_spaces(category_node.get_text(" ", strip=True)) if category_node else "",
        problems=tuple(problems),
    )
