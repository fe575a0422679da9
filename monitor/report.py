"""Format what the monitor did and found for people (tables) and machines (JSON).

Titles, bodies, URLs and error texts come from sites the monitor does not
control, so every formatter here returns text that is safe to print on a
terminal (see `printable`); the CLI passes anything else it prints through it.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from types import ModuleType
from typing import Any

from monitor.models import RunReport, SourceReport
from monitor.thai import ESCAPE_SEQUENCE, bangkok_time

TITLE_CHARS = 70
# A column is never cut narrower than this (a cell of 6 columns still says something).
MIN_COLUMN = 6
# tabulate's "simple" format: two spaces between columns, and a header is padded by two.
_GAP = 2
_HEADER_PADDING = 2
# Headers as people read them; the JSON keys stay as they are. The `_at` ones hold
# Bangkok time in a table (see `table`).
HEADERS = {
    "consecutive_failures": "failures",
    "failures": "fails",
    "every_minutes": "every",
    "first_seen_at": "first seen",
    "last_error": "last error",
    "last_failed_at": "last failure",
    "last_run_at": "last run",
    "last_success": "last success",
    "last_success_at": "last success",
    "matched_topics": "topics",
    "when_at": "sent / next try",
    "related_topics": "related to",
    "new_last_run": "new",
    "next_attempt_at": "next try",
    "replaced_at": "replaced",
    "sent_at": "sent",
}

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


@lru_cache(maxsize=1)
def _wcwidth() -> ModuleType | None:
    """wcwidth, imported when a width is first needed, not with this module: its tables
    take 4 MB that `monitor serve` (it prints no table) would hold for nothing.
    tabulate pads by display width only when wcwidth is importable."""
    try:
        import wcwidth
    except ImportError:  # pragma: no cover - wcwidth is a dependency
        return None
    return wcwidth


def _char_width(char: str) -> int:
    widths = _wcwidth()
    if widths is not None:
        return max(0, widths.wcwidth(char))
    # Thai vowel and tone marks above and below the line are combining (Mn): no width.
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def display_width(text: str) -> int:
    """Terminal columns `text` takes: Thai marks above and below the line take none,
    East Asian wide characters two (what tabulate pads by, through wcwidth)."""
    widths = _wcwidth()
    if widths is not None:
        found = widths.wcswidth(text)
        if found >= 0:
            return int(found)
    return sum(_char_width(c) for c in text)


def clip(text: str, columns: int) -> str:
    """`text` cut to `columns` display columns, ending in `…` when cut."""
    if display_width(text) <= columns:
        return text
    kept, used = [], 0
    for char in text:
        width = _char_width(char)
        if used + width > columns - 1:
            break
        kept.append(char)
        used += width
    return "".join(kept) + "…"


def short(text: str, width: int = TITLE_CHARS) -> str:
    """`text` on one line, at most `width` display columns."""
    return clip(" ".join(printable(text).split()), width)


def terminal_width() -> int | None:
    """Columns of the terminal; COLUMNS overrides it. None when output goes to a pipe or
    a file (as `ls` does, nothing is cut there: `monitor search > list.txt` keeps titles)."""
    return shutil.get_terminal_size((0, 0)).columns or None


_URL_FIRST = re.compile(r"(\S+://\S*): (.+)", re.DOTALL)


def reason_first(error: str) -> str:
    """`connection failed: refused (http://site/feed)` for `http://site/feed: connection
    failed: refused`: a table cuts the end of a long error, which should be the URL."""
    found = _URL_FIRST.fullmatch(error)
    return f"{found[2]} ({found[1]})" if found else error


def _shown(column: str, value: Any) -> Any:
    """A table cell: one printable line; a stored UTC time (`*_at`) in Bangkok time;
    an error (`last_error`) with its reason before its URL."""
    if value is None:
        return ""
    if column.endswith("_at") and isinstance(value, str) and value:
        try:
            return bangkok_time(value)
        except ValueError:
            pass
    if column == "last_error" and isinstance(value, str):
        value = reason_first(value)
    return cell(value)


def _fit(widths: list[int], floors: list[int], room: int, first: set[int]) -> list[int]:
    """Narrow the widest columns that may shrink (those in `first` before the others),
    one column at a time, until the widths fit in `room` or all are at their floor."""
    widths = list(widths)
    excess = sum(widths) - room
    while excess > 0:
        shrinkable = [i for i, w in enumerate(widths) if w > floors[i] and i in first]
        shrinkable = shrinkable or [i for i, w in enumerate(widths) if w > floors[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths


def table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    width: int | None = None,
    cut_first: Sequence[str] = (),
) -> str:
    """Rows as a table no wider than `width` (default: the terminal's).

    The widest text columns are cut with `…` until the table fits (those in `cut_first`
    before the others); the first column, numbers and times are never cut. A column of
    stored UTC times (named `*_at`) shows Bangkok time with minutes."""
    if not rows:
        return "(nothing)"
    room = terminal_width() if width is None else width
    if room is None:
        room = sys.maxsize
    headers = [HEADERS.get(c, c) for c in columns]
    cells = [[_shown(c, row.get(c, "")) for c in columns] for row in rows]
    texts = [[isinstance(v, str) for v in column] for column in zip(*cells, strict=True)]
    natural = [
        max([display_width(str(v)) for v in column] + [display_width(h) + _HEADER_PADDING])
        for h, column in zip(headers, zip(*cells, strict=True), strict=True)
    ]
    # Never cut: the first column (it names the row), times, numbers.
    floors = [
        min(n, MIN_COLUMN) if i and all(is_text) and not columns[i].endswith("_at") else n
        for i, (n, is_text) in enumerate(zip(natural, texts, strict=True))
    ]
    first = {i for i, c in enumerate(columns) if c in cut_first}
    widths = _fit(natural, floors, room - _GAP * (len(columns) - 1), first)
    for i, (w, n) in enumerate(zip(widths, natural, strict=True)):
        if w < n:
            headers[i] = clip(headers[i], max(1, w - _HEADER_PADDING))
            for row in cells:
                row[i] = clip(row[i], w)
    from tabulate import tabulate  # 3 MB, here rather than in the service (see `_wcwidth`)

    return tabulate(cells, headers=headers)


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


def _original_case(snippet: str, texts: Sequence[str]) -> str:
    """`snippet` in the case of the article it was cut from.

    Stored snippets are cut from the case-folded text when normalising changed the
    text's length (a double space, a Thai digit): `the 4th asean ministerial…`. This
    finds the snippet in the article with its spaces collapsed; where it is not found
    (Thai digits, reordered marks) the snippet is shown as stored."""
    core = snippet.strip("…")
    if not core:
        return snippet
    for text in texts:
        flat = " ".join(text.split())
        folded = flat.casefold()
        if len(folded) != len(flat):
            continue
        at = folded.find(core.casefold())
        if at >= 0:
            return snippet.replace(core, flat[at : at + len(core)], 1)
    return snippet


_LATIN = re.compile("[A-Za-z0-9 .&-]+")


def _matched_word(term: str, snippet: str) -> str:
    """The word a Latin prefix term (`asean-*`, stored as `asean-`) matched in the
    snippet (`asean-led`); the term itself when it stands whole there, or for Thai,
    which has no spaces to say where a word ends."""
    if not _LATIN.fullmatch(term):
        return term
    start = r"(?<!\w)" + re.escape(term)
    if re.search(start + r"(?!\w)", snippet, re.IGNORECASE):
        return term
    found = re.search(start + r"\w*", snippet, re.IGNORECASE)
    return found[0] if found else term


def format_item(item: dict[str, Any]) -> str:
    """`monitor show`'s text: each field on its own line (a title cannot fake another
    line), then the alerts, the earlier versions and the body with its paragraphs.
    Times are Bangkok's."""

    def one(text: Any) -> str:
        return printable(str(text), one_line=True)

    published = bangkok_time(item["published_at"]) or "unknown"
    lines = [
        f"#{item['id']} {one(item['title'])}",
        f"published {published} · source {one(item['source'])}",
        f"url {one(item['url'])}",
    ]
    texts = (item["title"] or "", item["body"] or "")
    for topic in item["match"]:
        verdict = "MATCH" if topic["matched"] else "related" if topic.get("related") else "no match"
        lines += ["", f"{one(topic['topic'])}: {verdict}, score {topic['score']:g}"]
        for h in topic["hits"]:
            snippet = _original_case(h["snippet"], texts)
            term = _matched_word(h["term"], snippet)
            lines.append(f"  {one(term)} ({h['field']} ×{h['count']}): {one(snippet)}")
    if len(item["urls"]) > 1:
        lines += ["", "also published at:"]
        lines += [f"  {one(u['url'])} ({one(u['source'])}, first seen "
                  f"{bangkok_time(u['first_seen_at'])})" for u in item["urls"]]  # fmt: skip
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
        + ", ".join(f"{_matched_word(h['term'], h['snippet'])}×{h['count']}" for h in t["hits"][:4])
        + ")"
        for t in topics
        if t["matched"]
    )
