"""The CPU stages of bulk work on worker processes; the caller stays the only writer.

    parent (pipeline)                        worker process (one per core)
    walk, fetch          -- Entry, Fetched -> extract_article
                                              content hash, signature + band keys,
                                              match, search-index words
    dedup lookups        <-- Prepared ------
    classify, route, store (one transaction per listing page)

Backfill, rematch and first cycles spend ~80% of their CPU in pure Python stages that
hold the GIL (issue 16: extraction, normalisation, signature, segmentation, match):
threads cannot use a second core, processes can. The parent keeps everything whose
order matters (dedup compares each item with what was stored before it, the page's
transaction) and everything that touches SQLite.

Workers are started with 'spawn': a fresh interpreter inherits no SQLite connection
(children never touch the archive), no lock held by one of the parent's fetch
threads and none of its memory. Each loads the Thai dictionary and compiles the rules
once, in its initializer, and ignores SIGINT: Ctrl-C is the parent's, which rolls back
the page it was storing and stops the pool (the walk cursor resumes that page). The
pool lives as long as one bulk command; `monitor serve` never starts one.

A worker that dies (a crash in a C extension, the OOM killer) breaks the whole pool:
it is started again and each unfinished job is run again alone, so only a job that
kills its worker by itself fails, as an ExtractError of its page. Article pages go a
few to a job (`Batch`); the entries of a job that fails so run again one by one.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime
from multiprocessing import get_context
from typing import Generic, TypeVar

from monitor import dedup, extract
from monitor.errors import ExtractError
from monitor.match import Rules, match
from monitor.models import ArticleRules, Entry, Fetched, Item, Match
from monitor.store import search_text

T = TypeVar("T")
_rules: Rules | None = None  # a worker's rules, set once by its initializer
BATCH_SIZE = 4  # entries a job (Batch)


@dataclass(frozen=True)
class Prepared:
    """An item with everything its storing needs that does not depend on the archive."""

    item: Item  # with its content hash
    signature: dedup.Signature
    band_keys: tuple[int, ...]
    match: Match
    words: tuple[str, str]  # the title and body as the search index holds them


def prepare(item: Item, rules: Rules) -> Prepared:
    """Hash, sign, match and split an item for the index: the archive-free part of
    storing it, so any process can do it."""
    item = replace(item, content_hash=dedup.content_hash(item.title, item.body))
    signature = dedup.signature(item.title, item.body)
    return Prepared(
        item,
        signature,
        tuple(dedup.band_keys(signature)),
        match(item.title, item.body, rules),
        (search_text(item.title), search_text(item.body or "")),
    )


def extracted(
    entry: Entry, page: Fetched | None, source: str, rules: ArticleRules, now: datetime
) -> Item:
    """An entry's item: from its article page, or from the feed's own text without one."""
    if page is None:
        return extract.item_from_entry(entry, source, rules, now)
    return extract.extract_article(page, entry, source, rules, now)


def prepare_entry(
    entry: Entry, page: Fetched | None, source: str, rules: ArticleRules, now: datetime
) -> Prepared:
    """Extract and prepare an entry's item, in a worker (with the worker's topic rules)."""
    return prepare(extracted(entry, page, source, rules, now), _worker_rules())


def prepare_entries(
    batch: Sequence[tuple[Entry, Fetched | None]], source: str, rules: ArticleRules,
    now: datetime,
) -> list[Prepared | Exception]:  # fmt: skip
    """`prepare_entry` of several entries in one job; an entry's failure is its own,
    returned in its place."""
    outcomes: list[Prepared | Exception] = []
    for entry, page in batch:
        try:
            outcomes.append(prepare_entry(entry, page, source, rules, now))
        except Exception as exc:  # noqa: BLE001 - the entry's, raised by its Part
            outcomes.append(exc)
    return outcomes


def match_rows(rows: Sequence[tuple[int, str, str]]) -> list[tuple[int, Match]]:
    """Apply the worker's rules to stored (id, title, body) rows, for `rematch`."""
    rules = _worker_rules()
    return [(item_id, match(title, body or "", rules)) for item_id, title, body in rows]


def _worker_rules() -> Rules:
    if _rules is None:
        raise RuntimeError("called outside a bulk worker")
    return _rules


def _start(rules: Rules) -> None:
    """Worker initializer: keep the rules; load the dictionary and compile the rules now,
    once per worker (~0.5 s), not on the first item."""
    global _rules
    _rules = rules
    sample = Item("https://example.invalid/", "", "ความมั่นคงปลอดภัยไซเบอร์", "อาเซียน", None)
    prepare(sample, rules)


class Job(Generic[T]):
    """One job on a Pool; `result` survives the death of another job's worker."""

    def __init__(self, pool: Pool, fn: Callable[..., T], args: tuple[object, ...]) -> None:
        self._pool, self._fn, self._args = pool, fn, args
        self._executor, self._future = pool.submit_future(fn, args)
        self._outcome: Future[T] | None = None  # kept: a Batch's parts each ask for it

    def result(self) -> T:
        """The job's result or its exception (the same on every call). If its pool
        broke, it runs again alone; when it breaks that one too, it is the culprit:
        ExtractError."""
        if self._outcome is None:  # set once known: after Ctrl-C it is asked again
            outcome: Future[T] = Future()
            try:
                outcome.set_result(self._run())
            except Exception as exc:  # noqa: BLE001 - kept, and raised to every caller
                outcome.set_exception(exc)
            self._outcome = outcome
        return self._outcome.result()

    def _run(self) -> T:
        try:
            return self._future.result()
        except BrokenProcessPool:
            self._pool.restart(self._executor)
        executor, future = self._pool.submit_future(self._fn, self._args)
        try:
            return future.result()
        except BrokenProcessPool:
            self._pool.restart(executor)
            raise ExtractError("a worker process died (killed, or a C extension crashed)") from None


class Batch:
    """Entries handed to a Pool `BATCH_SIZE` at a time (the rest by `flush`), each with
    a Part whose result is its own.

    A job costs ~0.17 ms of CPU to hand over and take back, besides its data; one per
    entry was a tenth of an article's CPU (benchmarks/bulk_pipeline.py, 2 workers:
    1.65x one process's articles a second with a job per entry, 1.76x with four).
    """

    def __init__(self, pool: Pool, source: str, rules: ArticleRules, now: datetime) -> None:
        self._pool, self._source, self._rules, self._now = pool, source, rules, now
        self._waiting: list[Part] = []

    def add(self, entry: Entry, page: Fetched | None) -> Part:
        part = Part(self, entry, page)
        self._waiting.append(part)
        if len(self._waiting) >= BATCH_SIZE:
            self.flush()
        return part

    def flush(self) -> None:
        """Hand the entries still waiting to the pool."""
        if self._waiting:
            batch = [(part.entry, part.page) for part in self._waiting]
            job = self._pool.submit(prepare_entries, batch, self._source, self._rules, self._now)
            for index, part in enumerate(self._waiting):
                part.placed(job, index)
            self._waiting = []

    def alone(self, part: Part) -> Prepared:
        """`part`'s entry prepared in a job of its own."""
        job = self._pool.submit(
            prepare_entry, part.entry, part.page, self._source, self._rules, self._now
        )
        return job.result()


class Part:
    """One entry's share of a Batch job."""

    def __init__(self, batch: Batch, entry: Entry, page: Fetched | None) -> None:
        self._batch, self.entry, self.page = batch, entry, page
        self._place: tuple[Job[list[Prepared | Exception]], int] | None = None

    def placed(self, job: Job[list[Prepared | Exception]], index: int) -> None:
        self._place = (job, index)

    def result(self) -> Prepared:
        """The entry's Prepared, or its exception. When the batch's job failed as a
        whole (a worker died with it twice), the entry runs again alone, so only the
        entry that kills a worker by itself fails."""
        if self._place is None:
            self._batch.flush()
        assert self._place is not None, "flush places every part"
        job, index = self._place
        try:
            outcome = job.result()[index]
        except Exception:  # noqa: BLE001 - the batch's failure, not this entry's
            return self._batch.alone(self)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class Pool:
    """`workers` processes for Prepared and rematch jobs, started again when one dies.

    For the main thread only: starting workers changes SIGINT's handler for a moment."""

    def __init__(self, workers: int, rules: Rules) -> None:
        self._workers, self._rules = workers, rules
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        """A started executor whose workers ignore SIGINT from their first instruction.

        Ctrl-C signals the whole foreground process group, and a worker still importing
        its modules would print a traceback. A process keeps an ignored SIGINT across
        exec and Python leaves it ignored, so the workers are all spawned now (one per
        job submitted while none is idle) while this process ignores it, for the few
        milliseconds that takes.
        """
        executor = ProcessPoolExecutor(
            self._workers, get_context("spawn"), initializer=_start, initargs=(self._rules,)
        )
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for _ in range(self._workers):
                executor.submit(int)
        finally:
            signal.signal(signal.SIGINT, handler)
        return executor

    def submit(self, fn: Callable[..., T], *args: object) -> Job[T]:
        return Job(self, fn, args)

    def submit_future(
        self, fn: Callable[..., T], args: tuple[object, ...]
    ) -> tuple[ProcessPoolExecutor, Future[T]]:
        """Submit to the current executor; return it with the future (for `restart`)."""
        executor = self._executor
        try:
            return executor, executor.submit(fn, *args)
        except BrokenProcessPool:  # a worker died since: this job too is run again alone
            future: Future[T] = Future()
            future.set_exception(BrokenProcessPool("a worker died"))
            return executor, future

    def restart(self, broken: ProcessPoolExecutor) -> None:
        """Replace the executor `broken` (once, however many of its jobs report it)."""
        if self._executor is broken:
            broken.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()

    def close(self) -> None:
        """Stop the workers; jobs not started are dropped (Ctrl-C must not wait for them)."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
