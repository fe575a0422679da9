"""A hostile site's titles, bodies, URLs and error texts, stored for real, then printed
by the CLI, mailed through a real SMTP server and posted to a local chat webhook."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer

from monitor.alert import composer_for, quiet_mentions, send_pending
from monitor.cli import cli
from monitor.config import Channel, Settings, load_settings
from monitor.models import Item, Match, SourceReport, TermHit, TopicResult
from monitor.route import Routing
from monitor.store import Store
from tests.conftest import Smtp, message_text, write_config

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
TITLE = (
    "สกมช. เตือนภัยไซเบอร์\x1b[2J\x1b]0;pwned\x07 [x](http://evil.example/) "
    "@everyone \u202eexe.pdf\x9b31m\nFAKE LINE"
)
BODY = "ย่อหน้าแรก\n\x1b[31mred\x1b[0m ไซเบอร์\x07\nย่อหน้าสุดท้าย"
URL = "https://evil.example/a>b)c"
SCRIPT_URL = "javascript:alert(document.cookie)"
ERROR = "HTTP 500 \x1b]0;owned\x07\x1b[2JInternal\r\nfake: line\x9d8;;x\x9c"
# Any C0 control but newline, DEL, C1 and the bidi overrides.
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What stripping the ESC byte alone would leave of the CSI and OSC sequences.
RESIDUE = re.compile(r"\[2J|\]0;|31m")


def _save(store: Store, url: str, channel: str) -> int:
    hit = TermHit("ไซเบอร์", "title", 1, "เตือนภัยไซเบอร์\x1b[2J @here")
    match = Match((TopicResult("cybersecurity", 9.0, True, (hit,)),))
    item = Item(url=url, source="hostile", title=TITLE, body=BODY, published_at=None)
    return store.save_item(item, match, {channel: NOW}, NOW)


@pytest.fixture
def hostile(tmp_path: Path, smtp: Smtp) -> Settings:
    """A config whose one source failed with a hostile error, and two hostile items
    queued for email: one with a URL that ends a Markdown link early, one `javascript:`."""
    source = '[sources.hostile]\nkind = "rss"\nurl = "http://127.0.0.1:9/feed"\n'
    settings = load_settings(write_config(tmp_path, source, smtp.port))
    store = Store(settings.db_path)
    store.record_run(SourceReport("hostile", error=ERROR), NOW)
    _save(store, URL, "email")
    _save(store, SCRIPT_URL, "email")
    store.close()
    return settings


def _call(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--config", str(settings.path)])


def _assert_printable(text: str) -> None:
    assert text.strip()
    assert not CONTROL.search(text), repr(CONTROL.search(text))
    assert not RESIDUE.search(text), repr(RESIDUE.search(text))


@pytest.mark.parametrize(
    "args",
    [
        ("show", "1"),
        ("search", "ไซเบอร์"),
        ("search", "--csv"),
        ("status",),
        ("sources",),
        ("alerts",),
        ("alert-test", "email"),
    ],
)
def test_cli_prints_no_escape_or_control_characters(hostile: Settings, args: tuple[str, ...]):
    result = _call(hostile, *args)

    assert result.exit_code in (0, 1), result.output  # status: 1, a source is failing
    _assert_printable(result.output)
    assert "สกมช. เตือนภัยไซเบอร์" in result.output or "Internal" in result.output


def test_show_keeps_the_title_on_one_line_and_the_body_paragraphs(hostile: Settings):
    lines = _call(hostile, "show", "1").output.splitlines()

    assert lines[0].startswith("#1 สกมช. เตือนภัยไซเบอร์") and "FAKE LINE" in lines[0]
    assert not any(line.startswith("FAKE LINE") for line in lines)
    assert lines[-3:] == ["ย่อหน้าแรก", "red ไซเบอร์", "ย่อหน้าสุดท้าย"]


def test_csv_cells_are_one_line_and_clean(hostile: Settings):
    rows = list(csv.DictReader(io.StringIO(_call(hostile, "search", "--csv").output)))

    assert len(rows) == 2
    for row in rows:
        assert "\n" not in row["title"] and row["title"].endswith("exe.pdf FAKE LINE")


def test_json_keeps_the_text_exactly_yet_prints_no_raw_control(hostile: Settings):
    output = _call(hostile, "show", "1", "--json").output

    assert not CONTROL.search(output.replace("\n", "")), "json.dumps' own line breaks aside"
    assert "\\u001b[2J" in output and "\\u202e" in output and "\\u009b" in output
    assert json.loads(output)["title"] == TITLE


def test_status_prints_the_error_on_one_line(hostile: Settings):
    result = _call(hostile, "status")

    assert result.exit_code == 1
    assert "fake: line" in result.output
    assert not any(line.startswith("fake") for line in result.output.splitlines())


@pytest.mark.parametrize("args", [("-ไซเบอร์",), ("--", "-ไซเบอร์"), ("-x", "--limit", "5")])
def test_search_takes_a_query_starting_with_a_dash(hostile: Settings, args: tuple[str, ...]):
    result = CliRunner().invoke(cli, ["search", "--json", "--config", str(hostile.path), *args])

    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.output), list)


def test_slack_channel_mentions_are_defused_too():
    assert quiet_mentions("<!channel> <!here> @all") == "<!\u200bchannel> <!\u200bhere> @\u200ball"


def test_a_mistyped_search_option_is_still_an_error(hostile: Settings):
    result = CliRunner().invoke(cli, ["search", "--jsn", "--config", str(hostile.path)])

    assert result.exit_code == 2
    assert "No such option: --jsn" in result.output


def test_email_subject_is_one_clean_line_and_no_javascript_link(hostile: Settings, smtp: Smtp):
    store = Store(hostile.db_path)

    sent = send_pending(store, hostile.channels, hostile.alerts, composer_for(hostile), NOW)

    assert len(sent) == 2 and all(d.ok for d in sent)
    for message in smtp.messages:
        subject = str(message["Subject"])
        assert "\n" not in subject and "\r" not in subject
        _assert_printable(subject)
        assert subject.endswith("exe.pdf FAKE LINE")
        _assert_printable(message_text(message).replace("\n", ""))
        html = message_text(message, "html")
        _assert_printable(html.replace("\n", ""))
        assert "javascript:" not in html.lower()
    texts = [message_text(m) for m in smtp.messages]
    assert any(URL in t for t in texts) and not any(SCRIPT_URL in t for t in texts)


def test_chat_title_is_escaped_urls_encoded_and_mass_mentions_defused(
    hostile: Settings, httpserver: HTTPServer
):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    hook = Channel(
        name="hook", kind="apprise", routing=Routing(topics=("cybersecurity",)),
        url=f"json://127.0.0.1:{httpserver.port}/hook",
    )  # fmt: skip
    settings = replace(hostile, channels=(hook,))
    store = Store(settings.db_path)
    _save(store, "https://evil.example/chat>b)c (d)", "hook")
    _save(store, "JavaScript:alert(2)", "hook")

    sent = send_pending(store, settings.channels, settings.alerts, composer_for(settings), NOW)

    assert len(sent) == 2 and all(d.ok for d in sent)
    payloads = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert len(payloads) == 2
    for payload in payloads:
        title, body = payload["title"], payload["message"]
        assert "[x](http://evil.example/)" not in title + body
        assert r"\[x\]" in title and r"\[x\]" in body
        assert "@everyone" not in title + body
        assert "@\u200beveryone" in title and "@\u200beveryone" in body
        assert "javascript:" not in body
        _assert_printable(title + body.replace("\n", ""))
    bodies = "".join(p["message"] for p in payloads)
    assert "<https://evil.example/chat%3Eb%29c%20%28d%29>" in bodies
