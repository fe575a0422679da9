"""What the archive keeps about each source between runs: its health (`source_status`),
the HTTP validators of its pages, an interrupted walk's queue, and when each of its
items' pages is due to be fetched again for an edit.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from monitor.models import SourceReport
from monitor.store_base import StoreBase, iso


class SourceStore(StoreBase):
    """Per-source state: health, validators, walk cursors, revisits."""

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
                    [url, etag, last_modified, iso(now)],
                )

    def record_run(self, report: SourceReport, now: datetime) -> None:
        """Update a source's health row from one run's report, in one statement.

        Plain SQL, and no read of the row first (counts carried over are computed in
        the upsert): sqlite-utils' get and upsert cost 0.2 ms here, most of an
        unchanged source's run.
        """
        row: dict[str, Any] = {
            "source": report.source, "last_run_at": iso(now), "new_last_run": report.new,
            "matched_last_run": report.matched, "failed_last_run": report.failed,
            "last_problem": report.problems[0] if report.failed and report.problems else None,
            "items_last_run": report.found,
        }  # fmt: skip
        if report.error:
            row.update(last_error=report.error, last_error_at=iso(now), consecutive_failures=1)
        else:
            row.update(last_success_at=iso(now), consecutive_failures=0)
        updates = {c: f"excluded.{c}" for c in row if c != "source"}
        if report.error or report.not_modified:
            # Kept through 304s and failures: "it gave N last run" detects a layout change.
            updates["items_last_run"] = (
                "coalesce(source_status.items_last_run, excluded.items_last_run)"
            )
        if report.error:
            updates["consecutive_failures"] = "coalesce(source_status.consecutive_failures, 0) + 1"
        sets = ", ".join(f"{c} = {v}" for c, v in updates.items())
        with self.transaction():
            self.db.execute(
                f"INSERT INTO source_status ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
                f" ON CONFLICT (source) DO UPDATE SET {sets}",
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
                [source, json.dumps(queue), iso(now)],
            )

    def clear_walk_cursor(self, source: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM walk_state WHERE source = ?", [source])

    def source_status(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM source_status ORDER BY source"))

    def due_revisits(
        self, source: str, now: datetime, first: timedelta, window: timedelta, limit: int
    ) -> list[tuple[int, str, str, str, str]]:
        """(id, url, title, content hash, matched topics) of `source`'s items whose page is
        due to be fetched again for an edit, longest unchecked first.

        An item first seen less than `window` ago is due `first` after it was first seen,
        then each time as long again as its age at the last check (1, 2, 4, 8... hours
        after): corrections come within hours, and a page 30 hours old is looked at
        about twice more, not every run. Items looked at less than `first` ago are passed
        over by comparing `iso` stamps as text before any julianday(), and on the index
        alone (`items_recent` holds `checked_at`; the inner select reads no row): most
        runs find none due. The bound is a second later since `iso` leaves out a
        fraction of .000000.
        """
        rows = self.db.execute(
            "SELECT id, url, title, content_hash, matched_topics FROM items WHERE id IN ("
            "SELECT id FROM items INDEXED BY items_recent WHERE source = ? AND first_seen_at >= ? "
            "AND coalesce(checked_at, first_seen_at) < ? "
            "AND julianday(?) - julianday(coalesce(checked_at, first_seen_at)) >= max(?, "
            "julianday(coalesce(checked_at, first_seen_at)) - julianday(first_seen_at)) "
            "ORDER BY coalesce(checked_at, first_seen_at) LIMIT ?"
            ") ORDER BY coalesce(checked_at, first_seen_at)",
            [
                source,
                iso(now - window),
                iso(now - first + timedelta(seconds=1)),
                iso(now),
                first / timedelta(days=1),
                limit,
            ],
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
                    [(iso(now), item_id) for item_id in item_ids],
                )
