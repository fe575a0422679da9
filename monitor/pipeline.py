"""Wire the stages for one cycle. The only module that calls more than one stage.

    sources (config)              -> [Source]
    | Fetcher.get(url)            -> Fetched            I/O: HTTP (robots, per-host delay)
    | extract.parse_page          -> [Entry], next pages pure
    | store.known_urls            -> skip what is stored
    | extract_article             -> Item (+ problems)  pure, tolerant
    | dedup.classify              -> new / known / duplicate
    | match(item, rules)          -> Match               pure
    | route(match, channels)      -> channel -> due time (instant, digest, quiet hours)
    | store.save_item             -> row + outbox rows, one transaction per listing page
    | alert.send_pending          -> sent / retried / failed   I/O: SMTP, chat
    => RunReport (per-source counts, errors, timings)

Backfill and rematch with `workers` > 1 run the pure stages (extract, hash, signature,
match, index segmentation) on `monitor.bulk`'s worker processes; this process still
fetches, and dedups and stores in listing order as the only writer.

Sources run concurrently (a thread pool, a thread per host at most, each with its own
SQLite connection); the Fetcher keeps one request at a time per host. A source's failure
is recorded in its status row and the others go on; after consecutive failures a
source backs off (interval x (2^(n-1) - 1), capped). Pages are walked newest
first and processed one at a time; the walk stops at a page holding a known item,
so after downtime the monitor catches up. A page's HTTP validators are saved only
after every new entry on it was processed, so a crash or a failed article page
never turns into a 304 that hides items for good.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import islice
from queue import Empty, SimpleQueue
from urllib.parse import urlsplit

from monitor import alert, dedup, extract
from monitor.bulk import Batch, Job, Part, Pool, Prepared, extracted, match_rows
from monitor.config import Settings
from monitor.errors import ExtractError, MonitorError, SourceError, StoreError
from monitor.fetch import Fetcher
from monitor.match import match
from monitor.models import (
    Delivery,
    Entry,
    Fetched,
    Item,
    Match,
    RunReport,
    Source,
    SourceReport,
)
from monitor.reach import Reach
from monitor.route import route
from monitor.store import Store
from monitor.thai import bangkok_time, normalize_text, read_datetime
from monitor.urls import redact, url_key

log = logging.getLogger("monitor")
_PROCESS_LOCK = threading.Lock()  # dedup's look-up and insert must not interleave


@dataclass(frozen=True)
class Walk:
    """How far to walk a source, and whether its new items are alerted."""

    max_pages: int
    alert: bool = True
    since: datetime | None = None
    backfill: bool = False
    on_page: Callable[[int], None] | None = None


@dataclass
class _Counts:
    found: int = 0
    new: int = 0
    matched: int = 0
    duplicates: int = 0
    revised: int = 0
    failed: int = 0
    pages: int = 0
    not_modified: bool = False
    ids: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@lru_cache(maxsize=256)
def _reach(source: Source) -> Reach:
    """Where `source` may fetch: its own site, its `allowed_hosts`, private addresses
    only when its own site is on one or it says so. Every URL a page names (article,
    next page, child sitemap) is checked against it: a listing can link anywhere."""
    return Reach(source.url, source.allowed_hosts, source.allow_private_addresses)


def _fetched_page(
    entry: Entry, source: Source, fetcher: Fetcher
) -> tuple[Fetched | None, tuple[str, str]]:
    """The entry's article page (None: the feed's own text is the item's), and its HTTP
    validators (ETag, Last-Modified): kept, the first revisit of the page is a 304."""
    page = fetcher.get(entry.url, reach=_reach(source)) if source.fetch_articles else None
    return page, (page.etag, page.last_modified) if page else ("", "")


def _fetched_item(
    entry: Entry, source: Source, fetcher: Fetcher, now: datetime
) -> tuple[Item, tuple[str, str]]:
    """The entry's item, and its page's HTTP validators."""
    page, validators = _fetched_page(entry, source, fetcher)
    return extracted(entry, page, source.name, source.article, now), validators


def _fetched_work(
    entry: Entry, source: Source, fetcher: Fetcher, now: datetime, batch: Batch | None
) -> tuple[Item | Part, tuple[str, str]]:
    """The entry's item, or with a pool its share of a job preparing it, and its page's
    validators."""
    if batch is None:
        return _fetched_item(entry, source, fetcher, now)
    page, validators = _fetched_page(entry, source, fetcher)
    return batch.add(entry, page), validators


def _hashed(item: Item) -> Item:
    """The item with its content hash. Taken just before the item's other text work:
    the normalised text it computes is cached for dedup, match and the index only
    while the next items of the page have not pushed it out."""
    return replace(item, content_hash=dedup.content_hash(item.title, item.body))


def _process(
    item: Item | Prepared, listed_url: str, settings: Settings, store: Store, now: datetime,
    walk: Walk, counts: _Counts, validators: tuple[str, str] = ("", ""),
) -> None:  # fmt: skip
    """Store a new item, or record where a known one (or a copy of it) was seen again.

    A Prepared item (from a bulk worker) brings its hash, signature, match and index
    words; a plain one gets them here, each only when its verdict needs it."""
    ready = item if isinstance(item, Prepared) else None
    item = item.item if isinstance(item, Prepared) else _hashed(item)
    by_url, by_hash = store.id_for_url(item.url), store.id_for_hash(item.content_hash)
    if by_url is not None or by_hash is not None:
        verdict = dedup.classify(item, by_url, by_hash)
    else:  # only a possibly new item needs its signature: to find copies, then to be stored
        signature = ready.signature if ready else dedup.signature(item.title, item.body)
        keys = list(ready.band_keys) if ready else dedup.band_keys(signature)
        near = [(i, dedup.Signature.from_bytes(b)) for i, b in store.near_candidates(keys)]
        verdict = dedup.classify(item, by_url, by_hash, near, sig=signature)
    if verdict.kind == "new":
        result = ready.match if ready else match(item.title, item.body, settings.rules)
        routing = {c.name: c.routing for c in settings.channels} if walk.alert else {}
        alerts = route(result, routing, now)
        item_id = store.save_item(item, result, alerts, now, signature.to_bytes(), keys,
                                  words=ready.words if ready else None)  # fmt: skip
        store.save_validators(item.url, *validators, now)  # writes only what the page sent
        counts.new += 1
        counts.matched += bool(result.matched_topics)
        counts.ids.append(item_id)
        counts.problems.extend(f"{item.url}: {p}" for p in item.problems)
    else:
        item_id = verdict.item_id or 0
        if verdict.kind == "duplicate":
            if verdict.replaces_text:  # the fuller original of a trimmed copy stored first
                stored_hash, stored_topics = store.match_state(item_id)
                _revise(item_id, stored_hash, stored_topics, item, settings, store, now, walk,
                        counts)  # fmt: skip
            store.add_alias(item_id, item.url, item.source, now)
            counts.duplicates += 1
    if listed_url != item.url:  # the page named another canonical URL: remember both
        store.add_alias(item_id, listed_url, item.source, now)


REVISITS_PER_PAGE = 3  # known pages fetched again per listing page, at most
# Recent pages fetched again per run for edits (`_revisit_recent`): 50 items a day make
# 300 checks a day (1, 2, 4... 32 hours), 6 a run at a 30-minute interval.
REVISITS_PER_RUN = 10
REVISIT_FIRST = timedelta(hours=1)  # a new item's page is first fetched again after this
MAX_SITEMAP_INDEXES = 3  # sitemap indexes read per walk beyond max_pages (an index of indexes)


def _looks_edited(entry: Entry, source: Source, title: str, by: str) -> bool:
    """Whether a known page may have new text.

    `title` is the stored title, `by` the source that stored the item. A feed carries
    the text: it is compared when the item was stored from this feed (a feed's summary
    of a page another source stored never replaces that page's text). A listing only
    shows the title: the page is fetched again when the title says something the
    stored one does not (`… (แก้ไข)` appended), not when it is a cut or a part of it
    (listings cut long titles and drop prefixes).
    """
    if not source.fetch_articles:
        return by == source.name
    listed = normalize_text(entry.title).rstrip(".… ")
    return bool(listed) and listed not in normalize_text(title)


@contextmanager
def _entry_failure_recorded(url: str, counts: _Counts) -> Iterator[None]:
    """Record an entry's failure (any exception) and go on with the next; a failing
    database (StoreError) is not the entry's fault and fails the source."""
    try:
        yield
    except (StoreError, sqlite3.Error):
        raise
    except Exception as exc:  # noqa: BLE001 - one page's failure is never its source's
        counts.problems.append(_reason(exc, url))
        counts.failed += 1


def _revise_entries(
    entries: list[Entry], source: Source, settings: Settings, store: Store, fetcher: Fetcher,
    now: datetime, walk: Walk, counts: _Counts,
) -> None:  # fmt: skip
    """Give known items whose page was edited their new text (store.revise_item); alert
    only when the edit turns an item that matched nothing into a match."""
    own = store.own_items([e.url for e in entries])
    suspects = [
        e for e in entries
        if e.url in own and _looks_edited(e, source, title=own[e.url][1], by=own[e.url][4])
    ]  # fmt: skip
    if source.fetch_articles:  # a listing whose titles never match its pages: stay polite
        suspects = suspects[:REVISITS_PER_PAGE]
    for entry in suspects:
        item_id, _, stored_hash, stored_topics, _ = own[entry.url]
        with _entry_failure_recorded(entry.url, counts):
            item = replace(_fetched_item(entry, source, fetcher, now)[0], url=entry.url)
            with _PROCESS_LOCK:
                _revise(item_id, stored_hash, stored_topics, item, settings, store, now, walk,
                        counts)  # fmt: skip


def _revise(
    item_id: int, stored_hash: str, stored_topics: str, item: Item, settings: Settings,
    store: Store, now: datetime, walk: Walk, counts: _Counts,
) -> None:  # fmt: skip
    """Store `item` as the new text of a known item when its text changed (the old text
    is kept as a revision); alert only when it starts to match. The caller holds
    _PROCESS_LOCK: a revision changes what dedup compares with."""
    item = _hashed(item)
    if item.content_hash == stored_hash or not item.title:
        return
    signature = dedup.signature(item.title, item.body)
    result = match(item.title, item.body, settings.rules)
    alert_now = walk.alert and not stored_topics
    routing = {c.name: c.routing for c in settings.channels} if alert_now else {}
    store.revise_item(
        item_id, item, result, route(result, routing, now), now,
        signature.to_bytes(), dedup.band_keys(signature),
    )  # fmt: skip
    counts.revised += 1


def _revisit_recent(
    source: Source, settings: Settings, store: Store, fetcher: Fetcher, now: datetime,
    walk: Walk, counts: _Counts,
) -> None:  # fmt: skip
    """Fetch again, with its validators, the page of each recent item that is due
    (`Store.due_revisits`): a corrected paragraph becomes a revision though neither the
    listing nor the title changed. A page that cannot be read is a problem, not a
    failed run: a release taken down after a day must not mark the source failing."""
    window = timedelta(hours=source.revisit_hours)
    due = store.due_revisits(source.name, now, REVISIT_FIRST, window, REVISITS_PER_RUN)
    for item_id, url, title, stored_hash, stored_topics in due:
        try:
            page = fetcher.get(url, *store.validators(url), reach=_reach(source))
            if not page.not_modified:
                entry = Entry(url=url, title=title)
                item = extract.extract_article(page, entry, source.name, source.article, now)
                # An edit keeps the item's page, whatever canonical link the page names.
                item = replace(item, url=url)
                with _PROCESS_LOCK:
                    _revise(item_id, stored_hash, stored_topics, item, settings, store, now,
                            walk, counts)  # fmt: skip
                store.save_validators(url, page.etag, page.last_modified, now)
        except (StoreError, sqlite3.Error):
            raise
        except Exception as exc:  # noqa: BLE001 - see the docstring
            counts.problems.append(f"revisit {_reason(exc, url)}")
    store.mark_checked([item_id for item_id, *_ in due], now)


def _older_than(when: str | None, since: datetime | None) -> bool:
    if since is None or not when:
        return False
    stamp = read_datetime(when)
    return stamp is not None and stamp < since


_Work = tuple[str, Item | Part, tuple[str, str]]  # listed URL, item or its job's part, validators


@dataclass(frozen=True)
class _PageWork:
    """A listing page's new entries, fetched (their items, or the pool's jobs preparing
    them) and not yet stored, and how many of them failed so far."""

    url: str
    page: Fetched
    items: list[_Work]
    failed: int


def _fetched_entries(
    entries: list[Entry], source: Source, fetcher: Fetcher, now: datetime, walk: Walk,
    counts: _Counts, pool: Pool | None = None,
) -> list[_Work]:  # fmt: skip
    """Fetch and extract a page's new entries; with a pool, the article pages go to the
    workers as they are fetched, a few to a job (`bulk.Batch`)."""
    items: list[_Work] = []
    batch = Batch(pool, source.name, source.article, now) if pool else None
    for entry in entries:
        if _older_than(entry.date_text, walk.since):
            continue
        with _entry_failure_recorded(entry.url, counts):
            item, validators = _fetched_work(entry, source, fetcher, now, batch)
            if isinstance(item, Part) or not _older_than(item.published_at, walk.since):
                items.append((entry.url, item, validators if source.revisit_hours else ("", "")))
    if batch is not None:
        batch.flush()
    return items


def _store_entries(
    items: list[_Work], settings: Settings, store: Store, now: datetime, walk: Walk,
    counts: _Counts,
) -> None:  # fmt: skip
    """Dedup, match and store a page's fetched entries in one transaction (one commit per
    page; a crash before it leaves the page to be read again). Pool jobs are taken back
    in listing order inside the transaction, so storing the first overlaps preparing
    the last."""
    if items:
        with _PROCESS_LOCK, store.transaction():
            for listed_url, work, validators in items:
                ready = _prepared(work, listed_url, counts, walk.since)
                if ready is not None:
                    _process(ready, listed_url, settings, store, now, walk, counts, validators)


def _finish_page(
    work: _PageWork, settings: Settings, store: Store, now: datetime, walk: Walk,
    counts: _Counts,
) -> None:  # fmt: skip
    """Store a listing page's fetched entries, then keep its validators when none of its
    entries failed (else the next run reads it in full and tries them again)."""
    failed_before = counts.failed
    _store_entries(work.items, settings, store, now, walk, counts)
    if counts.failed == failed_before and not work.failed and not walk.backfill:
        store.save_validators(work.url, work.page.etag, work.page.last_modified, now)


def _prepared(
    work: Item | Part, url: str, counts: _Counts, since: datetime | None
) -> Item | Prepared | None:
    """A pool job's outcome (its failure recorded as the entry's), or the item itself;
    None for a failed job or an item older than `since`."""
    if not isinstance(work, Part):
        return work
    with _entry_failure_recorded(url, counts):
        ready = work.result()
        return None if _older_than(ready.item.published_at, since) else ready
    return None


@contextmanager
def _bugs_named(url: str) -> Iterator[None]:
    """Turn an unforeseen exception met on the page at `url` into its source's error,
    naming the page (the run goes on with the other sources)."""
    try:
        yield
    except MonitorError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise SourceError(_bug(exc, url), url=url) from exc


def _no_links(source: Source, store: Store, url: str) -> SourceError:
    previous = (store.source_state(source.name) or {}).get("items_last_run")
    if previous:
        message = f"listing yielded no links (it gave {previous} last run: layout changed?)"
    else:
        message = "listing yielded no links (check the listing selectors)"
    return SourceError(message, url=url)


def walk_source(
    source: Source, settings: Settings, store: Store, fetcher: Fetcher, now: datetime, walk: Walk,
    pool: Pool | None = None,
) -> _Counts:  # fmt: skip
    """Walk a source's pages newest first, processing each page's new entries (their CPU
    stages on `pool`'s workers when given).

    Before a page's entries are processed the pages still to visit are saved; a walk
    cut short (crash, stop, a failing page) resumes them on the next run instead of
    stopping at the first known item, so no listing page is skipped for good. A
    backfill walks on past known items and keeps its own cursor, so the next backfill
    goes on from where the last one stopped.

    With a pool, a page's items are stored once the next page's articles are on the
    workers, so they never wait for the writer (benchmarks/bulk_pipeline.py, 2 workers:
    1.41x one process's articles a second before, 1.65x after); the saved pages keep
    that page until then, and it is stored however the walk ends.
    """
    counts = _Counts()
    key = f"backfill:{source.name}" if walk.backfill else source.name
    cursor = store.walk_cursor(key)
    if walk.backfill:
        resume, queue, budget = [], cursor or [source.url], sys.maxsize
    else:
        resume = [u for u in cursor if u != source.url]
        queue, budget = [source.url, *resume], source.max_items
    visited: set[str] = set()
    saved, indexes = bool(cursor), 0
    held: _PageWork | None = None  # with a pool, a page is stored once the next is handed out
    try:
        while queue and counts.pages < walk.max_pages + len(resume):
            url = queue.pop(0)
            visited.add(url_key(url))
            # After an interrupted walk, pages are read in full: a 304 would hide their links.
            fresh_read = bool(cursor) or walk.backfill
            with _bugs_named(url):
                validators = ("", "") if fresh_read else store.validators(url)
                page = fetcher.get(url, *validators, reach=_reach(source))
            if page.not_modified:
                counts.not_modified = counts.pages == 0
                break
            # Saved once the page is in hand, before any of its entries is processed. A walk
            # cut short while fetching resumes from the page before (read again, nothing
            # lost); an unchanged listing writes nothing.
            store.save_walk_cursor(key, [held.url, url, *queue] if held else [url, *queue], now)
            saved = True
            with _bugs_named(url):
                entries, more = extract.parse_page(page, source)
            if not entries and not more and counts.pages == 0 and source.kind == "html":
                raise _no_links(source, store, url)
            # A sitemap index holds no articles, only the sitemaps that do: it is not one of
            # the pages `max_pages` counts (else with 1 a run would read the index alone).
            is_index = source.kind == "sitemap" and not entries and bool(more)
            indexes += is_index
            if not is_index or indexes > MAX_SITEMAP_INDEXES:
                counts.pages += 1
            counts.found += len(entries)
            known = store.known_urls([e.url for e in entries])
            held_urls = {listed for listed, _, _ in held.items} if held else set()
            fresh = [e for e in entries if e.url not in known and e.url not in held_urls]
            fresh = fresh[:budget]
            budget -= len(fresh)
            failed_before = counts.failed
            items = _fetched_entries(fresh, source, fetcher, now, walk, counts, pool)
            if pool is None:  # stored at once; a pool's, once the next page is on the workers
                _store_entries(items, settings, store, now, walk, counts)
                items = []
            seen = [e for e in entries if e.url in known]
            _revise_entries(seen, source, settings, store, fetcher, now, walk, counts)
            work = _PageWork(url, page, items, counts.failed - failed_before)
            done, held = (held, work) if pool else (work, None)
            if done is not None:
                _finish_page(done, settings, store, now, walk, counts)
            if pool is not None:  # the writer has time to spare and its workers none: the
                store.flush_search()  # pause of a 256-item search batch would idle them
            queued = {url_key(u) for u in queue} | visited  # `/list` and `/list/`, http and https
            for more_url in more:
                if (more_key := url_key(more_url)) not in queued:
                    queue.append(more_url)
                    queued.add(more_key)
            if not walk.backfill:  # a run never goes further: a long index is not kept whole
                del queue[max(walk.max_pages + len(resume) - counts.pages, 0) :]
            if walk.on_page is not None:
                walk.on_page(counts.pages)
            # After an interrupted walk, known items do not stop this one: the pages
            # the last walk never reached lie beyond them.
            stop_at_known = known and not cursor and not walk.backfill
            if stop_at_known or budget <= 0 or _all_older(entries, walk.since):
                queue = []
                break
    finally:  # a page in hand is stored even when the walk stops on an error
        if held is not None:
            _finish_page(held, settings, store, now, walk, counts)
    if walk.backfill and queue:
        store.save_walk_cursor(key, queue, now)  # `backfill` again goes on from here
    elif saved:
        store.clear_walk_cursor(key)
    if source.fetch_articles and source.revisit_hours and not walk.backfill:
        _revisit_recent(source, settings, store, fetcher, now, walk, counts)
    return counts


def backfill(
    source: Source, settings: Settings, store: Store, walk: Walk, now: datetime | None = None,
    workers: int = 1,
) -> RunReport:  # fmt: skip
    """Walk a source's history: more pages than a run, on past known items.

    New items are stored and matched; they are alerted only when `walk.alert`. With
    `workers` > 1 their CPU stages run on that many processes (`monitor.bulk`).
    """
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    fetcher = Fetcher(settings.fetch)
    walk = replace(walk, backfill=True)
    if workers > 1:
        with Pool(workers, settings.rules) as pool:
            counts = walk_source(source, settings, store, fetcher, now, walk, pool)
    else:
        counts = walk_source(source, settings, store, fetcher, now, walk)
    store.flush_search()
    report = SourceReport(
        source=source.name, found=counts.found, new=counts.new, matched=counts.matched,
        duplicates=counts.duplicates, revised=counts.revised, problems=tuple(counts.problems),
        seconds=time.perf_counter() - started, new_item_ids=tuple(counts.ids),
    )  # fmt: skip
    deliveries: list[Delivery] = []
    if walk.alert:
        composer = alert.composer_for(settings)
        deliveries = alert.send_pending(store, settings.channels, settings.alerts, composer, now)
    return RunReport((report,), tuple(deliveries))


@dataclass(frozen=True)
class Rematch:
    """What re-applying the rules changed."""

    items: int
    changed: int
    newly_matched: int
    no_longer_matched: int


REMATCH_CHUNK = 200  # items per rematch job: few round trips, a smooth progress bar


def _matched_on(pool: Pool, workers: int, rows: Iterator[tuple[int, str, str, str]]
                ) -> Iterator[tuple[int, str, Match]]:  # fmt: skip
    """(id, topics before, new match) of each row, matched on the pool's workers, in
    order; a few chunks are kept ahead so the workers never wait for the writer."""
    ahead: deque[tuple[list[str], Job[list[tuple[int, Match]]]]] = deque()
    while chunk := list(islice(rows, REMATCH_CHUNK)):
        job = pool.submit(match_rows, [(item_id, title, body) for item_id, title, body, _ in chunk])
        ahead.append(([before for *_, before in chunk], job))
        if len(ahead) > 2 * workers:
            yield from _rematched(*ahead.popleft())
    while ahead:
        yield from _rematched(*ahead.popleft())


def _rematched(befores: list[str], job: Job[list[tuple[int, Match]]]
               ) -> Iterator[tuple[int, str, Match]]:  # fmt: skip
    try:
        results = job.result()
    except ExtractError as exc:
        raise ExtractError(f"rematch stopped: {exc}; the items before it are stored") from None
    for before, (item_id, result) in zip(befores, results, strict=True):
        yield item_id, before, result


def rematch(
    settings: Settings, store: Store, send_alerts: bool, now: datetime,
    on_item: Callable[[], None] | None = None, workers: int = 1,
) -> Rematch:  # fmt: skip
    """Re-apply the current rules to every stored item (after a rules change).

    Items that now match get alerts only with `send_alerts`; a channel never gets
    the same item twice (the outbox key is per item and channel). With `workers` > 1
    the rules are applied on that many processes; this one writes.
    """
    if workers > 1:
        with Pool(workers, settings.rules) as pool:
            rows = _matched_on(pool, workers, store.items_for_rematch())
            return _rematch(rows, settings, store, send_alerts, now, on_item)
    rows = (
        (item_id, before, match(title, body, settings.rules))
        for item_id, title, body, before in store.items_for_rematch()
    )
    return _rematch(rows, settings, store, send_alerts, now, on_item)


def _rematch(
    rows: Iterator[tuple[int, str, Match]], settings: Settings, store: Store, send_alerts: bool,
    now: datetime, on_item: Callable[[], None] | None,
) -> Rematch:  # fmt: skip
    """Store each row's new match when it changed (or alerts are wanted), and count."""
    routing = {c.name: c.routing for c in settings.channels} if send_alerts else {}
    items = changed = gained = lost = 0
    for item_id, before, result in rows:
        after = result.verdicts
        items += 1
        if after != before or send_alerts:
            store.update_match(item_id, result, route(result, routing, now), now)
        if after != before:
            changed += 1
            matched_before, matched_after = before.partition("|")[0], after.partition("|")[0]
            gained += bool(matched_after) and not matched_before
            lost += bool(matched_before) and not matched_after
        if on_item is not None:
            on_item()
    return Rematch(items, changed, gained, lost)


def _all_older(entries: list[Entry], since: datetime | None) -> bool:
    dated = [e.date_text for e in entries if e.date_text]
    return bool(dated) and all(_older_than(d, since) for d in dated)


def _backoff_until(state: dict | None, source: Source, settings: Settings) -> datetime | None:
    """When a failing source may run again: interval x (2^(n-1) - 1), capped."""
    failures = (state or {}).get("consecutive_failures") or 0
    if failures < 2 or not state or not state.get("last_error_at"):
        return None
    minutes = min(
        source.interval_minutes * (2 ** (failures - 1) - 1), settings.fetch.max_backoff_minutes
    )
    last = datetime.fromisoformat(state["last_error_at"].replace("Z", "+00:00"))
    return last + timedelta(minutes=minutes)


def run_source(
    source: Source, settings: Settings, store: Store, fetcher: Fetcher, now: datetime,
    force: bool = False,
) -> SourceReport:  # fmt: skip
    """Fetch, extract, dedup, match and store one source; raise only when the archive
    itself fails (StoreError, a damaged file), never for what a source served."""
    started = time.perf_counter()
    state = store.source_state(source.name)
    until = None if force else _backoff_until(state, source, settings)
    if until is not None and now < until:
        failures = state["consecutive_failures"] if state else 0
        return SourceReport(
            source.name,
            skipped=f"backing off after {failures} failures until {bangkok_time(until.isoformat())}"
            f" Bangkok; last error: {state['last_error'] if state else ''}",
        )
    try:
        counts = walk_source(source, settings, store, fetcher, now, Walk(source.max_pages))
    except (StoreError, sqlite3.DatabaseError):
        raise  # the archive itself is broken: every source would fail alike
    except Exception as exc:  # noqa: BLE001 - any other failure is this source's, not the run's
        report = SourceReport(
            source.name, error=_reason(exc), seconds=time.perf_counter() - started
        )
    else:
        report = SourceReport(
            source=source.name,
            found=counts.found,
            new=counts.new,
            matched=counts.matched,
            duplicates=counts.duplicates,
            revised=counts.revised,
            not_modified=counts.not_modified,
            failed=counts.failed,
            problems=tuple(counts.problems),
            seconds=time.perf_counter() - started,
            new_item_ids=tuple(counts.ids),
        )
    store.record_run(report, now)
    _log(report)
    return report


def _reason(exc: Exception, url: str = "") -> str:
    """One line naming the URL and what went wrong.

    An exception that is not a MonitorError is a bug met on this source's input: it
    is told apart ("internal error") and its traceback goes to the debug log, so
    the run goes on and the source's status shows it.
    """
    where = getattr(exc, "url", "") or url
    what = str(exc) if isinstance(exc, MonitorError) else _bug(exc, where)
    return redact(f"{where}: {what}" if where else what)


def _bug(exc: Exception, where: str) -> str:
    log.debug("internal error at %s", where or "?", exc_info=exc)
    text = " ".join(str(exc).split())[:200]
    return f"internal error {type(exc).__name__}: {text} (a bug; please report it)"


def _log(report: SourceReport) -> None:
    """One line per source per run: counts and timing (as fields for JSON logs); at
    WARNING when the source failed."""
    fields = {
        "source": report.source, "found": report.found, "new": report.new,
        "matched": report.matched, "duplicates": report.duplicates, "revised": report.revised,
        "not_modified": report.not_modified, "seconds": round(report.seconds, 3),
        "error": report.error,
    }  # fmt: skip
    text = " ".join(f"{k}={v}" for k, v in fields.items() if k != "error")
    level = logging.WARNING if report.error else logging.INFO  # log alerting sees outages
    log.log(level, text + (f" error={report.error!r}" if report.error else ""), extra=fields)
    for problem in report.problems:
        log.warning("source=%s %s", report.source, problem, extra={"source": report.source})


def useful_threads(sources: tuple[Source, ...], most: int) -> int:
    """Threads that can work on `sources` at once: one per host they are on, at most `most`.

    The Fetcher sends one request at a time per host, and the GIL runs one thread's
    Python at a time: a second thread on a host only waits for the first, and the
    threads contend (the service's first cycle of 200 sources on one host, articles
    fetched: 24.9 CPU s on 10 threads, 21.0 on one; an unchanged poll 0.85 ms, 0.40).
    """
    hosts = {f"{p.scheme}://{p.netloc}".lower() for p in map(urlsplit, (s.url for s in sources))}
    return max(1, min(most, len(hosts)))


def _run_on_threads(
    sources: tuple[Source, ...], settings: Settings, store: Store, fetcher: Fetcher,
    now: datetime, force: bool, workers: int,
) -> list[SourceReport]:  # fmt: skip
    """Run sources on `workers` threads, each taking the next source when it is free.

    Each thread opens one SQLite connection for all its sources (connections stay in
    their thread; opening one costs about as much as an unchanged source's run).
    """
    todo: SimpleQueue[tuple[int, Source]] = SimpleQueue()
    for job in enumerate(sources):
        todo.put(job)
    done: dict[int, SourceReport] = {}

    def work() -> None:
        own = Store(store.path)
        try:
            while True:
                try:
                    index, source = todo.get_nowait()
                except Empty:
                    return
                done[index] = run_source(source, settings, own, fetcher, now, force)
        finally:
            own.close()

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(work) for _ in range(workers)]:
            future.result()
    return [done[i] for i in range(len(sources))]


def run_once(
    settings: Settings,
    store: Store,
    fetcher: Fetcher | None = None,
    now: datetime | None = None,
    sources: tuple[Source, ...] | None = None,
    force: bool = False,
) -> RunReport:
    """One cycle over `sources` (default: all configured), then deliver due alerts."""
    now = now or datetime.now(UTC)
    fetcher = fetcher or Fetcher(settings.fetch)
    fetcher.new_run()
    chosen = settings.sources if sources is None else sources
    workers = useful_threads(chosen, settings.fetch.max_workers)
    if workers == 1:
        reports = [run_source(s, settings, store, fetcher, now, force) for s in chosen]
    else:
        reports = _run_on_threads(chosen, settings, store, fetcher, now, force, workers)
    store.flush_search()  # before the alerts: what they announce can be searched for
    deliveries = alert.send_pending(
        store, settings.channels, settings.alerts, alert.composer_for(settings), now
    )
    for d in deliveries:  # failures are logged by alert.send_pending, at WARNING or ERROR
        if d.ok:
            log.info("alert item=%d channel=%s sent", d.item_id, d.channel)
    return RunReport(tuple(reports), tuple(deliveries))
