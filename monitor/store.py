"""The SQLite archive: items, where they appeared, source health, HTTP validators
and the alert outbox. The only module that touches the database.

Schema changes go through `sqlite_utils.Migrations`, applied on open. WAL mode.
Search: FTS5 with the default `unicode61` tokenizer over text segmented into
words by pythainlp and joined with spaces (FTS5 alone splits Thai at every vowel
and tone mark and finds nothing for `ไซเบอร์`; the `trigram` tokenizer would also
find `ภัย` inside `ปลอดภัย` and cannot search words under three characters). Index
rows are keyed by date (SEARCH_KEY), so searches read newest first and stop early.
The archive records the dictionary its index was split with (`store_state`) and
re-indexes everything, once, when segmentation changes (`thai.dictionary_version`).

Outbox: storing a matched item and queuing its alerts is one transaction; a row is
`pending` until a channel accepts it (`sent`) or attempts run out (`failed`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import sqlite_utils
from sqlite_utils import Migrations

from monitor import dedup
from monitor.errors import QueryError, StoreError
from monitor.models import Item, Match, SourceReport
from monitor.thai import EXTRA_WORDS, dictionary_version, index_words, normalize_text, segment
from monitor.urls import url_key

log = logging.getLogger(__name__)
migrations = Migrations("thai-news-monitor")

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


@dataclass(frozen=True)
class Filters:
    """Which stored items a search, an export or a listing wants."""

    since: datetime | None = None
    until: datetime | None = None
    source: str = ""
    topic: str = ""
    matched: bool | None = None
    related: bool = False  # items related to `topic` (or to any topic), not matching it
    sort: str = "rank"  # rank | newest
    full: bool = False  # every column (export), not the short listing

    def sql(self) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if self.since is not None:
            where.append("items.published_at >= ?")
            params.append(_iso(self.since))
        if self.until is not None:
            where.append("items.published_at < ?")
            params.append(_iso(self.until))
        if self.source:
            where.append("items.source = ?")
            params.append(self.source)
        column = "items.related_topics" if self.related else "items.matched_topics"
        if self.topic:
            where.append(f"(',' || {column} || ',') LIKE ?")
            params.append(f"%,{self.topic},%")
        elif self.related:
            where.append("items.related_topics != ''")
        if self.matched is not None:
            where.append(
                "items.matched_topics != ''" if self.matched else "items.matched_topics = ''"
            )
        return where, params


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


CLAIM_STALE = timedelta(minutes=30)


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
        _index_text(db, item_id, title, body)


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
        _drop_signatures(db, [i for i, _ in signed])
        _insert_signatures(db, [(i, sig.to_bytes(), dedup.band_keys(sig)) for i, sig in signed])
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


_INSERT_ITEM = (
    "INSERT INTO items (url, url_key, source, title, body, published_at, category, "
    "content_hash, first_seen_at, matched_topics, match, problems, related_topics) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def damaged(path: Path | str, exc: Exception) -> str:
    """One line for a database file that is damaged or not a database, and what to do."""
    return (f"{path} is damaged or not a monitor database ({exc}); keep a copy, then try "
            f"`sqlite3 {path} .recover`")  # fmt: skip


def _drop_signatures(db: sqlite_utils.Database, ids: list[int]) -> None:
    """Take items out of the near-duplicate tables."""
    marks = ",".join("?" * len(ids))
    for table in ("item_signatures", "item_bands"):
        db.execute(f"DELETE FROM {table} WHERE item_id IN ({marks})", ids)


def _insert_signatures(
    db: sqlite_utils.Database, signed: Sequence[tuple[int, bytes, Sequence[int]]]
) -> None:
    """Store (item id, signature bytes, LSH band keys) for near-duplicate lookup."""
    db.conn.executemany(
        "INSERT INTO item_signatures (item_id, signature) VALUES (?, ?)",
        [(item_id, signature) for item_id, signature, _ in signed],
    )
    db.conn.executemany(
        "INSERT OR IGNORE INTO item_bands (band_key, item_id) VALUES (?, ?)",
        [(key, item_id) for item_id, _, keys in signed for key in keys],
    )


def _create_private(path: Path) -> None:
    """Create the data folder (0700) and database file (0600) readable by their owner only:
    the archive holds the outbox's errors and the sources' state. SQLite gives its -wal
    and -shm files the database file's mode. Existing files are left as they are."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _unindex_text(db: sqlite_utils.Database, ids: list[int]) -> None:
    """Take items out of the search index. The index keeps no text of its own, so FTS5
    is told the words it indexed: the stored title and body split again, as they were
    (the dictionary has not changed since: `Store._follow_dictionary`)."""
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


def _index_text(
    db: sqlite_utils.Database, item_id: int, title: str, body: str,
    words: tuple[str, str] | None = None,
) -> None:  # fmt: skip
    """Index a stored item's title and body (SEARCH_KEY reads its date from the row);
    `words`: their `search_text`, when a bulk worker split them already."""
    words, body_words = words or (search_text(title), search_text(body or ""))
    db.execute(
        f"INSERT INTO items_fts (rowid, title, body) SELECT {SEARCH_KEY}, ?, ? FROM items "
        "WHERE id = ?",
        [words, body_words, item_id],
    )
    db.execute(
        f"INSERT INTO titles_fts (rowid, title) SELECT {SEARCH_KEY}, ? FROM items WHERE id = ?",
        [words, item_id],
    )


def _process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _iso(now: datetime) -> str:
    return now.isoformat().replace("+00:00", "Z")


def _columns(filters: Filters) -> str:
    if filters.full:
        return "items.*"
    return (
        "items.id, items.published_at, items.source, items.title, items.matched_topics, "
        "items.related_topics, items.url"
    )


def _key_range(filters: Filters) -> tuple[int, int]:
    """The search keys (see SEARCH_KEY) that the filters' dates allow."""
    low = _seconds(filters.since) << ID_BITS if filters.since else 0
    high = (_seconds(filters.until) << ID_BITS) - 1 if filters.until else MAX_KEY
    return low, high


def _seconds(when: datetime) -> int:
    return min(MAX_SECONDS, max(0, int(when.timestamp())))


def _match_json(match: Match) -> str:
    return json.dumps([asdict(t) for t in match.topics], ensure_ascii=False)


def search_text(text: str) -> str:
    """Text as FTS5 should index it: normalised, split into words, then the heads of its
    derivational compounds (`ความมั่นคง` adds `มั่นคง`: `thai.index_words`), space-joined."""
    return " ".join(index_words(segment(normalize_text(text))))


def fts_query(query: str) -> str:
    """Turn what a user typed into a safe FTS5 query.

    Each space-separated part becomes a quoted phrase of its segmented words, so
    a Thai compound finds the words in sequence; a trailing `*` keeps a prefix
    search; parts are combined with AND. A word alone also finds it as the head of
    a compound (`มั่นคง` in `ความมั่นคง`): the index holds the heads (`search_text`).
    FTS5 operators typed by the user are treated as words, so no query can be a
    syntax error.
    """
    phrases = []
    for part in query.split():
        prefix = part.endswith("*")
        words = [w.replace('"', '""') for w in segment(normalize_text(part.rstrip("*")))]
        words = [w for w in words if w.strip()]
        if words:
            phrases.append('"' + " ".join(words) + '"' + ("*" if prefix else ""))
    if not phrases:
        raise QueryError(f"nothing to search for in {query!r}")
    return " AND ".join(phrases)


class Store:
    """The archive in one SQLite file."""

    last_opened: ClassVar[Path | None] = None  # named by the CLI when a damaged file is found late

    def __init__(self, path: Path) -> None:
        self.path = Store.last_opened = Path(path)
        try:
            _create_private(self.path)
            self.db = sqlite_utils.Database(self.path)
            self.db.execute("PRAGMA busy_timeout = 10000")
            self.db.enable_wal()
            # In WAL mode NORMAL never corrupts and keeps every commit through a crash of
            # the process; only a power cut may lose the last commits (then the items
            # are fetched again). FULL would sync each of a backfill's commits.
            self.db.execute("PRAGMA synchronous = NORMAL")
            if migrations.pending(self.db):
                with self.transaction():  # one connection at a time migrates: the others
                    self._announce_upgrade()  # wait, then find nothing pending
                    migrations.apply(self.db)
            self._follow_dictionary()
        except sqlite3.DatabaseError as exc:
            raise StoreError(damaged(self.path, exc)) from exc
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    def _announce_upgrade(self) -> None:
        """Say so when an archive with items is upgraded: rebuilding a search index takes
        minutes at a million items, and the service would look stuck."""
        names = [m.name for m in migrations.pending(self.db)]
        if names and self.db["items"].exists() and self.count_items():
            log.warning("%s: upgrading the archive (%s); a large one takes minutes",
                        self.path, ", ".join(names))  # fmt: skip

    def _follow_dictionary(self) -> None:
        """Re-index every item for search when the Thai dictionary changed since the index
        was built (a pythainlp upgrade, new EXTRA_WORDS): otherwise queries, split the new
        way, miss words the index split the old way. An archive that recorded no version
        yet was indexed by this code's dictionary: it is recorded, not rebuilt."""
        current = dictionary_version()
        query = "SELECT value FROM store_state WHERE key = 'dictionary'"
        if (row := self.db.execute(query).fetchone()) and row[0] == current:
            return
        with self.transaction():  # one connection re-indexes; the others wait, then find it done
            row = self.db.execute(query).fetchone()
            if row and row[0] != current:
                self._reindex_all()
            self.db.execute(
                "INSERT OR REPLACE INTO store_state (key, value) VALUES ('dictionary', ?)",
                [current],
            )

    def _reindex_all(self) -> None:
        """Split every item's text again into the search index (in the caller's transaction)."""
        total = self.count_items()
        log.warning("%s: the Thai dictionary changed: re-indexing %d items for search, once",
                    self.path, total)  # fmt: skip
        for index in ("items_fts", "titles_fts"):
            self.db.execute(f"INSERT INTO {index} ({index}) VALUES ('delete-all')")
        for item_id, title, body, _ in self.items_for_rematch():
            _index_text(self.db, item_id, title, body or "")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction that takes the write lock first (BEGIN IMMEDIATE); the
        writes inside it, of this or other methods, are committed together or not at all.

        One commit per listing page instead of one per item spares ~0.3 ms of CPU per
        item (benchmarks/bulk_pipeline.py). With several connections (one per source
        thread), a deferred transaction that reads before it writes fails at once with
        "database is locked" when another connection committed in between; IMMEDIATE
        waits its turn (busy_timeout) instead.
        """
        if self.db.conn.in_transaction:
            yield
            return
        try:
            self.db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.conn.execute("ROLLBACK")
                raise
            self.db.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    # ---- items

    def id_for_url(self, url: str) -> int | None:
        row = self.db.execute(
            "SELECT item_id FROM item_urls WHERE url_key = ?", [url_key(url)]
        ).fetchone()
        return row[0] if row else None

    def match_state(self, item_id: int) -> tuple[str, str]:
        """(content hash, matched topics) of a stored item."""
        row = self.db.execute(
            "SELECT content_hash, matched_topics FROM items WHERE id = ?", [item_id]
        ).fetchone()
        return (row[0] or "", row[1] or "") if row else ("", "")

    def id_for_hash(self, content_hash: str) -> int | None:
        row = self.db.execute(
            "SELECT id FROM items WHERE content_hash = ? ORDER BY id LIMIT 1", [content_hash]
        ).fetchone()
        return row[0] if row else None

    def near_candidates(self, band_keys: Sequence[int]) -> list[tuple[int, bytes]]:
        """Stored items sharing a band key, with their signatures (for dedup to verify)."""
        if not band_keys:
            return []
        marks = ",".join("?" * len(band_keys))
        return [
            (row[0], row[1])
            for row in self.db.execute(
                "SELECT item_signatures.item_id, signature FROM item_signatures WHERE item_id IN "
                f"(SELECT DISTINCT item_id FROM item_bands WHERE band_key IN ({marks}))",
                list(band_keys),
            ).fetchall()
        ]

    def known_urls(self, urls: list[str]) -> set[str]:
        """Those of `urls` already stored (as an item or an "also published at")."""
        keys = {u: url_key(u) for u in urls}
        if not keys:
            return set()
        wanted = set(keys.values())
        marks = ",".join("?" * len(wanted))
        found = {r[0] for r in self.db.execute(
            f"SELECT url_key FROM item_urls WHERE url_key IN ({marks})", list(wanted)
        ).fetchall()}  # fmt: skip
        return {u for u, key in keys.items() if key in found}

    def save_item(
        self,
        item: Item,
        match: Match,
        alerts: dict[str, datetime],
        now: datetime,
        signature: bytes = b"",
        band_keys: Sequence[int] = (),
        words: tuple[str, str] | None = None,
    ) -> int:
        """Store a new item with its match, its near-duplicate signature and band keys,
        and queue its alerts (channel -> due time), in one transaction. `words`: the
        title's and body's `search_text`, when already split."""
        row = (
            item.url, url_key(item.url), item.source, item.title, item.body, item.published_at,
            item.category, item.content_hash, _iso(now), ",".join(match.matched_topics),
            _match_json(match), json.dumps(list(item.problems), ensure_ascii=False),
            ",".join(match.related_topics),
        )  # fmt: skip
        try:
            with self.transaction():
                item_id = self.db.conn.execute(_INSERT_ITEM, row).lastrowid
                self._add_url(item_id, item.url, item.source, now)
                self._index(item_id, item, signature, band_keys, words)
                self._enqueue(item_id, alerts, now)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot store {item.url}: {exc}") from exc
        return int(item_id)

    def _unindex(self, ids: list[int]) -> None:
        """Remove items from the search index and the near-duplicate tables."""
        _unindex_text(self.db, ids)
        _drop_signatures(self.db, ids)

    def _index(
        self, item_id: int, item: Item, signature: bytes, band_keys: Sequence[int],
        words: tuple[str, str] | None = None,
    ) -> None:  # fmt: skip
        """Index an item's text for search and its signature for near-duplicate lookup."""
        if item_id > ID_MASK:
            raise StoreError(f"{self.path}: the archive is full ({ID_MASK:,} items)")
        _index_text(self.db, item_id, item.title, item.body, words)
        if signature:
            _insert_signatures(self.db, [(item_id, signature, band_keys)])

    def own_items(self, urls: list[str]) -> dict[str, tuple[int, str, str, str, str]]:
        """url -> (id, title, content hash, matched topics, source) for those of `urls` that
        are an item's own page (not an "also published at" copy): the pages whose edits
        revise it."""
        keys = {url_key(u): u for u in urls}
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        rows = self.db.execute(
            "SELECT url_key, id, title, content_hash, matched_topics, source FROM items "
            f"WHERE url_key IN ({marks})",
            list(keys),
        ).fetchall()
        return {
            keys[key]: (item_id, title, digest or "", topics or "", source)
            for key, item_id, title, digest, topics, source in rows
        }

    def due_revisits(
        self, source: str, now: datetime, first: timedelta, window: timedelta, limit: int
    ) -> list[tuple[int, str, str, str, str]]:
        """(id, url, title, content hash, matched topics) of `source`'s items whose page is
        due to be fetched again for an edit, longest unchecked first.

        An item first seen less than `window` ago is due `first` after it was first seen,
        then each time as long again as its age at the last check (1, 2, 4, 8... hours
        after): corrections come within hours, and a page 30 hours old is looked at
        about twice more, not every run.
        """
        rows = self.db.execute(
            "SELECT id, url, title, content_hash, matched_topics FROM items "
            "WHERE source = ? AND first_seen_at >= ? AND julianday(?) - julianday(coalesce("
            "checked_at, first_seen_at)) >= max(?, julianday(coalesce(checked_at, "
            "first_seen_at)) - julianday(first_seen_at)) "
            "ORDER BY coalesce(checked_at, first_seen_at) LIMIT ?",
            [source, _iso(now - window), _iso(now), first / timedelta(days=1), limit],
        ).fetchall()
        return [
            (i, url, title, digest or "", topics or "") for i, url, title, digest, topics in rows
        ]

    def mark_checked(self, item_ids: list[int], now: datetime) -> None:
        """Record that these items' pages were fetched again (`due_revisits` counts from
        here), in one commit."""
        if item_ids:
            with self.transaction():
                self.db.conn.executemany(
                    "UPDATE items SET checked_at = ? WHERE id = ?",
                    [(_iso(now), item_id) for item_id in item_ids],
                )

    def revise_item(
        self,
        item_id: int,
        item: Item,
        match: Match,
        alerts: dict[str, datetime],
        now: datetime,
        signature: bytes = b"",
        band_keys: Sequence[int] = (),
    ) -> None:
        """Replace an item's text (its page was edited, or its fuller original came after
        a trimmed copy), keeping the old text as a revision.

        The item's own page becomes `item.url` of `item.source` (the original's, when
        it replaces a copy: the copy's page stays an "also published at" URL, and its
        feed no longer revises the item). The search index, the near-duplicate
        signature and the match follow the new text; `alerts` are queued only for
        channels that never had this item.
        """
        try:
            with self.transaction():
                self.db.execute(
                    "INSERT INTO item_revisions (item_id, replaced_at, title, body, "
                    "published_at, content_hash, matched_topics, match) SELECT id, ?, title, "
                    "body, published_at, content_hash, matched_topics, match FROM items "
                    "WHERE id = ?",
                    [_iso(now), item_id],
                )
                self._unindex([item_id])
                self.db.execute(
                    "UPDATE items SET title = ?, body = ?, published_at = ?, content_hash = ?, "
                    "matched_topics = ?, match = ?, url = ?, url_key = ?, source = ?, "
                    "related_topics = ? WHERE id = ?",
                    [item.title, item.body, item.published_at, item.content_hash,
                     ",".join(match.matched_topics), _match_json(match), item.url,
                     url_key(item.url), item.source, ",".join(match.related_topics), item_id],
                )  # fmt: skip
                self._index(item_id, item, signature, band_keys)
                self._enqueue(item_id, alerts, now)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot store the new text of {item.url}: {exc}") from exc

    def items_for_rematch(self, batch: int = 500) -> Iterator[tuple[int, str, str, str]]:
        """(id, title, body, verdicts) of every item, oldest first, a batch at a time; the
        verdicts are `verdicts(match)` of the stored match."""
        last = 0
        while rows := self.db.execute(
            "SELECT id, title, body, matched_topics || '|' || related_topics FROM items "
            "WHERE id > ? ORDER BY id LIMIT ?",
            [last, batch],
        ).fetchall():
            yield from rows
            last = rows[-1][0]

    def update_match(
        self, item_id: int, match: Match, alerts: dict[str, datetime], now: datetime
    ) -> None:
        """Store a new match result; queue alerts a channel has not had for this item."""
        with self.transaction():
            self.db.execute(
                "UPDATE items SET matched_topics = ?, match = ?, related_topics = ? WHERE id = ?",
                [",".join(match.matched_topics), _match_json(match),
                 ",".join(match.related_topics), item_id],
            )  # fmt: skip
            self._enqueue(item_id, alerts, now)

    def add_alias(self, item_id: int, url: str, source: str, now: datetime) -> None:
        """Record that the item was also published at `url`."""
        with self.transaction():
            self._add_url(item_id, url, source, now)

    def _add_url(self, item_id: int, url: str, source: str, now: datetime) -> None:
        self.db.conn.execute(
            "INSERT OR IGNORE INTO item_urls (url_key, url, item_id, source, first_seen_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (url_key(url), url, item_id, source, _iso(now)),
        )

    def item(self, item_id: int) -> dict[str, Any]:
        try:
            row = self.db["items"].get(item_id)
        except sqlite_utils.db.NotFoundError:
            raise QueryError(f"no item with id {item_id}") from None
        row["match"] = json.loads(row["match"] or "[]")
        row["problems"] = json.loads(row["problems"] or "[]")
        row["urls"] = list(
            self.db.query(
                "SELECT url, source, first_seen_at FROM item_urls WHERE item_id = ? "
                "ORDER BY first_seen_at, url",
                [item_id],
            )
        )
        row["alerts"] = list(
            self.db.query(
                "SELECT channel, status, attempts, last_error, sent_at FROM outbox "
                "WHERE item_id = ? ORDER BY channel",
                [item_id],
            )
        )
        row["feedback"] = self.feedback(item_id=item_id)
        row["revisions"] = list(
            self.db.query(
                "SELECT replaced_at, title, content_hash, matched_topics FROM item_revisions "
                "WHERE item_id = ? ORDER BY id",
                [item_id],
            )
        )
        return row

    def find(
        self, query: str = "", filters: Filters | None = None, limit: int | None = 20
    ) -> Iterator[dict[str, Any]]:
        """Items matching the query's words (if any) and the filters.

        Sort `newest`: by date. Sort `rank`: items whose title has the query's words
        first, then the others, each group newest first. Both read the index in date
        order and stop when `limit` items are found, so a word found in half of a
        million items costs no more than a rare one (bm25 would score every match).
        """
        filters = filters or Filters()
        if not query:
            yield from self._listing(filters, limit)
            return
        expr = fts_query(query)
        # A separate titles index: a column filter on items_fts would read every match
        # of a word common in bodies and rare in titles.
        indexes = ["titles_fts", "items_fts"] if filters.sort == "rank" else ["items_fts"]
        wanted = sys.maxsize if limit is None else limit
        seen: set[int] = set()
        for index in indexes:
            for row in self._newest_matching(index, expr, filters, min(wanted, 1000)):
                if row["id"] in seen:
                    continue
                seen.add(row["id"])
                yield row
                if len(seen) >= wanted:
                    return

    def _newest_matching(
        self, index: str, expr: str, filters: Filters, chunk: int
    ) -> Iterator[dict[str, Any]]:
        """Items matching an FTS5 expression and the filters, newest first, read a chunk of
        index entries at a time (growing, in case the filters reject most of them)."""
        where, params = filters.sql()
        low, high = _key_range(filters)
        while True:
            keys = [
                key
                for (key,) in self._read(
                    f"SELECT rowid FROM {index} WHERE {index} MATCH ? AND rowid BETWEEN ? "
                    "AND ? ORDER BY rowid DESC LIMIT ?",
                    [expr, low, high, chunk],
                )
            ]
            if not keys:
                return
            ids = [key & ID_MASK for key in keys]
            if where:
                ids = self._passing(ids, where, params)
            for start in range(0, len(ids), 50):  # the caller may need only a few
                batch = ids[start : start + 50]
                marks = ",".join("?" * len(batch))
                sql = f"SELECT {_columns(filters)} FROM items WHERE items.id IN ({marks})"
                rows = {row["id"]: row for row in self._read_dicts(sql, batch)}
                yield from (rows[i] for i in batch if i in rows)
            if len(keys) < chunk:
                return
            high, chunk = keys[-1] - 1, min(chunk * 4, 5000)

    def _passing(self, ids: list[int], where: list[str], params: list[Any]) -> list[int]:
        """Those of `ids` that pass the filters, in order, read from the items_filters index
        alone (the filtered columns lie after the body in a row: reading them from the
        table reads the whole body)."""
        marks = ",".join("?" * len(ids))
        passing = {
            item_id
            for (item_id,) in self._read(
                f"SELECT id FROM items INDEXED BY items_filters WHERE id IN ({marks}) AND "
                + " AND ".join(where),
                ids + params,
            )
        }
        return [i for i in ids if i in passing]

    def _listing(self, filters: Filters, limit: int | None) -> Iterator[dict[str, Any]]:
        where, params = filters.sql()
        sql = f"SELECT {_columns(filters)} FROM items "
        sql += "WHERE " + " AND ".join(where) + " " if where else ""
        sql += "ORDER BY items.published_at DESC NULLS LAST, items.id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        yield from self._read_dicts(sql, params)

    def _read(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise QueryError(f"{self.path}: {exc}") from None

    def _read_dicts(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        try:
            cursor = self.db.conn.execute(sql, params)
            keys = [d[0] for d in cursor.description]
            return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]
        except sqlite3.OperationalError as exc:
            raise QueryError(f"{self.path}: {exc}") from None

    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Items whose title or body contain the query's words, best first."""
        return list(self.find(query, limit=limit))

    def prune_unmatched(self, before: datetime) -> int:
        """Delete items that matched or related to no topic and were first seen before
        `before`, except
        those an analyst judged (their text is what `monitor tune --feedback` learns from)."""
        ids = [
            row[0]
            for row in self.db.execute(
                "SELECT id FROM items WHERE matched_topics = '' AND related_topics = '' "
                "AND first_seen_at < ? "
                "AND id NOT IN (SELECT item_id FROM feedback)",
                [_iso(before)],
            ).fetchall()
        ]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            with self.transaction():
                self._unindex(chunk)
                for table, column in (
                    ("item_urls", "item_id"), ("outbox", "item_id"),
                    ("item_revisions", "item_id"), ("items", "id"),
                ):  # fmt: skip
                    self.db.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk)
        return len(ids)

    def items_overview(self) -> list[dict[str, Any]]:
        """Every item's id, source, date, topics and title, oldest first."""
        return list(
            self.db.query(
                "SELECT id, source, published_at, matched_topics, title FROM items ORDER BY id"
            )
        )

    def count_items(self) -> int:
        return self.db["items"].count

    # ---- analysts' feedback

    def record_feedback(
        self, item_id: int, topic: str, relevant: bool, note: str, who: str, now: datetime
    ) -> dict[str, Any]:
        """Keep one judgement of an item for a topic; the newest per item and topic counts."""
        with self.transaction():
            if not self.db.execute("SELECT 1 FROM items WHERE id = ?", [item_id]).fetchone():
                raise QueryError(f"no item with id {item_id}")
            cursor = self.db.execute(
                "INSERT INTO feedback (item_id, topic, relevant, note, who, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [item_id, topic, int(relevant), note, who, _iso(now)],
            )
        return self.feedback(feedback_id=cursor.lastrowid)[0]

    def feedback(
        self, item_id: int | None = None, feedback_id: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Judgements, newest first, with the item's title."""
        where, params = [], []
        if item_id is not None:
            where, params = ["f.item_id = ?"], [item_id]
        if feedback_id is not None:
            where, params = ["f.id = ?"], [feedback_id]
        sql = (
            "SELECT f.id, f.item_id, f.topic, f.relevant, f.note, f.who, f.at, i.title "
            "FROM feedback f JOIN items i ON i.id = f.item_id "
            f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY f.id DESC LIMIT ?"
        )
        return self._read_dicts(sql, [*params, limit])

    def feedback_labels(self) -> list[dict[str, Any]]:
        """One label line per judged item, carrying its text: the newest judgement per
        topic as 1 (relevant) or 0, in the format of the label files `tune` reads."""
        rows = self.db.execute(
            "SELECT f.item_id, f.topic, f.relevant, i.title, i.body FROM feedback f "
            "JOIN items i ON i.id = f.item_id WHERE f.id IN "
            "(SELECT max(id) FROM feedback GROUP BY item_id, topic) ORDER BY f.item_id"
        ).fetchall()
        labels: dict[int, dict[str, Any]] = {}
        for item_id, topic, relevant, title, body in rows:
            label = labels.setdefault(
                item_id, {"id": f"item-{item_id}", "title": title, "body": body or ""}
            )
            label[topic] = relevant
        return list(labels.values())

    # ---- fetch state

    def validators(self, url: str) -> tuple[str, str]:
        row = self.db.execute(
            "SELECT etag, last_modified FROM http_cache WHERE url = ?", [url]
        ).fetchone()
        return (row[0] or "", row[1] or "") if row else ("", "")

    def save_validators(self, url: str, etag: str, last_modified: str, now: datetime) -> None:
        if etag or last_modified:
            with self.transaction():
                self.db.execute(
                    "INSERT INTO http_cache (url, etag, last_modified, updated_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, "
                    "last_modified = excluded.last_modified, updated_at = excluded.updated_at",
                    [url, etag, last_modified, _iso(now)],
                )

    def record_run(self, report: SourceReport, now: datetime) -> None:
        """Update a source's health row from one run's report.

        Plain SQL: sqlite-utils' get and upsert cost 0.2 ms here, most of an
        unchanged source's run.
        """
        previous = self.source_state(report.source) or {
            "consecutive_failures": 0, "items_last_run": None,
        }  # fmt: skip
        row: dict[str, Any] = {
            "source": report.source, "last_run_at": _iso(now), "new_last_run": report.new,
            "matched_last_run": report.matched, "failed_last_run": report.failed,
            "last_problem": report.problems[0] if report.failed and report.problems else None,
        }  # fmt: skip
        if (not report.error and not report.not_modified) or previous["items_last_run"] is None:
            # Kept through 304s and failures: "it gave N last run" detects a layout change.
            row["items_last_run"] = report.found
        if report.error:
            failures = (previous["consecutive_failures"] or 0) + 1
            row.update(
                last_error=report.error, last_error_at=_iso(now), consecutive_failures=failures
            )
        else:
            row.update(last_success_at=_iso(now), consecutive_failures=0)
        columns = ", ".join(row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in row if c != "source")
        with self.transaction():
            self.db.execute(
                f"INSERT INTO source_status ({columns}) VALUES ({', '.join('?' * len(row))}) "
                f"ON CONFLICT (source) DO UPDATE SET {updates}",
                list(row.values()),
            )

    def source_state(self, source: str) -> dict[str, Any] | None:
        rows = self._read_dicts("SELECT * FROM source_status WHERE source = ?", [source])
        return rows[0] if rows else None

    def walk_cursor(self, source: str) -> list[str]:
        """Pages an interrupted walk of `source` had still to visit (empty if none)."""
        row = self.db.execute("SELECT queue FROM walk_state WHERE source = ?", [source]).fetchone()
        return list(json.loads(row[0])) if row else []

    def save_walk_cursor(self, source: str, queue: list[str], now: datetime) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO walk_state (source, queue, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (source) DO UPDATE SET queue = excluded.queue, "
                "updated_at = excluded.updated_at",
                [source, json.dumps(queue), _iso(now)],
            )

    def clear_walk_cursor(self, source: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM walk_state WHERE source = ?", [source])

    def source_status(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM source_status ORDER BY source"))

    # ---- outbox

    def _enqueue(self, item_id: int, alerts: dict[str, datetime], now: datetime) -> None:
        """Queue alerts due at the times given; `created_at` is the clock's time now, when
        the row is written (a run's `now` is its start, minutes earlier in a long walk)."""
        queued = _iso(datetime.now(UTC))
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO outbox (key, item_id, channel, status, attempts, "
            "next_attempt_at, created_at) VALUES (?, ?, ?, 'pending', 0, ?, ?)",
            [(f"item:{item_id}:{channel}", item_id, channel, _iso(due), queued)
             for channel, due in alerts.items()],
        )  # fmt: skip

    def claim_due_alerts(self, now: datetime, channels: list[str]) -> list[dict[str, Any]]:
        """Mark due rows of `channels` `sending` for this process and return them, oldest first.

        Two flushes at once (the service's threads, or `monitor alerts retry` beside
        the service) never get the same row. Rows a dead process had claimed, or
        claimed longer than CLAIM_STALE ago, are taken back first.
        """
        me = os.getpid()
        if not self.db.execute(
            "SELECT 1 FROM outbox WHERE status IN ('pending', 'sending') LIMIT 1"
        ).fetchone():
            return []  # the usual case: no write lock taken
        with self.transaction():
            for row_id, claimer, claimed_at in self.db.execute(
                "SELECT id, claimed_by, claimed_at FROM outbox WHERE status = 'sending'"
            ).fetchall():
                stale = claimed_at < _iso(now - CLAIM_STALE)  # even this process's: a flush died
                if stale or (claimer != me and not _process_alive(claimer)):
                    self.db.execute("UPDATE outbox SET status = 'pending' WHERE id = ?", [row_id])
            marks = ",".join("?" * len(channels))
            ids = [
                row_id
                for (row_id,) in self.db.execute(
                    "UPDATE outbox SET status = 'sending', claimed_by = ?, claimed_at = ? "
                    f"WHERE status = 'pending' AND next_attempt_at <= ? AND channel IN ({marks}) "
                    "RETURNING id",
                    [me, _iso(now), _iso(now), *channels],
                ).fetchall()
            ]
            marks = ",".join("?" * len(ids))
            claimed = list(
                self.db.query(f"SELECT * FROM outbox WHERE id IN ({marks}) ORDER BY id", ids)
            )
        return claimed

    def mark_sent(self, outbox_ids: list[int], now: datetime) -> None:
        """Record that a channel accepted these rows' message at `now` (one commit)."""
        marks = ",".join("?" * len(outbox_ids))
        with self.transaction():
            self.db.execute(
                "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, "
                f"last_error = NULL WHERE id IN ({marks})",
                [_iso(now), *outbox_ids],
            )

    def mark_attempt_failed(
        self, outbox_ids: list[int], error: str, retry_in: timedelta | None, now: datetime,
        failed_at: datetime | None = None,
    ) -> None:  # fmt: skip
        """Count a failed attempt; `retry_in` None means give up (`failed`).

        The next attempt is due `retry_in` after `now` (the sender's clock, simulated
        in benchmarks); `failed_at` (default `now`) is when this attempt failed."""
        status = "failed" if retry_in is None else "pending"
        next_at = _iso(now + (retry_in or timedelta(0)))
        at = _iso(failed_at or now)
        marks = ",".join("?" * len(outbox_ids))
        with self.transaction():
            self.db.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, "
                "next_attempt_at = ?, first_failed_at = coalesce(first_failed_at, ?), "
                f"last_failed_at = ? WHERE id IN ({marks})",
                [status, error[:500], next_at, at, at, *outbox_ids],
            )

    def retry_failed(self, now: datetime, channel: str = "") -> int:
        """Put failed rows (of one channel, or all) back in the queue; return how many."""
        sql = "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, "
        sql += "first_failed_at = NULL "  # the channel's failing time starts again
        sql += "WHERE status = 'failed'" + (" AND channel = ?" if channel else "")
        with self.transaction():
            cursor = self.db.execute(sql, [_iso(now), *([channel] if channel else [])])
        return cursor.rowcount

    def latest_matched_item(self) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT id FROM items WHERE matched_topics != '' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return self.item(row[0]) if row else None

    def outbox_by_channel(self) -> list[dict[str, Any]]:
        """Per channel: rows by status; of its pending rows, the most attempts and the
        oldest first failure; the last error of a row still pending or failed."""
        rows = list(
            self.db.query(
                "SELECT channel, sum(status = 'pending') AS pending, "
                "sum(status = 'sending') AS sending, sum(status = 'failed') AS failed, "
                "sum(status = 'sent') AS sent, "
                "max(CASE WHEN status = 'pending' THEN attempts END) AS pending_attempts, "
                "min(CASE WHEN status = 'pending' THEN first_failed_at END) AS first_failed_at "
                "FROM outbox GROUP BY channel ORDER BY channel"
            )
        )
        errors = {
            channel: (error, at)
            for channel, error, at, _ in self.db.execute(
                "SELECT channel, last_error, last_failed_at, "
                "max(coalesce(last_failed_at, '') || printf('%012d', id)) FROM outbox "
                "WHERE status IN ('pending', 'failed') AND last_error IS NOT NULL "
                "GROUP BY channel"
            ).fetchall()
        }
        for row in rows:
            row["last_error"], row["last_failed_at"] = errors.get(row["channel"], (None, None))
        return rows

    def outbox_counts(self) -> dict[str, int]:
        return dict(
            self.db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()
        )

    def outbox_rows(self, statuses: tuple[str, ...], limit: int = 100) -> list[dict[str, Any]]:
        """Outbox rows in these states with their item's title, newest first."""
        marks = ",".join("?" * len(statuses))
        return list(
            self.db.query(
                "SELECT outbox.*, items.title FROM outbox JOIN items ON items.id = outbox.item_id "
                f"WHERE status IN ({marks}) ORDER BY outbox.id DESC LIMIT ?",
                [*statuses, limit],
            )
        )
