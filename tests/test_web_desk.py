"""`monitor web`'s analyst desk: the latest matches, an item as an article, search with
facets, trend charts, and judgements that only a signed-in analyst can record.

The archive is real: `monitor run --once` over the local snapshot of thaigov.go.th and
a DLA feed (the seed press release matches both topics), with alerts sent to a local
SMTP server; a few items written like the pipeline does (`match.match`, then
`Store.save_item`) carry hostile titles, this year's dates for the trend chart and an
edit. Pages are read through Datasette's test client; sign-in and judgements through a
real `monitor web` on 127.0.0.1 with its password hash in the environment.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from datasette_auth_passwords.utils import hash_password

from monitor import web, web_chart, web_text
from monitor.config import load_settings
from monitor.match import match
from monitor.models import Item
from monitor.store import Store
from monitor.thai import bangkok_time
from tests.conftest import ROOT, SEED_TITLE, Smtp, free_port, snapshot_sources, write_config

PASSWORD_ENV = "MONITOR_WEB_ANALYST_PASSWORD_HASH"
PASSWORD = "correct horse 42"
# Few iterations, so that a sign-in takes a millisecond in tests (the hash says how many).
PASSWORD_HASH = hash_password(PASSWORD, iterations=1000)
HOSTILE_TITLE = (
    "<script>alert('title')</script> **ด่วน** [คลิก](javascript:alert(1)) "
    "\u202eเตือนภัยไซเบอร์\u202c แรนซัมแวร์"
)
HOSTILE_BODY = (
    "ศูนย์ประสานการรักษาความมั่นคงปลอดภัยระบบคอมพิวเตอร์แจ้งเตือนแรนซัมแวร์โจมตีโรงพยาบาล\n"
    '<img src=x onerror="alert(\'body\')"> ภัยคุกคามไซเบอร์ & "quotes" </p><script>x</script>\n'
    "ถนนปลอดภัยช่วงเทศกาล"
)
RECENT_TITLE = "สกมช. เตือนภัยไซเบอร์ มัลแวร์เรียกค่าไถ่ระบาดในหน่วยงานรัฐ"
RECENT_BODY = (
    "สำนักงานคณะกรรมการการรักษาความมั่นคงปลอดภัยไซเบอร์แห่งชาติ (สกมช.) แจ้งเตือนภัยคุกคาม"
    "ไซเบอร์ แรนซัมแวร์ โจมตีระบบของหน่วยงานรัฐ ขอให้ผู้ดูแลระบบปรับปรุงแพตช์ทันที"
)
EDITED_BODY = RECENT_BODY + " และสำรองข้อมูลไว้นอกระบบ"


@dataclass(frozen=True)
class Archive:
    config: Path
    db: Path
    seed_id: int
    hostile_id: int
    recent_id: int


def monitor(config: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args, "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def build_archive(tmp_path: Path, snapshot_url: str) -> Archive:
    """Run the pipeline on the snapshot (alerts to a local SMTP server), then store the
    hostile and recent items as the pipeline would, and edit one of them."""
    smtp = Smtp()
    smtp.start()
    try:
        config = write_config(tmp_path, snapshot_sources(snapshot_url), smtp.port)
        ran = monitor(config, "run", "--once")
        assert ran.returncode == 0, ran.stderr
    finally:
        smtp.stop()
    settings = load_settings(config)
    store = Store(settings.db_path)
    now = datetime.now(UTC)

    def dated(days_ago: int) -> str:
        return (now - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def save(n: int, title: str, body: str, days_ago: int) -> int:
        item = Item(
            url=f"https://www.ncsa.or.th/news/{n}",
            source="ncsa",
            title=title,
            body=body,
            published_at=dated(days_ago),
            content_hash=f"desk-{n}",
        )
        return store.save_item(item, match(title, body, settings.rules), {}, now)

    hostile = save(1, HOSTILE_TITLE, HOSTILE_BODY, 3)
    recent = save(2, RECENT_TITLE, RECENT_BODY, 40)
    edited = Item(url="https://www.ncsa.or.th/news/2", source="ncsa", title=RECENT_TITLE,
                  body=EDITED_BODY, published_at=dated(40), content_hash="desk-2b")  # fmt: skip
    store.revise_item(recent, edited, match(RECENT_TITLE, EDITED_BODY, settings.rules), {}, now)
    seed = store.db.execute("SELECT id FROM items WHERE instr(title, ?)", [SEED_TITLE]).fetchone()[
        0
    ]
    store.close()
    return Archive(config, settings.db_path, seed, hostile, recent)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, snapshot_url: str) -> Archive:
    return build_archive(tmp_path_factory.mktemp("web_desk"), snapshot_url)


def get(ds: Any, *paths: str, cookies: dict[str, str] | None = None) -> list[httpx.Response]:
    async def fetch() -> list[httpx.Response]:
        await ds.invoke_startup()
        return [await ds.client.get(p, cookies=cookies) for p in paths]

    return asyncio.run(fetch())


def links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_home_lists_the_latest_matches_of_each_topic(archive: Archive):
    (home,) = get(web.app(archive.db), "/")
    assert home.status_code == 200
    sections = dict(re.findall(r'id="topic-(\w+)">(.*?)</section>', home.text, re.S))
    assert set(sections) == {"cybersecurity", "asean"}
    seed = f'href="/-/item/{archive.seed_id}"'
    assert seed in sections["cybersecurity"] and seed in sections["asean"]
    assert f'href="/-/item/{archive.recent_id}"' in sections["cybersecurity"]
    assert f'href="/-/item/{archive.recent_id}"' not in sections["asean"]
    db = Store(archive.db).db
    unmatched = [r[0] for r in db.execute("SELECT id FROM items WHERE matched_topics = ''")]
    assert unmatched and not [i for i in unmatched if f'"/-/item/{i}"' in home.text]
    # newest first, Bangkok time with minutes (a date alone at Bangkok midnight)
    when = re.findall(r'class="small">(\d{4}-\d\d-\d\d(?: \d\d:\d\d)?) ', sections["cybersecurity"])
    assert when == sorted(when, reverse=True) and len(when) >= 3
    for href in ("/-/search", "/-/trends", "/monitor/search", "/-/feeds/asean.atom"):
        assert href in links(home.text)


def test_item_page_reads_like_an_article(archive: Archive):
    (page,) = get(web.app(archive.db), f"/-/item/{archive.seed_id}")
    assert page.status_code == 200
    html = page.text
    db = Store(archive.db).db
    published, source = db.execute(
        "SELECT published_at, source FROM items WHERE id = ?", [archive.seed_id]
    ).fetchone()
    assert bangkok_time(published) in html and published not in html  # Bangkok, not UTC
    assert f'<bdi class="source">{source}</bdi>' in html
    urls = [u for (u,) in db.execute("SELECT url FROM item_urls WHERE item_id = ?",
                                     [archive.seed_id])]  # fmt: skip
    assert len(urls) == 2  # published by thaigov and the DLA feed: one item
    for url in urls:
        assert f'<a href="{url}"' in html
    for topic, score in db.execute(
        "SELECT json_extract(t.value, '$.topic'), json_extract(t.value, '$.score') "
        "FROM items, json_each(items.match) t WHERE items.id = ?", [archive.seed_id]
    ):  # fmt: skip
        assert re.search(rf'data-topic="{topic}">.*?<span class="score">{score}</span>', html, re.S)
    headline = re.search(r'<h1 class="headline"><bdi>(.*?)</bdi></h1>', html, re.S)[1]
    assert '<mark class="t0">ความมั่นคงปลอดภัยไซเบอร์</mark>' in headline
    assert '<mark class="t1">อาเซียน</mark>' in headline
    article = html.split('<div class="article">')[1].split("</div>")[0]
    # the seed's text is thaigov's (3 paragraphs) or asean.dla's copy (4), whichever
    # source ran first; the other is an "also published at" URL
    assert article.count("<p") >= 3 and article.count("<mark") > 5
    assert re.search(
        r'<table class="plain alerts">.*?<td><bdi>email</bdi></td><td>sent</td>', html, re.S
    )
    assert "Nobody has judged this item yet." in html


def test_item_page_shows_revisions_and_marks_only_whole_words(archive: Archive):
    (page,) = get(web.app(archive.db), f"/-/item/{archive.recent_id}")
    html = page.text
    assert "สำรองข้อมูลไว้นอกระบบ" in html.split("<h2>Earlier versions</h2>")[0]  # the new text
    revision = html.split("<h2>Earlier versions</h2>")[1]
    assert revision.count('<details class="revision">') == 1
    assert RECENT_TITLE in revision and "สำรองข้อมูล" not in revision
    assert "No alert was queued" in html
    (hostile,) = get(web.app(archive.db), f"/-/item/{archive.hostile_id}")
    article = hostile.text.split('<div class="article">')[1]
    assert "ปลอดภัยช่วงเทศกาล" in article and "ปลอด<mark" not in article  # ภัย in ปลอดภัย


def test_hostile_text_is_shown_as_text(archive: Archive):
    ds = web.app(archive.db)
    pages = get(ds, "/", f"/-/item/{archive.hostile_id}", "/-/search?q=แรนซัมแวร์")
    for page in pages:
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in page.text
        assert 'href="javascript' not in page.text
        assert "**ด่วน**" in page.text  # markdown is not rendered
        assert "<bdi>&lt;script&gt;" in page.text or "<bdi>&lt;script" in page.text
    item = pages[1].text
    assert "&lt;img src=x onerror=&#34;alert(&#39;body&#39;)&#34;&gt;" in item
    assert "&lt;/p&gt;&lt;script&gt;x&lt;/script&gt;" in item


def test_search_links_to_items_with_a_snippet_and_facets(archive: Archive):
    ds = web.app(archive.db)
    source = Store(archive.db).item(archive.seed_id)["source"]  # whichever source ran first
    found, narrowed, browse, nothing = get(
        ds,
        "/-/search?q=ไซเบอร์",
        f"/-/search?q=ไซเบอร์&topic=asean&source={source}",
        "/-/search?month=2019-10",
        "/-/search?q=ไม่มีคำนี้ในคลังเลยแน่นอน",
    )
    results = re.findall(r'<li class="result"><a class="item-title" href="/-/item/(\d+)"',
                         found.text)  # fmt: skip
    assert str(archive.seed_id) in results and str(archive.recent_id) in results
    assert "<mark>ไซเบอร์</mark>" in found.text
    total = int(re.search(r'<p class="count"><strong>(\d+)</strong>', found.text)[1])
    assert total == len(results)
    facets = {
        name: dict(re.findall(r'data-value="([^"]+)"[^>]*><bdi>[^<]*</bdi></a> '
                              r'<span class="small">(\d+)</span>', block))
        for name, block in re.findall(r'id="facet-(\w+)">(.*?)</section>', found.text, re.S)
    }  # fmt: skip
    assert set(facets) == {"topic", "source", "month"}
    assert sum(int(n) for n in facets["source"].values()) == total
    assert sum(int(n) for n in facets["month"].values()) == total
    assert int(facets["topic"]["cybersecurity"]) >= 3 and "asean" in facets["topic"]
    assert "ncsa" in facets["source"]
    assert f'href="/-/item/{archive.recent_id}"' not in narrowed.text  # ncsa, no ASEAN
    assert f'href="/-/item/{archive.seed_id}"' in narrowed.text
    chosen = re.findall(r'class="chosen"><bdi>([\w-]+)</bdi>', narrowed.text)
    assert sorted(chosen) == sorted(["asean", source])
    assert browse.status_code == 200 and f'"/-/item/{archive.seed_id}"' in browse.text
    months = set(re.findall(r"\d{4}-\d\d", browse.text.split('id="facet-month"')[1][:600]))
    assert months == {"2019-10"}
    assert nothing.status_code == 200 and "<strong>0</strong> items" in nothing.text


def test_trends_count_matched_items_per_week(archive: Archive):
    ds = web.app(archive.db)
    old, now, sources = get(ds, "/-/trends?end=2019-10-31", "/-/trends",
                            "/-/trends?end=2019-10-31&topic=asean")  # fmt: skip
    db = Store(archive.db).db
    expected = dict(db.execute(
        "SELECT date(coalesce(published_at, first_seen_at), '+7 hours', '-6 days', "
        "'weekday 1'), count(*) FROM items WHERE instr(matched_topics, 'asean') "
        "AND published_at BETWEEN '2018-11-01' AND '2019-10-31' GROUP BY 1"
    ).fetchall())  # fmt: skip
    weekly = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td><td>(\d+)</td><td>(\d+)</td>", old.text)
    assert len(weekly) == 52
    assert {w: int(a) for w, _, a in weekly if int(a)} == expected  # columns: cyber, asean
    assert old.text.count('<svg class="chart"') == 2 and 'data-key="asean"' in old.text
    assert 'data-key="thaigov"' in sources.text and 'data-key="ncsa"' not in sources.text
    recent = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td><td>(\d+)</td>", now.text)
    assert sum(int(n) for _, n in recent) == 2  # the two items of this year
    compare = re.search(r"<td><bdi>cybersecurity</bdi></td><td>(\d+)</td><td>(\d+)</td>",
                        now.text)  # fmt: skip
    assert compare and compare.groups() == ("2", "0")


def test_titles_in_tables_and_queries_link_to_the_desk(archive: Archive):
    ds = web.app(archive.db)
    table, search, latest, alerts = get(
        ds,
        "/monitor/items",
        "/monitor/search?q=ไซเบอร์",
        "/monitor/latest_by_topic?topic=asean",
        "/monitor/alert_log",
    )
    seed = f'<a href="/-/item/{archive.seed_id}"><bdi>{SEED_TITLE}'
    for page in (table, search, latest, alerts):
        assert page.status_code == 200 and seed in page.text, page.url
    hostile = f'<a href="/-/item/{archive.hostile_id}"><bdi>&lt;script&gt;'
    assert hostile in table.text and "<script>alert" not in table.text


def test_the_guard_still_refuses_writes_and_odd_credentials(archive: Archive):
    async def send() -> list[int]:
        ds = web.app(archive.db)
        await ds.invoke_startup()
        posts = [await ds.client.post(p, data={"x": "1"}) for p in (
            "/monitor/items", "/-/password-tool", "/-/messages", "/-/item/1/feedback/x",
            "/-/item/1", "/-/search", "/-/trends", "/",
        )]  # fmt: skip
        odd = [await ds.client.get("/", headers={"authorization": value}) for value in (
            "Basic " + base64.b64encode("ผู้ใช้:รหัส".encode()).decode(), "Basic !!!",
        )]  # fmt: skip
        tool = await ds.client.get("/-/password-tool")
        return [r.status_code for r in posts] + [r.status_code for r in odd] + [tool.status_code]

    assert asyncio.run(send()) == [405] * 8 + [400, 400, 403]


def test_chart_is_drawn_on_the_server():
    weeks = web_chart.weeks_until(datetime(2026, 12, 3).date(), 52)
    assert weeks[-1].isoformat() == "2026-11-30" and len(weeks) == 52
    counts = web_chart.series([("2026-11-30", "<b>x</b>", 3), ("2025-01-01", "y", 9)], weeks, ["y"])
    assert counts["<b>x</b>"][-1] == 3 and sum(counts["y"]) == 0  # outside the weeks
    svg = web_chart.line_chart(weeks, counts, "t", web_chart.colours(list(counts)))
    assert svg.startswith("<svg") and "&lt;b&gt;x&lt;/b&gt;" in svg and "<b>" not in svg
    assert web_chart.top({"a": [5], "b": [1], "c": [2]}, 1, "other") == {"a": [5], "other": [3]}


def test_marks_whole_words_and_escapes():
    text = "ถนนปลอดภัย ภัยคุกคาม <b>ASEAN-Japan</b> cert certain"
    words = web_text.highlight_words([("ภัย", "", 0), ("asean-", "", 1), ("cert", "", 0)])
    html = web_text.marked(text, web_text.mark_spans(text, words))
    assert html == (
        'ถนนปลอดภัย <mark class="t0">ภัย</mark>คุกคาม &lt;b&gt;<mark class="t1">ASEAN-Japan'
        '</mark>&lt;/b&gt; <mark class="t0">cert</mark> certain'
    )
    assert web_text.term_words("โอกาส* ~ ประธานอาเซียน|asean") == [
        ("โอกาส", True), ("ประธานอาเซียน", False), ("asean", False)
    ]  # fmt: skip
    assert web_text.web_link(" https://www.thaigov.go.th/a ") == "https://www.thaigov.go.th/a"
    assert web_text.web_link("javascript:alert(1)") is web_text.web_link("data:x") is None
    assert web_text.snippet("a <i>b</i> ไซเบอร์ c", "ไซเบอร์") == (
        "a &lt;i&gt;b&lt;/i&gt; <mark>ไซเบอร์</mark> c"
    )


def test_desk_pages_honour_datasette_view_permissions(archive: Archive, tmp_path: Path):
    metadata = tmp_path / "datasette.yaml"
    text = web.DEFAULT_METADATA.read_text(encoding="utf-8") + "allow:\n  id: admin\n"
    metadata.write_text(text, encoding="utf-8")
    ds = web.app(archive.db, metadata)
    pages = get(ds, "/", f"/-/item/{archive.seed_id}", "/-/search?q=x", "/-/trends")
    assert [p.status_code for p in pages] == [403] * 4
    cookies = {"ds_actor": ds.sign({"a": {"id": "admin"}}, "actor")}
    pages = get(ds, "/", f"/-/item/{archive.seed_id}", cookies=cookies)
    assert [p.status_code for p in pages] == [200, 200]


def test_more_accounts_and_feedback_allow_from_the_metadata(archive: Archive, tmp_path: Path):
    """README: a line per analyst under datasette-auth-passwords, and `feedback_allow`."""
    metadata = tmp_path / "datasette.yaml"
    text = (
        web.DEFAULT_METADATA.read_text(encoding="utf-8")
        .replace(
            "plugins:\n", "plugins:\n  thai-news-monitor:\n    feedback_allow: {id: [somchai]}\n"
        )
        .replace(
            "      $env: MONITOR_WEB_ANALYST_PASSWORD_HASH\n",
            "      $env: MONITOR_WEB_ANALYST_PASSWORD_HASH\n"
            "    somchai_password_hash: {$env: MONITOR_WEB_SOMCHAI_PASSWORD_HASH}\n",
        )
    )
    metadata.write_text(text, encoding="utf-8")
    ds = web.app(archive.db, metadata)
    path = f"/-/item/{archive.hostile_id}"

    async def judge(who: str) -> tuple[int, int]:
        await ds.invoke_startup()
        cookies = {"ds_actor": ds.sign({"a": {"id": who}}, "actor")}
        page = await ds.client.get(path, cookies=cookies)
        forms = page.text.count('<form class="judge"')
        token = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
        csrf = token[1] if token else ds.sign("x", "csrftoken")
        cookies["ds_csrftoken"] = page.cookies.get("ds_csrftoken") or csrf
        form = {"topic": "cybersecurity", "relevant": "0", "csrftoken": csrf}
        sent = await ds.client.post(path + "/feedback", data=form, cookies=cookies)
        return forms, sent.status_code

    assert asyncio.run(judge("analyst")) == (0, 403)  # signed in, not in feedback_allow
    assert asyncio.run(judge("somchai")) == (2, 302)
    judgements = judged(archive, archive.hostile_id)
    assert [(j["who"], j["relevant"]) for j in judgements] == [("somchai", 0)]


def test_an_archive_it_cannot_write_says_so(archive: Archive, monkeypatch: pytest.MonkeyPatch):
    """`monitor web` run by a user who may read the archive but not write it (root, who
    runs the tests, writes any file: the store's error is made up)."""

    def refuse(*args: Any) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(Store, "record_feedback", refuse)
    ds = web.app(archive.db)

    async def judge() -> tuple[httpx.Response, httpx.Response]:
        await ds.invoke_startup()
        cookies = {"ds_actor": ds.sign({"a": {"id": "analyst"}}, "actor")}
        page = await ds.client.get(f"/-/item/{archive.seed_id}", cookies=cookies)
        csrf = re.search(r'name="csrftoken" value="([^"]+)"', page.text)[1]
        cookies["ds_csrftoken"] = page.cookies["ds_csrftoken"]
        form = {"topic": "asean", "relevant": "1", "csrftoken": csrf}
        sent = await ds.client.post(f"/-/item/{archive.seed_id}/feedback", data=form,
                                    cookies=cookies)  # fmt: skip
        cookies["ds_messages"] = sent.cookies.get("ds_messages", "")
        return sent, await ds.client.get(f"/-/item/{archive.seed_id}", cookies=cookies)

    sent, after = asyncio.run(judge())
    assert sent.status_code == 302
    assert "not recorded: the archive cannot be written" in after.text
    assert str(archive.db.parent) not in after.text
    assert judged(archive, archive.seed_id) == []


def test_templates_ship_with_the_package():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["monitor"]
    shipped = {p for pattern in patterns for p in (ROOT / "monitor").glob(pattern)}
    assert {p for p in (ROOT / "monitor" / "templates").iterdir()} <= shipped
    assert any(p.name == "desk_item.html" for p in shipped)


# ---- judgements: a real `monitor web`, sign-in with the password hash from the environment


@contextmanager
def signed_in_web(archive: Archive, log_name: str) -> Iterator[str]:
    """`monitor web` as an operator starts it, sign-in enabled by the environment: the
    base URL once it answers."""
    port = free_port()
    log = archive.config.parent / log_name
    env = {**os.environ, PASSWORD_ENV: PASSWORD_HASH}
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "web", "--config", str(archive.config),
             "--port", str(port)],
            cwd=ROOT, stdout=out, stderr=out, env=env,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, log.read_text("utf-8")
            try:
                if httpx.get(f"{base}/-/metadata.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text("utf-8")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def served(archive: Archive) -> Iterator[str]:
    with signed_in_web(archive, "web-desk.log") as base:
        yield base


def judged(archive: Archive, item_id: int) -> list[dict[str, Any]]:
    """The judgements of an item, as `monitor feedback --list --json` prints them."""
    listed = monitor(archive.config, "feedback", "--list", "--json")
    assert listed.returncode == 0, listed.stderr
    return [row for row in json.loads(listed.stdout) if row["item_id"] == item_id]


def _token(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert found, f"no form on {path}"
    return found[1]


@contextmanager
def sign_in(base: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
    """A client that signed in as `analyst` through the login form."""
    with httpx.Client(base_url=base, timeout=10) as client:
        token = _token(client, "/-/login")
        form = {"username": "analyst", "password": password, "csrftoken": token}
        client.post("/-/login", data=form)
        yield client


def test_anonymous_visitors_cannot_judge(served: str, archive: Archive):
    path = f"/-/item/{archive.seed_id}"
    with httpx.Client(base_url=served, timeout=10) as anonymous:
        page = anonymous.get(path)
        assert 'method="post"' not in page.text and "/-/login" in page.text
        token = _token(anonymous, "/-/login")  # a valid CSRF token does not help
        form = {"topic": "asean", "relevant": "0", "csrftoken": token}
        refused = anonymous.post(path + "/feedback", data=form)
        bare = httpx.post(served + path + "/feedback", data={"topic": "asean", "relevant": "0"})
    with sign_in(served, "wrong password") as wrong:
        assert "ds_actor" not in wrong.cookies
        wrong_refused = wrong.post(path + "/feedback", data=form)
    assert (refused.status_code, bare.status_code, wrong_refused.status_code) == (403, 403, 403)
    assert judged(archive, archive.seed_id) == []


def test_a_signed_in_analyst_judges_an_item(served: str, archive: Archive):
    path = f"/-/item/{archive.recent_id}"
    with sign_in(served) as client:
        assert "ds_actor" in client.cookies
        page = client.get(path)
        assert page.text.count('<form class="judge" method="post"') == 2  # one per topic
        token = re.search(r'name="csrftoken" value="([^"]+)"', page.text)[1]
        forged = client.post(path + "/feedback", data={"topic": "cybersecurity", "relevant": "1"})
        unknown = client.post(path + "/feedback", data={"topic": "sport", "relevant": "1",
                                                        "csrftoken": token})  # fmt: skip
        note = "<b>ผู้ตรวจ</b>: แจ้งเตือนจริง"
        done = client.post(path + "/feedback", data={"topic": "cybersecurity", "relevant": "1",
                                                     "note": note, "csrftoken": token})  # fmt: skip
        after = client.get(path)
        other = client.post("/monitor/items", data={"csrftoken": token})
    assert forged.status_code == 403  # no CSRF token
    assert unknown.status_code == 400
    assert done.status_code == 302 and done.headers["location"] == path + "#feedback"
    assert f"#{archive.recent_id} marked relevant to cybersecurity by analyst" in after.text
    shown = r"<td><bdi>analyst</bdi></td><td><bdi>cybersecurity</bdi></td>\s*<td class=\"verdict\">"
    assert re.search(shown + r"relevant</td><td><bdi>&lt;b&gt;ผู้ตรวจ", after.text)
    assert other.status_code == 405  # signed in, the archive is still read-only elsewhere
    assert [
        (r["topic"], r["relevant"], r["who"], r["note"]) for r in judged(archive, archive.recent_id)
    ] == [("cybersecurity", 1, "analyst", note)]


def test_http_basic_sign_in_still_needs_the_form_token(served: str, archive: Archive):
    """A browser resends Basic credentials cross-site, with no cookie: asgi-csrf would let
    such a POST through; the view asks for the token anyway."""
    path = f"/-/item/{archive.seed_id}/feedback"
    response = httpx.post(served + path, data={"topic": "asean", "relevant": "1"},
                          auth=("analyst", PASSWORD))  # fmt: skip
    assert response.status_code == 403
    assert judged(archive, archive.seed_id) == []
