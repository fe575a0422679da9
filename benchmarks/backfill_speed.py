"""Backfill speed: `monitor backfill` over 2,000 article pages from a local server.

    python benchmarks/backfill_speed.py --articles 2000 --runs 3 --workers 1,2

Builds a paginated site in a temporary folder, in the bundled snapshot's layout
(`demo/snapshot/`: legacy thaigov listing pages of 10 links with a `rel="next"` pager,
article pages `/news/contents/details/<id>`, rendered by `tools/build_snapshot.py`'s
own functions) from the first `--articles` corpus articles of
`../shared/corpus/thaigov-articles.jsonl.gz`, and serves it with
`monitor.snapshot.SnapshotServer` on 127.0.0.1. Each run is a fresh process on a fresh
database:

    python -m monitor backfill thaigov --pages <listing pages> --workers N --config <tmp config>

with the `thaigov-legacy` preset, the shipped topics and no per-host delay, once per
`--workers` value (1: everything in one process; 2: extraction, matching and index
segmentation on two spawned worker processes). Measured from the outside (`os.wait4`):
wall time, CPU time (user + system) and peak RSS of the process, its workers included
(spawned workers are its children, reaped before it exits; the peak is the largest
single process's); the walk's own seconds (the `seconds` column it prints, start-up
excluded). The local server runs in this benchmark's process and takes its own CPU
(not counted) from the same cores: the wall figures with workers are a floor.

Baseline in the same run, also a fresh process each time: a naive loop of requests +
BeautifulSoup(lxml) over the same listing and article pages (title, body text, one plain
SQLite INSERT per article, one commit per listing page). Runs alternate ours / naive;
medians are printed. `--profile` adds one cProfile run of ours (top functions).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import pstats
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from _workload import DEFAULT_SHARED, REPO, compiled, load_note
from bulk_pipeline import _snapshot_tool

CORPUS = Path("corpus") / "thaigov-articles.jsonl.gz"
SOURCE = "thaigov"
CONFIG = """data_dir = "{data}"
topics_file = "{repo}/config/topics.toml"
presets_file = "{repo}/config/presets.toml"
templates_dir = "{repo}/config/templates"

[fetch]
timeout_seconds = 10
min_delay_seconds = 0

[sources.{source}]
preset = "thaigov-legacy"
url = "{base}/news/contents/category/1"
"""


def build_site(corpus: Path, count: int, out: Path) -> int:
    """Write `count` article pages and their listing pages in the snapshot layout.

    Returns the number of listing pages. Articles are listed newest (highest id) first.
    """
    tool = _snapshot_tool()
    articles = []
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if not row.get("title") or not row.get("body"):
                continue
            article = tool.from_row(row, "bench")
            if article.title and article.paragraphs:
                articles.append(article)
            if len(articles) >= count:
                break
    articles.sort(key=lambda a: a.id, reverse=True)
    routes: dict[str, dict[str, str]] = {}
    html = tool.HTML_UTF8
    (out / "details").mkdir(parents=True)
    (out / "listing").mkdir()
    latest = articles[:6]
    for a in articles:
        rel = f"details/{a.id}.html"
        page = tool.article_page(a, 100 + a.id % 9900, latest, cp874=False)
        (out / rel).write_text(page, encoding="utf-8")
        routes[a.route] = {"file": rel, "content_type": html}
    per = tool.PER_PAGE
    pages = [articles[i : i + per] for i in range(0, len(articles), per)]
    rng = random.Random(tool.SEED)
    for number, items in enumerate(pages, start=1):
        popular = rng.sample(articles, 5)
        rel = f"listing/page-{number}.html"
        (out / rel).write_text(tool.listing_page(number, len(pages), items, popular), "utf-8")
        routes[tool.page_route(number)] = {"file": rel, "content_type": html}
    manifest = {"routes": routes}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    return len(pages)


def _measured(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `command`; wall, CPU and peak RSS of that process (not the benchmark's)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=err, env=env)
        # wait4 reaps the child with its own rusage (Popen.wait would reap it first).
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {
            "wall": wall,
            "cpu": usage.ru_utime + usage.ru_stime,
            "peak_rss": usage.ru_maxrss / 1024,  # KB on Linux
            "status": process.returncode,
            "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace"),
        }


def _count(db: Path, sql: str) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute(sql).fetchone()[0])


def ours(
    base: str, pages: int, folder: Path, workers: int, profile: Path | None = None
) -> dict[str, Any]:
    """One `monitor backfill` process on a fresh database."""
    folder.mkdir()
    config = folder / "monitor.toml"
    config.write_text(
        CONFIG.format(data=folder / "data", repo=REPO, source=SOURCE, base=base), "utf-8"
    )
    prefix = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else [
        sys.executable
    ]  # fmt: skip
    command = [*prefix, "-m", "monitor", "backfill", SOURCE, "--pages", str(pages),
               "--workers", str(workers), "--config", str(config)]  # fmt: skip
    result = _measured(command)
    if result["status"] != 0:
        raise SystemExit(f"backfill exited {result['status']}:\n{result['stderr'][-2000:]}")
    row = next(line.split() for line in result["stdout"].splitlines() if line.startswith(SOURCE))
    result["walk"] = float(row[-1])  # the `seconds` column: the walk, start-up excluded
    db = folder / "data" / "monitor.db"
    result["items"] = _count(db, "SELECT count(*) FROM items")
    result["urls"] = _count(db, "SELECT count(*) FROM item_urls")
    result["matched"] = _count(db, "SELECT count(*) FROM items WHERE matched_topics != ''")
    result["db_mb"] = sum(p.stat().st_size for p in db.parent.iterdir()) / 1e6
    result["summary"] = result["stdout"].strip().splitlines()
    return result


def naive_walk(base: str, pages: int, db_path: str) -> None:
    """The baseline, run as `backfill_speed.py --naive-child`: prints its JSON figures."""
    began = time.perf_counter()
    import requests
    from bs4 import BeautifulSoup

    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE items (url TEXT PRIMARY KEY, title TEXT, body TEXT)")
    session = requests.Session()
    url: str | None = f"{base}/news/contents/category/1"
    walked = articles = 0
    started = time.perf_counter()
    while url and walked < pages:
        listing = BeautifulSoup(session.get(url, timeout=10).text, "lxml")
        panel = listing.select_one("div.panel-body")
        for link in panel.select("a[href*='/news/contents/']") if panel else []:
            page_url = base + str(link["href"])
            page = BeautifulSoup(session.get(page_url, timeout=10).text, "lxml")
            title = page.title.get_text(strip=True) if page.title else ""
            body = page.select_one("div.border-normal.clearfix")
            text = body.get_text("\n", strip=True) if body else ""
            db.execute("INSERT OR IGNORE INTO items VALUES (?, ?, ?)", (page_url, title, text))
            articles += 1
        db.commit()
        walked += 1
        nxt = listing.select_one("ul.pagination a[rel='next']")
        url = base + str(nxt["href"]) if nxt else None
    db.close()
    walk = time.perf_counter() - started
    print(json.dumps({"walk": walk, "startup": started - began, "articles": articles}))


def naive(base: str, pages: int, folder: Path) -> dict[str, Any]:
    folder.mkdir()
    command = [sys.executable, __file__, "--naive-child", base, str(pages),
               str(folder / "naive.db")]  # fmt: skip
    result = _measured(command)
    if result["status"] != 0:
        raise SystemExit(f"naive baseline exited {result['status']}:\n{result['stderr'][-2000:]}")
    figures = json.loads(result["stdout"].strip().splitlines()[-1])
    result.update(walk=figures["walk"], items=figures["articles"])
    return result


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def report(results: dict[str, list[dict[str, Any]]], articles: int, pages: int) -> None:
    print()
    print(f"{articles} article pages + {pages} listing pages; medians of "
          f"{len(results['naive'])} runs, each a fresh process and database")  # fmt: skip
    print("| backfill | articles/s (walk) | articles/s (process wall) | articles/s per CPU s "
          "| walk s | process wall s | CPU s | peak RSS MB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name, runs in results.items():
        walk, wall, cpu = (_median(runs, k) for k in ("walk", "wall", "cpu"))
        label = (
            "naive requests + BeautifulSoup(lxml) + plain SQLite"
            if name == "naive"
            else f"`monitor backfill --workers {name.split('-')[1]}` (extract, dedup, match, FTS, "
            "store)"
        )
        print(
            f"| {label} | {articles / walk:.1f} | {articles / wall:.1f} "
            f"| {articles / cpu:.1f} | {walk:.1f} | {wall:.1f} | {cpu:.1f} "
            f"| {_median(runs, 'peak_rss'):.0f} |"
        )
    ours_names = [name for name in results if name != "naive"]
    last = results[ours_names[-1]][-1]
    print(
        f"\n{ours_names[-1]}: {last['items']} items stored ({last['urls']} URLs, "
        f"{last['matched']} matched the shipped topics), database {last['db_mb']:.1f} MB; "
        "it printed:"
    )
    for line in last["summary"]:
        print(f"    {line}")
    v = results["naive"]
    for name in ours_names:
        o = results[name]
        print(
            f"{name} / naive: walk time {_median(o, 'walk') / _median(v, 'walk'):.2f}x, "
            f"CPU {_median(o, 'cpu') / _median(v, 'cpu'):.2f}x, peak RSS "
            f"{_median(o, 'peak_rss') / _median(v, 'peak_rss'):.2f}x"
        )
    if "ours-1" in results:
        one = results["ours-1"]
        for name in ours_names[1:]:
            o = results[name]
            print(
                f"{name} against ours-1: walk {_median(one, 'walk') / _median(o, 'walk'):.2f}x "
                f"faster, process wall {_median(one, 'wall') / _median(o, 'wall'):.2f}x faster, "
                f"CPU {_median(o, 'cpu') / _median(one, 'cpu'):.2f}x"
            )


def profile_report(path: Path, top: int = 18) -> None:
    stream = io.StringIO()
    stats = pstats.Stats(str(path), stream=stream)
    stats.sort_stats("tottime").print_stats(top)
    print("\ncProfile of one `monitor backfill` (functions by own time):")
    lines = stream.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    for line in lines[start - 3 : start + top + 1]:
        print(f"    {line}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--naive-child"]:
        naive_walk(argv[1], int(argv[2]), argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="folder with corpus/ (default: %(default)s)")  # fmt: skip
    parser.add_argument("--articles", type=int, default=2000, help="article pages (2000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--profile", action="store_true", help="one extra cProfile run")
    parser.add_argument("--workers", default="1,2",
                        help="comma-separated --workers values to run (default: 1,2)")  # fmt: skip
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    sys.path.insert(0, str(compiled(REPO)))
    from monitor.snapshot import SnapshotServer

    began = time.monotonic()
    print(f"start: {load_note()}")
    with tempfile.TemporaryDirectory(prefix="backfill-speed-") as tmp_name:
        tmp = Path(tmp_name)
        pages = build_site(args.shared / CORPUS, args.articles, tmp / "site")
        results: dict[str, list[dict[str, Any]]] = {f"ours-{w}": [] for w in workers}
        results["naive"] = []
        with SnapshotServer(tmp / "site") as server:
            print(f"site {server.base_url}: {args.articles} articles on {pages} listing pages")
            for run in range(args.runs):
                for name in results:
                    folder = tmp / f"{name}-{run}"
                    if name == "naive":
                        r = naive(server.base_url, pages, folder)
                    else:
                        r = ours(server.base_url, pages, folder, int(name.split("-")[1]))
                    results[name].append(r)
                    print(
                        f"run {run + 1}/{args.runs} {name:5}: {r['items']} items, walk "
                        f"{r['walk']:.1f} s, process {r['wall']:.1f} s wall / {r['cpu']:.1f} s "
                        f"CPU, peak RSS {r['peak_rss']:.0f} MB ({load_note()})",
                        flush=True,
                    )
            if args.profile:
                ours(server.base_url, pages, tmp / "profile", 1, profile=tmp / "backfill.prof")
                profile_report(tmp / "backfill.prof")
        report(results, args.articles, pages)
    print(f"\nend: {load_note()}; benchmark wall time {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
