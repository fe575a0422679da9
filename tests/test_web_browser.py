"""`monitor web` seen through a real browser: Debian's Chromium driven by Playwright.

The server is the real CLI (`python -m monitor web --config ... --port ...`) in a
subprocess on 127.0.0.1, over a small archive written with `monitor.store.Store`.
Chromium runs headless with the flags this machine needs (its closed network refuses
Chromium's background connections); Playwright gives it a fresh empty profile in
/tmp on every launch (it refuses a `--user-data-dir` argument). Never
`playwright install`: it downloads a browser build, which cannot be fetched here.

What the other web tests cannot see: the pages render in a browser without
JavaScript errors, Thai text reaches the screen as Thai (no mojibake, and drawn
with a font that has Thai glyphs, not as empty boxes), the search form works when
a user types Thai into it, and no page offers a way to write.

Skipped when Playwright is not importable or /usr/bin/chromium is missing
(`apt-get install chromium fonts-thai-tlwg`, as `.ci/run` does).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from monitor.config import load_settings
from monitor.models import Item, Match, SourceReport, TermHit, TopicResult
from monitor.store import Store
from monitor.thai import bangkok_time
from tests.conftest import ROOT, free_port, write_config

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Response

CHROMIUM = Path("/usr/bin/chromium")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(
        f"{CHROMIUM} is missing (apt-get install chromium fonts-thai-tlwg)",
        allow_module_level=True,
    )

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path("/tmp/web_search.png")
NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"

CYBER_TITLE = "กระทรวงดิจิทัลฯ เตือนภัยไซเบอร์ก่อนเทศกาลปีใหม่"
ASEAN_TITLE = "นายกรัฐมนตรีร่วมประชุมสุดยอดอาเซียน ครั้งที่ 49"
RANSOM_TITLE = "แจ้งเตือนแรนซัมแวร์โจมตีโรงพยาบาล"
ROAD_TITLE = "ถนนปลอดภัยช่วงเทศกาลปีใหม่"
TITLES = (CYBER_TITLE, ASEAN_TITLE, RANSOM_TITLE, ROAD_TITLE)
FAILING_SOURCE_ERROR = "HTTP 500 from https://www.dla.go.th/rss/asean.xml"
# How UTF-8 Thai looks when decoded as Latin-1 / windows-1252 (ไ = E0 B9 84 -> "à¹\x84").
MOJIBAKE = ("à¸", "à¹", "\ufffd")


def _match(topic: str, term: str, score: float) -> Match:
    return Match((TopicResult(topic, score, True, (TermHit(term, "body", 1, term),)),))


def _build_archive(tmp_path: Path) -> Path:
    """Write a small archive as the service would; return the config that points at it."""
    config = write_config(
        tmp_path,
        '[sources.thaigov]\npreset = "thaigov-legacy"\nurl = "http://127.0.0.1:9/news"\n',
    )
    store = Store(load_settings(config).db_path)
    items = [
        ("thaigov", CYBER_TITLE, "ที่ประชุมหารือความมั่นคงปลอดภัยไซเบอร์ของภูมิภาค",
         _match("cybersecurity", "ไซเบอร์", 12.0), {"email": NOW}),
        ("thaigov", ASEAN_TITLE, "ผู้นำประเทศสมาชิกอาเซียนหารือความร่วมมือทางเศรษฐกิจ",
         _match("asean", "อาเซียน", 9.0), {}),
        ("dla-asean", RANSOM_TITLE, "หน่วยงานรัฐพบ ransomware เข้ารหัสไฟล์ของโรงพยาบาลสามแห่ง",
         _match("cybersecurity", "แรนซัมแวร์", 8.0), {}),
        ("thaigov", ROAD_TITLE, "กรมทางหลวงขอให้ผู้ขับขี่พักผ่อนให้เพียงพอ", Match(), {}),
    ]  # fmt: skip
    for n, (source, title, body, match, alerts) in enumerate(items, 1):
        item = Item(
            url=f"https://www.thaigov.go.th/news/contents/details/{n}",
            source=source,
            title=title,
            body=body,
            published_at=f"2026-11-2{n}T02:00:00Z",
            content_hash=str(n),
        )
        store.save_item(item, match, alerts, NOW)
    store.record_run(SourceReport("thaigov", found=4, new=3, matched=2), NOW)
    store.record_run(SourceReport("dla-asean", error=FAILING_SOURCE_ERROR), NOW)
    store.close()
    return config


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_archive(tmp_path_factory.mktemp("web_browser"))


@pytest.fixture(scope="module")
def server(archive: Path) -> Iterator[str]:
    """`monitor web` as an operator starts it, on 127.0.0.1 and a free port."""
    port = free_port()
    log = archive.parent / "web.log"
    with log.open("w", encoding="utf-8") as stderr:
        command = [sys.executable, "-m", "monitor", "web", "--config", str(archive)]
        process = subprocess.Popen(
            [*command, "--port", str(port)], cwd=ROOT, stdout=stderr, stderr=stderr
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, f"monitor web exited: {log.read_text('utf-8')}"
            try:
                if httpx.get(f"{base}/-/metadata.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"monitor web not up: {log.read_text('utf-8')}"
            time.sleep(0.1)
        assert f"read-only at {base}/" in log.read_text("utf-8")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A browser page on the server that remembers every console error and failed load."""

    page: Page
    base: str
    errors: list[str] = field(default_factory=list)

    def open(self, path: str) -> Page:
        """Load `path`, expect a 200 and a page that logged no error while loading."""
        self.errors.clear()
        response = self.page.goto(self.base + path, wait_until="load")
        assert response is not None and response.status == 200, (path, response)
        self.check(path)
        return self.page

    def check(self, what: str) -> None:
        text = self.page.inner_text("body")
        assert not [m for m in MOJIBAKE if m in text], f"{what}: mojibake in {text[:500]!r}"
        assert self.page.evaluate("document.characterSet") == "UTF-8", what
        assert not self.page.query_selector("form[method=post i]"), f"{what}: a write form"
        assert self.errors == [], f"{what}: {self.errors}"

    def column(self, name: str) -> list[str]:
        """The text of a result table's column, top to bottom."""
        return [c.inner_text().strip() for c in self.page.query_selector_all(f"td.col-{name}")]


@pytest.fixture
def tab(browser: Browser, server: str) -> Iterator[Tab]:
    context = browser.new_context(locale="th-TH", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)  # loopback pages take well under a second
    tab = Tab(context.new_page(), server)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            tab.errors.append(f"console: {message.text}")

    tab.page.on("console", console)
    tab.page.on("pageerror", lambda exc: tab.errors.append(f"javascript: {exc}"))
    tab.page.on("requestfailed", lambda request: tab.errors.append(f"failed: {request.url}"))
    yield tab
    context.close()


def test_index_links_to_the_queries_and_feeds(tab: Tab):
    page = tab.open("/")
    assert page.title().startswith("Thai news monitor archive")
    assert page.inner_text("h1") == "Thai news monitor archive"
    links = page.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href'))")
    queries = ("search", "latest_by_topic", "source_health", "alert_log")
    feeds = ("cybersecurity", "asean")
    for href in [f"/monitor/{q}" for q in queries] + [f"/-/feeds/{t}.atom" for t in feeds]:
        assert href in links
    with page.expect_navigation():
        page.click("a[href='/monitor/search']")
    assert page.url == f"{tab.base}/monitor/search"
    tab.check("index -> search")
    assert page.inner_text("h1") == "Search (Thai or English)"


def test_items_table_shows_every_thai_title(tab: Tab):
    page = tab.open("/monitor/items")
    assert sorted(tab.column("title")) == sorted(TITLES)
    assert tab.column("id") == ["4", "3", "2", "1"]  # sort_desc: id
    assert "Search it with the" in page.inner_text(".metadata-description")
    assert page.query_selector("input[name=_search]:not([type=hidden])") is None
    with page.expect_navigation():  # a user narrows the table with a facet
        page.click("#facet-matched_topics a:text-is('asean')")
    tab.check("items facet asean")
    assert tab.column("title") == [ASEAN_TITLE]


def test_search_form_finds_a_thai_word_and_an_english_word(tab: Tab):
    page = tab.open("/monitor/search")
    assert tab.column("title") == []  # the empty form matches nothing, without an error
    page.fill("input[name=q]", "ไซเบอร์")
    with page.expect_navigation():
        page.click("input[type=submit][value='Run SQL']")
    tab.check("search ไซเบอร์")
    assert tab.column("title") == [CYBER_TITLE]
    (snippet,) = tab.column("snippet")
    assert "ความมั่นคงปลอดภัย[ไซเบอร์]ของภูมิภาค" in snippet
    assert page.input_value("input[name=q]") == "ไซเบอร์"
    for title in (ASEAN_TITLE, RANSOM_TITLE, ROAD_TITLE):
        assert title not in page.inner_text("body")
    _check_thai_glyphs(page, "td.col-title bdi")  # the title links to the item
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.fill("input[name=q]", "ransomware")
    with page.expect_navigation():
        page.press("input[name=q]", "Enter")
    tab.check("search ransomware")
    assert tab.column("title") == [RANSOM_TITLE]
    assert tab.column("source") == ["dla-asean"]


def _check_thai_glyphs(page: Page, selector: str) -> None:
    """Assert Chromium drew `selector`'s Thai text with a font that has Thai glyphs.

    Without one (no fonts-thai-tlwg) Chromium draws boxes with the Latin font, and the
    page's text is still correct, so only the fonts it reports used tell.
    """
    thai_fonts = subprocess.run(
        ["fc-list", ":lang=th", "family"], capture_output=True, text=True, check=False
    ).stdout
    families = {name.strip() for line in thai_fonts.splitlines() for name in line.split(",")}
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    drawn = {font["familyName"]: font["glyphCount"] for font in used}
    thai = sum(count for name, count in drawn.items() if name in families)
    assert thai > 0, f"Thai drawn with {drawn}: no Thai font (apt-get install fonts-thai-tlwg)"


def test_latest_matches_per_topic(tab: Tab):
    tab.open("/monitor/latest_by_topic?topic=cybersecurity")
    assert tab.column("title") == [RANSOM_TITLE, CYBER_TITLE]  # newest first
    assert tab.column("terms") == ["แรนซัมแวร์", "ไซเบอร์"]
    assert tab.column("when_bangkok") == ["2026-11-23 09:00", "2026-11-21 09:00"]
    tab.open("/monitor/latest_by_topic?topic=asean")
    assert tab.column("title") == [ASEAN_TITLE]


def test_source_health_lists_the_failing_source_first(tab: Tab):
    tab.open("/monitor/source_health")
    assert tab.column("source") == ["dla-asean", "thaigov"]
    assert tab.column("health") == ["failing", "ok"]
    assert tab.column("last_error")[0] == FAILING_SOURCE_ERROR
    assert tab.column("last_success_bangkok") == ["", "2026-11-26 10:00"]


def test_alert_log_shows_the_queued_alert(tab: Tab, archive: Path):
    tab.open("/monitor/alert_log")
    assert tab.column("title") == [CYBER_TITLE]
    assert tab.column("channel") == ["email"]
    assert tab.column("status") == ["pending"]
    db = sqlite3.connect(f"file:{load_settings(archive).db_path}?mode=ro", uri=True)
    try:  # queued when the row was written (the real clock), shown in Bangkok time
        [(queued,)] = db.execute("SELECT created_at FROM outbox").fetchall()
    finally:
        db.close()
    assert tab.column("queued_bangkok") == [bangkok_time(queued)]


def test_item_row_page(tab: Tab):
    page = tab.open("/monitor/items/1")
    assert tab.column("title") == [CYBER_TITLE]
    assert tab.column("matched_topics") == ["cybersecurity"]
    links = page.inner_text("body")
    assert "1 row from item_id in item_urls" in links
    assert "1 row from item_id in outbox" in links


def test_atom_feed(tab: Tab):
    response: Response | None = tab.page.goto(f"{tab.base}/-/feeds/cybersecurity.atom")
    assert response is not None and response.status == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    tab.check("cybersecurity.atom")
    assert CYBER_TITLE in tab.page.inner_text("body")  # Chromium's XML view, decoded as UTF-8
    feed = ET.fromstring(response.body())
    titles = [e.findtext(f"{ATOM}title") for e in feed.iter(f"{ATOM}entry")]
    assert titles == [RANSOM_TITLE, CYBER_TITLE]
    (alternate,) = [
        link.get("href") for link in feed.findall(f"{ATOM}link") if link.get("rel") == "alternate"
    ]
    tab.page.goto(alternate)  # the feed's own link to the page a reader would open
    tab.check("the feed's alternate link")
    assert tab.column("title") == titles


def test_nothing_can_be_written(tab: Tab, archive: Path):
    page = tab.open("/monitor")
    tab.errors.clear()
    response = page.goto(f"{tab.base}/monitor?sql=delete+from+items")
    assert response is not None and response.status == 400
    assert "Statement must be a SELECT" in page.inner_text("body")

    def post(path: str, body: dict[str, Any]) -> int:
        script = """async ([path, body]) => (await fetch(path, {method: 'POST',
            headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})).status"""
        return int(page.evaluate(script, [path, body]))

    statuses = {
        path: post(path, {"sql": "delete from items", "row": {"title": "x"}, "q": "ไซเบอร์"})
        for path in ("/monitor", "/monitor/items", "/monitor/items/-/insert", "/monitor/search",
                     "/monitor/items/1/-/delete", "/-/feeds/cybersecurity.atom")
    }  # fmt: skip
    assert set(statuses.values()) == {405}, statuses
    db = sqlite3.connect(f"file:{load_settings(archive).db_path}?mode=ro", uri=True)
    try:
        counts = db.execute("SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM outbox)")
        assert counts.fetchone() == (4, 1)
    finally:
        db.close()
