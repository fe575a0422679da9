"""`monitor web`: browse the archive read-only in Datasette, and its Atom feeds.

The database is attached as a *mutable* Datasette database named `monitor`, which
Datasette reads through `file:monitor.db?mode=ro` connections. Immutable mode
(`datasette -i`, `immutable=1`) is not used: it tells SQLite the file never
changes, so it would ignore the running service's WAL commits (stale or even
inconsistent pages) and Datasette would hash the whole file at start-up.
`mode=ro` connections see every commit and cannot write. On top of that this
module's plugin sets `PRAGMA query_only = 1` on every connection Datasette opens
to the `monitor` database, including the one Datasette keeps for writes, so no
plugin, canned query or API can change the archive.

The plugin (this module, registered on Datasette's plugin manager) adds:

- `thai_fts_query(text)`: a SQL function turning typed Thai or English words into
  an FTS5 MATCH expression with `monitor.store.fts_query` (pythainlp segmentation,
  the same as the index); text with nothing to search for gives `""`, which
  matches nothing instead of raising a syntax error;
- `bangkok_time(utc_iso)`: a stored UTC timestamp as Bangkok local time;
- `thai_snippet(text, query)`: the published text around the first whole-word hit;
- the route `/-/feeds/<topic>.atom` (see `monitor.feed`).

Titles, descriptions and canned queries live in `monitor/datasette.yaml` (shipped in
the package); a `datasette.yaml` beside the config file replaces it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from datasette import Response, hookimpl
from datasette.app import Datasette
from datasette.database import Database
from datasette.plugins import pm
from datasette.utils import parse_metadata

from monitor import feed
from monitor.errors import ConfigError, QueryError, StoreError
from monitor.store import fts_query
from monitor.thai import bangkok_time, normalize_text, segment

DB_NAME = "monitor"
PLUGIN_NAME = "thai-news-monitor"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
# Shipped with the package; `monitor web` passes a datasette.yaml beside the config instead.
DEFAULT_METADATA = Path(__file__).with_name("datasette.yaml")
NOTHING = '""'  # an FTS5 query that matches no row


def thai_fts_query(text: Any) -> str:
    """SQL function: the FTS5 MATCH expression for what a user typed."""
    try:
        return fts_query(str(text or ""))
    except QueryError:
        return NOTHING


def _query_words(query: str) -> list[tuple[str, bool]]:
    """(word, is_prefix) of each segmented query word, longest first."""
    found = {}
    for part in query.split():
        words = [w.strip() for w in segment(normalize_text(part.rstrip("*"))) if w.strip()]
        for i, word in enumerate(words):
            found[word] = found.get(word, False) or (part.endswith("*") and i == len(words) - 1)
    return sorted(found.items(), key=lambda pair: len(pair[0]), reverse=True)


def _is_word_at(text: str, start: int, end: int, prefix: bool) -> bool:
    """Whether text[start:end] is whole words, or starts one when `prefix`."""
    lo = max(0, start - 30)
    window = text[lo : end + 30]
    cuts, position = {0, len(window)}, 0
    for token in segment(window):
        found = window.find(token, position)
        if found >= 0:
            cuts.update((found, found + len(token)))
            position = found + len(token)
    return start - lo in cuts and (prefix or end - lo in cuts)


def thai_snippet(text: Any, query: Any, width: int = 80) -> str | None:
    """SQL function: the original text around the first whole-word hit, marked [like this].

    FTS5's own snippet() works on the index's segmented text (spaces between Thai
    words, marks split off by the tokenizer); this one shows the text as published.
    """
    if not text:
        return None
    text = str(text)
    folded = text.casefold() if len(text.casefold()) == len(text) else text
    for word, prefix in _query_words(str(query or "")):
        start = folded.find(word)
        while start >= 0:
            end = start + len(word)
            if _is_word_at(folded, start, end, prefix):
                lo, hi = max(0, start - width), min(len(text), end + width)
                return (
                    ("…" if lo else "") + text[lo:start] + "[" + text[start:end] + "]"
                    + text[end:hi] + ("…" if hi < len(text) else "")
                )  # fmt: skip
            start = folded.find(word, start + 1)
    return text[: 2 * width] + ("…" if len(text) > 2 * width else "")


def _bangkok_time(value: Any) -> str | None:
    try:
        return bangkok_time(value) if value else None
    except (TypeError, ValueError):
        return None


@hookimpl
def prepare_connection(conn: sqlite3.Connection, database: str) -> None:
    conn.create_function("thai_fts_query", 1, thai_fts_query, deterministic=True)
    conn.create_function("bangkok_time", 1, _bangkok_time, deterministic=True)
    conn.create_function("thai_snippet", 2, thai_snippet, deterministic=True)
    if database == DB_NAME:
        conn.execute("PRAGMA query_only = 1")


async def feed_view(datasette: Datasette, request: Any) -> Response:
    """`/-/feeds/<topic>.atom[?limit=N]`: the topic's Atom feed."""
    topic = request.url_vars["topic"]
    try:
        limit = int(request.args.get("limit") or feed.DEFAULT_LIMIT)
    except ValueError:
        return Response.text("limit must be a whole number\n", status=400)
    try:
        db = datasette.get_database(DB_NAME)
    except KeyError:
        return Response.text(f"no database named {DB_NAME!r}\n", status=404)

    def read(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], set[str]]:
        return feed.matched_items(conn, topic, limit), feed.known_topics(conn)

    rows, topics = await db.execute_fn(read)
    if not rows and topics and topic not in topics:
        known = ", ".join(sorted(topics))
        return Response.text(f"no item matched topic {topic!r}; topics: {known}\n", status=404)
    base_url = datasette.absolute_url(request, datasette.urls.instance())
    self_url = datasette.absolute_url(request, request.path)
    body = feed.atom(rows, topic, base_url, datetime.now(UTC), limit=limit, self_url=self_url)
    return Response(body, content_type="application/atom+xml; charset=utf-8")


@hookimpl
def asgi_wrapper(datasette: Datasette) -> Any:
    """Answer anything but GET and HEAD with 405: the archive is read-only, and Datasette
    0.65 answers a POST to a canned query or a table with a 500 and a traceback."""

    def wrap(app: Any) -> Any:
        async def read_only(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
                headers = [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"allow", b"GET, HEAD"),
                ]
                await send({"type": "http.response.start", "status": 405, "headers": headers})
                await send({"type": "http.response.body", "body": b"read-only archive\n"})
                return
            await app(scope, receive, send)

        return read_only

    return wrap


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [(r"^/-/feeds/(?P<topic>[^/]+)\.atom$", feed_view)]


def register_plugin() -> None:
    """Register this module as a Datasette plugin (once per process)."""
    module = sys.modules[__name__]
    if not pm.is_registered(module) and pm.get_plugin(PLUGIN_NAME) is None:
        pm.register(module, name=PLUGIN_NAME)


def load_metadata(path: Path | None = None) -> dict[str, Any]:
    path = Path(path or DEFAULT_METADATA)
    try:
        return parse_metadata(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            str(path), "(file)", f"a readable Datasette metadata file ({exc})"
        ) from exc
    except Exception as exc:  # BadMetadataError or a YAML/JSON error
        raise ConfigError(str(path), "(file)", f"valid YAML or JSON ({exc})") from None


def app(db_path: Path, metadata_path: Path | None = None) -> Datasette:
    """A Datasette instance serving `db_path` read-only as the database `monitor`."""
    db_path = Path(db_path).resolve()
    if not db_path.is_file():
        raise StoreError(f"no database at {db_path} (run the monitor once to create it)")
    register_plugin()
    ds = Datasette(
        metadata=load_metadata(metadata_path),
        settings={"sql_time_limit_ms": 3000},
        version_note=PLUGIN_NAME,
    )
    ds.remove_database("_memory")  # Datasette adds it when started without files
    ds.add_database(Database(ds, path=str(db_path), is_mutable=True), name=DB_NAME)
    return ds


def serve(
    db_path: Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    metadata_path: Path | None = None,
) -> None:
    """Serve the archive until Ctrl-C / SIGTERM (blocking)."""
    import uvicorn

    ds = app(db_path, metadata_path)
    asyncio.run(ds.invoke_startup())
    print(f"serving {db_path} read-only at http://{host}:{port}/", file=sys.stderr)
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")
