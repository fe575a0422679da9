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
- the route `/-/feeds/<topic>.atom` (see `monitor.feed`);
- the analyst desk's pages (`monitor.web_desk`, `web_search`, `web_trends`): `/`,
  `/-/item/<id>`, `/-/search`, `/-/trends`, and the one write, a judgement posted
  from an item's page by a signed-in actor (FEEDBACK_ACTION) through `Store`.

Safe by default, because anyone who reaches the port is a visitor, and signed in only
through a password whose hash the operator put in the environment:

- arbitrary SQL (`?sql=`, `_where=`) is refused with 403 unless `app(allow_sql=True)`;
  the canned queries of `datasette.yaml` run without it;
- only PUBLIC_TABLES can be browsed: the outbox, HTTP cache, walk queues, dedup
  signatures, FTS shadow tables and migrations are neither listed nor readable;
- the SQL functions bound the text they process (MAX_QUERY_CHARS, MAX_TEXT_CHARS,
  MAX_TIME_CHARS, MAX_HIT_CHECKS): SQLite's progress handler, which enforces
  `sql_time_limit_ms`, does not run inside a Python function, so an unbounded one
  could hold a connection for seconds;
- the introspection pages that show the database file's path, the versions of
  Python, SQLite and the plugins, settings and threads answer 403;
- every method but GET and HEAD answers 405, except a POST to sign in or out or to
  record a judgement (web_desk.POST_PATHS), which needs a signed-in actor allowed
  FEEDBACK_ACTION and the form's CSRF token.

Titles, descriptions and canned queries live in `monitor/datasette.yaml` (shipped in
the package); a `datasette.yaml` beside the config file replaces it.
"""

from __future__ import annotations

import asyncio
import base64
import re
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from datasette import Response, hookimpl
from datasette.app import Datasette
from datasette.database import Database
from datasette.plugins import pm
from datasette.utils import actor_matches_allow, parse_metadata
from markupsafe import Markup

from monitor import feed, web_desk, web_search, web_trends
from monitor.errors import ConfigError, QueryError, StoreError
from monitor.store import fts_query
from monitor.thai import bangkok_time
from monitor.web_text import MAX_QUERY_CHARS, MAX_TEXT_CHARS, hit_span

DB_NAME = "monitor"
PLUGIN_NAME = "thai-news-monitor"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
# Shipped with the package; `monitor web` passes a datasette.yaml beside the config instead.
DEFAULT_METADATA = Path(__file__).with_name("datasette.yaml")
TEMPLATES = Path(__file__).with_name("templates")  # the desk's pages (monitor.web_desk)
NOTHING = '""'  # an FTS5 query that matches no row

# An allow-list, so that a table a later migration adds stays private until named here.
# source_status is what the "source_health" query shows; item_revisions is earlier text
# of published releases.
PUBLIC_TABLES = frozenset({"items", "item_urls", "item_revisions", "source_status"})
# /-/databases shows the file's path; versions and plugins what to attack; settings,
# config and threads how the server runs.
# datasette-auth-passwords' hashing form posts a password to the server: hash with
# `datasette hash-password` on your own machine instead.
INTROSPECTION = re.compile(
    r"^/-/(databases|versions|plugins|settings|config|threads|password-tool)\b"
)

# Bounds on the SQL functions' input, so that every call takes milliseconds (a
# 10-million-character query took 10 s before).
# MAX_QUERY_CHARS, MAX_TEXT_CHARS and MAX_HIT_CHECKS are in monitor.web_text.
MAX_TIME_CHARS = 40  # a timestamp: "2026-11-26T03:00:00.123456+00:00" is 32


def _text(value: Any) -> str:
    """An SQL argument as text: numbers as written, NULL and blobs as ""."""
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) else ""


def thai_fts_query(text: Any) -> str:
    """SQL function: the FTS5 MATCH expression for what a user typed."""
    query = _text(text)
    if len(query) > MAX_QUERY_CHARS:
        return NOTHING
    try:
        return fts_query(query)
    except QueryError:
        return NOTHING


def thai_snippet(text: Any, query: Any, width: int = 80) -> str | None:
    """SQL function: the original text around the first whole-word hit, marked [like this].

    FTS5's own snippet() works on the index's segmented text (spaces between Thai
    words, marks split off by the tokenizer); this one shows the text as published,
    or the text's start when no hit is found (see `hit_span`).
    """
    text = _text(text)[:MAX_TEXT_CHARS]
    if not text:
        return None
    span = hit_span(text, _text(query), width)
    if span is None:
        return text[: 2 * width] + ("…" if len(text) > 2 * width else "")
    lo, start, end, hi = span
    return (
        ("…" if lo else "") + text[lo:start] + "[" + text[start:end] + "]"
        + text[end:hi] + ("…" if hi < len(text) else "")
    )  # fmt: skip


def _bangkok_time(value: Any) -> str | None:
    """SQL function: `bangkok_time`, NULL for anything that is not a timestamp."""
    if not value or not isinstance(value, str) or len(value) > MAX_TIME_CHARS:
        return None
    try:
        return bangkok_time(value)
    except (ValueError, OverflowError):  # OverflowError: 9999-12-31T23:00Z plus 7 hours
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
def permission_allowed(
    datasette: Datasette, actor: dict[str, Any] | None, action: str, resource: Any
) -> bool | None:
    """Deny arbitrary SQL unless `app(allow_sql=True)`, and every table but PUBLIC_TABLES;
    allow a judgement (FEEDBACK_ACTION) to a signed-in actor only, narrowed by a
    `feedback_allow` block (Datasette's allow syntax) in this plugin's configuration.

    None leaves the decision to Datasette (its metadata `allow` and `allow_sql` blocks),
    also for Datasette instances that `app()` did not configure.
    """
    config = datasette.plugin_config(PLUGIN_NAME)
    if config is None:
        return None
    if action == "execute-sql":
        return None if config.get("allow_sql") else False
    if action == "view-table" and resource[0] == DB_NAME:
        return None if resource[1] in PUBLIC_TABLES else False
    if action == web_desk.FEEDBACK_ACTION:
        if not actor or not actor.get("id"):
            return False
        allow = config.get("feedback_allow")
        return True if allow is None else actor_matches_allow(actor, allow)
    return None


def _paths(scope: dict[str, Any]) -> tuple[str, str]:
    """The request's path as decoded and as Datasette routes it (the raw path)."""
    raw = scope.get("raw_path") or b""
    return scope["path"], raw.decode("latin-1").partition("?")[0]


def _is_introspection(scope: dict[str, Any]) -> bool:
    """Whether the request is for an INTROSPECTION page."""
    return any(INTROSPECTION.match(path) for path in _paths(scope))


def _is_write(scope: dict[str, Any]) -> bool:
    """Whether the request would change something: anything but GET and HEAD, except a
    POST to sign in or out or to record a judgement (web_desk.POST_PATHS), which the
    view allows to signed-in actors only."""
    if scope["method"] in ("GET", "HEAD"):
        return False
    return scope["method"] != "POST" or not all(
        web_desk.POST_PATHS.match(path) for path in _paths(scope)
    )


def _basic_credentials_readable(scope: dict[str, Any]) -> bool:
    """Whether an `Authorization: Basic` header, if any, decodes to ASCII text."""
    value = dict(scope.get("headers") or []).get(b"authorization", b"")
    if not value.startswith(b"Basic "):
        return True
    try:
        base64.b64decode(value[6:], validate=True).decode("ascii")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return False
    return True


async def _answer(send: Any, status: int, text: str, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), *headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})


@hookimpl
def asgi_wrapper(datasette: Datasette) -> Any:
    """Answer anything but GET and HEAD with 405 (the archive is read-only, and Datasette
    0.65 answers a POST to a canned query or a table with a 500 and a traceback), but
    the POSTs of web_desk.POST_PATHS, the INTROSPECTION pages with 403, and HTTP Basic
    credentials that are not ASCII base64 with 400 (datasette-auth-passwords reads them
    on every request and would answer 500)."""

    def wrap(app: Any) -> Any:
        async def guard(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http" and _is_write(scope):
                await _answer(send, 405, "read-only archive\n", [(b"allow", b"GET, HEAD")])
            elif scope["type"] == "http" and _is_introspection(scope):
                await _answer(send, 403, "not served by monitor web\n", [])
            elif scope["type"] == "http" and not _basic_credentials_readable(scope):
                await _answer(send, 400, "Authorization: Basic needs ASCII base64\n", [])
            else:
                await app(scope, receive, send)

        return guard

    return wrap


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str,
                datasette: Datasette) -> Markup | None:  # fmt: skip
    """Link an item's title, in the tables and the canned queries, to its desk page: the
    row's `item_id`, else its `id` in the items table or a query (search, latest)."""
    if database != DB_NAME or column != "title" or not isinstance(value, str):
        return None
    keys = row.keys() if hasattr(row, "keys") else ()
    if "item_id" in keys:
        item_id = row["item_id"]
    elif "id" in keys and table in (None, "items"):
        item_id = row["id"]
    else:
        return None
    if not isinstance(item_id, int):
        return None
    href = datasette.urls.path(f"/-/item/{item_id}")
    return Markup('<a href="{}"><bdi>{}</bdi></a>').format(href, value)


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    feeds = (r"^/-/feeds/(?P<topic>[^/]+)\.atom$", feed_view)
    return [feeds, *web_desk.ROUTES, *web_search.ROUTES, *web_trends.ROUTES]


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


def app(db_path: Path, metadata_path: Path | None = None, *, allow_sql: bool = False) -> Datasette:
    """A Datasette instance serving `db_path` read-only as the database `monitor`.

    `allow_sql=True` lets visitors run their own SELECTs (read everything in the file,
    the outbox too): only for trusted users, or with an `allow_sql` block in the metadata.
    """
    db_path = Path(db_path).resolve()
    if not db_path.is_file():
        raise StoreError(f"no database at {db_path} (run the monitor once to create it)")
    register_plugin()
    metadata = load_metadata(metadata_path)
    plugins = metadata.setdefault("plugins", {})
    # Set here, not in the YAML, so that a datasette.yaml beside the config cannot drop it.
    plugins[PLUGIN_NAME] = {**(plugins.get(PLUGIN_NAME) or {}), "allow_sql": allow_sql}
    ds = Datasette(
        metadata=metadata,
        settings={"sql_time_limit_ms": 3000},
        version_note=PLUGIN_NAME,
        template_dir=str(TEMPLATES),
    )
    ds.remove_database("_memory")  # Datasette adds it when started without files
    ds.add_database(Database(ds, path=str(db_path), is_mutable=True), name=DB_NAME)
    return ds


def serve(
    db_path: Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    metadata_path: Path | None = None,
    *,
    allow_sql: bool = False,
) -> None:
    """Serve the archive until Ctrl-C / SIGTERM (blocking); `allow_sql` as for `app`."""
    import uvicorn

    ds = app(db_path, metadata_path, allow_sql=allow_sql)
    asyncio.run(ds.invoke_startup())
    print(f"serving {db_path} read-only at http://{host}:{port}/", file=sys.stderr)
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")
