"""`monitor web` facing visitors who mean harm: no SQL of their own unless allowed, no
internal table, no filesystem path, and SQL functions that answer at once whatever
they are given (SQLite cannot interrupt a Python function at `sql_time_limit_ms`)."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from monitor import web
from monitor.store import Store
from tests.test_web import NOW, _get, _rows, _save, serving

# Ten million characters built by SQLite (no URL could carry them), in 10 ms: the
# time measured is the functions'. They took 3.5 s (thai_fts_query) and minutes.
HUGE = "hex(zeroblob(5000000))"
HUGE_THAI = f"replace({HUGE}, '0', 'ก')"  # 0.15 s to build
SMTP_ERROR = "SMTP mail.internal:587: (535, b'5.7.8 password for alerts@example.org rejected')"


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """An archive whose internal tables all hold something a visitor must not read."""
    store = Store(tmp_path / "monitor.db")
    _save(store, 1, "ข่าวหนึ่ง", "ที่ประชุมหารือความมั่นคงปลอดภัยไซเบอร์", alerts={"email": NOW})
    store.mark_attempt_failed([1], SMTP_ERROR, None, NOW)
    store.save_validators("https://www.thaigov.go.th/news/", '"etag-1"', "", NOW)
    store.save_walk_cursor("thaigov", ["https://www.thaigov.go.th/news/?page=2"], NOW)
    store.close()
    return tmp_path / "monitor.db"


def _sql(sql: str) -> str:
    """The URL of `sql`'s rows as JSON."""
    return "/monitor.json?" + str(httpx.QueryParams({"sql": sql, "_shape": "array"}))


def _internal_tables(db_path: Path) -> set[str]:
    """Every table in the file that is not public, so a table a new migration adds is
    checked too."""
    with closing(sqlite3.connect(db_path)) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows} - web.PUBLIC_TABLES


def test_own_sql_is_refused_by_default(archive: Path):
    select, select_json, where, page = _get(
        web.app(archive),
        "/monitor?sql=select+1",
        "/monitor.json?sql=select+1",
        "/monitor/items.json?_where=id>0",
        "/monitor",
    )
    assert [select.status_code, select_json.status_code, where.status_code] == [403, 403, 403]
    assert page.status_code == 200 and 'name="sql"' not in page.text  # no SQL box offered


def test_canned_queries_answer_without_own_sql(archive: Path):
    search, health, alerts = _get(
        web.app(archive),
        "/monitor/search.json?_shape=array&q=ไซเบอร์",
        "/monitor/source_health.json?_shape=array",
        "/monitor/alert_log.json?_shape=array",
    )
    assert [r["title"] for r in _rows(search)] == ["ข่าวหนึ่ง"]
    assert _rows(health) == []
    assert [(r["channel"], r["status"]) for r in _rows(alerts)] == [("email", "failed")]


def test_alert_log_shows_no_error_text(archive: Path):
    (alerts,) = _get(web.app(archive), "/monitor/alert_log.json?_shape=array")
    assert "last_error" not in _rows(alerts)[0]
    assert "mail.internal" not in alerts.text and "password" not in alerts.text


def test_allow_sql_lets_visitors_run_selects(archive: Path):
    select, page = _get(
        web.app(archive, allow_sql=True),
        "/monitor.json?sql=select+1+as+one&_shape=array",
        "/monitor",
    )
    assert _rows(select) == [{"one": 1}]
    assert 'name="sql"' in page.text


def test_allow_sql_block_in_the_metadata_still_narrows_it(archive: Path, tmp_path: Path):
    """README: with --allow-sql, `allow_sql: {id: admin}` keeps anonymous visitors out."""
    metadata = tmp_path / "datasette.yaml"
    text = web.DEFAULT_METADATA.read_text(encoding="utf-8") + "allow_sql:\n  id: admin\n"
    metadata.write_text(text, encoding="utf-8")
    select, search = _get(
        web.app(archive, metadata, allow_sql=True),
        _sql("select 1"),
        "/monitor/search.json?_shape=array&q=ไซเบอร์",
    )
    assert select.status_code == 403
    assert [r["title"] for r in _rows(search)] == ["ข่าวหนึ่ง"]


@pytest.mark.parametrize("allow_sql", [False, True])
def test_internal_tables_are_neither_listed_nor_readable(archive: Path, allow_sql: bool):
    internal = _internal_tables(archive)
    assert {"outbox", "http_cache", "walk_state", "items_fts_data"} <= internal
    ds = web.app(archive, allow_sql=allow_sql)
    listing, index, database, public, row, *tables = _get(
        ds,
        "/monitor.json",
        "/",
        "/monitor",
        "/monitor/source_status.json",
        "/monitor/outbox/1.json",
        *[f"/monitor/{name}{ext}" for name in sorted(internal) for ext in ("", ".json")],
    )
    assert {t["name"] for t in listing.json()["tables"]} == web.PUBLIC_TABLES
    for page in (index, database):
        assert page.status_code == 200
        assert not [name for name in internal if f"/monitor/{name}" in page.text]
    assert public.status_code == 200
    assert row.status_code == 403
    assert {t.url.path: t.status_code for t in tables} == {t.url.path: 403 for t in tables}
    assert SMTP_ERROR not in "".join(t.text for t in tables)


@pytest.mark.parametrize(
    "path",
    [
        "/-/databases",
        "/-/databases.json",
        "/-/%64atabases.json",  # Datasette routes on the raw path, the guard sees both
        "/-/versions.json",
        "/-/plugins.json",
        "/-/settings.json",
        "/-/config.json",
        "/-/threads.json",
        "/monitor.db",
    ],
)
def test_introspection_and_download_are_refused(archive: Path, path: str):
    (response,) = _get(web.app(archive), path)
    assert response.status_code == 403
    assert str(archive.parent) not in response.text


def test_no_page_shows_the_database_path(archive: Path):
    pages = _get(
        web.app(archive),
        "/",
        "/.json",
        "/monitor",
        "/monitor.json",
        "/monitor/items",
        "/monitor/items.json",
        "/monitor/search?q=ไซเบอร์",
        "/-/metadata.json",
    )
    assert [p.status_code for p in pages] == [200] * len(pages)
    assert not [p.url.path for p in pages if str(archive.parent) in p.text]


@pytest.mark.parametrize(
    "sql",
    [
        f"select thai_fts_query({HUGE}) as v",
        f"select thai_fts_query({HUGE_THAI}) as v",
        f"select thai_snippet({HUGE}, {HUGE}) as v",
        f"select thai_snippet({HUGE_THAI}, 'ก') as v",
        # ภัย occurs 200,000 times and is never a word there: each a segmentation
        "select thai_snippet(replace(hex(zeroblob(100000)), '0', 'ปลอดภัย'), 'ภัย') as v",
        f"select bangkok_time({HUGE}) as v",
    ],
)
def test_sql_functions_answer_fast_for_huge_text(archive: Path, sql: str):
    started = time.monotonic()
    (response,) = _get(web.app(archive, allow_sql=True), _sql(sql))
    assert time.monotonic() - started < 2
    assert len(_rows(response)) == 1


def test_canned_search_with_the_longest_query_a_url_carries(archive: Path):
    longest = "ความมั่นคงปลอดภัยไซเบอร์ " * 270  # 6,750 characters, 60 KB in a URL
    started = time.monotonic()
    url = "/monitor/search.json?" + str(httpx.QueryParams({"q": longest, "_shape": "array"}))
    (search,) = _get(web.app(archive), url)
    assert time.monotonic() - started < 2
    assert _rows(search) == []  # longer than MAX_QUERY_CHARS: nothing to search for


def test_sql_functions_never_raise(archive: Path):
    sql = (
        "select thai_fts_query(x'ff00') as blob_query, thai_fts_query(2024) as number,"
        " thai_snippet(x'00', 5) as blob_snippet, thai_snippet(3.5, null) as number_snippet,"
        " bangkok_time(5) as number_time, bangkok_time('not a time') as text_time,"
        " bangkok_time('9999-12-31T23:00:00Z') as overflow"
    )
    (response,) = _get(web.app(archive, allow_sql=True), _sql(sql))
    assert _rows(response) == [
        {
            "blob_query": '""',
            "number": '"2024"',
            "blob_snippet": None,
            "number_snippet": "3.5",
            "number_time": None,
            "text_time": None,
            "overflow": None,
        }
    ]


def test_hostile_queries_do_not_hold_up_other_visitors(archive: Path):
    """Three huge calls at once (one per Datasette SQL thread) made `select 1` wait 19 s."""
    hostile = (
        f"with t(x) as materialized (select {HUGE}) "
        "select thai_snippet(x, x), thai_fts_query(x), bangkok_time(x) from t"
    )

    def get(base: str, sql: str) -> float:
        started = time.monotonic()
        response = httpx.get(base + _sql(sql), timeout=30)
        assert response.status_code == 200, response.text
        return time.monotonic() - started

    with serving(web.app(archive, allow_sql=True)) as base, ThreadPoolExecutor(4) as pool:
        attacks = [pool.submit(get, base, hostile) for _ in range(3)]
        time.sleep(0.05)
        assert get(base, "select 1") < 2
        assert max(a.result() for a in attacks) < 2
