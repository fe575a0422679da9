"""Article pages to compare parsers on: the workload site's and the preset fixtures of
tests/data (`extract_speed.py`, `extract_diff.py`)."""

from __future__ import annotations

import json
import tomllib
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from _workload import REPO, workload_server

from monitor.fetch import decode
from monitor.models import ArticleRules

PRESETS = REPO / "tests" / "data" / "presets"
# workload_cycle.py's ARTICLE_RULES
WORKLOAD_ARTICLE = ArticleRules(title="h1.title", date="div.meta", body="div.content")


class Page(NamedTuple):
    """One article page, its URL and the rules its source reads it with."""

    name: str
    url: str
    text: str
    article: ArticleRules


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return decode(answer.read(), answer.headers.get("Content-Type", ""))[0]


def workload_pages(shared: Path, n: int, items: int = 20) -> list[Page]:
    """Every article page of the workload site with n sources."""
    with workload_server(shared, n) as server, ThreadPoolExecutor(8) as pool:
        urls = [f"{server.base}/article/{i}/{s}.html" for i in range(n) for s in range(items)]
        texts = list(pool.map(_get, urls))
    return [
        Page(url.removeprefix(server.base), url, text, WORKLOAD_ARTICLE)
        for url, text in zip(urls, texts, strict=True)
    ]


def preset_pages() -> Iterator[Page]:
    """The golden article pages of tests/data/presets, with their preset's rules."""
    presets = tomllib.loads((REPO / "config" / "presets.toml").read_text(encoding="utf-8"))
    for folder in sorted(p for p in PRESETS.iterdir() if p.is_dir()):
        expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
        spec = expected.get("article", {})
        if not spec.get("file", "").endswith(".html"):
            continue
        text = decode((folder / spec["file"]).read_bytes(), spec["content_type"])[0]
        rules = {k: tuple(v) if isinstance(v, list) else v
                 for k, v in presets["presets"][folder.name]["article"].items()}  # fmt: skip
        yield Page(f"{folder.name}/{spec['file']}", spec["url"], text, ArticleRules(**rules))
