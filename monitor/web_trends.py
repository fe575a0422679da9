"""`/-/trends` of `monitor web`'s desk: matched items per week, a year back.

One query groups the matched items of the 52 weeks ending with `?end=` (today) by
Bangkok week, topic list and source; `web_chart` draws a line per topic and one per
source (the six with most items, the rest summed). A table sets the last 13 weeks
against the same weeks a year before: "how much ASEAN news this quarter, compared
with last year" without writing SQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from datasette import Response
from datasette.app import Datasette

from monitor import web_chart
from monitor.thai import BANGKOK
from monitor.web_desk import archive_for, keyed, known_topics, query, render

TREND_WEEKS = 52
OTHER_SOURCES = "other sources"  # beyond the 6 sources with most items
WEEK = "date(at, '+7 hours', '-6 days', 'weekday 1')"  # the Bangkok week's Monday


def _window(weeks: list[date]) -> dict[str, str]:
    """UTC bounds of Bangkok weeks, as the archive stores times."""
    start = datetime.combine(weeks[0], datetime.min.time(), BANGKOK).astimezone(UTC)
    end = datetime.combine(weeks[-1] + timedelta(weeks=1), datetime.min.time(), BANGKOK)
    return {
        "since": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "until": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


TREND_SQL = f"""
with {keyed()}
select {WEEK} as week, matched_topics as topics, source, count(*) as n
from keyed
where matched_topics != '' and at >= :since and at < :until
group by 1, 2, 3
"""


async def trends(datasette: Datasette, request: Any) -> Response:
    """`/-/trends`: matched items per week per topic and per source, a year back."""
    db = await archive_for(datasette, request)
    try:
        end = date.fromisoformat(request.args.get("end") or "")
    except ValueError:
        end = datetime.now(BANGKOK).date()
    end = min(max(end, date(1990, 1, 1)), date(9000, 1, 1))
    chosen = request.args.get("topic") or ""
    topics = await known_topics(db)
    weeks = web_chart.weeks_until(end, TREND_WEEKS)
    rows = await query(db, TREND_SQL, _window(weeks))
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
        for r in await query(db, TREND_SQL, _window(span)):
            for t in r["topics"].split(","):
                counts[t] = counts.get(t, 0) + r["n"]
        compare.append(counts)
    span_label = "{} to {}".format
    return await render(
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


ROUTES = [(r"^/-/trends$", trends)]
