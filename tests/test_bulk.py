# ruff: noqa: F811 (the `sites` fixture is imported from test_failures)
"""Bulk work on worker processes stores exactly what one process stores.

Real local HTTP servers (the demo snapshot: legacy thaigov listing pages with a
windows-874 article, an RSS feed republishing a release; and a site with a page
without a title and a page answering 500), real SQLite files, real worker processes
(`monitor.bulk.Pool`, spawned). Each archive is compared table by table: items,
hashes, URLs, signatures and band keys, matches, search-index keys and search hits,
the outbox, and what the run reported.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from monitor.bulk import BATCH_SIZE, Batch, Pool, match_rows
from monitor.config import Settings, load_settings
from monitor.errors import ExtractError, FetchError
from monitor.match import Rules, match
from monitor.models import Entry, Fetched
from monitor.pipeline import REMATCH_CHUNK, Walk, _matched_on, backfill, rematch
from monitor.store import Store
from tests.conftest import ROOT, Smtp, snapshot_sources, write_config
from tests.test_failures import (  # noqa: F401 (sites: a fixture)
    NOW,
    LocalSite,
    article_html,
    html_source,
    listing_html,
    serve_listing,
    sites,
)

QUERIES = ("ไซเบอร์", "อาเซียน", "มั่นคง", "ประชุม", "รัฐมนตรี", "ดิจิทัล", "asean", "ข่าว")
TABLES = {
    "items": "SELECT id, url, url_key, source, title, body, published_at, category, "
    "content_hash, first_seen_at, matched_topics, match, problems FROM items ORDER BY id",
    "item_urls": "SELECT url_key, url, item_id, source, first_seen_at FROM item_urls ORDER BY 1",
    "item_signatures": "SELECT item_id, signature FROM item_signatures ORDER BY item_id",
    "item_bands": "SELECT band_key, item_id FROM item_bands ORDER BY 1, 2",
    "items_fts": "SELECT rowid FROM items_fts ORDER BY rowid",
    "titles_fts": "SELECT rowid FROM titles_fts ORDER BY rowid",
    "outbox": "SELECT item_id, channel, key, status, next_attempt_at FROM outbox ORDER BY 1, 2",
}


def _archive(settings: Settings) -> dict[str, Any]:
    """Every stored row that backfill writes, and the ids each search query finds."""
    with sqlite3.connect(settings.db_path) as db:
        rows = {name: db.execute(sql).fetchall() for name, sql in TABLES.items()}
    store = Store(settings.db_path)
    try:
        rows["search"] = {q: [r["id"] for r in store.search(q, limit=100)] for q in QUERIES}
    finally:
        store.close()
    return rows


def _sources(snapshot_url: str, site: LocalSite) -> str:
    """The demo snapshot's two sources, and a site with one good article page, one without
    a title (nor link text on the listing: its extraction fails) and one answering 500."""
    listing = serve_listing(site, "/mixed", count=3)
    links = listing_html("/mixed", 3).replace(">ข่าว /mixed ที่ 2<", "><")
    site.routes["/mixed/list"] = (200, {}, links.encode())
    site.routes["/mixed/2"] = (200, {}, b"<html><body><p>no title here</p></body></html>")
    site.routes["/mixed/3"] = (500, {}, b"server error")
    return snapshot_sources(snapshot_url) + html_source("mixed", listing)


def _backfill_all(settings: Settings, workers: int) -> list[Any]:
    store = Store(settings.db_path)
    try:
        return [
            backfill(source, settings, store, Walk(10), NOW, workers=workers).sources[0]
            for source in settings.sources
        ]
    finally:
        store.close()


def test_process_pool_backfill_stores_what_one_process_stores(
    tmp_path: Path, snapshot_url: str, sites: Callable[[], LocalSite], smtp: Smtp
):
    site = sites()
    sources = _sources(snapshot_url, site)
    archives, reports = {}, {}
    for workers in (1, 2):
        folder = tmp_path / f"workers-{workers}"
        folder.mkdir()
        settings = load_settings(write_config(folder, sources, smtp.port))
        reports[workers] = [replace(r, seconds=0) for r in _backfill_all(settings, workers)]
        archives[workers] = _archive(settings)

    one, two = archives[1], archives[2]
    assert len(one["items"]) == 38, "33 thaigov pages, 4 of 5 feed items (a copy), 1 good page"
    assert any(row[10] for row in one["items"]), "some items matched a topic"
    assert one["outbox"], "matched items were queued for the channel"
    assert all(one["search"][q] for q in ("ไซเบอร์", "อาเซียน", "มั่นคง"))
    for table in one:
        assert two[table] == one[table], table
    # A page's fetch failures are found while its extractions still run on the workers:
    # they come first among its problems.
    in_order = [replace(r, problems=tuple(sorted(r.problems))) for r in reports[2]]
    assert in_order == [replace(r, problems=tuple(sorted(r.problems))) for r in reports[1]]
    mixed = reports[2][-1]
    assert (mixed.found, mixed.new) == (3, 1)
    assert sorted(mixed.problems) == [
        f"{site.url('/mixed/2')}: article page without a title",
        f"{site.url('/mixed/3')}: HTTP 500 Internal Server Error",
    ], "one line per bad page, naming it"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_listing_page_that_fails_loses_none_of_the_page_before(
    tmp_path: Path, sites: Callable[[], LocalSite], workers: int
):
    # With workers, a page's items are stored once the next page's are handed out: the
    # walk stopping at the next page must still store them.
    site = sites()
    listing = serve_listing(site, "/paged", count=3)
    first_page = listing_html("/paged", 3).replace(
        "</ul>", '</ul><a rel="next" href="/paged/list2">ถัดไป</a>'
    )
    site.routes["/paged/list"] = (200, {}, first_page.encode())
    site.routes["/paged/list2"] = (500, {}, b"server error")
    settings = load_settings(write_config(tmp_path, html_source("paged", listing)))
    store = Store(settings.db_path)
    try:
        with pytest.raises(FetchError) as failed:
            backfill(settings.sources[0], settings, store, Walk(10), NOW, workers=workers)
        titles = [row[0] for row in store.db.execute("SELECT title FROM items ORDER BY id")]
    finally:
        store.close()
    assert failed.value.url == site.url("/paged/list2"), "the error names the page"
    assert titles == ["ข่าว /paged ที่ 1", "ข่าว /paged ที่ 2", "ข่าว /paged ที่ 3"]


def test_process_pool_rematch_stores_what_one_process_stores(
    tmp_path: Path, snapshot_url: str, sites: Callable[[], LocalSite]
):
    settings = load_settings(write_config(tmp_path, _sources(snapshot_url, sites())))
    _backfill_all(settings, workers=1)
    copy = tmp_path / "copy"
    copy.mkdir()
    with sqlite3.connect(settings.db_path) as db, sqlite3.connect(copy / "monitor.db") as target:
        db.backup(target)
    # A rules change: the first topic's threshold lowered, the others' doubled.
    first, *others = settings.rules.topics
    changed_rules = Rules(
        (replace(first, threshold=1), *(replace(t, threshold=t.threshold * 2) for t in others))
    )
    results: dict[Any, Any] = {}
    for workers, folder in ((1, settings.data_dir), (2, copy)):
        changed = replace(settings, rules=changed_rules, data_dir=folder)
        store = Store(changed.db_path)
        try:
            results[workers] = rematch(changed, store, False, NOW, workers=workers)
        finally:
            store.close()
        with sqlite3.connect(changed.db_path) as db:
            results[workers, "rows"] = db.execute(TABLES["items"]).fetchall()

    assert results[1].changed > 0
    assert results[2] == results[1]
    assert results[2, "rows"] == results[1, "rows"]


def test_rematch_rows_come_back_in_order_across_many_chunks(snapshot_settings: Settings):
    texts = ["ประชุมอาเซียนด้านความมั่นคงปลอดภัยไซเบอร์", "ข่าวเกษตรกรและราคาข้าว", "ASEAN CERT"]
    rows = [(n, f"ข่าวที่ {n}", f"{texts[n % 3]} ครั้งที่ {n}", f"before {n}") for n in range(1, 1501)]
    with Pool(2, snapshot_settings.rules) as pool:  # 8 chunks: more than are kept ahead
        matched = list(_matched_on(pool, 2, iter(rows)))

    assert len(rows) > 4 * REMATCH_CHUNK
    assert [(i, before) for i, before, _ in matched] == [(r[0], r[3]) for r in rows]
    assert [m for *_, m in matched] == [match(t, b, snapshot_settings.rules) for _, t, b, _ in rows]


def test_a_worker_that_dies_fails_only_its_own_job(snapshot_settings: Settings):
    rows = [(1, "ประชุมอาเซียนด้านไซเบอร์", "ความมั่นคงปลอดภัยไซเบอร์ของอาเซียน")]
    with Pool(2, snapshot_settings.rules) as pool:
        before = [pool.submit(match_rows, rows) for _ in range(3)]
        killer = pool.submit(os._exit, 3)  # a crash in a C extension, the OOM killer
        after = [pool.submit(match_rows, rows) for _ in range(3)]
        results = [job.result() for job in before]
        with pytest.raises(ExtractError, match="worker process died"):
            killer.result()
        results += [job.result() for job in after]
        again = pool.submit(match_rows, rows).result()

    assert all(r == results[0] for r in [*results, again])
    assert results[0][0][1].matched_topics, "the rows were matched"


class _KillsItsWorker(Fetched):
    """A page that kills the worker process reading it (as a crash in a C extension
    would): unpickling it there exits."""

    def __setstate__(self, state: object) -> None:
        os._exit(3)


def test_an_entry_that_kills_its_worker_fails_alone_in_its_batch(tmp_path: Path):
    settings = load_settings(write_config(tmp_path, html_source("s", "http://127.0.0.1/l")))
    source = settings.sources[0]
    pages = [
        Fetched(f"http://127.0.0.1/{n}", f"http://127.0.0.1/{n}", 200,
                text=article_html(f"ข่าวอาเซียน ที่ {n}"), content_type="text/html")
        for n in range(BATCH_SIZE)
    ]  # fmt: skip
    pages[1] = _KillsItsWorker(pages[1].url, pages[1].url, 200, text=pages[1].text)
    with Pool(2, settings.rules) as pool:
        batch = Batch(pool, source.name, source.article, NOW)
        parts = [batch.add(Entry(page.url), page) for page in pages]
        batch.flush()
        titles = [parts[n].result().item.title for n in (0, 2, 3)]
        with pytest.raises(ExtractError, match="worker process died"):
            parts[1].result()

    assert titles == ["ข่าวอาเซียน ที่ 0", "ข่าวอาเซียน ที่ 2", "ข่าวอาเซียน ที่ 3"]


def _slow_site(site: LocalSite, count: int) -> str:
    """A listing of `count` articles whose pages take 20 ms each."""

    def slow(page: bytes) -> Callable[[Any], None]:
        def answer(handler: Any) -> None:
            time.sleep(0.02)
            handler.reply(200, page)

        return answer

    listing = serve_listing(site, "/slow", count)
    for n in range(1, count + 1):
        body = f"ข่าวที่ {n} การประชุมความร่วมมือด้านความมั่นคงปลอดภัยไซเบอร์อาเซียน " * 20
        site.routes[f"/slow/{n}"] = slow(article_html(f"ข่าวช้า ที่ {n}", body=body).encode())
    return listing


def test_ctrl_c_leaves_the_archive_consistent_and_the_next_backfill_completes(
    tmp_path: Path, sites: Callable[[], LocalSite]
):
    site = sites()
    config = write_config(tmp_path, html_source("slow", _slow_site(site, 120)))
    command = [sys.executable, "-m", "monitor", "backfill", "slow", "--workers", "2",
               "--config", str(config)]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    while site.requested("/slow/10") == 0 and process.poll() is None:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the command and its workers alike
    _, stderr = process.communicate(timeout=60)

    assert process.returncode != 0, "interrupted before the end"
    assert "Traceback" not in stderr
    db = load_settings(config).db_path
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        items, urls, signed, indexed = (
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("items", "item_urls", "item_signatures", "items_fts")
        )
    assert items < 120
    assert items == urls == signed == indexed, "no item half stored"

    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 120
