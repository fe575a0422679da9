# ruff: noqa: F811 (the `sites` fixture is imported from test_failures)
"""A copy that arrives before its original: one item, the original's text, one alert.

Sources run on their own intervals, so a republisher's trimmed copy is often stored
first. End to end through `run_once` with a real SMTP server: the copy's feed runs,
then the official listing; the user sees one item carrying the full text (the copy's
kept as a revision), both URLs, and the one alert sent when the copy came.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from monitor.config import load_settings
from monitor.pipeline import run_once
from monitor.store import Store
from tests.conftest import Smtp, write_config
from tests.test_failures import NOW, LocalSite, html_source, rss_source, sites  # noqa: F401

TITLE = "สกมช. ร่วมประชุมเจ้าหน้าที่อาวุโสอาเซียนด้านความมั่นคงปลอดภัยไซเบอร์ ครั้งที่ 5"
PARAGRAPHS = [
    "สำนักงานคณะกรรมการการรักษาความมั่นคงปลอดภัยไซเบอร์แห่งชาติ (สกมช.) นำคณะผู้แทนไทย"
    "เข้าร่วมการประชุมเจ้าหน้าที่อาวุโสอาเซียนด้านความมั่นคงปลอดภัยไซเบอร์ ครั้งที่ 5 ที่กรุงจาการ์ตา",
    "ที่ประชุมได้หารือแนวทางการรับมือภัยคุกคามทางไซเบอร์ต่อโครงสร้างพื้นฐานสำคัญทางสารสนเทศ"
    " การแลกเปลี่ยนข้อมูลภัยคุกคามระหว่างหน่วยงาน CERT ของประเทศสมาชิกทั้ง 10 ประเทศ",
    "ประเทศไทยได้นำเสนอผลการฝึกซ้อมรับมือเหตุการณ์ภัยคุกคามทางไซเบอร์ระดับภูมิภาค"
    "ซึ่งมีหน่วยงานเข้าร่วมกว่า 120 หน่วยงาน และเสนอให้จัดการฝึกซ้อมร่วมกันทุกปี",
    "นอกจากนี้ ที่ประชุมยังเห็นชอบร่างแผนปฏิบัติการความร่วมมือด้านความมั่นคงปลอดภัยไซเบอร์"
    "ของอาเซียน ปี 2569-2573 เพื่อเสนอต่อที่ประชุมรัฐมนตรีอาเซียนด้านดิจิทัลพิจารณาต่อไป",
    "ผู้แทนไทยย้ำถึงความสำคัญของการพัฒนาบุคลากรด้านความมั่นคงปลอดภัยไซเบอร์ในภูมิภาค"
    "และพร้อมสนับสนุนศูนย์ฝึกอบรมอาเซียน-ญี่ปุ่นด้านความมั่นคงปลอดภัยไซเบอร์อย่างต่อเนื่อง",
]
ORIGINAL = "\n".join(PARAGRAPHS)
COPY = "\n".join(["[ข่าวประชาสัมพันธ์] " + TITLE, *PARAGRAPHS[:-1]])  # trimmed, headline kept


def _official(site: LocalSite) -> str:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    site.routes["/news/list"] = (
        200, {}, f'<ul><li><a class="news" href="/news/1">{TITLE}</a></li></ul>'.encode()
    )  # fmt: skip
    site.routes["/news/1"] = (
        200, {},
        f'<html><body><h1>{TITLE}</h1><p class="date">5 มกราคม 2569</p>'
        f'<div class="body">{body}</div></body></html>'.encode(),
    )  # fmt: skip
    return html_source("official", site.url("/news/list"))


def _republisher(site: LocalSite) -> str:
    text = COPY.replace("\n", "&lt;br&gt;")
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>r</title>'
        f"<item><title>[ข่าวประชาสัมพันธ์] {TITLE}</title><link>{site.url('/r/77')}</link>"
        f"<description>{text}</description>"
        "<pubDate>Mon, 05 Jan 2026 10:00:00 +0700</pubDate></item></channel></rss>"
    )
    site.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, feed.encode())
    return rss_source("copy", site.url("/feed.xml"))


def test_a_copy_first_then_its_original_is_one_item_with_the_full_text_and_one_alert(
    tmp_path: Path, sites: Callable[[], LocalSite], smtp: Smtp
) -> None:
    official, republisher = sites(), sites()
    fetch = "timeout_seconds = 5\nobey_robots = false\n"
    copy_only = write_config(tmp_path, _republisher(republisher), smtp.port, fetch=fetch)
    store = Store(load_settings(copy_only).db_path)
    try:
        first = run_once(load_settings(copy_only), store, now=NOW)
        sources = _official(official) + _republisher(republisher)
        both = write_config(tmp_path, sources, smtp.port, fetch=fetch)
        second = run_once(load_settings(both), store, now=NOW + timedelta(hours=2))
        [overview] = store.items_overview()
        item = store.item(overview["id"])
    finally:
        store.close()

    assert first.sources[0].new == 1 and len(smtp.messages) == 1
    by_name = {s.source: s for s in second.sources}
    assert (by_name["official"].new, by_name["official"].duplicates) == (0, 1)
    assert item["body"] == ORIGINAL
    assert item["title"] == TITLE
    assert [r["title"] for r in item["revisions"]] == [f"[ข่าวประชาสัมพันธ์] {TITLE}"]
    assert {u["url"] for u in item["urls"]} == {official.url("/news/1"), republisher.url("/r/77")}
    assert len(smtp.messages) == 1, "the original is not alerted again"


def test_three_cabinet_stubs_with_one_body_stay_three_items(
    tmp_path: Path, sites: Callable[[], LocalSite]
) -> None:
    """Different releases whose whole body is the same sentence (cabinet-meeting stubs),
    their view counters written with a comma or not at all: three items, not one."""
    site = sites()
    stub = "พลเอก ประยุทธ์ จันทร์โอชา นายกรัฐมนตรี เป็นประธานการประชุมคณะรัฐมนตรี"
    links = ""
    for n, (day, counter) in enumerate([(2, "4,023"), (9, "857"), (16, "")], start=1):
        title = f"สรุปข่าวการประชุมคณะรัฐมนตรี {day} พฤษภาคม 2560"
        links += f'<li><a class="news" href="/news/{n}">{title}</a></li>'
        site.routes[f"/news/{n}"] = (
            200, {},
            f'<html><body><h1>{title}</h1><p class="date">{day} พฤษภาคม 2560</p>'
            f'<div class="body"><p>{stub}</p><p>{counter}</p></div></body></html>'.encode(),
        )  # fmt: skip
    site.routes["/news/list"] = (200, {}, f"<ul>{links}</ul>".encode())
    source = html_source("cabinet", site.url("/news/list"), max_pages=1) + (
        'drop_lines = ["^\\\\d+$"]\n'  # as a preset's counter rule, without separators
    )
    settings = load_settings(write_config(tmp_path, source))
    store = Store(settings.db_path)
    try:
        report = run_once(settings, store, now=NOW)
        titles = sorted(r["title"] for r in store.items_overview())
    finally:
        store.close()

    assert (report.sources[0].new, report.sources[0].duplicates) == (3, 0)
    assert len(titles) == 3
