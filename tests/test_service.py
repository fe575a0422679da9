"""`monitor serve` as a real process: runs every source at start, stops cleanly on a signal,
and after downtime catches up on what was published while it was off.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.config import load_settings
from monitor.pipeline import useful_threads
from monitor.schedule import build_scheduler
from monitor.snapshot import SnapshotServer
from tests.conftest import (
    ROOT,
    SNAPSHOT,
    free_port,
    parse_message,
    snapshot_sources,
    write_config,
)

STOP_SECONDS = 20


def _config(tmp_path: Path, sources: str) -> Path:
    return write_config(tmp_path, sources)


def _serve(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "serve", "--config", str(config)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _count(db: Path, sql: str = "SELECT count(*) FROM items") -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db, timeout=10)
    try:
        return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        conn.close()


def _wait_for(proc: subprocess.Popen[str], done: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"serve exited {proc.returncode} early:\n{err[-2000:]}")
        time.sleep(0.1)
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(f"condition not met within {timeout} s; stderr:\n{err[-2000:]}")


def _stop(proc: subprocess.Popen[str], signum: signal.Signals) -> tuple[int, str]:
    proc.send_signal(signum)
    try:
        _, err = proc.communicate(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"serve still running {STOP_SECONDS} s after {signum.name}:\n{err[-2000:]}")
    return proc.returncode, err


def test_a_second_serve_on_the_same_data_dir_refuses_to_start(tmp_path: Path, snapshot_url: str):
    """Two services on one archive would poll every site twice: the second one says which
    process holds it and exits 2; once the first stops, a new one starts."""
    db = tmp_path / "data" / "monitor.db"
    config = _config(tmp_path, snapshot_sources(snapshot_url))
    first = _serve(config)
    _wait_for(first, lambda: _count(db, "SELECT count(*) FROM source_status") == 2)
    second = subprocess.run(
        [sys.executable, "-m", "monitor", "serve", "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert second.returncode == 2
    assert second.stderr.strip().splitlines()[-1] == (
        f"error: another `monitor serve` (pid {first.pid}) is using {tmp_path / 'data'}; "
        "stop it first, or give this one a data_dir of its own"
    )
    assert "Traceback" not in second.stderr
    code, err = _stop(first, signal.SIGTERM)
    assert code == 0, err[-2000:]
    last_run = sqlite3.connect(db).execute("SELECT max(last_run_at) FROM source_status")
    later = f"SELECT count(*) FROM source_status WHERE last_run_at > '{last_run.fetchone()[0]}'"
    third = _serve(config)
    _wait_for(third, lambda: _count(db, later) == 2)
    code, err = _stop(third, signal.SIGTERM)
    assert code == 0, err[-2000:]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_runs_every_source_at_start_and_stops_on_signal(
    tmp_path: Path, snapshot_url: str, signum: signal.Signals
):
    db = tmp_path / "data" / "monitor.db"
    proc = _serve(_config(tmp_path, snapshot_sources(snapshot_url)))
    # Both sources ran once: every snapshot item is stored and both health rows exist.
    _wait_for(
        proc,
        lambda: (
            _count(db) == 37
            and _count(db, "SELECT count(*) FROM source_status WHERE last_success_at IS NOT NULL")
            == 2
        ),
    )
    started = time.monotonic()
    code, err = _stop(proc, signum)
    assert code == 0, err[-2000:]
    assert time.monotonic() - started < STOP_SECONDS
    assert "Traceback" not in err
    for source in ("thaigov", "dla-asean"):
        lines = [line for line in err.splitlines() if f"source={source} found=" in line]
        assert len(lines) == 1, f"one run line for {source}: {lines}"
    assert "Running job" not in err and "Added job" not in err, "APScheduler's lines muted"
    assert f"signal {signum.name}: stopping" in err
    assert err.rstrip().endswith("stopped")


def test_sigterm_during_a_run_lets_the_jobs_in_hand_finish(tmp_path: Path, snapshot_url: str):
    db = tmp_path / "data" / "monitor.db"
    proc = _serve(_config(tmp_path, snapshot_sources(snapshot_url)))
    _wait_for(proc, lambda: _count(db) > 0)  # stop in the middle of the first cycle
    code, err = _stop(proc, signal.SIGTERM)
    assert code == 0, err[-2000:]
    assert "Traceback" not in err
    assert "source=thaigov found=" in err and "source=dla-asean found=" in err
    assert _count(db) == 37, "the runs in hand were finished, not cut short"


# ---- catching up after downtime: a listing that gains items while the service is off

PER_PAGE = 2


def _article(n: int) -> str:
    return (
        f"<html><head><title>Item {n}</title></head><body><h1>ข่าวที่ {n}</h1>"
        f"<div class='body'>เนื้อหาข่าวที่ {n} ไม่ซ้ำกับข่าวอื่น หมายเลข {n * 7919}</div>"
        "</body></html>"
    )


class Site:
    """A listing, newest first, PER_PAGE links per page, that can gain items."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.newest = 0
        self.requests: list[str] = []
        self.failing: set[int] = set()  # listing pages answering 503
        server.expect_request("/robots.txt").respond_with_data("", status=404)
        server.expect_request("/list").respond_with_handler(self._listing)
        for n in range(1, 31):
            server.expect_request(f"/news/{n}").respond_with_data(
                _article(n), content_type="text/html; charset=utf-8"
            )

    def publish(self, count: int) -> None:
        self.newest += count

    def _listing(self, request: Request) -> Response:
        page = int(request.args.get("page", "1"))
        self.requests.append(f"/list?page={page}")
        if page in self.failing:
            return Response("busy", status=503)
        numbers = list(range(self.newest, 0, -1))[(page - 1) * PER_PAGE : page * PER_PAGE]
        links = "".join(f"<li><a href='/news/{n}'>ข่าว {n}</a></li>" for n in numbers)
        more = len(numbers) == PER_PAGE and numbers[-1] > 1
        nxt = f"<a class='next' href='/list?page={page + 1}'>next</a>" if more else ""
        html = f"<html><body><ul class='news'>{links}</ul>{nxt}</body></html>"
        return Response(html, content_type="text/html; charset=utf-8")


@pytest.fixture
def site() -> Iterator[Site]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield Site(server)
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def _site_source(site: Site) -> str:
    return f"""
[sources.site]
kind = "html"
url = "{site.server.url_for("/list")}"
max_pages = 10

[sources.site.listing]
links = "ul.news a"
next_page = "a.next"

[sources.site.article]
title = "h1"
body = "div.body"
"""


def _stored(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0].rsplit("/", 1)[1] for r in conn.execute("SELECT url FROM items")}
    finally:
        conn.close()


def test_serve_catches_up_on_items_published_while_it_was_off(tmp_path: Path, site: Site):
    db = tmp_path / "data" / "monitor.db"
    config = _config(tmp_path, _site_source(site))
    site.publish(6)  # pages: [6 5] [4 3] [2 1]
    first = _serve(config)
    _wait_for(first, lambda: _count(db) == 6)
    assert _stop(first, signal.SIGTERM)[0] == 0
    assert site.requests == ["/list?page=1", "/list?page=2", "/list?page=3"]

    site.requests.clear()
    site.publish(5)  # while it was off: [11 10] [9 8] [7 6] [5 4] [3 2] [1]
    second = _serve(config)
    _wait_for(second, lambda: _count(db) == 11)
    code, err = _stop(second, signal.SIGTERM)
    assert code == 0, err[-2000:]
    assert _stored(db) == {str(n) for n in range(1, 12)}
    # Walked back until the page holding a known item (6), not further.
    assert site.requests == ["/list?page=1", "/list?page=2", "/list?page=3"]
    assert "source=site found=6 new=5" in err


def test_a_walk_cut_short_is_resumed_on_the_next_run(tmp_path: Path, site: Site):
    from monitor.config import load_settings
    from monitor.pipeline import run_once
    from monitor.store import Store

    settings = load_settings(_config(tmp_path, _site_source(site)))
    site.publish(6)  # pages: [6 5] [4 3] [2 1]
    site.failing = {2}  # the walk is cut short after page 1 (as by a crash)
    store = Store(settings.db_path)
    try:
        first = run_once(settings, store)
        assert first.sources[0].error, "page 2 failed"
        assert _stored(settings.db_path) == {"6", "5"}
        site.failing = set()
        second = run_once(settings, store)
        assert not second.sources[0].error
    finally:
        store.close()
    assert _stored(settings.db_path) == {str(n) for n in range(1, 7)}


# ---- alerts: the service flushes the outbox from several threads at once


class SlowMailBox:
    """An SMTP handler that takes 0.2 s per recipient (a real server under load)."""

    def __init__(self) -> None:
        self.subjects: list[str] = []

    async def handle_RCPT(  # noqa: N802
        self, server: object, session: object, envelope: Any, address: str, options: list[str]
    ) -> str:
        await asyncio.sleep(0.2)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        self.subjects.append(str(parse_message(envelope.content)["Subject"]))
        return "250 OK"


def test_concurrent_outbox_flushes_send_each_alert_once(tmp_path: Path, snapshot_url: str):
    from aiosmtpd.controller import Controller

    from monitor.config import load_settings
    from monitor.pipeline import run_once
    from monitor.schedule import flush_alerts
    from monitor.store import Store

    box = SlowMailBox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        feed = f"""
[sources.dla-asean]
preset = "wordpress-feed"
url = "{snapshot_url}/rss/dla-asean.xml"
"""
        settings = load_settings(write_config(tmp_path, feed, port))
        down = replace(settings, channels=tuple(replace(c, port=9) for c in settings.channels))
        store = Store(settings.db_path)
        run_once(down, store)  # items stored, their alerts queued (the channel was down)
        with store.db.conn:
            store.db.execute("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00Z'")
        assert store.outbox_counts() == {"pending": 2}
        store.close()
        # What serve does when two source jobs (or one and the alerts job) end together.
        flushes = [threading.Thread(target=flush_alerts, args=(settings,)) for _ in range(2)]
        for thread in flushes:
            thread.start()
        for thread in flushes:
            thread.join(30)
    finally:
        controller.stop()
    assert len(box.subjects) == 2, box.subjects


def test_each_source_polls_at_its_interval_without_drift(tmp_path: Path, snapshot_url: str):
    settings = load_settings(write_config(tmp_path, snapshot_sources(snapshot_url)))
    intervals = {s.name: timedelta(minutes=s.interval_minutes) for s in settings.sources}
    jobs = [j for j in build_scheduler(settings).get_jobs() if j.id.startswith("source:")]

    assert {j.name for j in jobs} == set(intervals)
    for job in jobs:
        times = [job.trigger.get_next_fire_time(None, datetime.now(UTC))]
        for _ in range(5):
            times.append(job.trigger.get_next_fire_time(times[-1], times[-1]))
        assert {b - a for a, b in zip(times, times[1:], strict=False)} == {intervals[job.name]}


# ---- the job pool: a thread per host, at most


def _run_threads(settings: Any, caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    """source -> the thread that ran it in one `run_once` (from its run line)."""
    from monitor.pipeline import run_once
    from monitor.store import Store

    store = Store(settings.db_path)
    try:
        with caplog.at_level(logging.INFO, logger="monitor"):
            run_once(settings, store)
    finally:
        store.close()
    return {r.source: r.threadName for r in caplog.records if getattr(r, "source", None) and r.new}


def test_sources_on_one_host_run_on_one_thread(
    tmp_path: Path, snapshot_url: str, caplog: pytest.LogCaptureFixture
):
    """Two threads on one host would only take turns at its lock (and contend)."""
    config = write_config(tmp_path, snapshot_sources(snapshot_url), fetch="max_workers = 4\n")
    settings = load_settings(config)
    assert useful_threads(settings.sources, 4) == 1
    assert _run_threads(settings, caplog) == {"thaigov": "MainThread", "dla-asean": "MainThread"}


def test_sources_on_two_hosts_run_on_two_threads(
    tmp_path: Path, snapshot_url: str, caplog: pytest.LogCaptureFixture
):
    with SnapshotServer(SNAPSHOT) as other:
        sources = snapshot_sources(snapshot_url).replace(
            f"{snapshot_url}/rss", f"{other.base_url}/rss"
        )
        settings = load_settings(write_config(tmp_path, sources, fetch="max_workers = 4\n"))
        assert useful_threads(settings.sources, 4) == 2
        assert useful_threads(settings.sources, 1) == 1
        threads = _run_threads(settings, caplog)
    assert set(threads) == {"thaigov", "dla-asean"}
    assert len(set(threads.values())) == 2 and "MainThread" not in threads.values()


def test_hosts_are_told_apart_as_the_fetcher_does(tmp_path: Path):
    """Scheme and port make another host (another lock); letter case does not."""
    urls = ("http://a.go.th/1", "http://A.go.th/2", "https://a.go.th/3", "http://a.go.th:8080/4")
    sources = "".join(f'[sources.s{i}]\nkind = "rss"\nurl = "{u}"\n' for i, u in enumerate(urls))
    settings = load_settings(write_config(tmp_path, sources))
    assert useful_threads(settings.sources, 10) == 3
    assert useful_threads((), 10) == 1


# ---- alerts: sent by the alerts job, at once, each once


class CountingMailBox(SlowMailBox):
    """SlowMailBox that also says when each message arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        reply = await super().handle_DATA(server, session, envelope)
        with self.arrived:
            self.arrived.notify_all()
        return reply

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.subjects) >= count, timeout)


def test_the_alerts_job_sends_what_source_jobs_queued_at_once_and_once(
    tmp_path: Path, snapshot_url: str
):
    """Source jobs send nothing; the alerts job, woken by them, sends every alert once,
    seconds after (not at its next minute), also what was queued while it was sending."""
    from aiosmtpd.controller import Controller

    from monitor.schedule import AlertsJob, SourceJobs

    box = CountingMailBox()  # 0.2 s a message: the second source's run ends mid-flush
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    settings = load_settings(write_config(tmp_path, snapshot_sources(snapshot_url), port))
    alerts = AlertsJob(settings)
    jobs = SourceJobs(settings, on_alerts=alerts.wake)
    alerts.start()
    try:
        started = time.monotonic()
        first, second = (jobs.run(source) for source in settings.sources)
        matched = sum(s.matched for r in (first, second) for s in r.sources)
        assert matched >= 3 and not first.deliveries and not second.deliveries
        assert box.wait_for(matched, timeout=30), box.subjects
        assert time.monotonic() - started < 30, "woken, not left for the minute's run"
    finally:
        alerts.stop()  # the service's last flush: nothing is left to send
        controller.stop()
    assert len(box.subjects) == matched
    conn = sqlite3.connect(settings.db_path)
    try:
        rows = conn.execute("SELECT status, attempts, count(*) FROM outbox GROUP BY 1, 2")
        assert rows.fetchall() == [("sent", 1, matched)]  # one attempt each
    finally:
        conn.close()


def test_the_service_does_not_import_what_only_tables_need():
    """tabulate and wcwidth are for the CLI's tables; `monitor serve` prints none."""
    code = (
        "import sys; from monitor import cli, pipeline, schedule; "
        "print([m for m in ('tabulate', 'wcwidth') if m in sys.modules])"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"
