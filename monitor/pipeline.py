"""Wire the stages for one cycle. The only module that calls more than one stage.

    sources (config)              -> [Source]
    | fetch(session, url)         -> Fetched            I/O: HTTP
    | parse_listing / parse_feed  -> [Entry]            pure
    | store.known_urls            -> skip what is stored
    | extract_article             -> Item (+ problems)  pure, tolerant
    | dedup.classify              -> new / known / duplicate
    | match(item, rules)          -> Match               pure
    | route(match, channels)      -> channel -> due time (instant, digest, quiet hours)
    | store.save_item             -> row + outbox rows, one transaction
    | alert.send_pending          -> sent / retried / failed   I/O: SMTP, chat
    => RunReport (per-source counts, errors, timings)

A source's failure is recorded in its status row and the next source runs. HTTP
validators (ETag / Last-Modified) of a listing are saved only after every new
entry on it was processed, so a crash or a failed article page never turns into
a 304 that hides items for good.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import requests

from monitor import alert, dedup, extract, fetch
from monitor.config import Settings
from monitor.errors import MonitorError, SourceError
from monitor.match import match
from monitor.models import Entry, Item, RunReport, Source, SourceReport
from monitor.route import route
from monitor.store import Store

log = logging.getLogger("monitor")


@dataclass
class _Listing:
    """Entries found on a source's pages, and the validators to save on success."""

    entries: list[Entry] = field(default_factory=list)
    validators: list[tuple[str, str, str]] = field(default_factory=list)
    not_modified: bool = False


def _discover(
    source: Source, settings: Settings, store: Store, session: requests.Session
) -> _Listing:
    """Walk the feed or listing pages; stop at a page whose links are all known."""
    listing = _Listing()
    url = source.url
    for _ in range(source.max_pages):
        etag, modified = store.validators(url)
        page = fetch.fetch(session, url, settings.fetch, etag, modified)
        if page.not_modified:
            listing.not_modified = not listing.entries
            break
        listing.validators.append((url, page.etag, page.last_modified))
        if source.kind == "rss" or source.listing is None:
            listing.entries.extend(extract.parse_feed(page))
            break
        entries, next_url = extract.parse_listing(page, source.listing)
        if not entries and not listing.entries:
            raise SourceError("listing page yielded no links (layout changed?)", url=url)
        listing.entries.extend(entries)
        known = store.known_urls([e.url for e in entries])
        if not next_url or known:
            break
        url = next_url
    return listing


def _item_for(
    entry: Entry, source: Source, settings: Settings, session: requests.Session, now: datetime
) -> Item:
    if not source.fetch_articles:
        item = extract.item_from_entry(entry, source.name, now)
    else:
        page = fetch.fetch(session, entry.url, settings.fetch)
        item = extract.extract_article(page, entry, source.name, source.article, now)
    return replace(item, content_hash=dedup.content_hash(item.title, item.body))


@dataclass
class _Counts:
    new: int = 0
    matched: int = 0
    duplicates: int = 0
    failed: int = 0
    ids: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _process(
    item: Item, listed_url: str, settings: Settings, store: Store, now: datetime, counts: _Counts
) -> None:
    """Store a new item, or record where a known one was seen again."""
    verdict = dedup.classify(item, store.id_for_url(item.url), store.id_for_hash(item.content_hash))
    if verdict.kind == "new":
        result = match(item.title, item.body, settings.rules)
        alerts = route(result, {c.name: c.routing for c in settings.channels}, now)
        item_id = store.save_item(item, result, alerts, now)
        counts.new += 1
        counts.matched += bool(result.matched_topics)
        counts.ids.append(item_id)
        counts.problems.extend(f"{item.url}: {p}" for p in item.problems)
    else:
        item_id = verdict.item_id or 0
        if verdict.kind == "duplicate":
            store.add_alias(item_id, item.url, item.source, now)
            counts.duplicates += 1
    if listed_url != item.url:  # the page named another canonical URL: remember both
        store.add_alias(item_id, listed_url, item.source, now)


def run_source(
    source: Source, settings: Settings, store: Store, session: requests.Session, now: datetime
) -> SourceReport:
    """Fetch, extract, dedup, match and store one source; never raise a MonitorError."""
    started = time.perf_counter()
    counts = _Counts()
    try:
        listing = _discover(source, settings, store, session)
    except MonitorError as exc:
        report = SourceReport(
            source.name, error=_reason(exc), seconds=time.perf_counter() - started
        )
        store.record_run(report, now)
        _log(report)
        return report
    known = store.known_urls([e.url for e in listing.entries])
    for entry in (e for e in listing.entries if e.url not in known):
        try:
            item = _item_for(entry, source, settings, session, now)
            _process(item, entry.url, settings, store, now, counts)
        except MonitorError as exc:
            counts.problems.append(_reason(exc, entry.url))
            counts.failed += 1
        known.add(entry.url)
    if not counts.failed:
        for url, etag, modified in listing.validators:
            store.save_validators(url, etag, modified, now)
    report = SourceReport(
        source=source.name,
        found=len(listing.entries),
        new=counts.new,
        matched=counts.matched,
        duplicates=counts.duplicates,
        not_modified=listing.not_modified,
        problems=tuple(counts.problems),
        seconds=time.perf_counter() - started,
        new_item_ids=tuple(counts.ids),
    )
    store.record_run(report, now)
    _log(report)
    return report


def _reason(exc: MonitorError, url: str = "") -> str:
    """One line naming the URL and what went wrong."""
    where = getattr(exc, "url", "") or url
    return f"error {where}: {exc}" if where else f"error: {exc}"


def _log(report: SourceReport) -> None:
    log.info(
        "source=%s found=%d new=%d matched=%d duplicates=%d not_modified=%s seconds=%.2f%s",
        report.source, report.found, report.new, report.matched, report.duplicates,
        report.not_modified, report.seconds, f" error={report.error!r}" if report.error else "",
    )  # fmt: skip
    for problem in report.problems:
        log.warning("source=%s %s", report.source, problem)


def run_once(
    settings: Settings,
    store: Store,
    session: requests.Session | None = None,
    now: datetime | None = None,
    sources: tuple[Source, ...] | None = None,
) -> RunReport:
    """One cycle over `sources` (default: all configured), then deliver due alerts."""
    now = now or datetime.now(UTC)
    session = session or fetch.new_session(settings.fetch)
    reports = tuple(
        run_source(source, settings, store, session, now)
        for source in (settings.sources if sources is None else sources)
    )
    deliveries = alert.send_pending(
        store, settings.channels, settings.alerts, alert.composer_for(settings), now
    )
    for d in deliveries:
        log.info("alert item=%d channel=%s ok=%s %s", d.item_id, d.channel, d.ok, d.error)
    return RunReport(reports, tuple(deliveries))
