"""The offline demo: serve the bundled snapshot and a local SMTP server, run one cycle.

Everything stays on 127.0.0.1: the snapshot (pages built from the public-domain
thaigov corpus) is served over real HTTP, alerts go to a real SMTP server
(aiosmtpd) started here, and the archive is a real SQLite file that the printed
`monitor search` command can query afterwards.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from monitor import report
from monitor.cli_common import busy_port, echo, fail
from monitor.config import Settings, load_settings
from monitor.errors import ConfigError
from monitor.pipeline import run_once
from monitor.snapshot import SnapshotServer
from monitor.store import Store
from monitor.thai import bangkok_time

DEMO_CONFIG = Path("config/demo.toml")


class MailBox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[arg-type]
        )
        return "250 OK"


def _demo_config(path: Path | None) -> Path:
    if path is not None:
        return path
    if DEMO_CONFIG.exists():
        return DEMO_CONFIG
    return Path(__file__).resolve().parent.parent / DEMO_CONFIG


def _reset(settings: Settings) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.db_path}{suffix}").unlink(missing_ok=True)


def _start_smtp(settings: Settings, mailbox: MailBox) -> Controller:
    assert settings.demo is not None
    controller = Controller(mailbox, hostname="127.0.0.1", port=settings.demo.smtp_port)
    try:
        controller.start()
    except (OSError, RuntimeError) as exc:
        raise ConfigError(str(settings.path), "demo.smtp_port", f"a free port ({exc})") from None
    return controller


def _print_items(store: Store) -> None:
    rows = store.items_overview()
    for row in rows:
        row["title"] = report.short(row["title"], 60)
        row["published"] = bangkok_time(row["published_at"])
    echo(f"\nItems stored ({len(rows)}):")
    echo(report.table(rows, ["id", "source", "published", "matched_topics", "title"]))
    echo("\nMatched, and why:")
    for row in rows:
        if row["matched_topics"]:
            item = store.item(row["id"])
            echo(f"  #{item['id']} {report.short(item['title'], 90)}")
            echo(f"      {report.match_summary(item['match'])}")
            for other in item["urls"][1:]:
                echo(f"      also published at {other['url']} ({other['source']})")


def _print_mail(mailbox: MailBox) -> None:
    """Every subject, and the first message in full as the analyst reads it."""
    echo(f"\nEmail received by the local SMTP server ({len(mailbox.messages)}):")
    for message in mailbox.messages:
        echo(f"  Subject: {message['Subject']}")
    if mailbox.messages:
        first = mailbox.messages[0]
        body = first.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        echo(f"\nThe first one, to {first['To']}:")
        echo("\n".join(f"    | {line}" for line in text.splitlines()))


def run_demo(config_path: Path | None = None) -> None:
    """Run the demo end to end and print what each stage did."""
    path = _demo_config(config_path)
    settings = load_settings(path)
    if settings.demo is None:
        raise ConfigError(str(path), "demo", "a [demo] table (snapshot_dir, http_port, smtp_port)")
    # Before `_reset`: a demo that cannot start must not delete the last demo's data.
    for key, port in (
        ("http_port", settings.demo.http_port),
        ("smtp_port", settings.demo.smtp_port),
    ):
        busy = busy_port("127.0.0.1", port)
        if busy:
            fail(f"{busy}: set another demo.{key} in {path}")
    _reset(settings)
    mailbox = MailBox()
    smtp = _start_smtp(settings, mailbox)
    try:
        try:
            server = SnapshotServer(settings.demo.snapshot_dir, settings.demo.http_port)
        except OSError as exc:
            raise ConfigError(str(path), "demo.http_port", f"a free port ({exc})") from None
        with server:
            echo(f"Serving the bundled snapshot on {server.base_url} "
                       f"(pages built from the public-domain thaigov corpus)")  # fmt: skip
            echo(f"SMTP server on 127.0.0.1:{settings.demo.smtp_port}; "
                       f"database {settings.db_path}\n")  # fmt: skip
            store = Store(settings.db_path)
            result = run_once(settings, store)
            echo(report.format_run(result))
            _print_items(store)
            store.close()
    finally:
        smtp.stop()
    _print_mail(mailbox)
    echo("\nQuery what was stored:")
    echo(f"  monitor search ไซเบอร์ --config {path}")
