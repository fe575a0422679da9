"""Alert latency of the running service: item published on a source -> email received.

    python benchmarks/alert_latency.py --n 50 --interval 60 --samples 6

Starts the shared workload server (`../shared/bench/workload_site.py`, N sources) and a
real SMTP server (aiosmtpd) on 127.0.0.1, stores the workload's initial items with one
`monitor run --once` and no alert channel (so the service starts in a steady state, not
with 20 x N alerts), then runs the real service, `python -m monitor serve --log-json`,
as a subprocess: every source on `interval_minutes = interval / 60`, one email channel.
It publishes one item on each of `--samples` distinct random sources at random moments
(`/_control/publish`) and measures, per item:

- notice: publish -> the workload server first served the feed (or listing) holding it
  (`/_control/stats`), i.e. the wait for the source's next poll;
- processing: that moment -> the email arrived at the SMTP server (article fetch,
  extract, dedup, match, store, outbox, SMTP);
- total: publish -> email. Target: interval + 2 s.

The workload's published items are corpus articles that almost never match the shipped
topics (counted and printed), so the service gets a benchmark topic file, written in the
temporary folder, whose catch-all terms (`*ที่*`, `*การ*`) match every one of them; the
benchmark checks that on the articles it is about to publish. (Such terms need no word
boundaries, so the matcher's newmm dictionary is never loaded: the service RSS printed
at the end is lower than with the shipped topics; see service_memory.py.)

Baseline in the same run, the same budget split: an ideal poller on a fixed grid of
`interval` seconds (each source's grid starts at its first run in the service), whose
wait is computed for the same publish moments; and a naive processing chain measured
here on the same items (requests + BeautifulSoup(lxml): feed or listing, article page,
title and body, one `smtplib` message to the same SMTP server). The observed poll period
per source (from the service's JSON log) shows where the wait goes.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from _workload import (
    DEFAULT_SHARED,
    REPO,
    Smtp,
    get_json,
    load_note,
    proc_rss_mb,
    workload_config,
    workload_server,
    workload_site,
)

ITEMS = 20  # workload_site.py's default items per source
BENCH_TOPICS = """# Benchmark only: the published items are ordinary government news.
[topics.bench]
label = "Bench"
threshold = 1

[topics.bench.terms]
"*ที่*" = 1
"*การ*" = 1
"""
SLACK_SECONDS = 2.0  # the target is interval + 2 s


@dataclass
class Sample:
    """One published item and what happened to it."""

    source: int
    published_at: float
    path: str  # /article/K/SEQ.html, found in the email body
    title: str
    first_listed: float | None = None  # feed or listing holding it first served
    first_article: float | None = None
    mailed: float | None = None
    naive_processing: float | None = None
    ideal_wait: float | None = None

    def notice(self) -> float | None:
        return None if self.first_listed is None else self.first_listed - self.published_at

    def processing(self) -> float | None:
        if self.first_listed is None or self.mailed is None:
            return None
        return self.mailed - self.first_listed

    def total(self) -> float | None:
        return None if self.mailed is None else self.mailed - self.published_at


def _check_topics(shared: Path, n: int, count: int, topics: Path) -> tuple[int, int, int]:
    """(bench matches, shipped matches, checked) over the articles the next publishes serve.

    workload_site.py hands out reserve articles in order, from index n x ITEMS on.
    """
    from monitor.config import load_rules
    from monitor.match import match

    site = workload_site(shared)
    articles = site.load_corpus(site.DEFAULT_CORPUS, n * ITEMS + 2000)
    upcoming = [articles[(n * ITEMS + j) % len(articles)] for j in range(count)]
    bench, shipped = load_rules(topics), load_rules(REPO / "config" / "topics.toml")
    ours = sum(bool(match(a["title"], a["body"], bench).matched_topics) for a in upcoming)
    theirs = sum(bool(match(a["title"], a["body"], shipped).matched_topics) for a in upcoming)
    return ours, theirs, len(upcoming)


def _log_runs(log: Path) -> dict[str, list[float]]:
    """Source name -> times (epoch s) of its run log lines, from the JSON log."""
    runs: dict[str, list[float]] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if "found" in record and "source" in record:
            when = datetime.fromisoformat(record["time"]).timestamp()
            runs.setdefault(record["source"], []).append(when)
    return runs


def _log_problems(log: Path) -> list[str]:
    """Error and warning lines of the service log (one line each)."""
    out = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith("{"):
            if line.strip():
                out.append(line.strip()[:200])
            continue
        record = json.loads(line)
        if record.get("error") or record.get("level") in ("warning", "error", "critical"):
            out.append(f"{record.get('level')}: {record.get('message', '')[:160]}")
    return out


def _wait_first_runs(log: Path, n: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with {process.returncode}; see {log}")
        if len(_log_runs(log)) >= n:
            return
        time.sleep(0.5)
    raise SystemExit(f"the service did not run all {n} sources within {timeout:g} s")


def _naive_processing(base: str, sample: Sample, kind: str, smtp: Smtp) -> float:
    """requests + BeautifulSoup + smtplib: listing -> article -> email, timed to receipt."""
    import smtplib
    from email.message import EmailMessage

    import requests
    from bs4 import BeautifulSoup

    started = time.time()
    with requests.Session() as session:
        listing_url = f"{base}/feed/{sample.source}.xml" if kind == "rss" else (
            f"{base}/list/{sample.source}.html"
        )  # fmt: skip
        parser = "xml" if kind == "rss" else "lxml"  # HTML parsers drop <link>'s text
        listing = BeautifulSoup(session.get(listing_url, timeout=10).text, parser)
        links = [a.get_text() for a in listing.find_all("link")] if kind == "rss" else [
            base + str(a["href"]) for a in listing.select("ul.news-list a.news-link")
        ]  # fmt: skip
        url = next(u for u in links if u.endswith(sample.path))
        page = BeautifulSoup(session.get(url, timeout=10).text, "lxml")
        title = page.select_one("h1.title")
        body = page.select_one("div.content")
    message = EmailMessage()
    message["Subject"] = "[naive] " + (title.get_text(strip=True) if title else "")
    message["From"], message["To"] = "naive@localhost", "analyst@localhost"
    message.set_content(f"{url}\n\n" + (body.get_text("\n", strip=True) if body else ""))
    count = len(smtp.mails)
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
        client.send_message(message)
    while len(smtp.mails) <= count:
        smtp.wait(1)
    return smtp.mails[-1].received_at - started


def _stop(process: subprocess.Popen[bytes], timeout: float = 60) -> float:
    """SIGTERM the service; seconds until it exited (killed after `timeout`)."""
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return time.monotonic() - began


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _stats(values: list[float | None]) -> tuple[str, str]:
    got = [v for v in values if v is not None]
    if not got:
        return "-", "-"
    return f"{statistics.median(got):.2f}", f"{max(got):.2f}"


def report(samples: list[Sample], interval: float, runs: dict[str, list[float]]) -> None:
    print()
    print("| source | published at s | notice s | processing s | total s | article fetched s "
          "| ideal poller wait s | naive processing s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    t0 = min(s.published_at for s in samples)
    for s in samples:
        article = None if s.first_article is None else s.first_article - s.published_at
        print(
            f"| w{s.source:04d} | {s.published_at - t0:.1f} | {_fmt(s.notice())} "
            f"| {_fmt(s.processing())} | {_fmt(s.total())} | {_fmt(article)} "
            f"| {_fmt(s.ideal_wait)} | {_fmt(s.naive_processing)} |"
        )
    naive_total = [
        None if s.ideal_wait is None or s.naive_processing is None
        else s.ideal_wait + s.naive_processing
        for s in samples
    ]  # fmt: skip
    rows = (
        ("publish -> first served (wait for the poll)", [s.notice() for s in samples],
         [s.ideal_wait for s in samples]),
        ("first served -> email received (processing)", [s.processing() for s in samples],
         [s.naive_processing for s in samples]),
        ("publish -> email received (total)", [s.total() for s in samples], naive_total),
    )  # fmt: skip
    print()
    print(f"{len(samples)} samples; baseline: ideal fixed {interval:g} s poller + naive "
          "requests/BeautifulSoup/smtplib processing")  # fmt: skip
    print("| stage | ours median s | ours max s | baseline median s | baseline max s |")
    print("|---|---|---|---|---|")
    for label, ours, base in rows:
        print(f"| {label} | {' | '.join(_stats(ours))} | {' | '.join(_stats(base))} |")
    totals = [s.total() for s in samples]
    target = interval + SLACK_SECONDS
    missing = sum(t is None for t in totals)
    late = sum(t is not None and t > target for t in totals)
    print(
        f"\ntarget: publish -> email <= interval + {SLACK_SECONDS:g} s = {target:g} s; "
        f"{len(samples) - late - missing}/{len(samples)} met it, {late} late, "
        f"{missing} never alerted"
    )
    periods = [b - a for times in runs.values() for a, b in zip(times, times[1:], strict=False)]
    if len(periods) >= 2:
        cuts = statistics.quantiles(periods, n=10, method="inclusive")
        print(
            f"poll period per source, observed ({len(periods)} gaps between runs of one "
            f"source): median {statistics.median(periods):.1f} s, min {min(periods):.1f}, "
            f"p90 {cuts[-1]:.1f}, max {max(periods):.1f} (configured interval {interval:g} s)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="folder with bench/ and corpus/ (default: %(default)s)")  # fmt: skip
    parser.add_argument("--n", type=int, default=50, help="sources (default 50)")
    parser.add_argument("--interval", type=float, default=60,
                        help="seconds between polls of a source, >= 60 (default 60)")  # fmt: skip
    parser.add_argument("--samples", type=int, default=6, help="items published (default 6)")
    parser.add_argument("--kind", choices=("rss", "html"), default="rss",
                        help="sources are feeds or listing pages (default rss)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    args = parser.parse_args(argv)
    if args.interval < 60:
        parser.error("--interval: interval_minutes is at least 1 in the config")
    if not 1 <= args.samples <= args.n:
        parser.error("--samples must be between 1 and --n")
    rng = random.Random(args.seed)
    began = time.monotonic()
    print(f"start: {load_note()}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` blocks clean up
    with (
        tempfile.TemporaryDirectory(prefix="alert-latency-") as tmp_name,
        workload_server(args.shared, args.n) as server,
        Smtp() as smtp,
    ):
        tmp = Path(tmp_name)
        topics = tmp / "bench-topics.toml"
        topics.write_text(BENCH_TOPICS, encoding="utf-8")
        ours, shipped, checked = _check_topics(args.shared, args.n, args.samples, topics)
        print(
            f"workload {server.base}: {args.n} sources ({args.kind}), interval {args.interval:g}"
            f" s; the {checked} items to be published match the shipped topics: {shipped}, "
            f"the benchmark topic ({topics.name}): {ours}"
        )
        common = {"kind": args.kind, "topics_file": topics,
                  "interval_minutes": args.interval / 60}  # fmt: skip
        warm = workload_config(tmp, server.base, args.n, name="warm.toml", **common)
        serve = workload_config(tmp, server.base, args.n, smtp_port=smtp.port, **common)
        monitor = [sys.executable, "-m", "monitor"]
        started = time.monotonic()
        done = subprocess.run(
            [*monitor, "run", "--once", "--quiet", "--config", str(warm)],
            cwd=REPO, capture_output=True, text=True, check=False,
        )  # fmt: skip
        with closing(sqlite3.connect(tmp / "data" / "monitor.db")) as db:
            stored = db.execute("SELECT count(*) FROM items").fetchone()[0]
        print(
            f"warm-up `monitor run --once` (no channel): exit {done.returncode}, "
            f"{time.monotonic() - started:.1f} s, {stored} items stored"
        )
        log = tmp / "service.log"
        with log.open("wb") as out:
            started = time.monotonic()
            process = subprocess.Popen(
                [*monitor, "serve", "--log-json", "--config", str(serve)],
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        samples: list[Sample] = []
        try:
            _wait_first_runs(log, args.n, process, timeout=300)
            print(f"service pid {process.pid}: all {args.n} sources ran once "
                  f"{time.monotonic() - started:.1f} s after start")  # fmt: skip
            moments = sorted(rng.uniform(0, args.interval * 1.5) for _ in range(args.samples))
            chosen = rng.sample(range(args.n), args.samples)
            origin = time.monotonic()
            for source, moment in zip(chosen, moments, strict=True):
                time.sleep(max(0.0, origin + moment - time.monotonic()))
                rec = get_json(f"{server.base}/_control/publish?source={source}")["published"][0]
                path = rec["article_url"][len(server.base) :]
                samples.append(Sample(source, rec["published_at"], path, rec["title"]))
                print(f"  published on w{source:04d} at +{moment:.1f} s: {path}", flush=True)
            deadline = time.monotonic() + 2 * args.interval + 60
            while time.monotonic() < deadline and any(s.mailed is None for s in samples):
                smtp.wait(1)
                for s in samples:
                    hit = [m for m in smtp.mails if s.path in m.text]
                    if s.mailed is None and hit:
                        s.mailed = hit[0].received_at
            rss, peak = proc_rss_mb(process.pid)
        finally:
            stopped = _stop(process)
        print(f"service RSS before stopping: {rss:.0f} MB (peak {peak:.0f} MB); "
              f"stopped by SIGTERM in {stopped:.1f} s")  # fmt: skip
        published = {r["article_url"][len(server.base) :]: r
                     for r in get_json(f"{server.base}/_control/stats")["published"]}  # fmt: skip
        runs = _log_runs(log)
        for s in samples:
            rec = published[s.path]
            s.first_listed = rec["first_feed_200" if args.kind == "rss" else "first_list_200"]
            s.first_article = rec["first_article_200"]
            first = runs.get(f"w{s.source:04d}", [s.published_at])[0]
            s.ideal_wait = args.interval - ((s.published_at - first) % args.interval)
            s.naive_processing = _naive_processing(server.base, s, args.kind, smtp)
        report(samples, args.interval, runs)
        problems = _log_problems(log)
        print(f"service log: {sum(len(t) for t in runs.values())} source runs, "
              f"{len(problems)} warnings/errors")  # fmt: skip
        for line in problems[:5]:
            print(f"  {line}")
    print(f"\nend: {load_note()}; benchmark wall time {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
