"""The archive's one connection and its one transaction helper, shared by the store's parts.

`Store` (store.py) opens the connection and is made of the parts: store_items,
store_search, store_sources and store_outbox each hold a mixin that reads and writes
through `db` and `transaction`. A part's writes join the transaction of whoever
called it, so an item and its alerts are committed together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.errors import QueryError, StoreError


@lru_cache(maxsize=16)  # a run stores all its items, URLs and alerts at one `now`
def iso(now: datetime) -> str:
    return now.isoformat().replace("+00:00", "Z")


class StoreBase:
    """One SQLite connection (`db`, opened by `Store`) and its transactions."""

    path: Path
    db: sqlite_utils.Database

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
