"""Shared fixtures: real local servers (HTTP snapshot, SMTP) and configs pointing at them."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from monitor.config import Settings, load_settings
from monitor.demo import MailBox
from monitor.snapshot import SnapshotServer

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "demo" / "snapshot"
CONFIG = ROOT / "config"
SEED_TITLE = "กระทรวงดิจิทัลฯ ร่วมประชุม รมต. อาเซียนด้านความมั่นคงปลอดภัยไซเบอร์"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def snapshot_url() -> Iterator[str]:
    with SnapshotServer(SNAPSHOT) as server:
        yield server.base_url


class Smtp:
    """A real SMTP server on loopback that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = MailBox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        return self.mailbox.messages


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp()
    server.start()
    yield server
    server.stop()


def write_config(
    tmp_path: Path,
    sources: str,
    smtp_port: int | None = None,
    extra: str = "",
    fetch: str = "timeout_seconds = 5\n",
) -> Path:
    """A main config in tmp_path using the repository's topics and presets.

    `fetch` holds [fetch] keys; requests are never spaced out (loopback servers).
    """
    channel = (
        f"""
[channels.email]
kind = "email"
host = "127.0.0.1"
port = {smtp_port}
timeout_seconds = 5
sender = "monitor@localhost"
recipients = ["analyst@localhost"]
"""
        if smtp_port
        else ""
    )
    path = tmp_path / "monitor.toml"
    path.write_text(
        f"""
data_dir = "{tmp_path / "data"}"
topics_file = "{CONFIG / "topics.toml"}"
presets_file = "{CONFIG / "presets.toml"}"
templates_dir = "{CONFIG / "templates"}"

[fetch]
min_delay_seconds = 0
{fetch}

[alerts]
max_attempts = 3
retry_base_seconds = 60

{sources}
{channel}
{extra}
""",
        encoding="utf-8",
    )
    return path


def snapshot_sources(base_url: str) -> str:
    return f"""
[sources.thaigov]
preset = "thaigov-legacy"
url = "{base_url}/news/contents/category/1"
max_pages = 4

[sources.dla-asean]
preset = "wordpress-feed"
url = "{base_url}/rss/dla-asean.xml"
"""


@pytest.fixture
def snapshot_settings(tmp_path: Path, snapshot_url: str, smtp: Smtp) -> Settings:
    return load_settings(write_config(tmp_path, snapshot_sources(snapshot_url), smtp.port))


def message_text(message: email.message.EmailMessage, kind: str = "plain") -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(part.get_content())


def parse_message(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]
