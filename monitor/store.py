"""The SQLite archive: items, where they appeared, source health, HTTP validators
and the alert outbox. The only entry to the database: `Store`, made of one part per
concern over one connection and one transaction helper (store_base):

- store_items: items, their URLs and revisions, re-matching, pruning, feedback
- store_search: searches and listings (`Filters`, `fts_query`)
- store_sources: source health, HTTP validators, walk cursors, revisits
- store_outbox: the alert outbox
- store_index: the search index and near-duplicate tables, written by the above
- store_schema: the migrations

Schema changes go through `sqlite_utils.Migrations`, applied on open. WAL mode.
The archive records the dictionary its index was split with (`store_state`) and
re-indexes everything, once, when segmentation changes (`thai.dictionary_version`).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import sqlite_utils

from monitor.errors import StoreError
from monitor.store_index import ID_MASK, SEARCH_KEY, SearchQueue, index_text, search_text
from monitor.store_items import ItemStore
from monitor.store_outbox import OutboxStore
from monitor.store_schema import migrations
from monitor.store_search import Filters, SearchStore, fts_query
from monitor.store_sources import SourceStore
from monitor.thai import dictionary_version

__all__ = [
    "ID_MASK", "SEARCH_KEY", "Filters", "Store", "damaged", "fts_query", "migrations",
    "search_text",
]  # fmt: skip

log = logging.getLogger(__name__)


def damaged(path: Path | str, exc: Exception) -> str:
    """One line for a database file that is damaged or not a database, and what to do."""
    return (f"{path} is damaged or not a monitor database ({exc}); keep a copy, then try "
            f"`sqlite3 {path} .recover`")  # fmt: skip


def _create_private(path: Path) -> None:
    """Create the data folder (0700) and database file (0600) readable by their owner only:
    the archive holds the outbox's errors and the sources' state. SQLite gives its -wal
    and -shm files the database file's mode. Existing files are left as they are."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _enable_wal(db: sqlite_utils.Database, attempts: int = 40) -> None:
    """Put the file in WAL mode. Connections opening a new file at once race to switch
    it, and SQLite refuses one at once, without waiting ("database is locked": two
    readers each wanting the exclusive lock would wait for each other); the file is in
    WAL mode as soon as the winner is done, so a refused switch is tried again (10
    threads opening a new file: 3 failures in 300 trials, then none)."""
    for attempt in range(attempts):
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.005 * (attempt + 1))


class Store(ItemStore, SearchStore, SourceStore, OutboxStore):
    """The archive in one SQLite file."""

    last_opened: ClassVar[Path | None] = None  # named by the CLI when a damaged file is found late

    def __init__(self, path: Path) -> None:
        self.path = Store.last_opened = Path(path)
        self._search_queue = SearchQueue()
        try:
            _create_private(self.path)
            self.db = sqlite_utils.Database(self.path)
            self.db.execute("PRAGMA busy_timeout = 10000")
            _enable_wal(self.db)
            # In WAL mode NORMAL never corrupts and keeps every commit through a crash of
            # the process; only a power cut may lose the last commits (then the items
            # are fetched again). FULL would sync each of a backfill's commits.
            self.db.execute("PRAGMA synchronous = NORMAL")
            if migrations.pending(self.db):
                with self.transaction():  # one connection at a time migrates: the others
                    self._announce_upgrade()  # wait, then find nothing pending
                    migrations.apply(self.db)
            self._follow_dictionary()
            self._index_orphans()
        except (OSError, sqlite3.OperationalError) as exc:  # locked, read-only, I/O: not damage
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(damaged(self.path, exc)) from exc
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc

    def close(self) -> None:
        """Index what waits for the search index, then close. If that fails, the items
        stay stored and the next run indexes them (`ItemStore.flush_search`)."""
        try:
            self.flush_search()
        except StoreError as exc:  # the batch's rows stay in search_pending (its count may not)
            log.warning("%s; the new items are indexed for search by the next run", exc)
        finally:
            self.db.close()

    def find(
        self, query: str = "", filters: Filters | None = None, limit: int | None = 20
    ) -> Iterator[dict[str, Any]]:
        """`SearchStore.find`, with what this connection stored indexed first."""
        if query:
            self.flush_search()
        return super().find(query, filters, limit)

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
        self.db.execute("DELETE FROM search_pending")  # indexed below with the others
        for item_id, title, body, _ in self.items_for_rematch():
            index_text(self.db, item_id, title, body or "")
