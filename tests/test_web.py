"""`monitor web`: Datasette over the archive, read-only, with Thai search and feeds."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from monitor import web
from monitor.errors import StoreError
from monitor.models import Item, Match, TermHit, TopicResult
from monitor.store import Store
from tests.conftest import free_port

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
CYBER = Match(
    (TopicResult("cybersecurity", 12.0, True, (TermHit("ไซเบอร์", "body", 1, "ปลอดภัยไซเบอร์"),)),)
)


def _save(store: Store, n: int, title: str, body: str, match: Match = CYBER, **extra: Any) -> int:
    item = Item(
        url=f"https://www.thaigov.go.th/news/contents/details/{n}",
        source="thaigov",
        title=title,
        body=body,
        published_at=f"2026-11-2{n}T02:00:00Z",
        content_hash=str(n),
    )
    return store.save_item(item, match, extra.get("alerts", {}), NOW)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    store = Store(tmp_path / "monitor.db")
    _save(store, 1, "ข่าวหนึ่ง", "ที่ประชุมหารือความมั่นคงปลอดภัยไซเบอร์ของภูมิภาค", alerts={"email": NOW})
    _save(store, 2, "ข่าวสอง", "ถนนปลอดภัยช่วงเทศกาล ASEAN Summit in Bangkok", Match())
    _save(store, 3, "Ransomware warning", "ภัยคุกคามจากแรนซัมแวร์")
    store.close()
    return tmp_path / "monitor.db"


def _get(ds: Any, *paths: str) -> list[httpx.Response]:
    async def fetch() -> list[httpx.Response]:
        await ds.invoke_startup()
        return [await ds.client.get(p) for p in paths]

    return asyncio.run(fetch())


def _rows(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return response.json()


def test_canned_search_finds_a_thai_word_inside_running_text(db_path: Path):
    ds = web.app(db_path)
    thai, compound, short, english, prefix, nothing = _get(
        ds,
        "/monitor/search.json?_shape=array&q=ไซเบอร์",
        "/monitor/search.json?_shape=array&q=ความมั่นคงปลอดภัยไซเบอร์",
        "/monitor/search.json?_shape=array&q=ภัย",
        "/monitor/search.json?_shape=array&q=asean",
        "/monitor/search.json?_shape=array&q=ransom*",
        "/monitor/search.json?_shape=array",
    )
    assert [r["title"] for r in _rows(thai)] == ["ข่าวหนึ่ง"]
    assert "[ไซเบอร์]" in _rows(thai)[0]["snippet"]
    assert [r["title"] for r in _rows(compound)] == ["ข่าวหนึ่ง"]
    # ภัย (threat) is a word of ภัยคุกคาม but only part of ปลอดภัย (safe)
    assert [r["title"] for r in _rows(short)] == ["Ransomware warning"]
    assert [r["title"] for r in _rows(english)] == ["ข่าวสอง"]
    assert [r["title"] for r in _rows(prefix)] == ["Ransomware warning"]
    assert _rows(nothing) == []  # the empty form matches nothing instead of failing


def test_html_pages_show_the_metadata_and_thai_text(db_path: Path):
    ds = web.app(db_path)
    index, search, table = _get(ds, "/", "/monitor/search?q=ไซเบอร์", "/monitor/items")
    assert index.status_code == 200
    assert "Thai news monitor archive" in index.text
    assert search.status_code == 200
    assert "ข่าวหนึ่ง" in search.text and "ข่าวสอง" not in search.text
    assert table.status_code == 200
    assert "UTC ISO-8601" in table.text  # column descriptions


def test_other_canned_queries(db_path: Path):
    ds = web.app(db_path)
    latest, health, alerts, metadata = _get(
        ds,
        "/monitor/latest_by_topic.json?_shape=array&topic=cybersecurity",
        "/monitor/source_health.json?_shape=array",
        "/monitor/alert_log.json?_shape=array",
        "/-/metadata.json",
    )
    rows = _rows(latest)
    assert [r["title"] for r in rows] == ["Ransomware warning", "ข่าวหนึ่ง"]  # newest first
    assert rows[0]["score"] == 12.0 and rows[0]["terms"] == "ไซเบอร์"
    assert rows[0]["when_bangkok"] == "2026-11-23 09:00"
    assert _rows(health) == []
    assert [(r["channel"], r["status"], r["title"]) for r in _rows(alerts)] == [
        ("email", "pending", "ข่าวหนึ่ง")
    ]
    assert metadata.json()["title"] == "Thai news monitor archive"


def test_latest_matches_without_a_topic_lists_matched_items_only(db_path: Path):
    """The home page links the query with no topic chosen: every matched item, never
    the ones that matched nothing (an empty topic is found in any topic list)."""
    (latest,) = _get(web.app(db_path), "/monitor/latest_by_topic.json?_shape=array&topic=")
    rows = _rows(latest)
    assert rows and all(r["matched_topics"] for r in rows)


def test_writes_are_impossible(db_path: Path):
    ds = web.app(db_path, allow_sql=True)  # even for visitors who may write SQL
    (delete,) = _get(ds, "/monitor.json?sql=delete+from+items")
    assert delete.status_code == 400
    db = ds.get_database("monitor")

    async def write() -> None:
        await db.execute_write("DELETE FROM items")

    with pytest.raises(sqlite3.OperationalError, match="readonly|read-only|query_only"):
        asyncio.run(write())
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM items").fetchone() == (3,)


def test_sees_what_the_service_stores_after_start(db_path: Path):
    ds = web.app(db_path)
    (before,) = _get(ds, "/monitor/search.json?_shape=array&q=ฟิชชิง")
    assert _rows(before) == []
    store = Store(db_path)  # the running service, writing in WAL mode
    _save(store, 4, "เตือนภัยฟิชชิง", "อีเมลฟิชชิงปลอมเป็นธนาคาร")
    store.flush_search()  # as the service does at the end of each source's job
    (after,) = _get(ds, "/monitor/search.json?_shape=array&q=ฟิชชิง")
    assert [r["title"] for r in _rows(after)] == ["เตือนภัยฟิชชิง"]
    store.close()


def test_missing_database_is_a_clear_error(tmp_path: Path):
    with pytest.raises(StoreError, match="no database"):
        web.app(tmp_path / "nothing.db")
    assert not (tmp_path / "nothing.db").exists()


@contextmanager
def serving(ds: Any) -> Iterator[str]:
    """Serve `ds` as `monitor web` does: uvicorn on 127.0.0.1 and a free port."""
    port = free_port()
    asyncio.run(ds.invoke_startup())
    config = uvicorn.Config(ds.app(), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(10)


@pytest.fixture
def server(db_path: Path) -> Iterator[str]:
    with serving(web.app(db_path)) as url:
        yield url


def test_served_over_http(server: str):
    search = httpx.get(f"{server}/monitor/search.json", params={"q": "ไซเบอร์", "_shape": "array"})
    assert [r["title"] for r in search.json()] == ["ข่าวหนึ่ง"]
    page = httpx.get(f"{server}/monitor/search", params={"q": "ไซเบอร์"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    feed = httpx.get(f"{server}/-/feeds/cybersecurity.atom")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert f'href="{server}/-/feeds/cybersecurity.atom"' in feed.text
