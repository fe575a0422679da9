"""What an operator sees: `status` with a refusing mail server, commands that read the
archive without channel secrets, sending commands refusing a missing secret or a bad
chat URL at start, and outbox times recorded when things happen."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.alert import composer_for, send_pending
from monitor.cli import cli
from monitor.config import AlertSettings, Settings
from monitor.pipeline import run_once
from monitor.store import Store
from tests.conftest import ROOT, Smtp, write_config

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
SECRET = "MONITOR_TEST_SMTP_PASSWORD"
MAIL_WITH_SECRET = f"""
[channels.mail]
kind = "email"
host = "127.0.0.1"
port = 1
tls = "starttls"
username = "monitor"
password_env = "{SECRET}"
sender = "monitor@cert.example.go.th"
recipients = ["analyst@localhost"]
"""
CHAT = '[channels.chat]\nkind = "apprise"\nurl_env = "MONITOR_TEST_CHAT_URL"\n'


def _status(config: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["status", "--config", str(config)])
    return result.exit_code, result.output


def _monitor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`monitor ARGS` in a process of its own, as a user runs it."""
    clean = {k: v for k, v in os.environ.items() if k not in (SECRET, "MONITOR_TEST_CHAT_URL")}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env={**clean, **env},
    )  # fmt: skip


def test_status_shows_a_refusing_smtp_servers_error_and_exits_1_when_it_keeps_failing(
    snapshot_settings: Settings, smtp: Smtp
):
    smtp.stop()
    settings = replace(snapshot_settings, alerts=AlertSettings(max_attempts=8))
    store = Store(settings.db_path)
    config = settings.path

    run_once(settings, store, now=NOW)
    once, first = _status(config)

    assert once == 0, "one failed attempt a moment ago is not yet a failing channel"
    assert "alerts by channel:" in first and "email" in first
    assert "Connection refused" in first or "SMTP 127.0.0.1" in first

    later = NOW
    for _ in range(2):
        later += timedelta(hours=1)
        send_pending(store, settings.channels, settings.alerts, composer_for(settings), later)
    code, output = _status(config)

    assert code == 1
    failing = [line for line in output.splitlines() if "keeps failing" in line]
    assert len(failing) == 1
    assert failing[0].startswith("channel email keeps failing (an alert failed 3 times)")
    assert f"last error: email: SMTP 127.0.0.1:{smtp.port}: " in failing[0]


def test_status_exits_1_for_alerts_given_up(snapshot_settings: Settings, smtp: Smtp):
    smtp.stop()
    settings = replace(snapshot_settings, alerts=AlertSettings(max_attempts=1))
    run_once(settings, Store(settings.db_path), now=NOW)

    code, output = _status(settings.path)

    assert code == 1
    assert "channel email keeps failing (" in output and "alerts given up" in output


def test_status_exits_1_when_a_channel_has_been_failing_for_30_minutes(
    snapshot_settings: Settings, smtp: Smtp
):
    smtp.stop()
    store = Store(snapshot_settings.db_path)
    run_once(snapshot_settings, store, now=NOW)
    row = store.outbox_rows(("pending",), limit=1)[0]
    assert _status(snapshot_settings.path)[0] == 0

    long_ago = datetime.now(UTC) - timedelta(minutes=31)
    store.db.execute("UPDATE outbox SET first_failed_at = NULL WHERE id = ?", [row["id"]])
    store.mark_attempt_failed([row["id"]], "email: SMTP refused", timedelta(minutes=1), NOW,
                              failed_at=long_ago)  # fmt: skip
    store.db.conn.commit()
    code, output = _status(snapshot_settings.path)

    assert code == 1
    assert "channel email keeps failing (failing for 31 minutes)" in output


def test_read_only_commands_start_without_the_channel_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv(SECRET, raising=False)
    config = str(write_config(tmp_path, "", extra=MAIL_WITH_SECRET))

    for args in (["status"], ["search", "ไซเบอร์"], ["export"], ["sources"], ["alerts"]):
        result = CliRunner().invoke(cli, [*args, "--config", config])
        assert result.exit_code == 0, (args, result.output)
        assert SECRET not in result.output

    refused = _monitor("run", "--once", "--config", config, env={})

    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [
        f"error: {config}: channels.mail.password_env: environment variable {SECRET} to be set"
    ]


def test_alert_test_needs_only_its_own_channels_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv(SECRET, raising=False)
    monkeypatch.setenv("MONITOR_TEST_CHAT_URL", "notaservice://nowhere")
    config = str(write_config(tmp_path, "", extra=MAIL_WITH_SECRET + CHAT))

    mail = CliRunner().invoke(cli, ["alert-test", "mail", "--config", config])

    assert mail.exit_code == 2
    assert f"environment variable {SECRET} to be set" in mail.output


def test_an_invalid_apprise_url_is_refused_at_start_without_showing_it(tmp_path: Path):
    url = "notaservice://token-12345@nowhere"
    config = str(write_config(tmp_path, "", extra=CHAT))

    for args in (["run", "--once"], ["alert-test", "chat"]):
        refused = _monitor(*args, "--config", config, env={"MONITOR_TEST_CHAT_URL": url})

        assert refused.returncode == 2, refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {config}: channels.chat.url_env: ")
        assert "a URL Apprise accepts in MONITOR_TEST_CHAT_URL" in lines[0]
        assert "token-12345" not in refused.stderr + refused.stdout


def test_run_warns_when_no_channel_is_enabled(tmp_path: Path):
    config = str(write_config(tmp_path, ""))

    result = _monitor("run", "--once", "--quiet", "--config", config, env={})

    assert result.returncode == 0, result.stderr
    assert "WARNING no alert channel is enabled" in result.stderr


def test_created_and_sent_times_are_when_it_happened_not_the_runs_start(
    snapshot_settings: Settings, smtp: Smtp
):
    store = Store(snapshot_settings.db_path)
    before = datetime.now(UTC)

    run_once(snapshot_settings, store, now=NOW)  # a run's clock set days back

    after = datetime.now(UTC)
    rows = store.db.execute("SELECT created_at, sent_at FROM outbox").fetchall()
    assert rows and len(smtp.messages) == len(rows)
    for created, sent in rows:
        queued = datetime.fromisoformat(created.replace("Z", "+00:00"))
        accepted = datetime.fromisoformat(sent.replace("Z", "+00:00"))
        assert before <= queued <= accepted <= after
