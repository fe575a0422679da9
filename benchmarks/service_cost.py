"""What the running service costs: `monitor serve` as a process, from outside.

    python benchmarks/service_cost.py --n 200 --runs 3 --baseline ../base

Starts the shared workload server (`../shared/bench/workload_site.py`, N sources) on
127.0.0.1 and, per run, a real `python -m monitor serve` on a fresh database with every
source polled each minute (feeds with their articles fetched, or `--kind feed`: the
feeds only). Read from /proc: the process's CPU seconds (user + system) when every
source has run once (the first cycle, start-up included) and over the next
`--idle-minutes` of polls, divided by the requests the workload server saw in them
(each unchanged poll is one conditional GET answered 304); its peak RSS (VmHWM) and
its RSS at the end, at rest between polls. Then SIGTERM, and it must exit 0.

With `--baseline PATH` (another checkout, e.g. `git worktree add ../base main`), runs
alternate between it and this checkout, so load from other work falls on both alike;
medians of `--runs`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
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
    proc_rss_mb,
    workload_config,
    workload_server,
)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _sources_run(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db, timeout=10)
    try:
        return int(conn.execute("SELECT count(*) FROM source_status").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        conn.close()


def one_run(repo: Path, base: str, n: int, kind: str, idle_minutes: float) -> dict[str, Any]:
    """Serve from `repo` on a fresh database: first cycle, then idle polls; stop."""
    folder = Path(tempfile.mkdtemp(prefix="service-cost-"))
    log = (folder / "serve.log").open("w", encoding="utf-8")
    try:
        config = workload_config(folder, base, n, interval_minutes=1)
        if kind == "feed":
            text = config.read_text(encoding="utf-8")
            config.write_text(text.replace("fetch_articles = true", "fetch_articles = false"))
        db = folder / "data" / "monitor.db"
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "serve", "--config", str(config)],
            cwd=repo, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while _sources_run(db) < n:
                if proc.poll() is not None or time.monotonic() - started > 900:
                    raise SystemExit(f"serve from {repo} exited or stalled; see {log.name}")
                time.sleep(0.2)
            first = cpu_seconds(proc.pid)
            first_wall = time.monotonic() - started
            time.sleep(5)  # the first cycle's last jobs and its alerts job settle
            get_json(f"{base}/_control/reset")
            idle_from = cpu_seconds(proc.pid)
            time.sleep(idle_minutes * 60)
            idle = cpu_seconds(proc.pid) - idle_from
            polls = get_json(f"{base}/_control/stats")["total"]
            at_rest, peak = proc_rss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(60)
        if code != 0:
            raise SystemExit(f"serve from {repo} exited {code} on SIGTERM")
        return {
            "first": first, "first_wall": first_wall, "polls": polls["requests"],
            "not_modified": polls["304"], "ms_per_poll": 1000 * idle / max(1, polls["requests"]),
            "at_rest": at_rest, "peak": peak,
        }  # fmt: skip
    finally:
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="folder with bench/ and corpus/ (default: %(default)s)")  # fmt: skip
    parser.add_argument("--n", type=int, default=200, help="sources (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--kind", choices=("rss", "feed"), default="rss",
                        help="feeds with their articles (default) or feeds only")  # fmt: skip
    parser.add_argument("--idle-minutes", type=float, default=2,
                        help="minutes of polls measured after the first cycle")  # fmt: skip
    parser.add_argument("--baseline", type=Path, help="another checkout, measured alike")
    args = parser.parse_args(argv)
    repos = [compiled(r) for r in ([args.baseline, REPO] if args.baseline else [REPO])]
    results: dict[Path, list[dict[str, Any]]] = {repo: [] for repo in repos}
    print(f"start: {load_note()}", flush=True)
    with workload_server(args.shared, args.n) as server:
        for run in range(args.runs):
            for repo in repos:
                r = one_run(repo, server.base, args.n, args.kind, args.idle_minutes)
                results[repo].append(r)
                print(f"run {run + 1}/{args.runs} {repo}: first cycle {r['first']:.2f} CPU s "
                      f"({r['first_wall']:.1f} s wall); {r['polls']} polls ({r['not_modified']} "
                      f"x 304), {r['ms_per_poll']:.2f} ms CPU each; RSS at rest "
                      f"{r['at_rest']:.0f} MB, peak {r['peak']:.0f} MB ({load_note()})",
                      flush=True)  # fmt: skip
    print(f"\n`monitor serve`, {args.n} sources ({args.kind}), medians of {args.runs}")
    print("| checkout | first cycle CPU s | ms CPU per poll | RSS at rest MB | peak RSS MB |")
    print("|---|---|---|---|---|")
    for repo, runs in results.items():
        row = [statistics.median(r[k] for r in runs) for k in ("first", "ms_per_poll",
                                                                 "at_rest", "peak")]  # fmt: skip
        print(f"| {repo} | {row[0]:.2f} | {row[1]:.2f} | {row[2]:.0f} | {row[3]:.0f} |")
    print(f"end: {load_note()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
