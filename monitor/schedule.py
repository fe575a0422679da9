"""Run the monitor as a service: APScheduler 3 `BlockingScheduler`, a job per source.

Source jobs (`SourceJobs.run`) run on a pool of one thread per host the sources are
on, at most `JOB_THREADS` (`pipeline.useful_threads`: the Fetcher serialises each
host anyway), and share one `Fetcher` (robots.txt cache, per-host politeness,
kept-alive connections); each job thread keeps its own store connection (SQLite
connections stay in the thread that made them) and runs its source through
`pipeline.run_source`. Every source runs once at start; jobs coalesce and never
overlap. Sources that share an interval run together after that (APScheduler 3 times
each run from the one before): one scheduler wake-up an interval, and a host's polls
back to back on its thread. Spreading them, a source at its own second, cost 0.99 ms
of CPU a poll against 0.66 (benchmarks/service_cost.py: a wake-up and two thread
switches a poll); jitter drifted too, each jittered time becoming the base of the
next (a 60 s interval at a median 75 s, benchmarks/alert_latency.py).

Alerts are sent by one job on a thread of its own (`AlertsJob`): every minute for
retries and digests, and at once when a source job stored an item that may alert.
SIGTERM and SIGINT stop the scheduler after the jobs in hand finish; due alerts are
then sent once more.
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import signal
import sqlite3
import threading
from collections.abc import Callable
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
from monitor.pipeline import run_source, useful_threads
from monitor.store import Store

log = logging.getLogger("monitor")
MISFIRE_GRACE_SECONDS = 300
ALERT_RETRY_MINUTES = 1
JOB_THREADS = 10  # at most (APScheduler's default pool); fewer on fewer hosts
M_ARENA_MAX = -8  # glibc's mallopt parameter number


class SourceJobs:
    """What every source job shares: one Fetcher, and a store connection per job thread.

    A thread keeps its connection from one job to the next: opening one (connect,
    WAL, migrations check) cost 0.3 ms, a third of an unchanged source's whole run.
    The connection is closed when its thread ends (the scheduler's shutdown).
    """

    def __init__(self, settings: Settings, on_alerts: Callable[[], None] | None = None) -> None:
        """`on_alerts` is called after a run that stored something that may alert (the
        alerts job's `wake`); source jobs never send alerts themselves."""
        self.settings = settings
        self.fetcher = Fetcher(settings.fetch)  # robots.txt cache and per-host politeness
        self.on_alerts = on_alerts
        self._local = threading.local()

    def run(self, source: Source, now: datetime | None = None) -> RunReport:
        """Run one source (the job of each source); its alerts are the alerts job's.

        `now` is for benchmarks that simulate a day; the scheduler leaves it to the clock."""
        try:
            store: Store | None = getattr(self._local, "store", None)
            if store is None:
                store = self._local.store = Store(self.settings.db_path)
            self.fetcher.new_run()
            report = run_source(source, self.settings, store, self.fetcher, now or _now())
            store.flush_search()  # the connection stays with its thread, idle till its next job
        except (MonitorError, sqlite3.DatabaseError) as exc:  # the archive failed: say it in
            log.error("source=%s not run: %s", source.name, exc)  # one line, try next time
            return RunReport()
        if (report.matched or report.revised) and self.on_alerts is not None:
            self.on_alerts()
        return RunReport((report,))


def _now() -> datetime:
    return datetime.now(UTC)


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
    """Hand memory freed by the jobs back to the system (glibc's malloc_trim).

    glibc keeps freed pages of a first cycle's thousands of pages: 163 MB at rest
    instead of 136 MB (benchmarks/service_memory.py). A trim costs ~1-2 ms, more than
    an unchanged source's whole run, so it is done once a minute by the alerts job,
    not after each storing job (0.34 s per 4,000 pages).
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def flush_alerts(settings: Settings, now: datetime | None = None) -> list[Delivery]:
    """Deliver the alerts that are due (`now` for benchmarks that simulate a day)."""
    store = Store(settings.db_path)
    try:
        composer = alert.composer_for(settings)
        deliveries = alert.send_pending(
            store, settings.channels, settings.alerts, composer, now or _now()
        )
    finally:
        store.close()
    for d in deliveries:  # failures are logged by alert.send_pending, at WARNING or ERROR
        if d.ok:
            log.info("alert item=%d channel=%s sent", d.item_id, d.channel)
    return deliveries


class AlertsJob:
    """The service's one sender of alerts, on a thread of its own: every
    ALERT_RETRY_MINUTES (retries, digests), and at once when a source job stored an
    item that may alert (`wake`).

    Source jobs only queue alerts: a flush in every job made each poll claim the
    outbox (a write transaction whenever rows wait for a retry or a digest). A wake
    during a flush is another flush right after it, so nothing queued meanwhile waits
    a minute. Not an APScheduler job: waking one (`modify_job`) takes the lock its
    `shutdown` holds while it waits for the source jobs, which would wait for it.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._woken = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._trimmed_at: datetime | None = None

    def wake(self) -> None:
        """Have due alerts sent now (or right after the flush in hand)."""
        self._woken.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="alerts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Let the flush in hand finish, then send what is due once more."""
        self._stopping = True
        self._woken.set()
        if self._thread is not None:
            self._thread.join()
        self.run()

    def _loop(self) -> None:
        while True:
            self._woken.wait(ALERT_RETRY_MINUTES * 60)
            if self._stopping:
                return
            self._woken.clear()
            try:
                self.run()
            except MonitorError as exc:  # the archive failed: one line, try next minute
                log.error("alerts not sent: %s", exc)
            except Exception:  # noqa: BLE001 - a bug: logged with its traceback, as APScheduler
                log.exception("alerts job failed")  # logs a failed job; next minute tries again

    def run(self, now: datetime | None = None) -> list[Delivery]:
        """Send what is due; once a minute, hand memory freed since back to the system."""
        deliveries = flush_alerts(self.settings, now)
        now = now or _now()
        if self._trimmed_at is None or now - self._trimmed_at >= timedelta(
            minutes=ALERT_RETRY_MINUTES
        ):
            self._trimmed_at = now
            _return_free_memory()
        return deliveries


def build_scheduler(
    settings: Settings, on_alerts: Callable[[], None] | None = None
) -> BlockingScheduler:
    """A scheduler with one interval job per source, first run now; `on_alerts` is
    called after a source's run that may alert (`AlertsJob.wake`)."""
    threads = useful_threads(settings.sources, JOB_THREADS)
    scheduler = BlockingScheduler(timezone=UTC, executors={"default": ThreadPoolExecutor(threads)})
    defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS}
    now = _now()
    jobs = SourceJobs(settings, on_alerts)
    for source in settings.sources:
        scheduler.add_job(
            jobs.run,
            "interval",
            args=(source,),
            minutes=source.interval_minutes,
            next_run_time=now,
            id=f"source:{source.name}",
            name=source.name,
            **defaults,
        )
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
    alerts = AlertsJob(settings)
    scheduler = build_scheduler(settings, on_alerts=alerts.wake)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping after the jobs in hand", signal.Signals(signum).name)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("serving %d sources; stop with Ctrl-C or SIGTERM", len(settings.sources))
    alerts.start()
    try:
        scheduler.start()
    finally:
        alerts.stop()
    log.info("stopped")
