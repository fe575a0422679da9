"""Helpers shared by the service benchmarks (alert latency, backfill, memory).

The workload server and its source templates come from `workload_cycle.py`, imported
rather than copied, so every benchmark sees the same pages and the same rules. Added
here: configs with an interval, a topics file and an email channel; a loopback SMTP
server that stamps each message on arrival; RSS read from /proc.
"""

from __future__ import annotations

import compileall
import email
import email.policy
import importlib.util
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from aiosmtpd.controller import Controller
from workload_cycle import (
    ARTICLE_RULES,
    DEFAULT_SHARED,
    REPO,
    SERVER,
    SOURCE_HTML,
    SOURCE_RSS,
    WorkloadServer,
    _fetch_keys,
    free_port,
    get_json,
)

__all__ = [
    "DEFAULT_SHARED", "REPO", "Mail", "Smtp", "compiled", "free_port", "get_json",
    "load_note", "proc_rss_mb", "workload_config", "workload_server", "workload_site",
]  # fmt: skip


def workload_config(
    folder: Path,
    base: str,
    n: int,
    *,
    kind: str = "rss",
    topics_file: Path = REPO / "config" / "topics.toml",
    interval_minutes: float | None = None,
    smtp_port: int | None = None,
    workers: int = 1,
    name: str = "monitor.toml",
) -> Path:
    """A config with one source per workload source; data in `folder/data`.

    Without `smtp_port` there is no channel, so nothing is alerted: a warm-up run
    with it stores the workload's initial items silently.
    """
    template = SOURCE_RSS if kind == "rss" else SOURCE_HTML
    interval = f"interval_minutes = {interval_minutes}\n" if interval_minutes else ""
    sources = []
    for i in range(n):
        table = template.format(name=f"w{i:04d}", base=base, i=i)
        # The source's own keys go right below its [sources.NAME] header (the HTML
        # template opens a [.listing] sub-table after them).
        table = table.replace("]\n", "]\n" + interval, 1)
        sources.append(table + ARTICLE_RULES.format(name=f"w{i:04d}"))
    channel = (
        "\n[channels.email]\nkind = \"email\"\nhost = \"127.0.0.1\"\n"
        f"port = {smtp_port}\ntimeout_seconds = 10\nsender = \"monitor@localhost\"\n"
        "recipients = [\"analyst@localhost\"]\n"
        if smtp_port
        else ""
    )  # fmt: skip
    path = folder / name
    path.write_text(
        f'data_dir = "{folder / "data"}"\n'
        f'topics_file = "{topics_file}"\n'
        f'presets_file = "{REPO / "config" / "presets.toml"}"\n'
        f'templates_dir = "{REPO / "config" / "templates"}"\n'
        "\n[fetch]\ntimeout_seconds = 10\n" + _fetch_keys(workers) + "".join(sources) + channel,
        encoding="utf-8",
    )
    return path


@contextmanager
def workload_server(shared: Path, n: int) -> Iterator[WorkloadServer]:
    """The shared workload server (n sources) on loopback, ready, stopped on exit."""
    script = shared / SERVER
    if not script.is_file():
        raise SystemExit(f"{script} not found; pass --shared PATH (the folder with bench/)")
    tmp = Path(tempfile.mkdtemp(prefix="workload-server-"))
    server = WorkloadServer(script, n, tmp / "server.log")
    try:
        server.wait_ready(timeout=120)
        yield server
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def workload_site(shared: Path) -> ModuleType:
    """`bench/workload_site.py` imported by path, for its corpus loader."""
    path = shared / SERVER
    spec = importlib.util.spec_from_file_location("_workload_site", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Mail:
    """One message as the SMTP server received it."""

    received_at: float  # time.time(), comparable with the workload server's stamps
    subject: str
    text: str


class _Inbox:
    """aiosmtpd handler: stamp each message the moment its DATA is accepted."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        received = time.time()
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = message.get_body(("plain",))  # type: ignore[attr-defined]
        text = str(part.get_content()) if part is not None else ""
        with self.arrived:
            self.mails.append(Mail(received, str(message["Subject"] or ""), text))
            self.arrived.notify_all()
        return "250 OK"


class Smtp:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; use as a context manager."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = _Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    @property
    def mails(self) -> list[Mail]:
        with self.inbox.arrived:
            return list(self.inbox.mails)

    def wait(self, timeout: float) -> None:
        """Return when a message arrives or `timeout` seconds pass."""
        with self.inbox.arrived:
            self.inbox.arrived.wait(timeout)

    def __enter__(self) -> Smtp:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def proc_rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc/PID/status (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    values = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
    return int(values["VmRSS"]) / 1024, int(values["VmHWM"]) / 1024


def compiled(repo: Path) -> Path:
    """`repo`, its package compiled to bytecode as `pip install` leaves an installed one.

    Where PYTHONDONTWRITEBYTECODE is set (this sandbox sets it), every `python -m
    monitor` of a checkout compiled the whole package from source, ~0.1 s of CPU that no
    installed monitor pays and that the peers' installed packages did not pay either.
    """
    compileall.compile_dir(repo / "monitor", quiet=1)
    return repo


def load_note() -> str:
    """The load average, to read the figures by: other work shares this machine."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (5 min {five:.2f}) on {os.cpu_count()} CPUs"
