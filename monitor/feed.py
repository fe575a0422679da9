"""Atom 1.0 feeds of the items a topic matched, newest first.

Read-only view: the rows are read with our own SQL over a `sqlite3` connection
opened in read-only URI mode (`file:...?mode=ro`), not through `monitor.store.Store`.
That is deliberate and safe here: nothing is written, the connection cannot write,
and a read-only connection to the WAL database sees what the running service has
committed. `monitor web` serves the same feed at `/-/feeds/<topic>.atom`
(see `monitor.web`), `monitor feed TOPIC -o FILE` writes it to a file.

The XML is built with `xml.etree.ElementTree`, so every piece of item text is
escaped by the serializer; characters XML 1.0 cannot carry at all (C0 controls,
lone surrogates) are removed first.
"""

from __future__ import annotations

import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_ID_PREFIX = "tag:thai-news-monitor,2026:feed:"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
SUMMARY_SNIPPETS = 3

# One row per matched item of :topic; `matched_topics` is the comma-joined list
# the store writes. Newest first by publication date, else by when it was seen.
MATCHED_SQL = """
SELECT items.id, items.url, items.source, items.title, items.body, items.published_at,
       items.first_seen_at, items.category, items.matched_topics, items.match,
       (SELECT json_group_array(u.url) FROM item_urls u
         WHERE u.item_id = items.id AND u.url != items.url) AS also_at
FROM items
WHERE instr(',' || items.matched_topics || ',', ',' || :topic || ',') > 0
ORDER BY coalesce(items.published_at, items.first_seen_at) DESC, items.id DESC
LIMIT :limit
"""

KNOWN_TOPICS_SQL = "SELECT DISTINCT matched_topics FROM items WHERE matched_topics != ''"

# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: Any) -> str:
    """Text an XML 1.0 document can hold (ElementTree escapes but does not remove)."""
    return _NOT_XML.sub("", str(text or ""))


def _rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, tuple(row), strict=True)) for row in cursor.fetchall()]


def connect_read_only(db_path: Path) -> sqlite3.Connection:
    """A connection that cannot write, yet sees the running service's WAL commits."""
    path = Path(db_path).resolve()
    if not path.is_file():
        from monitor.errors import StoreError

        raise StoreError(f"no database at {path} (run the monitor once to create it)")
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def matched_items(
    conn: sqlite3.Connection, topic: str, limit: int = DEFAULT_LIMIT
) -> list[dict[str, Any]]:
    """The newest `limit` items that matched `topic` (dicts of the MATCHED_SQL columns)."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    return _rows(conn.execute(MATCHED_SQL, {"topic": topic, "limit": limit}))


def known_topics(conn: sqlite3.Connection) -> set[str]:
    """Every topic at least one stored item matched."""
    return {t for (joined,) in conn.execute(KNOWN_TOPICS_SQL) for t in joined.split(",") if t}


def _load_rows(source: Any, topic: str, limit: int) -> list[Mapping[str, Any]]:
    """Rows from a Store (its file, read-only), a path, a connection or ready rows."""
    if isinstance(source, sqlite3.Connection):
        return matched_items(source, topic, limit)
    if isinstance(source, str | Path) or hasattr(source, "path"):
        path = Path(source if isinstance(source, str | Path) else source.path)
        conn = connect_read_only(path)
        try:
            return matched_items(conn, topic, limit)
        finally:
            conn.close()
    return list(source)[:limit]


def _utc(value: Any) -> datetime | None:
    if not value:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.tzinfo is None:  # the store writes UTC; a naive value is UTC too
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _topic_result(row: Mapping[str, Any], topic: str) -> dict[str, Any]:
    results = row.get("match") or "[]"
    results = json.loads(results) if isinstance(results, str) else results
    return next((r for r in results if r.get("topic") == topic), {})


def summary_text(row: Mapping[str, Any], topic: str) -> str:
    """`score 12 · terms: ไซเบอร์ (title ×1), …` and the first snippets."""
    result = _topic_result(row, topic)
    hits = result.get("hits") or []
    parts = []
    if "score" in result:
        parts.append(f"score {result['score']:g}")
    if hits:
        terms = ", ".join(f"{h['term']} ({h['field']} ×{h['count']})" for h in hits)
        parts.append(f"terms: {terms}")
    lines = [" · ".join(parts)] if parts else []
    lines += [f"… {h['snippet']} …" for h in hits[:SUMMARY_SNIPPETS] if h.get("snippet")]
    if not lines:
        lines = [str(row.get("body") or "")[:300]]
    return "\n".join(lines)


def _sub(parent: ET.Element, tag: str, text: Any = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def feed_url(base_url: str, topic: str) -> str:
    return f"{base_url.rstrip('/')}/-/feeds/{quote(topic, safe='')}.atom"


def atom(
    store_or_rows: Any,
    topic: str,
    base_url: str,
    now: datetime,
    *,
    limit: int = DEFAULT_LIMIT,
    self_url: str | None = None,
) -> str:
    """An Atom 1.0 document of the items that matched `topic`, newest first.

    `store_or_rows`: a `Store` or a database path (read-only connection), an open
    `sqlite3.Connection`, or rows as `matched_items` returns them. `base_url` is
    where `monitor web` is reached (the self link is `<base_url>/-/feeds/<topic>.atom`
    unless `self_url` says otherwise). `now` is the feed's `updated` when it has
    no entries; otherwise that is its newest entry's.
    """
    rows = _load_rows(store_or_rows, topic, limit)
    base = base_url.rstrip("/")
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(feed, "id", FEED_ID_PREFIX + quote(topic, safe=""))
    _sub(feed, "title", f"thai-news-monitor: {topic}")
    _sub(feed, "subtitle", f"Thai government news items matching the topic {topic!r}")
    self_href = self_url or feed_url(base, topic)
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_href)
    query = f"{base}/monitor/latest_by_topic?topic={quote(topic, safe='')}"
    _sub(feed, "link", rel="alternate", type="text/html", href=query)
    updated = _sub(feed, "updated")
    author = _sub(feed, "author")
    _sub(author, "name", "thai-news-monitor")
    _sub(feed, "generator", "thai-news-monitor")

    newest: datetime | None = None
    for row in rows:
        published = _utc(row.get("published_at"))
        seen = _utc(row.get("first_seen_at")) or now.astimezone(UTC)
        entry_updated = max(d for d in (published, seen) if d is not None)
        newest = entry_updated if newest is None else max(newest, entry_updated)
        entry = _sub(feed, "entry")
        _sub(entry, "id", row["url"])
        _sub(entry, "title", row.get("title") or row["url"], type="text")
        _sub(entry, "link", rel="alternate", href=row["url"])
        also_at = row.get("also_at") or "[]"
        for url in json.loads(also_at) if isinstance(also_at, str) else also_at:
            _sub(entry, "link", rel="related", href=url)
        _sub(entry, "updated", _stamp(entry_updated))
        if published is not None:
            _sub(entry, "published", _stamp(published))
        if row.get("source"):
            _sub(_sub(entry, "author"), "name", row["source"])
        for name in str(row.get("matched_topics") or "").split(","):
            if name:
                _sub(entry, "category", term=name)
        _sub(entry, "summary", summary_text(row, topic), type="text")
        _sub(entry, "content", row.get("body") or "", type="text")
    updated.text = _stamp(newest or now.astimezone(UTC))
    ET.indent(feed)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"


def write_atom(
    db_path: Path,
    topic: str,
    output: Path,
    base_url: str,
    now: datetime,
    *,
    limit: int = DEFAULT_LIMIT,
    self_url: str | None = None,
) -> int:
    """Write the topic's feed to `output` (atomically: temp file, then rename); entry count."""
    conn = connect_read_only(db_path)
    try:
        rows = matched_items(conn, topic, limit)
    finally:
        conn.close()
    text = atom(rows, topic, base_url, now, limit=limit, self_url=self_url)
    output = Path(output)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
    return len(rows)
