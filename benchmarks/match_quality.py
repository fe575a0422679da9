"""Precision and recall of the shipped topic rules vs a naive substring baseline.

Usage:
    python3 benchmarks/match_quality.py [--articles A.jsonl] [--labels L.jsonl]
        [--rules config/topics.toml] [--before OLD-topics.toml] [--halves]

The baseline is one obvious keyword list per topic; any substring hit in title
or body is a match. The shipped rules are `config/topics.toml` through
`monitor.match`; `--before` adds a row for an earlier rules file, to compare a
change. All are scored with `monitor.evaluate` (precision, recall of labels >= 1,
recall of label 2). `--halves` also scores two fixed halves of the labels (by a
hash of the id): change rules while looking at half A only, then check that half
B agrees, so that a change fits the kind of article and not the labelled ones.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.config import load_rules  # noqa: E402
from monitor.evaluate import evaluate  # noqa: E402
from monitor.match import Rules, match  # noqa: E402
from monitor.thai import normalize_text  # noqa: E402

SHARED = Path("/work/shared/corpus")
BASELINE = {
    "cybersecurity": ("ไซเบอร์", "cyber", "แฮก", "hack", "มัลแวร์", "malware", "ransomware"),
    "asean": ("อาเซียน", "asean"),
}


COLUMNS = (("topic", "15"), ("rules", "10"), ("matched", ">8"), ("precision", ">11"),
           ("recall>=1", ">11"), ("recall=2", ">10"))  # fmt: skip


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _articles(path: Path | None, labels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if path is not None:
        return _read_jsonl(path)
    corpus = SHARED / "thaigov-articles.jsonl.gz"
    if not corpus.exists():
        sys.exit(f"no --articles given and {corpus} not found: pass a JSONL of articles")
    wanted = {label["id"] for label in labels}
    return [a for a in _read_jsonl(corpus) if a["id"] in wanted]


def _baseline(title: str, body: str) -> dict[str, dict[str, bool]]:
    text = normalize_text(f"{title}\n{body}")
    return {t: {"matched": any(w in text for w in words)} for t, words in BASELINE.items()}


def _half(article_id: Any) -> str:
    """A or B, fixed for an id (not Python's salted hash)."""
    return "AB"[hashlib.sha1(str(article_id).encode()).digest()[0] % 2]


def _verdicts(articles: list[dict[str, Any]], rules: Rules) -> dict[Any, dict[str, Any]]:
    verdicts = {}
    for article in articles:
        result = match(article.get("title", ""), article.get("body", ""), rules)
        verdicts[article["id"]] = {t.topic: {"matched": t.matched} for t in result.topics}
    return verdicts


def _table(name: str, runs: dict[str, dict[Any, Any]], labels: list[dict[str, Any]]) -> None:
    print(f"\n{name}: {len(labels)} labelled articles")
    header = "".join(f"{column:{width}}" for column, width in COLUMNS)
    print(header)
    print("-" * len(header))
    scored = {run: {m.topic: m for m in evaluate(v, labels)} for run, v in runs.items()}
    for topic in scored["shipped"]:
        for run, metrics in scored.items():
            row = metrics.get(topic)
            if row is not None:
                print(
                    f"{topic:15}{run:10}{row.matched:>8}{row.precision:>11.3f}"
                    f"{row.recall:>11.3f}{row.recall_main:>10.3f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, help="JSONL of articles (id, title, body)")
    parser.add_argument("--labels", type=Path, default=SHARED / "labels-dev.jsonl")
    parser.add_argument("--rules", type=Path, default=ROOT / "config/topics.toml")
    parser.add_argument("--before", type=Path, help="an earlier rules file to compare with")
    parser.add_argument("--halves", action="store_true", help="also score halves A and B")
    args = parser.parse_args()
    if not args.labels.exists():
        sys.exit(f"labels file {args.labels} not found: pass --labels")
    labels = _read_jsonl(args.labels)
    articles = _articles(args.articles, labels)
    runs: dict[str, dict[Any, Any]] = {
        "baseline": {a["id"]: _baseline(a.get("title", ""), a.get("body", "")) for a in articles}
    }
    if args.before:
        runs["before"] = _verdicts(articles, load_rules(args.before))
    runs["shipped"] = _verdicts(articles, load_rules(args.rules))
    print(f"{len(articles)} articles, {args.labels}, rules {args.rules}")
    _table("all", runs, labels)
    for half in "AB" if args.halves else "":
        _table(f"half {half}", runs, [label for label in labels if _half(label["id"]) == half])


if __name__ == "__main__":
    main()
