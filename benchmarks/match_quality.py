"""Cross-validated precision and recall of the topic rules vs a naive substring baseline.

Usage:
    python3 benchmarks/match_quality.py [--labels L.jsonl ...] [--articles A.jsonl]
        [--rules config/topics.toml] [--before OLD-topics.toml] [--folds 5] [--tuned]

Every labelled article (by default both label files of the shared corpus, 647
articles) falls in one of `--folds` folds, fixed by a hash of its id (not Python's
salted hash), so the split is the same on every run and machine. A row is scored
fold by fold on articles that were not used to choose what it is measured with,
and the folds' verdicts are pooled into one precision, recall(labels >= 1) and
recall(label 2) per topic (`monitor.evaluate`):

- baseline: one obvious keyword list per topic, any substring hit matches;
- shipped (and `--before`): hand-written rules have no fitted parameters, so each
  fold is a plain evaluation and the pooled figure equals the whole-set one. They
  were written looking at labelled articles, so this is an upper bound on how they
  generalise; the held-out set is the real check;
- thresh-cv: the shipped rules with each topic's threshold chosen on the other folds
  (best F1 of labels >= 1 over a grid of thresholds): the shipped thresholds were
  picked looking at all the labels, this row says what that choice is worth;
- tuned (`--tuned`): `monitor.tune` fits each topic's term weights and threshold on
  the other folds, starting from `--rules`, and is measured on the held-out fold.

The last line prints the command that reproduces the table.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shlex
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.config import load_rules  # noqa: E402
from monitor.evaluate import choose_tiers, evaluate, label_of  # noqa: E402
from monitor.match import Rules, match  # noqa: E402
from monitor.thai import normalize_text  # noqa: E402
from monitor.tune import fold_of  # noqa: E402

SHARED = Path("/work/shared/corpus")
LABELS = (SHARED / "labels-dev.jsonl", SHARED / "labels-dev2.jsonl")
BASELINE = {
    "cybersecurity": ("ไซเบอร์", "cyber", "แฮก", "hack", "มัลแวร์", "malware", "ransomware"),
    "asean": ("อาเซียน", "asean"),
}


COLUMNS = (("topic", "15"), ("rules", "12"), ("matched", ">8"), ("precision", ">11"),
           ("recall>=1", ">11"), ("recall=2", ">10"))  # fmt: skip


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _articles(path: Path | None, labels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    wanted = {label["id"] for label in labels}
    if path is None:
        path = SHARED / "thaigov-articles.jsonl.gz"
        if not path.exists():
            sys.exit(f"no --articles given and {path} not found: pass a JSONL of articles")
    return [a for a in _read_jsonl(path) if a["id"] in wanted]


def _baseline(title: str, body: str) -> dict[str, dict[str, bool]]:
    text = normalize_text(f"{title}\n{body}")
    return {t: {"matched": any(w in text for w in words)} for t, words in BASELINE.items()}


def _verdicts(articles: list[dict[str, Any]], rules: Rules) -> dict[Any, dict[str, Any]]:
    verdicts = {}
    for article in articles:
        result = match(article.get("title", ""), article.get("body", ""), rules)
        verdicts[article["id"]] = {
            t.topic: {
                "matched": t.matched,
                "related": t.related,
                "score": t.score,
                "vetoed": bool(t.vetoed_by),
            }
            for t in result.topics
        }
    return verdicts


THRESHOLDS = [x / 4 for x in range(8, 33)]  # 2.0 .. 8.0


def _f1(rows: list[tuple[float, bool]], threshold: float) -> float:
    hits = [relevant for score, relevant in rows if score >= threshold]
    total = len(hits) + sum(relevant for _, relevant in rows)
    return 2 * sum(hits) / total if total else 0.0


def _scored(
    verdicts: dict[Any, dict[str, Any]], by_id: dict[Any, dict[str, Any]], topic: str
) -> list[tuple[Any, float, int]]:
    """(id, score, label) of a topic's labelled articles; a vetoed one scores -inf."""
    return [
        (i, v[topic]["score"] if not v[topic]["vetoed"] else float("-inf"), label)
        for i, v in verdicts.items()
        if i in by_id and (label := label_of(topic, by_id[i])) is not None
    ]


def _threshold_cv(
    verdicts: dict[Any, dict[str, Any]], labels: list[dict[str, Any]], folds: int
) -> dict[Any, dict[str, Any]]:
    """Verdicts with each topic's threshold chosen (best F1 of labels >= 1, from a grid)
    on the other folds: how much of the shipped figure is a threshold fitted to the labels."""
    by_id = {label["id"]: label for label in labels}
    out: dict[Any, dict[str, Any]] = {i: {} for i in verdicts}
    for topic in {t for v in verdicts.values() for t in v}:
        rows = _scored(verdicts, by_id, topic)
        for fold in range(folds):
            train = [(s, y >= 1) for i, s, y in rows if fold_of(i, folds) != fold]
            best = max(THRESHOLDS, key=lambda t, train=train: (_f1(train, t), t))
            for i, s, _ in (r for r in rows if fold_of(r[0], folds) == fold):
                out[i][topic] = {"matched": s >= best}
    return out


def _tiers_cv(
    verdicts: dict[Any, dict[str, Any]], labels: list[dict[str, Any]], folds: int
) -> tuple[dict[Any, dict[str, Any]], dict[Any, dict[str, Any]]]:
    """Alert and related thresholds of each topic chosen (`evaluate.choose_tiers`) on the
    other folds: verdicts of the alert tier, and of alert and related tiers together."""
    by_id = {label["id"]: label for label in labels}
    alerts: dict[Any, dict[str, Any]] = {i: {} for i in verdicts}
    either: dict[Any, dict[str, Any]] = {i: {} for i in verdicts}
    for topic in {t for v in verdicts.values() for t in v}:
        rows = _scored(verdicts, by_id, topic)
        for fold in range(folds):
            alert, related = choose_tiers([(s, y) for i, s, y in rows if fold_of(i, folds) != fold])
            for i, s, _ in (r for r in rows if fold_of(r[0], folds) == fold):
                alerts[i][topic] = {"matched": s >= alert}
                either[i][topic] = {"matched": s >= related}
    return alerts, either


def _tuned(
    articles: list[dict[str, Any]], labels: list[dict[str, Any]], rules: Rules, folds: int
) -> dict[Any, dict[str, Any]]:
    """Verdicts of rules tuned on the other folds, for each fold's articles."""
    from monitor.tune import cross_validated_verdicts

    return cross_validated_verdicts(articles, labels, rules, folds)


def _table(runs: dict[str, dict[Any, Any]], labels: list[dict[str, Any]]) -> None:
    header = "".join(f"{column:{width}}" for column, width in COLUMNS)
    print(header)
    print("-" * len(header))
    scored = {run: {m.topic: m for m in evaluate(v, labels)} for run, v in runs.items()}
    for topic in scored["shipped"]:
        for run, metrics in scored.items():
            row = metrics.get(topic)
            if row is not None:
                print(
                    f"{topic:15}{run:12}{row.matched:>8}{row.precision:>11.3f}"
                    f"{row.recall:>11.3f}{row.recall_main:>10.3f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, help="JSONL of articles (id, title, body)")
    parser.add_argument("--labels", type=Path, nargs="+", default=list(LABELS))
    parser.add_argument("--rules", type=Path, default=ROOT / "config/topics.toml")
    parser.add_argument("--before", type=Path, help="an earlier rules file to compare with")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--tuned", action="store_true", help="also rules tuned per fold")
    args = parser.parse_args()
    labels: dict[Any, dict[str, Any]] = {}
    for path in args.labels:
        if not path.exists():
            sys.exit(f"labels file {path} not found: pass --labels")
        labels.update((label["id"], label) for label in _read_jsonl(path))
    rows = list(labels.values())
    articles = _articles(args.articles, rows)
    runs: dict[str, dict[Any, Any]] = {
        "baseline": {a["id"]: _baseline(a.get("title", ""), a.get("body", "")) for a in articles}
    }
    if args.before:
        runs["before"] = _verdicts(articles, load_rules(args.before))
    rules = load_rules(args.rules)
    runs["shipped"] = _verdicts(articles, rules)
    runs["shipped+rel"] = {
        i: {t: {"matched": v["matched"] or v["related"]} for t, v in topics.items()}
        for i, topics in runs["shipped"].items()
    }
    runs["thresh-cv"] = _threshold_cv(runs["shipped"], rows, args.folds)
    runs["tiers-cv"], runs["tiers+rel"] = _tiers_cv(runs["shipped"], rows, args.folds)
    if args.tuned:
        runs["tuned"] = _tuned(articles, rows, rules, args.folds)
    sizes = [sum(1 for i in labels if fold_of(i, args.folds) == f) for f in range(args.folds)]
    print(f"{len(articles)} articles, {len(rows)} labels ({', '.join(map(str, args.labels))})")
    print(f"{args.folds}-fold cross-validation by id hash, fold sizes {sizes}, pooled")
    _table(runs, rows)
    command = ["python3", "benchmarks/match_quality.py", "--labels", *map(str, args.labels)]
    rules_arg = args.rules.resolve()
    rules_arg = rules_arg.relative_to(ROOT) if rules_arg.is_relative_to(ROOT) else rules_arg
    command += ["--rules", str(rules_arg), "--folds", str(args.folds)]
    command += ["--before", str(args.before)] * bool(args.before) + ["--tuned"] * args.tuned
    print("\nreproduce: " + shlex.join(command))


if __name__ == "__main__":
    main()
