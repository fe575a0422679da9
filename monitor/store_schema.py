"""The archive's schema: every migration, in the order they are applied
(`sqlite_utils.Migrations`; `Store` applies the pending ones when it opens a file).

Migrations that re-index or re-sign stored items call the helpers that storing an
item calls (store_index), so an upgraded archive holds what a new one would.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

from monitor import dedup
from monitor.store_index import (
    BAND_TABLES,
    SEARCH_KEY,
    drop_signatures,
    index_text,
    insert_signatures,
)
from monitor.thai import EXTRA_WORDS

migrations = Migrations("thai-news-monitor")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db["items"].create(
        {
            "id": int, "url": str, "url_key": str, "source": str, "title": str, "body": str,
            "published_at": str, "category": str, "content_hash": str, "first_seen_at": str,
            "matched_topics": str, "match": str, "problems": str,
        },
        pk="id",
        not_null={"url", "url_key", "source", "title", "first_seen_at"},
    )  # fmt: skip
    db["items"].create_index(["url_key"], unique=True)
    db["items"].create_index(["content_hash"])
    db["items"].create_index(["published_at"])
    db["item_urls"].create(
        {"url_key": str, "url": str, "item_id": int, "source": str, "first_seen_at": str},
        pk="url_key",
        foreign_keys=[("item_id", "items", "id")],
    )
    db.execute("CREATE VIRTUAL TABLE items_fts USING fts5(title, body, tokenize='unicode61')")
    db["source_status"].create(
        {
            "source": str, "last_run_at": str, "last_success_at": str, "last_error": str,
            "last_error_at": str, "consecutive_failures": int, "items_last_run": int,
            "new_last_run": int, "matched_last_run": int,
        },
        pk="source",
    )  # fmt: skip
    db["http_cache"].create(
        {"url": str, "etag": str, "last_modified": str, "updated_at": str}, pk="url"
    )
    db["outbox"].create(
        {
            "id": int, "key": str, "item_id": int, "channel": str, "status": str,
            "attempts": int, "next_attempt_at": str, "last_error": str, "created_at": str,
            "sent_at": str,
        },
        pk="id",
        foreign_keys=[("item_id", "items", "id")],
    )  # fmt: skip
    db["outbox"].create_index(["key"], unique=True)
    db["outbox"].create_index(["status", "next_attempt_at"])


@migrations()
def m002_walk_state(db: sqlite_utils.Database) -> None:
    db["walk_state"].create({"source": str, "queue": str, "updated_at": str}, pk="source")


@migrations()
def m003_outbox_claims(db: sqlite_utils.Database) -> None:
    db["outbox"].add_column("claimed_at", str)
    db["outbox"].add_column("claimed_by", int)


@migrations()
def m004_near_duplicates(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE item_signatures (item_id INTEGER PRIMARY KEY, signature BLOB)")
    db.execute(
        "CREATE TABLE item_bands (band_key INTEGER, item_id INTEGER, "
        "PRIMARY KEY (band_key, item_id)) WITHOUT ROWID"
    )


@migrations()
def m005_revisions(db: sqlite_utils.Database) -> None:
    db["item_revisions"].create(
        {
            "id": int, "item_id": int, "replaced_at": str, "title": str, "body": str,
            "published_at": str, "content_hash": str, "matched_topics": str, "match": str,
        },
        pk="id",
        foreign_keys=[("item_id", "items", "id")],
    )  # fmt: skip
    db["item_revisions"].create_index(["item_id"])
    db.execute("CREATE INDEX item_bands_item_id ON item_bands (item_id)")  # revise and prune


@migrations()
def m006_search_keyed_by_date(db: sqlite_utils.Database) -> None:
    """Re-key the search index by date (SEARCH_KEY) and add a titles-only index."""
    for table, columns in (("items_fts_by_date", "title, body"), ("titles_fts", "title")):
        db.execute(f"CREATE VIRTUAL TABLE {table} USING fts5({columns}, tokenize='unicode61')")
    db.execute(
        f"INSERT INTO items_fts_by_date (rowid, title, body) SELECT {SEARCH_KEY}, "
        "items_fts.title, items_fts.body FROM items JOIN items_fts ON items_fts.rowid = items.id"
    )
    db.execute("INSERT INTO titles_fts (rowid, title) SELECT rowid, title FROM items_fts_by_date")
    db.execute("DROP TABLE items_fts")
    db.execute("ALTER TABLE items_fts_by_date RENAME TO items_fts")


@migrations()
def m007_reindex_extra_words(db: sqlite_utils.Database) -> None:
    """The index now splits words with thai.EXTRA_WORDS too (matching's dictionary, one
    dictionary in memory instead of two): re-index the items that contain them."""
    where = " OR ".join("title LIKE ? OR body LIKE ?" for _ in EXTRA_WORDS)
    params = [f"%{word}%" for word in EXTRA_WORDS for _ in range(2)]
    rows = db.execute(f"SELECT id, title, body FROM items WHERE {where}", params).fetchall()
    for item_id, title, body in rows:
        for index in ("items_fts", "titles_fts"):
            db.execute(
                f"DELETE FROM {index} WHERE rowid = (SELECT {SEARCH_KEY} FROM items WHERE id = ?)",
                [item_id],
            )
        index_text(db, item_id, title, body)


@migrations()
def m008_filter_index(db: sqlite_utils.Database) -> None:
    db.execute("CREATE INDEX items_filters ON items (id, source, matched_topics, published_at)")


@migrations()
def m009_store_state(db: sqlite_utils.Database) -> None:
    """Facts about the archive itself, such as the dictionary its search index used."""
    db.execute("CREATE TABLE store_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migrations()
def m010_contentless_search(db: sqlite_utils.Database) -> None:
    """Search indexes without their own copy of the segmented text: three quarters of
    their size, 10 KB per item (snippets are cut from items.body anyway)."""
    for table, columns in (("items_fts", "title, body"), ("titles_fts", "title")):
        db.execute(
            f"CREATE VIRTUAL TABLE {table}_contentless USING fts5({columns}, content='', "
            "tokenize='unicode61')"
        )
        db.execute(
            f"INSERT INTO {table}_contentless (rowid, {columns}) SELECT rowid, {columns} "
            f"FROM {table}"
        )
        db.execute(f"DROP TABLE {table}")
        db.execute(f"ALTER TABLE {table}_contentless RENAME TO {table}")


@migrations()
def m011_failed_pages(db: sqlite_utils.Database) -> None:
    """A run's pages that could not be read (size cap, bomb, broken markup) are counted:
    a source whose articles all fail is not healthy, though its listing was read."""
    db["source_status"].add_column("failed_last_run", int)
    db["source_status"].add_column("last_problem", str)


@migrations()
def m012_revisits(db: sqlite_utils.Database) -> None:
    """When each item's page was last fetched again to look for an edit (`due_revisits`)."""
    db["items"].add_column("checked_at", str)
    db.execute("CREATE INDEX items_recent ON items (source, first_seen_at)")


@migrations()
def m013_hash_with_title_signature_2(db: sqlite_utils.Database) -> None:
    """The content hash covers the title (three stubs with one body are three releases)
    and signatures are format 2 (the title signed, the date compared as a date): every
    item and revision is hashed again and every item signed again (~1 ms an item; the
    upgrade warning says so), else copies of older items would be missed."""
    last = 0
    while rows := db.execute(
        "SELECT id, title, body FROM items WHERE id > ? ORDER BY id LIMIT 500", [last]
    ).fetchall():
        signed = [(i, dedup.signature(title, body)) for i, title, body in rows]
        db.conn.executemany(
            "UPDATE items SET content_hash = ? WHERE id = ?",
            [(dedup.content_hash(title, body), i) for i, title, body in rows],
        )
        # As the tables were then: item_bands_recent comes with m018.
        drop_signatures(db, [i for i, _ in signed], [t for t in BAND_TABLES if db[t].exists()])
        insert_signatures(
            db, [(i, sig.to_bytes(), dedup.band_keys(sig)) for i, sig in signed], "item_bands"
        )
        last = rows[-1][0]
    revisions = db.execute("SELECT id, title, body FROM item_revisions").fetchall()
    db.conn.executemany(
        "UPDATE item_revisions SET content_hash = ? WHERE id = ?",
        [(dedup.content_hash(title, body), i) for i, title, body in revisions],
    )


@migrations()
def m014_outbox_failure_times(db: sqlite_utils.Database) -> None:
    """When a row's attempts first and last failed (`monitor status` tells a channel that
    keeps failing from one that failed once a minute ago)."""
    db["outbox"].add_column("first_failed_at", str)
    db["outbox"].add_column("last_failed_at", str)


@migrations()
def m015_feedback(db: sqlite_utils.Database) -> None:
    """Analysts' judgements of items (`monitor feedback`): every judgement is kept with
    who made it and when; the newest per item and topic is the one that counts."""
    db["feedback"].create(
        {"id": int, "item_id": int, "topic": str, "relevant": int, "note": str, "who": str,
         "at": str},
        pk="id",
        not_null={"item_id", "topic", "relevant", "who", "at"},
        foreign_keys=[("item_id", "items", "id")],
    )  # fmt: skip
    db["feedback"].create_index(["item_id", "topic"])


@migrations()
def m016_related_topics(db: sqlite_utils.Database) -> None:
    """Topics an item is related to without matching them (a score between the topic's
    related threshold and its threshold): searchable with --related, in digests only.
    Items stored before have none until `monitor rematch`."""
    db["items"].add_column("related_topics", str, not_null_default="")


@migrations()
def m017_revisit_index_covers_checks(db: sqlite_utils.Database) -> None:
    """`due_revisits` decides from the index alone: with `checked_at` in it, an item
    not due is passed over without reading its row (the column lies past the body, on
    its overflow pages): 16 us a run instead of 36 for a source of 20 recent items."""
    db.execute("DROP INDEX items_recent")
    db.execute("CREATE INDEX items_recent ON items (source, first_seen_at, checked_at)")


@migrations()
def m018_recent_bands(db: sqlite_utils.Database) -> None:
    """New items' band keys go to a small table first (store_index.RECENT_BAND_ROWS).
    A rowid table: its largest rowid counts the rows since the last move."""
    db.execute("CREATE TABLE item_bands_recent (band_key INTEGER, item_id INTEGER)")
    db.execute("CREATE UNIQUE INDEX item_bands_recent_key ON item_bands_recent (band_key, item_id)")


@migrations()
def m019_search_queue(db: sqlite_utils.Database) -> None:
    """Stored items that wait for the search index (store_index.SearchQueue)."""
    db.execute(
        "CREATE TABLE search_pending (item_id INTEGER PRIMARY KEY, token INTEGER NOT NULL, "
        "queued_at REAL NOT NULL)"
    )
