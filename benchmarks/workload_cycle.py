"""Benchmark whole monitor cycles against the shared loopback workload server.

Starts `../shared/bench/workload_site.py` on a free 127.0.0.1 port (N sources, an RSS
feed and a listing per source, 20 article pages of 30-60 KB each), writes a temporary
config with one source per workload source, and measures `monitor.pipeline.run_once`:

- first cycle (fresh database): every feed or listing and every article page;
- unchanged cycle: feeds/listings answer 304 to our conditional GET;
- after `/_control/publish` on a few sources: a cycle that must find exactly those.

CPU seconds are this process's own (`time.process_time`); the server runs in another
process. Each run is a fresh process (so peak RSS is per run) with a fresh database.
Pythainlp dictionaries and imports are loaded before the first cycle and reported
apart ("start-up"), as a service pays them once. Baseline in the same run: a naive
monitor (requests + BeautifulSoup(lxml)) that fetches every listing and every article
in every cycle, without conditional GET. Medians of --runs runs.

    python benchmarks/workload_cycle.py --n 200 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from multiprocessing import get_context
from pathlib import Path
from queue import SimpleQueue
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared"
SERVER = Path("bench") / "workload_site.py"
# Figures of /work/shared/bench/README.md (same workload, this kind of machine, n=200).
REFERENCE = (
    ("lemon24/reader 3.26 (feeds only), README", 2.61, 1.40, 42),
    ("changedetection.io 0.60.10 (listings only), README", 8.52, 6.05, 112),
    ("naive requests + BeautifulSoup, README", 33.3, 167, 53),
)
# Article pages of workload_site.py: <h1 class="title">, <div class="meta">date · category,
# <div class="content"><p>... inside <article>; listing: <ul class="news-list"> of a.news-link.
ARTICLE_RULES = """
[sources.{name}.article]
title = "h1.title"
date = "div.meta"
body = "div.content"
"""
SOURCE_RSS = """
[sources.{name}]
kind = "rss"
url = "{base}/feed/{i}.xml"
fetch_articles = true
"""
SOURCE_HTML = """
[sources.{name}]
kind = "html"
url = "{base}/list/{i}.html"
max_pages = 1

[sources.{name}.listing]
container = "ul.news-list"
links = "a.news-link"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


class WorkloadServer:
    """The shared workload server in a child process, on loopback, stopped on exit."""

    def __init__(self, script: Path, n: int, log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log_path.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, str(script), "--host", "127.0.0.1", "--port", str(self.port),
             "--n", str(n)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"workload server exited with {self.process.returncode}")
            try:
                get_json(f"{self.base}/_control/health", timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"workload server not ready after {timeout:g} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# ---------------------------------------------------------------- our monitor


def _fetch_keys(workers: int) -> str:
    """`min_delay_seconds = 0` and `max_workers` where the config has them.

    Every workload source is on 127.0.0.1, so a per-host delay (1 s by default, right
    for real sites) would turn a cycle into 4,000+ s of sleeping; the README's figures
    were measured without one.
    """
    from dataclasses import fields

    from monitor.config import FetchSettings

    names = {f.name for f in fields(FetchSettings)}
    keys = "min_delay_seconds = 0\n" if "min_delay_seconds" in names else ""
    return keys + (f"max_workers = {workers}\n" if "max_workers" in names else "")


def write_config(folder: Path, base: str, n: int, kind: str, workers: int) -> Path:
    """A config with one source per workload source, the repository's topics and presets."""
    template = SOURCE_HTML if kind == "html" else SOURCE_RSS
    if kind == "feed":  # the feed's own text is the item: no article page is fetched
        template = template.replace("fetch_articles = true", "fetch_articles = false")
    sources = "".join(
        # every minute (`--mode scheduled`), a key of the source's own table, right below
        # its header (the HTML template opens a [.listing] sub-table after its keys)
        template.format(name=f"w{i:04d}", base=base, i=i).replace(
            "]\n", "]\ninterval_minutes = 1\n", 1
        )
        + ARTICLE_RULES.format(name=f"w{i:04d}")
        for i in range(n)
    )
    templates = REPO / "config" / "templates"  # alert templates, where the config has them
    path = folder / "monitor.toml"
    path.write_text(
        f'data_dir = "{folder / "data"}"\n'
        f'topics_file = "{REPO / "config" / "topics.toml"}"\n'
        f'presets_file = "{REPO / "config" / "presets.toml"}"\n'
        + (f'templates_dir = "{templates}"\n' if templates.is_dir() else "")
        + "\n[fetch]\ntimeout_seconds = 10\n"
        + _fetch_keys(workers)
        + sources,
        encoding="utf-8",
    )
    return path


# Stages of a cycle: the functions each stage calls, wrapped in the benchmark process
# (monitor/ is not changed). Time in no stage ("other") is the pipeline's own glue,
# logging, the job threads and the alert flush.
STAGES: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    ("fetch (HTTP, robots, decode)", (("monitor.fetch", "Fetcher", "get"),)),
    ("parse feed / listing", (("monitor.extract", "", "parse_page"),)),
    ("extract", (("monitor.extract", "", "extract_article"),
                 ("monitor.extract", "", "item_from_entry"))),
    ("dedup (hash, signature, lookups)", (
        ("monitor.dedup", "", "content_hash"), ("monitor.dedup", "", "signature"),
        ("monitor.dedup", "", "band_keys"), ("monitor.dedup", "", "classify"),
        ("monitor.store", "Store", "id_for_url"), ("monitor.store", "Store", "id_for_hash"),
        ("monitor.store", "Store", "near_candidates"), ("monitor.store", "Store", "known_urls"),
    )),
    ("match", (("monitor.pipeline", "", "match"), ("monitor.pipeline", "", "route"))),
    ("store (items, FTS, state)", tuple(("monitor.store", "Store", name) for name in (
        "save_item", "add_alias", "validators", "save_validators", "walk_cursor",
        "save_walk_cursor", "clear_walk_cursor", "source_state", "record_run", "__init__",
        "flush_search",
    ))),
    ("  of which FTS segmentation", (("monitor.store_index", "", "search_text"),
                                     ("monitor.store_items", "", "search_text"))),
    ("  of which FTS writes", (("monitor.store_index", "SearchQueue", "flush"),)),
    ("alert outbox flush", (("monitor.alert", "", "send_pending"),)),
    ("other", ()),
)  # fmt: skip


def _stage_clock() -> Any:
    """A StageClock (benchmarks/bulk_pipeline.py) around the monitor's stage functions."""
    import importlib

    from bulk_pipeline import StageClock

    clock = StageClock(tuple(name for name, _ in STAGES))
    for stage, targets in STAGES:
        for module, owner, attr in targets:
            target = importlib.import_module(module)
            target = getattr(target, owner) if owner else target
            if hasattr(target, attr):  # where this checkout has it (a baseline may not)
                clock.wrap(target, attr, stage)
    return clock


def _cycle(cycle: Callable[[], list[Any]], clock: Any) -> dict[str, Any]:
    cpu, wall = time.process_time(), time.perf_counter()
    reports = cycle()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    out = {
        "cpu": cpu,
        "wall": wall,
        "found": sum(s.found for s in reports),
        "new": sum(s.new for s in reports),
        "matched": sum(s.matched for s in reports),
        "not_modified": sum(bool(s.not_modified) for s in reports),
        "errors": [s.error for s in reports if s.error][:3],
        "n_errors": sum(bool(s.error) for s in reports),
        "problems": sum(len(s.problems) for s in reports),
        "problem_samples": [p for s in reports for p in s.problems][:3],
    }
    if clock is not None:
        out["stages"] = dict(clock.cpu)
        out["stages"]["other"] = cpu - sum(
            v for k, v in clock.cpu.items() if k != "other" and not k.startswith("  ")
        )
        clock.reset()
    return out


def _record_job_reports(jobs_class: Any) -> SimpleQueue[Any]:
    """Have every `SourceJobs.run` in this process also put its report in the queue
    returned (monitor/ itself is not changed)."""
    ran: SimpleQueue[Any] = SimpleQueue()
    run = jobs_class.run

    def recorded(self: Any, source: Any, now: Any = None) -> Any:
        report = run(self, source, now)
        ran.put(report)
        return report

    jobs_class.run = recorded
    return ran


def _log_like_the_cli() -> None:
    """One INFO line per source per run, formatted as the CLI does, written nowhere."""
    from monitor.cli_common import setup_logging

    stderr, sys.stderr = sys.stderr, open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    try:
        setup_logging(True)
    finally:
        sys.stderr = stderr


def ours(
    base: str, n: int, kind: str, publish: list[int], workers: int, mode: str, stages: bool
) -> dict[str, Any]:
    """First cycle, unchanged cycle and (optionally) a cycle after publishing, in one process.

    `service`: a cycle is what `monitor serve` does when every source is due, each
    source's scheduler job (`schedule.SourceJobs.run`) on a pool of the scheduler's
    size (`pipeline.useful_threads`), with the jobs' shared Fetcher and per-thread
    store connections kept from one cycle to the next. `scheduled`: `monitor serve`'s
    own scheduler (`schedule.build_scheduler`, every source every minute): the first
    cycle runs every source at once, later ones each at its own offset, as the service
    spreads them; a cycle's CPU is the whole process's from the end of the last cycle
    (or the start) until every source ran again, idle time and scheduler included (no
    channel is configured: the alerts job would have nothing to send).
    `once`: `pipeline.run_once` over all sources with a new Fetcher each cycle, as each
    `monitor run --once` does.
    """
    cpu, wall = time.process_time(), time.perf_counter()
    sys.path.insert(0, str(REPO))
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from monitor.config import load_settings
    from monitor.match import match
    from monitor.pipeline import run_once, useful_threads
    from monitor.schedule import JOB_THREADS, SourceJobs, build_scheduler
    from monitor.store import Store, search_text

    _log_like_the_cli()
    clock = _stage_clock() if stages else None
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="workload-cycle-") as tmp:
        settings = load_settings(write_config(Path(tmp), base, n, kind, workers), env={})
        store = Store(settings.db_path)
        match("ไซเบอร์", "ความมั่นคงปลอดภัยไซเบอร์", settings.rules)  # load dictionaries
        search_text("ความมั่นคงปลอดภัยไซเบอร์")
        if mode == "service":
            jobs = SourceJobs(settings)
            pool = ThreadPoolExecutor(useful_threads(settings.sources, JOB_THREADS))

            def cycle() -> list[Any]:
                return [s for r in pool.map(jobs.run, settings.sources) for s in r.sources]

        elif mode == "scheduled":
            ran = _record_job_reports(SourceJobs)
            scheduler = build_scheduler(settings)

            def cycle() -> list[Any]:
                if not scheduler.running:
                    threading.Thread(target=scheduler.start, daemon=True).start()
                reports = [ran.get(timeout=600) for _ in settings.sources]
                return [s for r in reports for s in r.sources]

        else:

            def cycle() -> list[Any]:
                return list(run_once(settings, store, now=datetime.now(UTC)).sources)

        if clock is not None:
            clock.reset()
        out["startup_cpu"] = time.process_time() - cpu
        out["startup_wall"] = time.perf_counter() - wall
        out["rss_after_startup"] = peak_rss_mb()
        out["first"] = _cycle(cycle, clock)
        get_json(f"{base}/_control/reset")
        out["unchanged"] = _cycle(cycle, clock)
        out["unchanged_requests"] = get_json(f"{base}/_control/stats")["total"]
        out["peak_rss"] = peak_rss_mb()
        if publish:
            published = [
                rec
                for k in publish
                for rec in get_json(f"{base}/_control/publish?source={k}")["published"]
            ]
            out["after_publish"] = _cycle(cycle, clock)
            found = 0
            for rec in published:
                item_id = store.id_for_url(rec["article_url"])
                row = store.db.execute("SELECT title FROM items WHERE id = ?", [item_id])
                title = (row.fetchone() or [""])[0] if item_id is not None else ""
                found += title.strip() == rec["title"].strip()
            out["publish"] = {"expected": len(published), "found": found}
        if mode == "service":
            pool.shutdown()
        elif mode == "scheduled":
            scheduler.shutdown(wait=True)
        out["db_mb"] = sum(p.stat().st_size for p in Path(settings.db_path).parent.iterdir()) / 1e6
        store.close()
    return out


# ---------------------------------------------------------------- naive baseline


def naive(base: str, n: int, cycles: int = 2) -> dict[str, Any]:
    """requests + BeautifulSoup(lxml): every listing and every article, every cycle."""
    cpu, wall = time.process_time(), time.perf_counter()
    import requests
    from bs4 import BeautifulSoup

    sys.path.insert(0, str(REPO))
    from monitor.config import load_rules

    rules = load_rules(REPO / "config" / "topics.toml")
    keywords = [t.text for topic in rules.topics for t in topic.terms]
    out: dict[str, Any] = {
        "startup_cpu": time.process_time() - cpu,
        "startup_wall": time.perf_counter() - wall,
    }
    session = requests.Session()
    seen: dict[str, str] = {}
    for cycle in range(cycles):
        cpu, wall = time.process_time(), time.perf_counter()
        fetched = hits = 0
        for i in range(n):
            listing = BeautifulSoup(session.get(f"{base}/list/{i}.html", timeout=10).text, "lxml")
            for link in listing.select("ul.news-list a.news-link"):
                url = base + str(link["href"])
                page = BeautifulSoup(session.get(url, timeout=10).text, "lxml")
                title = page.select_one("h1.title")
                body = page.select_one("div.content")
                text = (title.get_text(" ", strip=True) if title else "") + "\n"
                text += body.get_text("\n", strip=True) if body else ""
                hits += any(k in text.casefold() for k in keywords)
                seen[url] = text
                fetched += 1
        out["first" if cycle == 0 else "unchanged"] = {
            "cpu": time.process_time() - cpu,
            "wall": time.perf_counter() - wall,
            "found": fetched,
            "new": fetched if cycle == 0 else 0,
            "matched": hits,
        }
    out["peak_rss"] = peak_rss_mb()
    return out


# ---------------------------------------------------------------- runner


def _child(conn: Any, fn: Callable[..., dict[str, Any]], args: tuple[Any, ...]) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as exc:  # report anything to the parent, then exit
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def in_fresh_process(
    fn: Callable[..., dict[str, Any]], args: tuple[Any, ...], timeout: float
) -> dict[str, Any]:
    """Run fn(*args) in a new process; kill it after `timeout` seconds."""
    ctx = get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(child, fn, args))
    process.start()
    child.close()
    if not parent.poll(timeout):
        process.kill()
        process.join()
        return {"error": f"{fn.__name__} run exceeded {timeout:g} s and was stopped"}
    status, value = parent.recv()
    process.join()
    return value if status == "ok" else {"error": value}


def _median(runs: list[dict[str, Any]], key: Callable[[dict[str, Any]], float]) -> float:
    return statistics.median(key(r) for r in runs)


def _stage_table(runs: list[dict[str, Any]], cycle: str, per: str, count: int) -> None:
    """CPU per stage of one cycle, in ms per `per` (medians of the runs)."""
    total = _median(runs, lambda r: r[cycle]["cpu"])
    print(f"\nours, {cycle} cycle: CPU per stage, ms per {per} (median of {len(runs)} runs)")
    print("| stage | CPU ms | share |")
    print("|---|---|---|")
    for stage in runs[0][cycle]["stages"]:
        cpu = _median(runs, lambda r, s=stage: r[cycle]["stages"][s])
        print(f"| {stage} | {1000 * cpu / count:.3f} | {100 * cpu / total:.0f}% |")
    print(f"| total | {1000 * total / count:.3f} | 100% |")


KIND_LABELS = {
    "rss": "rss, articles fetched + extracted",
    "feed": "rss, feeds only",
    "html": "html, articles fetched + extracted",
}
MODE_LABELS = {"service": "serve jobs", "scheduled": "serve, as scheduled", "once": "run --once"}


def report(results: dict[str, list[dict[str, Any]]], n: int, kind: str, mode: str) -> None:
    print()
    print(f"{n} sources x 20 articles; medians of {len(next(iter(results.values())))} runs")
    print(
        "| monitor | first cycle CPU s | first cycle wall s | unchanged cycle CPU ms per source "
        "| unchanged wall ms per source | start-up CPU s | peak RSS MB | conditional GET |"
    )
    print("|---|---|---|---|---|---|---|---|")
    labels = {
        "ours": f"thai-news-monitor {MODE_LABELS[mode]} ({KIND_LABELS[kind]})",
        "naive": "naive requests + BeautifulSoup(lxml), measured here",
    }
    for name, runs in results.items():
        print(
            f"| {labels[name]} | {_median(runs, lambda r: r['first']['cpu']):.2f} "
            f"| {_median(runs, lambda r: r['first']['wall']):.2f} "
            f"| {_median(runs, lambda r: 1000 * r['unchanged']['cpu'] / n):.2f} "
            f"| {_median(runs, lambda r: 1000 * r['unchanged']['wall'] / n):.2f} "
            f"| {_median(runs, lambda r: r['startup_cpu']):.2f} "
            f"| {_median(runs, lambda r: r['peak_rss']):.0f} "
            f"| {'yes' if name == 'ours' else 'no'} |"
        )
    for label, first, unchanged, rss in REFERENCE:
        print(f"| {label} | {first} | | {unchanged} | | | {rss} | |")
    if "ours" in results:
        runs = results["ours"]
        last = runs[-1]
        print()
        print(
            f"ours, first cycle: {last['first']['found']} entries, {last['first']['new']} new, "
            f"{last['first']['matched']} matched, {last['first']['n_errors']} source errors, "
            f"{last['first']['problems']} item problems; per new item: "
            f"{_median(runs, lambda r: 1000 * r['first']['cpu'] / max(1, r['first']['new'])):.1f}"
            " ms CPU"
        )
        req = last["unchanged_requests"]
        print(
            f"ours, unchanged cycle: {last['unchanged']['not_modified']}/{n} sources not "
            f"modified; server saw {req['requests']} requests ({req['304']} x 304, "
            f"{req['conditional']} conditional, {req['bytes']} body bytes); "
            f"new {last['unchanged']['new']}"
        )
        if last["first"]["errors"] or last["first"]["problem_samples"]:
            print(f"first cycle errors: {last['first']['errors']}")
            print(f"first cycle problems: {last['first']['problem_samples']}")
        if "stages" in last["first"]:
            _stage_table(runs, "first", "new item", max(1, last["first"]["new"]))
            _stage_table(runs, "unchanged", "source", n)
        if "publish" in last:
            p, after = last["publish"], last["after_publish"]
            print(
                f"ours, after publishing on {p['expected']} sources: found {p['found']}/"
                f"{p['expected']} (new {after['new']}, cycle CPU {after['cpu']:.2f} s, "
                f"wall {after['wall']:.2f} s)"
            )
    if "naive" in results:
        runs = results["naive"]
        per = _median(runs, lambda r: 1000 * r["first"]["cpu"] / max(1, r["first"]["found"]))
        print(f"naive: {runs[-1]['first']['found']} articles per cycle, {per:.1f} ms CPU each")
    if "ours" in results and "naive" in results:
        o, v = results["ours"], results["naive"]
        first = _median(v, lambda r: r["first"]["cpu"]) / _median(o, lambda r: r["first"]["cpu"])
        same = _median(v, lambda r: r["unchanged"]["cpu"]) / _median(
            o, lambda r: r["unchanged"]["cpu"]
        )
        print(f"naive / ours CPU: first cycle {first:.2f}x, unchanged cycle {same:.1f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Loopback only. The server and temporary files are removed at the end.",
    )
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="folder with bench/, corpus/ (default: %(default)s)")  # fmt: skip
    parser.add_argument("--n", type=int, default=200, help="workload sources (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="runs per monitor (default 3)")
    parser.add_argument("--kind", choices=("rss", "feed", "html"), default="rss",
                        help="our sources: feeds with their articles fetched (default rss), "
                        "feeds only (`fetch_articles = false`) or listing pages")  # fmt: skip
    parser.add_argument("--publish", type=int, default=5, metavar="K",
                        help="sources to publish on in the last run (default 5)")  # fmt: skip
    parser.add_argument("--mode", choices=("service", "scheduled", "once"), default="service",
                        help="our cycle: each source's `monitor serve` job on the scheduler's "
                        "threads, all at once (default); the service's own scheduler, sources "
                        "spread within each minute; or `monitor run --once`")  # fmt: skip
    parser.add_argument("--workers", type=int, default=1,
                        help="our [fetch] max_workers, for --mode once (default 1)")  # fmt: skip
    parser.add_argument("--stages", action="store_true",
                        help="also split our CPU time per pipeline stage")  # fmt: skip
    parser.add_argument("--only", choices=("ours", "naive"), help="run one monitor only")
    parser.add_argument("--run-timeout", type=float, default=900, metavar="S",
                        help="stop a run that takes longer (default %(default)s s)")  # fmt: skip
    args = parser.parse_args(argv)
    script = args.shared / SERVER
    if not script.is_file():
        print(f"error: {script} not found; pass --shared PATH (the folder with bench/)",
              file=sys.stderr)  # fmt: skip
        return 2
    names = [args.only] if args.only else ["ours", "naive"]
    publish = sorted({(k * args.n) // max(1, args.publish) for k in range(args.publish)})
    began = time.monotonic()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the server
    tmp = Path(tempfile.mkdtemp(prefix="workload-server-"))
    server = WorkloadServer(script, args.n, tmp / "server.log")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    try:
        server.wait_ready(timeout=120)
        print(f"workload server on {server.base} (pid {server.process.pid}), n={args.n}")
        stop = False
        for run in range(args.runs):
            if stop:
                break
            for name in names:
                if name == "ours":
                    last = run == args.runs - 1
                    fn_args: tuple[Any, ...] = (
                        server.base, args.n, args.kind, publish if last else [], args.workers,
                        args.mode, args.stages,
                    )  # fmt: skip
                    r = in_fresh_process(ours, fn_args, args.run_timeout)
                else:
                    r = in_fresh_process(naive, (server.base, args.n), args.run_timeout)
                if "error" in r:
                    print(f"run {run + 1} {name} failed: {r['error']}", flush=True)
                    stop = True
                    break
                results[name].append(r)
                print(
                    f"run {run + 1}/{args.runs} {name:5}: first cycle {r['first']['cpu']:.2f} s "
                    f"CPU / {r['first']['wall']:.2f} s wall, unchanged "
                    f"{r['unchanged']['cpu']:.2f} s CPU / {r['unchanged']['wall']:.2f} s wall, "
                    f"peak RSS {r['peak_rss']:.0f} MB",
                    flush=True,
                )
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    results = {name: runs for name, runs in results.items() if runs}
    if results:
        report(results, args.n, args.kind, args.mode)
    print(
        f"\nwall time of the benchmark: {time.monotonic() - began:.0f} s; "
        f"load average at end: {os.getloadavg()[0]:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
