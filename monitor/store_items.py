"""Stored items: saving, revising and re-matching them, with the other URLs they were
published at, their search index entries and near-duplicate signatures (store_index)
and the alerts queued with them (store_outbox); pruning; analysts' feedback.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlite_utils

from monitor.errors import QueryError, StoreError
from monitor.models import Item, Match
from monitor.store_base import StoreBase, iso
from monitor.store_index import (
    ID_MASK,
    ORPHANED_AFTER,
    SearchQueue,
    drop_signatures,
    has_orphans,
    index_orphans,
    insert_signatures,
    search_text,
    unindex_text,
)
from monitor.store_outbox import enqueue
from monitor.urls import url_key

log = logging.getLogger(__name__)

_INSERT_ITEM = (
    "INSERT INTO items (url, url_key, source, title, body, published_at, category, "
    "content_hash, first_seen_at, matched_topics, match, problems, related_topics) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _match_json(match: Match) -> str:
    return json.dumps([asdict(t) for t in match.topics], ensure_ascii=False)


class ItemStore(StoreBase):
    """Items, their URLs, revisions and feedback."""

    _search_queue: SearchQueue  # made by Store

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
                f"(SELECT item_id FROM item_bands WHERE band_key IN ({marks}) UNION "
                f"SELECT item_id FROM item_bands_recent WHERE band_key IN ({marks})) "
                "ORDER BY item_signatures.item_id",
                [*band_keys, *band_keys],
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
            item.category, item.content_hash, iso(now), ",".join(match.matched_topics),
            _match_json(match), json.dumps(list(item.problems), ensure_ascii=False),
            ",".join(match.related_topics),
        )  # fmt: skip
        try:
            with self.transaction():
                item_id = self.db.conn.execute(_INSERT_ITEM, row).lastrowid
                self._add_url(item_id, item.url, item.source, now)
                self._index(item_id, item, signature, band_keys, words)
                enqueue(self.db, item_id, alerts, now)
                if self._search_queue.due():
                    self.flush_search()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot store {item.url}: {exc}") from exc
        return int(item_id)

    def flush_search(self) -> None:
        """Index the items this connection stored that wait for it (`SearchQueue`), and
        any that a process which stopped left waiting. Nothing to index, nothing done:
        the service calls this after every job, most of which store nothing."""
        if len(self._search_queue):
            with self.transaction():
                self._search_queue.flush(self.db)
                self._index_orphans()

    def _index_orphans(self) -> None:
        """Index what waited ORPHANED_AFTER seconds for the search index: its process
        stopped before its batch. Looked for when a connection opens and with each batch."""
        before = time.time() - ORPHANED_AFTER
        if not has_orphans(self.db, before):  # a read: no write lock taken for nothing
            return
        with self.transaction():
            if found := index_orphans(self.db, before):
                log.warning("%s: %d stored items left out of the search index by a process "
                            "that stopped are indexed now", self.path, found)  # fmt: skip

    def _unindex(self, ids: list[int]) -> None:
        """Remove items from the search index and the near-duplicate tables."""
        unindex_text(self.db, ids)
        drop_signatures(self.db, ids)

    def _index(
        self, item_id: int, item: Item, signature: bytes, band_keys: Sequence[int],
        words: tuple[str, str] | None = None,
    ) -> None:  # fmt: skip
        """Index an item's text for search and its signature for near-duplicate lookup."""
        if item_id > ID_MASK:
            raise StoreError(f"{self.path}: the archive is full ({ID_MASK:,} items)")
        words = words or (search_text(item.title), search_text(item.body or ""))
        self._search_queue.add(self.db, item_id, words)
        if signature:
            insert_signatures(self.db, [(item_id, signature, band_keys)])

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
                    [iso(now), item_id],
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
                enqueue(self.db, item_id, alerts, now)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot store the new text of {item.url}: {exc}") from exc

    def items_for_rematch(self, batch: int = 500) -> Iterator[tuple[int, str, str, str]]:
        """(id, title, body, verdicts) of every item, oldest first, a batch at a time; the
        verdicts are the stored match's `Match.verdicts`."""
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
            enqueue(self.db, item_id, alerts, now)

    def add_alias(self, item_id: int, url: str, source: str, now: datetime) -> None:
        """Record that the item was also published at `url`."""
        with self.transaction():
            self._add_url(item_id, url, source, now)

    def _add_url(self, item_id: int, url: str, source: str, now: datetime) -> None:
        self.db.conn.execute(
            "INSERT OR IGNORE INTO item_urls (url_key, url, item_id, source, first_seen_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (url_key(url), url, item_id, source, iso(now)),
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
                [iso(before)],
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
                [item_id, topic, int(relevant), note, who, iso(now)],
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

    def latest_matched_item(self) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT id FROM items WHERE matched_topics != '' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return self.item(row[0]) if row else None
