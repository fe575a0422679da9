"""Routing: which channel gets an item and when (Bangkok time), with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from monitor.models import Match, TopicResult
from monitor.route import Routing, due_time, route
from monitor.thai import BANGKOK


def _bkk(hour: int, minute: int = 0, day: int = 26) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=BANGKOK).astimezone(UTC)


QUIET = Routing(quiet_start=time(22, 0), quiet_end=time(7, 0))


@pytest.mark.parametrize(
    ("routing", "now", "due"),
    [
        (Routing(), _bkk(3), _bkk(3)),
        (QUIET, _bkk(21, 59), _bkk(21, 59)),
        (QUIET, _bkk(22, 0), _bkk(7, day=27)),  # held overnight
        (QUIET, _bkk(3, 30), _bkk(7)),  # after midnight: until 07:00 the same day
        (QUIET, _bkk(7, 0), _bkk(7, 0)),
        (Routing(quiet_start=time(12), quiet_end=time(13)), _bkk(12, 30), _bkk(13)),
        (Routing(mode="digest", digest="hourly"), _bkk(9, 10), _bkk(10)),
        (Routing(mode="digest", digest="hourly"), _bkk(10, 0), _bkk(10)),
        (Routing(mode="digest", digest_time=time(8)), _bkk(9), _bkk(8, day=27)),
        (Routing(mode="digest", digest_time=time(8)), _bkk(6), _bkk(8)),
        (
            Routing(mode="digest", digest="hourly", quiet_start=time(22), quiet_end=time(7)),
            _bkk(23, 5),
            _bkk(7, day=27),
        ),
    ],
    ids=["instant", "before-quiet", "quiet-evening", "quiet-night", "quiet-ends", "lunch",
         "hourly", "hourly-on-the-hour", "daily-tomorrow", "daily-today", "digest-in-quiet"],
)  # fmt: skip
def test_due_time(routing: Routing, now: datetime, due: datetime):
    assert due_time(10, routing, now) == due


def test_urgent_items_skip_quiet_hours_and_digests():
    routing = Routing(mode="digest", quiet_start=time(22), quiet_end=time(7), urgent_score=20)

    assert due_time(25, routing, _bkk(23)) == _bkk(23)
    assert due_time(19, routing, _bkk(23)) == _bkk(8, day=27)


def test_route_by_topic_and_minimum_score():
    match = Match((TopicResult("cybersecurity", 12.0, True), TopicResult("asean", 7.0, True)))
    channels = {
        "cert": Routing(topics=("cybersecurity",)),
        "asean-desk": Routing(topics=("asean",), min_score=8),
        "all": Routing(topics=("cybersecurity", "asean")),
    }

    assert set(route(match, channels, _bkk(10))) == {"cert", "all"}
    assert route(Match((TopicResult("asean", 50.0, False),)), channels, _bkk(10)) == {}
