"""The analyst desk of `monitor web`: pages to read and judge items.

Routes (registered by `monitor.web`, rendered from `monitor/templates/desk_*.html`;
search is `monitor.web_search`, trends `monitor.web_trends`, both on the helpers here):

- `/`: the latest matched items of each topic;
- `/-/item/<id>`: one item as an article: headline, Bangkok date, source, every URL
  it was published at, each topic's score and terms, the text with the matched terms
  marked, earlier versions, alerts and the analysts' judgements;
- `POST /-/item/<id>/feedback`: a judgement (relevant / not relevant for a topic),
  only for a signed-in actor with the FEEDBACK_ACTION permission, written through
  `Store.record_feedback` with the actor's id as `who`.

Reads go through Datasette's read-only connections (`db.execute`, under
`sql_time_limit_ms`); the one write opens the archive with `monitor.store.Store` for
the time of the call. Pages honour Datasette's `view-instance` and `view-database`
permissions like its own pages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import sqlite3
from datetime import UTC, datetime
from typing import Any

from datasette import Response
from datasette.app import Datasette
from datasette.utils.asgi import Forbidden, NotFound

from monitor import web_text
from monitor.errors import QueryError, StoreError
from monitor.store import Store
from monitor.thai import bangkok_time

log = logging.getLogger("monitor")
DB_NAME = "monitor"
FEEDBACK_ACTION = "monitor-feedback"
HOME_LIMIT = 10  # items per topic on the home page
MAX_NOTE_CHARS = 1000
HAS_TOPIC = "instr(',' || matched_topics || ',', ',' || :topic || ',') > 0"
FILTER_INDEX = "items_filters"  # store m008: (id, source, matched_topics, published_at)


def keyed(within: str = "", indexed: bool = False) -> str:
    """The CTE `keyed(id, source, matched_topics, at)`: each item with its date (of
    publication, else when first seen), `within` a condition on `id`.

    Read from the covering index FILTER_INDEX, not the table, whose rows hold the body:
    reading `matched_topics` walks the body's overflow pages. An archive of 111,000
    items (1 GB): the latest matches of a topic 785 -> 116 ms, facets of all items
    1,809 -> 597 ms. SQLite picks the index for a scan by itself; `indexed` forces it
    for lookups by id (`within`), where it would take the table's primary key.
    """
    use = f"indexed by {FILTER_INDEX}" if indexed else ""
    extra = f" and {within}" if within else ""
    return f"""keyed(id, source, matched_topics, at) as (
  select id, source, matched_topics, published_at from items {use}
  where published_at is not null{extra}
  union all
  select id, source, matched_topics, first_seen_at from items
  where published_at is null{extra})"""


async def has_filter_index(db: Any) -> bool:
    """Whether FILTER_INDEX exists (`indexed by` a missing index is an error)."""
    sql = "select 1 from sqlite_master where type = 'index' and name = :name"
    return bool((await db.execute(sql, {"name": FILTER_INDEX})).rows)


TOPICS_SQL = """
select json_extract(t.value, '$.topic') as topic
from (select match from items order by id desc limit 1) newest, json_each(newest.match) t
"""
KNOWN_TOPICS_SQL = "select distinct matched_topics from items where matched_topics != ''"
LATEST_SQL = f"""
with {keyed()}, latest as (
  select id, at from keyed where matched_topics != '' and {HAS_TOPIC}
  order by at desc, id desc limit :limit
)
select items.id, items.title, items.source, items.published_at, items.first_seen_at,
  items.matched_topics,
  (select json_extract(t.value, '$.score') from json_each(items.match) t
    where json_extract(t.value, '$.topic') = :topic) as score,
  (select group_concat(json_extract(h.value, '$.term'), ', ')
     from json_each(items.match) t, json_each(t.value, '$.hits') h
    where json_extract(t.value, '$.topic') = :topic) as terms
from latest join items on items.id = latest.id
order by latest.at desc, latest.id desc
"""
ITEM_SQL = """
select id, url, source, title, body, published_at, category, first_seen_at,
  matched_topics, match, problems
from items where id = :id
"""
URLS_SQL = "select url, source, first_seen_at from item_urls where item_id = :id order by rowid"
REVISIONS_SQL = """
select replaced_at, title, published_at, matched_topics, body
from item_revisions where item_id = :id order by id desc
"""
# Never last_error: a channel's error may quote a server's reply (see alert_log).
ALERTS_SQL = """
select channel, status, attempts, created_at, sent_at, next_attempt_at
from outbox where item_id = :id order by id
"""
FEEDBACK_SQL = """
select topic, relevant, note, who, at from feedback where item_id = :id order by id desc
"""


def bangkok_when(row: dict[str, Any]) -> str:
    return bangkok_time(row.get("published_at") or row.get("first_seen_at"))


async def archive_for(datasette: Datasette, request: Any) -> Any:
    """The archive, once the actor may view it as Datasette's own pages require."""
    for action, resource in (("view-instance", None), ("view-database", DB_NAME)):
        if not await datasette.permission_allowed(request.actor, action, resource, default=True):
            raise Forbidden(f"{action} denied")
    try:
        return datasette.get_database(DB_NAME)
    except KeyError:
        raise NotFound(f"no database named {DB_NAME!r}") from None


async def query(db: Any, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [dict(row) for row in (await db.execute(sql, params or {})).rows]


async def known_topics(db: Any) -> list[str]:
    """The rules' topics as the newest item was matched against, then any other topic
    an item matched."""
    topics = [r["topic"] for r in await query(db, TOPICS_SQL) if r["topic"]]
    for row in await query(db, KNOWN_TOPICS_SQL):
        topics += [t for t in row["matched_topics"].split(",") if t and t not in topics]
    return topics


async def render(datasette: Datasette, request: Any, template: str, **context: Any) -> Response:
    context.setdefault("title", "Thai news monitor archive")
    html = await datasette.render_template(template, context, request=request)
    return Response.html(html)


async def home(datasette: Datasette, request: Any) -> Response:
    """`/`: the latest matched items of each topic."""
    db = await archive_for(datasette, request)
    sections = []
    for topic in await known_topics(db):
        rows = await query(db, LATEST_SQL, {"topic": topic, "limit": HOME_LIMIT})
        for row in rows:
            row["when"] = bangkok_when(row)
        sections.append({"topic": topic, "rows": rows})
    return await render(datasette, request, "desk_home.html", sections=sections)


def _topic_views(match: list[dict[str, Any]]) -> list[dict[str, Any]]:
    views = []
    for group, topic in enumerate(match):
        hits = topic.get("hits") or []
        views.append({**topic, "group": group, "hits": hits})
    return views


async def item(datasette: Datasette, request: Any) -> Response:
    """`/-/item/<id>`: one item as an article, with everything the archive knows of it."""
    db = await archive_for(datasette, request)
    item_id = int(request.url_vars["id"])
    found = await query(db, ITEM_SQL, {"id": item_id})
    if not found:
        raise NotFound(f"no item with id {item_id}")
    row = found[0]
    try:
        match = json.loads(row["match"] or "[]")
    except ValueError:
        match = []
    topics = _topic_views(match if isinstance(match, list) else [])
    hits = [
        (h.get("term", ""), h.get("snippet", ""), t["group"])
        for t in topics
        for h in t["hits"]
        if t.get("matched") or t.get("related")
    ]
    title = row["title"] or ""
    # in a thread: marking the longest article takes ~0.1 s of segmentation
    body = row["body"] or ""
    title_html, body_html = await asyncio.to_thread(web_text.article, title, body, hits)
    urls = await query(db, URLS_SQL, {"id": item_id})
    if row["url"] not in {u["url"] for u in urls}:
        urls.insert(0, {"url": row["url"], "source": row["source"], "first_seen_at": None})
    feedback = []
    if await db.table_exists("feedback"):
        feedback = await query(db, FEEDBACK_SQL, {"id": item_id})
    may_judge = await datasette.permission_allowed(request.actor, FEEDBACK_ACTION, default=False)
    return await render(
        datasette,
        request,
        "desk_item.html",
        title=title,
        item=row,
        published=bangkok_time(row["published_at"]) or "no date given",
        first_seen=bangkok_time(row["first_seen_at"]),
        title_html=title_html,
        body_html=body_html,
        topics=topics,
        places=[
            {**u, "seen": bangkok_time(u["first_seen_at"]), "href": web_text.web_link(u["url"])}
            for u in urls
        ],
        revisions=[
            {
                **r,
                "replaced": bangkok_time(r["replaced_at"]),
                "published": bangkok_time(r["published_at"]),
            }
            for r in await query(db, REVISIONS_SQL, {"id": item_id})
        ],
        alerts=[
            {**a, "queued": bangkok_time(a["created_at"]), "sent": bangkok_time(a["sent_at"])}
            for a in await query(db, ALERTS_SQL, {"id": item_id})
        ],
        feedback=[{**f, "when": bangkok_time(f["at"])} for f in feedback],
        may_judge=may_judge,
        signed_in=bool(request.actor),
    )


async def feedback(datasette: Datasette, request: Any) -> Response:
    """`POST /-/item/<id>/feedback`: record a signed-in analyst's judgement."""
    db = await archive_for(datasette, request)
    item_id = int(request.url_vars["id"])
    back = datasette.urls.path(f"/-/item/{item_id}")
    if request.method != "POST":
        return Response.redirect(back)
    if not await datasette.permission_allowed(request.actor, FEEDBACK_ACTION, default=False):
        raise Forbidden("sign in to judge items")
    form = await request.post_vars()
    # asgi-csrf lets a POST without cookies through (HTTP Basic sign-in has none): the
    # form's token must match the cookie's here in every case.
    token = request.scope.get("csrftoken")
    if token is None or not secrets.compare_digest(str(form.get("csrftoken", "")), token()):
        raise Forbidden("form expired or sent from another site: reload the item's page")
    found = await query(db, "select match from items where id = :id", {"id": item_id})
    if not found:
        raise NotFound(f"no item with id {item_id}")
    topics = [t.get("topic") for t in json.loads(found[0]["match"] or "[]")]
    topics = topics or await known_topics(db)
    topic, relevant = form.get("topic", ""), form.get("relevant", "")
    if topic not in topics or relevant not in ("1", "0"):
        return Response.text("a topic of the item and relevant=1 or 0\n", status=400)
    note = " ".join(str(form.get("note", "")).split())[:MAX_NOTE_CHARS]
    who = str(request.actor["id"])

    def write() -> dict[str, Any]:
        store = Store(db.path)
        try:
            return store.record_feedback(
                item_id, topic, relevant == "1", note, who, datetime.now(UTC)
            )
        finally:
            store.close()

    try:
        await asyncio.to_thread(write)
    except QueryError as exc:
        raise NotFound(str(exc)) from None
    except (StoreError, sqlite3.Error) as exc:  # e.g. the file is not writable by this user
        log.error("monitor web: judgement of item %d not recorded: %s", item_id, exc)
        message = "not recorded: the archive cannot be written (the server's log says why)"
        datasette.add_message(request, message, datasette.ERROR)
        return Response.redirect(back + "#feedback")
    verdict = "relevant" if relevant == "1" else "not relevant"
    datasette.add_message(request, f"#{item_id} marked {verdict} to {topic} by {who}")
    return Response.redirect(back + "#feedback")


ROUTES = [
    (r"^/$", home),
    (r"^/-/item/(?P<id>\d{1,12})$", item),
    (r"^/-/item/(?P<id>\d{1,12})/feedback$", feedback),
]
# The only paths a POST may reach (monitor.web answers any other with 405): sign-in and
# sign-out (datasette-auth-passwords' form, Datasette's own) and a judgement.
POST_PATHS = re.compile(r"^/-/(login|logout|item/\d{1,12}/feedback)$")
