"""`/-/search` of `monitor web`'s desk: items with all the words, with facets.

Results link to the item's page and show the text around the first whole-word hit
(`web_text.snippet`); facets count the results by topic, source and Bangkok month,
each a link that narrows (or, chosen, widens) the search. Without words, every item
is listed newest first, so the facets browse the archive.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from datasette import Response
from datasette.app import Datasette

from monitor import web_text
from monitor.web_desk import (
    HAS_TOPIC,
    archive_for,
    bangkok_when,
    has_filter_index,
    keyed,
    query,
    render,
)

PAGE_SIZE = 50  # results per page
MAX_PAGE = 20  # pages (1,000 results); narrow with a facet beyond that
ITEM_ID = "items_fts.rowid & 67108863"  # see store.SEARCH_KEY
MONTH = "strftime('%Y-%m', at, '+7 hours')"  # Bangkok is UTC+7 all year
MONTH_TEXT = re.compile(r"^\d{4}-\d{2}$")


def _filters(request: Any) -> dict[str, str]:
    args = request.args
    month = args.get("month") or ""
    return {
        "q": (args.get("q") or "").strip()[: web_text.MAX_QUERY_CHARS],
        "topic": args.get("topic") or "",
        "source": args.get("source") or "",
        "month": month if MONTH_TEXT.match(month) else "",
    }


def _found(filters: dict[str, str], indexed: bool) -> str:
    """CTEs: `hits(id, rank)` of the words, if any, and `found(id, source,
    matched_topics, at)`, the items that pass every filter."""
    where = ["1 = 1"]
    if filters["topic"]:
        where.append(HAS_TOPIC)
    if filters["source"]:
        where.append("source = :source")
    if filters["month"]:
        where.append(f"{MONTH} = :month")
    found = f"found as (select * from keyed where {' and '.join(where)})"
    if not filters["q"]:
        return f"with {keyed()}, {found}"
    hits = (
        f"hits(id, rank) as materialized (select {ITEM_ID}, bm25(items_fts, 5.0, 1.0) "
        "from items_fts where items_fts match thai_fts_query(:q))"
    )
    return f"with {hits}, {keyed('id in (select id from hits)', indexed)}, {found}"


def _link(filters: dict[str, str], **changes: str) -> str:
    args = {k: v for k, v in {**filters, **changes}.items() if v}
    return "/-/search" + ("?" + urlencode(args) if args else "")


async def search(datasette: Datasette, request: Any) -> Response:
    """`/-/search`: items with all the words, best first (newest first without words)."""
    db = await archive_for(datasette, request)
    filters = _filters(request)
    try:
        page = min(max(1, int(request.args.get("page") or 1)), MAX_PAGE)
    except ValueError:
        page = 1
    ctes = _found(filters, await has_filter_index(db))
    if filters["q"]:
        ordered = "select found.id, hits.rank from found join hits using (id) order by hits.rank"
        again = "page.rank"
    else:
        ordered = "select id, at from found order by at desc, id desc"
        again = "page.at desc, page.id desc"
    params = {**filters, "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}
    rows = await query(
        db,
        f"{ctes}, page as ({ordered} limit :limit offset :offset) "
        "select items.id, items.title, items.source, items.published_at, "
        "items.first_seen_at, items.matched_topics, "
        f"substr(items.body, 1, {web_text.MAX_TEXT_CHARS}) as body "
        f"from page join items on items.id = page.id order by {again}",
        params,
    )
    for row in rows:
        row["when"] = bangkok_when(row)
        row["snippet"] = web_text.snippet(row.pop("body") or "", filters["q"])
    facets: dict[str, dict[str, int]] = {"topic": {}, "source": {}, "month": {}}
    grouped = await query(
        db,
        f"{ctes} select matched_topics as topics, source, {MONTH} as month, count(*) as n "
        "from found group by 1, 2, 3",
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
    return await render(
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


ROUTES = [(r"^/-/search$", search)]
