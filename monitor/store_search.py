"""Finding stored items: `Filters`, the FTS5 query a user's words become (`fts_query`),
and reading the date-keyed search indexes (store_index) newest first.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.errors import QueryError
from monitor.store_base import StoreBase, iso
from monitor.store_index import ID_BITS, ID_MASK, MAX_KEY, MAX_SECONDS
from monitor.thai import normalize_text, segment


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
            params.append(iso(self.since))
        if self.until is not None:
            where.append("items.published_at < ?")
            params.append(iso(self.until))
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


class SearchStore(StoreBase):
    """Searches and listings of stored items."""

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

    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Items whose title or body contain the query's words, best first."""
        return list(self.find(query, limit=limit))
