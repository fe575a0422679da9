"""The archive: schema through migrations, Thai full-text search, safe queries."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from monitor import store_index
from monitor.errors import QueryError
from monitor.models import Item, Match, SourceReport, TopicResult
from monitor.store import SEARCH_KEY, Filters, Store, migrations, search_text
from monitor.thai import dictionary_version

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _save(store: Store, url: str, title: str, body: str, published: str | None = None) -> int:
    item = Item(
        url=url, source="s", title=title, body=body, published_at=published, content_hash=url
    )
    return store.save_item(item, Match(), {}, NOW)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "m.db")
    _save(s, "https://a/1", "ข่าวหนึ่ง", "ที่ประชุมหารือความมั่นคงปลอดภัยไซเบอร์ของภูมิภาค")
    _save(s, "https://a/2", "ข่าวสอง", "ถนนปลอดภัยช่วงเทศกาล ASEAN Summit in Bangkok")
    _save(s, "https://a/3", "Ransomware warning", "ภัยคุกคามจากแรนซัมแวร์")
    return s


def _titles(store: Store, query: str) -> list[str]:
    return sorted(r["title"] for r in store.search(query))


def test_thai_word_inside_running_text_is_found(store: Store):
    assert _titles(store, "ไซเบอร์") == ["ข่าวหนึ่ง"]


def test_thai_compound_query_finds_words_in_sequence(store: Store):
    assert _titles(store, "ความมั่นคงปลอดภัยไซเบอร์") == ["ข่าวหนึ่ง"]


def test_short_thai_word_is_not_found_inside_a_longer_word(store: Store):
    # ภัย is a word of ภัยคุกคาม (threat) but only part of ปลอดภัย (safe).
    assert _titles(store, "ภัย") == ["Ransomware warning"]
    assert _titles(store, "ปลอดภัย") == ["ข่าวสอง", "ข่าวหนึ่ง"]


def test_english_is_case_insensitive_and_prefix_works(store: Store):
    assert _titles(store, "asean") == ["ข่าวสอง"]
    assert _titles(store, "ransom*") == ["Ransomware warning"]


@pytest.mark.parametrize("query", ['"', "AND", "a OR (b", "NEAR(", "*", "title:x", "-x"])
def test_odd_queries_never_raise_a_syntax_error(store: Store, query: str):
    try:
        store.search(query)
    except QueryError as exc:
        assert "nothing to search for" in str(exc)


def test_reopening_applies_no_migration_twice(tmp_path: Path):
    Store(tmp_path / "m.db").close()
    store = Store(tmp_path / "m.db")
    assert store.count_items() == 0


def test_many_connections_opening_a_new_archive_at_once_migrate_it_once(tmp_path: Path):
    path = tmp_path / "new.db"
    start = threading.Barrier(10)  # the service's job threads at its first cycle

    def open_and_close(_: int) -> None:
        start.wait()
        Store(path).close()

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(open_and_close, range(10)))

    Store(tmp_path / "alone.db").close()
    applied, alone = (
        sorted(m["name"] for m in sqlite_utils.Database(p)["_sqlite_migrations"].rows)
        for p in (path, tmp_path / "alone.db")
    )
    assert applied == alone


def test_unknown_item_is_a_query_error(store: Store):
    with pytest.raises(QueryError, match="no item with id 99"):
        store.item(99)


def test_prune_deletes_old_unmatched_items_and_keeps_matched(tmp_path: Path):
    from monitor.models import TopicResult

    store = Store(tmp_path / "p.db")
    old = Item(url="https://a/old", source="s", title="เก่า", body="ข่าวทั่วไป", published_at=None)
    kept = Item(
        url="https://a/cyber", source="s", title="ไซเบอร์", body="ภัยไซเบอร์", published_at=None
    )
    store.save_item(old, Match(), {}, NOW, b"sig", [1, 2])
    store.save_item(kept, Match((TopicResult("cybersecurity", 9.0, True),)), {}, NOW)

    deleted = store.prune_unmatched(NOW.replace(year=2027))

    assert deleted == 1
    assert [r["title"] for r in store.items_overview()] == ["ไซเบอร์"]
    assert store.search("ข่าว") == [] and store.near_candidates([1, 2]) == []
    assert store.known_urls(["https://a/old"]) == set()


def test_revised_item_is_found_by_its_new_words_and_keeps_its_old_text(store: Store):
    item_id = store.id_for_url("https://a/3")
    assert item_id is not None
    edited = Item(
        url="https://a/3", source="s", title="Ransomware warning (updated)",
        body="คำเตือนมัลแวร์เรียกค่าไถ่ฉบับแก้ไข", published_at=None, content_hash="v2",
    )  # fmt: skip
    store.revise_item(item_id, edited, Match(), {}, NOW)

    assert _titles(store, "มัลแวร์") == ["Ransomware warning (updated)"]
    assert _titles(store, "ภัยคุกคาม") == []
    for index in ("items_fts", "titles_fts"):  # and the index structure is sound
        store.db.execute(f"INSERT INTO {index} ({index}) VALUES ('integrity-check')")
    shown = store.item(item_id)
    assert shown["body"] == "คำเตือนมัลแวร์เรียกค่าไถ่ฉบับแก้ไข"
    assert [r["title"] for r in shown["revisions"]] == ["Ransomware warning"]
    assert store.own_items(["https://a/3", "https://a/9"]) == {
        "https://a/3": (item_id, "Ransomware warning (updated)", "v2", "", "s")
    }
    assert store.count_items() == 3


def test_ranked_search_puts_title_matches_first_then_newest(tmp_path: Path):
    store = Store(tmp_path / "m.db")
    _save(store, "https://b/1", "ภัยไซเบอร์ต่อธนาคาร", "รายละเอียด", "2020-01-01T00:00:00Z")
    _save(store, "https://b/2", "ข่าวเศรษฐกิจ", "มีภัยไซเบอร์ในย่อหน้า", "2026-01-01T00:00:00Z")
    _save(store, "https://b/3", "ข่าวกีฬา", "ภัยไซเบอร์อีกครั้ง", "2025-01-01T00:00:00Z")
    _save(store, "https://b/4", "ข่าวไม่มีวันที่", "ภัยไซเบอร์", None)  # first seen NOW: 2026-11-26

    ranked = [r["title"] for r in store.find("ภัยไซเบอร์")]
    newest = [r["title"] for r in store.find("ภัยไซเบอร์", Filters(sort="newest"))]

    assert ranked == ["ภัยไซเบอร์ต่อธนาคาร", "ข่าวไม่มีวันที่", "ข่าวเศรษฐกิจ", "ข่าวกีฬา"]
    assert newest == ["ข่าวไม่มีวันที่", "ข่าวเศรษฐกิจ", "ข่าวกีฬา", "ภัยไซเบอร์ต่อธนาคาร"]
    assert [r["title"] for r in store.find("ภัยไซเบอร์", limit=2)] == ranked[:2]


def test_date_filters_bound_a_search_and_the_limit_is_kept(tmp_path: Path):
    store = Store(tmp_path / "m.db")
    for year in range(2015, 2027):
        _save(store, f"https://b/{year}", f"ASEAN {year}", "อาเซียน", f"{year}-06-01T00:00:00Z")
    window = Filters(since=datetime(2018, 6, 1, tzinfo=UTC), until=datetime(2021, 6, 1, tzinfo=UTC))
    found = [r["title"] for r in store.find("อาเซียน", window)]
    assert found == ["ASEAN 2020", "ASEAN 2019", "ASEAN 2018"]
    assert len(list(store.find("asean", limit=5))) == 5
    assert len(list(store.find("asean", limit=None))) == 12


def _archive_before(
    path: Path, migration: str, item_id: int, title: str, body: str
) -> sqlite_utils.Database:
    """An archive as an older version left it (migrations up to `migration`), one item
    of 2024-05-01 in its items table; the caller writes its search rows."""
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before=migration)
    db["items"].insert(
        {"id": item_id, "url": f"https://a/{item_id}", "url_key": f"a/{item_id}", "source": "s",
         "title": title, "body": body, "published_at": "2024-05-01T00:00:00Z",
         "first_seen_at": "2024-05-01T00:00:00Z", "matched_topics": ""}
    )  # fmt: skip
    return db


def test_opening_an_archive_indexed_by_id_rekeys_its_search_index(tmp_path: Path, caplog):
    path = tmp_path / "old.db"
    db = _archive_before(path, "m006_search_keyed_by_date", 7, "ข่าวเก่า", "ความร่วมมืออาเซียน")
    db.execute(
        "INSERT INTO items_fts (rowid, title, body) VALUES (7, ?, ?)",
        [search_text("ข่าวเก่า"), search_text("ความร่วมมืออาเซียน")],
    )
    db.conn.commit()
    db.close()

    store = Store(path)
    assert [r["id"] for r in store.find("อาเซียน")] == [7]
    assert list(store.find("อาเซียน", Filters(until=datetime(2024, 1, 1, tzinfo=UTC)))) == []
    assert "items_fts_content" not in store.db.table_names(), "the index keeps no text copy"
    assert "upgrading the archive (m006_search_keyed_by_date, " in caplog.text
    caplog.clear()
    Store(tmp_path / "new.db").close()
    assert "upgrading" not in caplog.text, "a new archive is created silently"


def test_two_flushes_at_the_same_instant_never_claim_the_same_alert(tmp_path: Path):
    first, second = Store(tmp_path / "m.db"), Store(tmp_path / "m.db")
    item = Item(url="https://c/1", source="s", title="t", body="b", published_at=None)
    first.save_item(item, Match(), {"email": NOW}, NOW)

    claims = [first.claim_due_alerts(NOW, ["email"]), second.claim_due_alerts(NOW, ["email"])]

    assert [len(c) for c in claims] == [1, 0]


def test_a_claim_left_by_a_failed_flush_of_this_process_is_taken_back_later(tmp_path: Path):
    store = Store(tmp_path / "m.db")
    item = Item(url="https://c/1", source="s", title="t", body="b", published_at=None)
    store.save_item(item, Match(), {"email": NOW}, NOW)
    assert len(store.claim_due_alerts(NOW, ["email"])) == 1  # ... and never marked

    assert store.claim_due_alerts(NOW + timedelta(minutes=5), ["email"]) == []
    retaken = store.claim_due_alerts(NOW + timedelta(hours=1), ["email"])
    assert [row["status"] for row in retaken] == ["sending"]


def test_items_indexed_before_the_extra_words_are_found_by_them(tmp_path: Path):
    path = tmp_path / "old.db"
    db = _archive_before(path, "m007_reindex_extra_words", 3, "คำเตือน", "แรนซัมแวร์ระบาด")
    key = (int(datetime(2024, 5, 1, tzinfo=UTC).timestamp()) << 26) | 3
    # How the index split it before: the loanword in two pieces.
    db.execute(
        "INSERT INTO items_fts (rowid, title, body) VALUES (?, 'คำเตือน', 'แร นซัมแวร์ ระบาด')",
        [key],
    )
    db.execute("INSERT INTO titles_fts (rowid, title) VALUES (?, 'คำเตือน')", [key])
    db.conn.commit()
    db.close()

    assert [r["id"] for r in Store(path).find("แรนซัมแวร์")] == [3]


def _split_the_old_way(path: Path, dictionary: str) -> None:
    """Index every item as a dictionary without แรนซัมแวร์ did, recorded as `dictionary`."""
    db = sqlite_utils.Database(path)
    for key, title, body in db.execute(f"SELECT {SEARCH_KEY}, title, body FROM items").fetchall():
        words, now = search_text(title), search_text(body)
        db.execute(
            "INSERT INTO items_fts (items_fts, rowid, title, body) VALUES ('delete', ?, ?, ?)",
            [key, words, now],
        )
        db.execute(
            "INSERT INTO items_fts (rowid, title, body) VALUES (?, ?, ?)",
            [key, words, now.replace("แรนซัมแวร์", "แร นซัมแวร์")],
        )
    db.execute("UPDATE store_state SET value = ? WHERE key = 'dictionary'", [dictionary])
    db.conn.commit()
    db.close()


def test_a_new_dictionary_re_indexes_the_archive_once(tmp_path: Path, caplog):
    path = tmp_path / "m.db"
    store = Store(path)
    item_id = _save(store, "https://a/1", "คำเตือน", "แรนซัมแวร์ระบาดในหน่วยงานรัฐ")
    store.close()
    _split_the_old_way(path, "pythainlp-of-last-year")

    assert [r["id"] for r in Store(path).find("แรนซัมแวร์")] == [item_id]
    assert "re-indexing 1 items" in caplog.text

    _split_the_old_way(path, dictionary_version())  # same dictionary: the index is trusted
    assert list(Store(path).find("แรนซัมแวร์")) == []


def test_search_filters_by_source_topic_and_match(tmp_path: Path):
    store = Store(tmp_path / "m.db")
    cyber = Match((TopicResult("cybersecurity", 9.0, True, ()),))
    for n, (source, match) in enumerate([("a", cyber), ("b", Match()), ("a", Match())]):
        item = Item(
            url=f"https://f/{n}", source=source, title=f"ข่าว {n}", body="ภัยไซเบอร์",
            published_at=f"2026-0{n + 1}-01T00:00:00Z", content_hash=f"f{n}",
        )  # fmt: skip
        store.save_item(item, match, {}, NOW)

    def titles(**filters: Any) -> list[str]:
        return [r["title"] for r in store.find("ภัยไซเบอร์", Filters(**filters))]

    assert titles(source="a") == ["ข่าว 2", "ข่าว 0"]
    assert titles(topic="cybersecurity") == ["ข่าว 0"]
    assert titles(matched=False) == ["ข่าว 2", "ข่าว 1"]
    assert titles(source="b", topic="cybersecurity") == []


def test_near_duplicates_are_found_before_and_after_their_band_keys_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # New band keys wait in a small table (fewer pages a commit writes) and move on
    # in bulk: a lookup finds an item wherever its keys are.
    monkeypatch.setattr(store_index, "RECENT_BAND_ROWS", 64)
    store = Store(tmp_path / "m.db")

    def save(n: int) -> int:
        item = Item(url=f"https://a/{n}", source="s", title=f"ข่าว {n}", body="เนื้อหา",
                    published_at=None, content_hash=f"h{n}")  # fmt: skip
        keys = [n * 100 + k for k in range(32)]  # 32 keys an item, as dedup gives
        return store.save_item(item, Match(), {}, NOW, f"sig{n}".encode(), keys)

    def rows(table: str) -> int:
        return store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    first = save(1)
    assert (rows("item_bands_recent"), rows("item_bands")) == (32, 0)
    assert store.near_candidates([105, 999]) == [(first, b"sig1")]
    second = save(2)  # the 64th key: all move
    assert (rows("item_bands_recent"), rows("item_bands")) == (0, 64)
    third = save(3)
    assert store.near_candidates([105, 999]) == [(first, b"sig1")]
    assert store.near_candidates([301, 205, 101]) == [
        (first, b"sig1"), (second, b"sig2"), (third, b"sig3"),
    ]  # fmt: skip
    store.close()


def test_an_archive_hashed_and_signed_the_old_way_is_hashed_and_signed_again(tmp_path: Path):
    """m013: the content hash now covers the title and signatures are format 2; items
    stored before must compare the new way, or copies of them would be missed."""
    from monitor import dedup

    path = tmp_path / "old.db"
    store = Store(path)
    stub = "พลเอก ประยุทธ์ จันทร์โอชา นายกรัฐมนตรี เป็นประธานการประชุมคณะรัฐมนตรี"
    ids = []
    for day in (2, 9):
        item = Item(url=f"https://a/{day}", source="s", title=f"สรุปการประชุม ครม. {day} พ.ค. 2560",
                    body=stub, published_at=None, content_hash="body-only")  # fmt: skip
        ids.append(store.save_item(item, Match(), {}, NOW, b"\x01old", [1, 2]))
    store.db.execute(
        "DELETE FROM _sqlite_migrations WHERE name = 'm013_hash_with_title_signature_2'"
    )
    store.db.conn.commit()
    store.close()

    store = Store(path)
    rows = {r["id"]: r for r in store.db.query("SELECT id, title, body, content_hash FROM items")}
    signatures = dict(store.db.execute("SELECT item_id, signature FROM item_signatures").fetchall())
    bands = store.db.execute(
        "SELECT count(*) FROM item_bands WHERE band_key IN (1, 2) UNION ALL "
        "SELECT count(*) FROM item_bands_recent WHERE band_key IN (1, 2)"
    ).fetchall()
    store.close()
    hashes = {rows[i]["content_hash"] for i in ids}
    assert hashes == {dedup.content_hash(rows[i]["title"], stub) for i in ids} and len(hashes) == 2
    for i in ids:
        assert signatures[i] == dedup.signature(rows[i]["title"], stub).to_bytes()
    assert bands == [(0,), (0,)], "the old band keys are gone from both tables"


def test_a_sources_health_row_carries_counts_over_runs(tmp_path: Path):
    """`record_run` computes what it carries over in SQL: failures count up until a
    success, and the items a run gave are kept through 304s and failures."""
    store = Store(tmp_path / "m.db")
    runs = [
        (SourceReport("s", not_modified=True), 0, 0),  # a first run sets the count
        (SourceReport("s", found=5), 0, 5),
        (SourceReport("s", not_modified=True), 0, 5),
        (SourceReport("s", error="HTTP 500"), 1, 5),
        (SourceReport("s", error="HTTP 500"), 2, 5),
        (SourceReport("s", found=3), 0, 3),
    ]
    for i, (report, failures, items) in enumerate(runs):
        store.record_run(report, NOW + timedelta(minutes=i))
        row = store.source_state("s")
        assert row is not None
        assert (row["consecutive_failures"], row["items_last_run"]) == (failures, items), i
    assert row["last_success_at"] == "2026-11-26T00:05:00Z"
    assert row["last_error"] == "HTTP 500" and row["last_error_at"] == "2026-11-26T00:04:00Z"
