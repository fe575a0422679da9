"""monitor tune: fitted weights recover a planted pattern; no rules file when precision drops."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

from monitor.cli import main  # noqa: E402
from monitor.config import load_rules  # noqa: E402

RULES = """\
# start: every word the same weight
[topics.cybersecurity]
threshold = {threshold}

[topics.cybersecurity.terms]
"ransomware" = {strong}
"malware" = {strong}
"digital" = {noise}  # a neighbouring word
"""
FILLER = "the ministry held a meeting on many subjects this week. "


def _labels(path: Path, seed: int, noisy_digital: float) -> None:
    """Articles: ransomware/malware ones are cyber (2); `digital` ones are cyber with
    probability `noisy_digital`; the rest are not."""
    rng = random.Random(seed)
    rows = []
    for i in range(240):
        kind = i % 4
        words = {0: "ransomware", 1: "malware", 2: "digital", 3: ""}[kind]
        label = {0: 2, 1: 2, 2: int(rng.random() < noisy_digital), 3: 0}[kind]
        body = FILLER * rng.randint(1, 3) + f"a report on {words} today. " + FILLER
        rows.append({"id": i, "cyber": label, "title": "news", "body": body})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _run(tmp_path: Path, labels: Path, rules: str, capsys: pytest.CaptureFixture[str]) -> int:
    (tmp_path / "topics.toml").write_text(rules, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["tune", "--labels", str(labels), "--rules", str(tmp_path / "topics.toml")])
    return int(exit_info.value.code or 0)


def test_tune_recovers_planted_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / "labels.jsonl"
    _labels(labels, seed=1, noisy_digital=0.0)
    rules = RULES.format(threshold=1, strong=1, noise=1)
    assert _run(tmp_path, labels, rules, capsys) == 0
    out = capsys.readouterr().out
    tuned = tmp_path / "topics.tuned.toml"
    assert tuned.exists() and (tmp_path / "topics.toml").read_text() == rules  # never overwritten
    topic = load_rules(tuned).topics[0]
    weights = {t.text: t.weight for t in topic.terms}
    # the planted pattern: the two threat words decide, the neighbouring word does not
    assert weights["ransomware"] * 1.5 >= topic.threshold
    assert weights["malware"] * 1.5 >= topic.threshold
    assert weights["digital"] * 1.5 < topic.threshold
    assert weights["digital"] < min(weights["ransomware"], weights["malware"])
    assert "terms.digital: 1 ->" in out and "# a neighbouring word" in tuned.read_text()
    before, after = (line.split() for line in out.splitlines() if line.startswith("cyber"))
    assert float(after[2]) > float(before[2])  # precision, cross-validated


def test_tune_refuses_when_precision_drops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "labels.jsonl"
    _labels(labels, seed=2, noisy_digital=0.7)
    # precise already: only the threat words match; `digital` is right 70% of the time,
    # so a fitted model takes it in and precision falls
    rules = RULES.format(threshold=1, strong=1, noise=0.01)
    assert _run(tmp_path, labels, rules, capsys) == 1
    err = capsys.readouterr().err
    assert "precision of cybersecurity would drop" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "topics.tuned.toml").exists()


def test_tune_never_writes_over_the_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "labels.jsonl"
    _labels(labels, seed=1, noisy_digital=0.0)
    rules_path = tmp_path / "topics.toml"
    rules_path.write_text(RULES.format(threshold=1, strong=1, noise=1), encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["tune", "--labels", str(labels), "--rules", str(rules_path), "-o", str(rules_path)])
    assert exit_info.value.code == 1
    assert "is the rules file being tuned" in capsys.readouterr().err
