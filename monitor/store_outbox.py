"""The alert outbox: a row per (item, channel). Storing a matched item and queuing its
alerts is one transaction (`enqueue`, called by store_items); a row is `pending`
until a channel accepts it (`sent`) or attempts run out (`failed`), and `sending`
while one process has claimed it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from monitor.store_base import StoreBase, iso

CLAIM_STALE = timedelta(minutes=30)


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


def enqueue(
    db: sqlite_utils.Database, item_id: int, alerts: dict[str, datetime], now: datetime
) -> None:
    """Queue alerts due at the times given; `created_at` is the clock's time now, when
    the row is written (a run's `now` is its start, minutes earlier in a long walk)."""
    queued = iso(datetime.now(UTC))
    db.conn.executemany(
        "INSERT OR IGNORE INTO outbox (key, item_id, channel, status, attempts, "
        "next_attempt_at, created_at) VALUES (?, ?, ?, 'pending', 0, ?, ?)",
        [(f"item:{item_id}:{channel}", item_id, channel, iso(due), queued)
         for channel, due in alerts.items()],
    )  # fmt: skip


class OutboxStore(StoreBase):
    """Claiming, marking and reporting outbox rows."""

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
                stale = claimed_at < iso(now - CLAIM_STALE)  # even this process's: a flush died
                if stale or (claimer != me and not _process_alive(claimer)):
                    self.db.execute("UPDATE outbox SET status = 'pending' WHERE id = ?", [row_id])
            marks = ",".join("?" * len(channels))
            ids = [
                row_id
                for (row_id,) in self.db.execute(
                    "UPDATE outbox SET status = 'sending', claimed_by = ?, claimed_at = ? "
                    f"WHERE status = 'pending' AND next_attempt_at <= ? AND channel IN ({marks}) "
                    "RETURNING id",
                    [me, iso(now), iso(now), *channels],
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
                [iso(now), *outbox_ids],
            )

    def mark_attempt_failed(
        self, outbox_ids: list[int], error: str, retry_in: timedelta | None, now: datetime,
        failed_at: datetime | None = None,
    ) -> None:  # fmt: skip
        """Count a failed attempt; `retry_in` None means give up (`failed`).

        The next attempt is due `retry_in` after `now` (the sender's clock, simulated
        in benchmarks); `failed_at` (default `now`) is when this attempt failed."""
        status = "failed" if retry_in is None else "pending"
        next_at = iso(now + (retry_in or timedelta(0)))
        at = iso(failed_at or now)
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
            cursor = self.db.execute(sql, [iso(now), *([channel] if channel else [])])
        return cursor.rowcount

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
