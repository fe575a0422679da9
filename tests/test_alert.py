"""Alerts through the outbox: real SMTP, a local webhook, retries, and never twice."""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer

from monitor.alert import Composer, composer_for, cut, send_pending, view
from monitor.config import AlertSettings, Channel, Settings
from monitor.pipeline import run_once
from monitor.route import Routing
from monitor.store import Store
from tests.conftest import CONFIG, SEED_TITLE, Smtp, message_text

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def _matched_count(store: Store) -> int:
    return sum(1 for r in store.items_overview() if r["matched_topics"])


def test_smtp_down_then_back_delivers_each_alert_exactly_once(
    snapshot_settings: Settings, smtp: Smtp
):
    store = Store(snapshot_settings.db_path)
    smtp.stop()

    first = run_once(snapshot_settings, store, now=NOW)

    assert first.deliveries and not any(d.ok for d in first.deliveries)
    assert "SMTP 127.0.0.1" in first.deliveries[0].error
    assert store.outbox_counts() == {"pending": _matched_count(store)}

    smtp.start()
    composer = composer_for(snapshot_settings)
    assert (
        send_pending(store, snapshot_settings.channels, snapshot_settings.alerts, composer, NOW)
        == []
    )
    later = NOW + timedelta(seconds=snapshot_settings.alerts.retry_base_seconds)
    delivered = send_pending(
        store, snapshot_settings.channels, snapshot_settings.alerts, composer, later
    )
    again = send_pending(
        store, snapshot_settings.channels, snapshot_settings.alerts, composer, later
    )

    assert all(d.ok for d in delivered) and again == []
    assert len(smtp.messages) == _matched_count(store)
    assert len({m["Subject"] for m in smtp.messages}) == len(smtp.messages)
    assert store.outbox_counts() == {"sent": _matched_count(store)}


def test_permanent_failure_is_marked_failed_after_the_cap(snapshot_settings: Settings, smtp):
    smtp.stop()
    settings = replace(
        snapshot_settings, alerts=AlertSettings(max_attempts=2, retry_base_seconds=1)
    )
    store = Store(settings.db_path)

    run_once(settings, store, now=NOW)
    send_pending(
        store,
        settings.channels,
        settings.alerts,
        composer_for(settings),
        NOW + timedelta(seconds=5),
    )

    assert store.outbox_counts() == {"failed": _matched_count(store)}
    failed = store.outbox_rows(("failed",))
    assert failed[0]["attempts"] == 2 and "SMTP" in failed[0]["last_error"]


def test_email_keeps_thai_subject_and_escapes_html(snapshot_settings: Settings, smtp: Smtp):
    store = Store(snapshot_settings.db_path)
    run_once(snapshot_settings, store, now=NOW)

    seed = next(m for m in smtp.messages if SEED_TITLE in m["Subject"])
    text = message_text(seed)

    assert seed["Subject"].startswith("[Cybersecurity, ASEAN] " + SEED_TITLE)
    for field in ("วันที่ / Date:", "(Bangkok)", "แหล่งข่าว / Source:", "ลิงก์ / Link: http",
                  "Cybersecurity (score", "ASEAN (score", "“", "Also published at:"):  # fmt: skip
        assert field in text, field
    html = message_text(seed, "html")
    assert "<script" not in html
    assert SEED_TITLE in html


def test_webhook_channel_posts_json_with_thai_text(
    snapshot_settings: Settings, httpserver: HTTPServer
):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    webhook = Channel(
        name="hook", kind="apprise", routing=Routing(topics=("cybersecurity",)),
        url=f"json://127.0.0.1:{httpserver.port}/hook",
    )  # fmt: skip
    settings = replace(snapshot_settings, channels=(webhook,))
    store = Store(settings.db_path)

    report = run_once(settings, store, now=NOW)

    assert report.deliveries and all(d.ok for d in report.deliveries)
    bodies = [json.loads(request.get_data()) for request, _ in httpserver.log]
    cyber = sum(1 for r in store.items_overview() if "cybersecurity" in r["matched_topics"])
    assert len(bodies) == cyber
    assert any(SEED_TITLE in b["title"] and "ความมั่นคงปลอดภัยไซเบอร์" in b["message"] for b in bodies)


HOSTILE = {
    "url": "https://x/1", "title": '<script>alert(1)</script>[click](http://evil) <a href="http://evil">x</a>',
    "published_at": None, "source": "s", "urls": [{"url": "https://x/1", "source": "s"}],
    "match": [{"topic": "asean", "matched": True, "score": 9,
               "hits": [{"term": "asean", "field": "title", "count": 1, "snippet": "<b>*x*</b>"}]}],
}  # fmt: skip


def test_hostile_title_cannot_inject_html_or_markdown():
    composer = Composer(CONFIG / "templates", {"asean": "ASEAN"})
    items = [view(HOSTILE, composer.labels)]
    channel = Channel(name="e", kind="email", sender="a@b", recipients=("c@d",))

    html = message_text(composer.email(items, channel), "html")
    markdown = composer.chat(items, markdown=True, limit=4000)

    assert "<script>" not in html and 'href="http://evil"' not in html
    assert "&lt;script&gt;" in html
    assert "[click](http://evil)" not in markdown
    assert r"\[click\]\(http://evil\)" in markdown


@pytest.mark.parametrize("limit", [5, 30, 44, 60, 75, 90])
def test_cut_never_splits_a_thai_cluster_or_a_link(limit: int):
    text = (
        "ที่ประชุมรัฐมนตรีอาเซียนด้านไซเบอร์ ดูที่ https://www.thaigov.go.th/news/contents/details/23673 ครับ"
    )

    short = cut(text, limit)

    assert len(short) <= limit and short.endswith("…")
    assert unicodedata.category(short[-2]) != "Mn" or short[-2] in text
    assert (
        "https://" not in short or "https://www.thaigov.go.th/news/contents/details/23673" in short
    )
    body = short[:-1]
    assert text.startswith(body)
    assert unicodedata.category(text[len(body)]) != "Mn", "the next char is not a mark of the last"


def test_line_chat_is_cut_to_5000_characters_by_dropping_items():
    composer = Composer(CONFIG / "templates", {"asean": "ASEAN"})
    item = view({**HOSTILE, "title": "ข่าวอาเซียน " * 40}, composer.labels)

    body = composer.chat([item] * 30, markdown=False, limit=5000)

    assert len(body) <= 5000
    assert "more" in body.rstrip().splitlines()[-1]


def test_digest_channel_sends_one_message_at_the_slot(snapshot_settings: Settings, smtp: Smtp):
    digest = replace(
        snapshot_settings.channels[0],
        routing=Routing(topics=("cybersecurity", "asean"), mode="digest", digest="hourly"),
    )
    settings = replace(snapshot_settings, channels=(digest,))
    store = Store(settings.db_path)
    at_0910 = datetime(2026, 11, 26, 2, 10, tzinfo=UTC)  # 09:10 in Bangkok

    run_once(settings, store, now=at_0910)
    before = send_pending(store, settings.channels, settings.alerts, composer_for(settings),
                          at_0910 + timedelta(minutes=49))  # fmt: skip
    assert before == [] and len(smtp.messages) == 0

    at_slot = send_pending(store, settings.channels, settings.alerts, composer_for(settings),
                           at_0910 + timedelta(minutes=50))  # fmt: skip

    assert len(at_slot) == _matched_count(store) and all(d.ok for d in at_slot)
    assert len(smtp.messages) == 1
    assert smtp.messages[0]["Subject"].startswith(f"{_matched_count(store)} new items: ")
    text = message_text(smtp.messages[0])
    assert SEED_TITLE in text and text.count("ลิงก์ / Link:") == _matched_count(store)


def test_failed_alerts_are_retried_on_demand(snapshot_settings: Settings, smtp: Smtp):
    smtp.stop()
    settings = replace(snapshot_settings, alerts=AlertSettings(max_attempts=1))
    store = Store(settings.db_path)
    run_once(settings, store, now=NOW)
    assert store.outbox_counts() == {"failed": _matched_count(store)}

    smtp.start()
    assert store.retry_failed(NOW) == _matched_count(store)
    send_pending(store, settings.channels, settings.alerts, composer_for(settings), NOW)

    assert store.outbox_counts() == {"sent": _matched_count(store)}
    assert len(smtp.messages) == _matched_count(store)


def test_alert_test_command_reports_success_and_the_channels_error(
    snapshot_settings: Settings, smtp: Smtp
):
    from click.testing import CliRunner

    from monitor.cli import cli

    config = str(snapshot_settings.path)
    run_once(snapshot_settings, Store(snapshot_settings.db_path), now=NOW)
    sent_before = len(smtp.messages)

    ok = CliRunner().invoke(cli, ["alert-test", "email", "--config", config])
    smtp.stop()
    down = CliRunner().invoke(cli, ["alert-test", "email", "--config", config])

    assert ok.exit_code == 0 and ok.output.startswith("sent to email: ")
    assert len(smtp.messages) == sent_before + 1
    assert down.exit_code == 1 and "failed: email: SMTP 127.0.0.1" in down.output
    assert len(down.output.strip().splitlines()) == 1


def test_email_has_a_date_and_message_id_that_mail_filters_accept(
    snapshot_settings: Settings, smtp: Smtp
):
    import email
    import email.policy
    from email.utils import parsedate_to_datetime

    run_once(snapshot_settings, Store(snapshot_settings.db_path), now=NOW)

    assert smtp.messages
    for received in smtp.messages:
        message = email.message_from_bytes(bytes(received), policy=email.policy.default)
        date = parsedate_to_datetime(str(message["Date"]))
        assert date.tzinfo is not None and date.utcoffset() == timedelta(hours=7)
        assert abs(datetime.now(UTC) - date) < timedelta(minutes=1), "sent now, not at NOW"
        assert re.fullmatch(r"<[^<>@\s]+@localhost>", str(message["Message-ID"]).strip())
        assert (
            str(message["List-Id"])
            == "thai-news-monitor email alerts <email.thai-news-monitor.localhost>"
        )
        assert message["Auto-Submitted"] == "auto-generated"
    assert len({m["Message-ID"] for m in smtp.messages}) == len(smtp.messages)


def test_failed_deliveries_are_logged_at_warning_then_error(
    snapshot_settings: Settings, smtp: Smtp, caplog: pytest.LogCaptureFixture
):
    smtp.stop()
    settings = replace(
        snapshot_settings, alerts=AlertSettings(max_attempts=2, retry_base_seconds=1)
    )
    store = Store(settings.db_path)

    with caplog.at_level(logging.INFO, logger="monitor"):
        run_once(settings, store, now=NOW)
        send_pending(store, settings.channels, settings.alerts, composer_for(settings),
                     NOW + timedelta(seconds=5))  # fmt: skip

    failures = [r for r in caplog.records if r.getMessage().startswith("alert channel=email")]
    assert {r.levelno for r in failures} == {logging.WARNING, logging.ERROR}
    assert all(
        "attempt 1 failed" in r.getMessage() for r in failures if r.levelno == logging.WARNING
    )
    assert all(
        "gave up after 2 attempts" in r.getMessage() for r in failures if r.levelno == logging.ERROR
    )
