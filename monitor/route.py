"""Decide which channels get an item, and when. Pure functions of (match, channels, now).

A channel takes an item when one of its topics matched with at least
`min_score`; a digest channel also takes items only related to its topics (scored
between the topic's `related_threshold` and its threshold), never an instant one.
It gets it:
- at once (`mode = "instant"`), or at the next digest slot (`mode = "digest"`:
  `digest = "hourly"` at the top of each hour, or `"daily"` at `digest_time`,
  Bangkok time);
- never inside the channel's quiet hours (Bangkok time): held until they end;
- at once whatever the mode and quiet hours when the score reaches `urgent_score`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from monitor.models import Match
from monitor.thai import BANGKOK


@dataclass(frozen=True)
class Routing:
    """When a channel wants its alerts."""

    topics: tuple[str, ...] = ()
    min_score: float = 0.0
    mode: str = "instant"  # instant | digest
    digest: str = "daily"  # hourly | daily
    digest_time: time = time(8, 0)
    quiet_start: time | None = None
    quiet_end: time | None = None
    urgent_score: float | None = None


def parse_clock(text: str) -> time:
    """`HH:MM` as a time of day; ValueError when it is not one."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _in_quiet(local: datetime, routing: Routing) -> bool:
    start, end = routing.quiet_start, routing.quiet_end
    if start is None or end is None or start == end:
        return False
    now = local.timetz().replace(tzinfo=None)
    return start <= now < end if start < end else now >= start or now < end


def _next_at(local: datetime, clock: time) -> datetime:
    """The first moment at or after `local` whose time of day is `clock`."""
    candidate = local.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
    return candidate if candidate >= local else candidate + timedelta(days=1)


def _after_quiet(local: datetime, routing: Routing) -> datetime:
    if routing.quiet_end is None or not _in_quiet(local, routing):
        return local
    return _next_at(local, routing.quiet_end)


def _digest_slot(local: datetime, routing: Routing) -> datetime:
    if routing.digest == "hourly":
        top = local.replace(minute=0, second=0, microsecond=0)
        return top if top == local else top + timedelta(hours=1)
    return _next_at(local, routing.digest_time)


def due_time(score: float, routing: Routing, now: datetime) -> datetime:
    """When an item with `score` should go out on a channel with `routing` (UTC-aware)."""
    if routing.urgent_score is not None and score >= routing.urgent_score:
        return now
    local = now.astimezone(BANGKOK)
    if routing.mode == "digest":
        local = _digest_slot(local, routing)
    return _after_quiet(local, routing).astimezone(now.tzinfo)


def route(match: Match, channels: dict[str, Routing], now: datetime) -> dict[str, datetime]:
    """Channel name -> due time, for every channel that wants this item."""
    due = {}
    for name, routing in channels.items():
        wanted = [t for t in match.topics if t.topic in routing.topics]
        scores = [t.score for t in wanted if t.matched and t.score >= routing.min_score]
        if scores:
            due[name] = due_time(max(scores), routing, now)
        elif routing.mode == "digest" and any(t.related for t in wanted):
            due[name] = due_time(0.0, replace(routing, urgent_score=None), now)
    return due
