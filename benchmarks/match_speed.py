"""Matching throughput: the shipped matcher vs segment-everything-then-look-up.

Usage:
    python3 benchmarks/match_speed.py [--articles A.jsonl[.gz]] [--limit N] [--runs 3]

One core, in CPU time of this process (other load on the machine does not count),
after a warm-up pass over the first articles (loads the dictionary and compiles
the automaton). Prints articles/s, the median of `--runs` runs.
The baseline segments every article in full with pythainlp `newmm` and looks the
tokens up in the set of single-token terms (it cannot find multiword terms).
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.config import load_rules  # noqa: E402
from monitor.match import Rules, match  # noqa: E402
from monitor.thai import normalize_text, segment  # noqa: E402

CORPUS = Path("/work/shared/corpus/thaigov-articles.jsonl.gz")


def _load(path: Path, limit: int | None) -> list[dict[str, Any]]:
    if not path.exists():
        sys.exit(f"{path} not found: pass --articles (JSONL of id, title, body)")
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
            if limit and len(rows) >= limit:
                break
    return rows


def _baseline(rules: Rules) -> Callable[[str, str], int]:
    terms = {term.text for topic in rules.topics for term in topic.terms}

    def run(title: str, body: str) -> int:
        tokens = segment(normalize_text(title)) + segment(normalize_text(body))
        return sum(1 for token in tokens if token in terms)

    return run


def _rate(articles: list[dict[str, Any]], fn: Callable[[str, str], Any], runs: int) -> float:
    rates = []
    for _ in range(runs):
        start = time.process_time()
        for a in articles:
            fn(a.get("title", ""), a.get("body", ""))
        rates.append(len(articles) / (time.process_time() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=CORPUS)
    parser.add_argument("--rules", type=Path, default=ROOT / "config/topics.toml")
    parser.add_argument("--limit", type=int, help="use only the first N articles")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    articles = _load(args.articles, args.limit)
    rules = load_rules(args.rules)
    baseline = _baseline(rules)
    shipped = lambda title, body: match(title, body, rules)  # noqa: E731
    for fn in (shipped, baseline):  # warm-up: dictionary, automaton, caches
        for a in articles[:50]:
            fn(a.get("title", ""), a.get("body", ""))
    chars = sum(len(a.get("title", "")) + len(a.get("body", "")) for a in articles)
    size = chars / len(articles)
    print(f"{len(articles)} articles, {size:.0f} chars each, median of {args.runs} runs")
    ours = _rate(articles, shipped, args.runs)
    print(f"shipped matcher (Aho-Corasick + newmm around candidates): {ours:8.0f} articles/s")
    base = _rate(articles, baseline, args.runs)
    print(f"baseline (newmm on every article, then look-up):          {base:8.0f} articles/s")
    print(f"speed-up: {ours / base:.1f}x")


if __name__ == "__main__":
    main()
