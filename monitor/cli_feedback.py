"""`monitor feedback`: analysts judge stored items relevant or not for a topic.

The judgements live in the archive (kept through prune and upgrades); `--export` writes
them as a label file (each line carries the item's text), which `monitor match
--labels` and `monitor tune` read like the shipped label files, and `monitor tune
--feedback` reads them from the archive directly."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from monitor import report
from monitor.cli_common import (
    config_option,
    echo,
    fail,
    json_option,
    settings_from,
    topic_problem,
)
from monitor.store import Store
from monitor.thai import bangkok_time

LIST_COLUMNS = ["id", "at", "who", "item_id", "topic", "verdict", "note", "title"]


def _who(name: str | None) -> str:
    """Who judged: --who, else the login name (a service account should pass --who)."""
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "analyst"


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "verdict": "relevant" if row["relevant"] else "not relevant"}


@click.command("feedback")
@click.argument("item_id", type=int, required=False)
@click.option("--topic", help="The topic judged (one of the rules' topics).")
@click.option("--relevant/--not-relevant", "relevant", default=None,
              help="The judgement of ITEM_ID for --topic.")  # fmt: skip
@click.option("--note", default="", help="Why, in a few words.")
@click.option("--who", help="Who judges (default: your login name).")
@click.option("--list", "listing", is_flag=True, help="List the judgements, newest first.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
@click.option("--export", "export_to", type=click.File("w", encoding="utf-8"),
              help="Write the judgements as a label file (JSONL; - for stdout).")  # fmt: skip
@config_option
@json_option
def feedback(
    item_id: int | None,
    topic: str | None,
    relevant: bool | None,
    note: str,
    who: str | None,
    listing: bool,
    limit: int,
    export_to: Any,
    config_path: Path,
    as_json: bool,
) -> None:
    """Mark an item relevant or not for a topic, list the judgements, or export them.

    \b
      monitor feedback 42 --topic asean --not-relevant --note "chair named as occasion"
      monitor feedback --list
      monitor feedback --export feedback.jsonl   (then: monitor tune --feedback ...)
    """
    settings = settings_from(config_path)
    store = Store(settings.db_path)
    if export_to is not None:
        labels = store.feedback_labels()
        for label in labels:
            export_to.write(json.dumps(label, ensure_ascii=False) + "\n")
        echo(f"wrote {len(labels)} judged items", err=True)
        return
    if item_id is None:
        if not listing:
            fail("give an ITEM_ID with --topic and --relevant/--not-relevant, or --list")
        rows = [_shown(row) for row in store.feedback(limit=limit)]
        shown = report.table(rows, LIST_COLUMNS, cut_first=["title", "note"])
        echo(report.as_json(rows) if as_json else shown)
        return
    if problem := topic_problem(topic, settings):
        fail(f"--topic: {problem}")
    if relevant is None:
        fail("say --relevant or --not-relevant")
    row = store.record_feedback(item_id, topic, relevant, note, _who(who), datetime.now(UTC))
    if as_json:
        echo(report.as_json(_shown(row)))
        return
    echo(f"#{item_id} marked {_shown(row)['verdict']} to {topic} by {row['who']} "
         f"({bangkok_time(row['at'])})")  # fmt: skip
