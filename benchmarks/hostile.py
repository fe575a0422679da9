"""Hostile input: replay a security review's attacks against the monitor, as a black box.

    python benchmarks/hostile.py                      # this checkout
    python benchmarks/hostile.py --repo /tmp/before   # another checkout (a git worktree)
    python benchmarks/hostile.py --json --only ssrf,web

Each attack runs that checkout's code (`PYTHONPATH=REPO python -m monitor ...`, from a
temporary folder so nothing else is imported) through its CLI only: a TOML config in a
fresh temporary folder (data dir, the checkout's topics, presets and templates, no
robots.txt, no delay, 5 s timeout), a real SMTP server (aiosmtpd) for the email
channel, and two sources on 127.0.0.1: the hostile one and a healthy RSS feed serving
one Thai cybersecurity/ASEAN release (the first item of demo/snapshot/rss). Every
command is killed after `--timeout` seconds (60) and reported as "timeout".

One row per attack: the exit status of the command, what `monitor status` says of the
hostile source (its last error, "ok", or "not listed"), whether the healthy source's
item was stored and mailed ("mailed", "stored", "no"), the command's peak RSS (its own
`ru_maxrss` from `os.wait4`, or /proc VmHWM for a server), its seconds, and a verdict
by the expectation below. A "Traceback (most recent call last)" on the stderr of any
command of an attack is always a fail; so is a timeout.

Expectations (held when ...):

- charset rot13 / idna (an article served `charset=rot13`, `charset=idna`) and year-1
  html / rss / sitemap (`1 มกราคม 0001`, a pubDate and a lastmod in year 1): the run
  exits 0 or 1, the healthy item is mailed, the hostile item is stored or its error
  recorded;
- search --since 0001: `monitor search --since "1 ม.ค. 0001"` exits 0 or 2;
- ssrf html / sitemap / rss (a link, `<loc>` or item link to another local port), feed
  body url / file (a feed whose body is the URL of a feed on another local port, or the
  path of a local feed file): that page or file is never read and its marker is in
  neither `search` nor `export`;
- rss javascript: link: no stored URL starts with `javascript:` (export and search);
- header trickle (a status line, then one header byte a second): the run ends in < 15 s;
- terminal escapes (a title with OSC and CSI sequences): no ESC byte in the stdout of
  `search` or `show ID`;
- markdown title (an Apprise `json://` receiver): a payload arrives and no title holds
  the raw `[x](http://evil.example/)`;
- web sql (`monitor web`, `/<db>.json?sql=select+1`): refused (400/403), or
  `thai_fts_query` of a 10-million-character string answers in < 3 s;
- web databases.json: `/-/databases.json` does not show the data dir;
- plain smtp login (username and password with `tls = "none"`): `run --once` exits 2
  naming tls/plain, and no login reaches the server;
- second serve (a second `monitor serve` on the same data): it exits non-zero within
  10 s saying another instance runs;
- dead source visibility (`status` after each charset and year-1 run): the hostile
  source is listed; with an error `status` exits 1, without one its item was stored;
- escapes in HTTP reason (a 500 whose reason phrase holds OSC and CSI): no ESC byte in
  what `run --once`, `status` or `sources` print;
- refused article (size) (one article of a listing over the 5 MB cap): `run --once` and
  `status` exit 1, and status says the page failed;
- sitemap index, max_pages 1: the newest child sitemap's item is stored;
- damaged database (the items table's pages overwritten): `status`, `search` and
  `run --once` exit 2 with one line naming the file;
- file modes: the database is created 0600 and its folder 0700;
- secret typed as a name (a bot token as `url_env`): exit 2, the token not echoed;
- credentials in source URL (`http://reader:hunter2@…`): the password is printed by
  neither `run --once`, `status` nor `sources`.

Exit status: 0 when every attack held, 1 when one failed, 2 on a harness error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _hostile_servers import Mailbox, Proc, Site, free_port, trickle, vm_mb

ROOT = Path(__file__).resolve().parents[1]
SEED_FEED = ROOT / "demo" / "snapshot" / "rss" / "dla-asean.xml"
TRACEBACK = "Traceback (most recent call last)"
SECRET = "SECRET-MARKER-7f3a9c"
EVIL_LINK = "[x](http://evil.example/)"
ESCAPES = "\x1b]0;pwned\x07\x1b[2J"
HOSTILE_TITLE = "สกมช. เตือนภัยแรนซัมแวร์โจมตีหน่วยงานรัฐ"
HOSTILE_BODY = (
    "สำนักงานคณะกรรมการการรักษาความมั่นคงปลอดภัยไซเบอร์แห่งชาติ (สกมช.) แจ้งเตือน"
    "หน่วยงานรัฐให้ระวังการโจมตีทางไซเบอร์ด้วยแรนซัมแวร์ และเร่งแก้ไขช่องโหว่ของระบบ"
    "โดยเร็ว เพื่อป้องกันการรั่วไหลของข้อมูลส่วนบุคคลของประชาชน"
)
# The internal page has its own text, so dedup cannot fold it into the public article.
SECRET_TITLE = f"บันทึกภายใน ศูนย์ปฏิบัติการไซเบอร์ {SECRET}"
SECRET_BODY = (
    "ศูนย์ปฏิบัติการความมั่นคงปลอดภัยไซเบอร์พบการเจาะระบบและมัลแวร์ในเครือข่ายภายใน "
    "รหัสผ่านผู้ดูแลระบบถูกเปลี่ยนแล้ว โปรดอย่าเผยแพร่เอกสารนี้"
)
HTML = "text/html; charset=utf-8"
XML = "application/xml; charset=utf-8"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
RSS_DATE = "Tue, 08 Oct 2019 09:30:00 +0700"
ARTICLE_RULES = """
[sources.hostile.article]
title = "h1"
body = "div.body"
date = ".date"
"""


@dataclass
class Row:
    """One attack's result; `verdict` is "held", "failed" or "harness error"."""

    attack: str
    exit: str = "-"
    status: str = "-"
    healthy: str = "-"
    rss_mb: float | None = None
    seconds: float | None = None
    verdict: str = "failed"
    why: str = ""
    tracebacks: list[str] = field(default_factory=list)


@dataclass
class Seen:
    """What `monitor status` and `search` said of the hostile source after a run."""

    status_code: int | None = None
    listed: bool = False
    error: str = ""
    stored: int = 0


# Pages ------------------------------------------------------------------------------


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def article(title: str = HOSTILE_TITLE, body: str = HOSTILE_BODY, date: str = "") -> bytes:
    """An article page; no <meta charset>, so only the HTTP header names the charset."""
    date = date or "7 ตุลาคม 2562"
    return (
        f"<!doctype html><html><head><title>{_esc(title)}</title></head><body>"
        f'<h1>{_esc(title)}</h1><div class="date">{_esc(date)}</div>'
        f'<div class="body"><p>{_esc(body)}</p></div></body></html>'
    ).encode()


def listing(links: list[str]) -> bytes:
    items = "".join(
        f'<li><a class="news" href="{_esc(u)}">ข่าว {i}</a></li>' for i, u in enumerate(links)
    )
    return f"<!doctype html><html><body><ul>{items}</ul></body></html>".encode()


def rss(items: list[tuple[str, str, str, str]]) -> bytes:
    """An RSS 2.0 feed of (title, link, description, pubDate)."""
    entries = "".join(
        f"<item><title>{_esc(t)}</title><link>{_esc(link)}</link>"
        f'<guid isPermaLink="false">{_esc(link)}#{i}</guid>'
        f"<pubDate>{d}</pubDate><description>{_esc(desc)}</description></item>"
        for i, (t, link, desc, d) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>hostile</title><link>http://127.0.0.1/</link><description>x</description>"
        f"{entries}</channel></rss>"
    ).encode()


def sitemap(entries: list[tuple[str, str]]) -> bytes:
    urls = "".join(f"<url><loc>{_esc(loc)}</loc><lastmod>{m}</lastmod></url>" for loc, m in entries)
    return (
        f'<?xml version="1.0" encoding="utf-8"?><urlset xmlns="{SITEMAP_NS}">{urls}</urlset>'
    ).encode()


def seed_item() -> tuple[str, str]:
    """(title, text) of the demo feed's first item: the healthy source's one release."""
    item = ET.parse(SEED_FEED).getroot().find("channel/item")
    if item is None:
        raise SystemExit(f"no <item> in {SEED_FEED}")
    return item.findtext("title", "").strip(), item.findtext("description", "").strip()


def html_source(url: str) -> str:
    return (
        f'[sources.hostile]\nkind = "html"\nurl = "{url}"\n'
        '[sources.hostile.listing]\nlinks = "a.news"\n' + ARTICLE_RULES
    )


def rss_source(url: str, fetch_articles: bool = False) -> str:
    fetch = "true" if fetch_articles else "false"
    return f'[sources.hostile]\nkind = "rss"\nurl = "{url}"\nfetch_articles = {fetch}\n' + (
        ARTICLE_RULES if fetch_articles else ""
    )


def sitemap_source(url: str) -> str:
    return f'[sources.hostile]\nkind = "sitemap"\nurl = "{url}"\n' + ARTICLE_RULES


def healthy_source(base: str) -> str:
    return f'\n[sources.healthy]\npreset = "wordpress-feed"\nurl = "{base}/feed.xml"\n'


def email_channel(port: int, extra: str = "") -> str:
    return (
        f'\n[channels.email]\nkind = "email"\nhost = "127.0.0.1"\nport = {port}\n'
        f'timeout_seconds = 10\nsender = "monitor@localhost"\n{extra}'
        'recipients = ["analyst@localhost"]\n'
    )


# One attack's world -----------------------------------------------------------------


class Lab:
    """A fresh folder, an SMTP server, the healthy feed and the commands of one attack."""

    def __init__(self, repo: Path, timeout: float, max_mb: float, keep: bool) -> None:
        self.repo = repo
        self.timeout = timeout
        self.max_mb = max_mb
        self.keep = keep
        self.folder = Path(tempfile.mkdtemp(prefix="hostile-"))
        self.data_dir = self.folder / "data"
        self.env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONUNBUFFERED": "1"}
        self.env["NO_PROXY"] = self.env["no_proxy"] = "127.0.0.1,localhost"
        self.seed_title, seed_text = seed_item()
        self.mail = Mailbox()
        self.healthy = Site()
        self.healthy.routes["/feed.xml"] = (
            200,
            {"Content-Type": XML},
            rss([(self.seed_title, f"{self.healthy.url}/news/4821", seed_text, RSS_DATE)]),
        )
        self.tracebacks: list[str] = []
        self.procs: list[Proc] = []
        self.config = self.folder / "monitor.toml"

    def __enter__(self) -> Lab:
        self.mail.__enter__()
        self.healthy.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            proc.stop(grace=2)
            proc.close()
        self.healthy.__exit__()
        self.mail.__exit__()
        if not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)

    def write_config(self, hostile: str = "", channels: str = "", healthy: bool = True) -> Path:
        repo_config = self.repo / "config"
        templates = repo_config / "templates"
        text = (
            f'data_dir = "{self.data_dir}"\n'
            f'topics_file = "{repo_config / "topics.toml"}"\n'
            f'presets_file = "{repo_config / "presets.toml"}"\n'
            + (f'templates_dir = "{templates}"\n' if templates.is_dir() else "")
            + "\n[fetch]\nobey_robots = false\nmin_delay_seconds = 0\ntimeout_seconds = 5\n\n"
            + hostile
            + (healthy_source(self.healthy.url) if healthy else "")
            + (channels or email_channel(self.mail.port))
        )
        self.config.write_text(text, encoding="utf-8")
        return self.config

    def start(self, *args: str, env: dict[str, str] | None = None) -> Proc:
        argv = [sys.executable, "-m", "monitor", *args, "--config", str(self.config)]
        proc = Proc(argv, {**self.env, **(env or {})}, self.folder)
        self.procs.append(proc)
        return proc

    def check_tracebacks(self, proc: Proc, label: str) -> None:
        """Note a traceback on stderr by its exception line; with --keep, save the output."""
        stderr = proc.stderr
        if self.keep:
            stem = self.folder / f"{len(self.procs):02d}-{label.replace(' ', '')}"
            stem.with_suffix(".stdout").write_bytes(proc.stdout_bytes)
            stem.with_suffix(".stderr").write_text(stderr, encoding="utf-8")
        if TRACEBACK in stderr:
            after = stderr[stderr.rindex(TRACEBACK) :].splitlines()[1:]  # the final one
            exception = next((x for x in after if x and not x.startswith(" ")), "")
            self.tracebacks.append(f"{label}: {exception[:120]}")

    def monitor(self, *args: str, env: dict[str, str] | None = None) -> Proc:
        """Run one command to its end (or the timeout); a traceback is noted."""
        proc = self.start(*args, env=env).finish(self.timeout, self.max_mb)
        self.check_tracebacks(proc, args[0])
        return proc

    def status(self) -> Seen:
        """`monitor status --json`: its exit status and what it says of the hostile source."""
        proc = self.monitor("status", "--json")
        seen = Seen(status_code=proc.code)
        try:
            sources = json.loads(proc.stdout)["sources"]
        except (ValueError, KeyError, TypeError):
            return seen
        for source in sources:
            if source.get("source") == "hostile":
                seen.listed = True
                failed = source.get("failed_last_run")  # absent before the fixes
                pages = f"{failed} pages failed: {source.get('last_problem')}" if failed else ""
                seen.error = str(source.get("last_error") or pages)
        seen.stored = len(self.items("hostile"))
        return seen

    def items(self, source: str = "") -> list[dict[str, Any]]:
        args = ["search", "--json", "--limit", "100"] + (["--source", source] if source else [])
        proc = self.monitor(*args)
        try:
            rows = json.loads(proc.stdout)
        except ValueError:
            return []
        return rows if isinstance(rows, list) else []

    def healthy_outcome(self) -> str:
        """ "mailed", "stored" (not mailed) or "no": the healthy source's release."""
        if not self.items("healthy"):
            return "no"
        needle = self.seed_title[:30]
        if any(needle in subject or needle in text for subject, text in self.mail.messages):
            return "mailed"
        return "stored"


def status_text(seen: Seen) -> str:
    if seen.status_code is None:
        return "status timeout"
    if not seen.listed:
        return "not listed"
    return seen.error or "ok"


def exit_text(proc: Proc) -> str:
    if proc.timed_out:
        return "timeout"
    if proc.killed_for_memory:
        return "oom-kill"
    return str(proc.code)


def run_row(lab: Lab, name: str, proc: Proc, seen: Seen) -> Row:
    return Row(
        attack=name,
        exit=exit_text(proc),
        status=status_text(seen),
        healthy=lab.healthy_outcome(),
        rss_mb=round(proc.peak_mb, 1),
        seconds=round(proc.seconds, 2),
    )


def run_once(lab: Lab) -> tuple[Proc, Seen]:
    proc = lab.monitor("run", "--once")
    return proc, lab.status()


# Attacks ----------------------------------------------------------------------------


def survives(lab: Lab, name: str, hostile: str, dead: dict[str, Seen]) -> list[Row]:
    """Run once with a hostile source; held when the run and the healthy source survive."""
    lab.write_config(hostile)
    proc, seen = run_once(lab)
    dead[name] = seen
    row = run_row(lab, name, proc, seen)
    reasons = []
    if proc.timed_out or proc.code not in (0, 1):
        reasons.append(f"run exit {row.exit}")
    if row.healthy != "mailed":
        reasons.append(f"healthy {row.healthy}")
    if seen.stored:
        account = f"hostile: {seen.stored} item stored"
    elif seen.listed and seen.error:
        account = "hostile: error recorded"
    else:
        account = "hostile: no item, no error"
        reasons.append(account)
    row.verdict = "failed" if reasons else "held"
    row.why = "; ".join(reasons) if reasons else account
    return [row]


def charset(which: str) -> Callable[[Lab, dict[str, Seen]], list[Row]]:
    def attack(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
        with Site() as site:
            site.routes["/list"] = (200, {"Content-Type": HTML}, listing(["/news/1"]))
            site.routes["/news/1"] = (
                200,
                {"Content-Type": f"text/html; charset={which}"},
                article(),
            )
            return survives(lab, f"charset {which}", html_source(f"{site.url}/list"), dead)

    return attack


def year1_html(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    with Site() as site:
        site.routes["/list"] = (200, {"Content-Type": HTML}, listing(["/news/1"]))
        site.routes["/news/1"] = (200, {"Content-Type": HTML}, article(date="1 มกราคม 0001"))
        return survives(lab, "year-1 html date", html_source(f"{site.url}/list"), dead)


def year1_rss(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    with Site() as site:
        feed = rss([(HOSTILE_TITLE, f"{site.url}/news/1", HOSTILE_BODY,
                     "Sat, 01 Jan 0001 00:00:00 +1400")])  # fmt: skip
        site.routes["/feed.xml"] = (200, {"Content-Type": XML}, feed)
        return survives(lab, "year-1 rss pubDate", rss_source(f"{site.url}/feed.xml"), dead)


def year1_sitemap(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    with Site() as site:
        site.routes["/sitemap.xml"] = (
            200,
            {"Content-Type": XML},
            sitemap([(f"{site.url}/news/1", "0001-01-01T00:00:00+01:00")]),
        )
        site.routes["/news/1"] = (200, {"Content-Type": HTML}, article())
        return survives(
            lab, "year-1 sitemap lastmod", sitemap_source(f"{site.url}/sitemap.xml"), dead
        )


def search_since(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    lab.write_config()
    lab.monitor("run", "--once")
    proc = lab.monitor("search", "--since", "1 ม.ค. 0001")
    row = Row("search --since 0001", exit=exit_text(proc), rss_mb=round(proc.peak_mb, 1),
              seconds=round(proc.seconds, 2), healthy=lab.healthy_outcome())  # fmt: skip
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    row.verdict = "held" if proc.code in (0, 2) else "failed"
    row.why = f"exit {row.exit}: {last[:80]}" if last else f"exit {row.exit}"
    return [row]


def ssrf(kind: str) -> Callable[[Lab, dict[str, Seen]], list[Row]]:
    def attack(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
        with Site() as site, Site() as inner:
            secret_page = article(title=SECRET_TITLE, body=f"{SECRET} {SECRET_BODY}")
            inner.routes["/secret-admin"] = (200, {"Content-Type": HTML}, secret_page)
            secret = f"{inner.url}/secret-admin"
            site.routes["/news/1"] = (200, {"Content-Type": HTML}, article())
            own = f"{site.url}/news/1"
            if kind == "html":
                site.routes["/list"] = (200, {"Content-Type": HTML}, listing(["/news/1", secret]))
                source = html_source(f"{site.url}/list")
            elif kind == "sitemap":
                when = "2019-10-08T09:30:00+07:00"
                site.routes["/sitemap.xml"] = (
                    200, {"Content-Type": XML}, sitemap([(own, when), (secret, when)])
                )  # fmt: skip
                source = sitemap_source(f"{site.url}/sitemap.xml")
            elif kind == "rss":
                feed = rss([(HOSTILE_TITLE, own, HOSTILE_BODY, RSS_DATE),
                            ("ประกาศ สกมช. ฉบับที่ 2", secret, HOSTILE_BODY, RSS_DATE)])  # fmt: skip
                site.routes["/feed.xml"] = (200, {"Content-Type": XML}, feed)
                source = rss_source(f"{site.url}/feed.xml", fetch_articles=True)
            else:  # a feed whose body names another feed: an internal URL, a local file
                inner_feed = rss([(SECRET_TITLE, own, f"{SECRET} {SECRET_BODY}", RSS_DATE)])
                inner.routes["/secret-admin"] = (200, {"Content-Type": XML}, inner_feed)
                local = lab.folder / "secret-feed.xml"
                local.write_bytes(inner_feed)
                body = secret if kind == "feed body url" else str(local)
                site.routes["/feed.xml"] = (200, {"Content-Type": XML}, body.encode())
                source = rss_source(f"{site.url}/feed.xml")
            lab.write_config(source)
            proc, seen = run_once(lab)
            row = run_row(lab, f"ssrf {kind}", proc, seen)
            hits = inner.requests_to("/secret-admin")
            export = lab.monitor("export").stdout
            leaked = SECRET in export or SECRET in json.dumps(lab.items(), ensure_ascii=False)
        row.verdict = "failed" if hits or leaked or proc.timed_out else "held"
        row.why = (
            f"secret page requested {hits}x; marker {'stored' if leaked else 'not stored'}; "
            f"{seen.stored} hostile item(s) stored"
        )
        return [row]

    return attack


def javascript_link(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    with Site() as site:
        feed = rss([(HOSTILE_TITLE, "javascript:alert(1)", HOSTILE_BODY, RSS_DATE)])
        site.routes["/feed.xml"] = (200, {"Content-Type": XML}, feed)
        lab.write_config(rss_source(f"{site.url}/feed.xml"))
        proc, seen = run_once(lab)
        row = run_row(lab, "rss javascript: link", proc, seen)
    stored = lab.monitor("export").stdout + json.dumps(lab.items(), ensure_ascii=False)
    urls = re.findall(r'"url":\s*"([^"]*)"', stored)
    bad = [u for u in urls if u.strip().lower().startswith("javascript:")]
    row.verdict = "failed" if bad or proc.timed_out else "held"
    row.why = (
        f"stored URL {bad[0]!r}" if bad else f"no javascript: URL stored ({seen.stored} item(s))"
    )
    return [row]


def header_trickle(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    with Site() as site:
        site.routes["/list"] = (200, {"Content-Type": HTML}, listing(["/news/1"]))
        site.routes["/news/1"] = trickle(site.stopping)
        lab.write_config(html_source(f"{site.url}/list"))
        proc, seen = run_once(lab)
        row = run_row(lab, "header trickle", proc, seen)
    row.verdict = "held" if not proc.timed_out and proc.seconds < 15 else "failed"
    row.why = f"run took {proc.seconds:.1f} s with timeout_seconds = 5"
    return [row]


def terminal_escapes(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    with Site() as site:
        site.routes["/list"] = (200, {"Content-Type": HTML}, listing(["/news/1"]))
        page = article(title=f"{HOSTILE_TITLE} {ESCAPES}")
        site.routes["/news/1"] = (200, {"Content-Type": HTML}, page)
        lab.write_config(html_source(f"{site.url}/list"))
        proc, seen = run_once(lab)
        row = run_row(lab, "terminal escapes", proc, seen)
    items = lab.items("hostile")
    outputs = {"search": lab.monitor("search").stdout_bytes}
    if items:
        outputs["show"] = lab.monitor("show", str(items[0]["id"])).stdout_bytes
    dirty = [name for name, out in outputs.items() if b"\x1b" in out]
    if b"\x1b" in proc.stdout_bytes:
        dirty.append("run")
    if not items:
        row.verdict = "held"
        row.why = "hostile item not stored (nothing to print)"
    else:
        row.verdict = "failed" if {"search", "show"} & set(dirty) else "held"
        raw = any("\x1b" in str(item.get("title", "")) for item in items)
        row.why = (
            f"ESC in stdout of: {', '.join(dirty) or 'none'}; "
            f"stored title {'keeps' if raw else 'has no'} ESC"
        )
    return [row]


def markdown_title(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    with Site() as site, Site() as receiver:
        site.routes["/list"] = (200, {"Content-Type": HTML}, listing(["/news/1"]))
        page = article(title=f"{HOSTILE_TITLE} {EVIL_LINK}")
        site.routes["/news/1"] = (200, {"Content-Type": HTML}, page)
        channels = email_channel(lab.mail.port) + (
            '\n[channels.chat]\nkind = "apprise"\nurl_env = "HOSTILE_CHAT_URL"\n'
        )
        lab.write_config(html_source(f"{site.url}/list"), channels)
        url = f"json://127.0.0.1:{receiver.port}/"
        lab.env["HOSTILE_CHAT_URL"] = url  # every command of this lab loads the channel
        proc = lab.monitor("run", "--once")
        seen = lab.status()
        row = run_row(lab, "markdown title", proc, seen)
        payloads = []
        for body in receiver.posts:
            try:
                payloads.append(json.loads(body))
            except ValueError:
                payloads.append({"title": body.decode(errors="replace")})
    titles = [str(p.get("title", "")) for p in payloads]
    raw_in_title = [t for t in titles if EVIL_LINK in t]
    raw_in_message = [p for p in payloads if EVIL_LINK in str(p.get("message", ""))]
    if not payloads:
        row.verdict, row.why = "failed", f"no chat payload received ({seen.stored} item(s) stored)"
    else:
        row.verdict = "failed" if raw_in_title else "held"
        row.why = (
            f"{len(payloads)} payload(s); raw link in title: {len(raw_in_title)}, "
            f"in message: {len(raw_in_message)}"
        )
    return [row]


def _get(url: str, timeout: float) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read(), time.perf_counter() - started
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), time.perf_counter() - started
    except (OSError, TimeoutError) as exc:
        return 0, str(exc).encode(), time.perf_counter() - started


def web(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    lab.write_config()
    lab.monitor("run", "--once")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = lab.start("web", "--port", str(port))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not server.poll():
        if _get(f"{base}/-/versions.json", 2)[0]:
            break
        time.sleep(0.2)
    if server.poll():
        lab.check_tracebacks(server, "web")
        msg = (server.stderr.strip().splitlines() or [""])[-1][:80]
        raise RuntimeError(f"monitor web exited {server.code} at start: {msg}")
    code, body, _ = _get(f"{base}/-/databases.json", 10)
    names = []
    with contextlib.suppress(ValueError, KeyError, TypeError):
        names = [d["name"] for d in json.loads(body) if not d["name"].startswith("_")]
    db = names[0] if names else "monitor"
    leak = str(lab.data_dir) in body.decode(errors="replace")
    path_row = Row("web databases.json", healthy="-", verdict="failed" if leak else "held")
    path_row.why = f"HTTP {code}; data dir {'shown' if leak else 'not shown'}"
    quick, _, quick_s = _get(f"{base}/{db}.json?sql=select+1", 10)
    sql_row = Row("web sql", healthy="-")
    if quick == 200:
        big = "select length(thai_fts_query(replace(hex(zeroblob(10000000)),'00','ไ')))"
        url = f"{base}/{db}.json?" + urllib.parse.urlencode({"sql": big})
        # The query may grow the web process: poll its memory while waiting.
        started = time.perf_counter()
        result: list[tuple[int, bytes, float]] = []
        thread = threading.Thread(target=lambda: result.append(_get(url, lab.timeout)), daemon=True)
        thread.start()
        while thread.is_alive():
            if vm_mb(server.pid, "VmRSS") > lab.max_mb:
                server.killed_for_memory = True
                break
            thread.join(0.1)
        sql_row.rss_mb = round(vm_mb(server.pid), 1)
        big_code, _, big_s = result[0] if result else (0, b"", time.perf_counter() - started)
        sql_row.seconds = round(big_s, 2)
        held = big_s < 3 and not server.killed_for_memory
        sql_row.verdict = "held" if held else "failed"
        what = "RSS ceiling hit" if server.killed_for_memory else f"HTTP {big_code or 'none'}"
        sql_row.why = f"select 1: HTTP 200; 10 M-char thai_fts_query: {what} in {big_s:.1f} s"
    else:
        sql_row.rss_mb = round(vm_mb(server.pid), 1)
        sql_row.seconds = round(quick_s, 2)
        sql_row.verdict = "held" if quick in (400, 403) else "failed"
        sql_row.why = f"select 1: HTTP {quick or 'no answer'} (database {db!r})"
    path_row.rss_mb = sql_row.rss_mb
    server.stop(grace=5)
    lab.check_tracebacks(server, "web")
    sql_row.exit = path_row.exit = exit_text(server)
    return [sql_row, path_row]


def plain_smtp_login(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    login = 'tls = "none"\nusername = "u"\npassword_env = "X_PASS"\n'
    channels = email_channel(lab.mail.port, login)
    lab.write_config(channels=channels)
    password = "hunter2-hostile"
    lab.env["X_PASS"] = password  # every command of this lab loads the channel
    proc = lab.monitor("run", "--once")
    row = Row("plain smtp login", exit=exit_text(proc), rss_mb=round(proc.peak_mb, 1),
              seconds=round(proc.seconds, 2), healthy=lab.healthy_outcome())  # fmt: skip
    sent = [login for login in lab.mail.logins if login[2] == password]
    says = bool(re.search(r"tls|plain|starttls|ssl", proc.stderr, re.IGNORECASE))
    row.verdict = "held" if proc.code == 2 and says and not sent else "failed"
    lines = proc.stderr.strip().splitlines() or [""]
    said = next(
        (x for x in lines if " INFO " not in x and re.search(r"error|tls|plain", x, re.I)),
        "no error line",
    )
    row.why = f"password sent in clear: {'yes' if sent else 'no'}; {said[:70]}"
    return [row]


def second_serve(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    lab.write_config()
    first = lab.start("serve")
    if first.wait(3):
        lab.check_tracebacks(first, "serve #1")
        raise RuntimeError(f"the first serve exited {first.code} within 3 s")
    second = lab.start("serve")
    ended = second.wait(10)
    mails = len(lab.mail.messages)
    for proc in (second, first):
        proc.stop(grace=5)
    lab.check_tracebacks(first, "serve #1")
    lab.check_tracebacks(second, "serve #2")
    text = second.stdout + second.stderr
    says = bool(re.search(r"another|already|lock|in use", text, re.IGNORECASE))
    row = Row("second serve", exit=str(second.code) if ended else "running",
              rss_mb=round(second.peak_mb, 1), seconds=round(second.seconds, 2),
              healthy=f"{mails} mail")  # fmt: skip
    row.verdict = "held" if ended and second.code != 0 and says else "failed"
    lines = text.strip().splitlines()
    said = next((x for x in lines if re.search(r"another|already|lock|in use", x, re.I)), "")
    row.why = (
        f"second serve {'exited' if ended else 'still running after 10 s'}; {mails} mail(s); "
        + (said[:60] or "no line about another instance")
    )
    return [row]


DEAD_SOURCE_ATTACKS = (
    "charset rot13", "charset idna", "year-1 html date", "year-1 rss pubDate",
    "year-1 sitemap lastmod",
)  # fmt: skip


def dead_source(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    """No new run: what `status` said after each charset and year-1 attack."""
    missing = [name for name in DEAD_SOURCE_ATTACKS if name not in dead]
    if missing:
        raise RuntimeError(f"no status from: {', '.join(missing)}")
    codes, notes, ok = [], [], True
    for name in DEAD_SOURCE_ATTACKS:
        seen = dead[name]
        codes.append(str(seen.status_code))
        if not seen.listed:
            verdict, ok = "not listed", False
        elif seen.error:
            verdict = "error, exit 1" if seen.status_code == 1 else "error, exit 0"
            ok = ok and seen.status_code == 1
        elif seen.stored:
            verdict = "ok, stored"
        else:
            verdict, ok = "ok, nothing stored", False
        notes.append(f"{name.split()[-1]}: {verdict}")
    row = Row("dead source visibility", exit="-", status="status exits " + ",".join(codes))
    row.verdict = "held" if ok else "failed"
    row.why = "; ".join(notes)
    return [row]


# name(s), function: the rows in the order of the review.
def _raw_reason(handler: Any) -> None:
    """An HTTP 500 whose reason phrase clears the screen and sets the window title."""
    body = b"oops"
    handler.wfile.write(b"HTTP/1.1 500 \x1b]0;pwned\x07\x1b[2JBroken\r\nContent-Length: 4\r\n"
                        b"Connection: close\r\n\r\n" + body)  # fmt: skip


def reason_escapes(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    with Site() as site:
        site.routes["/list"] = _raw_reason
        lab.write_config(html_source(f"{site.url}/list"))
        proc, seen = run_once(lab)
        row = run_row(lab, "escapes in HTTP reason", proc, seen)
    outputs = {name: lab.monitor(name).stdout_bytes for name in ("status", "sources")}
    outputs["run"] = proc.stdout_bytes + proc.stderr.encode()
    dirty = [name for name, out in outputs.items() if b"\x1b" in out]
    row.verdict = "failed" if dirty else "held"
    row.why = f"ESC printed by: {', '.join(dirty) or 'none'}"
    return [row]


def oversized_article(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    with Site() as site:
        site.routes["/list"] = (200, {"Content-Type": HTML}, listing(["/news/1", "/news/2"]))
        site.routes["/news/1"] = (200, {"Content-Type": HTML}, article())
        big = article(body=HOSTILE_BODY + " ข่าว" * 2_000_000)  # ~20 MB, over the 5 MB cap
        site.routes["/news/2"] = (200, {"Content-Type": HTML}, big)
        lab.write_config(html_source(f"{site.url}/list"))
        proc, seen = run_once(lab)
        row = run_row(lab, "refused article (size)", proc, seen)
    ok = proc.code == 1 and seen.status_code == 1 and "failed" in seen.error
    row.verdict = "held" if ok else "failed"
    row.why = f"run exit {row.exit}, status exit {seen.status_code}: {seen.error[:60] or 'ok'}"
    return [row]


def sitemap_index(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    with Site() as site:
        children = "".join(
            f"<sitemap><loc>{site.url}/map-{m}.xml</loc><lastmod>2026-0{m}-01</lastmod></sitemap>"
            for m in range(1, 4)
        )
        index = f'<?xml version="1.0"?><sitemapindex xmlns="{SITEMAP_NS}">{children}</sitemapindex>'
        site.routes["/sitemap.xml"] = (200, {"Content-Type": XML}, index.encode())
        for m in range(1, 4):
            site.routes[f"/map-{m}.xml"] = (
                200, {"Content-Type": XML}, sitemap([(f"{site.url}/news/{m}", "")])
            )  # fmt: skip
            site.routes[f"/news/{m}"] = (200, {"Content-Type": HTML}, article())
        lab.write_config(sitemap_source(f"{site.url}/sitemap.xml"))
        proc, seen = run_once(lab)
        row = run_row(lab, "sitemap index, max_pages 1", proc, seen)
    row.verdict = "held" if seen.stored else "failed"
    row.why = f"{seen.stored} item(s) stored from the newest sitemap"
    return [row]


def _overwrite_items(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = [r[0] for r in conn.execute(
        "SELECT pageno FROM dbstat WHERE name IN (SELECT name FROM sqlite_master "
        "WHERE tbl_name = 'items')"
    )]  # fmt: skip
    conn.close()
    data = bytearray(db.read_bytes())
    for page in pages:
        data[(page - 1) * size : page * size] = b"\xa5" * size
    db.write_bytes(bytes(data))


def damaged_database(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    lab.write_config()
    lab.monitor("run", "--once")
    db = lab.data_dir / "monitor.db"
    _overwrite_items(db)
    commands = {"status": ("status",), "search": ("search",), "run": ("run", "--once")}
    procs = {name: lab.monitor(*args) for name, args in commands.items()}
    proc = procs["search"]
    row = Row("damaged database", exit=",".join(exit_text(p) for p in procs.values()),
              rss_mb=round(proc.peak_mb, 1), seconds=round(proc.seconds, 2))  # fmt: skip
    lines = [(p.stderr.strip().splitlines() or [""])[-1] for p in procs.values()]
    named = all(str(db) in line for line in lines)
    row.verdict = "held" if named and all(p.code == 2 for p in procs.values()) else "failed"
    row.why = f"exits {row.exit}; {'every line names the file' if named else lines[0][:70]}"
    return [row]


def file_modes(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    lab.write_config()
    proc = lab.monitor("run", "--once")
    db = lab.data_dir / "monitor.db"
    modes = (oct(db.stat().st_mode & 0o777), oct(lab.data_dir.stat().st_mode & 0o777))
    row = Row("file modes", exit=exit_text(proc), rss_mb=round(proc.peak_mb, 1),
              seconds=round(proc.seconds, 2), healthy=lab.healthy_outcome())  # fmt: skip
    row.verdict = "held" if modes == ("0o600", "0o700") else "failed"
    row.why = f"monitor.db {modes[0]}, data dir {modes[1]}"
    return [row]


def secret_as_name(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    token = "123456789:AAH-secret-bot-token"
    channel = f'[channels.chat]\nkind = "apprise"\nurl_env = "{token}"\n'
    lab.write_config(channels=channel)
    proc = lab.monitor("run", "--once")
    row = Row("secret typed as a name", exit=exit_text(proc), rss_mb=round(proc.peak_mb, 1),
              seconds=round(proc.seconds, 2))  # fmt: skip
    echoed = token in proc.stderr or token in proc.stdout
    row.verdict = "held" if proc.code == 2 and not echoed else "failed"
    row.why = f"token {'echoed' if echoed else 'not echoed'} in the error"
    return [row]


def url_credentials(lab: Lab, dead: dict[str, Seen]) -> list[Row]:
    with Site() as site:
        url = f"{site.url}/private/list".replace("://", "://reader:hunter2@")
        lab.write_config(html_source(url))
        proc, seen = run_once(lab)
        row = run_row(lab, "credentials in source URL", proc, seen)
    shown = [lab.monitor(name).stdout for name in ("status", "sources")]
    leaked = [n for n, out in zip(("run", "status", "sources"),
              [proc.stdout + proc.stderr, *shown], strict=True) if "hunter2" in out]  # fmt: skip
    row.verdict = "failed" if leaked else "held"
    row.why = f"password shown by: {', '.join(leaked) or 'none'}"
    return [row]


ATTACKS: list[tuple[tuple[str, ...], Callable[[Lab, dict[str, Seen]], list[Row]]]] = [
    (("charset rot13",), charset("rot13")),
    (("charset idna",), charset("idna")),
    (("year-1 html date",), year1_html),
    (("year-1 rss pubDate",), year1_rss),
    (("year-1 sitemap lastmod",), year1_sitemap),
    (("search --since 0001",), search_since),
    (("ssrf html",), ssrf("html")),
    (("ssrf sitemap",), ssrf("sitemap")),
    (("ssrf rss",), ssrf("rss")),
    (("ssrf feed body url",), ssrf("feed body url")),
    (("ssrf feed body file",), ssrf("feed body file")),
    (("rss javascript: link",), javascript_link),
    (("header trickle",), header_trickle),
    (("terminal escapes",), terminal_escapes),
    (("markdown title",), markdown_title),
    (("web sql", "web databases.json"), web),
    (("plain smtp login",), plain_smtp_login),
    (("second serve",), second_serve),
    (("dead source visibility",), dead_source),
    (("escapes in HTTP reason",), reason_escapes),
    (("refused article (size)",), oversized_article),
    (("sitemap index, max_pages 1",), sitemap_index),
    (("damaged database",), damaged_database),
    (("file modes",), file_modes),
    (("secret typed as a name",), secret_as_name),
    (("credentials in source URL",), url_credentials),
]


def run_attacks(args: argparse.Namespace) -> list[Row]:
    dead: dict[str, Seen] = {}
    rows: list[Row] = []
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    for names, attack in ATTACKS:
        if wanted and not any(w in name for w in wanted for name in names):
            continue
        if not args.json:
            print(f"  {' / '.join(names)} …", file=sys.stderr, flush=True)
        try:
            with Lab(args.repo, args.timeout, args.max_mb, args.keep) as lab:
                found = attack(lab, dead)
                for row in found:
                    row.tracebacks = list(lab.tracebacks)
                    if lab.tracebacks:
                        row.verdict = "failed"
                        row.why = f"traceback ({lab.tracebacks[0]}); {row.why}"
                if args.keep:
                    print(f"    kept {lab.folder}", file=sys.stderr)
        except Exception as exc:  # noqa: BLE001 - one broken attack must not stop the others
            detail = f"{type(exc).__name__}: {exc}"
            if args.verbose:
                traceback.print_exc()
            found = [Row(name, verdict="harness error", why=detail) for name in names]
        rows.extend(found)
    return rows


COLUMNS = [("attack", 22), ("exit", 7), ("status of hostile", 30), ("healthy", 7),
           ("MB", 6), ("s", 6), ("verdict", 7)]  # fmt: skip


def _cell(value: Any, width: int) -> str:
    text = "-" if value is None else str(value)
    text = re.sub(r"\s+", " ", text.replace("\x1b", "\\x1b"))
    return text if len(text) <= width else text[: width - 1] + "…"


def table(rows: list[Row]) -> str:
    lines = [" ".join(f"{name:<{w}}" for name, w in COLUMNS).rstrip()]
    lines.append(" ".join("-" * w for _, w in COLUMNS))
    for r in rows:
        values = [r.attack, r.exit, r.status, r.healthy, r.rss_mb, r.seconds, r.verdict]
        lines.append(
            " ".join(
                f"{_cell(v, w):<{w}}" for v, (_, w) in zip(values, COLUMNS, strict=True)
            ).rstrip()
        )
    lines.append("")
    for r in rows:
        lines.append(_cell(f"{r.attack}: {r.why}", 100))
    return "\n".join(lines)


def describe(repo: Path) -> tuple[str, str]:
    """(short HEAD, a note on uncommitted changes under monitor/) of a checkout."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "not a git checkout"
    changed = [line for line in git("status", "--porcelain", "--", "monitor").splitlines() if line]
    return head, f"{len(changed)} uncommitted change(s) under monitor/" if changed else "clean"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=ROOT,
                        help="checkout whose code runs (default: this one)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--only", default="", help="comma-separated parts of attack names")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per command (60)")
    parser.add_argument("--max-mb", type=float, default=3000,
                        help="kill a command whose RSS passes this (3000)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep each attack's folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="harness tracebacks")
    args = parser.parse_args(argv)
    args.repo = args.repo.resolve()
    if not (args.repo / "monitor" / "__main__.py").is_file():
        print(f"{args.repo}: no monitor/__main__.py", file=sys.stderr)
        return 2
    head, dirty = describe(args.repo)
    if not args.json:
        print(f"repo {args.repo} at {head} ({dirty})", flush=True)
    started = time.perf_counter()
    rows = run_attacks(args)
    if args.json:
        data = {"repo": str(args.repo), "head": head, "tree": dirty,
                "rows": [asdict(r) for r in rows]}  # fmt: skip
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(table(rows))
        held = sum(r.verdict == "held" for r in rows)
        print(f"\n{held} of {len(rows)} held · {time.perf_counter() - started:.0f} s")
    if any(r.verdict == "harness error" for r in rows):
        return 2
    return 0 if all(r.verdict == "held" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
