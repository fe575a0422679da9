"""Analysts' judgements: `monitor feedback`, kept through restarts and prune, exported as a
label file that `match --labels` and `tune` read, and named in every alert."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import load_settings
from monitor.store import Store
from tests.conftest import ROOT, Smtp, message_text, snapshot_sources, write_config


def _monitor(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args, "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _ids(config: Path, *flags: str) -> list[int]:
    found = _monitor(config, "search", *flags, "--json", "--limit", "100")
    assert found.returncode == 0, found.stderr
    return [row["id"] for row in json.loads(found.stdout)]


def test_a_judgement_is_kept_through_a_restart_and_a_prune(
    tmp_path: Path, snapshot_url: str, smtp: Smtp
):
    config = write_config(tmp_path, snapshot_sources(snapshot_url), smtp.port)
    assert _monitor(config, "run", "--once").returncode == 0
    judged, spared = _ids(config, "--unmatched")[:2]
    matched = _ids(config, "--topic", "asean")[0]

    marked = _monitor(config, "feedback", str(judged), "--topic", "cybersecurity", "--relevant",
                      "--note", "ผู้ตรวจ: พูดถึงการโจมตี", "--who", "somchai")  # fmt: skip
    wrong = _monitor(config, "feedback", str(matched), "--topic", "asean", "--not-relevant")

    assert marked.returncode == 0, marked.stderr
    assert f"#{judged} marked relevant to cybersecurity by somchai" in marked.stdout
    assert wrong.returncode == 0, wrong.stderr
    Store(load_settings(config).db_path).prune_unmatched(datetime.now(UTC) + timedelta(days=1))
    listed = json.loads(_monitor(config, "feedback", "--list", "--json").stdout)
    assert [(r["item_id"], r["topic"], r["relevant"], r["who"]) for r in listed] == [
        (matched, "asean", 0, listed[0]["who"]),
        (judged, "cybersecurity", 1, "somchai"),
    ]
    assert listed[1]["note"] == "ผู้ตรวจ: พูดถึงการโจมตี"
    assert _monitor(config, "show", str(judged)).returncode == 0  # unmatched, judged: kept
    assert _monitor(config, "show", str(spared)).returncode == 2  # the unjudged one is gone


def test_the_export_is_a_label_file_for_match_and_tune(tmp_path: Path, snapshot_url: str):
    config = write_config(tmp_path, snapshot_sources(snapshot_url))
    assert _monitor(config, "run", "--once").returncode == 0
    runner = CliRunner()
    asean, other = _ids(config, "--topic", "asean"), _ids(config, "--unmatched")
    for item in asean:
        runner.invoke(cli, ["feedback", str(item), "--topic", "asean", "--relevant",
                            "--config", str(config)], catch_exceptions=False)  # fmt: skip
    for item in other[:3]:
        runner.invoke(cli, ["feedback", str(item), "--topic", "asean", "--not-relevant",
                            "--config", str(config)], catch_exceptions=False)  # fmt: skip
    labels = tmp_path / "feedback.jsonl"

    exported = runner.invoke(cli, ["feedback", "--export", str(labels), "--config", str(config)])
    matched = subprocess.run(
        [sys.executable, "-m", "monitor", "match", str(labels), "--labels", str(labels),
         "--rules", str(ROOT / "config" / "topics.toml"), "-o", str(tmp_path / "out.jsonl")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert exported.exit_code == 0, exported.output
    rows = [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(asean) + 3
    assert all(r["title"] and r["body"] and r["asean"] in (0, 1) for r in rows)
    assert matched.returncode == 0, matched.stderr
    line = next(li for li in matched.stderr.splitlines() if li.startswith("asean"))
    # labelled, relevant, matched, precision, recall>=1: the rules agree with the analyst
    assert [float(x) for x in line.split()[1:6]] == [len(rows), len(asean), len(asean), 1, 1]
    tuned = runner.invoke(cli, ["tune", "--feedback", "--config", str(config)])
    assert tuned.exit_code == 1  # the archive's judgements were read, and are too few:
    assert f"error: {len(rows)} labelled articles with text: need at least 10" in tuned.output


def test_bad_judgements_get_one_line(tmp_path: Path, snapshot_url: str):
    config = write_config(tmp_path, snapshot_sources(snapshot_url))
    runner = CliRunner()

    def call(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, ["feedback", *args, "--config", str(config)])
        return result.exit_code, result.output.strip()

    assert call("1", "--topic", "cyber", "--relevant") == (
        2,
        "error: --topic: unknown topic 'cyber' (one of asean, cybersecurity)",
    )
    assert call("1", "--topic", "asean") == (2, "error: say --relevant or --not-relevant")
    assert call("999", "--topic", "asean", "--relevant") == (2, "error: no item with id 999")
    assert call("--list") == (0, "(nothing)")


def test_an_alert_names_the_command_that_marks_it_not_relevant(
    tmp_path: Path, snapshot_url: str, smtp: Smtp
):
    config = write_config(tmp_path, snapshot_sources(snapshot_url), smtp.port)

    assert _monitor(config, "run", "--once").returncode == 0

    text = "\n".join(message_text(m) for m in smtp.messages)
    html = "\n".join(message_text(m, "html") for m in smtp.messages)
    seed = _ids(config, "ไซเบอร์", "--topic", "cybersecurity")[0]
    command = f"monitor feedback {seed} --topic cybersecurity --not-relevant"
    assert command in text and command in html
    assert _monitor(config, *command.split()[1:]).returncode == 0
