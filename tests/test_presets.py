"""Golden pages for every source preset: each folder of tests/data/presets/ is one preset.

A folder holds a listing page or a feed, an article page when the preset fetches
pages, and `expected.json`: the entries the listing/feed must give and the fields
of one extracted item. The preset is loaded from config/presets.toml through
`load_settings`, exactly as a source in monitor.toml would use it.
"""

from __future__ import annotations

import json
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.extract import extract_article, item_from_entry, parse_feed, parse_listing
from monitor.fetch import decode
from monitor.models import Entry, Fetched, Source
from tests.conftest import CONFIG, write_config

NOW = datetime(2026, 11, 26, tzinfo=UTC)
GOLDEN = Path(__file__).resolve().parent / "data" / "presets"
FOLDERS = sorted(p for p in GOLDEN.iterdir() if p.is_dir())
PRESETS = tomllib.loads((CONFIG / "presets.toml").read_text(encoding="utf-8"))["presets"]


def _source(tmp_path: Path, preset: str, url: str) -> Source:
    """The source a monitor.toml enabling only `preset` at a loopback URL would give."""
    table = f'[sources.golden]\npreset = "{preset}"\nurl = "{url}"\n'
    return load_settings(write_config(tmp_path, table)).source("golden")


def _page(folder: Path, spec: dict, url: str) -> Fetched:
    text, encoding = decode((folder / spec["file"]).read_bytes(), spec["content_type"])
    assert encoding == spec.get("encoding", "utf-8")
    return Fetched(
        url=url,
        final_url=url,
        status=200,
        text=text,
        content_type=spec["content_type"],
        encoding=encoding,
    )


def _entries(folder: Path, expected: dict, source: Source) -> list[Entry]:
    if source.kind == "rss":
        page = _page(folder, expected["feed"], source.url)
        entries = parse_feed(page)
        wanted = expected["feed"]["entries"]
    else:
        assert source.listing is not None
        page = _page(folder, expected["listing"], source.url)
        entries, next_url = parse_listing(page, source.listing)
        assert next_url == expected["listing"]["next_page"]
        wanted = expected["listing"]["entries"]
    assert [e.url for e in entries] == [w["url"] for w in wanted]
    assert [e.title for e in entries] == [w["title"] for w in wanted]
    return entries


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_preset_extracts_its_golden_pages(folder: Path, tmp_path: Path):
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    source = _source(tmp_path, folder.name, expected["source_url"])
    want = expected["article"]

    entries = _entries(folder, expected, source)
    entry = entries[want["entry"]]
    if source.fetch_articles:
        page = _page(folder, want, entry.url)
        item = extract_article(page, entry, source.name, source.article, NOW)
    else:
        assert "file" not in want, "a feed preset that fetches no page needs no article file"
        item = item_from_entry(entry, source.name, source.article, NOW)

    assert item.url == want["url"]
    assert item.title == want["title"]
    assert item.published_at == want["published_at"]
    assert item.category == want["category"]
    assert item.body[:40] == want["body_start"]
    assert item.body[-40:] == want["body_end"]
    lines = item.body.splitlines()
    for noise in want.get("body_lacks", []):
        assert noise not in lines
    assert "\u00a0" not in item.body and "\u200b" not in item.body
    assert list(item.problems) == want["problems"]


def test_every_preset_has_a_description_and_a_golden_folder():
    assert sorted(PRESETS) == [p.name for p in FOLDERS]
    for name, preset in PRESETS.items():
        assert preset.get("description", "").strip(), f"preset {name} has no description"
        assert isinstance(preset.get("unverified", []), list), name


def test_golden_files_stay_small():
    for path in GOLDEN.rglob("*"):
        if path.is_file():
            assert path.stat().st_size < 60_000, path


COUNTERS = ["1874", "4,023", "4 023", "4\u2009023", "๔,๐๒๓", "๔๐๒๓", "12,345,678", "1.2K", "3k"]
NOT_COUNTERS = [
    "9,805.707",  # a table's figure: separators mixed (corpus article 33235)
    "300.000",
    "4.5",
    "4,02",
    "12,3456",
    "4,023 คน",
    "ปี 2563",
    "งบประมาณ 1,500 ล้านบาท",
]
COUNTER_PRESETS = sorted(
    name
    for name, preset in PRESETS.items()
    if any(re.search(p, "1874") for p in preset.get("article", {}).get("drop_lines", []))
)


def test_the_thaigov_legacy_preset_drops_its_view_counter():
    assert "thaigov-legacy" in COUNTER_PRESETS


@pytest.mark.parametrize("preset", COUNTER_PRESETS)
def test_view_counters_are_dropped_with_thousands_separators(preset: str, tmp_path: Path):
    """A preset that drops the digits-only view counter drops it however it is written:
    `4,023` kept in the body made three stub releases hash apart or alike by chance."""
    source = _source(tmp_path, preset, "http://127.0.0.1/list")
    title = "นายกรัฐมนตรีเป็นประธานการประชุมคณะรัฐมนตรี"
    text = "\n".join(["วันอังคารที่ 25 กุมภาพันธ์ 2563", *COUNTERS, title, *NOT_COUNTERS, "*****"])
    entry = Entry(url="http://127.0.0.1/a", title=title, body=text)

    item = item_from_entry(entry, "golden", source.article, NOW)

    assert item.body.splitlines() == NOT_COUNTERS
