"""Atom feeds of matched items: valid Atom 1.0, Thai intact, hostile text escaped."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from monitor import feed, web
from monitor.models import Item, Match, TermHit, TopicResult
from monitor.store import Store

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = 'แจ้งเตือน <script>alert("x")</script> & ]]> \x0b'


def _match(*topics: str) -> Match:
    return Match(
        tuple(
            TopicResult(t, 10.0, True, (TermHit("ไซเบอร์", "title", 2, "ภัยไซเบอร์ & <b>"),))
            for t in topics
        )
        + (TopicResult("other", 1.0, False),)
    )


def _save(store: Store, n: int, title: str, match: Match, published: str | None) -> int:
    item = Item(
        url=f"https://www.thaigov.go.th/news/contents/details/{n}?a=1&b=2",
        source="thaigov",
        title=title,
        body=f"เนื้อหาข่าว {n} เรื่องความมั่นคงปลอดภัยไซเบอร์ <i>ไม่ใช่แท็ก</i>",
        published_at=published,
        content_hash=str(n),
    )
    return store.save_item(item, match, {}, NOW)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "monitor.db")
    _save(store, 1, "กระทรวงดิจิทัลฯ เตือนภัยไซเบอร์", _match("cybersecurity"), "2026-11-20T02:00:00Z")
    _save(store, 2, HOSTILE, _match("cybersecurity", "asean"), "2026-11-22T02:00:00Z")
    _save(store, 3, "ASEAN ministers meet", _match("asean"), None)
    _save(store, 4, "ข่าวไม่ตรงหัวข้อ", Match(), "2026-11-25T02:00:00Z")
    store.add_alias(1, "https://www.prd.go.th/th/content/1", "prd", NOW)
    return store


def test_feed_is_valid_atom_with_entries_newest_first(store: Store):
    text = feed.atom(store, "cybersecurity", "http://127.0.0.1:8001", NOW)
    parsed = feedparser.parse(text)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.id == "tag:thai-news-monitor,2026:feed:cybersecurity"
    assert parsed.feed.updated == "2026-11-26T03:00:00Z"  # newest entry (first seen at NOW)
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links["self"] == "http://127.0.0.1:8001/-/feeds/cybersecurity.atom"
    assert [e.link for e in parsed.entries] == [
        "https://www.thaigov.go.th/news/contents/details/2?a=1&b=2",
        "https://www.thaigov.go.th/news/contents/details/1?a=1&b=2",
    ]
    first, second = parsed.entries
    assert second.title == "กระทรวงดิจิทัลฯ เตือนภัยไซเบอร์"  # Thai intact
    assert second.id == second.link
    assert second.published == "2026-11-20T02:00:00Z"
    assert [t.term for t in first.tags] == ["cybersecurity", "asean"]
    assert "score 10" in second.summary and "ไซเบอร์ (title ×2)" in second.summary
    assert second.content[0].type == "text/plain"
    assert "<i>ไม่ใช่แท็ก</i>" in second.content[0].value
    related = [link.href for link in second.links if link.rel == "related"]
    assert related == ["https://www.prd.go.th/th/content/1"]


def test_hostile_title_is_escaped_not_markup(store: Store):
    text = feed.atom(store, "cybersecurity", "http://127.0.0.1:8001", NOW)
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "\x0b" not in text  # not allowed in XML 1.0 at all
    root = ET.fromstring(text.encode("utf-8"))  # well-formed
    titles = [e.findtext(f"{ATOM}title") for e in root.iter(f"{ATOM}entry")]
    assert titles[0] == 'แจ้งเตือน <script>alert("x")</script> & ]]> '
    parsed = feedparser.parse(text)
    assert parsed.bozo == 0
    # type="text": feedparser hands back the characters, never an element
    assert parsed.entries[0].title_detail.type == "text/plain"
    assert "<script>" in parsed.entries[0].title


def test_item_without_date_and_empty_topic(store: Store):
    parsed = feedparser.parse(feed.atom(store.path, "asean", "http://h", NOW))
    assert parsed.bozo == 0
    undated = next(e for e in parsed.entries if e.title == "ASEAN ministers meet")
    assert "published" not in undated and undated.updated == "2026-11-26T03:00:00Z"
    empty = feedparser.parse(feed.atom(store, "nothing-yet", "http://h", NOW))
    assert empty.bozo == 0 and empty.entries == []
    assert empty.feed.updated == "2026-11-26T03:00:00Z"


def test_write_atom_to_a_file(store: Store, tmp_path: Path):
    out = tmp_path / "cyber.atom"
    count = feed.write_atom(
        store.path, "cybersecurity", out, "https://example.org", NOW, limit=1,
        self_url="https://example.org/feeds/cyber.atom",
    )  # fmt: skip
    assert count == 1
    parsed = feedparser.parse(out.read_bytes())
    assert parsed.bozo == 0 and len(parsed.entries) == 1
    assert {link.rel: link.href for link in parsed.feed.links}["self"] == (
        "https://example.org/feeds/cyber.atom"
    )


def test_feed_route_of_monitor_web(store: Store):
    ds = web.app(store.path)

    async def fetch() -> list:
        await ds.invoke_startup()
        paths = [
            "/-/feeds/cybersecurity.atom",
            "/-/feeds/unknown.atom",
            "/-/feeds/asean.atom?limit=x",
        ]
        return [await ds.client.get(p) for p in paths]

    ok, unknown, bad_limit = asyncio.run(fetch())
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(ok.content)
    assert parsed.bozo == 0
    assert [e.title for e in parsed.entries][1] == "กระทรวงดิจิทัลฯ เตือนภัยไซเบอร์"
    assert unknown.status_code == 404 and "asean, cybersecurity" in unknown.text
    assert bad_limit.status_code == 400
