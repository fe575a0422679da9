"""Faults a long-running monitor meets: a locked database, an unwritable data folder,
a full disk, and a config file with wrong values. Each ends in one clear line, never
a traceback, and never loses what was already stored.
"""

from __future__ import annotations

import re
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.pipeline import run_once
from monitor.store import Store
from tests.conftest import CONFIG, ROOT, write_config


def _feed_source(base_url: str) -> str:
    return f"""
[sources.dla-asean]
preset = "wordpress-feed"
url = "{base_url}/rss/dla-asean.xml"
"""


def _listing_source(base_url: str) -> str:
    return f"""
[sources.thaigov]
preset = "thaigov-legacy"
url = "{base_url}/news/contents/category/1"
max_pages = 4
"""


def _config(tmp_path: Path, sources: str, extra: str = "") -> Path:
    return write_config(tmp_path, sources, extra=extra)


def _monitor(
    *args: str, preexec_fn: Callable[[], None] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, preexec_fn=preexec_fn,
    )  # fmt: skip


def _items(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT url FROM items ORDER BY id")]
    finally:
        conn.close()


def _integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


# ---- database locked by another process


def _hold_exclusive(db: Path, seconds: float, locked: threading.Event) -> threading.Thread:
    def hold() -> None:
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    return thread


def test_lock_held_shorter_than_busy_timeout_the_run_waits_and_succeeds(
    tmp_path: Path, snapshot_url: str
):
    """store.py sets `PRAGMA busy_timeout = 10000`: a writer holding the lock ~3 s is waited for."""
    config = _config(tmp_path, _feed_source(snapshot_url))
    db = load_settings(config).db_path
    Store(db).close()  # the schema exists; the lock holder is another connection
    locked = threading.Event()
    holder = _hold_exclusive(db, 3.0, locked)
    assert locked.wait(5)
    started = time.monotonic()
    result = _monitor("run", "--once", "--config", str(config))
    holder.join()
    assert result.returncode == 0, result.stderr[-2000:]
    assert time.monotonic() - started >= 2.5, "the run could not have written under the lock"
    assert "locked" not in result.stderr and "Traceback" not in result.stderr
    assert len(_items(db)) == 5


def test_lock_held_longer_than_busy_timeout_is_a_store_error_not_a_traceback(
    tmp_path: Path, snapshot_url: str
):
    """Held past the busy timeout (10 s; lowered to 0.2 s here to keep the test fast).

    Today: each item fails with "cannot store URL: database is locked" (a StoreError,
    counted as a problem), then `record_run` raises a bare sqlite3.OperationalError.
    """
    settings = load_settings(_config(tmp_path, _feed_source(snapshot_url)))
    store = Store(settings.db_path)
    store.db.execute("PRAGMA busy_timeout = 200")
    other = sqlite3.connect(settings.db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        from monitor.errors import MonitorError

        try:
            run_once(settings, store)
        except MonitorError as exc:  # a StoreError naming the database is the wanted outcome
            assert "locked" in str(exc)
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.close()


# ---- data directory that cannot be created or written (even by root)


@pytest.mark.parametrize(
    "verb", [["run", "--once"], ["serve"], ["status"]], ids=["run-once", "serve", "status"]
)
def test_unwritable_data_dir_is_one_line_naming_the_path(
    tmp_path: Path, snapshot_url: str, verb: list[str]
):
    # root ignores permission bits (chmod 555 would not stop it): a data_dir *under a
    # regular file* cannot be created by anyone (ENOTDIR).
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder\n", encoding="utf-8")
    config = _config(tmp_path, _feed_source(snapshot_url))
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace(str(tmp_path / "data"), str(blocker / "data")), "utf-8")
    result = _monitor(*verb, "--config", str(config), timeout=30)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert str(blocker / "data") in errors[0]
    assert "Not a directory" in errors[0]


# ---- disk full: writes beyond a file-size limit fail (RLIMIT_FSIZE, SIGXFSZ ignored)


def _disk_full_run(tmp_path: Path, snapshot_url: str) -> tuple[subprocess.CompletedProcess, list]:
    config = _config(tmp_path, _feed_source(snapshot_url))
    first = _monitor("run", "--once", "--config", str(config))
    assert first.returncode == 0, first.stderr[-2000:]
    db = load_settings(config).db_path
    before = _items(db)
    assert len(before) == 5
    limit = db.stat().st_size + 16 * 1024  # room for a few items, not for 33

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    config = _config(tmp_path, _feed_source(snapshot_url) + _listing_source(snapshot_url))
    full = _monitor("run", "--once", "--config", str(config), preexec_fn=limited)
    return full, before


def test_disk_full_loses_nothing_already_stored(tmp_path: Path, snapshot_url: str):
    full, before = _disk_full_run(tmp_path, snapshot_url)
    db = tmp_path / "data" / "monitor.db"
    assert re.search(r"disk I/O error|database or disk is full", full.stderr), full.stderr[-2000:]
    assert _integrity(db) == "ok"
    after = _items(db)
    assert after[: len(before)] == before, "earlier items are still there"
    assert len(after) < 5 + 33, "the limit did stop some writes"
    # With room again the monitor runs normally on the same file.
    again = _monitor("run", "--once", "--config", str(tmp_path / "monitor.toml"))
    assert again.returncode == 0, again.stderr[-2000:]
    assert _integrity(db) == "ok"
    assert _items(db)[: len(after)] == after


def test_disk_full_is_one_clear_error_and_a_non_zero_exit(tmp_path: Path, snapshot_url: str):
    full, _ = _disk_full_run(tmp_path, snapshot_url)
    assert "Traceback" not in full.stderr
    assert full.returncode != 0
    assert re.search(r"(disk I/O error|database or disk is full)", full.stderr)


# ---- bad-input sweep: every wrong type in the config file


BASE = f"""
data_dir = "DATA"
topics_file = "{CONFIG / "topics.toml"}"
presets_file = "{CONFIG / "presets.toml"}"
templates_dir = "{CONFIG / "templates"}"
"""
# A source that fails at once (nothing listens on port 9): a valid config exits 1, not 2.
SOURCE = '\n[sources.s]\nkind = "rss"\nurl = "http://127.0.0.1:9/feed.xml"\n'
EMAIL = (
    '\n[channels.e]\nkind = "email"\nhost = "127.0.0.1"\nport = 25\n'
    'sender = "a@localhost"\nrecipients = ["b@localhost"]\n'
)


def _root(key: str, value: str) -> str:
    lines = [line for line in BASE.splitlines() if not line.startswith(f"{key} =")]
    return "\n".join(lines) + f"\n{key} = {value}\n" + SOURCE


def _in_source(line: str) -> str:
    return BASE + SOURCE + line + "\n"


def _in_channel(line: str) -> str:
    return BASE + SOURCE + EMAIL + line + "\n"


# (case id, config text, key the message must name)
# fmt: off
CASES: list[tuple[str, str, str]] = [
    ("data_dir-int", _root("data_dir", "5"), "data_dir"),
    ("data_dir-bool", _root("data_dir", "true"), "data_dir"),
    ("topics_file-list", _root("topics_file", '["a"]'), "topics_file"),
    ("templates_dir-float", _root("templates_dir", "1.5"), "templates_dir"),
    ("templates_dir-empty-folder", _root("templates_dir", '"EMPTY"'), "templates_dir"),
    ("topics_file-missing", _root("topics_file", '"nowhere.toml"'), "(file)"),
    ("unknown-root-key", BASE + "colour = 1\n" + SOURCE, "colour"),
    ("fetch-string", BASE + 'fetch = "fast"\n' + SOURCE, "fetch"),
    ("fetch-list", BASE + "fetch = [1]\n" + SOURCE, "fetch"),
    ("fetch.timeout-string", BASE + '[fetch]\ntimeout_seconds = "20"\n' + SOURCE, "fetch.timeout"),
    ("fetch.timeout-bool", BASE + "[fetch]\ntimeout_seconds = true\n" + SOURCE, "fetch.timeout"),
    ("fetch.timeout-negative", BASE + "[fetch]\ntimeout_seconds = -1\n" + SOURCE, "fetch.timeout"),
    ("fetch.max_bytes-float", BASE + "[fetch]\nmax_bytes = 1.5\n" + SOURCE, "fetch.max_bytes"),
    ("fetch.max_bytes-tiny", BASE + "[fetch]\nmax_bytes = 10\n" + SOURCE, "fetch.max_bytes"),
    ("fetch.obey_robots-string", BASE + '[fetch]\nobey_robots = "no"\n' + SOURCE, "obey_robots"),
    ("fetch.max_workers-zero", BASE + "[fetch]\nmax_workers = 0\n" + SOURCE, "max_workers"),
    ("fetch.user_agent-int", BASE + "[fetch]\nuser_agent = 1\n" + SOURCE, "fetch.user_agent"),
    ("fetch.unknown-key", BASE + "[fetch]\nretries = 3\n" + SOURCE, "fetch.retries"),
    ("sources-string", BASE + 'sources = "abc"\n', "sources"),
    ("source-int", BASE + "[sources]\ns = 5\n", "sources.s"),
    ("source.url-int", BASE + "[sources.s]\nkind = 'rss'\nurl = 5\n", "sources.s.url"),
    ("source.url-ftp", BASE + "[sources.s]\nkind = 'rss'\nurl = 'ftp://x/'\n", "sources.s.url"),
    ("source.url-missing", BASE + "[sources.s]\nkind = 'rss'\n", "sources.s.url"),
    ("source.kind-unknown", BASE + "[sources.s]\nkind = 'atom'\nurl = 'http://x/'\n", "kind"),
    ("source.kind-int", BASE + "[sources.s]\nkind = 1\nurl = 'http://x/'\n", "sources.s.kind"),
    ("source.max_pages-string", _in_source('max_pages = "3"'), "sources.s.max_pages"),
    ("source.max_pages-zero", _in_source("max_pages = 0"), "sources.s.max_pages"),
    ("source.max_pages-float", _in_source("max_pages = 2.5"), "sources.s.max_pages"),
    ("source.interval-zero", _in_source("interval_minutes = 0"), "sources.s.interval_minutes"),
    ("source.interval-string", _in_source('interval_minutes = "1h"'), "interval_minutes"),
    ("source.enabled-string", _in_source('enabled = "no"'), "sources.s.enabled"),
    ("source.preset-unknown", _in_source('preset = "nope"'), "sources.s.preset"),
    ("source.preset-int", _in_source("preset = 3"), "sources.s.preset"),
    ("source.url_pattern-bad-regex", _in_source('url_pattern = "("'), "sources.s.url_pattern"),
    ("source.fetch_articles-int", _in_source("fetch_articles = 1"), "fetch_articles"),
    ("source.unknown-key", _in_source("colour = 1"), "sources.s.colour"),
    ("html.listing-string", BASE + "[sources.h]\nkind='html'\nurl='http://x/'\nlisting='div'\n",
     "sources.h.listing"),
    ("html.listing.links-int",
     BASE + "[sources.h]\nkind='html'\nurl='http://x/'\n[sources.h.listing]\nlinks=5\n",
     "sources.h.listing.links"),
    ("html.listing.links-missing",
     BASE + "[sources.h]\nkind='html'\nurl='http://x/'\n[sources.h.listing]\n",
     "sources.h.listing.links"),
    ("article.drop_lines-string", _in_source('[sources.s.article]\ndrop_lines = "x"'),
     "drop_lines"),
    ("article.drop_lines-ints", _in_source("[sources.s.article]\ndrop_lines = [1]"),
     "drop_lines"),
    ("article.drop_lines-bad-regex", _in_source('[sources.s.article]\ndrop_lines = ["("]'),
     "drop_lines"),
    ("article.title-int", _in_source("[sources.s.article]\ntitle = 1"), "sources.s.article.title"),
    ("channels-string", BASE + 'channels = "x"\n' + SOURCE, "channels"),
    ("channel-int", BASE + SOURCE + "[channels]\ne = 5\n", "channels.e"),
    ("channel.kind-unknown", BASE + SOURCE + "[channels.e]\nkind = 'sms'\n", "channels.e.kind"),
    ("channel.kind-missing", BASE + SOURCE + "[channels.e]\nhost = 'x'\n", "channels.e.kind"),
    ("channel.port-string", _in_channel("").replace("port = 25", 'port = "25"'), "port"),
    ("channel.port-zero", _in_channel("").replace("port = 25", "port = 0"), "channels.e.port"),
    ("channel.host-missing", _in_channel("").replace('host = "127.0.0.1"', ""), "host"),
    ("channel.recipients-string",
     _in_channel("").replace('recipients = ["b@localhost"]', 'recipients = "b@localhost"'),
     "channels.e.recipients"),
    ("channel.recipients-empty",
     _in_channel("").replace('recipients = ["b@localhost"]', "recipients = []"),
     "channels.e.recipients"),
    ("channel.tls-unknown", _in_channel('tls = "yes"'), "channels.e.tls"),
    ("channel.tls-bool", _in_channel("tls = true"), "channels.e.tls"),
    ("channel.topics-unknown", _in_channel('topics = ["sports"]'), "channels.e.topics"),
    ("channel.topics-string", _in_channel('topics = "asean"'), "channels.e.topics"),
    ("channel.mode-unknown", _in_channel('mode = "weekly"'), "channels.e.mode"),
    ("channel.digest_time-int", _in_channel("digest_time = 800"), "channels.e.digest_time"),
    ("channel.digest_time-bad", _in_channel('digest_time = "25:00"'), "channels.e.digest_time"),
    ("channel.quiet_hours-bad", _in_channel('quiet_hours = "22-07-01"'), "quiet_hours"),
    ("channel.quiet_hours-clock", _in_channel('quiet_hours = "22:00-7pm"'), "quiet_hours"),
    ("channel.urgent_score-string", _in_channel('urgent_score = "high"'), "urgent_score"),
    ("channel.min_score-negative", _in_channel("min_score = -1"), "channels.e.min_score"),
    ("channel.password_env-unset", _in_channel('password_env = "TNM_TEST_UNSET_VARIABLE"'),
     "channels.e.password_env"),
    ("channel.timeout-zero", _in_channel("timeout_seconds = 0"), "channels.e.timeout_seconds"),
    ("channel.enabled-string", _in_channel('enabled = "yes"'), "channels.e.enabled"),
    ("apprise.url_env-missing", BASE + SOURCE + "[channels.c]\nkind = 'apprise'\n",
     "channels.c.url_env"),
    ("alerts.max_attempts-zero", BASE + SOURCE + "[alerts]\nmax_attempts = 0\n", "max_attempts"),
    ("alerts.retry_base-string", BASE + SOURCE + '[alerts]\nretry_base_seconds = "60"\n',
     "alerts.retry_base_seconds"),
    ("demo-string", BASE + 'demo = "yes"\n' + SOURCE, "demo"),
    ("toml-syntax", BASE + SOURCE + "[fetch\n", "(syntax)"),
]
# Wrong values the loader once accepted or tripped over (each with what went wrong then).
FIXED_CASES: list[tuple[str, str, str, str]] = [
    ("sources-int", BASE + "sources = 5\n", "sources",
     "config.load_settings: set(root.data.get('sources', {})) raises TypeError on a non-table"),
    ("sources-list-of-lists", BASE + "sources = [[1]]\n", "sources",
     "config.load_settings: set() of a list of lists raises TypeError (unhashable)"),
    ("channels-int", BASE + "channels = 5\n" + SOURCE, "channels",
     "config.load_settings: set(root.data.get('channels', {})) raises TypeError"),
    ("presets-int", _in_source('preset = "x"').replace(str(CONFIG / "presets.toml"), "PRESETS"),
     "presets", "config.load_settings: `presets = 5` in presets.toml is used as a mapping"),
    ("topics-int", _root("topics_file", '"TOPICS"'), "topics",
     "config.load_rules: set(root.data.get('topics', {})) raises TypeError"),
    ("source.interval-nan", _in_source("interval_minutes = nan"), "sources.s.interval_minutes",
     "_Table.number accepts TOML nan/inf (nan < minimum is False); timedelta(nan) fails later"),
    ("source.interval-inf", _in_source("interval_minutes = inf"), "sources.s.interval_minutes",
     "_Table.number accepts inf; APScheduler/timedelta overflow in serve"),
    ("fetch.min_delay-nan", BASE + "[fetch]\nmin_delay_seconds = nan\n" + SOURCE,
     "fetch.min_delay_seconds", "_Table.number accepts nan: the per-host delay is silently off"),
    ("alerts.retry_base-nan", BASE + SOURCE + "[alerts]\nretry_base_seconds = nan\n",
     "alerts.retry_base_seconds", "_Table.number accepts nan: timedelta(nan) at the first retry"),
    ("channel.port-too-big", _in_channel("").replace("port = 25", "port = 99999999"),
     "channels.e.port", "port has no maximum (65535): smtplib fails only when sending"),
]
# fmt: on

MESSAGE = re.compile(r"^error: (?P<file>[^:]+): (?P<key>[^:]+): (?P<expected>.+)$")


def _files(folder: Path, name: str, text: str) -> Path:
    """Write case `name` into `folder`, filling in the placeholders."""
    (folder / "EMPTY").mkdir(exist_ok=True)
    (folder / "presets-bad.toml").write_text("presets = 5\n", encoding="utf-8")
    (folder / "topics-bad.toml").write_text("topics = 5\n", encoding="utf-8")
    text = text.replace('"DATA"', f'"{folder / "data" / name}"')
    text = text.replace('"EMPTY"', f'"{folder / "EMPTY"}"')
    text = text.replace('"PRESETS"', f'"{folder / "presets-bad.toml"}"')
    text = text.replace('"TOPICS"', f'"{folder / "topics-bad.toml"}"')
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _check_one_line(code: int, stderr: str, key: str) -> None:
    assert "Traceback" not in stderr, stderr[-2000:]
    assert code == 2, f"exit {code}: {stderr[-1000:]}"
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    found = MESSAGE.match(lines[0])
    assert found, lines[0]
    assert found["file"].endswith(".toml")
    assert key in found["key"], lines[0]
    assert found["expected"].strip()


def _invoke(tmp_path: Path, name: str, text: str, key: str) -> None:
    """`monitor run --once --config FILE` in this process (the same code path, 100x faster)."""
    from click.testing import CliRunner

    from monitor.cli import cli

    path = _files(tmp_path, name, text)
    result = CliRunner().invoke(cli, ["run", "--once", "--quiet", "--config", str(path)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"Traceback (uncaught {type(result.exception).__name__}):\n{trace}")
    _check_one_line(result.exit_code, result.stderr, key)


@pytest.mark.parametrize(("name", "text", "key"), CASES, ids=[c[0] for c in CASES])
def test_wrong_config_value_is_one_clear_line_and_exit_2(
    tmp_path: Path, name: str, text: str, key: str
):
    _invoke(tmp_path, name, text, key)


@pytest.mark.parametrize(
    ("name", "text", "key"), [c[:3] for c in FIXED_CASES], ids=[c[0] for c in FIXED_CASES]
)
def test_wrong_config_value_once_missed_is_caught(tmp_path: Path, name: str, text: str, key: str):
    _invoke(tmp_path, name, text, key)


SUBPROCESS_CASES = ["data_dir-int", "fetch.timeout-string", "source.max_pages-zero",
                    "channel.port-string", "channel.password_env-unset", "toml-syntax"]  # fmt: skip


def test_wrong_config_through_python_m_monitor(tmp_path: Path):
    """A sample of the sweep as real processes (`python -m monitor run --once`), in parallel."""
    by_name = {c[0]: c for c in CASES}
    cases = [(name, by_name[name][1]) for name in SUBPROCESS_CASES]
    cases.append(("valid", BASE + SOURCE + EMAIL))

    def one(case: tuple[str, str]) -> tuple[str, subprocess.CompletedProcess[str]]:
        path = _files(tmp_path, *case)
        return case[0], _monitor("run", "--once", "--quiet", "--config", str(path), timeout=60)

    with ThreadPoolExecutor(4) as pool:
        results = dict(pool.map(one, cases))
    valid = results.pop("valid")
    assert valid.returncode == 1, valid.stderr  # the unreachable source fails; the config is fine
    assert "error:" not in valid.stderr and "Traceback" not in valid.stderr
    for name, result in results.items():
        _check_one_line(result.returncode, result.stderr, by_name[name][2])
