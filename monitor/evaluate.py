"""Precision and recall of topic verdicts against labelled articles. Pure.

A label of 1 or 2 counts as relevant; recall is also given for label 2 alone
(articles mainly about the topic), which no alerting rule should miss. A label
key names a topic when it equals the topic's name or begins it (`cyber` labels
the `cybersecurity` topic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tabulate import tabulate


@dataclass(frozen=True)
class Metrics:
    topic: str
    labelled: int
    relevant: int
    matched: int
    true_positives: int
    precision: float
    recall: float
    recall_main: float


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 1.0


def label_of(topic: str, label: dict[str, Any]) -> int | None:
    """The label a label line gives `topic` (its own key, or a key the topic's name
    begins with: `cyber` for `cybersecurity`), None when it gives none."""
    keys = [k for k in label if k != "id" and isinstance(label[k], int)]
    key = next((k for k in keys if k == topic), None) or next(
        (k for k in keys if topic.startswith(k)), None
    )
    return None if key is None else int(label[key])


def evaluate(
    results: dict[Any, dict[str, dict[str, Any]]], labels: list[dict[str, Any]]
) -> list[Metrics]:
    """Compare `results` (id -> topic -> {matched}) with labels for the same ids."""
    topics = sorted({t for verdicts in results.values() for t in verdicts})
    metrics = []
    for topic in topics:
        pairs = []
        for label in labels:
            value = label_of(topic, label)
            if value is not None and label["id"] in results:
                pairs.append((value, results[label["id"]][topic]["matched"]))
        relevant = [p for p in pairs if p[0] >= 1]
        main = [p for p in pairs if p[0] == 2]
        matched = [p for p in pairs if p[1]]
        hits = [p for p in relevant if p[1]]
        metrics.append(
            Metrics(
                topic=topic,
                labelled=len(pairs),
                relevant=len(relevant),
                matched=len(matched),
                true_positives=len(hits),
                precision=_ratio(len(hits), len(matched)),
                recall=_ratio(len(hits), len(relevant)),
                recall_main=_ratio(sum(1 for p in main if p[1]), len(main)),
            )
        )
    return metrics


THRESHOLD_GRID = tuple(x / 4 for x in range(4, 61))  # 1.0 .. 15.0
ALERT_BETA = 0.5  # precision counts twice: an analyst stops reading noisy alerts
RELATED_BETA = 2.0  # recall counts twice: a related item only waits for the digest


def _f_beta(precision: float, recall: float, beta: float) -> float:
    if not precision + recall:
        return 0.0
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def _at(rows: list[tuple[float, int]], threshold: float) -> tuple[float, float]:
    """Precision and recall (labels >= 1) of "score >= threshold"."""
    found = [label for score, label in rows if score >= threshold]
    relevant = sum(1 for _, label in rows if label >= 1)
    hits = sum(1 for label in found if label >= 1)
    return (hits / len(found) if found else 1.0), (hits / relevant if relevant else 1.0)


def choose_tiers(rows: list[tuple[float, int]]) -> tuple[float, float]:
    """(alert threshold, related threshold) for (score, label) rows: the alert threshold
    with the best F0.5, the related one (not above it) with the best F2 of the two tiers
    together; ties go to the higher alert and the lower related threshold."""
    alert = max(THRESHOLD_GRID, key=lambda t: (_f_beta(*_at(rows, t), ALERT_BETA), t))
    return alert, choose_related(rows, alert)


def choose_related(rows: list[tuple[float, int]], alert: float) -> float:
    """The related threshold (not above `alert`) with the best F2 of both tiers together."""
    below = [t for t in THRESHOLD_GRID if t < alert] + [alert]
    return max(below, key=lambda t: (_f_beta(*_at(rows, t), RELATED_BETA), -t))


def format_metrics(metrics: list[Metrics]) -> str:
    return tabulate(
        [[m.topic, m.labelled, m.relevant, m.matched, m.precision, m.recall, m.recall_main]
         for m in metrics],
        headers=["topic", "labelled", "relevant", "matched", "precision", "recall>=1", "recall=2"],
    )  # fmt: skip
