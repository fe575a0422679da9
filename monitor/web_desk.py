"""The analyst desk of `monitor web`: pages to read, find and judge items.

Routes (registered by `monitor.web`, rendered from `monitor/templates/desk_*.html`):

- `/`: the latest matched items of each topic;
- `/-/item/<id>`: one item as an article: headline, Bangkok date, source, every URL
  it was published at, each topic's score and terms, the text with the matched terms
  marked, earlier versions, alerts and the analysts' judgements;
- `/-/search?q=&topic=&source=&month=`: search results linking to items, with a
  snippet, and facets by topic, source and month (Bangkok);
- `/-/trends?end=YYYY-MM-DD&topic=`: matched items per week per topic over the year
  ending `end` (today), per source, and the last 13 weeks against the same weeks a
  year before;
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
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from datasette import Response
from datasette.app import Datasette
from datasette.utils.asgi import Forbidden, NotFound

from monitor import web_chart, web_text
from monitor.errors import QueryError
from monitor.store import Store
from monitor.thai import BANGKOK, bangkok_time

DB_NAME = "monitor"
FEEDBACK_ACTION = "monitor-feedback"
HOME_LIMIT = 10  # items per topic on the home page
PAGE_SIZE = 50  # search results per page
MAX_PAGE = 20  # search pages (1,000 results); narrow with a facet beyond that
MAX_NOTE_CHARS = 1000
TREND_WEEKS = 52
OTHER_SOURCES = "other sources"  # beyond the 6 sources with most items
ITEM_KEY = "items.id = items_fts.rowid & 67108863"  # see store.SEARCH_KEY
WHEN = "coalesce(items.published_at, items.first_seen_at)"
MONTH = f"strftime('%Y-%m', {WHEN}, '+7 hours')"  # Bangkok is UTC+7 all year
WEEK = f"date({WHEN}, '+7 hours', '-6 days', 'weekday 1')"  # the Bangkok week's Monday
HAS_TOPIC = "instr(',' || items.matched_topics || ',', ',' || :topic || ',') > 0"
MONTH_TEXT = re.compile(r"^\d{4}-\d{2}$")

TOPICS_SQL = """
select json_extract(t.value, '$.topic') as topic
from (select match from items order by id desc limit 1) newest, json_each(newest.match) t
"""
KNOWN_TOPICS_SQL = "select distinct matched_topics from items where matched_topics != ''"
LATEST_SQL = f"""
select items.id, items.title, items.source, items.published_at, items.first_seen_at,
  items.matched_topics,
  (select json_extract(t.value, '$.score') from json_each(items.match) t
    where json_extract(t.value, '$.topic') = :topic) as score,
  (select group_concat(json_extract(h.value, '$.term'), ', ')
     from json_each(items.match) t, json_each(t.value, '$.hits') h
    where json_extract(t.value, '$.topic') = :topic) as terms
from items
where items.matched_topics != '' and {HAS_TOPIC}
order by {WHEN} desc, items.id desc
limit :limit
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


def _when(row: dict[str, Any]) -> str:
    return bangkok_time(row.get("published_at") or row.get("first_seen_at"))


async def _db(datasette: Datasette, request: Any) -> Any:
    """The archive, once the actor may view it as Datasette's own pages require."""
    for action, resource in (("view-instance", None), ("view-database", DB_NAME)):
        if not await datasette.permission_allowed(request.actor, action, resource, default=True):
            raise Forbidden(f"{action} denied")
    try:
        return datasette.get_database(DB_NAME)
    except KeyError:
        raise NotFound(f"no database named {DB_NAME!r}") from None


async def _rows(db: Any, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [dict(row) for row in (await db.execute(sql, params or {})).rows]


async def _topics(db: Any) -> list[str]:
    """The rules' topics as the newest item was matched against, then any other topic
    an item matched."""
    topics = [r["topic"] for r in await _rows(db, TOPICS_SQL) if r["topic"]]
    for row in await _rows(db, KNOWN_TOPICS_SQL):
        topics += [t for t in row["matched_topics"].split(",") if t and t not in topics]
    return topics


async def _page(datasette: Datasette, request: Any, template: str, **context: Any) -> Response:
    context.setdefault("title", "Thai news monitor archive")
    html = await datasette.render_template(template, context, request=request)
    return Response.html(html)


async def home(datasette: Datasette, request: Any) -> Response:
    """`/`: the latest matched items of each topic."""
    db = await _db(datasette, request)
    sections = []
    for topic in await _topics(db):
        rows = await _rows(db, LATEST_SQL, {"topic": topic, "limit": HOME_LIMIT})
        for row in rows:
            row["when"] = _when(row)
        sections.append({"topic": topic, "rows": rows})
    return await _page(datasette, request, "desk_home.html", sections=sections)


def _topic_views(match: list[dict[str, Any]]) -> list[dict[str, Any]]:
    views = []
    for group, topic in enumerate(match):
        hits = topic.get("hits") or []
        views.append({**topic, "group": group, "hits": hits})
    return views


async def item(datasette: Datasette, request: Any) -> Response:
    """`/-/item/<id>`: one item as an article, with everything the archive knows of it."""
    db = await _db(datasette, request)
    item_id = int(request.url_vars["id"])
    found = await _rows(db, ITEM_SQL, {"id": item_id})
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
    words = web_text.highlight_words(hits)
    budget = web_text._Budget()
    title = row["title"] or ""
    body = row["body"] or ""
    urls = await _rows(db, URLS_SQL, {"id": item_id})
    if row["url"] not in {u["url"] for u in urls}:
        urls.insert(0, {"url": row["url"], "source": row["source"], "first_seen_at": None})
    feedback = []
    if await db.table_exists("feedback"):
        feedback = await _rows(db, FEEDBACK_SQL, {"id": item_id})
    may_judge = await datasette.permission_allowed(request.actor, FEEDBACK_ACTION, default=False)
    return await _page(
        datasette,
        request,
        "desk_item.html",
        title=title,
        item=row,
        published=bangkok_time(row["published_at"]) or "no date given",
        first_seen=bangkok_time(row["first_seen_at"]),
        title_html=web_text.marked(title, web_text.mark_spans(title, words, budget)),
        body_html=list(web_text.paragraphs(body, web_text.mark_spans(body, words, budget))),
        topics=topics,
        places=[{**u, "seen": bangkok_time(u["first_seen_at"])} for u in urls],
        revisions=[
            {
                **r,
                "replaced": bangkok_time(r["replaced_at"]),
                "published": bangkok_time(r["published_at"]),
            }
            for r in await _rows(db, REVISIONS_SQL, {"id": item_id})
        ],
        alerts=[
            {**a, "queued": bangkok_time(a["created_at"]), "sent": bangkok_time(a["sent_at"])}
            for a in await _rows(db, ALERTS_SQL, {"id": item_id})
        ],
        feedback=[{**f, "when": bangkok_time(f["at"])} for f in feedback],
        may_judge=may_judge,
        signed_in=bool(request.actor),
    )


async def feedback(datasette: Datasette, request: Any) -> Response:
    """`POST /-/item/<id>/feedback`: record a signed-in analyst's judgement."""
    db = await _db(datasette, request)
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
    found = await _rows(db, "select match from items where id = :id", {"id": item_id})
    if not found:
        raise NotFound(f"no item with id {item_id}")
    topics = [t.get("topic") for t in json.loads(found[0]["match"] or "[]")] or await _topics(db)
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
    verdict = "relevant" if relevant == "1" else "not relevant"
    datasette.add_message(request, f"#{item_id} marked {verdict} to {topic} by {who}")
    return Response.redirect(back + "#feedback")


def _filters(request: Any) -> dict[str, str]:
    args = request.args
    month = args.get("month") or ""
    return {
        "q": (args.get("q") or "").strip()[: web_text.MAX_QUERY_CHARS],
        "topic": args.get("topic") or "",
        "source": args.get("source") or "",
        "month": month if MONTH_TEXT.match(month) else "",
    }


def _search_sql(filters: dict[str, str], select: str, tail: str) -> str:
    where = ["1 = 1"]
    if filters["q"]:
        where.append("items_fts match thai_fts_query(:q)")
    if filters["topic"]:
        where.append(HAS_TOPIC)
    if filters["source"]:
        where.append("items.source = :source")
    if filters["month"]:
        where.append(f"{MONTH} = :month")
    source = f"items_fts join items on {ITEM_KEY}" if filters["q"] else "items"
    return f"select {select} from {source} where {' and '.join(where)} {tail}"


def _link(filters: dict[str, str], **changes: str) -> str:
    args = {k: v for k, v in {**filters, **changes}.items() if v}
    return "/-/search" + ("?" + urlencode(args) if args else "")


async def search(datasette: Datasette, request: Any) -> Response:
    """`/-/search`: items with all the words, best first (newest first without words)."""
    db = await _db(datasette, request)
    filters = _filters(request)
    try:
        page = min(max(1, int(request.args.get("page") or 1)), MAX_PAGE)
    except ValueError:
        page = 1
    order = "bm25(items_fts, 5.0, 1.0)" if filters["q"] else f"{WHEN} desc, items.id desc"
    columns = (
        "items.id, items.title, items.source, items.published_at, items.first_seen_at, "
        f"items.matched_topics, substr(items.body, 1, {web_text.MAX_TEXT_CHARS}) as body"
    )
    params = {**filters, "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}
    rows = await _rows(
        db, _search_sql(filters, columns, f"order by {order} limit :limit offset :offset"), params
    )
    for row in rows:
        row["when"] = _when(row)
        row["snippet"] = web_text.snippet(row.pop("body") or "", filters["q"])
    facets: dict[str, dict[str, int]] = {"topic": {}, "source": {}, "month": {}}
    grouped = await _rows(
        db,
        _search_sql(
            filters,
            f"items.matched_topics as topics, items.source as source, {MONTH} as month, "
            "count(*) as n",
            "group by 1, 2, 3",
        ),
        params,
    )
    total = 0
    for g in grouped:
        total += g["n"]
        for topic in (g["topics"] or "").split(","):
            if topic:
                facets["topic"][topic] = facets["topic"].get(topic, 0) + g["n"]
        facets["source"][g["source"]] = facets["source"].get(g["source"], 0) + g["n"]
        if g["month"]:
            facets["month"][g["month"]] = facets["month"].get(g["month"], 0) + g["n"]
    facet_views = {
        name: [
            {
                "value": value,
                "count": n,
                "chosen": filters[name] == value,
                "href": _link(filters, **{name: "" if filters[name] == value else value}),
            }
            for value, n in (
                sorted(counts.items(), reverse=True)
                if name == "month"
                else sorted(counts.items(), key=lambda c: (-c[1], c[0]))
            )
        ]
        for name, counts in facets.items()
    }
    more = page * PAGE_SIZE < total and page < MAX_PAGE
    return await _page(
        datasette,
        request,
        "desk_search.html",
        title=f"Search: {filters['q']}" if filters["q"] else "Search",
        filters=filters,
        rows=rows,
        total=total,
        facets=facet_views,
        page=page,
        first=(page - 1) * PAGE_SIZE + 1,
        next_href=_link(filters, page=str(page + 1)) if more else "",
        prev_href=_link(filters, page=str(page - 1) if page > 2 else "") if page > 1 else "",
    )


def _window(weeks: list[date]) -> dict[str, str]:
    """UTC bounds of Bangkok weeks, as the archive stores times."""
    start = datetime.combine(weeks[0], datetime.min.time(), BANGKOK).astimezone(UTC)
    end = datetime.combine(weeks[-1] + timedelta(weeks=1), datetime.min.time(), BANGKOK)
    return {
        "since": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "until": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


TREND_SQL = f"""
select {WEEK} as week, items.matched_topics as topics, items.source as source, count(*) as n
from items
where items.matched_topics != '' and {WHEN} >= :since and {WHEN} < :until
group by 1, 2, 3
"""


async def trends(datasette: Datasette, request: Any) -> Response:
    """`/-/trends`: matched items per week per topic and per source, a year back."""
    db = await _db(datasette, request)
    try:
        end = date.fromisoformat(request.args.get("end") or "")
    except ValueError:
        end = datetime.now(BANGKOK).date()
    end = min(max(end, date(1990, 1, 1)), date(9000, 1, 1))
    chosen = request.args.get("topic") or ""
    topics = await _topics(db)
    weeks = web_chart.weeks_until(end, TREND_WEEKS)
    rows = await _rows(db, TREND_SQL, _window(weeks))
    by_topic = web_chart.series(
        ((r["week"], t, r["n"]) for r in rows for t in r["topics"].split(",") if t), weeks, topics
    )
    source_rows = [
        (r["week"], r["source"], r["n"])
        for r in rows
        if not chosen or chosen in r["topics"].split(",")
    ]
    by_source = web_chart.top(web_chart.series(source_rows, weeks), 6, OTHER_SOURCES)
    topic_colours = web_chart.colours(list(by_topic))
    source_colours = web_chart.colours(list(by_source), OTHER_SOURCES)
    recent = weeks[-13:]
    year_before = [w - timedelta(weeks=52) for w in recent]
    compare = []
    for span in (recent, year_before):
        counts: dict[str, int] = {}
        for r in await _rows(db, TREND_SQL, _window(span)):
            for t in r["topics"].split(","):
                counts[t] = counts.get(t, 0) + r["n"]
        compare.append(counts)
    span_label = "{} to {}".format
    return await _page(
        datasette,
        request,
        "desk_trends.html",
        title="Trends",
        end=end.isoformat(),
        chosen=chosen,
        topics=topics,
        weeks=weeks,
        first_week=weeks[0].isoformat(),
        last_day=(weeks[-1] + timedelta(days=6)).isoformat(),
        topic_chart=web_chart.line_chart(
            weeks, by_topic, "Matched items per week, per topic", topic_colours
        ),
        topic_legend=web_chart.legend(by_topic, topic_colours),
        source_chart=web_chart.line_chart(
            weeks, by_source, "Matched items per week, per source", source_colours
        ),
        source_legend=web_chart.legend(by_source, source_colours),
        by_topic=by_topic,
        by_source=by_source,
        compare=[
            {"topic": t, "recent": compare[0].get(t, 0), "before": compare[1].get(t, 0)}
            for t in topics
        ],
        recent_span=span_label(recent[0], recent[-1] + timedelta(days=6)),
        before_span=span_label(year_before[0], year_before[-1] + timedelta(days=6)),
    )


ROUTES = [
    (r"^/$", home),
    (r"^/-/item/(?P<id>\d{1,12})$", item),
    (r"^/-/item/(?P<id>\d{1,12})/feedback$", feedback),
    (r"^/-/search$", search),
    (r"^/-/trends$", trends),
]
# The only paths a POST may reach (monitor.web answers any other with 405): sign-in and
# sign-out (datasette-auth-passwords' form, Datasette's own) and a judgement.
POST_PATHS = re.compile(r"^/-/(login|logout|item/\d{1,12}/feedback)$")
