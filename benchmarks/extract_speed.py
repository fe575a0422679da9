"""CPU per article page of `extract_article`: lxml (today) against selectolax's Lexbor.

    pip install selectolax  # not a dependency of the monitor
    python benchmarks/extract_speed.py [--n 200] [--repeat 3]

Pages: the workload site's 20 articles of each of n sources (fetched once from a local
`workload_site.py`) and the preset articles of tests/data. Each way reads every page
`--repeat` times; the best pass is reported, per page, as process CPU time (other work
shares this machine). Listings stay with lxml (their pager guess needs its tree).

Result (n=200, load ~2 on 2 CPUs; 2026-12-07): workload articles 0.53-0.54 ms today,
0.32 ms with Lexbor (0.21-0.23 ms saved; Lexbor's parse 0.16 ms against lxml's 0.30).
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _lexbor_page import lexbor_reads  # noqa: E402
from _pages import Page, preset_pages, workload_pages  # noqa: E402
from _workload import DEFAULT_SHARED  # noqa: E402

from monitor import extract  # noqa: E402
from monitor.models import Entry, Fetched  # noqa: E402

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def read(page: Page, lexbor: bool) -> object:
    """The item `extract_article` reads from the page, with Lexbor or as today."""
    fetched = Fetched(url=page.url, final_url=page.url, status=200, text=page.text)
    try:
        with lexbor_reads() if lexbor else nullcontext():
            return extract.extract_article(fetched, Entry(page.url), "s", page.article, NOW)
    except extract.ExtractError as exc:
        return repr(exc)


def _cpu_ms(pages: list[Page], lexbor: bool, repeat: int) -> float:
    """Best CPU milliseconds per page over `repeat` passes, with or without Lexbor."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for page in pages:
            read(page, lexbor)
        best = min(best, time.process_time() - start)
    return best * 1000 / len(pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="workload sources (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="passes per parser (default 3)")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = parser.parse_args()
    sets = {
        "workload articles": workload_pages(args.shared, args.n),
        "preset articles": list(preset_pages()),
    }
    for pages in sets.values():  # first use imports (trafilatura) outside the timing
        _cpu_ms(pages, True, 1)
    print(f"{'pages':<20}{'count':>6}{'lxml ms':>10}{'selectolax ms':>15}{'saved ms':>10}")
    for name, chosen in sets.items():
        before = _cpu_ms(chosen, False, args.repeat)
        after = _cpu_ms(chosen, True, args.repeat)
        print(f"{name:<20}{len(chosen):>6}{before:>10.3f}{after:>15.3f}{before - after:>10.3f}")


if __name__ == "__main__":
    main()
