"""What looking for edits costs: requests and CPU that revisits add to a source's day.

A loopback site publishes `--per-day` releases a day (default 50, evenly spread); its
listing shows the newest 20; article pages send an ETag and answer 304 to a matching
If-None-Match. The monitor runs the source every `--interval` minutes over `--days`
simulated days (clock injected into `run_once`), once with the default
`revisit_hours = 48` and once with `revisit_hours = 0` (the baseline, in the same run).
Printed: article requests per hour beyond first fetches, how many were 304s, and the
CPU seconds of the whole simulated period for both, medians of `--runs` runs.

    python benchmarks/revisit_cost.py --per-day 50 --days 3 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.config import load_settings  # noqa: E402
from monitor.pipeline import run_once  # noqa: E402
from monitor.store import Store  # noqa: E402

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
BODY = "ประกาศผลการประชุมคณะกรรมการว่าด้วยความร่วมมือด้านดิจิทัลของอาเซียน ครั้งที่ {n} " * 12


class Site(ThreadingHTTPServer):
    """Releases 1..published; counts article requests and 304s."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.published = 0
        self.fetched: set[int] = set()
        self.requests = self.not_modified = self.first = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        site: Site = self.server  # type: ignore[assignment]
        if self.path == "/list":
            newest = range(site.published, max(site.published - 20, 0), -1)
            links = "".join(f'<li><a class="news" href="/a/{n}">ข่าวที่ {n}</a></li>' for n in newest)
            self._send(200, f"<html><body><ul>{links}</ul></body></html>")
        elif self.path.startswith("/a/"):
            n = int(self.path[3:])
            site.requests += 1
            site.first += n not in site.fetched
            site.fetched.add(n)
            if self.headers.get("If-None-Match") == f'"{n}"':
                site.not_modified += 1
                self._send(304, "", {"ETag": f'"{n}"'})
                return
            page = (f'<html><head><title>ข่าวที่ {n}</title></head><body><h1>ข่าวที่ {n}</h1>'
                    f'<p class="date">5 มกราคม 2569</p><div class="body"><p>'
                    f"{BODY.format(n=n)}</p></div></body></html>")  # fmt: skip
            self._send(200, page, {"ETag": f'"{n}"'})
        else:
            self._send(404, "not found")

    def _send(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        body = text.encode()
        self.send_response(status)
        for name, value in {"Content-Type": "text/html; charset=utf-8", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _config(folder: Path, url: str, revisit_hours: float) -> Path:
    path = folder / "monitor.toml"
    path.write_text(
        f"""
data_dir = "{folder / "data"}"
topics_file = "{REPO / "config" / "topics.toml"}"
presets_file = "{REPO / "config" / "presets.toml"}"
templates_dir = "{REPO / "config" / "templates"}"
[fetch]
min_delay_seconds = 0
obey_robots = false
[sources.site]
kind = "html"
url = "{url}"
revisit_hours = {revisit_hours}
[sources.site.listing]
links = "a.news"
[sources.site.article]
title = "h1"
date = "p.date"
body = "div.body"
""",
        encoding="utf-8",
    )
    return path


def simulate(revisit_hours: float, per_day: int, days: float, interval: float) -> dict:
    """One simulated period; the site's counters and this process's CPU seconds."""
    site = Site()
    threading.Thread(target=site.serve_forever, args=(0.05,), daemon=True).start()
    with tempfile.TemporaryDirectory() as folder:
        url = f"http://127.0.0.1:{site.server_address[1]}/list"
        settings = load_settings(_config(Path(folder), url, revisit_hours))
        store = Store(settings.db_path)
        gap = timedelta(days=1) / per_day
        now, end, published_at = START, START + timedelta(days=days), START
        cpu = time.process_time()
        while now < end:
            while published_at <= now:
                site.published += 1
                published_at += gap
            run_once(settings, store, now=now)
            now += timedelta(minutes=interval)
        cpu = time.process_time() - cpu
        store.close()
    site.shutdown()
    site.server_close()
    hours = days * 24
    revisits = site.requests - site.first
    return {"cpu": cpu, "revisits_per_hour": revisits / hours, "revisits": revisits,
            "not_modified": site.not_modified, "first": site.first}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=50)
    parser.add_argument("--days", type=float, default=3)
    parser.add_argument("--interval", type=float, default=30, help="minutes between runs")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    results: dict[str, list[dict]] = {"revisit_hours = 48": [], "revisit_hours = 0": []}
    for _ in range(args.runs):  # alternating, so drift of the machine hits both alike
        for label, hours in (("revisit_hours = 48", 48), ("revisit_hours = 0", 0)):
            results[label].append(simulate(hours, args.per_day, args.days, args.interval))
    print(f"{args.per_day} releases a day, a run every {args.interval:g} min, "
          f"{args.days:g} days simulated; medians of {args.runs} runs")  # fmt: skip
    print("| setting | first fetches | revisits | of which 304 | revisits per hour | CPU s |")
    print("|---|---|---|---|---|---|")
    med = {k: {f: statistics.median(r[f] for r in v) for f in v[0]} for k, v in results.items()}
    for label, m in med.items():
        print(f"| {label} | {m['first']:.0f} | {m['revisits']:.0f} | {m['not_modified']:.0f} "
              f"| {m['revisits_per_hour']:.1f} | {m['cpu']:.2f} |")  # fmt: skip
    extra = med["revisit_hours = 48"]["cpu"] - med["revisit_hours = 0"]["cpu"]
    revisits = med["revisit_hours = 48"]["revisits"] or 1
    print(f"CPU added by revisits: {extra:.2f} s, {extra / revisits * 1000:.2f} ms a revisit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
