"""Diff report: article pages read with selectolax (Lexbor) against today's lxml.

    pip install selectolax  # not a dependency of the monitor
    python benchmarks/extract_diff.py [--n 200] [--cuts 2000] [--show 5]

Each page is read twice by `extract_article`, with and without Lexbor, and the texts
the page gives (title, date, category and body as `_Page.text` returns them, the
canonical link) and the item are compared. Pages: the preset fixtures of tests/data,
the demo snapshot, the odd pages of tests/test_extract.py, the workload site's article
pages for n sources, hostile pages (`_hostile_pages.py`) and workload pages cut short at
many offsets. Prints identical/different counts per set and the first differences.
Listings are read by lxml alone (their pager guess needs lxml's tree), so they are not
compared.

Result (n=200, 2,000 cuts; 2026-12-07): 6,170 pages, 45 different. Identical: the 4
preset articles, the 33 demo snapshot pages, 4,000 workload articles, 2,000 cut pages.
Different, each where the two parsers repair markup their own way: misnested tags,
stray end tags (`</br>` a break for Lexbor), text in tables (moved before the table by
HTML5), blocks in `<h1>` (libxml2 closes the heading), tags after `</body>` or before
`<body>`, a thousand open `<b>`, nesting deeper than 255 (libxml2 drops it), `<svg>`
left open, the newline after `<pre>` and `<textarea>` (HTML5 drops it), NUL (U+FFFD for
libxml2, dropped by Lexbor), an empty page (Lexbor still makes a `<body>`).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _hostile_pages import hostile_pages  # noqa: E402
from _lexbor_page import parse  # noqa: E402
from _pages import Page, preset_pages, workload_pages  # noqa: E402
from _workload import DEFAULT_SHARED  # noqa: E402
from extract_speed import read  # noqa: E402

from monitor import extract  # noqa: E402
from monitor.fetch import decode  # noqa: E402


def texts(page: Page, lexbor: bool) -> dict[str, object]:
    """What `extract_article` reads from the page, step by step, and the item it gives."""
    rules = page.article
    selectors = (rules.title, rules.date, rules.body, rules.category)
    parsed = parse(page.text, *selectors) if lexbor else extract._parse(page.text, *selectors)
    got: dict[str, object] = {"parser": type(parsed).__name__}
    for field in ("title", "date", "category"):
        node = parsed.one(getattr(rules, field)) if getattr(rules, field) else None
        got[field] = None if node is None else parsed.text(node, "\n")
    parsed.drop(extract._NOISE_TAGS)
    body = parsed.one(rules.body) if rules.body else None
    got["body"] = None if body is None else parsed.text(body, "\n")
    got["canonical"] = extract._canonical_link(parsed, page.url)
    got["item"] = read(page, lexbor)
    return got


def demo_pages() -> Iterator[Page]:
    """The demo snapshot's article pages, read with the demo's thaigov source."""
    from monitor.config import load_settings

    rules = load_settings(REPO / "config" / "demo.toml").source("thaigov").article
    for path in sorted((REPO / "demo" / "snapshot" / "details").glob("*.html")):
        text = decode(path.read_bytes(), "text/html")[0]  # some are windows-874
        yield Page(f"demo/{path.name}", f"http://127.0.0.1/{path.name}", text, article=rules)


def odd_pages() -> Iterator[Page]:
    """tests/test_extract.py's odd pages, with its rules."""
    from tests.test_extract import ODD_PAGES, ODD_RULES

    for i, html in enumerate(ODD_PAGES):
        for j, rules in enumerate(ODD_RULES):
            yield Page(f"odd {i} rules {j}", "http://x/a", html, article=rules)


def cut_pages(pages: list[Page], count: int, seed: int = 16) -> Iterator[Page]:
    """Workload pages cut short at random offsets: unclosed tags, half a tag or entity."""
    chance = random.Random(seed)
    for k in range(count):
        page = chance.choice(pages)
        at = chance.randrange(len(page.text))
        yield page._replace(name=f"{page.name} cut at {at} ({k})", text=page.text[:at])


def _differences(a: dict[str, object], b: dict[str, object]) -> list[str]:
    out = []
    for key in a:
        if a[key] != b[key]:
            x, y = str(a[key]), str(b[key])
            at = next((i for i, (p, q) in enumerate(zip(x, y, strict=False)) if p != q),
                      min(len(x), len(y)))  # fmt: skip
            out.append(f"  {key}: lxml {x[max(0, at - 40):at + 40]!r}\n"
                       f"  {' ' * len(key)}  lexbor {y[max(0, at - 40):at + 40]!r}")  # fmt: skip
    return out


def report(name: str, pages: list[Page], show: int) -> int:
    """Print how many pages read the same both ways and the first differences; return
    the number of different pages."""
    different = lexbor_read = 0
    for page in pages:
        before, after = texts(page, False), texts(page, True)
        lexbor_read += after.pop("parser") == "_Lexbor"
        if before.pop("parser") and before != after:
            different += 1
            if different <= show:
                print(f"- {name}: {page.name}")
                print("\n".join(_differences(before, after)))
    same = len(pages) - different
    print(f"{name}: {len(pages)} pages, {lexbor_read} read by Lexbor, "
          f"{same} identical, {different} different")  # fmt: skip
    return different


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="workload sources (default 200)")
    parser.add_argument("--cuts", type=int, default=2000, help="cut pages (default 2000)")
    parser.add_argument("--show", type=int, default=5, help="differences shown per set")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = parser.parse_args()
    workload = workload_pages(args.shared, args.n)
    sets = {
        "preset fixtures": list(preset_pages()),
        "demo snapshot": list(demo_pages()),
        "odd test pages": list(odd_pages()),
        "workload": workload,
        "hostile": list(hostile_pages(workload[0].text)),
        "cut workload": list(cut_pages(workload, args.cuts)),
    }
    different = sum(report(name, pages, args.show) for name, pages in sets.items())
    print(f"total: {sum(map(len, sets.values()))} pages, {different} different")
    sys.exit(1 if different else 0)


if __name__ == "__main__":
    main()
