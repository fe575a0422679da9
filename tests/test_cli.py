"""The commands a user types: the demo, one cycle, search, show, status, bad input."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import (
    CONFIG,
    ROOT,
    SEED_TITLE,
    SNAPSHOT,
    free_port,
    snapshot_sources,
    write_config,
)


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _demo_config(tmp_path: Path) -> Path:
    path = tmp_path / "demo.toml"
    text = (CONFIG / "demo.toml").read_text(encoding="utf-8")
    http, smtp = free_port(), free_port()
    text = text.replace("18931", str(http)).replace("18925", str(smtp))
    text = text.replace('"../.demo-data"', f'"{tmp_path / "data"}"')
    text = text.replace('"topics.toml"', f'"{CONFIG / "topics.toml"}"')
    text = text.replace(
        '"presets.toml"', f'"{CONFIG / "presets.toml"}"\ntemplates_dir = "{CONFIG / "templates"}"'
    )
    text = text.replace('"../demo/snapshot"', f'"{SNAPSHOT}"')
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_runs_and_its_search_command_finds_the_seed(tmp_path: Path):
    config = _demo_config(tmp_path)

    demo = _run("run_monitor.py", "--demo", "--config", str(config))

    assert demo.returncode == 0, demo.stderr
    out = demo.stdout
    assert "thaigov" in out and "dla-asean" in out
    seed_line = next(line for line in out.splitlines() if SEED_TITLE[:40] in line and "#" in line)
    why = out.splitlines()[out.splitlines().index(seed_line) + 1]
    assert "cybersecurity" in why and "asean" in why
    assert f"Subject: [Cybersecurity, ASEAN] {SEED_TITLE}" in out
    assert "also published at https://asean.dla.go.th" in out
    command = out.strip().splitlines()[-1].split()
    assert command[:3] == ["monitor", "search", "ไซเบอร์"]

    search = _run("-m", "monitor", *command[1:])

    assert search.returncode == 0, search.stderr
    assert SEED_TITLE[:30] in search.stdout


def test_once_exits_non_zero_when_a_source_fails(tmp_path: Path, snapshot_url: str):
    broken = '[sources.down]\nkind = "rss"\nurl = "http://127.0.0.1:9/feed"\n'
    config = write_config(tmp_path, broken + snapshot_sources(snapshot_url))

    result = _run("run_monitor.py", "--once", "--config", str(config))

    assert result.returncode == 1
    assert "connection failed" in result.stdout
    assert "thaigov" in result.stdout


def test_log_json_gives_one_object_per_line_with_source_fields(tmp_path: Path, snapshot_url: str):
    config = write_config(tmp_path, snapshot_sources(snapshot_url))

    result = _run("-m", "monitor", "run", "--once", "--log-json", "--config", str(config))

    records = [json.loads(line) for line in result.stderr.splitlines()]
    runs = {r["source"]: r for r in records if "found" in r}
    assert runs["thaigov"]["found"] == 33 and runs["dla-asean"]["level"] == "info"


def test_show_and_status_report_what_was_stored(tmp_path: Path, snapshot_url: str):
    config = write_config(tmp_path, snapshot_sources(snapshot_url))
    assert _run("run_monitor.py", "--once", "--config", str(config)).returncode == 0
    found = json.loads(_run("-m", "monitor", "search", "อาเซียน", "--json", "--config",
                            str(config)).stdout)  # fmt: skip
    seed = next(r for r in found if r["title"].startswith(SEED_TITLE))

    show = _run("-m", "monitor", "show", str(seed["id"]), "--config", str(config))
    status = _run("-m", "monitor", "status", "--json", "--config", str(config))

    assert "cybersecurity: MATCH" in show.stdout and "asean: MATCH" in show.stdout
    assert "also published at" in show.stdout
    assert status.returncode == 0
    assert {s["source"] for s in json.loads(status.stdout)["sources"]} == {"thaigov", "dla-asean"}
    listed = json.loads(_run("-m", "monitor", "sources", "--json", "--config", str(config)).stdout)
    assert [s["failures"] for s in listed["sources"]] == [0, 0]
    assert {"thaigov-legacy", "thaicert", "mdes"} <= {p["preset"] for p in listed["presets"]}


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path):
    config = write_config(tmp_path, '[sources.x]\nkind = "rss"\nurl = 5\n')

    result = _run("run_monitor.py", "--once", "--config", str(config))

    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {config}: sources.x.url: a string, got int 5"
    assert "Traceback" not in result.stderr


def test_search_filters_csv_export_and_prune(tmp_path: Path, snapshot_url: str):
    from click.testing import CliRunner

    from monitor.cli import cli

    config = write_config(tmp_path, snapshot_sources(snapshot_url))
    assert _run("run_monitor.py", "--once", "--config", str(config)).returncode == 0
    runner = CliRunner()

    def call(*args: str) -> str:
        result = runner.invoke(cli, [*args, "--config", str(config)])
        assert result.exit_code == 0, result.output
        return result.output

    asean = json.loads(call("search", "--topic", "asean", "--since", "1 ก.ย. 2562",
                            "--until", "2019-10-01", "--json"))  # fmt: skip
    assert asean and all("asean" in r["matched_topics"].split(",") for r in asean)
    assert all("2019-08-31T17:00:00Z" <= r["published_at"] < "2019-09-30T17:00:00Z" for r in asean)
    rows = list(csv.DictReader(io.StringIO(call("search", "ไซเบอร์", "--csv"))))
    assert any(r["title"].startswith(SEED_TITLE) for r in rows)
    unmatched = json.loads(call("search", "--unmatched", "--source", "thaigov", "--json",
                                "--limit", "100"))  # fmt: skip
    assert unmatched and all(r["matched_topics"] == "" for r in unmatched)
    exported = [json.loads(line) for line in call("export", "--matched").splitlines()]
    assert {r["id"] for r in exported} == {
        r["id"] for r in json.loads(call("search", "--matched", "--json", "--limit", "100"))
    }
    assert all(r["body"] and r["match"] for r in exported)

    assert "deleted 0 " in call("prune", "--older-than-days", "1", "--yes")
    pruned = runner.invoke(cli, ["prune", "--older-than-days", "1", "--yes", "--config",
                                 str(config)], env={})  # fmt: skip
    assert pruned.exit_code == 0
    bad = runner.invoke(cli, ["search", "--since", "soon", "--config", str(config)])
    assert bad.exit_code == 2 and "is not a date" in bad.output


def test_backfill_walks_history_in_steps_without_alerting(tmp_path: Path, snapshot_url: str):
    from click.testing import CliRunner

    from monitor.cli import cli
    from monitor.store import Store

    one_page = snapshot_sources(snapshot_url).replace("max_pages = 4", "max_pages = 1")
    config = write_config(tmp_path, one_page, smtp_port=free_port())
    runner = CliRunner()
    runner.invoke(cli, ["run", "--once", "--quiet", "--config", str(config)])
    store = Store(tmp_path / "data" / "monitor.db")
    before, queued = len(store.items_overview()), store.outbox_counts()

    first = runner.invoke(cli, ["backfill", "thaigov", "--pages", "2", "--config", str(config)])
    middle = len(store.items_overview())
    second = runner.invoke(cli, ["backfill", "thaigov", "--pages", "5", "--config", str(config)])

    assert first.exit_code == 0 and "run it again to go further back" in first.output, first.output
    assert middle == before + 10  # page 2's ten articles
    assert second.exit_code == 0 and "reached the end of the history" in second.output
    assert len(store.items_overview()) == 37
    assert store.outbox_counts() == queued, "backfilled items are not alerted unless asked"


def test_rematch_applies_new_rules_and_alerts_only_new_matches_once(
    tmp_path: Path, snapshot_url: str
):
    from click.testing import CliRunner

    from monitor.cli import cli
    from tests.conftest import Smtp

    smtp = Smtp()
    smtp.start()
    try:
        config = write_config(tmp_path, snapshot_sources(snapshot_url), smtp_port=smtp.port)
        runner = CliRunner()
        runner.invoke(cli, ["run", "--once", "--quiet", "--config", str(config)])
        first = len(smtp.messages)
        topics = (CONFIG / "topics.toml").read_text(encoding="utf-8")
        topics += '\n[topics.health]\nlabel = "Health"\nthreshold = 3\n'
        topics += '[topics.health.terms]\n"กระทรวงสาธารณสุข" = 3\n'
        (tmp_path / "topics.toml").write_text(topics, encoding="utf-8")
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace(str(CONFIG / "topics.toml"), str(tmp_path / "topics.toml")))

        silent = runner.invoke(cli, ["rematch", "--config", str(config)])
        again = runner.invoke(cli, ["rematch", "--alert", "--config", str(config)])
    finally:
        smtp.stop()

    assert silent.exit_code == 0 and " now match" in silent.output
    assert int(silent.output.split(" now match")[0].split()[-1]) > 0
    assert len(smtp.messages) > first, "items that now match health were alerted"
    assert len({m["Subject"] for m in smtp.messages}) == len(smtp.messages), "none twice"
    assert "0 changed" in again.output
