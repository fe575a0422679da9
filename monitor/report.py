"""Format what the monitor did and found for people (tables) and machines (JSON).

Titles, bodies, URLs and error texts come from sites the monitor does not
control, so every formatter here returns text that is safe to print on a
terminal (see `printable`); the CLI passes anything else it prints through it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from tabulate import tabulate

from monitor.models import RunReport, SourceReport
from monitor.thai import ESCAPE_SEQUENCE

TITLE_CHARS = 70

_LINE_BREAK = re.compile("[\t\n\r\v\f\x1c-\x1f\x85\u2028\u2029]")
# C0 and C1 controls but newline and tab, DEL, and the bidi embeddings, overrides and
# isolates that can make `exe.pdf` read as `fdp.exe`.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What json.dumps(ensure_ascii=False) leaves raw yet a terminal acts on.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def printable(text: str, one_line: bool = False) -> str:
    """Drop escape sequences, control characters and bidi overrides; keep newlines and
    tabs unless `one_line`, which turns every line break or tab into a space."""
    text = ESCAPE_SEQUENCE.sub("", text)
    if one_line:
        text = _LINE_BREAK.sub(" ", text)
    return _CONTROL.sub("", text)


def cell(value: Any, one_line: bool = True) -> Any:
    """A table or CSV cell: printable text, other values as they are."""
    return printable(value, one_line) if isinstance(value, str) else value


def short(text: str, width: int = TITLE_CHARS) -> str:
    text = " ".join(printable(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(nothing)"
    return tabulate([[cell(row.get(c, "")) for c in columns] for row in rows], headers=columns)


def as_json(data: Any, indent: int | None = 2) -> str:
    """JSON with Thai as is; controls, bidi overrides and line separators as \\u escapes
    (json.dumps escapes only C0), so the same data prints safely on a terminal."""
    text = json.dumps(data, ensure_ascii=False, indent=indent, default=str)
    return _JSON_UNSAFE.sub(lambda found: f"\\u{ord(found[0]):04x}", text)


def _status(s: SourceReport) -> str:
    if s.error or s.skipped:
        return short(s.error or s.skipped, 60)  # in full below the table
    text = "not modified" if s.not_modified else "ok"
    if s.failed:
        text = f"{s.failed} pages failed"
    return text + (f", {len(s.problems)} problems" if s.problems else "")


def run_rows(report: RunReport) -> list[dict[str, Any]]:
    return [
        {
            "source": s.source,
            "found": s.found,
            "new": s.new,
            "matched": s.matched,
            "duplicates": s.duplicates,
            "revised": s.revised,
            "status": _status(s),
            "seconds": round(s.seconds, 2),
        }
        for s in report.sources
    ]


def format_run(report: RunReport) -> str:
    """The per-source table, then problems and alert deliveries, one line each."""
    lines = [table(run_rows(report), ["source", "found", "new", "matched", "duplicates",
                                      "revised", "status", "seconds"])]  # fmt: skip
    for s in report.sources:
        if s.error or s.skipped:
            lines.append(f"  {s.source}: {printable(s.error or s.skipped, one_line=True)}")
        lines += [f"  {s.source}: {printable(p, one_line=True)}" for p in s.problems]
    for d in report.deliveries:
        outcome = "delivered" if d.ok else f"failed, will retry: {d.error}"
        lines.append(f"alert item {d.item_id} -> {d.channel}: {printable(outcome, one_line=True)}")
    return "\n".join(lines)


def format_item(item: dict[str, Any]) -> str:
    """`monitor show`'s text: each field on its own line (a title cannot fake another
    line), then the alerts, the earlier versions and the body with its paragraphs."""

    def one(text: Any) -> str:
        return printable(str(text), one_line=True)

    lines = [
        f"#{item['id']} {one(item['title'])}",
        f"published {item['published_at'] or 'unknown'} · source {one(item['source'])}",
        f"url {one(item['url'])}",
    ]
    for topic in item["match"]:
        verdict = "MATCH" if topic["matched"] else "no match"
        lines += ["", f"{one(topic['topic'])}: {verdict}, score {topic['score']:g}"]
        lines += [f"  {one(h['term'])} ({h['field']} ×{h['count']}): {one(h['snippet'])}"
                  for h in topic["hits"]]  # fmt: skip
    if len(item["urls"]) > 1:
        lines += ["", "also published at:"]
        lines += [f"  {one(u['url'])} ({one(u['source'])}, first seen {u['first_seen_at']})"
                  for u in item["urls"]]  # fmt: skip
    if item["alerts"]:
        columns = ["channel", "status", "attempts", "sent_at", "last_error"]
        lines += ["", "alerts:", table(item["alerts"], columns)]
    if item["revisions"]:
        columns = ["replaced_at", "title", "matched_topics"]
        lines += [
            "",
            "earlier versions (the page was edited):",
            "",
            table(item["revisions"], columns),
        ]
    return "\n".join([*lines, "", printable(item["body"])])


def match_summary(topics: Iterable[dict[str, Any]]) -> str:
    """`asean 11.2 (อาเซียน×11, asean×2)` for each matched topic."""
    return "; ".join(
        f"{t['topic']} {t['score']:g} ("
        + ", ".join(f"{h['term']}×{h['count']}" for h in t["hits"][:4])
        + ")"
        for t in topics
        if t["matched"]
    )
