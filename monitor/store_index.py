"""How items enter and leave the search index and the near-duplicate tables.

Search: FTS5 with the default `unicode61` tokenizer over text segmented into
words by pythainlp and joined with spaces (FTS5 alone splits Thai at every vowel
and tone mark and finds nothing for `ไซเบอร์`; the `trigram` tokenizer would also
find `ภัย` inside `ปลอดภัย` and cannot search words under three characters). Index
rows are keyed by date (SEARCH_KEY), so searches read newest first and stop early.

Used by the items part (store_items), which indexes an item as it stores it, and by
the migrations (store_schema) and `Store`, which index or sign stored items again.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

import sqlite_utils

from monitor.thai import index_words, normalize_text, segment

# Search index rows are keyed by date: rowid = the item's date in seconds since 1970
# (published_at, or first_seen_at when the page gave none) << ID_BITS | items.id.
# FTS5 reads rowids in order cheaply, so "newest matches first" reads only as many
# index entries as it shows, however common the word.
ID_BITS = 26  # item ids below 67 million
ID_MASK = (1 << ID_BITS) - 1
MAX_SECONDS = (1 << 36) - 1
MAX_KEY = (MAX_SECONDS << ID_BITS) | ID_MASK
SEARCH_KEY = (
    f"((min({MAX_SECONDS}, max(0, coalesce(CAST(strftime('%s', published_at) AS INTEGER), "
    f"CAST(strftime('%s', first_seen_at) AS INTEGER), 0))) << {ID_BITS}) | id)"
)


# Band keys of new items go to a small table first (item_bands_recent), moved into
# item_bands past RECENT_BAND_ROWS rows. A commit writes every page its inserts touched,
# and an item's 32 keys land on 32 random pages of a B-tree: in item_bands, a commit of
# a 20-item listing page wrote some 640 pages of a 4,000-item archive, a sixth of a
# feed's first cycle (benchmarks/feed_cycle.py). The small table has few pages to
# touch; a move inserts its keys in order, touching each page of item_bands once.
BAND_TABLES = ("item_bands", "item_bands_recent")
RECENT_BAND_ROWS = 16_384  # ~500 items' keys, ~90 pages


def drop_signatures(
    db: sqlite_utils.Database, ids: list[int], band_tables: Sequence[str] = BAND_TABLES
) -> None:
    """Take items out of the near-duplicate tables."""
    marks = ",".join("?" * len(ids))
    for table in ("item_signatures", *band_tables):
        db.execute(f"DELETE FROM {table} WHERE item_id IN ({marks})", ids)


def insert_signatures(
    db: sqlite_utils.Database, signed: Sequence[tuple[int, bytes, Sequence[int]]],
    bands: str = "item_bands_recent",
) -> None:  # fmt: skip
    """Store (item id, signature bytes, LSH band keys) for near-duplicate lookup; the
    keys go to `bands` (see RECENT_BAND_ROWS), moved on when it is full."""
    db.conn.executemany(
        "INSERT INTO item_signatures (item_id, signature) VALUES (?, ?)",
        [(item_id, signature) for item_id, signature, _ in signed],
    )
    db.conn.executemany(
        f"INSERT OR IGNORE INTO {bands} (band_key, item_id) VALUES (?, ?)",
        [(key, item_id) for item_id, _, keys in signed for key in keys],
    )
    if bands == "item_bands_recent":
        (rows,) = db.conn.execute("SELECT max(rowid) FROM item_bands_recent").fetchone()
        if (rows or 0) >= RECENT_BAND_ROWS:  # rowids count up from the last move
            _move_recent_bands(db)


def _move_recent_bands(db: sqlite_utils.Database) -> None:
    """Move the recent band keys into item_bands, in key order (in the caller's
    transaction)."""
    db.execute(
        "INSERT OR IGNORE INTO item_bands (band_key, item_id) "
        "SELECT band_key, item_id FROM item_bands_recent ORDER BY band_key, item_id"
    )
    db.execute("DELETE FROM item_bands_recent")


# New items enter the search index SEARCH_BATCH at a time, or SEARCH_DELAY seconds after
# the first of them was stored, not each in its listing page's transaction: FTS5 writes
# a new segment of the index at every commit and merges them later, and 256 items in
# one go cost 0.21 ms each against 0.27 in commits of 20 (first cycle of the workload,
# `benchmarks/workload_cycle.py`: 3-7% of its CPU; feeds only: 4-5%).
SEARCH_BATCH = 256
SEARCH_DELAY = 60.0  # seconds: how late another process's search may find a new item
ORPHANED_AFTER = 300.0  # seconds a pending row waits before a writer takes it for orphaned


class SearchQueue:
    """Items this connection stored that wait for the search index, with their words.

    Each has a row in `search_pending`, written with the item: the row, not this queue,
    says the item is not indexed yet. Whoever deletes the row indexes the item, or,
    taking it out of the index, has nothing to take out. So a queue lost in a crash
    is indexed from the stored text by the next writer (`index_orphans`), and an item
    revised or pruned before its turn is never indexed with its old words (the row's
    token is this queue's, and a revision writes a new one).
    """

    def __init__(self) -> None:
        self._waiting: dict[int, tuple[int, str, str]] = {}  # id -> token, title, body words
        self._since = 0.0

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, db: sqlite_utils.Database, item_id: int, words: tuple[str, str]) -> None:
        """Queue a stored item (in the caller's transaction)."""
        token = secrets.randbits(62)
        db.conn.execute(
            "INSERT OR REPLACE INTO search_pending (item_id, token, queued_at) VALUES (?, ?, ?)",
            (item_id, token, time.time()),
        )
        if not self._waiting:
            self._since = time.monotonic()
        self._waiting[item_id] = (token, *words)

    def due(self) -> bool:
        return len(self._waiting) >= SEARCH_BATCH or bool(
            self._waiting and time.monotonic() - self._since >= SEARCH_DELAY
        )

    def flush(self, db: sqlite_utils.Database) -> None:
        """Index the queued items that still wait (in the caller's transaction)."""
        if not self._waiting:
            return
        marks = ",".join("?" * len(self._waiting))
        ours = [
            item_id
            for item_id, token in db.execute(
                f"SELECT item_id, token FROM search_pending WHERE item_id IN ({marks})",
                list(self._waiting),
            ).fetchall()
            if self._waiting[item_id][0] == token
        ]
        _claim(db, ours)
        _insert_words(db, [(item_id, *self._waiting[item_id][1:]) for item_id in ours])
        self._waiting.clear()


def _claim(db: sqlite_utils.Database, ids: Sequence[int]) -> set[int]:
    """Delete the pending rows of those of `ids` that have one; return their ids."""
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    return {
        item_id
        for (item_id,) in db.execute(
            f"DELETE FROM search_pending WHERE item_id IN ({marks}) RETURNING item_id", list(ids)
        ).fetchall()
    }


def has_orphans(db: sqlite_utils.Database, queued_before: float) -> bool:
    """Whether items queued before `queued_before` (Unix time) still wait (a read)."""
    query = "SELECT 1 FROM search_pending WHERE queued_at < ? LIMIT 1"
    return db.execute(query, [queued_before]).fetchone() is not None


def index_orphans(db: sqlite_utils.Database, queued_before: float) -> int:
    """Index the items queued before `queued_before` (Unix time: a process died with them
    in its queue) from their stored text (in the caller's transaction); return how many.

    A live process that still holds one finds its row gone and does not index it again.
    """
    ids = [i for (i,) in db.execute(
        "DELETE FROM search_pending WHERE queued_at < ? RETURNING item_id", [queued_before]
    ).fetchall()]  # fmt: skip
    if not ids:
        return 0
    marks = ",".join("?" * len(ids))
    rows = db.execute(f"SELECT id, title, body FROM items WHERE id IN ({marks})", ids)
    for item_id, title, body in rows.fetchall():
        index_text(db, item_id, title, body or "")
    return len(ids)


def unindex_text(db: sqlite_utils.Database, ids: list[int]) -> None:
    """Take items out of the search index. The index keeps no text of its own, so FTS5
    is told the words it indexed: the stored title and body split again, as they were
    (the dictionary has not changed since: `Store._follow_dictionary`). Items still
    waiting to be indexed (`SearchQueue`) are only taken out of the queue."""
    waiting = _claim(db, ids)
    ids = [i for i in ids if i not in waiting]
    if not ids:
        return
    marks = ",".join("?" * len(ids))
    rows = db.execute(
        f"SELECT {SEARCH_KEY}, title, body FROM items WHERE id IN ({marks})", ids
    ).fetchall()
    for key, title, body in rows:
        words = search_text(title)
        db.execute(
            "INSERT INTO items_fts (items_fts, rowid, title, body) VALUES ('delete', ?, ?, ?)",
            [key, words, search_text(body or "")],
        )
        db.execute(
            "INSERT INTO titles_fts (titles_fts, rowid, title) VALUES ('delete', ?, ?)",
            [key, words],
        )


def index_text(
    db: sqlite_utils.Database, item_id: int, title: str, body: str,
    words: tuple[str, str] | None = None,
) -> None:  # fmt: skip
    """Index a stored item's title and body (SEARCH_KEY reads its date from the row);
    `words`: their `search_text`, when a bulk worker split them already."""
    words, body_words = words or (search_text(title), search_text(body or ""))
    _insert_words(db, [(item_id, words, body_words)])


def _insert_words(db: sqlite_utils.Database, rows: Sequence[tuple[int, str, str]]) -> None:
    """Add (item id, title words, body words) to the search index."""
    db.conn.executemany(
        f"INSERT INTO items_fts (rowid, title, body) SELECT {SEARCH_KEY}, ?, ? FROM items "
        "WHERE id = ?",
        [(words, body_words, item_id) for item_id, words, body_words in rows],
    )
    db.conn.executemany(
        f"INSERT INTO titles_fts (rowid, title) SELECT {SEARCH_KEY}, ? FROM items WHERE id = ?",
        [(words, item_id) for item_id, words, _ in rows],
    )


def search_text(text: str) -> str:
    """Text as FTS5 should index it: normalised, split into words, then the heads of its
    derivational compounds (`ความมั่นคง` adds `มั่นคง`: `thai.index_words`), space-joined."""
    return " ".join(index_words(segment(normalize_text(text))))
