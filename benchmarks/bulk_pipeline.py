"""Benchmark the per-item stages on the whole thaigov corpus, without HTTP.

Each corpus article is rendered in memory as a page in the legacy thaigov layout
(the shape `tools/build_snapshot.py` writes for the demo snapshot) and run through
what `pipeline._process` does for a new item:

    extract_article (thaigov-legacy rules) -> dedup.content_hash -> store lookups
    (id_for_url / id_for_hash) -> dedup.signature + band_keys + near_candidates ->
    dedup.classify -> match(shipped topics) -> route -> Store.save_item (row + URL +
    FTS row of segmented text + signature and band keys + outbox rows), the items of a
    listing page (`PAGE_ITEMS`) in one transaction, as the pipeline stores them

Baseline in the same run (naive pipeline): BeautifulSoup(html, "lxml") per page for
title and body, pythainlp `word_tokenize(engine="newmm")` of the whole article, then
a keyword look-up on the tokens, then one INSERT + commit per row into a plain table.

Each run is a fresh process (so peak RSS is per pipeline) with a fresh SQLite file
in a temporary folder; dictionary loading happens before the clock starts. Rendering
pages and reading the corpus are not timed. Runs alternate ours / naive; medians are
printed. Optional: cProfile of our stages (top functions by cumulative time) and a
tracemalloc pass (peak of Python allocations, dictionary load included).

    python benchmarks/bulk_pipeline.py --limit 2000 --runs 3 --profile 1000
    python benchmarks/bulk_pipeline.py --limit 2000 --runs 3 --only ours --only pooled

`pooled` is ours with the CPU stages on two `monitor.bulk` worker processes, as
`monitor backfill --workers 2` runs them (see `Pooled`).
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import importlib.util
import io
import json
import os
import pstats
import resource
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from itertools import islice
from multiprocessing import get_context
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = Path("corpus") / "thaigov-articles.jsonl.gz"
TARGET_RATE = 500.0  # articles/s per core, what the project wants
TARGET_SPEEDUP = 5.0  # times the naive pipeline
TARGET_POOLED = 1.7  # wall-clock speed of `pooled` (two workers) over `ours` (issue 16)
URL = "https://www.thaigov.go.th/news/contents/details/{id}"
PAGE_ITEMS = 20  # articles per listing page (thaigov's): the pipeline commits once a page


def _repo_on_path() -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def _snapshot_tool() -> ModuleType:
    """`tools/build_snapshot.py`, imported by path, so pages keep the demo's exact shape."""
    path = REPO / "tools" / "build_snapshot.py"
    spec = importlib.util.spec_from_file_location("_build_snapshot", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def pages(corpus: Path, limit: int | None) -> Iterator[tuple[str, str]]:
    """(url, html) per corpus article, rendered on the fly (nothing written to disk)."""
    tool = _snapshot_tool()
    latest: list[Any] = []
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        for count, line in enumerate(f):
            if limit is not None and count >= limit:
                return
            row = json.loads(line)
            article = tool.from_row(row, "bench")
            views = 100 + int(row["id"]) % 9900
            yield URL.format(id=row["id"]), tool.article_page(article, views, latest, False)
            latest = [article, *latest[:5]]


def rss_mb() -> float:
    """Current resident set size of this process in MB (Linux /proc)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def listing_pages(articles: Iterator[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    """The articles in groups of PAGE_ITEMS, as a listing page brings them."""
    while batch := list(islice(articles, PAGE_ITEMS)):
        yield batch


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


# ---------------------------------------------------------------- our pipeline


class StageClock:
    """Inclusive wall and CPU time per stage, by wrapping the functions a stage calls.

    A call made while the same stage is already running (in the same thread) is not
    counted twice; sub-stages (names starting with "  ") are also inside their parent
    stage. CPU time is the calling thread's (`time.thread_time`), so stages run on
    several threads add up to the process's CPU time; it is what "per core" means and
    is not disturbed by other processes on the machine. Wall time also holds the
    waits for fsync (and, on threads, for locks and the GIL).
    """

    def __init__(self, stages: tuple[str, ...]) -> None:
        self.wall = dict.fromkeys(stages, 0.0)
        self.cpu = dict.fromkeys(stages, 0.0)
        self._local = threading.local()
        self._lock = threading.Lock()

    def wrap(self, owner: Any, attr: str, stage: str) -> None:
        original = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.measure(stage):
                return original(*args, **kwargs)

        setattr(owner, attr, timed)

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        running = self._local.__dict__.setdefault("running", [])
        if stage in running:
            yield
            return
        running.append(stage)
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            with self._lock:
                self.cpu[stage] += cpu
                self.wall[stage] += wall
            running.pop()

    def reset(self) -> None:
        with self._lock:
            for stage in self.wall:
                self.wall[stage] = self.cpu[stage] = 0.0


class Ours:
    """The monitor's own per-item stages, called as `pipeline._process` calls them.

    Public stage functions only (the pipeline's private helpers change often): the
    same calls, in the same order, with the same arguments. FTS segmentation inside
    `Store.save_item` is timed by wrapping `search_text` where the store calls it, in this process
    (monitor/ itself is not changed).
    """

    stages = (
        "extract", "hash", "dedup (lookups + signature + classify)", "match", "route", "store",
        "  of which FTS segmentation", "other",
    )  # fmt: skip

    def __init__(self, db_path: Path) -> None:
        _repo_on_path()
        from datetime import UTC, datetime

        import monitor.store as store_module
        import monitor.store_index as index_module
        import monitor.store_items as items_module
        from monitor import dedup, extract, match
        from monitor.config import load_settings
        from monitor.models import Entry, Fetched

        settings = load_settings(REPO / "config" / "demo.toml", env={})
        self.settings = settings
        self.source = settings.source("thaigov")
        self.now = datetime.now(UTC)
        self.store = store_module.Store(db_path)
        self.dedup, self.extract, self.match = dedup, extract, match.match
        self.entry, self.fetched = Entry, Fetched
        try:  # alert routing (channel -> due time) where the pipeline has it
            from monitor.route import route

            self.route: Callable[..., Any] | None = route
        except ImportError:
            self.route = None
        self.matched = self.duplicates = self.problems = self.new = 0
        self.clock = StageClock(self.stages)
        for module in (index_module, items_module):  # where Store.save_item calls it
            if hasattr(module, "search_text"):
                self.clock.wrap(module, "search_text", "  of which FTS segmentation")

    def warm_up(self) -> None:
        """Load the pythainlp dictionaries (~0.5 s each) before the clock starts."""
        from monitor.store import search_text

        self.match("ไซเบอร์ อาเซียน", "ความมั่นคงปลอดภัยไซเบอร์ของอาเซียน", self.settings.rules)
        search_text("ความมั่นคงปลอดภัยไซเบอร์")
        self.clock.reset()

    def process(self, url: str, html: str) -> None:
        clock, store, now, settings = self.clock, self.store, self.now, self.settings
        with clock.measure("extract"):
            page = self.fetched(url, url, 200, text=html, content_type="text/html; charset=utf-8")
            item = self.extract.extract_article(
                page, self.entry(url=url), self.source.name, self.source.article, now
            )
        with clock.measure("hash"):
            item = replace(item, content_hash=self.dedup.content_hash(item.title, item.body))
        with clock.measure("dedup (lookups + signature + classify)"):
            by_url, by_hash = store.id_for_url(item.url), store.id_for_hash(item.content_hash)
            if by_url is not None or by_hash is not None:
                verdict = self.dedup.classify(item, by_url, by_hash)
            else:  # a possibly new item: its signature finds near copies and is stored
                signature = self.dedup.signature(item.title, item.body)
                keys = self.dedup.band_keys(signature)
                near = [
                    (i, self.dedup.Signature.from_bytes(b)) for i, b in store.near_candidates(keys)
                ]
                verdict = self.dedup.classify(item, by_url, by_hash, near, sig=signature)
        if self.known(item, verdict):
            return
        with clock.measure("match"):
            result = self.match(item.title, item.body, settings.rules)
        with clock.measure("route"):
            if self.route is not None:
                alerts: Any = self.route(
                    result, {c.name: c.routing for c in settings.channels}, now
                )
            else:
                topics = set(result.matched_topics)
                alerts = [c.name for c in settings.channels if set(c.topics) & topics]
        with clock.measure("store"):
            store.save_item(item, result, alerts, now, signature.to_bytes(), keys)
        self.new += 1
        self.matched += bool(result.matched_topics)

    def known(self, item: Any, verdict: Any) -> bool:
        """Count the item's problems; a copy of a stored item adds its URL. True unless new."""
        self.problems += bool(item.problems)
        if verdict.kind == "new":
            return False
        if verdict.kind == "duplicate":
            with self.clock.measure("store"):
                self.store.add_alias(verdict.item_id or 0, item.url, item.source, self.now)
            self.duplicates += 1
        return True

    def process_page(self, batch: list[tuple[str, str]]) -> None:
        """A listing page's articles in one transaction, as the pipeline stores them."""
        with ExitStack() as page:
            with self.clock.measure("store"):
                page.enter_context(self.store.transaction())
            for url, html in batch:
                self.process(url, html)
            with self.clock.measure("store"):
                page.close()  # COMMIT

    def summary(self) -> dict[str, Any]:
        return {"matched": self.matched, "duplicates": self.duplicates,
                "problems": self.problems, "new": self.new}  # fmt: skip

    def flush(self) -> None:
        """Items waiting for the search index, indexed as a backfill's end indexes them
        (a store that batches them: `Store.flush_search`)."""
        if (flush_search := getattr(self.store, "flush_search", None)) is not None:
            with self.clock.measure("store"):
                flush_search()

    def close(self) -> None:
        self.store.close()


# ---------------------------------------------------------------- naive baseline


class Naive:
    """BeautifulSoup per page, newmm of the whole article, token look-up, commit per row."""

    stages = ("parse", "tokenize+lookup", "insert+commit", "other")

    def __init__(self, db_path: Path) -> None:
        import sqlite3

        from bs4 import BeautifulSoup
        from pythainlp.tokenize import word_tokenize

        _repo_on_path()
        from monitor.config import load_rules

        rules = load_rules(REPO / "config" / "topics.toml")
        self.keywords = {t.text for topic in rules.topics for t in topic.terms}
        self.soup, self.tokenize = BeautifulSoup, word_tokenize
        self.db = sqlite3.connect(db_path)
        self.db.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, url TEXT, title TEXT, body TEXT, "
            "keywords TEXT)"
        )
        self.db.commit()
        self.clock = StageClock(self.stages)
        self.matched = 0

    def warm_up(self) -> None:
        self.tokenize("ความมั่นคงปลอดภัยไซเบอร์", engine="newmm")
        self.soup("<p>x</p>", "lxml")

    def process(self, url: str, html: str) -> None:
        with self.clock.measure("parse"):
            soup = self.soup(html, "lxml")
            title = soup.title.get_text(strip=True) if soup.title else ""
            node = soup.select_one("div.border-normal")
            body = node.get_text("\n", strip=True) if node else soup.get_text("\n", strip=True)
        with self.clock.measure("tokenize+lookup"):
            tokens = self.tokenize(title + "\n" + body, engine="newmm")
            found = sorted({t.casefold() for t in tokens} & self.keywords)
        with self.clock.measure("insert+commit"):
            self.db.execute(
                "INSERT INTO items (url, title, body, keywords) VALUES (?, ?, ?, ?)",
                (url, title, body, ",".join(found)),
            )
            self.db.commit()
        self.matched += bool(found)

    def process_page(self, batch: list[tuple[str, str]]) -> None:
        for url, html in batch:
            self.process(url, html)

    def summary(self) -> dict[str, Any]:
        return {"matched": self.matched}

    def flush(self) -> None:
        """Nothing is held: each page is stored as it comes."""

    def close(self) -> None:
        self.db.close()


class Pooled(Ours):
    """Ours with the CPU stages on `monitor.bulk` workers, as `monitor backfill --workers 2`.

    This process submits each article page of a listing page to the pool, then takes the
    prepared items of the page before back in order inside that page's transaction and
    does the rest as `Ours` does (lookups, classify, route, store), as `pipeline._process`
    does with a Prepared item; the last page is stored by `flush`. Its stage clock sees
    this process only: "wait" is the time spent waiting for the workers. CPU time is
    this process's (with its pool threads) plus its worker processes' (from /proc), so
    "per core" compares with `Ours`.
    """

    workers = 2
    # FTS segmentation stays at 0 here (the workers split the words): listed because
    # `Ours.__init__` times the store's search_text on this clock.
    stages = (
        "submit", "wait", "dedup (lookups + classify)", "route", "store",
        "  of which FTS segmentation", "other",
    )  # fmt: skip

    def warm_up(self) -> None:
        """Start the workers (each loads the dictionary) before the clock starts."""
        from monitor import bulk

        self.bulk = bulk
        self.pool = bulk.Pool(self.workers, self.settings.rules)
        self.held: list[Any] = []  # the page whose items the workers are preparing
        probe = [("ไซเบอร์", "อาเซียน")] * self.workers
        for job in [self.pool.submit(bulk.match_rows, [(1, *p)]) for p in probe]:
            job.result()
        self.clock.reset()

    def process_page(self, batch: list[tuple[str, str]]) -> None:
        """Hand this page's articles to the workers, a few to a job (`bulk.Batch`), then
        store the page before, as `pipeline.walk_source` does with a pool (the workers
        never wait for the writer)."""
        clock, source = self.clock, self.source
        with clock.measure("submit"):
            jobs = self.bulk.Batch(self.pool, source.name, source.article, self.now)
            parts = [
                jobs.add(
                    self.entry(url=url),
                    self.fetched(url, url, 200, text=html, content_type="text/html; charset=utf-8"),
                )
                for url, html in batch
            ]
            jobs.flush()
        held, self.held = self.held, parts
        self.store_page(held)
        super().flush()  # the walk indexes each page's items for search as it stores them

    def flush(self) -> None:
        held, self.held = self.held, []
        self.store_page(held)
        super().flush()

    def store_page(self, jobs: list[Any]) -> None:
        if not jobs:
            return
        clock = self.clock
        with ExitStack() as page:
            with clock.measure("store"):
                page.enter_context(self.store.transaction())
            for job in jobs:
                with clock.measure("wait"):
                    ready = job.result()
                self.store_prepared(ready)
            with clock.measure("store"):
                page.close()  # COMMIT

    def store_prepared(self, ready: Any) -> None:
        clock, store, now, item = self.clock, self.store, self.now, ready.item
        with clock.measure("dedup (lookups + classify)"):
            by_url, by_hash = store.id_for_url(item.url), store.id_for_hash(item.content_hash)
            if by_url is not None or by_hash is not None:
                verdict = self.dedup.classify(item, by_url, by_hash)
            else:
                keys = list(ready.band_keys)
                near = [
                    (i, self.dedup.Signature.from_bytes(b)) for i, b in store.near_candidates(keys)
                ]
                verdict = self.dedup.classify(item, by_url, by_hash, near, sig=ready.signature)
        if self.known(item, verdict):
            return
        with clock.measure("route"):
            routing = {c.name: c.routing for c in self.settings.channels}
            alerts = self.route(ready.match, routing, now) if self.route else {}
        with clock.measure("store"):
            store.save_item(item, ready.match, alerts, now, ready.signature.to_bytes(), keys,
                            words=ready.words)  # fmt: skip
        self.new += 1
        self.matched += bool(ready.match.matched_topics)

    def close(self) -> None:
        self.pool.close()
        super().close()


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's live children, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


PIPELINES: dict[str, Callable[[Path], Any]] = {"ours": Ours, "pooled": Pooled, "naive": Naive}


def run_one(
    name: str,
    corpus: str,
    limit: int | None,
    max_seconds: float,
    db_dir: str | None,
    profile: bool = False,
    trace: bool = False,
) -> dict[str, Any]:
    """One run of one pipeline in this (fresh) process; returns timings and memory."""
    if trace:
        tracemalloc.start()
    with tempfile.TemporaryDirectory(prefix="bulk-bench-", dir=db_dir) as tmp:
        pipe = PIPELINES[name](Path(tmp) / f"{name}.db")
        pipe.warm_up()
        rss_ready = rss_mb()
        profiler = cProfile.Profile() if profile else None
        count, spent, cpu, deadline_hit = 0, 0.0, 0.0, False
        for batch in listing_pages(pages(Path(corpus), limit)):
            started, cpu_started = time.perf_counter(), time.process_time() + children_cpu()
            if profiler:
                profiler.enable()
            pipe.process_page(batch)
            if profiler:
                profiler.disable()
            spent += time.perf_counter() - started
            cpu += time.process_time() + children_cpu() - cpu_started
            count += len(batch)
            if spent > max_seconds:
                deadline_hit = True
                break
        started, cpu_started = time.perf_counter(), time.process_time() + children_cpu()
        pipe.flush()  # the page a pipeline still holds
        spent += time.perf_counter() - started
        cpu += time.process_time() + children_cpu() - cpu_started
        clock, skip = pipe.clock, ("other", "  ")  # "other": per-item time in no stage
        clock.wall["other"] = spent - sum(
            v for k, v in clock.wall.items() if not k.startswith(skip)
        )
        clock.cpu["other"] = cpu - sum(v for k, v in clock.cpu.items() if not k.startswith(skip))
        db_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
        pipe.close()
    result = {
        "name": name,
        "count": count,
        "seconds": spent,
        "cpu": cpu,
        "wall": dict(pipe.clock.wall),
        "cpu_stages": dict(pipe.clock.cpu),
        "summary": pipe.summary(),
        "rss_ready_mb": rss_ready,
        "peak_rss_mb": peak_rss_mb(),
        "db_mb": db_mb,
        "deadline_hit": deadline_hit,
    }
    if trace:
        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(25)
        result["profile"] = _trim_profile(out.getvalue())
    return result


def _trim_profile(text: str) -> str:
    """Keep pstats' table, with paths shortened to something readable."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    repo = str(REPO) + os.sep
    site = [p for p in sys.path if p.endswith("site-packages")]
    out = []
    for line in lines[start:]:
        line = line.replace(repo, "")
        for prefix in site:
            line = line.replace(prefix + os.sep, "")
        out.append(line)
    return "\n".join(out).rstrip()


def in_fresh_process(*args: Any) -> dict[str, Any]:
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(run_one, *args).result()


# ---------------------------------------------------------------- report


def _median(runs: list[dict[str, Any]], key: Callable[[dict[str, Any]], float]) -> float:
    return statistics.median(key(r) for r in runs)


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    print()
    print("| pipeline | articles | runs | articles/s per core (CPU) | CPU ms/article "
          "| articles/s wall | wall ms/article | peak RSS MB | RSS after warm-up MB "
          "| DB MB | matched |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    cpu_rate, wall_rate = {}, {}
    for name, runs in results.items():
        cpu_rate[name] = _median(runs, lambda r: r["count"] / r["cpu"])
        wall_rate[name] = _median(runs, lambda r: r["count"] / r["seconds"])
        print(
            f"| {name} | {runs[0]['count']} | {len(runs)} | {cpu_rate[name]:.1f} "
            f"| {1000 / cpu_rate[name]:.2f} | {wall_rate[name]:.1f} | {1000 / wall_rate[name]:.2f} "
            f"| {_median(runs, lambda r: r['peak_rss_mb']):.0f} "
            f"| {_median(runs, lambda r: r['rss_ready_mb']):.0f} "
            f"| {_median(runs, lambda r: r['db_mb']):.1f} | {runs[0]['summary']['matched']} |"
        )
    if "ours" in cpu_rate and "naive" in cpu_rate:
        ratio = cpu_rate["ours"] / cpu_rate["naive"]
        wall_ratio = wall_rate["ours"] / wall_rate["naive"]
        print()
        print(
            f"ours / naive: {ratio:.2f}x by CPU, {wall_ratio:.2f}x by wall time "
            f"(target >= {TARGET_SPEEDUP:g}x: {_verdict(ratio >= TARGET_SPEEDUP)}); "
            f"ours {cpu_rate['ours']:.0f} articles/s per core "
            f"(target >= {TARGET_RATE:g}: {_verdict(cpu_rate['ours'] >= TARGET_RATE)})"
        )
        print("wall time also holds fsync waits (ours commits once per page of 20 articles, "
              "naive once per article) and time other processes took")  # fmt: skip
    if "ours" in wall_rate and "pooled" in wall_rate:
        speedup = wall_rate["pooled"] / wall_rate["ours"]
        print(
            f"\npooled / ours: {speedup:.2f}x by wall time (target >= {TARGET_POOLED:g}x: "
            f"{_verdict(speedup >= TARGET_POOLED)}), {cpu_rate['ours'] / cpu_rate['pooled']:.2f}x "
            f"the CPU per article (its workers' included); load average now "
            f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
        )
    for name, runs in results.items():
        print()
        print(f"{name}: per-stage time per article, median of {len(runs)} runs")
        print("| stage | CPU ms | CPU share | wall ms |")
        print("|---|---|---|---|")
        cpu_total = _median(runs, lambda r: r["cpu"] / r["count"])
        for stage in runs[0]["wall"]:
            cpu = _median(runs, lambda r, s=stage: r["cpu_stages"][s] / r["count"])
            wall = _median(runs, lambda r, s=stage: r["wall"][s] / r["count"])
            print(
                f"| {stage} | {1000 * cpu:.3f} | {100 * cpu / cpu_total:.0f}% | {1000 * wall:.3f} |"
            )
        wall_total = _median(runs, lambda r: r["seconds"] / r["count"])
        print(f"| total | {1000 * cpu_total:.3f} | 100% | {1000 * wall_total:.3f} |")
        extra = runs[0]["summary"]
        if name == "ours":
            print(
                f"FTS segmentation is inside store. New items: {extra['new']}; items with a "
                f"recorded problem: {extra['problems']}; duplicates: {extra['duplicates']}"
            )
        if any(r["deadline_hit"] for r in runs):
            print(f"NOTE: --max-seconds {args.max_seconds:g} cut some runs short")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Loopback/offline only: no network. Temporary databases are removed.",
    )
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="folder holding corpus/ (default: %(default)s)")  # fmt: skip
    parser.add_argument("--limit", type=int, default=None,
                        help="articles per run (default: the whole corpus, 22,242)")  # fmt: skip
    parser.add_argument("--db-dir", default=None,
                        help="where the temporary databases go (default: the system temp folder; "
                        "/dev/shm takes fsync out of the measurement)")  # fmt: skip
    parser.add_argument("--runs", type=int, default=3, help="runs per pipeline (median)")
    parser.add_argument("--only", choices=sorted(PIPELINES), action="append",
                        help="run this pipeline only (repeat for several)")  # fmt: skip
    parser.add_argument("--max-seconds", type=float, default=600.0, metavar="S",
                        help="cap on timed seconds per run (default: %(default)s)")  # fmt: skip
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also cProfile ours on N articles; print the top 25")  # fmt: skip
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="N",
                        help="tracemalloc peak of each pipeline on N articles")  # fmt: skip
    args = parser.parse_args(argv)
    corpus = args.shared / CORPUS
    if not corpus.is_file():
        print(f"error: {corpus} not found; pass --shared PATH (the folder with corpus/)",
              file=sys.stderr)  # fmt: skip
        return 2
    names = args.only or list(PIPELINES)
    results: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    began = time.monotonic()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for run in range(args.runs):
        for name in names:
            try:
                r = in_fresh_process(name, str(corpus), args.limit, args.max_seconds, args.db_dir)
            except Exception as exc:  # report the runs that finished, then the failure
                print(f"run {run + 1} {name} failed: {type(exc).__name__}: {exc}", flush=True)
                if all(results.values()):
                    report(results, args)
                return 1
            results[name].append(r)
            print(
                f"run {run + 1}/{args.runs} {name:5}: {r['count']} articles in "
                f"{r['seconds']:.1f} s timed = {r['count'] / r['seconds']:.1f}/s, "
                f"peak RSS {r['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    report(results, args)
    if args.tracemalloc:
        print()
        print(f"tracemalloc peak of Python allocations, first {args.tracemalloc} articles "
              "(dictionary load included; separate run, tracing slows it down):")  # fmt: skip
        for name in names:
            r = in_fresh_process(
                name, str(corpus), args.tracemalloc, args.max_seconds, args.db_dir, False, True
            )
            print(
                f"  {name}: {r['tracemalloc_peak_mb']:.0f} MB (peak RSS {r['peak_rss_mb']:.0f} MB)"
            )
    if args.profile:
        r = in_fresh_process("ours", str(corpus), args.profile, args.max_seconds, args.db_dir, True)
        print()
        print(f"cProfile of our stages on {r['count']} articles, by cumulative time:")
        print(r["profile"])
    print(f"\nwall time of the benchmark: {time.monotonic() - began:.0f} s; "
          f"load average at end: {os.getloadavg()[0]:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
