"""The `monitor` verbs that read the archive: search, show, export, sources, backfill,
rematch, prune, web and feed."""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from monitor import report
from monitor.cli_common import (
    busy_port,
    config_option,
    echo,
    fail,
    json_option,
    settings_from,
    setup_logging,
    topic_problem,
)
from monitor.config import Settings
from monitor.store import Filters, Store
from monitor.thai import bangkok_time, read_datetime
from monitor.urls import redact


class _Date(click.ParamType):
    """A date as ISO (2019-10-07) or Thai (7 ต.ค. 2562, 07/10/2562): midnight in Bangkok.

    Years outside thai.EARLIEST_YEAR..LATEST_YEAR are refused (year 1 cannot be compared
    with stored UTC times)."""

    name = "date"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        parsed = read_datetime(value)
        if parsed is None:
            self.fail(f"{value!r} is not a date (2019-10-07 or 7 ต.ค. 2562)", param, ctx)
        return parsed


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every command that lists items shares."""
    options = [
        click.option("--since", type=_Date(), help="Published on or after this date."),
        click.option("--until", type=_Date(), help="Published before this date."),
        click.option("--source", default="", help="Only this source."),
        click.option("--topic", default="", help="Only items matching this topic."),
        click.option("--matched/--unmatched", default=None, help="Only (un)matched items."),
        click.option("--related", is_flag=True,
                     help="Items related to --topic (or to any topic) below its alert "
                          "threshold, instead of those matching it."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def _filters(kwargs: dict[str, Any], settings: Settings, store: Store, **extra: Any) -> Filters:
    """The filter options as Filters; an unknown --topic or --source is refused with the
    known ones (it would otherwise print "(nothing)", as if nothing had matched)."""
    keys = ("since", "until", "source", "topic", "matched", "related")
    filters = Filters(**{k: kwargs.pop(k) for k in keys}, **extra)
    if filters.topic and (problem := topic_problem(filters.topic, settings)):
        raise click.BadParameter(problem, param_hint="'--topic'")
    # A source removed from the config keeps its items and its status row.
    names = {s.name for s in settings.sources} | {r["source"] for r in store.source_status()}
    if filters.source and filters.source not in names:
        raise click.BadParameter(
            f"unknown source {filters.source!r} (one of {', '.join(sorted(names))})",
            param_hint="'--source'",
        )
    return filters


def _emit(rows: list[dict[str, Any]], columns: list[str], output: str) -> None:
    if output == "json":
        echo(report.as_json(rows))
    elif output == "csv":
        writer = csv.DictWriter(sys.stdout, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({c: report.cell(row.get(c, "")) for c in columns} for row in rows)
    else:
        echo(report.table(rows, columns))


output_option = click.option(
    "--json", "output", flag_value="json", help="Print JSON instead of a table."
)
csv_option = click.option("--csv", "output", flag_value="csv", help="Print CSV.")


# An unknown option word is taken as the QUERY, so `monitor search -ไซเบอร์` searches
# for it rather than failing with "no such option" (search has no short options).
@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("query", default="")
@config_option
@filter_options
@click.option("--sort", type=click.Choice(["rank", "newest"]), default="rank", show_default=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1),
              help="Most results to show.")  # fmt: skip
@output_option
@csv_option
def search(query: str, config_path: Path, sort: str, limit: int, output: str | None,
           **kwargs: Any) -> None:  # fmt: skip
    """Search stored items (Thai or English words; `word*` for a prefix; no words: newest).

    A QUERY may start with a dash (`monitor search -ไซเบอร์`), or come after `--`,
    which ends the options: `monitor search --json -- -ไซเบอร์`.
    """
    if re.fullmatch(r"--[A-Za-z][\w-]*(=.*)?", query):  # a mistyped option, not a query
        raise click.UsageError(f"No such option: {query.partition('=')[0]}")
    settings = settings_from(config_path)
    store = Store(settings.db_path)
    filters = _filters(kwargs, settings, store, sort=sort)
    rows = list(store.find(query, filters, limit))
    if output == "json":  # ISO UTC, as stored
        _emit(rows, [], "json")
        return
    for row in rows:
        row["published"] = bangkok_time(row["published_at"])
        if output is None:
            row["title"] = report.short(row["title"])
    topics = "related_topics" if filters.related else "matched_topics"
    columns = ["id", "published", "source", topics, "title"]
    _emit(rows, columns + (["url"] if output else []), output or "table")


@click.command()
@config_option
@filter_options
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: stdout).")  # fmt: skip
@click.option("--excel", is_flag=True,
              help="CSV for Excel: a UTF-8 byte order mark, so Thai opens intact.")  # fmt: skip
def export(config_path: Path, fmt: str, output: Path | None, excel: bool, **kwargs: Any) -> None:
    """Write stored items with their text, matches and every URL, as JSON lines or CSV.

    JSON lines keep `match`, `problems` and `urls` as JSON; CSV holds them as JSON text."""
    settings = settings_from(config_path)
    store = Store(settings.db_path)
    rows = store.find("", _filters(kwargs, settings, store, sort="newest", full=True), limit=None)
    encoding = "utf-8-sig" if excel and fmt == "csv" else "utf-8"
    try:
        with output.open("w", encoding=encoding, newline="") if output else _stdout() as out:
            if encoding == "utf-8-sig" and not output:
                out.write("\ufeff")
            _write_items(out, fmt, rows, _urls_by_item(store), progress=output is not None)
    except OSError as exc:
        fail(f"cannot write {output or 'stdout'}: {exc.strerror or exc}")
    if output:
        click.echo(f"\rwrote items to {output}", err=True)


def _urls_by_item(store: Store) -> dict[int, list[dict[str, Any]]]:
    """Every URL each item was published at, oldest first: one read of item_urls (the
    table has no index on item_id, so a query per item would read it all each time)."""
    found: dict[int, list[dict[str, Any]]] = {}
    cursor = store.db.execute(
        "SELECT item_id, url, source, first_seen_at FROM item_urls ORDER BY first_seen_at, url"
    )
    for item_id, url, source, first_seen_at in cursor:
        found.setdefault(item_id, []).append(
            {"url": url, "source": source, "first_seen_at": first_seen_at}
        )
    return found


def _write_items(out: Any, fmt: str, rows: Any, urls: dict[int, list[dict[str, Any]]],
                 progress: bool) -> None:  # fmt: skip
    writer = None
    for count, row in enumerate(rows, 1):
        row["match"] = json.loads(row["match"] or "[]")
        row["problems"] = json.loads(row["problems"] or "[]")
        row["urls"] = urls.get(row["id"], [{"url": row["url"], "source": row["source"],
                                            "first_seen_at": row["first_seen_at"]}])  # fmt: skip
        if fmt == "jsonl":
            out.write(report.as_json(row, indent=None) + "\n")
        else:
            if writer is None:
                writer = csv.DictWriter(out, list(row))
                writer.writeheader()
            writer.writerow({k: report.cell(_csv_value(v), one_line=False) for k, v in row.items()})
        if progress and count % 1000 == 0:
            click.echo(f"\r{count} items", err=True, nl=False)


def _csv_value(value: Any) -> Any:
    """Lists and objects as JSON text in a CSV cell (Python's repr is not for analysts)."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value


@contextmanager
def _stdout() -> Iterator[Any]:
    yield sys.stdout


@click.command()
@config_option
@json_option
def sources(config_path: Path, as_json: bool) -> None:
    """The enabled sources with their health, and the presets a source can use."""
    settings = settings_from(config_path)
    health = {row["source"]: row for row in Store(settings.db_path).source_status()}
    rows = [
        {
            "source": s.name, "kind": s.kind, "preset": s.preset, "url": redact(s.url),
            "every_minutes": s.interval_minutes,
            "last_success_at": health.get(s.name, {}).get("last_success_at"),
            "failures": health.get(s.name, {}).get("consecutive_failures", ""),
            "last_error": health.get(s.name, {}).get("last_error") or "",
        }
        for s in settings.sources
    ]  # fmt: skip
    presets = [{"preset": name, "description": text} for name, text in settings.presets]
    if as_json:
        echo(report.as_json({"sources": rows, "presets": presets}))
        return
    for row in rows:
        row["every_minutes"] = f"{row['every_minutes']:g} min"
    # The table cuts the widest columns to the terminal; URLs get a table of their own,
    # where they keep the width (beside the others, 80 columns left "http:…").
    columns = ["source", "kind", "preset", "every_minutes", "last_success_at", "failures",
               "last_error"]  # fmt: skip
    echo(report.table(rows, columns, cut_first=("preset",)))
    echo("\n" + report.table(rows, ["source", "url"]))
    echo('\npresets (use with `preset = "NAME"` in a source):')
    echo(report.table(presets, ["preset", "description"]))


# A worker costs ~0.5 s of CPU to start (imports, the dictionary) and ~1 s before its
# first result: two repay it from ~300 article pages (~6 ms each) or ~4,000 items to
# rematch (~0.6 ms each). Shorter jobs run in one process unless --workers says otherwise.
POOL_MIN_PAGES = 20  # listing pages of a backfill (10 to 20 articles each)
POOL_MIN_ITEMS = 5000  # stored items of a rematch


def _workers(chosen: int | None, long_job: bool) -> int:
    """`--workers`, or by default the cores this process may run on for a job long enough
    to repay starting them, else 1."""
    if chosen is not None:
        return chosen
    if not long_job:
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def workers_option(long_job: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--workers of a bulk command whose default pool starts at `long_job`."""
    return click.option(
        "--workers", type=click.IntRange(1), default=None,
        help="Processes for extraction, matching and indexing; 1 does all in this one. "
        f"Default: the cores from {long_job}, else 1.",
    )  # fmt: skip


@click.command()
@config_option
@click.option("--alert", "send_alerts", is_flag=True,
              help="Alert items that now match (default: only store the new results).")  # fmt: skip
@workers_option(f"{POOL_MIN_ITEMS:,} stored items")
def rematch(config_path: Path, send_alerts: bool, workers: int | None) -> None:
    """Re-apply the current topic rules to every stored item."""
    from monitor.pipeline import rematch as rematch_all

    settings = settings_from(config_path)
    if send_alerts:  # it sends: the channels' secrets and URLs are checked first
        from monitor.alert import check_channels

        check_channels(settings)
    store = Store(settings.db_path)
    now = datetime.now(UTC)
    items = store.count_items()
    workers = _workers(workers, items >= POOL_MIN_ITEMS)
    with click.progressbar(length=items, label="rematch", file=sys.stderr) as bar:
        result = rematch_all(settings, store, send_alerts, now, lambda: bar.update(1), workers)
    echo(
        f"{result.items} items: {result.changed} changed, {result.newly_matched} now match, "
        f"{result.no_longer_matched} no longer match"
    )
    if send_alerts:
        from monitor import alert

        composer = alert.composer_for(settings)
        sent = alert.send_pending(store, settings.channels, settings.alerts, composer, now)
        echo(f"alerts delivered: {sum(d.ok for d in sent)} of {len(sent)}")


@click.command("backfill")
@click.argument("source_name")
@config_option
@click.option(
    "--pages",
    default=10,
    show_default=True,
    type=click.IntRange(1),
    help="Listing or sitemap pages to walk this time.",
)
@click.option("--since", type=_Date(), help="Skip items published before this date.")
@click.option("--alert", "send_alerts", is_flag=True,
              help="Alert matched items too (default: store them silently).")  # fmt: skip
@workers_option(f"{POOL_MIN_PAGES} pages")
def backfill_command(source_name: str, config_path: Path, pages: int, since: datetime | None,
                     send_alerts: bool, workers: int | None) -> None:  # fmt: skip
    """Walk a source's older pages into the archive; run again to go further back."""
    from monitor.pipeline import Walk, backfill

    setup_logging(False)
    settings = settings_from(config_path)
    if send_alerts:  # it sends: the channels' secrets and URLs are checked first
        from monitor.alert import check_channels

        check_channels(settings)
    source = settings.source(source_name)
    store = Store(settings.db_path)
    with click.progressbar(length=pages, label=f"backfill {source_name}", file=sys.stderr) as bar:
        walk = Walk(pages, alert=send_alerts, since=since, on_page=lambda _: bar.update(1))
        result = backfill(
            source, settings, store, walk, workers=_workers(workers, pages >= POOL_MIN_PAGES)
        )
    echo(report.format_run(result))
    if store.walk_cursor(f"backfill:{source_name}"):
        echo("more pages remain: run it again to go further back")
    else:
        echo("reached the end of the history")
    if not send_alerts:
        echo("matched items were stored without alerts (use --alert to send them)")


@click.command()
@config_option
@click.option(
    "--older-than-days",
    type=click.IntRange(1),
    default=None,
    help="Default: [retention] unmatched_days of the config.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")  # fmt: skip
def prune(config_path: Path, older_than_days: int | None, yes: bool) -> None:
    """Delete items that matched no topic and are older than the retention age."""
    settings = settings_from(config_path)
    days = older_than_days or settings.retention_days
    if not yes:
        click.confirm(f"Delete unmatched items first seen over {days} days ago?", abort=True)
    store = Store(settings.db_path)
    count = store.prune_unmatched(datetime.now(UTC) - timedelta(days=days))
    echo(f"deleted {count} unmatched items older than {days} days; matched items kept")


@click.command()
@click.argument("item_id", type=int)
@config_option
@json_option
def show(item_id: int, config_path: Path, as_json: bool) -> None:
    """Show one stored item: text, matches with their terms, URLs, alerts and earlier versions."""
    item = Store(settings_from(config_path).db_path).item(item_id)
    echo(report.as_json(item) if as_json else report.format_item(item))


@click.command("web")
@config_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 exposes the archive to the network.",
)
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535))
@click.option("--metadata", "metadata_path", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Datasette metadata (default: datasette.yaml beside --config).")  # fmt: skip
@click.option("--allow-sql", is_flag=True,
              help="Let visitors run their own SQL (read-only; trusted users only).")  # fmt: skip
def web_command(
    config_path: Path, host: str, port: int, metadata_path: Path | None, allow_sql: bool
) -> None:
    """The analyst desk in Datasette: latest matches, items, search, trends, Atom feeds.

    Read-only for visitors: only a signed-in analyst may judge an item (the one write);
    nobody runs their own SQL unless --allow-sql; internal tables stay hidden."""
    from monitor.web import DEFAULT_METADATA
    from monitor.web import serve as serve_web

    settings = settings_from(config_path)
    if metadata_path is None:
        beside = settings.path.parent / "datasette.yaml"
        metadata_path = beside if beside.is_file() else DEFAULT_METADATA
    # uvicorn finds a busy port only after "serving ..." is printed, and then exits 1
    # with its own lines: check first.
    busy = busy_port(host, port)
    if busy:
        fail(f"{busy} (choose another with --port)")
    serve_web(settings.db_path, host, port, metadata_path, allow_sql=allow_sql)


@click.command("feed")
@click.argument("topic")
@config_option
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (replaced atomically); default: stdout.",
)
@click.option(
    "--base-url",
    default="http://127.0.0.1:8001",
    show_default=True,
    help="Where `monitor web` is reached; the feed's links point there.",
)
@click.option(
    "--self-url",
    default=None,
    help="The feed's own public URL (default: BASE_URL/-/feeds/TOPIC.atom).",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))  # fmt: skip
def feed_command(topic: str, config_path: Path, output: Path | None, base_url: str,
                 self_url: str | None, limit: int) -> None:  # fmt: skip
    """Write the Atom 1.0 feed of the items TOPIC matched, newest first."""
    from monitor import feed

    settings = settings_from(config_path)
    if problem := topic_problem(topic, settings):
        raise click.BadParameter(problem)
    now = datetime.now(UTC)
    if output is None:
        click.echo(feed.atom(settings.db_path, topic, base_url, now, limit=limit,
                             self_url=self_url), nl=False)  # fmt: skip
        return
    try:
        count = feed.write_atom(settings.db_path, topic, output, base_url, now, limit=limit,
                                self_url=self_url)  # fmt: skip
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(f"wrote {count} entries to {output}", err=True)


COMMANDS = (
    search,
    export,
    sources,
    rematch,
    backfill_command,
    prune,
    show,
    web_command,
    feed_command,
)
