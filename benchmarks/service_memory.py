"""Service memory at rest after a day of cycles against 200 local sources.

    python benchmarks/service_memory.py --n 200 --cycles 288 --runs 3

Starts the shared workload server (`../shared/bench/workload_site.py`, N sources, RSS
feeds with article pages fetched) and a real SMTP server (aiosmtpd) on 127.0.0.1, then
runs, in a fresh process, what the service's scheduler does, on a simulated clock of
`--every` minutes a cycle: every cycle one job per source on a pool of the service's
size (`pipeline.useful_threads`: a thread per host, at most `schedule.JOB_THREADS`),
each job the service's own `schedule.SourceJobs.run` (one shared `Fetcher`, a store
connection kept per job thread) with the simulated time, after
`schedule.limit_malloc_arenas()` as `serve()` calls it; plus the alerts job
(`schedule.AlertsJob.run`: due alerts, glibc's malloc_trim) once a simulated minute.
The shipped topics and an email channel; between cycles, one simulated hour apart,
`--publish` new items appear on random sources. Reported from /proc/self/status:
RSS after start-up (imports, config, store), after the first cycle, peak (VmHWM), the
trend over the day, and at rest after the last cycle and `gc.collect()`; then after
glibc `malloc_trim(0)`, which returns freed heap to the system, to tell live memory
from what the allocator keeps.

Baselines in the same run, each a fresh process (medians of 3): a bare Python, the same
process after importing the libraries a running service holds, one step at a time
(urllib3, lxml + cssselect, feedparser, sqlite-utils, jinja2 + click + tabulate,
APScheduler, pyahocorasick + nlpo3, pythainlp's normalisation, imported for ~3% of
articles), then loading the Thai dictionary the monitor keeps, as it loads it (nlpo3's,
for match's word boundaries and the search index), then the monitor's modules.
Not counted: what is imported only for some configurations (apprise for chat channels,
trafilatura for pages without a body selector, BeautifulSoup for selectors lxml
cannot read).
With `--trace`, a tracemalloc pass over the same steps shows the Python allocations of
each package (not the Rust dictionary of nlpo3, which tracemalloc cannot see).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _workload import (
    DEFAULT_SHARED,
    REPO,
    Smtp,
    get_json,
    load_note,
    proc_rss_mb,
    workload_config,
    workload_server,
)

TARGET_MB = 120
REFERENCE = (("lemon24/reader 3.26", 42), ("changedetection.io 0.60.10", 112))
SAMPLE = "ความมั่นคงปลอดภัยไซเบอร์ของอาเซียน"


def _dictionary() -> None:
    """The one Thai dictionary matching and the search index share, as loaded."""
    from monitor.thai import segment

    segment(SAMPLE)


def _monitor() -> None:
    import monitor.cli  # noqa: F401
    import monitor.pipeline  # noqa: F401
    import monitor.schedule  # noqa: F401


STEPS: tuple[tuple[str, Callable[[], Any]], ...] = (
    ("urllib3 + certifi", lambda: (__import__("urllib3"), __import__("certifi"))),
    ("lxml + cssselect", lambda: (__import__("lxml.etree"), __import__("cssselect"))),
    ("feedparser", lambda: __import__("feedparser")),
    ("sqlite-utils", lambda: __import__("sqlite_utils")),
    ("jinja2 + click + tabulate", lambda: [__import__(m) for m in ("jinja2", "click", "tabulate")]),
    ("apscheduler", lambda: __import__("apscheduler.schedulers.blocking")),
    ("pyahocorasick + nlpo3", lambda: (__import__("ahocorasick"), __import__("nlpo3"))),
    ("pythainlp.util (normalisation)", lambda: __import__("pythainlp.util")),
    ("Thai dictionary (monitor.thai, nlpo3)", _dictionary),
    ("monitor modules", _monitor),
)
LIBRARIES_DONE = "pythainlp.util (normalisation)"  # the "no dictionary" baseline


# ---------------------------------------------------------------- children


def child_imports(trace: bool) -> dict[str, Any]:
    """RSS after each import step in this fresh process (and tracemalloc per package)."""
    sys.path.insert(0, str(REPO))
    if trace:
        tracemalloc.start()
    out: dict[str, Any] = {"steps": [("bare python", proc_rss_mb()[0])]}
    for label, step in STEPS:
        step()
        gc.collect()
        out["steps"].append((label, proc_rss_mb()[0]))
    if trace:
        snapshot = tracemalloc.take_snapshot()
        by_package: dict[str, int] = {}
        for stat in snapshot.statistics("filename"):
            name = stat.traceback[0].filename
            key = name.split("site-packages/")[-1].split("/")[0] if "site-packages" in name else (
                "monitor" if "/monitor/" in name else "python stdlib and other"
            )  # fmt: skip
            by_package[key] = by_package.get(key, 0) + stat.size
        out["traced"] = sorted(by_package.items(), key=lambda kv: -kv[1])[:12]
        out["traced_total"] = sum(by_package.values())
    return out


def _settle() -> float:
    gc.collect()
    return proc_rss_mb()[0]


def child_day(args: argparse.Namespace) -> dict[str, Any]:
    """A simulated day of the service's jobs in this process; RSS along the way."""
    logging.basicConfig(level=logging.INFO, handlers=[logging.FileHandler(os.devnull)])
    began = time.perf_counter()
    sys.path.insert(0, str(REPO))
    from monitor.config import load_settings
    from monitor.pipeline import useful_threads
    from monitor.schedule import JOB_THREADS, AlertsJob, SourceJobs, limit_malloc_arenas
    from monitor.store import Store

    settings = load_settings(Path(args.config))
    Store(settings.db_path).close()  # as serve() does: fail fast, migrations applied
    limit_malloc_arenas()
    jobs = SourceJobs(settings)  # the scheduler's jobs: one Fetcher, a store per thread
    alerts = AlertsJob(settings)
    threads = useful_threads(settings.sources, JOB_THREADS)
    out: dict[str, Any] = {"startup_s": time.perf_counter() - began, "startup": _settle()}
    rng = random.Random(args.seed)
    clock = datetime.now(UTC)
    errors: list[str] = []
    counts = {"new": 0, "matched": 0, "alerts": 0}
    lock = threading.Lock()  # jobs run on several threads

    def job(source: Any, shift: timedelta) -> None:
        # Each job reads the clock itself, as the scheduler's jobs do: the outbox claim
        # is keyed by (process, time), so jobs sharing one `now` would send twice.
        report = jobs.run(source, now=datetime.now(UTC) + shift)
        with lock:
            counts["new"] += sum(s.new for s in report.sources)
            counts["matched"] += sum(s.matched for s in report.sources)
            errors.extend(s.error for s in report.sources if s.error)

    def flush(now: datetime) -> None:
        counts["alerts"] += sum(d.ok for d in alerts.run(now))

    trajectory: list[tuple[int, float, float]] = []
    seconds: list[float] = []
    with ThreadPoolExecutor(threads) as pool:
        for cycle in range(1, args.cycles + 1):
            now = clock + timedelta(minutes=args.every * (cycle - 1))
            shift = now - datetime.now(UTC)
            if cycle > 1 and (cycle - 1) % max(1, round(60 / args.every)) == 0:
                for k in rng.sample(range(args.n), args.publish):
                    get_json(f"{args.base}/_control/publish?source={k}")
            started = time.perf_counter()
            for future in [pool.submit(job, s, shift) for s in settings.sources]:
                future.result()
            for minute in range(int(args.every)):
                flush(datetime.now(UTC) + shift + timedelta(minutes=minute))
            seconds.append(time.perf_counter() - started)
            if args.trace and cycle == 1:
                tracemalloc.start()
                first = tracemalloc.take_snapshot()
            rss = proc_rss_mb()[0]
            trajectory.append((cycle, rss, seconds[-1]))
            if cycle == 1:
                out["first_cycle"] = _settle()
            if cycle in (1, 2) or cycle % 24 == 0:
                print(f"  cycle {cycle}/{args.cycles}: RSS {rss:.0f} MB, {seconds[-1]:.1f} s, "
                      f"{counts}", file=sys.stderr, flush=True)  # fmt: skip
        # At rest with the job threads alive, as in the service: each keeps its connection.
        out["at_rest"] = _settle()
        out["peak"] = proc_rss_mb()[1]
        if args.trace:
            stats = tracemalloc.take_snapshot().compare_to(first, "lineno")
            out["traced_growth"] = [
                (str(s.traceback[0]).replace(str(REPO) + "/", ""), s.size_diff, s.count_diff)
                for s in stats[:10]
            ]
            tracemalloc.stop()
            out["at_rest"] = _settle()
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            out["after_trim"] = proc_rss_mb()[0]
        except (OSError, AttributeError):  # not glibc
            out["after_trim"] = None
    out.update(trajectory=trajectory, counts=counts, errors=errors[:5], n_errors=len(errors))
    out["first_cycle_s"] = seconds[0]
    out["later_cycle_s"] = statistics.median(seconds[1:]) if len(seconds) > 1 else None
    out["threads"] = threads
    return out


# ---------------------------------------------------------------- parent


def _child(arguments: list[str], timeout: float) -> dict[str, Any]:
    """Run this script in `--child` mode; its figures are the last stdout line."""
    command = [sys.executable, __file__, "--child", *arguments]
    done = subprocess.run(
        command, cwd=REPO, stdout=subprocess.PIPE, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"child {arguments[0]} exited {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median_steps(runs: list[dict[str, Any]]) -> list[tuple[str, float]]:
    labels = [label for label, _ in runs[0]["steps"]]
    return [(label, statistics.median(r["steps"][i][1] for r in runs))
            for i, label in enumerate(labels)]  # fmt: skip


def report(
    imports: list[dict[str, Any]], traced: dict[str, Any] | None, days: list[dict[str, Any]],
    args: Any,
) -> None:  # fmt: skip
    steps = _median_steps(imports)
    rss = dict(steps)
    print(f"\nimport and dictionary cost, RSS after each step (fresh process, medians of "
          f"{len(imports)}):")  # fmt: skip
    print("| step | RSS MB | + MB |")
    print("|---|---|---|")
    previous = steps[0][1]
    for label, value in steps:
        print(f"| {label} | {value:.1f} | {value - previous:+.1f} |")
        previous = value
    if traced is not None:
        print(f"\ntracemalloc after all steps: {traced['traced_total'] / 1e6:.1f} MB of Python "
              "allocations, by package:")  # fmt: skip
        for name, size in traced["traced"]:
            print(f"    {name:32} {size / 1e6:6.1f} MB")

    def med(key: str) -> float:
        values = [d[key] for d in days if d.get(key) is not None]
        return statistics.median(values) if values else float("nan")

    hours = args.cycles * args.every / 60
    print(f"\nservice memory, {args.n} sources, {args.cycles} cycles of {args.every:g} "
          f"simulated minutes ({hours:.0f} h); median of {len(days)} run(s)")  # fmt: skip
    print("| process | RSS MB |")
    print("|---|---|")
    rows = (
        ("bare python (baseline)", rss["bare python"]),
        ("python + the same libraries imported, no dictionary (baseline)",
         rss[LIBRARIES_DONE]),
        ("... + the Thai dictionary + monitor modules (baseline)",
         steps[-1][1]),
        ("monitor, after start-up (imports, config, store; dictionaries not yet loaded)",
         med("startup")),
        ("monitor, after the first cycle (gc)", med("first_cycle")),
        ("monitor, peak (VmHWM)", med("peak")),
        ("monitor, at rest after the last cycle (gc)", med("at_rest")),
        ("monitor, at rest after malloc_trim(0) (diagnostic)", med("after_trim")),
    )  # fmt: skip
    for label, value in rows:
        print(f"| {label} | {value:.0f} |")
    print(f"| target | {TARGET_MB} |")
    for label, value in REFERENCE:
        print(f"| {label} (README) | {value} |")
    verdict = "met" if med("at_rest") <= TARGET_MB else "NOT met"
    print(f"\ntarget at rest <= {TARGET_MB} MB: {verdict} ({med('at_rest'):.0f} MB)")
    last = days[-1]
    marks = [t for t in last["trajectory"] if t[0] in (1, 2, 12) or t[0] % 48 == 0]
    print("RSS over the day (last run), cycle: MB: " +
          ", ".join(f"{c}: {r:.0f}" for c, r, _ in marks))  # fmt: skip
    traj = last["trajectory"]
    if len(traj) > 60:
        a, b = traj[len(traj) // 6], traj[-1]
        slope = (b[1] - a[1]) / (b[0] - a[0]) * 100
        print(f"growth from cycle {a[0]} to {b[0]}: {b[1] - a[1]:+.1f} MB "
              f"({slope:+.2f} MB per 100 cycles)")  # fmt: skip
    print(
        f"cycles: first {med('first_cycle_s'):.1f} s, later median {med('later_cycle_s'):.2f} s "
        f"wall; start-up {med('startup_s'):.1f} s; last run: {last['counts']}, "
        f"{last['n_errors']} source errors {last['errors'][:2]}"
    )
    if "traced_growth" in last:
        print("tracemalloc, growth from after cycle 1 to the end (top lines):")
        for where, size, count in last["traced_growth"]:
            print(f"    {size / 1e3:+9.1f} KB {count:+7d} blocks  {where}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="folder with bench/ and corpus/ (default: %(default)s)")  # fmt: skip
    parser.add_argument("--n", type=int, default=200, help="sources (default 200)")
    parser.add_argument("--cycles", type=int, default=288, help="cycles (default 288: a day)")
    parser.add_argument("--every", type=float, default=5, help="simulated minutes per cycle")
    parser.add_argument("--publish", type=int, default=3,
                        help="items published each simulated hour (default 3)")  # fmt: skip
    parser.add_argument("--runs", type=int, default=1,
                        help="day runs (default 1: ~15 min each); import runs: 3")  # fmt: skip
    parser.add_argument("--trace", action="store_true",
                        help="tracemalloc: by package at start, growth over the day")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", choices=("imports", "day"), help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "imports":
        print(json.dumps(child_imports(args.trace)))
        return 0
    if args.child == "day":
        print(json.dumps(child_day(args)))
        return 0
    began = time.monotonic()
    print(f"start: {load_note()}")
    imports = [_child(["imports"], 300) for _ in range(3)]
    traced = _child(["imports", "--trace"], 600) if args.trace else None
    print(f"import baselines done ({load_note()})", flush=True)
    days = []
    with workload_server(args.shared, args.n) as server, Smtp() as smtp:
        print(f"workload {server.base}: {args.n} sources; SMTP 127.0.0.1:{smtp.port}")
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="service-memory-") as tmp:
                config = workload_config(Path(tmp), server.base, args.n, smtp_port=smtp.port)
                extra = ["--trace"] if args.trace else []
                day = _child(
                    ["day", "--base", server.base, "--config", str(config), "--n", str(args.n),
                     "--cycles", str(args.cycles), "--every", str(args.every),
                     "--publish", str(args.publish), "--seed", str(args.seed + run), *extra],
                    timeout=6 * 3600,
                )  # fmt: skip
            days.append(day)
            links = [line for m in smtp.mails for line in m.text.splitlines() if "Link:" in line]
            print(f"run {run + 1}/{args.runs}: at rest {day['at_rest']:.0f} MB, peak "
                  f"{day['peak']:.0f} MB; emails so far {len(smtp.mails)}, for "
                  f"{len(set(links))} distinct items ({load_note()})", flush=True)  # fmt: skip
    report(imports, traced, days, args)
    print(f"\nend: {load_note()}; benchmark wall time {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
