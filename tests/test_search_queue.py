"""New items enter the search index a batch at a time (store_index.SearchQueue): what
another process searching sees, and that nothing is lost or indexed with old words
when a process dies, or an item is revised or pruned, before its batch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import store_index, store_items
from monitor.models import Item, Match
from monitor.store import Store

NOW = datetime(2026, 11, 26, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def _item(url: str, title: str, body: str) -> Item:
    return Item(url=url, source="s", title=title, body=body, published_at=None, content_hash=url)


def _save(store: Store, url: str, title: str, body: str) -> int:
    return store.save_item(_item(url, title, body), Match(), {}, NOW)


def _found(path: Path, query: str) -> list[str]:
    """Titles another process's search finds (a connection with nothing of its own)."""
    reader = Store(path)
    try:
        return sorted(row["title"] for row in reader.search(query))
    finally:
        reader.close()


def test_another_process_finds_new_items_once_the_writer_indexes_its_batch(tmp_path: Path):
    path = tmp_path / "m.db"
    writer = Store(path)
    _save(writer, "https://a/1", "เตือนภัยฟิชชิง", "อีเมลปลอมเป็นธนาคาร")
    assert _found(path, "ฟิชชิง") == []  # waits for its batch, at most SEARCH_DELAY seconds
    writer.flush_search()
    assert _found(path, "ฟิชชิง") == ["เตือนภัยฟิชชิง"]
    writer.close()


def test_a_full_batch_is_indexed_without_waiting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(store_index, "SEARCH_BATCH", 3)
    path = tmp_path / "m.db"
    writer = Store(path)
    for i in range(3):
        _save(writer, f"https://a/{i}", f"ข่าวไซเบอร์ {i}", "ภัยคุกคามทางไซเบอร์")
    assert len(_found(path, "ไซเบอร์")) == 3
    writer.close()


def test_the_writer_finds_its_own_new_items_at_once(tmp_path: Path):
    writer = Store(tmp_path / "m.db")
    _save(writer, "https://a/1", "เตือนภัยฟิชชิง", "อีเมลปลอมเป็นธนาคาร")
    assert [row["title"] for row in writer.search("ฟิชชิง")] == ["เตือนภัยฟิชชิง"]
    writer.close()


DIES = """
    import os, sys
    from datetime import UTC, datetime
    from monitor.models import Item, Match
    from monitor.store import Store
    store = Store(sys.argv[1])
    item = Item(url=sys.argv[2], source="s", title="เตือนภัยแรนซัมแวร์", body="โรงพยาบาลถูกโจมตี",
                published_at=None, content_hash=sys.argv[2])
    store.save_item(item, Match(), {}, datetime.now(UTC))
    os._exit(0)  # killed before its batch was indexed
"""


def _dies_storing(path: Path, url: str) -> None:
    command = [sys.executable, "-c", textwrap.dedent(DIES), str(path), url]
    subprocess.run(command, cwd=ROOT, check=True)


def test_items_of_a_process_that_died_before_its_batch_are_indexed_by_the_next_writer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "m.db"
    Store(path).close()
    _dies_storing(path, "https://a/1")
    assert _found(path, "แรนซัมแวร์") == []  # too recent for orphaned: its process may live
    monkeypatch.setattr(store_items, "ORPHANED_AFTER", -1.0)  # as if 5 minutes later
    Store(path).close()  # the next run opens the archive
    assert _found(path, "แรนซัมแวร์") == ["เตือนภัยแรนซัมแวร์"]
    assert "1 stored items left out of the search index" in caplog.text
    caplog.clear()
    writer = Store(path)  # a run storing a new item indexes the orphans with its batch
    _dies_storing(path, "https://a/3")
    _save(writer, "https://a/2", "ข่าวใหม่", "ข้อความ")
    writer.flush_search()
    assert _found(path, "แรนซัมแวร์") == ["เตือนภัยแรนซัมแวร์"] * 2
    assert "1 stored items left out of the search index" in caplog.text
    writer.close()


@pytest.mark.parametrize("old_batch_first", [True, False])
def test_an_item_revised_before_its_batch_is_indexed_with_its_new_words_only(
    tmp_path: Path, old_batch_first: bool
):
    path = tmp_path / "m.db"
    first, second = Store(path), Store(path)  # e.g. two of the service's job threads
    item_id = _save(first, "https://a/1", "ประกาศเดิม", "ข้อความฟิชชิงเดิม")
    revised = _item("https://a/1", "ประกาศแก้ไข", "ข้อความแรนซัมแวร์ใหม่")
    second.revise_item(item_id, revised, Match(), {}, NOW)
    # The first batch holds the old words: they must not go in, before or after the new.
    for store in (first, second) if old_batch_first else (second, first):
        store.flush_search()
    assert _found(path, "ฟิชชิง") == []
    assert _found(path, "แรนซัมแวร์") == ["ประกาศแก้ไข"]
    # Taken out again (a second edit): FTS5 is told the words it holds, and keeps none.
    first.revise_item(item_id, _item("https://a/1", "ประกาศที่สาม", "ข้อความอื่น"), Match(), {}, NOW)
    first.flush_search()
    assert _found(path, "แรนซัมแวร์") == []
    assert _found(path, "ประกาศ") == ["ประกาศที่สาม"]
    first.close()
    second.close()


def test_an_item_pruned_before_its_batch_leaves_nothing_in_the_index(tmp_path: Path):
    path = tmp_path / "m.db"
    writer = Store(path)
    _save(writer, "https://a/1", "ข่าวเก่า", "ภัยคุกคามทางไซเบอร์")
    assert writer.prune_unmatched(datetime(2027, 1, 1, tzinfo=UTC)) == 1
    writer.flush_search()
    assert _found(path, "ไซเบอร์") == []
    _save(writer, "https://a/2", "ข่าวใหม่", "ภัยคุกคามทางไซเบอร์")
    writer.close()
    assert _found(path, "ไซเบอร์") == ["ข่าวใหม่"]
    with Store(path).db.conn as conn:  # FTS5's own check of its index
        conn.execute("INSERT INTO items_fts (items_fts) VALUES ('integrity-check')")
