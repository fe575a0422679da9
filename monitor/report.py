"""Format what the monitor did and found for people (tables) and machines (JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from tabulate import tabulate

from monitor.models import RunReport, SourceReport

TITLE_CHARS = 70


def short(text: str, width: int = TITLE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(nothing)"
    return tabulate([[row.get(c, "") for c in columns] for row in rows], headers=columns)


def as_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


def _status(s: SourceReport) -> str:
    if s.error or s.skipped:
        return short(s.error or s.skipped, 60)  # in full below the table
    text = "not modified" if s.not_modified else "ok"
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
            lines.append(f"  {s.source}: {s.error or s.skipped}")
        lines += [f"  {s.source}: {p}" for p in s.problems]
    for d in report.deliveries:
        outcome = "delivered" if d.ok else f"failed, will retry: {d.error}"
        lines.append(f"alert item {d.item_id} -> {d.channel}: {outcome}")
    return "\n".join(lines)


def match_summary(topics: Iterable[dict[str, Any]]) -> str:
    """`asean 11.2 (อาเซียน×11, asean×2)` for each matched topic."""
    return "; ".join(
        f"{t['topic']} {t['score']:g} ("
        + ", ".join(f"{h['term']}×{h['count']}" for h in t["hits"][:4])
        + ")"
        for t in topics
        if t["matched"]
    )
