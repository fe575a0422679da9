"""Two tiers per topic (alert, related), the title naming a co-occurrence found in the
body, and how the thresholds are chosen from labels."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.evaluate import choose_tiers
from monitor.match import Rules, Term, Topic, match
from monitor.models import Match, TopicResult
from monitor.route import Routing, route
from tests.conftest import ROOT, write_config

SCAM = "มิจฉาชีพ|หลอก*|scam* ~ โทรศัพท์|sms|phone"


def _rules(*terms: tuple[str, float], threshold: float, related: float | None = None) -> Rules:
    topic = Topic("t", "T", threshold, tuple(Term.parse(r, w) for r, w in terms), related)
    return Rules((topic,))


@pytest.mark.parametrize(
    ("title", "body", "place"),
    [
        # the title names the scam, the body says how: counts in the title
        ("เตือนภัยมิจฉาชีพ", "คนร้ายโทรศัพท์มาหลอกขอเลขบัญชี ผู้เสียหายหลายราย", "title"),
        ("Police warn of scammers", "They phone victims and scam them out of savings.", "title"),
        # the title names something else: the body's co-occurrence stays in the lead
        ("ประชุมคณะกรรมการประจำปี", "คนร้ายโทรศัพท์มาหลอกขอเลขบัญชี", "lead"),
        ("Annual meeting of the board", "A scam by phone was reported.", "lead"),
    ],
)
def test_a_title_naming_a_body_co_occurrence_puts_it_in_the_title(
    title: str, body: str, place: str
) -> None:
    result = match(title, body, _rules((SCAM, 3), threshold=9)).topics[0]

    assert [h.field for h in result.hits] == [place]
    assert result.matched is (place == "title")


def test_a_title_word_without_the_co_occurrence_in_the_body_adds_nothing() -> None:
    result = match("เตือนภัยมิจฉาชีพ", "ประชาชนควรระมัดระวังการใช้จ่าย", _rules((SCAM, 3), threshold=1))

    assert result.topics[0].hits == () and not result.topics[0].matched


@pytest.mark.parametrize(
    ("title", "matched", "related"),
    [
        ("ภัยไซเบอร์", True, False),  # in the title: 3 + the body's 1.5 + its share
        ("ข่าวประจำวัน", False, True),  # one word in the lead: 1.5 + its share 1
        ("", False, True),
    ],
)
def test_a_score_between_the_thresholds_is_related_not_matched(
    title: str, matched: bool, related: bool
) -> None:
    result = match(title, "ข่าวไซเบอร์", _rules(("ไซเบอร์", 1), threshold=4, related=1)).topics[0]

    assert (result.matched, result.related) == (matched, related)


def test_no_related_tier_without_a_related_threshold() -> None:
    result = match("", "ข่าวไซเบอร์", _rules(("ไซเบอร์", 1), threshold=4)).topics[0]

    assert (result.matched, result.related) == (False, False)


def test_related_items_go_to_digests_only() -> None:
    now = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # 10:00 in Bangkok
    channels = {
        "instant": Routing(topics=("t",)),
        "digest": Routing(
            topics=("t",),
            mode="digest",
            digest_time=datetime(2026, 1, 1, 8).time(),
            urgent_score=0.5,
        ),  # fmt: skip
    }
    related = Match((TopicResult("t", 1.5, False, related=True),))
    matched = Match((TopicResult("t", 5.0, True),))

    assert set(route(related, channels, now)) == {"digest"}
    assert route(related, channels, now)["digest"] > now  # never urgent: the next digest
    assert set(route(matched, channels, now)) == {"instant", "digest"}


def test_thresholds_chosen_from_labels_separate_the_tiers() -> None:
    # 10 and up: mainly about the topic; 5: a paragraph, as often noise as a label 1;
    # 2: noise. Alerts must stay precise; the related tier takes the paragraphs.
    rows = [(12.0, 2)] * 20 + [(10.0, 2)] * 10 + [(8.0, 0)]
    rows += [(5.0, 1)] * 10 + [(5.0, 0)] * 10 + [(2.0, 0)] * 50

    alert, related = choose_tiers(rows)

    assert 8.0 < alert <= 10.0
    assert 2.0 < related <= 5.0


def test_search_finds_related_items_and_prune_keeps_them(tmp_path: Path, snapshot_url: str):
    from tests.conftest import snapshot_sources

    rules = tmp_path / "topics.toml"
    shipped = (ROOT / "config" / "topics.toml").read_text(encoding="utf-8")
    rules.write_text(shipped.replace("threshold = 8.5\n", "threshold = 30\n"), encoding="utf-8")
    config = write_config(tmp_path, snapshot_sources(snapshot_url))
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace(str(ROOT / "config" / "topics.toml"), str(rules)))

    def monitor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "monitor", *args, "--config", str(config)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip

    assert monitor("run", "--once").returncode == 0
    found = monitor("search", "--topic", "asean", "--related", "--json", "--limit", "100")
    matched = monitor("search", "--topic", "asean", "--json")
    table = monitor("search", "--topic", "asean", "--related")

    rows = json.loads(found.stdout)
    assert rows and all(r["related_topics"].split(",").count("asean") for r in rows)
    assert json.loads(matched.stdout) == []  # nothing reaches an alert threshold of 30
    assert "related to" in table.stdout.splitlines()[0]
    shown = monitor("show", str(rows[0]["id"]))
    assert "asean: related, score" in shown.stdout
