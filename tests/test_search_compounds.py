"""Search finds a word as the head of a derivational compound (issue 15, point 7):
`มั่นคง` in `ความมั่นคง`, `ปลอดภัย` in `ความปลอดภัย`, never `ภัย` inside `ปลอดภัย`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor import thai, web
from monitor.models import Item, Match
from monitor.store import SEARCH_KEY, Filters, Store, fts_query
from monitor.thai import compound_heads, index_words, normalize_text, segment

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
# Shaped like thaigov.go.th releases: compounds glued to the words around them.
ITEMS = {
    "ไซเบอร์": (
        "สกมช. หารือความมั่นคงปลอดภัยไซเบอร์",
        "ที่ประชุมหารือแนวทางยกระดับความมั่นคงปลอดภัยไซเบอร์ของหน่วยงานภาครัฐ",
    ),
    "ถนน": ("รณรงค์ขับขี่ปลอดภัย", "ถนนปลอดภัยช่วงเทศกาลปีใหม่ ลดอุบัติเหตุ"),
    "ภัย": ("เตือนภัยคุกคาม", "ภัยคุกคามจากแรนซัมแวร์ต่อโรงพยาบาล"),
    "ชายแดน": ("ความมั่นคงชายแดน", "นายกรัฐมนตรีประชุมสภาความมั่นคงแห่งชาติ"),
    "อาหาร": ("ความปลอดภัยของอาหาร", "ตรวจสอบความปลอดภัยของอาหารในโรงเรียน"),
    "สภา": ("นักการเมืองท้องถิ่น", "นักการเมืองประชุมที่ศาลากลางจังหวัดในเมืองเชียงใหม่"),
    "นำเข้า": ("ผู้นำเข้าสินค้า", "กระทรวงพาณิชย์เชิญผู้นำเข้าสินค้าเกษตรร่วมประชุม"),
    "ร่วมมือ": ("ขอประชาชนร่วมมือ", "ขอให้ผู้ที่เดินทางกลับให้ความร่วมมือและปฏิบัติตามคำแนะนำ"),
}


def _save(store: Store, n: int, title: str, body: str) -> int:
    item = Item(
        url=f"https://www.thaigov.go.th/news/contents/details/{n}",
        source="thaigov",
        title=title,
        body=body,
        published_at=f"2026-11-{10 + n}T02:00:00Z",
        content_hash=str(n),
    )
    return store.save_item(item, Match(), {}, NOW)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    store = Store(tmp_path / "monitor.db")
    for n, (title, body) in enumerate(ITEMS.values()):
        _save(store, n, title, body)
    store.close()
    return tmp_path / "monitor.db"


def _found(store: Store, query: str) -> list[str]:
    return sorted(key for key, (title, _) in ITEMS.items() for r in store.search(query)
                  if r["title"] == title)  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("มั่นคง", ["ชายแดน", "ไซเบอร์"]),  # the head of ความมั่นคง
        ("ปลอดภัย", ["ถนน", "อาหาร", "ไซเบอร์"]),  # and of ความปลอดภัย
        ("ภัย", ["ภัย"]),  # never inside ปลอดภัย, ความปลอดภัย or เตือนภัย's neighbours
        ("ความมั่นคง", ["ชายแดน", "ไซเบอร์"]),
        ("ความปลอดภัย", ["อาหาร"]),  # ความมั่นคง|ปลอดภัย holds no ความปลอดภัย
        ("ความมั่นคงปลอดภัยไซเบอร์", ["ไซเบอร์"]),  # phrases still read words in sequence
        # A phrase that starts at a head: heads lie after the text, not beside their
        # compound (thai.index_words), so that every phrase reads as before.
        ("มั่นคงปลอดภัย", []),
        ("มั่นคง ปลอดภัย", ["ไซเบอร์"]),
        # unicode61 splits Thai at marks: ความร่วมมือ is found in ให้ความร่วมมือ, as before
        ("ความร่วมมือ", ["ร่วมมือ"]),
        ("ร่วมมือ", ["ร่วมมือ"]),
        ("ปลอดภัยชายแดน", []),  # the words, but not in sequence
        ("มั่นคง ไซเบอร์", ["ไซเบอร์"]),
        ("เมือง", ["สภา"]),  # ในเมือง; การเมือง is not a derivation of เมือง
        ("การเมือง", ["สภา"]),  # head of นักการเมือง
        ("นำเข้า", ["นำเข้า"]),  # head of ผู้นำเข้า
        ("ผู้นำ*", ["นำเข้า"]),  # a prefix search still reads the whole word
    ],
)
def test_search_finds_the_head_of_a_compound_and_nothing_inside_other_words(
    path: Path, query: str, expected: list[str]
):
    store = Store(path)
    assert _found(store, query) == expected
    ranked = {r["title"] for r in store.find(query, Filters(sort="rank"), limit=None)}
    assert ranked == {ITEMS[key][0] for key in expected}


def test_heads_follow_only_derivational_prefixes():
    assert compound_heads("ความมั่นคง") == ("มั่นคง",)
    assert compound_heads("ความปลอดภัย") == ("ปลอดภัย",)
    assert compound_heads("ความเป็นผู้นำ") == ("ผู้นำ", "นำ")  # longest prefix first
    assert compound_heads("ปลอดภัย") == ()  # not a prefix compound: no ภัย
    assert compound_heads("การเมือง") == ()  # lexicalised: politics, not city
    assert compound_heads("นักการเมือง") == ("การเมือง",)
    assert compound_heads("การันตี") == ()  # ันตี is no word
    assert compound_heads("ความ") == ()
    words = ["ความมั่นคง", "ปลอดภัย", "ความมั่นคง", "ความเป็นผู้นำ"]
    assert index_words(words) == [*words, "มั่นคง", "ผู้นำ", "นำ"]  # each head once, after
    assert fts_query("ความมั่นคง ผู้นำ*") == '"ความมั่นคง" AND "ผู้นำ"*'  # queries as before


def test_the_hashed_dictionary_answers_as_the_word_set_did():
    lines = thai._word_list().read_text(encoding="utf-8").splitlines()
    words = frozenset(w.strip() for w in (*lines, *thai.EXTRA_WORDS) if w.strip())
    assert all(thai.is_dictionary_word(word) for word in words)
    others = (
        {f"{word}ๆ" for word in words}
        | {word[:-1] for word in words}
        | {"", "ันตี", "kwam", "มั่นคงปลอดภัยไซเบอร์", "ความมั่นคงปลอดภัย"}
    )
    assert not any(thai.is_dictionary_word(word) for word in others - words)
    assert len(others - words) > 60_000

    def heads(word: str) -> tuple[str, ...]:  # as they were found in the word set
        if word in thai.LEXICALISED:
            return ()
        for prefix in thai.COMPOUND_PREFIXES:
            head = word[len(prefix) :]
            if word.startswith(prefix) and len(head) > 1 and head in words:
                return (head, *heads(head))
        return ()

    compounds = [p + w for p in thai.COMPOUND_PREFIXES for w in sorted(words)[::50]]
    for word in [*words, *compounds, *others]:
        assert compound_heads(word) == heads(word), word
    assert sum(map(bool, map(heads, compounds))) > 1_000


def test_the_compound_rule_is_part_of_the_dictionary_version(monkeypatch):
    before = thai.dictionary_version()
    monkeypatch.setattr(thai, "COMPOUND_PREFIXES", (*thai.COMPOUND_PREFIXES, "เครื่อง"))
    thai.dictionary_version.cache_clear()
    try:
        assert thai.dictionary_version() != before
    finally:
        monkeypatch.undo()
        thai.dictionary_version.cache_clear()
    assert thai.dictionary_version() == before


def test_an_archive_indexed_without_heads_is_reindexed_once_on_open(path: Path, caplog):
    store = Store(path)  # make it look as the previous version indexed it
    for index in ("items_fts", "titles_fts"):
        store.db.execute(f"INSERT INTO {index} ({index}) VALUES ('delete-all')")
    for item_id, title, body in store.db.execute("SELECT id, title, body FROM items").fetchall():
        plain = [" ".join(segment(normalize_text(t))) for t in (title, body)]
        store.db.execute(
            f"INSERT INTO items_fts (rowid, title, body) SELECT {SEARCH_KEY}, ?, ? FROM items "
            "WHERE id = ?",
            [*plain, item_id],
        )
        store.db.execute(
            f"INSERT INTO titles_fts (rowid, title) SELECT {SEARCH_KEY}, ? FROM items WHERE id = ?",
            [plain[0], item_id],
        )
    store.db.execute("UPDATE store_state SET value = 'before-heads' WHERE key = 'dictionary'")
    store.db.conn.commit()
    assert _found(store, "มั่นคง") == []  # the symptom of issue 15
    store.close()

    assert _found(Store(path), "มั่นคง") == ["ชายแดน", "ไซเบอร์"]
    assert "re-indexing 8 items for search, once" in caplog.text
    caplog.clear()
    Store(path).close()
    assert "re-indexing" not in caplog.text


def test_pruning_and_revising_take_heads_out_of_the_index(path: Path):
    store = Store(path)
    item_id = store.id_for_url("https://www.thaigov.go.th/news/contents/details/3")
    assert item_id is not None
    edited = Item(
        url="https://www.thaigov.go.th/news/contents/details/3", source="thaigov",
        title="ชายแดนสงบ", body="สถานการณ์ชายแดนเป็นปกติ", published_at=None, content_hash="v2",
    )  # fmt: skip
    store.revise_item(item_id, edited, Match(), {}, NOW)
    assert _found(store, "มั่นคง") == ["ไซเบอร์"]
    store.prune_unmatched(datetime(2027, 1, 1, tzinfo=UTC))
    assert store.search("มั่นคง") == [] and store.search("ปลอดภัย") == []
    for index in ("items_fts", "titles_fts"):  # FTS5 was told the words it had indexed
        store.db.execute(f"INSERT INTO {index} ({index}) VALUES ('integrity-check')")


def test_the_web_search_finds_heads_as_the_store_does(path: Path):
    async def fetch(*queries: str) -> list[httpx.Response]:
        ds = web.app(path)
        await ds.invoke_startup()
        return [
            await ds.client.get("/monitor/search.json", params={"_shape": "array", "q": q})
            for q in queries
        ]

    queries = ("มั่นคง", "ปลอดภัย", "ภัย", "ความมั่นคงปลอดภัยไซเบอร์")
    store = Store(path)
    for query, response in zip(queries, asyncio.run(fetch(*queries)), strict=True):
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()
        assert sorted(r["title"] for r in rows) == sorted(r["title"] for r in store.search(query))
    assert web.thai_fts_query("มั่นคง") == fts_query("มั่นคง")
