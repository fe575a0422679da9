"""Feed-only cycles, whole processes: `monitor run --once` against lemon24/reader's CLI.

    python benchmarks/feed_cycle.py --n 200 --runs 3 --reader /tmp/readerenv/bin/python

Starts the shared workload server (`../shared/bench/workload_site.py`: N RSS feeds of
20 entries with ~2 KB of Thai text each) on 127.0.0.1 and measures, per run, each in
a fresh process with a fresh database: our first cycle over the feeds with
`fetch_articles = false` (the feed's text is the item: nothing but the feeds is
fetched), then an unchanged cycle (every feed answers 304); and reader's
`python -m reader --db DB update`, then `update --no-scheduled`, over the same feeds
(they are added beforehand, in a process not counted). CPU seconds are the child's
own (user + system, from wait4), start-up and imports included, as an operator pays
them. Runs alternate ours and reader's so load from other work falls on both alike.
Install reader in a venv of its own: `python -m venv V && V/bin/pip install
'reader[cli]'`.

With `--baseline PATH` (another checkout, e.g. `git worktree add ../base main`), its
runs alternate with this checkout's and reader's.
With `--profile FILE`, our first cycle of the last run runs under py-spy (its
figure is then not counted) and writes its collapsed stacks (flamegraph.pl input).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _workload import (
    DEFAULT_SHARED,
    REPO,
    compiled,
    get_json,
    load_note,
    workload_config,
    workload_server,
)

ADD_FEEDS = """
import sys
from reader import make_reader
reader = make_reader(sys.argv[1])
for line in sys.stdin:
    reader.add_feed(line.strip())
reader.close()
"""


def timed(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """(CPU s, wall s, stderr tail) of a command run to its end; raise if it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode not in (0, 1):  # 1: `run --once` saw a source or page fail
        raise SystemExit(f"{command[:4]} exited {process.returncode}: {err[-2000:]}")
    return usage.ru_utime + usage.ru_stime, wall, err[-300:]


def ours(repo: Path, base: str, n: int, workers: int, profile: Path | None) -> dict[str, Any]:
    """Our first and unchanged cycles, `monitor run --once` each, on a fresh database."""
    folder = Path(tempfile.mkdtemp(prefix="feed-cycle-"))
    try:
        config = workload_config(folder, base, n, workers=workers)
        text = config.read_text(encoding="utf-8").replace(
            "fetch_articles = true", "fetch_articles = false"
        )
        config.write_text(text, encoding="utf-8")
        command = [sys.executable, "-m", "monitor", "run", "--once", "--quiet",
                   "--config", str(config)]  # fmt: skip
        if profile is not None:
            spy = ["py-spy", "record", "-r", "200", "-f", "raw", "-o", str(profile),
                   "--"]  # fmt: skip
            timed(spy + command, repo)
            return {}
        first = timed(command, repo)
        get_json(f"{base}/_control/reset")
        unchanged = timed(command, repo)
        stats = get_json(f"{base}/_control/stats")["total"]
        return {"first": first[0], "first_wall": first[1], "unchanged": unchanged[0],
                "not_modified": stats.get("304", 0)}  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def reader(python: str, base: str, n: int, search: bool = False) -> dict[str, Any]:
    """reader's CLI: `update` on a fresh database (feeds added first), then again.

    With `search`, reader's full-text search is enabled beforehand and each cycle is
    `update` then `search update` (both counted): reader indexing what it fetched, as
    we do in every cycle."""
    folder = Path(tempfile.mkdtemp(prefix="feed-cycle-reader-"))
    try:
        db = folder / "reader.sqlite"
        feeds = "".join(f"{base}/feed/{i}.xml\n" for i in range(n))
        subprocess.run([python, "-c", ADD_FEEDS, str(db)], input=feeds, text=True, check=True)
        cli = [python, "-m", "reader", "--db", str(db)]
        if search:
            subprocess.run([*cli, "search", "enable"], check=True, capture_output=True)
        command = [*cli, "update"]
        first = timed(command, folder)
        if search:
            first = _plus(first, timed([*cli, "search", "update"], folder))
        get_json(f"{base}/_control/reset")
        unchanged = timed([*command, "--no-scheduled"], folder)  # else nothing is due for 1 h
        if search:
            unchanged = _plus(unchanged, timed([*cli, "search", "update"], folder))
        stats = get_json(f"{base}/_control/stats")["total"]
        return {"first": first[0], "first_wall": first[1], "unchanged": unchanged[0],
                "not_modified": stats.get("304", 0)}  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _plus(a: tuple[float, float, str], b: tuple[float, float, str]) -> tuple[float, float, str]:
    return a[0] + b[0], a[1] + b[1], b[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="folder with bench/ and corpus/ (default: %(default)s)")  # fmt: skip
    parser.add_argument("--n", type=int, default=200, help="feeds (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--workers", type=int, default=4,
                        help="our [fetch] max_workers (default 4, as shipped)")  # fmt: skip
    parser.add_argument("--reader", default="", metavar="PYTHON",
                        help="the Python of a venv with reader[cli] installed")  # fmt: skip
    parser.add_argument("--reader-search", action="store_true",
                        help="also measure reader keeping its search index up to date")  # fmt: skip
    parser.add_argument("--only", choices=("ours", "reader"))
    parser.add_argument("--baseline", type=Path, help="another checkout of ours, measured alike")
    parser.add_argument("--profile", type=Path, help="py-spy collapsed stacks of our first cycle")
    args = parser.parse_args(argv)
    names = [args.only] if args.only else ["ours", "reader"]
    if args.baseline and "ours" in names:
        names.insert(0, "baseline")
    if args.reader_search and "reader" in names:
        names.append("reader+search")
    if "reader" in names and not args.reader:
        parser.error("--reader PYTHON is needed to measure reader (or pass --only ours)")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    repos = {name: compiled(repo) for name, repo in (("baseline", args.baseline), ("ours", REPO))
             if repo is not None}  # fmt: skip
    print(f"start: {load_note()}", flush=True)
    with workload_server(args.shared, args.n) as server:
        for run in range(args.runs):
            for name in names:
                if name in repos:
                    profile = args.profile if run == args.runs - 1 and name == "ours" else None
                    r = ours(repos[name], server.base, args.n, args.workers, profile)
                    if not r:
                        print(f"profile written to {args.profile}", flush=True)
                        continue
                else:
                    r = reader(args.reader, server.base, args.n, search=name != "reader")
                results[name].append(r)
                print(f"run {run + 1}/{args.runs} {name:6}: first {r['first']:.2f} CPU s "
                      f"({r['first_wall']:.2f} wall), unchanged {r['unchanged']:.2f} CPU s, "
                      f"{r['not_modified']} x 304", flush=True)  # fmt: skip
    print(f"\n{args.n} feeds x 20 entries, whole processes, medians of {args.runs} runs")
    print("| monitor | first cycle CPU s | ms per entry | unchanged cycle CPU s | ms per feed |")
    print("|---|---|---|---|---|")
    medians = {}
    for name, runs in results.items():
        if not runs:
            continue
        first = statistics.median(r["first"] for r in runs)
        unchanged = statistics.median(r["unchanged"] for r in runs)
        medians[name] = first
        label = f"thai-news-monitor ({repos[name]})" if name in repos else f"{name} CLI"
        print(f"| {label} | {first:.2f} | {1000 * first / (20 * args.n):.2f} | "
              f"{unchanged:.2f} | {1000 * unchanged / args.n:.2f} |")  # fmt: skip
    for name in ("baseline", "ours"):
        for peer in ("reader", "reader+search"):
            if name in medians and peer in medians:
                print(f"{name} / {peer}, first cycle: {medians[name] / medians[peer]:.2f}x")
    print(f"end: {load_note()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
