"""The `monitor` command: thin verbs around the pipeline and the store."""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from monitor import cli_archive, cli_feedback, report
from monitor.cli_common import (
    config_option,
    echo,
    json_option,
    log_json_option,
    settings_from,
    setup_logging,
)
from monitor.config import Settings, load_rules
from monitor.errors import AlertError, MonitorError
from monitor.store import Store, damaged

log = logging.getLogger("monitor")


class _Group(click.Group):
    """Turn every expected failure into one line on stderr and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            echo(f"error: {exc}", err=True, one_line=True)
            sys.exit(2)
        except sqlite3.DatabaseError as exc:  # a damaged file: found on reading a page of it
            echo(f"error: {damaged(Store.last_opened or 'the database', exc)}", err=True,
                 one_line=True)  # fmt: skip
            sys.exit(2)


def sending_settings(config_path: Path) -> Settings:
    """The settings for a command that sends alerts: every channel's secret set and chat
    URL valid (else one line naming the variable or channel, exit 2); a warning when no
    channel is enabled (matched items would be stored and nobody told)."""
    from monitor import alert

    settings = alert.check_channels(settings_from(config_path))
    if not settings.channels:
        log.warning("no alert channel is enabled in %s: matched items are stored, nobody "
                    "is alerted", settings.path)  # fmt: skip
    return settings


@click.group(cls=_Group)
@click.version_option(package_name="thai-news-monitor")
def cli() -> None:
    """Watch Thai government news for cybersecurity and ASEAN items."""


@cli.command()
@config_option
@click.option("--once", is_flag=True, help="Run one cycle and exit (non-zero if a source failed).")
@click.option("--quiet", is_flag=True, help="Log warnings only.")
@click.option("--force", is_flag=True, help="With --once: run sources that are backing off.")
@log_json_option
def run(config_path: Path, once: bool, quiet: bool, force: bool, log_json: bool) -> None:
    """Run the monitor: a service by default, one cycle with --once."""
    from monitor.pipeline import run_once

    setup_logging(not quiet, log_json)
    settings = sending_settings(config_path)
    if not once:
        from monitor.schedule import serve  # APScheduler: 27 ms a cron run need not pay

        serve(settings)
        return
    store = Store(settings.db_path)
    result = run_once(settings, store, force=force)
    echo(report.format_run(result))
    sys.exit(1 if result.failed_sources else 0)


@cli.command()
@config_option
@log_json_option
def serve(config_path: Path, log_json: bool) -> None:
    """Run as a service: every source on its interval until SIGTERM / Ctrl-C."""
    from monitor.schedule import serve as serve_forever

    setup_logging(True, log_json)
    serve_forever(sending_settings(config_path))


@cli.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Demo config (default: config/demo.toml).")  # fmt: skip
def demo(config_path: Path | None) -> None:
    """Run one full cycle on the bundled offline snapshot and show what happened."""
    from monitor.demo import run_demo

    run_demo(config_path)


@cli.command()
@config_option
@json_option
def status(config_path: Path, as_json: bool) -> None:
    """Source health and alerts per channel; exit 1 when something needs attention.

    A channel needs attention when it keeps failing (alert.channel_health): its last
    error is shown in full. Needs no channel secrets: it only reads the archive."""
    from monitor.alert import channel_health

    settings = settings_from(config_path)
    store = Store(settings.db_path)
    sources = store.source_status()
    now = datetime.now(UTC)
    channels = [{**row, "failing": channel_health(row, now)} for row in store.outbox_by_channel()]
    data = {"sources": sources, "channels": channels, "outbox": store.outbox_counts(),
            "items": store.count_items()}  # fmt: skip
    if as_json:
        echo(report.as_json(data))
    else:
        columns = ["source", "last_run_at", "last_success_at", "consecutive_failures",
                   "new_last_run", "last_error"]  # fmt: skip
        echo(report.table([_with_failed_pages(s) for s in sources], columns))
        echo(f"\nitems stored: {data['items']}\n\nalerts by channel:")
        columns = ["channel", "pending", "failed", "sent", "last_failed_at", "last_error"]
        echo(report.table(channels, columns) if channels else "(no alerts queued or sent)")
        for row in channels:
            if row["failing"]:
                echo(f"channel {row['channel']} keeps failing ({row['failing']}); last error: "
                     f"{row['last_error']}", one_line=True)  # fmt: skip
    failing = any(s["consecutive_failures"] or s["failed_last_run"] for s in sources) or any(
        row["failing"] for row in channels
    )
    sys.exit(1 if failing else 0)


def _with_failed_pages(row: dict[str, Any]) -> dict[str, Any]:
    """A status row whose last run read its listing but not every page: says so where
    the error goes (the source is not healthy, though it did not fail)."""
    if row["consecutive_failures"] or not row["failed_last_run"]:
        return row
    problem = report.reason_first(row["last_problem"] or "")
    return {**row, "last_error": f"{row['failed_last_run']} pages failed: {problem}"}


OUTBOX_STATUSES = ("pending", "sent", "failed")


def _statuses(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    """`--status pending,failed` or `--status pending --status failed`, as the README shows."""
    found = tuple(s.strip() for v in value for s in v.split(",") if s.strip())
    if bad := [s for s in found if s not in OUTBOX_STATUSES]:
        raise click.BadParameter(f"{', '.join(bad)} (one of {', '.join(OUTBOX_STATUSES)})")
    return found or ("pending", "failed")


@cli.group(invoke_without_command=True)
@config_option
@click.option("--status", "statuses", multiple=True, callback=_statuses,
              help="pending, failed, sent; comma-separated or repeated "
                   "(default: pending,failed).")  # fmt: skip
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
@json_option
@click.pass_context
def alerts(ctx: click.Context, config_path: Path, statuses: tuple[str, ...], limit: int,
           as_json: bool) -> None:  # fmt: skip
    """List queued, failed or sent alerts (`alerts retry` re-queues failed ones)."""
    ctx.obj = config_path
    if ctx.invoked_subcommand is not None:
        return
    rows = Store(settings_from(config_path).db_path).outbox_rows(statuses, limit)
    if as_json:
        echo(report.as_json(rows))
        return
    for row in rows:
        row["title"] = report.short(row["title"], 50)
        row["last_error"] = report.short(row["last_error"] or "", 60)
        # When it went out, or when it is next tried: one column, a time either way.
        row["when_at"] = row["sent_at"] if row["status"] == "sent" else row["next_attempt_at"]
    columns = ["id", "channel", "status", "attempts", "when_at", "title"]
    if any(row["last_error"] for row in rows):  # else a column of nothing takes the title's room
        columns.append("last_error")
    echo(report.table(rows, columns, cut_first=["last_error"]))


@alerts.command("retry")
@click.option("--config", "retry_config", type=click.Path(path_type=Path), default=None,
              help="Main TOML config file (default: the one given to `alerts`).")  # fmt: skip
@click.option("--channel", default="", help="Only this channel's failed alerts.")
@click.pass_obj
def alerts_retry(config_path: Path, retry_config: Path | None, channel: str) -> None:
    """Queue failed alerts again and try to send them now."""
    from monitor import alert

    settings = sending_settings(retry_config or config_path)
    names = [c.name for c in settings.channels]
    if channel and channel not in names:
        raise click.BadParameter(
            f"unknown channel {channel!r} (one of {', '.join(names) or 'none enabled'})",
            param_hint="'--channel'",
        )
    store = Store(settings.db_path)
    now = datetime.now(UTC)
    count = store.retry_failed(now, channel)
    deliveries = alert.send_pending(
        store, settings.channels, settings.alerts, alert.composer_for(settings), now
    )
    sent = sum(d.ok for d in deliveries)
    echo(f"re-queued {count} failed alerts; delivered {sent} of {len(deliveries)} due now")
    for d in deliveries:
        if not d.ok:
            echo(f"  item {d.item_id} -> {d.channel}: {d.error}", one_line=True)


@cli.command("alert-test")
@click.argument("channel")
@config_option
def alert_test(channel: str, config_path: Path) -> None:
    """Send a sample alert on CHANNEL (the newest matched item, if any) and report."""
    from monitor import alert

    settings = settings_from(config_path)
    target = next((c for c in settings.channels if c.name == channel), None)
    if target is None:
        names = ", ".join(c.name for c in settings.channels) or "none enabled"
        raise click.BadParameter(f"no enabled channel {channel!r} ({names})")
    alert.check_channels(replace(settings, channels=(target,)))  # only this one must work
    composer = alert.composer_for(settings)
    item = Store(settings.db_path).latest_matched_item() or alert.SAMPLE_ITEM
    try:
        alert.deliver([alert.view(item, composer.labels)], target, composer)
    except AlertError as exc:
        echo(f"failed: {exc}", err=True, one_line=True)
        sys.exit(1)
    echo(f"sent to {channel}: {item['title']}", one_line=True)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise click.BadParameter(f"{path}:{number}: not JSON ({exc.msg})") from None
                if not isinstance(row, dict) or "id" not in row:
                    raise click.BadParameter(f'{path}:{number}: not an object with an "id"')
                rows.append(row)
    return rows


@cli.command("match")
@click.argument("articles", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(path_type=Path),
    default=Path("config/topics.toml"),
    show_default=True,
    help="Topic rules file.",
)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSONL of {id, <topic>: 0|1|2}: print precision and recall to stderr.",
)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="Where to write the JSON lines (default: stdout).")  # fmt: skip
def match_command(articles: Path, rules_path: Path, labels: Path | None, output: Any) -> None:
    """Apply the topic rules to articles in a JSONL file (id, title, body)."""
    from monitor.evaluate import evaluate, format_metrics
    from monitor.match import match

    rules = load_rules(rules_path)
    results: dict[Any, dict[str, Any]] = {}
    rows = _read_jsonl(articles)
    with click.progressbar(rows, label="matching", file=sys.stderr) as bar:
        for row in bar:
            verdict = match(row.get("title", ""), row.get("body", ""), rules)
            topics = {
                t.topic: {"score": t.score, "matched": t.matched, "terms": [h.term for h in t.hits]}
                for t in verdict.topics
            }
            results[row["id"]] = topics
            output.write(json.dumps({"id": row["id"], "topics": topics}, ensure_ascii=False) + "\n")
    if labels:
        metrics = evaluate(results, _read_jsonl(labels))
        echo(format_metrics(metrics), err=True)


for _command in (*cli_archive.COMMANDS, cli_feedback.feedback):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="monitor")


@cli.command("tune")
@click.argument(
    "more_labels", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--labels",
    "label_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSONL of {id, <topic>: 0|1|2[, title, body]}; repeat for more files.",
)
@click.option(
    "--feedback",
    "use_feedback",
    is_flag=True,
    help="Also learn from the analysts' judgements in the archive (`monitor feedback`).",
)
@config_option
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(exists=True, path_type=Path),
    default=Path("config/topics.toml"),
    show_default=True,
    help="Rules to start from.",
)
@click.option(
    "--articles",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSONL(.gz) of articles (id, title, body) for labels without text.",
)
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="New rules file (default: RULES.tuned.toml beside RULES).")  # fmt: skip
def tune_command(
    more_labels: tuple[Path, ...],
    label_paths: tuple[Path, ...],
    rules_path: Path,
    articles: Path | None,
    out: Path | None,
    use_feedback: bool,
    config_path: Path,
) -> None:
    """Fit term weights and thresholds from labels; write them beside the rules.

    `--labels A.jsonl B.jsonl` reads both (the files after the first are arguments)."""
    from monitor.tune import TuneError, run

    paths = [*label_paths, *more_labels]
    if not paths and not use_feedback:
        raise click.UsageError("give --labels FILE..., --feedback, or both")
    judged = Store(settings_from(config_path).db_path).feedback_labels() if use_feedback else []
    try:
        run(paths, rules_path, out, articles, load_rules, echo, judged)
    except TuneError as exc:
        echo(f"error: {exc}", err=True, one_line=True)
        sys.exit(1)
