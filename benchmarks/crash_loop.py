"""Crash loop: SIGKILL the monitor at random points of its cycles, restart, check nothing broke.

    python benchmarks/crash_loop.py                    # 50 rounds of `run --once`
    python benchmarks/crash_loop.py --mode serve --rounds 20 --seed 7

Everything is local: the bundled snapshot (`demo/snapshot`) is served on
127.0.0.1 by `monitor.snapshot.SnapshotServer`, alerts go to a real SMTP server
(aiosmtpd) that counts the messages, and the archive is a fresh SQLite file in a
temporary folder. Each round starts `python -m monitor run --once` (or `serve`)
as a subprocess, sleeps a random 0-`--max-kill` seconds and kills it with
SIGKILL (if it is still running). After the rounds one more `run --once` runs to
completion. Then:

- every item of the snapshot is stored exactly once (37 = 33 listing articles
  + 5 feed items - 1 republished release), no URL twice;
- every matched item was alerted, and exactly once (messages counted at the SMTP
  server by Subject). A duplicate is possible by design, in the window between
  the SMTP server accepting a message and the outbox row being marked `sent`:
  duplicates are reported, and only fail the run with `--strict`;
- every outbox row is `sent`;
- `PRAGMA integrity_check` is `ok` and `foreign_key_check` is empty.

To make the kills land inside the cycles rather than after them, the snapshot
server answers every request after `--http-delay` seconds and the SMTP server
takes `--smtp-delay` seconds to accept each recipient (before DATA, so the
window between accepting a message and marking it sent keeps its natural size);
a full cycle then takes a few seconds, longer than most kill windows.

Exit status: 0 when every check holds, 1 on a violation, 2 when the run could
not be carried out (timeout, bad start).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import email
import email.policy
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402

from monitor.snapshot import SnapshotServer, _Handler  # noqa: E402

SNAPSHOT = ROOT / "demo" / "snapshot"
CONFIG = ROOT / "config"
EXPECTED_ITEMS = 37  # 33 listing articles + 5 feed items - 1 republished seed


class CountingMailBox:
    """An aiosmtpd handler that keeps the Subject of every message it accepts."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.subjects: list[str] = []

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        """Slow down before DATA, so the accept-to-mark window keeps its natural size."""
        if self.delay:
            await asyncio.sleep(self.delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.subjects.append(str(message["Subject"]))
        return "250 OK"


def slow_snapshot(delay: float) -> SnapshotServer:
    """The snapshot server, answering each request after `delay` seconds."""
    server = SnapshotServer(SNAPSHOT)
    if delay:
        base = server.server.RequestHandlerClass
        assert issubclass(base, _Handler)

        def do_get(self: _Handler) -> None:
            time.sleep(delay)
            base.do_GET(self)

        server.server.RequestHandlerClass = type("SlowHandler", (base,), {"do_GET": do_get})
    # A killed client leaves a broken pipe behind: expected here, not worth a traceback.
    server.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    return server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, base_url: str, smtp_port: int) -> Path:
    path = folder / "monitor.toml"
    path.write_text(
        f"""
data_dir = "{folder / "data"}"
topics_file = "{CONFIG / "topics.toml"}"
presets_file = "{CONFIG / "presets.toml"}"
templates_dir = "{CONFIG / "templates"}"

[fetch]
timeout_seconds = 5
min_delay_seconds = 0

[alerts]
max_attempts = 50
retry_base_seconds = 0
retry_max_seconds = 0

[sources.thaigov]
preset = "thaigov-legacy"
url = "{base_url}/news/contents/category/1"
max_pages = 4

[sources.dla-asean]
preset = "wordpress-feed"
url = "{base_url}/rss/dla-asean.xml"

[channels.email]
kind = "email"
host = "127.0.0.1"
port = {smtp_port}
timeout_seconds = 5
sender = "monitor@localhost"
recipients = ["analyst@localhost"]
""",
        encoding="utf-8",
    )
    return path


def command(mode: str, config: Path) -> list[str]:
    verb = ["run", "--once"] if mode == "once" else ["serve"]
    return [sys.executable, "-m", "monitor", *verb, "--config", str(config)]


def db_counts(db: Path) -> tuple[int, int, int]:
    """(items, matched items, outbox rows sent) as stored now; zeros before the file exists."""
    if not db.exists():
        return 0, 0, 0
    conn = sqlite3.connect(db, timeout=30)
    try:
        items = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        matched = conn.execute("SELECT count(*) FROM items WHERE matched_topics != ''").fetchone()
        sent = conn.execute("SELECT count(*) FROM outbox WHERE status = 'sent'").fetchone()
        return items, matched[0], sent[0]
    except sqlite3.OperationalError:  # killed before the schema was created
        return 0, 0, 0
    finally:
        conn.close()


def run_rounds(args: argparse.Namespace, config: Path, db: Path, mail: CountingMailBox) -> dict:
    rng = random.Random(args.seed)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    stats: dict[str, Any] = {"killed": 0, "finished_first": 0, "progress_rounds": 0, "codes": []}
    before = db_counts(db)
    for number in range(1, args.rounds + 1):
        wait = rng.uniform(0, args.max_kill)
        proc = subprocess.Popen(
            command(args.mode, config), cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            proc.wait(wait)
            stats["finished_first"] += 1
            stats["codes"].append(proc.returncode)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            stats["killed"] += 1
        now = db_counts(db)
        progressed = now != before
        stats["progress_rounds"] += progressed
        if args.verbose:
            print(
                f"round {number:3d}: kill after {wait:4.2f} s, items {now[0]:2d}, "
                f"sent {now[2]:2d}, mails {len(mail.subjects):2d}"
                + ("" if proc.returncode == -signal.SIGKILL else f" (exited {proc.returncode})"),
                flush=True,
            )
        before = now
    return stats


def check(db: Path, mail: CountingMailBox, expected_items: int) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        fk = conn.execute("PRAGMA foreign_key_check").fetchall()
        urls = [r[0] for r in conn.execute("SELECT url FROM items")]
        seen = {r[0] for r in conn.execute("SELECT url FROM item_urls")}
        aliases = conn.execute("SELECT count(*) FROM item_urls").fetchone()[0]
        matched = conn.execute("SELECT count(*) FROM items WHERE matched_topics != ''").fetchone()
        outbox = dict(conn.execute("SELECT status, count(*) FROM outbox GROUP BY status"))
    finally:
        conn.close()
    per_subject = collections.Counter(mail.subjects)
    return {
        "integrity": integrity,
        "foreign_key_violations": len(fk),
        "items": len(urls),
        "distinct_urls": len(set(urls)),
        "item_urls": aliases,
        "matched": matched[0],
        "outbox": outbox,
        "mails": len(mail.subjects),
        "distinct_subjects": len(per_subject),
        "duplicates": {s: c for s, c in per_subject.items() if c > 1},
        "missing_articles": [r for r in article_routes() if not any(u.endswith(r) for u in seen)],
    }


def article_routes() -> list[str]:
    manifest = json.loads((SNAPSHOT / "manifest.json").read_text(encoding="utf-8"))
    return [route for route in manifest["routes"] if "/details/" in route]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50, help="kills in a row (default 50)")
    parser.add_argument(
        "--mode",
        choices=("once", "serve"),
        default="once",
        help="what each round starts: `run --once` or `serve`",
    )
    parser.add_argument(
        "--max-kill", type=float, default=3.0, help="kill after a random 0..MAX seconds (default 3)"
    )
    parser.add_argument(
        "--http-delay",
        type=float,
        default=0.05,
        help="seconds before each snapshot answer (default 0.05)",
    )
    parser.add_argument(
        "--smtp-delay",
        type=float,
        default=0.2,
        help="seconds the SMTP server spends per recipient (default 0.2)",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument(
        "--final-timeout",
        type=float,
        default=180,
        help="seconds allowed for the last, uninterrupted run",
    )
    parser.add_argument(
        "--strict", action="store_true", help="count a duplicate alert as a violation"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per round")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = random.randrange(1_000_000)

    folder = Path(tempfile.mkdtemp(prefix="crash-loop-"))
    mail = CountingMailBox(args.smtp_delay)
    smtp = Controller(mail, hostname="127.0.0.1", port=free_port())
    smtp.start()
    started = time.perf_counter()
    try:
        with slow_snapshot(args.http_delay) as server:
            config = write_config(folder, server.base_url, smtp.port)
            db = folder / "data" / "monitor.db"
            stats = run_rounds(args, config, db, mail)
            final = subprocess.run(
                command("once", config), cwd=ROOT, capture_output=True, text=True,
                timeout=args.final_timeout,
            )  # fmt: skip
            if final.returncode != 0:
                print(f"the final run exited {final.returncode}:\n{final.stderr[-3000:]}")
                return 2
            result = check(db, mail, EXPECTED_ITEMS)
    except subprocess.TimeoutExpired as exc:
        print(f"timed out: {exc}")
        return 2
    finally:
        smtp.stop()
    elapsed = time.perf_counter() - started

    dupes = sum(c - 1 for c in result["duplicates"].values())
    missing = result["matched"] - result["distinct_subjects"]
    violations = []
    if result["items"] != EXPECTED_ITEMS:
        violations.append(f"{result['items']} items stored, expected {EXPECTED_ITEMS}")
    if result["distinct_urls"] != result["items"]:
        violations.append("an item stored twice (same URL)")
    if result["integrity"] != "ok":
        violations.append(f"integrity_check: {result['integrity']}")
    if result["foreign_key_violations"]:
        violations.append(f"{result['foreign_key_violations']} foreign key violations")
    if missing > 0:
        violations.append(f"{missing} matched items never alerted")
    if result["distinct_subjects"] > result["matched"]:
        violations.append("mail for an item that is not a matched item")
    if result["outbox"] != {"sent": result["matched"]}:
        violations.append(f"outbox not all sent: {result['outbox']}")
    if dupes and args.strict:
        violations.append(f"{dupes} duplicate alerts")

    codes = ", ".join(str(c) for c in sorted(set(stats["codes"]))) or "-"
    rows = [
        ("command", " ".join(["monitor", *command(args.mode, Path("CFG"))[3:]])),
        ("rounds / seed", f"{args.rounds} / {args.seed}"),
        ("killed with SIGKILL", stats["killed"]),
        ("finished before the kill", f"{stats['finished_first']} (exit codes {codes})"),
        ("rounds that changed the DB", stats["progress_rounds"]),
        ("items stored (expected)", f"{result['items']} ({EXPECTED_ITEMS})"),
        ("distinct item URLs", result["distinct_urls"]),
        ("item_urls rows", result["item_urls"]),
        ("matched items", result["matched"]),
        ("outbox", result["outbox"]),
        ("mails received", result["mails"]),
        ("distinct subjects", result["distinct_subjects"]),
        ("duplicate alerts", dupes),
        ("matched items never alerted", max(missing, 0)),
        ("integrity_check", result["integrity"]),
        ("foreign_key_check violations", result["foreign_key_violations"]),
        ("wall time", f"{elapsed:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if result["missing_articles"]:
        print("listing articles never stored: " + " ".join(result["missing_articles"]))
    for subject, count in result["duplicates"].items():
        print(f"duplicate ×{count}: {subject}")
    if args.keep:
        print(f"kept {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    if violations:
        print("VIOLATIONS:\n  " + "\n  ".join(violations))
        return 1
    print("OK: every item stored once, every matched item alerted"
          + (f" ({dupes} duplicate in the documented window)" if dupes else " once"))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
