"""Precision and recall of the shipped topic rules vs a naive substring baseline.

Usage:
    python3 benchmarks/match_quality.py [--articles A.jsonl] [--labels L.jsonl]
        [--rules config/topics.toml]

The baseline is one obvious keyword list per topic; any substring hit in title
or body is a match. The shipped rules are `config/topics.toml` through
`monitor.match`. Both are scored with `monitor.evaluate` (precision, recall of
labels >= 1, recall of label 2).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.config import load_rules  # noqa: E402
from monitor.evaluate import evaluate  # noqa: E402
from monitor.match import match  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, help="JSONL of articles (id, title, body)")
    parser.add_argument("--labels", type=Path, default=SHARED / "labels-dev.jsonl")
    parser.add_argument("--rules", type=Path, default=ROOT / "config/topics.toml")
    args = parser.parse_args()
    if not args.labels.exists():
        sys.exit(f"labels file {args.labels} not found: pass --labels")
    labels = _read_jsonl(args.labels)
    articles = _articles(args.articles, labels)
    rules = load_rules(args.rules)
    shipped: dict[Any, dict[str, dict[str, bool]]] = {}
    naive: dict[Any, dict[str, dict[str, bool]]] = {}
    for article in articles:
        title, body = article.get("title", ""), article.get("body", "")
        verdict = match(title, body, rules)
        shipped[article["id"]] = {t.topic: {"matched": t.matched} for t in verdict.topics}
        naive[article["id"]] = _baseline(title, body)
    base = {m.topic: m for m in evaluate(naive, labels)}
    print(f"{len(articles)} articles, {args.labels}")
    header = "".join(f"{name:{width}}" for name, width in COLUMNS)
    print(header)
    print("-" * len(header))
    for m in evaluate(shipped, labels):
        for name, row in (("baseline", base.get(m.topic)), ("shipped", m)):
            if row is None:
                continue
            print(
                f"{m.topic:15}{name:10}{row.matched:>8}{row.precision:>11.3f}"
                f"{row.recall:>11.3f}{row.recall_main:>10.3f}"
            )


if __name__ == "__main__":
    main()
