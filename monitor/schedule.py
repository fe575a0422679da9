"""Run the monitor as a service: APScheduler 3 `BlockingScheduler`, a job per source.

Source jobs (`SourceJobs.run`) run on the scheduler's pool of `JOB_THREADS`
threads and share one `Fetcher` (robots.txt cache, per-host politeness, kept-alive
connections); each job thread keeps its own store connection (SQLite connections
stay in the thread that made them) and runs its source through `pipeline.run_once`.
Every source runs once at start; jobs coalesce and never overlap. Sources are spread
by a fixed offset each (`_offset`), not APScheduler's jitter: in APScheduler 3 each
jittered run time becomes the base of the next, so a 60 s interval drifted to a
median 75 s between polls (benchmarks/alert_latency.py). An alerts job retries due
outbox rows every minute. SIGTERM and SIGINT stop the scheduler after the jobs in
hand finish; due alerts are then sent once more.
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import signal
import sqlite3
import threading
import zlib
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from types import FrameType
from typing import IO

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler

from monitor import alert
from monitor.config import Settings
from monitor.errors import AlreadyRunning, MonitorError
from monitor.fetch import Fetcher
from monitor.models import Delivery, RunReport, Source
from monitor.pipeline import run_once
from monitor.store import Store

log = logging.getLogger("monitor")
SPREAD_SECONDS = 30
MISFIRE_GRACE_SECONDS = 300
ALERT_RETRY_MINUTES = 1
JOB_THREADS = 10  # APScheduler's default pool size, made explicit for the benchmark
M_ARENA_MAX = -8  # glibc's mallopt parameter number


class SourceJobs:
    """What every source job shares: one Fetcher, and a store connection per job thread.

    A thread keeps its connection from one job to the next: opening one (connect,
    WAL, migrations check) cost 0.3 ms, a third of an unchanged source's whole run.
    The connection is closed when its thread ends (the scheduler's shutdown).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fetcher = Fetcher(settings.fetch)  # robots.txt cache and per-host politeness
        self._local = threading.local()

    def run(self, source: Source, now: datetime | None = None) -> RunReport:
        """Run one source, then deliver the alerts that are due (the job of each source).

        `now` is for benchmarks that simulate a day; the scheduler leaves the clock to
        `run_once`."""
        try:
            store: Store | None = getattr(self._local, "store", None)
            if store is None:
                store = self._local.store = Store(self.settings.db_path)
            report = run_once(self.settings, store, self.fetcher, now=now, sources=(source,))
        except (MonitorError, sqlite3.DatabaseError) as exc:  # the archive failed: say it in
            log.error("source=%s not run: %s", source.name, exc)  # one line, try next time
            return RunReport()
        if any(s.new or s.revised for s in report.sources):
            _return_free_memory()  # after pages were read: not after a 304
        return report


@lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (malloc_trim and mallopt), else None."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_malloc_arenas() -> None:
    """Have glibc keep 2 heaps (arenas) instead of up to 8 per core; call before threads.

    Each job thread would get a heap of its own, each keeping its share of freed
    memory (benchmarks/service_memory.py: 128 MB at rest with the default, 120 with
    2). Contention for the heaps costs nothing here: the GIL serialises Python anyway.
    """
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, 2)


def _return_free_memory() -> None:
    """Hand memory freed by a run back to the system (glibc's malloc_trim).

    glibc keeps freed pages of a first cycle's thousands of pages: 163 MB at rest
    instead of 136 MB (benchmarks/service_memory.py). A trim costs ~1 ms, more than
    an unchanged source's whole run (benchmarks/workload_cycle.py): source jobs call
    it only after storing items, the alerts job once a minute.
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def flush_alerts(settings: Settings, now: datetime | None = None) -> list[Delivery]:
    """The alerts job, once a minute: deliver what is due, then hand back the memory the
    source jobs since the last one freed (`now` for benchmarks that simulate a day)."""
    store = Store(settings.db_path)
    try:
        composer = alert.composer_for(settings)
        return alert.send_pending(
            store, settings.channels, settings.alerts, composer, now or datetime.now(UTC)
        )
    finally:
        store.close()
        _return_free_memory()


def _offset(source: Source) -> timedelta:
    """A source's fixed place within SPREAD_SECONDS (or half its interval), from its name,
    so sources sharing an interval do not all poll at the same second."""
    spread = min(SPREAD_SECONDS, source.interval_minutes * 30)
    return timedelta(seconds=zlib.crc32(source.name.encode()) % max(int(spread), 1))


def build_scheduler(settings: Settings) -> BlockingScheduler:
    """A scheduler with one interval job per source, first run now, and an alerts job."""
    scheduler = BlockingScheduler(
        timezone=UTC, executors={"default": ThreadPoolExecutor(JOB_THREADS)}
    )
    defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS}
    now = datetime.now(UTC)
    jobs = SourceJobs(settings)
    for source in settings.sources:
        scheduler.add_job(
            jobs.run,
            "interval",
            args=(source,),
            minutes=source.interval_minutes,
            start_date=now + _offset(source),
            next_run_time=now,
            id=f"source:{source.name}",
            name=source.name,
            **defaults,
        )
    scheduler.add_job(
        flush_alerts, "interval", args=(settings,), minutes=ALERT_RETRY_MINUTES,
        id="alerts", name="alerts", **defaults,
    )  # fmt: skip
    return scheduler


def hold_service_lock(data_dir: Path) -> IO[str]:
    """Lock `data_dir` for this service until the returned file is closed (or the process
    ends, however it ends: the kernel drops the lock); raise AlreadyRunning if another
    service holds it. `run --once` and the read-only commands do not take it."""
    path = data_dir / "serve.lock"
    handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = handle.read().strip() or "?"
        handle.close()
        raise AlreadyRunning(
            f"another `monitor serve` (pid {holder}) is using {data_dir}; stop it first, "
            "or give this one a data_dir of its own"
        ) from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def serve(settings: Settings) -> None:
    """Block until SIGTERM or SIGINT, then let running jobs finish and return."""
    Store(settings.db_path).close()  # fail fast on an unwritable data directory
    lock = hold_service_lock(settings.data_dir)
    try:
        _serve_until_stopped(settings)
    finally:
        lock.close()


def _serve_until_stopped(settings: Settings) -> None:
    limit_malloc_arenas()
    scheduler = build_scheduler(settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping after the jobs in hand", signal.Signals(signum).name)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("serving %d sources; stop with Ctrl-C or SIGTERM", len(settings.sources))
    scheduler.start()
    flush_alerts(settings)
    log.info("stopped")
