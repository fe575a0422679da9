"""Fit each topic's term weights and threshold from labelled articles.

The rules' score is linear in the term weights: score = sum of weight * factor over
the terms found, where a term's factor (`match.explain`) depends only on where and
how often it occurs. So a logistic model over the factors is the rules themselves
with other numbers. The model has one feature for the shipped score and one per
term; L2 regularisation pulls the per-term corrections to zero, so a term the labels
say little about keeps its hand-written weight. Coefficients become rules again:
new weight = weight + correction / (coefficient of the shipped score), threshold =
-intercept / the same. Label 2 counts twice (an article mainly about the topic must
not be missed); the target is label >= 1.

Every figure is cross-validated: articles fall in folds by a hash of their id, the
model is fitted on the other folds and measured on each. The densest passage is
chosen with the starting weights (a feature does not move with the fitted ones).
Veto and require conditions are not fitted; they still apply when the rules run.

scikit-learn is imported here only: the service never imports this module.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.evaluate import Metrics, choose_related, evaluate, label_of
from monitor.match import Rules, Term, explain

LABEL_2_WEIGHT = 2.0
POSITIVE_WEIGHT = 1.0  # weight of a label-1 article against a label-0 one
REGULARISATION_C = 1.0  # scikit-learn's C: smaller pulls corrections harder to zero
FOLDS = 5
INNER_FOLDS = 4  # to choose the decision value on articles the model was not fitted on


class TuneError(Exception):
    """Tuning cannot give a rules file (too few labels, precision would drop)."""


@dataclass(frozen=True)
class Fitted:
    """New weights (term text -> weight) and threshold of one topic."""

    topic: str
    weights: dict[str, float]
    threshold: float
    related_threshold: float | None = None  # None: leave the rules' own


def fold_of(article_id: Any, folds: int) -> int:
    """The fold of an id, fixed across runs and machines (not Python's salted hash)."""
    return hashlib.sha1(str(article_id).encode()).digest()[0] % folds


def features(
    articles: dict[Any, dict[str, Any]], rules: Rules
) -> dict[Any, dict[str, dict[str, float]]]:
    """id -> topic -> term -> factor, for every article."""
    return {i: explain(a.get("title", ""), a.get("body", ""), rules) for i, a in articles.items()}


def _score(factors: dict[str, float], weights: dict[str, float]) -> float:
    return sum(weights.get(t, 0.0) * x for t, x in factors.items())


def fit_topic(
    topic: str,
    rows: list[tuple[dict[str, float], int]],
    weights: dict[str, float],
    threshold: float,
) -> Fitted:
    """Fit one topic on (factors, label) rows, starting from `weights` and `threshold`."""
    from sklearn.linear_model import LogisticRegression

    targets = [1 if label >= 1 else 0 for _, label in rows]
    if len(set(targets)) < 2:
        return Fitted(topic, dict(weights), threshold)
    terms = sorted({t for factors, _ in rows for t in factors if t in weights})
    matrix = [
        [_score(factors, weights) - threshold] + [factors.get(t, 0.0) for t in terms]
        for factors, _ in rows
    ]
    sample_weight = [
        LABEL_2_WEIGHT if label == 2 else POSITIVE_WEIGHT if label == 1 else 1.0
        for _, label in rows
    ]
    model = LogisticRegression(C=REGULARISATION_C, max_iter=2000)
    model.fit(matrix, targets, sample_weight=sample_weight)
    alpha, *corrections = (float(c) for c in model.coef_[0])
    matched = [row[0] >= 0 for row in matrix]  # the starting rules' verdicts
    hits = sum(1 for m, t in zip(matched, targets, strict=True) if m and t)
    floor = hits / sum(matched) if any(matched) else 0.0
    cut = _cut(matrix, targets, sample_weight, floor)
    if alpha <= 1e-6:  # the shipped score says nothing: keep the rules as they are
        return Fitted(topic, dict(weights), threshold)
    new = dict(weights)
    for term, beta in zip(terms, corrections, strict=True):
        new[term] = round(weights[term] + beta / alpha, 2)
    # alpha * (score - threshold) + sum(beta * x) + intercept >= 0
    new_threshold = round(threshold + (cut - float(model.intercept_[0])) / alpha, 2)
    scored = [(_score(factors, new), label) for factors, label in rows]
    return Fitted(topic, new, new_threshold, choose_related(scored, new_threshold))


def _cut(
    matrix: list[list[float]], targets: list[int], sample_weight: list[float], floor: float
) -> float:
    """The decision value above which to match: of those whose precision on articles
    the model was not fitted on (an inner cross-validation of the training rows) is at
    least `floor` (the starting rules' precision), the one with the best F1. The
    probability 0.5 of a logistic model loses most label-1 articles, which are few
    against many label-0 ones; the best F1 alone trades precision for recall."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    if min(sum(targets), len(targets) - sum(targets)) < INNER_FOLDS:
        return 0.0
    decided: list[tuple[float, int]] = []
    folds = StratifiedKFold(n_splits=INNER_FOLDS, shuffle=True, random_state=0)
    for train, test in folds.split(matrix, targets):
        model = LogisticRegression(C=REGULARISATION_C, max_iter=2000)
        model.fit(
            [matrix[i] for i in train],
            [targets[i] for i in train],
            sample_weight=[sample_weight[i] for i in train],
        )
        values = model.decision_function([matrix[i] for i in test])
        decided.extend((float(v), targets[i]) for v, i in zip(values, test, strict=True))
    decided.sort(reverse=True)
    positives = sum(targets)
    best: tuple[bool, float] = (False, -1.0)
    best_cut, hits = 0.0, 0
    for n, (value, target) in enumerate(decided, 1):
        hits += target
        if n < len(decided) and decided[n][0] >= value:
            continue  # a cut falls between different values only
        candidate = (hits / n >= floor, 2 * hits / (n + positives))
        if candidate > best:
            best, best_cut = candidate, value
    return best_cut


def _rows(
    topic: str, ids: list[Any], feats: dict[Any, Any], labels: dict[Any, dict[str, Any]]
) -> list[tuple[dict[str, float], int]]:
    rows = []
    for i in ids:
        label = label_of(topic, labels[i])
        if label is not None:
            rows.append((feats[i].get(topic, {}), label))
    return rows


def _start(rules: Rules) -> dict[str, tuple[dict[str, float], float]]:
    return {
        t.name: ({term.text: term.weight for term in t.terms}, t.threshold) for t in rules.topics
    }


def cross_validate(
    feats: dict[Any, Any], labels: dict[Any, dict[str, Any]], rules: Rules, folds: int = FOLDS
) -> tuple[dict[Any, dict[str, Any]], dict[Any, dict[str, Any]]]:
    """Verdicts of the rules as they are and of rules fitted on the other folds."""
    start = _start(rules)
    ids = [i for i in labels if i in feats]
    before: dict[Any, dict[str, Any]] = {i: {} for i in ids}
    after: dict[Any, dict[str, Any]] = {i: {} for i in ids}
    for topic, (weights, threshold) in start.items():
        for i in ids:
            matched = _score(feats[i].get(topic, {}), weights) >= threshold
            before[i][topic] = {"matched": matched}
        for fold in range(folds):
            train = [i for i in ids if fold_of(i, folds) != fold]
            fitted = fit_topic(topic, _rows(topic, train, feats, labels), weights, threshold)
            for i in (i for i in ids if fold_of(i, folds) == fold):
                score = _score(feats[i].get(topic, {}), fitted.weights)
                after[i][topic] = {"matched": score >= fitted.threshold}
    return before, after


def cross_validated_verdicts(
    articles: list[dict[str, Any]], labels: list[dict[str, Any]], rules: Rules, folds: int
) -> dict[Any, dict[str, Any]]:
    """Verdicts of rules tuned on the other folds (for benchmarks/match_quality.py)."""
    feats = features({a["id"]: a for a in articles}, rules)
    return cross_validate(feats, {label["id"]: label for label in labels}, rules, folds)[1]


def fit(feats: dict[Any, Any], labels: dict[Any, dict[str, Any]], rules: Rules) -> list[Fitted]:
    """Fit every topic on all the labelled articles."""
    ids = [i for i in labels if i in feats]
    return [
        fit_topic(topic, _rows(topic, ids, feats, labels), weights, threshold)
        for topic, (weights, threshold) in _start(rules).items()
    ]


_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")
_KEY_VALUE = re.compile(r'^(\s*)("(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+)(\s*=\s*)(-?[0-9.]+)(.*)$')


def rewrite(text: str, fitted: list[Fitted]) -> tuple[str, list[str]]:
    """The rules file `text` with fitted weights and thresholds, and a line per change.
    Comments, order and everything else stay as they are."""
    by_topic = {f.topic: f for f in fitted}
    section = ""
    out, changes = [], []
    for line in text.splitlines(keepends=True):
        if m := _SECTION.match(line):
            section = m.group(1).strip()
        elif (m := _KEY_VALUE.match(line)) and section.startswith("topics."):
            parts = section.split(".")
            f = by_topic.get(parts[1])
            key, old = m.group(2), float(m.group(4))
            new = None
            if f is not None and len(parts) == 2 and key == "threshold":
                new, name = f.threshold, "threshold"
            elif f is not None and len(parts) == 2 and key == "related_threshold":
                new, name = f.related_threshold, "related_threshold"
            elif f is not None and parts[2:] == ["terms"] and key.startswith('"'):
                raw = json.loads(key)
                name = Term.parse(raw, old).text
                new = f.weights.get(name)
                name = f"terms.{raw}"
            if new is not None and abs(new - old) >= 0.005:
                value = f"{new:g}"
                line = f"{m.group(1)}{key}{m.group(3)}{value}{m.group(5)}" + (
                    "\n" if line.endswith("\n") else ""
                )
                changes.append(f"{parts[1]}: {name}: {old:g} -> {value}")
        out.append(line)
    return "".join(out), changes


def metrics(verdicts: dict[Any, Any], labels: dict[Any, dict[str, Any]]) -> dict[str, Metrics]:
    return {m.topic: m for m in evaluate(verdicts, list(labels.values()))}


def precision_drops(before: dict[str, Metrics], after: dict[str, Metrics]) -> str | None:
    """The reason to refuse, or None: cross-validated precision of a topic dropped."""
    for topic, b in before.items():
        a = after[topic]
        if a.precision < b.precision:
            return (
                f"cross-validated precision of {topic} would drop "
                f"({b.precision:.3f} -> {a.precision:.3f}); rules not written"
            )
    return None


def tuned_path(rules_path: Path) -> Path:
    """Beside the rules file: topics.toml -> topics.tuned.toml."""
    return rules_path.with_name(f"{rules_path.stem}.tuned{rules_path.suffix or '.toml'}")


def ratio(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    import gzip

    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def run(
    label_paths: list[Path],
    rules_path: Path,
    out: Path | None,
    articles_path: Path | None,
    load: Any,
    echo: Any,
    judged: Sequence[dict[str, Any]] = (),
) -> Path:
    """Tune `rules_path` on the labels (files, then `judged`: label rows with their text,
    as `Store.feedback_labels` gives), print CV figures and the diff, write the new
    rules (never over `rules_path`). Raises TuneError with a one-line reason."""
    labels: dict[Any, dict[str, Any]] = {}
    for path in label_paths:
        labels.update((row["id"], row) for row in _read_jsonl(path))
    labels.update((row["id"], row) for row in judged)
    # A label row may carry its article (title, body); else it comes from --articles.
    articles = {i: row for i, row in labels.items() if "title" in row or "body" in row}
    if articles_path is not None:
        wanted = set(labels) - set(articles)
        articles.update((a["id"], a) for a in _read_jsonl(articles_path) if a["id"] in wanted)
    if len(articles) < 2 * FOLDS:
        raise TuneError(f"{len(articles)} labelled articles with text: need at least {2 * FOLDS}")
    target = out or tuned_path(rules_path)
    if target.resolve() == rules_path.resolve():
        raise TuneError(f"{target} is the rules file being tuned: pass another -o")
    rules = load(rules_path)
    feats = features(articles, rules)
    before, after = cross_validate(feats, labels, rules)
    mb, ma = metrics(before, labels), metrics(after, labels)
    echo(f"{len(articles)} labelled articles, {FOLDS}-fold cross-validation by id hash")
    echo(f"{'topic':15}{'rules':8}{'precision':>11}{'recall>=1':>11}{'recall=2':>10}")
    for topic in mb:
        for name, m in (("before", mb[topic]), ("after", ma[topic])):
            echo(f"{topic:15}{name:8}{m.precision:>11.3f}{m.recall:>11.3f}{m.recall_main:>10.3f}")
    reason = precision_drops(mb, ma)
    if reason:
        raise TuneError(reason)
    for topic in mb:
        if ma[topic].recall < mb[topic].recall:
            echo(
                f"note: cross-validated recall of {topic} falls "
                f"({mb[topic].recall:.3f} -> {ma[topic].recall:.3f}): compare before using"
            )
    text, changes = rewrite(rules_path.read_text(encoding="utf-8"), fit(feats, labels, rules))
    echo(f"{len(changes)} changes (fitted on all {len(articles)} articles):")
    for change in changes:
        echo("  " + change)
    target.write_text(text, encoding="utf-8")
    load(target)  # the written file must load
    echo(f"wrote {target}")
    return target
