"""The analyst desk seen through Debian's Chromium (headless, driven by Playwright).

The server is the real CLI, `python -m monitor web`, over the archive of
tests/test_web_desk.py (a pipeline run on the local snapshot, plus hostile and recent
items), with the analyst's password hash in the environment as an operator sets it.
Each page is checked for what a reader sees and saved as a screenshot under
`test-output/web-desk/` (git-ignored; the paths are printed, `pytest -s` shows them).

Skipped when Playwright or /usr/bin/chromium is missing, as tests/test_web_browser.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ROOT, SEED_TITLE
from tests.test_web_browser import CHROMIUM, CHROMIUM_ARGS, MOJIBAKE, _check_thai_glyphs
from tests.test_web_desk import (
    HOSTILE_TITLE,
    PASSWORD,
    RECENT_TITLE,
    Archive,
    build_archive,
    judged,
    signed_in_web,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

sync_api = pytest.importorskip("playwright.sync_api")
SCREENSHOTS = ROOT / "test-output" / "web-desk"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, snapshot_url: str) -> Archive:
    return build_archive(tmp_path_factory.mktemp("web_desk_browser"), snapshot_url)


@pytest.fixture(scope="module")
def server(archive: Archive) -> Iterator[str]:
    """`monitor web` as an operator starts it, sign-in enabled by the environment."""
    with signed_in_web(archive, "web.log") as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert os.access(CHROMIUM, os.X_OK)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


class Desk:
    """A browser tab on the desk that fails on console errors, failed loads and dialogs
    (a script that got through would `alert()`)."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base, self.errors = page, base, []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda exc: self.errors.append(f"javascript: {exc}"))
        page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))

    def open(self, path: str) -> Page:
        response = self.page.goto(self.base + path, wait_until="load")
        assert response is not None and response.status == 200, path
        self.check(path)
        return self.page

    def check(self, what: str) -> None:
        text = self.page.inner_text("body")
        assert not [m for m in MOJIBAKE if m in text], what
        assert self.errors == [], f"{what}: {self.errors}"

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    def post_status(self, path: str, form: dict[str, str]) -> int:
        """Status of a form POST sent by the page's own script (same origin, its cookies)."""
        script = """async ([path, form]) => (await fetch(path, {method: 'POST',
            body: new URLSearchParams(form), redirect: 'manual'})).status"""
        return int(self.page.evaluate(script, [path, form]))


@pytest.fixture
def desk(browser: Browser, server: str) -> Iterator[Desk]:
    context = browser.new_context(locale="th-TH", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield Desk(context.new_page(), server)
    context.close()


def test_home_leads_to_an_item_read_as_an_article(desk: Desk, archive: Archive):
    page = desk.open("/")
    assert page.inner_text("h1") == "Thai news monitor archive"
    headings = [h.strip() for h in page.locator("section.topic-latest h2 bdi").all_inner_texts()]
    assert headings == ["cybersecurity", "asean"]
    first_cyber = page.locator("#topic-cybersecurity a.item-title").first.inner_text()
    assert HOSTILE_TITLE.replace("\u202e", "").replace("\u202c", "")[:20] in first_cyber
    _check_thai_glyphs(page, "#topic-asean a.item-title bdi")
    desk.screenshot("home")

    with page.expect_navigation():
        page.locator(f"#topic-asean a[href='/-/item/{archive.seed_id}']").click()
    desk.check("home -> seed item")
    assert SEED_TITLE in page.inner_text("h1")
    assert page.locator("h1 mark").count() >= 2  # the cyber and the ASEAN terms
    assert page.locator(".article mark").count() > 5
    assert page.locator("ul.urls a").count() == 2
    assert page.locator(".topic.matched").count() == 2
    assert page.locator("table.alerts td").all_inner_texts()[:2] == ["email", "sent"]
    assert page.locator("form[method=post i]").count() == 0  # anonymous: nothing to send
    assert page.get_by_role("link", name="Sign in").get_attribute("href") == "/-/login"
    _check_thai_glyphs(page, ".article p")
    desk.screenshot("item")


def test_search_with_facets(desk: Desk, archive: Archive):
    page = desk.open("/-/search")
    page.fill("input[name=q]", "ไซเบอร์")
    with page.expect_navigation():
        page.press("input[name=q]", "Enter")
    desk.check("search ไซเบอร์")
    titles = page.locator("li.result a.item-title").all_inner_texts()
    assert any(SEED_TITLE in t for t in titles) and RECENT_TITLE in titles
    assert page.locator("li.result .snippet mark").count() >= len(titles) - 1
    desk.screenshot("search")
    with page.expect_navigation():
        page.click("#facet-topic a[data-value=asean]")
    desk.check("search ไซเบอร์, topic asean")
    narrowed = page.locator("li.result a.item-title").all_inner_texts()
    assert RECENT_TITLE not in narrowed and any(SEED_TITLE in t for t in narrowed)
    assert page.input_value("input[name=q]") == "ไซเบอร์"
    with page.expect_navigation():
        page.locator("li.result a.item-title").first.click()
    desk.check("search result -> item")
    assert page.url.startswith(f"{desk.base}/-/item/")


def test_trend_charts_are_drawn_in_the_page(desk: Desk):
    page = desk.open("/-/trends?end=2019-10-31")
    charts = page.locator("svg.chart")
    assert charts.count() == 2
    for i in range(2):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 150
    assert page.locator("#chart-topics polyline").count() == 2
    keys = page.locator("#chart-sources polyline").evaluate_all(
        "lines => lines.map(l => l.dataset.key)"
    )
    assert set(keys) == {"thaigov", "dla-asean"}
    assert page.locator("#chart-topics circle").count() > 3  # weeks with matches
    desk.screenshot("trends-2019")
    page = desk.open("/-/trends")
    assert "2" in page.locator("table.compare tr:nth-child(2) td").all_inner_texts()[1]
    desk.screenshot("trends")


def test_hostile_text_renders_as_text(desk: Desk, archive: Archive):
    page = desk.open(f"/-/item/{archive.hostile_id}")
    headline = page.inner_text("h1")
    assert "<script>alert('title')</script>" in headline and "**ด่วน**" in headline
    assert "[คลิก](javascript:alert(1))" in headline
    assert page.locator("h1 script, .article script, .article img").count() == 0
    assert "<img src=x onerror=" in page.inner_text(".article")
    # the right-to-left override stays inside the headline's <bdi>
    assert page.evaluate("getComputedStyle(document.querySelector('h1 bdi')).unicodeBidi") in (
        "isolate", "-webkit-isolate"
    )  # fmt: skip
    desk.screenshot("hostile-item")
    desk.open("/-/search?q=แรนซัมแวร์")
    assert "<script>alert('title')</script>" in page.inner_text("ul.results")
    desk.check("hostile search")  # no dialog opened


def test_only_a_signed_in_analyst_judges_items(desk: Desk, archive: Archive):
    path = f"/-/item/{archive.seed_id}"
    page = desk.open(path)
    assert page.locator("form.judge").count() == 0
    assert desk.post_status(path + "/feedback", {"topic": "asean", "relevant": "0"}) == 403
    assert judged(archive, archive.seed_id) == []
    desk.errors.clear()  # the refused fetch logs a console error

    page.click("text=Sign in")
    page.wait_for_url("**/-/login")
    page.fill("input[name=username]", "analyst")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
    desk.check("signed in")
    assert "analyst" in page.inner_text("header")
    page = desk.open(path)
    form = page.locator("form.judge:has(input[name=topic][value=asean])")
    form.locator("input[name=note]").fill("ประธานอาเซียนเป็นเพียงโอกาส ไม่ใช่ความร่วมมือ")
    with page.expect_navigation():
        form.locator("button[value='0']").click()
    desk.check("judged")
    assert page.url == f"{desk.base}{path}#feedback"
    assert f"#{archive.seed_id} marked not relevant to asean by analyst" in page.inner_text("body")
    row = page.locator("table.feedback tr").nth(1).all_inner_texts()[0]
    assert "analyst" in row and "not relevant" in row and "ประธานอาเซียน" in row
    desk.screenshot("item-judged")
    assert [(r["topic"], r["relevant"], r["who"]) for r in judged(archive, archive.seed_id)] == [
        ("asean", 0, "analyst")
    ]
