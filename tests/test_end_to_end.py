"""One full cycle against the served snapshot, a real SQLite file and a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pytest_httpserver import HTTPServer

from monitor.config import load_settings
from monitor.pipeline import run_once
from monitor.store import Store
from tests.conftest import SEED_TITLE, Smtp, message_text, snapshot_sources, write_config

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def test_seed_release_is_found_matched_stored_once_and_alerted_once(snapshot_settings, smtp):
    store = Store(snapshot_settings.db_path)

    report = run_once(snapshot_settings, store)

    assert not report.failed_sources
    seed_rows = [r for r in store.items_overview() if r["title"].startswith(SEED_TITLE)]
    assert len(seed_rows) == 1, "the release appears in the listing and the feed, stored once"
    seed = store.item(seed_rows[0]["id"])
    assert set(seed["matched_topics"].split(",")) == {"cybersecurity", "asean"}
    # Sources run concurrently: either copy may be stored first, the other is its alias.
    assert {u["source"] for u in seed["urls"]} == {"thaigov", "dla-asean"}
    assert seed["published_at"] in {
        "2019-10-06T17:00:00Z",  # thaigov: 7 Oct 2562, midnight Bangkok
        "2019-10-08T02:30:00Z",  # the feed: Tue, 08 Oct 2019 09:30:00 +0700
    }

    seed_mail = [m for m in smtp.messages if SEED_TITLE in m["Subject"]]
    assert len(seed_mail) == 1
    text = message_text(seed_mail[0])
    assert "ความมั่นคงปลอดภัยไซเบอร์" in text
    shown = {"2019-10-06T17:00:00Z": "2019-10-07 (Bangkok)", "2019-10-08T02:30:00Z":
             "2019-10-08 09:30 (Bangkok)"}[seed["published_at"]]  # no invented 00:00  # fmt: skip
    assert f"Date: {shown}" in text
    other = {u["url"] for u in seed["urls"]} - {seed["url"]}
    assert all(url in text for url in other), "also published at"
    assert SEED_TITLE in message_text(seed_mail[0], "html")

    matched = [r for r in store.items_overview() if r["matched_topics"]]
    assert len(smtp.messages) == len(matched), "one email per matched item"


def test_second_cycle_sends_nothing_and_stores_nothing_new(snapshot_settings, smtp):
    store = Store(snapshot_settings.db_path)
    run_once(snapshot_settings, store)
    sent, stored = len(smtp.messages), len(store.items_overview())

    report = run_once(snapshot_settings, store)

    assert len(smtp.messages) == sent
    assert len(store.items_overview()) == stored
    assert all(s.new == 0 for s in report.sources)
    assert all(s.not_modified for s in report.sources), "conditional GET answered 304"


def test_search_finds_thai_word_inside_running_text(snapshot_settings):
    store = Store(snapshot_settings.db_path)
    run_once(snapshot_settings, store)

    titles = [r["title"] for r in store.search("ไซเบอร์")]

    assert any(t.startswith(SEED_TITLE) for t in titles)
    assert all("ไซเบอร์" in store.item(r["id"])["body"] + r["title"] for r in store.search("ไซเบอร์"))


def test_failing_source_does_not_stop_the_other(
    tmp_path: Path, snapshot_url: str, smtp: Smtp, httpserver: HTTPServer
):
    httpserver.expect_request("/broken").respond_with_data("oops", status=500)
    broken = f"""
[sources.broken]
preset = "thaigov-legacy"
url = "{httpserver.url_for("/broken")}"
"""
    settings = load_settings(
        write_config(tmp_path, broken + snapshot_sources(snapshot_url), smtp.port)
    )
    store = Store(settings.db_path)

    report = run_once(settings, store)

    by_name = {s.source: s for s in report.sources}
    assert "HTTP 500" in by_name["broken"].error
    thaigov = by_name["thaigov"]
    assert thaigov.new + thaigov.duplicates == 33 and not thaigov.error
    status = {s["source"]: s for s in store.source_status()}
    assert status["broken"]["consecutive_failures"] == 1
    assert status["thaigov"]["consecutive_failures"] == 0
    assert smtp.messages, "alerts for the working source still went out"


def test_concurrent_sources_sharing_items_store_each_once(
    tmp_path: Path, snapshot_url: str, smtp: Smtp
):
    feeds = "".join(
        f'[sources.copy{n}]\npreset = "wordpress-feed"\nurl = "{snapshot_url}/rss/dla-asean.xml"\n'
        for n in range(6)
    )
    settings = load_settings(
        write_config(tmp_path, feeds + snapshot_sources(snapshot_url), smtp.port)
    )
    store = Store(settings.db_path)

    report = run_once(settings, store)

    assert not report.failed_sources
    assert all(not s.problems for s in report.sources), [s.problems for s in report.sources]
    assert len(store.items_overview()) == 37  # 33 pages + 5 feed items - 1 republished seed
    matched = sum(1 for r in store.items_overview() if r["matched_topics"])
    assert len(smtp.messages) == matched


def test_edited_republication_is_merged_into_the_original(
    tmp_path: Path, snapshot_url: str, httpserver: HTTPServer
):
    settings = load_settings(write_config(tmp_path, snapshot_sources(snapshot_url)))
    store = Store(settings.db_path)
    run_once(settings, store)
    seed_id = next(r["id"] for r in store.items_overview() if r["title"].startswith(SEED_TITLE))
    body = store.item(seed_id)["body"]
    copy = "ข่าวประชาสัมพันธ์ กระทรวงดิจิทัลเพื่อเศรษฐกิจและสังคม\n" + body.replace("\n", " ")
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/feed").respond_with_data(
        f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
<item><title>[ข่าวกระทรวง] {SEED_TITLE}</title><link>https://mdes.example/news/1</link>
<description><![CDATA[{copy}]]></description></item></channel></rss>""",
        content_type="application/rss+xml",
    )
    feed = f'[sources.ministry]\nkind = "rss"\nurl = "{httpserver.url_for("/feed")}"\n'
    settings = load_settings(write_config(tmp_path, feed + snapshot_sources(snapshot_url)))

    report = run_once(settings, store)

    ministry = next(s for s in report.sources if s.source == "ministry")
    assert ministry.duplicates == 1 and ministry.new == 0
    assert "https://mdes.example/news/1" in {u["url"] for u in store.item(seed_id)["urls"]}


def test_walk_interrupted_on_the_first_page_goes_on_past_known_items(
    tmp_path: Path, snapshot_url: str
):
    one_page = snapshot_sources(snapshot_url).replace("max_pages = 4", "max_pages = 1")
    store = Store(load_settings(write_config(tmp_path, one_page)).db_path)
    run_once(load_settings(write_config(tmp_path, one_page)), store)
    assert len(store.items_overview()) == 14  # page 1's ten, the feed's five, one shared
    listing = f"{snapshot_url}/news/contents/category/1"
    store.save_walk_cursor("thaigov", [listing], NOW)  # as if killed while on page 1

    run_once(load_settings(write_config(tmp_path, snapshot_sources(snapshot_url))), store)

    stored = {r["title"] for r in store.items_overview()}
    assert len(stored) == 37, "pages 2-4 were walked although page 1 holds known items"
    assert store.walk_cursor("thaigov") == []


CYBER_TEXT = (
    "สำนักงานคณะกรรมการการรักษาความมั่นคงปลอดภัยไซเบอร์แห่งชาติ (สกมช.) เตือนภัยคุกคามทางไซเบอร์ "
    "แรนซัมแวร์โจมตีระบบสารสนเทศของโรงพยาบาล ขอให้หน่วยงานสำรองข้อมูลและแจ้งเหตุต่อ ThaiCERT"
)


def _serve_feed(httpserver: HTTPServer, items: list[tuple[str, str, str]]) -> None:
    httpserver.clear_all_handlers()
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    entries = "".join(
        f"<item><title>{title}</title><link>https://ministry.example/{slug}</link>"
        f"<description><![CDATA[{body}]]></description></item>"
        for slug, title, body in items
    )
    httpserver.expect_request("/feed").respond_with_data(
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"{entries}</channel></rss>",
        content_type="application/rss+xml",
    )


def test_edited_page_is_revised_and_alerted_only_when_it_starts_to_match(
    tmp_path: Path, httpserver: HTTPServer, smtp: Smtp
):
    feed = f'[sources.ministry]\nkind = "rss"\nurl = "{httpserver.url_for("/feed")}"\n'
    settings = load_settings(write_config(tmp_path, feed, smtp_port=smtp.port))
    store = Store(settings.db_path)
    fair = "งานเทศกาลอาหารไทยประจำปี ณ สวนลุมพินี มีร้านค้ากว่าสองร้อยร้าน"
    _serve_feed(httpserver, [("1", "เตือนภัยแรนซัมแวร์", CYBER_TEXT), ("2", "งานเทศกาล", fair)])
    run_once(settings, store)
    assert len(smtp.messages) == 1

    _serve_feed(
        httpserver,
        [("1", "เตือนภัยแรนซัมแวร์ (แก้ไข)", CYBER_TEXT + " ฉบับปรับปรุงรายชื่อหน่วยงาน"),
         ("2", "งานเทศกาลเลื่อน: สกมช. เตือนภัยไซเบอร์", CYBER_TEXT + " งานเทศกาลเลื่อนออกไป")],
    )  # fmt: skip
    report = run_once(settings, store)

    by_url = {r["url"]: r for r in (store.item(i["id"]) for i in store.items_overview())}
    ransomware, fair_item = (
        by_url["https://ministry.example/1"],
        by_url["https://ministry.example/2"],
    )
    assert [r["title"] for r in ransomware["revisions"]] == ["เตือนภัยแรนซัมแวร์"]
    assert ransomware["title"] == "เตือนภัยแรนซัมแวร์ (แก้ไข)"
    assert fair_item["matched_topics"] == "cybersecurity"
    subjects = [m["Subject"] for m in smtp.messages]
    assert len(subjects) == 2 and "งานเทศกาลเลื่อน" in subjects[1], "the new match alone"
    assert [r["title"] for r in store.search("เลื่อนออกไป")] == [fair_item["title"]]
    assert len(store.items_overview()) == 2
    assert (report.sources[0].new, report.sources[0].revised) == (0, 2)
