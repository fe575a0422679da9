"""monitor tune: fitted weights recover a planted pattern; no rules file when precision drops."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

from monitor.cli import main  # noqa: E402
from monitor.config import load_rules  # noqa: E402
from monitor.match import match  # noqa: E402
from monitor.tune import fold_of  # noqa: E402

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


def _article(i: int, words: str, rng: random.Random) -> dict[str, object]:
    body = FILLER * rng.randint(1, 3) + f"a report on {words} today. " + FILLER
    return {"id": i, "title": "news", "body": body}


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _run(tmp_path: Path, labels: Path, rules: str) -> int:
    (tmp_path / "topics.toml").write_text(rules, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["tune", "--labels", str(labels), "--rules", str(tmp_path / "topics.toml")])
    return int(exit_info.value.code or 0)


def test_tune_recovers_planted_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # planted: ransomware and malware articles are cyber (2); digital and plain ones are not
    rng = random.Random(1)
    rows = []
    for i in range(240):
        words = ("ransomware", "malware", "digital", "")[i % 4]
        rows.append({**_article(i, words, rng), "cyber": 2 if i % 4 < 2 else 0})
    labels = _write(tmp_path / "labels.jsonl", rows)
    rules = RULES.format(threshold=1, strong=1, noise=1)
    assert _run(tmp_path, labels, rules) == 0
    out = capsys.readouterr().out
    tuned = tmp_path / "topics.tuned.toml"
    assert (tmp_path / "topics.toml").read_text() == rules  # never written over
    fitted = load_rules(tuned)
    weights = {t.text: t.weight for t in fitted.topics[0].terms}
    assert weights["digital"] < min(weights["ransomware"], weights["malware"]) / 2
    for words, relevant in (("ransomware", True), ("malware", True), ("digital", False)):
        body = f"{FILLER}a report on {words} today. {FILLER}"
        assert match("news", body, fitted).topics[0].matched is relevant, words
    assert "terms.digital: 1 ->" in out and "# a neighbouring word" in tuned.read_text()
    before, after = (line.split() for line in out.splitlines() if line.startswith("cyber"))
    assert float(after[2]) > float(before[2])  # precision, cross-validated


def test_tune_refuses_when_precision_drops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The starting rules match ransomware (always cyber) and malware (4 times in 5).
    # `digital` is cyber in four folds and never in the fifth: fitted on the four, the
    # model takes it in, and on the fifth every such match is wrong.
    rng = random.Random(2)
    rows = []
    for i in range(400):
        words = ("ransomware", "malware", "digital", "")[i % 4]
        label = {
            "ransomware": 2,
            "malware": (i // 4) % 5 != 0,
            "digital": fold_of(i, 5) != 0,
            "": 0,
        }[words]
        rows.append({**_article(i, words, rng), "cyber": int(label)})
    labels = _write(tmp_path / "labels.jsonl", rows)
    assert _run(tmp_path, labels, RULES.format(threshold=1, strong=1, noise=0.01)) == 1
    err = capsys.readouterr().err
    assert "precision of cybersecurity would drop" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "topics.tuned.toml").exists()


def test_tune_never_writes_over_the_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = _write(tmp_path / "labels.jsonl", [{"id": 1, "cyber": 0, "body": "x"}] * 20)
    rules_path = tmp_path / "topics.toml"
    rules_path.write_text(RULES.format(threshold=1, strong=1, noise=1), encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["tune", "--labels", str(labels), "--rules", str(rules_path), "-o", str(rules_path)])
    assert exit_info.value.code == 1
    assert "error:" in capsys.readouterr().err
