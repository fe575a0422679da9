"""Options and helpers shared by the `monitor` verbs: config, output, logging."""

from __future__ import annotations

import logging
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from monitor import report
from monitor.config import DEFAULT_CONFIG, Settings, load_settings

RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class _JsonLines(logging.Formatter):
    """One JSON object a line: time, level, message and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in RECORD_FIELDS})
        if record.exc_info:
            data["exception"] = _one_line(record.exc_info)
        return report.as_json(data, indent=None)


def _one_line(exc_info: Any) -> str:
    """An exception as "Type: message": a library logging a traceback (urllib3 on a
    server's broken headers) must not print one at the user."""
    kind, exc = exc_info[0], exc_info[1]
    return report.printable(f"{kind.__name__ if kind else 'Error'}: {exc}", one_line=True)


class _Printable(logging.Formatter):
    """Log lines with a site's error texts made safe for the terminal (see report.printable);
    an exception is one line at the end of its record, never a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info:
            record.msg = f"{record.getMessage()} ({_one_line(record.exc_info)})"
            record.args, record.exc_info, record.exc_text = None, None, None
        return report.printable(super().format(record))


def setup_logging(verbose: bool, as_json: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonLines() if as_json else _Printable("%(asctime)s %(levelname)s %(message)s")
    )
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])
    # APScheduler logs "Added job", "Running job" and "executed successfully" for every
    # job run: the monitor's own line per source run says what ran and how it went.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # urllib3 warns with a traceback on a server's malformed headers; the fetch that
    # failed is reported by the monitor itself, naming the URL.
    logging.getLogger("urllib3").setLevel(logging.ERROR)


log_json_option = click.option("--log-json", is_flag=True, help="Log JSON lines to stderr.")


config_option = click.option(
    "--config", "config_path", type=click.Path(path_type=Path), default=DEFAULT_CONFIG,
    show_default=True, help="Main TOML config file.",
)  # fmt: skip
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def echo(text: str, err: bool = False, one_line: bool = False) -> None:
    """click.echo through report.printable: what the CLI prints may hold a site's text."""
    click.echo(report.printable(text, one_line), err=err)


def fail(message: str) -> NoReturn:
    """Print `error: message` on one line to stderr and exit 2, as for a config error."""
    echo(f"error: {message}", err=True, one_line=True)
    sys.exit(2)


def busy_port(host: str, port: int) -> str:
    """Why `host:port` cannot be listened on ("" when it can): bind and let go at once.

    SO_REUSEADDR as uvicorn and asyncio set it, so a port whose last connections wait
    in TIME_WAIT is not taken for busy; a live listener still is."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        return f"{host}: {exc.strerror or exc}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return ""


def settings_from(config_path: Path) -> Settings:
    """The settings of the config file a command was given."""
    return load_settings(config_path)


def topic_problem(topic: str | None, settings: Settings) -> str:
    """Why `topic` cannot be used, naming the configured topics ("" when it can)."""
    topics = sorted(t.name for t in settings.rules.topics)
    if topic in topics:
        return ""
    said = f"unknown topic {topic!r}" if topic else "missing"
    return f"{said} (one of {', '.join(topics)})"
